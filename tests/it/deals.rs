//! TradingView signals and deal actions, end to end: the real binary against a sandbox process
//! with a market, the alert messages `botform signals` prints posted to the sandbox's webhook,
//! `botform deals` and `botform deal ...` gated as apply is, and the audit log.

use std::path::Path;

use serde_json::{Value, json};

use super::engine_support::against;
use super::sandbox::SandboxProcess;

const TOKEN: &str = "3c0ffee0-1234-5678-9abc-def012345678";

/// A config with the examples' accounts and templates and one bot per entry of `bots`.
fn config(bots: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let shared = std::fs::read_to_string(super::root().join("examples/bots/shared.toml"))
        .unwrap()
        .replace("../../schema/", "");
    std::fs::write(dir.path().join("shared.toml"), shared).unwrap();
    std::fs::write(dir.path().join("bots.toml"), bots).unwrap();
    dir
}

const TV_BOTS: &str = r#"
[[bots]]
name = "BTC on TV"
account = "main"
pairs = ["USDT_BTC"]
template = "conservative"
start = [{ strategy = "tv_custom_signal" }]
enabled = true

[[bots]]
name = "Alts on TV"
account = "main"
pairs = ["USDT_ETH", "USDT_SOL"]
template = "conservative"
start = [{ strategy = "tv_custom_signal" }]
max_active_deals = 2
enabled = true

[[bots]]
name = "Sleeping TV"
account = "main"
pairs = ["USDT_BNB"]
template = "conservative"
start = [{ strategy = "tv_custom_signal" }]
enabled = false
"#;

fn post_signal(sandbox: &SandboxProcess, body: &Value) -> (u16, Value) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let response = reqwest::Client::new()
            .post(format!("{}/trade_signal/trading_view", sandbox.url))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}

/// The real-mode deals of a bot, as the sandbox stores them.
fn deals_of(sandbox: &SandboxProcess, bot_id: i64) -> Vec<Value> {
    let state = sandbox.control_get("/__sandbox/state");
    state["real"]["deals"]
        .as_object()
        .unwrap()
        .values()
        .filter(|d| d["bot_id"] == bot_id)
        .cloned()
        .collect()
}

