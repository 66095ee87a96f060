//! plan, apply and import end to end: the real binary against a real sandbox. Every apply is
//! followed by a plan that must find nothing.

use std::path::{Path, PathBuf};

use predicates::prelude::*;
use serde_json::Value;

use super::botform;
use super::engine_support::{against, apply, builtin_sandbox_state, edit, example_dir, offline};
use super::sandbox::SandboxProcess;

fn assert_no_changes(mut cmd: assert_cmd::Command, dir: &Path) {
    cmd.arg("plan")
        .arg(dir)
        .arg("--detailed-exitcode")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No changes."));
}

fn sandbox_state(sandbox: &SandboxProcess) -> Value {
    sandbox.control_get("/__sandbox/state")
}

#[test]
fn apply_then_plan_converges_through_a_sequence_of_edits() {
    let dir = example_dir();
    let d = dir.path();
    offline()
        .args(["plan"])
        .arg(d)
        .arg("--detailed-exitcode")
        .assert()
        .code(2)
        .stdout(predicate::str::contains(
            "Plan: 5 to add, 1 to change, 0 to destroy.",
        ));
    apply(offline(), d)
        .success()
        .stdout(predicate::str::contains(
            "Apply complete: 5 added, 1 changed, 0 destroyed.",
        ));
    assert_no_changes(offline(), d);

    // A template edit changes every bot that uses it, and nothing else.
    edit(
        &d.join("shared.toml"),
        "take_profit = 2.5",
        "take_profit = 3",
    );
    offline()
        .arg("plan")
        .arg(d)
        .assert()
        .success()
        .stdout(predicate::str::contains("~ take_profit = 2.5 -> 3"))
        .stdout(predicate::str::contains(
            "Plan: 0 to add, 1 to change, 0 to destroy.",
        ));
    apply(offline(), d).success();
    assert_no_changes(offline(), d);

    // Enable, change pairs order only (no diff), add a pair, edit the blacklist.
    edit(&d.join("rsi-multi.yaml"), "enabled: false", "enabled: true");
    edit(
        &d.join("rsi-multi.yaml"),
        "pairs: [USDT_BTC, USDT_ETH, USDT_SOL, USDT_BNB, USDT_XRP]",
        "pairs: [USDT_ETH, USDT_BTC, USDT_SOL, USDT_BNB, USDT_XRP, USDT_ADA]",
    );
    edit(&d.join("shared.toml"), "\"USDT_UST\"", "\"USDT_DOGE\"");
    offline().arg("plan").arg(d).assert().success().stdout(
        predicate::str::contains("~ enabled")
            .and(predicate::str::contains("+ \"USDT_DOGE\""))
            .and(predicate::str::contains("- \"USDT_UST\"")),
    );
    apply(offline(), d).success();
    assert_no_changes(offline(), d);

    // A bot marked absent is deleted, but only with --allow-delete.
    edit(
        &d.join("btc-conservative.toml"),
        "stop_loss_type = \"stop_loss\"",
        "stop_loss_type = \"stop_loss\"\nabsent = true",
    );
    apply(offline(), d)
        .code(1)
        .stderr(predicate::str::contains("deleting needs --allow-delete"));
    offline()
        .arg("apply")
        .arg(d)
        .args(["--auto-approve", "--allow-delete"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 destroyed"));
    assert_no_changes(offline(), d);
}

#[test]
fn a_saved_plan_applies_once_and_never_again() {
    let dir = example_dir();
    let d = dir.path();
    let plan_file = d.join("plan.json");
    offline()
        .arg("plan")
        .arg(d)
        .arg("--out")
        .arg(&plan_file)
        .assert()
        .success();
    offline()
        .args(["apply", "--auto-approve", "--plan"])
        .arg(&plan_file)
        .assert()
        .success();
    offline()
        .args(["apply", "--auto-approve", "--plan"])
        .arg(&plan_file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("was already applied"));

    // A plan whose objects moved is refused too: change a bot behind the plan's back.
    edit(&d.join("shared.toml"), "cooldown = 300", "cooldown = 600");
    offline()
        .arg("plan")
        .arg(d)
        .arg("--out")
        .arg(&plan_file)
        .assert()
        .success();
    edit(&d.join("shared.toml"), "cooldown = 600", "cooldown = 900");
    apply(offline(), d).success();
    offline()
        .args(["apply", "--auto-approve", "--plan"])
        .arg(&plan_file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("changed"));

    // An edited plan file is refused.
    let text = std::fs::read_to_string(&plan_file)
        .unwrap()
        .replace("\"cooldown\"", "\"cooldowm\"");
    std::fs::write(&plan_file, text).unwrap();
    offline()
        .args(["apply", "--auto-approve", "--plan"])
        .arg(&plan_file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("edited after it was saved"));
}

#[test]
fn apply_needs_a_terminal_or_auto_approve() {
    let dir = example_dir();
    offline()
        .arg("apply")
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--auto-approve"));
}

#[test]
fn a_bot_with_active_deals_is_not_deleted() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = example_dir();
    let d = dir.path();
    apply(against(&sandbox), d).success();
    let state = sandbox_state(&sandbox);
    let (id, _) = state["real"]["bots"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, b)| b["name"] == "ETH conservative")
        .unwrap();
    let id: i64 = id.parse().unwrap();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..2 {
            client
                .post(format!("{}/__sandbox/deals", sandbox.url))
                .json(&serde_json::json!({ "bot_id": id }))
                .send()
                .await
                .unwrap();
        }
    });
    edit(
        &d.join("btc-conservative.toml"),
        "stop_loss_type = \"stop_loss\"",
        "stop_loss_type = \"stop_loss\"\nabsent = true",
    );
    against(&sandbox)
        .arg("plan")
        .arg(d)
        .assert()
        .success()
        .stdout(predicate::str::contains("it has 2 active deals"));
    against(&sandbox)
        .arg("apply")
        .arg(d)
        .args(["--auto-approve", "--allow-delete"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("has 2 active deals"));
}

