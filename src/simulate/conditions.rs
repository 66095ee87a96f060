//! Deal start conditions a candle series determines: which base candles a deal may open at.
//! Safety-order conditions are the same conditions ([`Role::SafetyOrder`]): the candles at whose
//! open the safety orders the price has reached fill at market.
//!
//! The rules are 3Commas' own (help centre, "DCA bots: indicators and technical analysis"):
//! a condition is evaluated only when a candle of its timeframe closes; when it holds, the signal
//! stays valid until the next candle of that timeframe closes; several start conditions must all
//! hold at once. So here:
//!
//! - The replayed candles are grouped into candles of the condition's `time` (3m ... 1w), aligned
//!   to UTC as exchanges align them (weeks start on Monday). A group is closed when the series
//!   has moved past its end; the last, unfinished one is not evaluated. The replayed candles must
//!   be at most as long as the timeframe and divide it.
//! - The indicator (module `indicators`, checked against TA-Lib) runs over the closed candles of
//!   the timeframe; the trigger compares it at each close: `less` / `greater` than `points`;
//!   `crossing_above` when the value was at or below the level at the previous close and is above
//!   it now, `crossing_below` the mirror (the catalogue's labels for the two keys look swapped;
//!   the key is what counts, as 3Commas' API sends it).
//! - A deal may open at a replayed candle whose open time falls in the timeframe candle right
//!   after a close where every condition held (and after the cooldown, as for `nonstop`).
//!
//! What each indicator compares: `rsi`, `ult`, `adx`, `cci`, `mfi`: the value with `points`;
//! `b_bands_percent`: %B in percent (0 at the lower band, 100 at the upper) with `points`;
//! `ma_cross`: the first average (`time_period_first`) against the second; `stochastic`: %K with
//! `points`, and when `line_trigger_condition` is set, also %K crossing %D that way; `macd`:
//! the MACD line crossing its signal line (`trigger_condition`) and, when
//! `line_trigger_condition` is set, the MACD line below (`less`) or above (`greater`) zero;
//! `parabolic_sar`: the close crossing the SAR; `heikin_ashi`: the last `candles_count` Heikin
//! Ashi candles all green (red for a short bot).
//!
//! Conditions that need outside signals (`manual`, `tv_custom_signal`, `trading_view`, `qfl`
//! and any id the catalogue does not list) are [`Outside`]: the bot is not backtestable unless
//! the caller assumes them met (`--assume-start nonstop`).

use std::collections::BTreeMap;

use super::indicators as ta;
use super::{Candle, NotBacktestable};
use crate::model::bot::StrategyCondition;

/// How a condition compares its indicator at a close.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Trigger {
    Less,
    Greater,
    CrossingAbove,
    CrossingBelow,
}

impl Trigger {
    fn parse(text: &str) -> Option<Trigger> {
        Some(match text {
            "less" => Trigger::Less,
            "greater" => Trigger::Greater,
            "crossing_above" => Trigger::CrossingAbove,
            "crossing_below" => Trigger::CrossingBelow,
            _ => return None,
        })
    }

