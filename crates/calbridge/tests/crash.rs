//! Crash safety (DESIGN §4.5): a run with creates, updates and deletes on both sides is
//! killed at every provider call and at every store write in turn, then run again to
//! completion on the same SQLite file. Every case must end converged, with no duplicate and
//! no lost edit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use calbridge::model::Side;
use calbridge::provider::InMemoryProvider;
use calbridge::store::SqliteStore;
use calbridge::{ManualClock, SyncEngine};
use support::*;

/// Two calendars synced once, then edited on both sides.
fn scenario() -> (InMemoryProvider, InMemoryProvider) {
    let outlook = InMemoryProvider::new(Side::Outlook);
    let salesforce = InMemoryProvider::new(Side::Salesforce);
    outlook.seed((0..6).map(|i| meeting(&format!("Outlook meeting {i}"), 1 + i, 10)));
    salesforce.seed((0..4).map(|i| meeting(&format!("Salesforce meeting {i}"), 1 + i, 15)));
    (outlook, salesforce)
}

fn engine_over(
    outlook: &InMemoryProvider,
    salesforce: &InMemoryProvider,
    path: &std::path::Path,
    switch: Arc<CrashSwitch>,
) -> SyncEngine {
    engine_with(outlook, salesforce, path, switch, settings())
}

fn engine_with(
    outlook: &InMemoryProvider,
    salesforce: &InMemoryProvider,
    path: &std::path::Path,
    switch: Arc<CrashSwitch>,
    settings: calbridge::core::SyncSettings,
) -> SyncEngine {
    let store = CrashingStore {
        inner: SqliteStore::open(path).unwrap(),
        switch: Arc::clone(&switch),
    };
    SyncEngine::builder(
        CrashingProvider {
            inner: outlook.clone(),
            switch: Arc::clone(&switch),
        },
        CrashingProvider {
            inner: salesforce.clone(),
            switch,
        },
        store,
    )
    .settings(settings)
    .clock(ManualClock::new(now()))
    .retry(fast_retry())
    .build()
    .unwrap()
}

/// Runs the first sync, then the users' edits, and returns the calendars.
async fn prepared(path: &std::path::Path) -> (InMemoryProvider, InMemoryProvider) {
    let (outlook, salesforce) = scenario();
    engine_over(&outlook, &salesforce, path, CrashSwitch::new(0))
        .sync()
        .await
        .unwrap();
    let o = outlook.events();
    let s = salesforce.events();
    outlook.user_edit(&o[0].id, |e| e.location = "Edited in Outlook".into());
    outlook.user_delete(&o[1].id);
    outlook.user_create(meeting("New in Outlook", 5, 11));
    salesforce.user_edit(&s[2].id, |e| e.subject = "Edited in Salesforce".into());
    salesforce.user_delete(&s[3].id);
    salesforce.user_create(meeting("New in Salesforce", 6, 11));
    // Deleted on one side while edited on the other: the edit must survive.
    let shared = o[4].clone();
    outlook.user_delete(&shared.id);
    let copy = salesforce
        .events()
        .into_iter()
        .find(|e| e.subject == shared.subject)
        .unwrap();
    salesforce.user_edit(&copy.id, |e| e.subject = format!("{} (kept)", e.subject));
    (outlook, salesforce)
}

