//! A backtest of a config as data: which candles, which bots, and per bot and pair (or per bot
//! over synthetic paths) what the model did. One function for the CLI, plan and the MCP server.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::candles::{self, Series};
use super::figures::{Curve, Figures};
use super::{Assumptions, BotModel, Candle, Intrabar, PairReport, Sensitivity, dec, synthetic};
use crate::config::Checked;
use crate::model::decimal::Decimal;
use crate::timefmt::iso;

/// A pair's prices (at most [`PAIR_PRICE_POINTS`] spans: low, high, close) and its deals, for the
/// price chart.
#[derive(Debug, Clone)]
pub struct PairChart {
    pub bot: String,
    pub account: String,
    pub pair: String,
    /// (time ms, low, high, close) per span.
    pub prices: Vec<(i64, f64, f64, f64)>,
    /// At most [`DEALS_DRAWN`], the first of the run.
    pub deals: Vec<DealRow>,
    pub deals_left_out: usize,
}

pub const PAIR_PRICE_POINTS: usize = 600;
pub const DEALS_DRAWN: usize = 400;

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
    /// Keep every deal in the report's `deals` (for `--deals`).
    pub list_deals: bool,
    /// Keep each pair's prices and deals in the report's `charts` (for `--html`).
    pub charts: bool,
    /// Each pair's order steps (`--limits`); a pair not here is not rounded.
    pub limits: BTreeMap<String, super::PairLimits>,
    /// Finer candle files (or directories) to walk each candle on (`--detail`).
    pub detail: Vec<PathBuf>,
    /// Set from outside (an MCP client cancelling its call): the run stops at the next bot or
    /// synthetic path and answers [`CANCELLED`].
    pub cancel: Cancel,
}

/// A flag a run checks between bots and between synthetic paths.
#[derive(Debug, Clone, Default)]
pub struct Cancel(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// What a cancelled run answers.
pub const CANCELLED: &str = "the backtest was cancelled";

/// The largest `--limits` file read.
const MAX_LIMITS_BYTES: u64 = 16 << 20;

/// Read `--limits`: a JSON object of pairs (`USDT_BTC`), each with 3Commas' `currency_rates`
/// answer for it (`GET /ver1/accounts/currency_rates?market_code=…&pair=…`), of which
/// `priceStep` and `lotStep` are used (strings or numbers).
pub fn read_limits(path: &std::path::Path) -> Result<BTreeMap<String, super::PairLimits>, String> {
    let shown = path.display();
    let text = crate::files::read_bounded(path, MAX_LIMITS_BYTES)
        .map_err(|e| format!("--limits {shown}: {e}"))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("--limits {shown}: not JSON ({e})"))?;
    let pairs = value.as_object().ok_or_else(|| {
        format!("--limits {shown}: give an object of pairs, each with its currency_rates answer")
    })?;
    pairs
        .iter()
        .map(|(pair, rates)| {
            let limits = limits_of(rates).map_err(|e| format!("--limits {shown}: {pair}: {e}"))?;
            Ok((pair.clone(), limits))
        })
        .collect()
}

/// A pair's order steps from its `currency_rates` answer: `priceStep` and `lotStep`, strings
/// (as 3Commas sends them) or numbers; a step that is missing or null is not known.
pub fn limits_of(rates: &serde_json::Value) -> Result<super::PairLimits, String> {
    let step = |key: &str| {
        let Some(v) = rates.get(key).filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
        text.parse::<Decimal>()
            .ok()
            .filter(|d| *d > Decimal::ZERO)
            .map(Some)
            .ok_or_else(|| {
                format!(
                    "{key} `{}` is not a positive number",
                    crate::diagnostic::quote_input(&text)
                )
            })
    };
    Ok(super::PairLimits {
        price_step: step("priceStep")?,
        lot_step: step("lotStep")?,
    })
}

/// `botform backtest --format json` (format_version 1).
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[schemars(title = "botform backtest")]
pub struct BacktestReport {
    pub format_version: u32,
    pub fee_percentage: Decimal,
    /// Where the fee comes from: "given", an exchange's usual fee, or "none given".
    pub fee_source: String,
    /// Per bot and pair, from candle files.
    pub results: Vec<PairReport>,
    /// Per bot, its pairs run together, with its equity figures, from candle files.
    pub bots: Vec<BotTotal>,
    /// Per bot, from synthetic paths.
    pub stress: Vec<StressReport>,
    /// Per grid bot, from candle files (the model in `simulate::grid`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grids: Vec<GridReport>,
    pub not_backtestable: Vec<Skipped>,
    /// Bots' pairs with no candle file.
    pub missing_candles: Vec<Skipped>,
    pub warnings: Vec<String>,
    /// Every deal, when the options ask for them (written apart, by `--deals`).
    #[serde(skip)]
    pub deals: Vec<DealRow>,
    /// Each pair's prices and deals, when the options ask for them (for `--html`).
    #[serde(skip)]
    pub charts: Vec<PairChart>,
}

