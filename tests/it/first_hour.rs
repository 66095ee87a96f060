//! A newcomer's first hour (issue 23, round 3): the target is never a surprise, one mistake gives
//! one error, plan catches what apply would fail on, files keep their mode, and the small things
//! a new user meets first (locations, hints, --version, man pages, init) are right. Each test
//! runs the real binary.

use std::path::Path;

use predicates::prelude::*;

use super::engine_support::{THREECOMMAS_VARS, against, example_dir, offline};
use super::sandbox::SandboxProcess;
use super::{botform, root};

/// The binary with no THREECOMMAS_* variable and no CI: a newcomer's shell.
fn bare() -> assert_cmd::Command {
    let mut cmd = botform();
    for var in THREECOMMAS_VARS {
        cmd.env_remove(var);
    }
    cmd.env_remove("CI").env(
        "BOTFORM_SANDBOX_STATE",
        super::engine_support::builtin_sandbox_state(),
    );
    cmd
}

/// A diagnostic of `validate --format json`: code, message, line, column, help.
type Found = (String, String, Option<u64>, Option<u64>, String);

/// The diagnostics of `validate --format json`.
fn diagnostics(path: &Path) -> Vec<Found> {
    let out = botform()
        .args(["validate", "--format", "json"])
        .arg(path)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["code"].as_str().unwrap_or("").to_string(),
                d["message"].as_str().unwrap_or("").to_string(),
                d["labels"][0]["line"].as_u64(),
                d["labels"][0]["column"].as_u64(),
                d["help"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn under_ci_an_empty_key_is_an_error_naming_it_and_nothing_is_sent() {
    let dir = example_dir();
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("sandbox.db");
    let run = |vars: &[(&str, &str)]| {
        let mut cmd = bare();
        cmd.env("BOTFORM_SANDBOX_STATE", &db);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.args(["apply", "--auto-approve"])
            .arg(dir.path())
            .assert()
    };
    run(&[("CI", "true"), ("THREECOMMAS_API_KEY", "")])
        .code(1)
        .stderr(predicate::str::contains("THREECOMMAS_API_KEY is empty"))
        .stderr(predicate::str::contains("CI=true"))
        .stdout(predicate::str::contains("Apply complete").not());
    // The URL or the secret set without a key: the same, naming what is set.
    run(&[("THREECOMMAS_API_URL", "https://api.3commas.io")])
        .code(1)
        .stderr(predicate::str::contains(
            "THREECOMMAS_API_KEY is not set, but THREECOMMAS_API_URL is set",
        ));
    run(&[("THREECOMMAS_API_SECRET", "s")])
        .code(1)
        .stderr(predicate::str::contains("THREECOMMAS_API_SECRET is set"));
    assert!(!db.exists(), "no sandbox was started for any of them");
    // Asked for, the sandbox runs under CI too, and the plan says where it acts first.
    let mut cmd = bare();
    cmd.env("BOTFORM_SANDBOX_STATE", &db).env("CI", "true");
    cmd.args(["plan", "--sandbox"])
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "Target: the built-in sandbox, real mode (Forced-Mode: real is sent with every request).",
        ));
    let mut cmd = bare();
    cmd.env("BOTFORM_SANDBOX_STATE", &db)
        .env("CI", "true")
        .env("THREECOMMAS_TARGET", "sandbox");
    cmd.arg("plan").arg(dir.path()).assert().success();
    let mut cmd = bare();
    cmd.env("THREECOMMAS_TARGET", "prod");
    cmd.arg("plan")
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("THREECOMMAS_TARGET is `prod`"));
}

#[test]
fn doctor_without_a_key_is_not_ready_for_a_real_account() {
    let dir = example_dir();
    bare()
        .arg("doctor")
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "no key; working against the built-in sandbox",
        ))
        .stdout(predicate::str::contains("Not ready for a real account"))
        .stdout(predicate::str::contains("Ready:").not());
}

#[test]
fn a_missing_bracket_or_a_misspelt_section_in_the_shared_file_is_one_error() {
    for (from, to, code) in [
        ("[accounts.main]", "[accounts.main", "syntax"),
        (
            "[templates.conservative]",
            "[templates.conservative",
            "syntax",
        ),
        (
            "pairs = [\"USDT_LUNA\", \"USDT_FTT\", \"USDT_UST\"]",
            "pairs = [\"USDT_LUNA\", \"USDT_FTT\", \"USDT_UST\"",
            "syntax",
        ),
        ("[accounts.main]", "[acounts.main]", "unknown-field"),
    ] {
        let dir = example_dir();
        let shared = dir.path().join("shared.toml");
        let text = std::fs::read_to_string(&shared).unwrap();
        assert!(text.contains(from), "{from}");
        std::fs::write(&shared, text.replacen(from, to, 1)).unwrap();
        let found = diagnostics(dir.path());
        assert_eq!(found.len(), 1, "{to}: {found:#?}");
        assert_eq!(found[0].0, code, "{found:?}");
    }
}