    /// At each close: does `values` meet the trigger against `level`?
    fn signals(self, values: &[f64], level: f64) -> Vec<bool> {
        (0..values.len())
            .map(|i| {
                let now = values[i];
                let before = if i > 0 { values[i - 1] } else { f64::NAN };
                match self {
                    Trigger::Less => now < level,
                    Trigger::Greater => now > level,
                    Trigger::CrossingAbove => before <= level && now > level,
                    Trigger::CrossingBelow => before >= level && now < level,
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Indicator {
    Rsi(usize),
    Ultimate([usize; 3]),
    BollingerPercent(usize, f64),
    MovingAverageCross {
        ema: bool,
        first: usize,
        second: usize,
    },
    Adx(usize),
    Stochastic {
        fast_k: usize,
        slow_k: usize,
        slow_d: usize,
    },
    Macd {
        fast: usize,
        slow: usize,
        signal: usize,
    },
    ParabolicSar {
        acceleration: f64,
        maximum: f64,
    },
    MoneyFlow(usize),
    Cci(usize),
    HeikinAshi(usize),
}

/// One condition as the simulation evaluates it: a deal start condition, or a safety-order
/// condition (3Commas: "Safety order conditions work exactly the same way as the deal start or
/// deal close conditions", help centre 9663694).
#[derive(Debug, Clone, PartialEq)]
pub struct StartCondition {
    /// What it is and its strategy id, for messages ("start condition rsi").
    id: String,
    timeframe_ms: i64,
    indicator: Indicator,
    trigger: Option<Trigger>,
    /// stochastic's %K/%D cross, macd's line against zero.
    line: Option<Trigger>,
    level: f64,
    short: bool,
}

/// A start condition that needs signals from outside the candles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outside(pub String);

const MINUTE: i64 = 60_000;

fn timeframe_ms(text: &str) -> Option<i64> {
    Some(match text {
        "1m" => MINUTE,
        "3m" => 3 * MINUTE,
        "5m" => 5 * MINUTE,
        "15m" => 15 * MINUTE,
        "30m" => 30 * MINUTE,
        "1h" => 60 * MINUTE,
        "2h" => 120 * MINUTE,
        "4h" => 240 * MINUTE,
        "8h" => 480 * MINUTE,
        "1d" => 1440 * MINUTE,
        "3d" => 3 * 1440 * MINUTE,
        "1w" => 7 * 1440 * MINUTE,
        _ => return None,
    })
}

/// Where a timeframe's candles start: weeks on Monday 00:00 UTC (1970-01-01 was a Thursday),
/// everything else at multiples from the epoch.
fn alignment_ms(timeframe_ms: i64) -> i64 {
    if timeframe_ms == 7 * 1440 * MINUTE {
        4 * 1440 * MINUTE
    } else {
        0
    }
}

/// What a list of conditions decides, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `strategy_list`: when a deal opens.
    Start,
    /// `safety_strategy_list`: when the safety orders the price has reached fill.
    SafetyOrder,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Start => "start condition",
            Role::SafetyOrder => "safety-order condition",
        }
    }
}

/// Compile a bot's start (or safety-order) conditions. `Ok(conditions, outside)`: the
/// conditions a candle series determines (empty for `nonstop`) and the ids that need outside
/// signals; `Err` when a computable condition's options are unusable.
pub fn compile(
    list: &[StrategyCondition],
    short: bool,
    role: Role,
) -> Result<(Vec<StartCondition>, Vec<Outside>), NotBacktestable> {
    let mut conditions = Vec::new();
    let mut outside = Vec::new();
    for c in list {
        match one(c, short, role)? {
            Some(Ok(condition)) => conditions.push(condition),
            Some(Err(o)) => outside.push(o),
            None => {}
        }
    }
    Ok((conditions, outside))
}

fn one(
    c: &StrategyCondition,
    short: bool,
    role: Role,
) -> Result<Option<Result<StartCondition, Outside>>, NotBacktestable> {
    let id = c.strategy.as_str();
    let o = &c.options;
    let role = role.name();
    let bad = |what: String| NotBacktestable(format!("{role} {id}: {what}"));
    let text = |name: &str| -> Result<&str, NotBacktestable> {
        o.get(name)
            .map(String::as_str)
            .ok_or_else(|| bad(format!("`{name}` is not set")))
    };
    let number = |name: &str| -> Result<f64, NotBacktestable> {
        let t = text(name)?;
        t.trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| bad(format!("`{name}` = `{t}` is not a number")))
    };
    let period = |name: &str| -> Result<usize, NotBacktestable> {
        let x = number(name)?;
        if (1.0..=1000.0).contains(&x) && x.fract() == 0.0 {
            Ok(x as usize)
        } else {
            Err(bad(format!("`{name}` = {x} is not a whole number 1..1000")))
        }
    };
    let trigger = |name: &str| -> Result<Trigger, NotBacktestable> {
        let t = text(name)?;
        Trigger::parse(t).ok_or_else(|| bad(format!("`{name}` = `{t}` is not a trigger")))
    };
    let optional_trigger = |name: &str| -> Result<Option<Trigger>, NotBacktestable> {
        if o.contains_key(name) {
            trigger(name).map(Some)
        } else {
            Ok(None)
        }
    };
    let (indicator, trigger, line, level) = match id {
        "nonstop" => return Ok(None),
        "rsi" => (
            Indicator::Rsi(period("time_period")?),
            Some(trigger("trigger_condition")?),
            None,
            number("points")?,
        ),
        "ult" => (
            Indicator::Ultimate([
                period("first_period")?,
                period("second_period")?,
                period("third_period")?,
            ]),
            Some(trigger("trigger_condition")?),
            None,
            number("points")?,
        ),
        "b_bands_percent" => (
            Indicator::BollingerPercent(period("time_period")?, number("deviation")?),
            Some(trigger("trigger_condition")?),
            None,
            number("points")?,
        ),
        "ma_cross" => (
            Indicator::MovingAverageCross {
                ema: text("indicator_type")? == "ema",
                first: period("time_period_first")?,
                second: period("time_period_second")?,
            },
            Some(trigger("trigger_condition")?),
            None,
            0.0,
        ),
        "adx" => (
            Indicator::Adx(period("time_period")?),
            Some(trigger("trigger_condition")?),
            None,
            number("points")?,
        ),
        "stochastic" => (
            Indicator::Stochastic {
                fast_k: period("fast_k_period")?,
                slow_k: period("slow_k_period")?,
                slow_d: period("slow_d_period")?,
            },
            Some(trigger("trigger_condition")?),
            optional_trigger("line_trigger_condition")?,
            number("points")?,
        ),
        "macd" => (
            Indicator::Macd {
                fast: period("fast_period")?,
                slow: period("slow_period")?,
                signal: period("signal_period")?,
            },
            Some(trigger("trigger_condition")?),
            optional_trigger("line_trigger_condition")?,
            0.0,
        ),
        "parabolic_sar" => (
            Indicator::ParabolicSar {
                acceleration: number("acceleration_factor")?,
                maximum: number("af_maximum")?,
            },
            Some(trigger("trigger_condition")?),
            None,
            0.0,
        ),
        "mfi" => (
            Indicator::MoneyFlow(period("time_period")?),
            Some(trigger("trigger_condition")?),
            None,
            number("points")?,
        ),
        "cci" => (
            Indicator::Cci(period("time_period")?),
            Some(trigger("trigger_condition")?),
            None,
            number("points")?,
        ),
        "heikin_ashi" => (
            Indicator::HeikinAshi(period("candles_count")?),
            None,
            None,
            0.0,
        ),
        other => return Ok(Some(Err(Outside(other.to_string())))),
    };
    let time = text("time")?;
    let timeframe_ms = timeframe_ms(time).ok_or_else(|| bad(format!("`time` = `{time}`")))?;
    Ok(Some(Ok(StartCondition {
        id: format!("{role} {id}"),
        timeframe_ms,
        indicator,
        trigger,
        line,
        level,
        short,
    })))
}

/// Which candle of a timeframe a time falls in (its key: start / timeframe), remembering the
/// last one so sorted times cost a comparison, not a division, until the next candle.
struct Timeframe {
    offset: i64,
    length: i64,
    key: i64,
    start: i64,
    end: i64,
}

impl Timeframe {
    fn new(length: i64) -> Timeframe {
        Timeframe {
            offset: alignment_ms(length),
            length,
            key: 0,
            start: 0,
            end: 0,
        }
    }

