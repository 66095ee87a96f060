//! `botform mcp`: the engine as an MCP server over stdio, so an assistant edits config files and
//! calls validate, plan and apply instead of raw 3Commas endpoints.
//!
//! Owns the tools, resources and prompts, and the server's safety model: files only under
//! `--root`; no account changes without `--allow-apply`, no deletes without `--allow-delete`; an
//! apply names a plan the person saw (`plan_id` and `plan_hash`) and passes the same staleness
//! check as the CLI; where the client can ask the person, it asks first. stdout carries only the
//! protocol; logs go to stderr. Every answer stays within `budget::ANSWER_BUDGET`.
//!
//! - `tools`: validate, plan, show_plan, apply, import, and the prompts.
//! - `edits`: set_fields, add_bot, remove_bot, blacklist_add/remove (through `crate::edit`).
//! - `reads`: the live account (accounts, strategies, pairs, one bot explained, deals,
//!   currency rates, performance).
//! - `history`: the applies recorded for the root, and revert.
//! - `fleet`: the fleet-wide reads over a selector (list_bots, fleet_performance) and the live
//!   snapshot every read of bots shares.
//! - `describe`: describe_config. `backtesting`: backtest. `applying`: applies in the background
//!   and apply_status. `budget`: answer sizes. `paths`: the root rules. `toolschema`: what the
//!   tool list costs (compact schemas; the full output schemas as resources). `stdio`: the
//!   transport, answering lines that are not messages with JSON-RPC errors.

#![allow(deprecated)] // rmcp marks logging deprecated (SEP-2577); it still works.

mod applying;
mod backtesting;
pub mod budget;
mod describe;
mod edits;
mod fleet;
mod history;
mod optimizing;
pub mod paths;
mod reads;
mod stdio;
mod tools;
pub mod toolschema;
mod trading;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler, ServiceExt, prompt_handler, tool_handler,
};
use tokio::sync::{Mutex, OnceCell};

use crate::engine::plan::Plan;
use crate::engine::target::{self, Target};

/// How the server was started.
#[derive(Debug, Clone)]
pub struct McpOptions {
    pub root: PathBuf,
    pub allow_apply: bool,
    pub allow_delete: bool,
    /// Apply even when the client cannot ask the person to confirm (no elicitation).
    pub allow_unconfirmed_apply: bool,
    /// The tool sets served (`toolschema::TOOL_SETS`).
    pub tool_sets: Vec<String>,
    /// Serve `deal_action` (with the `trading` set): deal actions, each confirmed by the person.
    pub allow_deal_actions: bool,
}

/// A plan handed out by the `plan` tool, kept until applied.
#[derive(Debug, Clone)]
struct StoredPlan {
    plan: Plan,
    hash: String,
    /// The config files it was planned from (relative path -> text), for the apply's history.
    files: std::collections::BTreeMap<String, String>,
    /// The backtest comparison of its bots (`backtest {plan_id}`), in a line for the person's
    /// confirmation; empty until one ran.
    backtest: String,
}

/// How many plans the server keeps for `apply` and `show_plan`: the newest ones; an older
/// plan_id is answered as unknown (make the plan again).
pub const KEPT_PLANS: usize = 32;

