//! The config language: every table and field a botform file may contain.
//!
//! These types are the single definition of the format: files are decoded into them, the JSON
//! Schema (`botform schema`) is generated from them, and doc comments here become the field
//! descriptions editors show. Field names follow 3Commas' own API names.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Serialize};

use super::decode::{Spanned, config_record};
pub use crate::model::bot::{SafetyStep, SlToBreakeven, TakeProfitStep};
use crate::model::decimal::Decimal;
use crate::model::enums::*;

/// One botform config file. A directory of files is read as one config: tables of the same kind
/// from several files are combined, and a name may be defined only once.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "botform config", extend("$id" = "https://botform.dev/schema/botform.schema.json"))]
pub struct ConfigFile {
    /// Settings for the whole config (at most one file may set each key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
    /// Account aliases that bots refer to, resolved against the live 3Commas accounts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub accounts: BTreeMap<String, AccountSpec>,
    /// Strategy sets: named, reusable lists of deal start conditions (3Commas `strategy_list`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub strategies: BTreeMap<String, StrategySet>,
    /// Shared bot settings; a bot (or another template) names one with `template = "..."`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub templates: BTreeMap<String, BotSpec>,
    /// The account-wide pairs blacklist: no DCA bot opens deals on these pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blacklist: Option<Blacklist>,
    /// The DCA bots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bots: Vec<BotSpec>,
    /// Shared grid bot settings; a grid bot (or another grid template) names one with
    /// `template = "..."`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grid_templates: BTreeMap<String, GridBotSpec>,
    /// The grid bots.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grid_bots: Vec<GridBotSpec>,
}

/// The top-level keys of a config file.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "settings",
    "accounts",
    "strategies",
    "templates",
    "blacklist",
    "bots",
    "grid_templates",
    "grid_bots",
];

config_record! {
    /// Settings for the whole config.
    pub struct Settings {
        /// 3Commas trading mode for every request (sent as `Forced-Mode`): `paper` or `real`.
        /// Unset: whatever mode the 3Commas account is in.
        pub mode: TradingMode,
        /// Delete live bots that no config file describes (on the accounts the config names);
        /// grid bots too when the config describes any. Default false: bots the config does not
        /// own are left alone.
        pub prune: bool,
        /// Largest share (in percent) of managed bots one apply may update or delete without
        /// `--force`. Default 30.
        #[schemars(range(min = 0, max = 100))]
        pub max_change_percentage: Decimal,
        /// Most bots one apply may delete on an account without `--force` (also limited by
        /// `max_change_percentage` of the account's live bots; the stricter wins). Default: no
        /// count limit beyond the percentage.
        #[schemars(range(min = 0))]
        pub max_delete: u32,
        /// Requests a minute botform allows itself (1 to 100; default 90). Lower it when your
        /// 3Commas plan allows fewer. Wins over THREECOMMAS_RATE_LIMIT.
        #[schemars(range(min = 1, max = 100))]
        pub rate_limit: u32,
    }
}

config_record! {
    /// An account alias. Give `name` to match a live account by its name, or `id` to pin it.
    pub struct AccountSpec {
        /// The live account's name, as 3Commas shows it ("Binance Spot").
        pub name: String,
        /// The live account's id; pins the alias to that account.
        pub id: i64,
        /// The most capital this account's bots may lock at once, in their quote currency
        /// (`5000` for USDT bots): validate fails when every deal of every bot on the account,
        /// run to its last safety order, would need more; plan shows it beside the capital at
        /// risk. Bots quoted in another currency are reported apart.
        #[schemars(range(min = 0))]
        pub max_capital: Decimal,
    }
}

config_record! {
    /// A strategy set: named deal start conditions shared by bots.
    pub struct StrategySet {
        /// What the set is for (not sent to 3Commas).
        pub description: String,
        /// The conditions; a deal starts when all of them are met.
        pub conditions: Vec<Condition>,
    }
}

config_record! {
    /// The account-wide pairs blacklist.
    pub struct Blacklist {
        /// Pairs in 3Commas format `QUOTE_BASE` (`USDT_LUNA`).
        pub pairs: Vec<Spanned<String>>,
    }
}

