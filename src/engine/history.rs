//! The record of every apply, from the CLI and the MCP server alike: what it changed (each field
//! before and after), which bots it created, how it ended, and the config files as they stood.
//! `history` lists the records; `revert` puts the files back as they were before an apply and
//! plans the account back with them.
//!
//! Layout, per config root (its canonical path, hashed): `state_dir/history/<root>/records/<id>.json`
//! and `blobs/<sha256>` (each file text stored once, however many applies share it). A record's
//! `files_after` are the files the apply was planned from; its `files_before` are the previous
//! record's `files_after`: the config the account matched before this apply. Records are written
//! under the root's history lock, so two applies at once each find the right previous one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::Digest;

use super::apply::ApplyReport;
use super::plan::{Action, FieldChange, Plan};

/// Config files by their path relative to the root, each as the sha256 of its text.
pub type FileSnapshot = BTreeMap<String, String>;

/// One change an apply made (or tried).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RecordedChange {
    pub address: String,
    pub action: Action,
    pub bot_id: Option<i64>,
    pub fields: Vec<FieldChange>,
    /// What was done, or `failed: why`.
    pub result: String,
}

/// A bot an apply created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Created {
    pub address: String,
    pub bot_id: i64,
    pub account_id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Record {
    /// `000012-20261204T082500Z`: the apply's number for this config, and when.
    pub id: String,
    pub at: String,
    /// `cli` or `mcp`.
    pub via: String,
    /// The API it went to (never a credential).
    pub target: String,
    pub changes: Vec<RecordedChange>,
    pub created: Vec<Created>,
    pub succeeded: usize,
    pub failed: usize,
    /// The config before this apply (the previous record's files); none for the first.
    pub files_before: Option<FileSnapshot>,
    /// The config this apply was planned from; none when it was not known (a saved plan file).
    pub files_after: Option<FileSnapshot>,
}

impl Record {
    /// Changes of this kind that were made (failed ones left out).
    pub fn done(&self, action: Action) -> usize {
        self.changes
            .iter()
            .filter(|c| c.action == action && !c.result.starts_with("failed"))
            .count()
    }

    /// Whether `revert` can undo it: it knows the files from before and after.
    pub fn revertible(&self) -> bool {
        self.files_before.is_some() && self.files_after.is_some()
    }
}

/// What `revert` writes: each file's text, or `None` where the file did not exist before.
#[derive(Debug, Clone, Default)]
pub struct Restore {
    pub files: BTreeMap<String, Option<String>>,
    /// The bots the apply created: the revert's plan deletes them (or switches them off).
    pub created: Vec<Created>,
}

/// Record files are small; a bound keeps a planted huge one from costing memory.
const MAX_RECORD_BYTES: u64 = 64 * 1024 * 1024;

/// The history of one config root.
pub struct History {
    dir: PathBuf,
}

impl History {
    /// The history of the config under `root` (a directory; for a file, its directory).
    pub fn of_root(root: &Path) -> History {
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        let key = hex::encode(&sha2::Sha256::digest(root.to_string_lossy().as_bytes())[..8]);
        History {
            dir: crate::files::state_dir().join("history").join(key),
        }
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.dir
            .join("records")
            .join(format!("{}.json", crate::files::safe_file_stem(id)))
    }

    /// Keep file texts as blobs; their snapshot.
    fn store(&self, files: &BTreeMap<String, String>) -> std::io::Result<FileSnapshot> {
        let mut snapshot = FileSnapshot::new();
        for (path, text) in files {
            let hash = hex::encode(sha2::Sha256::digest(text.as_bytes()));
            let blob = self.dir.join("blobs").join(&hash);
            if !blob.exists() {
                crate::files::write_atomic(&blob, text.as_bytes())?;
            }
            snapshot.insert(path.clone(), hash);
        }
        Ok(snapshot)
    }

