//! Grid bots on the sandbox's market (`--market`, issue 19): each enabled grid bot runs the
//! backtest's grid model ([`GridRun`], `simulate::grid`'s documented rules) on its pair's candles
//! as market time passes, and what it does shows where 3Commas shows it:
//!
//! - `market_orders`: the balancing order at the start (`balancing_orders`) and each filled line
//!   order (`grid_lines_orders`: `BUY`/`SELL`, `Filled`, quantity, rate);
//! - `profits`: each completed grid (a sell of coins a buy on the line below bought), with its
//!   line;
//! - `events`: the start, the balancing order, each fill, a stop loss;
//! - the entity: `start_price`, `current_price`, `current_profit`, `total_profits_count`,
//!   `bought_volume`/`sold_volume`, the investments, and `grid_lines` with each line's side.
//!
//! No fees, as for the sandbox's deals. A grid's run lives in memory: switching the bot off ends
//! it, and switching it on (or a restarted sandbox) starts a new run, with a new balancing order,
//! at the price then. A bot that exists when the sandbox starts trades from the first candle; one
//! enabled later, from the candle after. An edit of any setting but the note restarts its run. The logs
//! keep the last [`GRID_LOG_CAP`] entries of each kind.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::{Host, Market, text};
use crate::engine::kinds::GRID_SETTINGS;
use crate::model::decimal::Decimal;
use crate::model::enums::TradingMode;
use crate::sandbox::state::{GRID_LOG_CAP, GridRecord, iso_from_millis};
use crate::sandbox::store::Touched;
use crate::simulate::grid::{GridFill, GridRun};
use crate::simulate::{Candle, Intrabar};
use crate::threecommas::grid_wire::WireGridBot;

/// One enabled grid bot on the market.
pub(super) struct GridLane {
    pub(super) pair: String,
    /// The next candle to walk.
    pub(super) next: usize,
    run: Option<GridRun>,
    /// The grid's shape as last compiled (its run restarts when it changes).
    shape: String,
}

/// What the market reads of an enabled grid bot each tick.
struct GridView {
    mode: TradingMode,
    grid: WireGridBot,
    market_code: String,
}

/// The grid's settings as the backtest compiles them.
fn spec_of(g: &WireGridBot) -> crate::config::types::GridBotSpec {
    crate::config::types::GridBotSpec {
        lower_price: Some(g.lower_price),
        upper_price: Some(g.upper_price),
        grids_quantity: Some(g.grids_quantity),
        quantity_per_grid: Some(g.quantity_per_grid),
        grid_type: g.grid_type,
        order_currency_type: g.order_currency_type,
        upper_stop_loss_enabled: g.upper_stop_loss_enabled,
        upper_stop_loss_price: g.upper_stop_loss_price,
        upper_stop_loss_action: g.upper_stop_loss_action,
        lower_stop_loss_enabled: g.lower_stop_loss_enabled,
        lower_stop_loss_price: g.lower_stop_loss_price,
        lower_stop_loss_action: g.lower_stop_loss_action,
        ..Default::default()
    }
}

fn figure(x: f64) -> Value {
    Value::String(text(x))
}

/// Keep the last [`GRID_LOG_CAP`] entries.
fn push_capped(log: &mut Vec<Value>, entry: Value) {
    log.push(entry);
    if log.len() > GRID_LOG_CAP {
        let extra = log.len() - GRID_LOG_CAP;
        log.drain(..extra);
    }
}

impl Market {
    fn grid_views(shared: &impl Host) -> Result<Vec<GridView>, String> {
        shared.read_state(|state| {
            let mut views = Vec::new();
            for mode in [TradingMode::Paper, TradingMode::Real] {
                let ms = state.mode(mode);
                for record in ms.grid_bots.values() {
                    let Ok(grid) = serde_json::from_value::<WireGridBot>(record.entity.clone())
                    else {
                        continue;
                    };
                    if !grid.is_enabled {
                        continue;
                    }
                    let market_code = ms
                        .account(grid.account_id)
                        .and_then(|a| a["market_code"].as_str())
                        .unwrap_or("")
                        .to_string();
                    views.push(GridView {
                        mode,
                        grid,
                        market_code,
                    });
                }
            }
            views
        })
    }

