//! The MCP `backtest` tool: the same backtest as `botform backtest`, on the config under the root,
//! so an assistant can compare variants of a bot before proposing a diff. Bounded like every
//! answer: as many results as fit, and a count of the rest.

use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::{tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{BotformServer, budget, paths};
use crate::simulate::report::{self, BacktestReport, Options, Prices};
use crate::simulate::{AssumeStart, Assumptions, FeeSource, Intrabar, download, synthetic};

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BacktestArgs {
    /// Bots to backtest, by name (any case). Empty: every bot.
    #[serde(default)]
    pub bots: Vec<String>,
    /// Instead of `bots`: the config bots a selector selects.
    pub selector: Option<crate::engine::selector::Selector>,
    /// Instead: each bot a plan creates or updates, as live and as planned.
    #[serde(default)]
    pub plan_id: String,
    /// `live`: plan the chosen bots and compare each as live and as planned (the plan is kept).
    #[serde(default)]
    pub compare: String,
    /// Seeded random paths: `paths=200,vol=80,days=90,interval=5m,seed=7`.
    #[serde(default)]
    pub synthetic: String,
    /// Or candle CSV files or directories under the root (`USDT_BTC.csv` per pair).
    #[serde(default)]
    pub candles: Vec<String>,
    /// Or `binance`/`bybit`: each pair's candles `from`..`to`, cached or downloaded.
    #[serde(default)]
    pub candles_from: String,
    /// With candles_from: 5m (default), 1h, 1d, ...
    #[serde(default)]
    pub interval: String,
    /// Fee in percent of every fill and sale (default 0; with candles_from, that exchange's).
    #[serde(default)]
    pub fee: String,
    /// Take signal start conditions (TradingView, manual, QFL) as always met.
    #[serde(default)]
    pub assume_nonstop: bool,
    /// The quote balance for volumes in percent of the balance.
    #[serde(default)]
    pub balance: String,
    /// Path inside a candle: worst (default), best, low-first, high-first, tradingview.
    #[serde(default)]
    pub intrabar: String,
    /// First and last candle times (ISO 8601 or dates); empty: all.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BacktestAnswer {
    pub report: BacktestReport,
    /// With `plan_id` or `compare`: each changed bot's figures before, after and the change,
    /// on the same prices.
    pub comparisons: Vec<crate::simulate::report::Comparison>,
    /// The bots' changes added up (see `report::total_delta`).
    pub total: Option<crate::simulate::report::Summary>,
    /// With `compare`: the plan compared, kept for `show_plan` and `apply`.
    pub plan_id: String,
    pub plan_hash: String,
    /// What did not fit, and how to get it.
    pub more: String,
}

pub(super) fn time(text: &str, what: &str) -> Result<Option<i64>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    crate::timefmt::parse_iso(text)
        .map(|s| Some(s * 1000))
        .ok_or_else(|| {
            format!(
                "{what} `{}`: a date (2025-01-31) or an ISO 8601 time",
                crate::diagnostic::quote_input(text)
            )
        })
}

#[tool_router(router = backtesting_router, vis = "pub(super)")]
impl BotformServer {
    /// Backtest config bots offline on candles or seeded paths (indicators as 3Commas computes
    /// them): deals, profit after fees, capital, drawdown.
    #[tool(
        title = "Backtest bots",
        annotations(
            title = "Backtest bots",
            read_only_hint = true,
            destructive_hint = false,
            open_world_hint = false,
            idempotent_hint = true
        )
    )]
    async fn backtest(
        &self,
        Parameters(args): Parameters<BacktestArgs>,
        context: rmcp::service::RequestContext<rmcp::RoleServer>,
    ) -> Result<Json<BacktestAnswer>, String> {
        // A client that cancels the call stops the simulation at its next bot or path.
        let (cancel, watch) = cancel_on_cancelled(&context);
        let answer = self.backtest_with(args, cancel).await;
        watch.abort();
        answer
    }
}

