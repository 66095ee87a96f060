//! Deal actions and TradingView signals in the sandbox: what a trader (or an alert) does to a
//! running deal, by 3Commas' rules (`GRID-SIGNALS-DEALS.md` §2 and §3, kept in
//! `tests/fixtures/3commas/SOURCES.md`).
//!
//! Owns:
//! - `cancel` and `panic_sell`: asynchronous as on 3Commas. The answer (201) shows the pending
//!   state (`cancel_pending`, `panic_sell_pending`); [`settle`] moves a pending deal to its final
//!   status (`cancelled`, `panic_sold` at the price then) [`SETTLE_MS`] after the action.
//! - `add_funds` (a market order, or a limit order that is marketable, filled at once: the
//!   sandbox keeps no resting orders and refuses a limit below the price with 422, naming that),
//!   `update_deal` (the status gate and the stop-loss check 3Commas makes) and
//!   `update_max_safety_orders`.
//! - The webhook `POST /trade_signal/trading_view`: messages (one object or an array) with the
//!   account's email token start, close at market or add funds to a deal of a bot that starts on
//!   `tv_custom_signal`, under the same rules as a deal the market opens: the bot enabled, below
//!   `max_active_deals` and the same-pair limit, past its cooldown, the pair in the bot and not
//!   blacklisted. 3Commas does not document the answers; the sandbox answers 200 `"Success!"`
//!   (what the clients' own mocks answer) and a refusal with an error body and a 4xx status,
//!   and records every message's outcome (never its token) in its signal log
//!   (`GET /__sandbox/signals`, and stderr).

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::params::Params;
use super::state::{ModeState, State, now_iso};
use crate::model::decimal::Decimal;
use crate::model::enums::TradingMode;
use crate::threecommas::wire::{ErrorBody, WireBot};

/// How long a cancel or panic sell stays pending before it settles.
pub const SETTLE_MS: i64 = 1_000;

/// Statuses a deal ends in.
pub const FINAL_STATUSES: &[&str] = &[
    "completed",
    "cancelled",
    "panic_sold",
    "stop_loss_finished",
    "failed",
    "liquidated",
];

/// Why a deal action was refused: the status and the body 3Commas answers with.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub body: Value,
}

impl Refusal {
    fn of(status: StatusCode, body: ErrorBody) -> Refusal {
        Refusal {
            status,
            body: serde_json::to_value(body).expect("error bodies serialize"),
        }
    }

    pub(super) fn not_found() -> Refusal {
        Refusal::of(
            StatusCode::NOT_FOUND,
            ErrorBody::new("not_found", Some("Not Found")),
        )
    }

    /// 403: "operation is not allowed for this resource in its current state" (the 2026 errors
    /// page).
    fn not_allowed(what: &str) -> Refusal {
        Refusal::of(
            StatusCode::FORBIDDEN,
            ErrorBody::new(
                "access_denied",
                Some(&format!(
                    "Operation is not allowed for this resource in its current state ({what})"
                )),
            ),
        )
    }

    /// 400 `record_invalid` with every problem the parameters collected (Grape-style), if any.
    pub(super) fn invalid_params(p: &mut Params) -> Option<Refusal> {
        (!p.errors.is_empty()).then(|| {
            Refusal::of(
                StatusCode::BAD_REQUEST,
                ErrorBody::record_invalid(std::mem::take(&mut p.errors)),
            )
        })
    }

    fn unprocessable(message: &str) -> Refusal {
        Refusal {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            body: json!({ "error": message }),
        }
    }
}

fn number(deal: &Value, field: &str) -> Decimal {
    match &deal[field] {
        Value::String(s) => s.parse().unwrap_or_default(),
        Value::Number(n) => n.to_string().parse().unwrap_or_default(),
        _ => Decimal::ZERO,
    }
}

fn text(d: Decimal) -> Value {
    Value::String(d.normalize().to_string())
}

