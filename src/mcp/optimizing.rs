//! The MCP `optimize` tool: `botform optimize` on the config under the root, for one bot. It
//! sends progress (candidates done of all, the best so far), stops when the client cancels the
//! call (keeping what it found), and answers the 5 best out of sample beside the current config
//! with a `set_fields` call ready to propose. It never writes: the person decides, through
//! `set_fields`, `validate`, `plan` and `apply`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::BotformServer;
use super::backtesting::{PriceChoice, cancel_on_cancelled, time};
use crate::model::decimal::Decimal;
use crate::optimize::{self, DrawdownCap, Objective, Shard, Space, Study, report, search};
use crate::simulate::report::Cancel;
use crate::simulate::{AssumeStart, Assumptions, Intrabar};

/// Rows of the walk-forward table an answer carries (the CLI prints 10).
pub const TOP_ANSWERED: usize = 5;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizeArgs {
    /// The DCA bot's exact name (another case if unique).
    pub bot: String,
    /// Its account alias, when two bots share the name.
    #[serde(default)]
    pub account: String,
    /// Settings and ranges, `["take_profit=0.8..3", "max_safety_orders=3..8"]`; empty: the ladder.
    #[serde(default)]
    pub vary: Vec<String>,
    /// profit-per-capital (default), profit, sortino, capped-profit.
    #[serde(default)]
    pub objective: String,
    #[serde(default)]
    pub constraints: Constraints,
    /// Seeded paths (`paths=1,vol=80,days=365,seed=7`), or candle CSVs under the root, or
    /// `binance`/`bybit` with from/to.
    #[serde(default)]
    pub synthetic: String,
    #[serde(default)]
    pub candles: Vec<String>,
    #[serde(default)]
    pub candles_from: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    /// Percent (default 0; with candles_from, that exchange's).
    #[serde(default)]
    pub fee: String,
    /// 0 (default): 4 folds, 729 trials, seed 1.
    #[serde(default)]
    pub folds: u32,
    #[serde(default)]
    pub trials: u64,
    #[serde(default)]
    pub seed: u64,
    /// Propose the change for the bot's template.
    #[serde(default)]
    pub template: bool,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// In sample: quote (`"300"`) or percent of the bot's capital (`"25%"`).
    #[serde(default)]
    pub max_drawdown: String,
    /// The least price move the ladder covers, in percent.
    #[serde(default)]
    pub min_coverage: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct OptimizeAnswer {
    pub report: report::Report,
    /// The winner as a call to propose (only when it beats the current config out of sample).
    pub set_fields: Option<Proposal>,
    pub next: String,
}

/// A tool call an assistant can make as it stands, once the person agrees.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Proposal {
    /// `set_fields`.
    pub tool: String,
    pub arguments: serde_json::Map<String, serde_json::Value>,
}

/// What a running search has done, read by the progress task.
#[derive(Default)]
struct Done {
    done: AtomicU64,
    total: AtomicU64,
    /// The best in-sample objective of a finalist so far.
    best: std::sync::Mutex<Option<Decimal>>,
}

impl search::Progress for Done {
    fn advanced(&self, done: u64, total: u64, best: Option<Decimal>) {
        self.done.store(done, Ordering::Relaxed);
        self.total.store(total, Ordering::Relaxed);
        *self.best.lock().unwrap_or_else(|e| e.into_inner()) = best;
    }
}

#[tool_router(router = optimizing_router, vis = "pub(super)")]
impl BotformServer {
    /// Search one bot's settings on candles (walk-forward, validated candidates); answers the
    /// top 5 out of sample and a set_fields call to propose. Never writes.
    #[tool(
        title = "Optimize a bot",
        annotations(
            title = "Optimize a bot",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = false,
            idempotent_hint = true
        )
    )]
    async fn optimize(
        &self,
        Parameters(args): Parameters<OptimizeArgs>,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<Json<OptimizeAnswer>, String> {
        // The client's cancel stops the search within a candidate; progress goes out at each
        // heartbeat.
        let (cancel, watch) = cancel_on_cancelled(&context);
        let done = Arc::new(Done::default());
        let beats = {
            let (server, context, done) = (self.clone(), context.clone(), done.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(super::heartbeat()).await;
                    let (n, total) = (
                        done.done.load(Ordering::Relaxed),
                        done.total.load(Ordering::Relaxed),
                    );
                    let best = *done.best.lock().unwrap_or_else(|e| e.into_inner());
                    let message = format!(
                        "optimize: {n} of {total} candidates, best in sample {}",
                        best.map_or("-".into(), |b| b.round_dp(2).to_string())
                    );
                    server
                        .beat(
                            &context,
                            n as f64,
                            (total > 0).then_some(total as f64),
                            message,
                        )
                        .await;
                }
            })
        };
        let answer = self.optimize_with(args, cancel, done).await;
        watch.abort();
        beats.abort();
        answer
    }
}