impl BotformServer {
    async fn backtest_with(
        &self,
        args: BacktestArgs,
        cancel: crate::simulate::report::Cancel,
    ) -> Result<Json<BacktestAnswer>, String> {
        let checked = crate::config::check_confined(&self.inner.root);
        if !checked.is_valid() {
            return Err(format!(
                "the config has {} errors: call `validate` and fix them first",
                checked.error_count()
            ));
        }
        let bots = match &args.selector {
            Some(_) if !args.bots.is_empty() => {
                return Err("give `bots` or `selector`, not both".into());
            }
            Some(selector) => self.selected_config_names(selector, &checked).await?,
            None => args.bots.clone(),
        };
        let (from_ms, to_ms) = (time(&args.from, "from")?, time(&args.to, "to")?);
        let (prices, fee_percentage, fee_source) = self
            .prices(
                &PriceChoice {
                    synthetic: &args.synthetic,
                    candles: &args.candles,
                    candles_from: &args.candles_from,
                    interval: &args.interval,
                    fee: &args.fee,
                    from_ms,
                    to_ms,
                },
                &checked,
                &bots,
            )
            .await?;
        let options = Options {
            cancel: cancel.clone(),
            limits: Default::default(),
            detail: Vec::new(),
            prices,
            bots: bots.clone(),
            from_ms,
            to_ms,
            list_deals: false,
            charts: false,
            assumptions: Assumptions {
                fee_percentage,
                fee_source,
                start: if args.assume_nonstop {
                    AssumeStart::Nonstop
                } else {
                    AssumeStart::AsConfigured
                },
                intrabar: match args.intrabar.as_str() {
                    "" => Intrabar::Worst,
                    name => <Intrabar as clap::ValueEnum>::from_str(name, true).map_err(|_| {
                        format!(
                            "intrabar `{}`: worst, best, low-first, high-first or tradingview",
                            crate::diagnostic::quote_input(name)
                        )
                    })?,
                },
                balance: if args.balance.is_empty() {
                    None
                } else {
                    Some(args.balance.parse().map_err(|_| {
                        format!(
                            "balance `{}` is not a number",
                            crate::diagnostic::quote_input(&args.balance)
                        )
                    })?)
                },
            },
        };
        match (args.plan_id.as_str(), args.compare.as_str()) {
            ("", "") => {}
            (plan_id, "") => return self.compare_plan(plan_id, &checked, options).await,
            ("", "live") => {
                let planned = self.plan_of(&bots).await?;
                return self.compare_plan(&planned.plan_id, &checked, options).await;
            }
            ("", other) => {
                return Err(format!(
                    "compare `{}`: `live` (or give a `plan_id`)",
                    crate::diagnostic::quote_input(other)
                ));
            }
            _ => return Err("give `plan_id` or `compare`, not both".into()),
        }
        // Blocking work (files, the simulation) off the async runtime.
        let mut report = tokio::task::spawn_blocking(move || report::backtest(&checked, &options))
            .await
            .map_err(|e| e.to_string())??;
        let (results, stress, bots) =
            (report.results.len(), report.stress.len(), report.bots.len());
        // Equity curves (up to 400 points a bot) are for charts: the CLI's JSON and --html
        // carry them; here each bot keeps its figures without the curve.
        let curves = report.bots.iter().any(|b| !b.figures.equity.is_empty());
        for bot in &mut report.bots {
            bot.figures.equity.clear();
        }
        budget::fit(&mut report.results, budget::ANSWER_BUDGET / 3);
        budget::fit(&mut report.stress, budget::ANSWER_BUDGET / 6);
        budget::fit(&mut report.bots, budget::ANSWER_BUDGET / 6);
        let left = (results - report.results.len())
            + (stress - report.stress.len())
            + (bots - report.bots.len());
        let mut more = Vec::new();
        if left > 0 {
            more.push(format!(
                "{left} more results did not fit: name fewer `bots`"
            ));
        }
        if curves {
            more.push(
                "equity curves are left out: `botform backtest --format json` or `--html FILE` has them"
                    .to_string(),
            );
        }
        let more = more.join("; ");
        let root = format!("{}/", self.inner.root.display());
        for w in &mut report.warnings {
            *w = w.replace(&root, "");
        }
        Ok(Json(BacktestAnswer {
            report,
            comparisons: Vec::new(),
            total: None,
            plan_id: String::new(),
            plan_hash: String::new(),
            more,
        }))
    }
}

impl BotformServer {
    /// `backtest {plan_id}`: each bot the plan creates or updates, as it is live and as the plan
    /// leaves it, on the same prices, each at its account's usual fee when none is given.
    async fn compare_plan(
        &self,
        plan_id: &str,
        checked: &crate::config::Checked,
        options: Options,
    ) -> Result<Json<BacktestAnswer>, String> {
        let stored = self
            .inner
            .plans
            .lock()
            .await
            .get(plan_id)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "unknown plan_id `{}`: make the plan again",
                    crate::diagnostic::quote_input(plan_id)
                )
            })?;
        let stored_hash = stored.hash.clone();
        if crate::engine::history::files_of(checked, &self.inner.root) != stored.files {
            return Err("the config changed since this plan was made: make the plan again".into());
        }
        let markets: std::collections::BTreeMap<i64, String> = self
            .live()
            .await?
            .accounts
            .iter()
            .filter_map(|a| Some((a.id, a.market_code.clone()?)))
            .collect();
        let desired = crate::engine::desired::from_checked(checked);
        let assumptions = options.assumptions.clone();
        // On candles, each changed bot's orders round to its exchange's steps.
        let (limits, lookups) = match options.prices {
            report::Prices::Files(_) => {
                let target = self.target().await?;
                crate::engine::limits::for_plan(&target.client, &stored.plan, &desired, &markets)
                    .await
            }
            report::Prices::Synthetic(_) => Default::default(),
        };
        let (comparisons, mut notes) = tokio::task::spawn_blocking(move || {
            crate::engine::backtest::compare_plan(
                &stored.plan,
                &desired,
                &options,
                &markets,
                &limits,
            )
        })
        .await
        .map_err(|e| e.to_string())??;
        notes.extend(lookups);
        let mut report = BacktestReport::empty(&assumptions);
        report.warnings = notes;
        budget::fit(&mut report.warnings, budget::ANSWER_BUDGET / 8);
        let mut comparisons = comparisons;
        let total = report::total_delta(&comparisons);
        // The person confirming this plan sees the comparison with it.
        if let Some(kept) = self.inner.plans.lock().await.get_mut(plan_id) {
            kept.backtest = report::comparison_line(&comparisons);
        }
        let all = comparisons.len();
        budget::fit(&mut comparisons, budget::ANSWER_BUDGET / 2);
        let mut more = vec![format!(
            "plan `{plan_id}` is kept: `show_plan` shows it, `apply` (with plan_hash) applies it, and its confirmation carries this comparison"
        )];
        if all == 0 {
            more.push("the plan creates or updates no bot: nothing to compare".into());
        } else if comparisons.len() < all {
            more.push(format!(
                "{} more bots compared did not fit (`total` counts them): choose fewer bots",
                all - comparisons.len()
            ));
        }
        Ok(Json(BacktestAnswer {
            report,
            comparisons,
            total,
            plan_id: plan_id.to_string(),
            plan_hash: stored_hash,
            more: more.join("; "),
        }))
    }
}

