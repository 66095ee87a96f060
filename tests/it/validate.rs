//! `botform validate`: snapshots of diagnostics for broken files, and the CLI contract.

use std::path::PathBuf;

use botform::config;
use predicates::prelude::*;

use super::{botform, config_files, root};

/// Human output (no color) for a file, as a user sees it.
fn human(path: &str) -> String {
    let checked = config::check(&[PathBuf::from(path)]);
    let mut out = Vec::new();
    botform::cli::write_validate_human(&mut out, &checked, false, true).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn broken_files_give_located_diagnostics() {
    std::env::set_current_dir(root()).unwrap();
    // Each broken file in a directory of its own: files side by side are one config.
    let mut files: Vec<std::path::PathBuf> =
        std::fs::read_dir(root().join("tests/fixtures/broken"))
            .unwrap()
            .flat_map(|d| config_files(&d.unwrap().path()))
            .collect();
    files.sort();
    for file in files {
        let name = file.file_name().unwrap().to_str().unwrap().to_string();
        let relative = format!("tests/fixtures/broken/{}/{name}", name.replace('.', "_"));
        let output = human(&relative);
        assert!(
            output.contains("Invalid."),
            "{name} should be invalid:\n{output}"
        );
        assert!(
            output.contains(&format!("[{relative}:")),
            "{name}: no location:\n{output}"
        );
        insta::assert_snapshot!(name.replace('.', "_"), output);
    }
}

#[test]
fn examples_validate_with_their_dca_numbers() {
    botform()
        .args(["validate", "examples/bots"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "Valid. 5 files, 5 bots: 0 errors, 0 warnings",
        ))
        .stdout(predicate::str::contains("capital per deal 273.75 USDT"))
        .stdout(predicate::str::contains("the capital depends on the price").not())
        .stdout(predicate::str::contains("\u{1b}[").not());
}

#[test]
fn invalid_config_exits_1_and_json_has_line_and_column() {
    let out = botform()
        .args([
            "validate",
            "tests/fixtures/broken/unknown-keys_toml/unknown-keys.toml",
            "--format",
            "json",
        ])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(report["format_version"], "1");
    assert_eq!(report["valid"], false);
    let typo = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["message"] == "unknown field `take_proft` in a bot")
        .expect("the typo is reported");
    assert_eq!(typo["line"], 16);
    assert_eq!(typo["column"], 1);
    assert_eq!(typo["help"], "did you mean `take_profit`?");
    assert_eq!(typo["code"], "unknown-field");
}

#[test]
fn json_report_carries_each_bots_numbers() {
    let out = botform()
        .args(["validate", "examples/bots", "--format", "json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let report: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let btc = report["bots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "BTC conservative")
        .unwrap();
    assert_eq!(btc["numbers"]["capital_per_deal"], "273.75");
    assert_eq!(btc["numbers"]["ladder"].as_array().unwrap().len(), 5);
    assert_eq!(btc["capital_currency"], "USDT");
}

#[test]
fn github_format_prints_annotations() {
    botform()
        .args([
            "validate",
            "tests/fixtures/broken/semantic_toml/semantic.toml",
            "--format",
            "github",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "::error file=tests/fixtures/broken/semantic_toml/semantic.toml,line=29,col=11,",
        ))
        .stdout(predicate::str::contains("::warning file="));
}

#[test]
fn a_directory_mixes_toml_and_yaml_and_skips_hidden_folders() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".botform")).unwrap();
    std::fs::write(dir.path().join(".botform/broken.toml"), "not [ toml").unwrap();
    std::fs::write(
        dir.path().join("accounts.yaml"),
        "accounts:\n  main: { name: Binance Spot }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("bots.toml"),
        "[[bots]]\nname = \"x\"\naccount = \"main\"\npairs = [\"USDT_BTC\"]\nstart = [{ strategy = \"nonstop\" }]\n\
         base_order_volume = 10\nsafety_order_volume = 10\nmax_safety_orders = 0\n\
         safety_order_step_percentage = 1\nmartingale_volume_coefficient = 1\nmartingale_step_coefficient = 1\ntake_profit = 1\ntake_profit_type = \"total\"\n",
    )
    .unwrap();
    botform()
        .current_dir(dir.path())
        .arg("validate")
        .assert()
        .success()
        .stdout(predicate::str::contains("Valid. 2 files, 1 bot"));
}