fn signals_json(sandbox: &SandboxProcess, dir: &Path) -> Value {
    let out = against(sandbox)
        .env("THREECOMMAS_EMAIL_TOKEN", TOKEN)
        .arg("signals")
        .arg(dir)
        .args(["--format", "json"])
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

/// The botform binary against `sandbox`, with a state dir of the test's own (its audit log).
fn cli(sandbox: &SandboxProcess, state: &Path) -> assert_cmd::Command {
    let mut cmd = against(sandbox);
    cmd.env("BOTFORM_STATE_DIR", state);
    cmd
}

fn audit_lines(state: &Path, deal: i64) -> Vec<Value> {
    std::fs::read_to_string(state.join("audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["deal"] == deal)
        .collect()
}

/// The issue's "done when", on a sandbox with a market: apply, signals with the live id and the
/// token, one deal per right message and none for a wrong token, the deal listed, a cancel
/// refused off a terminal and done with --auto-approve, both attempts in the audit log.
#[test]
fn a_tradingview_bot_is_started_by_its_alert_listed_and_cancelled_through_the_gate() {
    let sandbox = SandboxProcess::spawn(
        None,
        &[
            "--email-token",
            TOKEN,
            "--market",
            "synthetic:vol=60,seed=3,interval=5m",
            "--speed",
            "60",
        ],
    );
    let dir = config(TV_BOTS);
    let state = tempfile::tempdir().unwrap();
    let state = state.path();
    // Before apply, and with no token: the messages say what is missing, and where it comes from.
    let out = against(&sandbox)
        .args(["signals", "--bot", "BTC on TV", "--format", "json"])
        .arg(dir.path())
        .assert()
        .success();
    let before: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let notes = before[0]["notes"].to_string();
    assert!(notes.contains("apply first"), "{notes}");
    assert!(notes.contains("THREECOMMAS_EMAIL_TOKEN"), "{notes}");
    assert_eq!(before[0]["bot_id"], Value::Null);
    assert!(
        before[0]["messages"][0]["message"]["email_token"]
            .as_str()
            .unwrap()
            .contains("THREECOMMAS_EMAIL_TOKEN"),
        "{before}"
    );
    super::engine_support::apply(against(&sandbox), dir.path()).success();
    let bot_id = sandbox.bot("BTC on TV")["id"].as_i64().unwrap();

    let signals = signals_json(&sandbox, dir.path());
    let btc = signals
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["bot"] == "BTC on TV")
        .unwrap();
    assert_eq!(btc["bot_id"], bot_id);
    assert_eq!(
        btc["webhook_url"],
        format!("{}/trade_signal/trading_view", sandbox.url)
    );
    let start = btc["messages"][0]["message"].clone();
    assert_eq!(btc["messages"][0]["purpose"], "start");
    assert_eq!(start["bot_id"], bot_id);
    assert_eq!(start["email_token"], TOKEN);
    assert_eq!(start["message_type"], "bot");
    // A multi-pair bot's message takes its pair from TradingView's placeholders.
    let alts = signals
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["bot"] == "Alts on TV")
        .unwrap();
    assert_eq!(
        alts["messages"][0]["message"]["pair"],
        "{{syminfo.currency}}_{{syminfo.basecurrency}}"
    );

    // No deal before a signal (that the market never opens one by itself, over a whole replay,
    // is `a_tradingview_bot_waits_for_its_signal_through_a_whole_replay`).
    assert!(deals_of(&sandbox, bot_id).is_empty());

    let mut wrong = start.clone();
    wrong["email_token"] = "not-the-token".into();
    let (status, _) = post_signal(&sandbox, &wrong);
    assert_eq!(status, 401);
    assert!(
        deals_of(&sandbox, bot_id).is_empty(),
        "a wrong token opened a deal"
    );

    let (status, body) = post_signal(&sandbox, &start);
    assert_eq!(status, 200, "{body}");
    let opened = deals_of(&sandbox, bot_id);
    assert_eq!(opened.len(), 1, "exactly one deal: {opened:?}");
    let deal_id = opened[0]["id"].as_i64().unwrap();

    let out = cli(&sandbox, state)
        .args(["deals", "--bot", "btc on tv", "--format", "json"])
        .assert()
        .success();
    let listed: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(listed["deals"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["deals"][0]["id"], deal_id);
    assert_eq!(listed["deals"][0]["profit_kind"], "unrealized");

    // No terminal, no --auto-approve: nothing is sent.
    cli(&sandbox, state)
        .args(["deal", "cancel", &deal_id.to_string()])
        .write_stdin("")
        .assert()
        .failure()
        .stderr(predicates::str::contains("no terminal to confirm on"));
    let still = &deals_of(&sandbox, bot_id)[0];
    assert_eq!(still["status"], "bought", "{still}");

    let out = cli(&sandbox, state)
        .env("BOTFORM_DEAL_WAIT_S", "60")
        .args(["deal", "cancel", &deal_id.to_string(), "--auto-approve"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("is cancelled"), "{text}");
    let ended = &deals_of(&sandbox, bot_id)[0];
    assert_eq!(ended["status"], "cancelled", "{ended}");
    assert_eq!(ended["finished?"], true);
    assert_eq!(deals_of(&sandbox, bot_id)[0]["status"], "cancelled");

    let audit = audit_lines(state, deal_id);
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert_eq!(audit[0]["who"], "cli");
    assert_eq!(audit[0]["action"], "cancel");
    assert!(
        audit[0]["result"]
            .as_str()
            .unwrap()
            .starts_with("refused: no terminal"),
        "{audit:?}"
    );
    assert_eq!(audit[1]["result"], "cancelled");
    // A deal that is over gets a clear answer, and the attempt is recorded too.
    cli(&sandbox, state)
        .args(["deal", "panic-sell", &deal_id.to_string(), "--auto-approve"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("is already over (cancelled"));
    assert_eq!(audit_lines(state, deal_id).len(), 3);
}

/// Every way a message is refused opens nothing, is answered with a 4xx, and is in the signal
/// log with its reason and without the token.
#[test]
fn each_wrong_signal_opens_nothing_and_is_logged_without_its_token() {
    let sandbox = SandboxProcess::spawn(None, &["--email-token", TOKEN]);
    let dir = config(
        &(TV_BOTS.to_string()
            + r#"
[[bots]]
name = "Plain nonstop"
account = "main"
pairs = ["USDT_XRP"]
template = "conservative"
start = "always"
enabled = true
"#),
    );
    super::engine_support::apply(against(&sandbox), dir.path()).success();
    let id = |name: &str| sandbox.bot(name)["id"].as_i64().unwrap();
    let message = |bot: i64| json!({"message_type": "bot", "bot_id": bot, "email_token": TOKEN, "delay_seconds": 0});
    let all_deals = || {
        sandbox.control_get("/__sandbox/state")["real"]["deals"]
            .as_object()
            .unwrap()
            .len()
    };
    let alts = id("Alts on TV");
    let mut outside = message(alts);
    outside["pair"] = "USDT_DOGE".into();
    let mut no_pair = message(alts);
    no_pair.as_object_mut().unwrap().remove("pair");
    let mut close_none = message(id("BTC on TV"));
    close_none["action"] = "close_at_market_price".into();
    let mut unknown_action = message(id("BTC on TV"));
    unknown_action["action"] = "buy_the_dip".into();
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "wrong token",
            {
                let mut m = message(id("BTC on TV"));
                m["email_token"] = "fffffff-fffff-fffff-ffff-ffffffffff".into();
                m
            },
            401,
            "email_token",
        ),
        ("unknown bot", message(999_999), 404, "not found"),
        ("disabled bot", message(id("Sleeping TV")), 422, "disabled"),
        (
            "pair outside the bot",
            outside,
            422,
            "not one of the bot's pairs",
        ),
        ("multi-pair without a pair", no_pair, 422, "needs `pair`"),
        (
            "not a TradingView bot",
            message(id("Plain nonstop")),
            422,
            "does not start deals on TradingView",
        ),
        ("close with no deal", close_none, 422, "no active deal"),
        ("unknown action", unknown_action, 422, "unknown action"),
    ];
    for (case, body, status, why) in &cases {
        let (got, answer) = post_signal(&sandbox, body);
        assert_eq!(got, *status, "{case}: {answer}");
        assert_eq!(all_deals(), 0, "{case} opened a deal");
        let log = sandbox.control_get("/__sandbox/signals");
        let last = log.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["accepted"], false, "{case}: {last}");
        assert!(
            last["detail"].as_str().unwrap().contains(why),
            "{case}: {last}"
        );
        assert!(!log.to_string().contains(TOKEN), "the log holds the token");
    }

    // More than 100 messages in one alert: refused whole, nothing opened.
    let flood: Vec<Value> = (0..101).map(|_| message(id("BTC on TV"))).collect();
    let (status, _) = post_signal(&sandbox, &Value::Array(flood));
    assert_eq!(status, 400);
    assert_eq!(all_deals(), 0);

    // A message cannot forge a log line: what it says is escaped there.
    let mut forged = message(alts);
    forged["pair"] = "USDT_ETH\n\u{1b}[2Jbotform sandbox: all fine".into();
    let (status, _) = post_signal(&sandbox, &forged);
    assert_eq!(status, 422);
    let log = sandbox.control_get("/__sandbox/signals");
    let last = log.as_array().unwrap().last().unwrap();
    for field in ["pair", "detail"] {
        let text = last[field].as_str().unwrap();
        assert!(
            !text.contains('\n') && !text.contains('\u{1b}'),
            "{field}: {text:?}"
        );
    }

    // max_active_deals across a multi-pair bot's pairs, the same pair twice, and an array of
    // messages (one alert for several pairs).
    let mut eth = message(alts);
    eth["pair"] = "USDT_ETH".into();
    let mut sol = message(alts);
    sol["pair"] = "USDT_SOL".into();
    let (status, _) = post_signal(&sandbox, &json!([eth.clone(), sol]));
    assert_eq!(status, 200);
    assert_eq!(all_deals(), 2);
    let (status, answer) = post_signal(&sandbox, &eth);
    assert_eq!(status, 422);
    assert!(answer.to_string().contains("max_active_deals"), "{answer}");
    assert_eq!(all_deals(), 2);

    // Cooldown: a closed deal's pair waits `cooldown` (300 s in the template) before the next.
    let btc = id("BTC on TV");
    let (status, _) = post_signal(&sandbox, &message(btc));
    assert_eq!(status, 200);
    let mut close = message(btc);
    close["action"] = "close_at_market_price".into();
    let (status, _) = post_signal(&sandbox, &close);
    assert_eq!(status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while deals_of(&sandbox, btc)[0]["status"] != "panic_sold" {
        assert!(
            std::time::Instant::now() < deadline,
            "the panic sell never settled"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (status, answer) = post_signal(&sandbox, &message(btc));
    assert_eq!(status, 422);
    assert!(answer.to_string().contains("cooldown"), "{answer}");
    assert_eq!(deals_of(&sandbox, btc).len(), 1);
}

/// `deal update` changes the running deal and reads it back; `add-funds` buys at market; a
/// stop loss above the price is refused by the sandbox as 3Commas refuses it.
#[test]
fn deal_update_and_add_funds_change_the_deal_and_a_wrong_stop_loss_is_refused() {
    let sandbox = SandboxProcess::spawn(None, &["--email-token", TOKEN]);
    let dir = config(TV_BOTS);
    let state = tempfile::tempdir().unwrap();
    let state = state.path();
    super::engine_support::apply(against(&sandbox), dir.path()).success();
    let bot = sandbox.bot("BTC on TV")["id"].as_i64().unwrap();
    let (status, _) = post_signal(
        &sandbox,
        &json!({"message_type": "bot", "bot_id": bot, "email_token": TOKEN, "delay_seconds": 0}),
    );
    assert_eq!(status, 200);
    let deal = deals_of(&sandbox, bot)[0]["id"]
        .as_i64()
        .unwrap()
        .to_string();

    cli(&sandbox, state)
        .args([
            "deal",
            "update",
            &deal,
            "--take-profit",
            "2.5",
            "--max-safety-orders",
            "3",
        ])
        .arg("--auto-approve")
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "updated: take_profit 2.5, max_safety_orders 3",
        ));
    let d = &deals_of(&sandbox, bot)[0];
    assert_eq!(d["take_profit"], "2.5");
    assert_eq!(d["max_safety_orders"], 3);

    let before: f64 = d["bought_amount"].as_str().unwrap().parse().unwrap();
    cli(&sandbox, state)
        .args([
            "deal",
            "add-funds",
            &deal,
            "--quantity",
            "0.001",
            "--auto-approve",
        ])
        .assert()
        .success()
        .stdout(predicates::str::contains("Filled"));
    let d = &deals_of(&sandbox, bot)[0];
    let after: f64 = d["bought_amount"].as_str().unwrap().parse().unwrap();
    assert!(
        (after - before - 0.001).abs() < 1e-12,
        "{before} -> {after}"
    );

    // 3Commas: "Must be less than current price" (a long deal's stop above the price).
    cli(&sandbox, state)
        .args(["deal", "update", &deal, "--stop-loss=-5", "--auto-approve"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("stop_loss_percentage"));
    let audit = audit_lines(state, deal.parse().unwrap());
    assert_eq!(
        audit
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["update", "add_funds", "update"]
    );
    assert!(audit[2]["result"].as_str().unwrap().starts_with("error:"));
}

/// `deals --smart-trades` lists the account's SmartTrades (a real v2 entity from 3Commas' docs),
/// read only, with their status and profit.
#[test]
fn smart_trades_are_listed_read_only() {
    let sandbox = SandboxProcess::spawn(None, &[]);
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(
            super::root().join("tests/fixtures/3commas/deal_convert_to_smart_trade_response.json"),
        )
        .unwrap(),
    )
    .unwrap();
    sandbox.control_post("/__sandbox/smart_trades", fixture.clone());
    let out = against(&sandbox)
        .args(["deals", "--smart-trades", "--format", "json"])
        .assert()
        .success();
    let listed: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["id"], fixture["id"]);
    assert_eq!(listed[0]["pair"], "USDT_ETH");
    assert_eq!(listed[0]["kind"], "smart_sell");
    assert_eq!(listed[0]["status"], "created");
    assert_eq!(listed[0]["profit_percent"], "0.0");
    // Finished ones only: this one is pending.
    let out = against(&sandbox)
        .args([
            "deals",
            "--smart-trades",
            "--scope",
            "finished",
            "--format",
            "json",
        ])
        .assert()
        .success();
    let finished: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(finished, json!([]));
}

/// A state makes its own email token; `botform sandbox token` prints it, a sandbox on that state
/// accepts it, and `sandbox dump` never shows it.
#[test]
fn the_sandbox_token_comes_from_its_state_and_dump_hides_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sandbox.db");
    let out = super::botform()
        .args(["sandbox", "token", "--state"])
        .arg(&db)
        .assert()
        .success();
    let token = String::from_utf8_lossy(&out.get_output().stdout)
        .trim()
        .to_string();
    assert_eq!(token.len(), 36, "a UUID-shaped token: {token}");
    let again = super::botform()
        .args(["sandbox", "token", "--state"])
        .arg(&db)
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&again.get_output().stdout).trim(),
        token,
        "the same state, the same token"
    );
    let dump = super::botform()
        .args(["sandbox", "dump", "--state"])
        .arg(&db)
        .assert()
        .success();
    assert!(!String::from_utf8_lossy(&dump.get_output().stdout).contains(&token));

    let sandbox = SandboxProcess::spawn(Some(&db), &[]);
    let message = |token: &str| json!({"message_type": "bot", "bot_id": 1, "email_token": token});
    // The right token reaches the bot lookup (no such bot); a wrong one stops at the door.
    assert_eq!(post_signal(&sandbox, &message(&token)).0, 404);
    assert_eq!(post_signal(&sandbox, &message("nope")).0, 401);
}

