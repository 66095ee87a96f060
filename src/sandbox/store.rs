//! Where a sandbox keeps its state: one SQLite database (WAL), shared safely by every sandbox
//! process that opens it.
//!
//! The server works on an in-memory [`State`]; the database is the record. Each write is one
//! transaction (`BEGIN IMMEDIATE`, so writers in several processes take turns) that first brings
//! the in-memory copy up to date when another process committed since (`PRAGMA data_version`
//! tells), then runs the endpoint, then writes only the rows the endpoint touched. A read checks
//! the same counter and reloads only when another process wrote. So a write costs the same at 10
//! bots as at 5,000, and the CLI and `botform mcp` can use one built-in sandbox at once.
//!
//! Files: the database, its `-wal` and `-shm` companions. The database is opened with
//! `SQLITE_OPEN_NOFOLLOW`, and a symlink at any of the three paths is refused before opening.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::state::{ModeState, State};
use crate::model::enums::TradingMode;

const FORMAT_VERSION: i64 = 2;

/// What one write touched, so only those rows are written.
#[derive(Debug, Default)]
pub struct Touched {
    pub bots: BTreeSet<i64>,
    pub deals: BTreeSet<i64>,
    pub blacklist: bool,
    pub grid_bots: BTreeSet<i64>,
}

pub struct Store {
    path: PathBuf,
    conn: Connection,
    /// `PRAGMA data_version` when the in-memory state was last known to match the database.
    seen_version: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Sqlite {
        path: String,
        source: rusqlite::Error,
    },
    #[error("{0} is a symlink; the sandbox does not follow links for its state files")]
    Symlink(String),
    #[error("{path}: {message}")]
    Data { path: String, message: String },
}

impl StoreError {
    /// Another connection holds the database's lock (past the busy timeout).
    pub fn is_busy(&self) -> bool {
        matches!(
            self,
            StoreError::Sqlite {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            )
        )
    }
}

/// How long a request waits for another process's lock on the database before it is answered
/// 503: short, since the server answers one request at a time (issue 24: a 10 s wait behind an
/// outside lock stalled every client). Opening the database (once) may wait longer.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);
const OPEN_BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Turns a SQLite error on the database at `path` into a [`StoreError`] naming it.
fn sqlite_error(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + Copy + '_ {
    move |source| StoreError::Sqlite {
        path: path.display().to_string(),
        source,
    }
}

fn mode_key(mode: TradingMode) -> &'static str {
    match mode {
        TradingMode::Paper => "paper",
        TradingMode::Real => "real",
    }
}

