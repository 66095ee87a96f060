//! botform as the real 3Commas behaves (issue 8, FIDELITY-REVIEW.md): take-profit steps, the
//! direction, minimal update bodies, the server's cross-field rules. Each runs the real binary or
//! client against a sandbox that is as strict as 3Commas on that point.

use std::path::Path;

use predicates::prelude::*;
use serde_json::Value;

use super::client::{bot_settings, client_for};
use super::engine_support::{against, apply, edit, pass_the_late_create_window};
use super::sandbox::SandboxProcess;
use botform::model::bot::{BotSettings, SafetyStep, TakeProfitStep};
use botform::model::enums::Direction;
use botform::threecommas::BotsFilter;
use botform::threecommas::wire::BotParams;

const BINANCE: i64 = 31_896_123;

fn no_changes(sandbox: &SandboxProcess, dir: &Path) {
    against(sandbox)
        .arg("plan")
        .arg(dir)
        .arg("--detailed-exitcode")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("No changes."));
}

fn one_bot(dir: &Path, body: &str) {
    std::fs::write(
        dir.join("bot.toml"),
        format!(
            "[accounts.main]\nname = \"Binance Spot\"\n\n[[bots]]\nname = \"steps\"\naccount = \"main\"\npairs = [\"USDT_BTC\"]\nstart = [{{ strategy = \"nonstop\" }}]\nbase_order_volume = 10\nsafety_order_volume = 10\nmax_safety_orders = 2\nactive_safety_orders_count = 1\nsafety_order_step_percentage = 1\nmartingale_volume_coefficient = 1\nmartingale_step_coefficient = 1\ntake_profit_type = \"total\"\n{body}"
        ),
    )
    .unwrap();
}

const STEPS: &str = "take_profit_steps = [{ amount_percentage = 50, profit_percentage = 1 }, { amount_percentage = 50, profit_percentage = 2 }]\n";

#[test]
fn take_profit_steps_round_trip_as_3commas_stores_them() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Steps with no take profit: validate is content, the create sends 0, 3Commas stores null,
    // and the next plan finds nothing (before: a diff on every plan, forever).
    one_bot(d, STEPS);
    apply(against(&sandbox), d).success();
    let state = sandbox.bot("steps");
    assert!(state["take_profit"].is_null(), "{state}");
    no_changes(&sandbox, d);
    // Steps with an explicit 0: the same.
    one_bot(d, &format!("take_profit = 0\n{STEPS}"));
    no_changes(&sandbox, d);
    // An update of a multi-step bot carries `take_profit` (3Commas requires it).
    one_bot(d, &format!("cooldown = 60\n{STEPS}"));
    apply(against(&sandbox), d).success();
    no_changes(&sandbox, d);
    // Dropping steps for an ordinary take profit: one update, accepted.
    one_bot(d, "take_profit = 2\n");
    apply(against(&sandbox), d).success();
    assert_eq!(
        sandbox.bot("steps")["take_profit_steps"],
        Value::Array(vec![])
    );
    no_changes(&sandbox, d);
    // Adding steps to a bot with an ordinary take profit: one update, accepted.
    one_bot(d, STEPS);
    apply(against(&sandbox), d).success();
    no_changes(&sandbox, d);
    // An ordinary take profit beside steps is what 3Commas refuses: validate says so first.
    one_bot(d, &format!("take_profit = 1.5\n{STEPS}"));
    against(&sandbox)
        .arg("validate")
        .arg(d)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("refuses an ordinary take profit"));
}

#[test]
fn an_imported_multi_step_bot_plans_no_changes_and_can_be_updated() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    one_bot(dir.path(), STEPS);
    apply(against(&sandbox), dir.path()).success();
    let out = tempfile::tempdir().unwrap();
    against(&sandbox)
        .args(["import", "--out"])
        .arg(out.path())
        .assert()
        .success();
    no_changes(&sandbox, out.path());
    let file = botform_file(out.path());
    let text = std::fs::read_to_string(&file).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("cooldown = "))
        .expect("import writes the cooldown")
        .to_string();
    edit(&file, &line, "cooldown = 90");
    apply(against(&sandbox), out.path()).success();
    no_changes(&sandbox, out.path());
}

fn botform_file(dir: &Path) -> std::path::PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("bots-")
        })
        .unwrap()
}

