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

use super::{BotformServer, StoredPlan, budget, paths};
use crate::engine::apply::{self, ApplyOptions};
use crate::engine::guard;
use crate::engine::import::{self, ImportFormat};
use crate::engine::render::{self, RenderOptions};
use crate::engine::workflow::{self, WorkflowError};
use crate::report;

// ---------------------------------------------------------------------------------------------
// Arguments and answers

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateArgs {
    /// Files or directories under the root; empty: all.
    #[serde(default)]
    pub paths: Vec<String>,
    /// DCA numbers of these bots. Empty: all when at most 10 bots, else none.
    #[serde(default)]
    pub bots: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ValidateAnswer {
    pub valid: bool,
    pub error_count: usize,
    pub warning_count: usize,
    /// Config files read.
    pub files: usize,
    /// Errors first, then warnings, as many as fit; `diagnostics_shown` of the total.
    pub diagnostics: Vec<crate::diagnostic::JsonDiagnostic>,
    pub diagnostics_shown: usize,
    pub bots_total: usize,
    pub bots_with_errors: usize,
    /// The DCA numbers of the bots asked for (see `bots`); `numbers` is null for a bot with errors.
    pub bots: Vec<report::BotReport>,
    pub more: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanArgs {
    /// Files or directories under the root; empty: all.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Only these bots (names; `blacklist`); empty: all.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Only the config bots a selector selects (with `targets`: those of them it names).
    pub selector: Option<crate::engine::selector::Selector>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanAnswer {
    /// Where the plan acts, in which mode, and whether Forced-Mode is sent.
    pub target: String,
    /// Pass to `apply` with `plan_hash` to apply exactly this plan.
    pub plan_id: String,
    pub plan_hash: String,
    pub has_changes: bool,
    pub summary: PlanSummary,
    /// Capital at risk per account (enabled bots, every deal to its last safety order), before
    /// and after the plan.
    pub capital: Vec<CapitalLine>,
    /// The plan as people read it (this page of it): show it to the person before applying.
    pub human: String,
    pub page: usize,
    pub pages: usize,
    /// How to read the rest: the other pages, one bot's change, the full JSON plan.
    pub more: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PlanSummary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    /// Live bots the config describes.
    pub managed: usize,
    /// Live bots on the config's accounts the config leaves alone.
    pub unmanaged: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CapitalLine {
    pub account: String,
    pub currency: String,
    /// Decimal strings.
    pub before: String,
    pub after: String,
    /// The whole line as the plan shows it: budget, conversion into the budget's currency,
    /// and a warning when the account has less free than the worst case.
    pub line: String,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowPlanArgs {
    /// From the `plan` tool.
    pub plan_id: String,
    /// The page of the human plan, from 1.
    #[serde(default)]
    pub page: usize,
    /// Only this bot's changes (name or id), in full, with where each value was set.
    #[serde(default)]
    pub bot: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ShowPlanAnswer {
    pub plan_id: String,
    pub human: String,
    pub page: usize,
    pub pages: usize,
    /// With `bot`: the JSON change(s) of that bot, as in the JSON plan.
    #[schemars(with = "Vec<serde_json::Map<String, Value>>")]
    pub changes: Vec<Value>,
    pub more: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
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
#[serde(deny_unknown_fields)]
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
    /// The files' text, as many as fit in the answer.
    pub files: Vec<ImportedFile>,
    /// Files written under the root (empty unless `write_to` was given).
    pub written: Vec<String>,
    /// What did not fit, and how to get it.
    pub more: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DesignBotArgs {
    /// What the bot should do, in the person's words.
    pub goal: String,
    /// The most the bot may put at risk, with its currency ("500 USDT").
    #[serde(default)]
    pub budget: String,
    /// The account alias to trade on (completions offer the config's aliases).
    #[serde(default)]
    pub account: String,
    /// A start condition: a strategy set of the config or a catalogue id such as `rsi`.
    #[serde(default)]
    pub strategy: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewPlanArgs {
    /// A plan_id from the `plan` tool.
    pub plan_id: String,
}

/// The longest confirmation question the person is shown (a dialog, not a document).
const CONFIRMATION_CHARS: usize = 2_000;

pub(super) fn refuse(answer: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(answer.into())])
}

pub(super) fn workflow_message(error: WorkflowError) -> String {
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

/// Where the rest of a plan is.
fn more_of_plan(plan_id: &str, page: usize, pages: usize) -> String {
    let mut more = String::new();
    if page < pages {
        more.push_str(&format!(
            "This is page {page} of {pages}: call `show_plan` with plan_id `{plan_id}` and page {} for the next. ",
            page + 1
        ));
    }
    more.push_str(&format!(
        "`show_plan` with `bot` gives one bot's change in full; the whole JSON plan is the resource `botform://plans/{plan_id}`."
    ));
    more
}

fn unknown_plan(plan_id: &str) -> String {
    let plan_id = crate::diagnostic::quote_input(plan_id);
    format!(
        "unknown plan_id `{plan_id}`: plans live until applied, until {} newer plans replace them, or until the server restarts; call `plan` again",
        super::KEPT_PLANS
    )
}

impl BotformServer {
    /// The human plan, paged to fit an answer, paths relative to the root.
    fn human_pages(&self, plan: &crate::engine::plan::Plan) -> Result<Vec<String>, String> {
        let mut human = Vec::new();
        render::render(
            &mut human,
            plan,
            &RenderOptions {
                color: false,
                show_unmanaged: false,
            },
        )
        .map_err(|e| e.to_string())?;
        let text = self.relativize(String::from_utf8_lossy(&human).into_owned());
        Ok(budget::pages(&text, budget::PAGE_CHARS))
    }

    /// The config files `given` names (absolute, as the loader names them), or `None` for the
    /// whole root.
    fn scope(
        &self,
        given: &[String],
    ) -> Result<Option<std::collections::BTreeSet<String>>, String> {
        if given.is_empty() {
            return Ok(None);
        }
        let paths = self.resolve_paths(given)?;
        let mut diagnostics = Vec::new();
        let files: std::collections::BTreeSet<String> =
            crate::config::load::discover(&paths, &mut diagnostics)
                .into_iter()
                .map(|p| p.display().to_string())
                .collect();
        if files.is_empty() {
            return Err(format!("no config file under {}", given.join(", ")));
        }
        Ok(Some(files))
    }

    /// The plan's targets: the bots (and blacklist) of the files `given` names, within `targets`
    /// when that names some too.
    fn scoped_targets(&self, given: &[String], targets: &[String]) -> Result<Vec<String>, String> {
        let Some(files) = self.scope(given)? else {
            return Ok(targets.to_vec());
        };
        let checked = crate::config::check_confined(&self.inner.root);
        let sources = &checked.config.sources;
        let mut scoped: Vec<String> = checked
            .bots
            .iter()
            .filter(|b| files.contains(&sources.get(b.span().file).display_name()))
            .filter_map(|b| b.spec.name.clone())
            .collect();
        if let Some(blacklist) = &checked.config.blacklist
            && files.contains(&sources.get(blacklist.spans.record.file).display_name())
        {
            scoped.push("blacklist".into());
        }
        if !targets.is_empty() {
            scoped.retain(|t| targets.contains(t));
        }
        if scoped.is_empty() {
            return Err(format!(
                "{} describe no bot{}",
                given.join(", "),
                if targets.is_empty() {
                    ""
                } else {
                    " among the targets"
                }
            ));
        }
        scoped.dedup();
        Ok(scoped)
    }

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
    pub(super) fn relativize(&self, text: String) -> String {
        let root = format!("{}/", self.inner.root.display());
        text.replace(&root, "")
    }
}

#[tool_router(vis = "pub(super)")]
impl BotformServer {
    /// Check config files offline: each problem with file, line, column and hint, and each valid
    /// bot's DCA numbers.
    #[tool(
        title = "Validate config",
        annotations(
            title = "Validate config",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = false,
            idempotent_hint = true
        )
    )]
    async fn validate(
        &self,
        Parameters(args): Parameters<ValidateArgs>,
    ) -> Result<Json<ValidateAnswer>, String> {
        let scope = self.scope(&args.paths)?;
        let checked = crate::config::check_confined(&self.inner.root);
        let full = report::build(&checked);
        let root = &self.inner.root;
        let rel = |f: &str| paths::relative(root, std::path::Path::new(f));
        let in_scope = |file: &str| scope.as_ref().is_none_or(|s| s.contains(file));
        let mut diagnostics: Vec<_> = full
            .diagnostics
            .into_iter()
            .filter(|d| {
                scope.is_none()
                    || d.file.as_deref().is_some_and(in_scope)
                    || d.labels.iter().any(|l| in_scope(&l.file))
            })
            .map(|mut d| {
                d.file = d.file.as_deref().map(rel);
                for l in &mut d.labels {
                    l.file = rel(&l.file);
                }
                d
            })
            .collect();
        // Errors first: with many problems, the ones that block come into view.
        diagnostics.sort_by_key(|d| d.severity != crate::diagnostic::Severity::Error);
        let error_count = diagnostics
            .iter()
            .filter(|d| d.severity == crate::diagnostic::Severity::Error)
            .count();
        let warning_count = diagnostics.len() - error_count;
        let total_diagnostics = diagnostics.len();
        let shown = budget::fit(&mut diagnostics, budget::ANSWER_BUDGET / 2 - 1_500);
        let scoped_bots: Vec<report::BotReport> = full
            .bots
            .into_iter()
            .filter(|b| in_scope(&b.file))
            .map(|mut b| {
                b.file = rel(&b.file);
                b
            })
            .collect();
        let bots_total = scoped_bots.len();
        let bots_with_errors = scoped_bots.iter().filter(|b| b.numbers.is_none()).count();
        let asked: Vec<String> = args.bots.iter().map(|b| b.trim().to_lowercase()).collect();
        let mut unknown: Vec<&String> = asked
            .iter()
            .filter(|a| {
                !scoped_bots
                    .iter()
                    .any(|b| b.name.as_deref().map(str::to_lowercase).as_ref() == Some(*a))
            })
            .collect();
        unknown.dedup();
        let mut bots: Vec<report::BotReport> = if asked.is_empty() {
            if bots_total <= 10 {
                scoped_bots
            } else {
                Vec::new()
            }
        } else {
            scoped_bots
                .into_iter()
                .filter(|b| {
                    b.name
                        .as_deref()
                        .is_some_and(|n| asked.contains(&n.to_lowercase()))
                })
                .collect()
        };
        let wanted_numbers = bots.len();
        let room = budget::ANSWER_BUDGET / 2
            - 1_000
            - serde_json::to_string(&diagnostics)
                .map(|s| s.len())
                .unwrap_or(0);
        let numbers_shown = budget::fit(&mut bots, room);
        let mut more = Vec::new();
        if shown < total_diagnostics {
            more.push(format!(
                "{} more diagnostics not shown: fix these and validate again, or validate fewer files with `paths`",
                total_diagnostics - shown
            ));
        }
        if numbers_shown < wanted_numbers {
            more.push(format!(
                "numbers of {} more bots did not fit: ask for fewer with `bots`",
                wanted_numbers - numbers_shown
            ));
        } else if asked.is_empty() && bots_total > 10 {
            more.push(format!(
                "{bots_total} bots: name the ones whose DCA numbers you need in `bots`"
            ));
        }
        if !unknown.is_empty() {
            more.push(format!(
                "no bot is named {}",
                unknown
                    .iter()
                    .map(|u| format!("`{u}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(Json(ValidateAnswer {
            valid: error_count == 0,
            error_count,
            warning_count,
            files: full.files.iter().filter(|f| in_scope(f)).count(),
            diagnostics,
            diagnostics_shown: shown,
            bots_total,
            bots_with_errors,
            bots,
            more: more.join("; "),
        }))
    }

    /// Diff the config against the live account: plan_id and plan_hash for `apply`, summary,
    /// capital at risk, and the human plan to show the person.
    #[tool(
        title = "Plan changes",
        annotations(
            title = "Plan changes",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = true,
            idempotent_hint = true
        )
    )]
    async fn plan(
        &self,
        Parameters(args): Parameters<PlanArgs>,
    ) -> Result<Json<PlanAnswer>, String> {
        let mut targets = self.scoped_targets(&args.paths, &args.targets)?;
        if let Some(selector) = &args.selector {
            let checked = crate::config::check_confined(&self.inner.root);
            let selected = self.selected_config_names(selector, &checked).await?;
            if targets.is_empty() {
                targets = selected;
            } else {
                targets.retain(|t| selected.contains(t));
                if targets.is_empty() {
                    return Err("the selector selects none of the targets".into());
                }
            }
        }
        Ok(Json(self.plan_of(&targets).await?))
    }
}

impl BotformServer {
    /// Plan `targets` (bot names, `blacklist`; empty: all), keep the plan and answer with its
    /// first page.
    pub(super) async fn plan_of(&self, targets: &[String]) -> Result<PlanAnswer, String> {
        let (checked, desired) = workflow::check_confined(&self.inner.root, targets)
            .map_err(|e| self.relativize(workflow_message(e)))?;
        let files = crate::engine::history::files_of(&checked, &self.inner.root);
        let target = self.target().await?;
        let plan = workflow::plan_against(target, &desired, targets)
            .await
            .map_err(|e| self.relativize(workflow_message(e)))?;
        self.keep_and_answer(plan, files).await
    }

    /// Keep a plan for `apply` and `show_plan`, and answer with its first page.
    pub(super) async fn keep_and_answer(
        &self,
        plan: crate::engine::plan::Plan,
        files: std::collections::BTreeMap<String, String>,
    ) -> Result<PlanAnswer, String> {
        let hash = plan.hash();
        let plan_id = format!("plan-{}", &hash[..12]);
        let pages = self.human_pages(&plan)?;
        let s = &plan.summary;
        let answer = PlanAnswer {
            target: render::target_line(&plan),
            plan_id: plan_id.clone(),
            plan_hash: hash.clone(),
            has_changes: !plan.is_empty(),
            summary: PlanSummary {
                add: s.add,
                change: s.change,
                destroy: s.destroy,
                managed: s.managed,
                unmanaged: s.unmanaged,
            },
            capital: plan
                .capital
                .iter()
                .map(|c| CapitalLine {
                    account: c.account.clone(),
                    currency: c.currency.clone(),
                    before: c.before.to_string(),
                    after: c.after.to_string(),
                    line: crate::engine::render::capital_move(c),
                })
                .collect(),
            human: pages[0].clone(),
            page: 1,
            pages: pages.len(),
            more: more_of_plan(&plan_id, 1, pages.len()),
        };
        self.inner
            .keep_plan(
                plan_id,
                StoredPlan {
                    plan,
                    hash,
                    files,
                    backtest: String::new(),
                },
            )
            .await;
        Ok(answer)
    }
}

#[tool_router(router = tool_router_rest, vis = "pub(super)")]
impl BotformServer {
    /// One page of a plan, or one bot's changes in full with where each value was set.
    #[tool(
        title = "Show a plan",
        annotations(
            title = "Show a plan",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = false,
            idempotent_hint = true
        )
    )]
    async fn show_plan(
        &self,
        Parameters(args): Parameters<ShowPlanArgs>,
    ) -> Result<Json<ShowPlanAnswer>, String> {
        let stored = self.inner.plans.lock().await.get(&args.plan_id).cloned();
        let Some(stored) = stored else {
            return Err(unknown_plan(&args.plan_id));
        };
        let mut plan = stored.plan;
        let mut changes = Vec::new();
        if !args.bot.is_empty() {
            let wanted = args.bot.to_lowercase();
            plan.changes.retain(|c| {
                c.bot_id.map(|id| id.to_string()) == Some(args.bot.clone())
                    || c.bot_name.as_deref().map(str::to_lowercase) == Some(wanted.clone())
                    || (wanted == "blacklist"
                        && c.action == crate::engine::plan::Action::UpdateBlacklist)
            });
            if plan.changes.is_empty() {
                return Err(format!(
                    "plan `{}` changes nothing of `{}`",
                    args.plan_id, args.bot
                ));
            }
            changes = plan
                .changes
                .iter()
                .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
                .collect();
            let kept = budget::fit(&mut changes, budget::PAGE_CHARS / 2);
            if kept == 0 {
                changes.clear();
            }
        }
        let pages = self.human_pages(&plan)?;
        let page = args.page.max(1);
        let Some(human) = pages.get(page - 1) else {
            return Err(format!(
                "plan `{}` has {} page(s); ask for page 1 to {}",
                args.plan_id,
                pages.len(),
                pages.len()
            ));
        };
        Ok(Json(ShowPlanAnswer {
            plan_id: args.plan_id.clone(),
            human: human.clone(),
            page,
            pages: pages.len(),
            changes,
            more: more_of_plan(&args.plan_id, page, pages.len()),
        }))
    }

    /// Apply a plan from `plan` once the person approved it (needs --allow-apply). Refused if
    /// anything it read has changed.
    #[tool(
        title = "Apply a plan",
        output_schema = rmcp::handler::server::common::schema_for_output::<super::applying::ApplyAnswer>(),
        annotations(
            title = "Apply a plan",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
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
            return Ok(refuse(unknown_plan(&args.plan_id)).into());
        };
        if stored.hash != args.plan_hash {
            return Ok(refuse(
                "plan_hash does not match the plan: apply only the plan the person saw",
            )
            .into());
        }
        if stored.plan.is_empty() {
            return Ok(
                super::applying::nothing_to_apply(&render::target_line(&stored.plan)).into(),
            );
        }
        let target = match self.target().await {
            Ok(t) => t,
            Err(e) => return Ok(refuse(e).into()),
        };
        let mut options = ApplyOptions::for_target(target, self.inner.allow_delete, false);
        // Today's changes through any botform mcp on this target count against the guard.
        options.earlier = match guard::today_tally(&target.identity) {
            Ok(today) => today,
            Err(e) => return Ok(refuse(format!("cannot read today's change tally: {e}")).into()),
        };
        if let Err(refusal) = apply::check_safety(&stored.plan, &options) {
            return Ok(refuse(safety_refusal(&refusal)).into());
        }
        // The comparison, when the assistant ran one, goes with the question.
        let backtest = match stored.backtest.as_str() {
            "" => String::new(),
            line => format!("\n\n{line}"),
        };
        let question = render::confirmation_text(
            &stored.plan,
            CONFIRMATION_CHARS.saturating_sub(backtest.chars().count()),
        ) + &backtest;
        match self
            .confirmation(&context, &question, responses.as_ref())
            .await?
        {
            Confirmation::Declined => {
                return Ok(refuse("The person did not confirm: nothing was changed.").into());
            }
            Confirmation::Ask(request) => return Ok(*request),
            Confirmation::CannotAsk if !self.inner.allow_unconfirmed_apply => {
                return Ok(refuse("This client cannot ask the person to confirm (it offers no MCP elicitation), so nothing was changed. Show the person the plan and let them run `botform apply` themselves, or have them start `botform mcp` with --allow-unconfirmed-apply (then nobody confirms).").into());
            }
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
        // Count what this plan asks for, not just what lands (a failed change will be asked
        // for again), checking once more under the tally's lock: another server may have
        // applied since.
        let counted = guard::with_today(&target.identity, |today| {
            options.earlier = today.clone();
            apply::check_safety(&stored.plan, &options)?;
            for (account, t) in apply::tally(&stored.plan, &ApplyOptions::default()) {
                let entry = today.entry(account).or_default();
                entry.updates += t.updates;
                entry.deletes += t.deletes;
            }
            Ok::<(), apply::Refusal>(())
        });
        match counted {
            Err(e) => {
                return Ok(refuse(format!("cannot record today's change tally: {e}")).into());
            }
            Ok(Err(refusal)) => return Ok(refuse(safety_refusal(&refusal)).into()),
            Ok(Ok(())) => {}
        }
        let apply_id = self.start_apply(stored.plan, stored.files, options).await;
        Ok(match self.follow(&apply_id, &context, true).await {
            Ok(result) => result.into(),
            Err(e) => refuse(e).into(),
        })
    }

    /// Write the live 3Commas account as config text (bots pinned by id, accounts, blacklist).
    /// Files are written under the root only when `write_to` names a directory there.
    #[tool(
        title = "Import live bots as config",
        annotations(
            title = "Import live bots as config",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn import(
        &self,
        Parameters(args): Parameters<ImportArgs>,
    ) -> Result<Json<ImportAnswer>, String> {
        let format = match args.format.as_str() {
            "" | "toml" => ImportFormat::Toml,
            "yaml" | "yml" => ImportFormat::Yaml,
            other => {
                return Err(format!(
                    "format `{}`: use `toml` or `yaml`",
                    crate::diagnostic::quote_input(other)
                ));
            }
        };
        let out_dir = if args.write_to.is_empty() {
            None
        } else {
            let dir = paths::resolve(&self.inner.root, &args.write_to)?;
            paths::seen_by_the_loader(&self.inner.root, &dir.join("x.toml"))?;
            Some(dir)
        };
        let target = self.target().await?;
        let live = crate::engine::target::read_live(&target.client, true)
            .await
            .map_err(|e| e.to_string())?;
        let accounts = import::select_accounts(&live.accounts, &args.accounts)?;
        // An account whose grid bots cannot be read is imported without them (the files show
        // which were written).
        let grids = target.client.grid_bots().await.unwrap_or_default();
        let files = import::import(&live, &grids, &accounts, format, "3Commas via botform mcp");
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
                crate::files::write_user_file(&path, f.text.as_bytes())
                    .map_err(|e| e.to_string())?;
                written.push(paths::relative(&self.inner.root, &path));
            }
        }
        let mut files: Vec<ImportedFile> = files
            .into_iter()
            .map(|f| ImportedFile {
                path: f.path,
                text: f.text,
            })
            .collect();
        let total = files.len();
        let shown = budget::fit(&mut files, budget::PAGE_CHARS);
        let more = if shown < total {
            format!(
                "{} of {total} files are too large to return here: give `write_to` (a directory under the root) to write them all, then read them with `botform://config/...`",
                total - shown
            )
        } else {
            String::new()
        };
        Ok(Json(ImportAnswer {
            files,
            written,
            more,
        }))
    }
}

/// A safety refusal, with what the person can do about it.
fn safety_refusal(refusal: &apply::Refusal) -> String {
    let hint = match refusal {
        apply::Refusal::DeletesNotAllowed(_) => {
            " (the person must start `botform mcp` with --allow-delete)"
        }
        apply::Refusal::TooManyChanges { .. } => {
            " (the person can review it and run `botform apply --force` themselves)"
        }
        _ => "",
    };
    format!("{refusal}{hint}")
}

pub(super) enum Confirmation {
    Confirmed,
    Declined,
    /// The client cannot ask the person: the server's flags are the only gate.
    CannotAsk,
    /// 2026-07-28 clients: return this to have the client ask, then call again.
    Ask(Box<CallToolResponse>),
}

impl BotformServer {
    /// Ask the person, in whichever way the client's protocol era allows.
    pub(super) async fn confirmation(
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
        let mut given = String::new();
        if !args.account.is_empty() {
            given.push_str(&format!(" Trade on the account `{}`.", args.account));
        }
        if !args.strategy.is_empty() {
            given.push_str(&format!(" Start deals with `{}`.", args.strategy));
        }
        vec![PromptMessage::new_text(
            Role::User,
            format!(
                "Design a 3Commas DCA bot for this goal: {}. {budget}{given}\n\n\
                 1. Call `list_accounts`, `market_pairs` and `list_strategies` to choose an account, pairs and start conditions that exist; `currency_rates` gives the smallest order the exchange takes.\n\
                 2. Choose the safety-order ladder so that `validate` reports a capital per deal (times max_active_deals) within the budget, and say what price move it covers.\n\
                 3. Write the bot with `add_bot` (from a template or another bot when one fits; `describe_config` gives the fields and a skeleton).\n\
                 4. Fix every error `add_bot` or `validate` reports. Then call `plan` and show the person the human plan. Do not call `apply` until they approve.",
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
        let stored = self.inner.plans.lock().await.get(&args.plan_id).cloned();
        let body = match stored {
            Some(stored) => match self.human_pages(&stored.plan) {
                Ok(pages) if pages.len() > 1 => format!(
                    "{}\n(page 1 of {}: read the rest with `show_plan`, plan_id `{}`)",
                    pages[0],
                    pages.len(),
                    args.plan_id
                ),
                Ok(pages) => pages[0].clone(),
                Err(e) => e,
            },
            None => format!(
                "(no plan `{}`: call `plan` first)",
                crate::diagnostic::quote_input(&args.plan_id)
            ),
        };
        vec![PromptMessage::new_text(
            Role::User,
            format!(
                "Review this botform plan before it is applied to a real 3Commas account. For each change say in one line what it does to the person's money: capital per deal and for all deals (the DCA lines), capital at risk per account, bots created, enabled, disabled or destroyed, blacklist changes. Flag anything risky: larger ladders, stop losses removed, many bots changed at once, deletes. End with a recommendation.\n\n{body}"
            ),
        )]
    }
}