/// A config of `n` similar bots on the Binance account.
fn many_bots(dir: &Path, n: usize, take_profit: &str) {
    let mut text = String::from(
        "[accounts.main]\nname = \"Binance Spot\"\n\n[templates.t]\naccount = \"main\"\nstart = [{ strategy = \"nonstop\" }]\nbase_order_volume = 10\nsafety_order_volume = 10\nmax_safety_orders = 2\nactive_safety_orders_count = 1\nsafety_order_step_percentage = 1\nmartingale_volume_coefficient = 1\nmartingale_step_coefficient = 1\ntake_profit_type = \"total\"\n",
    );
    text.push_str(&format!("take_profit = {take_profit}\n"));
    for i in 0..n {
        text.push_str(&format!(
            "\n[[bots]]\nname = \"bot {i}\"\ntemplate = \"t\"\npairs = [\"USDT_BTC\"]\n"
        ));
    }
    std::fs::write(dir.join("bots.toml"), text).unwrap();
}

#[test]
fn changing_most_managed_bots_needs_force() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    many_bots(dir.path(), 12, "1");
    apply(against(&sandbox), dir.path()).success();
    many_bots(dir.path(), 12, "2");
    apply(against(&sandbox), dir.path()).code(1).stderr(
        predicate::str::contains("changes or deletes 12 of the 12 live bots on `main` (100%)")
            .and(predicate::str::contains("--force")),
    );
    against(&sandbox)
        .arg("apply")
        .arg(dir.path())
        .args(["--auto-approve", "--force"])
        .assert()
        .success();
    assert_no_changes(against(&sandbox), dir.path());
}