#[test]
fn a_direction_change_is_refused_at_plan_time_with_the_way_to_do_it() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    one_bot(dir.path(), "take_profit = 1\nstrategy = \"long\"\n");
    apply(against(&sandbox), dir.path()).success();
    one_bot(dir.path(), "take_profit = 1\nstrategy = \"short\"\n");
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("cannot change a bot's direction")
                .and(predicate::str::contains("absent = true")),
        );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_ignores_direction_and_keeps_omitted_fields_on_update() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let client = client_for(&sandbox.url, botform::sandbox::DEFAULT_API_SECRET, |_| {});
    let mut settings = bot_settings("ladder");
    settings.custom_safety_steps = Some(vec![
        SafetyStep {
            deviation: "-1".parse().unwrap(),
            size: "10".parse().unwrap(),
        },
        SafetyStep {
            deviation: "-2.5".parse().unwrap(),
            size: "20".parse().unwrap(),
        },
    ]);
    let created = client
        .create_bot(&BotParams::create(BINANCE, &settings))
        .await
        .unwrap();
    let live = client.bot(created.id).await.unwrap().to_model();
    // An update of the take profit leaves the custom ladder as it is, and `strategy` is ignored.
    let change = BotSettings {
        take_profit: Some("2.2".parse().unwrap()),
        strategy: Some(Direction::Short),
        ..BotSettings::default()
    };
    let mut body = BotParams::update(&live, &change).unwrap();
    assert!(!body.0.contains_key("custom_safety_steps"));
    body.0.insert("strategy".into(), "short".into()); // as an old client would send it
    client.update_bot(created.id, &body).await.unwrap();
    let after = client.bot(created.id).await.unwrap().to_model();
    assert_eq!(after.settings.strategy, Some(Direction::Long));
    assert_eq!(after.settings.take_profit, Some("2.2".parse().unwrap()));
    assert_eq!(
        after.settings.custom_safety_steps,
        settings.custom_safety_steps
    );

    // Steps on the same bot, then a take-profit-free update: both lists stay.
    let steps = vec![
        TakeProfitStep {
            amount_percentage: "60".parse().unwrap(),
            profit_percentage: "1".parse().unwrap(),
        },
        TakeProfitStep {
            amount_percentage: "40".parse().unwrap(),
            profit_percentage: "2".parse().unwrap(),
        },
    ];
    let with_steps = BotSettings {
        take_profit_steps: Some(steps.clone()),
        ..BotSettings::default()
    };
    client
        .update_bot(created.id, &BotParams::update(&after, &with_steps).unwrap())
        .await
        .unwrap();
    let live = client.bot(created.id).await.unwrap().to_model();
    let rename = BotSettings {
        name: Some("ladder 2".into()),
        ..BotSettings::default()
    };
    client
        .update_bot(created.id, &BotParams::update(&live, &rename).unwrap())
        .await
        .unwrap();
    let last = client.bot(created.id).await.unwrap().to_model();
    assert_eq!(last.settings.take_profit_steps, Some(steps));
    assert_eq!(
        last.settings.custom_safety_steps,
        settings.custom_safety_steps
    );
    assert_eq!(last.settings.take_profit, None);
    assert_eq!(client.bots(BotsFilter::default()).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_applies_3commas_cross_field_rules() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let client = client_for(&sandbox.url, botform::sandbox::DEFAULT_API_SECRET, |_| {});
    // More active deals than pairs allow.
    let mut many = bot_settings("many deals");
    many.max_active_deals = Some(5);
    let err = client
        .create_bot(&BotParams::create(BINANCE, &many))
        .await
        .unwrap_err();
    assert_eq!(
        err.field_errors().unwrap()["max_active_deals"],
        ["must be less than or equal to 1"]
    );
    // Signal-driven safety orders: 0 active of 9 is a real configuration.
    let mut signals = bot_settings("signals");
    signals.max_safety_orders = Some(9);
    signals.active_safety_orders_count = Some(0);
    client
        .create_bot(&BotParams::create(BINANCE, &signals))
        .await
        .unwrap();
    // An ordinary take profit beside steps.
    let mut both = bot_settings("both");
    both.take_profit_steps = Some(vec![TakeProfitStep {
        amount_percentage: "100".parse().unwrap(),
        profit_percentage: "1".parse().unwrap(),
    }]);
    let mut body = BotParams::create(BINANCE, &both);
    body.0.insert("take_profit".into(), "1.5".into());
    let err = client.create_bot(&body).await.unwrap_err();
    assert_eq!(
        err.field_errors().unwrap()["take_profit_steps"],
        ["Not available to create bot with take profit steps and ordinary take profit"]
    );
}

#[test]
fn validate_mirrors_the_server_rules() {
    let dir = tempfile::tempdir().unwrap();
    one_bot(dir.path(), "take_profit = 1\nmax_active_deals = 3\n");
    super::botform()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("allow at most 1"));
    // Deals per pair do not count on a single-pair bot (review L-2; before, this passed and
    // 3Commas would refuse or ignore it).
    one_bot(
        dir.path(),
        "take_profit = 1\nmax_active_deals = 3\nallowed_deals_on_same_pair = 3\n",
    );
    super::botform()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("allow at most 1"))
        .stdout(predicate::str::contains("multi-pair bots only"));
    // On a multi-pair bot they do.
    let text = std::fs::read_to_string(dir.path().join("bot.toml"))
        .unwrap()
        .replace(
            "pairs = [\"USDT_BTC\"]",
            "pairs = [\"USDT_BTC\", \"USDT_ETH\"]",
        )
        .replace("max_active_deals = 3", "max_active_deals = 6")
        .replace("strategy = \"nonstop\"", "strategy = \"manual\"");
    std::fs::write(dir.path().join("bot.toml"), text).unwrap();
    super::botform()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .success();
    let text = std::fs::read_to_string(dir.path().join("bot.toml"))
        .unwrap()
        .replace(
            "active_safety_orders_count = 1",
            "active_safety_orders_count = 0",
        );
    std::fs::write(dir.path().join("bot.toml"), text).unwrap();
    super::botform()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .success();
}

