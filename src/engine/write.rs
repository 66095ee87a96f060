//! What every kind's writes share: a change's failure with 3Commas' objections pointed at the
//! config, the journal entry of a create, and how long to look for a create whose answer was
//! unclear. `apply` (DCA bots, the blacklist, the phases) and each kind's room (`grid`) build on
//! it.

use serde::Serialize;

use super::change::Change;
use super::desired::SourceRef;
use super::lease::Started;
use crate::threecommas::ApiError;

/// Attempts to settle one ambiguous write.
pub const SETTLE_ATTEMPTS: usize = 3;

/// A change that failed, with 3Commas' objections pointed back at the config.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub message: String,
    /// Field-level objections: (field, message, where the config sets it).
    pub fields: Vec<(String, String, Option<SourceRef>)>,
    /// True when it is unknown whether the change took effect; the next plan tells.
    pub unresolved: bool,
}

pub type ChangeResult = Result<(String, Option<i64>), Failure>;

/// How long to wait before each look for a bot whose create got no clear answer: 3Commas may
/// commit after its gateway gave up, so one look at once is not enough.
pub const LOOKS_AFTER_UNCLEAR_CREATE: [std::time::Duration; 3] = [
    std::time::Duration::from_millis(500),
    std::time::Duration::from_millis(1500),
    std::time::Duration::from_millis(3000),
];

/// The journal entry of a change's bot.
pub fn started(change: &Change) -> Option<Started> {
    Some(Started {
        account_id: change.account_id?,
        name: change.bot_name.clone()?,
        kind: change.kind,
    })
}

/// A plan file that was written by hand (its hash only proves it was not edited after saving).
pub fn malformed(change: &Change, what: &str) -> Failure {
    Failure {
        message: format!("{}: the plan holds {what}; make a new plan", change.address),
        fields: Vec::new(),
        unresolved: false,
    }
}

/// 3Commas' objections, each pointed at the config line that set the field.
pub fn failure(change: &Change, e: &ApiError, unresolved: bool) -> Failure {
    let fields = e
        .field_errors()
        .map(|attrs| {
            attrs
                .iter()
                .map(|(field, messages)| {
                    let base = field.split('[').next().unwrap_or(field);
                    (
                        base.to_string(),
                        messages.join(", "),
                        change.origins.get(base).or(change.source.as_ref()).cloned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Failure {
        message: e.to_string(),
        fields,
        unresolved,
    }
}
