//! Figures of a bot's equity over a run, gathered as it goes (no series is kept whole: a year of
//! 5-minute steps through a thousand bots must not hold a thousand curves): a curve of at most
//! [`CURVE_POINTS`] points for charts, the equity drawdown and how long it lasted, Sharpe and
//! Sortino ratios on daily returns, and returns per month.
//!
//! Equity is realized profit plus the open deals' values at each step's close (no closing fee).
//! Returns are relative to the most quote the bot committed at once (its capital at work), as a
//! DCA bot has no balance of its own: a daily return is the day's change of equity over it.
//! Ratios are annualized over 365 days (crypto trades every day) with no risk-free rate.

use serde::Serialize;

use super::dec;
use crate::model::decimal::Decimal;
use crate::timefmt::iso;

/// Points of the equity curve a report keeps, whatever the run's length.
pub const CURVE_POINTS: usize = 400;

const DAY_MS: i64 = 86_400_000;

/// One point of the equity curve.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct EquityPoint {
    /// ISO 8601, UTC.
    pub at: String,
    /// Realized plus unrealized, in the quote currency.
    pub equity: Decimal,
    /// Quote committed to open deals.
    pub capital: Decimal,
}

/// A month's change of equity.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MonthReturn {
    /// `2025-01`.
    pub month: String,
    pub profit_quote: Decimal,
    /// Of the capital at work (the most committed at once), in percent.
    pub return_percentage: Decimal,
}

/// A bot's figures over the run (see the module's documentation for the definitions).
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Figures {
    /// At most 400 points, evenly over the run (each the last step of its span).
    pub equity: Vec<EquityPoint>,
    /// Deepest fall of equity from a previous high.
    pub equity_drawdown_quote: Decimal,
    /// Longest time equity spent below a previous high (to the end of the run if it never
    /// recovered), in seconds.
    pub drawdown_duration_s: i64,
    /// Annualized, on daily returns; `None` with fewer than two days or no variation.
    pub sharpe: Option<Decimal>,
    pub sortino: Option<Decimal>,
    pub monthly: Vec<MonthReturn>,
}

/// Gathers [`Figures`] from a run's steps, in time order, within `[from_ms, to_ms]`.
#[derive(Debug, Clone)]
pub struct Curve {
    from_ms: i64,
    span_ms: i64,
    buckets: Vec<Option<(i64, f64, f64)>>,
    /// Equity at the end of each day seen: (day number, equity).
    days: Vec<(i64, f64)>,
    peak: f64,
    /// Since when equity has been below `peak` (`None`: at a high).
    below_since: Option<i64>,
    max_drawdown: f64,
    longest_below_ms: i64,
    max_committed: f64,
    last_ms: i64,
}

impl Curve {
    pub fn new(from_ms: i64, to_ms: i64) -> Curve {
        Curve {
            from_ms,
            span_ms: (to_ms - from_ms).max(1),
            buckets: vec![None; CURVE_POINTS],
            days: Vec::new(),
            peak: 0.0,
            below_since: None,
            max_drawdown: 0.0,
            longest_below_ms: 0,
            max_committed: 0.0,
            last_ms: from_ms,
        }
    }

    /// Equity and committed quote at the end of a step (`at_ms`).
    pub fn step(&mut self, at_ms: i64, equity: f64, committed: f64) {
        let slot = ((at_ms - self.from_ms).max(0) as i128 * CURVE_POINTS as i128
            / (self.span_ms as i128 + 1)) as usize;
        self.buckets[slot.min(CURVE_POINTS - 1)] = Some((at_ms, equity, committed));
        let day = at_ms.div_euclid(DAY_MS);
        match self.days.last_mut() {
            Some((d, e)) if *d == day => *e = equity,
            _ => self.days.push((day, equity)),
        }
        self.max_committed = self.max_committed.max(committed);
        if equity >= self.peak {
            if let Some(since) = self.below_since.take() {
                self.longest_below_ms = self.longest_below_ms.max(at_ms - since);
            }
            self.peak = equity;
        } else {
            self.below_since.get_or_insert(self.last_ms);
            self.max_drawdown = self.max_drawdown.max(self.peak - equity);
        }
        self.last_ms = at_ms;
    }

