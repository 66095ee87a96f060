//! Pairs' order steps on their exchange (`priceStep`, `lotStep`), read from 3Commas'
//! `currency_rates` for backtests that round prices and quantities as the exchange takes them
//! (`backtest --limits-from MARKET`, and `plan --backtest-*` for each changed bot's account).
//!
//! Answers are kept in the backtest cache (`limits/<origin>/<market>.json` under
//! [`download::cache_root`]) for [`FRESH_FOR_S`]: exchanges seldom change their steps, and a
//! backtest run again a minute later should not ask again. The origin (the API server's id) keeps
//! a sandbox's answers apart from 3Commas'. A lookup that fails leaves its pair unrounded and
//! says why; it never stops the backtest.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::simulate::PairLimits;
use crate::simulate::download;
use crate::simulate::report::limits_of;
use crate::threecommas::client::{Client, origin_id};

/// How long a cached answer is used: a week.
pub const FRESH_FOR_S: i64 = 7 * 24 * 3600;

/// The most pairs looked up in one run (each is one request).
pub const MAX_LOOKUPS: usize = 200;

/// The largest cache file read.
const MAX_CACHE_BYTES: u64 = 4 << 20;

/// Pairs' steps on one exchange, and what could not be read.
#[derive(Debug, Default, Clone)]
pub struct PairSteps {
    pub limits: BTreeMap<String, PairLimits>,
    /// One line per pair left unrounded, with why.
    pub warnings: Vec<String>,
    /// Requests made (pairs not fresh in the cache).
    pub requests: usize,
}

/// The steps of `pairs` on `market` (a 3Commas `market_code`, `binance`), from the cache where
/// fresh, else from `currency_rates` (cached for next time).
pub async fn read(client: &Client, market: &str, pairs: &[String]) -> PairSteps {
    let file = cache_file(client, market);
    let now = now_s();
    let mut cached = read_cache(&file);
    let mut steps = PairSteps::default();
    let mut changed = false;
    for pair in pairs {
        if let Some(entry) = cached.get(pair)
            && now - entry.read_at_s < FRESH_FOR_S
            && let Ok(limits) = limits_of(&entry.rates)
        {
            steps.limits.insert(pair.clone(), limits);
            continue;
        }
        if steps.requests >= MAX_LOOKUPS {
            steps.warnings.push(format!(
                "{pair}: more than {MAX_LOOKUPS} pairs to look up; its prices and quantities are not rounded"
            ));
            continue;
        }
        steps.requests += 1;
        let answer = client.currency_rates(market, pair).await;
        let read = answer.map_err(|e| e.to_string()).and_then(|rates| {
            let rates = serde_json::Value::Object(rates);
            limits_of(&rates).map(|l| (l, rates))
        });
        match read {
            Ok((limits, rates)) => {
                steps.limits.insert(pair.clone(), limits);
                let kept = serde_json::json!({
                    "priceStep": rates.get("priceStep"),
                    "lotStep": rates.get("lotStep"),
                });
                cached.insert(
                    pair.clone(),
                    Cached {
                        read_at_s: now,
                        rates: kept,
                    },
                );
                changed = true;
            }
            Err(why) => steps.warnings.push(format!(
                "{pair}: 3Commas' currency_rates on {} gave no steps ({}); its prices and quantities are not rounded",
                crate::diagnostic::quote_input(market),
                crate::diagnostic::quote_input(&why)
            )),
        }
    }
    if changed {
        // A cache that cannot be written costs the next run its requests, nothing more.
        if let Ok(text) = serde_json::to_vec_pretty(&cached) {
            let _ = crate::files::write_atomic(&file, &text);
        }
    }
    steps
}

/// One pair's cached answer (the steps of it), and when it was read.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Cached {
    read_at_s: i64,
    rates: serde_json::Value,
}

fn cache_file(client: &Client, market: &str) -> PathBuf {
    download::cache_root()
        .join("limits")
        .join(origin_id(client.base_url()))
        .join(format!("{}.json", crate::files::safe_file_stem(market)))
}

/// The cache's entries; an unreadable or malformed cache is as good as none.
fn read_cache(file: &std::path::Path) -> BTreeMap<String, Cached> {
    crate::files::read_bounded(file, MAX_CACHE_BYTES)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Each market's steps (by `market_code`) for the pairs of the bots `plan` creates or updates,
/// on their accounts' exchanges: what `plan --backtest-*` rounds each changed bot's orders to.
pub async fn for_plan(
    client: &Client,
    plan: &crate::engine::plan::Plan,
    desired: &crate::engine::desired::Desired,
    markets: &BTreeMap<i64, String>,
) -> (BTreeMap<String, BTreeMap<String, PairLimits>>, Vec<String>) {
    use crate::engine::plan::Action;
    let mut wanted: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for change in &plan.changes {
        if !matches!(change.action, Action::Create | Action::Update) {
            continue;
        }
        let Some(market) = change.account_id.and_then(|id| markets.get(&id)) else {
            continue;
        };
        let pairs = desired
            .bots
            .iter()
            .filter(|w| {
                w.name == change.bot_name && change.account.as_deref() == Some(w.account.as_str())
            })
            .flat_map(|w| w.settings.pairs.iter().flatten().cloned());
        wanted.entry(market.clone()).or_default().extend(pairs);
    }
    let mut by_market = BTreeMap::new();
    let mut warnings = Vec::new();
    for (market, pairs) in wanted {
        let pairs: Vec<String> = pairs.into_iter().collect();
        let steps = read(client, &market, &pairs).await;
        warnings.extend(steps.warnings);
        by_market.insert(market, steps.limits);
    }
    (by_market, warnings)
}
