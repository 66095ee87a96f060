//! Grid bots as code through plan and apply (issue 19's "done when"), on a real sandbox: the
//! real binary writes, the sandbox's state is the evidence.

use std::path::Path;

use predicates::prelude::*;
use serde_json::Value;

use super::engine_support::{against, apply, edit, example_dir};
use super::sandbox::SandboxProcess;

const GRID: &str = r#"[[grid_bots]]
name = "BTC range"
account = "main"
pair = "USDT_BTC"
order_currency_type = "quote"
lower_price = 56000
upper_price = 72000
grids_quantity = 50
quantity_per_grid = 20
expansion_up_enabled = true        # write-only: 3Commas never shows it back
expansion_up_stop_price = 80000
"#;

fn grids(sandbox: &SandboxProcess) -> Vec<Value> {
    let state = sandbox.control_get("/__sandbox/state");
    state["real"]["grid_bots"]
        .as_object()
        .map(|m| m.values().map(|g| g["entity"].clone()).collect())
        .unwrap_or_default()
}

fn plan(sandbox: &SandboxProcess, dir: &Path) -> (i32, String, String) {
    let out = against(sandbox)
        .arg("plan")
        .arg(dir)
        .arg("--detailed-exitcode")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn assert_clean(sandbox: &SandboxProcess, dir: &Path) {
    let (code, out, err) = plan(sandbox, dir);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("No changes."), "{out}");
}

#[test]
fn a_grid_bot_is_created_updated_replaced_and_deleted_as_the_config_says() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = example_dir();
    let d = dir.path();
    apply(against(&sandbox), d).success();
    std::fs::write(d.join("grid.toml"), GRID).unwrap();

    // Plan shows the create with every setting; apply makes it; plan again is clean (the
    // write-only expansion fields compare with what botform sent).
    let (code, out, _) = plan(&sandbox, d);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("grid bot \"BTC range\" on main will be created"),
        "{out}"
    );
    assert!(out.contains("quantity_per_grid"), "{out}");
    assert!(
        out.contains("Plan: 1 to add, 0 to change, 0 to destroy."),
        "{out}"
    );
    apply(against(&sandbox), d)
        .success()
        .stderr(predicate::str::contains(
            "grid bot \"BTC range\" on main: created (id",
        ));
    let live = grids(&sandbox);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["quantity_per_grid"], "20.0");
    assert_eq!(live[0]["is_enabled"], false);
    assert_clean(&sandbox, d);

    // An edited size is an in-place update that sends the whole core set, never the pair.
    edit(
        &d.join("grid.toml"),
        "quantity_per_grid = 20",
        "quantity_per_grid = 25",
    );
    let (code, out, _) = plan(&sandbox, d);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("~ quantity_per_grid = 20 -> 25"), "{out}");
    assert!(
        out.contains("resets a grid bot's profit statistics"),
        "{out}"
    );
    apply(against(&sandbox), d).success();
    let live = grids(&sandbox);
    assert_eq!(live[0]["quantity_per_grid"], "25.0");
    let id = live[0]["id"].as_i64().unwrap();
    assert_clean(&sandbox, d);

    // A write-only field changed in the config is planned against what botform last sent.
    edit(
        &d.join("grid.toml"),
        "expansion_up_stop_price = 80000",
        "expansion_up_stop_price = 81000",
    );
    let (_, out, _) = plan(&sandbox, d);
    assert!(
        out.contains("expansion_up_stop_price = 80000 -> 81000"),
        "{out}"
    );
    apply(against(&sandbox), d).success();
    assert_clean(&sandbox, d);

    // Enabled: the plan warns of the market balancing order with its size; apply asks
    // required_balances (the account holds 12,873 USDT: enough) and switches it on.
    edit(
        &d.join("grid.toml"),
        "name = \"BTC range\"",
        "name = \"BTC range\"\nenabled = true",
    );
    let (_, out, _) = plan(&sandbox, d);
    assert!(
        out.contains("enabling may place a market balancing order"),
        "{out}"
    );
    assert!(out.contains("sell lines hold"), "{out}");
    // The capital at risk counts the grid as validate's budget does: every line a buy
    // (50 lines x 25 USDT).
    let json: Value = serde_json::from_slice(
        &against(&sandbox)
            .args(["plan", "--format", "json"])
            .arg(d)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let usdt = json["capital"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["account"] == "main" && c["currency"] == "USDT")
        .unwrap();
    let figure = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap();
    assert_eq!(
        figure(&usdt["after"]) - figure(&usdt["before"]),
        1250.0,
        "{usdt}"
    );
    apply(against(&sandbox), d)
        .success()
        .stderr(predicate::str::contains(
            "enabled (3Commas balances it at market first",
        ));
    assert_eq!(grids(&sandbox)[0]["is_enabled"], true);
    assert_clean(&sandbox, d);

    // A new pair cannot be made in place: `-/+`, refused without --allow-delete.
    edit(
        &d.join("grid.toml"),
        "pair = \"USDT_BTC\"",
        "pair = \"USDT_ETH\"",
    );
    edit(
        &d.join("grid.toml"),
        "lower_price = 56000",
        "lower_price = 2000",
    );
    edit(
        &d.join("grid.toml"),
        "upper_price = 72000",
        "upper_price = 4000",
    );
    edit(
        &d.join("grid.toml"),
        "expansion_up_stop_price = 81000",
        "expansion_up_stop_price = 5000",
    );
    let (_, out, _) = plan(&sandbox, d);
    assert!(out.contains("-/+"), "{out}");
    assert!(
        out.contains(
            "must be replaced (3Commas cannot change a grid bot's pair (USDT_BTC -> USDT_ETH))"
        ),
        "{out}"
    );
    assert!(
        out.contains("Plan: 1 to add, 0 to change, 1 to destroy."),
        "{out}"
    );
    assert!(
        out.contains("coins a deleted grid bot holds is undocumented"),
        "{out}"
    );
    apply(against(&sandbox), d)
        .failure()
        .stderr(predicate::str::contains("--allow-delete"));
    assert_eq!(grids(&sandbox)[0]["id"], id);
    against(&sandbox)
        .arg("apply")
        .arg(d)
        .args(["--auto-approve", "--allow-delete"])
        .assert()
        .success()
        .stderr(predicate::str::contains("replaced: deleted (id"));
    let live = grids(&sandbox);
    assert_eq!(live.len(), 1, "{live:?}");
    assert_eq!(live[0]["pair"], "USDT_ETH");
    assert_ne!(live[0]["id"], id);
    assert_eq!(live[0]["is_enabled"], true);
    assert_clean(&sandbox, d);

    // absent = true deletes it, only with --allow-delete.
    edit(
        &d.join("grid.toml"),
        "name = \"BTC range\"",
        "name = \"BTC range\"\nabsent = true",
    );
    apply(against(&sandbox), d).failure();
    assert_eq!(grids(&sandbox).len(), 1);
    against(&sandbox)
        .arg("apply")
        .arg(d)
        .args(["--auto-approve", "--allow-delete"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "grid bot \"BTC range\" on main: deleted",
        ));
    assert!(grids(&sandbox).is_empty());
    assert_clean(&sandbox, d);
}

