//! The 3Commas wire format: request and response bodies exactly as the real API shapes them, and
//! their mapping to botform's model (the one place where wire and model meet).
//!
//! Responses carry decimals as strings (some 30+ digits, some in exponent form); they are read into
//! [`Decimal`] and written back in Ruby's style (`"15.0"`). The sandbox serializes the same types,
//! so the client parses what the sandbox sends exactly as it parses the real fixtures.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::bot::{
    BotSettings, LiveBot, SafetyStep, SlToBreakeven, StrategyCondition, TakeProfitStep,
    UnreadableBot, option_text,
};
use crate::model::decimal::Decimal;
use crate::model::enums::*;

/// Decimals as 3Commas (Ruby BigDecimal) prints them: `"15.0"`, `"0.2"`, `null`.
pub mod ruby_decimal {
    use super::*;

    pub fn format(d: &Decimal) -> String {
        let text = d.to_string();
        if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        }
    }

    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format(d)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        match Option::<serde_json::Value>::deserialize(d)? {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(v) => Decimal::deserialize(v)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Read-only figures botform only shows (profits, volumes): a value that is not a decimal
/// botform can hold (`"1e+30"`, beyond 28 digits) is dropped, never fatal.
pub mod display_decimal {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        ruby_decimal::serialize(d, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        let value = Option::<serde_json::Value>::deserialize(d)?;
        Ok(value.and_then(|v| Decimal::deserialize(v).ok()))
    }
}

/// Whole numbers 3Commas sends as strings (`"cooldown": "300"`).
pub mod int_string {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&v.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        Option::<Decimal>::deserialize(d)
    }
}

/// Counters as 3Commas sends them: a number, a number in a string, or null.
pub mod lenient_opt_u32 {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        lenient_opt_int::serialize(&v.map(i64::from), s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        lenient_opt_int::deserialize(d)?
            .map(|n| {
                u32::try_from(n)
                    .map_err(|_| serde::de::Error::custom(format!("expected a count, found {n}")))
            })
            .transpose()
    }
}

/// Whole numbers as 3Commas sends them: a number, or a number in a string (`"9"`).
pub mod lenient_int {
    use super::*;

    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(*v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        lenient_opt_int::deserialize(d)?
            .ok_or_else(|| serde::de::Error::custom("expected a whole number, found null"))
    }
}

/// The same, where `null` means "not set".
pub mod lenient_opt_int {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_i64(*v),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        match Option::<serde_json::Value>::deserialize(d)? {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| {
                serde::de::Error::custom(format!("expected a whole number, found {n}"))
            }),
            Some(serde_json::Value::String(s)) => s.trim().parse().map(Some).map_err(|_| {
                serde::de::Error::custom(format!("expected a whole number, found \"{s}\""))
            }),
            Some(other) => Err(serde::de::Error::custom(format!(
                "expected a whole number, found {other}"
            ))),
        }
    }
}

/// A `null` where a list or an object is expected: the same as empty.
fn null_is_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A `null` where a display value is expected: the same as missing.
fn null_is_default<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn yes() -> bool {
    true
}

/// One element of `strategy_list` (and the close/safety lists) on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireStrategy {
    #[serde(default, deserialize_with = "null_is_default")]
    pub options: serde_json::Map<String, serde_json::Value>,
    pub strategy: String,
}

impl WireStrategy {
    pub fn to_model(&self) -> StrategyCondition {
        StrategyCondition {
            strategy: self.strategy.clone(),
            options: self
                .options
                .iter()
                .map(|(k, v)| (k.clone(), option_text(v)))
                .collect(),
        }
    }
}

/// A take-profit step in a bot entity (`id` is added by the server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireTakeProfitStep {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub amount_percentage: Decimal,
    pub profit_percentage: Decimal,
}

/// A custom safety step in a bot entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireSafetyStep {
    pub deviation: Decimal,
    pub size: Decimal,
}

