//! Applies that outlast a client's request timeout. Many MCP clients give up on a tool call after
//! about 60 seconds, and 100 creates take about two minutes within 3Commas' rate limits. So an
//! apply runs as a background task of the server: the `apply` call reports progress
//! (notifications with the count done, where the client asked for them) and waits up to
//! [`wait_limit`]; if the apply is not done by then it answers with an `apply_id`, and
//! `apply_status` follows it (waiting the same way) until it ends. The apply itself holds the
//! account's lease throughout, as the CLI's does, and never stops half-way because a client left.

#![allow(deprecated)] // rmcp marks logging deprecated (SEP-2577); it still works.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::{RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, watch};

use super::{BotformServer, budget};
use crate::engine::apply::{self, ApplyError, ApplyOptions, ApplyReport};
use crate::engine::plan::Plan;

/// How long one `apply` or `apply_status` call waits for the apply to end before answering
/// with its progress: below the 60 s many clients allow a request. `BOTFORM_MCP_APPLY_WAIT_S`
/// overrides it. Zero makes the answers event-driven rather than timed, so tests never race
/// the clock: `apply` answers at once with the state before any write (never finished), and each
/// `apply_status` answers at the apply's next progress event (or its end).
pub fn wait_limit() -> Duration {
    std::env::var("BOTFORM_MCP_APPLY_WAIT_S")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(40))
}

/// Ended applies kept for `apply_status` before they are forgotten (running ones always are).
const KEPT_APPLIES: usize = 32;

/// An apply's state, as its watchers see it.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// The plan's target line (see `render::target_line`).
    pub target: String,
    pub done: usize,
    pub total: usize,
    /// The latest progress line.
    pub last: String,
    /// Set when the apply has ended.
    pub outcome: Option<Ended>,
}

#[derive(Debug, Clone)]
pub struct Ended {
    pub answer: ApplyAnswer,
    pub failed: bool,
}

/// The applies this server runs or ran, by apply_id.
#[derive(Default)]
pub struct Applies {
    runs: Mutex<HashMap<String, watch::Receiver<Progress>>>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ApplyAnswer {
    /// Where the apply acts, in which mode, and whether Forced-Mode is sent.
    pub target: String,
    pub apply_id: String,
    /// False while the apply still runs in the background: call `apply_status`.
    pub finished: bool,
    pub done: usize,
    pub total: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// Each change's outcome, as many as fit (failures first).
    pub outcomes: Vec<String>,
    /// Fields 3Commas did not take, found when reading back.
    pub warnings: Vec<String>,
    pub next: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplyStatusArgs {
    /// From `apply`.
    pub apply_id: String,
}

/// The answer for an apply that ended.
fn ended(
    target: &str,
    apply_id: &str,
    report: &ApplyReport,
    relativize: impl Fn(String) -> String,
) -> Ended {
    let mut outcomes: Vec<String> = report
        .outcomes
        .iter()
        .filter(|o| o.result.is_err())
        .chain(report.outcomes.iter().filter(|o| o.result.is_ok()))
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
                relativize(line)
            }
        })
        .collect();
    let total = outcomes.len();
    let shown = budget::fit(&mut outcomes, budget::ANSWER_BUDGET / 3);
    let mut warnings = report.not_taken.clone();
    budget::fit(&mut warnings, budget::ANSWER_BUDGET / 8);
    let failed = report.failures();
    let mut next = if failed > 0 {
        "Some changes failed: call `plan` to see what is left.".to_string()
    } else {
        "Apply complete. Call `plan` to confirm: it should find no changes.".to_string()
    };
    if shown < total {
        next.push_str(&format!(
            " ({} more outcomes not listed: `plan` shows what is left)",
            total - shown
        ));
    }
    Ended {
        failed: failed > 0,
        answer: ApplyAnswer {
            target: target.to_string(),
            apply_id: apply_id.to_string(),
            finished: true,
            done: total,
            total,
            succeeded: total - failed,
            failed,
            outcomes,
            warnings,
            next,
        },
    }
}

/// The answer for a plan with nothing to apply: finished before it began.
pub(super) fn nothing_to_apply(target: &str) -> CallToolResult {
    let answer = refused(target, "", "No changes to apply.".to_string()).answer;
    let mut result = CallToolResult::success(vec![ContentBlock::text(answer.next.clone())]);
    result.structured_content = serde_json::to_value(&answer).ok();
    result
}

