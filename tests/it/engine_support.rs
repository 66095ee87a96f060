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

thread_local! {
    /// The built-in sandbox of the test running on this thread (libtest runs each test on a
    /// thread of its own), so tests never see each other's bots.
    static BUILTIN_SANDBOX: tempfile::TempDir = tempfile::tempdir().unwrap();
}

/// Where the built-in sandbox of the current test keeps its state.
pub fn builtin_sandbox_state() -> std::path::PathBuf {
    BUILTIN_SANDBOX.with(|dir| dir.path().join("sandbox.db"))
}

/// The 3Commas variables a test's process must not inherit from the shell it runs in.
pub const THREECOMMAS_VARS: [&str; 6] = [
    "THREECOMMAS_API_KEY",
    "THREECOMMAS_API_SECRET",
    "THREECOMMAS_API_URL",
    "THREECOMMAS_MODE",
    "THREECOMMAS_PRIVATE_KEY_FILE",
    "THREECOMMAS_TARGET",
];

/// The binary with no 3Commas credentials, asking for the built-in sandbox (this test's own):
/// under CI=true botform never falls back to it unasked.
pub fn offline() -> assert_cmd::Command {
    let mut cmd = botform();
    cmd.env("BOTFORM_SANDBOX_STATE", builtin_sandbox_state());
    for var in THREECOMMAS_VARS {
        cmd.env_remove(var);
    }
    cmd.env("THREECOMMAS_TARGET", "sandbox");
    cmd
}

/// The binary pointed at a sandbox process.
pub fn against(sandbox: &SandboxProcess) -> assert_cmd::Command {
    let mut cmd = offline();
    cmd.env_remove("THREECOMMAS_TARGET");
    cmd.envs(sandbox_env(sandbox));
    cmd.env("BOTFORM_STATE_DIR", &sandbox.state);
    cmd
}

/// The same, as a process to spawn and kill (for tests that run several at once).
pub fn spawn_against(sandbox: &SandboxProcess) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_botform"));
    cmd.current_dir(root())
        .env("NO_COLOR", "1")
        .env("BOTFORM_STATE_DIR", &sandbox.state)
        .env_remove("THREECOMMAS_MODE")
        .env_remove("THREECOMMAS_PRIVATE_KEY_FILE")
        .env_remove("THREECOMMAS_TARGET")
        .envs(sandbox_env(sandbox));
    cmd
}

fn sandbox_env(sandbox: &SandboxProcess) -> [(&'static str, String); 3] {
    [
        ("THREECOMMAS_API_URL", sandbox.url.clone()),
        (
            "THREECOMMAS_API_KEY",
            botform::sandbox::DEFAULT_API_KEY.into(),
        ),
        (
            "THREECOMMAS_API_SECRET",
            botform::sandbox::DEFAULT_API_SECRET.into(),
        ),
    ]
}

/// Let the clock pass the window in which an unclear create may still land, for every journal of
/// creates in the state dir `state` (each send time moved 131 s back): what waiting 130 s would
/// do, without the wait.
pub fn pass_the_late_create_window(state: &Path) {
    let Ok(entries) = std::fs::read_dir(state.join("leases")) else {
        return;
    };
    for journal in entries.map(|e| e.unwrap().path()) {
        if !journal.to_string_lossy().ends_with(".creating.json") {
            continue;
        }
        let mut creates: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(&journal).unwrap()).unwrap();
        for create in &mut creates {
            if let Some(sent) = create["sent_at"].as_i64() {
                create["sent_at"] = (sent - 131).into();
            }
        }
        std::fs::write(&journal, serde_json::to_vec(&creates).unwrap()).unwrap();
    }
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
