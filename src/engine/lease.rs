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
//! The journal beside the lease lists the bots an apply is creating, with when each create was
//! sent. After a crash the next plan finds them half-made (created but not yet switched on); their
//! toggles are not counted against the change threshold, so the re-apply converges without
//! `--force`. A create whose answer was unclear (a timeout, a 504) may still land: 3Commas' gateway
//! gives up on its origin after 100 s while the origin goes on. Until [`LATE_CREATE_WINDOW_S`] has
//! passed since it was sent, the next plan and apply treat it as [`Pending`]: they create nothing
//! of that name and say when to look again (review M1), so a late commit never meets a twin.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::kinds::ResourceKind;

/// How often a waiting apply tries the lease again.
const POLL: Duration = Duration::from_millis(100);

/// How long after it was sent an unclear create may still land: Cloudflare's 100 s origin
/// timeout, with a margin for the clocks of two processes and the origin's commit.
pub const LATE_CREATE_WINDOW_S: i64 = 130;

/// A held lease; dropping it releases the lock.
pub struct Lease {
    _file: File,
    journal: Journal,
}

/// The journal of creates of a held lease, shareable with the apply's concurrent writes (each
/// stamps its create as it sends it); one read-modify-write at a time.
#[derive(Clone)]
pub struct Journal {
    path: PathBuf,
    lock: std::sync::Arc<std::sync::Mutex<()>>,
}

/// A bot an apply set out to create: (account id, name).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Started {
    pub account_id: i64,
    pub name: String,
    /// The kind of object (absent in journals written before grid bots: a DCA bot).
    #[serde(default, skip_serializing_if = "ResourceKind::is_dca_bot")]
    pub kind: ResourceKind,
}

/// A create the journal holds: which bot, when it was sent, and whether it may still land.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    #[serde(flatten)]
    started: Started,
    /// When the create was about to be sent, in seconds since 1970 (absent in journals written
    /// before it was kept).
    #[serde(default)]
    sent_at: Option<i64>,
    /// False once 3Commas answered it clearly (created, or refused): only an unclear create, or
    /// one whose process ended before its answer, can land late.
    #[serde(default = "may_land_by_default")]
    may_land: bool,
}

fn may_land_by_default() -> bool {
    true
}

/// A create that may still land: nothing of its name is created until `until` (seconds since
/// 1970) has passed or the bot has appeared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub started: Started,
    pub sent_at: i64,
    pub until: i64,
}

impl Pending {
    /// Why nothing of this name is planned now, for plan and apply.
    pub fn reason(&self) -> String {
        format!(
            "a create of this bot sent at {} got no clear answer and may still land (3Commas can commit up to 100 s after its gateway gave up); nothing is created under this name before {}: run plan again then",
            crate::timefmt::iso(self.sent_at * 1000),
            crate::timefmt::iso(self.until * 1000),
        )
    }
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
        journal: Journal {
            path: journal_path(identity),
            lock: Default::default(),
        },
    })
}

impl Lease {
    /// The journal of creates, kept while this lease is held.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }
}

