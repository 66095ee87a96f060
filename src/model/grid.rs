//! Grid bot geometry (issue 19's first room): where a grid's lines are, what it needs to start,
//! and what one grid earns, in decimals.
//!
//! The formulas are the ones every 3Commas docs example follows (`GRID-SIGNALS-DEALS.md` §1.9,
//! each checked in the tests below against the examples kept in `tests/fixtures/3commas`):
//! - `grids_quantity` counts lines (levels), not intervals: the lines run from `lower_price` to
//!   `upper_price` inclusive;
//! - arithmetic: the step is absolute, `(upper − lower) / (lines − 1)`;
//! - geometric: the step is a ratio, `(upper / lower) ^ (1 / (lines − 1))`, computed here by
//!   Newton's method in 28-digit decimals (no float);
//! - the line nearest the current price waits (no order); lines below it buy, lines above sell;
//! - `quantity_per_grid` is per line, in `order_currency_type` units: the quote amount per line
//!   (`quote`), or the base amount (`base`).

use super::decimal::Decimal;
pub use super::enums::{GridCurrency, GridType};

/// The most lines 3Commas offers ("up to 201 Grid Levels", help centre).
pub const MAX_LINES: u32 = 201;

/// A grid's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub lower: Decimal,
    pub upper: Decimal,
    /// `grids_quantity`: lines, from `lower` to `upper` inclusive.
    pub lines: u32,
    pub grid_type: GridType,
}

/// What a grid needs at a price, and how its lines split there.
#[derive(Debug, Clone, PartialEq)]
pub struct Investment {
    pub buy_lines: u32,
    pub sell_lines: u32,
    /// Quote currency the buy orders hold.
    pub quote: Decimal,
    /// Base currency the sell orders hold.
    pub base: Decimal,
}

/// Why a grid's numbers cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GridError {
    /// `upper_price` is not above `lower_price` (or `lower_price` is not above 0).
    Range,
    /// Fewer than 2 lines, or more than [`MAX_LINES`].
    Lines,
}

impl std::fmt::Display for GridError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GridError::Range => {
                write!(f, "upper_price must be above lower_price, and both above 0")
            }
            GridError::Lines => write!(
                f,
                "grids_quantity must be 2 to {MAX_LINES} (lines, both ends included)"
            ),
        }
    }
}

/// `x ^ n` for a whole `n`, by squaring.
fn pow(x: Decimal, mut n: u32) -> Decimal {
    let mut result = Decimal::from_int(1);
    let mut base = x;
    while n > 0 {
        if n & 1 == 1 {
            result = result * base;
        }
        base = base * base;
        n >>= 1;
    }
    result
}

/// The `n`-th root of `a > 0`, by Newton's method from a float first guess, in decimals.
fn root(a: Decimal, n: u32) -> Decimal {
    if n == 1 {
        return a;
    }
    let guess: f64 = a
        .to_string()
        .parse::<f64>()
        .unwrap_or(1.0)
        .powf(1.0 / n as f64);
    let mut x: Decimal = format!("{guess:.15}")
        .parse()
        .unwrap_or(Decimal::from_int(1));
    let n_dec = Decimal::from_int(n as i64);
    let n_minus_1 = Decimal::from_int(n as i64 - 1);
    for _ in 0..50 {
        let next = (n_minus_1 * x + a / pow(x, n - 1)) / n_dec;
        if next == x {
            break;
        }
        x = next;
    }
    x
}

impl Grid {
    fn check(&self) -> Result<(), GridError> {
        if self.lower <= Decimal::ZERO || self.upper <= self.lower {
            return Err(GridError::Range);
        }
        if self.lines < 2 || self.lines > MAX_LINES {
            return Err(GridError::Lines);
        }
        Ok(())
    }

    /// `grid_price_step`: the absolute step (arithmetic) or the ratio between lines (geometric).
    pub fn step(&self) -> Result<Decimal, GridError> {
        self.check()?;
        let intervals = self.lines - 1;
        Ok(match self.grid_type {
            GridType::Arithmetic => (self.upper - self.lower) / Decimal::from_int(intervals as i64),
            GridType::Geometric => root(self.upper / self.lower, intervals),
        })
    }

    /// Every line's price, lowest first, unrounded (3Commas rounds each to the pair's price
    /// tick: [`round_to_tick`]).
    pub fn line_prices(&self) -> Result<Vec<Decimal>, GridError> {
        let step = self.step()?;
        let mut prices = Vec::with_capacity(self.lines as usize);
        for i in 0..self.lines {
            let price = if i == self.lines - 1 {
                self.upper
            } else {
                match self.grid_type {
                    GridType::Arithmetic => self.lower + step * Decimal::from_int(i as i64),
                    GridType::Geometric => self.lower * pow(step, i),
                }
            };
            prices.push(price);
        }
        Ok(prices)
    }

