//! A DCA bot's settings in one canonical form, shared by the config side and the live side.
//!
//! [`BotSettings`] holds every writable DCA bot field, named as 3Commas names them; `None` means
//! "not set" (in a config: not managed). Its JSON form is the 3Commas request body, so the client
//! sends it as is, and two settings compare by value (decimals by value, option values as text).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::decimal::Decimal;
use super::enums::*;

/// One start/close/safety condition, with option values held as text (3Commas echoes them as
/// strings). Sent as 3Commas' own examples send them: free numeric options as numbers, choices
/// (`"15m"`, `"less"`, heikin_ashi's `"3"`) as strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct StrategyCondition {
    pub strategy: String,
    #[serde(default, deserialize_with = "options_as_text")]
    pub options: BTreeMap<String, String>,
}

impl Serialize for StrategyCondition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        use serde_json::Value;
        let info = super::catalogue::Catalogue::get().strategy(&self.strategy);
        let is_free_number = |name: &str| {
            info.and_then(|i| i.options.get(name))
                .is_some_and(Option::is_none)
        };
        let options: serde_json::Map<String, Value> = self
            .options
            .iter()
            .map(|(k, v)| {
                let number = is_free_number(k)
                    .then(|| {
                        serde_json::from_str::<Value>(v)
                            .ok()
                            .filter(Value::is_number)
                    })
                    .flatten();
                (
                    k.clone(),
                    number.unwrap_or_else(|| Value::String(v.clone())),
                )
            })
            .collect();
        let mut st = s.serialize_struct("StrategyCondition", 2)?;
        st.serialize_field("strategy", &self.strategy)?;
        st.serialize_field("options", &options)?;
        st.end()
    }
}

/// Option values come back as strings or numbers; either way they are held as text.
fn options_as_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, serde_json::Value>::deserialize(d)?;
    Ok(raw.into_iter().map(|(k, v)| (k, option_text(&v))).collect())
}

/// One take-profit step (at most 4; amounts total 100%).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TakeProfitStep {
    /// Share of the position this step sells, in percent.
    pub amount_percentage: Decimal,
    /// Profit at which this step sells, in percent.
    pub profit_percentage: Decimal,
}

/// One custom safety order step (an alternative to the martingale ladder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SafetyStep {
    /// Price deviation from the base order price, in percent (-100..10000), signed as 3Commas
    /// reads it: negative is below the base price (a long bot's ladder), positive above (a short
    /// bot's). Validate refuses the sign that would buy a long bot's safety orders as the price
    /// rises.
    pub deviation: Decimal,
    /// Order size, read according to `safety_order_volume_type`.
    pub size: Decimal,
}

/// Where the stop loss moves after take-profit steps fill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlToBreakeven {
    /// 0 = average price, 1 = the first take-profit step, 2 = the second.
    #[schemars(range(max = 2))]
    pub upper_breakeven_limit: u8,
}

/// Every writable DCA bot setting (REFERENCE.md section 6), as 3Commas names it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BotSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Direction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy_list: Option<Vec<StrategyCondition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_strategy_list: Option<Vec<StrategyCondition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_strategy_list: Option<Vec<StrategyCondition>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_active_deals: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_deals_on_same_pair: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_order_volume: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_order_volume_type: Option<VolumeType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_order_volume: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_order_volume_type: Option<VolumeType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_order_step_percentage: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_safety_orders: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_safety_orders_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub martingale_volume_coefficient: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub martingale_step_coefficient: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_safety_steps: Option<Vec<SafetyStep>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit_type: Option<TakeProfitType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_profit_steps: Option<Vec<TakeProfitStep>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_profit_percentage: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_profit_type: Option<MinProfitType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profit_currency: Option<ProfitCurrency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trailing_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trailing_deviation: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss_percentage: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss_type: Option<StopLossType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss_timeout_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss_timeout_in_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsl_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sl_to_breakeven_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sl_to_breakeven_data: Option<SlToBreakeven>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_start_delay_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub close_deals_timeout: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_after_deals_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_volume_btc_24h: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price_percentage: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price_percentage: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_order_type: Option<StartOrderType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leverage_type: Option<LeverageType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leverage_custom_value: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_reduction_percentage: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reinvesting_percentage: Option<Decimal>,
}

