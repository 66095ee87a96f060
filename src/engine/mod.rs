//! The engine behind plan, apply and import, shared by the CLI and the MCP server.
//!
//! - `desired`: the checked config as the engine sees it.
//! - `plan`: the pure diff of desired and live state, and the plan as data; `change`: a plan's
//!   changes and the live state below it; `kinds`: the kinds of object (DCA bot, grid bot) and
//!   what every layer knows of each.
//! - `render`: the plan for people (terraform's form); `markdown`: for a pull-request comment.
//! - `apply`: the executor: staleness check, safety rails, ordered and paced writes, read-back;
//!   `write`: what every kind's writes share (failures, the journal entry, unclear creates).
//! - `grid`: grid bots' room in plan and apply (the shared core is the plan, the rails, the
//!   lease, the journal and the memory; see [`plan::ResourceKind`]).
//! - `import`: the live account written out as config files.
//! - `backtest`: the plan's changed bots backtested before and after (the plan-backtest join).
//! - `deals`: deal actions (cancel, panic sell, add funds, update), previewed, leased, polled to
//!   their end; `audit`: the log of every attempt.
//! - `signals`: the TradingView alert messages of bots that start on `tv_custom_signal`.
//! - `limits`: pairs' order steps from 3Commas' `currency_rates`, cached, for backtests.
//! - `lease`: one writer per account across processes, and the journal of creates under way.
//! - `history`: the record of every apply (CLI and MCP), and what `revert` puts back.
//! - `guard`: the daily tally of assistant applies, behind the change guard across restarts.
//! - `memory`: what botform last sent to each bot that 3Commas never shows back.
//! - `names`: which id each bot name had at the last listing (one-bot reads without listing).
//! - `performance`: each bot's figures over a time window, from the deals list.
//! - `selector`: which bots a fleet-wide read or edit means (live and config bots joined).
//! - `target`: which server to talk to (3Commas or the built-in sandbox) and reading live state.
//!
//! Safety rails (delete protection, thresholds, staleness) live here, not in the CLI, so every
//! front end gets them.

pub mod apply;
pub mod audit;
pub mod backtest;
pub mod change;
pub mod deals;
pub mod desired;
pub mod grid;
pub mod guard;
pub mod history;
pub mod import;
pub mod kinds;
pub mod lease;
pub mod limits;
pub mod markdown;
pub mod memory;
pub mod names;
pub mod performance;
pub mod plan;
pub mod render;
pub mod selector;
pub mod signals;
pub mod target;
pub mod workflow;
pub mod write;
