//! The command line. clap types stay here; each command resolves its arguments once into plain
//! settings and returns an exit status. Exit codes: 0 success, 1 failure or invalid config
//! (usage errors too, so `2` stays free for "changes present" in later commands).

mod apply;
mod backtest;
mod deals;
mod doctor;
mod fmt;
mod history;
mod import;
mod init;
mod man;
mod mcp;
mod optimize;
mod plan;
mod prices;
mod sandbox;
mod schema_cmd;
mod signals;
mod validate;

pub use validate::write_human as write_validate_human;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// `botform --version`: the version, the commit it was built from and the build date (see
/// build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BOTFORM_COMMIT"),
    " ",
    env!("BOTFORM_BUILD_DATE"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "botform",
    version = VERSION,
    about = "3Commas DCA bots as code: validate, plan and apply bot configs kept in git",
    long_about = "botform reads DCA bot configs (TOML or YAML), checks them offline, and keeps a \
3Commas account in line with them.\n\nWith no 3Commas credentials set, botform works against its \
built-in sandbox; in CI, or with any THREECOMMAS_* variable set, a missing key is an error \
unless you ask for the sandbox (--sandbox or THREECOMMAS_TARGET=sandbox).",
    after_help = "Examples:\n  botform validate examples/bots        # check files offline\n  botform plan examples/bots            # what would change on 3Commas\n  botform apply examples/bots           # change it\n  botform import --out bots/            # write a live account out as files\n  botform mcp --root bots/              # let an AI assistant work on the files\n  botform sandbox serve                 # a local 3Commas to try things on\n\nCredentials: THREECOMMAS_API_KEY with THREECOMMAS_API_SECRET (or THREECOMMAS_PRIVATE_KEY_FILE)."
)]
pub struct Cli {
    /// When to use color: auto (a terminal, and NO_COLOR unset), always, never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Work against the built-in sandbox, even in CI or with a key set (as
    /// THREECOMMAS_TARGET=sandbox).
    #[arg(long, global = true)]
    pub sandbox: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check config files offline: syntax, types, unknown fields, 3Commas' rules, DCA numbers.
    #[command(
        after_help = "Examples:\n  botform validate                      # every config file below .\n  botform validate examples/bots\n  botform validate bots/btc.toml --format json\n  botform validate --format github      # annotations in GitHub Actions\n\nExit status: 0 valid (warnings allowed), 1 invalid."
    )]
    Validate(validate::Args),
    /// Print the JSON Schema (draft-07) of the config format.
    #[command(
        after_help = "Examples:\n  botform schema > schema/botform.schema.json\n\nIn TOML files, `#:schema ./botform.schema.json` on the first line lets editors complete fields;\nin YAML, `# yaml-language-server: $schema=./botform.schema.json`."
    )]
    Schema(schema_cmd::Args),
    /// Show what would change on 3Commas to match the config.
    #[command(
        after_help = "Examples:\n  botform plan examples/bots\n  botform plan --out plan.json           # save it for `apply --plan plan.json`\n  botform plan --format json\n  botform plan --format markdown > plan.md  # a pull-request comment\n  botform plan --target \"BTC conservative\"  # one bot only\n  botform plan --detailed-exitcode       # 0 no changes, 1 error, 2 changes\n\nWith no THREECOMMAS_API_KEY set, botform plans against its built-in sandbox."
    )]
    Plan(plan::Args),
    /// Make the planned changes on 3Commas.
    #[command(
        after_help = "Examples:\n  botform apply examples/bots            # plan, show, ask, apply\n  botform apply --plan plan.json         # exactly a saved plan\n  botform apply --auto-approve           # no terminal (CI)\n  botform apply --allow-delete           # let the plan delete bots\n\nExit status: 0 applied, 1 refused or failed."
    )]
    Apply(apply::Args),
    /// List the applies recorded for a config, newest first (`--show ID` for one in detail).
    #[command(
        after_help = "Examples:\n  botform history bots/\n  botform history bots/ --show 000003-20261204T082500Z\n\nEvery apply (CLI and MCP) is recorded in botform's state dir: its changes, the bots it\ncreated, and the config files as they stood."
    )]
    History(history::HistoryArgs),
    /// Undo an apply: put the config files back as they were before it, then plan and apply the
    /// account back (the bots it created switched off, or deleted with --allow-delete).
    #[command(
        after_help = "Examples:\n  botform revert 000003-20261204T082500Z bots/\n  botform revert 000003-20261204T082500Z bots/ --allow-delete --auto-approve\n\nRefused when the config changed since that apply (--force loses those edits). Exit status: 0\nreverted, 1 refused or failed."
    )]
    Revert(history::RevertArgs),
    /// Write a starter config: an account from the target, one bot from a template, the schema.
    #[command(
        after_help = "Examples:\n  botform init bots/                    # then: botform validate bots/ && botform plan bots/\n  botform init bots/ --account \"Binance Spot\"\n  botform init bots/ --mode paper      # 3Commas' paper account"
    )]
    Init(init::Args),
    /// Write the live 3Commas account out as config files.
    #[command(
        after_help = "Examples:\n  botform import --out bots/\n  botform import --account \"Binance Spot\" --format yaml --out bots/"
    )]
    Import(import::Args),
    /// Serve botform to an AI assistant over MCP (stdio): validate, plan, apply, import, ...
    #[command(
        after_help = "Examples:\n  botform mcp --root bots/\n  botform mcp --root bots/ --allow-apply\n\nstdout carries only the MCP protocol; logs go to stderr."
    )]
    Mcp(mcp::Args),
    /// Check first contact with 3Commas, read-only: URL, key, clock, permissions, accounts, mode.
    #[command(
        after_help = "Examples:\n  botform doctor                        # before the first real plan\n  botform doctor --format json\n\nIt sends only GET requests: nothing on 3Commas changes. Exit status: 0 ready, 1 not ready."
    )]
    Doctor(doctor::Args),
    /// Print a shell completion script: bash, zsh, fish, powershell or elvish.
    #[command(
        after_help = "Examples:\n  botform completions bash > ~/.local/share/bash-completion/completions/botform\n  botform completions zsh > \"${fpath[1]}/_botform\"\n  botform completions fish > ~/.config/fish/completions/botform.fish"
    )]
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff) on stdout, or write one per command with --out.
    #[command(
        after_help = "Examples:\n  botform man > ~/.local/share/man/man1/botform.1\n  botform man --out ~/.local/share/man/man1   # botform.1, botform-plan.1, ..."
    )]
    Man(man::Args),
    /// A local 3Commas-compatible server: try configs with no account; what every test runs against.
    #[command(
        after_help = "Examples:\n  botform sandbox serve                 # a local 3Commas on a free port\n  botform sandbox serve --builtin       # the built-in sandbox's state, shared with plan/apply\n  botform sandbox dump                  # print the built-in sandbox's state"
    )]
    Sandbox(sandbox::Args),
    /// Replay candles (or seeded random paths) through the config's bots: deals, profit, capital,
    /// drawdown, safety orders used. Offline; changes nothing.
    #[command(
        after_help = "Examples:\n  botform backtest bots/ --candles candles/               # USDT_BTC.csv or BTCUSDT.csv per pair\n  botform backtest bots/ --candles candles/ --bot \"BTC conservative\" --fee 0.1 --from 2025-01-01\n  botform backtest bots/ --synthetic paths=500,vol=80,days=90,seed=7   # is the ladder safe at 80 % volatility?\n  botform backtest bots/ --candles-from binance --from 2025-01-01 --interval 5m\n  botform backtest bots/ --candles candles/ --format json\n\nThe model (what fills when, what is left out) is in the README under \"Backtest a change\"."
    )]
    Backtest(backtest::Args),
    /// Search a bot's settings on candles for those that do best out of sample, within your
    /// limits (walk-forward folds, validate's rules on every candidate), and show the winner as
    /// an edit of your file (--write makes it). Offline.
    #[command(
        args_conflicts_with_subcommands = true,
        subcommand_negates_reqs = true,
        after_help = "Examples:\n  botform optimize bots/ --bot \"BTC conservative\" --candles candles/ --fee 0.1\n  botform optimize bots/ --bot \"BTC conservative\" --candles candles/ --vary take_profit=0.8..3 --vary max_safety_orders=3..8 --folds 4 --write\n  botform optimize bots/ --bot \"BTC conservative\" --candles candles/ --objective capped-profit --max-drawdown 20%\n  botform optimize bots/ --bot \"BTC conservative\" --candles candles/ --shard 2/4 --out shard-2.jsonl\n  botform optimize merge shard-*.jsonl\n\nThe same seed, config and candles give the same winner; shards merged give the single run's."
    )]
    Optimize(optimize::Args),
    /// Print the TradingView alert messages of bots that start on `tv_custom_signal`, with their
    /// live bot id and the webhook URL.
    #[command(
        after_help = "Examples:\n  botform signals bots/\n  botform signals bots/ --bot \"BTC on TV\" --format json\n\nThe email token comes from THREECOMMAS_EMAIL_TOKEN or THREECOMMAS_EMAIL_TOKEN_FILE (3Commas shows it\nin the bot's TradingView form); it is a secret and never belongs in config. Without it the\nmessages show a placeholder. The webhook is not in 3Commas' documented API: see the README."
    )]
    Signals(signals::Args),
    /// List deals with their realized and unrealized P&L, safety orders used and durations.
    #[command(
        after_help = "Examples:\n  botform deals --bot \"BTC conservative\"\n  botform deals --scope active --format json\n  botform deals --account \"Binance Spot\" --since 30d\n  botform deals --smart-trades          # the account's SmartTrades (read only)"
    )]
    Deals(deals::DealsArgs),
    /// Show a deal, or act on it: cancel, panic-sell, add-funds, update. Each action shows what it
    /// will do, asks for `yes` (or --auto-approve), and is written to the audit log.
    #[command(
        after_help = "Examples:\n  botform deal show 2412395001\n  botform deal cancel 2412395001\n  botform deal panic-sell 2412395001 --auto-approve\n  botform deal add-funds 2412395001 --quantity 0.01              # at market\n  botform deal update 2412395001 --take-profit 2 --max-safety-orders 6\n\nEvery attempt (run, refused, declined) is appended to audit.jsonl in botform's state dir.\nExit status: 0 done, 1 refused, declined or failed."
    )]
    Deal(deals::DealArgs),
    /// Rewrite config files in one canonical layout, keeping every comment and order.
    #[command(
        after_help = "Examples:\n  botform fmt                           # every config file below .\n  botform fmt bots/ --check             # CI: list (with a diff) what is not formatted; exit 1\n\nTOML: `key = value`, one-line lists as [a, b]; both syntaxes: no trailing spaces, one blank line\nat most, a blank line before each table. YAML indentation is left as written."
    )]
    Fmt(fmt::Args),
}

