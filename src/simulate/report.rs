//! A backtest of a config as data: which candles, which bots, and per bot and pair (or per bot
//! over synthetic paths) what the model did. One function for the CLI, plan and the MCP server.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::candles::{self, Series};
use super::{Assumptions, BotModel, Candle, PairReport, Sensitivity, dec, synthetic};
use crate::config::Checked;
use crate::model::decimal::Decimal;

/// Where the prices come from.
#[derive(Debug, Clone)]
pub enum Prices {
    /// Candle CSV files or directories of them.
    Files(Vec<PathBuf>),
    /// Seeded random paths.
    Synthetic(synthetic::Spec),
}

/// What to backtest, and how.
#[derive(Debug, Clone)]
pub struct Options {
    pub prices: Prices,
    /// Bot names (any case); empty: every bot.
    pub bots: Vec<String>,
    /// Candle open times, milliseconds: from inclusive, to exclusive.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Fee, outside signals, balance.
    pub assumptions: Assumptions,
}

/// `botform backtest --format json` (format_version 1).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(title = "botform backtest")]
pub struct BacktestReport {
    pub format_version: u32,
    pub fee_percentage: Decimal,
    /// Per bot and pair, from candle files.
    pub results: Vec<PairReport>,
    /// Per bot, from synthetic paths.
    pub stress: Vec<StressReport>,
    pub not_backtestable: Vec<Skipped>,
    /// Bots' pairs with no candle file.
    pub missing_candles: Vec<Skipped>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

/// Percentiles over paths.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Spread {
    pub p5: Decimal,
    pub p50: Decimal,
    pub p95: Decimal,
    pub max: Decimal,
}

/// Shares of paths, 0 to 1.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Chances {
    /// A deal filled every safety order.
    pub ladder_exhausted: Decimal,
    pub stop_loss_hit: Decimal,
    /// A deal stayed open longer than a week.
    pub deal_longer_than_a_week: Decimal,
    /// Capital still locked in a deal at the end.
    pub open_at_end: Decimal,
}

/// One bot over N seeded random paths.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StressReport {
    pub name: String,
    pub account: String,
    /// The currency profit, capital and drawdown are in: the quote of the bot's first pair.
    pub quote: String,
    pub paths: u32,
    pub candles_per_path: usize,
    pub interval_s: i64,
    pub volatility_percentage: Decimal,
    pub profit_quote: Spread,
    pub max_capital_used: Spread,
    pub max_drawdown_quote: Spread,
    pub chances: Chances,
    pub not_simulated: Vec<String>,
}

fn spread(mut values: Vec<f64>) -> Spread {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let i = ((values.len() - 1) as f64 * q).round() as usize;
        dec(values[i])
    };
    Spread {
        p5: at(0.05),
        p50: at(0.5),
        p95: at(0.95),
        max: dec(*values.last().unwrap_or(&0.0)),
    }
}

fn share(count: usize, of: usize) -> Decimal {
    dec(count as f64 / of.max(1) as f64).round_dp(4)
}