fn is_final(deal: &Value) -> bool {
    deal["finished?"].as_bool() == Some(true)
        || FINAL_STATUSES.contains(&deal["status"].as_str().unwrap_or(""))
}

fn deal_mut(ms: &mut ModeState, id: i64) -> Result<&mut Value, Refusal> {
    ms.deals.get_mut(&id).ok_or_else(Refusal::not_found)
}

/// The price a deal trades at now: the market's last close for its pair when the market runs,
/// else the deal's own current price, else the sandbox's reference price.
pub fn price_now(deal: &Value, market_price: Option<Decimal>, market_code: &str) -> Decimal {
    let pair = deal["pair"].as_str().unwrap_or("");
    market_price
        .filter(|p| *p > Decimal::ZERO)
        .or_else(|| Some(number(deal, "current_price")).filter(|p| *p > Decimal::ZERO))
        .or_else(|| super::state::price(market_code, pair))
        .unwrap_or_default()
}

/// `POST /ver1/deals/{id}/cancel`: 201 with the deal `cancel_pending`.
pub fn cancel(ms: &mut ModeState, id: i64) -> Result<Value, Refusal> {
    let deal = deal_mut(ms, id)?;
    if is_final(deal) || deal["cancellable?"].as_bool() != Some(true) {
        return Err(Refusal::not_allowed("deal cannot be cancelled"));
    }
    deal["status"] = "cancel_pending".into();
    deal["localized_status"] = "Cancel pending".into();
    deal["cancellable?"] = false.into();
    deal["panic_sellable?"] = false.into();
    deal["add_fundable"] = false.into();
    deal["updated_at"] = now_iso().into();
    Ok(deal.clone())
}

/// `POST /ver1/deals/{id}/panic_sell`: 201 with the deal `panic_sell_pending`.
pub fn panic_sell(ms: &mut ModeState, id: i64) -> Result<Value, Refusal> {
    let deal = deal_mut(ms, id)?;
    if is_final(deal) || deal["panic_sellable?"].as_bool() != Some(true) {
        return Err(Refusal::not_allowed(
            "deal cannot be closed at market price",
        ));
    }
    start_panic_sell(deal);
    Ok(deal.clone())
}

fn start_panic_sell(deal: &mut Value) {
    deal["status"] = "panic_sell_pending".into();
    deal["localized_status"] = "Closing at Market Price".into();
    deal["panic_sellable?"] = false.into();
    deal["add_fundable"] = false.into();
    deal["updated_at"] = now_iso().into();
}

fn is_long(deal: &Value) -> bool {
    deal["strategy"].as_str() != Some("short")
}

