//! Request counts against the emulator (counts, not timings): 1,000 creates and a
//! no-change incremental sync.
//!
//! A create costs only its share of a collection request: the stored event is answered from
//! the fields sent (its version comes with the next read), so 1,000 creates are 5
//! collections of 200 and nothing else.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use calbridge::core::SyncSettings;
use calbridge::model::{Side, Tz};
use calbridge::provider::{CalendarProvider, InMemoryProvider, Write};
use calbridge::store::SqliteStore;
use calbridge::{RetryPolicy, SyncEngine};
use support::*;

const N: usize = 1_000;

#[tokio::test]
async fn a_thousand_creates_take_five_requests() {
    init_tracing();
    let org = org().await;
    let p = org.provider(true).await;
    org.sf.reset_requests();
    let writes: Vec<Write> = (0..N)
        .map(|i| {
            let i64_i = i64::try_from(i).unwrap();
            create(
                meeting(&format!("bulk {i:04}"), 1 + i64_i % 60),
                &format!("bulk-{i}"),
            )
        })
        .collect();
    let started = Instant::now();
    // The engine hands the connector `max_batch` writes at a time.
    let batch = p.capabilities().max_batch;
    assert_eq!(batch, 200);
    let mut ok = 0;
    for chunk in writes.chunks(batch) {
        ok += p
            .apply(chunk.to_vec())
            .await
            .iter()
            .filter(|r| r.is_ok())
            .count();
    }
    let elapsed = started.elapsed();
    assert_eq!(ok, N);
    assert_eq!(org.live(), N);
    let collections = org.requests_to("/composite/sobjects");
    let queries = org.requests_to("/query");
    tracing::info!(
        collections,
        queries,
        total = org.sf.request_count(),
        ?elapsed,
        "1,000 creates"
    );
    assert!(collections <= 5, "{collections} collection requests");
    assert_eq!(queries, 0, "creates are answered without a read-back");
    assert!(
        org.sf.request_count() <= 5,
        "{} requests in all",
        org.sf.request_count()
    );
    assert_eq!(
        org.sf.request_count(),
        collections + queries,
        "nothing else was sent"
    );
    assert_eq!(p.requests(), u64::try_from(collections + queries).unwrap());
}

#[tokio::test]
async fn a_no_change_incremental_sync_costs_one_request() {
    init_tracing();
    let org = org().await;
    let dir = tempfile::tempdir().unwrap();
    let sf = Arc::new(org.provider(true).await);
    let outlook = InMemoryProvider::new(Side::Outlook);
    outlook.seed((0..N).map(|i| {
        let i64_i = i64::try_from(i).unwrap();
        meeting(&format!("bulk {i:04}"), 1 + i64_i % 60)
    }));
    let engine = SyncEngine::builder(
        outlook.clone(),
        Arc::clone(&sf),
        SqliteStore::open(dir.path().join("state.sqlite")).unwrap(),
    )
    .settings(SyncSettings {
        time_zone: Some(Tz::UTC),
        ..SyncSettings::default()
    })
    .retry(RetryPolicy::none())
    .build()
    .unwrap();

    let started = Instant::now();
    let first = engine.sync().await.unwrap();
    let first_time = started.elapsed();
    assert_eq!(first.salesforce.created, N);
    // One listing, then 5 × (collection + re-read).
    tracing::info!(requests = first.salesforce.requests, elapsed = ?first_time, "first sync, 1,000 creates");
    assert!(
        first.salesforce.requests <= 11,
        "{}",
        first.salesforce.requests
    );

    // Our own writes come back once as changes (same versions: nothing to do) …
    let second = engine.sync().await.unwrap();
    assert_eq!((second.salesforce.created, second.outlook.created), (0, 0));
    assert!(
        second.salesforce.requests <= 2,
        "{}",
        second.salesforce.requests
    );

    // … and a run with no change at all costs one query on each side.
    let started = Instant::now();
    let third = engine.sync().await.unwrap();
    let third_time = started.elapsed();
    tracing::info!(
        salesforce = third.salesforce.requests,
        outlook = third.outlook.requests,
        elapsed = ?third_time,
        "no-change incremental sync"
    );
    assert!(!third.salesforce.full_listing);
    assert_eq!(third.salesforce.requests, 1);
    assert!(third.salesforce.requests + third.outlook.requests <= 2);
    assert_eq!(
        (
            third.salesforce.created,
            third.salesforce.updated,
            third.salesforce.deleted
        ),
        (0, 0, 0)
    );
    assert!(first_time < Duration::from_secs(120));
}
