//! What the config wants, in the engine's terms: bots as [`BotSettings`] with the place each field
//! was written, account aliases, the blacklist and the settings that steer plan and apply.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::source::{SourceSet, Span};
use crate::config::types::{AccountSpec, Condition};
use crate::config::{Checked, DesiredBot};
use crate::model::bot::{BotSettings, StrategyCondition};
use crate::model::decimal::Decimal;
use crate::model::enums::{LeverageType, TradingMode};

/// A file and line, for messages that point back at the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SourceRef {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl SourceRef {
    pub fn of(span: Span, sources: &SourceSet) -> SourceRef {
        let file = sources.get(span.file);
        let (line, column) = file.line_col(span.start as usize);
        SourceRef {
            file: file.display_name(),
            line,
            column,
        }
    }
}

impl std::fmt::Display for SourceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[derive(Debug, Clone)]
pub struct DesiredAccount {
    pub alias: String,
    pub spec: AccountSpec,
    pub source: SourceRef,
}

#[derive(Debug, Clone)]
pub struct WantedBot {
    pub name: Option<String>,
    pub account: String,
    pub pinned_id: Option<i64>,
    pub enabled: Option<bool>,
    pub absent: bool,
    /// The managed settings (only fields the config sets).
    pub settings: BotSettings,
    /// Where the bot is written.
    pub source: SourceRef,
    /// Where each field (by its 3Commas name) was written.
    pub origins: BTreeMap<String, SourceRef>,
}

#[derive(Debug, Clone)]
pub struct Desired {
    pub mode: Option<TradingMode>,
    pub prune: bool,
    /// Share of managed bots one apply may update or delete without `--force`.
    pub max_change_percentage: Decimal,
    pub accounts: BTreeMap<String, DesiredAccount>,
    pub bots: Vec<WantedBot>,
    pub blacklist: Option<(Vec<String>, SourceRef)>,
}

pub const DEFAULT_MAX_CHANGE_PERCENTAGE: i64 = 30;

/// The desired state of a valid config.
pub fn from_checked(checked: &Checked) -> Desired {
    let config = &checked.config;
    let sources = &config.sources;
    let settings = &config.settings;
    Desired {
        mode: settings.mode,
        prune: settings.prune.unwrap_or(false),
        max_change_percentage: settings
            .max_change_percentage
            .unwrap_or(Decimal::from_int(DEFAULT_MAX_CHANGE_PERCENTAGE)),
        accounts: config
            .accounts
            .iter()
            .map(|(alias, named)| {
                (
                    alias.clone(),
                    DesiredAccount {
                        alias: alias.clone(),
                        spec: named.value.clone(),
                        source: SourceRef::of(named.name_span, sources),
                    },
                )
            })
            .collect(),
        bots: checked.bots.iter().map(|b| wanted(b, sources)).collect(),
        blacklist: config.blacklist.as_ref().map(|b| {
            (
                b.pairs.iter().flatten().map(|p| p.value.clone()).collect(),
                SourceRef::of(b.spans.record, sources),
            )
        }),
    }
}

fn conditions(list: &Option<Vec<Condition>>) -> Option<Vec<StrategyCondition>> {
    list.as_ref().map(|l| {
        l.iter()
            .map(|c| StrategyCondition {
                strategy: c.strategy.value.clone(),
                options: c
                    .options
                    .iter()
                    .map(|(k, v)| (k.clone(), v.value.as_text()))
                    .collect(),
            })
            .collect()
    })
}

fn wanted(bot: &DesiredBot, sources: &SourceSet) -> WantedBot {
    let s = &bot.spec;
    let settings = BotSettings {
        name: s.name.clone(),
        pairs: s
            .pairs
            .as_ref()
            .map(|p| p.iter().map(|p| p.value.clone()).collect()),
        strategy: s.strategy,
        strategy_list: conditions(&bot.start),
        close_strategy_list: conditions(&bot.close_strategy_list),
        safety_strategy_list: conditions(&bot.safety_strategy_list),
        max_active_deals: s.max_active_deals,
        allowed_deals_on_same_pair: s.allowed_deals_on_same_pair,
        base_order_volume: s.base_order_volume,
        base_order_volume_type: s.base_order_volume_type,
        safety_order_volume: s.safety_order_volume,
        safety_order_volume_type: s.safety_order_volume_type,
        safety_order_step_percentage: s.safety_order_step_percentage,
        max_safety_orders: s.max_safety_orders,
        active_safety_orders_count: s.active_safety_orders_count,
        martingale_volume_coefficient: s.martingale_volume_coefficient,
        martingale_step_coefficient: s.martingale_step_coefficient,
        custom_safety_steps: s.custom_safety_steps.clone(),
        take_profit: s.take_profit,
        take_profit_type: s.take_profit_type,
        take_profit_steps: s.take_profit_steps.clone(),
        min_profit_percentage: s.min_profit_percentage,
        min_profit_type: s.min_profit_type,
        profit_currency: s.profit_currency,
        trailing_enabled: s.trailing_enabled,
        trailing_deviation: s.trailing_deviation,
        stop_loss_percentage: s.stop_loss_percentage,
        stop_loss_type: s.stop_loss_type,
        stop_loss_timeout_enabled: s.stop_loss_timeout_enabled,
        stop_loss_timeout_in_seconds: s.stop_loss_timeout_in_seconds,
        tsl_enabled: s.tsl_enabled,
        sl_to_breakeven_enabled: s.sl_to_breakeven_enabled,
        sl_to_breakeven_data: s.sl_to_breakeven_data.clone(),
        cooldown: s.cooldown,
        deal_start_delay_seconds: s.deal_start_delay_seconds,
        close_deals_timeout: s.close_deals_timeout,
        disable_after_deals_count: s.disable_after_deals_count,
        min_volume_btc_24h: s.min_volume_btc_24h,
        min_price: s.min_price,
        max_price: s.max_price,
        min_price_percentage: s.min_price_percentage,
        max_price_percentage: s.max_price_percentage,
        start_order_type: s.start_order_type,
        // 3Commas stores the deprecated `custom` as `isolated`: want what it will keep.
        leverage_type: s.leverage_type.map(|l| {
            if l == LeverageType::Custom {
                LeverageType::Isolated
            } else {
                l
            }
        }),
        leverage_custom_value: s.leverage_custom_value,
        risk_reduction_percentage: s.risk_reduction_percentage,
        reinvesting_percentage: s.reinvesting_percentage,
    };
    let mut origins: BTreeMap<String, SourceRef> = s
        .spans
        .fields
        .iter()
        .map(|(field, (key, _))| (field.to_string(), SourceRef::of(*key, sources)))
        .collect();
    if let Some(start) = origins.get("start").cloned() {
        origins.insert("strategy_list".into(), start);
    }
    WantedBot {
        name: s.name.clone(),
        account: s.account.clone().unwrap_or_default(),
        pinned_id: s.id,
        enabled: s.enabled,
        absent: s.absent.unwrap_or(false),
        settings,
        source: SourceRef::of(bot.span(), sources),
        origins,
    }
}
