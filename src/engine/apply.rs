//! The executor: applies exactly a reviewed plan, safely.
//!
//! Before any write it checks the safety rails (deletes need `allow_delete`, never a bot with
//! active deals; without `force`, each account's updates and deletes stay within the plan's
//! limits, counted against all its live bots), takes the target's lease (one writer per account,
//! across processes) and, inside it, re-reads what the plan touches: if anything moved since the
//! plan was made, it refuses and says what. Then it writes in order (blacklist, creates, updates,
//! enable/disable, deletes), a few at a time within the client's pace, keeping a journal of the
//! creates under way. Each change succeeds or fails on its own. An ambiguous write (timeout,
//! reset, 5xx, an unreadable 2xx) is resolved by looking before any retry, and a create is never
//! sent twice in one run. Finally it reads back what it changed: a field 3Commas did not take
//! fails that change.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Semaphore;

use super::lease::{self, Started};
use super::memory::Memory;
use super::plan::{Action, Change, LiveState, Plan, ResourceKind, comparable, staleness};
use super::target::Target;
pub use super::write::Failure;
use super::write::{
    ChangeResult, LOOKS_AFTER_UNCLEAR_CREATE, SETTLE_ATTEMPTS, failure, malformed, started,
};
use crate::diagnostic::shown;
use crate::model::bot::LiveBot;
use crate::model::decimal::Decimal;
use crate::threecommas::wire::{BotParams, WireBot};
use crate::threecommas::{ApiError, BotsFilter, Client};

/// How many writes run at once (the client's limiter paces them further).
const CONCURRENCY: usize = 4;
/// Below this many live bots on an account, updates are not held to the percentage (as octodns
/// does); deletes always are.
const THRESHOLD_MIN_LIVE: usize = 10;

/// Updates and deletes on one account, counted against its live bots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Tally {
    pub updates: usize,
    pub deletes: usize,
}

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    pub allow_delete: bool,
    pub force: bool,
    /// Bots an interrupted apply on this target created and did not switch on: turning them on
    /// finishes that apply and is not counted against the threshold.
    pub half_made: BTreeSet<Started>,
    /// What earlier applies changed today, per account (the MCP server keeps it in the state
    /// dir, `guard`), so a change split into batches meets the limit the whole change would.
    pub earlier: BTreeMap<i64, Tally>,
}

impl ApplyOptions {
    /// Options for applying to `target`, with what an interrupted apply there left half made.
    pub fn for_target(target: &Target, allow_delete: bool, force: bool) -> ApplyOptions {
        ApplyOptions {
            allow_delete,
            force,
            half_made: lease::unfinished_creates(&target.identity),
            earlier: BTreeMap::new(),
        }
    }
}

/// Why an apply did not start. Nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the plan is stale: {}. Run plan again and review the new plan", .0.join("; "))]
    Stale(Vec<String>),
    #[error("the plan deletes {0} bot{s}; deleting needs --allow-delete", s = if *.0 == 1 { "" } else { "s" })]
    DeletesNotAllowed(usize),
    #[error("refusing to delete bots with active deals: {}", .0.join(", "))]
    ActiveDeals(Vec<String>),
    #[error(
        "the plan {what} {count} of the {live} live bots on {account} ({percent}%), more than the {limit}% allowed by settings.max_change_percentage{earlier}; review it, then pass --force"
    )]
    TooManyChanges {
        what: &'static str,
        account: String,
        count: usize,
        live: usize,
        percent: Decimal,
        limit: Decimal,
        earlier: String,
    },
    #[error(
        "the plan deletes {count} bots on {account}, more than settings.max_delete = {max}; review it, then pass --force"
    )]
    TooManyDeletes {
        account: String,
        count: usize,
        max: u32,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The change's position in the plan.
    pub change: usize,
    pub address: String,
    pub action: Action,
    pub bot_id: Option<i64>,
    /// What was done, or why it failed.
    pub result: Result<String, Failure>,
    /// A create settled in favour of the twin another apply made at the same time (`bot_id`):
    /// that bot is the other apply's to finish, so this one neither switches nor reads it back.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub left_to_another_apply: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ApplyReport {
    pub outcomes: Vec<Outcome>,
    /// Fields 3Commas did not take, found when reading back.
    pub not_taken: Vec<String>,
}

impl ApplyReport {
    pub fn failures(&self) -> usize {
        self.outcomes.iter().filter(|o| o.result.is_err()).count()
    }
}

/// True for a change that only switches on a bot an interrupted apply created.
fn finishes_half_made(change: &Change, half_made: &BTreeSet<Started>) -> bool {
    let only_toggle = change.settings.is_none()
        && change.fields.iter().all(|f| f.field == "enabled")
        && change.enable.is_some();
    change.action == Action::Update
        && only_toggle
        && started(change).is_some_and(|s| half_made.contains(&s))
}