/// The DCA bot entity: the 63 keys of a real 2025 response, in their order (plus `active_deals`
/// on show and action responses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireBot {
    pub id: i64,
    pub account_id: i64,
    pub is_enabled: bool,
    #[serde(with = "lenient_int")]
    pub max_safety_orders: i64,
    #[serde(with = "lenient_int")]
    pub active_safety_orders_count: i64,
    pub pairs: Vec<String>,
    #[serde(deserialize_with = "null_is_empty")]
    pub strategy_list: Vec<WireStrategy>,
    #[serde(default, deserialize_with = "null_is_empty")]
    pub close_strategy_list: Vec<WireStrategy>,
    #[serde(default, deserialize_with = "null_is_empty")]
    pub safety_strategy_list: Vec<WireStrategy>,
    #[serde(with = "lenient_int")]
    pub max_active_deals: i64,
    #[serde(default, with = "lenient_int")]
    pub active_deals_count: i64,
    #[serde(default = "yes", rename = "deletable?")]
    pub deletable: bool,
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub trailing_enabled: Option<bool>,
    #[serde(default)]
    pub tsl_enabled: Option<bool>,
    #[serde(default, with = "lenient_opt_int")]
    pub deal_start_delay_seconds: Option<i64>,
    #[serde(default)]
    pub stop_loss_timeout_enabled: Option<bool>,
    #[serde(default, with = "lenient_opt_int")]
    pub stop_loss_timeout_in_seconds: Option<i64>,
    #[serde(default, with = "lenient_opt_int")]
    pub disable_after_deals_count: Option<i64>,
    #[serde(default, with = "lenient_opt_int")]
    pub deals_counter: Option<i64>,
    #[serde(default, with = "lenient_opt_int")]
    pub allowed_deals_on_same_pair: Option<i64>,
    #[serde(default, deserialize_with = "null_is_default")]
    pub easy_form_supported: bool,
    #[serde(default, with = "lenient_opt_int")]
    pub close_deals_timeout: Option<i64>,
    #[serde(default, deserialize_with = "null_is_default")]
    pub url_secret: String,
    #[serde(default, deserialize_with = "null_is_empty")]
    pub take_profit_steps: Vec<WireTakeProfitStep>,
    #[serde(default, deserialize_with = "null_is_empty")]
    pub custom_safety_steps: Vec<WireSafetyStep>,
    pub name: String,
    #[serde(default, with = "ruby_decimal")]
    pub take_profit: Option<Decimal>,
    #[serde(default, with = "ruby_decimal")]
    pub min_profit_percentage: Option<Decimal>,
    #[serde(default, with = "ruby_decimal")]
    pub base_order_volume: Option<Decimal>,
    #[serde(default, with = "ruby_decimal")]
    pub safety_order_volume: Option<Decimal>,
    #[serde(default, with = "ruby_decimal")]
    pub safety_order_step_percentage: Option<Decimal>,
    #[serde(default)]
    pub safety_order_calculation_mode: Option<String>,
    pub take_profit_type: Option<String>,
    pub min_profit_type: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "null_is_default")]
    pub bot_type: String,
    #[serde(default, with = "ruby_decimal")]
    pub martingale_volume_coefficient: Option<Decimal>,
    #[serde(default, with = "ruby_decimal")]
    pub martingale_step_coefficient: Option<Decimal>,
    #[serde(default, with = "ruby_decimal")]
    pub stop_loss_percentage: Option<Decimal>,
    #[serde(default, with = "int_string")]
    pub cooldown: Option<Decimal>,
    #[serde(default, with = "display_decimal")]
    pub btc_price_limit: Option<Decimal>,
    pub strategy: String,
    #[serde(default, with = "ruby_decimal")]
    pub min_volume_btc_24h: Option<Decimal>,
    pub profit_currency: Option<String>,
    #[serde(default, with = "ruby_decimal")]
    pub min_price: Option<Decimal>,
    #[serde(default, with = "ruby_decimal")]
    pub max_price: Option<Decimal>,
    pub stop_loss_type: Option<String>,
    pub safety_order_volume_type: Option<String>,
    pub base_order_volume_type: Option<String>,
    #[serde(default, deserialize_with = "null_is_default")]
    pub account_name: String,
    #[serde(default, with = "ruby_decimal")]
    pub trailing_deviation: Option<Decimal>,
    #[serde(default, with = "display_decimal")]
    pub finished_deals_profit_usd: Option<Decimal>,
    #[serde(default, with = "display_decimal")]
    pub finished_deals_count: Option<Decimal>,
    pub leverage_type: Option<String>,
    #[serde(default, with = "ruby_decimal")]
    pub leverage_custom_value: Option<Decimal>,
    pub start_order_type: Option<String>,
    #[serde(default, with = "display_decimal")]
    pub active_deals_usd_profit: Option<Decimal>,
    #[serde(default, with = "ruby_decimal")]
    pub reinvesting_percentage: Option<Decimal>,
    #[serde(default, with = "ruby_decimal")]
    pub risk_reduction_percentage: Option<Decimal>,
    #[serde(default, with = "display_decimal")]
    pub reinvested_volume_usd: Option<Decimal>,
    #[serde(default, with = "ruby_decimal")]
    pub min_price_percentage: Option<Decimal>,
    #[serde(default, with = "ruby_decimal")]
    pub max_price_percentage: Option<Decimal>,
    /// Only in show and action responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deals: Option<Vec<serde_json::Value>>,
}

