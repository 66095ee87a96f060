//! Shell integration: completion scripts every shell accepts, and a man page.

use predicates::prelude::*;

use super::botform;

#[test]
fn completion_scripts_name_every_command_and_bash_accepts_its_own() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = botform()
            .args(["completions", shell])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let script = String::from_utf8(out).unwrap();
        for command in [
            "validate", "plan", "apply", "import", "doctor", "mcp", "sandbox",
        ] {
            assert!(
                script.contains(command),
                "{shell} completion lacks {command}"
            );
        }
        if shell == "bash" {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("botform.bash");
            std::fs::write(&path, &script).unwrap();
            let checked = std::process::Command::new("bash")
                .arg("-n")
                .arg(&path)
                .status()
                .expect("bash runs");
            assert!(checked.success(), "bash -n rejects the completion script");
        }
    }
}

#[test]
fn the_man_page_is_roff_with_every_command() {
    botform().arg("man").assert().success().stdout(
        predicate::str::contains(".TH botform 1")
            .and(predicate::str::contains("doctor"))
            .and(predicate::str::contains("sandbox")),
    );
}

/// On a terminal, apply shows a progress bar with the count done and the pace; without one
/// (every other test), one line per change.
#[test]
fn apply_on_a_terminal_shows_a_progress_bar() {
    let has_script = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !super::required(
        "script (util-linux, for a pseudo-terminal)",
        has_script,
        "apt-get install util-linux",
    ) {
        return;
    }
    let dir = super::engine_support::example_dir();
    let state = tempfile::tempdir().unwrap();
    let command = format!(
        "{} apply {} --auto-approve",
        env!("CARGO_BIN_EXE_botform"),
        dir.path().display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("BOTFORM_SANDBOX_STATE", state.path().join("sandbox.db"))
        .env("BOTFORM_STATE_DIR", super::state_dir())
        .env("TERM", "xterm")
        .env_remove("THREECOMMAS_API_KEY")
        .env("THREECOMMAS_TARGET", "sandbox")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("/6 changes"), "{text}");
    assert!(
        text.contains("pace: at most 90 requests a minute"),
        "{text}"
    );
    assert!(
        text.contains("[6/6]"),
        "every change still gets its line: {text}"
    );
}
