//! `botform backtest` end to end: candle files written by a documented generator, the JSON
//! report against its schema, located errors for bad candles, and the stress test.

use std::path::Path;

use predicates::prelude::*;

use super::{botform, root};

/// Candles that swing ±12 % around 100 once a day, in 5-minute steps: deals close, ladders
/// fill, and the numbers are the same on every run. Binance's kline layout, no header.
pub(super) fn write_candles(dir: &Path, name: &str, days: i64) {
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

/// `botform backtest examples/bots --candles DIR ARGS... --format json`, its report.
fn backtest_json(candles: &Path, args: &[&str]) -> serde_json::Value {
    let out = botform()
        .current_dir(root())
        .args(["backtest", "examples/bots", "--candles"])
        .arg(candles)
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn a_backtest_reports_every_field_of_its_schema() {
    let candles = tempfile::tempdir().unwrap();
    write_candles(candles.path(), "BTCUSDT.csv", 30);
    write_candles(candles.path(), "USDT_ETH.csv", 30);
    let report = backtest_json(
        candles.path(),
        &[
            "--bot",
            "btc conservative",
            "--bot",
            "ETH conservative",
            "--fee",
            "0.1",
        ],
    );
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
fn indicator_starts_are_simulated_from_the_candles() {
    // The RSI multi-pair bot (15-minute RSI below 30) and the MACD short bot (1-hour cross)
    // run on 5-minute candles without --assume-start: their starts are computed.
    let candles = tempfile::tempdir().unwrap();
    write_candles(candles.path(), "USDT_BTC.csv", 30);
    write_candles(candles.path(), "BTC_ETH.csv", 30);
    let report = backtest_json(
        candles.path(),
        &[
            "--bot",
            "RSI large caps",
            "--bot",
            "ETH short on MACD cross",
        ],
    );
    assert_eq!(
        report["not_backtestable"],
        serde_json::json!([]),
        "{report}"
    );
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{report}");
    for r in results {
        let left = r["not_simulated"].to_string();
        assert!(!left.contains("start"), "{left}");
        let deals = r["deals_closed"].as_u64().unwrap() + r["deals_stopped"].as_u64().unwrap();
        // Fewer deals than the nonstop ladder makes on the same candles, but some.
        assert!(deals > 0, "{r}");
    }
    let rsi = &results[0];
    assert_eq!(rsi["name"], "RSI large caps");
    // The swing is daily, so the 15-minute RSI(14) dips below 30 about once a day at most.
    assert!(rsi["deals_closed"].as_u64().unwrap() <= 60, "{rsi}");
    // The same bots on hourly candles: the 15-minute RSI cannot be built from them.
    let hourly = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(candles.path().join("USDT_BTC.csv")).unwrap();
    let every_twelfth: String = text.lines().step_by(12).map(|l| format!("{l}\n")).collect();
    std::fs::write(hourly.path().join("USDT_BTC.csv"), every_twelfth).unwrap();
    let report = backtest_json(hourly.path(), &["--bot", "RSI large caps"]);
    let skipped = report["not_backtestable"].to_string();
    assert!(skipped.contains("15-minute candles"), "{report}");
}

#[test]
fn indicators_match_ta_lib() {
    // tests/fixtures/indicators/reference.json is what TA-Lib computes on the seeded candles
    // (the unit test `every_indicator_matches_ta_lib` checks our indicators against it): the
    // script recomputes it with TA-Lib and compares.
    let has_talib = std::process::Command::new("python3")
        .args(["-c", "import talib, numpy"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !super::required(
        "TA-Lib for Python",
        has_talib,
        "python3 -m pip install TA-Lib==0.8.2",
    ) {
        return;
    }
    let out = std::process::Command::new("python3")
        .arg(root().join("tests/py/indicator_reference.py"))
        .arg("--check")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("matches TA-Lib"));
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
    let number = |v: &serde_json::Value| v.as_str().unwrap().parse::<f64>().unwrap();
    let chance = &stress["chances"]["ladder_exhausted"];
    let (share, low, high) = (
        number(&chance["share"]),
        number(&chance["low"]),
        number(&chance["high"]),
    );
    assert!(
        0.0 <= low && low <= share && share <= high && high <= 1.0,
        "{chance}"
    );
    // 20 paths leave a wide interval: it is never a bare point.
    assert!(high - low > 0.1, "{chance}");
    assert_eq!(stress["chances"]["locked_days"], 7);
}

/// `plan --backtest-synthetic`: each changed bot's backtest before and after the change, on the
/// same seeded paths.
#[test]
fn a_plan_shows_each_change_backtested_before_and_after() {
    let dir = applied_example_then_edited("shared.toml", "take_profit = 1.5", "take_profit = 1.2");
    super::engine_support::edit(
        &dir.path().join("shared.toml"),
        "take_profit = 2.5",
        "take_profit = 2.2",
    );
    let out = super::engine_support::offline()
        .arg("plan")
        .arg(dir.path())
        .args(["--backtest-synthetic", "paths=10,vol=80,days=20,seed=3"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    // No --backtest-fee: the account's exchange (the sandbox's Binance account) decides it.
    let at = text
        .find("bot \"BTC conservative\" on main on synthetic paths, fee 0.1 % (Binance spot's base-tier taker fee):")
        .unwrap_or_else(|| panic!("{text}"));
    let block: Vec<&str> = text[at..].lines().take(3).collect();
    assert!(block[1].trim_start().starts_with("profit "), "{block:?}");
    assert!(block[2].starts_with(" -> profit "), "{block:?}");
    assert_ne!(block[1].trim(), block[2].trim_start_matches(" -> ").trim());
    // The RSI bot's start condition is computed from the paths, so it is not in the list of
    // what the model left out.
    assert!(
        text.contains("bot \"RSI large caps\" on main on synthetic paths, fee 0.1 %"),
        "{text}"
    );
    assert!(!text.contains("start conditions (rsi)"), "{text}");
}

/// A local exchange answering as Binance `GET /api/v3/klines` (oldest first) and Bybit v5
/// `GET /v5/market/kline` (newest first) are documented to, 1,000 candles a page at most, over
/// the same generated price as `write_candles`. Returns its URL and a request counter.
pub(crate) fn exchange_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::extract::Query;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let counter = hits.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let kline = |t: i64| {
                let i = t / 300_000;
                let price = |i: i64| 100.0 * (1.0 + 0.12 * (i as f64 * std::f64::consts::TAU / 288.0).sin());
                let (open, close) = (price(i), price(i + 1));
                serde_json::json!([t, open.to_string(), (open.max(close) * 1.001).to_string(),
                    (open.min(close) * 0.999).to_string(), close.to_string(), "1"])
            };
            let times = |from: i64, to: i64| {
                let first = (from + 299_999) / 300_000 * 300_000;
                (first..=to).step_by(300_000).collect::<Vec<i64>>()
            };
            let c1 = counter.clone();
            let c2 = counter.clone();
            let app = axum::Router::new()
                .route(
                    "/api/v3/klines",
                    axum::routing::get(move |Query(q): Query<HashMap<String, String>>| {
                        c1.fetch_add(1, Ordering::SeqCst);
                        let from: i64 = q["startTime"].parse().unwrap();
                        let to: i64 = q["endTime"].parse().unwrap();
                        let list: Vec<_> = times(from, to).into_iter().take(1000).map(kline).collect();
                        async move { axum::Json(serde_json::Value::Array(list)) }
                    }),
                )
                .route(
                    "/v5/market/kline",
                    axum::routing::get(move |Query(q): Query<HashMap<String, String>>| {
                        c2.fetch_add(1, Ordering::SeqCst);
                        let from: i64 = q["start"].parse().unwrap();
                        let to: i64 = q["end"].parse().unwrap();
                        let mut all = times(from, to);
                        all.reverse();
                        let list: Vec<_> = all
                            .into_iter()
                            .take(1000)
                            .map(|t| {
                                let mut k = kline(t);
                                k[0] = serde_json::Value::String(t.to_string());
                                k
                            })
                            .collect();
                        async move {
                            axum::Json(serde_json::json!({"retCode": 0, "retMsg": "OK", "result": {"list": list}}))
                        }
                    }),
                );
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (url, hits)
}

#[test]
fn candles_come_from_binance_or_bybit_into_the_cache_and_resume() {
    use std::sync::atomic::Ordering;
    let (url, hits) = exchange_server();
    for exchange in ["binance", "bybit"] {
        let cache = tempfile::tempdir().unwrap();
        let run = |to: &str| {
            botform()
                .current_dir(root())
                .env("BOTFORM_BINANCE_URL", &url)
                .env("BOTFORM_BYBIT_URL", &url)
                .env("BOTFORM_CACHE_DIR", cache.path())
                .args(["backtest", "examples/bots", "--bot", "BTC conservative"])
                .args([
                    "--candles-from",
                    exchange,
                    "--from",
                    "2025-01-01",
                    "--to",
                    to,
                ])
                .args(["--format", "json"])
                .output()
                .unwrap()
        };
        let before = hits.load(Ordering::SeqCst);
        let out = run("2025-01-05");
        assert!(
            out.status.success(),
            "{exchange}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            report["results"][0]["candles"]["count"],
            4 * 288,
            "{exchange}: {report}"
        );
        assert_eq!(
            report["results"][0]["candles"]["from"],
            "2025-01-01T00:00:00Z"
        );
        // No --fee: the exchange the candles came from says which fee a trade pays.
        assert_eq!(report["fee_percentage"], "0.1", "{exchange}");
        let source = report["fee_source"].as_str().unwrap();
        assert!(
            source.contains("spot's base-tier taker fee")
                && source.to_lowercase().starts_with(exchange),
            "{source}"
        );
        let file = cache.path().join(exchange).join("5m").join("USDT_BTC.csv");
        let first_fetch = hits.load(Ordering::SeqCst) - before;
        assert!(
            first_fetch >= 2,
            "{exchange}: 1,152 candles take two pages ({first_fetch})"
        );
        // The same window again: from the cache, no request. A longer one: only what is new.
        let out = run("2025-01-05");
        assert!(out.status.success());
        assert_eq!(
            hits.load(Ordering::SeqCst) - before,
            first_fetch,
            "{exchange}: resumed"
        );
        let out = run("2025-01-06");
        assert!(out.status.success());
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            report["results"][0]["candles"]["count"],
            5 * 288,
            "{exchange}"
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap().lines().count(),
            5 * 288
        );
    }
}

#[test]
fn an_oversized_or_impossible_kline_page_is_refused_and_nothing_is_cached() {
    // Before (issue 24 low): kline answers were read whole, however large, and cached without a
    // look at their rows.
    for (mode, expected) in [
        ("huge", "larger than 2 MiB"),
        ("impossible", "is impossible"),
    ] {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                let app = axum::Router::new().route(
                    "/api/v3/klines",
                    axum::routing::get(move || async move {
                        let row = |t: i64, low: &str| {
                            serde_json::json!([t, "100", "101", low, "100.5", "1"])
                        };
                        let list: Vec<serde_json::Value> = match mode {
                            // 3 MB of well-formed klines in one answer.
                            "huge" => (0..60_000)
                                .map(|i| row(1_735_689_600_000 + i * 300_000, "99"))
                                .collect(),
                            // A low above the open.
                            _ => vec![row(1_735_689_600_000, "100.2")],
                        };
                        axum::Json(serde_json::Value::Array(list))
                    }),
                );
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        let cache = tempfile::tempdir().unwrap();
        let out = botform()
            .current_dir(root())
            .env("BOTFORM_BINANCE_URL", &url)
            .env("BOTFORM_CACHE_DIR", cache.path())
            .args(["backtest", "examples/bots", "--bot", "BTC conservative"])
            .args([
                "--candles-from",
                "binance",
                "--from",
                "2025-01-01",
                "--to",
                "2025-01-02",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{mode}: {stderr}");
        assert!(stderr.contains(expected), "{mode}: {stderr}");
        let csv = cache.path().join("binance").join("5m").join("USDT_BTC.csv");
        assert!(!csv.exists(), "{mode}: nothing cached");
    }
}

/// A config of one bot: 100 USDT at the entry, one safety order of 100 at 10 %, take profit 10 %.
fn one_rung_bot(dir: &Path) {
    std::fs::write(
        dir.join("bots.toml"),
        r#"
[accounts.main]
name = "Binance Spot"

[[bots]]
name = "one rung"
account = "main"
pairs = ["USDT_BTC"]
start = [{ strategy = "nonstop" }]
strategy = "long"
base_order_volume = 100
safety_order_volume = 100
max_safety_orders = 1
active_safety_orders_count = 1
safety_order_step_percentage = 10
martingale_volume_coefficient = 1
martingale_step_coefficient = 1
take_profit = 10
take_profit_type = "total"
"#,
    )
    .unwrap();
}

#[test]
fn the_path_inside_a_candle_is_a_choice_and_its_weight_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    one_rung_bot(dir.path());
    // An entry candle at 100, then one that reaches both 85 (the safety order at 90) and 111
    // (the take profit at 110, before the safety order lowers it).
    std::fs::write(
        dir.path().join("USDT_BTC.csv"),
        "time,open,high,low,close\n2025-01-01T00:00:00Z,100,100,100,100\n2025-01-01T00:05:00Z,100,111,85,100\n",
    )
    .unwrap();
    let run = |args: &[&str]| -> serde_json::Value {
        let out = botform()
            .current_dir(dir.path())
            .args([
                "backtest",
                "bots.toml",
                "--candles",
                "USDT_BTC.csv",
                "--format",
                "json",
            ])
            .args(args)
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    };
    // The default, the worst path: low first, the safety order fills, 10 % of 200.
    let worst = run(&[]);
    let r = &worst["results"][0];
    assert_eq!(
        (r["intrabar"].as_str(), r["profit_quote"].as_str()),
        (Some("worst"), Some("20")),
        "{r}"
    );
    assert_eq!(r["sensitivity"]["intrabar"], "best", "{r}");
    assert_eq!(r["sensitivity"]["profit_quote"], "10", "{r}");
    // High first, as TradingView's rule also chooses here (the high is nearer the open).
    for path in ["high-first", "tradingview"] {
        let r = &run(&["--intrabar", path])["results"][0];
        assert_eq!(r["profit_quote"], "10", "{path}: {r}");
    }
    // The human form says it too.
    botform()
        .current_dir(dir.path())
        .args(["backtest", "bots.toml", "--candles", "USDT_BTC.csv"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "inside a candle: worst path; along the best path instead: profit 10 USDT",
        ))
        .stdout(predicate::str::contains("the fee is 0 %"));
}

/// `plan --backtest-candles --format json`: one JSON document (the plan, the backtest under
/// `backtest`), and a multi-pair bot is backtested on every pair it has candles for, together.
#[test]
fn a_plan_backtest_covers_every_pair_and_keeps_json_pure() {
    let dir = applied_example_then_edited(
        "rsi-multi.yaml",
        "max_active_deals: 3",
        "max_active_deals: 2",
    );
    let candles = tempfile::tempdir().unwrap();
    for pair in ["USDT_BTC", "USDT_ETH", "USDT_SOL"] {
        write_candles(candles.path(), &format!("{pair}.csv"), 20);
    }
    let out = super::engine_support::offline()
        .arg("plan")
        .arg(dir.path())
        .args(["--format", "json", "--backtest-candles"])
        .arg(candles.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/plan.schema.json")).unwrap(),
    )
    .unwrap();
    assert!(jsonschema::validator_for(&schema).unwrap().is_valid(&plan));
    let comparisons = plan["backtest"]["comparisons"].as_array().unwrap();
    let rsi = comparisons
        .iter()
        .find(|c| c["address"].as_str().unwrap().contains("RSI large caps"))
        .unwrap_or_else(|| panic!("{plan}"));
    assert_eq!(rsi["on"], "USDT_BTC, USDT_ETH, USDT_SOL", "{rsi}");
    assert!(rsi["after"]["profit"].is_string(), "{rsi}");
    // The two pairs without candles are named.
    let notes = plan["backtest"]["notes"].to_string();
    assert!(
        notes.contains("USDT_BNB") && notes.contains("USDT_XRP"),
        "{notes}"
    );
}

#[test]
fn a_multi_pair_bot_is_reported_in_total_under_its_cap() {
    let candles = tempfile::tempdir().unwrap();
    for pair in ["USDT_BTC", "USDT_ETH", "USDT_SOL"] {
        write_candles(candles.path(), &format!("{pair}.csv"), 20);
    }
    let report = backtest_json(candles.path(), &["--bot", "RSI large caps", "--fee", "0.1"]);
    let total = &report["bots"][0];
    assert_eq!(total["name"], "RSI large caps", "{report}");
    assert_eq!(total["pairs"].as_array().unwrap().len(), 3, "{total}");
    assert_eq!(total["max_active_deals"], 3);
    assert!(total["max_deals_at_once"].as_u64().unwrap() <= 3, "{total}");
    let per_pair: u64 = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["deals_closed"].as_u64().unwrap())
        .sum();
    assert_eq!(total["deals_closed"].as_u64().unwrap(), per_pair);
    // Its equity figures: a bounded curve over the 20 days, daily ratios, one month.
    let figures = &total["figures"];
    let curve = figures["equity"].as_array().unwrap();
    assert!(!curve.is_empty() && curve.len() <= 400, "{figures}");
    assert!(figures["sharpe"].is_string(), "{figures}");
    assert_eq!(figures["monthly"][0]["month"], "2025-01", "{figures}");
}

#[test]
fn every_deal_is_listed_in_csv_or_json() {
    let dir = tempfile::tempdir().unwrap();
    one_rung_bot(dir.path());
    // A deal that fills its safety order and closes in candle 1, then one that opens at
    // candle 2 and is still open at the end (marked at 101).
    std::fs::write(
        dir.path().join("USDT_BTC.csv"),
        "time,open,high,low,close\n2025-01-01T00:00:00Z,100,100,100,100\n2025-01-01T00:05:00Z,100,111,85,100\n2025-01-01T00:10:00Z,100,102,99,101\n",
    )
    .unwrap();
    botform()
        .current_dir(dir.path())
        .args([
            "backtest",
            "bots.toml",
            "--candles",
            "USDT_BTC.csv",
            "--deals",
            "deals.csv",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("Wrote 2 deals to deals.csv."));
    let csv = std::fs::read_to_string(dir.path().join("deals.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines,
        [
            "bot,account,pair,opened,closed,outcome,entry_price,exit_price,safety_orders_filled,take_profit_steps_filled,steps_base,steps_quote,base,quote,fees,profit_quote",
            "one rung,main,USDT_BTC,2025-01-01T00:00:00Z,2025-01-01T00:10:00Z,take_profit,100,104.21052632,1,0,0,0,2.11111111,200,0,20",
            "one rung,main,USDT_BTC,2025-01-01T00:10:00Z,,open,100,,0,0,0,0,1,100,0,1",
        ],
        "{csv}"
    );
    botform()
        .current_dir(dir.path())
        .args([
            "backtest",
            "bots.toml",
            "--candles",
            "USDT_BTC.csv",
            "--deals",
            "deals.json",
        ])
        .assert()
        .success();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("deals.json")).unwrap())
            .unwrap();
    assert_eq!(json[0]["outcome"], "take_profit");
    assert_eq!(json[1]["closed"], serde_json::Value::Null);
}

/// `plan --backtest-html`: each changed bot's equity before and after, overlaid, drawn in
/// Chromium with no script error.
#[test]
fn a_plan_backtest_page_overlays_before_and_after_in_chromium() {
    if !chromium_is_there() {
        return;
    }
    let dir = applied_example_then_edited("shared.toml", "take_profit = 1.5", "take_profit = 1.2");
    let candles = tempfile::tempdir().unwrap();
    write_candles(candles.path(), "USDT_BTC.csv", 20);
    write_candles(candles.path(), "USDT_ETH.csv", 20);
    let page = candles.path().join("plan.html");
    let out = super::engine_support::offline()
        .arg("plan")
        .arg(dir.path())
        .arg("--backtest-candles")
        .arg(candles.path())
        .arg("--backtest-html")
        .arg(&page)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&page).unwrap();
    for outside in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(outside), "{outside} in the page");
    }
    assert!(
        html.contains("bot &quot;BTC conservative&quot; on main"),
        "{}",
        html.chars().take(300).collect::<String>()
    );
    assert!(html.contains("before the change (grey) and after (green)"));
    let charts = html.matches("<svg class=\"chart\"").count();
    assert!(
        charts >= 2,
        "an overlay for each of the two conservative bots: {charts}"
    );
    let dom = chromium(&candles.path().join("profile"))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dumped = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dumped.contains(&format!(r#"<body data-charts="{charts}" data-errors="0">"#)),
        "{}\n{}",
        dumped.chars().take(300).collect::<String>(),
        String::from_utf8_lossy(&dom.stderr)
    );
}

/// `--limits`: each pair's steps from its currency_rates answer round the orders (a pair with no
/// steps is named), and a malformed file is one clear error.
#[test]
fn limits_round_the_orders_and_a_bad_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    write_candles(dir.path(), "USDT_BTC.csv", 20);
    let run = |limits: Option<&str>| {
        let mut cmd = botform();
        cmd.current_dir(root())
            .args(["backtest", "examples/bots", "--bot", "BTC conservative"])
            .arg("--candles")
            .arg(dir.path().join("USDT_BTC.csv"))
            .args(["--fee", "0.1", "--format", "json"]);
        if let Some(text) = limits {
            let path = dir.path().join("limits.json");
            std::fs::write(&path, text).unwrap();
            cmd.arg("--limits").arg(&path);
        }
        cmd.output().unwrap()
    };
    let profit = |out: &std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            report["results"][0]["profit_quote"].clone(),
            report["warnings"].clone(),
        )
    };
    let (plain, _) = profit(&run(None));
    // A coarse grid (3Commas sends its figures as strings) moves the result.
    let (rounded, _) = profit(&run(Some(
        r#"{"USDT_BTC": {"last": "100", "priceStep": "0.5", "lotStep": "0.01", "minTotal": "5.0"}}"#,
    )));
    assert_ne!(plain, rounded);
    let (_, warnings) = profit(&run(Some(r#"{"USDT_ETH": {"priceStep": "0.01"}}"#)));
    assert!(
        warnings
            .to_string()
            .contains("USDT_BTC: --limits has no steps for it"),
        "{warnings}"
    );
    let bad = run(Some(r#"{"USDT_BTC": {"priceStep": "-1"}}"#));
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("USDT_BTC: priceStep `-1` is not a positive number"),
        "{stderr}"
    );
}

/// `--detail`: 1-minute candles walk the 5-minute ones they cover whole, the report counts
/// them, and candles that are not finer are refused.
#[test]
fn finer_candles_walk_the_candles_they_cover() {
    let dir = tempfile::tempdir().unwrap();
    let (coarse, fine) = (dir.path().join("5m"), dir.path().join("1m"));
    std::fs::create_dir_all(&coarse).unwrap();
    std::fs::create_dir_all(&fine).unwrap();
    // Three days of 1-minute candles, and the 5-minute candles they make.
    let start = 1_735_689_600_000i64;
    let price = |i: i64| 100.0 * (1.0 + 0.12 * (i as f64 * std::f64::consts::TAU / 1440.0).sin());
    let minutes: Vec<(f64, f64, f64, f64)> = (0..3 * 1440)
        .map(|i| {
            let (open, close) = (price(i), price(i + 1));
            (
                open,
                open.max(close) * 1.002,
                open.min(close) * 0.998,
                close,
            )
        })
        .collect();
    let row = |t: i64, (o, h, l, c): (f64, f64, f64, f64)| format!("{t},{o},{h},{l},{c},1\n");
    let text: String = minutes
        .iter()
        .enumerate()
        .map(|(i, m)| row(start + i as i64 * 60_000, *m))
        .collect();
    std::fs::write(fine.join("USDT_BTC.csv"), text).unwrap();
    let text: String = minutes
        .chunks(5)
        .enumerate()
        .map(|(i, five)| {
            let high = five.iter().map(|m| m.1).fold(f64::MIN, f64::max);
            let low = five.iter().map(|m| m.2).fold(f64::MAX, f64::min);
            row(
                start + i as i64 * 300_000,
                (five[0].0, high, low, five[4].3),
            )
        })
        .collect();
    std::fs::write(coarse.join("USDT_BTC.csv"), text).unwrap();
    let run = |detail: &Path| {
        botform()
            .current_dir(root())
            .args([
                "backtest",
                "examples/bots",
                "--bot",
                "BTC conservative",
                "--candles",
            ])
            .arg(&coarse)
            .arg("--detail")
            .arg(detail)
            .args(["--fee", "0.1", "--format", "json"])
            .output()
            .unwrap()
    };
    let out = run(&fine);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = &report["results"][0];
    assert!(
        result["candles_walked_in_detail"].as_u64().unwrap() > 100,
        "{result}"
    );
    assert_eq!(result["candles_without_detail"], 0, "{result}");
    let refused = run(&coarse);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr)
            .contains("must be finer than the candles they detail"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// The example config applied to a fresh sandbox, then `from` replaced by `to` in `file`: a
/// plan with changes to backtest.
fn applied_example_then_edited(file: &str, from: &str, to: &str) -> tempfile::TempDir {
    let dir = super::engine_support::example_dir();
    super::engine_support::offline()
        .arg("apply")
        .arg(dir.path())
        .arg("--auto-approve")
        .assert()
        .success();
    super::engine_support::edit(&dir.path().join(file), from, to);
    dir
}

/// Is Debian's Chromium installed? Under CI it must be (`super::required`).
pub(super) fn chromium_is_there() -> bool {
    let has_chromium = std::process::Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    super::required("Chromium", has_chromium, "apt-get install chromium")
}

/// Debian's Chromium, headless, as root too, with nothing reaching for the network.
fn chromium(profile: &Path) -> std::process::Command {
    let mut c = std::process::Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

#[test]
fn the_html_report_is_self_contained_and_draws_its_charts_in_chromium() {
    if !chromium_is_there() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    write_candles(dir.path(), "USDT_BTC.csv", 20);
    write_candles(dir.path(), "USDT_ETH.csv", 20);
    let page = dir.path().join("report.html");
    botform()
        .current_dir(root())
        .args(["backtest", "examples/bots", "--candles"])
        .arg(dir.path())
        .args([
            "--bot",
            "BTC conservative",
            "--bot",
            "ETH conservative",
            "--fee",
            "0.1",
            "--html",
        ])
        .arg(&page)
        .assert()
        .success();
    let html = std::fs::read_to_string(&page).unwrap();
    // Nothing fetched at view time: no external script, style, image or font.
    for outside in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(outside), "{outside} in the page");
    }
    for shown in [
        "Equity",
        "Drawdown",
        "Per pair",
        "Monthly returns",
        "Not simulated",
        "Sharpe",
    ] {
        assert!(html.contains(shown), "{shown} missing");
    }
    // The page's own check, run by Chromium: every chart drawn (per bot: equity, drawdown, one
    // price chart, two histograms), no script error; and a screenshot.
    page_draws_in_chromium(dir.path(), &page, 10, 2400);
}

/// Open `page` in headless Chromium: its own check must find `charts` charts drawn and no script
/// error, and a screenshot (1000 px wide, `height` high) must come out as a PNG, as a trader
/// would see the page.
pub(super) fn page_draws_in_chromium(dir: &Path, page: &Path, charts: usize, height: u32) {
    let url = format!("file://{}", page.display());
    let dom = chromium(&dir.join("profile-dom"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let dumped = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dumped.contains(&format!(r#"<body data-charts="{charts}" data-errors="0">"#)),
        "{}\n{}",
        dumped.chars().take(300).collect::<String>(),
        String::from_utf8_lossy(&dom.stderr)
    );
    let console = String::from_utf8_lossy(&dom.stderr);
    assert!(!console.contains("Uncaught"), "{console}");
    let shot = dir.join("report.png");
    let out = chromium(&dir.join("profile-shot"))
        .arg(format!("--window-size=1000,{height}"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    let png = std::fs::read(&shot)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
}

/// `--limits-from MARKET`: each pair's steps come from 3Commas' `currency_rates` (here the
/// sandbox's: price step 0.01, lot step 0.00001), round the orders exactly as the same steps given
/// in a `--limits` file, are read once and then from the cache; an exchange with no answer is
/// named and leaves the orders unrounded.
#[test]
fn limits_from_an_exchange_are_read_once_then_cached_and_round_like_a_file() {
    use crate::engine_support::against;
    use crate::sandbox::SandboxProcess;
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    write_candles(dir.path(), "USDT_BTC.csv", 20);
    let cache = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let out = against(&sandbox)
            .current_dir(root())
            .env("BOTFORM_CACHE_DIR", cache.path())
            .args(["backtest", "examples/bots", "--bot", "BTC conservative"])
            .arg("--candles")
            .arg(dir.path().join("USDT_BTC.csv"))
            .args(["--fee", "0.1", "--format", "json"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            report["results"][0]["profit_quote"].clone(),
            report["warnings"].to_string(),
        )
    };
    let rates_read = || {
        sandbox.control_get("/__sandbox/stats")["by_endpoint"]["GET /ver1/accounts/currency_rates"]
            .as_u64()
            .unwrap_or(0)
    };
    let file = dir.path().join("limits.json");
    std::fs::write(
        &file,
        r#"{"USDT_BTC": {"priceStep": "0.01", "lotStep": "0.00001"}}"#,
    )
    .unwrap();
    let (from_file, _) = run(&["--limits", file.to_str().unwrap()]);
    let (plain, _) = run(&[]);
    assert_ne!(from_file, plain, "the steps move the result");
    let (read, warnings) = run(&["--limits-from", "binance"]);
    assert_eq!(read, from_file, "{warnings}");
    assert!(!warnings.contains("not rounded"), "{warnings}");
    assert_eq!(rates_read(), 1);
    // Again: from the cache, no request.
    assert_eq!(run(&["--limits-from", "binance"]).0, from_file);
    assert_eq!(rates_read(), 1);
    // A link planted where the cache file goes (another user's file, say) is never written
    // through: the run still rounds, from its own requests.
    let outside = dir.path().join("not-the-cache.json");
    std::fs::write(&outside, "untouched").unwrap();
    let origin = botform::threecommas::client::origin_id(&sandbox.url);
    let planted = cache
        .path()
        .join("limits")
        .join(origin)
        .join("binance.json");
    assert!(
        planted.is_file(),
        "the cache file is where this test plants the link"
    );
    std::fs::remove_file(&planted).unwrap();
    std::os::unix::fs::symlink(&outside, &planted).unwrap();
    let (via_link, _) = run(&["--limits-from", "binance"]);
    assert_eq!(via_link, from_file, "the steps still round the orders");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "untouched");
    // An exchange the server has no market data for: named, unrounded, still a result.
    let (unrounded, warnings) = run(&["--limits-from", "nosuchmarket"]);
    assert_eq!(unrounded, plain);
    assert!(
        warnings.contains("USDT_BTC: 3Commas' currency_rates on nosuchmarket gave no steps"),
        "{warnings}"
    );
}

/// Grid bots on a seeded random path (a year of hourly candles) agree with the plain-Python
/// reference of the model (`benches/grid_python.py`) to 1e-6: arithmetic and geometric lines,
/// sizes in quote and in coins, fees, every intrabar path, and both stop losses.
#[test]
fn grid_bots_agree_with_the_python_reference() {
    use botform::model::enums::GridStopLossAction;
    use botform::simulate::grid::{GridModel, run};
    use botform::simulate::{Intrabar, synthetic};
    let spec = synthetic::parse("paths=1,vol=80,days=365,interval=1h,seed=5").unwrap();
    let candles = synthetic::path(&spec, 0);
    let start = candles[0].open;
    let lines = |n: usize, geometric: bool| -> Vec<f64> {
        let (low, high) = (start * 0.7, start * 1.4);
        (0..n)
            .map(|i| {
                let x = i as f64 / (n - 1) as f64;
                if geometric {
                    low * (high / low).powf(x)
                } else {
                    low + (high - low) * x
                }
            })
            .collect()
    };
    let paths = [
        Intrabar::Worst,
        Intrabar::Best,
        Intrabar::LowFirst,
        Intrabar::HighFirst,
        Intrabar::TradingView,
    ];
    let models: Vec<GridModel> = (0..10)
        .map(|k| GridModel {
            lines: lines(10 + 7 * k, k % 2 == 1),
            per_line: if k % 3 == 2 { 0.05 } else { 25.0 },
            in_base: k % 3 == 2,
            fee: if k % 4 == 0 { 0.0 } else { 0.001 },
            upper_stop: (k == 7).then_some((start * 1.5, GridStopLossAction::StopBotAndBuy)),
            lower_stop: match k {
                5 => Some((start * 0.65, GridStopLossAction::StopBotAndSell)),
                9 => Some((start * 0.65, GridStopLossAction::StopBot)),
                _ => None,
            },
            intrabar: paths[k % 5],
        })
        .collect();
    let outcomes: Vec<serde_json::Value> = models
        .iter()
        .map(|m| {
            let o = run(m, &candles);
            serde_json::json!([
                o.grids_completed,
                o.buys,
                o.sells,
                o.grid_profit,
                o.value_at_end,
                o.max_drawdown
            ])
        })
        .collect();
    assert!(
        outcomes.iter().all(|o| o[0].as_u64().unwrap() > 0),
        "every grid trades: {outcomes:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let csv: String = candles
        .iter()
        .map(|c| {
            format!(
                "{},{},{},{},{}\n",
                c.open_time_ms, c.open, c.high, c.low, c.close
            )
        })
        .collect();
    std::fs::write(dir.path().join("grid-candles.csv"), csv).unwrap();
    std::fs::write(
        dir.path().join("grid-models.json"),
        serde_json::to_string(&models).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("grid-outcomes.json"),
        serde_json::to_string(&outcomes).unwrap(),
    )
    .unwrap();
    let out = std::process::Command::new("python3")
        .arg(root().join("benches/grid_python.py"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `botform backtest` runs a config's grid bots on their pair's candles: the report's `grids`
/// (against the schema), a human line, and `--bot` choosing a grid bot by name.
#[test]
fn a_grid_bot_is_backtested_on_its_pairs_candles() {
    let candles = tempfile::tempdir().unwrap();
    write_candles(candles.path(), "USDT_BTC.csv", 30);
    let config = tempfile::tempdir().unwrap();
    // The candles swing ±12 % around 100 once a day: a grid from 90 to 110 trades every day.
    std::fs::write(
        config.path().join("grid.toml"),
        "[accounts.main]\nname = \"Binance Spot\"\n\n[[grid_bots]]\nname = \"BTC range\"\naccount = \"main\"\npair = \"USDT_BTC\"\norder_currency_type = \"quote\"\nlower_price = 90\nupper_price = 110\ngrids_quantity = 11\nquantity_per_grid = 10\n",
    )
    .unwrap();
    let out = botform()
        .arg("backtest")
        .arg(config.path())
        .arg("--candles")
        .arg(candles.path())
        .args(["--bot", "btc range", "--fee", "0.1", "--format", "json"])
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
    let validator = jsonschema::draft7::new(&schema).unwrap();
    assert!(validator.is_valid(&report), "{report}");
    let grid = &report["grids"][0];
    assert_eq!(grid["pair"], "USDT_BTC");
    assert!(grid["grids_completed"].as_u64().unwrap() >= 30, "{grid}");
    let profit: f64 = grid["grid_profit"].as_str().unwrap().parse().unwrap();
    assert!(profit > 0.0, "{grid}");
    let human = botform()
        .arg("backtest")
        .arg(config.path())
        .arg("--candles")
        .arg(candles.path())
        .args(["--fee", "0.1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("BTC range (main) · grid · USDT_BTC"),
        "{text}"
    );
    assert!(text.contains("grids completed"), "{text}");
}