/// A grid the account cannot fund is created and left off: the change fails, saying what 3Commas'
/// required_balances says is missing, and nothing is switched on.
#[test]
fn a_grid_the_account_cannot_fund_is_left_switched_off() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = example_dir();
    let d = dir.path();
    std::fs::write(
        d.join("grid.toml"),
        GRID.replace("grids_quantity = 50", "grids_quantity = 200")
            .replace("quantity_per_grid = 20", "quantity_per_grid = 100")
            .replace(
                "name = \"BTC range\"",
                "name = \"BTC range\"\nenabled = true",
            ),
    )
    .unwrap();
    apply(against(&sandbox), d)
        .failure()
        .stderr(predicate::str::contains(
            "left switched off: 3Commas says the account lacks",
        ));
    let live = grids(&sandbox);
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["is_enabled"], false);
    // The next plan asks only for what is left: switching it on.
    let (_, out, _) = plan(&sandbox, d);
    assert!(out.contains("~ enabled"), "{out}");
    assert!(
        out.contains("Plan: 0 to add, 1 to change, 0 to destroy."),
        "{out}"
    );
}

/// Grid bots' write path under injected faults (5xx, timeouts and resets, half of them after the
/// write took effect): repeated applies converge with exactly one grid bot per name, never a
/// twin, and the settings as the config says.
#[test]
fn faults_never_duplicate_a_grid_bot_and_repeated_applies_converge() {
    let sandbox = SandboxProcess::spawn(
        None,
        &[
            "--faults",
            "5xx=0.15,timeout=0.05,reset=0.1,seed=7,slow_ms=1500",
        ],
    );
    let dir = example_dir();
    let d = dir.path();
    let state = tempfile::tempdir().unwrap();
    let write = |size: u32, absent: bool| {
        let text: String = (0..5)
            .map(|i| {
                GRID.replace("BTC range", &format!("grid {i}"))
                    .replace(
                        "quantity_per_grid = 20",
                        &format!("quantity_per_grid = {size}"),
                    )
                    .replace(
                        "account = \"main\"",
                        &format!("account = \"main\"\nabsent = {absent}"),
                    )
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(d.join("grid.toml"), text).unwrap();
    };
    let converge = |extra: &[&str]| {
        for _ in 0..10 {
            let out = against(&sandbox)
                .env("THREECOMMAS_TIMEOUT", "0.5")
                .env("BOTFORM_STATE_DIR", state.path())
                .arg("apply")
                .arg(d)
                .arg("--auto-approve")
                .args(extra)
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).contains("may still land") {
                super::engine_support::pass_the_late_create_window(state.path());
                continue;
            }
            if out.status.success() {
                return;
            }
        }
        panic!("apply did not converge under faults");
    };
    let names = |sandbox: &SandboxProcess| {
        let mut names: Vec<String> = grids(sandbox)
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    write(20, false);
    converge(&[]);
    let five: Vec<String> = (0..5).map(|i| format!("grid {i}")).collect();
    assert_eq!(names(&sandbox), five);
    write(30, false);
    converge(&[]);
    assert_eq!(names(&sandbox), five);
    assert!(
        grids(&sandbox)
            .iter()
            .all(|g| g["quantity_per_grid"] == "30.0"),
        "{:?}",
        grids(&sandbox)
    );
    write(30, true);
    converge(&["--allow-delete", "--force"]);
    assert!(names(&sandbox).is_empty());
}

/// Under `settings.prune`, a config that describes grid bots owns the grid bots on its accounts:
/// one made by hand is planned for deletion (needing --allow-delete); a config with no grid bot
/// leaves every grid bot alone, prune or not.
#[test]
fn prune_deletes_grid_bots_only_when_the_config_manages_grid_bots() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = example_dir();
    let d = dir.path();
    edit(&d.join("shared.toml"), "prune = false", "prune = true");
    apply(against(&sandbox), d).success();
    let client =
        super::client::client_for(&sandbox.url, botform::sandbox::DEFAULT_API_SECRET, |_| {});
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(client.create_grid_bot(&serde_json::json!({
        "account_id": super::client::BINANCE, "pair": "USDT_ETH", "name": "by hand",
        "lower_price": 2000, "upper_price": 4000, "grids_quantity": 10,
        "quantity_per_grid": 20, "order_currency_type": "quote"
    })))
    .unwrap();
    // No grid bot in the config: prune leaves the hand-made one alone.
    assert_clean(&sandbox, d);
    std::fs::write(d.join("grid.toml"), GRID).unwrap();
    let (_, out, _) = plan(&sandbox, d);
    assert!(
        out.lines()
            .any(|l| l.contains("grid bot \"by hand\" on main (id")
                && l.ends_with("will be destroyed")),
        "{out}"
    );
    assert!(
        out.contains("grid bot \"BTC range\" on main will be created"),
        "{out}"
    );
    against(&sandbox)
        .arg("apply")
        .arg(d)
        .args(["--auto-approve", "--allow-delete", "--force"])
        .assert()
        .success();
    let names: Vec<String> = grids(&sandbox)
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["BTC range"]);
    assert_clean(&sandbox, d);
}

