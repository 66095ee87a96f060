//! Integration tests: the real binary, the real files, snapshots of what users read.

mod backtest;
mod client;
mod deals;
mod distribution;
mod engine;
mod engine_support;
mod fidelity;
mod first_hour;
mod fixtures;
mod grid;
mod history;
mod hostile;
mod house;
mod market;
mod mcp;
mod optimize;
mod plan_output;
mod properties;
mod recordings;
mod safety;
mod sandbox;
mod schema;
mod shell;
mod validate;

use std::path::{Path, PathBuf};

/// The repository root (tests run with it as the working directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `botform` binary built for these tests, run from the repository root with color off and
/// botform's own state (leases, the journal of creates) under the build's temp dir, not $HOME.
pub fn botform() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("botform").expect("the botform binary is built");
    cmd.current_dir(root())
        .env("NO_COLOR", "1")
        .env("BOTFORM_STATE_DIR", state_dir());
    cmd
}

/// botform's state dir for every process the tests start (shared, as on a user's machine).
pub fn state_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("botform-state")
}

/// Every file directly in `dir` with a config extension, sorted.
pub fn config_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("toml" | "yaml" | "yml")
            )
        })
        .collect();
    files.sort();
    files
}

/// Fail under CI when a third-party client a test needs is missing; on a developer machine, skip
/// and say so on the real stderr (past the test harness's capture) as `botform-skipped: ...`, a
/// line `.ci/run` counts into its closing "skipped".
pub fn required(name: &str, present: bool, install: &str) -> bool {
    if present {
        return true;
    }
    assert!(
        std::env::var("CI").is_err(),
        "{name} is not installed, and CI must run this test: {install}"
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "botform-skipped: {name} is not installed ({install})"
    );
    false
}
