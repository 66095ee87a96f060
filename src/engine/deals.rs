//! Deal actions (cancel, panic sell, add funds, update), gated like apply, for the CLI and MCP.
//!
//! Owns the three steps every front end runs, so the safety is the same whoever asks:
//! 1. [`preview`]: read the deal and say what the action will do (the deal, its pair, its P&L
//!    now, what is sold or bought and by what kind of order), or why it cannot run (the deal has
//!    closed, 3Commas' guard flag says no). The front end shows it and asks the person.
//! 2. [`run`]: under the account's lease (one writer per account, as apply), read the deal again,
//!    send the action, and for cancel and panic sell (asynchronous on 3Commas: the answer shows
//!    `cancel_pending`/`panic_sell_pending`) poll the deal until it reaches its final status;
//!    an update is read back and compared, as careful clients do.
//! 3. [`audit::record`]: every attempt (run, refused, declined, failed) goes into the audit log.

use std::time::Duration;

use serde::Serialize;

use super::audit::{self, AuditEntry, Who};
use crate::model::decimal::Decimal;
use crate::threecommas::wire::Deal;
use crate::threecommas::{ApiError, Client};

/// Which deals to read: of a bot or an account (or all), finished ones that closed at or after
/// `since` and/or the active ones, at most `cap` of each scope.
#[derive(Debug, Clone)]
pub struct DealsWanted {
    pub bot_id: Option<i64>,
    pub account_id: Option<i64>,
    pub finished: bool,
    pub active: bool,
    /// Seconds since 1970; `i64::MIN` for every finished deal.
    pub since: i64,
    pub cap: u32,
}

/// Deals read, with those that could not be, and the requests it took.
#[derive(Debug, Default)]
pub struct DealsRead {
    pub deals: Vec<Deal>,
    /// `deal ID: why`, for deals 3Commas sent that botform cannot read.
    pub unreadable: Vec<String>,
    pub requests: usize,
    /// A scope had more deals than `cap`: the oldest were not read.
    pub capped: bool,
}

/// Read deals as the fidelity rules require: 1,000 a page; finished deals newest closing first
/// (`order=closed_at`), read until the pages pass `since` (only while 3Commas keeps that order:
/// a page out of order means reading on, never missing a deal); every deal once. Every deal with
/// no window is one listing with no scope (the fewest requests).
pub async fn read_deals(client: &Client, wanted: &DealsWanted) -> Result<DealsRead, ApiError> {
    let mut read = DealsRead::default();
    let mut seen = std::collections::BTreeSet::new();
    // Every deal, with no window: one listing (no scope) does it in the fewest requests.
    let scopes: Vec<Option<&str>> = if wanted.finished && wanted.active && wanted.since == i64::MIN
    {
        vec![None]
    } else {
        [("finished", wanted.finished), ("active", wanted.active)]
            .into_iter()
            .filter(|(_, on)| *on)
            .map(|(scope, _)| Some(scope))
            .collect()
    };
    for scope in scopes {
        let finished_only = scope == Some("finished");
        let mut offset = 0u32;
        let mut ordered = true;
        let mut last_closed = i64::MAX;
        loop {
            let page = client
                .deals_page(&crate::threecommas::client::DealsQuery {
                    bot_id: wanted.bot_id,
                    account_id: wanted.account_id,
                    scope: scope.map(str::to_string),
                    order: finished_only.then(|| "closed_at".to_string()),
                    limit: 1000,
                    offset,
                })
                .await?;
            read.requests += 1;
            offset += page.seen as u32;
            for u in page.unreadable {
                read.unreadable.push(format!(
                    "deal {}: {}",
                    u.id.map_or_else(|| "(no id)".to_string(), |id| id.to_string()),
                    crate::diagnostic::quote_input(&u.reason)
                ));
            }
            for deal in page.deals {
                if finished_only {
                    let closed = deal
                        .closed_at
                        .as_deref()
                        .and_then(crate::timefmt::parse_iso)
                        .unwrap_or(i64::MIN);
                    ordered &= closed <= last_closed;
                    last_closed = closed;
                }
                if seen.insert(deal.id) {
                    read.deals.push(deal);
                }
            }
            if page.seen < 1000 || (ordered && finished_only && last_closed < wanted.since) {
                break;
            }
            if offset >= wanted.cap {
                read.capped = true;
                break;
            }
        }
    }
    Ok(read)
}

