//! The result of `validate` as data: diagnostics with line and column, each bot's DCA numbers and
//! each grid bot's numbers.
//!
//! This is the documented machine form (`botform validate --format json`, and the MCP `validate`
//! tool). `format_version` changes only when a field is removed or changes meaning.

use serde::Serialize;

use crate::config::Checked;
use crate::diagnostic::{self, JsonDiagnostic};
use crate::model::bot::common_currency;
use crate::model::dca::DcaNumbers;
use crate::model::enums::VolumeType;

pub const FORMAT_VERSION: &str = "1";

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct ValidateReport {
    pub format_version: &'static str,
    pub valid: bool,
    pub error_count: usize,
    pub warning_count: usize,
    pub files: Vec<String>,
    pub diagnostics: Vec<JsonDiagnostic>,
    pub bots: Vec<BotReport>,
    /// The grid bots, with their numbers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grid_bots: Vec<GridBotReport>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct GridBotReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub account: Option<String>,
    pub file: String,
    pub line: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub pair: Option<String>,
    /// `null` when the grid bot has errors.
    pub numbers: Option<crate::model::grid::GridNumbers>,
}

#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct BotReport {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub account: Option<String>,
    pub file: String,
    pub line: usize,
    pub pairs: Vec<String>,
    /// The currency the capital figures are in (from the pairs), when all pairs agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub capital_currency: Option<String>,
    /// `null` when the bot has errors.
    pub numbers: Option<DcaNumbers>,
    /// How its deals start (and its safety orders, when on a signal), in a sentence; for a bot
    /// on TradingView signals, where its alerts come from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub starts: String,
}

pub fn build(checked: &Checked) -> ValidateReport {
    let sources = &checked.config.sources;
    ValidateReport {
        format_version: FORMAT_VERSION,
        valid: checked.is_valid(),
        error_count: checked.error_count(),
        warning_count: checked.warning_count(),
        files: sources.iter().map(|(_, f)| f.display_name()).collect(),
        diagnostics: checked
            .diagnostics
            .iter()
            .map(|d| diagnostic::to_json(d, sources))
            .collect(),
        bots: checked
            .bots
            .iter()
            .zip(&checked.numbers)
            .map(|(bot, numbers)| {
                let span = bot.span();
                let file = sources.get(span.file);
                let pairs: Vec<String> = bot
                    .spec
                    .pairs
                    .iter()
                    .flatten()
                    .map(|p| p.value.clone())
                    .collect();
                BotReport {
                    name: bot.spec.name.clone(),
                    account: bot.spec.account.clone(),
                    file: file.display_name(),
                    line: file.line_col(span.start as usize).0,
                    capital_currency: numbers
                        .as_ref()
                        .and_then(|n| n.capital_currency)
                        .and_then(|c| common_currency(&pairs, c == VolumeType::BaseCurrency)),
                    pairs,
                    numbers: numbers.clone(),
                    starts: how_it_starts(bot),
                }
            })
            .collect(),
        grid_bots: checked
            .grid_bots
            .iter()
            .zip(&checked.grid_numbers)
            .map(|(bot, numbers)| {
                let span = bot.span();
                let file = sources.get(span.file);
                GridBotReport {
                    name: bot.spec.name.clone(),
                    account: bot.spec.account.clone(),
                    file: file.display_name(),
                    line: file.line_col(span.start as usize).0,
                    pair: bot.spec.pair.as_ref().map(|p| p.value.clone()),
                    numbers: numbers.clone(),
                }
            })
            .collect(),
    }
}

/// How a bot's deals start, in a sentence: the start conditions; for outside signals
/// (TradingView, manual), that the backtest needs `--assume-start nonstop`, and for TradingView
/// that `botform signals` prints the alerts.
fn how_it_starts(bot: &crate::config::DesiredBot) -> String {
    let names = |list: &Option<Vec<crate::config::types::Condition>>| -> Vec<String> {
        list.iter()
            .flatten()
            .map(|c| c.strategy.value.clone())
            .collect()
    };
    let starts = names(&bot.start);
    let safety = names(&bot.safety_strategy_list);
    let tv = |l: &[String]| l.iter().any(|s| s == "tv_custom_signal");
    let mut text = if starts.is_empty() {
        String::new()
    } else {
        format!("starts deals on {}", starts.join(" + "))
    };
    if tv(&safety) {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str("places safety orders on TradingView custom signals");
    }
    if tv(&starts) || tv(&safety) {
        text.push_str(": `botform signals` prints its TradingView alerts");
    }
    let outside = starts.iter().any(|s| {
        matches!(
            s.as_str(),
            "tv_custom_signal" | "manual" | "trading_view" | "qfl"
        )
    });
    if outside {
        text.push_str("; the backtest cannot know when such signals come: not backtestable without --assume-start nonstop");
    }
    text
}
