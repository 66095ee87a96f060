//! The steps every front end takes, in one place: check the config, connect, read, plan; and the
//! saved plan file that carries a reviewed plan to `apply`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::desired::{self, Desired};
use super::plan::{self, Action, Plan, PlanProblem};
use super::target::{self, Target};
use crate::config::{self, Checked};
use crate::model::decimal::Decimal;
use crate::threecommas::ApiError;

pub enum WorkflowError {
    /// The config has errors: nothing was read from 3Commas.
    Invalid(Box<Checked>),
    Api(Box<ApiError>),
    /// The live state cannot be matched to the config.
    Problems(Vec<PlanProblem>),
    /// `--target` names no bot of the config.
    UnknownTargets(Vec<String>),
}

impl From<ApiError> for WorkflowError {
    fn from(e: ApiError) -> Self {
        WorkflowError::Api(Box::new(e))
    }
}

/// A plan with everything needed to show and apply it.
pub struct Planned {
    pub checked: Checked,
    pub desired: Desired,
    pub target: Target,
    pub plan: Plan,
    pub config_dir: PathBuf,
}

/// Check the config at `paths`, connect, read the live state and plan. `targets` limits the plan
/// to the named bots (and `blacklist`).
pub async fn make_plan(paths: &[PathBuf], targets: &[String]) -> Result<Planned, WorkflowError> {
    let (checked, desired) = check(paths, targets)?;
    let config_dir = target::config_dir(paths);
    let target = target::connect(&config_dir, desired.mode).await?;
    let plan = plan_against(&target, &desired, targets).await?;
    Ok(Planned {
        checked,
        desired,
        target,
        plan,
        config_dir,
    })
}

/// Check the config and the `--target` names; nothing is read from 3Commas.
pub fn check(paths: &[PathBuf], targets: &[String]) -> Result<(Checked, Desired), WorkflowError> {
    let checked = config::check(paths);
    if !checked.is_valid() {
        return Err(WorkflowError::Invalid(Box::new(checked)));
    }
    let desired = desired::from_checked(&checked);
    let unknown: Vec<String> = targets
        .iter()
        .filter(|t| {
            *t != "blacklist"
                && !desired
                    .bots
                    .iter()
                    .any(|b| b.name.as_deref() == Some(t.as_str()))
        })
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(WorkflowError::UnknownTargets(unknown));
    }
    Ok((checked, desired))
}

/// Read the live state through an open target and plan.
pub async fn plan_against(
    target: &Target,
    desired: &Desired,
    targets: &[String],
) -> Result<Plan, WorkflowError> {
    let live = target::read_live(&target.client, desired.blacklist.is_some()).await?;
    let mut plan =
        plan::plan(desired, &live, target.info.clone()).map_err(WorkflowError::Problems)?;
    if !targets.is_empty() {
        restrict(&mut plan, targets);
    }
    Ok(plan)
}

/// Keep only the changes to the named objects (and the fingerprints they depend on).
fn restrict(plan: &mut Plan, targets: &[String]) {
    plan.changes.retain(|c| match c.action {
        Action::UpdateBlacklist => targets.iter().any(|t| t == "blacklist"),
        _ => c.bot_name.as_ref().is_some_and(|n| targets.contains(n)),
    });
    let keep: Vec<String> = plan
        .changes
        .iter()
        .flat_map(|c| {
            let mut keys = Vec::new();
            if c.action == Action::UpdateBlacklist {
                keys.push("blacklist".to_string());
            }
            if let Some(id) = c.bot_id {
                keys.push(format!("bot/{id}"));
            }
            if let (Action::Create, Some(account), Some(name)) =
                (c.action, c.account_id, &c.bot_name)
            {
                keys.push(plan::absent_key(account, name));
            }
            keys
        })
        .collect();
    plan.fingerprints.retain(|k, _| keep.contains(k));
    plan.summary.add = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Create)
        .count();
    plan.summary.change = plan
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Update | Action::UpdateBlacklist))
        .count();
    plan.summary.destroy = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .count();
}

/// A plan saved by `plan --out`: the plan, its hash, and what apply needs to find the target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub botform_version: String,
    pub plan_hash: String,
    /// The config directory (where the built-in sandbox keeps its state).
    pub config_dir: PathBuf,
    pub max_change_percentage: Decimal,
    pub plan: Plan,
}

impl SavedPlan {
    pub fn new(planned: &Planned) -> SavedPlan {
        SavedPlan {
            botform_version: env!("CARGO_PKG_VERSION").into(),
            plan_hash: planned.plan.hash(),
            // Absolute, so the plan applies from any working directory.
            config_dir: planned
                .config_dir
                .canonicalize()
                .unwrap_or_else(|_| planned.config_dir.clone()),
            max_change_percentage: planned.desired.max_change_percentage,
            plan: planned.plan.clone(),
        }
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("plans serialize");
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text + "\n")?;
        std::fs::rename(tmp, path)
    }

    /// Read a saved plan and check it was not edited since it was saved.
    pub fn read(path: &Path) -> Result<SavedPlan, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let saved: SavedPlan = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a botform plan: {e}", path.display()))?;
        if saved.plan.hash() != saved.plan_hash {
            return Err(format!(
                "{} was edited after it was saved (its hash does not match): make a new plan",
                path.display()
            ));
        }
        Ok(saved)
    }
}
