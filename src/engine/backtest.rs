//! The plan-backtest join: every bot a plan creates or updates, backtested as it is live and as
//! the plan leaves it, on the same prices (`plan --backtest-*`, MCP `backtest {plan_id}`). It
//! lives here, not in `simulate`, so the simulation stays pure and knows nothing of plans.

use std::collections::BTreeMap;

use crate::simulate::report::{
    BacktestReport, Comparison, Loaded, Options, Prices, Summary, summarize,
};
use crate::simulate::{Assumptions, PairLimits};

/// Backtest every bot a plan creates or updates, before and after, on the same prices (every
/// pair's candles run together, or the synthetic paths). `limits` gives each exchange's pair
/// steps (by `market_code`): a bot's orders round to its account's exchange's steps.
pub fn compare_plan(
    plan: &super::plan::Plan,
    desired: &super::desired::Desired,
    options: &Options,
    markets: &BTreeMap<i64, String>,
    limits: &BTreeMap<String, BTreeMap<String, PairLimits>>,
) -> Result<(Vec<Comparison>, Vec<String>), String> {
    use super::plan::Action;
    let mut loaded = Loaded::default();
    let mut scratch = BacktestReport::empty(&options.assumptions);
    let mut comparisons = Vec::new();
    let mut without_fee = Vec::new();
    for change in &plan.changes {
        if !matches!(change.action, Action::Create | Action::Update) {
            continue;
        }
        let market = change.account_id.and_then(|id| markets.get(&id));
        // With no fee given, each bot pays its account's exchange's usual fee, when known.
        let usual = (options.assumptions.fee_source == crate::simulate::FeeSource::NotGiven)
            .then_some(market)
            .flatten()
            .and_then(|code| crate::simulate::fees::usual_taker_fee(code));
        let steps = market.and_then(|code| limits.get(code));
        let with_account;
        let options = if usual.is_some() || steps.is_some() {
            with_account = Options {
                assumptions: match usual {
                    Some(usual) => Assumptions {
                        fee_percentage: usual.percentage,
                        fee_source: crate::simulate::FeeSource::Usual(usual.what),
                        ..options.assumptions.clone()
                    },
                    None => options.assumptions.clone(),
                },
                limits: steps.cloned().unwrap_or_else(|| options.limits.clone()),
                ..options.clone()
            };
            &with_account
        } else {
            options
        };
        let Some(wanted) = desired.bots.iter().find(|w| {
            w.name == change.bot_name && change.account.as_deref() == Some(w.account.as_str())
        }) else {
            continue;
        };
        let after = wanted.settings.clone();
        let before = (change.action == Action::Update).then(|| {
            let mut map = after.to_map();
            for f in &change.fields {
                match &f.before {
                    Some(v) => {
                        map.insert(f.field.clone(), v.clone());
                    }
                    None => {
                        map.remove(&f.field);
                    }
                }
            }
            serde_json::from_value::<crate::model::bot::BotSettings>(serde_json::Value::Object(map))
                .unwrap_or_else(|_| after.clone())
        });
        let compiled = crate::simulate::compile(&after, &options.assumptions);
        let (on, windows) = match (&options.prices, &compiled) {
            (Prices::Files(files), Ok((model, _))) => {
                let name = change.bot_name.clone().unwrap_or_default();
                match loaded.windows(files, &name, &after, model, options, &mut scratch)? {
                    Some(w) => (
                        w.0.iter()
                            .map(|(p, _)| p.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        Some(w),
                    ),
                    None => continue,
                }
            }
            (Prices::Files(_), Err(_)) => continue,
            (Prices::Synthetic(_), _) => ("synthetic paths".to_string(), None),
        };
        let not_simulated = compiled.map(|(_, left)| left).unwrap_or_default();
        if options.assumptions.fee_percentage.is_zero() {
            without_fee.push(change.address.clone());
        }
        let before = before
            .as_ref()
            .and_then(|b| summarize(b, options, windows.as_ref()));
        let after = summarize(&after, options, windows.as_ref());
        let delta = match (&before, &after, change.action) {
            (Some(b), Some(a), _) => Some(a.minus(b)),
            (None, Some(a), Action::Create) => Some(a.minus(&Summary::default())),
            _ => None,
        };
        comparisons.push(Comparison {
            address: change.address.clone(),
            delta,
            fee_percentage: options.assumptions.fee_percentage,
            fee_source: options.assumptions.fee_source.describe(),
            not_simulated,
            on,
            before,
            after,
        });
    }
    let mut notes = scratch.warnings;
    if !without_fee.is_empty() {
        notes.push(format!(
            "{} ran with a fee of 0 % (their exchange's usual fee is not known here): pass --backtest-fee 0.1 for figures closer to a real account",
            without_fee.join(", ")
        ));
    }
    notes.extend(
        scratch
            .missing_candles
            .iter()
            .map(|m| format!("{}: {}", m.name, m.reason)),
    );
    Ok((comparisons, notes))
}
