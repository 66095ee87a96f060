//! The steps every front end takes, in one place: check the config, connect, read, plan; and the
//! saved plan file that carries a reviewed plan to `apply`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::desired::{self, Desired};
use super::plan::{self, Action, Plan, PlanProblem};
use super::target::{self, Target};
use crate::config::{self, Checked};
use crate::threecommas::ApiError;

pub enum WorkflowError {
    /// The config has errors: nothing was read from 3Commas.
    Invalid(Box<Checked>),
    Api(Box<ApiError>),
    /// The live state cannot be matched to the config.
    Problems(Vec<PlanProblem>),
    /// `--target` names no bot of the config: each name, with a "did you mean" where one is close.
    UnknownTargets(Vec<String>),
    /// The request is not safe to plan (prune over part of the config).
    Refused(String),
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
    /// Each live account's exchange (`market_code`), by account id.
    pub markets: std::collections::BTreeMap<i64, String>,
}

/// The directory a config lives in, for its history: the first path when it is a directory,
/// else the file's directory.
pub fn config_root(paths: &[PathBuf]) -> PathBuf {
    match paths.first() {
        Some(p) if p.is_dir() => p.clone(),
        Some(p) => crate::files::parent_dir(p).to_path_buf(),
        None => PathBuf::from("."),
    }
}

/// Check the config at `paths`, connect, read the live state and plan. `targets` limits the plan
/// to the named bots (and `blacklist`).
pub async fn make_plan(
    paths: &[PathBuf],
    targets: &[String],
    connect: target::Connector,
) -> Result<Planned, WorkflowError> {
    let (checked, desired) = check(paths, targets)?;
    let target = connect(target::ConnectOptions {
        mode: desired.mode,
        rate_limit: desired.rate_limit,
    })
    .await?;
    let (plan, markets, _) = plan_reading(&target, &desired, targets).await?;
    Ok(Planned {
        checked,
        desired,
        target,
        plan,
        markets,
    })
}

/// Check the config and the `--target` names; nothing is read from 3Commas.
pub fn check(paths: &[PathBuf], targets: &[String]) -> Result<(Checked, Desired), WorkflowError> {
    let whole = paths.len() == 1 && paths[0].is_dir();
    targeted(config::check(paths), whole, targets)
}

/// [`check`] of the config under `root`, reading nothing that resolves outside it (the MCP
/// server's `--root`).
pub fn check_confined(
    root: &Path,
    targets: &[String],
) -> Result<(Checked, Desired), WorkflowError> {
    targeted(config::check_confined(root), root.is_dir(), targets)
}

/// The checked config's desired state, with `targets` (bot names, `blacklist`) checked against
/// it; `whole`: the config read is one whole directory (prune needs that).
fn targeted(
    checked: Checked,
    whole: bool,
    targets: &[String],
) -> Result<(Checked, Desired), WorkflowError> {
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
                && !desired.grid_bots.iter().any(|g| &g.name == *t)
        })
        .cloned()
        .collect();
    if !unknown.is_empty() {
        let names: Vec<&str> = desired
            .bots
            .iter()
            .filter_map(|b| b.name.as_deref())
            .chain(desired.grid_bots.iter().map(|g| g.name.as_str()))
            .chain(["blacklist"])
            .collect();
        let described = unknown
            .iter()
            .map(
                |t| match crate::diagnostic::did_you_mean(t, names.iter().copied()) {
                    Some(hint) => format!("`{t}` ({hint})"),
                    None => format!("`{t}`"),
                },
            )
            .collect();
        return Err(WorkflowError::UnknownTargets(described));
    }
    // Under prune, every live bot the files read do not describe is deleted: planning part of
    // the config would delete the bots described in the rest.
    if desired.prune && (!targets.is_empty() || !whole) {
        return Err(WorkflowError::Refused(
            "settings.prune is on: plan the whole config directory (one directory, no --target), or bots described in files not read would be deleted".into(),
        ));
    }
    Ok((checked, desired))
}

