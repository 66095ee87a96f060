//! DCA bot create and update as the 3Commas server does them: required fields, enums, ranges, the
//! stop-loss-below-the-last-safety-order rule, single vs multi pair, server defaults for what the
//! request leaves out (on create) or keeps (on update).

use serde_json::Value;

use super::params::{INVALID, MISSING, NOT_VALID_VALUE, Params};
use super::state::{self, now_iso};
use crate::model::dca::{self, LadderInput};
use crate::model::decimal::Decimal;
use crate::threecommas::wire::{
    UPDATE_REQUIRED, WireBot, WireSafetyStep, WireStrategy, WireTakeProfitStep, ruby_decimal,
};

fn dec(s: &str) -> Option<Decimal> {
    s.parse().ok()
}

/// A bot as the server stores it right after create, before the request's values are applied.
pub fn new_bot(id: i64, account_id: i64, account_name: &str, url_secret: String) -> WireBot {
    let now = now_iso();
    WireBot {
        id,
        account_id,
        is_enabled: false,
        max_safety_orders: 0,
        active_safety_orders_count: 0,
        pairs: Vec::new(),
        strategy_list: Vec::new(),
        close_strategy_list: Vec::new(),
        safety_strategy_list: Vec::new(),
        max_active_deals: 1,
        active_deals_count: 0,
        deletable: true,
        created_at: now.clone(),
        updated_at: now,
        trailing_enabled: Some(false),
        tsl_enabled: Some(false),
        deal_start_delay_seconds: None,
        stop_loss_timeout_enabled: Some(false),
        stop_loss_timeout_in_seconds: Some(0),
        disable_after_deals_count: None,
        deals_counter: None,
        allowed_deals_on_same_pair: None,
        easy_form_supported: false,
        close_deals_timeout: None,
        url_secret,
        take_profit_steps: Vec::new(),
        custom_safety_steps: Vec::new(),
        name: String::new(),
        take_profit: None,
        min_profit_percentage: dec("0"),
        base_order_volume: None,
        safety_order_volume: None,
        safety_order_step_percentage: None,
        safety_order_calculation_mode: Some("base".into()),
        take_profit_type: Some("total".into()),
        min_profit_type: None,
        bot_type: "Bot::SingleBot".into(),
        martingale_volume_coefficient: dec("1"),
        martingale_step_coefficient: dec("1"),
        stop_loss_percentage: dec("0"),
        cooldown: dec("0"),
        btc_price_limit: dec("0"),
        strategy: "long".into(),
        min_volume_btc_24h: dec("0"),
        profit_currency: Some("quote_currency".into()),
        min_price: None,
        max_price: None,
        stop_loss_type: Some("stop_loss".into()),
        safety_order_volume_type: Some("quote_currency".into()),
        base_order_volume_type: Some("quote_currency".into()),
        account_name: account_name.to_string(),
        trailing_deviation: dec("0.2"),
        finished_deals_profit_usd: dec("0"),
        finished_deals_count: dec("0"),
        leverage_type: Some("not_specified".into()),
        leverage_custom_value: None,
        start_order_type: Some("limit".into()),
        active_deals_usd_profit: dec("0"),
        reinvesting_percentage: dec("0"),
        risk_reduction_percentage: dec("0"),
        reinvested_volume_usd: None,
        min_price_percentage: None,
        max_price_percentage: None,
        active_deals: None,
    }
}

const VOLUME_TYPES: &[&str] = &["quote_currency", "base_currency", "percent", "xbt"];

