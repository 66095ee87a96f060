//! One writer per account: the lease every apply holds, and the journal of creates it started.
//!
//! A lease is an exclusive OS lock on a file in one place per user on the machine
//! ([`crate::files::lock_dir`], whatever state dir a process uses), named by the target's
//! identity: the canonical API origin (`localhost` and `127.0.0.1` are one, the key plays no
//! part: two keys of one account are one writer), or the built-in sandbox's state file. So every
//! botform process on the machine, CLI and MCP server alike, agrees on it. The OS drops
//! the lock when the process ends, however it ends (kill -9 included), so a lease never outlives
//! its holder. A second apply waits for it, saying so, and then re-reads the account: the plan it
//! was about to apply is stale by then and is refused, never interleaved.
//!
//! The journal beside the lease lists the bots an apply is creating. After a crash the next plan
//! finds them half-made (created but not yet switched on); their toggles are not counted against
//! the change threshold, so the re-apply converges without `--force`.

use std::collections::BTreeSet;
use std::fs::File;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How often a waiting apply tries the lease again.
const POLL: Duration = Duration::from_millis(100);

/// A held lease; dropping it releases the lock.
pub struct Lease {
    _file: File,
    journal: PathBuf,
}

/// A bot an apply set out to create: (account id, name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Started {
    pub account_id: i64,
    pub name: String,
}

fn leases_dir() -> PathBuf {
    crate::files::state_dir().join("leases")
}

fn lock_path(identity: &str) -> std::io::Result<PathBuf> {
    Ok(crate::files::lock_dir()?.join(format!("{identity}.lock")))
}

fn journal_path(identity: &str) -> PathBuf {
    leases_dir().join(format!("{identity}.creating.json"))
}

/// Take the lease on a target, waiting while another process holds it. `waiting` is told once,
/// when the wait starts.
pub async fn acquire(identity: &str, waiting: impl FnOnce()) -> std::io::Result<Lease> {
    let file = crate::files::open_lock_file(&lock_path(identity)?)?;
    let mut waiting = Some(waiting);
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(std::fs::TryLockError::WouldBlock) => {
                if let Some(tell) = waiting.take() {
                    tell();
                }
                tokio::time::sleep(POLL).await;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
    Ok(Lease {
        _file: file,
        journal: journal_path(identity),
    })
}

impl Lease {
    /// Record the creates about to be sent, before any is sent.
    pub fn record_creates(&self, started: &BTreeSet<Started>) -> std::io::Result<()> {
        let mut all = read_journal(&self.journal);
        all.extend(started.iter().cloned());
        let bytes = serde_json::to_vec(&all).expect("the journal serializes");
        crate::files::write_atomic(&self.journal, &bytes)
    }

    /// Keep in the journal only these creates: the others ended as planned.
    pub fn keep_unfinished(&self, unfinished: &BTreeSet<Started>) -> std::io::Result<()> {
        if unfinished.is_empty() {
            return match std::fs::remove_file(&self.journal) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        let bytes = serde_json::to_vec(unfinished).expect("the journal serializes");
        crate::files::write_atomic(&self.journal, &bytes)
    }
}

/// Bots an earlier apply on this target started creating and did not finish (its process ended).
pub fn unfinished_creates(identity: &str) -> BTreeSet<Started> {
    read_journal(&journal_path(identity))
}

fn read_journal(path: &std::path::Path) -> BTreeSet<Started> {
    crate::files::read_bounded(path, crate::files::MAX_CONFIG_BYTES)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}