/// A grid bot's run on its pair's candles.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct GridReport {
    pub name: String,
    pub account: String,
    pub pair: String,
    pub candles: usize,
    pub from: String,
    pub to: String,
    pub intrabar: Intrabar,
    /// Buy-sell pairs completed, and the orders filled.
    pub grids_completed: u32,
    pub buys: u32,
    pub sells: u32,
    /// The completed grids' profit after fees, in the quote currency.
    pub grid_profit: Decimal,
    /// What the grid started with: the buys' quote and the balancing buy's cost.
    pub investment: Decimal,
    /// Quote plus coins at the last close, minus the investment: profit and position together.
    pub value_at_end: Decimal,
    pub max_drawdown: Decimal,
    /// When a stop loss stopped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<String>,
    pub not_simulated: Vec<String>,
}

/// Every valid grid bot `options` chooses, on its pair's candles.
fn backtest_grids(
    checked: &Checked,
    options: &Options,
    loaded: &mut Loaded,
    report: &mut BacktestReport,
) -> Result<(), String> {
    for (bot, numbers) in checked.grid_bots.iter().zip(&checked.grid_numbers) {
        let name = bot.name().to_string();
        let chosen =
            options.bots.is_empty() || options.bots.iter().any(|b| b.eq_ignore_ascii_case(&name));
        if bot.spec.absent == Some(true) || !chosen || numbers.is_none() {
            continue;
        }
        let Prices::Files(files) = &options.prices else {
            report.not_backtestable.push(Skipped {
                name,
                reason: "grid bots run on candle files only (not on --synthetic paths)".into(),
            });
            continue;
        };
        let (model, not_simulated) = match super::grid::compile(
            &bot.spec,
            options.assumptions.fee_percentage,
            options.assumptions.intrabar,
        ) {
            Ok(m) => m,
            Err(e) => {
                report.not_backtestable.push(Skipped { name, reason: e.0 });
                continue;
            }
        };
        let pair = bot
            .spec
            .pair
            .as_ref()
            .map(|p| p.value.clone())
            .unwrap_or_default();
        let Some(window) = loaded.window(files, &name, &pair, options, report)? else {
            continue;
        };
        let o = super::grid::run(&model, &window.candles);
        let (first, last) = (window.candles[0], window.candles[window.candles.len() - 1]);
        report.grids.push(GridReport {
            name,
            account: bot.spec.account.clone().unwrap_or_default(),
            pair,
            candles: window.candles.len(),
            from: iso(first.open_time_ms),
            to: iso(last.open_time_ms + window.interval_ms),
            intrabar: options.assumptions.intrabar,
            grids_completed: o.grids_completed,
            buys: o.buys,
            sells: o.sells,
            grid_profit: dec(o.grid_profit),
            investment: dec(o.investment),
            value_at_end: dec(o.value_at_end),
            max_drawdown: dec(o.max_drawdown),
            stopped_at: o.stopped_at_ms.map(iso),
            not_simulated,
        });
    }
    Ok(())
}

/// One deal of a backtest on candle files, as `--deals` lists it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct DealRow {
    pub bot: String,
    pub account: String,
    pub pair: String,
    /// ISO 8601, UTC: the entry candle's open.
    pub opened: String,
    /// The end of the candle it closed in; `None` for the deal still open at the end.
    pub closed: Option<String>,
    /// `take_profit`, `stop_loss`, `timeout`, or `open` (still open at the end).
    pub outcome: String,
    pub entry_price: Decimal,
    /// `None` for the deal still open at the end.
    pub exit_price: Option<Decimal>,
    pub safety_orders_filled: u32,
    /// Take-profit steps that sold before the last one (0 without steps).
    pub take_profit_steps_filled: u32,
    /// Of `base`, what those steps sold (long) or bought back (short), and the quote for it;
    /// the rest went at `exit_price`.
    pub steps_base: Decimal,
    pub steps_quote: Decimal,
    /// Long: coins bought. Short: coins sold.
    pub base: Decimal,
    /// Long: quote spent. Short: quote received.
    pub quote: Decimal,
    pub fees: Decimal,
    /// Realized after fees; for the open deal, marked at the last close (no closing fee).
    pub profit_quote: Decimal,
}