impl BacktestReport {
    fn empty(fee_percentage: Decimal) -> BacktestReport {
        BacktestReport {
            format_version: 1,
            fee_percentage,
            results: Vec::new(),
            stress: Vec::new(),
            not_backtestable: Vec::new(),
            missing_candles: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Backtest the bots of a valid config. `Err` for what stops the whole run (a bad candle file,
/// a bot name that is not in the config).
pub fn backtest(checked: &Checked, options: &Options) -> Result<BacktestReport, String> {
    let names: Vec<&str> = checked
        .bots
        .iter()
        .filter_map(|b| b.spec.name.as_deref())
        .collect();
    for wanted in &options.bots {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(wanted)) {
            return Err(format!(
                "no bot of the config is named `{wanted}`{}",
                crate::diagnostic::did_you_mean(wanted, names.iter().copied())
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default()
            ));
        }
    }
    let mut report = BacktestReport::empty(options.assumptions.fee_percentage);
    let mut loaded = Loaded::default();
    for bot in &checked.bots {
        let name = bot.name().to_string();
        let chosen =
            options.bots.is_empty() || options.bots.iter().any(|b| b.eq_ignore_ascii_case(&name));
        if bot.spec.absent == Some(true) || !chosen {
            continue;
        }
        let account = bot.spec.account.clone().unwrap_or_default();
        let settings = bot.settings();
        let (model, not_simulated) = match super::compile(&settings, &options.assumptions) {
            Ok(m) => m,
            Err(e) => {
                report.not_backtestable.push(Skipped { name, reason: e.0 });
                continue;
            }
        };
        match &options.prices {
            Prices::Synthetic(spec) => {
                if let Err(e) = model.check_candles(spec.interval_ms, false) {
                    report.not_backtestable.push(Skipped { name, reason: e.0 });
                    continue;
                }
                let quote = settings
                    .pairs
                    .iter()
                    .flatten()
                    .next()
                    .and_then(|p| p.split_once('_'))
                    .map_or("", |(q, _)| q)
                    .to_string();
                report
                    .stress
                    .push(stress(&name, &account, &quote, &model, spec, not_simulated));
            }
            Prices::Files(files) => {
                for pair in settings.pairs.iter().flatten() {
                    match loaded.window(files, &name, pair, options, &mut report)? {
                        Some(window) => {
                            let outcome = match window.run(&model) {
                                Ok(outcome) => outcome,
                                Err(e) => {
                                    report.not_backtestable.push(Skipped {
                                        name: format!("{name} ({pair})"),
                                        reason: e.0,
                                    });
                                    continue;
                                }
                            };
                            let path = options.assumptions.intrabar;
                            let other = path.opposite();
                            let sensitivity = window
                                .run(&model.with_intrabar(other))
                                .ok()
                                .and_then(|o| Sensitivity::between(&outcome, &o, other));
                            report.results.push(PairReport {
                                not_simulated: not_simulated.clone(),
                                intrabar: path,
                                sensitivity,
                                ..PairReport::new(
                                    &name,
                                    &account,
                                    pair,
                                    &window.candles,
                                    window.interval_ms,
                                    &outcome,
                                )
                            });
                        }
                        None => continue,
                    }
                }
            }
        }
    }
    if options.assumptions.fee_percentage.is_zero()
        && !(report.results.is_empty() && report.stress.is_empty())
    {
        report.warnings.push(
            "the fee is 0 %: exchanges charge about 0.1 % a trade (Binance and Bybit spot takers), which 3Commas builds into the take profit; pass --fee 0.1 for figures closer to a real account"
                .into(),
        );
    }
    if report.results.is_empty() && report.stress.is_empty() {
        report
            .warnings
            .push("no bot was simulated: see not_backtestable and missing_candles".into());
    }
    Ok(report)
}

/// Candle files read so far, each once.
#[derive(Default)]
pub struct Loaded {
    series: BTreeMap<PathBuf, Series>,
    /// All the candles held, however many files (see [`candles::MAX_CANDLES_HELD`]).
    budget: candles::Budget,
}

/// A pair's candles between `--from` and `--to`, with their volumes when the file has them.
pub struct Window {
    pub candles: Vec<Candle>,
    pub volumes: Option<Vec<f64>>,
    pub interval_ms: i64,
}

impl Window {
    /// Run a bot over it, after checking the bot can run on these candles.
    fn run(&self, model: &BotModel) -> Result<super::Outcome, super::NotBacktestable> {
        model.check_candles(self.interval_ms, self.volumes.is_some())?;
        Ok(super::run_with(
            model,
            &self.candles,
            self.volumes.as_deref(),
            self.interval_ms,
            |_| {},
        ))
    }
}

impl Loaded {
    /// The candles of `pair` within the options' window, or `None` (reported) when there are none.
    pub fn window(
        &mut self,
        files: &[PathBuf],
        bot: &str,
        pair: &str,
        options: &Options,
        report: &mut BacktestReport,
    ) -> Result<Option<Window>, String> {
        let Some(file) = candles::find_for_pair(files, pair) else {
            let (quote, base) = pair.split_once('_').unwrap_or((pair, ""));
            report.missing_candles.push(Skipped {
                name: bot.to_string(),
                reason: format!("{pair}: no {pair}.csv or {base}{quote}.csv among the candles"),
            });
            return Ok(None);
        };
        if !self.series.contains_key(&file) {
            let series = candles::read_csv(&file).map_err(|e| e.to_string())?;
            self.budget
                .take(series.candles.len(), &file.display().to_string())?;
            report.warnings.extend(series.warnings.iter().cloned());
            self.series.insert(file.clone(), series);
        }
        let s = &self.series[&file];
        // The rows are sorted by time: the window is one range of them.
        let from = options
            .from_ms
            .map_or(0, |f| s.candles.partition_point(|c| c.open_time_ms < f));
        let to = options
            .to_ms
            .map_or(s.candles.len(), |t| {
                s.candles.partition_point(|c| c.open_time_ms < t)
            })
            .max(from);
        if from == to {
            report.missing_candles.push(Skipped {
                name: bot.to_string(),
                reason: format!("{pair}: no candles between --from and --to"),
            });
            return Ok(None);
        }
        Ok(Some(Window {
            candles: s.candles[from..to].to_vec(),
            volumes: s.volumes.as_ref().map(|v| v[from..to].to_vec()),
            interval_ms: s.interval_ms,
        }))
    }
}

fn stress(
    name: &str,
    account: &str,
    quote: &str,
    model: &BotModel,
    spec: &synthetic::Spec,
    not_simulated: Vec<String>,
) -> StressReport {
    let mut profit = Vec::new();
    let mut capital = Vec::new();
    let mut drawdown = Vec::new();
    let (mut exhausted, mut stopped, mut long, mut open) = (0, 0, 0, 0);
    let mut candles_per_path = 0;
    for i in 0..spec.paths {
        let candles = synthetic::path(spec, i);
        candles_per_path = candles.len();
        let o = super::run(model, &candles, spec.interval_ms);
        profit.push(o.profit_quote);
        capital.push(o.max_capital_used);
        drawdown.push(o.max_drawdown_quote);
        exhausted += usize::from(o.ladder_exhausted > 0);
        stopped += usize::from(o.deals_stopped > 0);
        long += usize::from(o.deals_longer_than_a_week > 0);
        open += usize::from(o.deals_open_at_end > 0);
    }
    let n = spec.paths as usize;
    StressReport {
        name: name.into(),
        account: account.into(),
        quote: quote.into(),
        paths: spec.paths,
        candles_per_path,
        interval_s: spec.interval_ms / 1000,
        volatility_percentage: dec(spec.vol),
        profit_quote: spread(profit),
        max_capital_used: spread(capital),
        max_drawdown_quote: spread(drawdown),
        chances: Chances {
            ladder_exhausted: share(exhausted, n),
            stop_loss_hit: share(stopped, n),
            deal_longer_than_a_week: share(long, n),
            open_at_end: share(open, n),
        },
        not_simulated,
    }
}

/// What a plan's change does to a bot's backtest: the same candles (or paths) through the bot as
/// it is and as the plan leaves it.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub address: String,
    /// The pair (candle files) or `synthetic`.
    pub on: String,
    /// `None` for a bot the plan creates, or one that cannot be simulated.
    pub before: Option<Summary>,
    pub after: Option<Summary>,
    /// What the model left out for this bot (assumed nonstop starts among them).
    pub not_simulated: Vec<String>,
}

/// A backtest in the figures a change moves.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Realized profit (the median over synthetic paths).
    pub profit: Decimal,
    /// Deals stopped (the share of paths with a stop over synthetic paths, 0 to 1).
    pub stopped: Decimal,
    pub max_capital: Decimal,
    /// Worst drawdown (the 95th percentile over synthetic paths).
    pub drawdown: Decimal,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "profit {}, stopped {}, most capital {}, worst drawdown {}",
            self.profit.round_dp(2),
            self.stopped.round_dp(2),
            self.max_capital.round_dp(2),
            self.drawdown.round_dp(2)
        )
    }
}

