//! `botform mcp`: serve the engine to an AI assistant over MCP (stdio).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::mcp::{self, McpOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The only directory the server reads or writes config files in.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Let the assistant apply plans to the 3Commas account (it still needs a plan_id and hash,
    /// and the person's confirmation where the client can ask).
    #[arg(long)]
    allow_apply: bool,
    /// Let applied plans delete bots.
    #[arg(long, requires = "allow_apply")]
    allow_delete: bool,
    /// Let the assistant apply even when its client cannot ask the person to confirm (no MCP
    /// elicitation): then nobody confirms. Without it such applies are refused. Use it only
    /// where the assistant runs unattended on purpose.
    #[arg(long, requires = "allow_apply")]
    allow_unconfirmed_apply: bool,
    /// The tool sets to serve, comma-separated: config, apply, fleet, backtest, account, trading
    /// (TradingView alerts, SmartTrades, deal actions), or all.
    /// Default: config,apply,fleet,backtest (`account`: raw account reads and import). Fewer
    /// tools cost the assistant fewer tokens in every session.
    #[arg(long, value_name = "SETS")]
    tools: Option<String>,
    /// Serve `deal_action` (cancel, panic-sell, add funds, update a deal), with the rest of the
    /// `trading` set. Each action still needs the person's yes through the client (MCP
    /// elicitation); a client that cannot ask is refused.
    #[arg(long)]
    allow_deal_actions: bool,
}

pub fn run(args: Args) -> ExitCode {
    let mut tool_sets: Vec<String> = match &args.tools {
        None => mcp::toolschema::DEFAULT_TOOL_SETS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Some(text) => match mcp::toolschema::parse_tool_sets(text) {
            Ok(sets) => sets,
            Err(e) => {
                eprintln!("error: --tools: {e}");
                return ExitCode::from(2);
            }
        },
    };
    if args.allow_deal_actions && !tool_sets.iter().any(|s| s == "trading") {
        tool_sets.push("trading".into());
    }
    let options = McpOptions {
        tool_sets,
        allow_deal_actions: args.allow_deal_actions,
        root: args.root,
        allow_apply: args.allow_apply,
        allow_delete: args.allow_delete,
        allow_unconfirmed_apply: args.allow_unconfirmed_apply,
    };
    match super::runtime().block_on(mcp::serve_stdio(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