#[test]
fn duplicate_names_across_files_label_both_places() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["a.toml", "b.toml"] {
        std::fs::write(dir.path().join(name), "[templates.base]\ntake_profit = 1\n").unwrap();
    }
    botform()
        .current_dir(dir.path())
        .args(["validate", "--format", "json"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("template `base` is defined twice"))
        .stdout(predicate::str::contains("first defined here"));
}

#[test]
fn missing_path_is_an_error_not_a_panic() {
    botform()
        .args(["validate", "no/such/dir"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "no/such/dir: no such file or directory",
        ));
}

#[test]
fn help_shows_examples_and_version_prints() {
    botform()
        .args(["validate", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("botform validate examples/bots"));
    // Every command's help ends with examples.
    for command in [
        &["validate"][..],
        &["plan"],
        &["apply"],
        &["import"],
        &["mcp"],
        &["doctor"],
        &["schema"],
        &["completions"],
        &["man"],
        &["sandbox"],
        &["sandbox", "serve"],
        &["sandbox", "dump"],
        &["fmt"],
        &["backtest"],
    ] {
        botform()
            .args(command)
            .arg("--help")
            .assert()
            .success()
            .stdout(predicate::str::contains("Examples:\n  botform"));
    }
    botform()
        .arg("--version")
        .assert()
        .success()
        .stdout(predicate::str::contains(env!("CARGO_PKG_VERSION")));
    botform().arg("--bogus").assert().code(1);
}

/// The newcomer's list (issue 12): each mistake reported once, with a hint, and no numbers for a
/// bot that has any error.
#[test]
fn newcomer_mistakes_are_reported_once_with_hints() {
    std::env::set_current_dir(root()).unwrap();
    let json = |file: &str| -> serde_json::Value {
        let out = botform()
            .args(["validate", file, "--format", "json"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // One missing `]`: one error (before: one per following line), with the likely cause.
    let report = json("tests/fixtures/broken/missing-bracket_toml/missing-bracket.toml");
    assert_eq!(report["error_count"], 1, "{report}");
    assert!(
        report["diagnostics"][0]["help"]
            .as_str()
            .unwrap()
            .contains("closing `]`")
    );

    // A wrong type in a bot: no ✓ and no ladder taken from the template.
    let report = json("tests/fixtures/broken/wrong-type-in-a-bot_toml/wrong-type-in-a-bot.toml");
    assert!(report["bots"][0]["numbers"].is_null(), "{report}");
    let text = human("tests/fixtures/broken/wrong-type-in-a-bot_toml/wrong-type-in-a-bot.toml");
    assert!(!text.contains('✓'), "{text}");
    // RSI reads 0 to 100.
    assert!(
        text.contains("`points` of `rsi` is 170, above 100"),
        "{text}"
    );

    // YAML 1.1 habits: a single pair where a list goes, `no` for false.
    let text = human("tests/fixtures/broken/yaml-1-1-habits_yaml/yaml-1-1-habits.yaml");
    assert!(text.contains("takes a list, even of one"), "{text}");
    assert!(text.contains("write `false`"), "{text}");
}

#[test]
fn a_target_typo_gets_a_did_you_mean() {
    let dir = super::engine_support::example_dir();
    super::engine_support::offline()
        .arg("plan")
        .arg(dir.path())
        .args(["--target", "BTC conservatve"])
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "`BTC conservatve` (did you mean `BTC conservative`?)",
        ));
}

/// `botform fmt`: `--check` fails and shows the diff, a run fixes it keeping comments, and a
/// second run changes nothing; the examples are already in the layout.
#[test]
fn fmt_checks_and_fixes_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bots.toml");
    std::fs::write(
        &file,
        "# mine\n[[bots]]\n  name=\"x\"   # keep me\npairs = [ \"USDT_BTC\" ]\n\n\n",
    )
    .unwrap();
    botform()
        .arg("fmt")
        .arg(dir.path())
        .arg("--check")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("+name = \"x\"   # keep me"))
        .stderr(predicate::str::contains(
            "1 file is not in botform's layout",
        ));
    botform().arg("fmt").arg(dir.path()).assert().success();
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "# mine\n[[bots]]\nname = \"x\"   # keep me\npairs = [\"USDT_BTC\"]\n"
    );
    botform()
        .arg("fmt")
        .arg(dir.path())
        .arg("--check")
        .assert()
        .success()
        .stdout("");
    botform()
        .args(["fmt", "examples/bots", "--check"])
        .current_dir(root())
        .assert()
        .success();
}