#[test]
fn a_file_validated_alone_reads_its_directory_for_what_it_refers_to() {
    let dir = example_dir();
    let one = dir.path().join("btc-conservative.toml");
    botform()
        .args(["validate"])
        .arg(&one)
        .assert()
        .success()
        .stdout(predicate::str::contains("Valid. 1 file,"));
    // A mistake elsewhere in the directory is one error, not one per reference to it.
    let shared = dir.path().join("shared.toml");
    let text = std::fs::read_to_string(&shared).unwrap();
    std::fs::write(
        &shared,
        text.replacen("[accounts.main]", "[accounts.main", 1),
    )
    .unwrap();
    let found = diagnostics(&one);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].0, "context-invalid");
}

#[test]
fn plan_refuses_a_pair_the_exchange_does_not_list_and_apply_never_starts() {
    let dir = example_dir();
    let bot = dir.path().join("btc-conservative.toml");
    let text = std::fs::read_to_string(&bot).unwrap();
    std::fs::write(
        &bot,
        text.replacen("pairs = [\"USDT_BTC\"]", "pairs = [\"USDT_NOTACOIN\"]", 1),
    )
    .unwrap();
    let sandbox = SandboxProcess::spawn(None, &[]);
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "pair `USDT_NOTACOIN` is not listed on binance",
        ))
        .stderr(predicate::str::contains("btc-conservative.toml:"));
    against(&sandbox)
        .args(["apply", "--auto-approve"])
        .arg(dir.path())
        .assert()
        .code(1);
    let state = sandbox.control_get("/__sandbox/state");
    assert!(
        state["real"]["bots"].as_object().unwrap().is_empty(),
        "no bot was written: {state}"
    );
    // A near miss gets the pair the exchange lists.
    std::fs::write(
        &bot,
        text.replacen("pairs = [\"USDT_BTC\"]", "pairs = [\"USDT_ETHH\"]", 1),
    )
    .unwrap();
    let out = against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("not listed") && said.contains("did you mean `USDT_ETH`?"),
        "{said}"
    );
}

/// The first ```toml block of the README's tour.
fn readme_tour() -> String {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let tour = &readme[readme.find("## A tour of the config format").unwrap()..];
    let start = tour.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + tour[start..].find("```").unwrap();
    tour[start..end].to_string()
}

#[test]
fn the_readme_tour_plans_on_the_built_in_sandbox_as_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tour.toml"), readme_tour()).unwrap();
    offline()
        .arg("plan")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("Plan: 1 to add"));
}

#[test]
fn an_account_that_exists_only_in_the_other_mode_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let tour = readme_tour().replace("Paper Account 2080398", "Binance Spot");
    std::fs::write(dir.path().join("tour.toml"), tour).unwrap();
    offline()
        .arg("plan")
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "\"Binance Spot\" is a real account, and this plan runs in paper mode",
        ));
}

#[test]
fn the_examples_say_which_mode_they_use_and_why() {
    let shared = std::fs::read_to_string(root().join("examples/bots/shared.toml")).unwrap();
    assert!(shared.contains("mode = \"real\""));
    assert!(shared.contains("These examples use REAL mode, because"));
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[cfg(unix)]
#[test]
fn fmt_keeps_a_files_mode_and_import_writes_with_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = example_dir();
    let shared = dir.path().join("shared.toml");
    let text = std::fs::read_to_string(&shared).unwrap();
    std::fs::write(
        &shared,
        text.replacen("prune = false", "prune   =   false", 1),
    )
    .unwrap();
    for mode in [0o644, 0o664, 0o600] {
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(mode)).unwrap();
        botform().arg("fmt").arg(dir.path()).assert().success();
        assert_eq!(mode_of(&shared), mode, "fmt kept {mode:o}");
        std::fs::write(
            &shared,
            text.replacen("prune = false", "prune   =   false", 1),
        )
        .unwrap();
    }
    // import writes as any program would under the user's umask, and its files are in fmt's
    // layout in both syntaxes.
    offline()
        .args(["apply", "--auto-approve"])
        .arg(dir.path())
        .assert()
        .success();
    for format in ["toml", "yaml"] {
        let out = tempfile::tempdir().unwrap();
        let binary = env!("CARGO_BIN_EXE_botform");
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c")
            .arg("umask 022 && exec \"$0\" import --out \"$1\" --format \"$2\"")
            .arg(binary)
            .arg(out.path().join("imported"))
            .arg(format)
            .env(
                "BOTFORM_SANDBOX_STATE",
                super::engine_support::builtin_sandbox_state(),
            )
            .env("BOTFORM_STATE_DIR", super::state_dir())
            .env("THREECOMMAS_TARGET", "sandbox");
        for var in [
            "THREECOMMAS_API_KEY",
            "THREECOMMAS_API_SECRET",
            "THREECOMMAS_API_URL",
        ] {
            cmd.env_remove(var);
        }
        let done = cmd.output().unwrap();
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        let files = super::config_files(&out.path().join("imported"));
        assert!(files.len() >= 2, "{files:?}");
        for file in &files {
            assert_eq!(mode_of(file), 0o644, "{}", file.display());
        }
        botform()
            .args(["fmt", "--check"])
            .arg(out.path().join("imported"))
            .assert()
            .success();
    }
}

