//! The durable store: one SQLite file per calendar pair.

mod rows;
mod schema;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior, params};

use calbridge_core::{Echo, StateChange, SyncState};
use calbridge_model::{ItemId, Side, VersionTag};

use crate::{CreateIntent, RunRecord, StateStore, StoreError};

use rows::{
    bad_row, blob, decode_hashes, echo_from_row, encode_hashes, format_time, intent_from_row,
    pair_from_row, pair_name, run_from_row, text,
};

/// How long a statement waits for a lock held by another connection (a backup tool, an
/// inspection shell) before giving up with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many runs the history keeps.
const RUNS_KEPT: i64 = 1000;

/// Sync state in a SQLite file (WAL, `synchronous=FULL`: a commit that returned survives a
/// power cut).
///
/// The store owns its file: while it is open, a sidecar `<file>.lock` is locked, and a
/// second [`SqliteStore::open`] of the same file, from this process or another, fails with
/// [`StoreError::InUse`] instead of interleaving writes with the first. The connection is
/// behind a mutex; each trait method runs its few statements inline, which is quicker than
/// handing them to a blocking thread.
///
/// ```
/// use calbridge_store::{SqliteStore, StateStore, StoreError};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), StoreError> {
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("outlook-salesforce.db");
/// let store = SqliteStore::open(&path)?;
/// assert!(matches!(SqliteStore::open(&path), Err(StoreError::InUse { .. })));
/// assert!(store.load().await?.pairs.is_empty());
/// # Ok(())
/// # }
/// ```
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// `None` for an in-memory database.
    path: Option<PathBuf>,
    /// Never read: holding it open holds the lock. Declared after `conn` so the connection
    /// closes (and checkpoints) before the lock is released.
    _lock: Option<File>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// The schema version this build writes, and the newest it can open.
    pub const SCHEMA_VERSION: i64 = schema::SCHEMA_VERSION;

    /// Opens the state file at `path`, creating it if missing and migrating an older schema.
    ///
    /// # Errors
    /// [`StoreError::InUse`] when another store has the file open; [`StoreError::NewerSchema`]
    /// when a newer calbridge wrote it; [`StoreError::Corrupt`] when it is not a calbridge
    /// state file; [`StoreError::Io`] when the lock file cannot be created;
    /// [`StoreError::Sqlite`] otherwise.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        // Lock before SQLite touches the file, so a second owner never even reads it mid-write.
        let lock = lock_file(&path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags)?;
        Self::init(conn, Some(path), Some(lock))
    }

    /// A store in memory, gone when dropped: for tests and previews that want SQLite's
    /// behaviour without a file.
    ///
    /// # Errors
    /// [`StoreError::Sqlite`] when SQLite cannot start.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        Self::init(conn, None, None)
    }

    /// The state file, or `None` for an in-memory store.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn init(
        mut conn: Connection,
        path: Option<PathBuf>,
        lock: Option<File>,
    ) -> Result<Self, StoreError> {
        let shown = path.as_deref().unwrap_or(Path::new(":memory:"));
        configure(&mut conn, shown).map_err(|e| match e {
            // The first read of a file that is not SQLite fails this way.
            StoreError::Sqlite(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt)
                ) =>
            {
                StoreError::Corrupt {
                    path: shown.to_owned(),
                    reason: e.to_string(),
                }
            }
            other => other,
        })?;
        Ok(Self {
            conn: Mutex::new(conn),
            path,
            _lock: lock,
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the guard dropped its transaction, which rolled back: the
        // connection is still consistent.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn load_now(&self) -> Result<SyncState, StoreError> {
        let mut conn = self.conn();
        // One read transaction: pairs and snapped from the same commit.
        let tx = conn.transaction()?;
        let count: i64 = tx.query_row("SELECT count(*) FROM pairs", [], |r| r.get(0))?;
        let mut pairs = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        {
            let mut stmt = tx.prepare_cached(
                "SELECT id, outlook_id, salesforce_id, outlook_version, outlook_hashes, \
                 salesforce_version, salesforce_hashes FROM pairs ORDER BY id",
            )?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                pairs.push(pair_from_row(row)?);
            }
        }
        let mut snapped = BTreeSet::new();
        {
            let mut stmt = tx.prepare_cached("SELECT outlook_id FROM snapped")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let id =
                    text(row, 0).map_err(|reason| bad_row("snapped row".to_owned(), reason))?;
                snapped.insert(ItemId::new(id));
            }
        }
        let mut echoes = Vec::new();
        {
            let mut stmt = tx.prepare_cached("SELECT side, item_id, fields FROM echoes")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                echoes.push(echo_from_row(row)?);
            }
        }
        tx.commit()?;
        Ok(SyncState {
            pairs,
            snapped,
            echoes,
        })
    }

    fn commit_now(
        &self,
        changes: &[StateChange],
        done_intents: &[String],
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for change in changes {
            apply_change(&tx, change)?;
        }
        // A commit naming an item settles its echo. Usually there is none: look first.
        let any_echo: bool =
            tx.query_row("SELECT EXISTS (SELECT 1 FROM echoes)", [], |row| row.get(0))?;
        if any_echo {
            let mut stmt = tx.prepare_cached("DELETE FROM echoes WHERE item_id = ?1")?;
            for id in changes.iter().flat_map(StateChange::ids) {
                stmt.execute([id.as_str()])?;
            }
        }
        if !done_intents.is_empty() {
            let mut stmt = tx.prepare_cached("DELETE FROM intents WHERE key = ?1")?;
            for key in done_intents {
                stmt.execute([key])?;
            }
        }
        // Dropping an uncommitted transaction (any `?` above) rolls it back.
        tx.commit()?;
        Ok(())
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        f(&self.conn())
    }
}

