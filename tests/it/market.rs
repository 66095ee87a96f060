//! `botform sandbox serve --market`: bots trade on replayed candles, and their deals are the
//! backtest's deals in 3Commas' deal shape.

use std::collections::BTreeSet;

use super::backtest::write_candles;
use super::engine_support::{example_dir, offline};
use super::root;
use super::sandbox::SandboxProcess;

const DEAL_TEMPLATE: &str = include_str!("../../data/sandbox/deal_template.json");

fn number(v: &serde_json::Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_f64())
        .unwrap_or_else(|| panic!("{v} is not a number"))
}

/// The config in `dir` applied to a fresh sandbox database; the database's directory goes with
/// the returned guard.
fn applied(dir: &std::path::Path) -> (tempfile::TempDir, std::path::PathBuf) {
    let guard = tempfile::tempdir().unwrap();
    let db = guard.path().join("sandbox.db");
    offline()
        .env("BOTFORM_SANDBOX_STATE", &db)
        .arg("apply")
        .arg(dir)
        .arg("--auto-approve")
        .assert()
        .success();
    (guard, db)
}

/// A sandbox on `db` replaying the candle files in `candles` at 10^8 market seconds a second.
fn fast_market(db: &std::path::Path, candles: &std::path::Path) -> SandboxProcess {
    let market = candles.to_str().unwrap();
    SandboxProcess::spawn(Some(db), &["--market", market, "--speed", "100000000"])
}

/// The real-mode deals `keep` selects, once the market has replayed its candles.
fn settled_deals(
    sandbox: &SandboxProcess,
    keep: impl Fn(&serde_json::Value) -> bool,
) -> Vec<serde_json::Value> {
    sandbox.wait_replayed();
    let state = sandbox.control_get("/__sandbox/state");
    state["real"]["deals"]
        .as_object()
        .unwrap()
        .values()
        .filter(|d| keep(d))
        .cloned()
        .collect()
}

/// The id of the real-mode bot named `name`.
fn bot_id(sandbox: &SandboxProcess, name: &str) -> i64 {
    sandbox.bot(name)["id"].as_i64().unwrap()
}