fn to_u32(v: Option<i64>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v).ok())
}

fn dec_to_u32(v: Option<Decimal>) -> Option<u32> {
    use rust_decimal::prelude::ToPrimitive;
    v.and_then(|d| d.0.to_u32())
}

/// A bot entity as 3Commas sent it, read: the bot, or why it cannot be trusted.
pub fn read_bot(value: serde_json::Value) -> Result<LiveBot, UnreadableBot> {
    let unreadable = |reason: String| UnreadableBot {
        id: value.get("id").and_then(serde_json::Value::as_i64),
        account_id: value.get("account_id").and_then(serde_json::Value::as_i64),
        name: value
            .get("name")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string),
        reason,
    };
    let wire: WireBot = match serde_json::from_value(value.clone()) {
        Ok(wire) => wire,
        Err(e) => return Err(unreadable(e.to_string())),
    };
    let unknown = wire.unknown_values();
    if !unknown.is_empty() {
        return Err(unreadable(format!(
            "values botform does not know: {}",
            unknown.join(", ")
        )));
    }
    Ok(wire.to_model())
}

impl WireBot {
    /// Settings whose value is not one botform knows (a kind 3Commas added later): comparing or
    /// resending them would be a guess.
    pub fn unknown_values(&self) -> Vec<String> {
        type Known = fn(&str) -> bool;
        let settings: [(&str, Option<&str>, Known); 9] = [
            ("strategy", Some(&self.strategy), |v| {
                Direction::parse(v).is_some()
            }),
            (
                "base_order_volume_type",
                self.base_order_volume_type.as_deref(),
                |v| VolumeType::parse(v).is_some(),
            ),
            (
                "safety_order_volume_type",
                self.safety_order_volume_type.as_deref(),
                |v| VolumeType::parse(v).is_some(),
            ),
            ("take_profit_type", self.take_profit_type.as_deref(), |v| {
                TakeProfitType::parse(v).is_some()
            }),
            ("min_profit_type", self.min_profit_type.as_deref(), |v| {
                MinProfitType::parse(v).is_some()
            }),
            ("profit_currency", self.profit_currency.as_deref(), |v| {
                ProfitCurrency::parse(v).is_some()
            }),
            ("stop_loss_type", self.stop_loss_type.as_deref(), |v| {
                StopLossType::parse(v).is_some()
            }),
            ("start_order_type", self.start_order_type.as_deref(), |v| {
                StartOrderType::parse(v).is_some()
            }),
            ("leverage_type", self.leverage_type.as_deref(), |v| {
                LeverageType::parse(v).is_some()
            }),
        ];
        settings
            .into_iter()
            .filter_map(|(field, value, known)| {
                value
                    .filter(|v| !known(v))
                    .map(|v| format!("{field} \"{v}\""))
            })
            .collect()
    }

