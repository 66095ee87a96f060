//! `botform optimize`: search one DCA bot's settings on candles for those that do best **out of
//! sample**, within the trader's limits, and hand the winner back as an edit of their own file.
//!
//! The room owns:
//! - [`space`]: which settings vary, over what ranges, and the seeded draw of candidate `i`;
//! - [`evaluate`]: one candidate, from drawn values to scores: the edit of the config text through
//!   the editing core (`edit::apply`, as MCP's `set_fields`), validate's every rule on the edited
//!   config (an invalid candidate, one over `max_capital` say, is never simulated), and the
//!   simulation (`simulate::run_bot`) on each fold's in-sample and out-of-sample candles, all
//!   candidates reading the same candle buffers;
//! - [`search`]: the search and the ranking that a single run, its shards and their merge share.
//!
//! **Walk-forward folds.** The candles' time span is cut into `folds` equal parts; in each, the
//! first 75 % is in sample and the last 25 % out of sample, so every out-of-sample stretch
//! follows the stretch it checks, and the out-of-sample stretches sample every regime of the
//! span. The search sees only in-sample scores; the ten best in sample are then ranked by their
//! out-of-sample scores, and the current config is scored on the very same parts.
//!
//! **The search** is seeded random sampling with successive halving (Jamieson & Talwalkar
//! 2016; Li et al. 2017's Hyperband brackets): candidates come in brackets of [`BRACKET`]; each
//! is scored on one fold's in-sample part (the bracket's number picks which, so the brackets see
//! every fold), the best third of the bracket is scored on every fold, in and out of sample,
//! and the rest stop there. So at the cost of a grid of N points on all folds, about twice as
//! many candidates are drawn, and random points cover each setting's range at N distinct values
//! where a grid covers it at N^(1/d). Because halving happens inside a bracket, a bracket's
//! result depends on nothing outside it: `--shard K/N` runs every Nth bracket, and the union of
//! the shards is exactly the single run's records, ranked by the same [`search::rank`].
//!
//! Crates considered for the sampler (their docs.rs pages, December 2026): `tpe` 0.2 (ask/tell
//! TPE over `rand`, seedable), `parzen` 0.1-0.3 (TPE with an Optuna-like study, seeded),
//! `optimizer` 0.1 (Optuna-like TPE, parallel trials), `heuropt` (a toolkit with TPE among many),
//! `cmaes` 0.2 (nalgebra, and plotters with a FreeType build unless its default features are
//! off; CMA-ES wants a continuous space where half of ours are counts). TPE and CMA-ES are
//! sequential: each draw depends on every result told before it, so with parallel workers the
//! candidates depend on the order results come back, and a shard cannot draw what a single run
//! would. Brackets of seeded draws keep both properties, and need no crate: none is used.
//! `benches/optimize.rs` compares the search with a grid at equal cost.
//!
//! Money stays decimal in every figure reported and every record written; the simulation
//! itself runs in `f64` (see `simulate`), and each part's figures are turned into decimals
//! (8 places) before anything is added up or compared, so a merge ranks exactly as a single
//! run.

pub mod evaluate;
pub mod html;
pub mod report;
pub mod search;
pub mod space;

use serde::{Deserialize, Serialize};

use crate::model::decimal::Decimal;

pub use evaluate::Evaluator;
pub use search::{Ranking, Records};
pub use space::Space;

/// Candidates a bracket draws; its best [`KEEP`] are scored on every fold.
pub const BRACKET: u64 = 27;
/// Candidates of a bracket kept after its first fold.
pub const KEEP: usize = 9;
/// The best in sample whose out-of-sample scores rank them.
pub const SHORTLIST: usize = 10;
/// The most candidates one study draws: a run (and a merge) holds every candidate's record, about
/// 0.5 KB each, so memory stays near 100 MB at most.
pub const MAX_TRIALS: u64 = 200_000;
/// Of each fold, the share in sample (the rest, at its end, is out of sample), in percent.
pub const IN_SAMPLE_PERCENTAGE: i64 = 75;