#[test]
fn a_blacklist_removal_3commas_did_not_make_fails_the_apply() {
    for (flags, removal_takes) in [(&[][..], true), (&["--blacklist-adds"][..], false)] {
        let sandbox = SandboxProcess::spawn(None, flags);
        let dir = tempfile::tempdir().unwrap();
        let write = |pairs: &str| {
            std::fs::write(
                dir.path().join("blacklist.toml"),
                format!("[blacklist]\npairs = [{pairs}]\n"),
            )
            .unwrap()
        };
        write("\"USDT_LUNA\", \"USDT_FTT\"");
        apply(against(&sandbox), dir.path()).success();
        write("\"USDT_LUNA\"");
        let result = apply(against(&sandbox), dir.path());
        if removal_takes {
            result.success();
            no_changes(&sandbox, dir.path());
        } else {
            // Reported as a failure of that change, never "Apply complete".
            result.code(1).stdout(
                predicate::str::contains("3Commas kept USDT_FTT on the blacklist")
                    .and(predicate::str::contains("Apply incomplete")),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signature_that_leaves_out_the_query_or_body_is_refused() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let secret = botform::sandbox::DEFAULT_API_SECRET;
    let creds = botform::threecommas::Credentials::hmac("k", secret);
    let http = reqwest::Client::new();
    let send = |path: &'static str, signed: &'static str, body: Option<&'static str>| {
        let request = match body {
            Some(b) => http
                .post(format!("{}{path}", sandbox.url))
                .header("Content-Type", "application/json")
                .body(b),
            None => http.get(format!("{}{path}", sandbox.url)),
        };
        request
            .header("APIKEY", botform::sandbox::DEFAULT_API_KEY)
            .header("Signature", creds.sign(signed.as_bytes()))
            .send()
    };
    // (sent to, signed over, body, status): the bare path signed while a query or body is sent
    // is refused (before, any bare-path signature passed); the full forms pass.
    let cases = [
        (
            "/public/api/ver1/bots?limit=1",
            "/public/api/ver1/bots",
            None,
            401,
        ),
        (
            "/public/api/ver1/bots/update_pairs_black_list",
            "/public/api/ver1/bots/update_pairs_black_list",
            Some(r#"{"pairs":["USDT_LUNA"]}"#),
            401,
        ),
        (
            "/public/api/ver1/bots?limit=1",
            "/public/api/ver1/bots?limit=1",
            None,
            200,
        ),
        (
            "/public/api/ver1/accounts",
            "/public/api/ver1/accounts",
            None,
            200,
        ),
    ];
    for (path, signed, body, status) in cases {
        let answer = send(path, signed, body).await.unwrap();
        assert_eq!(answer.status(), status, "{path} signed as {signed}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_base_url_ending_in_public_api_works() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let client = client_for(
        &format!("{}/public/api/", sandbox.url),
        botform::sandbox::DEFAULT_API_SECRET,
        |_| {},
    );
    assert!(!client.accounts().await.unwrap().is_empty());
}

#[test]
fn a_create_that_commits_after_its_504_never_makes_a_twin() {
    // Before: botform looked once, at once, and created again: a disabled twin. The late commit
    // is event-driven (`next`: before the sandbox's next request; `held`: when the test says),
    // so the outcome never depends on how fast the machine is.
    for (late, settles_in_run) in [("next", true), ("held", false)] {
        let sandbox = SandboxProcess::spawn(
            None,
            &["--faults", &format!("late=1.0,late_ms={late},seed=1")],
        );
        let dir = tempfile::tempdir().unwrap();
        one_bot(dir.path(), "take_profit = 1\n");
        let result = apply(against(&sandbox), dir.path());
        if settles_in_run {
            result.success().stderr(predicate::str::contains(
                "confirmed after an unclear answer",
            ));
        } else {
            result
                .code(1)
                .stdout(predicate::str::contains("not created again"));
            assert_eq!(
                sandbox.control_get("/__sandbox/late")["held"],
                1,
                "the create is still in flight"
            );
            sandbox.control_post("/__sandbox/late/commit", serde_json::json!({}));
        }
        // Either way, one bot, and nothing left to do.
        let state = sandbox.control_get("/__sandbox/state");
        assert_eq!(
            state["real"]["bots"].as_object().unwrap().len(),
            1,
            "{state}"
        );
        no_changes(&sandbox, dir.path());
    }
}

#[test]
fn a_create_that_may_still_land_is_never_created_again_by_the_next_plan_or_apply() {
    // Before (review M1): the next plan said "1 to add" and the next apply made a twin when the
    // first create committed after it. Now the journal of unclear creates is read by the next
    // plan and apply: nothing of that name is created until the bot appears or 130 s have
    // passed. The late commit comes after the next plan and apply started.
    let sandbox = SandboxProcess::spawn(
        None,
        &["--faults", "late=1.0,late_ms=held,late_max=1,seed=1"],
    );
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    one_bot(dir.path(), "take_profit = 1\nenabled = true\n");
    let run = || {
        let mut cmd = against(&sandbox);
        cmd.env("BOTFORM_STATE_DIR", state.path());
        cmd
    };
    apply(run(), dir.path())
        .code(1)
        .stdout(predicate::str::contains("not created again"));
    // The next plan, and an apply right after the apply: held, nothing to create.
    run()
        .arg("plan")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("may still land"))
        .stdout(predicate::str::contains("No changes."));
    apply(run(), dir.path())
        .success()
        .stdout(predicate::str::contains("may still land"));
    let held = sandbox.control_get("/__sandbox/late");
    assert_eq!(held["held"], 1, "no second create was sent: {held}");
    // The first create lands now: the next apply finds it and switches it on (finishing the
    // first apply, so it is not counted as a change of a live bot).
    sandbox.control_post("/__sandbox/late/commit", serde_json::json!({}));
    apply(run(), dir.path()).success();
    let bots = sandbox.control_get("/__sandbox/state")["real"]["bots"].clone();
    let bots = bots.as_object().unwrap();
    assert_eq!(bots.len(), 1, "{bots:?}");
    assert_eq!(bots.values().next().unwrap()["is_enabled"], true);
    no_changes(&sandbox, dir.path());
}

#[test]
fn once_its_window_has_passed_a_create_that_never_landed_is_planned_again() {
    let sandbox = SandboxProcess::spawn(None, &["--faults", "late=1.0,late_ms=held,seed=1"]);
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    one_bot(dir.path(), "take_profit = 1\n");
    let run = || {
        let mut cmd = against(&sandbox);
        cmd.env("BOTFORM_STATE_DIR", state.path());
        cmd
    };
    apply(run(), dir.path()).code(1);
    run()
        .arg("plan")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("may still land"));
    pass_the_late_create_window(state.path());
    run()
        .arg("plan")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("may still land").not())
        .stdout(predicate::str::contains("1 to add"));
}

#[test]
fn a_write_only_field_is_compared_with_what_botform_last_sent() {
    // Before (review M-1): 3Commas never shows `sl_to_breakeven_enabled`, so turning it off in
    // the config planned nothing, and the bot kept moving its stop loss. Now botform remembers
    // what it last sent each bot, per target, and compares the config with that.
    let sandbox = SandboxProcess::spawn(None, &[]);
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |state: &Path| {
        let mut cmd = against(&sandbox);
        cmd.env("BOTFORM_STATE_DIR", state);
        cmd
    };
    let plan = |state: &Path| {
        let out = run(state).arg("plan").arg(dir.path()).assert().success();
        String::from_utf8_lossy(&out.get_output().stdout).to_string()
    };
    one_bot(
        dir.path(),
        &format!(
            "{STEPS}sl_to_breakeven_enabled = true\nsl_to_breakeven_data = {{ upper_breakeven_limit = 1 }}\nstop_loss_percentage = 5\n"
        ),
    );
    apply(run(state.path()), dir.path()).success();
    assert!(plan(state.path()).contains("No changes."));
    edit(
        &dir.path().join("bot.toml"),
        "sl_to_breakeven_enabled = true",
        "sl_to_breakeven_enabled = false",
    );
    let shown = plan(state.path());
    assert!(
        shown.contains("sl_to_breakeven_enabled = true -> false")
            && shown.contains("3Commas does not show this field; last sent: true"),
        "{shown}"
    );
    apply(run(state.path()), dir.path())
        .success()
        .stderr(predicate::str::contains("updated"));
    assert!(plan(state.path()).contains("No changes."));
    // A bot botform never wrote (another state dir): unknown once, sent, then remembered.
    let other = tempfile::tempdir().unwrap();
    let shown = plan(other.path());
    assert!(
        shown.contains("sl_to_breakeven_enabled = unknown -> false")
            && shown.contains("botform has not sent it to this bot"),
        "{shown}"
    );
    apply(run(other.path()), dir.path()).success();
    assert!(plan(other.path()).contains("No changes."));
}

#[test]
fn a_toggle_turned_on_goes_with_its_companion() {
    // Before (review M-2): turning on trailing or a stop-loss timeout sent the toggle alone, and
    // 3Commas requires its companion in the same request. The sandbox now checks the request's
    // own parameters (not the merged bot), and the update carries the companion from the live
    // bot when the config did not change it.
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    one_bot(
        dir.path(),
        "take_profit = 2\ntrailing_enabled = false\ntrailing_deviation = 0.5\nstop_loss_percentage = 5\nstop_loss_timeout_enabled = false\nstop_loss_timeout_in_seconds = 300\n",
    );
    apply(against(&sandbox), dir.path()).success();
    let file = dir.path().join("bot.toml");
    edit(&file, "trailing_enabled = false", "trailing_enabled = true");
    edit(
        &file,
        "stop_loss_timeout_enabled = false",
        "stop_loss_timeout_enabled = true",
    );
    apply(against(&sandbox), dir.path())
        .success()
        .stderr(predicate::str::contains("updated"));
    no_changes(&sandbox, dir.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sandbox_refuses_a_toggle_without_its_companion_in_the_request() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let client = client_for(&sandbox.url, botform::sandbox::DEFAULT_API_SECRET, |_| {});
    let account = client.accounts().await.unwrap()[0].id;
    let mut settings = bot_settings("companions");
    settings.trailing_deviation = Some("0.5".parse().unwrap());
    let bot = client
        .create_bot(&BotParams::create(account, &settings))
        .await
        .unwrap();
    // The bot has a stored deviation; a request turning trailing on without one is refused all
    // the same, as 3Commas does.
    let live = client.bot(bot.id).await.unwrap().to_model();
    let mut body = live.update_base.clone();
    body.insert("trailing_enabled".into(), true.into());
    body.remove("trailing_deviation");
    let refused = client
        .update_bot(bot.id, &BotParams(body))
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("trailing_deviation"),
        "{refused}"
    );
}

#[test]
fn an_order_below_the_minimum_lot_is_a_plan_error() {
    // Before (review L-4): only minTotal was checked, per quote currency, without
    // limit_type=bot; an order given in the base currency below the exchange's minimum lot
    // passed plan and was refused at apply.
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bot.toml"),
        "[accounts.main]\nname = \"Binance Spot\"\n\n[[bots]]\nname = \"tiny\"\naccount = \"main\"\npairs = [\"USDT_BTC\"]\nstart = [{ strategy = \"nonstop\" }]\nbase_order_volume = 0.000004\nbase_order_volume_type = \"base_currency\"\nsafety_order_volume = 20\nmax_safety_orders = 2\nactive_safety_orders_count = 1\nsafety_order_step_percentage = 1\nmartingale_volume_coefficient = 1\nmartingale_step_coefficient = 1\ntake_profit_type = \"total\"\ntake_profit = 1\n",
    )
    .unwrap();
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "base_order_volume 0.000004 BTC on USDT_BTC is below the minimum order of",
        ))
        .stderr(predicate::str::contains(
            "and the minimum lot of 0.00001 BTC",
        ));
    let stats = sandbox.control_get("/__sandbox/stats");
    assert_eq!(
        stats["by_endpoint"]["GET /ver1/accounts/currency_rates"], 1,
        "{stats}"
    );
}

