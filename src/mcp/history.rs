//! `history` and `revert`: the applies recorded for this root (`crate::engine::history`), and
//! undoing one: its config files put back byte for byte, and a plan (applied with `apply`, as
//! any plan) that also retires the bots it created: deleted with `--allow-delete`, else switched
//! off, and the answer says which.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::tools::PlanAnswer;
use super::{BotformServer, budget, paths};
use crate::engine::desired::Retire;
use crate::engine::history::{self, History};
use crate::engine::plan::Action;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryArgs {
    /// One apply in detail; empty: the newest 20.
    #[serde(default)]
    pub apply_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HistoryLine {
    pub apply_id: String,
    pub at: String,
    /// `cli` or `mcp`.
    pub via: String,
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub failed: usize,
    /// Whether `revert` can undo it (it knows the files from before).
    pub revertible: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct HistoryAnswer {
    pub total: usize,
    pub applies: Vec<HistoryLine>,
    /// With `apply_id`: each change, `address: action (fields): result`, as many as fit.
    pub changes: Vec<String>,
    /// With `apply_id`: the unified diff of the config files, before -> after that apply.
    pub diff: String,
    pub more: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevertArgs {
    /// From `history`.
    pub apply_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RevertAnswer {
    /// Files put back (`restored`) or removed (`removed`: they did not exist before).
    pub files: Vec<String>,
    /// What happens to the bots the apply created.
    pub created_bots: String,
    /// The plan back: show it to the person, then `apply` it.
    pub plan: PlanAnswer,
}

fn line_of(record: &history::Record) -> HistoryLine {
    HistoryLine {
        apply_id: record.id.clone(),
        at: record.at.clone(),
        via: record.via.clone(),
        created: record.done(Action::Create),
        updated: record.done(Action::Update) + record.done(Action::UpdateBlacklist),
        deleted: record.done(Action::Delete),
        failed: record.failed,
        revertible: record.revertible(),
    }
}

#[tool_router(router = history_router, vis = "pub(super)")]
impl BotformServer {
    /// Applies recorded for this config, newest first, or one in detail with its file diff.
    #[tool(
        title = "Apply history",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = false,
            idempotent_hint = true
        )
    )]
    async fn history(
        &self,
        Parameters(args): Parameters<HistoryArgs>,
    ) -> Result<Json<HistoryAnswer>, String> {
        let history = History::of_root(&self.inner.root);
        let records = history.list().map_err(|e| self.relativize(e.to_string()))?;
        let total = records.len();
        if args.apply_id.is_empty() {
            let mut applies: Vec<HistoryLine> = records.iter().take(20).map(line_of).collect();
            budget::fit(&mut applies, budget::ANSWER_BUDGET / 2);
            let more = if total > applies.len() {
                format!(
                    "{} older applies not listed: give an apply_id for one",
                    total - applies.len()
                )
            } else {
                String::new()
            };
            return Ok(Json(HistoryAnswer {
                total,
                applies,
                changes: Vec::new(),
                diff: String::new(),
                more,
            }));
        }
        let record = history
            .get(&args.apply_id)
            .map_err(|e| self.relativize(e.to_string()))?;
        let mut changes: Vec<String> = record
            .changes
            .iter()
            .map(|c| {
                let fields: Vec<&str> = c.fields.iter().map(|f| f.field.as_str()).collect();
                let text = format!(
                    "{}: {:?} ({}): {}",
                    c.address,
                    c.action,
                    fields.join(", "),
                    c.result
                );
                text.chars().take(400).collect()
            })
            .collect();
        let all = changes.len();
        budget::fit(&mut changes, budget::ANSWER_BUDGET / 3);
        let diff = history.diff(&record).unwrap_or_default();
        let diff_total = diff.chars().count();
        let diff: String = diff.chars().take(budget::ANSWER_BUDGET / 3).collect();
        let mut more = Vec::new();
        if all > changes.len() {
            more.push(format!("{} changes not listed", all - changes.len()));
        }
        if diff_total > diff.chars().count() {
            more.push("the diff is cut to fit".to_string());
        }
        Ok(Json(HistoryAnswer {
            total,
            applies: vec![line_of(&record)],
            changes,
            diff,
            more: more.join("; "),
        }))
    }

    /// Undo an apply: restore the config files from before it and plan the account back (created
    /// bots deleted, or off without --allow-delete). Then `apply`.
    #[tool(
        title = "Revert an apply",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            open_world_hint = true,
            idempotent_hint = false
        )
    )]
    async fn revert(
        &self,
        Parameters(args): Parameters<RevertArgs>,
    ) -> Result<Json<RevertAnswer>, String> {
        let _one_edit_at_a_time = super::edits::edit_lock(&self.inner.root).await?;
        let history = History::of_root(&self.inner.root);
        let checked = crate::config::check_confined(&self.inner.root);
        let now = history::files_of(&checked, &self.inner.root);
        let restore = history
            .restore(&args.apply_id, &now, false)
            .map_err(|e| self.relativize(e))?;
        let files = restore
            .write(|relative| paths::resolve(&self.inner.root, relative))
            .map_err(|e| self.relativize(e))?;
        let checked = crate::config::check_confined(&self.inner.root);
        if !checked.is_valid() {
            return Err(format!(
                "the files are restored ({}) but the config has errors now: call `validate`",
                files.join(", ")
            ));
        }
        let mut desired = crate::engine::desired::from_checked(&checked);
        let retire = if self.inner.allow_delete {
            Retire::Delete
        } else {
            Retire::Disable
        };
        desired.retire = restore.created.iter().map(|c| (c.bot_id, retire)).collect();
        let created_bots = match (restore.created.len(), retire) {
            (0, _) => "the apply created no bots".to_string(),
            (n, Retire::Delete) => format!("the {n} bots it created are deleted by this plan"),
            (n, Retire::Disable) => format!(
                "the {n} bots it created are switched off by this plan, not deleted: this server runs without --allow-delete"
            ),
        };
        let target = self.target().await?;
        let plan = crate::engine::workflow::plan_against(target, &desired, &[])
            .await
            .map_err(|e| self.relativize(super::tools::workflow_message(e)))?;
        let plan = self
            .keep_and_answer(plan, history::files_of(&checked, &self.inner.root))
            .await?;
        Ok(Json(RevertAnswer {
            files,
            created_bots,
            plan,
        }))
    }
}