    /// The bot as botform's model sees it. Enum values botform does not know are dropped here;
    /// [`read_bot`], which every list goes through, reports such a bot instead.
    pub fn to_model(&self) -> LiveBot {
        let list = |l: &[WireStrategy]| Some(l.iter().map(WireStrategy::to_model).collect());
        let settings = BotSettings {
            name: Some(self.name.clone()),
            pairs: Some(self.pairs.clone()),
            strategy: Direction::parse(&self.strategy),
            strategy_list: list(&self.strategy_list),
            close_strategy_list: list(&self.close_strategy_list),
            safety_strategy_list: list(&self.safety_strategy_list),
            max_active_deals: to_u32(Some(self.max_active_deals)),
            allowed_deals_on_same_pair: to_u32(self.allowed_deals_on_same_pair),
            base_order_volume: self.base_order_volume,
            base_order_volume_type: self
                .base_order_volume_type
                .as_deref()
                .and_then(VolumeType::parse),
            safety_order_volume: self.safety_order_volume,
            safety_order_volume_type: self
                .safety_order_volume_type
                .as_deref()
                .and_then(VolumeType::parse),
            safety_order_step_percentage: self.safety_order_step_percentage,
            max_safety_orders: to_u32(Some(self.max_safety_orders)),
            active_safety_orders_count: to_u32(Some(self.active_safety_orders_count)),
            martingale_volume_coefficient: self.martingale_volume_coefficient,
            martingale_step_coefficient: self.martingale_step_coefficient,
            custom_safety_steps: Some(
                self.custom_safety_steps
                    .iter()
                    .map(|s| SafetyStep {
                        deviation: s.deviation,
                        size: s.size,
                    })
                    .collect(),
            ),
            take_profit: self.take_profit,
            take_profit_type: self
                .take_profit_type
                .as_deref()
                .and_then(TakeProfitType::parse),
            take_profit_steps: Some(
                self.take_profit_steps
                    .iter()
                    .map(|s| TakeProfitStep {
                        amount_percentage: s.amount_percentage,
                        profit_percentage: s.profit_percentage,
                    })
                    .collect(),
            ),
            min_profit_percentage: self.min_profit_percentage,
            min_profit_type: self
                .min_profit_type
                .as_deref()
                .and_then(MinProfitType::parse),
            profit_currency: self
                .profit_currency
                .as_deref()
                .and_then(ProfitCurrency::parse),
            trailing_enabled: self.trailing_enabled,
            trailing_deviation: self.trailing_deviation,
            stop_loss_percentage: self.stop_loss_percentage,
            stop_loss_type: self.stop_loss_type.as_deref().and_then(StopLossType::parse),
            stop_loss_timeout_enabled: self.stop_loss_timeout_enabled,
            stop_loss_timeout_in_seconds: to_u32(self.stop_loss_timeout_in_seconds),
            tsl_enabled: self.tsl_enabled,
            // Request-only on bots: 3Commas does not echo these back.
            sl_to_breakeven_enabled: None,
            sl_to_breakeven_data: None::<SlToBreakeven>,
            cooldown: dec_to_u32(self.cooldown),
            deal_start_delay_seconds: to_u32(self.deal_start_delay_seconds),
            close_deals_timeout: to_u32(self.close_deals_timeout),
            disable_after_deals_count: to_u32(self.disable_after_deals_count),
            min_volume_btc_24h: self.min_volume_btc_24h,
            min_price: self.min_price,
            max_price: self.max_price,
            min_price_percentage: self.min_price_percentage,
            max_price_percentage: self.max_price_percentage,
            start_order_type: self
                .start_order_type
                .as_deref()
                .and_then(StartOrderType::parse),
            leverage_type: self.leverage_type.as_deref().and_then(LeverageType::parse),
            leverage_custom_value: self.leverage_custom_value,
            risk_reduction_percentage: self.risk_reduction_percentage,
            reinvesting_percentage: self.reinvesting_percentage,
        };
        let entity = serde_json::to_value(self).expect("bots serialize");
        let update_base = UPDATE_REQUIRED
            .iter()
            .filter_map(|k| {
                let v = entity.get(*k)?;
                (!v.is_null()).then(|| (k.to_string(), v.clone()))
            })
            .collect();
        LiveBot {
            update_base,
            id: self.id,
            account_id: self.account_id,
            account_name: self.account_name.clone(),
            is_enabled: self.is_enabled,
            active_deals_count: to_u32(Some(self.active_deals_count)).unwrap_or(0),
            deletable: self.deletable,
            url_secret: self.url_secret.clone(),
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
            settings,
        }
    }
}

/// The body of a create_bot or update request, as 3Commas documents it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct BotParams(pub serde_json::Map<String, serde_json::Value>);

/// Fields 3Commas requires on create, and again on every update (REFERENCE.md section 6
/// quirks). Create also requires `account_id`.
pub const UPDATE_REQUIRED: &[&str] = &[
    "name",
    "pairs",
    "base_order_volume",
    "take_profit",
    "safety_order_volume",
    "martingale_volume_coefficient",
    "martingale_step_coefficient",
    "max_safety_orders",
    "active_safety_orders_count",
    "safety_order_step_percentage",
    "take_profit_type",
    "strategy_list",
];