/// One SmartTrade (v2, read only), as `deals --smart-trades` and MCP `smart_trades` list it.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct SmartTradeLine {
    pub id: i64,
    pub pair: String,
    pub account: String,
    pub kind: String,
    pub status: String,
    pub profit: String,
    pub profit_percent: String,
    pub profit_usd: String,
}

/// The most SmartTrades one listing reads (10 pages of 100).
const MAX_SMART_TRADE_PAGES: u32 = 10;

pub fn smart_trade_line(t: &serde_json::Value) -> SmartTradeLine {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    SmartTradeLine {
        id: t["id"].as_i64().unwrap_or(0),
        pair: text(&t["pair"]),
        account: text(&t["account"]["name"]),
        kind: text(&t["data"]["type"]),
        status: text(&t["status"]["type"]),
        profit: text(&t["profit"]["volume"]),
        profit_percent: text(&t["profit"]["percent"]),
        profit_usd: text(&t["profit"]["usd"]),
    }
}

/// Every SmartTrade in `status` (`all`, `active`, `finished`), newest first, up to
/// [`MAX_SMART_TRADE_PAGES`] pages.
pub async fn read_smart_trades(
    client: &Client,
    status: &str,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let mut all = Vec::new();
    for page in 1..=MAX_SMART_TRADE_PAGES {
        let items = client.smart_trades(page, 100, status).await?;
        let full = items.len() == 100;
        all.extend(items);
        if !full {
            break;
        }
    }
    Ok(all)
}

/// What to do to a deal.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Stop managing the deal: 3Commas cancels its orders and leaves what it bought on the
    /// account.
    Cancel,
    /// Close at market now.
    PanicSell,
    /// Buy (a short: sell) `quantity` of the base currency more, at market or at `price`.
    AddFunds {
        quantity: Decimal,
        price: Option<Decimal>,
    },
    /// Change the running deal's take profit, safety orders or stop loss.
    Update(DealUpdate),
}

/// The fields `deal update` changes; `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DealUpdate {
    pub take_profit: Option<Decimal>,
    pub max_safety_orders: Option<u32>,
    pub stop_loss_percentage: Option<Decimal>,
}

impl DealUpdate {
    fn is_empty(&self) -> bool {
        *self == DealUpdate::default()
    }

    fn body(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut body = serde_json::Map::new();
        let text = |d: Decimal| serde_json::Value::String(d.to_string());
        if let Some(tp) = self.take_profit {
            body.insert("take_profit".into(), text(tp));
        }
        if let Some(n) = self.max_safety_orders {
            body.insert("max_safety_orders".into(), n.into());
        }
        if let Some(sl) = self.stop_loss_percentage {
            body.insert("stop_loss_percentage".into(), text(sl));
        }
        body
    }
}

impl Action {
    /// The action's name in the audit log and in MCP (`cancel`, `panic_sell`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Cancel => "cancel",
            Action::PanicSell => "panic_sell",
            Action::AddFunds { .. } => "add_funds",
            Action::Update(_) => "update",
        }
    }

    /// Its parameters, in a few words (for the audit log).
    pub fn detail(&self) -> String {
        match self {
            Action::Cancel | Action::PanicSell => String::new(),
            Action::AddFunds { quantity, price } => match price {
                Some(p) => format!("quantity {quantity} at limit {p}"),
                None => format!("quantity {quantity} at market"),
            },
            Action::Update(u) => {
                let mut parts = Vec::new();
                if let Some(tp) = u.take_profit {
                    parts.push(format!("take_profit {tp}"));
                }
                if let Some(n) = u.max_safety_orders {
                    parts.push(format!("max_safety_orders {n}"));
                }
                if let Some(sl) = u.stop_loss_percentage {
                    parts.push(format!("stop_loss_percentage {sl}"));
                }
                parts.join(", ")
            }
        }
    }
}