/// Every candle of a replay walked (an event the market reports, not a wait on the clock), and
/// a bot that starts on TradingView signals opened nothing; the signal's deal, opened after the
/// replay, is then the bot's only one.
#[test]
fn a_tradingview_bot_waits_for_its_signal_through_a_whole_replay() {
    let dir = config(TV_BOTS);
    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("sandbox.db");
    {
        let quiet = SandboxProcess::spawn(Some(&db), &["--email-token", TOKEN]);
        super::engine_support::apply(against(&quiet), dir.path()).success();
    }
    let candles = tempfile::tempdir().unwrap();
    super::backtest::write_candles(candles.path(), "USDT_BTC.csv", 3);
    let sandbox = SandboxProcess::spawn(
        Some(&db),
        &[
            "--email-token",
            TOKEN,
            "--market",
            candles.path().to_str().unwrap(),
            "--speed",
            "100000000",
        ],
    );
    sandbox.wait_replayed();
    let bot = sandbox.bot("BTC on TV")["id"].as_i64().unwrap();
    assert!(
        deals_of(&sandbox, bot).is_empty(),
        "opened without a signal"
    );
    let (status, _) = post_signal(
        &sandbox,
        &json!({"message_type": "bot", "bot_id": bot, "email_token": TOKEN, "delay_seconds": 0}),
    );
    assert_eq!(status, 200);
    assert_eq!(deals_of(&sandbox, bot).len(), 1);
}