/// Settings the update endpoint does not take: sent, they are ignored without a word.
pub const CREATE_ONLY: &[&str] = &["strategy"];

/// Settings 3Commas requires in the same request as a toggle that turns something on: (toggle,
/// the string value that turns it on besides `true`, companion). The docs: `trailing_deviation`
/// with `trailing_enabled: true`, `stop_loss_timeout_in_seconds` with
/// `stop_loss_timeout_enabled: true`, `leverage_custom_value` with `leverage_type: isolated`,
/// `sl_to_breakeven_data` with `sl_to_breakeven_enabled: true`.
pub const COMPANIONS: &[(&str, &str, &str)] = &[
    ("trailing_enabled", "true", "trailing_deviation"),
    (
        "stop_loss_timeout_enabled",
        "true",
        "stop_loss_timeout_in_seconds",
    ),
    ("leverage_type", "isolated", "leverage_custom_value"),
    ("sl_to_breakeven_enabled", "true", "sl_to_breakeven_data"),
];

impl BotParams {
    /// The create body: `account_id` and every setting given. With take-profit steps,
    /// `take_profit` is 0 (3Commas requires the key and refuses an ordinary one beside steps).
    pub fn create(account_id: i64, settings: &BotSettings) -> BotParams {
        let mut body = settings.to_map();
        body.insert("account_id".into(), account_id.into());
        // 3Commas requires the key even for a bot without safety orders.
        if settings.max_safety_orders == Some(0) && settings.active_safety_orders_count.is_none() {
            body.insert("active_safety_orders_count".into(), 0.into());
        }
        if has_steps(settings.take_profit_steps.as_deref()) {
            body.insert("take_profit".into(), "0".into());
        }
        encode_steps(&mut body);
        BotParams(body)
    }

    /// The update body: the fields 3Commas requires, exactly as the live bot has them, with only
    /// the fields that change laid over them. Nothing else is sent, so a setting botform does not
    /// change (a custom ladder, take-profit steps, close conditions) is never resent, let alone
    /// reset. Take profit follows 3Commas' rule: 0 while the bot has steps; an ordinary take
    /// profit that replaces steps sends `take_profit_steps: []` with it.
    pub fn update(live: &LiveBot, changes: &BotSettings) -> Result<BotParams, String> {
        let mut body = live.update_base.clone();
        let mut changed = changes.to_map();
        for field in CREATE_ONLY {
            changed.remove(*field);
        }
        body.extend(changed);
        let live_steps = has_steps(live.settings.take_profit_steps.as_deref());
        let steps = match &changes.take_profit_steps {
            Some(steps) => has_steps(Some(steps)),
            None if live_steps && changes.take_profit.is_some_and(|t| !t.is_zero()) => {
                body.insert(
                    "take_profit_steps".into(),
                    serde_json::Value::Array(Vec::new()),
                );
                false
            }
            None => live_steps,
        };
        if steps {
            body.insert("take_profit".into(), "0".into());
        }
        // A toggle that is on goes with its companion (review M-2): from the change, else as the
        // live bot has it.
        let live_map = live.settings.to_map();
        for (toggle, on, companion) in COMPANIONS {
            let is_on = body
                .get(*toggle)
                .is_some_and(|v| v == &serde_json::Value::Bool(true) || v.as_str() == Some(*on));
            if !is_on || body.get(*companion).is_some_and(|v| !v.is_null()) {
                continue;
            }
            match live_map.get(*companion) {
                Some(value) if !value.is_null() => {
                    body.insert((*companion).to_string(), value.clone());
                }
                _ => {
                    return Err(format!(
                        "3Commas needs `{companion}` with `{toggle}` turned on, and the config does not set it nor did 3Commas show it: not updated (set `{companion}` in the config)"
                    ));
                }
            }
        }
        let missing: Vec<&str> = UPDATE_REQUIRED
            .iter()
            .copied()
            .filter(|k| body.get(*k).is_none_or(serde_json::Value::is_null))
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "3Commas did not show this bot's {}, which every update must resend: not updated (read it with `botform import` and set it in the config)",
                missing.join(", ")
            ));
        }
        encode_steps(&mut body);
        Ok(BotParams(body))
    }
}

fn has_steps<T>(steps: Option<&[T]>) -> bool {
    steps.is_some_and(|s| !s.is_empty())
}