/// `max_capital` on an account: validate fails with each bot's worst case when they exceed it,
/// and plan shows the budget beside the capital at risk.
#[test]
fn a_capital_budget_is_checked_with_a_breakdown() {
    std::env::set_current_dir(root()).unwrap();
    let text = human("tests/fixtures/broken/over-budget_toml/over-budget.toml");
    assert!(
        text.contains(
            "the bots on account `main` can lock 547.5 USDT at once, over its max_capital of 500"
        ),
        "{text}"
    );
    assert!(text.contains("one: 273.75 USDT; two: 273.75"), "{text}");
    let dir = super::engine_support::example_dir();
    super::engine_support::edit(
        &dir.path().join("shared.toml"),
        "name = \"Binance Spot\"",
        "name = \"Binance Spot\"\nmax_capital = 10000",
    );
    super::engine_support::offline()
        .arg("plan")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "main: 0 USDT -> 273.75 USDT (budget 10000 USDT)",
        ));
    // A bot quoted in BTC on the same account: offline it is named apart; online its worst case
    // is converted at 3Commas' rate (the sandbox quotes USDT_BTC at 63802.44) and counted.
    std::fs::write(
        dir.path().join("btc-quoted.toml"),
        "[[bots]]\nname = \"ETH in BTC\"\naccount = \"main\"\npairs = [\"BTC_ETH\"]\ntemplate = \"conservative\"\nstart = \"always\"\nenabled = true\nbase_order_volume = 0.001\nsafety_order_volume = 0.002\n",
    )
    .unwrap();
    super::engine_support::offline()
        .arg("plan")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "main: 0 BTC -> 0.027375 BTC ≈ 1746.59 USDT at 3Commas' rate (budget 10000 USDT)",
        ));
    // Ten times the volumes: 0.27375 BTC ≈ 17465.92 USDT. Validate counts every USDT bot of the
    // account (8838.41, within 10000) and names the BTC bot apart ...
    super::engine_support::edit(
        &dir.path().join("btc-quoted.toml"),
        "base_order_volume = 0.001\nsafety_order_volume = 0.002",
        "base_order_volume = 0.01\nsafety_order_volume = 0.02",
    );
    super::engine_support::offline()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("not counted in it: ETH in BTC"));
    // ... plan counts it at the live rate with the enabled USDT bot, and refuses.
    super::engine_support::offline()
        .arg("plan")
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "the bots on account `main` can lock 17739.67 USDT at once at 3Commas' current rates, over its max_capital of 10000",
        ));
}