/// Another machine's apply (no lock shared) creates the same grid bot at the same moment: one
/// grid bot of the name is left either way, and never two switched on.
#[test]
fn a_grid_bot_raced_by_another_machine_is_never_left_twice() {
    for (twin, ours_kept) in [
        ("before", false),
        ("after", true),
        ("before_deleting_ours", false),
    ] {
        let sandbox = SandboxProcess::spawn(None, &[]);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("accounts.toml"),
            "[accounts.main]\nname = \"Binance Spot\"\n",
        )
        .unwrap();
        std::fs::write(
            d.join("grid.toml"),
            GRID.replace(
                "name = \"BTC range\"",
                "name = \"BTC range\"\nenabled = true",
            ),
        )
        .unwrap();
        sandbox.control_post("/__sandbox/race", serde_json::json!({ "twin": twin }));
        let out = apply(against(&sandbox), d).success();
        let text = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        let left = grids(&sandbox);
        assert_eq!(left.len(), 1, "{twin}: {left:?}\n{text}");
        if ours_kept {
            assert!(text.contains("deleted its younger twin"), "{twin}: {text}");
            assert_eq!(left[0]["is_enabled"], true, "{twin}");
            assert_clean(&sandbox, d);
        } else {
            assert!(
                text.contains("another apply created this grid bot at the same time"),
                "{twin}: {text}"
            );
            // The other apply's bot: this one never switched it on; the next plan offers to.
            assert_eq!(left[0]["is_enabled"], false, "{twin}");
        }
    }
}