/// Read the live state through an open target and plan.
/// [`make_plan`] for an apply in the same run: the account's lease is taken first and kept, so
/// the apply writes on the plan's own read (see [`super::apply::LeasedRead`]) instead of
/// reading the account again. `progress` hears when another apply holds the lease.
pub async fn make_plan_leased(
    paths: &[PathBuf],
    targets: &[String],
    connect: target::Connector,
    progress: std::sync::Arc<dyn Fn(String) + Send + Sync>,
) -> Result<(Planned, super::apply::LeasedRead), WorkflowError> {
    let (checked, desired) = check(paths, targets)?;
    let target = connect(target::ConnectOptions {
        mode: desired.mode,
        rate_limit: desired.rate_limit,
    })
    .await?;
    let lease = super::apply::take_lease(&target.identity, progress)
        .await
        .map_err(|e| WorkflowError::Refused(format!("cannot take the account's lease: {e}")))?;
    let (plan, markets, live) = plan_reading(&target, &desired, targets).await?;
    let read = super::apply::LeasedRead {
        lease,
        live: Some(live),
    };
    Ok((
        Planned {
            checked,
            desired,
            target,
            plan,
            markets,
        },
        read,
    ))
}

pub async fn plan_against(
    target: &Target,
    desired: &Desired,
    targets: &[String],
) -> Result<Plan, WorkflowError> {
    plan_reading(target, desired, targets)
        .await
        .map(|(plan, _, _)| plan)
}

/// [`plan_against`], with each live account's exchange (`market_code`) by account id, and the
/// live state the plan was made from.
async fn plan_reading(
    target: &Target,
    desired: &Desired,
    targets: &[String],
) -> Result<
    (
        Plan,
        std::collections::BTreeMap<i64, String>,
        plan::LiveState,
    ),
    WorkflowError,
> {
    let mut live = target::read_live(&target.client, desired.blacklist.is_some()).await?;
    if !desired.grid_bots.is_empty() {
        live.grid_bots = target.client.grid_bots().await?;
    }
    super::names::remember(&target.identity, &live.bots);
    live.pending_creates = super::lease::pending_creates(&target.identity);
    live.remembered = super::memory::Memory::load(&target.identity);
    let mut plan = match plan::plan(desired, &live, target.info.clone()) {
        Ok(plan) => plan,
        Err(mut problems) => {
            accounts_of_the_other_mode(target, desired, &mut problems).await;
            return Err(WorkflowError::Problems(problems));
        }
    };
    if !targets.is_empty() {
        restrict(&mut plan, targets);
    }
    let mut problems = unlisted_pairs(target, &plan, &live).await;
    problems.extend(unavailable_strategies(target, &plan, &live).await);
    problems.extend(minimum_orders(target, &plan, &live).await);
    problems.extend(capital_online(target, &mut plan, &live, desired).await);
    if !problems.is_empty() {
        return Err(WorkflowError::Problems(problems));
    }
    let markets = live
        .accounts
        .iter()
        .filter_map(|a| Some((a.id, a.market_code.clone()?)))
        .collect();
    Ok((plan, markets, live))
}