impl BotformServer {
    async fn optimize_with(
        &self,
        args: OptimizeArgs,
        cancel: Cancel,
        done: Arc<Done>,
    ) -> Result<Json<OptimizeAnswer>, String> {
        let checked = crate::config::check_confined(&self.inner.root);
        if !checked.is_valid() {
            return Err(format!(
                "the config has {} errors: call `validate` and fix them first",
                checked.error_count()
            ));
        }
        let (from_ms, to_ms) = (time(&args.from, "from")?, time(&args.to, "to")?);
        let bots = vec![args.bot.clone()];
        let (prices, fee, fee_source) = self
            .prices(
                &PriceChoice {
                    synthetic: &args.synthetic,
                    candles: &args.candles,
                    candles_from: &args.candles_from,
                    interval: "",
                    fee: &args.fee,
                    from_ms,
                    to_ms,
                },
                &checked,
                &bots,
            )
            .await?;
        let objective = match args.objective.as_str() {
            "" => Objective::ProfitPerCapital,
            name => Objective::named(name).ok_or_else(|| {
                format!(
                    "objective `{}`: profit-per-capital, profit, sortino or capped-profit",
                    crate::diagnostic::quote_input(name)
                )
            })?,
        };
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let study = Study {
            bot: args.bot.clone(),
            account: non_empty(&args.account),
            space: Space::parse(&args.vary)?,
            objective,
            max_drawdown: non_empty(&args.constraints.max_drawdown)
                .as_deref()
                .map(DrawdownCap::parse)
                .transpose()?,
            min_coverage: non_empty(&args.constraints.min_coverage)
                .map(|t| {
                    t.parse::<Decimal>().map_err(|_| {
                        format!(
                            "min_coverage `{}` is not a number",
                            crate::diagnostic::quote_input(&t)
                        )
                    })
                })
                .transpose()?,
            folds: if args.folds == 0 { 4 } else { args.folds },
            trials: if args.trials == 0 { 729 } else { args.trials },
            seed: if args.seed == 0 { 1 } else { args.seed },
            into_template: args.template,
            fee_percentage: fee,
            intrabar: Intrabar::Worst.name().into(),
        };
        let assumptions = Assumptions {
            fee_percentage: fee,
            fee_source,
            start: AssumeStart::AsConfigured,
            balance: None,
            intrabar: Intrabar::Worst,
        };
        let root = self.inner.root.clone();
        let (report, template) = tokio::task::spawn_blocking(move || {
            let (evaluator, _) =
                optimize::prepare(&checked, study, &prices, (from_ms, to_ms), assumptions)?;
            let records = search::run(
                &evaluator,
                Shard::ALL,
                evaluator.fingerprint(),
                &cancel,
                done.as_ref(),
            )?;
            let (_, report) = report::of_run(&evaluator, &records);
            let template = checked
                .bots
                .iter()
                .find(|b| b.name() == evaluator.bot_name)
                .and_then(|b| checked.config.bots[b.index].template.clone());
            Ok::<_, String>((report, template))
        })
        .await
        .map_err(|e| e.to_string())??;
        let mut report = report;
        for w in &mut report.refusals {
            *w = w.replace(&format!("{}/", root.display()), "");
        }
        let ranked = report.top.len();
        report.top.truncate(TOP_ANSWERED);
        let set_fields = (report.winner_beats_current && !report.changes.is_empty()).then(|| {
            let mut arguments = serde_json::Map::new();
            match (args.template, template) {
                (true, Some(t)) => {
                    arguments.insert("template".into(), t.into());
                }
                _ => {
                    arguments.insert("bots".into(), serde_json::json!([report.bot]));
                    if !args.account.is_empty() {
                        arguments.insert("on_account".into(), report.account.clone().into());
                    }
                }
            }
            arguments.insert("fields".into(), report.changes.clone().into());
            Proposal {
                tool: "set_fields".into(),
                arguments,
            }
        });
        let next = match &set_fields {
            Some(_) => format!(
                "{} of the {ranked} best in sample shown. Show the person the table and the verdict; if they agree, call set_fields with `set_fields.arguments`, then validate, plan and (on their approval) apply.",
                report.top.len()
            ),
            None => "nothing to propose: the winner does not beat the current config out of sample (or nothing was scored); say so to the person".into(),
        };
        Ok(Json(OptimizeAnswer {
            report,
            set_fields,
            next,
        }))
    }
}
