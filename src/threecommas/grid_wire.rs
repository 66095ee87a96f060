//! Grid bots on the wire (issue 19's wire room): the GridBot entity as 3Commas sends it
//! (`GRID-SIGNALS-DEALS.md` §1.3), read leniently where 3Commas is loose.
//!
//! 3Commas sends counts as strings (`"grids_quantity": "40"`), some booleans as strings
//! (`"trailing_up_enabled": "true"`, `"expansion_down_enabled": "false"`) and every figure as a
//! decimal string; each is read here into its type, whichever form comes. The write-only fields
//! (`trailing_down_enabled`, `expansion_up_enabled`, `expansion_up_stop_price`,
//! `ignore_warnings`) never appear in a response, so they are not read: botform will keep what it
//! sent in its last-sent memory, as for the DCA break-even fields. Read-only figures (profits,
//! investments, `grid_lines`) are not part of the desired state; they are left to the reads that
//! show them.

use serde::{Deserialize, Deserializer, Serialize};

use crate::model::decimal::Decimal;
use crate::model::enums::{GridCurrency, GridMode, GridStopLossAction, GridType, LeverageType};

/// The keys of a GridBot entity, in 3Commas' order (every docs example has exactly these; the
/// enable example lacks `mode`, which the docs added later).
pub const ENTITY_KEYS: [&str; 48] = [
    "id",
    "account_id",
    "account_name",
    "is_enabled",
    "grids_quantity",
    "created_at",
    "updated_at",
    "strategy_type",
    "upper_stop_loss_enabled",
    "lower_stop_loss_enabled",
    "note",
    "editable",
    "lower_price",
    "lower_stop_loss_price",
    "lower_stop_loss_action",
    "upper_price",
    "upper_stop_loss_price",
    "upper_stop_loss_action",
    "quantity_per_grid",
    "leverage_type",
    "leverage_custom_value",
    "name",
    "pair",
    "start_price",
    "grid_price_step",
    "current_profit",
    "current_profit_usd",
    "total_profits_count",
    "bought_volume",
    "sold_volume",
    "profit_percentage",
    "current_price",
    "max_active_buy_lines",
    "max_active_sell_lines",
    "order_currency_type",
    "profit_currency_type",
    "trailing_up_enabled",
    "grid_type",
    "investment_base_currency",
    "investment_quote_currency",
    "unrealized_profit_loss",
    "current_profit_loss",
    "current_profit_loss_percent",
    "orderbook_price_currency",
    "expansion_down_enabled",
    "expansion_down_stop_price",
    "grid_lines",
    "mode",
];

/// A grid bot as 3Commas shows it: its identity, state and the settings botform manages. It
/// serializes by 3Commas' names, counts and booleans as such (`import` writes it out).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct WireGridBot {
    pub id: i64,
    pub account_id: i64,
    #[serde(default)]
    pub account_name: Option<String>,
    #[serde(deserialize_with = "flag")]
    pub is_enabled: bool,
    pub name: String,
    pub pair: String,
    #[serde(default)]
    pub note: Option<String>,
    pub lower_price: Decimal,
    pub upper_price: Decimal,
    #[serde(deserialize_with = "count")]
    pub grids_quantity: u32,
    pub quantity_per_grid: Decimal,
    #[serde(default)]
    pub grid_type: Option<GridType>,
    #[serde(default)]
    pub order_currency_type: Option<GridCurrency>,
    #[serde(default)]
    pub profit_currency_type: Option<GridCurrency>,
    #[serde(default, deserialize_with = "optional_count")]
    pub max_active_buy_lines: Option<u32>,
    #[serde(default, deserialize_with = "optional_count")]
    pub max_active_sell_lines: Option<u32>,
    #[serde(default, deserialize_with = "optional_flag")]
    pub upper_stop_loss_enabled: Option<bool>,
    #[serde(default)]
    pub upper_stop_loss_price: Option<Decimal>,
    #[serde(default)]
    pub upper_stop_loss_action: Option<GridStopLossAction>,
    #[serde(default, deserialize_with = "optional_flag")]
    pub lower_stop_loss_enabled: Option<bool>,
    #[serde(default)]
    pub lower_stop_loss_price: Option<Decimal>,
    #[serde(default)]
    pub lower_stop_loss_action: Option<GridStopLossAction>,
    #[serde(default, deserialize_with = "optional_flag")]
    pub trailing_up_enabled: Option<bool>,
    #[serde(default, deserialize_with = "optional_flag")]
    pub expansion_down_enabled: Option<bool>,
    #[serde(default)]
    pub expansion_down_stop_price: Option<Decimal>,
    #[serde(default)]
    pub leverage_type: Option<LeverageType>,
    #[serde(default)]
    pub leverage_custom_value: Option<Decimal>,
    #[serde(default)]
    pub mode: Option<GridMode>,
    /// 3Commas' own step (arithmetic: price; geometric: ratio), up to 39 digits.
    #[serde(default)]
    pub grid_price_step: Option<Decimal>,
}

