//! `botform optimize`: search a bot's settings on candles (see `optimize`), print the
//! walk-forward table and the winner as a diff of the trader's file, and with `--write` make
//! that edit. `--shard K/N` runs a slice and writes JSON lines; `optimize merge` ranks shards.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use super::HumanOrJson;
use crate::model::decimal::Decimal;
use crate::optimize::{self, DrawdownCap, Objective, Shard, Space, Study, report, search};
use crate::simulate::report::Cancel;
use crate::simulate::{AssumeStart, Assumptions, Intrabar};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    merge: Option<MergeCommand>,
    /// Config files or directories (default: the current directory).
    paths: Vec<PathBuf>,
    /// The bot to optimize (its name, any case when only one bot has it).
    #[arg(long, value_name = "NAME", required = true)]
    bot: Option<String>,
    /// The bot's account alias, when two bots share the name.
    #[arg(long, value_name = "ALIAS")]
    account: Option<String>,
    #[command(flatten)]
    prices: super::prices::PriceArgs,
    /// A setting to search, and its range: `take_profit=0.8..3`. Repeatable. Default: the
    /// ladder (step, volume and step coefficients, safety orders, take profit).
    #[arg(long = "vary", value_name = "FIELD=LOW..HIGH")]
    vary: Vec<String>,
    /// What to maximize: profit-per-capital (percent of what the bot can lock; the default, as
    /// plain profit mostly rewards a bigger ladder), profit (quote), sortino (daily profits),
    /// or capped-profit (profit, with --max-drawdown as a hard cap).
    #[arg(long, value_enum, default_value_t = Objective::ProfitPerCapital)]
    objective: Objective,
    /// The deepest drawdown allowed in sample: quote (300) or percent of the bot's capital (25%).
    #[arg(long, value_name = "QUOTE|PERCENT%")]
    max_drawdown: Option<String>,
    /// The least price move the ladder must cover, in percent.
    #[arg(long, value_name = "PERCENT")]
    min_coverage: Option<Decimal>,
    /// Walk-forward folds: each is 75 % in sample then 25 % out of sample.
    #[arg(long, default_value_t = 4)]
    folds: u32,
    /// Candidates to draw (in brackets of 27).
    #[arg(long, default_value_t = 729)]
    trials: u64,
    /// The sampler's seed: the same seed, config and candles give the same winner.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The path inside each candle (as `botform backtest`).
    #[arg(long, value_enum, default_value_t = Intrabar::Worst)]
    intrabar: Intrabar,
    /// Treat start conditions that need outside signals as always met (as `botform backtest`).
    #[arg(long)]
    assume_nonstop: bool,
    /// Put the change in the bot's template instead of the bot's own block (the template's
    /// other bots change too).
    #[arg(long)]
    template: bool,
    /// Make the winner's edit in the config file (only when it beats the current config out of
    /// sample). Without it, only print.
    #[arg(long, conflicts_with = "shard")]
    write: bool,
    /// Run shard K of N (every Nth bracket) and write its results as JSON lines (to --out, or
    /// standard output), for `botform optimize merge`.
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Write a self-contained HTML page: every candidate in sample against out of sample, the
    /// winner and the current config fold by fold and over the whole span, the table, the edit.
    #[arg(long, value_name = "FILE", conflicts_with = "shard")]
    html: Option<PathBuf>,
    /// Where --shard writes its results.
    #[arg(long, value_name = "FILE", requires = "shard")]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = HumanOrJson::Human)]
    format: HumanOrJson,
}

#[derive(Debug, clap::Subcommand)]
enum MergeCommand {
    /// Rank the union of shards' results exactly as one run would.
    Merge {
        /// The files `--shard K/N --out FILE` wrote, one per shard.
        #[arg(required = true)]
        results: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = HumanOrJson::Human)]
        format: HumanOrJson,
    },
}

/// The largest shard results file read.
const MAX_RESULTS_BYTES: u64 = 512 << 20;

