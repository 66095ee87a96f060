//! The loader never panics, whatever the bytes.

use botform::config::{
    self,
    source::{SourceFile, Syntax},
};
use proptest::prelude::*;

fn check(text: String, syntax: Syntax) {
    let name = match syntax {
        Syntax::Toml => "p.toml",
        Syntax::Yaml => "p.yaml",
    };
    let checked = config::check_sources(vec![SourceFile::new(name.into(), syntax, text)]);
    // Every diagnostic must render and locate without panicking.
    let _ = botform::report::build(&checked);
    let mut out = Vec::new();
    botform::diagnostic::render_human(
        &mut out,
        &checked.diagnostics,
        &checked.config.sources,
        false,
    )
    .unwrap();
}

const SEED_TOML: &str = include_str!("../../examples/bots/shared.toml");
const SEED_YAML: &str = include_str!("../../examples/bots/tp-steps.yaml");

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(text.clone(), Syntax::Toml);
        check(text, Syntax::Yaml);
    }

    #[test]
    fn mutated_examples_never_panic(cut in 0usize..2000, insert in "[\\[\\]{}:=,\"'#\\- \\n\\té0-9a-z_]{0,8}") {
        for (seed, syntax) in [(SEED_TOML, Syntax::Toml), (SEED_YAML, Syntax::Yaml)] {
            let mut at = cut.min(seed.len());
            while !seed.is_char_boundary(at) { at -= 1; }
            let text = format!("{}{}{}", &seed[..at], insert, &seed[at..]);
            check(text, syntax);
        }
    }
}

