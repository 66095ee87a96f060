//! Grid bots on candles (issue 19's simulate room): a pure model, no I/O, like the DCA one.
//!
//! # The model (an independent implementation must reproduce it exactly)
//!
//! - The lines are `model::grid`'s (`grids_quantity` of them from `lower_price` to
//!   `upper_price`, arithmetic or geometric). At the first candle's open P0 the line nearest P0
//!   waits (no order); every line below holds a buy, every line above a sell. The sells' coins are
//!   bought at P0 first, at market (3Commas' balancing order), paying the fee.
//! - An order's coins: with `order_currency_type = quote`, `quantity_per_grid / line price`;
//!   with `base`, `quantity_per_grid`.
//! - The price walks each candle open → first extreme → second extreme → close ([`Intrabar`]
//!   decides which extreme comes first, as for DCA bots). Moving down, every buy at or above the
//!   new price (and below where the move started) fills at its own price, highest first; each
//!   filled buy places a sell of the same coins on the line above. Moving up, every sell at or
//!   below the new price fills at its own price, lowest first, and places a buy on the line
//!   below (its coins computed afresh for that line). So one line is always empty.
//! - A sell whose coins a buy on the line below bought completes a grid: its profit is
//!   coins × (sell − buy) − the fee on both orders (`grid_profit`, `grids_completed`). Sells of
//!   the balancing order's coins complete no grid.
//! - The fee (percent of the quote amount) is charged on every fill, the balancing order's too.
//! - Value (equity) at any price = quote + coins × price − the starting investment (the buys'
//!   quote plus the balancing order's cost): the grid's profit and its position's gain or loss
//!   together. Drawdown is the worst value at each candle's extremes after their fills.
//! - A stop loss (`upper_stop_loss_price` / `lower_stop_loss_price`, when enabled) reached on the
//!   path stops the bot there: no order fills after it; `stop_bot_and_sell` sells every coin at
//!   that price, `stop_bot_and_buy` spends every quote there, `stop_bot` keeps both.
//! - Not simulated (and named by [`compile`]): trailing up/down, expansions, leverage and futures
//!   modes, the pair's price and lot steps, 3Commas' 2 % extra on the balancing buy.
//!
//! # Why f64 inside
//! As for DCA bots (`simulate` module docs): prices are inputs, the lines come from decimals,
//! results are reported as decimals rounded to 8 places.

use super::{Candle, Intrabar, NotBacktestable};
use crate::config::types::GridBotSpec;
use crate::model::decimal::Decimal;
use crate::model::enums::{GridCurrency, GridStopLossAction};
use crate::model::grid::Grid;

/// A grid bot as the simulation runs it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GridModel {
    /// The lines' prices, lowest first.
    pub lines: Vec<f64>,
    pub per_line: f64,
    /// `quantity_per_grid` is coins (else quote).
    pub in_base: bool,
    /// Fraction of each fill's quote amount.
    pub fee: f64,
    pub upper_stop: Option<(f64, GridStopLossAction)>,
    pub lower_stop: Option<(f64, GridStopLossAction)>,
    pub intrabar: Intrabar,
}

/// What a grid bot did over the candles.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GridOutcome {
    pub grids_completed: u32,
    pub buys: u32,
    pub sells: u32,
    /// The completed grids' profit, after fees.
    pub grid_profit: f64,
    /// Quote and coins at the end.
    pub quote: f64,
    pub coins: f64,
    /// What the bot started with, in quote (the buys' quote and the balancing order's cost).
    pub investment: f64,
    /// The value at the last close, minus the investment.
    pub value_at_end: f64,
    /// The worst value on the way (0 or less), as a positive loss.
    pub max_drawdown: f64,
    /// The stop loss that stopped it, and when (the candle's open time).
    pub stopped_at_ms: Option<i64>,
}