/// What a candidate is scored by (higher is better).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// Profit in the quote currency (realized, plus the deal open at a part's end at its close).
    Profit,
    /// Profit per the capital the bot can lock (every deal to its last safety order), in percent.
    ProfitPerCapital,
    /// The Sortino ratio of daily profits, annualized.
    Sortino,
    /// Profit, with `--max-drawdown` a hard cap (required).
    CappedProfit,
}

impl Objective {
    pub fn name(self) -> &'static str {
        match self {
            Objective::Profit => "profit",
            Objective::ProfitPerCapital => "profit-per-capital",
            Objective::Sortino => "sortino",
            Objective::CappedProfit => "capped-profit",
        }
    }

    pub fn named(text: &str) -> Option<Objective> {
        <Objective as clap::ValueEnum>::from_str(text, true).ok()
    }
}

/// The deepest a candidate may fall: in quote, or in percent of the bot's capital.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrawdownCap {
    Quote(Decimal),
    PercentOfCapital(Decimal),
}

impl DrawdownCap {
    /// `300` (quote) or `25%` (of the bot's capital).
    pub fn parse(text: &str) -> Result<DrawdownCap, String> {
        let t = text.trim();
        let (number, percent) = match t.strip_suffix('%') {
            Some(n) => (n.trim(), true),
            None => (t, false),
        };
        let value: Decimal = number.parse().map_err(|_| {
            format!(
                "max drawdown `{}`: a quote amount (300) or a percent of the bot's capital (25%)",
                crate::diagnostic::quote_input(text)
            )
        })?;
        if value <= Decimal::ZERO {
            return Err("the max drawdown must be above 0".into());
        }
        Ok(if percent {
            DrawdownCap::PercentOfCapital(value)
        } else {
            DrawdownCap::Quote(value)
        })
    }

    /// The cap in quote for a bot that can lock `capital`.
    pub fn quote(self, capital: Option<Decimal>) -> Option<Decimal> {
        match self {
            DrawdownCap::Quote(q) => Some(q),
            DrawdownCap::PercentOfCapital(p) => capital.map(|c| c * p / Decimal::ONE_HUNDRED),
        }
    }
}

impl std::fmt::Display for DrawdownCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DrawdownCap::Quote(q) => write!(f, "{q}"),
            DrawdownCap::PercentOfCapital(p) => write!(f, "{p}% of the bot's capital"),
        }
    }
}

/// Everything a search is: the same study gives the same candidates, scores and winner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Study {
    pub bot: String,
    pub account: Option<String>,
    pub space: Space,
    pub objective: Objective,
    pub max_drawdown: Option<DrawdownCap>,
    /// The least price move the ladder must cover, in percent.
    pub min_coverage: Option<Decimal>,
    pub folds: u32,
    /// Candidates drawn (rounded up to whole brackets).
    pub trials: u64,
    pub seed: u64,
    /// Edit the bot's template instead of its own block.
    pub into_template: bool,
    /// Fee in percent; the path inside a candle.
    pub fee_percentage: Decimal,
    pub intrabar: String,
}

impl Study {
    pub fn brackets(&self) -> u64 {
        self.trials.div_ceil(BRACKET).max(1)
    }

    /// Check what clap cannot: folds, trials, an objective's needs.
    pub fn check(&self) -> Result<(), String> {
        if !(1..=20).contains(&self.folds) {
            return Err("--folds: from 1 to 20".into());
        }
        if !(1..=MAX_TRIALS).contains(&self.trials) {
            return Err(format!(
                "--trials: from 1 to {MAX_TRIALS} (a run keeps every candidate's record, about half a kilobyte each)"
            ));
        }
        if self.objective == Objective::CappedProfit && self.max_drawdown.is_none() {
            return Err("the objective capped-profit needs --max-drawdown (300, or 25%)".into());
        }
        Ok(())
    }
}