    /// How the lines split at `price` (the nearest one waits), and what the orders hold:
    /// `per_line` in `order_currency` units.
    pub fn investment(
        &self,
        price: Decimal,
        per_line: Decimal,
        order_currency: GridCurrency,
    ) -> Result<Investment, GridError> {
        let prices = self.line_prices()?;
        let distance = |p: Decimal| {
            let d = p - price;
            if d < Decimal::ZERO {
                Decimal::ZERO - d
            } else {
                d
            }
        };
        let waiting = (0..prices.len())
            .min_by(|a, b| {
                distance(prices[*a])
                    .partial_cmp(&distance(prices[*b]))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .unwrap_or(0);
        let mut invested = Investment {
            buy_lines: 0,
            sell_lines: 0,
            quote: Decimal::ZERO,
            base: Decimal::ZERO,
        };
        for (i, line) in prices.iter().enumerate() {
            if i == waiting {
                continue;
            }
            let (base, quote) = match order_currency {
                GridCurrency::Quote => (per_line / *line, per_line),
                GridCurrency::Base => (per_line, per_line * *line),
            };
            if i < waiting {
                invested.buy_lines += 1;
                invested.quote += quote;
            } else {
                invested.sell_lines += 1;
                invested.base += base;
            }
        }
        Ok(invested)
    }

    /// What one grid (a buy on a line, then a sell on the line above) earns after `fee` (a
    /// fraction, 0.001 for 0.1 %) on both orders, as a fraction of the buy: the least and the
    /// most over the grid's lines (equal on a geometric grid; an arithmetic grid earns most at
    /// its bottom).
    pub fn profit_per_grid(&self, fee: Decimal) -> Result<(Decimal, Decimal), GridError> {
        let prices = self.line_prices()?;
        let one = Decimal::from_int(1);
        let kept = (one - fee) * (one - fee);
        let earn = |low: Decimal, high: Decimal| high / low * kept - one;
        let n = prices.len();
        Ok(match self.grid_type {
            GridType::Geometric => {
                let each = earn(prices[0], prices[1]);
                (each, each)
            }
            GridType::Arithmetic => (
                earn(prices[n - 2], prices[n - 1]),
                earn(prices[0], prices[1]),
            ),
        })
    }
}

/// What validate shows of a valid grid bot (and what its capital budget counts).
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct GridNumbers {
    pub lines: u32,
    /// `grid_type`, as the step is read: an absolute price step (arithmetic) or a ratio.
    pub grid_type: GridType,
    /// 3Commas' `grid_price_step`: the price between lines (arithmetic) or their ratio
    /// (geometric).
    pub step: Decimal,
    /// What one grid (a buy on a line, the sell on the line above) earns, in percent of the
    /// buy, after the fee on both orders: the least and the most over the lines.
    pub profit_per_grid_min_percentage: Decimal,
    pub profit_per_grid_max_percentage: Decimal,
    /// The fee those figures take off each order, in percent.
    pub fee_percentage: Decimal,
    /// The price the investment is shown at: the middle of the range.
    pub at_price: Decimal,
    pub buy_lines: u32,
    pub sell_lines: u32,
    /// What the orders hold at `at_price`: quote for the buys, base for the sells.
    pub investment_quote: Decimal,
    pub investment_base: Decimal,
    /// Every line as a buy, in the quote currency: the most the grid can hold, whatever the
    /// price (what `max_capital` counts).
    pub capital_quote: Decimal,
}

impl Grid {
    /// The numbers validate shows: `per_line` in `order_currency` units, `fee_percentage` on
    /// each order.
    pub fn numbers(
        &self,
        per_line: Decimal,
        order_currency: GridCurrency,
        fee_percentage: Decimal,
    ) -> Result<GridNumbers, GridError> {
        let hundred = Decimal::from_int(100);
        let (least, most) = self.profit_per_grid(fee_percentage / hundred)?;
        let at_price = (self.lower + self.upper) / Decimal::from_int(2);
        let invested = self.investment(at_price, per_line, order_currency)?;
        let capital_quote: Decimal = self
            .line_prices()?
            .iter()
            .map(|line| match order_currency {
                GridCurrency::Quote => per_line,
                GridCurrency::Base => per_line * *line,
            })
            .sum();
        Ok(GridNumbers {
            lines: self.lines,
            grid_type: self.grid_type,
            step: self.step()?.round_dp(12),
            profit_per_grid_min_percentage: (least * hundred).round_dp(4),
            profit_per_grid_max_percentage: (most * hundred).round_dp(4),
            fee_percentage,
            at_price,
            buy_lines: invested.buy_lines,
            sell_lines: invested.sell_lines,
            investment_quote: invested.quote.round_dp(8),
            investment_base: invested.base.round_dp(8),
            capital_quote: capital_quote.round_dp(8),
        })
    }
}

/// `price` rounded to the nearest multiple of `tick` (half up), as 3Commas places lines.
pub fn round_to_tick(price: Decimal, tick: Decimal) -> Decimal {
    if tick <= Decimal::ZERO {
        return price;
    }
    let half = tick / Decimal::from_int(2);
    let steps = ((price + half) / tick).to_string();
    let whole = steps.split('.').next().unwrap_or("0");
    whole.parse::<Decimal>().unwrap_or(Decimal::ZERO) * tick
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    fn fixture(name: &str) -> serde_json::Value {
        let path = format!(
            "{}/tests/fixtures/3commas/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn grid_of(bot: &serde_json::Value) -> Grid {
        Grid {
            lower: d(bot["lower_price"].as_str().unwrap()),
            upper: d(bot["upper_price"].as_str().unwrap()),
            lines: bot["grids_quantity"].as_str().unwrap().parse().unwrap(),
            grid_type: match bot["grid_type"].as_str().unwrap() {
                "geometric" => GridType::Geometric,
                _ => GridType::Arithmetic,
            },
        }
    }

    /// Every grid bot in the docs' examples: its `grid_price_step`, to 18 significant digits.
    #[test]
    fn the_step_matches_every_docs_example() {
        let mut bots = Vec::new();
        for name in [
            "grid_bot_entity.json",
            "grid_bot_create_response.json",
            "grid_bot_update_response.json",
            "grid_bot_show.json",
            "grid_bot_enable_response.json",
            "grid_bot_disable_response.json",
            "grid_bot_note_response.json",
        ] {
            bots.push(fixture(name));
        }
        bots.extend(
            fixture("grid_bot_list.json")
                .as_array()
                .unwrap()
                .iter()
                .cloned(),
        );
        assert_eq!(bots.len(), 9);
        for bot in &bots {
            let step = grid_of(bot).step().unwrap();
            let printed = bot["grid_price_step"].as_str().unwrap();
            let docs = d(&printed[..printed.len().min(26)]);
            let off = (step - docs) / docs;
            let off = if off < Decimal::ZERO {
                Decimal::ZERO - off
            } else {
                off
            };
            assert!(
                off < d("0.000000000000000001"),
                "{}: {step} vs {docs}",
                bot["id"]
            );
        }
    }

    /// The one example with every line (40, arithmetic, 56,000 to 70,000): the same prices at a
    /// 0.1 tick, and at its current price 25 buys, 14 sells and the waiting line.
    #[test]
    fn the_lines_and_their_sides_match_the_docs_example() {
        let bot = fixture("grid_bot_update_response.json");
        let grid = grid_of(&bot);
        let mut ours: Vec<Decimal> = grid
            .line_prices()
            .unwrap()
            .into_iter()
            .map(|p| round_to_tick(p, d("0.1")))
            .collect();
        let mut docs: Vec<Decimal> = bot["grid_lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| d(l["price"].as_str().unwrap()))
            .collect();
        ours.sort_by(|a, b| a.partial_cmp(b).unwrap());
        docs.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(ours, docs);
        let price = d(bot["current_price"].as_str().unwrap());
        let at = grid
            .investment(price, d("150"), GridCurrency::Quote)
            .unwrap();
        let sides = |side: &str| {
            bot["grid_lines"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["side"] == side)
                .count() as u32
        };
        assert_eq!((at.buy_lines, at.sell_lines), (sides("buy"), sides("sell")));
        assert_eq!((at.buy_lines, at.sell_lines), (25, 14));
        // 150 USDT on each buy line.
        assert_eq!(at.quote, d("3750"));
    }

    #[test]
    fn a_grid_earns_its_step_less_two_fees() {
        let geometric = Grid {
            lower: d("100"),
            upper: d("121"),
            lines: 3,
            grid_type: GridType::Geometric,
        };
        assert_eq!(geometric.step().unwrap(), d("1.1"));
        let (least, most) = geometric.profit_per_grid(d("0.001")).unwrap();
        // 1.1 × 0.999² − 1
        assert_eq!(least, most);
        assert_eq!(least, d("0.0978011"));
        let arithmetic = Grid {
            lower: d("100"),
            upper: d("120"),
            lines: 3,
            grid_type: GridType::Arithmetic,
        };
        let (least, most) = arithmetic.profit_per_grid(Decimal::ZERO).unwrap();
        assert_eq!(most, d("0.1"));
        assert!(least < most);
        assert_eq!(
            Grid {
                upper: d("90"),
                ..arithmetic
            }
            .step(),
            Err(GridError::Range)
        );
        assert_eq!(
            Grid {
                lines: 1,
                ..arithmetic
            }
            .step(),
            Err(GridError::Lines)
        );
        assert_eq!(
            Grid {
                lines: 202,
                ..arithmetic
            }
            .step(),
            Err(GridError::Lines)
        );
    }
}