/// What the plan updates and deletes on each account (with earlier batches of the session).
pub fn tally(plan: &Plan, options: &ApplyOptions) -> BTreeMap<i64, Tally> {
    let mut tally = options.earlier.clone();
    for change in &plan.changes {
        let Some(account) = change.account_id else {
            continue;
        };
        match change.action {
            Action::Update if !finishes_half_made(change, &options.half_made) => {
                tally.entry(account).or_default().updates += 1
            }
            Action::Delete => tally.entry(account).or_default().deletes += 1,
            _ => {}
        }
    }
    tally
}

/// The rails that do not need the network: deletes need `allow_delete`, never a bot with active
/// deals (as of the plan; apply checks again live), and, without `force`, each account's updates
/// and deletes stay within the plan's limits, counted against all its live bots.
pub fn check_safety(plan: &Plan, options: &ApplyOptions) -> Result<(), Refusal> {
    let deletes: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete)
        .collect();
    if !deletes.is_empty() && !options.allow_delete {
        return Err(Refusal::DeletesNotAllowed(deletes.len()));
    }
    let busy: Vec<String> = deletes
        .iter()
        .filter(|c| c.active_deals > 0)
        .map(|c| busy_line(&c.address, c.active_deals))
        .collect();
    if !busy.is_empty() {
        return Err(Refusal::ActiveDeals(busy));
    }
    if options.force {
        return Ok(());
    }
    let limit = plan.limits.max_change_percentage;
    for (account_id, counted) in tally(plan, options) {
        let account = plan
            .changes
            .iter()
            .find(|c| c.account_id == Some(account_id))
            .and_then(|c| c.account.clone())
            .map(|alias| format!("`{alias}`"))
            .unwrap_or_else(|| format!("account {account_id}"));
        let live = plan
            .summary
            .live_by_account
            .get(&account_id)
            .copied()
            .unwrap_or(0)
            .max(1);
        let earlier = options
            .earlier
            .get(&account_id)
            .filter(|e| e.updates + e.deletes > 0)
            .map(|e| {
                format!(
                    " (counting {} change{} applied through botform mcp earlier today)",
                    e.updates + e.deletes,
                    if e.updates + e.deletes == 1 { "" } else { "s" }
                )
            })
            .unwrap_or_default();
        let percent_of = |n: usize| {
            (Decimal::from_int(n as i64) * Decimal::ONE_HUNDRED / Decimal::from_int(live as i64))
                .round_dp(1)
        };
        if counted.deletes > 0 {
            if let Some(max) = plan.limits.max_delete
                && counted.deletes > max as usize
            {
                return Err(Refusal::TooManyDeletes {
                    account,
                    count: counted.deletes,
                    max,
                });
            }
            let percent = percent_of(counted.deletes);
            if percent > limit {
                return Err(Refusal::TooManyChanges {
                    what: "deletes",
                    account,
                    count: counted.deletes,
                    live,
                    percent,
                    limit,
                    earlier,
                });
            }
        }
        let touched = counted.updates + counted.deletes;
        let percent = percent_of(touched);
        if live >= THRESHOLD_MIN_LIVE && percent > limit {
            return Err(Refusal::TooManyChanges {
                what: "changes or deletes",
                account,
                count: touched,
                live,
                percent,
                limit,
                earlier,
            });
        }
    }
    Ok(())
}

fn busy_line(address: &str, deals: u32) -> String {
    format!(
        "{address} has {deals} active deal{}",
        if deals == 1 { "" } else { "s" }
    )
}

pub enum ApplyError {
    Refused(Refusal),
    Api(ApiError),
    /// The lease on the target could not be taken (its lock file is unusable).
    Lease(std::io::Error),
}

/// The counts in a progress line: `[3/10] bot "x" on main: created` -> (3, 10).
pub fn progress_counts(line: &str) -> Option<(usize, usize)> {
    let inner = line.strip_prefix('[')?.split(']').next()?;
    let (done, total) = inner.split_once('/')?;
    Some((done.parse().ok()?, total.parse().ok()?))
}

/// The lease `botform apply` took before its plan's read, and that read. The apply keeps the
/// lease to its last write, so no other botform apply writes in between. It writes on the read
/// itself (`live`) only when nothing paused between the read and the writes (`--auto-approve`):
/// while a person reads the plan someone may edit a bot in the web app, so after a confirmation
/// `live` is `None` and apply reads again, refusing what moved.
pub struct LeasedRead {
    pub lease: lease::Lease,
    pub live: Option<LiveState>,
}

/// Take the target's lease, saying when another apply holds it (this one waits).
pub async fn take_lease(
    identity: &str,
    progress: Arc<dyn Fn(String) + Send + Sync>,
) -> std::io::Result<lease::Lease> {
    lease::acquire(identity, move || {
        progress(
            "waiting: another botform apply is writing to this account; this one goes on when it ends"
                .into(),
        )
    })
    .await
}