#[test]
fn a_condition_the_account_cannot_use_is_a_plan_error_at_its_line() {
    // Before (review L11): validate checked conditions against the catalogue only, and 3Commas
    // refused the create at apply. Now plan asks the account's own strategy_list.
    let sandbox = SandboxProcess::spawn(None, &[]);
    let account = sandbox.control_get("/__sandbox/state")["real"]["accounts"][0]["id"].clone();
    sandbox.control_post(
        &format!("/__sandbox/accounts/{account}"),
        serde_json::json!({ "type": "Account::KucoinAccount" }),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bot.toml"),
        "[accounts.main]\nname = \"Binance Spot\"\n\n[[bots]]\nname = \"rsi\"\naccount = \"main\"\npairs = [\"USDT_BTC\"]\nstart = [{ strategy = \"rsi\", options = { time = \"15m\", points = 30, trigger_condition = \"less\", time_period = 14 } }]\nbase_order_volume = 10\nsafety_order_volume = 10\nmax_safety_orders = 2\nactive_safety_orders_count = 1\nsafety_order_step_percentage = 1\nmartingale_volume_coefficient = 1\nmartingale_step_coefficient = 1\ntake_profit_type = \"total\"\ntake_profit = 1\n",
    )
    .unwrap();
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the condition `rsi` in `strategy_list` is not available to account `main`",
        ))
        .stderr(predicate::str::contains("bot.toml:"));
}

