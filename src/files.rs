//! Every file botform writes, and every config file it reads, goes through here.
//!
//! Owns the two rules about the file system that an attacker (or a careless colleague) must not be
//! able to bend:
//! - **A write never follows a link out.** A new file is created under a fresh random name in the
//!   target's own directory (`O_CREAT|O_EXCL`, so a planted symlink is never opened), flushed to
//!   disk, then renamed over the target. `rename` replaces a symlink at the target instead of
//!   writing through it. A crash leaves the old file or the new one, never half of one.
//! - **A read stays bounded.** Only regular files are read (a FIFO, a socket or a device is
//!   refused before it is opened, so nothing hangs), and never more than [`MAX_CONFIG_FILE_BYTES`]
//!   a file and [`MAX_CONFIG_BYTES`] in all.
//!
//! Lock files are opened with `O_NOFOLLOW` too, so a symlink at a lock path is refused.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

/// The most text one config file holds (4 MiB): `botform import` writes about 1 MiB a file.
pub const MAX_CONFIG_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// The most config text botform reads in one run, all files together (16 MiB): 10,000 bots
/// with every setting spelt out in each are about 6.6 MiB.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// Where botform keeps its own state for this user (leases, the journal of creates, the built-in
/// sandbox): `$BOTFORM_STATE_DIR`, else `$XDG_STATE_HOME/botform`, else `~/.local/state/botform`.
pub fn state_dir() -> std::path::PathBuf {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    };
    if let Some(dir) = var("BOTFORM_STATE_DIR") {
        return dir;
    }
    if let Some(dir) = var("XDG_STATE_HOME") {
        return dir.join("botform");
    }
    match var("HOME") {
        Some(home) => home.join(".local").join("state").join("botform"),
        None => std::env::temp_dir().join("botform-state"),
    }
}

/// Write `bytes` to `path` atomically, never through a symlink or into a file another process has
/// open for writing. Creates the parent directory when it is missing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, bytes, true)
}

/// [`write_atomic`] without waiting for the disk: readers still see the old file or the new one
/// whole, but a power loss may leave the old one. Only for state worth nothing after a reboot
/// (the pace's last minute of requests), where an fsync per write is the cost of every request.
pub fn write_atomic_volatile(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    replace(path, bytes, false)
}

fn replace(path: &Path, bytes: &[u8], durable: bool) -> std::io::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".botform-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    if durable {
        temp.as_file().sync_all()?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Write a file the user owns and shares (a config file, a schema): atomically as
/// [`write_atomic`] does, but with the permissions a person expects. A file that exists keeps its
/// mode (a 0644 config stays 0644 after `fmt`); a new one gets 0666 less the user's umask, as
/// any editor would create it. State files (plans, leases, the pace) stay private through
/// [`write_atomic`].
pub fn write_user_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir)?;
    let existing = std::fs::metadata(path).ok().map(|m| m.permissions());
    let mut builder = tempfile::Builder::new();
    builder.prefix(".botform-").suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Created with open(2)'s mode, so the umask applies as it does for any new file.
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut temp = builder.tempfile_in(dir)?;
    temp.write_all(bytes)?;
    if let Some(permissions) = existing {
        temp.as_file().set_permissions(permissions)?;
    }
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Rewrite an existing config file the user asked to change (`fmt`, the MCP edits) where it
/// really lives: through a symlink to its target (the link stays a link), with its mode kept
/// (see [`write_user_file`]); a file with several hard links is rewritten in place (truncated and
/// written, then synced), since a rename would split it from its other names. Anything else is
/// [`write_user_file`]'s atomic rename. The caller has checked where the link leads (the MCP
/// server refuses one that leaves its root).
pub fn rewrite_config_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => path.canonicalize()?,
        _ => path.to_path_buf(),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata(&target)
            && meta.is_file()
            && meta.nlink() > 1
        {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&target)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            return Ok(());
        }
    }
    write_user_file(&target, bytes)
}

/// A name from outside (a plan file's id) made safe as one file name in a directory of ours:
/// hex digits and letters only, at most 64 of them, never empty.
pub fn safe_file_stem(text: &str) -> String {
    let stem: String = text
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(64)
        .collect();
    if stem.is_empty() { "none".into() } else { stem }
}

/// The directory a path lives in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Why a config file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadRefusal {
    #[error("not a regular file (a {0}); botform reads only regular files")]
    NotRegular(&'static str),
    #[error("the file is {size} bytes, over the {limit} bytes left of the limit for config text")]
    TooLarge { size: u64, limit: u64 },
    #[error("the file is not UTF-8 text")]
    NotText,
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// What a path is, after following links, in words for an error.
pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    let ft = meta.file_type();
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "FIFO";
        }
        if ft.is_socket() {
            return "socket";
        }
        if ft.is_block_device() || ft.is_char_device() {
            return "device";
        }
    }
    if ft.is_dir() {
        "directory"
    } else if ft.is_file() {
        "file"
    } else {
        "special file"
    }
}

