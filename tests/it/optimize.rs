//! `botform optimize` end to end, the real binary on the example configs: the walk-forward
//! table, a seeded run reproduced exactly, four shards merged into the single run's ranking,
//! `--write` as a minimal edit that validate and plan accept, and candidates validate refuses
//! never scored.

use predicates::prelude::*;

use super::botform;
use super::engine_support::{example_dir, offline};

/// Seeded random candles: 120 days of 5-minute steps at 80 % volatility.
const PRICES: &str = "paths=1,vol=80,days=120,seed=3";

/// `botform optimize DIR --bot "BTC conservative" --synthetic PRICES --fee FEE`.
fn optimize_on(dir: &std::path::Path, fee: &str) -> assert_cmd::Command {
    let mut cmd = botform();
    cmd.arg("optimize").arg(dir).args([
        "--bot",
        "BTC conservative",
        "--synthetic",
        PRICES,
        "--fee",
        fee,
    ]);
    cmd
}

fn optimize_json(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let out = optimize_on(dir, "0.1")
        .args(["--trials", "162", "--folds", "4", "--format", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_seeded_run_prints_the_walk_forward_table_and_reproduces_its_winner() {
    let dir = example_dir();
    let first = optimize_json(dir.path(), &["--seed", "11"]);
    let again = optimize_json(dir.path(), &["--seed", "11"]);
    assert_eq!(
        first, again,
        "the same seed, config and candles give the same answer"
    );
    let other = optimize_json(dir.path(), &["--seed", "12"]);
    assert_ne!(first["report"]["top"], other["report"]["top"]);
    // The answer follows its committed schema, and that schema is the one botform prints.
    let committed =
        std::fs::read_to_string(super::root().join("schema/optimize.schema.json")).unwrap();
    assert!(
        committed == botform::optimize::report::schema_json(),
        "schema/optimize.schema.json is stale: run `cargo run -- schema --optimize --out schema/optimize.schema.json`"
    );
    let schema: serde_json::Value = serde_json::from_str(&committed).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&first), "{first}");
    let report = &first["report"];
    let top = report["top"].as_array().unwrap();
    assert!(!top.is_empty() && top.len() <= 10, "{report}");
    // Ranked out of sample: each row's out-of-sample objective at least the next one's.
    let oos: Vec<f64> = top
        .iter()
        .map(|r| {
            r["out_of_sample"]["objective"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(oos.windows(2).all(|w| w[0] >= w[1]), "{oos:?}");
    for row in top {
        assert_eq!(row["out_of_sample_by_fold"].as_array().unwrap().len(), 4);
    }
    let counts = &report["counts"];
    assert_eq!(counts["drawn"], 162);
    assert_eq!(
        counts["finalists"].as_u64().unwrap(),
        6 * 9 - counts["over_drawdown"].as_u64().unwrap(),
        "each bracket of 27 keeps its 9 best for every fold: {counts}"
    );
    // The people's table: the current config beside the ranked candidates, and a verdict.
    botform()
        .arg("optimize")
        .arg(dir.path())
        .args([
            "--bot",
            "btc conservative",
            "--synthetic",
            PRICES,
            "--fee",
            "0.1",
        ])
        .args([
            "--trials",
            "54",
            "--vary",
            "take_profit=0.8..3",
            "--vary",
            "max_safety_orders=3..8",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("ranked out of sample"))
        .stdout(predicate::str::contains("  now   -"))
        .stdout(predicate::str::contains("Verdict: the winner (candidate"))
        .stdout(predicate::str::contains(
            "Capital the bot can lock: 273.75 ->",
        ));
}

#[test]
fn four_shards_merged_give_the_single_runs_ranking() {
    let dir = example_dir();
    let single = optimize_json(dir.path(), &[]);
    let out = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for k in 1..=4 {
        let file = out.path().join(format!("shard-{k}.jsonl"));
        optimize_on(dir.path(), "0.1")
            .args(["--trials", "162", "--folds", "4"])
            .args(["--shard", &format!("{k}/4"), "--out"])
            .arg(&file)
            .assert()
            .success();
        files.push(file);
    }
    // In any order.
    files.reverse();
    let merged = botform()
        .args(["optimize", "merge", "--format", "json"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        merged.status.success(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let merged: serde_json::Value = serde_json::from_slice(&merged.stdout).unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(super::root().join("schema/optimize.schema.json")).unwrap(),
    )
    .unwrap();
    assert!(
        jsonschema::validator_for(&schema)
            .unwrap()
            .is_valid(&merged),
        "{merged}"
    );
    for key in [
        "top",
        "current",
        "counts",
        "verdict",
        "winner_beats_current",
    ] {
        assert_eq!(merged["report"][key], single["report"][key], "{key}");
    }
    // A shard missing, or one of another study, is refused.
    botform()
        .args(["optimize", "merge"])
        .args(&files[..3])
        .assert()
        .failure()
        .stderr(predicate::str::contains("shards missing: 1/4"));
    // A candidate's values edited by hand: refused, not ranked.
    let edited = out.path().join("edited.jsonl");
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let mut record: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    record["values"][0] = serde_json::json!("2.99");
    lines[1] = record.to_string();
    std::fs::write(&edited, lines.join("\n")).unwrap();
    botform()
        .args(["optimize", "merge"])
        .arg(&edited)
        .args(&files[1..])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "has values the study does not draw",
        ));
    let other = out.path().join("other.jsonl");
    optimize_on(dir.path(), "0.2")
        .args(["--trials", "162", "--shard", "4/4", "--out"])
        .arg(&other)
        .assert()
        .success();
    botform()
        .args(["optimize", "merge"])
        .args(&files[1..])
        .arg(&other)
        .assert()
        .failure()
        .stderr(predicate::str::contains("of another study"));
}

#[test]
fn write_makes_a_minimal_edit_that_validate_and_plan_accept() {
    let dir = example_dir();
    let file = dir.path().join("btc-conservative.toml");
    let before = std::fs::read_to_string(&file).unwrap();
    let report = optimize_json(dir.path(), &["--write"]);
    assert_eq!(report["written"], true, "{report}");
    let changes = report["report"]["changes"].as_object().unwrap();
    assert!(!changes.is_empty());
    let after = std::fs::read_to_string(&file).unwrap();
    // Only lines added, each one a changed key; every comment and line before stays.
    let diff = similar::TextDiff::from_lines(&before, &after);
    for change in diff.iter_all_changes() {
        match change.tag() {
            similar::ChangeTag::Equal => {}
            similar::ChangeTag::Delete => panic!("a line was removed: {change}"),
            similar::ChangeTag::Insert => {
                let key = change.value().split('=').next().unwrap().trim();
                assert!(changes.contains_key(key), "an unasked line: {change}");
            }
        }
    }
    assert_eq!(
        diff.iter_all_changes()
            .filter(|c| c.tag() == similar::ChangeTag::Insert)
            .count(),
        changes.len()
    );
    botform().arg("validate").arg(dir.path()).assert().success();
    offline().arg("plan").arg(dir.path()).assert().success();
    // Optimized again, the written config is the one to beat: the other files are untouched.
    let shared = std::fs::read_to_string(dir.path().join("shared.toml")).unwrap();
    assert!(
        shared.contains("take_profit = 1.5"),
        "the template is not edited without --template"
    );
}

#[test]
fn template_edits_the_template_and_refuses_a_field_the_bot_overrides() {
    let dir = example_dir();
    let report = optimize_json(
        dir.path(),
        &["--template", "--vary", "take_profit=0.8..3", "--write"],
    );
    let changes = report["report"]["changes"].as_object().unwrap();
    let shared = std::fs::read_to_string(dir.path().join("shared.toml")).unwrap();
    let tp = changes["take_profit"]
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| changes["take_profit"].to_string());
    assert!(shared.contains(&format!("take_profit = {tp}")), "{shared}");
    let bot = std::fs::read_to_string(dir.path().join("btc-conservative.toml")).unwrap();
    assert!(
        !bot.contains("take_profit"),
        "the bot's own block is left alone"
    );
    botform()
        .arg("optimize")
        .arg(dir.path())
        .args([
            "--bot",
            "ETH conservative",
            "--synthetic",
            PRICES,
            "--template",
        ])
        .args(["--vary", "base_order_volume=5..20"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "base_order_volume is set in the bot's own block (",
        ))
        .stderr(predicate::str::contains("btc-conservative.toml:19)"));
}

#[test]
fn candidates_validate_refuses_are_never_scored_and_bad_arguments_say_what_to_write() {
    let dir = example_dir();
    let shared = dir.path().join("shared.toml");
    let text = std::fs::read_to_string(&shared).unwrap().replace(
        "name = \"Binance Spot\"       # matched",
        "max_capital = 1200\nname = \"Binance Spot\"       # matched",
    );
    std::fs::write(&shared, text).unwrap();
    let report = optimize_json(dir.path(), &[]);
    let report = &report["report"];
    assert!(
        report["counts"]["invalid"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert!(
        report["refusals"].to_string().contains("max_capital"),
        "{}",
        report["refusals"]
    );
    for row in report["top"].as_array().unwrap() {
        let capital: f64 = row["capital_quote"].as_str().unwrap().parse().unwrap();
        assert!(capital < 1200.0, "{row}");
    }
    let run = |args: &[&str]| {
        botform()
            .arg("optimize")
            .arg(dir.path())
            .args(["--bot", "BTC conservative", "--synthetic", PRICES])
            .args(args)
            .assert()
            .failure()
    };
    run(&["--vary", "take_proft=1..2"])
        .stderr(predicate::str::contains("did you mean `take_profit`?"));
    run(&["--vary", "take_profit=3..1"]).stderr(predicate::str::contains("low bound is above"));
    run(&["--objective", "capped-profit"]).stderr(predicate::str::contains("needs --max-drawdown"));
    run(&["--folds", "40"]).stderr(predicate::str::contains("--folds: from 1 to 20"));
    run(&["--trials", "200001"]).stderr(predicate::str::contains("--trials: from 1 to 200000"));
    run(&["--shard", "5/4"]).stderr(predicate::str::contains("K/N with 1 <= K <= N"));
    botform()
        .arg("optimize")
        .arg(dir.path())
        .args(["--bot", "BTC conservative", "--synthetic", "paths=1,days=3"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("too short for 4 folds"));
    // A bot whose volumes are in the base currency has no capital in quote to divide by.
    botform()
        .arg("optimize")
        .arg(dir.path())
        .args(["--bot", "ETH short on MACD cross", "--synthetic", PRICES])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "the objective profit-per-capital needs the bot's capital in its quote currency",
        ));
    botform()
        .arg("optimize")
        .arg(dir.path())
        .args(["--bot", "BTC conservatve", "--synthetic", PRICES])
        .assert()
        .failure()
        .stderr(predicate::str::contains("did you mean"));
}

#[test]
fn ctrl_c_keeps_the_best_found_so_far() {
    let dir = example_dir();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_botform"))
        .arg("optimize")
        .arg(dir.path())
        .args([
            "--bot",
            "BTC conservative",
            "--synthetic",
            PRICES,
            "--fee",
            "0.1",
        ])
        .args(["--trials", "200000"])
        .env("BOTFORM_STATE_DIR", super::state_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupted once the first batch of candidates has ended (its progress line, which goes
    // to stderr when that is not a terminal), with 200,000 candidates far from done.
    let mut child = child;
    let mut errors = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let read = std::io::BufRead::read_line(&mut errors, &mut line).unwrap();
        assert!(read > 0, "the run ended before any progress: {seen}");
        seen.push_str(&line);
        if line.starts_with("optimize: ") && line.contains(" of 200000 candidates, best in sample ")
        {
            break;
        }
    }
    // SAFETY: kill(2) on the child's pid, which is ours and not yet reaped.
    let sent = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut errors, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = format!("{seen}{rest}");
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("Interrupted: ranking the brackets that ended"),
        "{stderr}"
    );
    assert!(
        stdout.contains("Interrupted: the ranking is of the candidates run so far."),
        "{stdout}"
    );
    assert!(
        stdout.contains("Verdict: the winner (candidate"),
        "{stdout}"
    );
    assert!(
        stdout.contains("The winner as an edit of your file:"),
        "{stdout}"
    );
}

/// `--html`: a self-contained page whose three charts Chromium draws with no script error.
#[test]
fn the_html_page_draws_its_charts_in_chromium() {
    if !super::backtest::chromium_is_there() {
        return;
    }
    let dir = example_dir();
    let page = dir.path().join("optimize.html");
    optimize_on(dir.path(), "0.1")
        .args(["--trials", "162", "--html"])
        .arg(&page)
        .assert()
        .success();
    let html = std::fs::read_to_string(&page).unwrap();
    for outside in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(outside), "{outside} in the page");
    }
    for shown in [
        "In sample (across) against out of sample (up)",
        "fold by fold",
        "out-of-sample stretches shaded",
        "Verdict:",
        "The winner as an edit of your file",
    ] {
        assert!(html.contains(shown), "{shown} missing");
    }
    super::backtest::page_draws_in_chromium(dir.path(), &page, 3, 1600);
}

/// Candle files (as `botform backtest` reads them) rather than seeded paths: the windows, the
/// folds by time, and `--from`/`--to` cutting them.
#[test]
fn candle_files_are_optimized_on_as_the_backtest_reads_them() {
    let dir = example_dir();
    let candles = tempfile::tempdir().unwrap();
    super::backtest::write_candles(candles.path(), "BTCUSDT.csv", 40);
    let run = |extra: &[&str]| {
        let out = botform()
            .arg("optimize")
            .arg(dir.path())
            .args([
                "--bot",
                "BTC conservative",
                "--fee",
                "0.1",
                "--trials",
                "54",
            ])
            .args(["--format", "json", "--candles"])
            .arg(candles.path())
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let all = run(&[]);
    assert_eq!(all["report"]["candles"], 40 * 288);
    assert_eq!(all["report"]["pairs"], serde_json::json!(["USDT_BTC"]));
    assert!(!all["report"]["top"].as_array().unwrap().is_empty());
    let cut = run(&["--from", "2025-01-11", "--to", "2025-01-31"]);
    assert_eq!(cut["report"]["candles"], 20 * 288);
}
