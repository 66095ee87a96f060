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