#[test]
fn import_then_plan_finds_nothing_in_both_formats() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = example_dir();
    apply(against(&sandbox), dir.path()).success();
    // A grid bot made in the web app: imported beside the DCA bots as `[[grid_bots]]`.
    let client =
        super::client::client_for(&sandbox.url, botform::sandbox::DEFAULT_API_SECRET, |_| {});
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(client.create_grid_bot(&serde_json::json!({
            "account_id": super::client::BINANCE, "pair": "USDT_BTC", "name": "BTC range",
            "lower_price": 56000, "upper_price": 72000, "grids_quantity": 50,
            "quantity_per_grid": 20, "order_currency_type": "quote", "note": "by hand"
        })))
        .unwrap();
    for format in ["toml", "yaml"] {
        let out = tempfile::tempdir().unwrap();
        against(&sandbox)
            .args(["import", "--format", format, "--out"])
            .arg(out.path())
            .assert()
            .success();
        let files: Vec<PathBuf> = std::fs::read_dir(out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(
            files
                .iter()
                .any(|f| f.ends_with(format!("bots-binance-spot.{format}"))),
            "{files:?}"
        );
        botform().arg("validate").arg(out.path()).assert().success();
        let report: Value = serde_json::from_slice(
            &botform()
                .args(["validate", "--format", "json"])
                .arg(out.path())
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let grid = &report["grid_bots"][0];
        assert_eq!(grid["name"], "BTC range", "{report}");
        assert_eq!(grid["numbers"]["step"], "326.530612244898", "{report}");
        assert!(
            files
                .iter()
                .any(|f| f.ends_with(format!("grid-bots-binance-spot.{format}"))),
            "{files:?}"
        );
        assert_no_changes(against(&sandbox), out.path());
        let text = std::fs::read_to_string(out.path().join(format!("bots-binance-spot.{format}")))
            .unwrap();
        assert!(
            text.contains("binance-spot-shared"),
            "shared settings lifted into a template:\n{text}"
        );
    }
}

#[test]
fn two_live_bots_with_one_name_must_be_pinned() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    many_bots(dir.path(), 1, "1");
    apply(against(&sandbox), dir.path()).success();
    // Someone makes a second "bot 0" by hand.
    let other = tempfile::tempdir().unwrap();
    many_bots(other.path(), 1, "1");
    std::fs::write(
        other.path().join("bots.toml"),
        std::fs::read_to_string(other.path().join("bots.toml"))
            .unwrap()
            .replace("name = \"bot 0\"", "name = \"bot 0\"\nid = 1"),
    )
    .unwrap();
    let state = sandbox_state(&sandbox);
    let bot = state["real"]["bots"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = botform::threecommas::Client::new(botform::threecommas::ClientConfig::new(
            &sandbox.url,
            botform::threecommas::Credentials::hmac(
                botform::sandbox::DEFAULT_API_KEY,
                botform::sandbox::DEFAULT_API_SECRET,
            ),
        ))
        .unwrap();
        let wire: botform::threecommas::wire::WireBot = serde_json::from_value(bot).unwrap();
        let live = wire.to_model();
        let params = botform::threecommas::wire::BotParams::create(live.account_id, &live.settings);
        client.create_bot(&params).await.unwrap();
    });
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("2 live bots on `main` are named \"bot 0\"")
                .and(predicate::str::contains("pin the one")),
        );
}

