//! One candidate, from drawn values to scores. The candidate is an edit of the trader's config
//! text (through `edit::apply`, the core of MCP's `set_fields`), checked by validate's every
//! rule as the edited files stand (so `max_capital`, 3Commas' limits and template inheritance
//! hold exactly as they will after `--write`), then simulated on each fold's parts.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{DrawdownCap, IN_SAMPLE_PERCENTAGE, Objective, Study};
use crate::config::Checked;
use crate::config::source::SourceFile;
use crate::edit::{self, BotList, Edited, Entity, Op};
use crate::model::decimal::Decimal;
use crate::simulate::report::Windows;
use crate::simulate::{Assumptions, BotModel, Observer, PairCandles, dec};

const DAY_MS: i64 = 86_400_000;

/// A stretch of time, and each pair's candles within it (indices into its window).
#[derive(Debug, Clone)]
pub struct Part {
    pub from_ms: i64,
    pub to_ms: i64,
    ranges: Vec<Range<usize>>,
}

/// A fold: its in-sample part, and the out-of-sample part right after it.
#[derive(Debug, Clone)]
pub struct Fold {
    pub in_sample: Part,
    pub out_of_sample: Part,
}

/// What a bot did on one part, or on several added up ([`Score::total`]). Decimals (8 places)
/// from the simulation's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// Realized profit, plus the deal open at the part's end valued at its last close.
    pub profit_quote: Decimal,
    /// The worst unrealized loss at once (over several parts: the worst of them).
    pub max_drawdown_quote: Decimal,
    /// Deals closed (take profit, stop loss, timeout).
    pub deals: u32,
    /// Deals that filled every safety order.
    pub ladder_exhausted: u32,
    pub stopped: u32,
    /// Days with a daily profit, their sum, and the sum of the squares of the losing ones (for
    /// the Sortino ratio, which adds up across parts).
    pub days: u32,
    pub daily_sum: Decimal,
    pub daily_loss_squares: Decimal,
}

impl Score {
    /// Parts added up: profit, deals and days summed, the worst drawdown.
    pub fn total<'a>(parts: impl IntoIterator<Item = &'a Score>) -> Score {
        parts.into_iter().fold(Score::default(), |t, p| Score {
            profit_quote: t.profit_quote + p.profit_quote,
            max_drawdown_quote: t.max_drawdown_quote.max(p.max_drawdown_quote),
            deals: t.deals + p.deals,
            ladder_exhausted: t.ladder_exhausted + p.ladder_exhausted,
            stopped: t.stopped + p.stopped,
            days: t.days + p.days,
            daily_sum: t.daily_sum + p.daily_sum,
            daily_loss_squares: t.daily_loss_squares + p.daily_loss_squares,
        })
    }

    /// The annualized Sortino ratio of the daily profits; `None` with fewer than two days. A run
    /// with no losing day is scored as if its downside deviation were 0.01 % of the capital a
    /// day (its ratio is otherwise unbounded), or 0.01 quote without a capital.
    pub fn sortino(&self, capital: Option<Decimal>) -> Option<Decimal> {
        if self.days < 2 {
            return None;
        }
        let n = f64::from(self.days);
        let mean = f(self.daily_sum) / n;
        let floor = capital.map_or(0.01, |c| f(c) * 1e-4).max(1e-12);
        let downside = (f(self.daily_loss_squares) / n).sqrt().max(floor);
        Some(dec(mean / downside * 365f64.sqrt()).round_dp(4))
    }

    /// The objective's value: higher is better.
    pub fn value(&self, objective: Objective, capital: Option<Decimal>) -> Decimal {
        match objective {
            Objective::Profit | Objective::CappedProfit => self.profit_quote,
            Objective::ProfitPerCapital => match capital {
                Some(c) if c > Decimal::ZERO => {
                    (self.profit_quote * Decimal::ONE_HUNDRED / c).round_dp(6)
                }
                _ => Decimal::ZERO,
            },
            Objective::Sortino => self.sortino(capital).unwrap_or(Decimal::ZERO),
        }
    }
}

/// The most of a refusal's message a record keeps: validate's budget error lists every bot of
/// the account, and a record is written once per candidate (shard files, MCP answers).
const MAX_REASON_CHARS: usize = 240;

