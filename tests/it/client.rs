//! The real client against a real sandbox over loopback HTTP: signing, every typed call, errors
//! with their field attributes, modes, pagination, pacing, faults.

use std::time::Duration;

use botform::model::bot::{BotSettings, StrategyCondition};
use botform::model::enums::TradingMode;
use botform::sandbox::{self, FaultSpec, RunningSandbox, SandboxConfig};
use botform::threecommas::wire::BotParams;
use botform::threecommas::{ApiError, BotsFilter, Client, ClientConfig, Credentials};

pub const BINANCE: i64 = 31_896_123;

pub async fn start(config: SandboxConfig) -> (RunningSandbox, Client) {
    let running = sandbox::start(config).await.unwrap();
    let client = client_for(&running.base_url, sandbox::DEFAULT_API_SECRET, |_| {});
    (running, client)
}

pub fn client_for(url: &str, secret: &str, tune: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut config = ClientConfig::new(url, Credentials::hmac(sandbox::DEFAULT_API_KEY, secret));
    config.requests_per_minute = 10_000;
    tune(&mut config);
    Client::new(config).unwrap()
}

pub fn fast_sandbox() -> SandboxConfig {
    SandboxConfig {
        rate_limit: 100_000,
        ..SandboxConfig::default()
    }
}

pub fn bot_params(name: &str) -> BotParams {
    BotParams::create(BINANCE, &bot_settings(name))
}

/// The settings of a small valid nonstop bot on USDT_BTC.
pub fn bot_settings(name: &str) -> BotSettings {
    BotSettings {
        name: Some(name.into()),
        pairs: Some(vec!["USDT_BTC".into()]),
        base_order_volume: Some("10".parse().unwrap()),
        safety_order_volume: Some("20".parse().unwrap()),
        max_safety_orders: Some(3),
        active_safety_orders_count: Some(1),
        safety_order_step_percentage: Some("1.5".parse().unwrap()),
        martingale_volume_coefficient: Some("1.2".parse().unwrap()),
        martingale_step_coefficient: Some("1.1".parse().unwrap()),
        take_profit: Some("1.5".parse().unwrap()),
        take_profit_type: Some(botform::model::enums::TakeProfitType::Total),
        strategy_list: Some(vec![StrategyCondition {
            strategy: "nonstop".into(),
            options: Default::default(),
        }]),
        ..BotSettings::default()
    }
}

/// Create `n` bots named `bot 0`, `bot 1`, ...
async fn create_bots(client: &Client, n: usize) {
    for i in 0..n {
        client
            .create_bot(&bot_params(&format!("bot {i}")))
            .await
            .unwrap();
    }
}

