//! Which id each live bot name had when botform last listed the account, so a read of one bot
//! by name (`explain_bot`, `deals`) is one `show` request instead of a listing of the whole
//! fleet (51 requests at 5,000 bots).
//!
//! Written whenever a plan or the MCP server lists every bot; kept per target in the state dir
//! (`names/<target>.json`). Only a hint: the bot `show` returns must still carry the name asked
//! for, else the caller lists the account as before. Entries older than [`MAX_AGE_S`] are not
//! used.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::bot::LiveBot;

/// How long a listing's names are trusted (a rename or a delete in the web app is caught by the
/// name check anyway).
pub const MAX_AGE_S: i64 = 24 * 3600;
/// The index file is bounded like every state file read.
const MAX_INDEX_BYTES: u64 = 32 * 1024 * 1024;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    /// When the listing was read, seconds since 1970.
    at: i64,
    /// Lowercased name -> the ids that carried it.
    names: BTreeMap<String, Vec<i64>>,
}

fn path(identity: &str) -> std::path::PathBuf {
    crate::files::state_dir()
        .join("names")
        .join(format!("{}.json", crate::files::safe_file_stem(identity)))
}

/// Remember the names of a full listing of the target's bots. Best effort: an index that cannot
/// be written only makes the next one-bot read list the account.
pub fn remember(identity: &str, bots: &[LiveBot]) {
    let mut names: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for bot in bots {
        if let Some(name) = &bot.settings.name {
            names.entry(name.to_lowercase()).or_default().push(bot.id);
        }
    }
    let index = Index {
        at: crate::timefmt::now_unix(),
        names,
    };
    if let Ok(bytes) = serde_json::to_vec(&index)
        && let Err(e) = crate::files::write_atomic_volatile(&path(identity), &bytes)
    {
        tracing::debug!("the bot name index was not written: {e}");
    }
}

/// The one id a name (any case) had at the last listing, when that listing is recent and the
/// name was not on two bots.
pub fn id_of(identity: &str, name: &str) -> Option<i64> {
    let text = crate::files::read_bounded(&path(identity), MAX_INDEX_BYTES).ok()?;
    let index: Index = serde_json::from_str(&text).ok()?;
    if crate::timefmt::now_unix() - index.at > MAX_AGE_S {
        return None;
    }
    match index.names.get(&name.trim().to_lowercase())?.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}