/// `POST /ver1/deals/{id}/add_funds`: `quantity` (base) and `is_market` required, `rate` for a
/// limit order, `response_type` `empty|deal|market_order`.
pub fn add_funds(
    ms: &mut ModeState,
    id: i64,
    p: &mut Params,
    market_price: Option<Decimal>,
) -> Result<Value, Refusal> {
    p.require(&["quantity", "is_market"]);
    let quantity = p.decimal("quantity");
    let is_market = p.bool("is_market");
    let rate = p.decimal("rate");
    let response_type = p
        .one_of("response_type", &["empty", "deal", "market_order"])
        .unwrap_or_else(|| "empty".into());
    if is_market == Some(false) && rate.is_none() {
        p.error("rate", "is missing");
    }
    if let Some(q) = quantity
        && q <= Decimal::ZERO
    {
        p.error("quantity", "must be greater than 0");
    }
    if let Some(refusal) = Refusal::invalid_params(p) {
        return Err(refusal);
    }
    let (Some(quantity), Some(is_market)) = (quantity, is_market) else {
        p.error("quantity", super::params::INVALID);
        return Err(Refusal::invalid_params(p).expect("an error was just added"));
    };
    let market_code = market_of_deal(ms, id);
    let deal = deal_mut(ms, id)?;
    if is_final(deal)
        || deal["status"].as_str() != Some("bought")
        || deal["add_fundable"].as_bool() == Some(false)
    {
        return Err(Refusal::not_allowed("funds cannot be added to this deal"));
    }
    let price = price_now(deal, market_price, &market_code);
    let fill = if is_market {
        price
    } else {
        let rate = rate.unwrap_or_default();
        let marketable = if is_long(deal) {
            rate >= price
        } else {
            rate <= price
        };
        if !marketable {
            return Err(Refusal::unprocessable(
                "sandbox: a limit order away from the price would rest on the exchange; the sandbox keeps no resting orders (use is_market, or a rate at or through the price)",
            ));
        }
        price
    };
    let volume = quantity * fill;
    let (amount_field, volume_field, average_field) = if is_long(deal) {
        ("bought_amount", "bought_volume", "bought_average_price")
    } else {
        ("sold_amount", "sold_volume", "sold_average_price")
    };
    let amount = number(deal, amount_field) + quantity;
    let total = number(deal, volume_field) + volume;
    deal[amount_field] = text(amount);
    deal[volume_field] = text(total);
    if amount > Decimal::ZERO {
        let average = (total / amount).round_dp(10);
        deal[average_field] = text(average);
        // The take profit follows the new average, as 3Commas moves its order.
        let tp = number(deal, "take_profit");
        if tp > Decimal::ZERO {
            let hundred = Decimal::from_int(100);
            let price = if is_long(deal) {
                average * (hundred + tp) / hundred
            } else {
                average * (hundred - tp) / hundred
            };
            deal["take_profit_price"] = text(price.round_dp(10));
        }
    }
    let manual = deal["completed_manual_safety_orders_count"]
        .as_i64()
        .unwrap_or(0);
    deal["completed_manual_safety_orders_count"] = (manual + 1).into();
    deal["current_price"] = text(price);
    deal["updated_at"] = now_iso().into();
    let order = json!({
        "order_id": format!("{}{:04}", id, manual + 1),
        "order_type": if is_long(deal) { "BUY" } else { "SELL" },
        "deal_order_type": "Manual Safety",
        "cancellable": false,
        "status_string": "Filled",
        "created_at": now_iso(),
        "updated_at": now_iso(),
        "quantity": text(quantity),
        "quantity_remaining": "0.0",
        "total": text(volume),
        "rate": text(rate.unwrap_or(fill)),
        "average_price": text(fill),
    });
    Ok(match response_type.as_str() {
        "deal" => deal.clone(),
        "market_order" => order,
        _ => Value::Null,
    })
}

fn market_of_deal(ms: &ModeState, id: i64) -> String {
    ms.deals
        .get(&id)
        .and_then(|d| d["account_id"].as_i64())
        .and_then(|a| ms.account(a))
        .and_then(|a| a["market_code"].as_str())
        .unwrap_or("")
        .to_string()
}