/// Two cancels of one deal at once (two terminals, or a script run twice): the account's lease
/// takes them in turn, the second reads the deal again under it and finds it over; one cancel
/// is sent, both attempts are in the audit log.
#[test]
fn two_deal_actions_at_once_send_one_and_the_other_finds_the_deal_over() {
    let sandbox = SandboxProcess::spawn(None, &["--email-token", TOKEN]);
    let dir = config(TV_BOTS);
    super::engine_support::apply(against(&sandbox), dir.path()).success();
    let bot = sandbox.bot("BTC on TV")["id"].as_i64().unwrap();
    let (status, _) = post_signal(
        &sandbox,
        &json!({"message_type": "bot", "bot_id": bot, "email_token": TOKEN, "delay_seconds": 0}),
    );
    assert_eq!(status, 200);
    let deal = deals_of(&sandbox, bot)[0]["id"].as_i64().unwrap();
    sandbox.control_post("/__sandbox/stats/reset", json!({}));
    let runs: Vec<std::process::Child> = (0..2)
        .map(|_| {
            super::engine_support::spawn_against(&sandbox)
                .args(["deal", "cancel", &deal.to_string(), "--auto-approve"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<std::process::Output> = runs
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let said: Vec<String> = outputs
        .iter()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
        })
        .collect();
    assert_eq!(
        said.iter().filter(|t| t.contains("is cancelled")).count(),
        1,
        "{said:?}"
    );
    // The other one read the deal after the cancel was sent: under the lease, once it is over,
    // or before taking it, while 3Commas is still ending it (then it sends nothing either).
    assert_eq!(
        said.iter()
            .filter(|t| t.contains("is already over (cancelled")
                || t.contains("is already being ended (cancel_pending)"))
            .count(),
        1,
        "{said:?}"
    );
    let stats = sandbox.control_get("/__sandbox/stats");
    assert_eq!(
        stats["by_endpoint"]["POST /ver1/deals/{id}/cancel"], 1,
        "one cancel sent: {stats}"
    );
    assert_eq!(audit_lines(&sandbox.state, deal).len(), 2);
}