/// One start (or close) condition: a strategy id from the 3Commas catalogue and its options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// Strategy id: `nonstop`, `manual`, `rsi`, `tv_custom_signal`, `macd`, ...
    pub strategy: Spanned<String>,
    /// The strategy's options, e.g. `{ time = "15m", points = 30 }` for `rsi`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, Spanned<OptionValue>>,
}

/// A strategy option value: a number or a text choice.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum OptionValue {
    Number(Decimal),
    Text(String),
}

impl OptionValue {
    /// The value as 3Commas echoes it back (options come back as strings).
    pub fn as_text(&self) -> String {
        match self {
            OptionValue::Number(n) => n.to_string(),
            OptionValue::Text(t) => t.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for OptionValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OptionValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OptionValue, E> {
                Ok(OptionValue::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<OptionValue, E> {
                Ok(OptionValue::Number(Decimal::from_int(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<OptionValue, E> {
                Ok(OptionValue::Number(Decimal(v.into())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<OptionValue, E> {
                format!("{v}")
                    .parse()
                    .map(OptionValue::Number)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// Start conditions: the name of a strategy set, or a list of conditions written in place.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Conditions {
    /// The name of a `[strategies.NAME]` set.
    Set(String),
    /// Conditions written in place.
    List(Vec<Condition>),
}

impl<'de> Deserialize<'de> for Conditions {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Conditions;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a strategy set name or a list of conditions")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Conditions, E> {
                Ok(Conditions::Set(v.to_string()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Conditions, A::Error> {
                let mut list = Vec::new();
                while let Some(c) = seq.next_element()? {
                    list.push(c);
                }
                Ok(Conditions::List(list))
            }
        }
        d.deserialize_any(V)
    }
}

config_record! {
    /// A DCA bot, or a template of shared bot settings. A bot's settings are its template's
    /// overridden by its own; a field set nowhere is left as it is on 3Commas.
    pub struct BotSpec {
        /// The bot's name (unique per account; its identity unless `id` pins it). Bots only.
        #[schemars(length(min = 1, max = 200))]
        pub name: String,
        /// Pin this bot to a live 3Commas bot id. Bots only.
        pub id: i64,
        /// A template whose settings this bot or template starts from.
        pub template: String,
        /// The account alias (a key of `[accounts]`) the bot trades on.
        pub account: String,
        /// Pairs in 3Commas format `QUOTE_BASE` (`USDT_BTC`). One pair makes a single-pair bot,
        /// several a multi-pair bot.
        pub pairs: Vec<Spanned<String>>,
        /// Desired on/off state. Unset: the bot keeps whatever state it has live.
        pub enabled: bool,
        /// `true`: this bot must not exist; `botform apply --allow-delete` deletes it. Only
        /// `name` (or `id`) and `account` are needed then.
        pub absent: bool,
        /// Direction: `long` (buy low, sell high) or `short`.
        pub strategy: Direction,
        /// Deal start conditions: a strategy set name, or a list of conditions
        /// (3Commas `strategy_list`).
        pub start: Conditions,
        /// Conditions that close a deal (3Commas `close_strategy_list`).
        pub close_strategy_list: Conditions,
        /// Conditions that place safety orders (3Commas `safety_strategy_list`).
        pub safety_strategy_list: Conditions,
        /// Most deals the bot runs at once (1..199).
        #[schemars(range(min = 1, max = 199))]
        pub max_active_deals: u32,
        /// Most deals at once on the same pair (multi-pair bots).
        pub allowed_deals_on_same_pair: u32,
        /// Base order size, in `base_order_volume_type` units.
        pub base_order_volume: Decimal,
        /// Unit of `base_order_volume`. Default `quote_currency`.
        pub base_order_volume_type: VolumeType,
        /// First safety order size, in `safety_order_volume_type` units.
        pub safety_order_volume: Decimal,
        /// Unit of `safety_order_volume`. Default `quote_currency`.
        pub safety_order_volume_type: VolumeType,
        /// Price deviation to the first safety order, in percent.
        pub safety_order_step_percentage: Decimal,
        /// Most safety orders per deal (0..200).
        #[schemars(range(max = 200))]
        pub max_safety_orders: u32,
        /// Safety orders placed in advance (1..max_safety_orders).
        pub active_safety_orders_count: u32,
        /// Each safety order's size is the previous one's times this (0.1..10).
        pub martingale_volume_coefficient: Decimal,
        /// Each safety order's step is the previous one's times this (0.1..10).
        pub martingale_step_coefficient: Decimal,
        /// Safety orders given one by one instead of by martingale coefficients.
        pub custom_safety_steps: Vec<SafetyStep>,
        /// Take profit, in percent. Use 0 with `take_profit_steps`.
        pub take_profit: Decimal,
        /// What take profit is measured against: `base` or `total`. Default `total`.
        pub take_profit_type: TakeProfitType,
        /// Take profit in up to 4 steps, amounts totalling 100%.
        pub take_profit_steps: Vec<TakeProfitStep>,
        /// Close strategies activate only above this profit, in percent.
        pub min_profit_percentage: Decimal,
        /// What `min_profit_percentage` is measured against.
        pub min_profit_type: MinProfitType,
        /// Currency profit is taken in.
        pub profit_currency: ProfitCurrency,
        /// Trailing take profit.
        pub trailing_enabled: bool,
        /// Trailing take-profit deviation, in percent (needed with `trailing_enabled`).
        pub trailing_deviation: Decimal,
        /// Stop loss, in percent below the average price (0 = off). Must lie beyond the last
        /// safety order.
        #[schemars(range(min = 0, max = 100))]
        pub stop_loss_percentage: Decimal,
        /// What the stop loss does: `stop_loss` or `stop_loss_and_disable_bot`.
        pub stop_loss_type: StopLossType,
        /// Wait before the stop loss closes the deal.
        pub stop_loss_timeout_enabled: bool,
        /// How long the stop loss waits, in seconds (needed with `stop_loss_timeout_enabled`).
        pub stop_loss_timeout_in_seconds: u32,
        /// Trailing stop loss.
        pub tsl_enabled: bool,
        /// Move the stop loss to break-even after take-profit steps fill (needs 2+ steps).
        pub sl_to_breakeven_enabled: bool,
        /// Where the stop loss moves to.
        pub sl_to_breakeven_data: SlToBreakeven,
        /// Seconds to wait before starting a new deal on the same pair (0..2592000).
        #[schemars(range(max = 2592000))]
        pub cooldown: u32,
        /// Seconds to wait before opening a deal after the start conditions are met.
        pub deal_start_delay_seconds: u32,
        /// Close deals after this many seconds (at least 60).
        pub close_deals_timeout: u32,
        /// Disable the bot after this many deals.
        pub disable_after_deals_count: u32,
        /// Open deals only on pairs with at least this 24h volume, in BTC.
        pub min_volume_btc_24h: Decimal,
        /// Open deals only above this price.
        pub min_price: Decimal,
        /// Open deals only below this price.
        pub max_price: Decimal,
        /// Open deals only above this price change, in percent (multi-pair bots).
        pub min_price_percentage: Decimal,
        /// Open deals only below this price change, in percent (multi-pair bots).
        pub max_price_percentage: Decimal,
        /// Base order type: `limit` or `market`.
        pub start_order_type: StartOrderType,
        /// Futures leverage mode: `cross`, `isolated` or `not_specified`.
        pub leverage_type: LeverageType,
        /// Leverage value (needed with `isolated`).
        pub leverage_custom_value: Decimal,
        /// Share of profit used to reduce the position, in percent.
        #[schemars(range(min = 0, max = 100))]
        pub risk_reduction_percentage: Decimal,
        /// Share of profit reinvested into the bot, in percent.
        #[schemars(range(min = 0, max = 100))]
        pub reinvesting_percentage: Decimal,
    }
}

config_record! {
    /// A grid bot, or a template of shared grid bot settings: buy and sell orders on lines from
    /// `lower_price` to `upper_price`. Field names are 3Commas' own. A field set nowhere is left
    /// as it is on 3Commas.
    pub struct GridBotSpec {
        /// The bot's name, 1 to 40 characters (unique per account; its identity unless `id`
        /// pins it). Grid bots only.
        #[schemars(length(min = 1, max = 40))]
        pub name: String,
        /// Pin this grid bot to a live 3Commas grid bot id. Grid bots only.
        pub id: i64,
        /// A grid template whose settings this bot or template starts from.
        pub template: String,
        /// The account alias (a key of `[accounts]`) the bot trades on.
        pub account: String,
        /// The pair in 3Commas format `QUOTE_BASE` (`USDT_BTC`). 3Commas cannot change it: a
        /// new pair replaces the bot.
        pub pair: Spanned<String>,
        /// Desired on/off state. Unset: the bot keeps whatever state it has live. Starting a
        /// spot grid may place a market order to balance it.
        pub enabled: bool,
        /// `true`: this grid bot must not exist; `botform apply --allow-delete` deletes it.
        pub absent: bool,
        /// The lowest line's price.
        pub lower_price: Decimal,
        /// The highest line's price (above `lower_price`).
        pub upper_price: Decimal,
        /// Lines (levels), both ends included: 2 to 201.
        #[schemars(range(min = 2, max = 201))]
        pub grids_quantity: u32,
        /// Each line's order size, in `order_currency_type` units.
        pub quantity_per_grid: Decimal,
        /// `arithmetic` (the same step between lines) or `geometric` (the same ratio).
        /// Default `arithmetic`.
        pub grid_type: GridType,
        /// The unit of `quantity_per_grid`: `base` or `quote`. Set it: 3Commas' sources
        /// disagree on the default.
        pub order_currency_type: GridCurrency,
        /// The currency profit is taken in: `base` or `quote`. Default `quote`.
        pub profit_currency_type: GridCurrency,
        /// Most buy orders placed at once (1..grids_quantity).
        #[schemars(range(min = 1, max = 201))]
        pub max_active_buy_lines: u32,
        /// Most sell orders placed at once (1..grids_quantity).
        #[schemars(range(min = 1, max = 201))]
        pub max_active_sell_lines: u32,
        /// Stop the bot when the price rises to `upper_stop_loss_price`.
        pub upper_stop_loss_enabled: bool,
        /// The upper stop loss's price (above `upper_price`).
        pub upper_stop_loss_price: Decimal,
        /// What the upper stop loss does: `stop_bot`, `stop_bot_and_buy` (spot) or
        /// `stop_bot_and_close_position` (futures).
        pub upper_stop_loss_action: GridStopLossAction,
        /// Stop the bot when the price falls to `lower_stop_loss_price`.
        pub lower_stop_loss_enabled: bool,
        /// The lower stop loss's price (below `lower_price`).
        pub lower_stop_loss_price: Decimal,
        /// What the lower stop loss does: `stop_bot`, `stop_bot_and_sell` (spot) or
        /// `stop_bot_and_close_position` (futures).
        pub lower_stop_loss_action: GridStopLossAction,
        /// Move the grid up as the price leaves it upwards (spot; both currency types `quote`).
        pub trailing_up_enabled: bool,
        /// Move the grid down as the price leaves it downwards (spot; both currency types
        /// `quote`). 3Commas never shows it back: botform remembers what it sent.
        pub trailing_down_enabled: bool,
        /// Add lines below the range as the price falls, down to `expansion_down_stop_price`.
        pub expansion_down_enabled: bool,
        /// Where downward expansion stops (needed with `expansion_down_enabled`).
        pub expansion_down_stop_price: Decimal,
        /// Add lines above the range as the price rises, up to `expansion_up_stop_price`.
        /// 3Commas never shows it back: botform remembers what it sent.
        pub expansion_up_enabled: bool,
        /// Where upward expansion stops (needed with `expansion_up_enabled`).
        pub expansion_up_stop_price: Decimal,
        /// Futures leverage mode: `cross`, `isolated` or `not_specified`.
        pub leverage_type: LeverageType,
        /// Leverage value (needed with `isolated`).
        pub leverage_custom_value: Decimal,
        /// Futures grid mode: `long`, `short` or `reversal`.
        pub mode: GridMode,
        /// A note on the bot, 1 to 300 characters.
        #[schemars(length(min = 1, max = 300))]
        pub note: String,
    }
}
