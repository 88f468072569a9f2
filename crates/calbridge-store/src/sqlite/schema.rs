//! The state file's schema and its migrations.
//!
//! A `meta` table holds `schema_version`. A new file gets `meta` at version 0, then every
//! migration runs in order, each in its own transaction that also bumps the version; so a
//! new file and an old file take the same path, and a crash mid-upgrade leaves the file at
//! the last version fully reached.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::StoreError;

/// The schema version this build writes and the newest it reads.
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// `MIGRATIONS[i]` takes a file from version `i` to `i + 1`. A released step is never
/// edited (files in the field have already run it): a change to the schema is a new step.
const MIGRATIONS: &[&str] = &[V0_TO_V1, V1_TO_V2];

// A build whose newest migration and `SCHEMA_VERSION` disagree would write one version
// number over another layout.
const _: () = assert!(MIGRATIONS.len() as i64 == SCHEMA_VERSION);

/// Version 1: the first layout.
///
/// `pairs` has an explicit `INTEGER PRIMARY KEY` because load order is insertion order, and
/// only an explicit one is guaranteed to survive a `VACUUM` unchanged; a new row's id is one
/// more than the largest, so it sorts last. Hashes are `Field::COUNT` little-endian `u64`s.
const V0_TO_V1: &str = "
CREATE TABLE pairs (
    id                 INTEGER PRIMARY KEY,
    outlook_id         TEXT NOT NULL UNIQUE,
    salesforce_id      TEXT NOT NULL UNIQUE,
    outlook_version    TEXT,
    outlook_hashes     BLOB NOT NULL,
    salesforce_version TEXT,
    salesforce_hashes  BLOB NOT NULL
);
CREATE TABLE intents (
    key         TEXT PRIMARY KEY NOT NULL,
    target      TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE TABLE cursors (
    side   TEXT PRIMARY KEY NOT NULL,
    cursor TEXT NOT NULL
);
CREATE TABLE snapped (
    outlook_id TEXT PRIMARY KEY NOT NULL
);
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    completed   INTEGER NOT NULL,
    report      TEXT NOT NULL
);
";

/// Version 2: `echoes`, the writes sent and not yet recorded as done (see
/// `calbridge_core::Echo`); `fields` is JSON, `[[field, hash], …]`.
const V1_TO_V2: &str = "
CREATE TABLE echoes (
    side    TEXT NOT NULL,
    item_id TEXT NOT NULL,
    fields  TEXT NOT NULL,
    PRIMARY KEY (side, item_id)
);
";

/// Brings the file to [`SCHEMA_VERSION`], initialising an empty one.
pub(crate) fn upgrade(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    migrate(conn, path, MIGRATIONS).map(|_| ())
}

/// Applies `steps` from the file's version up; returns the version reached.
fn migrate(conn: &mut Connection, path: &Path, steps: &[&str]) -> Result<i64, StoreError> {
    let supported = i64::try_from(steps.len()).unwrap_or(i64::MAX);
    let mut version = current_version(conn, path)?;
    if version > supported {
        return Err(StoreError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported,
        });
    }
    while version < supported {
        let step = usize::try_from(version)
            .ok()
            .and_then(|i| steps.get(i))
            .ok_or_else(|| corrupt(path, format!("schema version {version} is not valid")))?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(step)?;
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
            [version + 1],
        )?;
        tx.commit()?;
        tracing::info!(path = %path.display(), from = version, to = version + 1, "sync state schema migrated");
        version += 1;
    }
    Ok(version)
}

/// The file's schema version; an empty file is given a `meta` table at version 0.
fn current_version(conn: &mut Connection, path: &Path) -> Result<i64, StoreError> {
    // Immediate: the check and the creation belong together.
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let has_meta: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
        [],
        |row| row.get(0),
    )?;
    if !has_meta {
        let others = {
            let mut stmt = tx.prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' \
                 ORDER BY name",
            )?;
            stmt.query_map([], |row| row.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?
        };
        if !others.is_empty() {
            // Someone else's database: writing our tables into it would only add to the mess.
            return Err(corrupt(
                path,
                format!(
                    "it has no calbridge meta table but holds tables {}",
                    others.join(", ")
                ),
            ));
        }
        tx.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value NOT NULL);
             INSERT INTO meta (key, value) VALUES ('schema_version', 0);",
        )?;
        tx.commit()?;
        return Ok(0);
    }
    let value = tx
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get::<_, rusqlite::types::Value>(0),
        )
        .optional()
        // A `meta` table of another shape is not ours.
        .map_err(|e| corrupt(path, format!("its meta table is not calbridge's ({e})")))?;
    tx.commit()?;
    match value {
        Some(rusqlite::types::Value::Integer(v)) if v >= 0 => Ok(v),
        Some(other) => Err(corrupt(path, format!("schema_version is {other:?}"))),
        None => Err(corrupt(
            path,
            "its meta table has no schema_version".to_owned(),
        )),
    }
}

fn corrupt(path: &Path, reason: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(conn: &Connection) -> i64 {
        conn.query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    }

    #[test]
    fn a_later_step_runs_on_a_file_at_the_previous_version_and_keeps_its_rows() {
        let path = Path::new("test.db");
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&mut conn, path, &[V0_TO_V1]).unwrap(), 1);
        conn.execute(
            "INSERT INTO pairs (outlook_id, salesforce_id, outlook_hashes, salesforce_hashes) \
             VALUES ('o', 's', x'00', x'00')",
            [],
        )
        .unwrap();
        let steps = [
            V0_TO_V1,
            "ALTER TABLE pairs ADD COLUMN note TEXT; UPDATE pairs SET note = 'n';",
        ];
        assert_eq!(migrate(&mut conn, path, &steps).unwrap(), 2);
        assert_eq!(version(&conn), 2);
        let (id, note): (String, String) = conn
            .query_row("SELECT outlook_id, note FROM pairs", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((id.as_str(), note.as_str()), ("o", "n"));
    }

    #[test]
    fn a_failing_step_leaves_the_file_at_the_last_version_reached() {
        let path = Path::new("test.db");
        let mut conn = Connection::open_in_memory().unwrap();
        let steps = [
            V0_TO_V1,
            "CREATE TABLE half_done (x); SELECT no_such_function();",
        ];
        assert!(matches!(
            migrate(&mut conn, path, &steps),
            Err(StoreError::Sqlite(_))
        ));
        assert_eq!(version(&conn), 1);
        let half_done: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'half_done')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!half_done, "the failed step's work is rolled back");
    }

    #[test]
    fn a_meta_table_of_another_shape_is_corrupt() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE meta (name TEXT, data BLOB);")
            .unwrap();
        let err = migrate(&mut conn, Path::new("x.db"), MIGRATIONS).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn a_non_integer_version_is_corrupt() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value NOT NULL);
             INSERT INTO meta VALUES ('schema_version', 'one');",
        )
        .unwrap();
        let err = migrate(&mut conn, Path::new("x.db"), MIGRATIONS).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    }
}
