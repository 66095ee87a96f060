//! Helpers for tests that run plan, apply and import.

use std::path::Path;

use super::sandbox::SandboxProcess;
use super::{botform, root};

/// A copy of the example configs in a fresh directory.
pub fn example_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join("examples/bots")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let text = std::fs::read_to_string(&path)
                .unwrap()
                .replace("../../schema/", "");
            std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
        }
    }
    dir
}

/// The binary with no 3Commas credentials: it uses the built-in sandbox.
pub fn offline() -> assert_cmd::Command {
    let mut cmd = botform();
    for var in [
        "THREECOMMAS_API_KEY",
        "THREECOMMAS_API_SECRET",
        "THREECOMMAS_API_URL",
        "THREECOMMAS_MODE",
        "THREECOMMAS_PRIVATE_KEY_FILE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// The binary pointed at a sandbox process.
pub fn against(sandbox: &SandboxProcess) -> assert_cmd::Command {
    let mut cmd = offline();
    cmd.env("THREECOMMAS_API_URL", &sandbox.url)
        .env("THREECOMMAS_API_KEY", botform::sandbox::DEFAULT_API_KEY)
        .env(
            "THREECOMMAS_API_SECRET",
            botform::sandbox::DEFAULT_API_SECRET,
        );
    cmd
}

pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

/// `botform apply DIR --auto-approve`, ready for assertions.
pub fn apply(mut cmd: assert_cmd::Command, dir: &Path) -> assert_cmd::assert::Assert {
    cmd.arg("apply").arg(dir).arg("--auto-approve").assert()
}