#[test]
fn a_bot_renamed_in_the_web_app_is_renamed_back_never_twinned() {
    // Before (review L12): the renamed bot looked absent, and plan proposed a second bot while
    // the renamed one kept trading. Now botform remembers the id it wrote under that name.
    let sandbox = SandboxProcess::spawn(None, &[]);
    let state = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let mut cmd = against(&sandbox);
        cmd.env("BOTFORM_STATE_DIR", state.path());
        cmd
    };
    one_bot(dir.path(), "take_profit = 1\n");
    apply(run(), dir.path()).success();
    let bots = sandbox.control_get("/__sandbox/state")["real"]["bots"].clone();
    let id = bots.as_object().unwrap().keys().next().unwrap().clone();
    sandbox.control_post(
        &format!("/__sandbox/bots/{id}"),
        serde_json::json!({ "name": "renamed by hand" }),
    );
    run()
        .arg("plan")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "~ name = \"renamed by hand\" -> \"steps\"",
        ))
        .stdout(predicate::str::contains("0 to add, 1 to change"));
    apply(run(), dir.path()).success();
    let bots = sandbox.control_get("/__sandbox/state")["real"]["bots"].clone();
    assert_eq!(bots.as_object().unwrap().len(), 1);
    assert_eq!(bots[&id]["name"], "steps");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_418_ban_stops_every_request_at_once() {
    // Before: a 418 was returned but nothing paused, and apply kept sending into the ban.
    let (sandbox, _) = super::client::start(botform::sandbox::SandboxConfig {
        rate_limit: 2,
        block: std::time::Duration::from_secs(60),
        ..botform::sandbox::SandboxConfig::default()
    })
    .await;
    // Other clients hammer the sandbox into a ban for this IP (each stops itself after its
    // first refusal, so it takes many).
    for _ in 0..25 {
        let hammer = client_for(
            &sandbox.base_url,
            botform::sandbox::DEFAULT_API_SECRET,
            |c| {
                c.rate_limit_pause = std::time::Duration::from_millis(1);
            },
        );
        let _ = hammer.accounts().await;
    }
    let client = client_for(
        &sandbox.base_url,
        botform::sandbox::DEFAULT_API_SECRET,
        |c| {
            c.rate_limit_pause = std::time::Duration::from_millis(1);
        },
    );
    let stats = |url: String| async move {
        reqwest::get(format!("{url}/__sandbox/stats"))
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()["total"]
            .as_u64()
            .unwrap()
    };
    let err = client.accounts().await.unwrap_err();
    assert!(
        matches!(err, botform::threecommas::ApiError::Banned { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("try again after"));
    let before = stats(sandbox.base_url.clone()).await;
    // Every later call, from this client or a clone, fails at once without a request.
    for _ in 0..5 {
        assert!(matches!(
            client.clone().bots(BotsFilter::default()).await,
            Err(botform::threecommas::ApiError::Banned { .. })
        ));
    }
    assert_eq!(stats(sandbox.base_url.clone()).await, before);
}

#[test]
fn responses_in_every_shape_3commas_has_sent_read_as_the_same_bots() {
    // Missing keys, nulls for lists and options, counters as strings, unknown keys, a display
    // decimal out of range: before, any one of them failed every plan, apply and import.
    let sandbox = SandboxProcess::spawn(None, &["--quirks"]);
    let dir = super::engine_support::example_dir();
    apply(against(&sandbox), dir.path()).success();
    no_changes(&sandbox, dir.path());
    let out = tempfile::tempdir().unwrap();
    against(&sandbox)
        .args(["import", "--out"])
        .arg(out.path())
        .assert()
        .success();
    no_changes(&sandbox, out.path());
}

#[test]
fn deals_in_every_shape_3commas_has_sent_read_as_the_same_deals() {
    // Counters as strings, figures as JSON numbers, unknown keys, nulls for lists: every deal
    // reads under `--quirks` as without (review S10: quirks covered bot reads only).
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut seen = Vec::new();
    for quirks in [false, true] {
        let args: &[&str] = if quirks { &["--quirks"] } else { &[] };
        let sandbox = SandboxProcess::spawn(None, args);
        let client = client_for(&sandbox.url, botform::sandbox::DEFAULT_API_SECRET, |_| {});
        let bot = runtime.block_on(async {
            let account = client.accounts().await.unwrap()[0].id;
            let bot = client
                .create_bot(&BotParams::create(account, &bot_settings("dealer")))
                .await
                .unwrap();
            client.enable_bot(bot.id).await.unwrap();
            bot
        });
        for status in ["bought", "completed", "stop_loss_finished"] {
            sandbox.control_post(
                "/__sandbox/deals",
                serde_json::json!({ "bot_id": bot.id, "status": status }),
            );
        }
        let page = runtime
            .block_on(
                client.deals_page(&botform::threecommas::client::DealsQuery {
                    bot_id: Some(bot.id),
                    limit: 100,
                    ..Default::default()
                }),
            )
            .unwrap();
        assert!(
            page.unreadable.is_empty(),
            "quirks {quirks}: {:?}",
            page.unreadable
        );
        let mut summary: Vec<(String, Option<String>)> = page
            .deals
            .iter()
            .map(|d| (d.status.clone(), d.final_profit.map(|p| p.to_string())))
            .collect();
        summary.sort();
        seen.push(summary);
    }
    assert_eq!(seen[0].len(), 3);
    assert_eq!(seen[0], seen[1], "the same deals, whatever their shape");
}

#[test]
fn one_unreadable_bot_is_reported_left_alone_and_never_created_twice() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    let config = |tp: &str| {
        let mut text = String::from(
            "[accounts.main]\nname = \"Binance Spot\"\n\n[templates.t]\naccount = \"main\"\nstart = [{ strategy = \"nonstop\" }]\nbase_order_volume = 10\nsafety_order_volume = 10\nmax_safety_orders = 2\nactive_safety_orders_count = 1\nsafety_order_step_percentage = 1\nmartingale_volume_coefficient = 1\nmartingale_step_coefficient = 1\ntake_profit_type = \"total\"\n",
        );
        text.push_str(&format!("take_profit = {tp}\n"));
        for i in 0..3 {
            text.push_str(&format!(
                "\n[[bots]]\nname = \"b{i}\"\ntemplate = \"t\"\npairs = [\"USDT_BTC\"]\n"
            ));
        }
        std::fs::write(dir.path().join("bots.toml"), text).unwrap();
    };
    config("1");
    apply(against(&sandbox), dir.path()).success();
    let weird = sandbox.bot("b1");
    let id = weird["id"].as_i64().unwrap();
    sandbox.control_post(
        &format!("/__sandbox/bots/{id}"),
        serde_json::json!({ "take_profit_type": "trailing_weird" }),
    );
    // The other bots plan and apply as usual; b1 is named, with the field and the reason.
    config("2");
    against(&sandbox)
        .arg("plan")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Plan: 0 to add, 2 to change, 0 to destroy.").and(
                predicate::str::contains(format!(
                    "bot {id} (\"b1\") in a form botform cannot read (values botform does not know: take_profit_type \"trailing_weird\")"
                )),
            ),
        );
    apply(against(&sandbox), dir.path()).success();
    let after = sandbox.bot("b1");
    assert_eq!(after["take_profit_type"], "trailing_weird");
    assert_eq!(after["take_profit"], weird["take_profit"], "b1 untouched");
    let state = sandbox.control_get("/__sandbox/state");
    assert_eq!(
        state["real"]["bots"].as_object().unwrap().len(),
        3,
        "no twin of b1"
    );
}