#[test]
fn faults_never_duplicate_a_bot_and_repeated_applies_converge() {
    let sandbox = SandboxProcess::spawn(
        None,
        &[
            "--faults",
            "5xx=0.15,timeout=0.05,reset=0.1,seed=42,slow_ms=1500",
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    many_bots(dir.path(), 8, "1");
    let converge = |dir: &Path, extra: &[&str]| {
        for attempt in 1..=8 {
            let ok = against(&sandbox)
                .env("THREECOMMAS_TIMEOUT", "0.5")
                .env("BOTFORM_STATE_DIR", state.path())
                .arg("apply")
                .arg(dir)
                .arg("--auto-approve")
                .args(extra)
                .output()
                .unwrap();
            // A create that timed out may still land: nothing of its name is created until its
            // window has passed (on 3Commas, 130 s; here the clock is moved on).
            if String::from_utf8_lossy(&ok.stdout).contains("may still land") {
                super::engine_support::pass_the_late_create_window(state.path());
                continue;
            }
            if ok.status.success() {
                return attempt;
            }
        }
        panic!("apply did not converge under faults");
    };
    converge(dir.path(), &[]);
    many_bots(dir.path(), 6, "2"); // an update for six, and two bots to delete under prune
    let text = std::fs::read_to_string(dir.path().join("bots.toml")).unwrap();
    std::fs::write(
        dir.path().join("bots.toml"),
        format!("[settings]\nprune = true\n\n{text}"),
    )
    .unwrap();
    converge(dir.path(), &["--allow-delete", "--force"]);
    let stats = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::get(format!("{}/__sandbox/stats", sandbox.url))
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    });
    assert!(
        stats["by_status"]["500"].as_u64().unwrap_or(0) > 0,
        "faults were injected: {stats}"
    );
    eprintln!("under faults: {stats}");
    let state = sandbox_state(&sandbox);
    let mut names: Vec<String> = state["real"]["bots"]
        .as_object()
        .unwrap()
        .values()
        .map(|b| b["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(
        names,
        (0..6).map(|i| format!("bot {i}")).collect::<Vec<_>>(),
        "no duplicate, nothing lost"
    );
    for bot in state["real"]["bots"].as_object().unwrap().values() {
        assert_eq!(bot["take_profit"], "2.0", "every update landed");
    }
}

#[test]
fn a_rejected_change_points_at_its_line_and_the_rest_still_lands() {
    let dir = example_dir();
    let d = dir.path();
    // Plan checks pairs against the exchange; the exchange delists one after the plan was
    // reviewed: only 3Commas can say so, at apply.
    edit(
        &d.join("btc-conservative.toml"),
        "pairs = [\"USDT_ETH\"]",
        "pairs = [\"USDT_ADA\"]",
    );
    let sandbox = SandboxProcess::spawn(None, &[]);
    let plan = d.join("plan.json");
    against(&sandbox)
        .arg("plan")
        .arg(d)
        .arg("--out")
        .arg(&plan)
        .assert()
        .success();
    sandbox.control_post("/__sandbox/delist", serde_json::json!({"pair": "USDT_ADA"}));
    let out = against(&sandbox)
        .args(["apply", "--auto-approve", "--plan"])
        .arg(&plan)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = std::fs::read_to_string(d.join("btc-conservative.toml"))
        .unwrap()
        .lines()
        .position(|l| l.contains("USDT_ADA"))
        .unwrap()
        + 1;
    assert!(
        stdout.contains(&format!("btc-conservative.toml:{line}:1: 3Commas rejected `pairs`: No market data for this pair: USDT_ADA")),
        "{stdout}"
    );
    assert!(
        stdout.contains("4 added, 1 changed, 0 destroyed, 1 failed"),
        "{stdout}"
    );
    // The next plan shows exactly what is left, and now names the pair the exchange dropped.
    against(&sandbox)
        .arg("plan")
        .arg(d)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("pair `USDT_ADA` is not listed"));
}

#[test]
fn target_limits_the_plan_to_named_bots() {
    let dir = example_dir();
    offline()
        .arg("plan")
        .arg(dir.path())
        .args(["--target", "BTC conservative", "--format", "json"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("\"add\": 1")
                .and(predicate::str::contains("RSI large caps").not()),
        );
    offline()
        .arg("plan")
        .arg(dir.path())
        .args(["--target", "No such bot"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "--target names no bot of the config: `No such bot`",
        ));
}

#[test]
fn unmanaged_bots_are_counted_and_listed_on_request_never_touched() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    many_bots(dir.path(), 2, "1");
    apply(against(&sandbox), dir.path()).success();
    many_bots(dir.path(), 1, "1");
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("No changes.").and(predicate::str::contains("1 live bot is on the config's accounts but not in the config (left alone; --show-unmanaged lists them).")));
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .arg("--show-unmanaged")
        .assert()
        .success()
        .stdout(predicate::str::contains("bot \"bot 1\" (id"));
}

