//! `botform signals`: the TradingView alert messages of every bot that starts deals (or places
//! safety orders) on `tv_custom_signal`, with the live bot id and the email token from the
//! environment (`engine::signals`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::HumanOrJson as Format;
use super::Output;
use crate::engine::signals::{self, BotSignals};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Config files or directories (default: the current directory).
    paths: Vec<PathBuf>,
    /// Only this bot (its config name, any case).
    #[arg(long)]
    bot: Option<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

pub fn run(args: Args, output: Output) -> ExitCode {
    let token = match signals::email_token() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let paths = super::paths_or_cwd(args.paths);
    let read = super::runtime().block_on(signals::read(
        &paths,
        args.bot.as_deref(),
        token.as_deref(),
        crate::connect::CONNECT,
    ));
    let all = match read {
        Ok(all) => all,
        Err(e) => return super::report_workflow_error(e, output),
    };
    let mut out = std::io::stdout().lock();
    let written = match args.format {
        Format::Json => serde_json::to_writer_pretty(&mut out, &all)
            .map_err(std::io::Error::other)
            .and_then(|()| writeln!(out)),
        Format::Human => write_human(&mut out, &all),
    };
    if let Err(e) = written {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn write_human(out: &mut dyn Write, all: &[BotSignals]) -> std::io::Result<()> {
    if all.is_empty() {
        writeln!(
            out,
            "No bot here takes TradingView custom signals (strategy_list or safety_strategy_list with `tv_custom_signal`)."
        )?;
    }
    for b in all {
        writeln!(
            out,
            "Bot \"{}\" on {} (id {}): takes {} from TradingView",
            crate::diagnostic::quote_input(&b.bot),
            b.account,
            b.bot_id.map_or("none yet".to_string(), |id| id.to_string()),
            b.on_signal.join(" and ")
        )?;
        writeln!(out, "  Webhook URL: {}", b.webhook_url)?;
        for note in &b.notes {
            writeln!(out, "  Note: {note}")?;
        }
        for m in &b.messages {
            writeln!(out, "  {} ({}):", m.purpose, m.what)?;
            writeln!(out, "    {}", m.message)?;
        }
        writeln!(out)?;
    }
    Ok(())
}