use super::performance::is_finished as is_over;

fn is_long(deal: &Deal) -> bool {
    deal.strategy.as_deref() != Some("short")
}

/// The base and quote currencies of a deal's pair (`USDT_BTC`: `BTC`, `USDT`).
fn currencies(deal: &Deal) -> (String, String) {
    let (quote, base) = deal.pair.split_once('_').unwrap_or((&deal.pair, ""));
    (base.to_string(), quote.to_string())
}

/// A deal in one line: who, where, how big, and its P&L now.
pub fn describe(deal: &Deal) -> String {
    let (base, quote) = currencies(deal);
    let held = if is_long(deal) {
        deal.bought_amount
    } else {
        deal.sold_amount
    }
    .unwrap_or_default();
    let invested = deal.bought_volume.unwrap_or_default();
    let now = super::performance::profit_now(deal);
    let profit = if now.realized {
        format!("profit {} {quote} (realized)", now.quote)
    } else {
        format!(
            "P&L now {} {quote} (unrealized, at {})",
            now.quote.round_dp(8),
            deal.current_price.unwrap_or_default()
        )
    };
    format!(
        "deal {} of bot {} on {}: {} ({}), {} {base} for {} {quote}, {} safety order(s) filled; {profit}",
        deal.id,
        deal.bot_name.as_deref().unwrap_or("?"),
        deal.pair,
        deal.status,
        deal.localized_status.as_deref().unwrap_or(&deal.status),
        held.round_dp(10),
        invested.round_dp(8),
        deal.completed_safety_orders_count.unwrap_or(0),
    )
}

/// What an action will do, read from the deal before anything is sent.
#[derive(Debug, Clone, Serialize)]
pub struct Preview {
    pub deal_id: i64,
    pub bot_id: i64,
    pub pair: String,
    pub action: &'static str,
    /// The deal in one line ([`describe`]).
    pub deal: String,
    /// What the action sells or buys, and by what kind of order.
    pub effect: String,
    /// Why it cannot run (the deal is over, 3Commas' guard says no); `None`: it can.
    pub refusal: Option<String>,
    #[serde(skip)]
    pub request: Action,
}

/// Read the deal and say what `action` would do to it.
pub async fn preview(client: &Client, deal_id: i64, action: Action) -> Result<Preview, ApiError> {
    let deal = client.deal(deal_id).await?;
    Ok(preview_of(&deal, action))
}