/// A slice of the brackets: shard `index` (from 1) of `count` runs brackets `index-1`,
/// `index-1+count`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// `K/N`, 1 ≤ K ≤ N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "--shard `{}`: K/N with 1 <= K <= N (2/4 runs the second of four shards)",
                crate::diagnostic::quote_input(text)
            )
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The whole run.
    pub const ALL: Shard = Shard { index: 1, count: 1 };

    pub fn runs(self, bracket: u64) -> bool {
        bracket % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// Set a study up: the bot's candle windows (files, or one seeded path per pair) and the
/// evaluator. Returns the candles' warnings beside it.
pub fn prepare(
    checked: &crate::config::Checked,
    study: Study,
    prices: &crate::simulate::report::Prices,
    window_ms: (Option<i64>, Option<i64>),
    assumptions: crate::simulate::Assumptions,
) -> Result<(Evaluator, Vec<String>), String> {
    use crate::simulate::report::{self, Prices, Window, Windows};
    study.check()?;
    if !checked.is_valid() {
        return Err(format!(
            "the config has {} errors: optimize needs a valid config (run botform validate)",
            checked.error_count()
        ));
    }
    let (named, _) = crate::edit::locate::find_bot(
        checked,
        crate::edit::BotList::Dca,
        &study.bot,
        study.account.as_deref().unwrap_or(""),
    )?;
    let bot = &checked.bots[named.index];
    let settings = bot.settings();
    let (model, _) = crate::simulate::compile(&settings, &assumptions)
        .map_err(|e| format!("the bot \"{}\" cannot be backtested: {}", bot.name(), e.0))?;
    let mut warnings = Vec::new();
    if let Prices::Synthetic(spec) = prices
        && spec.paths > 1
    {
        warnings.push(format!(
            "--synthetic: optimize walks one seeded path per pair (path 0 for the first pair, 1 for the next, ...): paths={} is not used",
            spec.paths
        ));
    }
    let windows = match prices {
        Prices::Synthetic(spec) => Windows(
            settings
                .pairs
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, pair)| {
                    let window = Window {
                        candles: crate::simulate::synthetic::path(spec, i as u32),
                        volumes: None,
                        interval_ms: spec.interval_ms,
                        limits: None,
                        detail: None,
                    };
                    (pair.clone(), window)
                })
                .collect(),
        ),
        Prices::Files(files) => {
            let options = report::Options {
                prices: prices.clone(),
                bots: vec![bot.name().to_string()],
                from_ms: window_ms.0,
                to_ms: window_ms.1,
                assumptions: assumptions.clone(),
                list_deals: false,
                charts: false,
                limits: Default::default(),
                detail: Vec::new(),
                cancel: Default::default(),
            };
            let mut seen = report::BacktestReport::empty(&assumptions);
            let windows = report::Loaded::default().windows(
                files,
                bot.name(),
                &settings,
                &model,
                &options,
                &mut seen,
            )?;
            warnings.extend(seen.warnings);
            warnings.extend(
                seen.missing_candles
                    .iter()
                    .chain(&seen.not_backtestable)
                    .map(|s| format!("{}: {}", s.name, s.reason)),
            );
            windows.ok_or_else(|| {
                format!(
                    "no candles for the bot \"{}\": {}",
                    bot.name(),
                    warnings.join("; ")
                )
            })?
        }
    };
    if let Err(e) = windows
        .0
        .iter()
        .try_for_each(|(_, w)| model.check_candles(w.interval_ms, w.volumes.is_some()))
    {
        return Err(format!(
            "the bot \"{}\" cannot run on these candles: {}",
            bot.name(),
            e.0
        ));
    }
    let evaluator = Evaluator::new(checked, study, windows, assumptions)?;
    // Figures relative to the capital need it in the quote currency.
    if evaluator.baseline()?.capital.is_none() {
        let needs = match (evaluator.study.objective, evaluator.study.max_drawdown) {
            (Objective::ProfitPerCapital, _) => Some("the objective profit-per-capital"),
            (_, Some(DrawdownCap::PercentOfCapital(_))) => Some("a --max-drawdown in percent"),
            _ => None,
        };
        if let Some(what) = needs {
            return Err(format!(
                "{what} needs the bot's capital in its quote currency, and \"{}\" has volumes in the base currency or in percent: use --objective profit, or a --max-drawdown in quote",
                evaluator.bot_name
            ));
        }
    }
    Ok((evaluator, warnings))
}
