//! The MCP server's one rule about files: everything stays under `--root`. Relative paths only; no
//! `..`; and a path (or any file a directory holds) that resolves outside the root through a
//! symlink is refused.

use std::path::{Component, Path, PathBuf};

/// A path given by the client, checked against the root.
pub fn resolve(root: &Path, given: &str) -> Result<PathBuf, String> {
    let given_path = Path::new(given);
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

/// Check that `path` (when it exists, after following symlinks) lies under `root`.
pub fn inside(root: &Path, path: &Path) -> Result<(), String> {
    // A path that does not exist yet is checked through its nearest existing ancestor.
    let mut probe = path.to_path_buf();
    while !probe.exists() {
        match probe.parent() {
            Some(parent) => probe = parent.to_path_buf(),
            None => return Ok(()),
        }
    }
    let real = probe
        .canonicalize()
        .map_err(|e| format!("cannot resolve `{}`: {e}", path.display()))?;
    if real.starts_with(root) {
        Ok(())
    } else {
        Err(format!(
            "`{}` resolves outside the root (through a symlink)",
            relative(root, path)
        ))
    }
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
        }
    }
}