/// What only the live account can say about capital at risk: each account's free balance per
/// currency (`account_table_data`, one request per account with enabled bots), and, for an account
/// with `max_capital`, the capital of bots quoted in another currency converted into the
/// budget's at 3Commas' last price (`currency_rates`), so the budget counts every bot. Over the
/// budget after conversion is a problem, as validate's same-currency check is; a balance below
/// the worst case is shown beside the capital (a deal cannot fill what the account lacks, but
/// the bots may never all be at their last safety order at once). A lookup that fails leaves
/// the figure out.
async fn capital_online(
    target: &Target,
    plan: &mut Plan,
    live: &plan::LiveState,
    desired: &Desired,
) -> Vec<plan::PlanProblem> {
    use std::collections::BTreeMap;
    let mut balances: BTreeMap<i64, Vec<crate::threecommas::wire::Balance>> = BTreeMap::new();
    let accounts: std::collections::BTreeSet<i64> =
        plan.capital.iter().map(|c| c.account_id).collect();
    for id in accounts {
        if let Ok(rows) = target.client.account_balances(id).await {
            balances.insert(id, rows);
        }
    }
    let mut lookups = 0;
    for c in &mut plan.capital {
        c.available = balances
            .get(&c.account_id)
            .and_then(|rows| rows.iter().find(|r| r.currency_code == c.currency))
            .and_then(|r| r.position_available);
        let Some(budget_currency) = c.budget_currency.clone() else {
            continue;
        };
        if c.currency == budget_currency || c.after.is_zero() || lookups >= MAX_RATE_LOOKUPS {
            continue;
        }
        let market = live
            .accounts
            .iter()
            .find(|a| a.id == c.account_id)
            .and_then(|a| a.market_code.clone());
        let Some(market) = market else { continue };
        lookups += 1;
        let last = |r: serde_json::Map<String, serde_json::Value>| rate_figure(&r, "last");
        // BUDGET_OTHER (USDT_BTC: USDT per BTC), else OTHER_BUDGET (BTC_ETH for an ETH budget).
        let direct = format!("{budget_currency}_{}", c.currency);
        let converted = match target
            .client
            .currency_rates(&market, &direct)
            .await
            .ok()
            .and_then(last)
        {
            Some(price) => Some(c.after * price),
            None => {
                let inverse = format!("{}_{budget_currency}", c.currency);
                target
                    .client
                    .currency_rates(&market, &inverse)
                    .await
                    .ok()
                    .and_then(last)
                    .filter(|p| !p.is_zero())
                    .map(|price| c.after / price)
            }
        };
        c.after_in_budget_currency = converted;
    }
    let mut problems = Vec::new();
    for (alias, account) in &desired.accounts {
        let Some(budget) = account.spec.max_capital else {
            continue;
        };
        let lines: Vec<&plan::Capital> = plan
            .capital
            .iter()
            .filter(|c| &c.account == alias)
            .collect();
        let Some(currency) = lines.iter().find_map(|c| c.budget_currency.clone()) else {
            continue;
        };
        let converted: Vec<&&plan::Capital> = lines
            .iter()
            .filter(|c| c.after_in_budget_currency.is_some())
            .collect();
        if converted.is_empty() {
            continue;
        }
        let total = lines
            .iter()
            .filter(|c| c.currency == currency)
            .map(|c| c.after)
            .chain(converted.iter().filter_map(|c| c.after_in_budget_currency))
            .fold(crate::model::decimal::Decimal::ZERO, |a, b| a + b);
        if total > budget {
            let parts: Vec<String> = converted
                .iter()
                .map(|c| {
                    format!(
                        "{} {} ≈ {} {currency}",
                        c.after.display_in(&c.currency),
                        c.currency,
                        c.after_in_budget_currency
                            .unwrap_or_default()
                            .display_in(&currency)
                    )
                })
                .collect();
            problems.push(plan::PlanProblem {
                message: format!(
                    "the bots on account `{alias}` can lock {} {currency} at once at 3Commas' current rates, over its max_capital of {budget}",
                    total.display_in(&currency)
                ),
                help: format!(
                    "counted at 3Commas' rates: {}; lower volumes, safety orders or max_active_deals, or raise max_capital",
                    parts.join("; ")
                ),
                source: Some(account.source.clone()),
            });
        }
    }
    problems
}