/// The longest a tool call stays silent: a progress notification (with the client's progress
/// token) or a log message (when logging is on) goes out at least this often while it works,
/// well inside clients' 60 s request timeouts. `BOTFORM_MCP_HEARTBEAT_MS` sets it (tests beat
/// fast, so their figures do not hang on how long a call takes).
pub fn heartbeat() -> std::time::Duration {
    std::env::var("BOTFORM_MCP_HEARTBEAT_MS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(std::time::Duration::from_millis)
        .unwrap_or(std::time::Duration::from_secs(5))
}

struct Inner {
    root: PathBuf,
    allow_apply: bool,
    allow_delete: bool,
    allow_unconfirmed_apply: bool,
    target: OnceCell<Target>,
    plans: Mutex<HashMap<String, StoredPlan>>,
    /// plan_ids, oldest first, to forget the oldest beyond [`KEPT_PLANS`].
    plan_order: Mutex<std::collections::VecDeque<String>>,
    /// The level `logging/setLevel` asked for (handshake-era clients); none: no log messages.
    log_level: Mutex<Option<LoggingLevel>>,
    /// Applies running or ended, for `apply_status`.
    applies: applying::Applies,
    /// The live accounts and bots, shared by reads for a few seconds (see `fleet`).
    snapshots: fleet::Snapshots,
    /// Each tool's full output schema (the tool list carries a compact one; see `toolschema`).
    output_schemas: std::collections::BTreeMap<String, String>,
}

impl Inner {
    /// Keep a plan for `apply`, forgetting the oldest beyond [`KEPT_PLANS`].
    async fn keep_plan(&self, plan_id: String, stored: StoredPlan) {
        let mut plans = self.plans.lock().await;
        let mut order = self.plan_order.lock().await;
        order.retain(|id| *id != plan_id);
        order.push_back(plan_id.clone());
        plans.insert(plan_id, stored);
        while order.len() > KEPT_PLANS {
            if let Some(old) = order.pop_front() {
                plans.remove(&old);
            }
        }
    }
}

#[derive(Clone)]
pub struct BotformServer {
    inner: Arc<Inner>,
    tool_router: ToolRouter<Self>,
    prompt_router: PromptRouter<Self>,
}

impl BotformServer {
    pub fn new(options: McpOptions) -> std::io::Result<Self> {
        let root = options.root.canonicalize()?;
        let mut tool_router = Self::tool_router()
            + Self::tool_router_rest()
            + Self::reads_router()
            + Self::fleet_router()
            + Self::edits_router()
            + Self::describe_router()
            + Self::applying_router()
            + Self::history_router()
            + Self::backtesting_router()
            + Self::optimizing_router()
            + Self::trading_router();
        toolschema::keep_sets(&mut tool_router, &options.tool_sets);
        if !options.allow_deal_actions {
            tool_router.map.remove("deal_action");
        }
        let output_schemas = toolschema::compact(&mut tool_router);
        Ok(BotformServer {
            inner: Arc::new(Inner {
                root,
                allow_apply: options.allow_apply,
                allow_delete: options.allow_delete,
                allow_unconfirmed_apply: options.allow_unconfirmed_apply,
                target: OnceCell::new(),
                plans: Mutex::new(HashMap::new()),
                plan_order: Mutex::new(std::collections::VecDeque::new()),
                applies: applying::Applies::default(),
                snapshots: fleet::Snapshots::default(),
                output_schemas,
                log_level: Mutex::new(None),
            }),
            tool_router,
            prompt_router: Self::prompt_router(),
        })
    }

    /// The names of the tools served.
    pub fn tool_names(&self) -> Vec<String> {
        self.tool_router
            .list_all()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect()
    }

    /// The 3Commas target (or the built-in sandbox, its state under the root), opened once.
    async fn target(&self) -> Result<&Target, String> {
        self.inner
            .target
            .get_or_try_init(|| async {
                let checked = crate::config::check_confined(&self.inner.root);
                crate::connect::connect(target::ConnectOptions::from_settings(
                    &checked.config.settings,
                ))
                .await
                .map_err(|e| e.to_string())
            })
            .await
    }
}

const SCHEMA_URI: &str = "botform://schema/config.json";
const CATALOGUE_URI: &str = "botform://catalogue/strategies.json";
const CONFIG_URI_PREFIX: &str = "botform://config/";
const PLAN_URI_PREFIX: &str = "botform://plans/";
const BOT_URI_PREFIX: &str = "botform://bots/";

#[tool_handler(router = self.tool_router)]
#[prompt_handler(router = self.prompt_router)]
impl ServerHandler for BotformServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .enable_logging()
                .enable_completions()
                .build(),
        )
        .with_server_info(Implementation::new("botform", env!("CARGO_PKG_VERSION")))
        .with_instructions(self.instructions())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        // `apply`, `apply_status` and `optimize` send their own progress (done of total) and
        // heartbeats.
        let heartbeat = (!matches!(request.name.as_ref(), "apply" | "apply_status" | "optimize"))
            .then(|| {
                let server = self.clone();
                let context = context.clone();
                let tool = request.name.to_string();
                let every = heartbeat();
                tokio::spawn(async move {
                    let started = tokio::time::Instant::now();
                    let mut beats = 0u32;
                    loop {
                        tokio::time::sleep(every).await;
                        beats += 1;
                        server
                            .beat(
                                &context,
                                f64::from(beats),
                                None,
                                format!(
                                    "{tool}: still working ({} s)",
                                    started.elapsed().as_secs()
                                ),
                            )
                            .await;
                    }
                })
            });
        // A read-only call the client cancels stops (its future dropped; a backtest also stops
        // its simulation); one that writes runs to its end, so nothing is left half done.
        let read_only = self
            .tool_router
            .get(&request.name)
            .and_then(|t| t.annotations.as_ref()?.read_only_hint)
            .unwrap_or(false);
        let cancelled = context.ct.clone();
        let call = rmcp::handler::server::tool::ToolCallContext::new(self, request, context);
        let result = if read_only {
            tokio::select! {
                result = self.tool_router.call(call) => result,
                () = cancelled.cancelled() => Err(McpError::internal_error("cancelled by the client", None)),
            }
        } else {
            self.tool_router.call(call).await
        };
        if let Some(heartbeat) = heartbeat {
            heartbeat.abort();
        }
        result
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        *self.inner.log_level.lock().await = Some(request.level);
        Ok(())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let typed = request.argument.value.to_lowercase();
        let mut values: Vec<String> = match request.argument.name.as_str() {
            "bot" => {
                self.config_names(|c| c.bots.iter().filter_map(|b| b.spec.name.clone()).collect())
            }
            "account" => self.config_names(|c| c.config.accounts.keys().cloned().collect()),
            "strategy" | "start" => {
                let mut names =
                    self.config_names(|c| c.config.strategies.keys().cloned().collect());
                names.extend(
                    crate::model::catalogue::Catalogue::get()
                        .strategies
                        .keys()
                        .cloned(),
                );
                names
            }
            "plan_id" => self
                .inner
                .plan_order
                .lock()
                .await
                .iter()
                .rev()
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        values.retain(|v| v.to_lowercase().starts_with(&typed));
        values.dedup();
        let total = values.len();
        values.truncate(CompletionInfo::MAX_VALUES);
        let mut info =
            CompletionInfo::new(values).map_err(|e| McpError::internal_error(e, None))?;
        info.total = Some(total as u32);
        info.has_more = Some(total > CompletionInfo::MAX_VALUES);
        Ok(CompleteResult::new(info))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let mut resources = vec![
            Resource::new(SCHEMA_URI, "config-schema")
                .with_title("JSON Schema of botform config files")
                .with_mime_type("application/schema+json"),
            Resource::new(CATALOGUE_URI, "strategy-catalogue")
                .with_title("3Commas strategy catalogue (start and close conditions)")
                .with_mime_type("application/json"),
        ];
        for file in self.config_files() {
            let mime = if file.ends_with(".toml") {
                "application/toml"
            } else {
                "application/yaml"
            };
            resources.push(
                Resource::new(format!("{CONFIG_URI_PREFIX}{file}"), file.clone())
                    .with_title(format!("config file {file}"))
                    .with_mime_type(mime),
            );
        }
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new(format!("{PLAN_URI_PREFIX}{{plan_id}}"), "plan")
                .with_title("A plan from the `plan` tool, as JSON (format_version 1)")
                .with_mime_type("application/json"),
            ResourceTemplate::new(format!("{BOT_URI_PREFIX}{{bot}}"), "bot")
                .with_title("One bot explained: effective settings, where each is set, live values, DCA numbers")
                .with_mime_type("application/json"),
            ResourceTemplate::new(
                format!(
                    "{}{{tool}}{}",
                    toolschema::OUTPUT_SCHEMA_URI_PREFIX,
                    toolschema::OUTPUT_SCHEMA_URI_SUFFIX
                ),
                "tool-output-schema",
            )
            .with_title("The full JSON Schema of a tool's answer (the tool list carries a compact one)")
            .with_mime_type("application/schema+json"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let uri = request.uri.clone();
        let text = if uri == SCHEMA_URI {
            crate::schema::config_schema_json()
        } else if uri == CATALOGUE_URI {
            crate::model::catalogue::STRATEGY_LIST_JSON.to_string()
        } else if let Some(plan_id) = uri.strip_prefix(PLAN_URI_PREFIX) {
            let plans = self.inner.plans.lock().await;
            let stored = plans
                .get(plan_id)
                .ok_or_else(|| McpError::resource_not_found(uri.clone(), None))?;
            serde_json::to_string_pretty(&stored.plan)
                .map_err(|e| McpError::internal_error(e.to_string(), None))?
        } else if let Some(bot) = uri.strip_prefix(BOT_URI_PREFIX) {
            let bot = url_decode(bot);
            let explained = self
                .explain(&bot)
                .await
                .map_err(|e| McpError::resource_not_found(e, None))?;
            serde_json::to_string_pretty(&explained)
                .map_err(|e| McpError::internal_error(e.to_string(), None))?
        } else if let Some(tool) = uri
            .strip_prefix(toolschema::OUTPUT_SCHEMA_URI_PREFIX)
            .and_then(|rest| rest.strip_suffix(toolschema::OUTPUT_SCHEMA_URI_SUFFIX))
        {
            self.inner
                .output_schemas
                .get(tool)
                .cloned()
                .ok_or_else(|| McpError::resource_not_found(uri.clone(), None))?
        } else if let Some(relative) = uri.strip_prefix(CONFIG_URI_PREFIX) {
            let path = paths::resolve(&self.inner.root, relative)
                .map_err(|e| McpError::invalid_params(e, None))?;
            // Only the config files themselves, not whatever else lives under the root.
            if !self.config_files().iter().any(|f| f == relative) {
                return Err(McpError::resource_not_found(uri, None));
            }
            crate::files::read_bounded(&path, crate::files::MAX_CONFIG_FILE_BYTES)
                .map_err(|_| McpError::resource_not_found(uri.clone(), None))?
        } else {
            return Err(McpError::resource_not_found(uri, None));
        };
        Ok(ReadResourceResult::new(vec![ResourceContents::text(text, request.uri)]).into())
    }
}