/// Creates (or opens) `<path>.lock` and takes an exclusive lock on it, without waiting.
///
/// The lock file is never deleted: deleting it on close would let a third opener lock a new
/// file of the same name while a second still waits on the old one.
fn lock_file(path: &Path) -> Result<File, StoreError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(|source| StoreError::Io {
            path: lock_path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::InUse {
            path: path.to_owned(),
        }),
        Err(TryLockError::Error(source)) => Err(StoreError::Io {
            path: lock_path,
            source,
        }),
    }
}

/// Connection settings, then the schema, then WAL.
fn configure(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // FULL: fsync on every commit; the trait promises an `Ok` commit survives a crash.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(32);
    // Before WAL, which is written into the file: a file that is not ours (or is newer) is
    // refused before anything in it changes.
    schema::upgrade(conn, path)?;
    // WAL: a commit appends to the log instead of rewriting pages in place, so a crash
    // mid-commit leaves the last commit intact. An in-memory database answers `memory`.
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !matches!(mode.to_ascii_lowercase().as_str(), "wal" | "memory") {
        tracing::warn!(path = %path.display(), mode, "sync state is not in WAL mode");
    }
    Ok(())
}

/// Applies one change with [`SyncState::apply`]'s semantics.
fn apply_change(tx: &Transaction<'_>, change: &StateChange) -> Result<(), StoreError> {
    const DELETE: &str = "DELETE FROM pairs WHERE outlook_id = ?1 AND salesforce_id = ?2";
    match change {
        StateChange::Put { replaces, pair } => {
            if let Some(old) = replaces {
                tx.prepare_cached(DELETE)?
                    .execute(params![old.outlook.as_str(), old.salesforce.as_str()])?;
            }
            let (o, s) = (&pair.outlook, &pair.salesforce);
            let (o_hashes, s_hashes) = (encode_hashes(&o.hashes), encode_hashes(&s.hashes));
            let values = params![
                o.id.as_str(),
                s.id.as_str(),
                o.version.as_ref().map(VersionTag::as_str),
                &o_hashes[..],
                s.version.as_ref().map(VersionTag::as_str),
                &s_hashes[..],
            ];
            // A new pair whose ids no stored pair holds (a first sync's every pair): one
            // statement. Otherwise nothing is inserted, and the general path below runs.
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO pairs (outlook_id, salesforce_id, outlook_version, \
                     outlook_hashes, salesforce_version, salesforce_hashes) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                )?
                .execute(values)?;
            if inserted == 1 {
                return Ok(());
            }
            // The same pair: updated where it stands, as `SyncState::apply` does.
            let updated = tx
                .prepare_cached(
                    "UPDATE pairs SET outlook_version = ?3, outlook_hashes = ?4, \
                     salesforce_version = ?5, salesforce_hashes = ?6 \
                     WHERE outlook_id = ?1 AND salesforce_id = ?2",
                )?
                .execute(values)?;
            if updated == 0 {
                // A new pair. A stored pair holding either id is superseded: an event is in
                // at most one pair, and the newer record of it wins.
                let superseded = tx
                    .prepare_cached(
                        "DELETE FROM pairs WHERE outlook_id = ?1 OR salesforce_id = ?2",
                    )?
                    .execute(params![o.id.as_str(), s.id.as_str()])?;
                if superseded > 0 {
                    // Not what the planner sends (it names the pair in `replaces`): worth a
                    // trace, since `SyncState::apply` would have kept both.
                    tracing::warn!(outlook = %o.id, salesforce = %s.id, superseded, "a new pair took over the ids of stored pairs");
                }
                tx.prepare_cached(
                    "INSERT INTO pairs (outlook_id, salesforce_id, outlook_version, \
                     outlook_hashes, salesforce_version, salesforce_hashes) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(values)?;
            }
        }
        StateChange::Patch { pair, side, patch } => {
            let (select, update) = match side {
                Side::Outlook => (
                    "SELECT id, outlook_hashes FROM pairs WHERE outlook_id = ?1 AND salesforce_id = ?2",
                    "UPDATE pairs SET outlook_version = ?2, outlook_hashes = ?3 WHERE id = ?1",
                ),
                Side::Salesforce => (
                    "SELECT id, salesforce_hashes FROM pairs WHERE outlook_id = ?1 AND salesforce_id = ?2",
                    "UPDATE pairs SET salesforce_version = ?2, salesforce_hashes = ?3 WHERE id = ?1",
                ),
            };
            let found = {
                let mut stmt = tx.prepare_cached(select)?;
                let mut rows =
                    stmt.query(params![pair.outlook.as_str(), pair.salesforce.as_str()])?;
                match rows.next()? {
                    Some(row) => {
                        let id: i64 = row.get(0)?;
                        let hashes = blob(row, 1).and_then(decode_hashes).map_err(|reason| {
                            bad_row(pair_name(pair), format!("{side}_hashes {reason}"))
                        })?;
                        Some((id, hashes))
                    }
                    None => None,
                }
            };
            // A pair removed since the write was planned: nothing left to patch.
            if let Some((id, mut hashes)) = found {
                for &(field, hash) in &patch.hashes {
                    hashes.set(field, hash);
                }
                let bytes = encode_hashes(&hashes);
                tx.prepare_cached(update)?.execute(params![
                    id,
                    patch.version.as_ref().map(VersionTag::as_str),
                    &bytes[..],
                ])?;
            }
        }
        StateChange::Remove { pair } => {
            tx.prepare_cached(DELETE)?
                .execute(params![pair.outlook.as_str(), pair.salesforce.as_str()])?;
        }
    }
    Ok(())
}

