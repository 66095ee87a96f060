//! What people and programs read from `plan`: snapshots of the human plan, and the JSON plan
//! against its documented schema.

use std::path::Path;

use super::engine_support::{example_dir, offline};
use super::{botform, root};

/// The human plan, with what varies between runs filtered: the temp dir, and bot ids (creates
/// run a few at a time, so ids are handed out in no fixed order).
fn human_plan(dir: &Path) -> String {
    let out = offline()
        .arg("plan")
        .arg(dir)
        .arg("--color")
        .arg("never")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace(&dir.display().to_string(), "[DIR]");
    let mut filtered = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("(id ") {
        filtered.push_str(&rest[..at + 4]);
        rest = rest[at + 4..].trim_start_matches(|c: char| c.is_ascii_digit());
        filtered.push_str("[ID]");
    }
    filtered.push_str(rest);
    filtered
}

#[test]
fn the_human_plan_reads_like_terraform() {
    let dir = example_dir();
    insta::assert_snapshot!("plan_create", human_plan(dir.path()));
    offline()
        .arg("apply")
        .arg(dir.path())
        .arg("--auto-approve")
        .assert()
        .success();
    super::engine_support::edit(
        &dir.path().join("shared.toml"),
        "safety_order_volume = 20",
        "safety_order_volume = 25",
    );
    super::engine_support::edit(
        &dir.path().join("rsi-multi.yaml"),
        "enabled: false",
        "enabled: true",
    );
    insta::assert_snapshot!("plan_update", human_plan(dir.path()));
}

#[test]
fn the_json_plan_follows_its_documented_schema() {
    let committed = std::fs::read_to_string(root().join("schema/plan.schema.json")).unwrap();
    assert!(
        committed == botform::schema::plan_schema_json(),
        "schema/plan.schema.json is stale: run `cargo run -- schema --plan --out schema/plan.schema.json`"
    );
    botform()
        .args(["schema", "--plan"])
        .assert()
        .success()
        .stdout(committed.clone());
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let dir = example_dir();
    let out = offline()
        .arg("plan")
        .arg(dir.path())
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&plan)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["summary"]["add"], 5);
    assert_eq!(plan["changes"][0]["action"], "update_blacklist");
    assert_eq!(plan["changes"][1]["action"], "create");
    assert!(
        plan["changes"][1]["origins"]["take_profit"]["line"]
            .as_u64()
            .is_some(),
        "fields point at their line"
    );
}

/// `plan --format markdown`: the pull-request comment, with its marker, the summary per account
/// and a collapsible block per change.
#[test]
fn the_markdown_plan_is_a_pull_request_comment() {
    let dir = example_dir();
    let out = offline()
        .arg("plan")
        .arg(dir.path())
        .args(["--format", "markdown"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace(&dir.path().display().to_string(), "[DIR]");
    assert!(text.starts_with("<!-- botform-plan -->\n"));
    insta::assert_snapshot!("plan_markdown", text);
}

/// A destroy shows what goes (before: an empty `{ }`).
#[test]
fn the_destroy_block_shows_the_bot_that_goes() {
    let dir = example_dir();
    offline()
        .arg("apply")
        .arg(dir.path())
        .arg("--auto-approve")
        .assert()
        .success();
    super::engine_support::edit(
        &dir.path().join("btc-conservative.toml"),
        "stop_loss_type = \"stop_loss\"",
        "stop_loss_type = \"stop_loss\"\nabsent = true",
    );
    let text = human_plan(dir.path());
    let block = &text[text.find("will be destroyed").expect("a destroy")..];
    assert!(
        block.contains("- pairs") && block.contains("USDT_ETH"),
        "{block}"
    );
    assert!(block.contains("DCA: frees 344.69 USDT per deal"), "{block}");
}
