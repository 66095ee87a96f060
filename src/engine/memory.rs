//! What botform remembers of the bots it wrote, per target: the one store of facts 3Commas
//! does not give back.
//!
//! 3Commas accepts some settings and never shows them again (`sl_to_breakeven_enabled` and
//! `sl_to_breakeven_data`, review M-1; grid bots have more). Without a memory they could never be
//! compared: a config that changed one would plan nothing. So every apply records, for each bot it
//! created or updated (keyed by bot id, with its account and name), the last value it sent of each
//! write-only field; plan compares the config with that (`last sent: …`), and a bot botform never
//! wrote shows the field as unknown once and sends it. Deleted bots are forgotten.
//!
//! The store is a JSON file in the state dir, one per target identity (like the journal of
//! creates), written atomically by apply inside the target's lease, so two writers never
//! interleave. A missing or unreadable file reads as an empty memory: the worst case is one
//! "unknown" that sends the value again. It is per target, not per account, on purpose: bot ids
//! of two servers (a sandbox and 3Commas, two sandboxes) can be equal, and a memory read for the
//! wrong server could hide a change. So an account reached through two targets (the built-in
//! sandbox, and its database served on a port) shows its write-only fields unknown once on the
//! second.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::kinds::{DCA_WRITE_ONLY_FIELDS, GRID_WRITE_ONLY_FIELDS};
use crate::model::bot::BotSettings;

/// The largest memory file read (about 100 bytes a bot: far beyond any account).
const MAX_MEMORY_BYTES: u64 = 64 << 20;

/// What botform last sent to one bot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Remembered {
    pub account_id: i64,
    pub name: String,
    /// The last value sent of each write-only field botform has sent to this bot.
    #[serde(default)]
    pub write_only: Map<String, Value>,
}

/// Everything remembered on one target, by bot id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    #[serde(default)]
    pub bots: BTreeMap<i64, Remembered>,
    /// The grid bots, by grid bot id (3Commas numbers grid bots apart from DCA bots).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grid_bots: BTreeMap<i64, Remembered>,
}

fn memory_path(identity: &str) -> PathBuf {
    crate::files::state_dir()
        .join("memory")
        .join(format!("{identity}.json"))
}

impl Memory {
    /// The memory of a target (empty when there is none or it cannot be read).
    pub fn load(identity: &str) -> Memory {
        crate::files::read_bounded(&memory_path(identity), MAX_MEMORY_BYTES)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Write it back; call only while holding the target's lease.
    pub fn save(&self, identity: &str) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).expect("the memory serializes");
        crate::files::write_atomic(&memory_path(identity), &bytes)
    }

    /// The last value botform sent of a write-only `field` to bot `id`, if it ever sent one.
    pub fn last_sent(&self, id: i64, field: &str) -> Option<&Value> {
        self.bots.get(&id)?.write_only.get(field)
    }

    /// Note what was just sent to bot `id`: its account and name, and the write-only fields the
    /// settings carry.
    pub fn record(&mut self, id: i64, account_id: i64, name: Option<&str>, sent: &BotSettings) {
        let entry = self.bots.entry(id).or_default();
        entry.account_id = account_id;
        if let Some(name) = name {
            entry.name = name.to_string();
        }
        let map = sent.to_map();
        for field in DCA_WRITE_ONLY_FIELDS {
            if let Some(value) = map.get(*field) {
                entry.write_only.insert((*field).to_string(), value.clone());
            }
        }
    }

    /// Forget a deleted bot.
    pub fn forget(&mut self, id: i64) {
        self.bots.remove(&id);
    }

    /// The last value botform sent of a write-only `field` to grid bot `id`.
    pub fn last_sent_grid(&self, id: i64, field: &str) -> Option<&Value> {
        self.grid_bots.get(&id)?.write_only.get(field)
    }

    /// Note what was just sent to grid bot `id` (a create or update body).
    pub fn record_grid(&mut self, id: i64, account_id: i64, name: &str, body: &Map<String, Value>) {
        let entry = self.grid_bots.entry(id).or_default();
        entry.account_id = account_id;
        entry.name = name.to_string();
        for field in GRID_WRITE_ONLY_FIELDS {
            if let Some(value) = body.get(*field) {
                entry.write_only.insert((*field).to_string(), value.clone());
            }
        }
    }

    /// Forget a deleted grid bot.
    pub fn forget_grid(&mut self, id: i64) {
        self.grid_bots.remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_write_only_fields_are_kept_and_the_last_value_wins() {
        let mut memory = Memory::default();
        let mut sent = BotSettings {
            take_profit: Some("1".parse().unwrap()),
            sl_to_breakeven_enabled: Some(true),
            ..BotSettings::default()
        };
        memory.record(7, 1, Some("a"), &sent);
        sent.sl_to_breakeven_enabled = Some(false);
        memory.record(7, 1, None, &sent);
        assert_eq!(
            memory.last_sent(7, "sl_to_breakeven_enabled"),
            Some(&Value::Bool(false))
        );
        assert_eq!(memory.last_sent(7, "take_profit"), None);
        assert_eq!(memory.bots[&7].name, "a");
        let text = serde_json::to_string(&memory).unwrap();
        assert_eq!(serde_json::from_str::<Memory>(&text).unwrap(), memory);
    }
}