impl DealRow {
    /// The deals of one bot's run: those that closed (`(pair, deal, by, at)`, in the order they
    /// closed) and those still open at the end.
    fn list(
        bot: &str,
        account: &str,
        model: &BotModel,
        windows: &Windows,
        closed: &[(usize, super::Closed, super::ClosedBy, i64)],
        outcome: &super::BotOutcome,
    ) -> Vec<DealRow> {
        let pair = |i: usize| windows.0[i].0.clone();
        let mut rows: Vec<DealRow> = closed
            .iter()
            .map(|(i, c, by, at)| DealRow {
                bot: bot.into(),
                account: account.into(),
                pair: pair(*i),
                opened: crate::timefmt::iso(c.opened_ms),
                closed: Some(crate::timefmt::iso(*at)),
                outcome: match by {
                    super::ClosedBy::TakeProfit => "take_profit",
                    super::ClosedBy::StopLoss => "stop_loss",
                    super::ClosedBy::Timeout => "timeout",
                }
                .into(),
                entry_price: dec(c.entry),
                exit_price: Some(dec(c.exit)),
                safety_orders_filled: c.safety_orders_filled as u32,
                take_profit_steps_filled: c.steps_filled as u32,
                steps_base: dec(c.steps_base),
                steps_quote: dec(c.steps_quote),
                base: dec(c.base),
                quote: dec(c.quote),
                fees: dec(c.fees),
                profit_quote: dec(c.profit),
            })
            .collect();
        for (i, o) in outcome.per_pair.iter().enumerate() {
            let (Some(d), Some(last)) = (o.open_deal, windows.0[i].1.candles.last()) else {
                continue;
            };
            rows.push(DealRow {
                bot: bot.into(),
                account: account.into(),
                pair: pair(i),
                opened: crate::timefmt::iso(d.opened_ms),
                closed: None,
                outcome: "open".into(),
                entry_price: dec(d.entry),
                exit_price: None,
                safety_orders_filled: d.filled as u32,
                take_profit_steps_filled: d.steps_filled as u32,
                steps_base: dec(d.steps_base),
                steps_quote: dec(d.steps_quote),
                base: dec(d.base),
                quote: dec(d.quote),
                fees: dec(d.fees),
                profit_quote: dec(d.profit_at(last.close, model.is_short(), model.fee, false)),
            });
        }
        rows
    }
}

/// A bot in total: its pairs run together (so that `max_active_deals` caps the deals open at
/// once across them), and its equity figures.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BotTotal {
    pub name: String,
    pub account: String,
    /// The pairs with candles, run together.
    pub pairs: Vec<String>,
    pub max_active_deals: u32,
    /// Most deals that were open at once.
    pub max_deals_at_once: u32,
    pub deals_closed: u32,
    pub deals_stopped: u32,
    pub deals_timed_out: u32,
    pub deals_open_at_end: u32,
    /// Realized, after fees, in the quote currency.
    pub profit_quote: Decimal,
    /// The deals still open, marked at their pairs' last closes.
    pub unrealized_quote: Decimal,
    /// Most quote committed at once across the pairs.
    pub max_capital_used: Decimal,
    /// Worst unrealized loss at once across the pairs.
    pub max_drawdown_quote: Decimal,
    pub figures: Figures,
}

impl BotTotal {
    fn new(
        name: &str,
        account: &str,
        windows: &Windows,
        settings: &crate::model::bot::BotSettings,
        outcome: &super::BotOutcome,
        figures: Figures,
    ) -> BotTotal {
        let sum = |f: fn(&super::Outcome) -> u32| outcome.per_pair.iter().map(f).sum::<u32>();
        let total = |f: fn(&super::Outcome) -> f64| outcome.per_pair.iter().map(f).sum::<f64>();
        BotTotal {
            name: name.into(),
            account: account.into(),
            pairs: windows.0.iter().map(|(p, _)| p.clone()).collect(),
            max_active_deals: settings.max_active_deals.unwrap_or(1),
            max_deals_at_once: outcome.max_deals_at_once,
            deals_closed: sum(|o| o.deals_closed),
            deals_stopped: sum(|o| o.deals_stopped),
            deals_timed_out: sum(|o| o.deals_timed_out),
            deals_open_at_end: sum(|o| o.deals_open_at_end),
            profit_quote: dec(total(|o| o.profit_quote)),
            unrealized_quote: dec(total(|o| o.unrealized_quote)),
            max_capital_used: dec(outcome.max_capital_used),
            max_drawdown_quote: dec(outcome.max_drawdown_quote),
            figures,
        }
    }
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

/// How often something happened over the paths: the share (0 to 1) and its 95 % confidence
/// interval (Wilson's score interval, which stays within 0 to 1 and is honest at 0 or N of N).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Chance {
    pub share: Decimal,
    pub low: Decimal,
    pub high: Decimal,
}

