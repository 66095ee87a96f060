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