/// Apply request parameters to `bot` (a new bot on create, the stored one on update) and check
/// the result as the server would. Problems land in `p.errors`.
pub fn apply(bot: &mut WireBot, p: &mut Params, market_code: &str, create: bool) {
    if create {
        p.require(&["account_id"]);
    }
    // `take_profit` must be there, but an explicit `null` counts (3Commas' own examples send it
    // with take-profit steps).
    let take_profit_null = p.values.get("take_profit").is_some_and(|v| v.is_null());
    let required: Vec<&str> = UPDATE_REQUIRED
        .iter()
        .copied()
        .filter(|f| !(take_profit_null && *f == "take_profit"))
        .collect();
    p.require(&required);

    if let Some(name) = p.string("name") {
        if name.trim().is_empty() || name.chars().count() > 200 {
            p.error("name", NOT_VALID_VALUE);
        } else {
            bot.name = name;
        }
    }
    if let Some(items) = p.array("pairs", true) {
        let pairs: Vec<String> = items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        if pairs.is_empty() || pairs.len() != items.len() {
            p.error("pairs", INVALID);
        } else {
            for pair in &pairs {
                if state::price(market_code, pair).is_none() {
                    p.error("pairs", format!("No market data for this pair: {pair}"));
                }
            }
            bot.pairs = pairs;
        }
    }
    for (field, target) in [
        ("strategy_list", &mut bot.strategy_list),
        ("close_strategy_list", &mut bot.close_strategy_list),
        ("safety_strategy_list", &mut bot.safety_strategy_list),
    ] {
        if let Some(items) = p.array(field, false) {
            match strategies(&items) {
                Some(list) => *target = list,
                None => p.error(field, INVALID),
            }
        }
    }
    // The direction is a create parameter only: 3Commas' edit endpoint does not declare it, and
    // Grape drops undeclared parameters without a word.
    if create && let Some(v) = p.one_of("strategy", &["long", "short"]) {
        bot.strategy = v;
    }
    macro_rules! set_decimal {
        ($($field:ident),*) => {$(
            if p.has(stringify!($field)) {
                if let Some(v) = p.decimal(stringify!($field)) { bot.$field = Some(v); }
            }
        )*};
    }
    set_decimal!(
        base_order_volume,
        safety_order_volume,
        safety_order_step_percentage,
        take_profit,
        martingale_volume_coefficient,
        martingale_step_coefficient,
        stop_loss_percentage,
        trailing_deviation,
        min_profit_percentage,
        min_volume_btc_24h,
        min_price,
        max_price,
        min_price_percentage,
        max_price_percentage,
        leverage_custom_value,
        reinvesting_percentage,
        risk_reduction_percentage,
        btc_price_limit
    );
    macro_rules! set_enum {
        ($($field:ident: $allowed:expr),*) => {$(
            if let Some(v) = p.one_of(stringify!($field), $allowed) { bot.$field = Some(v); }
        )*};
    }
    set_enum!(
        base_order_volume_type: VOLUME_TYPES,
        safety_order_volume_type: VOLUME_TYPES,
        take_profit_type: &["base", "total"],
        min_profit_type: &["base_order_volume", "total_bought_volume"],
        profit_currency: &["quote_currency", "base_currency"],
        stop_loss_type: &["stop_loss", "stop_loss_and_disable_bot"],
        start_order_type: &["limit", "market"],
        leverage_type: &["cross", "isolated", "not_specified", "custom"]
    );
    if bot.leverage_type.as_deref() == Some("custom") {
        bot.leverage_type = Some("isolated".into()); // deprecated; stored as isolated
    }
    if let Some(v) = p.int_in("max_safety_orders", 0, 200) {
        bot.max_safety_orders = v;
    }
    if let Some(v) = p.int("active_safety_orders_count") {
        bot.active_safety_orders_count = v;
    }
    if let Some(v) = p.int_in("max_active_deals", 1, 199) {
        bot.max_active_deals = v;
    }
    if let Some(v) = p.int_in("cooldown", 0, 2_592_000) {
        bot.cooldown = Some(Decimal::from_int(v));
    }
    macro_rules! set_int {
        ($($field:ident),*) => {$(
            if p.has(stringify!($field)) {
                if let Some(v) = p.int(stringify!($field)) { bot.$field = Some(v); }
            }
        )*};
    }
    set_int!(
        deal_start_delay_seconds,
        stop_loss_timeout_in_seconds,
        disable_after_deals_count,
        allowed_deals_on_same_pair,
        close_deals_timeout
    );
    macro_rules! set_bool {
        ($($field:ident),*) => {$(
            if p.has(stringify!($field)) {
                if let Some(v) = p.bool(stringify!($field)) { bot.$field = Some(v); }
            }
        )*};
    }
    set_bool!(trailing_enabled, tsl_enabled, stop_loss_timeout_enabled);
    if p.has("sl_to_breakeven_enabled") {
        p.bool("sl_to_breakeven_enabled");
    }
    if let Some(items) = p.array("take_profit_steps", false) {
        match take_profit_steps(&items) {
            Some(steps) => bot.take_profit_steps = steps,
            None => p.error("take_profit_steps", INVALID),
        }
    }
    if let Some(items) = p.array("custom_safety_steps", false) {
        match custom_safety_steps(&items) {
            Some(steps) => bot.custom_safety_steps = steps,
            None => p.error("custom_safety_steps", INVALID),
        }
    }
    if !p.errors.is_empty() {
        return;
    }
    if take_profit_null {
        bot.take_profit = None;
    }
    // "Multibot only" (legacy docs): a single-pair bot stores no deals-per-pair (recorded single
    // bots keep it null) and opens at most one deal on its pair at a time (review L-2).
    if bot.pairs.len() <= 1 {
        bot.allowed_deals_on_same_pair = None;
    }
    check(bot, p);
    // With take-profit steps, 3Commas keeps no ordinary take profit: 0 is stored as null.
    if !bot.take_profit_steps.is_empty() && bot.take_profit.is_some_and(|t| t.is_zero()) {
        bot.take_profit = None;
    }
    bot.bot_type = if bot.pairs.len() > 1 {
        "Bot::MultiBot"
    } else {
        "Bot::SingleBot"
    }
    .into();
    bot.updated_at = now_iso();
}