#[test]
fn one_builtin_sandbox_is_shared_by_every_process_and_directory() {
    // Before: the built-in sandbox lived in `.botform/` of each config directory and was locked
    // by whichever process had it open, so `botform mcp` locked the CLI out and `import` in one
    // directory saw another account than `plan` in the next.
    let dir = example_dir();
    let running = SandboxProcess::spawn(Some(&builtin_sandbox_state()), &[]);
    // The CLI applies through its in-process built-in sandbox while the served one is running.
    apply(offline(), dir.path()).success();
    // The served sandbox, a separate process on the same database, sees every bot. Only the
    // fields 3Commas never shows differ: botform remembers what it sent per target, and it never
    // sent them through this one (so they are unknown there, and would be sent once).
    against(&running)
        .arg("plan")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "sl_to_breakeven_enabled = unknown -> true",
        ))
        .stdout(predicate::str::contains(
            "Plan: 0 to add, 1 to change, 0 to destroy.",
        ));
    // And so does an import run from any other directory.
    let elsewhere = tempfile::tempdir().unwrap();
    offline()
        .current_dir(elsewhere.path())
        .args(["import", "--out"])
        .arg(elsewhere.path().join("imported"))
        .assert()
        .success();
    assert_no_changes(offline(), &elsewhere.path().join("imported"));
    let dumped = offline()
        .args(["sandbox", "dump", "--state"])
        .arg(builtin_sandbox_state())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let state: Value = serde_json::from_slice(&dumped).unwrap();
    assert_eq!(state["real"]["bots"].as_object().unwrap().len(), 5);
}

#[test]
fn applying_one_change_costs_a_handful_of_requests() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    many_bots(dir.path(), 12, "1");
    apply(against(&sandbox), dir.path()).success();
    edit(
        &dir.path().join("bots.toml"),
        "name = \"bot 0\"",
        "name = \"bot 0\"\ntake_profit = 3",
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = sandbox.url.clone();
    runtime
        .block_on(
            reqwest::Client::new()
                .post(format!("{base}/__sandbox/stats/reset"))
                .send(),
        )
        .unwrap();
    apply(against(&sandbox), dir.path()).success();
    let counted: Value = runtime
        .block_on(async {
            reqwest::get(format!("{base}/__sandbox/stats"))
                .await?
                .json()
                .await
        })
        .unwrap();
    // Plan: accounts + one page of bots and the empty page that ends the list, read under the
    // lease the apply keeps. Apply: the update, whose answer is the bot it reads back. Before:
    // 7 (the two pages again to check staleness, and a show to read the bot back).
    assert_eq!(counted["total"], 4, "{counted}");
    assert_eq!(counted["by_endpoint"]["PATCH /ver1/bots/{id}/update"], 1);
}

#[test]
fn a_large_account_imports_into_files_of_at_most_a_thousand_bots_and_plans_clean() {
    // Before: import wrote one file per account (10,000 bots: 5.1 MB, over the 4 MiB cap on all
    // config text, so plan refused what import wrote).
    let sandbox = SandboxProcess::spawn(None, &[]);
    let account_id = super::client::BINANCE;
    let pairs = ["USDT_BTC", "USDT_ETH", "USDT_SOL"];
    let bots: Vec<Value> = (0..2_300)
        .map(|i| {
            serde_json::json!({
                "account_id": account_id, "name": format!("bot {i:04}"),
                "pairs": serde_json::to_string(&[pairs[i % 3]]).unwrap(),
                "strategy_list": r#"[{"strategy":"nonstop","options":{}}]"#,
                "base_order_volume": "10", "safety_order_volume": "20", "max_safety_orders": 5,
                "active_safety_orders_count": 2, "safety_order_step_percentage": "1.2",
                "martingale_volume_coefficient": "1.5", "martingale_step_coefficient": "1.2",
                // The first file's bots all take 1.5; the later ones differ bot by bot.
                "take_profit": if i < 1_000 { "1.5".to_string() } else { format!("1.{}", i % 9 + 1) },
                "take_profit_type": "total", "base_order_volume_type": "quote_currency",
                "safety_order_volume_type": "quote_currency", "strategy": "long",
            })
        })
        .collect();
    sandbox.seed_bots(&bots);
    let out = tempfile::tempdir().unwrap();
    against(&sandbox)
        .args(["import", "--out"])
        .arg(out.path())
        .assert()
        .success();
    let mut files: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "accounts.toml",
            "bots-binance-spot-01.toml",
            "bots-binance-spot-02.toml",
            "bots-binance-spot-03.toml"
        ]
    );
    let text = |name: &str| std::fs::read_to_string(out.path().join(name)).unwrap();
    let first = text("bots-binance-spot-01.toml");
    assert_eq!(first.matches("[[bots]]").count(), 1_000);
    assert_eq!(
        text("bots-binance-spot-03.toml")
            .matches("[[bots]]")
            .count(),
        300
    );
    // Each file's template holds what its bots agree on: the first's take profit included.
    assert!(
        first.contains("[templates.binance-spot-shared-01]") && first.contains("take_profit = 1.5"),
        "{}",
        &first[..2_000]
    );
    let second = text("bots-binance-spot-02.toml");
    assert!(second.contains("template = \"binance-spot-shared-02\""));
    for f in &files {
        let size = std::fs::metadata(out.path().join(f)).unwrap().len();
        assert!(size <= 1024 * 1024, "{f}: {size} bytes");
    }
    botform().arg("validate").arg(out.path()).assert().success();
    assert_no_changes(against(&sandbox), out.path());
}