/// A figure of a `currency_rates` answer (3Commas sends them as strings; numbers read too).
fn rate_figure(
    rates: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Option<crate::model::decimal::Decimal> {
    match rates.get(key)? {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

/// An account alias that names no live account may name one of the other mode's (the README's
/// paper account, a real account's name under `mode = "paper"`): say so, from one read of the
/// other mode's accounts, made only when such a problem is found and the mode is forced.
async fn accounts_of_the_other_mode(
    target: &Target,
    desired: &Desired,
    problems: &mut [PlanProblem],
) {
    let Some(mode) = target.client.forced_mode() else {
        return;
    };
    let other = match mode {
        crate::model::enums::TradingMode::Paper => crate::model::enums::TradingMode::Real,
        crate::model::enums::TradingMode::Real => crate::model::enums::TradingMode::Paper,
    };
    let missing: Vec<(usize, String)> = problems
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            desired.accounts.iter().find_map(|(alias, account)| {
                let name = account.spec.name.as_ref()?;
                (p.message == format!("account `{alias}`: no live account is named \"{name}\""))
                    .then(|| (i, name.clone()))
            })
        })
        .collect();
    if missing.is_empty() {
        return;
    }
    let Ok(accounts) = target.client.in_mode(other).accounts().await else {
        return;
    };
    for (i, name) in missing {
        if accounts.iter().any(|a| a.name == name) {
            problems[i].help = format!(
                "\"{name}\" is a {other} account, and this plan runs in {mode} mode (settings.mode or THREECOMMAS_MODE): set mode = \"{other}\", or name a {mode} account ({})",
                problems[i].help
            );
        }
    }
}

/// Pairs the account's exchange does not list, which 3Commas would refuse at apply: found now,
/// from `market_pairs` (one request per exchange of an account the plan creates or re-pairs bots
/// on), with a "did you mean" among the listed pairs, so an apply never starts with a change that
/// is known to fail. A lookup that fails leaves the check to 3Commas.
async fn unlisted_pairs(
    target: &Target,
    plan: &Plan,
    live: &plan::LiveState,
) -> Vec<plan::PlanProblem> {
    let mut listed: std::collections::BTreeMap<String, Option<Vec<String>>> = Default::default();
    let mut problems = Vec::new();
    for change in &plan.changes {
        let Some(pairs) = change.settings.as_ref().and_then(|s| s.pairs.as_ref()) else {
            continue;
        };
        if !matches!(change.action, Action::Create | Action::Update) {
            continue;
        }
        let Some(market) = live
            .accounts
            .iter()
            .find(|a| Some(a.id) == change.account_id)
            .and_then(|a| a.market_code.clone())
        else {
            continue;
        };
        if !listed.contains_key(&market) {
            let pairs = target.client.market_pairs(&market).await.ok();
            listed.insert(market.clone(), pairs);
        }
        let Some(Some(known)) = listed.get(&market) else {
            continue;
        };
        for pair in pairs {
            if known.iter().any(|k| k == pair) {
                continue;
            }
            let upper = pair.to_ascii_uppercase();
            let hint = if known.contains(&upper) {
                format!("did you mean `{upper}`? (pairs are upper case)")
            } else {
                // Compared on the base coin among the pairs of the same quote: every USDT pair
                // shares `USDT_`, which would make any two look alike.
                let (quote, base) = pair.split_once('_').unwrap_or(("", pair));
                let bases: Vec<&str> = known
                    .iter()
                    .filter_map(|k| k.split_once('_'))
                    .filter(|(q, _)| q.eq_ignore_ascii_case(quote))
                    .map(|(_, b)| b)
                    .collect();
                crate::diagnostic::closest(base, bases.iter().copied())
                    .map(|b| format!("did you mean `{}_{b}`?", quote.to_ascii_uppercase()))
                    .unwrap_or_else(|| {
                        "pairs are QUOTE_BASE as 3Commas writes them (USDT_BTC); check that the exchange lists this one".to_string()
                    })
            };
            problems.push(plan::PlanProblem {
                message: format!(
                    "{}: pair `{}` is not listed on {market}: 3Commas would refuse it",
                    change.address,
                    crate::diagnostic::quote_input(pair)
                ),
                help: hint,
                source: change
                    .origins
                    .get("pairs")
                    .cloned()
                    .or_else(|| change.source.clone()),
            });
        }
    }
    problems
}

/// Most distinct (market, quote currency) pairs whose minimum order one plan looks up.
const MAX_RATE_LOOKUPS: usize = 10;

/// Start, safety and close conditions an account cannot use (review L11): validate knows the
/// catalogue, but which strategies an account may use depends on its plan and exchange, so the
/// account's own `strategy_list` is asked once per account whose bots the plan creates or
/// changes conditions of. A condition it does not list (and that is not one of the ids 3Commas
/// accepts without listing them, like `nonstop`), or that names other account types in its
/// `accounts_whitelist`, is a problem at the line that sets it. A lookup that fails leaves the
/// check to 3Commas.
async fn unavailable_strategies(
    target: &Target,
    plan: &Plan,
    live: &plan::LiveState,
) -> Vec<plan::PlanProblem> {
    use crate::model::catalogue::Catalogue;
    let lists = [
        "strategy_list",
        "safety_strategy_list",
        "close_strategy_list",
    ];
    let mut offered: std::collections::BTreeMap<
        i64,
        Option<serde_json::Map<String, serde_json::Value>>,
    > = Default::default();
    let mut problems = Vec::new();
    for change in &plan.changes {
        let (Some(settings), Some(account_id)) = (&change.settings, change.account_id) else {
            continue;
        };
        let map = settings.to_map();
        let used: Vec<(&str, String)> = lists
            .iter()
            .flat_map(|list| {
                map.get(*list)
                    .and_then(serde_json::Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["strategy"].as_str())
                    .map(move |id| (*list, id.to_string()))
            })
            .collect();
        if used.is_empty() {
            continue;
        }
        if let std::collections::btree_map::Entry::Vacant(slot) = offered.entry(account_id) {
            slot.insert(target.client.strategy_list(Some(account_id)).await.ok());
        }
        let Some(Some(list)) = offered.get(&account_id) else {
            continue;
        };
        let account = live.accounts.iter().find(|a| a.id == account_id);
        for (field, id) in used {
            let unlisted = Catalogue::get()
                .strategy(&id)
                .is_some_and(|info| info.unlisted);
            let why = match list.get(&id) {
                None if unlisted => continue,
                None => {
                    "its strategy_list does not offer it (a paid plan, a beta, or another exchange)"
                        .to_string()
                }
                Some(entry) => {
                    let whitelist: Vec<&str> = entry["accounts_whitelist"]
                        .as_array()
                        .map(|w| w.iter().filter_map(serde_json::Value::as_str).collect())
                        .unwrap_or_default();
                    match account.and_then(|a| a.account_type.as_deref()) {
                        Some(kind) if !whitelist.is_empty() && !whitelist.contains(&kind) => {
                            format!(
                                "it is for {} accounts only, and this one is {kind}",
                                whitelist.join(", ")
                            )
                        }
                        _ => continue,
                    }
                }
            };
            problems.push(plan::PlanProblem {
                message: format!(
                    "{}: the condition `{}` in `{field}` is not available to account `{}` on 3Commas: {why}",
                    change.address,
                    crate::diagnostic::shown(&id),
                    change.account.as_deref().unwrap_or("?")
                ),
                help: "choose a condition this account offers (its 3Commas plan and exchange decide which)".into(),
                source: change.origins.get(field).or(change.source.as_ref()).cloned(),
            });
        }
    }
    problems
}

/// Orders below the exchange's minimums, which 3Commas would refuse at apply: found now, from
/// `currency_rates` with `limit_type=bot` (the limits of DCA bots, review L-4), for every bot the
/// plan creates or whose order volumes it changes. Each pair is looked up (one lookup per market
/// and pair, at most [`MAX_RATE_LOOKUPS`]); an order must reach `minTotal` in the quote currency
/// and `minLotSize` in the base currency, converted at the last price, and an order given in the
/// base currency is cut down to a multiple of `lotStep` before either is compared. A lookup that
/// fails leaves the check to 3Commas.
async fn minimum_orders(
    target: &Target,
    plan: &Plan,
    live: &plan::LiveState,
) -> Vec<plan::PlanProblem> {
    use crate::model::decimal::Decimal;
    use crate::model::enums::VolumeType;
    /// One pair's limits: (minTotal, minLotSize, lotStep, last price).
    type Limits = (
        Option<Decimal>,
        Option<Decimal>,
        Option<Decimal>,
        Option<Decimal>,
    );
    let mut limits: std::collections::BTreeMap<(String, String), Option<Limits>> =
        Default::default();
    let mut problems = Vec::new();
    for change in &plan.changes {
        let Some(changed) = &change.settings else {
            continue;
        };
        if !matches!(change.action, Action::Create | Action::Update)
            || (changed.base_order_volume.is_none() && changed.safety_order_volume.is_none())
        {
            continue;
        }
        let settings = match change
            .bot_id
            .and_then(|id| live.bots.iter().find(|b| b.id == id))
        {
            Some(bot) => bot.settings.overlaid(changed),
            None => changed.clone(),
        };
        let market = live
            .accounts
            .iter()
            .find(|a| Some(a.id) == change.account_id)
            .and_then(|a| a.market_code.clone());
        let Some(market) = market else { continue };
        for pair in settings.pairs.iter().flatten() {
            let key = (market.clone(), pair.clone());
            if !limits.contains_key(&key) {
                if limits.len() >= MAX_RATE_LOOKUPS {
                    continue;
                }
                let found = target
                    .client
                    .currency_rates(&market, pair)
                    .await
                    .ok()
                    .map(|r| {
                        (
                            rate_figure(&r, "minTotal"),
                            rate_figure(&r, "minLotSize"),
                            rate_figure(&r, "lotStep"),
                            rate_figure(&r, "last"),
                        )
                    });
                limits.insert(key.clone(), found);
            }
            let Some((min_total, min_lot, lot_step, last)) = limits[&key] else {
                continue;
            };
            let (quote, base) = pair.split_once('_').unwrap_or((pair, ""));
            for (field, volume, kind) in [
                (
                    "base_order_volume",
                    changed.base_order_volume,
                    settings.base_order_volume_type,
                ),
                (
                    "safety_order_volume",
                    changed.safety_order_volume,
                    settings.safety_order_volume_type,
                ),
            ] {
                let Some(v) = volume.filter(|v| !v.is_zero()) else {
                    continue;
                };
                let price = last.filter(|p| !p.is_zero());
                // The order in both currencies, as far as the price tells.
                let (in_quote, in_base) = match kind.unwrap_or(VolumeType::QuoteCurrency) {
                    VolumeType::QuoteCurrency => (Some(v), price.map(|p| v / p)),
                    VolumeType::BaseCurrency => {
                        let lots = match lot_step.filter(|s| !s.is_zero()) {
                            Some(step) => Decimal((v / step).0.floor()) * step,
                            None => v,
                        };
                        (price.map(|p| lots * p), Some(lots))
                    }
                    VolumeType::Percent => continue,
                };
                let mut below = Vec::new();
                if let (Some(q), Some(min)) = (in_quote, min_total)
                    && q < min
                {
                    below.push(format!("the minimum order of {min} {quote}"));
                }
                if let (Some(b), Some(min)) = (in_base, min_lot)
                    && b < min
                {
                    below.push(format!("the minimum lot of {min} {base}"));
                }
                if below.is_empty() {
                    continue;
                }
                let unit = match kind {
                    Some(VolumeType::BaseCurrency) => base,
                    _ => quote,
                };
                problems.push(plan::PlanProblem {
                    message: format!(
                        "{}: {field} {v} {unit} on {pair} is below {} of the exchange's bot orders: 3Commas would refuse it",
                        change.address,
                        below.join(" and ")
                    ),
                    help: format!(
                        "raise {field}{}",
                        min_total
                            .map(|m| format!(" (at least {m} {quote} an order)"))
                            .unwrap_or_default()
                    ),
                    source: change.origins.get(field).cloned().or_else(|| change.source.clone()),
                });
            }
        }
    }
    problems
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
            match (c.kind, c.bot_id) {
                (plan::ResourceKind::DcaBot, Some(id)) => keys.push(format!("bot/{id}")),
                (plan::ResourceKind::GridBot, Some(id)) => keys.push(super::grid::key(id)),
                _ => {}
            }
            if let (Action::Create, Some(account), Some(name)) =
                (c.action, c.account_id, &c.bot_name)
            {
                keys.push(match c.kind {
                    plan::ResourceKind::DcaBot => plan::absent_key(account, name),
                    plan::ResourceKind::GridBot => super::grid::absent_key(account, name),
                });
            }
            keys
        })
        .collect();
    plan.fingerprints.retain(|k, _| keep.contains(k));
    plan.summary.add = plan.changes.iter().filter(|c| c.creates()).count();
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