#[test]
fn doctor_goes_on_to_the_key_without_ping_and_time() {
    // Before (review L-3): a 404 on /ver1/ping (no longer in 3Commas' docs) was "FAIL reach" and
    // doctor stopped before checking the key.
    let sandbox = SandboxProcess::spawn(None, &["--current-docs-only"]);
    let dir = super::engine_support::example_dir();
    against(&sandbox)
        .arg("doctor")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(
            predicate::str::contains("warn reach")
                .and(predicate::str::contains("warn clock"))
                .and(predicate::str::contains("ok   key"))
                .and(predicate::str::contains("Ready:")),
        );
}

#[test]
fn doctor_checks_first_contact_and_writes_nothing() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = super::engine_support::example_dir();
    against(&sandbox)
        .arg("doctor")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(
            predicate::str::contains("ok   key")
                .and(predicate::str::contains(
                    "AccountsRead   2 accounts in real mode",
                ))
                .and(predicate::str::contains("Forced-Mode    real"))
                .and(predicate::str::contains("Nothing was changed on 3Commas")),
        );
    let stats = sandbox.control_get("/__sandbox/stats");
    let endpoints = stats["by_endpoint"].as_object().unwrap();
    assert!(
        endpoints.keys().all(|k| k.starts_with("GET ")),
        "doctor sent a write: {stats}"
    );
    assert!(endpoints.contains_key("GET /ver1/ping") && endpoints.contains_key("GET /ver1/time"));
    // Before: ping and time carried the real key and a signature though they need none.
    assert_eq!(stats["public_with_key"], 0, "{stats}");
    // A wrong secret: the key check fails, and says what to do.
    against(&sandbox)
        .env("THREECOMMAS_API_SECRET", "wrong")
        .arg("doctor")
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("FAIL key")
                .and(predicate::str::contains("check THREECOMMAS_API_KEY")),
        );
}

