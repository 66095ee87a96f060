//! The MCP server's one rule about files: everything stays under `--root`. Relative paths only; no
//! `..`; and a path (or any file a directory holds) that resolves outside the root through a
//! symlink is refused.

use std::path::{Component, Path, PathBuf};

/// A path given by the client, checked against the root.
pub fn resolve(root: &Path, given_text: &str) -> Result<PathBuf, String> {
    let given_path = Path::new(given_text);
    let given = crate::diagnostic::quote_input(given_text);
    if given_path.is_absolute() {
        return Err(format!(
            "`{given}` is absolute: give a path relative to the root"
        ));
    }
    for component in given_path.components() {
        match component {
            Component::ParentDir => {
                return Err(format!("`{given}` leaves the root (`..` is not allowed)"));
            }
            Component::Prefix(_) | Component::RootDir => {
                return Err(format!("`{given}` is not a relative path"));
            }
            _ => {}
        }
    }
    let joined = root.join(given_path);
    inside(root, &joined)?;
    Ok(joined)
}

/// Config is written only where the loader reads it: not under a hidden folder (`.git/`,
/// `.botform/`) nor one a walk skips (`target/`, `node_modules/`), and not as a hidden file.
/// Otherwise an edit would "succeed" into a file no validate, plan or apply ever sees.
pub fn seen_by_the_loader(root: &Path, path: &Path) -> Result<(), String> {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<_> = rel.components().collect();
    for (i, component) in parts.iter().enumerate() {
        let name = component.as_os_str().to_string_lossy();
        let folder = i + 1 < parts.len();
        if name.starts_with('.')
            || (folder && crate::config::load::SKIPPED_DIRS.contains(&name.as_ref()))
        {
            return Err(format!(
                "`{}`: botform never reads config {} `{}` (hidden and build folders are skipped), so nothing written there would count; choose a path outside it",
                crate::diagnostic::quote_input(&rel.display().to_string()),
                if folder {
                    "under"
                } else {
                    "from a hidden file like"
                },
                crate::diagnostic::quote_input(&name)
            ));
        }
    }
    Ok(())
}

/// Check that `path` lies under `root`, whatever links it passes through: every component that
/// exists is looked at without following it, and a symlink among them must resolve inside the
/// root. A dangling link is refused (a write through it would land wherever it points).
pub fn inside(root: &Path, path: &Path) -> Result<(), String> {
    let rel = path
        .strip_prefix(root)
        .map_err(|_| "the path is outside the root".to_string())?;
    let mut probe = root.to_path_buf();
    for component in rel.components() {
        probe.push(component);
        let Ok(meta) = probe.symlink_metadata() else {
            // Nothing here yet: neither is there anything below it.
            return Ok(());
        };
        if !meta.is_symlink() {
            continue;
        }
        match probe.canonicalize() {
            Ok(real) if real.starts_with(root) => {}
            Ok(_) => {
                return Err(format!(
                    "`{}` resolves outside the root (through a symlink)",
                    relative(root, path)
                ));
            }
            Err(_) => {
                return Err(format!(
                    "`{}` passes through a dangling symlink (`{}`): refusing to write through it",
                    relative(root, path),
                    relative(root, &probe)
                ));
            }
        }
    }
    Ok(())
}

/// A path as the client should see it: relative to the root.
pub fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("bots")).unwrap();
        assert!(resolve(&root, "bots").is_ok());
        assert!(resolve(&root, "new/file.toml").is_ok());
        assert!(resolve(&root, "../etc").is_err());
        assert!(resolve(&root, "bots/../../x").is_err());
        assert!(resolve(&root, "/etc/passwd").is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
            assert!(resolve(&root, "link").is_err());
            assert!(resolve(&root, "link/passwd").is_err());
            // Dangling links, as the last component and in the middle.
            std::os::unix::fs::symlink("/tmp/botform-nowhere", root.join("dangling")).unwrap();
            assert!(resolve(&root, "dangling").is_err());
            assert!(resolve(&root, "dangling/x.toml").is_err());
            std::os::unix::fs::symlink(root.join("bots"), root.join("inner")).unwrap();
            assert!(resolve(&root, "inner/x.toml").is_ok());
        }
        // An error quotes at most 200 characters of what it was given.
        let long = "a/".repeat(1_000_000) + "../x";
        assert!(resolve(&root, &long).unwrap_err().len() < 400);
    }

    #[test]
    fn config_goes_only_where_the_loader_reads() {
        let root = Path::new("/r");
        let seen = |p: &str| seen_by_the_loader(root, &root.join(p));
        assert!(seen("bots.toml").is_ok());
        assert!(seen("bots/eth.toml").is_ok());
        // A file named like a skipped folder is still read.
        assert!(seen("target.toml").is_ok());
        for hidden in [
            ".git/bots.toml",
            ".botform/x.toml",
            "bots/.hidden.toml",
            "target/x.toml",
            "a/node_modules/x.yaml",
        ] {
            let e = seen(hidden).unwrap_err();
            assert!(e.contains("never reads config"), "{hidden}: {e}");
        }
    }
}