/// A plan saved by `plan --out`: the plan and a MAC over it.
///
/// The MAC is HMAC-SHA256 over the rest of the file, keyed by `crate::connect::plan_key`: a key derived from
/// the API secret, so a plan edited by anyone without the secret (a CI step, a reviewer's
/// commit) is refused, its safety limits included. For the built-in sandbox the key is the
/// sandbox's published secret: an edit is still caught, a forgery is not (no money is at stake).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPlan {
    pub botform_version: String,
    pub plan_mac: String,
    /// Random, one per saved file: its apply is recorded under it, so this file applies once
    /// (an identical plan saved again is a new file, and applies once too). Empty in files saved
    /// before it existed, which are recorded under the plan's hash.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub saved_id: String,
    pub plan: Plan,
}

/// The part of a saved plan the MAC covers: everything but the MAC.
#[derive(Serialize)]
struct Covered<'a> {
    botform_version: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    saved_id: &'a str,
    plan: &'a Plan,
}

impl SavedPlan {
    pub fn new(planned: &Planned) -> SavedPlan {
        let mut saved = SavedPlan {
            botform_version: env!("CARGO_PKG_VERSION").into(),
            plan_mac: String::new(),
            saved_id: hex::encode(rand::random::<[u8; 16]>()),
            plan: planned.plan.clone(),
        };
        saved.plan_mac = saved.mac(&planned.target.client.plan_key());
        saved
    }