impl Chance {
    /// `count` of `of` paths.
    pub fn of(count: usize, of: usize) -> Chance {
        if of == 0 {
            return Chance {
                share: Decimal::ZERO,
                low: Decimal::ZERO,
                high: Decimal::ONE,
            };
        }
        let (k, n) = (count as f64, of as f64);
        let p = k / n;
        // z for 95 %, two-sided.
        let z = 1.959_963_984_540_054_f64;
        let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
        let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
        let round = |x: f64| dec(x.clamp(0.0, 1.0)).round_dp(4);
        Chance {
            share: round(p),
            low: round(centre - half),
            high: round(centre + half),
        }
    }
}

/// What happened on how many paths.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct Chances {
    /// A deal filled every safety order.
    pub ladder_exhausted: Chance,
    pub stop_loss_hit: Chance,
    /// A deal kept its capital locked longer than `locked_days` (the deal still open at the
    /// end counts with its age).
    pub capital_locked: Chance,
    pub locked_days: u32,
    /// Capital still locked in a deal at the end.
    pub open_at_end: Chance,
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

impl BacktestReport {
    pub fn empty(assumptions: &Assumptions) -> BacktestReport {
        BacktestReport {
            format_version: 1,
            fee_percentage: assumptions.fee_percentage,
            fee_source: assumptions.fee_source.describe(),
            results: Vec::new(),
            bots: Vec::new(),
            stress: Vec::new(),
            grids: Vec::new(),
            not_backtestable: Vec::new(),
            missing_candles: Vec::new(),
            warnings: Vec::new(),
            deals: Vec::new(),
            charts: Vec::new(),
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
        .chain(
            checked
                .grid_bots
                .iter()
                .filter_map(|g| g.spec.name.as_deref()),
        )
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
    let mut report = BacktestReport::empty(&options.assumptions);
    let mut loaded = Loaded::default();
    for bot in &checked.bots {
        if options.cancel.is_cancelled() {
            return Err(CANCELLED.into());
        }
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
                let mut not_simulated = not_simulated;
                let pairs = settings.pairs.as_ref().map_or(1, Vec::len);
                if pairs > 1 {
                    not_simulated.push(format!(
                        "one synthetic path stands for all {pairs} pairs: max_active_deals across them does not apply"
                    ));
                }
                report.stress.push(stress(
                    &name,
                    &account,
                    &quote,
                    &model,
                    spec,
                    not_simulated,
                    &options.cancel,
                ));
            }
            Prices::Files(files) => {
                let Some(windows) =
                    loaded.windows(files, &name, &settings, &model, options, &mut report)?
                else {
                    continue;
                };
                let path = options.assumptions.intrabar;
                let other_path = path.opposite();
                let (from_ms, to_ms) = windows.span_ms();
                let mut watch = Watch {
                    list_deals: options.list_deals || options.charts,
                    closed: Vec::new(),
                    curve: Curve::new(from_ms, to_ms),
                };
                let this = windows.run_watched(&model, &mut watch);
                if options.list_deals || options.charts {
                    let deals =
                        DealRow::list(&name, &account, &model, &windows, &watch.closed, &this);
                    if options.charts {
                        report
                            .charts
                            .extend(PairChart::all(&name, &account, &windows, &deals));
                    }
                    if options.list_deals {
                        report.deals.extend(deals);
                    }
                }
                let other = windows.run(&model.with_intrabar(other_path));
                for ((pair, window), (outcome, opposite)) in windows
                    .0
                    .iter()
                    .zip(this.per_pair.iter().zip(&other.per_pair))
                {
                    report.results.push(PairReport {
                        not_simulated: not_simulated.clone(),
                        intrabar: path,
                        sensitivity: Sensitivity::between(outcome, opposite, other_path),
                        ..PairReport::new(
                            &name,
                            &account,
                            pair,
                            &window.candles,
                            window.interval_ms,
                            outcome,
                        )
                    });
                }
                report.bots.push(BotTotal::new(
                    &name,
                    &account,
                    &windows,
                    &settings,
                    &this,
                    watch.curve.figures(),
                ));
            }
        }
    }
    backtest_grids(checked, options, &mut loaded, &mut report)?;
    // Cancelled inside the last bot's paths: its figures are partial, so none are given.
    if options.cancel.is_cancelled() {
        return Err(CANCELLED.into());
    }
    if options.assumptions.fee_percentage.is_zero()
        && !(report.results.is_empty() && report.stress.is_empty() && report.grids.is_empty())
    {
        report.warnings.push(
            "the fee is 0 %: exchanges charge about 0.1 % a trade (Binance and Bybit spot takers), which 3Commas builds into the take profit; pass --fee 0.1 for figures closer to a real account"
                .into(),
        );
    }
    if report.results.is_empty() && report.stress.is_empty() && report.grids.is_empty() {
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
    /// Pairs already warned about having no `--limits` steps.
    unlimited: std::collections::BTreeSet<String>,
}

/// A pair's candles between `--from` and `--to`, with their volumes when the file has them.
pub struct Window {
    pub candles: Vec<Candle>,
    pub volumes: Option<Vec<f64>>,
    pub interval_ms: i64,
    /// The pair's order steps (`--limits`), when given.
    pub limits: Option<super::PairLimits>,
    /// The pair's finer candles over the same span (`--detail`), and their interval.
    pub detail: Option<(Vec<Candle>, i64)>,
}

/// The windows of a bot's pairs that have candles, in the bot's pair order.
pub struct Windows(pub Vec<(String, Window)>);

/// What a report watches a run for: its deals (when listed) and its equity.
struct Watch {
    list_deals: bool,
    closed: Vec<(usize, super::Closed, super::ClosedBy, i64)>,
    curve: Curve,
}

impl super::Observer for Watch {
    fn closed(&mut self, pair: usize, deal: &super::Closed, by: super::ClosedBy, at_ms: i64) {
        if self.list_deals {
            self.closed.push((pair, *deal, by, at_ms));
        }
    }