/// The plan warns when an account has less free than its bots' worst case (3Commas'
/// `account_table_data`; the sandbox's Binance account holds 12873.21 USDT).
#[test]
fn the_plan_warns_when_the_account_has_less_free_than_the_worst_case() {
    let dir = super::engine_support::example_dir();
    super::engine_support::edit(
        &dir.path().join("btc-conservative.toml"),
        "enabled = true",
        "enabled = true\nbase_order_volume = 1000\nsafety_order_volume = 2000",
    );
    let out = super::engine_support::offline()
        .arg("plan")
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("main: 0 USDT -> 27375 USDT; warning: only 12873.21 USDT free on the account, less than the bots' worst case"),
        "{text}"
    );
    let json = super::engine_support::offline()
        .args(["plan", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let plan: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let main = plan["capital"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["account"] == "main")
        .unwrap();
    assert_eq!(main["available"], "12873.21", "{main}");
}

/// A grid bot written in TOML (through a grid template) shows its step, profit per grid and
/// investment; the same bot in YAML gives the same numbers; a wrong range and the other rules
/// of GRID-SIGNALS-DEALS §1.10 are located errors with a hint, and a budget counts the grid.
#[test]
fn grid_bots_show_their_numbers_and_wrong_ranges_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("grid.toml");
    // The docs' arithmetic example: 56,000 to 72,000 in 50 lines, step 326.5306...
    std::fs::write(
        &toml,
        r#"[accounts.main]
name = "Binance Spot"
max_capital = 900

[grid_templates.btc]
pair = "USDT_BTC"
order_currency_type = "quote"

[[grid_bots]]
name = "BTC range"
template = "btc"
account = "main"
lower_price = 56000
upper_price = 72000
grids_quantity = 50
quantity_per_grid = 20
"#,
    )
    .unwrap();
    let out = botform()
        .args(["validate", "--format", "json"])
        .arg(&toml)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let numbers = &report["grid_bots"][0]["numbers"];
    assert_eq!(numbers["lines"], 50);
    assert_eq!(numbers["step"], "326.530612244898");
    assert_eq!(numbers["fee_percentage"], "0.1");
    // 50 lines × 20 USDT = 1,000 USDT at most: over the 900 budget.
    assert_eq!(numbers["capital_quote"], "1000");
    let codes: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"over-budget"), "{codes:?}");
    // Human: the numbers, with the fee asked for, and every line on request.
    let human = botform()
        .args(["validate", "--fee", "0", "--grid-lines"])
        .arg(&toml)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("50 lines, arithmetic (step 326.530612244898 USDT)"),
        "{text}"
    );
    assert!(text.contains("after a 0 % fee on each order"), "{text}");
    assert!(text.contains("   50  72000"), "{text}");
    // The same bot in YAML: the same numbers.
    let yaml_dir = tempfile::tempdir().unwrap();
    let yaml = yaml_dir.path().join("grid.yaml");
    std::fs::write(
        &yaml,
        "accounts:\n  main:\n    name: Binance Spot\ngrid_bots:\n  - name: BTC range\n    account: main\n    pair: USDT_BTC\n    order_currency_type: quote\n    lower_price: 56000\n    upper_price: 72000\n    grids_quantity: 50\n    quantity_per_grid: 20\n",
    )
    .unwrap();
    let out = botform()
        .args(["validate", "--format", "json"])
        .arg(&yaml)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["grid_bots"][0]["numbers"], *numbers);
    // Wrong: the range upside down, too many lines, trailing without quote profits, a stop loss
    // inside the range, an upper stop that sells, no currency for the size.
    std::fs::write(
        &toml,
        r#"[accounts.main]
name = "Binance Spot"

[[grid_bots]]
name = "ETH"
account = "main"
pair = "USDT_ETH"
lower_price = 3000
upper_price = 2000
grids_quantity = 300
quantity_per_grid = 10
order_currency_type = "quote"
trailing_up_enabled = true
lower_stop_loss_enabled = true
lower_stop_loss_price = 3100
upper_stop_loss_action = "stop_bot_and_sell"

[[grid_bots]]
name = "no unit"
account = "main"
pair = "USDT_BTC"
lower_price = 1
upper_price = 2
grids_quantity = 3
quantity_per_grid = 10

[[grid_bots]]
name = "clear\u001b[2J"
account = "main"
pair = "USDT_BTC"
order_currency_type = "quote"
lower_price = 1
upper_price = 2
grids_quantity = 3
quantity_per_grid = 10
"#,
    )
    .unwrap();
    let out = botform()
        .args(["validate", "--format", "json"])
        .arg(&toml)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let found: Vec<(String, u64, String)> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            (
                d["code"].as_str().unwrap().to_string(),
                d["line"].as_u64().unwrap_or(0),
                d["help"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let at = |code: &str, line: u64| {
        found
            .iter()
            .any(|(c, l, help)| c == code && *l == line && !help.is_empty())
    };
    assert!(at("grid-range", 9), "{found:?}");
    assert!(at("out-of-range", 10), "{found:?}");
    assert!(at("grid-trailing", 13), "{found:?}");
    assert!(at("grid-stop-loss", 15), "{found:?}");
    assert!(at("invalid-value", 16), "{found:?}");
    assert!(at("missing-field", 19), "{found:?}");
    // A name that would drive the terminal is refused, and the grid gets no numbers.
    assert!(at("control-character", 28), "{found:?}");
    assert!(report["grid_bots"][2]["numbers"].is_null());
    assert!(report["grid_bots"][0]["numbers"].is_null());
}
