//! `botform sandbox serve`: run the local 3Commas-compatible server; `botform sandbox dump`:
//! print a sandbox's state as JSON.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::sandbox::{self, FaultSpec, SandboxConfig};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: SandboxCommand,
}

#[derive(Debug, clap::Subcommand)]
enum SandboxCommand {
    /// Serve the 3Commas API under /public/api. The first line on stdout is the base URL.
    #[command(
        after_help = "Examples:\n  botform sandbox serve\n  botform sandbox serve --listen 127.0.0.1:0 --state /tmp/try.db\n  botform sandbox serve --builtin   # the built-in sandbox's state, shared with plan/apply\n  botform sandbox serve --faults 5xx=0.1,timeout=0.05,reset=0.02,seed=7 --rate-limit 1000\n  botform sandbox serve --builtin --market candles/ --speed 3000   # bots trade on replayed candles\n  botform sandbox serve --market synthetic:vol=80,seed=7            # or on a seeded random path per pair\n\nPoint botform (or any 3Commas client) at it:\n  THREECOMMAS_API_URL=http://127.0.0.1:PORT THREECOMMAS_API_KEY=sandbox-key THREECOMMAS_API_SECRET=sandbox-secret"
    )]
    Serve(Box<ServeArgs>),
    /// Print a sandbox's whole state (accounts, bots, deals, blacklist) as JSON on stdout.
    #[command(
        after_help = "Examples:\n  botform sandbox dump              # the built-in sandbox\n  botform sandbox dump --state /tmp/try.db > state.json"
    )]
    Dump(DumpArgs),
    /// Print the sandbox's TradingView email token (what `botform signals` needs in
    /// THREECOMMAS_EMAIL_TOKEN to address this sandbox).
    #[command(
        after_help = "Examples:\n  botform sandbox token                       # the built-in sandbox\n  THREECOMMAS_EMAIL_TOKEN=$(botform sandbox token) botform signals --sandbox"
    )]
    Token(DumpArgs),
}

#[derive(Debug, clap::Args)]
struct DumpArgs {
    /// The state database (default: the built-in sandbox's, $BOTFORM_SANDBOX_STATE or
    /// sandbox.db in botform's state dir).
    #[arg(long)]
    state: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8413")]
    listen: SocketAddr,
    /// Keep the state in this SQLite database across restarts (each change is one transaction;
    /// several sandboxes may share it). Without it, or --builtin, the state lives in memory.
    #[arg(long, conflicts_with = "builtin")]
    state: Option<PathBuf>,
    /// Serve the built-in sandbox's state (the one plan, apply and import use without
    /// credentials).
    #[arg(long)]
    builtin: bool,
    /// The API key the sandbox accepts.
    #[arg(long, env = "BOTFORM_SANDBOX_API_KEY", default_value = sandbox::DEFAULT_API_KEY)]
    api_key: String,
    /// The API secret the sandbox verifies signatures with.
    #[arg(long, env = "BOTFORM_SANDBOX_API_SECRET", default_value = sandbox::DEFAULT_API_SECRET, hide_default_value = true)]
    api_secret: String,
    /// Faults to inject, e.g. `5xx=0.1,timeout=0.05,reset=0.02,seed=7` (also `slow_ms=`).
    #[arg(long, value_parser = FaultSpec::parse)]
    faults: Option<FaultSpec>,
    /// Requests per minute before 429 (3Commas allows 100).
    #[arg(long, default_value_t = 100)]
    rate_limit: u32,
    /// Seconds a rate-limit block lasts (3Commas: 300).
    #[arg(long, default_value_t = 300)]
    rate_limit_block: u64,
    /// Make update_pairs_black_list add pairs instead of replacing the list.
    #[arg(long)]
    blacklist_adds: bool,
    /// Serve only what 3Commas' current docs list: /ver1/ping and /ver1/time answer 404.
    #[arg(long)]
    current_docs_only: bool,
    /// Another API key of the same account, as KEY:SECRET (repeatable): every key reaches the
    /// same bots, as two keys of one 3Commas account do.
    #[arg(long = "extra-key", value_name = "KEY:SECRET", value_parser = key_and_secret)]
    extra_keys: Vec<(String, String)>,
    /// Answer bot reads in the odd shapes real responses have had: keys missing, nulls for
    /// empty lists, counters as strings, unknown keys.
    #[arg(long)]
    quirks: bool,
    /// Replay candles so enabled bots open and close deals (with the backtest's engine): a
    /// directory of candle CSVs, one per pair (as `botform backtest --candles`), or
    /// `synthetic:vol=80,seed=7,interval=5m` (one seeded path per pair).
    #[arg(long, value_name = "PATH|synthetic:SPEC")]
    market: Option<String>,
    /// Market seconds per real second (300: a 5-minute candle a second).
    #[arg(long, default_value_t = sandbox::market::DEFAULT_SPEED, requires = "market")]
    speed: f64,
    /// The email token TradingView messages must carry (POST /trade_signal/trading_view).
    /// Without it, the state's own: `botform sandbox token --state FILE` prints it.
    #[arg(long, env = "BOTFORM_SANDBOX_EMAIL_TOKEN", hide_env_values = true)]
    email_token: Option<String>,
}