    fn step(&mut self, at_ms: i64, equity: f64, committed: f64) {
        self.curve.step(at_ms, equity, committed);
    }
}

impl Windows {
    /// Run the bot over all its pairs together (`simulate::run_bot`).
    fn run(&self, model: &BotModel) -> super::BotOutcome {
        self.run_watched(model, &mut ())
    }

    /// The first candle's open and the last candle's end, over every pair.
    fn span_ms(&self) -> (i64, i64) {
        let from = self
            .0
            .iter()
            .filter_map(|(_, w)| w.candles.first())
            .map(|c| c.open_time_ms)
            .min();
        let to = self
            .0
            .iter()
            .filter_map(|(_, w)| w.candles.last().map(|c| c.open_time_ms + w.interval_ms))
            .max();
        (from.unwrap_or(0), to.unwrap_or(0))
    }

    /// [`Windows::run`], told to `observer`.
    fn run_watched(
        &self,
        model: &BotModel,
        observer: &mut impl super::Observer,
    ) -> super::BotOutcome {
        let pairs: Vec<super::PairCandles<'_>> = self
            .0
            .iter()
            .map(|(_, w)| super::PairCandles {
                candles: &w.candles,
                volumes: w.volumes.as_deref(),
                interval_ms: w.interval_ms,
                limits: w.limits,
                detail: w.detail.as_ref().map_or(&[], |(d, _)| d.as_slice()),
                detail_interval_ms: w.detail.as_ref().map_or(0, |(_, i)| *i),
            })
            .collect();
        super::run_bot(model, &pairs, observer)
    }
}

impl Loaded {
    /// The windows of every pair of a bot the model can run on; pairs without candles, and
    /// candles the bot cannot run on, are reported. `None` when no pair is left.
    pub fn windows(
        &mut self,
        files: &[PathBuf],
        name: &str,
        settings: &crate::model::bot::BotSettings,
        model: &BotModel,
        options: &Options,
        report: &mut BacktestReport,
    ) -> Result<Option<Windows>, String> {
        let mut windows = Vec::new();
        for pair in settings.pairs.iter().flatten() {
            let Some(window) = self.window(files, name, pair, options, report)? else {
                continue;
            };
            if let Err(e) = model.check_candles(window.interval_ms, window.volumes.is_some()) {
                report.not_backtestable.push(Skipped {
                    name: format!("{name} ({pair})"),
                    reason: e.0,
                });
                continue;
            }
            windows.push((pair.clone(), window));
        }
        Ok((!windows.is_empty()).then_some(Windows(windows)))
    }

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
        self.load(&file, report)?;
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
        let detail = match candles::find_for_pair(&options.detail, pair) {
            Some(fine) if !options.detail.is_empty() => {
                self.load(&fine, report)?;
                let (coarse, fine) = (&self.series[&file], &self.series[&fine]);
                if fine.interval_ms >= coarse.interval_ms
                    || coarse.interval_ms % fine.interval_ms != 0
                {
                    return Err(format!(
                        "--detail {}: its candles ({} s apart) must be finer than the candles they detail ({} s) and divide them",
                        fine.file.display(),
                        fine.interval_ms / 1000,
                        coarse.interval_ms / 1000
                    ));
                }
                let (start, end) = (
                    coarse.candles[from].open_time_ms,
                    coarse.candles[to - 1].open_time_ms + coarse.interval_ms,
                );
                let a = fine.candles.partition_point(|c| c.open_time_ms < start);
                let b = fine.candles.partition_point(|c| c.open_time_ms < end);
                Some((fine.candles[a..b].to_vec(), fine.interval_ms))
            }
            _ => None,
        };
        let s = &self.series[&file];
        let limits = options.limits.get(pair).copied();
        if limits.is_none() && !options.limits.is_empty() && self.unlimited.insert(pair.into()) {
            report.warnings.push(format!(
                "{pair}: --limits has no steps for it; its prices and quantities are not rounded"
            ));
        }
        Ok(Some(Window {
            candles: s.candles[from..to].to_vec(),
            volumes: s.volumes.as_ref().map(|v| v[from..to].to_vec()),
            interval_ms: s.interval_ms,
            limits,
            detail,
        }))
    }