/// Step values as 3Commas' docs send them: take-profit steps' amounts and profits as JSON
/// numbers, custom safety steps' `size` as a number and `deviation` as a string.
fn encode_steps(body: &mut serde_json::Map<String, serde_json::Value>) {
    let mut rewrite = |list: &str, numbers: &[&str]| {
        if let Some(serde_json::Value::Array(items)) = body.get_mut(list) {
            for item in items.iter_mut() {
                for key in numbers {
                    if let Some(v) = item.get_mut(*key) {
                        *v = json_number(v);
                    }
                }
            }
        }
    };
    rewrite(
        "take_profit_steps",
        &["amount_percentage", "profit_percentage"],
    );
    rewrite("custom_safety_steps", &["size"]);
}

/// A decimal (as text) as a JSON number: whole values as integers (`50`, as every docs example
/// sends them, review L-9), others through f64; a value that would not come back exactly (more
/// than 15 significant digits) stays a string rather than change.
fn json_number(v: &serde_json::Value) -> serde_json::Value {
    let Some(text) = v.as_str() else {
        return v.clone();
    };
    if let Ok(d) = text.parse::<Decimal>()
        && d.0.fract().is_zero()
        && let Ok(whole) = d.normalize().to_string().parse::<i64>()
    {
        return serde_json::Value::from(whole);
    }
    let exact = text.parse::<Decimal>().ok().and_then(|d| {
        let f: f64 = text.parse().ok()?;
        let number = serde_json::Number::from_f64(f)?;
        (number.to_string().parse::<Decimal>().ok()? == d).then_some(number)
    });
    match exact {
        Some(number) => serde_json::Value::Number(number),
        None => v.clone(),
    }
}

/// An account (the fields botform uses; the rest is ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub market_code: Option<String>,
    #[serde(default)]
    pub exchange_name: Option<String>,
    #[serde(default, rename = "type")]
    pub account_type: Option<String>,
    #[serde(default)]
    pub bots_allowed: Option<bool>,
    #[serde(default, with = "ruby_decimal")]
    pub usd_amount: Option<Decimal>,
}

/// One currency of `POST /ver1/accounts/{id}/account_table_data`. The docs type the figures as
/// strings; their own example sends JSON numbers, some in exponent form (`9.52E-5`): both read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Balance {
    pub currency_code: String,
    /// Everything held.
    #[serde(default, with = "display_decimal")]
    pub position: Option<Decimal>,
    /// What is neither on orders nor borrowed.
    #[serde(default, with = "display_decimal")]
    pub position_available: Option<Decimal>,
    #[serde(default, with = "display_decimal")]
    pub on_orders: Option<Decimal>,
}

/// `GET /ver1/bots/pairs_black_list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blacklist {
    pub pairs: Vec<String>,
}

/// `GET /ver1/bots/{id}/deals_stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotDealsStats {
    pub active: i64,
    pub completed: i64,
    pub panic_sold: i64,
    #[serde(default)]
    pub from_currency_is_dollars: Option<bool>,
    #[serde(default)]
    pub completed_deals_usd_profit: Option<Decimal>,
    #[serde(default)]
    pub completed_deals_btc_profit: Option<Decimal>,
    #[serde(default)]
    pub funds_locked_in_active_deals: Option<Decimal>,
    #[serde(default)]
    pub btc_funds_locked_in_active_deals: Option<Decimal>,
    #[serde(default)]
    pub active_deals_usd_profit: Option<Decimal>,
    #[serde(default)]
    pub active_deals_btc_profit: Option<Decimal>,
}

/// `GET /ver1/bots/stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotsStats {
    pub overall_stats: BTreeMap<String, Decimal>,
    pub today_stats: BTreeMap<String, Decimal>,
    pub profits_in_usd: BTreeMap<String, Decimal>,
}

/// `GET /ver1/bots/{id}/profit_by_day`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfitByDay {
    pub data: Vec<DayProfit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayProfit {
    pub s_date: String,
    pub unix_timestamp: i64,
    pub profit: BTreeMap<String, Decimal>,
}