fn preview_of(deal: &Deal, action: Action) -> Preview {
    let (base, quote) = currencies(deal);
    let long = is_long(deal);
    let held = if long {
        deal.bought_amount
    } else {
        deal.sold_amount
    }
    .unwrap_or_default();
    let price = deal.current_price.unwrap_or_default();
    let effect = match &action {
        Action::Cancel => format!(
            "cancel: 3Commas stops managing the deal and cancels its open orders (take profit, safety orders); the {held} {base} it holds stay on the account, not sold; nothing is realized"
        ),
        Action::PanicSell => format!(
            "panic sell: a market order {} {held} {base} now (about {} {quote} at {price}); the P&L is realized at the fill price, which may differ",
            if long { "sells" } else { "buys back" },
            (held * price).round_dp(8)
        ),
        Action::AddFunds {
            quantity,
            price: limit,
        } => match limit {
            None => format!(
                "add funds: a market order {} {quantity} {base} more now (about {} {quote} at {price}); the deal's average price and take-profit price move",
                if long { "buys" } else { "sells" },
                (*quantity * price).round_dp(8)
            ),
            Some(p) => format!(
                "add funds: a limit order {} {quantity} {base} at {p} ({} {quote}); it fills when the price gets there",
                if long { "to buy" } else { "to sell" },
                (*quantity * *p).round_dp(8)
            ),
        },
        Action::Update(u) => {
            let mut parts = Vec::new();
            let show = |d: Option<Decimal>| d.map_or("unset".to_string(), |d| d.to_string());
            if let Some(tp) = u.take_profit {
                parts.push(format!(
                    "take profit {} % -> {tp} %",
                    show(deal.take_profit)
                ));
            }
            if let Some(n) = u.max_safety_orders {
                parts.push(format!(
                    "max safety orders {} -> {n}",
                    deal.max_safety_orders
                        .map_or("unset".to_string(), |n| n.to_string())
                ));
            }
            if let Some(sl) = u.stop_loss_percentage {
                parts.push(format!(
                    "stop loss {} % -> {sl} %",
                    show(deal.stop_loss_percentage)
                ));
            }
            format!(
                "update: {}; no order is placed now (3Commas moves the deal's take-profit and safety orders)",
                parts.join(", ")
            )
        }
    };
    let refusal = if is_over(deal) {
        Some(format!(
            "deal {} is already over ({}{}): nothing to {}",
            deal.id,
            deal.status,
            deal.closed_at
                .as_deref()
                .map_or(String::new(), |c| format!(", closed {c}")),
            action.name().replace('_', " ")
        ))
    } else if matches!(action, Action::Cancel | Action::PanicSell)
        && deal.status.ends_with("_pending")
    {
        // Another cancel or panic sell (this account's other terminal, the web app) is under
        // way: a second one would only be refused.
        Some(format!(
            "deal {} is already being ended ({}): nothing to {}; `botform deal show {}` tells when it is over",
            deal.id,
            deal.status,
            action.name().replace('_', " "),
            deal.id
        ))
    } else {
        match &action {
            Action::Cancel if deal.cancellable == Some(false) => Some(format!(
                "3Commas says deal {} cannot be cancelled now (status {})",
                deal.id, deal.status
            )),
            Action::PanicSell if deal.panic_sellable == Some(false) => Some(format!(
                "3Commas says deal {} cannot be closed at market now (status {})",
                deal.id, deal.status
            )),
            Action::AddFunds { .. } if deal.add_fundable == Some(false) => Some(format!(
                "3Commas says funds cannot be added to deal {} now (status {})",
                deal.id, deal.status
            )),
            Action::AddFunds { quantity, .. } if *quantity <= Decimal::ZERO => {
                Some("add funds: the quantity must be above 0".into())
            }
            Action::Update(u) if u.is_empty() => Some(
                "update: nothing to change (give --take-profit, --max-safety-orders or --stop-loss)"
                    .into(),
            ),
            Action::Update(_)
                if !matches!(deal.status.as_str(), "bought" | "close_strategy_activated") =>
            {
                Some(format!(
                    "3Commas updates only deals that are `bought`; deal {} is `{}`",
                    deal.id, deal.status
                ))
            }
            _ => None,
        }
    };
    Preview {
        deal_id: deal.id,
        bot_id: deal.bot_id,
        pair: deal.pair.clone(),
        action: action.name(),
        deal: describe(deal),
        effect,
        refusal,
        request: action,
    }
}

/// What an action came to.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Outcome {
    pub deal_id: i64,
    pub action: &'static str,
    /// The deal's status at the end (`cancelled`, `panic_sold`, `bought`, ...).
    pub status: String,
    /// The deal reached its final status (cancel, panic sell), or the change shows (update,
    /// add funds).
    pub done: bool,
    /// In a sentence, for people and assistants.
    pub message: String,
    /// The deal at the end ([`describe`]).
    pub deal: String,
}