/// Compile a grid bot's settings, with `fee_percentage` on each fill. Returns what the model
/// leaves out.
pub fn compile(
    spec: &GridBotSpec,
    fee_percentage: Decimal,
    intrabar: Intrabar,
) -> Result<(GridModel, Vec<String>), NotBacktestable> {
    let f = super::f;
    let grid = crate::config::grid::grid_of(spec)
        .ok_or_else(|| NotBacktestable("the grid lacks its range or lines".into()))?;
    let lines = Grid::line_prices(&grid)
        .map_err(|e| NotBacktestable(e.to_string()))?
        .into_iter()
        .map(f)
        .collect();
    let per_line = spec
        .quantity_per_grid
        .ok_or_else(|| NotBacktestable("quantity_per_grid is not set".into()))?;
    let in_base = match spec.order_currency_type {
        Some(GridCurrency::Base) => true,
        Some(GridCurrency::Quote) => false,
        None => {
            return Err(NotBacktestable(
                "order_currency_type is not set: the size per line is quote or coins".into(),
            ));
        }
    };
    let stop = |on: Option<bool>, price: Option<Decimal>, action: Option<GridStopLossAction>| {
        (on == Some(true))
            .then_some(price)
            .flatten()
            .map(|p| (f(p), action.unwrap_or(GridStopLossAction::StopBot)))
    };
    let mut left = Vec::new();
    for (field, on) in [
        ("trailing_up_enabled", spec.trailing_up_enabled),
        ("trailing_down_enabled", spec.trailing_down_enabled),
        ("expansion_down_enabled", spec.expansion_down_enabled),
        ("expansion_up_enabled", spec.expansion_up_enabled),
    ] {
        if on == Some(true) {
            left.push(format!("{field}: the grid stays where it is"));
        }
    }
    if spec.mode.is_some()
        || spec
            .leverage_type
            .is_some_and(|l| l != crate::model::enums::LeverageType::NotSpecified)
    {
        left.push("futures (mode, leverage): run as a spot grid, no margin or funding".into());
    }
    left.push("the pair's price and lot steps, and 3Commas' 2 % extra on the balancing buy".into());
    Ok((
        GridModel {
            lines,
            per_line: f(per_line),
            in_base,
            fee: f(fee_percentage) / 100.0,
            upper_stop: stop(
                spec.upper_stop_loss_enabled,
                spec.upper_stop_loss_price,
                spec.upper_stop_loss_action,
            ),
            lower_stop: stop(
                spec.lower_stop_loss_enabled,
                spec.lower_stop_loss_price,
                spec.lower_stop_loss_action,
            ),
            intrabar,
        },
        left,
    ))
}

/// An order on a line.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Order {
    Buy,
    /// A sell of these coins; `completes` when a buy on the line below bought them.
    Sell {
        coins: f64,
        completes: bool,
    },
}

/// One thing a grid did on the price path, in the order it happened (what the sandbox's
/// `--market` shows as market orders, profits and events).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GridFill {
    /// The balancing buy at the start: the sell lines' coins, at the first price.
    Balancing { price: f64, coins: f64 },
    /// A buy filled on `line` (from 0, lowest first).
    Buy { line: usize, price: f64, coins: f64 },
    /// A sell filled on `line`; `profit` when it completed a grid (after fees).
    Sell {
        line: usize,
        price: f64,
        coins: f64,
        profit: Option<f64>,
    },
    /// A stop loss reached at `price` stopped the bot.
    Stopped {
        price: f64,
        action: GridStopLossAction,
    },
}

/// A grid bot running on a price path, candle by candle: [`run`] over a whole series, or the
/// sandbox's market as market time passes.
#[derive(Debug, Clone)]
pub struct GridRun {
    model: GridModel,
    orders: Vec<Option<Order>>,
    out: GridOutcome,
    stopped: bool,
    price: f64,
}

impl GridModel {
    fn coins_at(&self, line: usize) -> f64 {
        if self.in_base {
            self.per_line
        } else {
            self.per_line / self.lines[line]
        }
    }
}

impl GridRun {
    /// Start at `price`: the line nearest it waits, every line below holds a buy, every line
    /// above a sell whose coins the balancing order buys now.
    pub fn start(model: GridModel, price: f64) -> (GridRun, GridFill) {
        let n = model.lines.len();
        let waiting = (0..n)
            .min_by(|a, b| {
                (model.lines[*a] - price)
                    .abs()
                    .total_cmp(&(model.lines[*b] - price).abs())
            })
            .unwrap_or(0);
        let mut run = GridRun {
            orders: vec![None; n],
            out: GridOutcome::default(),
            stopped: false,
            price,
            model,
        };
        let mut balancing = 0.0;
        for i in 0..n {
            if i < waiting {
                run.orders[i] = Some(Order::Buy);
                run.out.investment += run.model.coins_at(i) * run.model.lines[i];
            } else if i > waiting {
                let coins = run.model.coins_at(i);
                balancing += coins;
                run.orders[i] = Some(Order::Sell {
                    coins,
                    completes: false,
                });
            }
        }
        let cost = balancing * price;
        run.out.investment += cost + cost * run.model.fee;
        run.out.quote = run.out.investment - cost - cost * run.model.fee;
        run.out.coins = balancing;
        (
            run,
            GridFill::Balancing {
                price,
                coins: balancing,
            },
        )
    }

