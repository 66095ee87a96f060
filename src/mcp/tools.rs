//! The MCP tools and prompts, each a thin layer over the engine the CLI uses.

use std::path::PathBuf;

use rmcp::handler::server::tool::InputResponses;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::*;
use rmcp::service::{ElicitationMode, RequestContext};
use rmcp::{
    ErrorData as McpError, RoleServer, elicit_safe, prompt, prompt_router, tool, tool_router,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{BotformServer, StoredPlan, paths};
use crate::engine::apply::{self, ApplyError, ApplyOptions};
use crate::engine::import::{self, ImportFormat};
use crate::engine::render::{self, RenderOptions};
use crate::engine::workflow::{self, WorkflowError};
use crate::report::{self, ValidateReport};

// ---------------------------------------------------------------------------------------------
// Arguments and answers

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PathsArgs {
    /// Config files or directories, relative to the root. Empty: the whole root.
    #[serde(default)]
    pub paths: Vec<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct PlanArgs {
    /// Config files or directories, relative to the root. Empty: the whole root.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Plan only these bots (by name; `blacklist` for the blacklist). Empty: everything.
    #[serde(default)]
    pub targets: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanAnswer {
    /// Pass to `apply` with `plan_hash` to apply exactly this plan.
    pub plan_id: String,
    pub plan_hash: String,
    pub has_changes: bool,
    /// The plan as people read it: show this to the person before applying.
    pub human: String,
    /// The JSON plan (format_version 1), as `botform plan --format json` prints it.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub plan: Value,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ApplyArgs {
    /// From the `plan` tool.
    pub plan_id: String,
    /// From the `plan` tool: proves the plan is the one that was shown.
    pub plan_hash: String,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
pub struct Confirm {
    /// Apply the plan to the 3Commas account.
    pub confirm: bool,
}
elicit_safe!(Confirm);

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct ImportArgs {
    /// Accounts to import, by name or id. Empty: every account.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// `toml` (default) or `yaml`.
    #[serde(default)]
    pub format: String,
    /// Write the files into this directory under the root; empty: only return them.
    #[serde(default)]
    pub write_to: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ImportedFile {
    pub path: String,
    pub text: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ImportAnswer {
    pub files: Vec<ImportedFile>,
    /// Files written under the root (empty unless `write_to` was given).
    pub written: Vec<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct DescribeArgs {
    /// A field name such as `take_profit` or `max_safety_orders`. Empty: every bot field.
    #[serde(default)]
    pub field: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FieldInfo {
    pub name: String,
    pub description: String,
    /// The field's JSON Schema (type, range, allowed values).
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub schema: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DescribeAnswer {
    pub fields: Vec<FieldInfo>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountInfo {
    pub id: i64,
    pub name: String,
    pub market_code: String,
    pub exchange: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct AccountsAnswer {
    pub accounts: Vec<AccountInfo>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct StrategiesArgs {
    /// Only strategies this account may use (name or id). Empty: all.
    #[serde(default)]
    pub account: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StrategyOption {
    pub name: String,
    /// The values to choose from; empty when the option is a free number.
    pub choices: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StrategyInfo {
    pub id: String,
    pub name: String,
    pub options: Vec<StrategyOption>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct StrategiesAnswer {
    pub strategies: Vec<StrategyInfo>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct MarketPairsArgs {
    /// The account, by name or id.
    pub account: String,
    /// Only pairs quoted in this currency (`USDT`). Empty: all.
    #[serde(default)]
    pub quote: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MarketPairsAnswer {
    pub account: String,
    pub market_code: String,
    pub pairs: Vec<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PerformanceArgs {
    /// The bot, by name or id.
    pub bot: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PerformanceAnswer {
    pub bot_id: i64,
    pub bot_name: String,
    /// Deal counts and profits (3Commas deals_stats).
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub deals_stats: Value,
    /// Profit per day over the last 30 days.
    #[schemars(with = "serde_json::Map<String, Value>")]
    pub profit_by_day: Value,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DesignBotArgs {
    /// What the bot should do, in the person's words.
    pub goal: String,
    /// The most the bot may put at risk, with its currency ("500 USDT").
    #[serde(default)]
    pub budget: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ReviewPlanArgs {
    /// A plan_id from the `plan` tool.
    pub plan_id: String,
}

fn text(answer: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(answer.into())])
}

/// The longest confirmation question the person is shown (a dialog, not a document).
const CONFIRMATION_CHARS: usize = 2_000;

fn refuse(answer: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(answer.into())])
}

fn workflow_message(error: WorkflowError) -> String {
    match error {
        WorkflowError::Invalid(checked) => {
            let report = report::build(&checked);
            let lines: Vec<String> = report
                .diagnostics
                .iter()
                .map(|d| {
                    format!(
                        "{}:{}:{}: {}: {}{}",
                        d.file.clone().unwrap_or_default(),
                        d.line.unwrap_or(0),
                        d.column.unwrap_or(0),
                        match d.severity {
                            crate::diagnostic::Severity::Error => "error",
                            crate::diagnostic::Severity::Warning => "warning",
                        },
                        d.message,
                        d.help
                            .as_ref()
                            .map(|h| format!(" (help: {h})"))
                            .unwrap_or_default()
                    )
                })
                .collect();
            format!(
                "The config has errors; call `validate` for details.\n{}",
                lines.join("\n")
            )
        }
        WorkflowError::Api(e) => e.to_string(),
        WorkflowError::Problems(problems) => problems
            .iter()
            .map(|p| match &p.source {
                Some(s) => format!("{s}: {} (help: {})", p.message, p.help),
                None => format!("{} (help: {})", p.message, p.help),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        WorkflowError::Refused(why) => why,
        WorkflowError::UnknownTargets(names) => {
            format!("targets name no bot of the config: {}", names.join(", "))
        }
    }
}

impl BotformServer {
    fn resolve_paths(&self, given: &[String]) -> Result<Vec<PathBuf>, String> {
        let root = &self.inner.root;
        let paths: Vec<PathBuf> = if given.is_empty() {
            vec![root.clone()]
        } else {
            given
                .iter()
                .map(|p| paths::resolve(root, p))
                .collect::<Result<_, _>>()?
        };
        // Files inside the named directories must not lead outside the root either.
        let mut diagnostics = Vec::new();
        for file in crate::config::load::discover(&paths, &mut diagnostics) {
            paths::inside(root, &file)?;
        }
        Ok(paths)
    }

    /// Show paths relative to the root in everything returned.
    fn relativize(&self, text: String) -> String {
        let root = format!("{}/", self.inner.root.display());
        text.replace(&root, "")
    }

    async fn account_by(&self, key: &str) -> Result<crate::threecommas::wire::Account, String> {
        let target = self.target().await?;
        let accounts = target.client.accounts().await.map_err(|e| e.to_string())?;
        import::select_accounts(&accounts, &[key.to_string()])
            .map(|a| a[0].clone())
            .map_err(|e| e.to_string())
    }
}

#[tool_router(vis = "pub(super)")]
impl BotformServer {
    /// Check config files offline: syntax, types, unknown fields, 3Commas' rules. Returns every
    /// problem with file, line, column and a hint, and each valid bot's DCA numbers (safety-order
    /// ladder, capital per deal and for all deals, price move covered).
    #[tool(annotations(
        title = "Validate config",
        read_only_hint = true,
        destructive_hint = false,
        open_world_hint = false,
        idempotent_hint = true
    ))]
    async fn validate(
        &self,
        Parameters(args): Parameters<PathsArgs>,
    ) -> Result<Json<ValidateReport>, String> {
        let paths = self.resolve_paths(&args.paths)?;
        let checked = crate::config::check(&paths);
        let mut report = report::build(&checked);
        let root = &self.inner.root;
        let rel = |f: &str| paths::relative(root, std::path::Path::new(f));
        for d in &mut report.diagnostics {
            d.file = d.file.as_deref().map(rel);
            for l in &mut d.labels {
                l.file = rel(&l.file);
            }
        }
        for b in &mut report.bots {
            b.file = rel(&b.file);
        }
        report.files = report.files.iter().map(|f| rel(f)).collect();
        Ok(Json(report))
    }

    /// Plan: compare the config with the live 3Commas account and list exactly what would change.
    /// Returns the human plan (show it to the person), the JSON plan, and a plan_id and plan_hash
    /// for `apply`. Changes nothing.
    #[tool(annotations(
        title = "Plan changes",
        read_only_hint = true,
        destructive_hint = false,
        open_world_hint = true,
        idempotent_hint = true
    ))]
    async fn plan(
        &self,
        Parameters(args): Parameters<PlanArgs>,
    ) -> Result<Json<PlanAnswer>, String> {
        let paths = self.resolve_paths(&args.paths)?;
        let (_, desired) = workflow::check(&paths, &args.targets).map_err(workflow_message)?;
        let target = self.target().await?;
        let plan = workflow::plan_against(target, &desired, &args.targets)
            .await
            .map_err(workflow_message)?;
        let mut human = Vec::new();
        render::render(
            &mut human,
            &plan,
            &RenderOptions {
                color: false,
                show_unmanaged: false,
            },
        )
        .map_err(|e| e.to_string())?;
        let hash = plan.hash();
        let plan_id = format!("plan-{}", &hash[..12]);
        self.inner.plans.lock().await.insert(
            plan_id.clone(),
            StoredPlan {
                plan: plan.clone(),
                hash: hash.clone(),
            },
        );
        Ok(Json(PlanAnswer {
            plan_id,
            plan_hash: hash,
            has_changes: !plan.is_empty(),
            human: self.relativize(String::from_utf8_lossy(&human).into_owned()),
            plan: serde_json::to_value(&plan).map_err(|e| e.to_string())?,
        }))
    }

    /// Apply exactly a plan from the `plan` tool, after the person approved it. Refused unless the
    /// server runs with --allow-apply; deletes also need --allow-delete. Refused when anything the
    /// plan read has changed since (make a new plan then).
    #[tool(annotations(
        title = "Apply a plan",
        read_only_hint = false,
        destructive_hint = true,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn apply(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<ApplyArgs>,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, McpError> {
        if !self.inner.allow_apply {
            return Ok(refuse("This server may not change the 3Commas account: the person must start `botform mcp` with --allow-apply. Show them the plan and let them run `botform apply` instead.").into());
        }
        let stored = self.inner.plans.lock().await.get(&args.plan_id).cloned();
        let Some(stored) = stored else {
            return Ok(refuse(format!("unknown plan_id `{}`: plans live until applied or until the server restarts; call `plan` again", args.plan_id)).into());
        };
        if stored.hash != args.plan_hash {
            return Ok(refuse(
                "plan_hash does not match the plan: apply only the plan the person saw",
            )
            .into());
        }
        if stored.plan.is_empty() {
            return Ok(text("No changes to apply.").into());
        }
        let target = match self.target().await {
            Ok(t) => t,
            Err(e) => return Ok(refuse(e).into()),
        };
        let mut options = ApplyOptions::for_target(target, self.inner.allow_delete, false);
        options.earlier = self.inner.applied.lock().await.clone();
        if let Err(refusal) = apply::check_safety(&stored.plan, &options) {
            let hint = if matches!(refusal, apply::Refusal::DeletesNotAllowed(_)) {
                " (the person must start `botform mcp` with --allow-delete)"
            } else if matches!(refusal, apply::Refusal::TooManyChanges { .. }) {
                " (the person can review it and run `botform apply --force` themselves)"
            } else {
                ""
            };
            return Ok(refuse(format!("{refusal}{hint}")).into());
        }
        let question = render::confirmation_text(&stored.plan, CONFIRMATION_CHARS);
        match self
            .confirmation(&context, &question, responses.as_ref())
            .await?
        {
            Confirmation::Declined => {
                return Ok(refuse("The person did not confirm: nothing was changed.").into());
            }
            Confirmation::Ask(request) => return Ok(*request),
            Confirmation::Confirmed | Confirmation::CannotAsk => {}
        }
        // Consumed here, atomically: of several applies of one plan_id, one goes on.
        if self
            .inner
            .plans
            .lock()
            .await
            .remove(&args.plan_id)
            .is_none()
        {
            return Ok(refuse(format!(
                "plan `{}` was applied (or is being applied) already: call `plan` again",
                args.plan_id
            ))
            .into());
        }
        let progress: std::sync::Arc<dyn Fn(String) + Send + Sync> =
            std::sync::Arc::new(|line| tracing::info!("{line}"));
        let report = match apply::apply(target, &stored.plan, &options, progress).await {
            Ok(r) => r,
            Err(ApplyError::Refused(r)) => return Ok(refuse(r.to_string()).into()),
            Err(ApplyError::Api(e)) => return Ok(refuse(e.to_string()).into()),
            Err(ApplyError::Lease(e)) => {
                return Ok(refuse(format!("cannot take the account's lease: {e}")).into());
            }
        };
        {
            // Count what this plan asked for, not just what landed: a failed change will be
            // asked for again.
            let this = apply::tally(&stored.plan, &ApplyOptions::default());
            let mut applied = self.inner.applied.lock().await;
            for (account, t) in this {
                let entry = applied.entry(account).or_default();
                entry.updates += t.updates;
                entry.deletes += t.deletes;
            }
        }
        let structured = serde_json::to_value(&report).unwrap_or(Value::Null);
        let mut lines: Vec<String> = report
            .outcomes
            .iter()
            .map(|o| match &o.result {
                Ok(what) => format!("{}: {what}", o.address),
                Err(f) => {
                    let mut line = format!("{}: FAILED: {}", o.address, f.message);
                    for (field, message, source) in &f.fields {
                        let at = source
                            .as_ref()
                            .map(|s| format!("{s}: "))
                            .unwrap_or_default();
                        line.push_str(&format!("\n  {at}3Commas rejected `{field}`: {message}"));
                    }
                    line
                }
            })
            .collect();
        lines.extend(report.not_taken.iter().map(|n| format!("warning: {n}")));
        let failed = report.failures() > 0;
        lines.push(if failed {
            "Some changes failed: call `plan` to see what is left.".into()
        } else {
            "Apply complete. Call `plan` to confirm: it should find no changes.".into()
        });
        let mut result = if failed {
            CallToolResult::error(vec![ContentBlock::text(self.relativize(lines.join("\n")))])
        } else {
            text(self.relativize(lines.join("\n")))
        };
        result.structured_content = Some(structured);
        Ok(result.into())
    }

    /// Write the live 3Commas account as config text (bots pinned by id, accounts, blacklist).
    /// Files are written under the root only when `write_to` names a directory there.
    #[tool(annotations(
        title = "Import live bots as config",
        read_only_hint = false,
        destructive_hint = false,
        idempotent_hint = false,
        open_world_hint = true
    ))]
    async fn import(
        &self,
        Parameters(args): Parameters<ImportArgs>,
    ) -> Result<Json<ImportAnswer>, String> {
        let format = match args.format.as_str() {
            "" | "toml" => ImportFormat::Toml,
            "yaml" | "yml" => ImportFormat::Yaml,
            other => return Err(format!("format `{other}`: use `toml` or `yaml`")),
        };
        let out_dir = if args.write_to.is_empty() {
            None
        } else {
            Some(paths::resolve(&self.inner.root, &args.write_to)?)
        };
        let target = self.target().await?;
        let live = crate::engine::target::read_live(&target.client, true)
            .await
            .map_err(|e| e.to_string())?;
        let accounts = import::select_accounts(&live.accounts, &args.accounts)?;
        let files = import::import(&live, &accounts, format, "3Commas via botform mcp");
        let mut written = Vec::new();
        if let Some(dir) = out_dir {
            for f in &files {
                if dir.join(&f.path).symlink_metadata().is_ok() {
                    return Err(format!(
                        "{} exists; choose another `write_to`",
                        paths::relative(&self.inner.root, &dir.join(&f.path))
                    ));
                }
            }
            std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            for f in &files {
                let path = dir.join(&f.path);
                paths::inside(&self.inner.root, &path)?;
                crate::files::write_atomic(&path, f.text.as_bytes()).map_err(|e| e.to_string())?;
                written.push(paths::relative(&self.inner.root, &path));
            }
        }
        Ok(Json(ImportAnswer {
            files: files
                .into_iter()
                .map(|f| ImportedFile {
                    path: f.path,
                    text: f.text,
                })
                .collect(),
            written,
        }))
    }

    /// What a config field means, its type and its range, from the config's JSON Schema.
    #[tool(annotations(
        title = "Describe config fields",
        read_only_hint = true,
        destructive_hint = false,
        open_world_hint = false,
        idempotent_hint = true
    ))]
    async fn describe_config(
        &self,
        Parameters(args): Parameters<DescribeArgs>,
    ) -> Result<Json<DescribeAnswer>, String> {
        let schema: Value = serde_json::from_str(&crate::schema::config_schema_json())
            .map_err(|e| e.to_string())?;
        let defs = &schema["definitions"];
        let mut fields = Vec::new();
        for section in [
            "BotSpec",
            "Settings",
            "AccountSpec",
            "StrategySet",
            "Blacklist",
        ] {
            if let Some(props) = defs[section]["properties"].as_object() {
                for (name, field_schema) in props {
                    if !args.field.is_empty() && *name != args.field {
                        continue;
                    }
                    if fields.iter().any(|f: &FieldInfo| f.name == *name) {
                        continue;
                    }
                    let description = field_schema["description"]
                        .as_str()
                        .unwrap_or_default()
                        .replace('\n', " ");
                    fields.push(FieldInfo {
                        name: name.clone(),
                        description,
                        schema: field_schema.clone(),
                    });
                }
            }
            if args.field.is_empty() {
                break; // bot fields only, unless one field is asked for
            }
        }
        if fields.is_empty() {
            let names: Vec<&str> = defs["BotSpec"]["properties"]
                .as_object()
                .map(|m| m.keys().map(String::as_str).collect())
                .unwrap_or_default();
            return Err(format!(
                "no config field `{}`{}",
                args.field,
                crate::diagnostic::did_you_mean(&args.field, names)
                    .map(|h| format!("; {h}"))
                    .unwrap_or_default()
            ));
        }
        Ok(Json(DescribeAnswer { fields }))
    }

    /// The live 3Commas accounts (id, name, exchange): what `[accounts.*]` entries refer to.
    #[tool(annotations(
        title = "List accounts",
        read_only_hint = true,
        destructive_hint = false,
        open_world_hint = true,
        idempotent_hint = true
    ))]
    async fn list_accounts(&self) -> Result<Json<AccountsAnswer>, String> {
        let target = self.target().await?;
        let accounts = target.client.accounts().await.map_err(|e| e.to_string())?;
        Ok(Json(AccountsAnswer {
            accounts: accounts
                .into_iter()
                .map(|a| AccountInfo {
                    id: a.id,
                    name: a.name,
                    market_code: a.market_code.unwrap_or_default(),
                    exchange: a.exchange_name.unwrap_or_default(),
                })
                .collect(),
        }))
    }

    /// The strategy catalogue: start and close condition ids with their options and choices.
    #[tool(annotations(
        title = "List strategies",
        read_only_hint = true,
        destructive_hint = false,
        open_world_hint = true,
        idempotent_hint = true
    ))]
    async fn list_strategies(
        &self,
        Parameters(args): Parameters<StrategiesArgs>,
    ) -> Result<Json<StrategiesAnswer>, String> {
        let account_type = if args.account.is_empty() {
            None
        } else {
            Some(
                self.account_by(&args.account)
                    .await?
                    .account_type
                    .unwrap_or_default(),
            )
        };
        let catalogue = crate::model::catalogue::Catalogue::get();
        let strategies = catalogue
            .strategies
            .iter()
            .filter(
                |(_, info)| match (&account_type, &info.accounts_whitelist) {
                    (Some(t), Some(list)) => list.contains(t),
                    _ => true,
                },
            )
            .map(|(id, info)| StrategyInfo {
                id: id.clone(),
                name: info.name.clone(),
                options: info
                    .options
                    .iter()
                    .map(|(name, choices)| StrategyOption {
                        name: name.clone(),
                        choices: choices
                            .as_ref()
                            .map(|c| c.keys().cloned().collect())
                            .unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect();
        Ok(Json(StrategiesAnswer { strategies }))
    }

    /// The pairs an account's exchange trades, in 3Commas' QUOTE_BASE form.
    #[tool(annotations(
        title = "Market pairs",
        read_only_hint = true,
        destructive_hint = false,
        open_world_hint = true,
        idempotent_hint = true
    ))]
    async fn market_pairs(
        &self,
        Parameters(args): Parameters<MarketPairsArgs>,
    ) -> Result<Json<MarketPairsAnswer>, String> {
        let account = self.account_by(&args.account).await?;
        let market = account.market_code.clone().unwrap_or_default();
        let target = self.target().await?;
        let mut pairs = target
            .client
            .market_pairs(&market)
            .await
            .map_err(|e| e.to_string())?;
        if !args.quote.is_empty() {
            let prefix = format!("{}_", args.quote.to_ascii_uppercase());
            pairs.retain(|p| p.starts_with(&prefix));
        }
        Ok(Json(MarketPairsAnswer {
            account: account.name,
            market_code: market,
            pairs,
        }))
    }

    /// Deal statistics and profit by day of one bot. Read-only.
    #[tool(annotations(
        title = "Bot performance",
        read_only_hint = true,
        destructive_hint = false,
        open_world_hint = true,
        idempotent_hint = true
    ))]
    async fn bot_performance(
        &self,
        Parameters(args): Parameters<PerformanceArgs>,
    ) -> Result<Json<PerformanceAnswer>, String> {
        let target = self.target().await?;
        let bots = target
            .client
            .bots(Default::default())
            .await
            .map_err(|e| e.to_string())?;
        let matches: Vec<_> = bots
            .iter()
            .filter(|b| {
                b.id.to_string() == args.bot
                    || b.settings.name.as_deref() == Some(args.bot.as_str())
            })
            .collect();
        let bot = match matches.as_slice() {
            [one] => *one,
            [] => return Err(format!("no live bot is named or numbered `{}`", args.bot)),
            many => {
                return Err(format!(
                    "{} bots are named `{}`: give the id ({})",
                    many.len(),
                    args.bot,
                    many.iter()
                        .map(|b| b.id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        };
        let stats = target
            .client
            .bot_deals_stats(bot.id)
            .await
            .map_err(|e| e.to_string())?;
        let profit = target
            .client
            .profit_by_day(bot.id, 30)
            .await
            .map_err(|e| e.to_string())?;
        Ok(Json(PerformanceAnswer {
            bot_id: bot.id,
            bot_name: bot.settings.name.clone().unwrap_or_default(),
            deals_stats: serde_json::to_value(stats).unwrap_or(Value::Null),
            profit_by_day: serde_json::to_value(profit).unwrap_or(Value::Null),
        }))
    }
}

enum Confirmation {
    Confirmed,
    Declined,
    /// The client cannot ask the person: the server's flags are the only gate.
    CannotAsk,
    /// 2026-07-28 clients: return this to have the client ask, then call again.
    Ask(Box<CallToolResponse>),
}

impl BotformServer {
    /// Ask the person, in whichever way the client's protocol era allows.
    async fn confirmation(
        &self,
        context: &RequestContext<RoleServer>,
        question: &str,
        responses: Option<&InputResponsesMap>,
    ) -> Result<Confirmation, McpError> {
        if context
            .protocol_version()
            .is_some_and(|v| v >= ProtocolVersion::V_2026_07_28)
        {
            if let Some(answer) = responses.and_then(|m| m.get("confirm")) {
                let answer: ElicitResult = serde_json::from_value(answer.clone())
                    .map_err(|e| McpError::invalid_params(e.to_string(), None))?;
                let yes = answer.action == ElicitationAction::Accept
                    && answer
                        .content
                        .as_ref()
                        .and_then(|c| c.get("confirm"))
                        .and_then(Value::as_bool)
                        == Some(true);
                return Ok(if yes {
                    Confirmation::Confirmed
                } else {
                    Confirmation::Declined
                });
            }
            if context
                .client_capabilities()
                .is_none_or(|c| c.elicitation.is_none())
            {
                return Ok(Confirmation::CannotAsk);
            }
            let schema = ElicitationSchema::from_type::<Confirm>()
                .map_err(|e| McpError::internal_error(e.to_string(), None))?;
            let request = ElicitRequest::new(ElicitRequestParams::FormElicitationParams {
                meta: None,
                message: question.to_string(),
                requested_schema: schema,
            });
            let requests =
                InputRequests::from([("confirm".to_string(), InputRequest::Elicitation(request))]);
            let ask: CallToolResponse = InputRequiredResult::from_input_requests(requests).into();
            return Ok(Confirmation::Ask(Box::new(ask)));
        }
        if !context
            .peer
            .supported_elicitation_modes()
            .contains(&ElicitationMode::Form)
        {
            return Ok(Confirmation::CannotAsk);
        }
        match context.peer.elicit::<Confirm>(question.to_string()).await {
            Ok(Some(Confirm { confirm: true })) => Ok(Confirmation::Confirmed),
            _ => Ok(Confirmation::Declined),
        }
    }
}

type InputResponsesMap = rmcp::model::InputResponses;

#[prompt_router(vis = "pub(super)")]
impl BotformServer {
    /// Design a DCA bot with the person: ask what is missing, write it into the config, validate.
    #[prompt(name = "design_bot")]
    async fn design_bot(&self, Parameters(args): Parameters<DesignBotArgs>) -> Vec<PromptMessage> {
        let budget = if args.budget.is_empty() {
            "Ask how much it may risk at most.".to_string()
        } else {
            format!("It may risk at most {}.", args.budget)
        };
        vec![PromptMessage::new_text(
            Role::User,
            format!(
                "Design a 3Commas DCA bot for this goal: {}. {budget}\n\n\
                 1. Call `list_accounts`, `market_pairs` and `list_strategies` to choose an account, pairs and start conditions that exist.\n\
                 2. Choose the safety-order ladder so that `validate` reports a capital per deal (times max_active_deals) within the budget, and say what price move it covers.\n\
                 3. Write the bot into a config file under the root (use `describe_config` for any field you are unsure of), reusing existing templates and strategy sets.\n\
                 4. Call `validate` and fix every error. Then call `plan` and show the person the human plan. Do not call `apply` until they approve.",
                args.goal
            ),
        )]
    }

    /// Review a plan before it is applied: what changes, what it risks, what to check.
    #[prompt(name = "review_plan")]
    async fn review_plan(
        &self,
        Parameters(args): Parameters<ReviewPlanArgs>,
    ) -> Vec<PromptMessage> {
        let plans = self.inner.plans.lock().await;
        let body = match plans.get(&args.plan_id) {
            Some(stored) => serde_json::to_string_pretty(&stored.plan).unwrap_or_default(),
            None => format!("(no plan `{}`: call `plan` first)", args.plan_id),
        };
        vec![PromptMessage::new_text(
            Role::User,
            format!(
                "Review this botform plan before it is applied to a real 3Commas account. For each change say in one line what it does to the person's money: capital per deal and for all deals (dca_before/dca_after), bots created, enabled, disabled or destroyed, blacklist changes. Flag anything risky: larger ladders, stop losses removed, many bots changed at once, deletes. End with a recommendation.\n\n{body}"
            ),
        )]
    }
}