/// `GET /ver1/grid_bots/{id}/required_balances` (spot only, §1.8): what a grid needs to start,
/// what the account lacks, and whether 3Commas would balance it at market.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RequiredBalances {
    pub missing_balance: BasePair,
    pub required_balance: BasePair,
    #[serde(deserialize_with = "flag")]
    pub need_balancing: bool,
    #[serde(deserialize_with = "flag")]
    pub balancing_available: bool,
    #[serde(default)]
    pub necessary_quantities: Option<Quantity>,
}

/// An amount in each of a pair's currencies.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct BasePair {
    pub base: Quantity,
    pub quote: Quantity,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Quantity {
    pub quantity: Decimal,
    pub currency: String,
}

impl std::fmt::Display for Quantity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.quantity, self.currency)
    }
}

impl RequiredBalances {
    /// The grid can start: nothing is missing, or 3Commas can balance what is (the docs do not
    /// say more: §1.8).
    pub fn fundable(&self) -> bool {
        self.balancing_available
            || (self.missing_balance.base.quantity <= Decimal::ZERO
                && self.missing_balance.quote.quantity <= Decimal::ZERO)
    }

    /// What is missing, in words: `0.5 BTC and 100 USDT`.
    pub fn missing(&self) -> String {
        let m = &self.missing_balance;
        [&m.base, &m.quote]
            .into_iter()
            .filter(|q| q.quantity > Decimal::ZERO)
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" and ")
    }

    /// The balancing order 3Commas names (`necessary_quantities`), in words.
    pub fn necessary(&self) -> String {
        self.necessary_quantities
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_else(|| "an amount it does not say".into())
    }
}

/// A boolean sent as `true` or `"true"`.
fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    optional_flag(d)?.ok_or_else(|| serde::de::Error::custom("a boolean is null"))
}

fn optional_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => None,
        serde_json::Value::Bool(b) => Some(b),
        serde_json::Value::String(s) if s == "true" => Some(true),
        serde_json::Value::String(s) if s == "false" => Some(false),
        other => {
            return Err(serde::de::Error::custom(format!(
                "expected a boolean or \"true\"/\"false\", found {other}"
            )));
        }
    })
}

/// A count sent as `40` or `"40"`.
fn count<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    optional_count(d)?.ok_or_else(|| serde::de::Error::custom("a count is null"))
}

fn optional_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => None,
        serde_json::Value::Number(n) => Some(
            n.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| serde::de::Error::custom(format!("not a count: {n}")))?,
        ),
        serde_json::Value::String(s) => Some(
            s.trim()
                .parse::<u32>()
                .map_err(|_| serde::de::Error::custom(format!("not a count: {s:?}")))?,
        ),
        other => {
            return Err(serde::de::Error::custom(format!(
                "expected a count, found {other}"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docs_required_balances_read_and_say_what_is_missing() {
        let text = include_str!("../../tests/fixtures/3commas/grid_bot_required_balances.json");
        let r: RequiredBalances = serde_json::from_str(text).unwrap();
        assert!(r.need_balancing && r.fundable());
        assert_eq!(r.missing(), "8500 USDT");
        assert_eq!(r.necessary(), "8500 USDT");
        let short = RequiredBalances {
            balancing_available: false,
            ..r
        };
        assert!(!short.fundable());
    }

    #[test]
    fn string_counts_and_booleans_are_read_and_nonsense_is_refused() {
        let bot: WireGridBot = serde_json::from_value(serde_json::json!({
            "id": 1, "account_id": 2, "is_enabled": "false", "name": "g", "pair": "USDT_BTC",
            "lower_price": "1.0", "upper_price": "2.0", "grids_quantity": "40",
            "quantity_per_grid": "20.0", "max_active_buy_lines": 5,
            "trailing_up_enabled": "true", "expansion_down_enabled": false
        }))
        .unwrap();
        assert_eq!(
            (
                bot.grids_quantity,
                bot.max_active_buy_lines,
                bot.trailing_up_enabled,
                bot.expansion_down_enabled,
                bot.is_enabled
            ),
            (40, Some(5), Some(true), Some(false), false)
        );
        for (key, wrong) in [
            ("grids_quantity", serde_json::json!("forty")),
            ("grids_quantity", serde_json::json!(-1)),
            ("trailing_up_enabled", serde_json::json!("yes")),
        ] {
            let mut body = serde_json::json!({
                "id": 1, "account_id": 2, "is_enabled": true, "name": "g", "pair": "USDT_BTC",
                "lower_price": "1.0", "upper_price": "2.0", "grids_quantity": "40",
                "quantity_per_grid": "20.0"
            });
            body[key] = wrong;
            assert!(
                serde_json::from_value::<WireGridBot>(body).is_err(),
                "{key} accepted"
            );
        }
    }
}
