//! The daily change tally behind the assistant's change guard: what applies made through
//! `botform mcp` updated and deleted, per target, account and UTC day, kept in the state dir so
//! the guard (`settings.max_change_percentage`) holds across restarts of the server and across
//! servers. A change split into batches, or spread over restarts, meets the limit the whole
//! change would; a new day starts a new tally.
//!
//! The file is read and written under its own lock file, so two servers applying at once each
//! count the other's changes. A missing, unreadable or older day's file reads as an empty tally
//! (the guard is a brake against runaway batches, not the only rail: every plan is still
//! checked whole, and deletes still need `--allow-delete`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::apply::Tally;

/// Far beyond any tally (a few dozen bytes per account).
const MAX_GUARD_BYTES: u64 = 1 << 20;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Day {
    /// `2026-12-04` (UTC).
    day: String,
    accounts: BTreeMap<i64, Tally>,
}

fn guard_path(identity: &str) -> PathBuf {
    crate::files::state_dir()
        .join("guard")
        .join(format!("{identity}.json"))
}

fn today() -> String {
    crate::timefmt::now_iso()[..10].to_string()
}

/// Run `f` on today's tally of `identity`, under the tally's lock; what `f` leaves is written
/// back when it returns `Ok`.
pub fn with_today<T, E>(
    identity: &str,
    f: impl FnOnce(&mut BTreeMap<i64, Tally>) -> Result<T, E>,
) -> std::io::Result<Result<T, E>> {
    with_today_at(&guard_path(identity), f)
}

/// [`with_today`] on the tally file at `path`.
fn with_today_at<T, E>(
    path: &std::path::Path,
    f: impl FnOnce(&mut BTreeMap<i64, Tally>) -> Result<T, E>,
) -> std::io::Result<Result<T, E>> {
    let lock = crate::files::open_lock_file(&path.with_extension("lock"))?;
    lock.lock()?;
    let today = today();
    let mut tally: BTreeMap<i64, Tally> = crate::files::read_bounded(path, MAX_GUARD_BYTES)
        .ok()
        .and_then(|text| serde_json::from_str::<Day>(&text).ok())
        .filter(|d| d.day == today)
        .map(|d| d.accounts)
        .unwrap_or_default();
    let before = tally.clone();
    let result = f(&mut tally);
    if result.is_ok() && tally != before {
        let day = Day {
            day: today,
            accounts: tally,
        };
        let bytes = serde_json::to_vec(&day).expect("the tally serializes");
        crate::files::write_atomic(path, &bytes)?;
    }
    Ok(result)
}

/// Today's tally of `identity`, read only.
pub fn today_tally(identity: &str) -> std::io::Result<BTreeMap<i64, Tally>> {
    with_today(identity, |t| Ok::<_, std::convert::Infallible>(t.clone()))
        .map(|r| r.unwrap_or_else(|never| match never {}))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Servers applying at once each count the others': none of their additions is lost.
    #[test]
    fn concurrent_applies_all_count_and_a_refusal_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("guard").join("target.json");
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..10 {
                        with_today_at(&path, |t| {
                            t.entry(7).or_default().updates += 1;
                            Ok::<(), ()>(())
                        })
                        .unwrap()
                        .unwrap();
                    }
                });
            }
        });
        let read = |path: &std::path::Path| {
            with_today_at(path, |t| Ok::<_, ()>(t.clone()))
                .unwrap()
                .unwrap()
        };
        assert_eq!(read(&path)[&7].updates, 80);
        // A refused apply (the closure's Err) leaves the tally as it was.
        let refused = with_today_at(&path, |t| {
            t.entry(7).or_default().deletes += 5;
            Err::<(), _>("over the limit")
        })
        .unwrap();
        assert_eq!(refused, Err("over the limit"));
        assert_eq!(read(&path)[&7].deletes, 0);
        // Yesterday's tally counts for nothing today.
        std::fs::write(
            &path,
            r#"{"day":"2000-01-01","accounts":{"7":{"updates":3,"deletes":0}}}"#,
        )
        .unwrap();
        assert!(read(&path).is_empty());
    }
}