/// Apply `plan` to `target`. `progress` receives one line per step, for stderr; a change's line
/// starts with `[done/total]` (see [`progress_counts`]).
///
/// Holds the target's lease from the read the writes rely on to the last write, so no other
/// botform process writes to the account in between; a second apply waits and then finds its
/// plan stale. That read is the plan's own when `leased` carries it; else apply re-reads what
/// the plan's fingerprints cover and refuses a plan the account has moved away from.
pub async fn apply(
    target: &Target,
    plan: &Plan,
    options: &ApplyOptions,
    progress: Arc<dyn Fn(String) + Send + Sync>,
    leased: Option<LeasedRead>,
) -> Result<ApplyReport, ApplyError> {
    check_safety(plan, options).map_err(ApplyError::Refused)?;
    let client = &target.client;
    let (lease, fresh) = match leased {
        Some(read) => (read.lease, read.live),
        None => (
            take_lease(&target.identity, progress.clone())
                .await
                .map_err(ApplyError::Lease)?,
            None,
        ),
    };
    let live = match fresh {
        Some(live) => live,
        None => {
            let live = reread(client, plan).await.map_err(ApplyError::Api)?;
            let moved = staleness(plan, &live);
            if !moved.is_empty() {
                return Err(ApplyError::Refused(Refusal::Stale(moved)));
            }
            live
        }
    };
    let live_bots: Arc<BTreeMap<i64, LiveBot>> =
        Arc::new(live.bots.iter().map(|b| (b.id, b.clone())).collect());
    let journal = lease.journal().clone();
    let creating = ready_to_write(plan, &live_bots, &journal).map_err(|e| *e)?;
    let mut report = ApplyReport::default();
    let answers = Answers::default();
    let total = plan.changes.len();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));

    // Phase by phase, in the documented order; within a phase, a few at a time.
    let phases = [
        Action::UpdateBlacklist,
        Action::Create,
        Action::Update,
        Action::Delete,
    ];
    let mut toggles: Vec<(String, i64, bool)> = Vec::new();
    for phase in phases {
        if phase == Action::Delete {
            // Another apply (on another machine, or one a local lock cannot see) may have
            // created the same bots at the same time: settle twins before anything is switched on.
            settle_twins(client, plan, &mut report, &mut toggles, &progress).await;
            // Enable/disable after every create and update, before any delete.
            switch(
                client,
                std::mem::take(&mut toggles),
                &mut report,
                &progress,
                &answers,
            )
            .await;
        }
        let semaphore = Arc::new(Semaphore::new(CONCURRENCY));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, change) in plan
            .changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.action == phase)
        {
            let (client, change, live_bots, semaphore, journal, answers) = (
                client.clone(),
                change.clone(),
                live_bots.clone(),
                semaphore.clone(),
                journal.clone(),
                answers.clone(),
            );
            let (progress, done) = (progress.clone(), done.clone());
            tasks.spawn(async move {
                let _permit = semaphore
                    .acquire_owned()
                    .await
                    .expect("semaphore is never closed");
                let result = match change.kind {
                    ResourceKind::DcaBot => {
                        run_change(&client, &change, &live_bots, &journal, &answers).await
                    }
                    ResourceKind::GridBot => {
                        super::grid::run_change(&client, &change, &journal).await
                    }
                };
                let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                match &result {
                    Ok((what, _)) => progress(format!("[{n}/{total}] {}: {what}", change.address)),
                    Err(f) => progress(format!(
                        "[{n}/{total}] {}: FAILED: {}",
                        change.address, f.message
                    )),
                }
                (index, change, result)
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            results.push(joined.expect("apply tasks do not panic"));
        }
        results.sort_by_key(|(i, _, _)| *i);
        for (index, change, result) in results {
            let bot_id = match &result {
                Ok((_, id)) => *id,
                Err(_) => change.bot_id,
            };
            // Grid bots are switched within their change (after `required_balances`).
            if let (Ok((_, Some(id))), Some(enable), true) =
                (&result, change.enable, change.kind.is_dca_bot())
            {
                toggles.push((change.address.clone(), *id, enable));
            }
            report.outcomes.push(Outcome {
                change: index,
                address: change.address.clone(),
                action: change.action,
                bot_id,
                result: result.map(|(what, _)| what),
                left_to_another_apply: false,
            });
        }
    }
    keep_unfinished_creates(plan, &report, options, &journal, &creating, &progress);
    // What 3Commas did not take fails that change: an update it ignored is not an update.
    let notes = read_back(client, plan, &report, live.bots.len(), &answers).await;
    fail_what_was_not_taken(&mut report, notes);
    // Still inside the lease: remember what 3Commas will not show back.
    if let Err(e) = remember(&target.identity, plan, &report) {
        progress(format!(
            "warning: cannot save what was sent of the fields 3Commas does not show ({e}); the next plan sends them again"
        ));
    }
    drop(lease);
    Ok(report)
}