impl BotformServer {
    /// One heartbeat: a progress notification when the client gave a progress token, else a
    /// log message when it asked for logs.
    pub(crate) async fn beat(
        &self,
        context: &RequestContext<RoleServer>,
        progress: f64,
        total: Option<f64>,
        message: String,
    ) {
        if let Some(token) = context.meta.get_progress_token() {
            let mut note = ProgressNotificationParam::new(token, progress).with_message(message);
            if let Some(total) = total {
                note = note.with_total(total);
            }
            let _ = context.peer.notify_progress(note).await;
        } else if self.log_enabled(context, LoggingLevel::Info).await {
            let _ = context
                .peer
                .notify_logging_message(
                    LoggingMessageNotificationParam::new(
                        LoggingLevel::Info,
                        serde_json::Value::String(message),
                    )
                    .with_logger("botform"),
                )
                .await;
        }
    }

    /// What an assistant needs first: where the files are and the one safe workflow.
    fn instructions(&self) -> String {
        format!(
            "botform manages 3Commas DCA bots as code. The config files live under the root {root} \
             ({files} files; the resources botform://config/... hold their text). Workflow: \
             (1) change the files with `set_fields`, `add_bot`, `remove_bot`, `blacklist_add` or \
             `blacklist_remove` (they keep comments, return a diff and validate); \
             (2) call `validate` until it is clean; (3) call `plan` and show the person its human plan \
             (`show_plan` pages through a long one); (4) only after they approve, call `apply` with that \
             plan's plan_id and plan_hash (a long apply continues in the background: follow it with \
             `apply_status`). To understand the account: `list_bots`, `explain_bot`, `deals` \
             (realized profit, stop losses included); for many bots at once, a `selector` (on \
             `list_bots`, `set_fields`) and `fleet_performance` (every bot ranked over a time \
             window in one call). To write valid bots: `describe_config` (fields, required ones, a \
             skeleton). The `account` tool set (`--tools all`) adds `list_accounts`, \
             `list_strategies`, `market_pairs`, `currency_rates`, `bot_performance` and `import`; \
             the `trading` set adds `signals` (TradingView alerts), `smart_trades` and, with \
             --allow-deal-actions, `deal_action` (each action confirmed by the person); the \
             `optimize` set adds `optimize` (a bot's settings searched on candles, out-of-sample \
             figures, a `set_fields` call to propose; it never writes); \
             a tool's full answer schema is the resource botform://tools/TOOL/output-schema. \
             Bots are named by name (any case) or id; accounts by \
             the config's alias, their name or id. Every answer stays within {budget} characters; \
             long ones page and say how to get the rest. This server {may} change the account{delete}.",
            root = self.inner.root.display(),
            files = self.config_files().len(),
            budget = budget::ANSWER_BUDGET,
            may = if self.inner.allow_apply {
                "may"
            } else {
                "may not"
            },
            delete = if self.inner.allow_delete {
                " and may delete bots"
            } else {
                " and may not delete bots"
            },
        )
    }