fn refused(target: &str, apply_id: &str, why: String) -> Ended {
    Ended {
        failed: true,
        answer: ApplyAnswer {
            target: target.to_string(),
            apply_id: apply_id.to_string(),
            finished: true,
            done: 0,
            total: 0,
            succeeded: 0,
            failed: 0,
            outcomes: Vec::new(),
            warnings: Vec::new(),
            next: why,
        },
    }
}

impl BotformServer {
    /// Start applying `plan` in the background; returns its apply_id.
    pub(super) async fn start_apply(
        &self,
        plan: Plan,
        files: std::collections::BTreeMap<String, String>,
        options: ApplyOptions,
    ) -> String {
        let apply_id = format!("apply-{}", &plan.hash()[..12]);
        let total = plan.changes.len();
        let target = crate::engine::render::target_line(&plan);
        let (tx, rx) = watch::channel(Progress {
            target: target.clone(),
            total,
            ..Progress::default()
        });
        {
            // Remember the running ones and the newest ended ones: a long session's ended
            // applies do not pile up.
            let mut runs = self.inner.applies.runs.lock().await;
            if runs.len() >= KEPT_APPLIES {
                runs.retain(|_, r| r.borrow().outcome.is_none());
            }
            runs.insert(apply_id.clone(), rx);
        }
        let server = self.clone();
        let id = apply_id.clone();
        tokio::spawn(async move {
            let tx = Arc::new(tx);
            let progress: Arc<dyn Fn(String) + Send + Sync> = {
                let tx = tx.clone();
                Arc::new(move |line: String| {
                    tracing::info!("{line}");
                    tx.send_modify(|p| {
                        if let Some((done, total)) = apply::progress_counts(&line) {
                            p.done = done;
                            p.total = total;
                        }
                        p.last = line;
                    });
                })
            };
            // Reads from before the apply, or during it, must not serve after it.
            server.wrote();
            let outcome = match server.target().await {
                Err(e) => refused(&target, &id, e),
                Ok(live) => match apply::apply(live, &plan, &options, progress, None).await {
                    Ok(report) => {
                        let mut ended = ended(&target, &id, &report, |t| server.relativize(t));
                        let history = crate::engine::history::History::of_root(&server.inner.root);
                        ended.answer.next.push_str(&match history.record(
                            "mcp",
                            &plan,
                            &report,
                            Some(&files),
                        ) {
                            Ok(record) => format!(
                                " Recorded in the history as {record}: `revert` with it undoes this apply."
                            ),
                            Err(e) => {
                                tracing::warn!("the apply's history record: {e}");
                                " (Not recorded in the history: botform's state dir could not be written.)".to_string()
                            }
                        });
                        ended
                    }
                    Err(ApplyError::Refused(r)) => refused(&target, &id, r.to_string()),
                    Err(ApplyError::Api(e)) => refused(&target, &id, e.to_string()),
                    Err(ApplyError::Lease(e)) => refused(
                        &target,
                        &id,
                        format!("cannot take the account's lease: {e}"),
                    ),
                },
            };
            server.wrote();
            tx.send_modify(|p| p.outcome = Some(outcome));
        });
        apply_id
    }