pub fn run(args: Args) -> ExitCode {
    let args = match args.command {
        SandboxCommand::Serve(args) => *args,
        SandboxCommand::Dump(args) => return dump(args, false),
        SandboxCommand::Token(args) => return dump(args, true),
    };
    let state_file = if args.builtin {
        Some(crate::connect::builtin_sandbox_state())
    } else {
        args.state
    };
    let market = match args.market.as_deref() {
        None => None,
        Some(text) => match sandbox::market::MarketConfig::parse(text, args.speed) {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!("error: --market {e}");
                return ExitCode::from(2);
            }
        },
    };
    let config = SandboxConfig {
        listen: args.listen,
        state_file,
        api_key: args.api_key,
        api_secret: args.api_secret,
        faults: args.faults.unwrap_or_default(),
        rate_limit: args.rate_limit,
        block: Duration::from_secs(args.rate_limit_block),
        blacklist_adds: args.blacklist_adds,
        current_docs_only: args.current_docs_only,
        extra_keys: args.extra_keys.clone(),
        quirks: args.quirks,
        market,
        email_token: args.email_token.filter(|t| !t.trim().is_empty()),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let faults = config.faults.is_active();
        let running = match sandbox::start(config).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: cannot start the sandbox: {e}");
                return ExitCode::FAILURE;
            }
        };
        println!("{}", running.base_url);
        let _ = std::io::stdout().flush();
        eprintln!(
            "botform sandbox: serving the 3Commas API at {}/public/api{}; Ctrl-C stops it",
            running.base_url,
            if faults { " with faults" } else { "" }
        );
        tokio::select! {
            _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
            _ = running.wait() => ExitCode::FAILURE,
        }
    })
}

/// `dump` (the state, its email token masked) or `token` (only the token).
fn dump(args: DumpArgs, token: bool) -> ExitCode {
    let path = args
        .state
        .unwrap_or_else(crate::connect::builtin_sandbox_state);
    if !token && !path.exists() {
        eprintln!(
            "error: {} does not exist (no sandbox has run there yet)",
            path.display()
        );
        return ExitCode::FAILURE;
    }
    match sandbox::open_state(&path) {
        Ok((_, mut state)) => {
            if token {
                println!("{}", state.email_token);
                return ExitCode::SUCCESS;
            }
            state.email_token = "(botform sandbox token prints it)".into();
            let text = serde_json::to_string_pretty(&state).expect("the state serializes");
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}

fn key_and_secret(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((key, secret)) if !key.is_empty() && !secret.is_empty() => {
            Ok((key.to_string(), secret.to_string()))
        }
        _ => Err("give KEY:SECRET".into()),
    }
}