/// `PATCH /ver1/deals/{id}/update_deal`: only a `bought` (or `close_strategy_activated`) deal;
/// the fields botform sends (take profit, stop loss, safety orders, trailing, note); other
/// fields are ignored, as 3Commas ignores what it does not know.
pub fn update_deal(
    ms: &mut ModeState,
    id: i64,
    p: &mut Params,
    market_price: Option<Decimal>,
) -> Result<Value, Refusal> {
    let market_code = market_of_deal(ms, id);
    let deal = deal_mut(ms, id)?;
    if !matches!(
        deal["status"].as_str(),
        Some("bought" | "close_strategy_activated")
    ) {
        p.error("base", "Can't be edit");
        return Err(Refusal::invalid_params(p).expect("an error was just added"));
    }
    let take_profit = p.decimal("take_profit");
    let stop_loss = p.decimal("stop_loss_percentage");
    let max_so = if p.has("max_safety_orders") {
        p.int_in("max_safety_orders", 0, 200)
    } else {
        None
    };
    let active_so = if p.has("active_safety_orders_count") {
        p.int_in("active_safety_orders_count", 0, 200)
    } else {
        None
    };
    let trailing = p.bool("trailing_enabled");
    let tsl = p.bool("tsl_enabled");
    let note = p.string("note");
    if p.has("close_timeout") && p.int("close_timeout").is_some_and(|t| t < 60) {
        p.error("close_timeout", "must be greater than or equal to 60");
    }
    if let Some(tp) = take_profit
        && tp < Decimal::ZERO
    {
        p.error("take_profit", "must be greater than or equal to 0");
    }
    let average = number(deal, "bought_average_price");
    let long = is_long(deal);
    if let Some(sl) = stop_loss {
        if sl < Decimal::ZERO || sl > Decimal::from_int(100) {
            p.error("stop_loss_percentage", "must be between 0 and 100");
        } else if sl > Decimal::ZERO && average > Decimal::ZERO {
            let hundred = Decimal::from_int(100);
            let sl_price = if long {
                average * (hundred - sl) / hundred
            } else {
                average * (hundred + sl) / hundred
            };
            let price = price_now(deal, market_price, &market_code);
            let through = if long {
                sl_price >= price
            } else {
                sl_price <= price
            };
            if through {
                p.error("stop_loss_percentage", "Must be less than current price");
            }
        }
    }
    if let Some(refusal) = Refusal::invalid_params(p) {
        return Err(refusal);
    }
    let hundred = Decimal::from_int(100);
    if let Some(tp) = take_profit {
        deal["take_profit"] = text(tp);
        if average > Decimal::ZERO {
            let price = if long {
                average * (hundred + tp) / hundred
            } else {
                average * (hundred - tp) / hundred
            };
            deal["take_profit_price"] = text(price.round_dp(10));
        }
    }
    if let Some(sl) = stop_loss {
        deal["stop_loss_percentage"] = text(sl);
        deal["stop_loss_price"] = if sl > Decimal::ZERO && average > Decimal::ZERO {
            let price = if long {
                average * (hundred - sl) / hundred
            } else {
                average * (hundred + sl) / hundred
            };
            text(price.round_dp(10))
        } else {
            Value::Null
        };
    }
    if let Some(n) = max_so {
        deal["max_safety_orders"] = n.into();
    }
    if let Some(n) = active_so {
        deal["active_safety_orders_count"] = n.into();
    }
    if let Some(t) = trailing {
        deal["trailing_enabled"] = t.into();
    }
    if let Some(t) = tsl {
        deal["tsl_enabled"] = t.into();
    }
    if let Some(n) = note {
        deal["note"] = n.into();
    }
    deal["updated_at"] = now_iso().into();
    Ok(deal.clone())
}

/// `POST /ver1/deals/{id}/update_max_safety_orders`.
pub fn update_max_safety_orders(
    ms: &mut ModeState,
    id: i64,
    p: &mut Params,
) -> Result<Value, Refusal> {
    p.require(&["max_safety_orders"]);
    let n = p.int_in("max_safety_orders", 0, 200);
    if let Some(refusal) = Refusal::invalid_params(p) {
        return Err(refusal);
    }
    let deal = deal_mut(ms, id)?;
    if is_final(deal) {
        return Err(Refusal::not_allowed("the deal is finished"));
    }
    deal["max_safety_orders"] = n.unwrap_or(0).into();
    deal["updated_at"] = now_iso().into();
    Ok(deal.clone())
}

