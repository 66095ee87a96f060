//! `botform backtest` end to end: candle files written by a documented generator, the JSON
//! report against its schema, located errors for bad candles, and the stress test.

use std::path::Path;

use predicates::prelude::*;

use super::{botform, root};

/// Candles that swing ±12 % around 100 once a day, in 5-minute steps: deals close, ladders
/// fill, and the numbers are the same on every run. Binance's kline layout, no header.
fn write_candles(dir: &Path, name: &str, days: i64) {
    let mut text = String::new();
    let start = 1_735_689_600_000i64; // 2025-01-01
    let step = 300_000;
    let per_day = 288;
    let price =
        |i: i64| 100.0 * (1.0 + 0.12 * (i as f64 * std::f64::consts::TAU / per_day as f64).sin());
    for i in 0..days * per_day {
        let (open, close) = (price(i), price(i + 1));
        let (high, low) = (open.max(close) * 1.001, open.min(close) * 0.999);
        text.push_str(&format!(
            "{},{open:.4},{high:.4},{low:.4},{close:.4},1,{},0,0,0,0,0\n",
            start + i * step,
            start + (i + 1) * step - 1
        ));
    }
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn a_backtest_reports_every_field_of_its_schema() {
    let candles = tempfile::tempdir().unwrap();
    write_candles(candles.path(), "BTCUSDT.csv", 30);
    write_candles(candles.path(), "USDT_ETH.csv", 30);
    let out = botform()
        .current_dir(root())
        .args(["backtest", "examples/bots", "--candles"])
        .arg(candles.path())
        .args([
            "--bot",
            "btc conservative",
            "--bot",
            "ETH conservative",
            "--fee",
            "0.1",
        ])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/backtest.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&report), "{report}");
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{report}");
    let btc = &results[0];
    assert_eq!(btc["pair"], "USDT_BTC");
    assert_eq!(btc["candles"]["count"], 30 * 288);
    assert_eq!(btc["candles"]["interval_s"], 300);
    assert_eq!(btc["candles"]["from"], "2025-01-01T00:00:00Z");
    assert!(btc["deals_closed"].as_u64().unwrap() > 10, "{btc}");
    assert_eq!(btc["so_filled_histogram"].as_array().unwrap().len(), 6);
    assert!(
        btc["max_safety_orders_filled"].as_u64().unwrap() >= 3,
        "{btc}"
    );
    assert!(
        btc["max_capital_used"]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            <= 273.75
    );
    // ETH conservative's 15 % stop loss: a deal entered near the top of the swing (112) falls
    // 21 % to its bottom (88), past it; BTC conservative has no stop loss.
    assert!(
        results[1]["deals_stopped"].as_u64().unwrap() > 0,
        "{}",
        results[1]
    );
    assert_eq!(btc["deals_stopped"], 0);

    // The human form: one block per bot and pair, with the histogram.
    botform()
        .current_dir(root())
        .args(["backtest", "examples/bots", "--candles"])
        .arg(candles.path())
        .args(["--bot", "BTC conservative"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "BTC conservative (main) · USDT_BTC · 2025-01-01",
        ))
        .stdout(predicate::str::contains("safety orders filled per deal"));
}

#[test]
fn bad_candles_missing_pairs_and_signal_bots_are_reported() {
    let candles = tempfile::tempdir().unwrap();
    std::fs::write(
        candles.path().join("USDT_BTC.csv"),
        "time,open,high,low,close\n2025-01-01T00:00:00Z,100,101,99,100\n2025-01-01T00:05:00Z,100,99,98,100\n",
    )
    .unwrap();
    botform()
        .current_dir(root())
        .args(["backtest", "examples/bots", "--candles"])
        .arg(candles.path())
        .args(["--bot", "BTC conservative"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "USDT_BTC.csv:3: high 99 and low 98 do not hold",
        ));
    // No candles for the pair, and a bot that starts on TradingView signals.
    let empty = tempfile::tempdir().unwrap();
    botform()
        .current_dir(root())
        .args(["backtest", "examples/bots", "--candles"])
        .arg(empty.path())
        .args([
            "--bot",
            "ETH conservative",
            "--bot",
            "SOL steps with trailing stop",
        ])
        .assert()
        .failure()
        .stdout(predicate::str::contains(
            "no candles: ETH conservative: USDT_ETH",
        ))
        .stdout(predicate::str::contains("--assume-start nonstop"));
    botform()
        .current_dir(root())
        .args([
            "backtest",
            "examples/bots",
            "--synthetic",
            "paths=1",
            "--bot",
            "BTC conservatve",
        ])
        .assert()
        .failure()
        .stderr(predicate::str::contains("did you mean `BTC conservative`"));
}

#[test]
fn a_stress_test_needs_no_data_and_repeats_itself() {
    let run = || {
        botform()
            .current_dir(root())
            .args(["backtest", "examples/bots", "--bot", "BTC conservative"])
            .args([
                "--synthetic",
                "paths=20,vol=80,days=30,seed=7",
                "--format",
                "json",
            ])
            .output()
            .unwrap()
    };
    let (a, b) = (run(), run());
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout, "the same seed gives the same report");
    let report: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let stress = &report["stress"][0];
    assert_eq!(stress["paths"], 20);
    assert_eq!(stress["candles_per_path"], 30 * 288);
    let chance = stress["chances"]["ladder_exhausted"]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .unwrap();
    assert!((0.0..=1.0).contains(&chance));
}

/// `plan --backtest-synthetic`: each changed bot's backtest before and after the change, on the
/// same seeded paths.
#[test]
fn a_plan_shows_each_change_backtested_before_and_after() {
    let dir = super::engine_support::example_dir();
    super::engine_support::offline()
        .arg("apply")
        .arg(dir.path())
        .arg("--auto-approve")
        .assert()
        .success();
    super::engine_support::edit(
        &dir.path().join("shared.toml"),
        "take_profit = 1.5",
        "take_profit = 1.2",
    );
    let out = super::engine_support::offline()
        .arg("plan")
        .arg(dir.path())
        .args(["--backtest-synthetic", "paths=10,vol=80,days=20,seed=3"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let at = text
        .find("bot \"BTC conservative\" on main on synthetic paths:")
        .unwrap_or_else(|| panic!("{text}"));
    let block: Vec<&str> = text[at..].lines().take(3).collect();
    assert!(block[1].trim_start().starts_with("profit "), "{block:?}");
    assert!(block[2].starts_with(" -> profit "), "{block:?}");
    assert_ne!(block[1].trim(), block[2].trim_start_matches(" -> ").trim());
}