async fn stats(url: &str) -> serde_json::Value {
    reqwest::get(format!("{url}/__sandbox/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bot_lives_through_every_call() {
    let (sb, client) = start(fast_sandbox()).await;
    client.validate_credentials().await.unwrap();
    let accounts = client.accounts().await.unwrap();
    assert!(
        accounts
            .iter()
            .any(|a| a.name == "Binance Spot" && a.id == BINANCE)
    );
    assert_eq!(
        client
            .account(BINANCE)
            .await
            .unwrap()
            .market_code
            .as_deref(),
        Some("binance")
    );
    assert!(
        client
            .market_pairs("binance")
            .await
            .unwrap()
            .contains(&"USDT_BTC".to_string())
    );
    assert!(
        client
            .currency_rates("binance", "USDT_BTC")
            .await
            .unwrap()
            .contains_key("last")
    );
    assert!(
        client
            .strategy_list(Some(BINANCE))
            .await
            .unwrap()
            .contains_key("rsi")
    );

    let created = client.create_bot(&bot_params("BTC")).await.unwrap();
    assert!(!created.is_enabled, "a created bot starts disabled");
    assert_eq!(created.bot_type, "Bot::SingleBot");
    let shown = client.bot(created.id).await.unwrap();
    assert_eq!(shown.active_deals, Some(vec![]));

    // An update that changes one field: the client resends every required field.
    let live = shown.to_model();
    let change = BotSettings {
        take_profit: Some("2.5".parse().unwrap()),
        pairs: Some(vec!["USDT_BTC".into(), "USDT_ETH".into()]),
        strategy_list: Some(vec![StrategyCondition {
            strategy: "manual".into(),
            options: Default::default(),
        }]),
        ..Default::default()
    };
    let updated = client
        .update_bot(created.id, &BotParams::update(&live, &change).unwrap())
        .await
        .unwrap();
    assert_eq!(updated.take_profit, Some("2.5".parse().unwrap()));
    assert_eq!(updated.name, "BTC");
    assert_eq!(updated.bot_type, "Bot::MultiBot");

    assert!(client.enable_bot(created.id).await.unwrap().is_enabled);
    let enabled = client
        .bots(BotsFilter {
            enabled: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(enabled.len(), 1);
    assert!(!client.disable_bot(created.id).await.unwrap().is_enabled);

    let copy = client
        .copy_and_create(created.id, "BTC copy", &shown.url_secret)
        .await
        .unwrap();
    assert_ne!(copy.bot_id, created.id);

    assert_eq!(client.bot_deals_stats(created.id).await.unwrap().active, 0);
    client.bots_stats(Some(BINANCE), None).await.unwrap();
    assert!(
        client
            .profit_by_day(created.id, 30)
            .await
            .unwrap()
            .data
            .is_empty()
    );
    assert!(
        client
            .deals(Some(created.id), None, 100, 0)
            .await
            .unwrap()
            .is_empty()
    );
    // Give the bot a deal (the sandbox does not trade) and read it through the list and show.
    let deal: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/__sandbox/deals", sb.base_url))
        .json(&serde_json::json!({ "bot_id": created.id }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = client
        .deals(Some(created.id), Some("active"), 100, 0)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    let shown = client.deal(deal["id"].as_i64().unwrap()).await.unwrap();
    assert_eq!(
        (shown.bot_id, shown.pair.as_str(), shown.finished),
        (created.id, "USDT_BTC", false)
    );
    assert_eq!(client.bot_deals_stats(created.id).await.unwrap().active, 1);

    assert_eq!(
        client
            .update_blacklist(&["USDT_LUNA".into(), "USDT_FTT".into()])
            .await
            .unwrap(),
        ["USDT_LUNA", "USDT_FTT"]
    );
    assert_eq!(client.blacklist().await.unwrap().len(), 2);

    // 3Commas refuses to delete a bot with an active deal; the copy has none.
    let refused = client.delete_bot(created.id).await.unwrap_err();
    assert_eq!(refused.status(), Some(403), "{refused}");
    client.delete_bot(copy.bot_id).await.unwrap();
    assert!(client.bot(copy.bot_id).await.unwrap_err().is_not_found());
    sb.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_reads_every_page_of_100() {
    let (sb, client) = start(fast_sandbox()).await;
    create_bots(&client, 230).await;
    let before = stats(&sb.base_url).await["by_endpoint"]["GET /ver1/bots"]
        .as_u64()
        .unwrap_or(0);
    let bots = client.bots(BotsFilter::default()).await.unwrap();
    assert_eq!(bots.len(), 230);
    let after = stats(&sb.base_url).await["by_endpoint"]["GET /ver1/bots"]
        .as_u64()
        .unwrap();
    assert_eq!(
        after - before,
        4,
        "230 bots take 3 pages, and an empty one says the list is over"
    );
    let mut names: Vec<_> = bots
        .iter()
        .map(|b| b.settings.name.clone().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 230, "no bot is listed twice across pages");
    sb.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn deals_come_newest_closing_first_when_asked_and_a_bad_order_is_a_400() {
    let (sb, client) = start(fast_sandbox()).await;
    let bot = client.create_bot(&bot_params("closer")).await.unwrap();
    // Opened in id order, closed in another order; one still open.
    for (opened, closed) in [
        ("2026-11-01T00:00:00.000Z", Some("2026-11-20T00:00:00.000Z")),
        ("2026-11-02T00:00:00.000Z", Some("2026-11-05T00:00:00.000Z")),
        ("2026-11-03T00:00:00.000Z", Some("2026-11-28T00:00:00.000Z")),
        ("2026-11-04T00:00:00.000Z", None),
    ] {
        let mut body = serde_json::json!({ "bot_id": bot.id, "created_at": opened });
        if let Some(closed) = closed {
            body["status"] = "completed".into();
            body["closed_at"] = closed.into();
        }
        reqwest::Client::new()
            .post(format!("{}/__sandbox/deals", sb.base_url))
            .json(&body)
            .send()
            .await
            .unwrap();
    }
    let query =
        |order: Option<&str>, scope: Option<&str>| botform::threecommas::client::DealsQuery {
            bot_id: Some(bot.id),
            scope: scope.map(str::to_string),
            order: order.map(str::to_string),
            limit: 100,
            ..Default::default()
        };
    let closed: Vec<String> = client
        .deals_page(&query(Some("closed_at"), Some("finished")))
        .await
        .unwrap()
        .deals
        .into_iter()
        .filter_map(|d| d.closed_at)
        .collect();
    assert_eq!(
        closed,
        [
            "2026-11-28T00:00:00.000Z",
            "2026-11-20T00:00:00.000Z",
            "2026-11-05T00:00:00.000Z"
        ]
    );
    // Without `order`: 3Commas' default, newest opened first.
    let opened: Vec<String> = client
        .deals_page(&query(None, None))
        .await
        .unwrap()
        .deals
        .into_iter()
        .map(|d| d.created_at)
        .collect();
    assert_eq!(opened[0], "2026-11-04T00:00:00.000Z");
    let bad = client
        .deals_page(&query(Some("closing"), None))
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("order"), "{bad}");
    sb.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn rejections_keep_their_field_attributes() {
    let (sb, client) = start(fast_sandbox()).await;
    let mut params = bot_settings("SL");
    params.stop_loss_percentage = Some("3".parse().unwrap());
    let err = client
        .create_bot(&BotParams::create(BINANCE, &params))
        .await
        .unwrap_err();
    let fields = err.field_errors().expect("a 400 with attributes");
    assert_eq!(
        fields["stop_loss_percentage"],
        ["Stop Loss should be below the last safety order (4.965)"]
    );
    assert_eq!(err.status(), Some(400));

    let mut missing = bot_settings("missing");
    missing.name = None;
    missing.take_profit = None;
    let err = client
        .create_bot(&BotParams::create(BINANCE, &missing))
        .await
        .unwrap_err();
    let fields = err.field_errors().unwrap();
    assert_eq!(fields["name"], ["is missing"]);
    assert_eq!(fields["take_profit"], ["is missing"]);

    let mut multi_nonstop = bot_settings("multi");
    multi_nonstop.pairs = Some(vec!["USDT_BTC".into(), "USDT_ETH".into()]);
    multi_nonstop.max_active_deals = Some(2);
    let err = client
        .create_bot(&BotParams::create(BINANCE, &multi_nonstop))
        .await
        .unwrap_err();
    assert!(err.field_errors().unwrap().contains_key("strategy_list"));

    let mut unknown_pair = bot_settings("pair");
    unknown_pair.pairs = Some(vec!["USDT_NOPE".into()]);
    let err = client
        .create_bot(&BotParams::create(BINANCE, &unknown_pair))
        .await
        .unwrap_err();
    assert_eq!(
        err.field_errors().unwrap()["pairs"],
        ["No market data for this pair: USDT_NOPE"]
    );
    sb.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_secret_and_wrong_key_get_the_real_401_bodies() {
    let (sb, _) = start(fast_sandbox()).await;
    let wrong = client_for(&sb.base_url, "not-the-secret", |_| {});
    match wrong.accounts().await.unwrap_err() {
        ApiError::Unauthorized { body } => assert_eq!(body.error, "signature_invalid"),
        other => panic!("expected 401, got {other:?}"),
    }
    let mut config = ClientConfig::new(
        &sb.base_url,
        Credentials::hmac("other-key", sandbox::DEFAULT_API_SECRET),
    );
    config.requests_per_minute = 1000;
    match Client::new(config).unwrap().accounts().await.unwrap_err() {
        ApiError::Unauthorized { body } => assert_eq!(body.error, "api_key_invalid_or_expired"),
        other => panic!("expected 401, got {other:?}"),
    }
    sb.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn paper_and_real_modes_keep_separate_state() {
    let (sb, real) = start(fast_sandbox()).await;
    let paper = client_for(&sb.base_url, sandbox::DEFAULT_API_SECRET, |c| {
        c.mode = Some(TradingMode::Paper)
    });
    let paper_account = paper.accounts().await.unwrap()[0].clone();
    assert!(paper_account.name.starts_with("Paper Account"));
    paper
        .create_bot(&BotParams::create(
            paper_account.id,
            &bot_settings("paper bot"),
        ))
        .await
        .unwrap();
    assert_eq!(paper.bots(BotsFilter::default()).await.unwrap().len(), 1);
    assert!(real.bots(BotsFilter::default()).await.unwrap().is_empty());
    sb.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_documented_but_wrong_scope_is_a_400() {
    let (sb, _) = start(fast_sandbox()).await;
    let path = "/public/api/ver1/bots?scope=enable";
    let signature = Credentials::hmac("k", sandbox::DEFAULT_API_SECRET).sign(path.as_bytes());
    let response = reqwest::Client::new()
        .get(format!("{}{path}", sb.base_url))
        .header("APIKEY", sandbox::DEFAULT_API_KEY)
        .header("Signature", signature.to_uppercase())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["error_attributes"]["scope"][0],
        "does not have a valid value"
    );
    sb.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_pauses_every_request_then_goes_on() {
    let config = SandboxConfig {
        rate_limit: 5,
        block: Duration::from_millis(800),
        ..SandboxConfig::default()
    };
    let (sb, _) = start(config).await;
    let client = client_for(&sb.base_url, sandbox::DEFAULT_API_SECRET, |c| {
        c.rate_limit_pause = Duration::from_secs(1)
    });
    for _ in 0..8 {
        client.accounts().await.unwrap();
    }
    let s = stats(&sb.base_url).await;
    assert_eq!(
        s["by_status"]["429"], 1,
        "one 429, then the client waited out the block: {s}"
    );
    sb.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_paces_itself_below_the_limit() {
    let (sb, _) = start(SandboxConfig {
        rate_limit: 6,
        ..SandboxConfig::default()
    })
    .await;
    let client = client_for(&sb.base_url, sandbox::DEFAULT_API_SECRET, |c| {
        c.requests_per_minute = 5
    });
    for _ in 0..5 {
        client.accounts().await.unwrap();
    }
    // The sixth request would wait for the window: it must not be sent now.
    let sixth = tokio::time::timeout(Duration::from_millis(300), client.accounts()).await;
    assert!(sixth.is_err(), "the client held the request back");
    assert!(stats(&sb.base_url).await["by_status"].get("429").is_none());
    sb.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn ambiguous_writes_are_reported_not_resent_and_reads_retry() {
    let faults = FaultSpec {
        server_error: 1.0,
        seed: 3,
        ..FaultSpec::default()
    };
    let (sb, client) = start(SandboxConfig {
        faults,
        ..fast_sandbox()
    })
    .await;
    // Every create answers 5xx; each must come back ambiguous, and none may be sent twice.
    for i in 0..12 {
        let err = client
            .create_bot(&bot_params(&format!("b{i}")))
            .await
            .unwrap_err();
        assert!(err.is_ambiguous(), "{err}");
    }
    let s = stats(&sb.base_url).await;
    assert_eq!(
        s["by_endpoint"]["POST /ver1/bots/create_bot"], 12,
        "no create was resent"
    );
    let state: serde_json::Value = reqwest::get(format!("{}/__sandbox/state", sb.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored = state["real"]["bots"].as_object().unwrap().len();
    assert!(
        stored > 0 && stored < 12,
        "some failed creates took effect ({stored}): the duplicate trap is real"
    );
    sb.stop();

    let faults = FaultSpec {
        server_error: 0.3,
        seed: 11,
        ..FaultSpec::default()
    };
    let (sb, _) = start(SandboxConfig {
        faults,
        ..fast_sandbox()
    })
    .await;
    let client = client_for(&sb.base_url, sandbox::DEFAULT_API_SECRET, |c| {
        c.read_attempts = 8
    });
    for _ in 0..10 {
        client.accounts().await.expect("reads retry through 5xx");
    }
    sb.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn timeouts_and_resets_after_sending_are_ambiguous() {
    let faults = FaultSpec {
        timeout: 1.0,
        slow: Duration::from_millis(1500),
        ..FaultSpec::default()
    };
    let (sb, _) = start(SandboxConfig {
        faults,
        ..fast_sandbox()
    })
    .await;
    let client = client_for(&sb.base_url, sandbox::DEFAULT_API_SECRET, |c| {
        c.timeout = Duration::from_millis(300)
    });
    assert!(
        client
            .create_bot(&bot_params("slow"))
            .await
            .unwrap_err()
            .is_ambiguous()
    );
    sb.stop();

    let faults = FaultSpec {
        reset: 1.0,
        ..FaultSpec::default()
    };
    let (sb, client) = start(SandboxConfig {
        faults,
        ..fast_sandbox()
    })
    .await;
    let err = client.create_bot(&bot_params("reset")).await.unwrap_err();
    assert!(err.is_ambiguous(), "{err}");
    sb.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn reading_live_state_costs_one_request_per_page_never_per_bot() {
    let (sb, client) = start(fast_sandbox()).await;
    create_bots(&client, 250).await;
    reqwest::Client::new()
        .post(format!("{}/__sandbox/stats/reset", sb.base_url))
        .send()
        .await
        .unwrap();
    let live = botform::engine::target::read_live(&client, true)
        .await
        .unwrap();
    assert_eq!(live.bots.len(), 250);
    let s = stats(&sb.base_url).await;
    assert_eq!(
        s["total"], 6,
        "accounts + 3 pages of bots + the empty page that ends them + blacklist: {s}"
    );
    sb.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn deals_have_their_own_limit_beside_the_global_one() {
    // Global 10 a minute; deals 12 a minute (3Commas: 100 and 120).
    let config = SandboxConfig {
        rate_limit: 10,
        ..SandboxConfig::default()
    };
    let (sb, _) = start(config).await;
    let client = client_for(&sb.base_url, sandbox::DEFAULT_API_SECRET, |c| {
        c.rate_limit_pause = Duration::from_secs(3600);
    });
    for _ in 0..12 {
        client.deals(None, None, 10, 0).await.unwrap();
    }
    let thirteenth =
        tokio::time::timeout(Duration::from_millis(500), client.deals(None, None, 10, 0)).await;
    assert!(
        thirteenth.is_err(),
        "the 13th deals request hit 429 and the client paused"
    );
    // That client now holds every request for its pause; a fresh one sees the global window.
    let other = client_for(&sb.base_url, sandbox::DEFAULT_API_SECRET, |_| {});
    for _ in 0..10 {
        other
            .accounts()
            .await
            .expect("the global window is separate");
    }
    let s = stats(&sb.base_url).await;
    assert_eq!(s["by_status"]["429"], 1, "{s}");
    sb.stop();
}

/// A grid bot through every grid call of the client: created, read back as the settings sent
/// (string counts parsed), listed oldest first across pages, updated with the core set, switched
/// on and off, deleted (a `null` body is success), then gone.
#[tokio::test(flavor = "multi_thread")]
async fn a_grid_bot_lives_through_every_grid_call() {
    let (_sb, client) = start(fast_sandbox()).await;
    let body = |name: &str, quantity: &str| {
        serde_json::json!({
            "account_id": BINANCE, "pair": "USDT_BTC", "name": name, "lower_price": "56000",
            "upper_price": "72000", "grids_quantity": 50, "quantity_per_grid": quantity,
            "order_currency_type": "quote", "grid_type": "geometric"
        })
    };
    let first = client.create_grid_bot(&body("grid a", "15")).await.unwrap();
    let second = client.create_grid_bot(&body("grid b", "15")).await.unwrap();
    assert_eq!(
        (
            first.grids_quantity,
            first.max_active_buy_lines,
            first.is_enabled
        ),
        (50, Some(50), false)
    );
    assert_eq!(
        first.quantity_per_grid,
        "15".parse::<botform::model::decimal::Decimal>().unwrap()
    );
    let listed: Vec<i64> = client
        .grid_bots()
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(listed, vec![first.id, second.id], "oldest first");
    let mut update = body("grid a", "20");
    update.as_object_mut().unwrap().remove("pair");
    update.as_object_mut().unwrap().remove("account_id");
    let updated = client.update_grid_bot(first.id, &update).await.unwrap();
    assert_eq!(updated.quantity_per_grid.to_string(), "20");
    assert!(client.enable_grid_bot(first.id).await.unwrap().is_enabled);
    assert!(!client.disable_grid_bot(first.id).await.unwrap().is_enabled);
    client.delete_grid_bot(first.id).await.unwrap();
    assert!(matches!(
        client.grid_bot(first.id).await,
        Err(ApiError::Rejected { status: 404, .. })
    ));
}