/// The checks that need the live account, inside the lease, before the first write: no bot to
/// delete has deals now, and no create of this plan may still land from another apply. Records
/// the plan's creates in the journal; returns them.
fn ready_to_write(
    plan: &Plan,
    live_bots: &BTreeMap<i64, LiveBot>,
    journal: &lease::Journal,
) -> Result<BTreeSet<Started>, Box<ApplyError>> {
    // Deals are not in the fingerprints (they come and go): check them now, live.
    let busy: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action == Action::Delete && c.kind.is_dca_bot())
        .filter_map(|c| {
            let bot = live_bots.get(&c.bot_id?)?;
            (bot.active_deals_count > 0).then(|| busy_line(&c.address, bot.active_deals_count))
        })
        .collect();
    if !busy.is_empty() {
        return Err(Box::new(ApplyError::Refused(Refusal::ActiveDeals(busy))));
    }
    let creating: BTreeSet<Started> = plan
        .changes
        .iter()
        .filter(|c| c.creates())
        .filter_map(started)
        .collect();
    // A create another apply sent since this plan was made, with no clear answer yet, may still
    // land: creating the same bot now could make its twin (review M1).
    let in_flight: Vec<String> = journal
        .pending()
        .into_iter()
        .filter(|p| creating.contains(&p.started))
        .map(|p| format!("bot \"{}\": {}", shown(&p.started.name), p.reason()))
        .collect();
    if !in_flight.is_empty() {
        return Err(Box::new(ApplyError::Refused(Refusal::Stale(in_flight))));
    }
    if let Err(e) = journal.record_creates(&creating) {
        return Err(Box::new(ApplyError::Lease(e)));
    }
    Ok(creating)
}

/// The journal keeps only the creates (of this apply or an interrupted one) whose change failed:
/// the rest ended as planned, switched on too where asked.
fn keep_unfinished_creates(
    plan: &Plan,
    report: &ApplyReport,
    options: &ApplyOptions,
    journal: &lease::Journal,
    creating: &BTreeSet<Started>,
    progress: &Arc<dyn Fn(String) + Send + Sync>,
) {
    let failed = |i: usize| {
        report
            .outcomes
            .iter()
            .any(|o| o.change == i && o.result.is_err())
    };
    // A create whose answer stayed unclear may still land (see `lease::Pending`).
    let may_land = |i: usize| {
        report.outcomes.iter().any(|o| {
            o.change == i
                && plan.changes.get(i).is_some_and(Change::creates)
                && o.result.as_ref().is_err_and(|f| f.unresolved)
        })
    };
    let unfinished: BTreeMap<Started, bool> = plan
        .changes
        .iter()
        .enumerate()
        .filter(|(i, c)| (c.creates() || finishes_half_made(c, &options.half_made)) && failed(*i))
        .filter_map(|(i, c)| Some((started(c)?, may_land(i))))
        .collect();
    if let Err(e) = journal.keep_unfinished(&unfinished, creating) {
        progress(format!(
            "warning: cannot update the journal of creates: {e}"
        ));
    }
}

/// Each read-back note fails its change (3Commas did not take what was sent); a note of no
/// change goes to `not_taken`.
fn fail_what_was_not_taken(report: &mut ApplyReport, notes: Vec<(Option<usize>, String)>) {
    for (index, note) in notes {
        match index.and_then(|i| report.outcomes.iter_mut().find(|o| o.change == i)) {
            Some(outcome) => {
                let (message, fields) = match &outcome.result {
                    Err(f) => (format!("{}; {note}", f.message), f.fields.clone()),
                    Ok(_) => (note, Vec::new()),
                };
                outcome.result = Err(Failure {
                    message,
                    fields,
                    unresolved: false,
                });
            }
            None => report.not_taken.push(note),
        }
    }
}

/// Re-read, within the lease, what the fingerprints cover: bots, and the blacklist when the plan
/// read it. A bot the plan creates that now exists makes the plan stale: no twin.
async fn reread(client: &Client, plan: &Plan) -> Result<LiveState, ApiError> {
    let bots = client.bots(BotsFilter::default()).await?;
    let blacklist = if plan.fingerprints.contains_key("blacklist") {
        client.blacklist().await?
    } else {
        Vec::new()
    };
    let grid_bots = if plan
        .fingerprints
        .keys()
        .any(|k| super::grid::staleness(k, "", &LiveState::default()).is_some())
    {
        client.grid_bots().await?
    } else {
        Vec::new()
    };
    Ok(LiveState {
        accounts: Vec::new(),
        bots: bots.bots,
        grid_bots,
        unreadable: bots.unreadable,
        blacklist,
        pending_creates: Vec::new(),
        remembered: Default::default(),
    })
}