#[test]
fn a_sandbox_market_trades_the_bots_as_the_backtest_says() {
    // The example bots in a sandbox database; "BTC conservative" is enabled and nonstop.
    let dir = example_dir();
    let (_db_dir, db) = applied(dir.path());
    let candles = tempfile::tempdir().unwrap();
    // 10 days of 5-minute candles at 10^8 market seconds a second: replayed within a second.
    write_candles(candles.path(), "USDT_BTC.csv", 10);
    let sandbox = fast_market(&db, candles.path());
    let bot = bot_id(&sandbox, "BTC conservative");
    let deals = settled_deals(&sandbox, |d| d["bot_id"].as_i64() == Some(bot));

    // Exactly what `botform backtest` computes on the same candles.
    let out = offline()
        .current_dir(root())
        .arg("backtest")
        .arg(dir.path())
        .arg("--candles")
        .arg(candles.path())
        .args(["--bot", "BTC conservative", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = &report["results"][0];
    let finished: Vec<&serde_json::Value> =
        deals.iter().filter(|d| d["finished?"] == true).collect();
    let open: Vec<&serde_json::Value> = deals.iter().filter(|d| d["finished?"] == false).collect();
    assert_eq!(
        finished.len() as u64,
        expected["deals_closed"].as_u64().unwrap() + expected["deals_stopped"].as_u64().unwrap(),
        "{expected}"
    );
    assert!(finished.len() > 5, "{expected}");
    assert_eq!(
        open.len() as u64,
        expected["deals_open_at_end"].as_u64().unwrap()
    );
    let profit: f64 = finished.iter().map(|d| number(&d["final_profit"])).sum();
    let want = number(&expected["profit_quote"]);
    assert!(
        (profit - want).abs() < 1e-5,
        "sandbox {profit} vs backtest {want}"
    );
    let mut histogram = vec![0u64; expected["so_filled_histogram"].as_array().unwrap().len()];
    for d in &deals {
        histogram[d["completed_safety_orders_count"].as_u64().unwrap() as usize] += 1;
    }
    let want: Vec<u64> = expected["so_filled_histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(histogram, want);

    // In the real deal shape: every key of the recorded 3Commas deal, no other, and the fields
    // a finished deal carries.
    let template: serde_json::Value = serde_json::from_str(DEAL_TEMPLATE).unwrap();
    let keys = |v: &serde_json::Value| -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    };
    for d in &deals {
        assert_eq!(keys(d), keys(&template), "{d}");
    }
    let first = finished[0];
    assert_eq!(first["status"], "completed");
    assert_eq!(first["pair"], "USDT_BTC");
    assert!(first["closed_at"].as_str().unwrap().starts_with("2025-01-"));
    assert!(number(&first["bought_volume"]) >= 10.0);
    assert_eq!(
        number(&first["sold_amount"]),
        number(&first["bought_amount"])
    );
    assert!(number(&first["usd_final_profit"]) > 0.0);
    // Deals open one after another: the next opens after the cooldown (300 s) from the close.
    let mut times: Vec<(String, String)> = finished
        .iter()
        .map(|d| {
            (
                d["created_at"].as_str().unwrap().to_string(),
                d["closed_at"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    times.sort();
    for pair in times.windows(2) {
        assert!(pair[1].0 > pair[0].1, "{pair:?}");
    }

    // The client reads them as any 3Commas deal, through the signed API.
    let client =
        super::client::client_for(&sandbox.url, botform::sandbox::DEFAULT_API_SECRET, |_| {});
    let listed = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(client.deals(Some(bot), Some("finished"), 1000, 0))
        .unwrap();
    assert_eq!(listed.len(), finished.len());
    assert!(
        listed
            .iter()
            .all(|d| d.final_profit.is_some() && d.closed_at.is_some())
    );
}

#[test]
fn a_synthetic_market_needs_no_files_and_a_bad_market_is_refused() {
    let dir = example_dir();
    let (_db_dir, db) = applied(dir.path());
    let sandbox = SandboxProcess::spawn(
        Some(&db),
        &[
            "--market",
            "synthetic:vol=80,seed=3,days=20,interval=5m",
            "--speed",
            "10000000",
        ],
    );
    sandbox.wait_replayed();
    let state = sandbox.control_get("/__sandbox/state");
    let deals = state["real"]["deals"].as_object().unwrap();
    let finished = deals.values().filter(|d| d["finished?"] == true).count();
    assert!(
        finished >= 3,
        "{finished} deals finished on the synthetic market"
    );
    // Priced as the sandbox quotes the pair (its currency_rates), not at 100.
    let price = number(&deals.values().next().unwrap()["base_order_average_price"]);
    assert!(price > 1000.0, "{price}");
    super::botform()
        .args(["sandbox", "serve", "--market", "/nonexistent/candles"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no such file or directory"));
}

/// Deals of the multi-pair bot "one at a time" after a replay with `max_active_deals = max`:
/// (opened, closed, pair), sorted.
fn multi_pair_deals(max: u32) -> Vec<(String, String, String)> {
    // Two pairs with the same candles, starting when the 5-minute RSI(14) is below 50.
    let dir = example_dir();
    std::fs::write(
        dir.path().join("multi.toml"),
        format!(
            r#"[[bots]]
name = "one at a time"
account = "main"
pairs = ["USDT_BTC", "USDT_ETH"]
template = "conservative"
max_active_deals = {max}
enabled = true
start = [{{ strategy = "rsi", options = {{ time = "5m", points = 50, trigger_condition = "less", time_period = 14 }} }}]
"#
        ),
    )
    .unwrap();
    let (_db_dir, db) = applied(dir.path());
    let candles = tempfile::tempdir().unwrap();
    write_candles(candles.path(), "USDT_BTC.csv", 6);
    write_candles(candles.path(), "USDT_ETH.csv", 6);
    let sandbox = fast_market(&db, candles.path());
    let deals = settled_deals(&sandbox, |d| d["bot_name"] == "one at a time");
    let mut spans: Vec<(String, String, String)> = deals
        .iter()
        .map(|d| {
            (
                d["created_at"].as_str().unwrap().to_string(),
                d["closed_at"].as_str().unwrap_or("9999").to_string(),
                d["pair"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    spans.sort();
    spans
}

#[test]
fn a_multi_pair_bot_never_has_more_deals_open_than_max_active_deals() {
    // One at a time: the pairs signal together, the first pair takes the deal, the other waits.
    let one = multi_pair_deals(1);
    assert!(one.len() >= 5, "{one:?}");
    for w in one.windows(2) {
        assert!(w[1].0 >= w[0].1, "two deals open at once: {w:?}");
    }
    // Two at a time: both pairs open on the same candle.
    let two = multi_pair_deals(2);
    assert_eq!(two.len(), 2 * one.len(), "{two:?}");
    assert_eq!(two[0].0, two[1].0);
    let pairs: BTreeSet<&str> = two.iter().map(|s| s.2.as_str()).collect();
    assert_eq!(pairs.len(), 2);
}

#[test]
fn a_deal_found_open_is_carried_on_not_doubled() {
    // A deal of "BTC conservative" already open when the market starts (as after a restart):
    // the market carries it on from what it shows instead of opening a second one.
    let dir = example_dir();
    let (_db_dir, db) = applied(dir.path());
    let bot = {
        let quiet = SandboxProcess::spawn(Some(&db), &[]);
        let bot = bot_id(&quiet, "BTC conservative");
        // The recorded deal: entry 3098.4954, 0.0324 coins for 100.39 USDT, no safety order yet.
        quiet.control_post(
            "/__sandbox/deals",
            serde_json::json!({"bot_id": bot, "status": "bought", "completed_safety_orders_count": 0}),
        );
        bot
    };
    let candles = tempfile::tempdir().unwrap();
    write_candles(candles.path(), "USDT_BTC.csv", 2);
    let sandbox = fast_market(&db, candles.path());
    sandbox.wait_replayed();
    let state = sandbox.control_get("/__sandbox/state");
    let deals: Vec<&serde_json::Value> = state["real"]["deals"]
        .as_object()
        .unwrap()
        .values()
        .filter(|d| d["bot_id"] == bot)
        .collect();
    // Prices near 100 are far below that entry: every safety order filled on the first candle,
    // the take profit is out of reach, and the bot (one deal at a time) opened no other.
    assert_eq!(deals.len(), 1, "{deals:?}");
    assert_eq!(deals[0]["status"], "bought");
    assert_eq!(deals[0]["completed_safety_orders_count"], 5);
    assert!(
        number(&deals[0]["bought_volume"]) > 100.39 + 200.0,
        "{}",
        deals[0]
    );
}

/// A grid bot on the market: its lines fill as the candles cross them, and what 3Commas shows of
/// a running grid (profits, market orders, events, the entity's figures) is what `botform
/// backtest` computes on the same candles (no fees: the sandbox charges none).
#[test]
fn a_sandbox_market_trades_a_grid_bot_as_the_backtest_says() {
    let dir = example_dir();
    std::fs::write(
        dir.path().join("grid.toml"),
        "[[grid_bots]]\nname = \"range\"\naccount = \"main\"\npair = \"USDT_BTC\"\norder_currency_type = \"quote\"\nlower_price = 85\nupper_price = 115\ngrids_quantity = 31\nquantity_per_grid = 10\nenabled = true\n",
    )
    .unwrap();
    let (_db_dir, db) = applied(dir.path());
    let candles = tempfile::tempdir().unwrap();
    write_candles(candles.path(), "USDT_BTC.csv", 10);
    let sandbox = fast_market(&db, candles.path());
    sandbox.wait_replayed();

    let out = offline()
        .current_dir(root())
        .arg("backtest")
        .arg(dir.path())
        .arg("--candles")
        .arg(candles.path())
        .args(["--bot", "range", "--fee", "0", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = &report["grids"][0];
    assert!(
        expected["grids_completed"].as_u64().unwrap() > 20,
        "{expected}"
    );

    let client =
        super::client::client_for(&sandbox.url, botform::sandbox::DEFAULT_API_SECRET, |_| {});
    let rt = tokio::runtime::Runtime::new().unwrap();
    let grid = rt
        .block_on(client.grid_bots())
        .unwrap()
        .into_iter()
        .find(|g| g.name == "range")
        .unwrap();
    let profits = rt.block_on(client.grid_profits(grid.id)).unwrap();
    assert_eq!(
        profits.len() as u64,
        expected["grids_completed"].as_u64().unwrap(),
        "{expected}"
    );
    let total: f64 = profits.iter().map(|p| number(&p["profit"])).sum();
    let want = number(&expected["grid_profit"]);
    assert!(
        (total - want).abs() < 1e-6,
        "sandbox {total} vs backtest {want}"
    );
    // Newest first, each with the line it completed on.
    assert!(profits[0]["created_at"].as_str() >= profits[profits.len() - 1]["created_at"].as_str());
    assert!(profits[0]["grid_line"]["price"].is_string());

    let orders = rt
        .block_on(client.grid_market_orders(grid.id, 1000, 0))
        .unwrap();
    let lines = orders["grid_lines_orders"].as_array().unwrap();
    let count = |side: &str| lines.iter().filter(|o| o["order_type"] == side).count() as u64;
    assert_eq!(
        count("BUY"),
        expected["buys"].as_u64().unwrap(),
        "{expected}"
    );
    assert_eq!(
        count("SELL"),
        expected["sells"].as_u64().unwrap(),
        "{expected}"
    );
    assert_eq!(orders["balancing_orders"].as_array().unwrap().len(), 1);
    assert!(lines.iter().all(|o| o["status_string"] == "Filled"));

    let events = rt.block_on(client.grid_events(grid.id, 1, 100)).unwrap();
    assert!(events.len() == 100, "{}", events.len());
    let first = rt
        .block_on(client.grid_events(grid.id, 1_000_000, 100))
        .unwrap();
    assert!(first.is_empty());

    // The entity: figures as strings, every line shown with its side.
    assert_eq!(grid.grids_quantity, 31);
    let state = sandbox.control_get("/__sandbox/state");
    let entity = state["real"]["grid_bots"][grid.id.to_string()]["entity"].clone();
    assert_eq!(
        entity["total_profits_count"],
        expected["grids_completed"].to_string()
    );
    assert_eq!(entity["grid_lines"].as_array().unwrap().len(), 31);
    assert!((number(&entity["current_profit"]) - want).abs() < 1e-6);
}