/// How long [`run`] waits for a cancel or panic sell to settle: `BOTFORM_DEAL_WAIT_S`, else
/// 120 s (at one read a second, within deal show's 120 a minute).
pub fn settle_wait() -> Duration {
    std::env::var("BOTFORM_DEAL_WAIT_S")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::from_secs(120), Duration::from_secs)
}

const POLL: Duration = Duration::from_secs(1);

/// Run a previewed action under the account's lease, then record it. `identity` names the
/// lease (the target's); `who` and `waiting` are the front end's.
pub async fn run(
    client: &Client,
    identity: &str,
    preview: &Preview,
    who: Who,
    waiting: impl FnOnce(),
) -> Result<Outcome, ApiError> {
    let outcome = run_leased(client, identity, preview, waiting).await;
    let result = match &outcome {
        Ok(o) => o.status.clone(),
        Err(e) => format!("error: {e}"),
    };
    record(who, preview, &result);
    outcome
}

/// Record an action that did not run: refused (no terminal, a closed deal) or declined.
pub fn record_not_run(who: Who, preview: &Preview, why: &str) {
    record(who, preview, why);
}

fn record(who: Who, preview: &Preview, result: &str) {
    let entry = AuditEntry {
        at: crate::timefmt::now_iso(),
        who,
        deal: preview.deal_id,
        bot: preview.bot_id,
        pair: preview.pair.clone(),
        action: preview.action.to_string(),
        detail: preview.request.detail(),
        result: result.to_string(),
    };
    if let Err(e) = audit::record(&entry) {
        eprintln!(
            "warning: cannot write the audit log {}: {e}",
            audit::path().display()
        );
    }
}

async fn run_leased(
    client: &Client,
    identity: &str,
    preview: &Preview,
    waiting: impl FnOnce(),
) -> Result<Outcome, ApiError> {
    let _lease = super::lease::acquire(identity, waiting)
        .await
        .map_err(|e| ApiError::Config(format!("cannot take the account's lease: {e}")))?;
    // Under the lease, the deal as it is now: it may have closed while the person read.
    let deal = client.deal(preview.deal_id).await?;
    let fresh = preview_of(&deal, preview.request.clone());
    if let Some(why) = fresh.refusal {
        return Ok(Outcome {
            deal_id: deal.id,
            action: preview.action,
            status: deal.status.clone(),
            done: false,
            message: why,
            deal: describe(&deal),
        });
    }
    let id = deal.id;
    match &preview.request {
        Action::Cancel | Action::PanicSell => {
            let answered = if preview.request == Action::Cancel {
                client.cancel_deal(id).await?
            } else {
                client.panic_sell_deal(id).await?
            };
            let deal = settle(client, answered).await?;
            let done = is_over(&deal);
            let message = if done {
                format!(
                    "deal {id} is {} ({})",
                    deal.status,
                    deal.localized_status.as_deref().unwrap_or("")
                )
            } else {
                format!(
                    "3Commas accepted the {} but deal {id} is still `{}` after {} s; `botform deal show {id}` tells when it ends",
                    preview.action.replace('_', " "),
                    deal.status,
                    settle_wait().as_secs()
                )
            };
            Ok(Outcome {
                deal_id: id,
                action: preview.action,
                status: deal.status.clone(),
                done,
                message,
                deal: describe(&deal),
            })
        }
        Action::AddFunds { quantity, price } => {
            let order = client.add_funds(id, *quantity, *price).await?;
            let deal = client.deal(id).await?;
            Ok(Outcome {
                deal_id: id,
                action: preview.action,
                status: deal.status.clone(),
                done: true,
                message: format!(
                    "order {} {}: {} {} at {}",
                    order["order_id"].as_str().unwrap_or("?"),
                    order["status_string"].as_str().unwrap_or("placed"),
                    order["order_type"].as_str().unwrap_or(""),
                    order["quantity"].as_str().unwrap_or(""),
                    order["average_price"]
                        .as_str()
                        .or(order["rate"].as_str())
                        .unwrap_or("")
                ),
                deal: describe(&deal),
            })
        }
        Action::Update(update) => {
            let answered = client.update_deal(id, &update.body()).await?;
            let mut differs = Vec::new();
            if let Some(tp) = update.take_profit
                && answered.take_profit != Some(tp)
            {
                differs.push(format!("take_profit reads {:?}", answered.take_profit));
            }
            if let Some(n) = update.max_safety_orders
                && answered.max_safety_orders != Some(n)
            {
                differs.push(format!(
                    "max_safety_orders reads {:?}",
                    answered.max_safety_orders
                ));
            }
            if let Some(sl) = update.stop_loss_percentage
                && answered.stop_loss_percentage != Some(sl)
            {
                differs.push(format!(
                    "stop_loss_percentage reads {:?}",
                    answered.stop_loss_percentage
                ));
            }
            let done = differs.is_empty();
            Ok(Outcome {
                deal_id: id,
                action: preview.action,
                status: answered.status.clone(),
                done,
                message: if done {
                    format!("deal {id} updated: {}", preview.request.detail())
                } else {
                    format!(
                        "3Commas accepted the update of deal {id} but the deal does not show it: {}",
                        differs.join("; ")
                    )
                },
                deal: describe(&answered),
            })
        }
    }
}

