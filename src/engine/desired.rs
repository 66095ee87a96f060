//! What the config wants, in the engine's terms: bots as [`BotSettings`] and grid bots as their
//! settings' JSON ([`WantedGrid`]), with the place each field was written, account aliases, the blacklist and the settings that steer plan and apply.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::kinds::{GRID_SETTINGS, GRID_WRITE_ONLY_FIELDS};
use crate::config::source::{SourceSet, Span};
use crate::config::types::AccountSpec;
use crate::config::{Checked, DesiredBot};
use crate::model::bot::BotSettings;
use crate::model::decimal::Decimal;
use crate::model::enums::TradingMode;
use crate::model::grid::GridNumbers;

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
    /// The template chain it starts from, nearest first (`template = "..."`, then that
    /// template's own, and so on).
    pub templates: Vec<String>,
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
    /// Most bots one apply may delete per account without `--force`.
    pub max_delete: Option<u32>,
    /// Requests a minute (`settings.rate_limit`).
    pub rate_limit: Option<u32>,
    pub accounts: BTreeMap<String, DesiredAccount>,
    pub bots: Vec<WantedBot>,
    /// The grid bots (see [`super::grid`]).
    pub grid_bots: Vec<WantedGrid>,
    pub blacklist: Option<(Vec<String>, SourceRef)>,
    /// Live bots the config does not describe that this plan must still retire, by id: the bots
    /// an apply created, when `revert` undoes it (empty otherwise).
    pub retire: BTreeMap<i64, Retire>,
}

/// How a bot the config no longer describes is retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retire {
    Delete,
    /// Switched off and left in place (deletes not allowed).
    Disable,
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
        max_delete: settings.max_delete,
        rate_limit: settings.rate_limit,
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
        bots: checked.bots.iter().map(|b| wanted(b, config)).collect(),
        grid_bots: wanted_grids(checked),
        blacklist: config.blacklist.as_ref().map(|b| {
            (
                b.pairs.iter().flatten().map(|p| p.value.clone()).collect(),
                SourceRef::of(b.spans.record, sources),
            )
        }),
        retire: BTreeMap::new(),
    }
}

fn wanted(bot: &DesiredBot, config: &crate::config::Config) -> WantedBot {
    let sources = &config.sources;
    let s = &bot.spec;
    let mut templates: Vec<String> = Vec::new();
    let mut next = s.template.clone();
    while let Some(name) = next.filter(|n| !templates.contains(n)) {
        next = config
            .templates
            .get(&name)
            .and_then(|t| t.value.template.clone());
        templates.push(name);
    }
    let settings = bot.settings();
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
        templates,
        settings,
        source: SourceRef::of(bot.span(), sources),
        origins,
    }
}

/// A grid bot as the config wants it.
#[derive(Debug, Clone)]
pub struct WantedGrid {
    pub name: String,
    pub account: String,
    pub pinned_id: Option<i64>,
    /// The grid template chain it starts from, nearest first.
    pub templates: Vec<String>,
    pub pair: String,
    pub enabled: Option<bool>,
    pub absent: bool,
    /// Every setting the config sets (shown and write-only), by 3Commas' names, in their JSON
    /// form (decimals as normalized strings, counts as numbers).
    pub settings: Map<String, Value>,
    /// Validate's numbers (investment at mid-range), for the balancing-order warning.
    pub numbers: Option<GridNumbers>,
    pub source: SourceRef,
    pub origins: BTreeMap<String, SourceRef>,
}

/// The grid bots of a valid config.
pub fn wanted_grids(checked: &Checked) -> Vec<WantedGrid> {
    let sources = &checked.config.sources;
    checked
        .grid_bots
        .iter()
        .enumerate()
        .map(|(i, bot)| {
            let spec = &bot.spec;
            let mut settings = match serde_json::to_value(spec) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            };
            settings.retain(|k, _| {
                GRID_SETTINGS.contains(&k.as_str()) || GRID_WRITE_ONLY_FIELDS.contains(&k.as_str())
            });
            let mut templates: Vec<String> = Vec::new();
            let mut next = spec.template.clone();
            while let Some(name) = next.filter(|n| !templates.contains(n)) {
                next = checked
                    .config
                    .grid_templates
                    .get(&name)
                    .and_then(|t| t.value.template.clone());
                templates.push(name);
            }
            WantedGrid {
                templates,
                name: spec.name.clone().unwrap_or_default(),
                account: spec.account.clone().unwrap_or_default(),
                pinned_id: spec.id,
                pair: spec
                    .pair
                    .as_ref()
                    .map(|p| p.value.clone())
                    .unwrap_or_default(),
                enabled: spec.enabled,
                absent: spec.absent.unwrap_or(false),
                settings,
                numbers: checked.grid_numbers.get(i).cloned().flatten(),
                source: SourceRef::of(bot.span(), sources),
                origins: spec
                    .spans
                    .fields
                    .iter()
                    .map(|(field, (key, _))| (field.to_string(), SourceRef::of(*key, sources)))
                    .collect(),
            }
        })
        .collect()
}