    /// Follow an apply until it ends or [`wait_limit`] passes, sending progress notifications
    /// when the client gave a progress token. `first` is the `apply` call's own answer: with a
    /// zero wait limit it reports the state the apply started from, before any write.
    pub(super) async fn follow(
        &self,
        apply_id: &str,
        context: &RequestContext<RoleServer>,
        first: bool,
    ) -> Result<CallToolResult, String> {
        let Some(mut rx) = self.inner.applies.runs.lock().await.get(apply_id).cloned() else {
            return Err(format!(
                "unknown apply_id `{}`",
                crate::diagnostic::quote_input(apply_id)
            ));
        };
        let token = context.meta.get_progress_token();
        let limit = wait_limit();
        let event_driven = limit.is_zero();
        if event_driven && !first {
            // Answer at the next event: wait for it without a clock (every apply ends). The
            // clone carries the kept receiver's version, older than what this caller saw: mark
            // the current state seen, or every call would answer at once.
            rx.mark_unchanged();
            let now = rx.borrow().clone();
            if now.outcome.is_none() {
                let _ = self.changed_or_beat(&mut rx, context, &now, None).await;
            }
        }
        let deadline = tokio::time::Instant::now() + limit;
        let mut sent = usize::MAX;
        // With event-driven answers, `apply` answers with the state before any write: built
        // here, so it cannot have ended, however fast the apply runs.
        let mut started_from = (first && event_driven).then(|| Progress {
            target: rx.borrow().target.clone(),
            total: rx.borrow().total,
            ..Progress::default()
        });
        loop {
            let now = started_from
                .take()
                .unwrap_or_else(|| rx.borrow_and_update().clone());
            if now.done != sent
                && !now.last.is_empty()
                && self.log_enabled(context, LoggingLevel::Info).await
            {
                let _ = context
                    .peer
                    .notify_logging_message(
                        LoggingMessageNotificationParam::new(
                            LoggingLevel::Info,
                            serde_json::Value::String(now.last.clone()),
                        )
                        .with_logger("botform.apply"),
                    )
                    .await;
            }
            if let Some(token) = &token
                && now.done != sent
            {
                let _ = context
                    .peer
                    .notify_progress(
                        ProgressNotificationParam::new(token.clone(), now.done as f64)
                            .with_total(now.total as f64)
                            .with_message(now.last.clone()),
                    )
                    .await;
            }
            sent = now.done;
            if let Some(ended) = now.outcome {
                let text = serde_json::to_string(&ended.answer).unwrap_or_default();
                let mut result = if ended.failed {
                    CallToolResult::error(vec![ContentBlock::text(text)])
                } else {
                    CallToolResult::success(vec![ContentBlock::text(text)])
                };
                result.structured_content = serde_json::to_value(&ended.answer).ok();
                return Ok(result);
            }
            let waited = if event_driven {
                Err(())
            } else {
                self.changed_or_beat(&mut rx, context, &now, Some(deadline))
                    .await
            };
            match waited {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => return Err("the apply task ended without a result".into()),
                Err(_) => {
                    let answer = ApplyAnswer {
                        target: now.target.clone(),
                        apply_id: apply_id.to_string(),
                        finished: false,
                        done: now.done,
                        total: now.total,
                        succeeded: 0,
                        failed: 0,
                        outcomes: vec![now.last.clone()],
                        warnings: Vec::new(),
                        next: format!(
                            "still applying in the background ({} of {} done): call `apply_status` with apply_id `{apply_id}` to follow it. It holds the account's lease: no other apply writes meanwhile.",
                            now.done, now.total
                        ),
                    };
                    let mut result = CallToolResult::success(vec![ContentBlock::text(
                        serde_json::to_string(&answer).unwrap_or_default(),
                    )]);
                    result.structured_content = serde_json::to_value(&answer).ok();
                    return Ok(result);
                }
            }
        }
    }
}

impl BotformServer {
    /// Wait for the apply's next event, or until `deadline` (`Err`); meanwhile a heartbeat
    /// every [`super::heartbeat`], so the client never sits silent near its timeout (a
    /// rate-limit wait can last a minute). Its progress rises within the step (done + 1/2,
    /// + 2/3, ...), below the next one.
    async fn changed_or_beat(
        &self,
        rx: &mut watch::Receiver<Progress>,
        context: &RequestContext<RoleServer>,
        now: &Progress,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Result<(), watch::error::RecvError>, ()> {
        let (mut beats, every) = (0u32, super::heartbeat());
        loop {
            let next_beat = tokio::time::Instant::now() + every;
            let beat_at = deadline.map_or(next_beat, |d| next_beat.min(d));
            match tokio::time::timeout_at(beat_at, rx.changed()).await {
                Ok(changed) => return Ok(changed),
                Err(_) if deadline.is_none_or(|d| beat_at < d) => {
                    beats += 1;
                    let within = 1.0 - 1.0 / f64::from(beats + 1);
                    self.beat(
                        context,
                        now.done as f64 + within,
                        Some(now.total as f64),
                        format!(
                            "still applying: {} of {} done, waiting on 3Commas",
                            now.done, now.total
                        ),
                    )
                    .await;
                }
                Err(_) => return Err(()),
            }
        }
    }
}

#[tool_router(router = applying_router, vis = "pub(super)")]
impl BotformServer {
    /// Follow a running apply: waits up to 40 s, then the count done, or every outcome once ended.
    #[tool(
        title = "Apply status",
        output_schema = rmcp::handler::server::common::schema_for_output::<ApplyAnswer>(),
        annotations(
            title = "Apply status",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = false,
            idempotent_hint = true
        )
    )]
    async fn apply_status(
        &self,
        context: RequestContext<RoleServer>,
        Parameters(args): Parameters<ApplyStatusArgs>,
    ) -> Result<CallToolResult, String> {
        self.follow(&args.apply_id, &context, false).await
    }
}
