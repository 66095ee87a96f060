//! A plan's data below the plan itself: the changes (one per object, of any kind), the live state
//! they were planned from, and what holds a change back. Both the shared diff (`plan`) and each
//! kind's room (`grid`) build these; nothing here computes a diff.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::desired::SourceRef;
use super::kinds::ResourceKind;
use crate::model::bot::{BotSettings, LiveBot, UnreadableBot};
use crate::model::decimal::Decimal;
use crate::threecommas::wire::Account;

/// Everything read from 3Commas for a plan.
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    pub accounts: Vec<Account>,
    pub bots: Vec<LiveBot>,
    /// The grid bots, read when the config describes any (else empty, and not planned).
    pub grid_bots: Vec<crate::threecommas::grid_wire::WireGridBot>,
    /// Bots 3Commas sent in a form botform cannot read: never touched, never taken for absent.
    pub unreadable: Vec<UnreadableBot>,
    pub blacklist: Vec<String>,
    /// Creates an earlier apply sent with no clear answer, which may still land: nothing of
    /// their names is created while they may (see [`crate::engine::lease::Pending`]).
    pub pending_creates: Vec<crate::engine::lease::Pending>,
    /// What botform last sent to its bots that 3Commas never shows back (write-only fields).
    pub remembered: crate::engine::memory::Memory,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Replace the account-wide pairs blacklist.
    UpdateBlacklist,
    Create,
    Update,
    Delete,
}

/// One field that changes: JSON values as 3Commas would take them (`null`/absent: not set).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// The DCA figures of a bot's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DcaFigures {
    pub capital_per_deal: Option<Decimal>,
    pub capital_all_deals: Option<Decimal>,
    pub price_move_covered_percentage: Decimal,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Change {
    pub action: Action,
    /// What kind of object it acts on (absent: a DCA bot, or the blacklist).
    #[serde(default, skip_serializing_if = "ResourceKind::is_dca_bot")]
    pub kind: ResourceKind,
    /// A readable name: `bot "BTC" on main`, `blacklist`.
    pub address: String,
    pub bot_name: Option<String>,
    /// The config's account alias.
    pub account: Option<String>,
    pub account_id: Option<i64>,
    /// The live bot, for updates and deletes.
    pub bot_id: Option<i64>,
    /// What changes (for creates: every field set).
    pub fields: Vec<FieldChange>,
    /// Managed fields that do not change (updates).
    pub unchanged: usize,
    /// The settings to send: all managed settings (create), or the ones laid over the live bot
    /// (update).
    #[schemars(with = "Option<serde_json::Map<String, Value>>")]
    pub settings: Option<BotSettings>,
    /// Turn the bot on or off (after creating it, for creates).
    pub enable: Option<bool>,
    /// The complete new blacklist.
    pub blacklist: Option<Vec<String>>,
    /// Active deals of a bot to delete: apply refuses to delete it while this is not 0.
    pub active_deals: u32,
    pub dca_before: Option<DcaFigures>,
    pub dca_after: Option<DcaFigures>,
    /// Where the config describes this object.
    pub source: Option<SourceRef>,
    /// Where each field was set, for pointing 3Commas' objections at the right line.
    pub origins: BTreeMap<String, SourceRef>,
    /// Grid bots: the whole body sent (`POST /ver1/grid_bots/manual` for a create with
    /// `account_id` and `pair`; `PATCH .../manual` for an update: every setting, never `pair`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_body: Option<serde_json::Map<String, Value>>,
    /// Half of a replacement (`-/+`): 3Commas cannot change this setting in place, so the object
    /// is deleted and created anew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces_because: Option<String>,
    /// What the person should know before applying it (a market order it may place, what
    /// happens to coins), shown under the change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Change {
    /// A change with nothing set but what it does and to what.
    pub(super) fn new(action: Action, address: String) -> Change {
        Change {
            action,
            kind: ResourceKind::DcaBot,
            grid_body: None,
            replaces_because: None,
            warnings: Vec::new(),
            address,
            bot_name: None,
            account: None,
            account_id: None,
            bot_id: None,
            fields: Vec::new(),
            unchanged: 0,
            settings: None,
            enable: None,
            blacklist: None,
            active_deals: 0,
            dca_before: None,
            dca_after: None,
            source: None,
            origins: BTreeMap::new(),
        }
    }

    /// True when applying it creates an object: a create, or a replacement's second half.
    pub fn creates(&self) -> bool {
        self.action == Action::Create || self.replaces_because.is_some()
    }
}

/// A config bot left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Held {
    pub address: String,
    pub reason: String,
}

/// A problem that prevents planning (an account that cannot be found, an ambiguous bot name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanProblem {
    pub message: String,
    pub help: String,
    pub source: Option<SourceRef>,
}

/// A short, stable hash of a JSON value (a fingerprint).
pub fn short_hash(value: &Value) -> String {
    hex::encode(&Sha256::digest(serde_json::to_vec(value).expect("JSON serializes"))[..12])
}

/// A value as a person reads it: numbers bare, strings quoted, lists and tables compact.
pub fn show(value: &Value) -> String {
    match value {
        Value::String(s)
            if !s.is_empty() && s.parse::<crate::model::decimal::Decimal>().is_ok() =>
        {
            s.clone()
        }
        Value::String(s) => format!("{s:?}"),
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .filter(|(_, v)| !matches!(v, Value::Object(m) if m.is_empty()))
                .map(|(k, v)| format!("{k} = {}", show(v)))
                .collect();
            if inner.is_empty() {
                "{}".into()
            } else {
                format!("{{ {} }}", inner.join(", "))
            }
        }
        other => other.to_string(),
    }
}

/// Where each kind's diff puts what it finds.
pub struct Planning<'a> {
    pub changes: &'a mut Vec<Change>,
    pub fingerprints: &'a mut BTreeMap<String, String>,
    pub problems: &'a mut Vec<PlanProblem>,
    pub held: &'a mut Vec<Held>,
}