#[test]
fn validate_skips_build_output_and_installed_packages() {
    let dir = example_dir();
    for skipped in ["target", "node_modules"] {
        let inside = dir.path().join(skipped).join("junk");
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::write(inside.join("broken.toml"), "[[bots]\n").unwrap();
    }
    botform()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("Valid. 5 files"));
}

#[test]
fn a_tab_and_a_missing_colon_are_located_where_they_are_and_a_decimal_comma_gets_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let tab = dir.path().join("tab.yaml");
    std::fs::write(&tab, "bots:\n  - name: a\n\t  account: main\n").unwrap();
    let found = diagnostics(&tab);
    let syntax = found.iter().find(|d| d.0 == "syntax").unwrap();
    assert_eq!((syntax.2, syntax.3), (Some(3), Some(1)), "{syntax:?}");
    assert!(syntax.4.contains("tab"), "{syntax:?}");

    let colon = dir.path().join("colon.yaml");
    std::fs::write(
        &colon,
        "bots:\n  - name: a\n    account main\n\n    pairs: [USDT_BTC]\n",
    )
    .unwrap();
    let found = diagnostics(&colon);
    let syntax = found.iter().find(|d| d.0 == "syntax").unwrap();
    assert_eq!((syntax.2, syntax.3), (Some(3), Some(5)), "{syntax:?}");
    assert!(syntax.4.contains("`:`"), "{syntax:?}");

    let comma = dir.path().join("comma.toml");
    std::fs::write(&comma, "[[bots]]\nname = \"a\"\ntake_profit = 1,5\n").unwrap();
    let found = diagnostics(&comma);
    let syntax = found.iter().find(|d| d.0 == "syntax").unwrap();
    assert_eq!(syntax.2, Some(3), "{syntax:?}");
    assert!(
        syntax.4.contains("decimal comma") && syntax.4.contains("`1.5`"),
        "{syntax:?}"
    );
}

#[test]
fn version_names_the_commit_and_the_build_date() {
    let out = botform().arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // botform 0.1.0 (a1b2c3d4e5f6 2026-12-03)
    let inner = text
        .trim()
        .split_once(" (")
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{text}"));
    let (commit, date) = inner.split_once(' ').unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{text}"
    );
    assert!(
        date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-',
        "{text}"
    );
}

#[test]
fn man_writes_a_page_per_command_with_environment_and_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    botform()
        .args(["man", "--out"])
        .arg(dir.path())
        .assert()
        .success();
    for page in [
        "botform.1",
        "botform-plan.1",
        "botform-apply.1",
        "botform-validate.1",
        "botform-sandbox-serve.1",
        "botform-init.1",
    ] {
        let text =
            std::fs::read_to_string(dir.path().join(page)).unwrap_or_else(|_| panic!("{page}"));
        assert!(text.contains(".SH ENVIRONMENT"), "{page}");
        assert!(text.contains(".SH \"EXIT STATUS\""), "{page}");
        assert!(
            text.contains("THREECOMMAS\\_API\\_KEY") || text.contains("THREECOMMAS_API_KEY"),
            "{page}"
        );
    }
    let plan = std::fs::read_to_string(dir.path().join("botform-plan.1")).unwrap();
    assert!(
        plan.contains("\\-\\-detailed\\-exitcode"),
        "the plan page has its options"
    );
    botform()
        .arg("man")
        .assert()
        .success()
        .stdout(predicate::str::contains(".SH \"EXIT STATUS\""));
}

#[test]
fn an_offline_download_says_what_failed_and_the_way_out() {
    // A closed port on loopback: what an offline machine meets.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let cache = tempfile::tempdir().unwrap();
    botform()
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
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the candle download failed: cannot connect",
        ))
        .stderr(predicate::str::contains("--candles DIR"))
        .stderr(predicate::str::contains("--synthetic"));
}

