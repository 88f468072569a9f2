//! What only the SQLite store has: files, locks, schema versions, damage and full disks.
//! Behaviour shared with every store is in `tests/suite.rs`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use calbridge_core::{PairKey, PairState, SideRecord};
use calbridge_model::{Field, FieldHashes};
use chrono::{TimeZone, Utc};

use super::*;

fn pair(o: &str, s: &str, seed: u64) -> PairState {
    PairState {
        outlook: SideRecord {
            id: ItemId::new(o),
            version: Some(VersionTag::new(format!("etag-{seed}"))),
            hashes: FieldHashes(std::array::from_fn(|i| {
                seed.rotate_left(i as u32 * 5) ^ u64::MAX
            })),
        },
        salesforce: SideRecord {
            id: ItemId::new(s),
            version: None,
            hashes: FieldHashes(std::array::from_fn(|i| seed + i as u64)),
        },
    }
}

fn put(p: PairState) -> StateChange {
    StateChange::Put {
        replaces: None,
        pair: p,
    }
}

fn raw(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

fn schema_version(conn: &Connection) -> i64 {
    conn.query_row(
        "SELECT value FROM meta WHERE key = 'schema_version'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn a_new_file_gets_the_current_schema_and_its_settings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.path(), Some(path.as_path()));
    assert!(format!("{store:?}").contains("state.db"));
    let conn = store.conn();
    assert_eq!(schema_version(&conn), SqliteStore::SCHEMA_VERSION);
    let pragma = |name: &str| -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| format!("{v:?}"))
        .unwrap()
    };
    assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
    assert_eq!(pragma("synchronous"), "Integer(2)", "FULL");
    assert_eq!(pragma("foreign_keys"), "Integer(1)");
    assert_eq!(pragma("busy_timeout"), "Integer(5000)");
}

#[test]
fn an_empty_file_is_initialised() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    File::create(&path).unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(schema_version(&store.conn()), SqliteStore::SCHEMA_VERSION);
}

#[tokio::test]
async fn a_version_0_file_is_migrated_and_usable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    // What a file left at version 0 holds: the meta table and nothing else.
    raw(&path)
        .execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value NOT NULL);
             INSERT INTO meta VALUES ('schema_version', 0);",
        )
        .unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(schema_version(&store.conn()), SqliteStore::SCHEMA_VERSION);
    store.commit(&[put(pair("o", "s", 1))], &[]).await.unwrap();
    store.set_cursor(Side::Outlook, Some("c")).await.unwrap();
    assert_eq!(store.load().await.unwrap().pairs, vec![pair("o", "s", 1)]);
}

#[tokio::test]
async fn a_version_1_file_gains_the_echoes_table_and_keeps_its_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.commit(&[put(pair("o", "s", 1))], &[]).await.unwrap();
    }
    // Back to what a version-1 build left: no echoes table.
    raw(&path)
        .execute_batch("DROP TABLE echoes; UPDATE meta SET value = 1 WHERE key = 'schema_version';")
        .unwrap();
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(schema_version(&store.conn()), SqliteStore::SCHEMA_VERSION);
    let state = store.load().await.unwrap();
    assert_eq!(state.pairs, vec![pair("o", "s", 1)]);
    assert!(state.echoes.is_empty());
}

#[test]
fn a_newer_schema_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(SqliteStore::open(&path).unwrap());
    raw(&path)
        .execute(
            "UPDATE meta SET value = 99 WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
    match SqliteStore::open(&path).unwrap_err() {
        StoreError::NewerSchema {
            path: p,
            found,
            supported,
        } => assert_eq!(
            (p, found, supported),
            (path.clone(), 99, SqliteStore::SCHEMA_VERSION)
        ),
        other => panic!("expected NewerSchema, got {other:?}"),
    }
    assert_eq!(schema_version(&raw(&path)), 99);
}

#[test]
fn a_file_that_is_not_sqlite_is_corrupt_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let text = "this is a calendar export, not a database\n".repeat(200);
    std::fs::write(&path, &text).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(&err, StoreError::Corrupt { path: p, .. } if *p == path),
        "{err:?}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
}