    /// Read a candle file once, within the budget of candles held.
    fn load(&mut self, file: &std::path::Path, report: &mut BacktestReport) -> Result<(), String> {
        if !self.series.contains_key(file) {
            let series = candles::read_csv(file).map_err(|e| e.to_string())?;
            self.budget
                .take(series.candles.len(), &file.display().to_string())?;
            report.warnings.extend(series.warnings.iter().cloned());
            self.series.insert(file.to_path_buf(), series);
        }
        Ok(())
    }
}

fn stress(
    name: &str,
    account: &str,
    quote: &str,
    model: &BotModel,
    spec: &synthetic::Spec,
    not_simulated: Vec<String>,
    cancel: &Cancel,
) -> StressReport {
    let mut profit = Vec::new();
    let mut capital = Vec::new();
    let mut drawdown = Vec::new();
    let (mut exhausted, mut stopped, mut long, mut open) = (0, 0, 0, 0);
    let mut candles_per_path = 0;
    let locked_ms = i64::from(spec.locked_days) * 86_400_000;
    for i in 0..spec.paths {
        if cancel.is_cancelled() {
            break;
        }
        let candles = synthetic::path(spec, i);
        candles_per_path = candles.len();
        let o = super::run(model, &candles, spec.interval_ms);
        profit.push(o.profit_quote);
        capital.push(o.max_capital_used);
        drawdown.push(o.max_drawdown_quote);
        exhausted += usize::from(o.ladder_exhausted > 0);
        stopped += usize::from(o.deals_stopped > 0);
        long += usize::from(o.max_deal_duration_ms > locked_ms);
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
            ladder_exhausted: Chance::of(exhausted, n),
            stop_loss_hit: Chance::of(stopped, n),
            capital_locked: Chance::of(long, n),
            locked_days: spec.locked_days,
            open_at_end: Chance::of(open, n),
        },
        not_simulated,
    }
}

/// What a plan's change does to a bot's backtest: the same candles (or paths) through the bot as
/// it is and as the plan leaves it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Comparison {
    pub address: String,
    /// The pairs run together (candle files), or `synthetic paths`.
    pub on: String,
    /// The fee both runs paid, and where it comes from (the account's exchange when no
    /// `--backtest-fee` is given).
    pub fee_percentage: Decimal,
    pub fee_source: String,
    /// `None` for a bot the plan creates, or one that cannot be simulated.
    pub before: Option<Summary>,
    pub after: Option<Summary>,
    /// `after - before`; for a bot the plan creates, its own figures (nothing ran before).
    pub delta: Option<Summary>,
    /// What the model left out for this bot (assumed nonstop starts among them).
    pub not_simulated: Vec<String>,
}

/// A backtest in the figures a change moves. On candle files each is the one run's figure; over
/// synthetic paths, a percentile or a share of the paths, as each field says.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Summary {
    /// Realized plus unrealized over time, on candle files when charts are asked for (the HTML
    /// page; not in JSON, where `botform backtest` gives curves).
    #[serde(skip)]
    pub equity: Vec<super::figures::EquityPoint>,
    /// Realized profit: the 5th percentile over synthetic paths (on candles, `profit`).
    pub profit_p5: Decimal,
    /// Realized profit (the median over synthetic paths).
    pub profit: Decimal,
    /// The 95th percentile over synthetic paths (on candles, `profit`).
    pub profit_p95: Decimal,
    /// Stop-loss hits: deals stopped on candles; the share of paths with a stop (0 to 1) over
    /// synthetic paths.
    pub stopped: Decimal,
    /// The ladder exhausted (a deal filled every safety order): such deals on candles; the
    /// share of paths where one did (0 to 1) over synthetic paths.
    pub ladder_exhausted: Decimal,
    pub max_capital: Decimal,
    /// Worst drawdown (the 95th percentile over synthetic paths).
    pub drawdown: Decimal,
}

impl Summary {
    /// `self - before`, figure by figure (no curve): what a change moves.
    pub fn minus(&self, before: &Summary) -> Summary {
        self.each(before, |a, b| a - b)
    }

