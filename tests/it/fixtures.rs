//! Every real 3Commas JSON file in `tests/fixtures/3commas` is accounted for: each response an
//! endpoint botform calls parses with the client's wire type for it, each request example with the
//! type botform sends, and the rest is named with the reason botform does not read it. A new
//! fixture that nobody classifies fails the test.

use std::collections::BTreeSet;

use botform::model::bot::{StrategyCondition, TakeProfitStep};
use botform::threecommas::wire::*;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::root;

/// What a fixture holds, and so how botform must be able to read it.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// A bot entity, or a list of them.
    Bot,
    /// A grid bot entity (its 48 keys), or a list of them.
    GridBot,
    Account,
    /// The balances table (`account_table_data`).
    Balances,
    /// A deal entity, or a list of them (lists, shows and the deal actions' answers).
    Deal,
    Error,
    DealsStats,
    BotsStats,
    ProfitByDay,
    Blacklist,
    CopyAndCreate,
    /// `true`: the delete answer.
    Bool,
    /// A JSON object botform reads as a map (strategy list, currency rates, validate).
    Object,
    /// A list of pair names.
    Pairs,
    /// A strategy_list request example.
    Conditions,
    /// The take_profit_steps request example.
    TakeProfitSteps,
    /// A grid bot's `required_balances`.
    GridRequiredBalances,
    /// Valid JSON of an endpoint or request botform does not use (say which in the table).
    NotUsed,
}

const FIXTURES: &[(&str, Kind)] = &[
    ("account_entity.json", Kind::Account),
    ("account_show.json", Kind::Account),
    ("accounts.json", Kind::Account),
    ("account_table_data.json", Kind::Balances),
    ("bot_cancel_all_deals_response.json", Kind::Bot),
    ("bot_copy_and_create_request.json", Kind::NotUsed), // the client builds this body itself
    ("bot_copy_and_create_response.json", Kind::CopyAndCreate),
    ("bot_create_request.json", Kind::NotUsed), // sent by the sandbox tests through BotParams
    ("bot_create_response.json", Kind::Bot),
    ("bot_create_strategy_list_manual.json", Kind::Conditions),
    (
        "bot_create_strategy_list_manual_empty.json",
        Kind::Conditions,
    ),
    ("bot_create_strategy_list_nonstop.json", Kind::NotUsed), // a docs typo: options split off
    ("bot_create_strategy_list_rsi.json", Kind::Conditions),
    (
        "bot_create_strategy_list_trading_view.json",
        Kind::Conditions,
    ),
    ("bot_deals_stats.json", Kind::DealsStats),
    ("bot_delete_response.json", Kind::Bool),
    ("bot_disable_response.json", Kind::Bot),
    ("bot_enable_response.json", Kind::Bot),
    ("bot_entity.json", Kind::Bot),
    ("bot_panic_sell_all_deals_response.json", Kind::Bot),
    ("bot_profit_by_day.json", Kind::ProfitByDay),
    ("bot_show.json", Kind::Bot),
    ("bot_take_profit_steps_example.json", Kind::TakeProfitSteps),
    ("bot_update_request.json", Kind::NotUsed), // the client builds updates from the live bot
    ("bot_update_response.json", Kind::Bot),
    ("bots_list.json", Kind::Bot),
    ("bots_stats.json", Kind::BotsStats),
    ("bots_stats_by_date.json", Kind::NotUsed), // stats_by_date: not called
    ("currency_rates.json", Kind::Object),
    ("currency_rates_with_leverage_data.json", Kind::Object),
    ("deal_add_funds_request.json", Kind::NotUsed), // the client builds this body itself
    ("deal_add_funds_response_market_order.json", Kind::Object), // `botform deal add-funds`
    ("deal_cancel_response.json", Kind::Deal),
    // A SmartTrade entity: `deals --smart-trades` reads it (tests/it/deals.rs).
    ("deal_convert_to_smart_trade_response.json", Kind::NotUsed),
    ("deal_data_for_adding_funds.json", Kind::NotUsed),
    ("deal_entity.json", Kind::Deal),
    ("deal_market_orders.json", Kind::NotUsed),
    ("deal_panic_sell_response.json", Kind::Deal),
    ("deal_panic_sell_step_response.json", Kind::Deal),
    ("deal_show.json", Kind::Deal),
    ("deal_update_max_safety_orders_response.json", Kind::Deal),
    ("deal_update_request.json", Kind::NotUsed),
    ("deal_update_response.json", Kind::Deal),
    ("deal_update_take_profit_steps_example.json", Kind::NotUsed),
    ("deals_list.json", Kind::Deal),
    // Grid bots (issue 19): `model::grid`'s unit tests check their geometry, `grid_wire` reads
    // them (no client calls yet).
    ("grid_bot_create_response.json", Kind::GridBot),
    ("grid_bot_disable_response.json", Kind::GridBot),
    ("grid_bot_enable_response.json", Kind::GridBot),
    ("grid_bot_entity.json", Kind::GridBot),
    ("grid_bot_list.json", Kind::GridBot),
    ("grid_bot_note_response.json", Kind::GridBot),
    (
        "grid_bot_required_balances.json",
        Kind::GridRequiredBalances,
    ),
    ("grid_bot_show.json", Kind::GridBot),
    ("grid_bot_update_response.json", Kind::GridBot),
    ("market_list.json", Kind::NotUsed), // the sandbox serves it; botform does not read it
    ("market_pairs.json", Kind::Pairs),
    ("pairs_black_list.json", Kind::Blacklist),
    ("signature_test_vectors.json", Kind::NotUsed), // read by the signing unit tests
    ("signing_example_request_body.json", Kind::NotUsed), // in the signing vectors
    ("strategy_list.json", Kind::Object),
    ("strategy_list_full.json", Kind::Object),
    ("update_pairs_black_list_response.json", Kind::Blacklist),
    ("validate.json", Kind::Object),
    (
        "observed/bot_with_tv_custom_signal_safety_strategy.json",
        Kind::Bot,
    ),
    ("observed/bots_list_filter_account.json", Kind::Bot),
    ("observed/bots_list_scope_enabled.json", Kind::Bot),
    ("observed/deal_market_orders.json", Kind::NotUsed),
    ("observed/deal_show.json", Kind::Deal),
    ("observed/deals_list_bot.json", Kind::Deal),
];