/// How a command that reports either to people or to programs reports (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HumanOrJson {
    Human,
    Json,
}

/// Output settings shared by commands, resolved once.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub color: bool,
}

impl Output {
    fn resolve(choice: ColorChoice) -> Output {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color && std::io::stdout().is_terminal(),
        };
        Output { color }
    }
}

/// Run the CLI with the process arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::FAILURE,
            };
        }
    };
    init_logging();
    if cli.sandbox {
        crate::engine::target::request_sandbox();
    }
    let output = Output::resolve(cli.color);
    match cli.command {
        Command::Validate(args) => validate::run(args, output),
        Command::Schema(args) => schema_cmd::run(args),
        Command::Sandbox(args) => sandbox::run(args),
        Command::Fmt(args) => fmt::run(args),
        Command::Backtest(args) => backtest::run(args),
        Command::Optimize(args) => optimize::run(args),
        Command::Plan(args) => plan::run(args, output),
        Command::Apply(args) => apply::run(args, output),
        Command::History(args) => history::history(args),
        Command::Revert(args) => history::revert(args, output),
        Command::Import(args) => import::run(args),
        Command::Init(args) => init::run(args),
        Command::Mcp(args) => mcp::run(args),
        Command::Signals(args) => signals::run(args, output),
        Command::Deals(args) => deals::list(args),
        Command::Deal(args) => deals::deal(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "botform", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man(args) => man::run(args, <Cli as clap::CommandFactory>::command()),
    }
}