fn summarize(
    settings: &crate::model::bot::BotSettings,
    options: &Options,
    window: Option<&Window>,
) -> Option<Summary> {
    let (model, _) = super::compile(settings, &options.assumptions).ok()?;
    match (&options.prices, window) {
        (Prices::Synthetic(spec), _) => {
            model.check_candles(spec.interval_ms, false).ok()?;
            let s = stress("", "", "", &model, spec, Vec::new());
            Some(Summary {
                profit: s.profit_quote.p50,
                stopped: s.chances.stop_loss_hit,
                max_capital: s.max_capital_used.max,
                drawdown: s.max_drawdown_quote.p95,
            })
        }
        (Prices::Files(_), Some(window)) => {
            let o = window.run(&model).ok()?;
            Some(Summary {
                profit: dec(o.profit_quote),
                stopped: Decimal::from_int(i64::from(o.deals_stopped)),
                max_capital: dec(o.max_capital_used),
                drawdown: dec(o.max_drawdown_quote),
            })
        }
        _ => None,
    }
}

/// Backtest every bot a plan creates or updates, before and after, on the same prices (the
/// first pair's candles, or the synthetic paths).
pub fn compare_plan(
    plan: &crate::engine::plan::Plan,
    desired: &crate::engine::desired::Desired,
    options: &Options,
) -> Result<(Vec<Comparison>, Vec<String>), String> {
    use crate::engine::plan::Action;
    let mut loaded = Loaded::default();
    let mut scratch = BacktestReport::empty(options.assumptions.fee_percentage);
    let mut comparisons = Vec::new();
    for change in &plan.changes {
        if !matches!(change.action, Action::Create | Action::Update) {
            continue;
        }
        let Some(wanted) = desired.bots.iter().find(|w| {
            w.name == change.bot_name && change.account.as_deref() == Some(w.account.as_str())
        }) else {
            continue;
        };
        let after = wanted.settings.clone();
        let before = (change.action == Action::Update).then(|| {
            let mut map = after.to_map();
            for f in &change.fields {
                match &f.before {
                    Some(v) => {
                        map.insert(f.field.clone(), v.clone());
                    }
                    None => {
                        map.remove(&f.field);
                    }
                }
            }
            serde_json::from_value::<crate::model::bot::BotSettings>(serde_json::Value::Object(map))
                .unwrap_or_else(|_| after.clone())
        });
        let pair = after.pairs.as_ref().and_then(|p| p.first()).cloned();
        let (on, window) = match (&options.prices, &pair) {
            (Prices::Files(files), Some(pair)) => {
                let name = change.bot_name.clone().unwrap_or_default();
                match loaded.window(files, &name, pair, options, &mut scratch)? {
                    Some(w) => (pair.clone(), Some(w)),
                    None => continue,
                }
            }
            (Prices::Files(_), None) => continue,
            (Prices::Synthetic(_), _) => ("synthetic paths".to_string(), None),
        };
        let not_simulated = super::compile(&after, &options.assumptions)
            .map(|(_, left)| left)
            .unwrap_or_default();
        comparisons.push(Comparison {
            address: change.address.clone(),
            not_simulated,
            on,
            before: before
                .as_ref()
                .and_then(|b| summarize(b, options, window.as_ref())),
            after: summarize(&after, options, window.as_ref()),
        });
    }
    let mut notes = scratch.warnings;
    notes.extend(
        scratch
            .missing_candles
            .iter()
            .map(|m| format!("{}: {}", m.name, m.reason)),
    );
    Ok((comparisons, notes))
}
