//! `botform backtest`: replay candles (from files, or seeded random paths) through the bots of a
//! config with the model in `simulate`, and report per bot and pair.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use serde::Serialize;

use crate::model::decimal::Decimal;
use crate::simulate::candles::{self, Series};
use crate::simulate::{self, AssumeStart, PairReport, dec, synthetic};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config files or directories (default: the current directory).
    paths: Vec<PathBuf>,
    /// Candle CSV files or directories of them, one file per pair (`USDT_BTC.csv` or `BTCUSDT.csv`).
    #[arg(long, num_args = 1.., value_name = "PATH")]
    candles: Vec<PathBuf>,
    /// Seeded random paths instead of candle files: `paths=200,vol=80,days=365,interval=5m,seed=1`
    /// (also drift, jumps a year and jump size, in percent).
    #[arg(long, value_name = "SPEC", conflicts_with = "candles")]
    synthetic: Option<String>,
    /// Only these bots (by name, any case). Repeatable.
    #[arg(long = "bot", value_name = "NAME")]
    bots: Vec<String>,
    /// First candle time (ISO 8601 or a date).
    #[arg(long)]
    from: Option<String>,
    /// Last candle time (ISO 8601 or a date), exclusive.
    #[arg(long)]
    to: Option<String>,
    /// Fee in percent of every fill's and sale's quote amount.
    #[arg(long, default_value = "0")]
    fee: Decimal,
    /// Simulate bots whose start conditions need outside signals as if they started nonstop.
    #[arg(long, value_enum)]
    assume_start: Option<Assume>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Assume {
    Nonstop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    /// format_version 1 (schema: `botform schema --backtest`).
    Json,
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

fn time_arg(text: &Option<String>, what: &str) -> Result<Option<i64>, String> {
    text.as_ref()
        .map(|t| {
            crate::timefmt::parse_iso(t)
                .map(|s| s * 1000)
                .ok_or_else(|| format!("--{what} `{t}`: give a date (2025-01-31) or ISO 8601 time"))
        })
        .transpose()
}

pub fn run(args: Args) -> ExitCode {
    match backtest(&args) {
        Ok((report, ok)) => {
            let stdout = io::stdout();
            let mut out = stdout.lock();
            let written = match args.format {
                Format::Json => serde_json::to_writer_pretty(&mut out, &report)
                    .map_err(io::Error::from)
                    .and_then(|()| writeln!(out)),
                Format::Human => write_human(&mut out, &report),
            };
            if let Err(e) = written {
                eprintln!("error: cannot write the report: {e}");
                return ExitCode::FAILURE;
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn backtest(args: &Args) -> Result<(BacktestReport, bool), String> {
    if args.candles.is_empty() && args.synthetic.is_none() {
        return Err("give --candles (files or directories of CSV) or --synthetic SPEC".into());
    }
    let spec = args
        .synthetic
        .as_deref()
        .map(synthetic::parse)
        .transpose()?;
    let (from, to) = (time_arg(&args.from, "from")?, time_arg(&args.to, "to")?);
    let paths = super::paths_or_cwd(args.paths.clone());
    let checked = crate::config::check(&paths);
    if !checked.is_valid() {
        let mut err = io::stderr();
        let _ = super::validate::write_human(&mut err, &checked, false, false);
        return Err("the config has errors: backtests need a valid config".into());
    }
    let names: Vec<&str> = checked
        .bots
        .iter()
        .filter_map(|b| b.spec.name.as_deref())
        .collect();
    for wanted in &args.bots {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(wanted)) {
            return Err(format!(
                "--bot `{wanted}` names no bot of the config{}",
                crate::diagnostic::did_you_mean(wanted, names.iter().copied())
                    .map(|h| format!(" ({h})"))
                    .unwrap_or_default()
            ));
        }
    }
    let assume = if args.assume_start.is_some() {
        AssumeStart::Nonstop
    } else {
        AssumeStart::AsConfigured
    };
    let mut report = BacktestReport {
        format_version: 1,
        fee_percentage: args.fee,
        results: Vec::new(),
        stress: Vec::new(),
        not_backtestable: Vec::new(),
        missing_candles: Vec::new(),
        warnings: Vec::new(),
    };
    let mut series: BTreeMap<PathBuf, Series> = BTreeMap::new();
    for bot in &checked.bots {
        let name = bot.name().to_string();
        if bot.spec.absent == Some(true)
            || (!args.bots.is_empty() && !args.bots.iter().any(|b| b.eq_ignore_ascii_case(&name)))
        {
            continue;
        }
        let account = bot.spec.account.clone().unwrap_or_default();
        let settings = bot.settings();
        let (model, not_simulated) = match simulate::compile(&settings, args.fee, assume) {
            Ok(m) => m,
            Err(e) => {
                report.not_backtestable.push(Skipped { name, reason: e.0 });
                continue;
            }
        };
        if let Some(spec) = &spec {
            report
                .stress
                .push(stress(&name, &account, &model, spec, not_simulated));
            continue;
        }
        for pair in settings.pairs.iter().flatten() {
            let Some(file) = candles::find_for_pair(&args.candles, pair) else {
                let (quote, base) = pair.split_once('_').unwrap_or((pair, ""));
                report.missing_candles.push(Skipped {
                    name: name.clone(),
                    reason: format!("{pair}: no {pair}.csv or {base}{quote}.csv among the candles"),
                });
                continue;
            };
            if !series.contains_key(&file) {
                let loaded = candles::read_csv(&file).map_err(|e| e.to_string())?;
                report.warnings.extend(loaded.warnings.iter().cloned());
                series.insert(file.clone(), loaded);
            }
            let s = &series[&file];
            let window: Vec<simulate::Candle> = s
                .candles
                .iter()
                .filter(|c| {
                    from.is_none_or(|f| c.open_time_ms >= f)
                        && to.is_none_or(|t| c.open_time_ms < t)
                })
                .copied()
                .collect();
            if window.is_empty() {
                report.missing_candles.push(Skipped {
                    name: name.clone(),
                    reason: format!("{pair}: no candles between --from and --to"),
                });
                continue;
            }
            let outcome = simulate::run(&model, &window, s.interval_ms);
            report.results.push(PairReport::new(
                &name,
                &account,
                pair,
                &window,
                s.interval_ms,
                &outcome,
                not_simulated.clone(),
            ));
        }
    }
    let ok = !report.results.is_empty() || !report.stress.is_empty();
    if !ok {
        report
            .warnings
            .push("no bot was simulated: see not_backtestable and missing_candles".into());
    }
    Ok((report, ok))
}

fn stress(
    name: &str,
    account: &str,
    model: &simulate::BotModel,
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
        let o = simulate::run(model, &candles, spec.interval_ms);
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

fn duration(s: i64) -> String {
    match s {
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}m", s / 60),
    }
}

fn percent(d: Decimal) -> String {
    format!("{}%", (d * Decimal::ONE_HUNDRED).display_percent())
}

fn write_human(out: &mut dyn Write, report: &BacktestReport) -> io::Result<()> {
    for r in &report.results {
        let quote = r.pair.split('_').next().unwrap_or("");
        writeln!(
            out,
            "{} ({}) · {} · {} → {}, {} candles of {}",
            r.name,
            r.account,
            r.pair,
            &r.candles.from[..10],
            &r.candles.to[..10],
            r.candles.count,
            duration(r.candles.interval_s)
        )?;
        writeln!(
            out,
            "  deals: {} at take profit, {} stopped, {} open at the end · profit {} {quote}{}",
            r.deals_closed,
            r.deals_stopped,
            r.deals_open_at_end,
            r.profit_quote.display_in(quote),
            if r.deals_open_at_end > 0 {
                format!(
                    " (open deal: {} {quote})",
                    r.unrealized_quote.display_in(quote)
                )
            } else {
                String::new()
            }
        )?;
        writeln!(
            out,
            "  most capital at once {} {quote} · worst drawdown {} {quote} · deals last {} on average, {} at most",
            r.max_capital_used.display_in(quote),
            r.max_drawdown_quote.display_in(quote),
            duration(r.avg_deal_duration_s),
            duration(r.max_deal_duration_s)
        )?;
        let most = r
            .so_filled_histogram
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(1);
        writeln!(out, "  safety orders filled per deal:")?;
        for (k, n) in r.so_filled_histogram.iter().enumerate() {
            let bar = "█".repeat((*n as usize * 30).div_ceil(most as usize));
            writeln!(out, "    {k:>3} {bar} {n}")?;
        }
        if !r.not_simulated.is_empty() {
            writeln!(out, "  not simulated: {}", r.not_simulated.join("; "))?;
        }
        writeln!(out)?;
    }
    for s in &report.stress {
        writeln!(
            out,
            "{} ({}) · {} random paths of {} candles of {}, {}% volatility a year",
            s.name,
            s.account,
            s.paths,
            s.candles_per_path,
            duration(s.interval_s),
            s.volatility_percentage.display_percent()
        )?;
        for (what, sp) in [
            ("profit", &s.profit_quote),
            ("most capital at once", &s.max_capital_used),
            ("worst drawdown", &s.max_drawdown_quote),
        ] {
            writeln!(
                out,
                "  {what:<21} p5 {} · median {} · p95 {} · max {}",
                sp.p5.round_dp(2),
                sp.p50.round_dp(2),
                sp.p95.round_dp(2),
                sp.max.round_dp(2)
            )?;
        }
        let c = &s.chances;
        writeln!(
            out,
            "  chance of: ladder exhausted {} · stop loss hit {} · a deal open over a week {} · capital locked at the end {}",
            percent(c.ladder_exhausted),
            percent(c.stop_loss_hit),
            percent(c.deal_longer_than_a_week),
            percent(c.open_at_end)
        )?;
        if !s.not_simulated.is_empty() {
            writeln!(out, "  not simulated: {}", s.not_simulated.join("; "))?;
        }
        writeln!(out)?;
    }
    for s in &report.not_backtestable {
        writeln!(out, "not backtestable: {}: {}", s.name, s.reason)?;
    }
    for s in &report.missing_candles {
        writeln!(out, "no candles: {}: {}", s.name, s.reason)?;
    }
    for w in &report.warnings {
        writeln!(out, "warning: {w}")?;
    }
    Ok(())
}