    fn mac(&self, key: &str) -> String {
        let covered = Covered {
            botform_version: &self.botform_version,
            saved_id: &self.saved_id,
            plan: &self.plan,
        };
        crate::threecommas::signing::hmac_hex(
            key.as_bytes(),
            &serde_json::to_vec(&covered).expect("plans serialize"),
        )
    }

    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("plans serialize");
        crate::files::write_atomic(path, (text + "\n").as_bytes())
    }

    /// Read a saved plan and check, before anything else is done with it, that it was not edited
    /// since it was saved: by its MAC (keyed by `key`, from `crate::connect::plan_key`) and by the agreement of
    /// what it shows with what it would write.
    pub fn read(path: &Path, key: &str) -> Result<SavedPlan, String> {
        let text = crate::files::read_bounded(path, crate::files::MAX_CONFIG_BYTES)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let saved: SavedPlan = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a botform plan: {e}", path.display()))?;
        let expected = saved.mac(key);
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), saved.plan_mac.as_bytes()).into();
        if !same {
            return Err(format!(
                "{} was edited after it was saved, or saved with other 3Commas credentials (its MAC does not match): make a new plan",
                path.display()
            ));
        }
        saved
            .plan
            .check_consistent()
            .map_err(|e| format!("{} is inconsistent ({e}): make a new plan", path.display()))?;
        Ok(saved)
    }
}

