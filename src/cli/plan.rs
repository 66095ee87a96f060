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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    /// The versioned JSON plan (format_version 1).
    Json,
    /// Markdown for a pull-request comment: a summary per account, a collapsible block per change.
    Markdown,
}

pub fn run(args: Args, output: Output) -> ExitCode {
    let paths = super::paths_or_cwd(args.paths);
    let runtime = super::runtime();
    runtime.block_on(async {
        let planned = match workflow::make_plan(&paths, &args.targets).await {
            Ok(p) => p,
            Err(e) => return super::report_workflow_error(e, output),
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
            ),
            Format::Markdown => write!(out, "{}", crate::engine::markdown::render(&planned.plan)),
            Format::Json => serde_json::to_writer_pretty(&mut out, &planned.plan)
                .map_err(io::Error::from)
                .and_then(|()| writeln!(out)),
        };
        if let Err(e) = written {
            eprintln!("error: cannot write the plan: {e}");
            return ExitCode::FAILURE;
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