fn clip(text: &str) -> String {
    match text.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

fn f(d: Decimal) -> f64 {
    rust_decimal::prelude::ToPrimitive::to_f64(&d.0).unwrap_or(0.0)
}

/// Why a candidate was not scored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "reason")]
pub enum Rejection {
    /// validate refuses the edited config (3Commas' rules, `max_capital`, ...), or it cannot
    /// be simulated: `code: message` for validate's first error.
    Invalid(String),
    /// Valid, but outside the study's constraints (coverage).
    Infeasible(String),
}

/// A candidate ready to simulate.
pub struct Compiled {
    pub model: BotModel,
    /// What the bot can lock (every deal to its last safety order), in the quote currency.
    pub capital: Option<Decimal>,
    /// The price move its ladder covers, in percent.
    pub coverage: Decimal,
}

/// Everything a study scores candidates against: the config as read, the bot, the candles and
/// the folds. Shared read-only by every worker thread.
pub struct Evaluator {
    pub study: Study,
    sources: Vec<SourceFile>,
    /// Which source the edits go to, and what they set.
    edit_source: usize,
    entity: Entity,
    /// The bot's position among the config's DCA bots (edits that set fields move none).
    bot_index: usize,
    windows: Windows,
    pub folds: Vec<Fold>,
    assumptions: Assumptions,
    /// The merged value of each varied setting as the config stands (`None`: unset).
    pub current: Vec<Option<Decimal>>,
    /// The bot's name and account as the config writes them.
    pub bot_name: String,
    pub account: String,
    /// The quote currency of the bot's first pair.
    pub quote: String,
    /// The pairs simulated, and the candles' span and interval.
    pub pairs: Vec<String>,
    pub candles: usize,
    pub interval_ms: i64,
}

impl Evaluator {
    /// Set up a study on a valid config (`checked`, read from files) and the bot's candle
    /// windows. Refuses a bot that cannot take the edit (a field set in its own block with
    /// `--template`), and a span too short for the folds.
    pub fn new(
        checked: &Checked,
        study: Study,
        windows: Windows,
        assumptions: Assumptions,
    ) -> Result<Evaluator, String> {
        study.check()?;
        let (named, _) = crate::edit::locate::find_bot(
            checked,
            BotList::Dca,
            &study.bot,
            study.account.as_deref().unwrap_or(""),
        )?;
        let bot = &checked.bots[named.index];
        let raw = &checked.config.bots[bot.index];
        let sources: Vec<SourceFile> = checked
            .config
            .sources
            .iter()
            .map(|(_, s)| s.clone())
            .collect();
        let (entity, edit_path) = if study.into_template {
            let template = raw.template.clone().ok_or_else(|| {
                format!(
                    "--template: the bot \"{}\" names no template; drop --template to edit its own block",
                    bot.name()
                )
            })?;
            let named_template =
                checked.config.templates.get(&template).ok_or_else(|| {
                    format!("--template: the template `{template}` is not defined")
                })?;
            for d in &study.space.0 {
                if crate::config::decode::Record::spans(raw).has(&d.field) {
                    let span = crate::config::decode::Record::spans(raw).entry(&d.field);
                    let file = checked.config.sources.get(span.file);
                    let (line, _) = file.line_col(span.start as usize);
                    return Err(format!(
                        "--template: {} is set in the bot's own block ({}:{line}), which overrides the template: remove it there, or drop --template",
                        d.field,
                        file.display_name()
                    ));
                }
            }
            let file = checked.config.sources.get(named_template.name_span.file);
            (Entity::Template(template), file.path.clone())
        } else {
            (Entity::Bot(named.entry.clone()), named.file.clone())
        };
        let edit_source = sources
            .iter()
            .position(|s| s.path == edit_path)
            .ok_or("the file to edit is not among the config's files")?;
        let current = current_values(&bot.settings(), &study);
        let pairs: Vec<String> = windows.0.iter().map(|(p, _)| p.clone()).collect();
        let folds = folds(&windows, study.folds)?;
        let interval_ms = windows.0.first().map_or(0, |(_, w)| w.interval_ms);
        let candles = windows.0.iter().map(|(_, w)| w.candles.len()).sum();
        let quote = pairs
            .first()
            .and_then(|p| p.split_once('_'))
            .map_or("", |(q, _)| q)
            .to_string();
        Ok(Evaluator {
            study,
            sources,
            edit_source,
            entity,
            bot_index: named.index,
            windows,
            folds,
            assumptions,
            current,
            bot_name: bot.name().to_string(),
            account: bot.spec.account.clone().unwrap_or_default(),
            quote,
            pairs,
            candles,
            interval_ms,
        })
    }

    /// The fields a candidate changes: those whose value differs from the config's.
    pub fn changed_fields(&self, values: &[Decimal]) -> Map<String, Value> {
        self.study
            .space
            .0
            .iter()
            .zip(values)
            .zip(&self.current)
            .filter(|((_, v), now)| now.is_none_or(|n| n.0.normalize() != v.0.normalize()))
            .map(|((d, v), _)| (d.field.clone(), super::space::number(*v)))
            .collect()
    }

    /// The edit a candidate makes to the trader's file (`None`: it changes nothing).
    pub fn edit(&self, values: &[Decimal]) -> Result<Option<Edited>, String> {
        let fields = self.changed_fields(values);
        if fields.is_empty() {
            return Ok(None);
        }
        let source = &self.sources[self.edit_source];
        edit::apply(
            &source.path,
            &source.text,
            &Op::Set {
                entity: self.entity.clone(),
                fields,
            },
        )
        .map(Some)
    }

    /// The config as a candidate leaves it, checked.
    pub fn checked_with(&self, edited: Option<&Edited>) -> Checked {
        let mut sources = self.sources.clone();
        if let Some(e) = edited {
            let s = &sources[self.edit_source];
            sources[self.edit_source] = SourceFile::new(s.path.clone(), s.syntax, e.after.clone());
        }
        crate::config::check_sources(sources)
    }

    /// Edit, validate and compile a candidate; `Err` says why it is not scored.
    pub fn compile(&self, values: &[Decimal]) -> Result<Compiled, Rejection> {
        let edited = self.edit(values).map_err(Rejection::Invalid)?;
        let checked = self.checked_with(edited.as_ref());
        if let Some(error) = checked
            .diagnostics
            .iter()
            .find(|d| d.severity == crate::diagnostic::Severity::Error)
        {
            return Err(Rejection::Invalid(clip(&format!(
                "{}: {}",
                error.code, error.message
            ))));
        }
        let bot = checked
            .bots
            .get(self.bot_index)
            .filter(|b| b.name() == self.bot_name)
            .ok_or_else(|| Rejection::Invalid("the edit moved the bot".into()))?;
        let settings = bot.settings();
        // The edit must reach the bot: a value a template gives and the bot overrides would not.
        let reached = current_values(&settings, &self.study);
        if reached
            .iter()
            .zip(values)
            .any(|(r, v)| r.is_none_or(|r| r.0.normalize() != v.0.normalize()))
        {
            return Err(Rejection::Invalid(
                "the edit does not reach the bot (its own block overrides it)".into(),
            ));
        }
        let numbers = checked.numbers.get(self.bot_index).cloned().flatten();
        let coverage = numbers
            .as_ref()
            .map_or(Decimal::ZERO, |n| n.price_move_covered_percentage);
        let capital = numbers.as_ref().and_then(|n| {
            (n.capital_currency == Some(crate::model::enums::VolumeType::QuoteCurrency))
                .then_some(n.capital_all_deals)
                .flatten()
        });
        if let Some(least) = self.study.min_coverage
            && coverage < least
        {
            return Err(Rejection::Infeasible(format!(
                "the ladder covers {}% of price move, under --min-coverage {least}%",
                coverage.round_dp(2)
            )));
        }
        let (model, _) = crate::simulate::compile(&settings, &self.assumptions)
            .map_err(|e| Rejection::Invalid(e.0))?;
        Ok(Compiled {
            model,
            capital,
            coverage,
        })
    }

    /// The other bots whose settings a candidate's edit changes too (those sharing the template
    /// it edits), by name.
    pub fn also_changed(&self, values: &[Decimal]) -> Vec<String> {
        let Ok(Some(edited)) = self.edit(values) else {
            return Vec::new();
        };
        let (before, after) = (self.checked_with(None), self.checked_with(Some(&edited)));
        before
            .bots
            .iter()
            .zip(&after.bots)
            .enumerate()
            .filter(|(i, (b, a))| *i != self.bot_index && b.settings() != a.settings())
            .map(|(_, (b, _))| b.name().to_string())
            .collect()
    }

    /// The bot as the config stands, compiled.
    pub fn baseline(&self) -> Result<Compiled, String> {
        let edited = None;
        let checked = self.checked_with(edited);
        let bot = &checked.bots[self.bot_index];
        let numbers = checked.numbers.get(self.bot_index).cloned().flatten();
        let (model, _) =
            crate::simulate::compile(&bot.settings(), &self.assumptions).map_err(|e| {
                format!(
                    "the bot \"{}\" cannot be backtested: {}",
                    self.bot_name, e.0
                )
            })?;
        Ok(Compiled {
            model,
            capital: numbers.as_ref().and_then(|n| {
                (n.capital_currency == Some(crate::model::enums::VolumeType::QuoteCurrency))
                    .then_some(n.capital_all_deals)
                    .flatten()
            }),
            coverage: numbers.map_or(Decimal::ZERO, |n| n.price_move_covered_percentage),
        })
    }

    /// Simulate a compiled candidate on one part.
    pub fn score(&self, compiled: &Compiled, part: &Part) -> Score {
        let pairs: Vec<PairCandles<'_>> = self
            .windows
            .0
            .iter()
            .zip(&part.ranges)
            .map(|((_, w), r)| PairCandles {
                candles: &w.candles[r.clone()],
                volumes: w.volumes.as_deref().map(|v| &v[r.clone()]),
                interval_ms: w.interval_ms,
                limits: w.limits,
                detail: &[],
                detail_interval_ms: 0,
            })
            .collect();
        let mut daily = Daily::default();
        let outcome = crate::simulate::run_bot(&compiled.model, &pairs, &mut daily);
        daily.close_day();
        let per = &outcome.per_pair;
        Score {
            profit_quote: dec(per
                .iter()
                .map(|o| o.profit_quote + o.unrealized_quote)
                .sum()),
            max_drawdown_quote: dec(outcome.max_drawdown_quote),
            deals: per.iter().map(|o| o.finished_deals()).sum(),
            ladder_exhausted: per.iter().map(|o| o.ladder_exhausted).sum(),
            stopped: per.iter().map(|o| o.deals_stopped).sum(),
            days: daily.days,
            daily_sum: dec(daily.sum),
            daily_loss_squares: dec(daily.loss_squares),
        }
    }

    /// A drawdown over the study's cap, said in a line.
    pub fn over_cap(&self, totals: &Score, capital: Option<Decimal>) -> Option<String> {
        let cap = self.study.max_drawdown?;
        let limit = cap.quote(capital)?;
        (totals.max_drawdown_quote > limit).then(|| {
            format!(
                "drawdown {} over --max-drawdown {}",
                totals.max_drawdown_quote.round_dp(2),
                match cap {
                    DrawdownCap::Quote(q) => q.to_string(),
                    DrawdownCap::PercentOfCapital(p) => format!("{p}% ({})", limit.round_dp(2)),
                }
            )
        })
    }
}

/// The merged value of each of the study's fields in a bot's settings.
fn current_values(
    settings: &crate::model::bot::BotSettings,
    study: &Study,
) -> Vec<Option<Decimal>> {
    let json = serde_json::to_value(settings).unwrap_or_default();
    study
        .space
        .0
        .iter()
        .map(|d| match json.get(&d.field) {
            Some(Value::String(s)) => s.parse().ok(),
            Some(Value::Number(n)) => n.to_string().parse().ok(),
            _ => None,
        })
        .collect()
}

/// Cut the windows' common span into folds, each 75 % in sample then 25 % out of sample.
fn folds(windows: &Windows, count: u32) -> Result<Vec<Fold>, String> {
    let from = windows
        .0
        .iter()
        .filter_map(|(_, w)| w.candles.first().map(|c| c.open_time_ms))
        .min()
        .unwrap_or(0);
    let to = windows
        .0
        .iter()
        .filter_map(|(_, w)| w.candles.last().map(|c| c.open_time_ms + w.interval_ms))
        .max()
        .unwrap_or(0);
    let interval = windows.0.first().map_or(1, |(_, w)| w.interval_ms.max(1));
    let span = to - from;
    let count = i64::from(count);
    // Each out-of-sample part needs room for a few deals: a day at least.
    if span / count * (100 - IN_SAMPLE_PERCENTAGE) / 100 < DAY_MS.max(interval * 12) {
        return Err(format!(
            "the candles span {} days: too short for {count} folds (each fold's last quarter, out of sample, needs a day at least): give more candles or fewer --folds",
            span / DAY_MS
        ));
    }
    let part = |a: i64, b: i64| Part {
        from_ms: a,
        to_ms: b,
        ranges: windows
            .0
            .iter()
            .map(|(_, w)| {
                let start = w.candles.partition_point(|c| c.open_time_ms < a);
                let end = w.candles.partition_point(|c| c.open_time_ms < b);
                start..end
            })
            .collect(),
    };
    Ok((0..count)
        .map(|k| {
            let start = from + span * k / count;
            let end = from + span * (k + 1) / count;
            let cut = start + (end - start) * IN_SAMPLE_PERCENTAGE / 100;
            // Cut on a candle boundary, so no candle is in both parts.
            let cut = from + (cut - from) / interval * interval;
            Fold {
                in_sample: part(start, cut),
                out_of_sample: part(cut, end),
            }
        })
        .collect())
}

/// Daily profits from a run's steps (equity starts at 0 on each part).
#[derive(Default)]
struct Daily {
    day: Option<i64>,
    equity: f64,
    day_start: f64,
    days: u32,
    sum: f64,
    loss_squares: f64,
}

impl Daily {
    fn close_day(&mut self) {
        if self.day.is_some() {
            let change = self.equity - self.day_start;
            self.days += 1;
            self.sum += change;
            if change < 0.0 {
                self.loss_squares += change * change;
            }
            self.day_start = self.equity;
        }
    }
}

impl Observer for Daily {
    fn step(&mut self, at_ms: i64, equity: f64, _committed: f64) {
        // A step ends at `at_ms`: it belongs to the day its last instant is in.
        let day = (at_ms - 1).div_euclid(DAY_MS);
        if self.day != Some(day) {
            self.close_day();
            self.day = Some(day);
        }
        self.equity = equity;
    }
}

impl Evaluator {
    /// A digest of what decides every score: the config's files and the candles. Shards of
    /// one study must agree on it to be merged.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let mut hash = sha2::Sha256::new();
        for s in &self.sources {
            hash.update(s.path.to_string_lossy().as_bytes());
            hash.update([0]);
            hash.update(s.text.as_bytes());
            hash.update([0]);
        }
        for (pair, w) in &self.windows.0 {
            hash.update(pair.as_bytes());
            hash.update(w.interval_ms.to_le_bytes());
            for c in &w.candles {
                hash.update(c.open_time_ms.to_le_bytes());
                for x in [c.open, c.high, c.low, c.close] {
                    hash.update(x.to_bits().to_le_bytes());
                }
            }
        }
        hash.update(self.assumptions.fee_percentage.to_string().as_bytes());
        hash.update(self.assumptions.intrabar.name().as_bytes());
        hash.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl Evaluator {
    /// A compiled candidate over the whole span (every fold, in and out of sample, as one run):
    /// its equity curve, for the report's chart.
    pub fn equity(&self, compiled: &Compiled) -> Vec<crate::simulate::figures::EquityPoint> {
        let pairs: Vec<PairCandles<'_>> = self
            .windows
            .0
            .iter()
            .map(|(_, w)| PairCandles {
                candles: &w.candles,
                volumes: w.volumes.as_deref(),
                interval_ms: w.interval_ms,
                limits: w.limits,
                detail: &[],
                detail_interval_ms: 0,
            })
            .collect();
        let (from, to) = (
            self.folds.first().map_or(0, |f| f.in_sample.from_ms),
            self.folds.last().map_or(0, |f| f.out_of_sample.to_ms),
        );
        let mut curve = crate::simulate::figures::Curve::new(from, to);
        crate::simulate::run_bot(&compiled.model, &pairs, &mut curve);
        curve.figures().equity
    }
}