/// Where a saved plan's apply is recorded: one file per saved plan (its `saved_id`, else its
/// hash) in botform's state dir, so a saved plan applies once. Applying it again (the same file,
/// or a copy in another checkout) says "already applied" instead of a puzzling "stale", and
/// cannot re-apply after the account came back to what the plan saw (A, B, A).
fn applied_marker(saved: &SavedPlan) -> PathBuf {
    let key = if saved.saved_id.is_empty() {
        saved.plan.hash()[..32].to_string()
    } else {
        crate::files::safe_file_stem(&saved.saved_id)
    };
    crate::files::state_dir()
        .join("applied")
        .join(format!("{key}.json"))
}

impl SavedPlan {
    /// When this plan was applied before, if it was.
    pub fn applied_at(&self) -> Option<String> {
        let text = crate::files::read_bounded(&applied_marker(self), 4096).ok()?;
        let record: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(
            record["applied_at"]
                .as_str()
                .unwrap_or("earlier")
                .to_string(),
        )
    }

    /// Record that this plan is being applied (before its first write).
    pub fn mark_applied(&self) -> std::io::Result<()> {
        let record = serde_json::json!({
            "applied_at": crate::timefmt::now_iso(),
            "plan_hash": self.plan.hash(),
        });
        crate::files::write_atomic(&applied_marker(self), record.to_string().as_bytes())
    }

    /// Forget the record: the apply was refused before its first write.
    pub fn unmark_applied(&self) {
        let _ = std::fs::remove_file(applied_marker(self));
    }
}
