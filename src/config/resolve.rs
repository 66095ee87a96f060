//! From decoded files to the desired state: templates applied, strategy sets resolved.
//!
//! Owns template inheritance (a bot's settings are its template chain's, overridden by its own),
//! template cycles, and references to unknown templates and strategy sets. The resulting
//! [`DesiredBot`]s keep, for every field, the span where its value was written, so a problem found
//! later (by validation or by 3Commas itself) points at the line that set it.

use std::collections::BTreeMap;

use super::decode::Record;
use super::load::{Config, Named};
use super::source::Span;
use super::types::{BotSpec, Condition, Conditions, GridBotSpec, StrategySet};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::model::bot::{BotSettings, StrategyCondition};
use crate::model::enums::LeverageType;

/// A bot as the config wants it: template chain merged, strategy sets resolved.
#[derive(Debug, Clone)]
pub struct DesiredBot {
    /// Position in the config's bot list.
    pub index: usize,
    /// Merged settings; `spec.spans` point at where each value was written.
    pub spec: BotSpec,
    pub start: Option<Vec<Condition>>,
    pub close_strategy_list: Option<Vec<Condition>>,
    pub safety_strategy_list: Option<Vec<Condition>>,
}

impl DesiredBot {
    pub fn name(&self) -> &str {
        self.spec.name.as_deref().unwrap_or("")
    }

    /// The bot's own table, for labels that point at the whole bot.
    pub fn span(&self) -> Span {
        self.spec.spans.head()
    }

    /// The settings this bot wants, in the model's terms (strategy sets resolved into
    /// `strategy_list`). The one mapping from config to model.
    pub fn settings(&self) -> BotSettings {
        let s = &self.spec;
        BotSettings {
            name: s.name.clone(),
            pairs: s
                .pairs
                .as_ref()
                .map(|p| p.iter().map(|p| p.value.clone()).collect()),
            strategy: s.strategy,
            strategy_list: conditions(&self.start),
            close_strategy_list: conditions(&self.close_strategy_list),
            safety_strategy_list: conditions(&self.safety_strategy_list),
            max_active_deals: s.max_active_deals,
            // Multi-pair bots only: 3Commas keeps none for a single-pair bot, so it is never
            // sent nor compared there (validate warns that it has no effect).
            allowed_deals_on_same_pair: s
                .allowed_deals_on_same_pair
                .filter(|_| s.pairs.as_ref().is_none_or(|p| p.len() > 1)),
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
        }
    }
}

/// A grid bot as the config wants it: template chain merged.
#[derive(Debug, Clone)]
pub struct DesiredGridBot {
    /// Position in the config's grid bot list.
    pub index: usize,
    /// Merged settings; `spec.spans` point at where each value was written.
    pub spec: GridBotSpec,
}

impl DesiredGridBot {
    pub fn name(&self) -> &str {
        self.spec.name.as_deref().unwrap_or("")
    }

    /// The bot's own table, for labels that point at the whole bot.
    pub fn span(&self) -> Span {
        self.spec.spans.head()
    }
}

/// A record of a kind of bot (a DCA bot, a grid bot): templates of its own kind fill it in, and
/// its name on an account (or a pinned id) is its identity. What the shared config code needs of
/// each kind.
pub trait Templated: Record + Clone {
    /// The template this record names.
    fn template(&self) -> Option<&String>;
    /// Take every field this record does not set from `base`.
    fn inherit(&mut self, base: &Self);
    /// Its name, account alias and pinned id, as far as they are set.
    fn identity(&self) -> (Option<&str>, Option<&str>, Option<i64>);
}

impl Templated for BotSpec {
    fn template(&self) -> Option<&String> {
        self.template.as_ref()
    }
    fn inherit(&mut self, base: &Self) {
        self.fill_from(base)
    }
    fn identity(&self) -> (Option<&str>, Option<&str>, Option<i64>) {
        (self.name.as_deref(), self.account.as_deref(), self.id)
    }
}

impl Templated for GridBotSpec {
    fn template(&self) -> Option<&String> {
        self.template.as_ref()
    }
    fn inherit(&mut self, base: &Self) {
        self.fill_from(base)
    }
    fn identity(&self) -> (Option<&str>, Option<&str>, Option<i64>) {
        (self.name.as_deref(), self.account.as_deref(), self.id)
    }
}

/// The tables a bot's settings come from: its own (`own`) and its template chain's.
pub fn records_of<T: Templated>(own: &T, templates: &BTreeMap<String, Named<T>>) -> Vec<Span> {
    let mut records = vec![own.spans().record];
    let mut next = own.template();
    while let Some(name) = next {
        let Some(template) = templates.get(name) else {
            break;
        };
        if records.contains(&template.value.spans().record) {
            break; // a cycle, reported elsewhere
        }
        records.push(template.value.spans().record);
        next = template.value.template();
    }
    records
}

/// Apply grid templates to every grid bot.
pub fn resolve_grid(config: &Config, diagnostics: &mut Vec<Diagnostic>) -> Vec<DesiredGridBot> {
    let templates = resolve_templates(&config.grid_templates, "grid template", diagnostics);
    config
        .grid_bots
        .iter()
        .enumerate()
        .map(|(index, bot)| DesiredGridBot {
            index,
            spec: with_template(
                bot,
                &templates,
                &config.grid_templates,
                "grid template",
                diagnostics,
            ),
        })
        .collect()
}