/// Deals whose cancel or panic sell has been pending for [`SETTLE_MS`], per mode.
pub fn due(state: &State, now_ms: i64) -> Vec<(TradingMode, i64, String)> {
    let mut due = Vec::new();
    for mode in [TradingMode::Paper, TradingMode::Real] {
        for (id, deal) in &state.mode(mode).deals {
            let pending = matches!(
                deal["status"].as_str(),
                Some("cancel_pending" | "panic_sell_pending")
            );
            let since = crate::timefmt::parse_iso(deal["updated_at"].as_str().unwrap_or(""))
                .map_or(0, |s| s * 1000);
            if pending && since + SETTLE_MS <= now_ms {
                due.push((mode, *id, deal["pair"].as_str().unwrap_or("").to_string()));
            }
        }
    }
    due
}

/// Move a pending deal to its final status; `false` when it was not pending (any more).
pub fn settle(ms: &mut ModeState, id: i64, market_price: Option<Decimal>) -> bool {
    let market_code = market_of_deal(ms, id);
    let Some(deal) = ms.deals.get_mut(&id) else {
        return false;
    };
    let now = now_iso();
    match deal["status"].as_str() {
        Some("cancel_pending") => {
            deal["status"] = "cancelled".into();
            deal["localized_status"] = "Cancelled".into();
        }
        Some("panic_sell_pending") => {
            let price = price_now(deal, market_price, &market_code);
            let long = is_long(deal);
            let (held_amount, held_volume, exit) = if long {
                ("bought_amount", "bought_volume", "sold")
            } else {
                ("sold_amount", "sold_volume", "bought")
            };
            let amount = number(deal, held_amount);
            let entry = number(deal, held_volume);
            let exit_volume = amount * price;
            deal[format!("{exit}_amount")] = text(amount);
            deal[format!("{exit}_volume")] = text(exit_volume.round_dp(10));
            deal[format!("{exit}_average_price")] = text(price);
            let profit = if long {
                exit_volume - entry
            } else {
                entry - exit_volume
            }
            .round_dp(8);
            deal["final_profit"] = text(profit);
            deal["actual_profit"] = text(profit);
            if entry > Decimal::ZERO {
                let pct = (profit / entry * Decimal::from_int(100)).round_dp(2);
                deal["final_profit_percentage"] = text(pct);
                deal["actual_profit_percentage"] = text(pct);
            }
            // In USD at the sandbox's prices, as the market's deals show it.
            let rate = super::market::usd_rate(deal["pair"].as_str().unwrap_or(""), &market_code)
                .and_then(|r| r.to_string().parse::<Decimal>().ok());
            if let Some(rate) = rate {
                deal["usd_final_profit"] = text((profit * rate).round_dp(2));
                deal["actual_usd_profit"] = text(profit * rate);
            }
            deal["current_price"] = text(price);
            deal["status"] = "panic_sold".into();
            deal["localized_status"] = "Closed at Market Price".into();
        }
        _ => return false,
    }
    deal["finished?"] = true.into();
    deal["cancellable?"] = false.into();
    deal["panic_sellable?"] = false.into();
    deal["add_fundable"] = false.into();
    deal["closed_at"] = now.clone().into();
    deal["updated_at"] = now.into();
    deal["current_active_safety_orders_count"] = 0.into();
    deal["current_active_safety_orders"] = 0.into();
    true
}

/// Text from a message as the signal log shows it: at most 40 characters, control characters
/// escaped, so a message cannot forge a log line.
pub fn shown(text: &str) -> String {
    crate::diagnostic::quote_input(&text.chars().take(40).collect::<String>())
}

/// One TradingView message's outcome, for the signal log (never the token).
#[derive(Debug, Clone, serde::Serialize)]
pub struct SignalOutcome {
    pub at: String,
    pub bot_id: Option<i64>,
    pub action: String,
    pub pair: String,
    pub accepted: bool,
    /// What it did (the deal id) or why it was refused.
    pub detail: String,
    #[serde(skip)]
    pub status: u16,
}

/// A message, read: where it goes and what it asks. `Err` is a refusal of the message itself.
pub struct Signal {
    pub bot_id: i64,
    pub action: String,
    pub pair: Option<String>,
    pub volume: Option<Decimal>,
    pub price: Option<Decimal>,
}

