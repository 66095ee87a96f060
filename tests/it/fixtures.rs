//! Every real 3Commas response in `tests/fixtures/3commas` parses with the client's wire types.

use std::path::Path;

use botform::threecommas::wire::*;
use serde::de::DeserializeOwned;

use super::root;

fn fixture(name: &str) -> serde_json::Value {
    let path = root().join("tests/fixtures/3commas").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse<T: DeserializeOwned>(name: &str, value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
}

fn each<T: DeserializeOwned>(name: &str) -> Vec<T> {
    match fixture(name) {
        serde_json::Value::Array(items) => items.into_iter().map(|i| parse(name, i)).collect(),
        other => vec![parse(name, other)],
    }
}

#[test]
fn bot_entities_parse_and_map_to_the_model() {
    for name in [
        "bot_entity.json",
        "bot_show.json",
        "bots_list.json",
        "bot_create_response.json",
        "bot_update_response.json",
        "bot_enable_response.json",
        "bot_disable_response.json",
        "bot_panic_sell_all_deals_response.json",
        "bot_cancel_all_deals_response.json",
        "observed/bots_list_scope_enabled.json",
        "observed/bots_list_filter_account.json",
        "observed/bot_with_tv_custom_signal_safety_strategy.json",
    ] {
        let bots: Vec<WireBot> = each(name);
        assert!(!bots.is_empty(), "{name}");
        for bot in bots {
            let live = bot.to_model();
            assert_eq!(live.id, bot.id);
            assert!(live.settings.base_order_volume.is_some(), "{name}");
            assert!(live.settings.strategy_list.is_some(), "{name}");
        }
    }
}

#[test]
fn a_sandbox_bot_has_the_exact_key_set_of_a_real_one() {
    let real = fixture("observed/bot_with_tv_custom_signal_safety_strategy.json");
    let real = if real.is_array() {
        real[0].clone()
    } else {
        real
    };
    let bot: WireBot = parse("observed", real.clone());
    let again = serde_json::to_value(&bot).unwrap();
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&again), keys(&real), "same keys, same order");
    assert_eq!(keys(&real).len(), 63);
}

#[test]
fn the_other_responses_parse() {
    let _: Vec<Account> = each("accounts.json");
    let _: Vec<Account> = each("account_show.json");
    let _: Vec<Account> = each("account_entity.json");
    let _: Vec<Deal> = each("deals_list.json");
    let _: Vec<Deal> = each("deal_show.json");
    let _: Vec<Deal> = each("deal_entity.json");
    let _: Vec<Deal> = each("observed/deals_list_bot.json");
    let _: Vec<Deal> = each("observed/deal_show.json");
    let _: Vec<BotDealsStats> = each("bot_deals_stats.json");
    let _: Vec<BotsStats> = each("bots_stats.json");
    let profit: ProfitByDay = parse("profit", fixture("bot_profit_by_day.json"));
    assert!(!profit.data.is_empty());
    let _: Blacklist = parse("bl", fixture("pairs_black_list.json"));
    let _: Blacklist = parse("bl", fixture("update_pairs_black_list_response.json"));
    let _: CopyAndCreate = parse("copy", fixture("bot_copy_and_create_response.json"));
    let _: bool = parse("delete", fixture("bot_delete_response.json"));
    let _: serde_json::Map<String, serde_json::Value> =
        parse("strategies", fixture("strategy_list_full.json"));
}

#[test]
fn every_error_fixture_is_an_error_body() {
    let dir = root().join("tests/fixtures/3commas");
    let mut count = 0;
    for sub in ["", "observed"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            if !name.starts_with("error_") {
                continue;
            }
            let body: ErrorBody = parse(&name, read(&path));
            assert!(!body.error.is_empty());
            count += 1;
        }
    }
    assert!(count >= 14);
    let stop_loss: ErrorBody = parse("sl", fixture("error_bot_update_400_stop_loss.json"));
    assert!(
        stop_loss
            .error_attributes
            .unwrap()
            .contains_key("stop_loss_percentage")
    );
}

#[test]
fn every_json_fixture_is_read_by_some_test() {
    // Request examples are sent, not parsed; everything else above. Keep this list honest.
    let dir = root().join("tests/fixtures/3commas");
    let total = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count()
        + std::fs::read_dir(dir.join("observed")).unwrap().count();
    assert!(total >= 70, "{total}");
}

fn read(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}