impl BotSettings {
    /// As a JSON object of the set fields only.
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => serde_json::Map::new(),
        }
    }

    /// These settings with every field `changes` sets taken from `changes`.
    pub fn overlaid(&self, changes: &BotSettings) -> BotSettings {
        let mut map = self.to_map();
        map.extend(changes.to_map());
        serde_json::from_value(serde_json::Value::Object(map))
            .expect("settings built from settings deserialize")
    }

    /// Only the named fields of these settings.
    pub fn only(&self, fields: &[&str]) -> BotSettings {
        let mut map = self.to_map();
        map.retain(|k, _| fields.contains(&k.as_str()));
        serde_json::from_value(serde_json::Value::Object(map))
            .expect("settings built from settings deserialize")
    }

    /// Fields `desired` sets to a different value than `self` has: (field, live, desired).
    pub fn differences(
        &self,
        desired: &BotSettings,
    ) -> Vec<(String, Option<serde_json::Value>, serde_json::Value)> {
        let live = self.to_map();
        desired
            .to_map()
            .into_iter()
            .filter(|(k, v)| live.get(k) != Some(v))
            .map(|(k, v)| (k.clone(), live.get(&k).cloned(), v))
            .collect()
    }
}

/// A bot as it is on 3Commas.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveBot {
    pub id: i64,
    pub account_id: i64,
    pub account_name: String,
    pub is_enabled: bool,
    pub active_deals_count: u32,
    pub deletable: bool,
    /// Needed by copy_and_create; a capability, not shown in plans.
    #[serde(skip)]
    pub url_secret: String,
    pub created_at: String,
    pub updated_at: String,
    /// Every writable setting, as 3Commas holds it.
    pub settings: BotSettings,
    /// The fields 3Commas requires in every update, exactly as it sent them (absent where it
    /// sent none): an update resends these untouched, never a reconstruction through the model.
    #[serde(skip)]
    pub update_base: serde_json::Map<String, serde_json::Value>,
}

/// A live bot botform could not read faithfully (a key missing that it needs, a value of a kind
/// it does not know): reported, and never touched, nor taken for absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnreadableBot {
    pub id: Option<i64>,
    pub account_id: Option<i64>,
    pub name: Option<String>,
    /// Which field, and why.
    pub reason: String,
}

impl UnreadableBot {
    /// How the bot is named in messages.
    pub fn describe(&self) -> String {
        let id = self
            .id
            .map(|i| format!("bot {i}"))
            .unwrap_or_else(|| "a bot".into());
        match &self.name {
            Some(name) => format!("{id} (\"{name}\")"),
            None => id,
        }
    }
}

impl SafetyStep {
    /// Does this step lie on the side of the base price a bot of `direction` averages on: below
    /// it for long (negative), above it for short (positive)?
    pub fn on_the_side_of(&self, direction: super::enums::Direction) -> bool {
        match direction {
            super::enums::Direction::Long => self.deviation < Decimal::ZERO,
            super::enums::Direction::Short => self.deviation > Decimal::ZERO,
        }
    }
}

/// The quote (or base) currency shared by all pairs (`USDT` for `USDT_BTC`, `USDT_ETH`).
pub fn common_currency(pairs: &[String], base: bool) -> Option<String> {
    let mut currencies = pairs
        .iter()
        .filter_map(|p| p.split_once('_').map(|(q, b)| if base { b } else { q }));
    let first = currencies.next()?;
    currencies.all(|c| c == first).then(|| first.to_string())
}

/// Option values come back as strings (`"points":"70"`), go out as numbers or strings: compare as
/// text, numbers normalized (`30.0` and `"30"` are the same).
pub fn option_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => match s.parse::<Decimal>() {
            Ok(d) if !s.trim().is_empty() => d.to_string(),
            _ => s.clone(),
        },
        serde_json::Value::Number(n) => n
            .to_string()
            .parse::<Decimal>()
            .map(|d| d.to_string())
            .unwrap_or_else(|_| n.to_string()),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_send_free_numbers_as_numbers_and_choices_as_strings() {
        let condition = |id: &str, options: &[(&str, &str)]| StrategyCondition {
            strategy: id.into(),
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let rsi =
            serde_json::to_value(condition("rsi", &[("points", "30"), ("time", "15m")])).unwrap();
        assert_eq!(rsi["options"]["points"], 30);
        assert_eq!(rsi["options"]["time"], "15m");
        let heikin =
            serde_json::to_value(condition("heikin_ashi", &[("candles_count", "3")])).unwrap();
        assert_eq!(heikin["options"]["candles_count"], "3");
        let back: StrategyCondition = serde_json::from_value(rsi).unwrap();
        assert_eq!(back.options["points"], "30");
    }

    #[test]
    fn overlay_and_differences_compare_by_value() {
        let live = BotSettings {
            name: Some("a".into()),
            take_profit: Some("1.50".parse().unwrap()),
            max_safety_orders: Some(3),
            ..Default::default()
        };
        let desired = BotSettings {
            take_profit: Some("1.5".parse().unwrap()),
            max_safety_orders: Some(4),
            ..Default::default()
        };
        let diff = live.differences(&desired);
        assert_eq!(diff.len(), 1);
        assert_eq!(diff[0].0, "max_safety_orders");
        let merged = live.overlaid(&desired);
        assert_eq!(merged.name.as_deref(), Some("a"));
        assert_eq!(merged.max_safety_orders, Some(4));
    }
}