/// Rules across fields, checked on the bot as it would be stored.
fn check(bot: &WireBot, p: &mut Params) {
    // 0 active safety orders is valid: signal-driven safety orders (a real 2025 bot has it).
    let max = bot.max_safety_orders;
    let active = bot.active_safety_orders_count;
    if active < 0 || (max > 0 && active > max) {
        p.error("active_safety_orders_count", NOT_VALID_VALUE);
    }
    let deals_per_pair = bot.allowed_deals_on_same_pair.unwrap_or(1).max(1);
    let most_deals = bot.pairs.len() as i64 * deals_per_pair;
    if bot.max_active_deals > most_deals {
        p.error(
            "max_active_deals",
            format!("must be less than or equal to {most_deals}"),
        );
    }
    let coefficient_ok = |d: Option<Decimal>| {
        d.is_some_and(|d| d >= dec("0.1").unwrap() && d <= Decimal::from_int(10))
    };
    for (field, value) in [
        (
            "martingale_volume_coefficient",
            bot.martingale_volume_coefficient,
        ),
        (
            "martingale_step_coefficient",
            bot.martingale_step_coefficient,
        ),
    ] {
        if !coefficient_ok(value) {
            p.error(field, NOT_VALID_VALUE);
        }
    }
    for (field, value) in [
        ("base_order_volume", bot.base_order_volume),
        ("safety_order_volume", bot.safety_order_volume),
    ] {
        if value.is_none_or(|v| v <= Decimal::ZERO) {
            p.error(field, NOT_VALID_VALUE);
        }
    }
    if bot
        .safety_order_step_percentage
        .is_none_or(|v| v <= Decimal::ZERO)
    {
        p.error("safety_order_step_percentage", NOT_VALID_VALUE);
    }
    if bot.take_profit.is_some_and(|v| v < Decimal::ZERO) {
        p.error("take_profit", NOT_VALID_VALUE);
    }
    let steps = &bot.take_profit_steps;
    if steps.is_empty() && bot.take_profit.is_none() {
        p.error("take_profit", MISSING);
    }
    if !steps.is_empty() && bot.take_profit.is_some_and(|t| !t.is_zero()) {
        p.error(
            "take_profit_steps",
            "Not available to create bot with take profit steps and ordinary take profit",
        );
    }
    if steps.len() > 4 {
        p.error("take_profit_steps", "Maximum 4 take profit steps");
    }
    if !steps.is_empty()
        && steps.iter().map(|s| s.amount_percentage).sum::<Decimal>() != Decimal::ONE_HUNDRED
    {
        p.error(
            "take_profit_steps",
            "Total amount of take profit steps should be 100%",
        );
    }
    if bot.pairs.len() > 1 && bot.strategy_list.iter().any(|s| s.strategy == "nonstop") {
        p.error(
            "strategy_list",
            "Nonstop strategy is available only for single pair bots",
        );
    }
    // 3Commas requires each toggle's companion in the request that turns it on (review M-2):
    // checked on the request's own parameters, not on the merged bot, whose stored values would
    // hide a request that left the companion out.
    for (toggle, on, companion) in crate::threecommas::wire::COMPANIONS {
        let turned_on = p
            .values
            .get(*toggle)
            .is_some_and(|v| v == &Value::Bool(true) || v.as_str().is_some_and(|s| s == *on));
        if turned_on && !p.has(companion) {
            p.error(companion, "is missing");
        }
    }
    if bot.close_deals_timeout.is_some_and(|t| t < 60) {
        p.error("close_deals_timeout", NOT_VALID_VALUE);
    }
    let hundred = Decimal::ONE_HUNDRED;
    for (field, value) in [
        ("stop_loss_percentage", bot.stop_loss_percentage),
        ("reinvesting_percentage", bot.reinvesting_percentage),
        ("risk_reduction_percentage", bot.risk_reduction_percentage),
    ] {
        if value.is_some_and(|v| v < Decimal::ZERO || v > hundred) {
            p.error(field, NOT_VALID_VALUE);
        }
    }
    for (field, value) in [
        ("min_price_percentage", bot.min_price_percentage),
        ("max_price_percentage", bot.max_price_percentage),
    ] {
        if value.is_some_and(|v| v <= Decimal::from_int(-95) || v >= Decimal::from_int(1000)) {
            p.error(field, NOT_VALID_VALUE);
        }
    }
    if bot.custom_safety_steps.iter().any(|s| {
        s.deviation < Decimal::from_int(-100)
            || s.deviation > Decimal::from_int(10_000)
            || s.size <= Decimal::ZERO
    }) {
        p.error("custom_safety_steps", NOT_VALID_VALUE);
    }
    // Minimum order size, in the quote currency, as exchanges enforce it (and currency_rates says).
    if bot.base_order_volume_type.as_deref() == Some("quote_currency")
        && let (Some(volume), Some(pair)) = (bot.base_order_volume, bot.pairs.first())
    {
        let min = min_total(pair);
        if volume > Decimal::ZERO && volume < min {
            p.error(
                "base_order_volume",
                format!(
                    "Base order size is too small. Min: {}, {pair}",
                    ruby_decimal::format(&min)
                ),
            );
        }
    }
    // The stop loss must lie beyond the last safety order.
    if let Some(sl) = bot.stop_loss_percentage
        && !sl.is_zero()
        && max > 0
        && let Some(input) = LadderInput::from_settings(&bot.to_model().settings)
        && let Ok(numbers) = dca::compute(&input)
        && sl <= numbers.price_move_covered_percentage
    {
        p.error(
            "stop_loss_percentage",
            format!(
                "Stop Loss should be below the last safety order ({})",
                ruby_decimal::format(&numbers.price_move_covered_percentage)
            ),
        );
    }
}