#[test]
fn config_text_is_capped_per_file_and_in_all() {
    // Files of 3 MiB each: one is within the per-file cap, six are over the 16 MiB of all.
    let dir = tempfile::tempdir().unwrap();
    let filler = format!("# {}\n", "x".repeat(3 * 1024 * 1024));
    std::fs::write(dir.path().join("a.toml"), &filler).unwrap();
    offline().arg("validate").arg(dir.path()).assert().success();
    for i in 0..6 {
        std::fs::write(dir.path().join(format!("f{i}.toml")), &filler).unwrap();
    }
    offline()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("4 MiB each and 16 MiB in all")
                .and(predicate::str::contains("split a large file")),
        );
}

/// 1,000 live bots (the config describes them through one template) with `changed` of them
/// taking another take profit in the config; the sandbox's request count starts from zero.
fn thousand_bots_with_changes(sandbox: &SandboxProcess, dir: &Path, changed: usize) {
    let account_id = super::client::BINANCE;
    let bots: Vec<Value> = (0..1_000)
        .map(|i| {
            serde_json::json!({
                "account_id": account_id, "name": format!("bot {i}"),
                "pairs": r#"["USDT_BTC"]"#,
                "strategy_list": r#"[{"strategy":"nonstop","options":{}}]"#,
                "base_order_volume": "10", "safety_order_volume": "10", "max_safety_orders": 2,
                "active_safety_orders_count": 1, "safety_order_step_percentage": "1",
                "martingale_volume_coefficient": "1", "martingale_step_coefficient": "1",
                "take_profit": "1", "take_profit_type": "total", "strategy": "long",
                "base_order_volume_type": "quote_currency", "safety_order_volume_type": "quote_currency",
            })
        })
        .collect();
    sandbox.seed_bots(&bots);
    many_bots(dir, 1_000, "1");
    let mut edited = std::fs::read_to_string(dir.join("bots.toml")).unwrap();
    for i in 0..changed {
        edited = edited.replace(
            &format!("name = \"bot {i}\"\n"),
            &format!("name = \"bot {i}\"\ntake_profit = 2\n"),
        );
    }
    std::fs::write(dir.join("bots.toml"), edited).unwrap();
    sandbox.control_post("/__sandbox/stats/reset", serde_json::json!({}));
}

#[test]
fn an_apply_of_a_tenth_of_a_thousand_bots_stays_within_five_percent_of_the_api_floor() {
    // The floor: what a script that only lists and writes needs: the accounts, 10 pages of 100
    // bots and the empty page that ends the list, and one write per change (112). Before: 138 (the account read three times: for
    // the plan, the re-check under the lease, and the read-back).
    let sandbox = SandboxProcess::spawn(None, &["--rate-limit", "100000"]);
    let dir = tempfile::tempdir().unwrap();
    thousand_bots_with_changes(&sandbox, dir.path(), 100);
    against(&sandbox)
        .env("THREECOMMAS_RATE_LIMIT", "100")
        .arg("apply")
        .arg(dir.path())
        .arg("--auto-approve")
        .assert()
        .success();
    let stats = sandbox.control_get("/__sandbox/stats");
    let requests = stats["total"].as_u64().unwrap();
    println!(
        "apply of 100 of 1,000 bots: {requests} requests ({})",
        stats["by_endpoint"]
    );
    assert!(
        requests <= 117,
        "{requests} requests: {}",
        stats["by_endpoint"]
    );
    assert_no_changes(against(&sandbox), dir.path());
}