    /// Walk every enabled grid bot's candles that market time has passed since the last tick.
    pub(super) fn tick_grids(&mut self, shared: &impl Host) -> Result<(), String> {
        let views = Market::grid_views(shared)?;
        let enabled: BTreeSet<(TradingMode, i64)> =
            views.iter().map(|v| (v.mode, v.grid.id)).collect();
        self.grid_lanes.retain(|key, _| enabled.contains(key));
        for view in &views {
            let g = &view.grid;
            let Some(data) = self.pair_data(&g.pair, &view.market_code) else {
                continue;
            };
            let now = self.market_now(&data);
            let entity = serde_json::to_value(g).unwrap_or_default();
            // An edit of any setting but the note restarts the run (3Commas: an edit may cancel
            // and re-place the orders).
            let shape = GRID_SETTINGS
                .iter()
                .filter(|k| **k != "note")
                .map(|k| entity[k].to_string())
                .collect::<Vec<_>>()
                .join("|");
            let first_tick = self.first_tick;
            let lane = self
                .grid_lanes
                .entry((view.mode, g.id))
                .or_insert_with(|| GridLane {
                    pair: g.pair.clone(),
                    next: if first_tick {
                        0
                    } else {
                        data.candles.partition_point(|c| c.open_time_ms < now)
                    },
                    run: None,
                    shape: shape.clone(),
                });
            if lane.shape != shape {
                lane.shape = shape;
                lane.run = None;
            }
            let mut happened: Vec<(i64, GridFill)> = Vec::new();
            let mut last: Option<Candle> = None;
            while let Some(candle) = data.candles.get(lane.next) {
                if candle.open_time_ms + data.interval_ms > now {
                    break;
                }
                lane.next += 1;
                if lane.run.is_none() {
                    let Ok((model, _)) = crate::simulate::grid::compile(
                        &spec_of(g),
                        Decimal::ZERO,
                        Intrabar::default(),
                    ) else {
                        break;
                    };
                    let (run, balancing) = GridRun::start(model, candle.open);
                    happened.push((candle.open_time_ms, balancing));
                    lane.run = Some(run);
                }
                let run = lane.run.as_mut().expect("started above");
                let at = candle.open_time_ms + data.interval_ms - 1;
                happened.extend(run.walk(candle).into_iter().map(|f| (at, f)));
                last = Some(*candle);
            }
            let (Some(run), Some(last)) = (&lane.run, last) else {
                continue;
            };
            let (id, mode) = (g.id, view.mode);
            let sides = run.sides();
            let outcome = run.outcome().clone();
            let lines =
                crate::simulate::grid::compile(&spec_of(g), Decimal::ZERO, Intrabar::default())
                    .map(|(m, _)| m.lines)
                    .unwrap_or_default();
            shared.change(mode, |state| {
                let Some(record) = state.mode_mut(mode).grid_bots.get_mut(&id) else {
                    return ((), None);
                };
                record_run(record, &happened, &lines, &sides, &outcome, last.close);
                (
                    (),
                    Some(Touched {
                        grid_bots: [id].into(),
                        ..Touched::default()
                    }),
                )
            })?;
        }
        Ok(())
    }
}

/// Write what a grid's run did into its record, in 3Commas' shapes.
fn record_run(
    record: &mut GridRecord,
    happened: &[(i64, GridFill)],
    lines: &[f64],
    sides: &[Option<&'static str>],
    outcome: &crate::simulate::grid::GridOutcome,
    price: f64,
) {
    let id = record.entity["id"].as_i64().unwrap_or(0);
    let line_id = |line: usize| id * 1_000 + line as i64;
    let line_json = |line: usize| {
        json!({
            "id": line_id(line),
            "price": figure(lines.get(line).copied().unwrap_or(0.0)),
            "side": sides.get(line).copied().flatten(),
            "order_placed": sides.get(line).copied().flatten().is_some(),
        })
    };
    let next_order = |record: &GridRecord| {
        (record.market_orders.len() + record.balancing_orders.len()) as i64 + id * 100_000
    };
    let order = |order_id: i64, side: &str, coins: f64, rate: f64, at: &str| {
        json!({
            "order_id": order_id, "order_type": side, "status_string": "Filled",
            "created_at": at, "updated_at": at,
            "quantity": figure(coins), "quantity_remaining": "0.0",
            "total": figure(coins * rate), "rate": figure(rate), "average_price": figure(rate),
        })
    };
    for (at_ms, fill) in happened {
        let at = iso_from_millis(*at_ms);
        let event = |message: String| json!({"message": message, "created_at": at});
        match *fill {
            GridFill::Balancing { price, coins } => {
                push_capped(&mut record.events, event("Start command received".into()));
                push_capped(&mut record.events, event("Bot is turned on".into()));
                if coins > 0.0 {
                    let o = order(next_order(record), "BUY", coins, price, &at);
                    push_capped(&mut record.balancing_orders, o);
                    push_capped(
                        &mut record.events,
                        event(format!(
                            "Creating balancing order, Price: {} Size: {}",
                            text(price),
                            text(coins)
                        )),
                    );
                    push_capped(&mut record.events, event("Balancing order filled".into()));
                }
                record.entity["start_price"] = figure(price);
            }
            GridFill::Buy { price, coins, .. } => {
                let o = order(next_order(record), "BUY", coins, price, &at);
                push_capped(&mut record.market_orders, o);
                push_capped(
                    &mut record.events,
                    event(format!("Buy order filled, Price: {}", text(price))),
                );
            }
            GridFill::Sell {
                line,
                price,
                coins,
                profit,
            } => {
                let o = order(next_order(record), "SELL", coins, price, &at);
                push_capped(&mut record.market_orders, o);
                push_capped(
                    &mut record.events,
                    event(format!("Sell order filled, Price: {}", text(price))),
                );
                if let Some(p) = profit {
                    push_capped(
                        &mut record.profits,
                        json!({
                            "grid_line_id": line_id(line), "profit": figure(p),
                            "usd_profit": figure(p), "created_at": at,
                            "grid_line": line_json(line),
                        }),
                    );
                }
            }
            GridFill::Stopped { price, action } => push_capped(
                &mut record.events,
                event(format!(
                    "Stop loss reached at {}: {}",
                    text(price),
                    serde_json::to_value(action)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                )),
            ),
        }
    }
    let e = &mut record.entity;
    e["current_price"] = figure(price);
    e["current_profit"] = figure(outcome.grid_profit);
    e["current_profit_usd"] = figure(outcome.grid_profit);
    e["total_profits_count"] = Value::String(outcome.grids_completed.to_string());
    let (mut bought, mut sold) = (0.0, 0.0);
    for o in &record.market_orders {
        let total: f64 = o["total"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0.0);
        if o["order_type"] == "BUY" {
            bought += total;
        } else {
            sold += total;
        }
    }
    e["bought_volume"] = figure(bought);
    e["sold_volume"] = figure(sold);
    e["investment_quote_currency"] = figure(outcome.investment);
    e["investment_base_currency"] = figure(outcome.coins);
    e["grid_lines"] = Value::Array((0..lines.len()).map(line_json).collect());
}