impl Journal {
    fn locked(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Record the creates this apply will send, before any is sent (not yet stamped: an entry
    /// with no send time was never sent, so it cannot land late; entries an earlier apply left
    /// keep their time until this one stamps them anew).
    pub fn record_creates(&self, started: &BTreeSet<Started>) -> std::io::Result<()> {
        let _one_at_a_time = self.locked();
        let mut all = read_journal(&self.path);
        for s in started {
            all.entry(s.clone()).or_insert_with(|| Entry {
                started: s.clone(),
                sent_at: None,
                may_land: true,
            });
        }
        write_journal(&self.path, &all)
    }

    /// Stamp a create with the time, right before it is sent: from now it may land late.
    pub fn stamp_sent(&self, started: &Started) -> std::io::Result<()> {
        let _one_at_a_time = self.locked();
        let mut all = read_journal(&self.path);
        all.insert(
            started.clone(),
            Entry {
                started: started.clone(),
                sent_at: Some(crate::timefmt::now_unix()),
                may_land: true,
            },
        );
        write_journal(&self.path, &all)
    }

    /// The creates that may still land now, as the journal holds them within the lease (another
    /// apply may have sent one since this apply's plan was made).
    pub fn pending(&self) -> Vec<Pending> {
        let _one_at_a_time = self.locked();
        pending_in(&read_journal(&self.path), crate::timefmt::now_unix())
    }

    /// Keep in the journal only these creates, each with whether it may still land (its answer
    /// was unclear); the others of this apply (`ours`) ended as planned and are dropped, so a
    /// name created cleanly can be created again at once (after a delete, or a replacement).
    /// Entries this apply did not touch that may still land are kept too, until their window
    /// has passed.
    pub fn keep_unfinished(
        &self,
        unfinished: &BTreeMap<Started, bool>,
        ours: &BTreeSet<Started>,
    ) -> std::io::Result<()> {
        let _one_at_a_time = self.locked();
        let now = crate::timefmt::now_unix();
        let kept: BTreeMap<Started, Entry> = read_journal(&self.path)
            .into_iter()
            .filter_map(|(started, mut entry)| match unfinished.get(&started) {
                Some(may_land) => {
                    entry.may_land = *may_land;
                    Some((started, entry))
                }
                None => (!ours.contains(&started)
                    && entry.may_land
                    && entry
                        .sent_at
                        .is_some_and(|t| now < t + LATE_CREATE_WINDOW_S))
                .then_some((started, entry)),
            })
            .collect();
        if kept.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        write_journal(&self.path, &kept)
    }
}

/// Bots an earlier apply on this target started creating and did not finish (its process ended,
/// or the create or its switching on failed).
pub fn unfinished_creates(identity: &str) -> BTreeSet<Started> {
    read_journal(&journal_path(identity)).into_keys().collect()
}

/// Creates on this target that may still land now (see [`Pending`]).
pub fn pending_creates(identity: &str) -> Vec<Pending> {
    pending_in(
        &read_journal(&journal_path(identity)),
        crate::timefmt::now_unix(),
    )
}

fn pending_in(journal: &BTreeMap<Started, Entry>, now: i64) -> Vec<Pending> {
    journal
        .values()
        .filter(|e| e.may_land)
        .filter_map(|e| {
            let sent_at = e.sent_at?;
            let until = sent_at + LATE_CREATE_WINDOW_S;
            (now < until).then(|| Pending {
                started: e.started.clone(),
                sent_at,
                until,
            })
        })
        .collect()
}

/// The journal, by bot. One written by an older version (a list of bots, no times) reads as
/// creates with no time: half-made, never pending.
fn read_journal(path: &std::path::Path) -> BTreeMap<Started, Entry> {
    let entries: Vec<Entry> = crate::files::read_bounded(path, crate::files::MAX_CONFIG_BYTES)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    entries
        .into_iter()
        .map(|e| (e.started.clone(), e))
        .collect()
}

fn write_journal(
    path: &std::path::Path,
    journal: &BTreeMap<Started, Entry>,
) -> std::io::Result<()> {
    let entries: Vec<&Entry> = journal.values().collect();
    let bytes = serde_json::to_vec(&entries).expect("the journal serializes");
    crate::files::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, sent_at: Option<i64>, may_land: bool) -> Entry {
        Entry {
            started: Started {
                account_id: 1,
                name: name.into(),
                kind: ResourceKind::DcaBot,
            },
            sent_at,
            may_land,
        }
    }

    #[test]
    fn only_unclear_creates_inside_their_window_are_pending() {
        let journal: BTreeMap<Started, Entry> = [
            entry("unclear", Some(1000), true),
            entry("refused", Some(1000), false),
            entry("old version", None, true),
            entry("long ago", Some(1000 - LATE_CREATE_WINDOW_S), true),
        ]
        .into_iter()
        .map(|e| (e.started.clone(), e))
        .collect();
        let pending = pending_in(&journal, 1001);
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].started.name, "unclear");
        assert_eq!(pending[0].until, 1000 + LATE_CREATE_WINDOW_S);
    }

    #[test]
    fn a_create_that_ended_as_planned_leaves_the_journal_and_its_name_is_free_again() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal {
            path: dir.path().join("j.json"),
            lock: Default::default(),
        };
        let started = |name: &str| Started {
            account_id: 1,
            name: name.into(),
            kind: ResourceKind::GridBot,
        };
        let ours: BTreeSet<Started> = [started("done"), started("unclear")].into();
        journal.record_creates(&ours).unwrap();
        journal.stamp_sent(&started("done")).unwrap();
        journal.stamp_sent(&started("unclear")).unwrap();
        // Another apply's create, sent just now, not ours to drop.
        journal.stamp_sent(&started("theirs")).unwrap();
        journal
            .keep_unfinished(&[(started("unclear"), true)].into(), &ours)
            .unwrap();
        let mut pending: Vec<String> = journal
            .pending()
            .into_iter()
            .map(|p| p.started.name)
            .collect();
        pending.sort();
        assert_eq!(pending, ["theirs", "unclear"]);
    }

    #[test]
    fn a_journal_of_an_older_version_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.json");
        std::fs::write(&path, r#"[{"account_id":1,"name":"a"}]"#).unwrap();
        let journal = read_journal(&path);
        let e = &journal[&Started {
            account_id: 1,
            name: "a".into(),
            kind: ResourceKind::DcaBot,
        }];
        assert!(e.may_land && e.sent_at.is_none());
    }
}