#[test]
fn a_bot_without_safety_orders_can_be_created_without_naming_active_ones() {
    // 3Commas requires active_safety_orders_count on create even with no safety orders; the
    // config need not say it.
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    one_bot(dir.path(), "take_profit = 1\n");
    let text = std::fs::read_to_string(dir.path().join("bot.toml"))
        .unwrap()
        .replace(
            "max_safety_orders = 2\nactive_safety_orders_count = 1\n",
            "max_safety_orders = 0\n",
        );
    std::fs::write(dir.path().join("bot.toml"), text).unwrap();
    apply(against(&sandbox), dir.path()).success();
    no_changes(&sandbox, dir.path());
}

#[test]
fn custom_safety_steps_keep_3commas_sign_everywhere() {
    // Before (H-1): a long bot with deviation = 1.5 validated as a ladder "covering a 3% drop",
    // backtested that way, and went out as "1.5": 3Commas would buy as the price rises.
    let dir = tempfile::tempdir().unwrap();
    let write = |direction: &str, first: &str, second: &str| {
        std::fs::write(
            dir.path().join("bot.toml"),
            format!(
                "[accounts.main]\nname = \"Binance Spot\"\n\n[[bots]]\nname = \"ladder\"\naccount = \"main\"\npairs = [\"USDT_BTC\"]\nstrategy = \"{direction}\"\nstart = [{{ strategy = \"nonstop\" }}]\nbase_order_volume = 10\nsafety_order_volume = 10\nmax_safety_orders = 2\nactive_safety_orders_count = 2\nsafety_order_step_percentage = 1\nmartingale_volume_coefficient = 1\nmartingale_step_coefficient = 1\ntake_profit = 1.5\ntake_profit_type = \"total\"\ncustom_safety_steps = [{{ deviation = {first}, size = 10 }}, {{ deviation = {second}, size = 20 }}]\n"
            ),
        )
        .unwrap();
    };
    // Unsigned for a long bot: refused at the step, with the signed value to write.
    write("long", "1.5", "3");
    let out = super::botform()
        .args(["validate", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let wrong: Vec<&Value> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["code"] == "wrong-sign")
        .collect();
    assert_eq!(wrong.len(), 2, "{report}");
    assert!(
        wrong[0]["message"]
            .as_str()
            .unwrap()
            .contains("above the base price"),
        "{report}"
    );
    assert!(
        wrong[0]["help"]
            .as_str()
            .unwrap()
            .contains("deviation = -1.5"),
        "{report}"
    );
    // A short bot's ladder lies above the base price: positive, and negative is refused.
    write("short", "-1.5", "-3");
    super::botform()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .code(1)
        .stdout(predicate::str::contains("below the base price"));
    // Signed as 3Commas reads it, the ladder validates, goes out signed, and a plan after the
    // apply finds nothing to change (the live bot round-trips).
    write("long", "-1.5", "-3");
    super::botform()
        .arg("validate")
        .arg(dir.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("covers a price move of 3%"));
    let sandbox = SandboxProcess::spawn(None, &[]);
    apply(against(&sandbox), dir.path()).success();
    let live = sandbox.bot("ladder");
    assert_eq!(
        live["custom_safety_steps"][0]["deviation"], "-1.5",
        "{live}"
    );
    assert_eq!(live["custom_safety_steps"][1]["deviation"], "-3", "{live}");
    no_changes(&sandbox, dir.path());
    // A live bot on the wrong side (made elsewhere) is not backtested as if it were right.
    let mut settings = BotSettings {
        custom_safety_steps: Some(vec![SafetyStep {
            deviation: "1.5".parse().unwrap(),
            size: "10".parse().unwrap(),
        }]),
        ..bot_settings("wrong side")
    };
    settings.max_safety_orders = Some(1);
    let compiled = botform::simulate::compile(
        &settings,
        &botform::simulate::Assumptions {
            start: botform::simulate::AssumeStart::Nonstop,
            ..Default::default()
        },
    );
    assert!(
        compiled.is_err_and(|e| e.0.contains("far side of the base price")),
        "a long ladder above the base price is not backtestable"
    );
}

#[test]
fn a_418_ban_is_shared_with_the_next_process_which_sends_nothing() {
    // Before (M2): a ban stopped the process that met it, and the next `botform plan` sent a
    // request into it again (and each lengthens a real ban).
    let sandbox = SandboxProcess::spawn(None, &["--rate-limit", "2", "--rate-limit-block", "600"]);
    // Other clients on this machine hammer the sandbox into a ban for this IP.
    // (more than 20 requests during a block earn the ban; each hammer stops after its second)
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        for _ in 0..25 {
            let hammer = client_for(&sandbox.url, botform::sandbox::DEFAULT_API_SECRET, |c| {
                c.rate_limit_pause = std::time::Duration::from_millis(1);
            });
            let _ = hammer.accounts().await;
        }
    });
    let stats = || sandbox.control_get("/__sandbox/stats");
    assert!(
        stats()["by_status"]["418"].as_u64().unwrap_or(0) > 0,
        "{}",
        stats()
    );
    let dir = tempfile::tempdir().unwrap();
    one_bot(dir.path(), "take_profit = 1\n");
    let plan = |dir: &Path| {
        let out = against(&sandbox).arg("plan").arg(dir).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The first process meets the ban and writes down when it ends.
    let before = stats()["total"].as_u64().unwrap();
    let (code, said) = plan(dir.path());
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains("banned this IP (HTTP 418)") && said.contains("sends nothing before"),
        "{said}"
    );
    assert_eq!(
        stats()["total"].as_u64().unwrap(),
        before + 1,
        "one request, met by the ban"
    );
    // The next process, and one with another key spelling of the same origin, send nothing.
    let (code, again) = plan(dir.path());
    assert_eq!(code, Some(1), "{again}");
    assert!(again.contains("sends nothing before"), "{again}");
    let url = sandbox.url.replace("127.0.0.1", "localhost");
    let out = against(&sandbox)
        .env("THREECOMMAS_API_URL", &url)
        .arg("plan")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sends nothing before"));
    assert_eq!(
        stats()["total"].as_u64().unwrap(),
        before + 1,
        "nothing more was sent into the ban"
    );
}