/// Read a config file: a regular file of at most `limit` bytes, as UTF-8 text.
pub fn read_bounded(path: &Path, limit: u64) -> Result<String, ReadRefusal> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(ReadRefusal::NotRegular(kind_of(&meta)));
    }
    if meta.len() > limit {
        return Err(ReadRefusal::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    let file = open_read_nonblocking(path)?;
    // The file may grow between the check and the read: read one byte past the limit to know.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadRefusal::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    String::from_utf8(bytes).map_err(|_| ReadRefusal::NotText)
}

/// Open for reading without blocking on a FIFO swapped in after the type check.
fn open_read_nonblocking(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    Ok(file)
}

/// Append `line` to the file at `path` (created private when missing) in one write, so lines
/// from several processes never interleave; a symlink or anything but a regular file at the path
/// is refused.
pub fn append_line(path: &Path, line: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(parent_dir(path))?;
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| match std::fs::symlink_metadata(path) {
            Ok(meta) if !meta.is_file() => std::io::Error::other(format!(
                "{} is a {}, not a regular file; botform appends only to regular files (remove it)",
                path.display(),
                kind_of(&meta)
            )),
            _ => e,
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(format!(
            "{} is a {}, not a regular file",
            path.display(),
            kind_of(&meta)
        )));
    }
    file.write_all(line)
}

/// Open (creating it when missing) a lock file, refusing a symlink at its path.
pub fn open_lock_file(path: &Path) -> std::io::Result<File> {
    std::fs::create_dir_all(parent_dir(path))?;
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: a FIFO planted at the path would block the open until a reader came.
        options
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .mode(0o600);
    }
    let not_regular = |meta: &std::fs::Metadata| {
        std::io::Error::other(format!(
            "{} is a {}, not a regular file; botform locks only regular files (remove it)",
            path.display(),
            kind_of(meta)
        ))
    };
    let file = options.open(path).map_err(|e| {
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => std::io::Error::other(format!(
                "{} is a symlink; botform does not follow links for its lock files",
                path.display()
            )),
            // A FIFO with no reader answers ENXIO to a non-blocking open.
            Ok(meta) if !meta.is_file() => not_regular(&meta),
            _ => e,
        }
    })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(&meta));
    }
    Ok(file)
}

/// Where leases live: one place per user on the machine, whatever state dir or key a process
/// uses (`$BOTFORM_LOCK_DIR` overrides it, to play a second machine in tests). Created private
/// (0700); a path there that is not a directory this user owns is refused, so another user
/// cannot plant one.
pub fn lock_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = match std::env::var_os("BOTFORM_LOCK_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            #[cfg(unix)]
            let user = unsafe { libc::getuid() }.to_string();
            #[cfg(not(unix))]
            let user = std::env::var("USERNAME").unwrap_or_default();
            std::env::temp_dir().join(format!("botform-leases-{user}"))
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir);
        let meta = std::fs::symlink_metadata(&dir)?;
        if !meta.is_dir() || meta.uid() != unsafe { libc::getuid() } {
            return Err(std::io::Error::other(format!(
                "{} is not a directory of this user's: botform keeps its leases there (remove it, or set BOTFORM_LOCK_DIR)",
                dir.display()
            )));
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn an_appended_line_never_goes_through_a_symlink_or_into_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, "mine\n").unwrap();
        let log = dir.path().join("audit.jsonl");
        std::os::unix::fs::symlink(&outside, &log).unwrap();
        let refused = append_line(&log, b"{}\n").unwrap_err();
        assert!(
            refused.to_string().contains("not a regular file"),
            "{refused}"
        );
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "mine\n");

        let fifo = dir.path().join("fifo.jsonl");
        let path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        // No reader: a blocking open would hang here; the append is refused at once.
        assert!(append_line(&fifo, b"{}\n").is_err());

        let fine = dir.path().join("state").join("audit.jsonl");
        append_line(&fine, b"one\n").unwrap();
        append_line(&fine, b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&fine).unwrap(), "one\ntwo\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_config_rewrite_keeps_links_hard_links_and_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        std::fs::write(&real, "a = 1\n").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let hard = dir.path().join("hard.toml");
        std::fs::hard_link(&real, &hard).unwrap();
        rewrite_config_file(&link, b"a = 2\n").unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "a = 2\n");
        assert_eq!(
            std::fs::read_to_string(&hard).unwrap(),
            "a = 2\n",
            "still one file"
        );
        rewrite_config_file(&hard, b"a = 3\n").unwrap();
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "a = 3\n");
        let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[cfg(unix)]
    #[test]
    fn a_write_replaces_a_planted_symlink_and_never_writes_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "precious").unwrap();
        let target = dir.path().join("state.json");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        // Every name the old code used for its temp file, too.
        std::os::unix::fs::symlink(&victim, dir.path().join(".state.json.tmp")).unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join("state.tmp")).unwrap();
        write_atomic(&target, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        assert!(!std::fs::symlink_metadata(&target).unwrap().is_symlink());
    }

    #[cfg(unix)]
    #[test]
    fn reads_refuse_fifos_devices_and_oversized_files() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("a.toml");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            read_bounded(&fifo, MAX_CONFIG_BYTES),
            Err(ReadRefusal::NotRegular("FIFO"))
        ));
        let zero = dir.path().join("zero.toml");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(
            read_bounded(&zero, MAX_CONFIG_BYTES),
            Err(ReadRefusal::NotRegular("device"))
        ));
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; 2048]).unwrap();
        assert!(matches!(
            read_bounded(&big, 1024),
            Err(ReadRefusal::TooLarge { size: 2048, .. })
        ));
        assert_eq!(read_bounded(&big, 4096).unwrap().len(), 2048);
    }

    #[cfg(unix)]
    #[test]
    fn lock_files_are_never_opened_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "x").unwrap();
        let lock = dir.path().join("a.lock");
        std::os::unix::fs::symlink(&victim, &lock).unwrap();
        assert!(open_lock_file(&lock).is_err());
        assert!(open_lock_file(&dir.path().join("b.lock")).is_ok());
    }
}