#[test]
fn another_programs_database_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    raw(&path)
        .execute_batch("CREATE TABLE contacts (name TEXT);")
        .unwrap();
    match SqliteStore::open(&path).unwrap_err() {
        StoreError::Corrupt { reason, .. } => assert!(reason.contains("contacts"), "{reason}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    // Left as it was: not switched to WAL, no tables added.
    let conn = raw(&path);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1);
}

#[test]
fn a_second_open_is_in_use_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let first = SqliteStore::open(&path).unwrap();
    match SqliteStore::open(&path).unwrap_err() {
        StoreError::InUse { path: p } => assert_eq!(p, path),
        other => panic!("expected InUse, got {other:?}"),
    }
    // The same file by another spelling is the same lock.
    let other_spelling = dir.path().join(".").join("state.db");
    assert!(matches!(
        SqliteStore::open(other_spelling),
        Err(StoreError::InUse { .. })
    ));
    drop(first);
    SqliteStore::open(&path).unwrap();
}

const CHILD_ENV: &str = "CALBRIDGE_STORE_LOCK_CHILD";

/// Not a test on its own: run by `another_process_holding_the_file_makes_open_in_use` in a
/// child process, it opens the store named in the environment and holds it until its stdin
/// closes.
#[test]
fn lock_holding_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let _store = SqliteStore::open(PathBuf::from(path)).unwrap();
    println!("\nLOCKED");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

#[test]
fn another_process_holding_the_file_makes_open_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "sqlite::tests::lock_holding_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kept open to the end: a child writing to a closed pipe would fail.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let locked = lines
        .by_ref()
        .map_while(Result::ok)
        .any(|line| line.trim() == "LOCKED");
    assert!(locked, "the child never reported holding the store");
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::InUse { .. })
    ));
    drop(child.stdin.take());
    lines.for_each(drop);
    assert!(child.wait().unwrap().success());
    SqliteStore::open(&path).unwrap();
}

#[test]
fn a_missing_directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("state.db");
    assert!(matches!(
        SqliteStore::open(path),
        Err(StoreError::Io { .. })
    ));
}

#[tokio::test]
async fn what_was_written_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let intents = vec![CreateIntent {
        key: "k1".into(),
        target: Side::Salesforce,
        source_id: ItemId::new("o9"),
        recorded_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
    }];
    let run = RunRecord {
        started_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        finished_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 6).unwrap(),
        completed: true,
        report: serde_json::json!({ "created": 2 }),
    };
    let written = {
        let store = SqliteStore::open(&path).unwrap();
        let changes: Vec<_> = (0..50)
            .map(|i| put(pair(&format!("o{i}"), &format!("s{i}"), i)))
            .collect();
        store.commit(&changes, &[]).await.unwrap();
        store.record_intents(&intents).await.unwrap();
        store
            .set_cursor(Side::Outlook, Some("delta"))
            .await
            .unwrap();
        store.set_snapped(&ItemId::new("o3"), true).await.unwrap();
        store.record_run(&run).await.unwrap();
        store.load().await.unwrap()
    };
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.load().await.unwrap(), written);
    assert_eq!(written.pairs.len(), 50);
    assert_eq!(store.pending_intents().await.unwrap(), intents);
    assert_eq!(
        store.cursor(Side::Outlook).await.unwrap().as_deref(),
        Some("delta")
    );
    assert_eq!(store.recent_runs(5).await.unwrap(), vec![run]);
}