impl Store {
    /// Open (creating and seeding when new) the state database at `path`, and read it.
    pub fn open(path: &Path) -> Result<(Store, State), StoreError> {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let p = PathBuf::from(format!("{}{suffix}", path.display()));
            if p.symlink_metadata().is_ok_and(|m| m.is_symlink()) {
                return Err(StoreError::Symlink(p.display().to_string()));
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Data {
                path: dir.display().to_string(),
                message: e.to_string(),
            })?;
        }
        let sqlite = sqlite_error(path);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite)?;
        // WAL: readers never block the writer; NORMAL: a commit survives the process being
        // killed (the WAL is in the OS), without an fsync per write.
        conn.busy_timeout(OPEN_BUSY_TIMEOUT).map_err(sqlite)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS accounts (mode TEXT NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (mode, id));
             CREATE TABLE IF NOT EXISTS bots (mode TEXT NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (mode, id));
             CREATE TABLE IF NOT EXISTS deals (mode TEXT NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (mode, id));
             CREATE TABLE IF NOT EXISTS blacklist (mode TEXT PRIMARY KEY, pairs TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS grid_bots (mode TEXT NOT NULL, id INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (mode, id));",
        )
        .map_err(sqlite)?;
        let mut store = Store {
            path: path.to_path_buf(),
            conn,
            seen_version: 0,
        };
        store.seed_when_new()?;
        let state = store.load()?;
        store.seen_version = store.data_version()?;
        store
            .conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| store.sqlite(e))?;
        Ok((store, state))
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        sqlite_error(&self.path)(source)
    }

    fn data(&self, message: impl Into<String>) -> StoreError {
        StoreError::Data {
            path: self.path.display().to_string(),
            message: message.into(),
        }
    }

    fn seed_when_new(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite_error(&self.path))?;
        let version: Option<String> = tx
            .query_row(
                "SELECT value FROM meta WHERE key = 'format_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(sqlite_error(&self.path))?;
        match version {
            Some(v) if v == FORMAT_VERSION.to_string() => {
                // A state from before the email token gets one.
                tx.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('email_token', ?1)",
                    [super::state::new_email_token()],
                )
                .map_err(sqlite_error(&self.path))?;
                tx.commit().map_err(sqlite_error(&self.path))
            }
            Some(v) => Err(StoreError::Data {
                path: self.path.display().to_string(),
                message: format!("state format {v}; this botform reads format {FORMAT_VERSION}"),
            }),
            None => {
                let seeded = State::seeded();
                write_all(&tx, &seeded).map_err(sqlite_error(&self.path))?;
                tx.commit().map_err(sqlite_error(&self.path))
            }
        }
    }

    fn data_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "data_version", |r| r.get(0))
            .map_err(|e| self.sqlite(e))
    }

    /// The whole state as the database has it.
    pub fn load(&self) -> Result<State, StoreError> {
        let meta = |key: &str| -> Result<String, StoreError> {
            self.conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .map_err(|e| self.sqlite(e))
        };
        let int = |key: &str| -> Result<i64, StoreError> {
            meta(key)?
                .parse()
                .map_err(|_| self.data(format!("meta `{key}` is not a number")))
        };
        let default_mode = TradingMode::parse(&meta("default_mode")?)
            .ok_or_else(|| self.data("meta `default_mode` is not paper or real"))?;
        let mut state = State {
            format_version: FORMAT_VERSION as u32,
            default_mode,
            next_bot_id: int("next_bot_id")?,
            next_deal_id: int("next_deal_id")?,
            email_token: meta("email_token")?,
            paper: ModeState::default(),
            real: ModeState::default(),
        };
        for mode in [TradingMode::Paper, TradingMode::Real] {
            let key = mode_key(mode);
            let ms = state.mode_mut(mode);
            ms.accounts = self
                .rows("accounts", key)?
                .into_iter()
                .map(|(_, body)| serde_json::from_str(&body))
                .collect::<Result<_, _>>()
                .map_err(|e| self.data(format!("an account: {e}")))?;
            for (id, body) in self.rows("bots", key)? {
                let bot =
                    serde_json::from_str(&body).map_err(|e| self.data(format!("bot {id}: {e}")))?;
                ms.bots.insert(id, bot);
            }
            for (id, body) in self.rows("grid_bots", key)? {
                let grid = serde_json::from_str(&body)
                    .map_err(|e| self.data(format!("grid bot {id}: {e}")))?;
                ms.grid_bots.insert(id, grid);
            }
            for (id, body) in self.rows("deals", key)? {
                let deal = serde_json::from_str(&body)
                    .map_err(|e| self.data(format!("deal {id}: {e}")))?;
                ms.deals.insert(id, deal);
            }
            let pairs: Option<String> = self
                .conn
                .query_row("SELECT pairs FROM blacklist WHERE mode = ?1", [key], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(|e| self.sqlite(e))?;
            ms.blacklist = match pairs {
                Some(text) => serde_json::from_str(&text)
                    .map_err(|e| self.data(format!("the blacklist: {e}")))?,
                None => Vec::new(),
            };
        }
        Ok(state)
    }

    fn rows(&self, table: &str, mode: &str) -> Result<Vec<(i64, String)>, StoreError> {
        let mut statement = self
            .conn
            .prepare_cached(&format!(
                "SELECT id, body FROM {table} WHERE mode = ?1 ORDER BY id"
            ))
            .map_err(|e| self.sqlite(e))?;
        statement
            .query_map([mode], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.sqlite(e))?
            .collect::<Result<_, _>>()
            .map_err(|e| self.sqlite(e))
    }

    /// Bring `state` up to date before a read, when another process wrote since.
    pub fn refresh(&mut self, state: &mut State) -> Result<(), StoreError> {
        let version = self.data_version()?;
        if version != self.seen_version {
            *state = self.load()?;
            self.seen_version = version;
        }
        Ok(())
    }

    /// Run one write: within one transaction, refresh `state`, run `change` on it, and write
    /// the rows it touched. `change` returns its result and what it touched (`None`: nothing
    /// changed, nothing is written). When the commit fails, `state` is reloaded and the error
    /// returned: nothing is half-written, in memory or on disk.
    pub fn write<T>(
        &mut self,
        state: &mut State,
        mode: TradingMode,
        change: impl FnOnce(&mut State) -> (T, Option<Touched>),
    ) -> Result<T, StoreError> {
        let path = self.path.clone();
        let sqlite = sqlite_error(&path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let version: i64 = tx
            .pragma_query_value(None, "data_version", |r| r.get(0))
            .map_err(sqlite)?;
        if version != self.seen_version {
            // Another process wrote: read its state within this transaction.
            drop(tx);
            *state = self.load()?;
            self.seen_version = version;
            return self.write(state, mode, change);
        }
        let (result, touched) = change(state);
        let Some(touched) = touched else {
            return Ok(result);
        };
        let written = write_touched(&tx, state, mode, &touched).and_then(|()| tx.commit());
        match written {
            Ok(()) => Ok(result),
            Err(e) => {
                *state = self.load()?;
                Err(sqlite(e))
            }
        }
    }
}

/// Every row of a state, for seeding a new database.
fn write_all(tx: &rusqlite::Transaction<'_>, state: &State) -> rusqlite::Result<()> {
    let meta = [
        ("format_version", FORMAT_VERSION.to_string()),
        ("default_mode", state.default_mode.to_string()),
        ("next_bot_id", state.next_bot_id.to_string()),
        ("next_deal_id", state.next_deal_id.to_string()),
        ("email_token", state.email_token.clone()),
    ];
    for (key, value) in meta {
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
    }
    for mode in [TradingMode::Paper, TradingMode::Real] {
        let ms = state.mode(mode);
        for account in &ms.accounts {
            tx.execute(
                "INSERT OR REPLACE INTO accounts (mode, id, body) VALUES (?1, ?2, ?3)",
                params![mode_key(mode), account["id"].as_i64(), account.to_string()],
            )?;
        }
        let touched = Touched {
            bots: ms.bots.keys().copied().collect(),
            deals: ms.deals.keys().copied().collect(),
            blacklist: true,
            grid_bots: ms.grid_bots.keys().copied().collect(),
        };
        write_touched(tx, state, mode, &touched)?;
    }
    Ok(())
}

/// Write the touched rows of one mode, and the id counters.
fn write_touched(
    tx: &rusqlite::Transaction<'_>,
    state: &State,
    mode: TradingMode,
    touched: &Touched,
) -> rusqlite::Result<()> {
    let key = mode_key(mode);
    let ms = state.mode(mode);
    for id in &touched.bots {
        match ms.bots.get(id) {
            Some(bot) => tx.execute(
                "INSERT OR REPLACE INTO bots (mode, id, body) VALUES (?1, ?2, ?3)",
                params![key, id, serde_json::to_string(bot).expect("bots serialize")],
            )?,
            None => tx.execute(
                "DELETE FROM bots WHERE mode = ?1 AND id = ?2",
                params![key, id],
            )?,
        };
    }
    for id in &touched.grid_bots {
        match ms.grid_bots.get(id) {
            Some(grid) => tx.execute(
                "INSERT OR REPLACE INTO grid_bots (mode, id, body) VALUES (?1, ?2, ?3)",
                params![
                    key,
                    id,
                    serde_json::to_string(grid).expect("grid bots serialize")
                ],
            )?,
            None => tx.execute(
                "DELETE FROM grid_bots WHERE mode = ?1 AND id = ?2",
                params![key, id],
            )?,
        };
    }
    for id in &touched.deals {
        match ms.deals.get(id) {
            Some(deal) => tx.execute(
                "INSERT OR REPLACE INTO deals (mode, id, body) VALUES (?1, ?2, ?3)",
                params![key, id, deal.to_string()],
            )?,
            None => tx.execute(
                "DELETE FROM deals WHERE mode = ?1 AND id = ?2",
                params![key, id],
            )?,
        };
    }
    if touched.blacklist {
        tx.execute(
            "INSERT OR REPLACE INTO blacklist (mode, pairs) VALUES (?1, ?2)",
            params![
                key,
                serde_json::to_string(&ms.blacklist).expect("pairs serialize")
            ],
        )?;
    }
    for (name, value) in [
        ("next_bot_id", state.next_bot_id),
        ("next_deal_id", state.next_deal_id),
    ] {
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![name, value.to_string()],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_bots_and_their_write_only_fields_outlive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sandbox.db");
        let (mut store, mut state) = Store::open(&path).unwrap();
        let mut grid =
            crate::sandbox::state::GridRecord::new(serde_json::json!({"id": 7, "name": "g"}));
        grid.write_only = [("trailing_down_enabled".to_string(), true.into())]
            .into_iter()
            .collect();
        grid.events
            .push(serde_json::json!({"message": "Bot is turned on", "created_at": "x"}));
        store
            .write(&mut state, TradingMode::Real, |s| {
                s.real.grid_bots.insert(7, grid.clone());
                (
                    (),
                    Some(Touched {
                        grid_bots: [7].into(),
                        ..Touched::default()
                    }),
                )
            })
            .unwrap();
        drop(store);
        let (_, reopened) = Store::open(&path).unwrap();
        assert_eq!(reopened.real.grid_bots.get(&7), Some(&grid));
    }

    #[test]
    fn two_stores_on_one_file_see_each_others_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sandbox.db");
        let (mut a, mut state_a) = Store::open(&path).unwrap();
        let (mut b, mut state_b) = Store::open(&path).unwrap();
        a.write(&mut state_a, TradingMode::Real, |s| {
            s.real.blacklist = vec!["USDT_LUNA".into()];
            s.next_bot_id += 5;
            (
                (),
                Some(Touched {
                    blacklist: true,
                    ..Touched::default()
                }),
            )
        })
        .unwrap();
        b.refresh(&mut state_b).unwrap();
        assert_eq!(state_b.real.blacklist, vec!["USDT_LUNA".to_string()]);
        assert_eq!(state_b.next_bot_id, state_a.next_bot_id);
        // A write from b starts from a's state, never from its own stale copy.
        let next = b
            .write(&mut state_b, TradingMode::Real, |s| (s.next_bot_id, None))
            .unwrap();
        assert_eq!(next, state_a.next_bot_id);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_at_any_state_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let db = dir.path().join("s.db");
        for suffix in ["", "-wal", "-shm"] {
            let link = PathBuf::from(format!("{}{suffix}", db.display()));
            std::os::unix::fs::symlink(&victim, &link).unwrap();
            assert!(matches!(Store::open(&db), Err(StoreError::Symlink(_))));
            std::fs::remove_file(&link).unwrap();
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}