fn strategies(items: &[Value]) -> Option<Vec<WireStrategy>> {
    let mut list = Vec::new();
    for item in items {
        let strategy = item.get("strategy")?.as_str()?.to_string();
        let options = match item.get("options") {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(crate::model::bot::option_text(v))))
                .collect(),
            Some(_) => return None,
        };
        list.push(WireStrategy { options, strategy });
    }
    Some(list)
}

fn number(v: Option<&Value>) -> Option<Decimal> {
    match v? {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn take_profit_steps(items: &[Value]) -> Option<Vec<WireTakeProfitStep>> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            Some(WireTakeProfitStep {
                id: Some(i as i64),
                amount_percentage: number(item.get("amount_percentage"))?,
                profit_percentage: number(item.get("profit_percentage"))?,
            })
        })
        .collect()
}

fn custom_safety_steps(items: &[Value]) -> Option<Vec<WireSafetyStep>> {
    items
        .iter()
        .map(|item| {
            Some(WireSafetyStep {
                deviation: number(item.get("deviation"))?,
                size: number(item.get("size"))?,
            })
        })
        .collect()
}

/// The smallest order the sandbox's exchange takes on a pair, in its quote currency (what
/// `currency_rates` reports as `minTotal`).
pub fn min_total(pair: &str) -> Decimal {
    if pair.split('_').next() == Some("BTC") {
        dec("0.0001").expect("literal")
    } else {
        Decimal::from_int(5)
    }
}