    /// Walk one candle's path (open, the extreme [`Intrabar`] puts first, the other, close),
    /// returning what filled, in order.
    pub fn walk(&mut self, candle: &Candle) -> Vec<GridFill> {
        let mut fills = Vec::new();
        let low_first = self.model.intrabar.low_first(false, candle);
        let (a, b) = if low_first {
            (candle.low, candle.high)
        } else {
            (candle.high, candle.low)
        };
        for next in [candle.open, a, b, candle.close] {
            self.moves(next, candle.open_time_ms, &mut fills);
            self.price = next;
            self.out.max_drawdown = self.out.max_drawdown.max(-self.value(next));
        }
        self.out.value_at_end = self.value(self.price);
        fills
    }

    /// What the run did so far.
    pub fn outcome(&self) -> &GridOutcome {
        &self.out
    }

    /// The side of each line's order now (`None`: the waiting line, or every line once
    /// stopped).
    pub fn sides(&self) -> Vec<Option<&'static str>> {
        self.orders
            .iter()
            .map(|o| match o {
                _ if self.stopped => None,
                Some(Order::Buy) => Some("buy"),
                Some(Order::Sell { .. }) => Some("sell"),
                None => None,
            })
            .collect()
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    fn value(&self, price: f64) -> f64 {
        self.out.quote + self.out.coins * price - self.out.investment
    }

    /// The price moves from where it is to `to`: the orders between fill, in the order the
    /// price meets them, then a stop loss reached stops the bot.
    fn moves(&mut self, to: f64, now_ms: i64, fills: &mut Vec<GridFill>) {
        let from = self.price;
        if self.stopped {
            return;
        }
        let m = &self.model;
        let n = m.lines.len();
        if to < from {
            for i in (0..n).rev() {
                let price = m.lines[i];
                if price > from || price < to {
                    continue;
                }
                if self.orders[i] == Some(Order::Buy) {
                    let coins = m.coins_at(i);
                    let cost = coins * price;
                    self.out.quote -= cost + cost * m.fee;
                    self.out.coins += coins;
                    self.out.buys += 1;
                    self.orders[i] = None;
                    fills.push(GridFill::Buy {
                        line: i,
                        price,
                        coins,
                    });
                    if i + 1 < n {
                        self.orders[i + 1] = Some(Order::Sell {
                            coins,
                            completes: true,
                        });
                    }
                }
            }
        } else if to > from {
            for i in 0..n {
                let price = m.lines[i];
                if price < from || price > to {
                    continue;
                }
                if let Some(Order::Sell { coins, completes }) = self.orders[i] {
                    let proceeds = coins * price;
                    self.out.quote += proceeds - proceeds * m.fee;
                    self.out.coins -= coins;
                    self.out.sells += 1;
                    let profit = completes.then(|| {
                        let bought = coins * m.lines[i - 1];
                        proceeds - bought - (proceeds + bought) * m.fee
                    });
                    if let Some(p) = profit {
                        self.out.grids_completed += 1;
                        self.out.grid_profit += p;
                    }
                    fills.push(GridFill::Sell {
                        line: i,
                        price,
                        coins,
                        profit,
                    });
                    self.orders[i] = None;
                    if i > 0 {
                        self.orders[i - 1] = Some(Order::Buy);
                    }
                }
            }
        }
        let stop = match (m.upper_stop, m.lower_stop) {
            (Some((p, action)), _) if to >= p => Some((p, action)),
            (_, Some((p, action))) if to <= p => Some((p, action)),
            _ => None,
        };
        if let Some((price, action)) = stop {
            self.stopped = true;
            self.out.stopped_at_ms = Some(now_ms);
            fills.push(GridFill::Stopped { price, action });
            match action {
                GridStopLossAction::StopBotAndSell
                | GridStopLossAction::StopBotAndClosePosition => {
                    let proceeds = self.out.coins * price;
                    self.out.quote += proceeds - proceeds * m.fee;
                    self.out.coins = 0.0;
                }
                GridStopLossAction::StopBotAndBuy => {
                    let spend = self.out.quote.max(0.0) / (1.0 + m.fee);
                    self.out.coins += spend / price;
                    self.out.quote -= spend + spend * m.fee;
                }
                GridStopLossAction::StopBot => {}
            }
        }
    }
}