    pub fn figures(&self) -> Figures {
        let longest_below_ms = match self.below_since {
            Some(since) => self.longest_below_ms.max(self.last_ms - since),
            None => self.longest_below_ms,
        };
        let base = self.max_committed;
        // Daily returns: each day's change from the previous day's end (the first day from 0).
        let mut previous = 0.0;
        let returns: Vec<f64> = self
            .days
            .iter()
            .map(|&(_, e)| {
                let r = if base > 0.0 {
                    (e - previous) / base
                } else {
                    0.0
                };
                previous = e;
                r
            })
            .collect();
        let (sharpe, sortino) = ratios(&returns);
        let mut monthly: Vec<MonthReturn> = Vec::new();
        let mut month_start = 0.0;
        let mut month_end = 0.0;
        let mut current: Option<String> = None;
        let push = |month: &str, start: f64, end: f64, out: &mut Vec<MonthReturn>| {
            out.push(MonthReturn {
                month: month.into(),
                profit_quote: dec(end - start),
                return_percentage: dec(if base > 0.0 {
                    (end - start) / base * 100.0
                } else {
                    0.0
                })
                .round_dp(2),
            })
        };
        for &(day, equity) in &self.days {
            let month = iso(day * DAY_MS)[..7].to_string();
            if current.as_deref() != Some(month.as_str()) {
                if let Some(m) = current.take() {
                    push(&m, month_start, month_end, &mut monthly);
                    month_start = month_end;
                }
                current = Some(month);
            }
            month_end = equity;
        }
        if let Some(m) = current {
            push(&m, month_start, month_end, &mut monthly);
        }
        Figures {
            equity: self
                .buckets
                .iter()
                .flatten()
                .map(|&(at, equity, capital)| EquityPoint {
                    at: iso(at),
                    equity: dec(equity),
                    capital: dec(capital),
                })
                .collect(),
            equity_drawdown_quote: dec(self.max_drawdown),
            drawdown_duration_s: longest_below_ms / 1000,
            sharpe,
            sortino,
            monthly,
        }
    }
}

/// Annualized Sharpe and Sortino ratios of daily returns.
fn ratios(returns: &[f64]) -> (Option<Decimal>, Option<Decimal>) {
    if returns.len() < 2 {
        return (None, None);
    }
    let n = returns.len() as f64;
    let mean = returns.iter().sum::<f64>() / n;
    let sd = (returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let downside = (returns.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n).sqrt();
    let year = 365f64.sqrt();
    let ratio = |d: f64| (d > 1e-12).then(|| dec(mean / d * year).round_dp(3));
    (ratio(sd), ratio(downside))
}

/// A curve watches a run's equity and nothing else.
impl super::Observer for Curve {
    fn step(&mut self, at_ms: i64, equity: f64, committed: f64) {
        Curve::step(self, at_ms, equity, committed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdown_duration_and_months_follow_the_equity() {
        // Jan 1 to Feb 28, 2025, a step a day: up to 10 by Jan 10, down to 4 by Jan 20, back
        // above 10 on Feb 5, flat after.
        let jan1 = 1_735_689_600_000i64;
        let equity = |d: i64| match d {
            0..=9 => (d + 1) as f64,
            10..=19 => 10.0 - 0.6 * (d - 9) as f64,
            20..=35 => 4.0 + 0.5 * (d - 19) as f64,
            _ => 12.0,
        };
        let mut curve = Curve::new(jan1, jan1 + 59 * DAY_MS);
        for d in 0..59 {
            curve.step(jan1 + d * DAY_MS + DAY_MS - 1, equity(d), 100.0);
        }
        let f = curve.figures();
        assert_eq!(f.equity_drawdown_quote.to_string(), "6");
        // Below the high of Jan 10 from then until the step that reaches it again (day 31).
        assert_eq!(f.drawdown_duration_s, 22 * 86_400);
        assert_eq!(f.monthly.len(), 2);
        assert_eq!(f.monthly[0].month, "2025-01");
        // January ends (day 30) at 4 + 0.5 × 11 = 9.5; February ends at 12.
        assert_eq!(f.monthly[0].profit_quote.to_string(), "9.5");
        assert_eq!(f.monthly[1].profit_quote.to_string(), "2.5");
        assert_eq!(f.monthly[1].return_percentage.to_string(), "2.5");
        assert!(f.sharpe.is_some() && f.sortino.is_some());
        assert!(f.equity.len() <= CURVE_POINTS && f.equity.len() == 59);
    }

    #[test]
    fn a_long_run_keeps_a_bounded_curve() {
        let mut curve = Curve::new(0, 105_120 * 300_000);
        for i in 1..=105_120i64 {
            curve.step(i * 300_000, i as f64, 1.0);
        }
        let f = curve.figures();
        assert_eq!(f.equity.len(), CURVE_POINTS);
        assert_eq!(f.drawdown_duration_s, 0);
        assert_eq!(f.sortino, None, "no down day");
    }
}