fn check(outlook: &InMemoryProvider, salesforce: &InMemoryProvider, case: &str) {
    let n = assert_converged(outlook, salesforce);
    assert_eq!(
        n,
        10,
        "{case}: expected 10 events per side, outlook {:#?}",
        outlook.events()
    );
    for expected in [
        "New in Outlook",
        "New in Salesforce",
        "Edited in Salesforce",
        "Outlook meeting 4 (kept)",
    ] {
        assert!(
            outlook.events().iter().any(|e| e.subject == expected),
            "{case}: {expected} missing"
        );
    }
    assert!(
        salesforce
            .events()
            .iter()
            .any(|e| e.location == "Edited in Outlook"),
        "{case}: location edit lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_every_call_and_commit_then_rerun_converges() {
    // Count the calls of an uninterrupted run.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let (outlook, salesforce) = prepared(&path).await;
    let counter = CrashSwitch::new(0);
    engine_over(&outlook, &salesforce, &path, Arc::clone(&counter))
        .sync()
        .await
        .unwrap();
    check(&outlook, &salesforce, "uninterrupted");
    let total = counter.calls.load(Ordering::SeqCst);
    assert!(total >= 10, "too few crash points: {total}");
    eprintln!("crash points: {total}");

    for k in 1..=total {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let (outlook, salesforce) = prepared(&path).await;
        let switch = CrashSwitch::new(k);
        {
            let engine = engine_over(&outlook, &salesforce, &path, Arc::clone(&switch));
            tokio::select! {
                result = engine.sync() => panic!("run {k} of {total} was meant to die, finished with {result:?}"),
                () = switch.crashed.notified() => {}
            }
            // The engine (and its store lock) is dropped here, mid-run.
        }
        let report = engine_over(&outlook, &salesforce, &path, CrashSwitch::new(0))
            .sync()
            .await
            .unwrap();
        assert!(report.errors.is_empty(), "crash at {k}: {report}");
        check(
            &outlook,
            &salesforce,
            &format!("crash at call {k} of {total}"),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_cancelled_part_way_leaves_the_same_engine_usable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let (outlook, salesforce) = prepared(&path).await;
    let counter = CrashSwitch::new(0);
    engine_over(&outlook, &salesforce, &path, Arc::clone(&counter))
        .sync()
        .await
        .unwrap();
    let total = counter.calls.load(Ordering::SeqCst);
    for k in (2..=total).step_by(3) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let (outlook, salesforce) = prepared(&path).await;
        let switch = CrashSwitch::new(k);
        let engine = engine_over(&outlook, &salesforce, &path, Arc::clone(&switch));
        tokio::select! {
            result = engine.sync() => panic!("run was meant to stall at call {k}, finished with {result:?}"),
            () = switch.crashed.notified() => {}
        }
        // The same engine runs again: its in-memory state must not be the pre-run copy.
        let report = engine.sync().await.unwrap();
        assert!(report.errors.is_empty(), "cancel at {k}: {report}");
        check(
            &outlook,
            &salesforce,
            &format!("cancelled at call {k} of {total}"),
        );
    }
}

/// Killed between a write and its record: the written value on the target is calbridge's own
/// copy, not the user's edit, so a newer edit of the same field on the source side wins on the
/// rerun — without a conflict, even under a policy that favours the target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_a_write_and_its_record_a_newer_edit_still_wins() {
    use calbridge::core::{ConflictPolicy, SyncSettings};
    fn engine_at(
        outlook: &InMemoryProvider,
        salesforce: &InMemoryProvider,
        path: &std::path::Path,
        switch: Arc<CrashSwitch>,
    ) -> SyncEngine {
        let settings = SyncSettings {
            conflict_policy: ConflictPolicy::Outlook,
            ..settings()
        };
        engine_with(outlook, salesforce, path, switch, settings)
    }
    async fn prepared(path: &std::path::Path) -> (InMemoryProvider, InMemoryProvider) {
        let outlook = InMemoryProvider::new(Side::Outlook);
        let salesforce = InMemoryProvider::new(Side::Salesforce);
        outlook.seed([meeting("Board prep", 2, 9), meeting("Team lunch", 3, 12)]);
        engine_at(&outlook, &salesforce, path, CrashSwitch::new(0))
            .sync()
            .await
            .unwrap();
        let copy = find(&salesforce, "Board prep");
        salesforce.user_edit(&copy.id, |e| e.location = "Room A".into());
        (outlook, salesforce)
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let (outlook, salesforce) = prepared(&path).await;
    let counter = CrashSwitch::new(0);
    engine_at(&outlook, &salesforce, &path, Arc::clone(&counter))
        .sync()
        .await
        .unwrap();
    let total = counter.calls.load(Ordering::SeqCst);
    let mut landed_unrecorded = 0;
    for k in 1..=total {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.sqlite");
        let (outlook, salesforce) = prepared(&path).await;
        let switch = CrashSwitch::new(k);
        {
            let engine = engine_at(&outlook, &salesforce, &path, Arc::clone(&switch));
            tokio::select! {
                result = engine.sync() => panic!("run {k} of {total} was meant to die, finished with {result:?}"),
                () = switch.crashed.notified() => {}
            }
        }
        if find(&outlook, "Board prep").location == "Room A" {
            landed_unrecorded += 1;
        }
        let copy = find(&salesforce, "Board prep");
        salesforce.user_edit(&copy.id, |e| e.location = "Room B".into());
        let report = engine_at(&outlook, &salesforce, &path, CrashSwitch::new(0))
            .sync()
            .await
            .unwrap();
        assert!(
            report.conflicts.is_empty(),
            "crash at {k} of {total}: {report}"
        );
        assert_eq!(
            find(&outlook, "Board prep").location,
            "Room B",
            "crash at {k}"
        );
        assert_eq!(
            find(&salesforce, "Board prep").location,
            "Room B",
            "crash at {k}"
        );
    }
    assert!(
        landed_unrecorded > 0,
        "no crash point fell between the write and its record"
    );
}
