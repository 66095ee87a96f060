//! The result of `validate` as data: diagnostics with line and column, and each bot's DCA numbers.
//!
//! This is the documented machine form (`botform validate --format json`, and the MCP `validate`
//! tool). `format_version` changes only when a field is removed or changes meaning.

use serde::Serialize;

use crate::config::Checked;
use crate::diagnostic::{self, JsonDiagnostic};
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
                }
            })
            .collect(),
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
