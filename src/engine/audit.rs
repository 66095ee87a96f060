//! The audit log of deal actions: one JSON line per attempt (run, refused, declined, failed),
//! from the CLI and from MCP alike, in `audit.jsonl` in botform's state dir.
//!
//! Lines are appended with one `write` each on a file opened `O_APPEND` (never through a symlink,
//! never a FIFO), so two processes writing at once interleave whole lines. Nothing secret goes
//! in: the deal, the action and its parameters, what came of it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which front end asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Who {
    Cli,
    Mcp,
}

/// One attempt at a deal action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When, ISO 8601 UTC.
    pub at: String,
    pub who: Who,
    pub deal: i64,
    pub bot: i64,
    pub pair: String,
    /// `cancel`, `panic_sell`, `add_funds`, `update`.
    pub action: String,
    /// The action's parameters (`quantity 0.01 at market`).
    pub detail: String,
    /// The deal's final status, or why nothing was sent (`refused: ...`, `declined`), or
    /// `error: ...`.
    pub result: String,
}

/// The audit log's path: `audit.jsonl` in the state dir.
pub fn path() -> PathBuf {
    crate::files::state_dir().join("audit.jsonl")
}

/// Append one entry.
pub fn record(entry: &AuditEntry) -> std::io::Result<()> {
    let mut line = serde_json::to_string(entry).map_err(std::io::Error::other)?;
    line.push('\n');
    crate::files::append_line(&path(), line.as_bytes())
}

/// Every entry in the log, oldest first (lines that do not read are skipped).
pub fn entries() -> Vec<AuditEntry> {
    std::fs::read_to_string(path())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}