/// Run a grid bot over candles.
pub fn run(model: &GridModel, candles: &[Candle]) -> GridOutcome {
    let Some(first) = candles.first() else {
        return GridOutcome::default();
    };
    let (mut run, _) = GridRun::start(model.clone(), first.open);
    for candle in candles {
        run.walk(candle);
    }
    run.out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn candle(i: i64, open: f64, high: f64, low: f64, close: f64) -> Candle {
        Candle {
            open_time_ms: i * MIN,
            open,
            high,
            low,
            close,
        }
    }

    /// Lines at 90, 100, 110, 120; 100 USDT a line; no fee unless given.
    fn model(fee: f64) -> GridModel {
        GridModel {
            lines: vec![90.0, 100.0, 110.0, 120.0],
            per_line: 100.0,
            in_base: false,
            fee,
            upper_stop: None,
            lower_stop: None,
            intrabar: Intrabar::Worst,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_dip_and_a_rise_complete_one_grid_at_its_step() {
        // Start at 100: 90 buys, 110 and 120 sell coins bought at 100 (balancing: 100/110 +
        // 100/120 coins). Down to 89 fills the buy at 90 (100/90 coins) and places a sell at
        // 100; up to 101 sells them at 100: one grid, (100 − 90) × 100/90.
        let out = run(
            &model(0.0),
            &[
                candle(0, 100.0, 100.0, 100.0, 100.0),
                candle(1, 100.0, 100.0, 89.0, 95.0),
                candle(2, 95.0, 101.0, 95.0, 101.0),
            ],
        );
        assert_eq!((out.buys, out.sells, out.grids_completed), (1, 1, 1));
        assert!(close(out.grid_profit, 10.0 * 100.0 / 90.0), "{out:?}");
        // The balancing coins never sold: the grid holds them, worth 101 each at the end.
        let balancing = 100.0 / 110.0 + 100.0 / 120.0;
        assert!(close(out.coins, balancing));
        assert!(close(out.investment, 100.0 + balancing * 100.0));
        assert!(close(
            out.value_at_end,
            out.grid_profit + balancing * (101.0 - 100.0)
        ));
    }

    #[test]
    fn fees_come_off_both_orders_of_a_grid() {
        let out = run(
            &model(0.001),
            &[
                candle(0, 100.0, 100.0, 100.0, 100.0),
                candle(1, 100.0, 100.0, 89.0, 95.0),
                candle(2, 95.0, 101.0, 95.0, 101.0),
            ],
        );
        let coins = 100.0 / 90.0;
        assert!(close(
            out.grid_profit,
            coins * 100.0 - 100.0 - (coins * 100.0 + 100.0) * 0.001
        ));
    }

    #[test]
    fn the_path_inside_a_candle_decides_a_round_trip() {
        // One candle from 100 down to 89 and up to 101: low first, the buy at 90 and its sell at
        // 100 both fill (one grid); high first, the rise comes before the buy: no grid.
        let candles = [
            candle(0, 100.0, 100.0, 100.0, 100.0),
            candle(1, 100.0, 101.0, 89.0, 95.0),
        ];
        let low_first = run(&model(0.0), &candles);
        assert_eq!(low_first.grids_completed, 1);
        let high_first = run(
            &GridModel {
                intrabar: Intrabar::HighFirst,
                ..model(0.0)
            },
            &candles,
        );
        assert_eq!(high_first.grids_completed, 0);
    }

    #[test]
    fn a_lower_stop_loss_that_sells_ends_the_grid_in_quote() {
        let m = GridModel {
            lower_stop: Some((85.0, GridStopLossAction::StopBotAndSell)),
            ..model(0.0)
        };
        let out = run(
            &m,
            &[
                candle(0, 100.0, 100.0, 100.0, 100.0),
                candle(1, 100.0, 100.0, 80.0, 80.0),
                candle(2, 80.0, 130.0, 80.0, 130.0),
            ],
        );
        assert_eq!(out.stopped_at_ms, Some(MIN));
        assert!(close(out.coins, 0.0));
        // Nothing filled after the stop, though the price came back over every line.
        assert_eq!((out.buys, out.sells), (1, 0));
        // Every coin (the buy's and the balancing's) sold at 85.
        let coins = 100.0 / 90.0 + 100.0 / 110.0 + 100.0 / 120.0;
        assert!(close(out.quote, coins * 85.0));
    }
}