    fn plus(&self, other: &Summary) -> Summary {
        self.each(other, |a, b| a + b)
    }

    /// Each figure of `self` with the same figure of `other` (no curve).
    fn each(&self, other: &Summary, f: impl Fn(Decimal, Decimal) -> Decimal) -> Summary {
        Summary {
            equity: Vec::new(),
            profit_p5: f(self.profit_p5, other.profit_p5),
            profit: f(self.profit, other.profit),
            profit_p95: f(self.profit_p95, other.profit_p95),
            stopped: f(self.stopped, other.stopped),
            ladder_exhausted: f(self.ladder_exhausted, other.ladder_exhausted),
            max_capital: f(self.max_capital, other.max_capital),
            drawdown: f(self.drawdown, other.drawdown),
        }
    }
}

/// The plan's total move: every compared bot's delta added up. Medians and percentiles do not
/// add exactly (the median of a sum is not the sum of medians), so read the total as a guide
/// and the bots' deltas as the figures; over synthetic paths the shares add up to the expected
/// number of bots that hit a stop or exhaust a ladder.
pub fn total_delta(comparisons: &[Comparison]) -> Option<Summary> {
    comparisons
        .iter()
        .filter_map(|c| c.delta.as_ref())
        .fold(None, |total: Option<Summary>, d| {
            Some(total.map_or_else(|| d.clone(), |t| t.plus(d)))
        })
}

/// A comparison in one line, for the person confirming the plan: how many bots, on what, and
/// the plan's total move (see [`total_delta`]).
pub fn comparison_line(comparisons: &[Comparison]) -> String {
    let Some(total) = total_delta(comparisons) else {
        return String::new();
    };
    let signed = |d: Decimal| {
        let d = d.round_dp(2);
        if d <= Decimal::ZERO {
            d.to_string()
        } else {
            format!("+{d}")
        }
    };
    let on = match comparisons.first() {
        Some(c) if c.on == "synthetic paths" => "seeded synthetic paths",
        _ => "candles",
    };
    format!(
        "Backtest of {} bots, as live -> as planned, on {on}: profit {} (p5 {}, p95 {}), stop-loss hits {}, ladder exhausted {}, most capital {}, worst drawdown {} (summed over the bots).",
        comparisons.iter().filter(|c| c.delta.is_some()).count(),
        signed(total.profit),
        signed(total.profit_p5),
        signed(total.profit_p95),
        signed(total.stopped),
        signed(total.ladder_exhausted),
        signed(total.max_capital),
        signed(total.drawdown)
    )
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let profit = if self.profit_p5 == self.profit && self.profit_p95 == self.profit {
            self.profit.round_dp(2).to_string()
        } else {
            format!(
                "{} (p5 {}, p95 {})",
                self.profit.round_dp(2),
                self.profit_p5.round_dp(2),
                self.profit_p95.round_dp(2)
            )
        };
        write!(
            f,
            "profit {profit}, stopped {}, ladder exhausted {}, most capital {}, worst drawdown {}",
            self.stopped.round_dp(2),
            self.ladder_exhausted.round_dp(2),
            self.max_capital.round_dp(2),
            self.drawdown.round_dp(2)
        )
    }
}

pub fn summarize(
    settings: &crate::model::bot::BotSettings,
    options: &Options,
    windows: Option<&Windows>,
) -> Option<Summary> {
    let (model, _) = super::compile(settings, &options.assumptions).ok()?;
    match (&options.prices, windows) {
        (Prices::Synthetic(spec), _) => {
            model.check_candles(spec.interval_ms, false).ok()?;
            let s = stress("", "", "", &model, spec, Vec::new(), &options.cancel);
            Some(Summary {
                equity: Vec::new(),
                profit_p5: s.profit_quote.p5,
                profit: s.profit_quote.p50,
                profit_p95: s.profit_quote.p95,
                stopped: s.chances.stop_loss_hit.share,
                ladder_exhausted: s.chances.ladder_exhausted.share,
                max_capital: s.max_capital_used.max,
                drawdown: s.max_drawdown_quote.p95,
            })
        }
        (Prices::Files(_), Some(windows)) => {
            for (_, w) in &windows.0 {
                model
                    .check_candles(w.interval_ms, w.volumes.is_some())
                    .ok()?;
            }
            // The equity curve only for a page that draws it (`plan --backtest-html`).
            let (o, equity) = if options.charts {
                let (from_ms, to_ms) = windows.span_ms();
                let mut curve = Curve::new(from_ms, to_ms);
                let o = windows.run_watched(&model, &mut curve);
                (o, curve.figures().equity)
            } else {
                (windows.run(&model), Vec::new())
            };
            let profit = dec(o.per_pair.iter().map(|p| p.profit_quote).sum());
            let count = |f: fn(&super::Outcome) -> u32| {
                Decimal::from_int(i64::from(o.per_pair.iter().map(f).sum::<u32>()))
            };
            Some(Summary {
                equity,
                profit_p5: profit,
                profit,
                profit_p95: profit,
                stopped: count(|p| p.deals_stopped),
                ladder_exhausted: count(|p| p.ladder_exhausted),
                max_capital: dec(o.max_capital_used),
                drawdown: dec(o.max_drawdown_quote),
            })
        }
        _ => None,
    }
}