/// `bot` with its template chain filled in (as far as it resolves).
fn with_template<T: Templated>(
    bot: &T,
    resolved: &BTreeMap<String, Option<T>>,
    defined: &BTreeMap<String, Named<T>>,
    what: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> T {
    let mut spec = bot.clone();
    if let Some(name) = bot.template() {
        match resolved.get(name) {
            Some(Some(template)) => spec.inherit(template),
            Some(None) => {} // a cycle, reported once at the templates
            None => diagnostics.push(unknown_reference(
                what,
                name,
                bot.spans().value("template"),
                defined.keys(),
            )),
        }
    }
    spec
}

/// Apply templates and resolve strategy sets for every bot.
pub fn resolve(config: &Config, diagnostics: &mut Vec<Diagnostic>) -> Vec<DesiredBot> {
    let templates = resolve_templates(&config.templates, "template", diagnostics);
    config
        .bots
        .iter()
        .enumerate()
        .map(|(index, bot)| {
            let spec = with_template(bot, &templates, &config.templates, "template", diagnostics);
            let strategies = &config.strategies;
            let start =
                resolve_conditions(&spec, "start", spec.start.as_ref(), strategies, diagnostics);
            let close = resolve_conditions(
                &spec,
                "close_strategy_list",
                spec.close_strategy_list.as_ref(),
                strategies,
                diagnostics,
            );
            let safety = resolve_conditions(
                &spec,
                "safety_strategy_list",
                spec.safety_strategy_list.as_ref(),
                strategies,
                diagnostics,
            );
            DesiredBot {
                index,
                spec,
                start,
                close_strategy_list: close,
                safety_strategy_list: safety,
            }
        })
        .collect()
}

/// Each template (`what`: "template", "grid template") merged with its own chain; `None` for
/// templates in a cycle.
fn resolve_templates<T: Templated>(
    templates: &BTreeMap<String, Named<T>>,
    what: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Option<T>> {
    let mut resolved = BTreeMap::new();
    for (name, template) in templates {
        for field in ["name", "id"] {
            if template.value.spans().has(field) {
                diagnostics.push(
                    Diagnostic::error(
                        "not-allowed-here",
                        format!("a template cannot set `{field}`"),
                    )
                    .at(template.value.spans().key(field), "only a bot has this")
                    .help(format!(
                        "set `{field}` on each bot that uses {what} `{name}`"
                    )),
                );
            }
        }
        let mut merged = template.value.clone();
        let mut chain: Vec<&Named<T>> = vec![template];
        let mut current = template;
        let mut in_cycle = false;
        while let Some(parent_name) = current.value.template() {
            match templates.get(parent_name) {
                Some(parent) => {
                    if chain.iter().any(|t| t.name == parent.name) {
                        in_cycle = true;
                        // Report each cycle once: from its alphabetically first template.
                        let first = chain.iter().map(|t| t.name.as_str()).min();
                        if parent.name == *name && first == Some(name.as_str()) {
                            diagnostics.push(cycle_diagnostic(&chain));
                        }
                        break;
                    }
                    merged.inherit(&parent.value);
                    chain.push(parent);
                    current = parent;
                }
                None => {
                    if current.name == *name {
                        diagnostics.push(unknown_reference(
                            what,
                            parent_name,
                            current.value.spans().value("template"),
                            templates.keys(),
                        ));
                    }
                    break;
                }
            }
        }
        resolved.insert(name.clone(), (!in_cycle).then_some(merged));
    }
    resolved
}

fn cycle_diagnostic<T: Templated>(chain: &[&Named<T>]) -> Diagnostic {
    let names: Vec<&str> = chain.iter().map(|t| t.name.as_str()).collect();
    let mut d = Diagnostic::error(
        "template-cycle",
        format!(
            "templates form a cycle: {} -> {}",
            names.join(" -> "),
            names[0]
        ),
    );
    for t in chain {
        d = d.at(
            t.value.spans().value("template"),
            format!("`{}` uses this", t.name),
        );
    }
    d.help("remove `template` from one of these templates")
}

fn resolve_conditions(
    spec: &BotSpec,
    field: &str,
    value: Option<&Conditions>,
    strategies: &BTreeMap<String, Named<StrategySet>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Vec<Condition>> {
    match value? {
        Conditions::List(list) => Some(list.clone()),
        Conditions::Set(name) => match strategies.get(name) {
            Some(set) => Some(set.value.conditions.clone().unwrap_or_default()),
            None => {
                diagnostics.push(unknown_reference(
                    "strategy set",
                    name,
                    spec.spans.value(field),
                    strategies.keys(),
                ));
                None
            }
        },
    }
}

/// "unknown template `x`" with a did-you-mean among the defined names.
pub fn unknown_reference<'a>(
    what: &str,
    name: &str,
    span: Span,
    known: impl Iterator<Item = &'a String>,
) -> Diagnostic {
    let known: Vec<&str> = known.map(String::as_str).collect();
    let help = did_you_mean(name, known.iter().copied()).unwrap_or_else(|| {
        if known.is_empty() {
            format!("no {what} is defined; define one or remove this reference")
        } else {
            format!("the defined {what}s are: {}", known.join(", "))
        }
    });
    let mut d = Diagnostic::error("unknown-reference", format!("unknown {what} `{name}`"))
        .at(span, format!("no {what} has this name"))
        .help(help);
    d.refers_to = Some((what.to_string(), name.to_string()));
    d
}

/// Conditions in the model's terms: option values as text.
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
