//! `botform history` and `botform revert` against a real sandbox: every apply is recorded, and a
//! revert puts the files back byte for byte and the account back with them, the bots the apply
//! created switched off (or deleted with --allow-delete), never an `absent = true` left behind.

use std::path::Path;

use serde_json::Value;

use super::engine_support::{against, apply, edit};
use super::sandbox::SandboxProcess;

const CONFIG: &str = "[accounts.main]\nname = \"Binance Spot\"\n\n[templates.t]\naccount = \"main\"\nstart = [{ strategy = \"nonstop\" }]\nbase_order_volume = 10\nsafety_order_volume = 10\nmax_safety_orders = 2\nactive_safety_orders_count = 1\nsafety_order_step_percentage = 1\nmartingale_volume_coefficient = 1\nmartingale_step_coefficient = 1\ntake_profit_type = \"total\"\ntake_profit = 1\n\n# the first bot\n[[bots]]\nname = \"kept\"\ntemplate = \"t\"\npairs = [\"USDT_BTC\"]\n";

fn recorded(sandbox: &SandboxProcess, dir: &Path) -> Vec<Value> {
    let out = against(sandbox)
        .args(["history", "--format", "json"])
        .arg(dir)
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

/// Apply the first config, then an edit that changes a field and creates a switched-on bot in a
/// new file: the second apply's id.
fn two_applies(sandbox: &SandboxProcess, dir: &Path) -> String {
    std::fs::write(dir.join("bots.toml"), CONFIG).unwrap();
    apply(against(sandbox), dir).success();
    edit(
        &dir.join("bots.toml"),
        "take_profit = 1\n",
        "take_profit = 1.4\n",
    );
    std::fs::write(
        dir.join("more.toml"),
        "[[bots]]\nname = \"added\"\ntemplate = \"t\"\npairs = [\"USDT_ETH\"]\nenabled = true\n",
    )
    .unwrap();
    apply(against(sandbox), dir)
        .success()
        .stderr(predicates::str::contains("Recorded as apply"));
    let records = recorded(sandbox, dir);
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[0]["created"][0]["name"], "added");
    records[0]["id"].as_str().unwrap().to_string()
}

#[test]
fn a_revert_restores_the_files_byte_for_byte_and_switches_off_what_the_apply_created() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    let second = two_applies(&sandbox, dir.path());
    assert!(sandbox.bot("added")["is_enabled"] == true);
    // The config changed since: reverting would lose the edit, so it is refused.
    edit(&dir.path().join("bots.toml"), "# the first bot", "# edited");
    against(&sandbox)
        .args(["revert", &second])
        .arg(dir.path())
        .arg("--auto-approve")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("bots.toml"));
    edit(&dir.path().join("bots.toml"), "# edited", "# the first bot");
    against(&sandbox)
        .args(["revert", &second])
        .arg(dir.path())
        .arg("--auto-approve")
        .assert()
        .success()
        .stderr(predicates::str::contains("switched off"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("bots.toml")).unwrap(),
        CONFIG,
        "byte for byte"
    );
    assert!(
        !dir.path().join("more.toml").exists(),
        "a file the apply's config added is gone"
    );
    let added = sandbox.bot("added");
    assert_eq!(added["is_enabled"], false, "switched off, not deleted");
    assert_eq!(sandbox.bot("kept")["take_profit"], "1.0");
    // The account matches the restored config; the revert is itself recorded.
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .arg("--detailed-exitcode")
        .assert()
        .code(0);
    assert_eq!(recorded(&sandbox, dir.path()).len(), 3);
}

#[test]
fn with_allow_delete_a_revert_deletes_the_bots_the_apply_created() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    let second = two_applies(&sandbox, dir.path());
    against(&sandbox)
        .args(["revert", &second])
        .arg(dir.path())
        .args(["--auto-approve", "--allow-delete"])
        .assert()
        .code(1)
        .stderr(predicates::str::contains("Not reverted"));
    // Refused by the change guard (1 of 2 bots): nothing was written, the files are as before.
    assert!(dir.path().join("more.toml").exists());
    against(&sandbox)
        .args(["revert", &second])
        .arg(dir.path())
        .args(["--auto-approve", "--allow-delete", "--force"])
        .assert()
        .success();
    assert!(sandbox.bots_named("added").is_empty());
    let text = std::fs::read_to_string(dir.path().join("bots.toml")).unwrap();
    assert!(!text.contains("absent"), "{text}");
}

#[test]
fn the_first_apply_cannot_be_reverted_and_says_why() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bots.toml"), CONFIG).unwrap();
    apply(against(&sandbox), dir.path()).success();
    let first = recorded(&sandbox, dir.path())[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    against(&sandbox)
        .args(["revert", &first])
        .arg(dir.path())
        .arg("--auto-approve")
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no earlier files"));
}