    fn key(&mut self, t: i64) -> i64 {
        if t < self.start || t >= self.end {
            self.key = (t - self.offset).div_euclid(self.length);
            self.start = self.key * self.length + self.offset;
            self.end = self.start + self.length;
        }
        self.key
    }
}

/// Closed candles of one timeframe, and the key (start / timeframe) of each.
struct Bars {
    key: Vec<i64>,
    open: Vec<f64>,
    high: Vec<f64>,
    low: Vec<f64>,
    close: Vec<f64>,
    volume: Vec<f64>,
}

fn resample(
    candles: &[Candle],
    volumes: Option<&[f64]>,
    interval_ms: i64,
    timeframe_ms: i64,
) -> Bars {
    let mut timeframe = Timeframe::new(timeframe_ms);
    let mut bars = Bars {
        key: vec![],
        open: vec![],
        high: vec![],
        low: vec![],
        close: vec![],
        volume: vec![],
    };
    for (i, c) in candles.iter().enumerate() {
        let volume = volumes.and_then(|v| v.get(i).copied()).unwrap_or(f64::NAN);
        let key = timeframe.key(c.open_time_ms);
        if bars.key.last() == Some(&key) {
            let last = bars.key.len() - 1;
            bars.high[last] = bars.high[last].max(c.high);
            bars.low[last] = bars.low[last].min(c.low);
            bars.close[last] = c.close;
            bars.volume[last] += volume;
        } else {
            bars.key.push(key);
            bars.open.push(c.open);
            bars.high.push(c.high);
            bars.low.push(c.low);
            bars.close.push(c.close);
            bars.volume.push(volume);
        }
    }
    // The last group is closed only when its last candle ends where the group does.
    if let Some(last) = candles.last() {
        let end = last.open_time_ms + interval_ms;
        if timeframe.key(end) == timeframe.key(last.open_time_ms) {
            for v in [
                &mut bars.open,
                &mut bars.high,
                &mut bars.low,
                &mut bars.close,
                &mut bars.volume,
            ] {
                v.pop();
            }
            bars.key.pop();
        }
    }
    bars
}

impl StartCondition {
    /// Can the condition run on candles `interval_ms` long, with or without volumes?
    pub fn check(&self, interval_ms: i64, volumes: bool) -> Result<(), NotBacktestable> {
        if interval_ms > self.timeframe_ms || self.timeframe_ms % interval_ms != 0 {
            return Err(NotBacktestable(format!(
                "{} runs on {}-minute candles; the candles are {} minutes apart (use candles that divide it, e.g. --interval 5m)",
                self.id,
                self.timeframe_ms / MINUTE,
                interval_ms / MINUTE
            )));
        }
        if matches!(self.indicator, Indicator::MoneyFlow(_)) && !volumes {
            return Err(NotBacktestable(format!(
                "{} needs volumes and the candles have none (synthetic paths or files without a volume column)",
                self.id
            )));
        }
        Ok(())
    }