    fn blob(&self, hash: &str) -> std::io::Result<String> {
        let path = self
            .dir
            .join("blobs")
            .join(crate::files::safe_file_stem(hash));
        crate::files::read_bounded(&path, MAX_RECORD_BYTES)
            .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))
    }

    /// Record an apply: `files` are the config files it was planned from (relative path ->
    /// text), when known. Returns the record's id.
    pub fn record(
        &self,
        via: &str,
        plan: &Plan,
        report: &ApplyReport,
        files: Option<&BTreeMap<String, String>>,
    ) -> std::io::Result<String> {
        let lock = crate::files::open_lock_file(&self.dir.join("history.lock"))?;
        lock.lock()?;
        let files_after = files.map(|f| self.store(f)).transpose()?;
        let earlier = self.list()?;
        let files_before = earlier.first().and_then(|r| r.files_after.clone());
        let now = crate::timefmt::now_iso();
        let compact: String = now.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        // The sequence first: ids sort in apply order whatever the clock does.
        let sequence = earlier
            .first()
            .and_then(|r| r.id.split('-').next()?.parse::<u64>().ok())
            .unwrap_or(0)
            + 1;
        let id = format!("{sequence:06}-{compact}");
        let mut changes = Vec::new();
        let mut created = Vec::new();
        for outcome in &report.outcomes {
            let Some(change) = plan.changes.get(outcome.change) else {
                continue;
            };
            // What `revert` retires: DCA bots (a grid bot an apply created is deleted by
            // marking it `absent`).
            if outcome.action == Action::Create
                && change.kind.is_dca_bot()
                && outcome.result.is_ok()
                && !outcome.left_to_another_apply
                && let (Some(bot_id), Some(account_id)) = (outcome.bot_id, change.account_id)
            {
                created.push(Created {
                    address: outcome.address.clone(),
                    bot_id,
                    account_id,
                    name: change.bot_name.clone().unwrap_or_default(),
                });
            }
            changes.push(RecordedChange {
                address: outcome.address.clone(),
                action: outcome.action,
                bot_id: outcome.bot_id,
                fields: change.fields.clone(),
                result: match &outcome.result {
                    Ok(done) => done.clone(),
                    Err(failure) => format!("failed: {}", failure.message),
                },
            });
        }
        let record = Record {
            id: id.clone(),
            at: now,
            via: via.to_string(),
            target: plan.target.api_url.clone(),
            succeeded: report.outcomes.len() - report.failures(),
            failed: report.failures(),
            changes,
            created,
            files_before,
            files_after,
        };
        let bytes = serde_json::to_vec_pretty(&record).map_err(std::io::Error::other)?;
        crate::files::write_atomic(&self.record_path(&id), &bytes)?;
        Ok(id)
    }

    /// Every record, newest first.
    pub fn list(&self) -> std::io::Result<Vec<Record>> {
        let dir = self.dir.join("records");
        let mut names: Vec<String> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        names.sort_unstable_by(|a, b| b.cmp(a));
        Ok(names.iter().filter_map(|id| self.get(id).ok()).collect())
    }

    /// One record.
    pub fn get(&self, id: &str) -> std::io::Result<Record> {
        let path = self.record_path(id);
        let text = crate::files::read_bounded(&path, MAX_RECORD_BYTES).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "no apply `{}` is recorded for this config ({e}); `history` lists them",
                    crate::diagnostic::quote_input(id)
                ),
            )
        })?;
        serde_json::from_str(&text).map_err(std::io::Error::other)
    }

    /// The texts of a snapshot's files.
    fn texts(&self, snapshot: &FileSnapshot) -> std::io::Result<BTreeMap<String, String>> {
        snapshot
            .iter()
            .map(|(path, blob)| Ok((path.clone(), self.blob(blob)?)))
            .collect()
    }

    /// The unified diff of the config files, before -> after a recorded apply; `None` when the
    /// record does not know both.
    pub fn diff(&self, record: &Record) -> Option<String> {
        let before = self.texts(record.files_before.as_ref()?).ok()?;
        let after = self.texts(record.files_after.as_ref()?).ok()?;
        let mut paths: Vec<&String> = before.keys().chain(after.keys()).collect();
        paths.sort();
        paths.dedup();
        let mut text = String::new();
        for path in paths {
            let (a, b) = (before.get(path), after.get(path));
            if a != b {
                text.push_str(
                    &similar::TextDiff::from_lines(
                        a.map_or("", String::as_str),
                        b.map_or("", String::as_str),
                    )
                    .unified_diff()
                    .context_radius(2)
                    .header(&format!("a/{path}"), &format!("b/{path}"))
                    .to_string(),
                );
            }
        }
        Some(text)
    }

    /// What reverting `id` writes, given the config files now (relative path -> text). Refused
    /// when the record knows no earlier files, or when the files changed since that apply
    /// (reverting would lose those edits) unless `force`.
    pub fn restore(
        &self,
        id: &str,
        now: &BTreeMap<String, String>,
        force: bool,
    ) -> Result<Restore, String> {
        let record = self.get(id).map_err(|e| e.to_string())?;
        let Some(before) = &record.files_before else {
            return Err(format!(
                "apply {} is the first recorded for this config: botform has no earlier files to put back",
                record.id
            ));
        };
        let Some(after) = &record.files_after else {
            return Err(format!(
                "apply {} came from a saved plan file: botform did not see the files it was planned from",
                record.id
            ));
        };
        let hash = |text: &String| hex::encode(sha2::Sha256::digest(text.as_bytes()));
        let now_hashes: FileSnapshot = now.iter().map(|(p, t)| (p.clone(), hash(t))).collect();
        if &now_hashes != after && !force {
            let mut changed: Vec<&String> = now_hashes
                .keys()
                .chain(after.keys())
                .filter(|p| now_hashes.get(*p) != after.get(*p))
                .collect();
            changed.sort();
            changed.dedup();
            return Err(format!(
                "the config changed since apply {} ({}): reverting would lose those edits; commit or undo them first, or force",
                record.id,
                changed
                    .iter()
                    .take(5)
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut files = BTreeMap::new();
        for (path, blob) in before {
            files.insert(
                path.clone(),
                Some(self.blob(blob).map_err(|e| e.to_string())?),
            );
        }
        for path in now.keys().chain(after.keys()) {
            files.entry(path.clone()).or_insert(None);
        }
        // Only what differs is written.
        files.retain(|path, text| now.get(path) != text.as_ref());
        Ok(Restore {
            files,
            created: record.created,
        })
    }
}

impl Restore {
    /// Write the files back (`resolve` turns a path relative to the root into where it is
    /// written, refusing one that leaves the root); each file as `path: restored` or `path:
    /// removed`.
    pub fn write(
        &self,
        resolve: impl Fn(&str) -> Result<PathBuf, String>,
    ) -> Result<Vec<String>, String> {
        let mut done = Vec::new();
        for (relative, text) in &self.files {
            let path = resolve(relative)?;
            let failed = |e: std::io::Error| format!("{relative}: {e}");
            match text {
                Some(text) if path.exists() => {
                    crate::files::rewrite_config_file(&path, text.as_bytes()).map_err(failed)?;
                    done.push(format!("{relative}: restored"));
                }
                Some(text) => {
                    crate::files::write_user_file(&path, text.as_bytes()).map_err(failed)?;
                    done.push(format!("{relative}: restored"));
                }
                None => {
                    std::fs::remove_file(&path).map_err(failed)?;
                    done.push(format!("{relative}: removed"));
                }
            }
        }
        Ok(done)
    }
}

/// A path of a record under `root`: relative, without `..`.
pub fn under_root(root: &Path, relative: &str) -> Result<PathBuf, String> {
    let path = Path::new(relative);
    if path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "`{}` is not a path under the config root: botform restores only there",
            crate::diagnostic::quote_input(relative)
        ));
    }
    Ok(root.join(path))
}