/// Poll a deal until it is over, or [`settle_wait`] passes.
async fn settle(client: &Client, answered: Deal) -> Result<Deal, ApiError> {
    let deadline = tokio::time::Instant::now() + settle_wait();
    let mut deal = answered;
    while !is_over(&deal) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
        deal = client.deal(deal.id).await?;
    }
    Ok(deal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deal(status: &str, finished: bool) -> Deal {
        serde_json::from_value(serde_json::json!({
            "id": 7, "bot_id": 3, "account_id": 1, "pair": "USDT_BTC", "status": status,
            "created_at": "2026-12-01T00:00:00.000Z", "finished?": finished,
            "bought_amount": "0.01", "bought_volume": "600", "current_price": "61000",
            "actual_profit": "10", "take_profit": "1.5", "cancellable?": !finished,
            "panic_sellable?": !finished, "add_fundable": !finished, "bot_name": "BTC"
        }))
        .unwrap()
    }

    #[test]
    fn a_deal_already_being_ended_is_not_ended_twice() {
        let p = preview_of(&deal("cancel_pending", false), Action::PanicSell);
        let why = p.refusal.unwrap();
        assert!(
            why.contains("already being ended (cancel_pending)"),
            "{why}"
        );
        // A cancel likewise (whichever action is under way).
        assert!(
            preview_of(&deal("cancel_pending", false), Action::Cancel)
                .refusal
                .is_some()
        );
    }

    #[test]
    fn a_closed_deal_is_refused_with_its_status_not_sent() {
        let p = preview_of(&deal("completed", true), Action::Cancel);
        let why = p.refusal.unwrap();
        assert!(why.contains("already over (completed"), "{why}");
    }

    #[test]
    fn the_preview_says_what_is_sold_and_by_what_order() {
        let p = preview_of(&deal("bought", false), Action::PanicSell);
        assert!(p.refusal.is_none());
        assert!(
            p.effect.contains("market order sells 0.01 BTC"),
            "{}",
            p.effect
        );
        assert!(p.effect.contains("about 610"), "{}", p.effect);
        assert!(p.deal.contains("P&L now 10 USDT (unrealized"), "{}", p.deal);
        let update = Action::Update(DealUpdate {
            take_profit: Some("2".parse().unwrap()),
            ..DealUpdate::default()
        });
        let p = preview_of(&deal("bought", false), update);
        assert!(
            p.effect.contains("take profit 1.5 % -> 2 %"),
            "{}",
            p.effect
        );
        let p = preview_of(
            &deal("bought", false),
            Action::Update(DealUpdate::default()),
        );
        assert!(p.refusal.unwrap().contains("nothing to change"));
    }
}