    /// At each close of the timeframe's candles: does the condition hold?
    fn signals(&self, bars: &Bars) -> Vec<bool> {
        let (o, h, l, c) = (&bars.open, &bars.high, &bars.low, &bars.close);
        let level = self.level;
        let trigger = self.trigger.unwrap_or(Trigger::Greater);
        let and = |a: Vec<bool>, b: Vec<bool>| a.iter().zip(&b).map(|(x, y)| *x && *y).collect();
        match &self.indicator {
            Indicator::Rsi(p) => trigger.signals(&ta::rsi(c, *p), level),
            Indicator::Ultimate(p) => trigger.signals(&ta::ultimate_oscillator(h, l, c, *p), level),
            Indicator::BollingerPercent(p, d) => {
                trigger.signals(&ta::bollinger_percent_b(c, *p, *d), level)
            }
            Indicator::MovingAverageCross { ema, first, second } => {
                let average = if *ema { ta::ema } else { ta::sma };
                let (a, b) = (average(c, *first), average(c, *second));
                let gap: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
                trigger.signals(&gap, 0.0)
            }
            Indicator::Adx(p) => trigger.signals(&ta::adx(h, l, c, *p), level),
            Indicator::Stochastic {
                fast_k,
                slow_k,
                slow_d,
            } => {
                let (k, d) = ta::stochastic(h, l, c, *fast_k, *slow_k, *slow_d);
                let on_level = trigger.signals(&k, level);
                match self.line {
                    Some(line) => {
                        let gap: Vec<f64> = k.iter().zip(&d).map(|(x, y)| x - y).collect();
                        and(on_level, line.signals(&gap, 0.0))
                    }
                    None => on_level,
                }
            }
            Indicator::Macd { fast, slow, signal } => {
                let (line, signal_line) = ta::macd(c, *fast, *slow, *signal);
                let gap: Vec<f64> = line.iter().zip(&signal_line).map(|(x, y)| x - y).collect();
                let cross = trigger.signals(&gap, 0.0);
                match self.line {
                    Some(side) => and(cross, side.signals(&line, 0.0)),
                    None => cross,
                }
            }
            Indicator::ParabolicSar {
                acceleration,
                maximum,
            } => {
                let sar = ta::parabolic_sar(h, l, *acceleration, *maximum);
                let gap: Vec<f64> = c.iter().zip(&sar).map(|(x, y)| x - y).collect();
                trigger.signals(&gap, 0.0)
            }
            Indicator::MoneyFlow(p) => trigger.signals(&ta::mfi(h, l, c, &bars.volume, *p), level),
            Indicator::Cci(p) => trigger.signals(&ta::cci(h, l, c, *p), level),
            Indicator::HeikinAshi(count) => {
                let want = if self.short { -1 } else { 1 };
                let colours = ta::heikin_ashi_colours(o, h, l, c);
                (0..colours.len())
                    .map(|i| {
                        i + 1 >= *count && colours[i + 1 - count..=i].iter().all(|&x| x == want)
                    })
                    .collect()
            }
        }
    }
}

/// For each candle: may a deal open at its open (every condition valid then)? `None` when there
/// are no conditions (`nonstop`). Call [`super::BotModel::check_candles`] first.
pub fn gate(
    conditions: &[StartCondition],
    candles: &[Candle],
    volumes: Option<&[f64]>,
    interval_ms: i64,
) -> Option<Vec<bool>> {
    if conditions.is_empty() {
        return None;
    }
    let mut open = vec![true; candles.len()];
    // Conditions on the same timeframe share their candles.
    let mut by_timeframe: BTreeMap<i64, Vec<&StartCondition>> = BTreeMap::new();
    for c in conditions {
        by_timeframe.entry(c.timeframe_ms).or_default().push(c);
    }
    for (timeframe_ms, group) in by_timeframe {
        let bars = resample(candles, volumes, interval_ms, timeframe_ms);
        let mut timeframe = Timeframe::new(timeframe_ms);
        for condition in group {
            let signals = condition.signals(&bars);
            // A signal at the close of bar j is valid during the bar that follows it in time.
            let mut j = 0;
            for (candle, slot) in candles.iter().zip(open.iter_mut()) {
                let key = timeframe.key(candle.open_time_ms);
                while j < bars.key.len() && bars.key[j] < key - 1 {
                    j += 1;
                }
                let valid = j < bars.key.len() && bars.key[j] == key - 1 && signals[j];
                *slot &= valid;
            }
        }
    }
    Some(open)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candle(i: i64, minutes: i64, close: f64) -> Candle {
        Candle {
            open_time_ms: i * minutes * MINUTE,
            open: close,
            high: close,
            low: close,
            close,
        }
    }

    fn rsi(time: &str, points: &str, trigger: &str, period: &str) -> StrategyCondition {
        StrategyCondition {
            strategy: "rsi".into(),
            options: [
                ("time", time),
                ("points", points),
                ("trigger_condition", trigger),
                ("time_period", period),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        }
    }

    #[test]
    fn a_signal_at_a_close_opens_deals_during_the_next_timeframe_candle() {
        // 15-minute RSI(2) on 5-minute candles. Closes of the 15-minute candles: 100, 90, 80
        // (RSI 0 from the third: below 30), then 120 (RSI above 30).
        let closes = [
            100.0, 100.0, 100.0, 90.0, 90.0, 90.0, 80.0, 80.0, 80.0, 120.0, 120.0, 120.0, 120.0,
            120.0, 120.0,
        ];
        let candles: Vec<Candle> = closes
            .iter()
            .enumerate()
            .map(|(i, c)| candle(i as i64, 5, *c))
            .collect();
        let (conditions, outside) =
            compile(&[rsi("15m", "30", "less", "2")], false, Role::Start).unwrap();
        assert!(outside.is_empty());
        conditions[0].check(5 * MINUTE, true).unwrap();
        let gate = gate(&conditions, &candles, None, 5 * MINUTE).unwrap();
        // The 15-minute candle 2 (candles 6-8) closes with RSI 0: deals may open in candle 3
        // (candles 9-11) only; candle 3 closes with RSI 100, so not in candle 4.
        let open: Vec<usize> = (0..gate.len()).filter(|&i| gate[i]).collect();
        assert_eq!(open, vec![9, 10, 11]);
    }

    #[test]
    fn crossings_need_the_previous_close_on_the_other_side() {
        let values = [10.0, 20.0, 40.0, 35.0, 25.0, 30.0, f64::NAN, 50.0];
        assert_eq!(
            Trigger::CrossingAbove.signals(&values, 30.0),
            vec![false, false, true, false, false, false, false, false]
        );
        assert_eq!(
            Trigger::CrossingBelow.signals(&values, 30.0),
            vec![false, false, false, false, true, false, false, false]
        );
        assert_eq!(
            Trigger::Less.signals(&values, 30.0),
            vec![true, true, false, false, true, false, false, false]
        );
    }

    #[test]
    fn the_unfinished_last_candle_is_not_evaluated_and_weeks_start_on_monday() {
        // 1-hour candles from Monday 1970-01-05 00:00 UTC for 1.5 days, grouped by day.
        let monday = 4 * 1440;
        let candles: Vec<Candle> = (0..36)
            .map(|i| Candle {
                open_time_ms: (monday + i * 60) * MINUTE,
                ..candle(0, 60, 100.0 + i as f64)
            })
            .collect();
        let days = resample(&candles, None, 60 * MINUTE, 1440 * MINUTE);
        assert_eq!(days.close, vec![123.0], "only the finished day");
        let weeks = resample(&candles, None, 60 * MINUTE, 7 * 1440 * MINUTE);
        assert!(weeks.key.is_empty(), "the week is not over");
        assert_eq!(
            (monday * MINUTE - alignment_ms(7 * 1440 * MINUTE)).rem_euclid(7 * 1440 * MINUTE),
            0
        );
    }

    #[test]
    fn outside_signals_and_bad_options_are_told_apart() {
        let tv = StrategyCondition {
            strategy: "tv_custom_signal".into(),
            options: Default::default(),
        };
        let (conditions, outside) = compile(&[tv], false, Role::Start).unwrap();
        assert!(conditions.is_empty());
        assert_eq!(outside, vec![Outside("tv_custom_signal".into())]);
        let err = compile(&[rsi("15m", "thirty", "less", "14")], false, Role::Start).unwrap_err();
        assert!(err.0.contains("`points` = `thirty`"), "{}", err.0);
        let (c, _) = compile(&[rsi("15m", "30", "less", "14")], false, Role::Start).unwrap();
        assert!(
            c[0].check(60 * MINUTE, true)
                .unwrap_err()
                .0
                .contains("15-minute")
        );
        assert!(
            c[0].check(10 * MINUTE, true).is_err(),
            "10 minutes do not divide 15"
        );
    }

    #[test]
    fn heikin_ashi_wants_n_green_candles_for_a_long_and_red_for_a_short() {
        let list = [StrategyCondition {
            strategy: "heikin_ashi".into(),
            options: [("time", "5m"), ("candles_count", "2")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }];
        // Rising closes: every Heikin Ashi candle after the first is green.
        let candles: Vec<Candle> = (0..6)
            .map(|i| Candle {
                open: 100.0 + i as f64,
                close: 101.0 + i as f64,
                high: 101.0 + i as f64,
                low: 100.0 + i as f64,
                ..candle(i, 5, 0.0)
            })
            .collect();
        let (long, _) = compile(&list, false, Role::Start).unwrap();
        let open = gate(&long, &candles, None, 5 * MINUTE).unwrap();
        // The first Heikin Ashi candle is flat; two green ones close at candle 2: deals from candle 3.
        assert_eq!(open, vec![false, false, false, true, true, true]);
        let (short, _) = compile(&list, true, Role::Start).unwrap();
        assert!(
            gate(&short, &candles, None, 5 * MINUTE)
                .unwrap()
                .iter()
                .all(|x| !x)
        );
    }
}