#[test]
fn a_missing_candles_directory_is_one_error() {
    let out = botform()
        .args([
            "backtest",
            "examples/bots",
            "--candles",
            "/nonexistent/candles",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.contains("/nonexistent/candles: no such file or directory"),
        "{said}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("no candles"));
}

#[test]
fn synthetic_figures_carry_their_currency() {
    let out = botform()
        .args(["backtest", "examples/bots", "--bot", "BTC conservative"])
        .args(["--synthetic", "paths=5,days=5,interval=1h,seed=1"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for what in ["profit", "most capital at once", "worst drawdown"] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(what))
            .unwrap_or_else(|| panic!("{what}: {text}"));
        assert_eq!(line.matches(" USDT").count(), 4, "{line}");
    }
}

#[test]
fn plan_and_budgets_count_capital_by_one_rule_and_say_it() {
    let rule = botform::model::dca::CAPITAL_AT_RISK_RULE;
    let dir = example_dir();
    let shared = dir.path().join("shared.toml");
    let text = std::fs::read_to_string(&shared).unwrap();
    std::fs::write(
        &shared,
        text.replacen(
            "name = \"Binance Spot\"",
            "name = \"Binance Spot\"\nmax_capital = 100",
            1,
        ),
    )
    .unwrap();
    let found = diagnostics(dir.path());
    let over = found.iter().find(|d| d.0 == "over-budget").unwrap();
    assert!(over.4.contains(rule), "{over:?}");
    assert!(over.4.contains("BTC conservative:"), "{over:?}");
    // Switched off, the bots lock nothing: the budget holds, as plan would count it.
    let bots = dir.path().join("btc-conservative.toml");
    let bot_text = std::fs::read_to_string(&bots).unwrap();
    std::fs::write(&bots, bot_text.replace("enabled = true", "enabled = false")).unwrap();
    let rsi = dir.path().join("rsi-multi.yaml");
    let rsi_text = std::fs::read_to_string(&rsi).unwrap();
    std::fs::write(&rsi, rsi_text.replace("enabled: true", "enabled: false")).unwrap();
    let found = diagnostics(dir.path());
    let over = found.iter().find(|d| d.0 == "over-budget").unwrap();
    assert!(
        !over.4.contains("BTC conservative:"),
        "a bot set enabled = false is not at risk: {over:#?}"
    );
    // The plan states the same rule beside its figures.
    std::fs::write(&bots, bot_text).unwrap();
    std::fs::write(&rsi, rsi_text).unwrap();
    std::fs::write(&shared, text).unwrap();
    offline()
        .arg("plan")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "Capital at risk ({rule}):"
        )));
}

#[test]
fn a_saved_plan_applies_once_and_says_so_the_second_time() {
    let dir = example_dir();
    let sandbox = SandboxProcess::spawn(None, &[]);
    let plan = dir.path().join("plan.json");
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .arg("--out")
        .arg(&plan)
        .assert()
        .success();
    let apply = || {
        against(&sandbox)
            .args(["apply", "--auto-approve", "--plan"])
            .arg(&plan)
            .assert()
    };
    apply().success();
    apply()
        .code(1)
        .stderr(predicate::str::contains("was already applied"));
}

#[test]
fn a_port_in_use_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    botform()
        .args(["sandbox", "serve", "--listen", &addr])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("cannot listen on {addr}")))
        .stderr(predicate::str::contains("--listen 127.0.0.1:0"));
}

#[test]
fn init_writes_a_starter_config_that_validates_plans_and_applies() {
    let dir = tempfile::tempdir().unwrap();
    let bots = dir.path().join("bots");
    offline().arg("init").arg(&bots).assert().success();
    let text = std::fs::read_to_string(bots.join("botform.toml")).unwrap();
    assert!(
        text.starts_with("#:schema ./botform.schema.json\n"),
        "{text}"
    );
    assert!(
        text.contains("name = \"Binance Spot\""),
        "the account from the target: {text}"
    );
    assert!(bots.join("botform.schema.json").exists());
    botform().arg("validate").arg(&bots).assert().success();
    botform()
        .args(["fmt", "--check"])
        .arg(&bots)
        .assert()
        .success();
    // `apply --format json` reports what was done, after the target.
    let out = offline()
        .args(["apply", "--auto-approve", "--format", "json"])
        .arg(&bots)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["target"]
            .as_str()
            .unwrap()
            .starts_with("Target: the built-in sandbox")
    );
    assert_eq!(report["added"], 1, "{report}");
    assert_eq!(report["outcomes"][0]["ok"], true, "{report}");
    assert_eq!(report["complete"], true);
    offline()
        .arg("plan")
        .arg(&bots)
        .assert()
        .success()
        .stdout(predicate::str::contains("No changes."));
    // Never over a file that is there.
    offline()
        .arg("init")
        .arg(&bots)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("init never overwrites"));
}