impl PairChart {
    /// The price chart of each pair of a bot's run: its candles in at most
    /// [`PAIR_PRICE_POINTS`] spans (low, high, last close) and its first [`DEALS_DRAWN`] deals.
    fn all(bot: &str, account: &str, windows: &Windows, deals: &[DealRow]) -> Vec<PairChart> {
        windows
            .0
            .iter()
            .map(|(pair, w)| {
                let per = w.candles.len().div_ceil(PAIR_PRICE_POINTS).max(1);
                let prices = w
                    .candles
                    .chunks(per)
                    .map(|span| {
                        let low = span.iter().map(|c| c.low).fold(f64::MAX, f64::min);
                        let high = span.iter().map(|c| c.high).fold(f64::MIN, f64::max);
                        let last = span[span.len() - 1];
                        (span[0].open_time_ms, low, high, last.close)
                    })
                    .collect();
                let mine: Vec<&DealRow> = deals.iter().filter(|d| &d.pair == pair).collect();
                PairChart {
                    bot: bot.into(),
                    account: account.into(),
                    pair: pair.clone(),
                    prices,
                    deals: mine
                        .iter()
                        .take(DEALS_DRAWN)
                        .map(|d| (*d).clone())
                        .collect(),
                    deals_left_out: mine.len().saturating_sub(DEALS_DRAWN),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_run_stops_and_says_so() {
        let examples = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/bots");
        let checked = crate::config::check(&[examples]);
        let options = Options {
            prices: Prices::Synthetic(synthetic::parse("paths=3,days=2,seed=1").unwrap()),
            bots: Vec::new(),
            from_ms: None,
            to_ms: None,
            assumptions: Assumptions::default(),
            list_deals: false,
            charts: false,
            limits: BTreeMap::new(),
            detail: Vec::new(),
            cancel: Cancel::default(),
        };
        assert!(backtest(&checked, &options).is_ok());
        options.cancel.cancel();
        assert_eq!(backtest(&checked, &options).unwrap_err(), CANCELLED);
    }

    #[test]
    fn a_plan_s_total_adds_each_bot_s_change_and_a_created_bot_counts_whole() {
        let d = |t: &str| t.parse::<Decimal>().unwrap();
        let figures = |profit: &str, stopped: &str, ladder: &str| Summary {
            profit_p5: d(profit) - d("10"),
            profit: d(profit),
            profit_p95: d(profit) + d("10"),
            stopped: d(stopped),
            ladder_exhausted: d(ladder),
            max_capital: d("100"),
            drawdown: d("5"),
            ..Summary::default()
        };
        let compared = |before: Option<Summary>, after: Summary| Comparison {
            address: "bot".into(),
            on: "synthetic paths".into(),
            fee_percentage: Decimal::ZERO,
            fee_source: String::new(),
            delta: Some(after.minus(before.as_ref().unwrap_or(&Summary::default()))),
            before,
            after: Some(after),
            not_simulated: Vec::new(),
        };
        let updated = compared(
            Some(figures("20", "0.2", "0.5")),
            figures("26", "0.1", "0.25"),
        );
        let delta = updated.delta.clone().unwrap();
        assert_eq!((delta.profit, delta.profit_p5), (d("6"), d("6")));
        assert_eq!(
            (delta.stopped, delta.ladder_exhausted),
            (d("-0.1"), d("-0.25"))
        );
        assert_eq!(delta.max_capital, Decimal::ZERO);
        let created = compared(None, figures("3", "0", "0.1"));
        let total = total_delta(&[updated, created.clone()]).unwrap();
        assert_eq!(total.profit, d("9"));
        assert_eq!(total.ladder_exhausted, d("-0.15"));
        assert_eq!(
            total.max_capital,
            d("100"),
            "the created bot's capital counts whole"
        );
        let line = comparison_line(&[created]);
        assert!(
            line.starts_with("Backtest of 1 bots")
                && line.contains("profit +3 (p5 -7, p95 +13)")
                && line.contains("most capital +100"),
            "{line}"
        );
        assert_eq!(total_delta(&[]), None);
    }
}