#[test]
fn one_origin_however_it_is_spelt() {
    use botform::threecommas::client::canonical_origin;
    let one = canonical_origin("http://127.0.0.1:8080");
    for spelling in [
        "http://localhost:8080",
        "HTTP://LOCALHOST:8080/",
        "http://[::1]:8080",
        "http://127.0.0.2:8080/public/api",
    ] {
        assert_eq!(canonical_origin(spelling), one, "{spelling}");
    }
    assert_eq!(
        canonical_origin("https://API.3commas.io:443"),
        canonical_origin("https://api.3commas.io")
    );
    assert_ne!(canonical_origin("http://127.0.0.1:8081"), one);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_odd_deal_is_reported_and_never_fails_the_rest() {
    // Before (M3, L-6): deals were decoded as one strict list, so one deal in a new shape failed
    // `deals` and `bot_performance` entirely.
    let sandbox = tokio::task::spawn_blocking(|| SandboxProcess::spawn(None, &[]))
        .await
        .unwrap();
    let client = client_for(&sandbox.url, botform::sandbox::DEFAULT_API_SECRET, |_| {});
    let bot = client
        .create_bot(&BotParams::create(BINANCE, &bot_settings("odd deals")))
        .await
        .unwrap();
    let url = sandbox.url.clone();
    let post = |body: Value| {
        let url = url.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{url}/__sandbox/deals"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    post(serde_json::json!({"bot_id": bot.id, "status": "completed", "final_profit": "1.5"})).await;
    let odd = post(serde_json::json!({
        "bot_id": bot.id,
        "status": "bought",
        "completed_safety_orders_count": {"a": "shape botform has never seen"},
    }))
    .await;
    let page = client
        .deals_page(&botform::threecommas::client::DealsQuery {
            bot_id: Some(bot.id),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.seen, 2);
    assert_eq!(page.deals.len(), 1, "the readable deal is read");
    assert_eq!(page.unreadable.len(), 1);
    assert_eq!(
        page.unreadable[0].id,
        odd["id"].as_i64(),
        "reported by its id"
    );
    assert!(
        client.deals(Some(bot.id), None, 100, 0).await.is_ok(),
        "the plain list does not fail either"
    );
    tokio::task::spawn_blocking(move || drop(sandbox))
        .await
        .unwrap();
}

#[test]
fn a_delete_switches_the_bot_off_first_and_back_on_when_refused() {
    // Before (L10): a deal could start between the last look and the delete, and a refused
    // delete left nothing to tell; now the bot is off while it goes, and on again if it stays.
    let sandbox = SandboxProcess::spawn(None, &[]);
    let dir = tempfile::tempdir().unwrap();
    one_bot(dir.path(), "take_profit = 1\nenabled = true\n");
    apply(against(&sandbox), dir.path()).success();
    let id = sandbox.bot("steps")["id"].as_i64().unwrap();
    // 3Commas refuses to delete this bot (`deletable?: false` in its entity).
    sandbox.control_post(
        &format!("/__sandbox/bots/{id}"),
        serde_json::json!({ "deletable?": false }),
    );
    one_bot(dir.path(), "absent = true\n");
    sandbox.control_post("/__sandbox/stats/reset", serde_json::json!({}));
    against(&sandbox)
        .args(["apply", "--auto-approve", "--allow-delete", "--force"])
        .arg(dir.path())
        .assert()
        .code(1);
    let stats = sandbox.control_get("/__sandbox/stats");
    let calls = &stats["by_endpoint"];
    assert_eq!(calls["POST /ver1/bots/{id}/disable"], 1, "{stats}");
    assert_eq!(calls["POST /ver1/bots/{id}/enable"], 1, "{stats}");
    assert_eq!(
        sandbox.bot("steps")["is_enabled"],
        true,
        "switched on again"
    );
    // Deletable, it goes, switched off first.
    sandbox.control_post(
        &format!("/__sandbox/bots/{id}"),
        serde_json::json!({ "deletable?": true }),
    );
    against(&sandbox)
        .args(["apply", "--auto-approve", "--allow-delete", "--force"])
        .arg(dir.path())
        .assert()
        .success();
    assert!(
        sandbox.control_get("/__sandbox/state")["real"]["bots"]
            .as_object()
            .unwrap()
            .is_empty()
    );
}
