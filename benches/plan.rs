//! `botform plan` over 1,000 bots on two accounts against the sandbox: the API requests it costs
//! (counted by the sandbox) and its local work (load, validate, diff, render).
//! Run with `cargo bench --bench plan`.

use std::time::Instant;

use botform::config::{
    self,
    source::{SourceFile, Syntax},
};
use botform::engine::{desired, plan, render, target};
use botform::model::bot::{BotSettings, StrategyCondition};
use botform::sandbox::{self, SandboxConfig};
use botform::threecommas::wire::BotParams;
use botform::threecommas::{Client, ClientConfig, Credentials};
use criterion::{Criterion, criterion_group, criterion_main};

const BINANCE: i64 = 31_896_123;
const BYBIT: i64 = 31_896_124;

fn config_text(n: usize) -> String {
    let mut text = String::from(
        "[accounts.spot]\nname = \"Binance Spot\"\n[accounts.futures]\nname = \"Bybit Futures\"\n\n[templates.t]\nstart = [{ strategy = \"nonstop\" }]\nbase_order_volume = 10\nsafety_order_volume = 20\nmax_safety_orders = 5\nactive_safety_orders_count = 2\nsafety_order_step_percentage = 1.2\nmartingale_volume_coefficient = 1.5\nmartingale_step_coefficient = 1.2\ntake_profit = 1.5\ntake_profit_type = \"total\"\n",
    );
    for i in 0..n {
        let (account, pair) = if i % 2 == 0 {
            ("spot", "USDT_BTC")
        } else {
            ("futures", "USDT_BTCUSDT")
        };
        // Every tenth bot differs from the live one, so the plan has work to render.
        let tp = if i % 10 == 0 { "2" } else { "1.5" };
        text.push_str(&format!("\n[[bots]]\nname = \"bot {i}\"\naccount = \"{account}\"\npairs = [\"{pair}\"]\ntemplate = \"t\"\ntake_profit = {tp}\n"));
    }
    text
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let n = 1000;
    let (running, client) = runtime.block_on(async {
        let running = sandbox::start(SandboxConfig {
            rate_limit: 1_000_000,
            ..SandboxConfig::default()
        })
        .await
        .unwrap();
        let mut config = ClientConfig::new(
            &running.base_url,
            Credentials::hmac(sandbox::DEFAULT_API_KEY, sandbox::DEFAULT_API_SECRET),
        );
        config.requests_per_minute = 1_000_000;
        let client = Client::new(config).unwrap();
        for i in 0..n {
            let (account, pair) = if i % 2 == 0 {
                (BINANCE, "USDT_BTC")
            } else {
                (BYBIT, "USDT_BTCUSDT")
            };
            let settings = BotSettings {
                name: Some(format!("bot {i}")),
                pairs: Some(vec![pair.into()]),
                base_order_volume: Some("10".parse().unwrap()),
                safety_order_volume: Some("20".parse().unwrap()),
                max_safety_orders: Some(5),
                active_safety_orders_count: Some(2),
                safety_order_step_percentage: Some("1.2".parse().unwrap()),
                martingale_volume_coefficient: Some("1.5".parse().unwrap()),
                martingale_step_coefficient: Some("1.2".parse().unwrap()),
                take_profit: Some("1.5".parse().unwrap()),
                take_profit_type: Some(botform::model::enums::TakeProfitType::Total),
                strategy_list: Some(vec![StrategyCondition {
                    strategy: "nonstop".into(),
                    options: Default::default(),
                }]),
                ..Default::default()
            };
            client
                .create_bot(&BotParams::create(account, &settings))
                .await
                .unwrap();
        }
        (running, client)
    });
    let stats_url = format!("{}/__sandbox/stats", running.base_url);
    let live = runtime.block_on(async {
        reqwest::Client::new()
            .post(format!("{stats_url}/reset"))
            .send()
            .await
            .unwrap();
        let live = target::read_live(&client, false).await.unwrap();
        let stats: serde_json::Value = reqwest::get(&stats_url)
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let requests = stats["total"].as_u64().unwrap();
        println!(
            "plan over {n} bots on two accounts: {requests} API requests ({})",
            stats["by_endpoint"]
        );
        assert!(
            requests <= 15,
            "a plan over 1,000 bots must cost at most 15 requests, cost {requests}"
        );
        live
    });
    assert_eq!(live.bots.len(), n);
    let text = config_text(n);
    let target = plan::PlanTarget {
        api_url: "bench".into(),
        mode: None,
        sandbox: true,
    };
    let local = || {
        let checked = config::check_sources(vec![SourceFile::new(
            "bots.toml".into(),
            Syntax::Toml,
            text.clone(),
        )]);
        assert!(checked.is_valid(), "{:?}", checked.diagnostics.first());
        let wanted = desired::from_checked(&checked);
        let plan = plan::plan(&wanted, &live, target.clone()).unwrap();
        assert_eq!(plan.summary.change, n / 10);
        let mut out = Vec::new();
        render::render(
            &mut out,
            &plan,
            &render::RenderOptions {
                color: false,
                show_unmanaged: false,
            },
        )
        .unwrap();
        out.len()
    };
    let start = Instant::now();
    local();
    println!("plan local work, one cold run: {:?}", start.elapsed());
    c.bench_function("plan 1000 bots: load, validate, diff, render", |b| {
        b.iter(local)
    });
    running.stop();
}

criterion_group!(benches, bench);
criterion_main!(benches);