#[async_trait]
impl StateStore for SqliteStore {
    async fn load(&self) -> Result<SyncState, StoreError> {
        self.load_now()
    }

    async fn commit(
        &self,
        changes: &[StateChange],
        done_intents: &[String],
    ) -> Result<(), StoreError> {
        self.commit_now(changes, done_intents)
    }

    async fn record_echoes(&self, echoes: &[Echo]) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO echoes (side, item_id, fields) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (side, item_id) DO UPDATE SET fields = excluded.fields",
            )?;
            for echo in echoes {
                let fields = serde_json::to_string(&echo.fields)
                    .map_err(|e| bad_row(format!("echo of {}", echo.id), e.to_string()))?;
                stmt.execute(params![echo.side.as_str(), echo.id.as_str(), fields])?;
            }
            Ok(())
        })
    }

    async fn record_intents(&self, intents: &[CreateIntent]) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO intents (key, target, source_id, recorded_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (key) DO NOTHING",
            )?;
            for intent in intents {
                stmt.execute(params![
                    intent.key,
                    intent.target.as_str(),
                    intent.source_id.as_str(),
                    format_time(&intent.recorded_at),
                ])?;
            }
            Ok(())
        })
    }

    async fn pending_intents(&self) -> Result<Vec<CreateIntent>, StoreError> {
        self.read(|conn| {
            // Recording order (calbridge never VACUUMs, so rowids keep it).
            let mut stmt = conn.prepare_cached(
                "SELECT key, target, source_id, recorded_at FROM intents ORDER BY rowid",
            )?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(intent_from_row(row)?);
            }
            Ok(out)
        })
    }

    async fn cursor(&self, side: Side) -> Result<Option<String>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached("SELECT cursor FROM cursors WHERE side = ?1")?;
            let mut rows = stmt.query([side.as_str()])?;
            match rows.next()? {
                Some(row) => text(row, 0)
                    .map(|c| Some(c.to_owned()))
                    .map_err(|r| bad_row(format!("{side} cursor"), r)),
                None => Ok(None),
            }
        })
    }

    async fn set_cursor(&self, side: Side, cursor: Option<&str>) -> Result<(), StoreError> {
        self.write(|tx| {
            match cursor {
                Some(cursor) => tx
                    .prepare_cached(
                        "INSERT INTO cursors (side, cursor) VALUES (?1, ?2) \
                         ON CONFLICT (side) DO UPDATE SET cursor = excluded.cursor",
                    )?
                    .execute(params![side.as_str(), cursor])?,
                None => tx
                    .prepare_cached("DELETE FROM cursors WHERE side = ?1")?
                    .execute([side.as_str()])?,
            };
            Ok(())
        })
    }

    async fn set_snapped(&self, id: &ItemId, snapped: bool) -> Result<(), StoreError> {
        self.write(|tx| {
            let sql = if snapped {
                "INSERT INTO snapped (outlook_id) VALUES (?1) ON CONFLICT DO NOTHING"
            } else {
                "DELETE FROM snapped WHERE outlook_id = ?1"
            };
            tx.prepare_cached(sql)?.execute([id.as_str()])?;
            Ok(())
        })
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        let report = serde_json::to_string(&run.report)
            .map_err(|e| bad_row("new run".to_owned(), e.to_string()))?;
        self.write(|tx| {
            tx.prepare_cached(
                "INSERT INTO runs (started_at, finished_at, completed, report) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                format_time(&run.started_at),
                format_time(&run.finished_at),
                run.completed,
                report,
            ])?;
            tx.prepare_cached(
                "DELETE FROM runs WHERE id <= (SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?1)",
            )?
            .execute([RUNS_KEPT])?;
            Ok(())
        })
    }

    async fn recent_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, started_at, finished_at, completed, report FROM runs ORDER BY id DESC LIMIT ?1",
            )?;
            let mut rows = stmt.query([i64::try_from(limit).unwrap_or(i64::MAX)])?;
            let mut out = Vec::new();
            while let Some(row) = rows.next()? {
                out.push(run_from_row(row)?);
            }
            Ok(out)
        })
    }
}