    /// Names from the config under the root (for completions).
    fn config_names(&self, pick: impl Fn(&crate::config::Checked) -> Vec<String>) -> Vec<String> {
        let checked = crate::config::check_confined(&self.inner.root);
        let mut names = pick(&checked);
        names.sort();
        names
    }

    /// Whether a log message at `level` may go to the client: the level it set (handshake era),
    /// or the one this request carries (2026-07-28); never without its opt-in.
    pub(crate) async fn log_enabled(
        &self,
        context: &RequestContext<RoleServer>,
        level: LoggingLevel,
    ) -> bool {
        let wanted = match context.meta.log_level() {
            Some(l) => Some(l),
            None => *self.inner.log_level.lock().await,
        };
        wanted.is_some_and(|w| level as u8 >= w as u8)
    }

    /// Config files under the root, relative, refusing any that resolve outside it.
    fn config_files(&self) -> Vec<String> {
        let mut diagnostics = Vec::new();
        crate::config::load::discover_confined(&self.inner.root, &mut diagnostics)
            .into_iter()
            .filter(|p| paths::inside(&self.inner.root, p).is_ok())
            .map(|p| paths::relative(&self.inner.root, &p))
            .collect()
    }
}

/// `%20` and friends in a resource URI's last segment (bot names have spaces).
fn url_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| text.to_string())
}

/// Serve MCP over stdio until the client goes away.
pub async fn serve_stdio(options: McpOptions) -> anyhow::Result<()> {
    let server = BotformServer::new(options)?;
    let running = server
        .serve(stdio::checked(tokio::io::stdin(), tokio::io::stdout()))
        .await?;
    running.waiting().await?;
    Ok(())
}
