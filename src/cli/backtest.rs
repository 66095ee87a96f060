//! `botform backtest`: replay candles (from files, or seeded random paths) through the bots of a
//! config with the model in `simulate`, and report per bot and pair.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use crate::model::decimal::Decimal;
use crate::simulate::download;
use crate::simulate::report::{self, BacktestReport, Options};
use crate::simulate::{AssumeStart, Assumptions, FeeSource, Intrabar};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config files or directories (default: the current directory).
    paths: Vec<PathBuf>,
    #[command(flatten)]
    prices: super::prices::PriceArgs,
    /// Only these bots (by name, any case). Repeatable.
    #[arg(long = "bot", value_name = "NAME")]
    bots: Vec<String>,
    /// Round prices and quantities to each pair's exchange steps: a JSON object of pairs, each
    /// with its 3Commas `currency_rates` answer (`priceStep`, `lotStep`). Candle files only.
    #[arg(long, value_name = "FILE", conflicts_with = "synthetic")]
    limits: Option<PathBuf>,
    /// Round as --limits does, with each pair's steps read from 3Commas' `currency_rates` on
    /// this exchange (a `market_code`: binance, bybit_spot, ...), against the configured target
    /// (the built-in sandbox without a key), and kept in the candle cache for a week.
    #[arg(long, value_name = "MARKET", conflicts_with_all = ["synthetic", "limits"])]
    limits_from: Option<String>,
    /// Finer candles of the same pairs (files or directories; 1-minute candles for 5-minute
    /// ones, say): each candle a deal is in is walked on the finer candles inside it, where they
    /// cover it whole, instead of along --intrabar's assumed path. Candle files only.
    #[arg(long, value_name = "PATH", num_args = 1.., conflicts_with = "synthetic")]
    detail: Vec<PathBuf>,
    /// The quote balance (per quote currency) that a volume in percent of the balance is a share
    /// of; without it such bots are not backtestable.
    #[arg(long, value_name = "QUOTE")]
    balance: Option<Decimal>,
    /// The path inside each candle: the deal's adverse extreme first (worst), its favourable one
    /// (best), the low or the high first, or TradingView's rule (the extreme nearer the open).
    /// Every run also states how much the opposite path changes the result.
    #[arg(long, value_enum, default_value_t = Intrabar::Worst)]
    intrabar: Intrabar,
    /// Write every deal (open, exit, safety orders, profit) to this file: CSV, or JSON when the
    /// name ends in `.json`. Candle files only.
    #[arg(long, value_name = "FILE", conflicts_with = "synthetic")]
    deals: Option<PathBuf>,
    /// Write a self-contained HTML report (equity, drawdown, deals on the price, per pair,
    /// monthly returns) to this file. Candle files only.
    #[arg(long, value_name = "FILE", conflicts_with = "synthetic")]
    html: Option<PathBuf>,
    /// Treat start conditions that need outside signals (TradingView, manual/API, QFL) as always
    /// met. Indicator conditions (RSI, MACD, ...) are computed from the candles either way.
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
            if let Some(path) = &args.deals {
                if let Err(e) = write_deals(path, &report.deals) {
                    eprintln!("error: cannot write the deals to {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                eprintln!("Wrote {} deals to {}.", report.deals.len(), path.display());
            }
            if let Some(path) = &args.html {
                let page = crate::simulate::html::render(&report, &report.charts);
                if let Err(e) = crate::files::write_user_file(path, page.as_bytes()) {
                    eprintln!("error: cannot write the report to {}: {e}", path.display());
                    return ExitCode::FAILURE;
                }
                eprintln!("Wrote the report to {}.", path.display());
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
    let (prices, fee_percentage, fee_source) = args.prices.read(&args.paths, &args.bots)?;
    let paths = super::paths_or_cwd(args.paths.clone());
    let checked = crate::config::check(&paths);
    if !checked.is_valid() {
        let mut err = io::stderr();
        let _ = super::validate::write_human(&mut err, &checked, false, false);
        return Err("the config has errors: backtests need a valid config".into());
    }
    let mut lookups = Vec::new();
    let limits = match (&args.limits, &args.limits_from) {
        (Some(path), _) => report::read_limits(path)?,
        (None, Some(market)) => {
            let steps = read_limits_from(&checked, market, &args.bots)?;
            lookups = steps.warnings;
            steps.limits
        }
        (None, None) => Default::default(),
    };
    let options = Options {
        detail: args.detail.clone(),
        limits,
        prices,
        bots: args.bots.clone(),
        from_ms: args.prices.start_ms()?,
        to_ms: args.prices.end_ms()?,
        list_deals: args.deals.is_some(),
        charts: args.html.is_some(),
        assumptions: Assumptions {
            fee_percentage,
            fee_source,
            start: if args.assume_start.is_some() {
                AssumeStart::Nonstop
            } else {
                AssumeStart::AsConfigured
            },
            balance: args.balance,
            intrabar: args.intrabar,
        },
        cancel: Default::default(),
    };
    let mut report = report::backtest(&checked, &options).map_err(|e| {
        e.replace(
            "no bot of the config is named",
            "--bot: no bot of the config is named",
        )
    })?;
    report.warnings.append(&mut lookups);
    let ok = !report.results.is_empty() || !report.stress.is_empty() || !report.grids.is_empty();
    Ok((report, ok))
}

/// `--limits-from MARKET`: the steps of every pair of the chosen bots on that exchange, from
/// 3Commas' `currency_rates` (or the cache), against the target the environment names.
fn read_limits_from(
    checked: &crate::config::Checked,
    market: &str,
    bots: &[String],
) -> Result<crate::engine::limits::PairSteps, String> {
    use crate::engine::target;
    let pairs: Vec<String> = download::pairs_of(checked, bots).into_iter().collect();
    super::runtime().block_on(async {
        let options = target::ConnectOptions::from_settings(&checked.config.settings);
        let target = crate::connect::connect(options)
            .await
            .map_err(|e| format!("--limits-from: {e}"))?;
        Ok(crate::engine::limits::read(&target.client, market, &pairs).await)
    })
}

/// `--deals`: JSON (an array) when the file name ends in `.json`, else CSV with a header.
fn write_deals(path: &std::path::Path, deals: &[report::DealRow]) -> io::Result<()> {
    let json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let bytes = if json {
        let mut text = serde_json::to_vec_pretty(deals).map_err(io::Error::from)?;
        text.push(b'\n');
        text
    } else {
        let mut text = String::from(
            "bot,account,pair,opened,closed,outcome,entry_price,exit_price,safety_orders_filled,take_profit_steps_filled,steps_base,steps_quote,base,quote,fees,profit_quote\n",
        );
        let field = |s: &str| {
            // A name a spreadsheet would run as a formula is written as text.
            let s = if s.starts_with(['=', '+', '-', '@']) {
                format!("'{s}")
            } else {
                s.to_string()
            };
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s
            }
        };
        for d in deals {
            let cells = [
                field(&d.bot),
                field(&d.account),
                field(&d.pair),
                d.opened.clone(),
                d.closed.clone().unwrap_or_default(),
                d.outcome.clone(),
                d.entry_price.to_string(),
                d.exit_price.map(|p| p.to_string()).unwrap_or_default(),
                d.safety_orders_filled.to_string(),
                d.take_profit_steps_filled.to_string(),
                d.steps_base.to_string(),
                d.steps_quote.to_string(),
                d.base.to_string(),
                d.quote.to_string(),
                d.fees.to_string(),
                d.profit_quote.to_string(),
            ];
            text.push_str(&cells.join(","));
            text.push('\n');
        }
        text.into_bytes()
    };
    crate::files::write_user_file(path, &bytes)
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
    // A fee the caller did not give is named first: it moves every figure below.
    let plain = [FeeSource::Given, FeeSource::NotGiven].map(FeeSource::describe);
    if !plain.contains(&report.fee_source) {
        writeln!(
            out,
            "Fee {} % a trade: {} (pass --fee for your own).\n",
            report.fee_percentage, report.fee_source
        )?;
    }
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
            "  deals: {} at take profit, {} stopped,{} {} open at the end · profit {} {quote}{}",
            r.deals_closed,
            r.deals_stopped,
            if r.deals_timed_out > 0 {
                format!(" {} closed by close_deals_timeout,", r.deals_timed_out)
            } else {
                String::new()
            },
            r.deals_open_at_end,
            r.profit_quote.display_in(quote),
            if r.deals_open_at_end > 0 {
                format!(
                    " (open deal: {} {quote}, open for {})",
                    r.unrealized_quote.display_in(quote),
                    duration(r.open_deal_age_s)
                )
            } else {
                String::new()
            }
        )?;
        writeln!(
            out,
            "  most capital at once {} {quote} · worst drawdown {} {quote} · deals last {} on average, {} at most (the open one included)",
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
        if let Some(other) = &r.sensitivity {
            writeln!(
                out,
                "  inside a candle: {} path; along the {} path instead: profit {} {quote}, worst drawdown {} {quote} (--intrabar)",
                r.intrabar.name(),
                other.intrabar.name(),
                other.profit_quote.display_in(quote),
                other.max_drawdown_quote.display_in(quote)
            )?;
        }
        if r.candles_walked_in_detail + r.candles_without_detail > 0 {
            writeln!(
                out,
                "  on finer candles: {} candles walked on them, {} not covered whole (walked along the {} path)",
                r.candles_walked_in_detail,
                r.candles_without_detail,
                r.intrabar.name()
            )?;
        }
        if !r.not_simulated.is_empty() {
            writeln!(out, "  not simulated: {}", r.not_simulated.join("; "))?;
        }
        writeln!(out)?;
    }
    for g in &report.grids {
        let quote = g.pair.split('_').next().unwrap_or("");
        writeln!(
            out,
            "{} ({}) · grid · {} · {} → {}, {} candles",
            g.name,
            g.account,
            g.pair,
            &g.from[..10],
            &g.to[..10],
            g.candles
        )?;
        writeln!(
            out,
            "  {} grids completed ({} buys, {} sells) · grid profit {} {quote} · value at the end {} {quote} on {} invested · drawdown {} {quote}{}",
            g.grids_completed,
            g.buys,
            g.sells,
            g.grid_profit.display_in(quote),
            g.value_at_end.display_in(quote),
            g.investment.display_in(quote),
            g.max_drawdown.display_in(quote),
            g.stopped_at
                .as_ref()
                .map(|t| format!(" · stopped by its stop loss at {t}"))
                .unwrap_or_default()
        )?;
        if !g.not_simulated.is_empty() {
            writeln!(out, "  not simulated: {}", g.not_simulated.join("; "))?;
        }
        writeln!(out)?;
    }
    for b in &report.bots {
        let quote = b
            .pairs
            .first()
            .and_then(|p| p.split('_').next())
            .unwrap_or("");
        if b.pairs.len() > 1 {
            writeln!(
                out,
                "{} ({}) in total · {} run together, at most {} deals at once ({} reached)",
                b.name,
                b.account,
                b.pairs.join(", "),
                b.max_active_deals,
                b.max_deals_at_once
            )?;
            writeln!(
                out,
                "  deals: {} at take profit, {} stopped, {} closed by timeout, {} open at the end · profit {} {quote} (open deals: {} {quote})",
                b.deals_closed,
                b.deals_stopped,
                b.deals_timed_out,
                b.deals_open_at_end,
                b.profit_quote.display_in(quote),
                b.unrealized_quote.display_in(quote)
            )?;
            writeln!(
                out,
                "  most capital at once {} {quote} · worst drawdown at once {} {quote}",
                b.max_capital_used.display_in(quote),
                b.max_drawdown_quote.display_in(quote)
            )?;
        } else {
            writeln!(out, "{} ({})", b.name, b.account)?;
        }
        let f = &b.figures;
        let ratio = |r: &Option<Decimal>| r.map_or("-".to_string(), |r| r.to_string());
        writeln!(
            out,
            "  equity: fell at most {} {quote} from a high, below one for {} at most · Sharpe {} · Sortino {} (daily, on the most capital at once)",
            f.equity_drawdown_quote.display_in(quote),
            duration(f.drawdown_duration_s),
            ratio(&f.sharpe),
            ratio(&f.sortino)
        )?;
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
        let quote = &s.quote;
        for (what, sp) in [
            ("profit", &s.profit_quote),
            ("most capital at once", &s.max_capital_used),
            ("worst drawdown", &s.max_drawdown_quote),
        ] {
            writeln!(
                out,
                "  {what:<21} p5 {} {quote} · median {} {quote} · p95 {} {quote} · max {} {quote}",
                sp.p5.round_dp(2),
                sp.p50.round_dp(2),
                sp.p95.round_dp(2),
                sp.max.round_dp(2)
            )?;
        }
        let c = &s.chances;
        let chance = |c: &crate::simulate::report::Chance| {
            format!(
                "{} ({}–{})",
                percent(c.share),
                percent(c.low),
                percent(c.high)
            )
        };
        writeln!(
            out,
            "  chance of (95 % interval): ladder exhausted {} · stop loss hit {} · capital locked over {} days {} · a deal open at the end {}",
            chance(&c.ladder_exhausted),
            chance(&c.stop_loss_hit),
            c.locked_days,
            chance(&c.capital_locked),
            chance(&c.open_at_end)
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