/// Note in the target's memory what each successful create and update sent of the write-only
/// fields, and forget deleted bots (see [`super::memory`]).
fn remember(identity: &str, plan: &Plan, report: &ApplyReport) -> std::io::Result<()> {
    let mut memory = Memory::load(identity);
    let before = memory.clone();
    for outcome in report.outcomes.iter().filter(|o| o.result.is_ok()) {
        let (Some(change), Some(id)) = (plan.changes.get(outcome.change), outcome.bot_id) else {
            continue;
        };
        if change.kind == ResourceKind::GridBot {
            if change.replaces_because.is_some()
                && let Some(old) = change.bot_id
            {
                memory.forget_grid(old);
            }
            match (&change.grid_body, change.action) {
                (Some(body), _) if change.creates() || change.action == Action::Update => memory
                    .record_grid(
                        id,
                        change.account_id.unwrap_or_default(),
                        change.bot_name.as_deref().unwrap_or_default(),
                        body,
                    ),
                (_, Action::Delete) => memory.forget_grid(id),
                _ => {}
            }
            continue;
        }
        match (outcome.action, &change.settings) {
            (Action::Create | Action::Update, Some(sent)) if !outcome.left_to_another_apply => {
                memory.record(
                    id,
                    change.account_id.unwrap_or_default(),
                    change.bot_name.as_deref(),
                    sent,
                )
            }
            (Action::Delete, _) => memory.forget(id),
            _ => {}
        }
    }
    if memory == before {
        return Ok(());
    }
    memory.save(identity)
}

/// Turn bots on or off after their create or update, noting the result on the change's outcome.
async fn switch(
    client: &Client,
    toggles: Vec<(String, i64, bool)>,
    report: &mut ApplyReport,
    progress: &Arc<dyn Fn(String) + Send + Sync>,
    answers: &Answers,
) {
    for (address, id, enable) in toggles {
        let result = settle_toggle(client, id, enable, answers).await;
        let verb = if enable { "enabled" } else { "disabled" };
        match &result {
            Ok(()) => progress(format!("{address}: {verb}")),
            Err(f) => progress(format!(
                "{address}: FAILED to turn {}: {}",
                if enable { "on" } else { "off" },
                f.message
            )),
        }
        if let Some(outcome) = report.outcomes.iter_mut().find(|o| o.address == address) {
            match (result, &mut outcome.result) {
                (Ok(()), Ok(what)) => what.push_str(&format!(", {verb}")),
                (Err(f), r) => *r = Err(f),
                _ => {}
            }
        }
    }
}

/// How young a same-named bot must be for apply to take it for the twin another apply made at
/// the same time (and delete it when it is the younger, never enabled and without deals).
const TWIN_AGE_S: i64 = 15 * 60;

/// The cross-process half of "never a twin" (a lock covers one machine only): after its creates,
/// before switching anything on, apply looks at each account it created on. For each bot it
/// created, among the bots of the same name the one kept is the first (by id) that is switched on
/// or has deals, else the oldest by id: a deterministic rule every apply reaches alike. When it is
/// not ours, ours (never switched on, no deals) is deleted and not switched on; when it is ours,
/// younger same-named bots made in the last [`TWIN_AGE_S`] that are off and have no deals are
/// deleted. Either way the outcome says what was settled. A look that fails leaves this apply's
/// new bots off, saying so: the next apply looks again.
async fn settle_twins(
    client: &Client,
    plan: &Plan,
    report: &mut ApplyReport,
    toggles: &mut Vec<(String, i64, bool)>,
    progress: &Arc<dyn Fn(String) + Send + Sync>,
) {
    let created: Vec<(usize, i64, i64, String)> = report
        .outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.action == Action::Create && o.result.is_ok())
        .filter_map(|(at, o)| {
            let change = plan.changes.get(o.change).filter(|c| c.kind.is_dca_bot())?;
            Some((at, o.bot_id?, change.account_id?, change.bot_name.clone()?))
        })
        .collect();
    let accounts: BTreeSet<i64> = created.iter().map(|(_, _, a, _)| *a).collect();
    let now = crate::timefmt::now_unix();
    for account_id in accounts {
        let listed = client
            .bots(BotsFilter {
                account_id: Some(account_id),
                enabled: None,
            })
            .await;
        for (at, ours, _, name) in created.iter().filter(|(_, _, a, _)| *a == account_id) {
            let outcome = &mut report.outcomes[*at];
            let live = match &listed {
                Ok(list) => list,
                Err(e) => {
                    toggles.retain(|(_, id, _)| id != ours);
                    outcome.result = Err(Failure {
                        message: format!(
                            "created (id {ours}) and left switched off: could not look for a twin made by another apply at the same time ({e}); apply again to finish"
                        ),
                        fields: Vec::new(),
                        unresolved: false,
                    });
                    continue;
                }
            };
            let mut same: Vec<&LiveBot> = live
                .bots
                .iter()
                .filter(|b| b.settings.name.as_deref() == Some(name.as_str()))
                .collect();
            same.sort_by_key(|b| b.id);
            if !same.iter().any(|b| b.id == *ours) {
                // Gone already: the other apply kept its bot and deleted ours (the younger,
                // never switched on) before this look. That bot is the other apply's to finish.
                if let Some(theirs) = same.first() {
                    toggles.retain(|(_, id, _)| id != ours);
                    let note = format!(
                        "another apply created this bot at the same time (id {}, kept); ours (id {ours}) was already deleted by it",
                        theirs.id
                    );
                    progress(format!("{}: {note}", outcome.address));
                    if let Ok(what) = &mut outcome.result {
                        what.push_str(&format!("; {note}"));
                    }
                    outcome.bot_id = Some(theirs.id);
                    outcome.left_to_another_apply = true;
                }
                continue;
            }
            if same.len() < 2 {
                continue;
            }
            let kept = same
                .iter()
                .find(|b| b.is_enabled || b.active_deals_count > 0)
                .unwrap_or(&same[0])
                .id;
            let mut notes = Vec::new();
            if kept != *ours {
                toggles.retain(|(_, id, _)| id != ours);
                let deleted = delete_twin(client, *ours).await;
                notes.push(match deleted {
                    Ok(()) => format!(
                        "another apply created this bot at the same time (id {kept}, kept); ours (id {ours}) was deleted before it was switched on"
                    ),
                    Err(e) => format!(
                        "another apply created this bot at the same time (id {kept}, kept); deleting ours (id {ours}, switched off) failed: {e}"
                    ),
                });
                outcome.bot_id = Some(kept);
                outcome.left_to_another_apply = true;
            } else {
                for twin in same.iter().filter(|b| {
                    b.id > *ours
                        && !b.is_enabled
                        && b.active_deals_count == 0
                        && crate::timefmt::parse_iso(&b.created_at)
                            .is_some_and(|t| now - t <= TWIN_AGE_S)
                }) {
                    notes.push(match delete_twin(client, twin.id).await {
                        Ok(()) => format!(
                            "deleted its younger twin (id {}), made by another apply at the same time",
                            twin.id
                        ),
                        Err(e) => format!(
                            "its younger twin (id {}), made by another apply, could not be deleted: {e}",
                            twin.id
                        ),
                    });
                }
            }
            for note in notes {
                progress(format!("{}: {note}", outcome.address));
                if let Ok(what) = &mut outcome.result {
                    what.push_str(&format!("; {note}"));
                }
            }
        }
    }
}