/// An opening and closing for one level of nesting, in either syntax and any form.
fn nesting(syntax: Syntax, kind: u8, level: usize) -> (String, String) {
    let indent = "  ".repeat(level);
    match (syntax, kind % 4) {
        (Syntax::Yaml, 0) => (format!("\n{indent}- "), String::new()),
        (Syntax::Yaml, 1) => (format!("\n{indent}k{level}: "), String::new()),
        (Syntax::Yaml, 2) | (Syntax::Toml, 0 | 2) => ("[".into(), "]".into()),
        _ => (format!("{{k{level}: "), "}".into()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Documents nested far past the limit, in any mix of block and flow forms, and alias chains
    /// of any fan-out: each is an answer (a located error at worst), never a stack overflow or an
    /// unbounded expansion. A crash would abort the whole test binary.
    #[test]
    fn deep_and_aliased_documents_are_bounded(
        kinds in proptest::collection::vec(any::<u8>(), 1..400),
        fan_out in 2usize..12,
        levels in 1usize..12,
    ) {
        for syntax in [Syntax::Toml, Syntax::Yaml] {
            let (mut open, mut close) = (String::new(), String::new());
            for (level, kind) in kinds.iter().enumerate() {
                let (o, c) = nesting(syntax, *kind, level);
                open.push_str(&o);
                close.insert_str(0, &c);
            }
            let text = match syntax {
                Syntax::Toml => format!("x = {open}1{close}\n"),
                Syntax::Yaml => format!("x: {open}1{close}\n"),
            };
            check(text, syntax);
        }
        let mut bomb = String::from("a0: &a0 [1]\n");
        for level in 1..=levels {
            let refs = vec![format!("*a{}", level - 1); fan_out].join(", ");
            bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        let checked = config::check_sources(vec![SourceFile::new("b.yaml".into(), Syntax::Yaml, bomb)]);
        // Small chains expand; large ones stop at the budget with one located error.
        // Each copied `1` costs a node and its byte; each list a node: at least 64 bytes a node.
        let expanded: usize = (1..=levels).map(|l| fan_out.pow(l as u32)).sum();
        if expanded * 65 > botform::config::node::MAX_ALIAS_BYTES {
            prop_assert!(checked.diagnostics.iter().any(|d| d.message.contains("aliases expand")));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever a client sends as a bot, the sandbox answers with a verdict, never a panic.
    #[test]
    fn sandbox_bot_rules_never_panic(
        body in proptest::collection::btree_map(
            prop_oneof![
                Just("name"), Just("pairs"), Just("base_order_volume"), Just("safety_order_volume"),
                Just("max_safety_orders"), Just("active_safety_orders_count"), Just("take_profit"),
                Just("martingale_volume_coefficient"), Just("martingale_step_coefficient"),
                Just("safety_order_step_percentage"), Just("stop_loss_percentage"), Just("strategy_list"),
                Just("take_profit_steps"), Just("custom_safety_steps"), Just("cooldown"), Just("take_profit_type"),
            ],
            prop_oneof![
                any::<i64>().prop_map(|i| serde_json::json!(i)),
                any::<f64>().prop_map(|f| serde_json::json!(f)),
                "\\PC{0,12}".prop_map(|s| serde_json::json!(s)),
                Just(serde_json::json!(["USDT_BTC", "USDT_ETH"])),
                Just(serde_json::json!([{"strategy": "nonstop", "options": {}}])),
                Just(serde_json::json!([{"amount_percentage": 50, "profit_percentage": 1}])),
                Just(serde_json::json!(null)),
                Just(serde_json::json!({"a": [1, {"b": 2}]})),
            ],
            0..16,
        )
    ) {
        use botform::sandbox::{bots, params::Params};
        let bytes = serde_json::to_vec(&body).unwrap();
        let mut params = Params::parse(None, Some("application/json"), &bytes).unwrap();
        let mut bot = bots::new_bot(1, 31_896_123, "Binance Spot", "0123456789".into());
        bots::apply(&mut bot, &mut params, "binance", true);
        let form = Params::parse(Some("pairs=USDT_BTC&max_safety_orders=x"), Some("application/x-www-form-urlencoded"), &bytes);
        prop_assert!(form.is_ok());
    }
}

/// Whatever valid settings a config sets, what 3Commas (the sandbox) stores compares equal to
/// them: the normalization leaves no perpetual diff.
#[test]
fn stored_settings_always_compare_equal_to_what_was_sent() {
    use botform::engine::plan::comparable;
    use botform::model::bot::{BotSettings, StrategyCondition};
    use botform::sandbox::{self, SandboxConfig};
    use botform::threecommas::wire::BotParams;
    use botform::threecommas::{BotsFilter, Client, ClientConfig, Credentials};
    use proptest::test_runner::{Config, TestRunner};

    let runtime = tokio::runtime::Runtime::new().unwrap();
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
        (running, Client::new(config).unwrap())
    });
    // A decimal written with a random number of trailing zeros: 1.5, 1.50, 1.500.
    let decimal = |lo: u32, hi: u32| {
        (lo..hi, 0usize..3).prop_map(|(hundredths, zeros)| {
            format!(
                "{}.{:02}{}",
                hundredths / 100,
                hundredths % 100,
                "0".repeat(zeros)
            )
        })
    };
    let pairs =
        proptest::sample::subsequence(vec!["USDT_BTC", "USDT_ETH", "USDT_SOL", "USDT_BNB"], 1..4)
            .prop_shuffle();
    let strategy = (
        pairs,
        decimal(1000, 5000),
        decimal(1000, 5000),
        0u32..8,
        decimal(50, 300),
        decimal(100, 200),
        decimal(100, 150),
        decimal(30, 900),
        (10u32..60, prop_oneof![Just("15m"), Just("1h")]),
        any::<bool>(),
    );
    let mut runner = TestRunner::new(Config {
        cases: 40,
        ..Config::default()
    });
    let n = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(
            &strategy,
            |(pairs, base, safety, max_so, step, mvc, msc, tp, (points, time), trailing)| {
                let n = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let single = pairs.len() == 1;
                let settings = BotSettings {
                    name: Some(format!("prop {n}")),
                    pairs: Some(pairs.iter().map(|p| p.to_string()).collect()),
                    base_order_volume: Some(base.parse().unwrap()),
                    safety_order_volume: Some(safety.parse().unwrap()),
                    max_safety_orders: Some(max_so),
                    active_safety_orders_count: Some(max_so.clamp(1, 2)),
                    safety_order_step_percentage: Some(step.parse().unwrap()),
                    martingale_volume_coefficient: Some(mvc.parse().unwrap()),
                    martingale_step_coefficient: Some(msc.parse().unwrap()),
                    take_profit: Some(tp.parse().unwrap()),
                    take_profit_type: Some(botform::model::enums::TakeProfitType::Total),
                    trailing_enabled: Some(trailing),
                    trailing_deviation: Some("0.10".parse().unwrap()),
                    strategy_list: Some(if single {
                        vec![StrategyCondition {
                            strategy: "nonstop".into(),
                            options: Default::default(),
                        }]
                    } else {
                        vec![StrategyCondition {
                            strategy: "rsi".into(),
                            options: [
                                ("points", points.to_string()),
                                ("time", time.to_string()),
                                ("trigger_condition", "less".into()),
                                ("time_period", "14".into()),
                            ]
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect(),
                        }]
                    }),
                    cooldown: Some(points * 10),
                    ..BotSettings::default()
                };
                let stored = runtime.block_on(async {
                    let created = client
                        .create_bot(&BotParams::create(31_896_123, &settings))
                        .await
                        .unwrap();
                    client
                        .bots(BotsFilter::default())
                        .await
                        .unwrap()
                        .bots
                        .into_iter()
                        .find(|b| b.id == created.id)
                        .unwrap()
                });
                let sent = comparable(&settings);
                let have = comparable(&stored.settings);
                for (field, value) in &sent {
                    prop_assert_eq!(have.get(field), Some(value), "field {}", field);
                }
                Ok(())
            },
        )
        .unwrap();
    running.stop();
}
