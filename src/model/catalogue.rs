//! The 3Commas strategy catalogue: which start/close condition ids exist and what options they take.
//!
//! Built from the real `GET /ver1/bots/strategy_list` response (`data/strategy_list_full.json`,
//! embedded) plus the ids 3Commas accepts that the list omits (`nonstop`, `trading_view`, `qfl`).
//! Used offline by `validate`, served by the sandbox, and shown to assistants by the MCP server.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The real strategy_list response, as 3Commas sends it.
pub const STRATEGY_LIST_JSON: &str = include_str!("../../data/strategy_list_full.json");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StrategyInfo {
    pub name: String,
    #[serde(default)]
    pub strategy_type: Option<String>,
    /// Option name → allowed values (value → label), or `None` for a free numeric input.
    #[serde(default)]
    pub options: BTreeMap<String, Option<BTreeMap<String, String>>>,
    /// Account types the strategy is limited to, when listed.
    #[serde(default)]
    pub accounts_whitelist: Option<Vec<String>>,
    /// Accepted by 3Commas but not in its list response.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unlisted: bool,
}

#[derive(Debug, Clone)]
pub struct Catalogue {
    pub strategies: BTreeMap<String, StrategyInfo>,
}

impl Catalogue {
    pub fn get() -> &'static Catalogue {
        static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        CATALOGUE.get_or_init(Catalogue::build)
    }

    fn build() -> Catalogue {
        let mut strategies: BTreeMap<String, StrategyInfo> =
            serde_json::from_str(STRATEGY_LIST_JSON).expect("embedded strategy list is valid JSON");
        let choices = |items: &[&str]| {
            Some(
                items
                    .iter()
                    .map(|s| (s.to_string(), s.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            )
        };
        let unlisted = |name: &str, options: BTreeMap<String, Option<BTreeMap<String, String>>>| {
            StrategyInfo {
                name: name.to_string(),
                strategy_type: Some("signal".into()),
                options,
                accounts_whitelist: None,
                unlisted: true,
            }
        };
        strategies.insert(
            "nonstop".into(),
            unlisted(
                "Open new deals right away (single-pair bots only)",
                BTreeMap::new(),
            ),
        );
        strategies.insert(
            "trading_view".into(),
            unlisted(
                "TradingView ratings (legacy)",
                BTreeMap::from([
                    (
                        "time".into(),
                        choices(&[
                            "1m",
                            "5m",
                            "15m",
                            "1h",
                            "4h",
                            "1d",
                            "1w",
                            "1M",
                            "cumulative",
                        ]),
                    ),
                    (
                        "type".into(),
                        choices(&[
                            "buy_or_strong_buy",
                            "strong_buy",
                            "sell_or_strong_sell",
                            "strong_sell",
                        ]),
                    ),
                ]),
            ),
        );
        strategies.insert(
            "qfl".into(),
            unlisted(
                "QFL (legacy)",
                BTreeMap::from([
                    (
                        "type".into(),
                        choices(&["original", "day_trade", "conservative", "position"]),
                    ),
                    ("percent".into(), None),
                ]),
            ),
        );
        Catalogue { strategies }
    }

    pub fn strategy(&self, id: &str) -> Option<&StrategyInfo> {
        self.strategies.get(id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.strategies.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_the_listed_and_the_unlisted_ids() {
        let c = Catalogue::get();
        for id in [
            "manual",
            "rsi",
            "macd",
            "heikin_ashi",
            "nonstop",
            "qfl",
            "trading_view",
        ] {
            assert!(c.strategy(id).is_some(), "{id}");
        }
        let rsi = c.strategy("rsi").unwrap();
        assert!(rsi.options["time"].as_ref().unwrap().contains_key("15m"));
        assert!(rsi.options["points"].is_none());
    }
}