/// Read one message; the token is checked (in constant time) against `token`.
pub fn read_signal(message: &Value, token: &str) -> Result<Signal, (u16, String, Option<i64>)> {
    let bot_id = match &message["bot_id"] {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let given = message["email_token"].as_str().unwrap_or("");
    let same: bool = subtle::ConstantTimeEq::ct_eq(given.as_bytes(), token.as_bytes()).into();
    if !same || token.is_empty() {
        return Err((401, "wrong or missing email_token".into(), bot_id));
    }
    if message["message_type"].as_str() != Some("bot") {
        return Err((
            422,
            "message_type must be \"bot\" (a DCA bot signal)".into(),
            bot_id,
        ));
    }
    let Some(bot_id) = bot_id else {
        return Err((422, "bot_id is missing or not a number".into(), None));
    };
    let action = message["action"].as_str().unwrap_or("start").to_string();
    let decimal = |field: &str| match &message[field] {
        Value::String(s) => s.trim().parse::<Decimal>().ok(),
        Value::Number(n) => n.to_string().parse::<Decimal>().ok(),
        _ => None,
    };
    Ok(Signal {
        bot_id,
        action,
        pair: message["pair"]
            .as_str()
            .map(|p| p.trim().to_ascii_uppercase()),
        volume: decimal("volume"),
        price: decimal("price"),
    })
}

/// The mode a bot lives in (bot ids are unique across modes).
pub fn mode_of_bot(state: &State, bot_id: i64) -> Option<TradingMode> {
    [TradingMode::Real, TradingMode::Paper]
        .into_iter()
        .find(|m| state.mode(*m).bots.contains_key(&bot_id))
}

/// The pair a signal addresses on `bot`, or why none.
fn signal_pair(bot: &WireBot, pair: Option<&str>) -> Result<String, String> {
    match pair {
        Some(p) if bot.pairs.iter().any(|b| b == p) => Ok(p.to_string()),
        Some(p) => Err(format!("pair {} is not one of the bot's pairs", shown(p))),
        None if bot.pairs.len() == 1 => Ok(bot.pairs[0].clone()),
        None => Err("a multi-pair bot needs `pair` in the message".into()),
    }
}

fn active_on(ms: &ModeState, bot_id: i64) -> impl Iterator<Item = (&i64, &Value)> {
    ms.deals
        .iter()
        .filter(move |(_, d)| d["bot_id"].as_i64() == Some(bot_id) && !is_final(d))
}

/// Run one read message on the state: start, close at market or add funds. `Ok` says what it
/// did; `Err` is (status, why).
pub fn run_signal(
    ms: &mut ModeState,
    next_deal_id: &mut i64,
    signal: &Signal,
    market_price: impl Fn(&str) -> Option<Decimal>,
) -> Result<(String, Option<i64>), (u16, String)> {
    let bot = ms
        .bots
        .get(&signal.bot_id)
        .cloned()
        .ok_or((404, format!("bot {} not found", signal.bot_id)))?;
    let market_code = ms
        .account(bot.account_id)
        .and_then(|a| a["market_code"].as_str())
        .unwrap_or("")
        .to_string();
    let pair = signal_pair(&bot, signal.pair.as_deref()).map_err(|why| (422, why))?;
    let open_on_pair: Vec<i64> = active_on(ms, bot.id)
        .filter(|(_, d)| d["pair"].as_str() == Some(pair.as_str()))
        .map(|(id, _)| *id)
        .collect();
    match signal.action.as_str() {
        "start" => {
            let starts_on_signal = bot
                .strategy_list
                .iter()
                .any(|s| s.strategy == "tv_custom_signal");
            if !starts_on_signal {
                return Err((
                    422,
                    "the bot does not start deals on TradingView custom signals".into(),
                ));
            }
            if !bot.is_enabled {
                return Err((422, "the bot is disabled".into()));
            }
            if ms.blacklist.contains(&pair) {
                return Err((422, format!("{pair} is on the account's blacklist")));
            }
            let active = active_on(ms, bot.id).count() as i64;
            if active >= bot.max_active_deals.max(1) {
                return Err((
                    422,
                    format!("the bot has {active} active deal(s), its max_active_deals"),
                ));
            }
            let same_pair = bot.allowed_deals_on_same_pair.unwrap_or(1).max(1);
            if open_on_pair.len() as i64 >= same_pair {
                return Err((
                    422,
                    format!(
                        "{pair} already has {same_pair} active deal(s) (allowed_deals_on_same_pair)"
                    ),
                ));
            }
            let cooldown_ms = bot
                .cooldown
                .and_then(|c| c.to_string().parse::<f64>().ok())
                .map_or(0, |s| (s * 1000.0) as i64);
            let last_closed = ms
                .deals
                .values()
                .filter(|d| {
                    d["bot_id"].as_i64() == Some(bot.id) && d["pair"].as_str() == Some(&pair)
                })
                .filter_map(|d| crate::timefmt::parse_iso(d["closed_at"].as_str()?))
                .max();
            if let Some(closed) = last_closed
                && closed * 1000 + cooldown_ms > super::state::now_millis()
            {
                return Err((422, "the bot's cooldown has not passed".into()));
            }
            let price = market_price(&pair)
                .or_else(|| super::state::price(&market_code, &pair))
                .ok_or((422, format!("no price for {pair}")))?;
            let mut deal = super::market::signal_deal(
                &bot,
                &market_code,
                &pair,
                price,
                super::state::now_millis(),
            )
            .map_err(|why| (422, why))?;
            let id = *next_deal_id;
            *next_deal_id += 1;
            deal["id"] = id.into();
            ms.deals.insert(id, deal);
            Ok((format!("started deal {id} on {pair}"), Some(id)))
        }
        "close_at_market_price" => {
            let Some(id) = open_on_pair.first().copied() else {
                return Err((422, format!("no active deal on {pair}")));
            };
            let deal = ms.deals.get_mut(&id).expect("listed above");
            if deal["panic_sellable?"].as_bool() != Some(true) {
                return Err((
                    422,
                    format!("deal {id} cannot be closed at market price now"),
                ));
            }
            start_panic_sell(deal);
            Ok((format!("closing deal {id} at market price"), Some(id)))
        }
        "add_funds_in_quote" => {
            let Some(id) = open_on_pair.first().copied() else {
                return Err((422, format!("no active deal on {pair}")));
            };
            let Some(volume) = signal.volume.filter(|v| *v > Decimal::ZERO) else {
                return Err((422, "add_funds_in_quote needs a positive `volume`".into()));
            };
            let deal = &ms.deals[&id];
            let price = price_now(deal, market_price(&pair), &market_code);
            if price <= Decimal::ZERO {
                return Err((422, format!("no price for {pair}")));
            }
            let quantity = (volume / price).round_dp(10);
            let mut params = Params::default();
            params.values.insert("quantity".into(), text(quantity));
            params
                .values
                .insert("is_market".into(), signal.price.is_none().into());
            if let Some(rate) = signal.price {
                params.values.insert("rate".into(), text(rate));
            }
            add_funds(ms, id, &mut params, market_price(&pair)).map_err(|r| {
                (
                    r.status.as_u16(),
                    r.body["error_description"]
                        .as_str()
                        .or(r.body["error"].as_str())
                        .unwrap_or("refused")
                        .to_string(),
                )
            })?;
            Ok((format!("added {volume} to deal {id}"), Some(id)))
        }
        other => Err((
            422,
            format!(
                "unknown action `{}` (start: no action; close_at_market_price; add_funds_in_quote)",
                crate::diagnostic::quote_input(other)
            ),
        )),
    }
}