#[tokio::test]
async fn hashes_of_the_wrong_length_are_a_bad_row_naming_the_pair() {
    let store = SqliteStore::open_in_memory().unwrap();
    assert_eq!(store.path(), None);
    store
        .commit(&[put(pair("AAMk-1", "00U1", 1))], &[])
        .await
        .unwrap();
    store
        .conn()
        .execute("UPDATE pairs SET salesforce_hashes = x'0102'", [])
        .unwrap();
    match store.load().await.unwrap_err() {
        StoreError::BadRow { what, reason } => {
            assert!(what.contains("AAMk-1") && what.contains("00U1"), "{what}");
            assert!(
                reason.contains("salesforce_hashes") && reason.contains("2 bytes"),
                "{reason}"
            );
        }
        other => panic!("expected BadRow, got {other:?}"),
    }
    // A patch must not build on unreadable hashes either.
    let patch = StateChange::Patch {
        pair: PairKey {
            outlook: ItemId::new("AAMk-1"),
            salesforce: ItemId::new("00U1"),
        },
        side: Side::Salesforce,
        patch: calbridge_core::SidePatch {
            version: None,
            hashes: vec![(Field::Body, 1)],
        },
    };
    assert!(matches!(
        store.commit(&[patch], &[]).await,
        Err(StoreError::BadRow { .. })
    ));
}

#[tokio::test]
async fn an_unreadable_echo_is_a_bad_row_naming_its_item() {
    let store = SqliteStore::open_in_memory().unwrap();
    for (side, fields, expected) in [("outlook", "not json", "fields"), ("nowhere", "[]", "side")] {
        store.conn().execute("DELETE FROM echoes", []).unwrap();
        store
            .conn()
            .execute(
                "INSERT INTO echoes (side, item_id, fields) VALUES (?1, 'AAMk-9', ?2)",
                [side, fields],
            )
            .unwrap();
        match store.load().await.unwrap_err() {
            StoreError::BadRow { what, reason } => {
                assert!(what.contains("AAMk-9"), "{what}");
                assert!(reason.contains(expected), "{reason}");
            }
            other => panic!("expected BadRow, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_full_disk_fails_the_commit_and_keeps_the_previous_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("state.db")).unwrap();
    let first: Vec<_> = (0..20)
        .map(|i| put(pair(&format!("o{i}"), &format!("s{i}"), i)))
        .collect();
    store.commit(&first, &[]).await.unwrap();
    store.record_intents(&[]).await.unwrap();
    let before = store.load().await.unwrap();
    {
        // No room to grow: the next commit needs new pages.
        let conn = store.conn();
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        conn.pragma_update(None, "max_page_count", pages).unwrap();
    }
    let more: Vec<_> = (100..600)
        .map(|i| put(pair(&format!("o{i}"), &format!("s{i}"), i)))
        .chain([StateChange::Remove {
            pair: before.pairs[0].key(),
        }])
        .collect();
    match store.commit(&more, &[]).await.unwrap_err() {
        StoreError::Sqlite(e) => {
            assert_eq!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DiskFull),
                "{e}"
            );
        }
        other => panic!("expected a disk-full error, got {other:?}"),
    }
    assert_eq!(store.load().await.unwrap(), before);
    // Room again: the store works on.
    store
        .conn()
        .pragma_update(None, "max_page_count", 1_000_000)
        .unwrap();
    store.commit(&more, &[]).await.unwrap();
    assert_eq!(store.load().await.unwrap().pairs.len(), 19 + 500);
}

#[tokio::test]
async fn a_new_pair_reusing_a_stored_id_supersedes_that_pair() {
    // `SyncState::apply` would keep both (it keys pairs by both ids); the file cannot hold
    // one event in two pairs, so the newer pair wins and goes last.
    let store = SqliteStore::open_in_memory().unwrap();
    let changes = [
        put(pair("o1", "s1", 1)),
        put(pair("o2", "s2", 2)),
        put(pair("o3", "s3", 3)),
        put(pair("o1", "s2", 4)),
    ];
    store.commit(&changes, &[]).await.unwrap();
    assert_eq!(
        store.load().await.unwrap().pairs,
        vec![pair("o3", "s3", 3), pair("o1", "s2", 4)]
    );
}

#[test]
fn hashes_are_stored_as_little_endian_words() {
    let hashes = FieldHashes(std::array::from_fn(|i| (i as u64 + 1) << 56 | 0xAB));
    let bytes = encode_hashes(&hashes);
    assert_eq!(bytes.len(), 72);
    assert_eq!(&bytes[..8], &[0xAB, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(decode_hashes(&bytes), Ok(hashes));
    assert!(decode_hashes(&bytes[..71]).is_err());
    assert!(decode_hashes(&[]).is_err());
}