/// A flag the simulation checks, set when the client cancels the call; abort the task after.
pub(super) fn cancel_on_cancelled(
    context: &rmcp::service::RequestContext<rmcp::RoleServer>,
) -> (crate::simulate::report::Cancel, tokio::task::JoinHandle<()>) {
    let cancel = crate::simulate::report::Cancel::default();
    let watch = {
        let (cancel, ct) = (cancel.clone(), context.ct.clone());
        tokio::spawn(async move {
            ct.cancelled().await;
            cancel.cancel();
        })
    };
    (cancel, watch)
}

/// Where a tool's prices come from: exactly one of seeded paths, candle files under the root, or
/// an exchange's candles (cached or downloaded); the fee. Shared by `backtest` and `optimize`.
pub(super) struct PriceChoice<'a> {
    pub synthetic: &'a str,
    pub candles: &'a [String],
    pub candles_from: &'a str,
    pub interval: &'a str,
    pub fee: &'a str,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
}

impl BotformServer {
    /// The prices a tool call chose, the fee (the exchange's usual one with `candles_from` and
    /// no fee given), and where the fee came from.
    pub(super) async fn prices(
        &self,
        choice: &PriceChoice<'_>,
        checked: &crate::config::Checked,
        bots: &[String],
    ) -> Result<(Prices, crate::model::decimal::Decimal, FeeSource), String> {
        let mut exchange = None;
        let prices = match (
            choice.synthetic.is_empty(),
            choice.candles.is_empty(),
            choice.candles_from.is_empty(),
        ) {
            (false, true, true) => Prices::Synthetic(synthetic::parse(choice.synthetic)?),
            (true, false, true) => Prices::Files(
                choice
                    .candles
                    .iter()
                    .map(|c| paths::resolve(&self.inner.root, c))
                    .collect::<Result<_, _>>()?,
            ),
            (true, true, false) => {
                let from_exchange =
                    download::Exchange::named(choice.candles_from).ok_or_else(|| {
                        format!(
                            "candles_from `{}`: binance or bybit",
                            crate::diagnostic::quote_input(choice.candles_from)
                        )
                    })?;
                exchange = Some(from_exchange);
                Prices::Files(vec![
                    self.download(from_exchange, choice, checked, bots).await?,
                ])
            }
            _ => {
                return Err("give exactly one of `synthetic`, `candles` or `candles_from`".into());
            }
        };
        let (fee, source) = match (choice.fee, exchange) {
            ("", Some(exchange)) => exchange.usual_fee(),
            ("", None) => (Default::default(), FeeSource::NotGiven),
            (fee, _) => (
                fee.parse().map_err(|_| {
                    format!(
                        "fee `{}` is not a number",
                        crate::diagnostic::quote_input(fee)
                    )
                })?,
                FeeSource::Given,
            ),
        };
        Ok((prices, fee, source))
    }

    /// `candles_from`: every pair of the chosen bots into the cache (what is cached is not
    /// fetched again); the cache folder to read. The call's heartbeats keep the client waiting.
    async fn download(
        &self,
        exchange: download::Exchange,
        choice: &PriceChoice<'_>,
        checked: &crate::config::Checked,
        bots: &[String],
    ) -> Result<std::path::PathBuf, String> {
        let interval = if choice.interval.is_empty() {
            "5m"
        } else {
            choice.interval
        };
        let interval_ms = synthetic::interval_ms(interval).ok_or_else(|| {
            format!(
                "interval `{}`: like 5m, 1h or 1d",
                crate::diagnostic::quote_input(interval)
            )
        })?;
        let from_ms = choice.from_ms.ok_or("candles_from needs `from` (a date)")?;
        let now = crate::timefmt::now_unix() * 1000;
        let to_ms = choice.to_ms.unwrap_or(now).min(now);
        let pairs = download::pairs_of(checked, bots);
        download::fetch_pairs(exchange, &pairs, interval_ms, from_ms, to_ms, &|_, _| {}).await
    }
}