/// A deal (the fields botform uses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Deal {
    pub id: i64,
    pub bot_id: i64,
    pub account_id: i64,
    pub pair: String,
    pub status: String,
    pub created_at: String,
    #[serde(default)]
    pub closed_at: Option<String>,
    #[serde(default, rename = "finished?")]
    pub finished: bool,
    #[serde(default)]
    pub bought_volume: Option<Decimal>,
    #[serde(default)]
    pub final_profit: Option<Decimal>,
    #[serde(default)]
    pub usd_final_profit: Option<Decimal>,
    #[serde(default)]
    pub actual_usd_profit: Option<Decimal>,
    /// The quote currency (`USDT` of `USDT_BTC`).
    #[serde(default)]
    pub from_currency: Option<String>,
    #[serde(default, with = "lenient_opt_u32")]
    pub completed_safety_orders_count: Option<u32>,
    #[serde(default, with = "lenient_opt_u32")]
    pub max_safety_orders: Option<u32>,
    /// `long` or `short`: which way the price moves against the deal.
    #[serde(default)]
    pub strategy: Option<String>,
    /// The price the base order filled at.
    #[serde(default)]
    pub base_order_average_price: Option<Decimal>,
    /// The price it sold at (`0` while nothing is sold).
    #[serde(default)]
    pub sold_average_price: Option<Decimal>,
    /// The price when the deal was read (for an active deal, now).
    #[serde(default)]
    pub current_price: Option<Decimal>,
    #[serde(default)]
    pub bot_name: Option<String>,
    #[serde(default)]
    pub localized_status: Option<String>,
    /// Base bought (a long deal's position).
    #[serde(default)]
    pub bought_amount: Option<Decimal>,
    #[serde(default)]
    pub bought_average_price: Option<Decimal>,
    #[serde(default)]
    pub sold_amount: Option<Decimal>,
    #[serde(default)]
    pub sold_volume: Option<Decimal>,
    /// 3Commas' profit now (an active deal's, unrealized, at `current_price`).
    #[serde(default)]
    pub actual_profit: Option<Decimal>,
    #[serde(default)]
    pub take_profit: Option<Decimal>,
    #[serde(default)]
    pub take_profit_price: Option<Decimal>,
    #[serde(default)]
    pub stop_loss_percentage: Option<Decimal>,
    /// The guards 3Commas sets for each action (`cancellable?`, `panic_sellable?`,
    /// `add_fundable`): `None` when the deal does not say.
    #[serde(default, rename = "cancellable?")]
    pub cancellable: Option<bool>,
    #[serde(default, rename = "panic_sellable?")]
    pub panic_sellable: Option<bool>,
    #[serde(default)]
    pub add_fundable: Option<bool>,
}

/// `POST /ver1/bots/{id}/copy_and_create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyAndCreate {
    pub bot_id: i64,
    pub bot_required_amount: Decimal,
}

/// A 3Commas error body: `{"error": ..., "error_description": ..., "error_attributes": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_attributes: Option<BTreeMap<String, Vec<String>>>,
}

impl ErrorBody {
    pub fn new(error: &str, description: Option<&str>) -> Self {
        ErrorBody {
            error: error.into(),
            error_description: description.map(Into::into),
            error_attributes: None,
        }
    }