fn fixture(name: &str) -> Value {
    let path = root().join("tests/fixtures/3commas").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse<T: DeserializeOwned>(name: &str, value: Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
}

/// An entity or a list of them.
fn each<T: DeserializeOwned>(name: &str) -> Vec<T> {
    match fixture(name) {
        Value::Array(items) => items.into_iter().map(|i| parse(name, i)).collect(),
        other => vec![parse(name, other)],
    }
}

fn read_as(name: &str, kind: Kind) {
    match kind {
        Kind::GridRequiredBalances => {
            let r: Vec<botform::threecommas::grid_wire::RequiredBalances> = each(name);
            assert_eq!(r[0].required_balance.base.currency, "BTC");
        }
        Kind::GridBot => {
            let raw: Vec<Value> = match fixture(name) {
                Value::Array(items) => items,
                one => vec![one],
            };
            for entity in &raw {
                let keys: Vec<&str> = entity
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                let expected: Vec<&str> = botform::threecommas::grid_wire::ENTITY_KEYS
                    .iter()
                    .copied()
                    // The enable example predates `mode` on that page.
                    .filter(|k| *k != "mode" || name != "grid_bot_enable_response.json")
                    .collect();
                let (mut got, mut want) = (keys.clone(), expected.clone());
                got.sort();
                want.sort();
                assert_eq!(got, want, "{name}: the entity's keys");
            }
            let bots: Vec<botform::threecommas::grid_wire::WireGridBot> = each(name);
            for bot in bots {
                // 3Commas' step is the grid's own, as `model::grid` computes it.
                let grid = botform::model::grid::Grid {
                    lower: bot.lower_price,
                    upper: bot.upper_price,
                    lines: bot.grids_quantity,
                    grid_type: bot
                        .grid_type
                        .unwrap_or(botform::model::enums::GridType::Arithmetic),
                };
                let ours = grid.step().unwrap().round_dp(10);
                assert_eq!(
                    Some(ours),
                    bot.grid_price_step.map(|s| s.round_dp(10)),
                    "{name}"
                );
            }
        }
        Kind::Bot => {
            let bots: Vec<WireBot> = each(name);
            assert!(!bots.is_empty(), "{name}");
            for bot in bots {
                let live = bot.to_model();
                assert_eq!(live.id, bot.id);
                assert!(live.settings.base_order_volume.is_some(), "{name}");
                assert!(live.settings.strategy_list.is_some(), "{name}");
            }
        }
        Kind::Account => assert!(!each::<Account>(name).is_empty()),
        Kind::Deal => assert!(!each::<Deal>(name).is_empty()),
        Kind::Balances => assert!(
            parse::<Vec<Balance>>(name, fixture(name))
                .iter()
                .all(|b| b.position_available.is_some())
        ),
        Kind::Error => assert!(!parse::<ErrorBody>(name, fixture(name)).error.is_empty()),
        Kind::DealsStats => drop(parse::<BotDealsStats>(name, fixture(name))),
        Kind::BotsStats => drop(parse::<BotsStats>(name, fixture(name))),
        Kind::ProfitByDay => assert!(!parse::<ProfitByDay>(name, fixture(name)).data.is_empty()),
        Kind::Blacklist => drop(parse::<Blacklist>(name, fixture(name))),
        Kind::CopyAndCreate => drop(parse::<CopyAndCreate>(name, fixture(name))),
        Kind::Bool => assert!(parse::<bool>(name, fixture(name))),
        Kind::Object => drop(parse::<Map<String, Value>>(name, fixture(name))),
        Kind::Pairs => assert!(!parse::<Vec<String>>(name, fixture(name)).is_empty()),
        Kind::Conditions => drop(parse::<Vec<StrategyCondition>>(name, fixture(name))),
        Kind::TakeProfitSteps => {
            let steps: Vec<TakeProfitStep> =
                parse(name, fixture(name)["take_profit_steps"].clone());
            assert_eq!(steps.len(), 2);
        }
        Kind::NotUsed => drop(fixture(name)),
    }
}

fn kind_of(name: &str) -> Option<Kind> {
    if name
        .rsplit('/')
        .next()
        .is_some_and(|f| f.starts_with("error_"))
    {
        return Some(Kind::Error);
    }
    FIXTURES.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
}

#[test]
fn every_fixture_is_classified_and_read_as_what_it_is() {
    let dir = root().join("tests/fixtures/3commas");
    let mut names = BTreeSet::new();
    for sub in ["", "observed/"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let file = entry.unwrap().file_name().to_string_lossy().into_owned();
            if file.ends_with(".json") {
                names.insert(format!("{sub}{file}"));
            }
        }
    }
    let unclassified: Vec<&String> = names.iter().filter(|n| kind_of(n).is_none()).collect();
    assert!(
        unclassified.is_empty(),
        "classify these fixtures in FIXTURES: {unclassified:?}"
    );
    let stale: Vec<&str> = FIXTURES
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !names.contains(*n))
        .collect();
    assert!(
        stale.is_empty(),
        "FIXTURES names files that do not exist: {stale:?}"
    );
    for name in &names {
        read_as(name, kind_of(name).expect("classified above"));
    }
    let read = names
        .iter()
        .filter(|n| !matches!(kind_of(n), Some(Kind::NotUsed)))
        .count();
    assert!(
        read >= 45,
        "{read} of {} fixtures are read by the client",
        names.len()
    );
}

#[test]
fn field_errors_survive_parsing() {
    let stop_loss: ErrorBody = parse("sl", fixture("error_bot_update_400_stop_loss.json"));
    assert!(
        stop_loss
            .error_attributes
            .unwrap()
            .contains_key("stop_loss_percentage")
    );
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
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&again), keys(&real), "same keys, same order");
    assert_eq!(keys(&real).len(), 63);
}
