//! `botform plan`: show what would change on 3Commas, optionally save the plan for `apply`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;

use super::Output;
use crate::engine::render::{self, RenderOptions};
use crate::engine::workflow::{self, SavedPlan};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config files or directories (default: the current directory).
    paths: Vec<PathBuf>,
    /// Save the plan (with a fingerprint of everything it read) for `botform apply --plan`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on errors.
    #[arg(long)]
    detailed_exitcode: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Plan only these bots (by name; `blacklist` for the blacklist). Repeatable.
    #[arg(long = "target", value_name = "NAME")]
    targets: Vec<String>,
    /// List live bots the config does not manage instead of only counting them.
    #[arg(long)]
    show_unmanaged: bool,
    /// Backtest each bot the plan creates or changes, before and after, on these candle files
    /// (or directories; one CSV per pair).
    #[arg(long, value_name = "PATH", num_args = 1.., conflicts_with = "backtest_synthetic")]
    backtest_candles: Vec<PathBuf>,
    /// Backtest each bot the plan creates or changes, before and after, on seeded random paths
    /// (`paths=100,vol=80,days=90,seed=7`).
    #[arg(long, value_name = "SPEC")]
    backtest_synthetic: Option<String>,
    /// The fee those backtests charge, in percent of every fill and sale. Default: each
    /// account's exchange's base-tier taker fee, where botform knows it (else 0, with a note).
    #[arg(long, value_name = "PERCENT")]
    backtest_fee: Option<crate::model::decimal::Decimal>,
    /// Write those backtests as a self-contained HTML page: each changed bot's equity before
    /// and after, overlaid, with the figures side by side. Candle files only.
    #[arg(long, value_name = "FILE", requires = "backtest_candles")]
    backtest_html: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    /// The versioned JSON plan (format_version 1).
    Json,
    /// Markdown for a pull-request comment: a summary per account, a collapsible block per change.
    Markdown,
}

/// The backtest `--backtest-candles` / `--backtest-synthetic` asked for: each created or changed
/// bot before -> after (every pair run together, or the synthetic paths).
#[derive(Debug, serde::Serialize)]
struct PlanBacktest {
    comparisons: Vec<crate::simulate::report::Comparison>,
    notes: Vec<String>,
}

async fn backtest_changes(
    args: &Args,
    planned: &workflow::Planned,
) -> Result<Option<PlanBacktest>, String> {
    use crate::simulate::report::{Options, Prices};
    let prices = match (&args.backtest_synthetic, args.backtest_candles.is_empty()) {
        (Some(spec), _) => Prices::Synthetic(crate::simulate::synthetic::parse(spec)?),
        (None, false) => Prices::Files(args.backtest_candles.clone()),
        (None, true) => return Ok(None),
    };
    let options = Options {
        limits: Default::default(),
        detail: Vec::new(),
        prices,
        bots: Vec::new(),
        from_ms: None,
        to_ms: None,
        list_deals: false,
        charts: args.backtest_html.is_some(),
        assumptions: crate::simulate::Assumptions {
            start: crate::simulate::AssumeStart::Nonstop,
            fee_percentage: args.backtest_fee.unwrap_or_default(),
            fee_source: if args.backtest_fee.is_some() {
                crate::simulate::FeeSource::Given
            } else {
                crate::simulate::FeeSource::NotGiven
            },
            ..Default::default()
        },
        cancel: Default::default(),
    };
    // On candles, each changed bot's orders round to its exchange's steps.
    let (limits, mut lookups) = match options.prices {
        Prices::Files(_) => {
            crate::engine::limits::for_plan(
                &planned.target.client,
                &planned.plan,
                &planned.desired,
                &planned.markets,
            )
            .await
        }
        Prices::Synthetic(_) => Default::default(),
    };
    let (comparisons, mut notes) = crate::engine::backtest::compare_plan(
        &planned.plan,
        &planned.desired,
        &options,
        &planned.markets,
        &limits,
    )?;
    notes.append(&mut lookups);
    Ok(Some(PlanBacktest { comparisons, notes }))
}

fn write_backtest(out: &mut dyn Write, backtest: &PlanBacktest) -> io::Result<()> {
    writeln!(
        out,
        "\nBacktest of the changed bots, before -> after (same prices):"
    )?;
    for c in &backtest.comparisons {
        let on = format!(
            "{} on {}, fee {} % ({})",
            c.address, c.on, c.fee_percentage, c.fee_source
        );
        match (&c.before, &c.after) {
            (Some(b), Some(a)) => writeln!(out, "  {on}:\n    {b}\n -> {a}")?,
            (None, Some(a)) => writeln!(out, "  {on} (new): {a}")?,
            _ => writeln!(out, "  {on}: not backtestable")?,
        }
        if !c.not_simulated.is_empty() {
            writeln!(out, "    not simulated: {}", c.not_simulated.join("; "))?;
        }
    }
    for n in &backtest.notes {
        writeln!(out, "  note: {n}")?;
    }
    Ok(())
}

pub fn run(args: Args, output: Output) -> ExitCode {
    let paths = super::paths_or_cwd(args.paths.clone());
    let runtime = super::runtime();
    runtime.block_on(async {
        let planned =
            match workflow::make_plan(&paths, &args.targets, crate::connect::CONNECT).await {
                Ok(p) => p,
                Err(e) => return super::report_workflow_error(e, output),
            };
        let backtest = match backtest_changes(&args, &planned).await {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: backtest: {e}");
                return ExitCode::FAILURE;
            }
        };
        let stdout = io::stdout();
        let mut out = stdout.lock();
        let written = match args.format {
            Format::Human => render::render(
                &mut out,
                &planned.plan,
                &RenderOptions {
                    color: output.color,
                    show_unmanaged: args.show_unmanaged,
                },
            )
            .and_then(|()| {
                backtest
                    .as_ref()
                    .map_or(Ok(()), |b| write_backtest(&mut out, b))
            }),
            Format::Markdown => write!(out, "{}", crate::engine::markdown::render(&planned.plan))
                .and_then(|()| {
                    backtest
                        .as_ref()
                        .map_or(Ok(()), |b| write_backtest(&mut out, b))
                }),
            // One JSON document: the plan, with the backtest under `backtest` when asked for.
            Format::Json => serde_json::to_value(&planned.plan)
                .map(|mut plan| {
                    if let (Some(b), Some(map)) = (&backtest, plan.as_object_mut()) {
                        map.insert(
                            "backtest".into(),
                            serde_json::to_value(b).unwrap_or_default(),
                        );
                    }
                    plan
                })
                .and_then(|plan| serde_json::to_writer_pretty(&mut out, &plan))
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out)),
        };
        if let Err(e) = written {
            eprintln!("error: cannot write the plan: {e}");
            return ExitCode::FAILURE;
        }
        if let (Some(path), Some(b)) = (&args.backtest_html, &backtest) {
            let page = crate::simulate::html::render_comparison(&b.comparisons, &b.notes);
            if let Err(e) = crate::files::write_user_file(path, page.as_bytes()) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!("Wrote the before/after backtest to {}.", path.display());
        }
        if let Some(path) = &args.out {
            if let Err(e) = SavedPlan::new(&planned).write(path) {
                eprintln!("error: cannot save the plan to {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!(
                "Saved the plan to {}: apply exactly it with `botform apply --plan {}`.",
                path.display(),
                path.display()
            );
        }
        if args.detailed_exitcode && !planned.plan.is_empty() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        }
    })
}