/// The config files a checked config was read from, relative to `root`, with their texts.
pub fn files_of(checked: &crate::config::Checked, root: &Path) -> BTreeMap<String, String> {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    checked
        .config
        .sources
        .iter()
        .map(|(_, file)| {
            let path = file
                .path
                .canonicalize()
                .unwrap_or_else(|_| file.path.clone());
            let relative = path
                .strip_prefix(&root)
                .map(|p| p.to_string_lossy().to_string())
                .unwrap_or_else(|_| path.to_string_lossy().to_string());
            (relative, file.text.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ApplyReport {
        ApplyReport::default()
    }

    fn plan() -> Plan {
        serde_json::from_value(serde_json::json!({
            "format_version": 1,
            "target": { "api_url": "http://127.0.0.1:1", "mode": null, "sandbox": true },
            "summary": { "add": 0, "change": 0, "destroy": 0, "managed": 0, "unmanaged": 0, "live_by_account": {} },
            "changes": [],
            "limits": { "max_change_percentage": "30", "max_delete": null },
            "answered_in": null,
            "unmanaged": [],
            "held": [],
            "capital": [],
            "fingerprints": {},
        }))
        .unwrap()
    }

    #[test]
    fn a_record_edited_to_reach_outside_the_root_writes_nothing_there() {
        let root = Path::new("/config");
        assert_eq!(
            under_root(root, "bots/btc.toml").unwrap(),
            Path::new("/config/bots/btc.toml")
        );
        for hostile in [
            "../outside.toml",
            "/etc/passwd",
            "bots/../../x.toml",
            "./x.toml",
        ] {
            assert!(under_root(root, hostile).is_err(), "{hostile}");
        }
    }

    #[test]
    fn a_revert_puts_back_the_files_of_the_apply_before_and_refuses_to_lose_edits() {
        let state = tempfile::tempdir().unwrap();
        let history = History {
            dir: state.path().join("h"),
        };
        let v1 = BTreeMap::from([("bots.toml".to_string(), "take_profit = 1.5\n".to_string())]);
        let v2 = BTreeMap::from([
            ("bots.toml".to_string(), "take_profit = 1.3\n".to_string()),
            ("new.toml".to_string(), "[[bots]]\n".to_string()),
        ]);
        let first = history
            .record("cli", &plan(), &report(), Some(&v1))
            .unwrap();
        let second = history
            .record("mcp", &plan(), &report(), Some(&v2))
            .unwrap();
        assert!(second > first, "ids sort in time order");
        assert_eq!(history.list().unwrap()[0].id, second);
        assert!(
            history
                .restore(&first, &v1, false)
                .unwrap_err()
                .contains("first recorded")
        );
        let restore = history.restore(&second, &v2, false).unwrap();
        assert_eq!(
            restore.files,
            BTreeMap::from([
                (
                    "bots.toml".to_string(),
                    Some("take_profit = 1.5\n".to_string())
                ),
                ("new.toml".to_string(), None),
            ])
        );
        let mut edited = v2.clone();
        edited.insert("bots.toml".into(), "take_profit = 9\n".into());
        assert!(
            history
                .restore(&second, &edited, false)
                .unwrap_err()
                .contains("bots.toml")
        );
        assert!(history.restore(&second, &edited, true).is_ok());
    }
}
