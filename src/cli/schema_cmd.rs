//! `botform schema`: print (or write) the JSON Schema of the config format.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the schema to this file instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The schema of the JSON plan (`plan --format json`) instead of the config's.
    #[arg(long, conflicts_with = "backtest")]
    plan: bool,
    /// The schema of `backtest --format json` instead of the config's.
    #[arg(long, conflicts_with = "optimize")]
    backtest: bool,
    /// The schema of `optimize --format json` instead of the config's.
    #[arg(long, conflicts_with = "plan")]
    optimize: bool,
}

pub fn run(args: Args) -> ExitCode {
    let schema = if args.optimize {
        crate::optimize::report::schema_json()
    } else if args.backtest {
        crate::schema::backtest_schema_json()
    } else if args.plan {
        crate::schema::plan_schema_json()
    } else {
        crate::schema::config_schema_json()
    };
    let result = match &args.out {
        Some(path) => crate::files::write_user_file(path, schema.as_bytes()),
        None => std::io::stdout().write_all(schema.as_bytes()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write the schema: {e}");
            ExitCode::FAILURE
        }
    }
}
