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
        Option::<Decimal>::deserialize(d)
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

/// One element of `strategy_list` (and the close/safety lists) on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WireStrategy {
    #[serde(default)]
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
    pub max_safety_orders: i64,
    pub active_safety_orders_count: i64,
    pub pairs: Vec<String>,
    pub strategy_list: Vec<WireStrategy>,
    #[serde(default)]
    pub close_strategy_list: Vec<WireStrategy>,
    #[serde(default)]
    pub safety_strategy_list: Vec<WireStrategy>,
    pub max_active_deals: i64,
    pub active_deals_count: i64,
    #[serde(rename = "deletable?")]
    pub deletable: bool,
    pub created_at: String,
    pub updated_at: String,
    pub trailing_enabled: Option<bool>,
    pub tsl_enabled: Option<bool>,
    pub deal_start_delay_seconds: Option<i64>,
    pub stop_loss_timeout_enabled: Option<bool>,
    pub stop_loss_timeout_in_seconds: Option<i64>,
    pub disable_after_deals_count: Option<i64>,
    pub deals_counter: Option<i64>,
    pub allowed_deals_on_same_pair: Option<i64>,
    pub easy_form_supported: bool,
    pub close_deals_timeout: Option<i64>,
    pub url_secret: String,
    #[serde(default)]
    pub take_profit_steps: Vec<WireTakeProfitStep>,
    #[serde(default)]
    pub custom_safety_steps: Vec<WireSafetyStep>,
    pub name: String,
    #[serde(with = "ruby_decimal")]
    pub take_profit: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
    pub min_profit_percentage: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
    pub base_order_volume: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
    pub safety_order_volume: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
    pub safety_order_step_percentage: Option<Decimal>,
    #[serde(default)]
    pub safety_order_calculation_mode: Option<String>,
    pub take_profit_type: Option<String>,
    pub min_profit_type: Option<String>,
    #[serde(rename = "type")]
    pub bot_type: String,
    #[serde(with = "ruby_decimal")]
    pub martingale_volume_coefficient: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
    pub martingale_step_coefficient: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
    pub stop_loss_percentage: Option<Decimal>,
    #[serde(with = "int_string")]
    pub cooldown: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
    pub btc_price_limit: Option<Decimal>,
    pub strategy: String,
    #[serde(with = "ruby_decimal")]
    pub min_volume_btc_24h: Option<Decimal>,
    pub profit_currency: Option<String>,
    #[serde(with = "ruby_decimal")]
    pub min_price: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
    pub max_price: Option<Decimal>,
    pub stop_loss_type: Option<String>,
    pub safety_order_volume_type: Option<String>,
    pub base_order_volume_type: Option<String>,
    pub account_name: String,
    #[serde(with = "ruby_decimal")]
    pub trailing_deviation: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
    pub finished_deals_profit_usd: Option<Decimal>,
    #[serde(with = "int_string")]
    pub finished_deals_count: Option<Decimal>,
    pub leverage_type: Option<String>,
    #[serde(with = "ruby_decimal")]
    pub leverage_custom_value: Option<Decimal>,
    pub start_order_type: Option<String>,
    #[serde(with = "ruby_decimal")]
    pub active_deals_usd_profit: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
    pub reinvesting_percentage: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
    pub risk_reduction_percentage: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
    pub reinvested_volume_usd: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
    pub min_price_percentage: Option<Decimal>,
    #[serde(with = "ruby_decimal")]
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

impl WireBot {
    /// The bot as botform's model sees it. Enum values 3Commas adds later are dropped, not fatal.
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
        LiveBot {
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

/// The body of create_bot and update: `account_id` plus every setting to send.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BotParams {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<i64>,
    #[serde(flatten)]
    pub settings: BotSettings,
}

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

impl BotParams {
    /// The update body: the live bot's settings with `changes` laid over them, so every required
    /// field is sent again (the server demands it) and nothing else changes.
    pub fn for_update(live: &LiveBot, changes: &BotSettings) -> BotParams {
        BotParams {
            account_id: None,
            settings: live.settings.overlaid(changes),
        }
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