pub fn run(args: Args) -> ExitCode {
    let outcome = match &args.merge {
        Some(MergeCommand::Merge { results, format }) => merge(results, *format),
        None => optimize(&args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn study(args: &Args, fee: Decimal) -> Result<Study, String> {
    Ok(Study {
        bot: args.bot.clone().unwrap_or_default(),
        account: args.account.clone(),
        space: Space::parse(&args.vary)?,
        objective: args.objective,
        max_drawdown: args
            .max_drawdown
            .as_deref()
            .map(DrawdownCap::parse)
            .transpose()?,
        min_coverage: args.min_coverage,
        folds: args.folds,
        trials: args.trials,
        seed: args.seed,
        into_template: args.template,
        fee_percentage: fee,
        intrabar: args.intrabar.name().to_string(),
    })
}

fn optimize(args: &Args) -> Result<ExitCode, String> {
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    let paths = super::paths_or_cwd(args.paths.clone());
    let bots: Vec<String> = args.bot.iter().cloned().collect();
    // Checked first: a bad --vary or an invalid config is said before any candle is read.
    study(args, Decimal::ZERO)?.check()?;
    let checked = crate::config::check(&paths);
    if !checked.is_valid() {
        let mut err = io::stderr();
        let _ = super::validate::write_human(&mut err, &checked, false, false);
        return Err("the config has errors: optimize needs a valid config".into());
    }
    let (prices, fee, fee_source) = args.prices.read(&paths, &bots)?;
    let study = study(args, fee)?;
    let assumptions = Assumptions {
        fee_percentage: fee,
        fee_source,
        start: if args.assume_nonstop {
            AssumeStart::Nonstop
        } else {
            AssumeStart::AsConfigured
        },
        balance: None,
        intrabar: args.intrabar,
    };
    let (evaluator, warnings) = optimize::prepare(
        &checked,
        study,
        &prices,
        (args.prices.start_ms()?, args.prices.end_ms()?),
        assumptions,
    )?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    if fee.is_zero() {
        eprintln!(
            "warning: the fee is 0 %: pass --fee 0.1 (Binance and Bybit spot takers) for figures closer to a real account"
        );
    }
    let cancel = Cancel::default();
    interrupt_on_ctrl_c(&cancel);
    let bar = Bar::new();
    let records = search::run(
        &evaluator,
        shard.unwrap_or(Shard::ALL),
        evaluator.fingerprint(),
        &cancel,
        &bar,
    )?;
    bar.finish();
    if let Some(shard) = shard {
        let text = search::to_json_lines(&records);
        match &args.out {
            Some(path) => {
                crate::files::write_user_file(path, text.as_bytes())
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                eprintln!(
                    "Shard {}/{}: {} candidates written to {}.",
                    shard.index,
                    shard.count,
                    records.records.len(),
                    path.display()
                );
            }
            None => print!("{text}"),
        }
        return Ok(if records.interrupted {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    let (ranking, report) = report::of_run(&evaluator, &records);
    let edit = match ranking.winner() {
        Some(w) => evaluator.edit(&w.values)?,
        None => None,
    };
    let diff = edit
        .as_ref()
        .map(|e| e.diff(&e.path.display().to_string()))
        .unwrap_or_default();
    if let Some(path) = &args.html {
        write_page(path, &evaluator, &records, &ranking, &report, &diff)?;
    }
    let written = if args.write {
        write_winner(&evaluator, &report, edit.as_ref())?
    } else {
        None
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let shown = match args.format {
        HumanOrJson::Json => {
            let json = report::Output {
                format_version: 1,
                report: report.clone(),
                diff: diff.clone(),
                written: written.is_some(),
            };
            writeln!(
                out,
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_default()
            )
        }
        HumanOrJson::Human => {
            let mut text = report::human(&report, &evaluator.study);
            if !diff.is_empty() {
                text.push_str(&format!("\nThe winner as an edit of your file:\n{diff}"));
            }
            match (&written, args.write) {
                (Some(line), _) => text.push_str(&format!("\n{line}\n")),
                (None, true) => {}
                (None, false) if !diff.is_empty() => text.push_str(
                    "\nRun again with --write to make this edit (then botform validate and botform plan).\n",
                ),
                (None, false) => {}
            }
            write!(out, "{text}")
        }
    };
    shown.map_err(|e| format!("cannot write the report: {e}"))?;
    Ok(if records.interrupted {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `--html`: the page, with both configs' equity over the whole span.
fn write_page(
    path: &std::path::Path,
    evaluator: &optimize::Evaluator,
    records: &search::Records,
    ranking: &search::Ranking,
    report: &report::Report,
    diff: &str,
) -> Result<(), String> {
    let current = evaluator.equity(&evaluator.baseline()?);
    let winner = ranking
        .winner()
        .and_then(|w| evaluator.compile(&w.values).ok())
        .map(|c| evaluator.equity(&c))
        .unwrap_or_default();
    let page = optimize::html::render(&optimize::html::Page {
        report,
        study: &evaluator.study,
        records,
        current_equity: &current,
        winner_equity: &winner,
        out_of_sample_ms: evaluator
            .folds
            .iter()
            .map(|f| (f.out_of_sample.from_ms, f.out_of_sample.to_ms))
            .collect(),
        diff,
    });
    crate::files::write_user_file(path, page.as_bytes())
        .map_err(|e| format!("cannot write the page to {}: {e}", path.display()))?;
    eprintln!("Wrote the page to {}.", path.display());
    Ok(())
}

/// `--write`: the winner's edit, when it beats the current config out of sample; the line that
/// says what was written. Refused (an error) otherwise, so a script never takes a worse config.
fn write_winner(
    evaluator: &optimize::Evaluator,
    report: &report::Report,
    edit: Option<&crate::edit::Edited>,
) -> Result<Option<String>, String> {
    if !report.winner_beats_current {
        return Err(format!("nothing was written: {}", report.verdict));
    }
    let Some(edit) = edit else {
        return Err("nothing was written: the winner is the current config".into());
    };
    // The edited config passes validate before it is written (every candidate did; this is
    // the file as it will stand).
    let checked = evaluator.checked_with(Some(edit));
    if !checked.is_valid() {
        return Err("nothing was written: the edited config does not validate".into());
    }
    crate::edit::write(std::slice::from_ref(edit))?;
    Ok(Some(format!(
        "Wrote the winner's settings to {}: check it with botform validate and botform plan.",
        edit.path.display()
    )))
}

fn merge(results: &[PathBuf], format: HumanOrJson) -> Result<ExitCode, String> {
    let mut shards = Vec::new();
    for path in results {
        let text = crate::files::read_bounded(path, MAX_RESULTS_BYTES)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        shards.push(search::from_json_lines(&text, &path.display().to_string())?);
    }
    let records = search::merge(shards)?;
    let ranking = search::rank(&records);
    let report = report::build(&records.study, &ranking, None, records.interrupted);
    let text = match format {
        HumanOrJson::Json => {
            let output = report::Output {
                format_version: 1,
                report: report.clone(),
                diff: String::new(),
                written: false,
            };
            serde_json::to_string_pretty(&output).unwrap_or_default() + "\n"
        }
        HumanOrJson::Human => {
            let mut text = report::human(&report, &records.study);
            if !report.changes.is_empty() {
                text.push_str(&format!(
                    "\nThe winner's settings: {}\n(set them with the MCP tool set_fields, or by hand; `botform optimize --write` on one machine writes them itself).\n",
                    serde_json::Value::Object(report.changes.clone())
                ));
            }
            text
        }
    };
    print!("{text}");
    Ok(if records.interrupted {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The first Ctrl-C stops the search within a candidate and ranks the brackets that ended; a second
/// one ends the process.
fn interrupt_on_ctrl_c(cancel: &Cancel) {
    use tokio::signal::unix::{SignalKind, signal};
    let cancel = cancel.clone();
    let runtime = super::runtime();
    // The handler is in place before the search starts (a signal stream registers when made,
    // where `ctrl_c()` would only on its first poll, in the thread, some time later).
    let interrupts = {
        let _inside = runtime.enter();
        signal(SignalKind::interrupt())
    };
    let Ok(mut interrupts) = interrupts else {
        return;
    };
    std::thread::spawn(move || {
        runtime.block_on(async {
            if interrupts.recv().await.is_some() {
                eprintln!("\nInterrupted: ranking the brackets that ended (Ctrl-C again to quit).");
                cancel.cancel();
            }
            if interrupts.recv().await.is_some() {
                std::process::exit(130);
            }
        });
    });
}

/// Progress: on a terminal, a bar (candidates, the best in-sample objective so far, the ETA);
/// elsewhere (CI logs, pipes), a line at the first batch of candidates and then every 10 s.
enum Bar {
    Terminal(indicatif::ProgressBar),
    Lines(std::sync::Mutex<Option<std::time::Instant>>),
}

/// How often progress lines go out when stderr is not a terminal.
const PROGRESS_LINE_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

impl Bar {
    fn new() -> Bar {
        if !io::stderr().is_terminal() {
            return Bar::Lines(std::sync::Mutex::new(None));
        }
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} candidates, best in sample {msg}, ETA {eta}",
        ) {
            bar.set_style(style);
        }
        Bar::Terminal(bar)
    }

    fn finish(&self) {
        if let Bar::Terminal(bar) = self {
            bar.finish_and_clear();
        }
    }
}

impl search::Progress for Bar {
    fn advanced(&self, done: u64, total: u64, best: Option<Decimal>) {
        let best = best.map_or("-".into(), |b| b.round_dp(2).to_string());
        match self {
            Bar::Terminal(bar) => {
                bar.set_length(total);
                bar.set_position(done);
                bar.set_message(best);
            }
            Bar::Lines(last) => {
                let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                if last.is_none_or(|t| t.elapsed() >= PROGRESS_LINE_EVERY) {
                    *last = Some(std::time::Instant::now());
                    eprintln!("optimize: {done} of {total} candidates, best in sample {best}");
                }
            }
        }
    }
}