    pub fn record_invalid(attributes: BTreeMap<String, Vec<String>>) -> Self {
        ErrorBody {
            error: "record_invalid".into(),
            error_description: Some("Invalid parameters".into()),
            error_attributes: Some(attributes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OBSERVED_LIST: &str =
        include_str!("../../tests/fixtures/3commas/observed/bots_list_scope_enabled.json");

    #[test]
    fn balances_read_as_the_docs_example_sends_them() {
        // Typed as strings in the docs; the example sends numbers, one as 9.52E-5.
        let rows: Vec<Balance> = serde_json::from_str(include_str!(
            "../../tests/fixtures/3commas/account_table_data.json"
        ))
        .unwrap();
        assert_eq!(rows[0].currency_code, "ETH");
        assert_eq!(
            rows[0].position_available,
            Some("0.0000952".parse().unwrap())
        );
        let strings: Vec<Balance> = serde_json::from_str(
            r#"[{"currency_code":"USDT","position":"12.5","position_available":"2.5","on_orders":"10"}]"#,
        )
        .unwrap();
        assert_eq!(strings[0].on_orders, Some(Decimal::from_int(10)));
    }

    fn observed_bot() -> LiveBot {
        let bots: Vec<WireBot> = serde_json::from_str(OBSERVED_LIST).unwrap();
        bots[0].to_model()
    }

    #[test]
    fn an_update_sends_the_required_fields_as_3commas_sent_them_and_only_the_change() {
        // The recorded 2025 bot has no `custom_safety_steps` key at all.
        let live = observed_bot();
        let change = BotSettings {
            take_profit: Some("2.5".parse().unwrap()),
            strategy: Some(Direction::Short),
            ..BotSettings::default()
        };
        let body = BotParams::update(&live, &change).unwrap().0;
        let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
        keys.sort();
        let mut expected = UPDATE_REQUIRED.to_vec();
        expected.sort();
        assert_eq!(
            keys, expected,
            "nothing but the required fields and the change"
        );
        assert_eq!(body["take_profit"], "2.5");
        // The strategy list goes back exactly as it came, options untouched.
        let raw: Vec<serde_json::Value> = serde_json::from_str(OBSERVED_LIST).unwrap();
        assert_eq!(body["strategy_list"], raw[0]["strategy_list"]);
        assert_eq!(body["name"], raw[0]["name"]);
    }

    #[test]
    fn take_profit_follows_the_steps_rule_in_every_body() {
        let steps = vec![
            TakeProfitStep {
                amount_percentage: "50".parse().unwrap(),
                profit_percentage: "1.5".parse().unwrap(),
            },
            TakeProfitStep {
                amount_percentage: "50".parse().unwrap(),
                profit_percentage: "3".parse().unwrap(),
            },
        ];
        // A create with steps and no take profit carries 0, and step values as numbers.
        let create = BotParams::create(
            1,
            &BotSettings {
                take_profit_steps: Some(steps.clone()),
                custom_safety_steps: Some(vec![SafetyStep {
                    deviation: "-1.1".parse().unwrap(),
                    size: "10".parse().unwrap(),
                }]),
                ..BotSettings::default()
            },
        )
        .0;
        assert_eq!(create["take_profit"], "0");
        assert_eq!(create["take_profit_steps"][0]["amount_percentage"], 50.0);
        assert_eq!(create["take_profit_steps"][0]["profit_percentage"], 1.5);
        assert_eq!(create["custom_safety_steps"][0]["size"], 10.0);
        // Whole values go out as integers, as the docs' examples send them (review L-9).
        assert_eq!(
            create["take_profit_steps"][0]["amount_percentage"].to_string(),
            "50"
        );
        assert_eq!(create["custom_safety_steps"][0]["size"].to_string(), "10");
        // Signed as the docs' example: below the base price.
        assert_eq!(create["custom_safety_steps"][0]["deviation"], "-1.1");

        // Adding steps to a bot with an ordinary take profit: one body, take profit 0.
        let live = observed_bot();
        let add = BotParams::update(
            &live,
            &BotSettings {
                take_profit_steps: Some(steps.clone()),
                ..BotSettings::default()
            },
        )
        .unwrap()
        .0;
        assert_eq!(add["take_profit"], "0");
        assert_eq!(add["take_profit_steps"].as_array().unwrap().len(), 2);

        // An update of a multi-step bot (3Commas shows its take profit as null) still sends the
        // required `take_profit` key.
        let mut multi = observed_bot();
        multi.update_base.remove("take_profit");
        multi.settings.take_profit = None;
        multi.settings.take_profit_steps = Some(steps);
        let other = BotParams::update(
            &multi,
            &BotSettings {
                cooldown: Some(60),
                ..BotSettings::default()
            },
        )
        .unwrap()
        .0;
        assert_eq!(other["take_profit"], "0");
        assert!(
            !other.contains_key("take_profit_steps"),
            "steps are kept, not resent"
        );

        // Dropping steps for an ordinary take profit sends the steps' removal with it.
        let drop = BotParams::update(
            &multi,
            &BotSettings {
                take_profit: Some("2".parse().unwrap()),
                ..BotSettings::default()
            },
        )
        .unwrap()
        .0;
        assert_eq!(drop["take_profit"], "2");
        assert_eq!(drop["take_profit_steps"], serde_json::json!([]));
    }

    #[test]
    fn an_update_of_a_bot_missing_a_required_field_is_refused_not_guessed() {
        let mut live = observed_bot();
        live.update_base.remove("pairs");
        let refused = BotParams::update(
            &live,
            &BotSettings {
                cooldown: Some(60),
                ..BotSettings::default()
            },
        );
        assert!(refused.unwrap_err().contains("pairs"));
    }
}