/// Logs go to stderr only (stdout carries data); `RUST_LOG` tunes them.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .try_init();
}

/// The async runtime for commands that talk to 3Commas.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

/// Print why a plan could not be made; returns the exit status.
fn report_workflow_error(
    error: crate::engine::workflow::WorkflowError,
    output: Output,
) -> ExitCode {
    use crate::engine::workflow::WorkflowError;
    match error {
        WorkflowError::Invalid(checked) => {
            let stderr = std::io::stderr();
            let mut err = stderr.lock();
            let _ = validate::write_human(&mut err, &checked, output.color, false);
            eprintln!("The config has errors: nothing was read from or sent to 3Commas.");
        }
        WorkflowError::Api(e) => eprintln!("error: {e}"),
        WorkflowError::Problems(problems) => {
            for p in problems {
                match &p.source {
                    Some(s) => eprintln!(
                        "error: {s}: {}
  help: {}",
                        p.message, p.help
                    ),
                    None => eprintln!(
                        "error: {}
  help: {}",
                        p.message, p.help
                    ),
                }
            }
        }
        WorkflowError::Refused(why) => eprintln!("error: {why}"),
        WorkflowError::UnknownTargets(names) => {
            eprintln!(
                "error: --target names no bot of the config: {}",
                names.join(", ")
            );
        }
    }
    ExitCode::FAILURE
}

/// The paths to read: the given ones, or the current directory.
fn paths_or_cwd(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths
    }
}