/// Delete a twin that was never switched on; gone already (its own apply deleted it) is done.
async fn delete_twin(client: &Client, id: i64) -> Result<(), ApiError> {
    match client.delete_bot(id).await {
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) if e.is_ambiguous() => match client.bot(id).await {
            Err(gone) if gone.is_not_found() => Ok(()),
            _ => Err(e),
        },
        other => other,
    }
}

/// The bots as 3Commas last answered for them during this apply, by id. The answer to an update,
/// a create, an enable or a disable is the bot as 3Commas holds it after that write (and a look
/// after an unclear answer is the bot too), so the read-back takes these instead of reading the
/// account again, and reads only the bots no answer settled.
#[derive(Clone, Default)]
struct Answers(Arc<std::sync::Mutex<BTreeMap<i64, LiveBot>>>);

impl Answers {
    fn note(&self, bot: LiveBot) {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(bot.id, bot);
    }

    fn of(&self, id: i64) -> Option<LiveBot> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&id)
            .cloned()
    }
}

async fn run_change(
    client: &Client,
    change: &Change,
    live: &BTreeMap<i64, LiveBot>,
    journal: &lease::Journal,
    answers: &Answers,
) -> ChangeResult {
    match change.action {
        Action::UpdateBlacklist => {
            let pairs = change.blacklist.clone().unwrap_or_default();
            settle(
                || async { client.update_blacklist(&pairs).await.map(|_| ()) },
                || async {
                    let now = client.blacklist().await?;
                    Ok(sorted(&now) == sorted(&pairs))
                },
                change,
            )
            .await
            .map(|()| ("blacklist replaced".to_string(), None))
        }
        Action::Create => create(client, change, journal, answers).await,
        Action::Update => {
            let Some(id) = change.bot_id else {
                return Err(malformed(change, "an update that names no bot"));
            };
            let Some(settings) = &change.settings else {
                return Ok(("nothing to send".into(), Some(id))); // only enabled changes
            };
            let Some(bot) = live.get(&id) else {
                return Err(failure(
                    change,
                    &ApiError::Config(format!("bot {id} vanished")),
                    false,
                ));
            };
            let params = BotParams::update(bot, settings)
                .map_err(|why| failure(change, &ApiError::Config(why), false))?;
            let wanted = comparable(settings);
            settle(
                || async {
                    let bot = client.update_bot(id, &params).await?;
                    answers.note(bot.to_model());
                    Ok(())
                },
                || async {
                    let now = client.bot(id).await?.to_model();
                    answers.note(now.clone());
                    let have = comparable(&now.settings);
                    Ok(wanted.iter().all(|(k, v)| have.get(k) == Some(v)))
                },
                change,
            )
            .await
            .map(|()| ("updated".to_string(), Some(id)))
        }
        Action::Delete => {
            let Some(id) = change.bot_id else {
                return Err(malformed(change, "a delete that names no bot"));
            };
            // Switch the bot off first, so no deal can start between the last look and the
            // delete; look once more; and switch it back on when the delete does not happen
            // (review L10).
            let was_enabled = match client.bot(id).await {
                Ok(bot) => bot.to_model().is_enabled,
                Err(e) => return Err(failure(change, &e, e.is_ambiguous())),
            };
            if was_enabled {
                settle_toggle(client, id, false, answers).await?;
            }
            let restore = || async {
                if was_enabled {
                    // Best effort: the failure below says what happened either way.
                    let _ = settle_toggle(client, id, true, answers).await;
                }
            };
            match client.bot(id).await {
                Ok(bot) if bot.to_model().active_deals_count > 0 => {
                    restore().await;
                    return Err(failure(
                        change,
                        &ApiError::Config(format!(
                            "not deleted: it has {} active deal(s) now{}",
                            bot.to_model().active_deals_count,
                            if was_enabled {
                                "; switched on again"
                            } else {
                                ""
                            }
                        )),
                        false,
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    restore().await;
                    return Err(failure(change, &e, e.is_ambiguous()));
                }
            }
            let deleted = settle(
                || async { client.delete_bot(id).await },
                || async {
                    match client.bot(id).await {
                        Err(e) if e.is_not_found() => Ok(true),
                        Err(e) => Err(e),
                        Ok(_) => Ok(false),
                    }
                },
                change,
            )
            .await;
            if let Err(failed) = &deleted
                && !failed.unresolved
            {
                // 3Commas refused the delete: the bot stays, as it was.
                restore().await;
            }
            deleted.map(|()| ("deleted".to_string(), Some(id)))
        }
    }
}

fn sorted(pairs: &[String]) -> Vec<String> {
    let mut p = pairs.to_vec();
    p.sort();
    p
}

/// Run an idempotent write; when its outcome is unclear, check before trying again.
async fn settle<W, WF, C, CF>(write: W, check: C, change: &Change) -> Result<(), Failure>
where
    W: Fn() -> WF,
    WF: std::future::Future<Output = Result<(), ApiError>>,
    C: Fn() -> CF,
    CF: std::future::Future<Output = Result<bool, ApiError>>,
{
    let mut last = None;
    for _ in 0..SETTLE_ATTEMPTS {
        match write().await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_ambiguous() => {
                if let Ok(true) = check().await {
                    return Ok(());
                }
                last = Some(e);
            }
            Err(e) => return Err(failure(change, &e, false)),
        }
    }
    Err(failure(change, &last.expect("the loop ran"), true))
}

/// Create a bot, never twice. After an unclear answer it looks for the bot a few times over a
/// few seconds; when the bot has not appeared, the change is reported unresolved and is not
/// sent again in this run (the journal and the next plan settle it), since the first create may
/// still land.
async fn create(
    client: &Client,
    change: &Change,
    journal: &lease::Journal,
    answers: &Answers,
) -> ChangeResult {
    let Some(account_id) = change.account_id else {
        return Err(malformed(change, "a create that names no account"));
    };
    let name = change.bot_name.clone().unwrap_or_default();
    let params = BotParams::create(account_id, &change.settings.clone().unwrap_or_default());
    // From this moment the create may land, even late: the journal says so first.
    if let Some(started) = started(change)
        && let Err(e) = journal.stamp_sent(&started)
    {
        return Err(failure(
            change,
            &ApiError::Config(format!(
                "not sent: cannot write the journal of creates ({e}), without which a late answer could make a twin"
            )),
            false,
        ));
    }
    let unclear = match client.create_bot(&params).await {
        Ok(bot) => {
            let bot = bot.to_model();
            let id = bot.id;
            answers.note(bot);
            return Ok((format!("created (id {id})"), Some(id)));
        }
        Err(e) if e.is_ambiguous() => e,
        Err(e) => return Err(failure(change, &e, false)),
    };
    for wait in LOOKS_AFTER_UNCLEAR_CREATE {
        tokio::time::sleep(wait).await;
        if let Ok(Some(bot)) = find_by_name(client, account_id, &name).await {
            let id = bot.id;
            answers.note(bot);
            return Ok((
                format!("created (id {id}; confirmed after an unclear answer)"),
                Some(id),
            ));
        }
    }
    let mut failed = failure(change, &unclear, true);
    failed
        .message
        .push_str("; not created again, since 3Commas may still make it: run plan to see");
    Err(failed)
}

async fn find_by_name(
    client: &Client,
    account_id: i64,
    name: &str,
) -> Result<Option<LiveBot>, ApiError> {
    let bots = client
        .bots(BotsFilter {
            account_id: Some(account_id),
            enabled: None,
        })
        .await?;
    Ok(bots
        .bots
        .into_iter()
        .find(|b| b.settings.name.as_deref() == Some(name)))
}

async fn settle_toggle(
    client: &Client,
    id: i64,
    enable: bool,
    answers: &Answers,
) -> Result<(), Failure> {
    let mut last = None;
    for _ in 0..SETTLE_ATTEMPTS {
        let result: Result<WireBot, ApiError> = if enable {
            client.enable_bot(id).await
        } else {
            client.disable_bot(id).await
        };
        match result {
            Ok(bot) => {
                answers.note(bot.to_model());
                return Ok(());
            }
            Err(e) if e.is_ambiguous() => last = Some(e),
            Err(e) => {
                return Err(Failure {
                    message: e.to_string(),
                    fields: Vec::new(),
                    unresolved: false,
                });
            }
        }
    }
    let e = last.expect("the loop ran");
    Err(Failure {
        message: e.to_string(),
        fields: Vec::new(),
        unresolved: true,
    })
}

/// Read back what changed; report fields 3Commas did not take.
async fn read_back(
    client: &Client,
    plan: &Plan,
    report: &ApplyReport,
    bots_before: usize,
    answers: &Answers,
) -> Vec<(Option<usize>, String)> {
    let mut notes = Vec::new();
    // The blacklist: 3Commas' current docs say its update adds pairs; whatever it does, the
    // result is checked.
    let blacklist_done = report
        .outcomes
        .iter()
        .find(|o| o.action == Action::UpdateBlacklist && o.result.is_ok());
    if let Some(outcome) = blacklist_done
        && let Some(want) = plan
            .changes
            .get(outcome.change)
            .and_then(|c| c.blacklist.clone())
    {
        match client.blacklist().await {
            Ok(have) => {
                let kept: Vec<&String> = have.iter().filter(|p| !want.contains(p)).collect();
                let missing: Vec<&String> = want.iter().filter(|p| !have.contains(p)).collect();
                if !kept.is_empty() {
                    notes.push((
                        Some(outcome.change),
                        format!(
                            "3Commas kept {} on the blacklist: its API only adds pairs; remove them in the 3Commas web app",
                            kept.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                if !missing.is_empty() {
                    notes.push((
                        Some(outcome.change),
                        format!(
                            "3Commas did not add {} to the blacklist",
                            missing
                                .iter()
                                .map(|p| p.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
            Err(e) => notes.push((
                None,
                format!("could not read the blacklist back to verify it: {e}"),
            )),
        }
    }
    let touched: Vec<(usize, &Change, i64)> = report
        .outcomes
        .iter()
        .filter(|o| matches!(o.action, Action::Create | Action::Update) && o.result.is_ok())
        .filter(|o| !o.left_to_another_apply)
        .filter_map(|o| Some((o.change, plan.changes.get(o.change)?, o.bot_id?)))
        // Grid bots are read back within their change.
        .filter(|(_, c, _)| c.kind.is_dca_bot())
        .filter(|(_, c, _)| c.settings.is_some() || c.enable.is_some())
        .collect();
    if touched.is_empty() {
        return notes;
    }
    // The bots no answer settled are read: whichever costs fewer requests, one show each or
    // the list (100 a page).
    let unanswered: Vec<i64> = touched
        .iter()
        .map(|(_, _, id)| *id)
        .filter(|id| answers.of(*id).is_none())
        .collect();
    let pages = bots_before / crate::threecommas::client::BOTS_PAGE_LIMIT + 1;
    let read = if unanswered.is_empty() {
        Ok(Vec::new())
    } else if unanswered.len() <= pages {
        let mut shown = Vec::new();
        for id in &unanswered {
            match client.bot(*id).await {
                Ok(bot) => shown.push(bot.to_model()),
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    notes.push((
                        None,
                        format!("could not read bot {id} back to verify it: {e}"),
                    ));
                    return notes;
                }
            }
        }
        Ok(shown)
    } else {
        client
            .bots(BotsFilter::default())
            .await
            .map(|list| list.bots)
    };
    let mut bots = match read {
        Ok(bots) => bots,
        Err(e) => {
            notes.push((
                None,
                format!("could not read the bots back to verify them: {e}"),
            ));
            return notes;
        }
    };
    bots.extend(
        touched
            .iter()
            .filter(|(_, _, id)| !unanswered.contains(id))
            .filter_map(|(_, _, id)| answers.of(*id)),
    );
    for (index, change, id) in touched {
        let Some(bot) = bots.iter().find(|b| b.id == id) else {
            notes.push((Some(index), "not found when reading back".to_string()));
            continue;
        };
        if let Some(enable) = change.enable
            && bot.is_enabled != enable
        {
            notes.push((
                Some(index),
                format!(
                    "3Commas shows the bot {} after it was turned {}",
                    if bot.is_enabled {
                        "enabled"
                    } else {
                        "disabled"
                    },
                    if enable { "on" } else { "off" }
                ),
            ));
        }
        let have = comparable(&bot.settings);
        if let Some(settings) = &change.settings {
            for (field, want) in comparable(settings) {
                let got = have.get(&field);
                if got != Some(&want) {
                    notes.push((
                        Some(index),
                        format!(
                            "3Commas did not take `{field}`: sent {}, it has {}",
                            super::change::show(&want),
                            got.map(super::change::show)
                                .unwrap_or_else(|| "nothing".into())
                        ),
                    ));
                }
            }
        }
    }
    notes
}
