//! Faults from the Graph emulator: throttling honoured (no request before `Retry-After`),
//! a 503 storm that clears, dropped and timed-out batches retried without duplicate
//! creates, an expired token refreshed once, expired delta links leading to a full listing
//! that loses and duplicates nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::Utc;

use calbridge_model::{Event, EventTime, ItemId};
use calbridge_outlook::{CalendarSelector, Mailbox, OutlookProvider};
use calbridge_provider::{
    CalendarProvider, ErrorKind, ListWindow, ProviderError, Write, WriteResult,
};
use calbridge_testkit::graph::{GraphEmulator, GraphFault};
use support::*;

/// One window for the whole test binary: a delta link serves the window it was opened for.
fn window() -> ListWindow {
    static NOW: std::sync::OnceLock<chrono::DateTime<Utc>> = std::sync::OnceLock::new();
    let now = *NOW.get_or_init(Utc::now);
    ListWindow {
        start: now - chrono::Duration::days(1),
        end: now + chrono::Duration::days(60),
    }
}

fn events(prefix: &str, n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let start = Utc::now()
                + chrono::Duration::days(2)
                + chrono::Duration::minutes(30 * i64::try_from(i).unwrap());
            Event::new(
                "",
                format!("{prefix} {i:03}"),
                EventTime::timed(start, start + chrono::Duration::minutes(20)),
            )
        })
        .collect()
}

fn creates(prefix: &str, events: Vec<Event>) -> Vec<Write> {
    events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Write::Create {
            event,
            idempotency_key: format!("{prefix}-{i}"),
        })
        .collect()
}

fn stored_with_prefix(graph: &GraphEmulator, prefix: &str) -> Vec<String> {
    graph
        .events(USER, None)
        .iter()
        .filter(|e| e["subject"].as_str().is_some_and(|s| s.starts_with(prefix)))
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn created_ids(results: Vec<Result<WriteResult, ProviderError>>) -> Vec<ItemId> {
    results
        .into_iter()
        .map(|r| match r {
            Ok(WriteResult::Created(e)) => e.id,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn throttling_is_honoured_no_request_before_retry_after() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    p.list(&window()).await.unwrap();
    graph.inject(GraphFault::Throttle {
        retry_after: Duration::from_secs(2),
        times: 1,
        path: Some("calendarView".into()),
    });
    let throttled_at = Instant::now();
    let error = p.list(&window()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Throttled, "{error}");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));

    // Until the wait is over, the connector answers without asking Graph.
    let seen = graph.request_count();
    let early = p.list(&window()).await.unwrap_err();
    assert_eq!(early.kind(), ErrorKind::Throttled);
    assert!(early.retry_after().unwrap() <= Duration::from_secs(2));
    assert!(p.get(&ItemId::new("any")).await.is_err());
    assert_eq!(graph.request_count(), seen, "no request before Retry-After");

    tokio::time::sleep(early.retry_after().unwrap()).await;
    assert!(throttled_at.elapsed() >= Duration::from_secs(2));
    p.list(&window()).await.unwrap();
    assert!(graph.request_count() > seen);
}

#[tokio::test]
async fn throttled_batch_items_are_retried_alone_after_their_wait() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    graph.inject(GraphFault::BatchItemThrottle {
        retry_after: Duration::from_secs(1),
        times: 2,
    });
    let writes = creates("item-throttle", events("item throttle", 5));
    let first = p.apply(writes.clone()).await;
    let throttled: Vec<usize> = first
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Err(e) if e.kind() == ErrorKind::Throttled))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(throttled.len(), 2, "{first:?}");
    for i in &throttled {
        let wait = first[*i].as_ref().unwrap_err().retry_after();
        assert_eq!(wait, Some(Duration::from_secs(1)));
    }
    let seen = graph.request_count();
    let retry: Vec<Write> = throttled.iter().map(|i| writes[*i].clone()).collect();
    let early = p.apply(retry.clone()).await;
    assert!(
        early
            .iter()
            .all(|r| matches!(r, Err(e) if e.kind() == ErrorKind::Throttled))
    );
    assert_eq!(
        graph.request_count(),
        seen,
        "no request before the items' Retry-After"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    created_ids(p.apply(retry).await);
    assert_eq!(stored_with_prefix(&graph, "item throttle").len(), 5);
}

#[tokio::test]
async fn a_503_storm_is_transient_and_clears() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    created_ids(p.apply(creates("storm", events("storm", 3))).await);
    graph.inject(GraphFault::Unavailable {
        status: 503,
        times: 4,
        path: None,
    });
    let mut transient = 0;
    let listing = loop {
        match p.list(&window()).await {
            Ok(listing) => break listing,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
                transient += 1;
                assert!(transient <= 4, "the storm did not clear");
            }
        }
    };
    assert_eq!(transient, 4);
    assert_eq!(listing.events.len(), 3);
    // 504s on writes too.
    graph.inject(GraphFault::Unavailable {
        status: 504,
        times: 1,
        path: Some("$batch".into()),
    });
    let writes = creates("storm-2", events("storm two", 2));
    assert!(
        p.apply(writes.clone())
            .await
            .iter()
            .all(|r| matches!(r, Err(e) if e.kind() == ErrorKind::Transient))
    );
    created_ids(p.apply(writes).await);
    assert_eq!(stored_with_prefix(&graph, "storm two").len(), 2);
}

#[tokio::test]
async fn a_dropped_batch_is_retried_without_duplicate_creates() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    let writes = creates("drop", events("dropped", 20));
    graph.inject(GraphFault::DropConnection {
        times: 1,
        path: Some("$batch".into()),
    });
    let first = p.apply(writes.clone()).await;
    assert!(
        first
            .iter()
            .all(|r| matches!(r, Err(e) if e.kind() == ErrorKind::Transient)),
        "{first:?}"
    );
    let ids = created_ids(p.apply(writes.clone()).await);
    // The same writes again, as after a crash between the write and the state commit:
    // transactionId makes Graph refuse, and the connector answers with the first events.
    let again = created_ids(p.apply(writes).await);
    assert_eq!(ids, again);
    assert_eq!(stored_with_prefix(&graph, "dropped").len(), 20);
}

#[tokio::test]
async fn a_batch_answered_too_late_is_retried_without_duplicate_creates() {
    let graph = emulator().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let p = OutlookProvider::builder()
        .base_url(graph.base_url())
        .mailbox(Mailbox::Me)
        .calendar(CalendarSelector::Primary)
        .token_source(tokens(&graph, USER).await)
        .with_http_client(http)
        .build()
        .unwrap();
    let writes = creates("late", events("late", 4));
    graph.inject(GraphFault::Slow {
        delay: Duration::from_millis(1200),
        times: 1,
        path: Some("$batch".into()),
    });
    let first = p.apply(writes.clone()).await;
    assert!(
        first
            .iter()
            .all(|r| matches!(r, Err(e) if e.kind() == ErrorKind::Transient)),
        "{first:?}"
    );
    // Whether or not the slow batch went through on the server, the retry creates each
    // event exactly once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let ids = created_ids(p.apply(writes).await);
    let stored: BTreeSet<String> = stored_with_prefix(&graph, "late").into_iter().collect();
    assert_eq!(stored.len(), 4);
    assert_eq!(
        stored,
        ids.iter()
            .map(|i| i.as_str().to_owned())
            .collect::<BTreeSet<_>>()
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_mid_run() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    created_ids(p.apply(creates("token", events("token", 3))).await);
    graph.reset_requests();
    graph.inject(GraphFault::ExpireTokens);
    let listing = p.list(&window()).await.unwrap();
    assert_eq!(listing.events.len(), 3);
    let requests = graph.requests();
    let refreshes = requests
        .iter()
        .filter(|r| r.path_and_query.contains("/oauth2/v2.0/token"))
        .count();
    let refused = requests.iter().filter(|r| r.status == Some(401)).count();
    assert_eq!((refreshes, refused), (1, 1), "{requests:#?}");
    // The new token keeps working.
    created_ids(p.apply(creates("token-2", events("token two", 1))).await);
    assert_eq!(
        graph
            .requests()
            .iter()
            .filter(|r| r.path_and_query.contains("/oauth2/v2.0/token"))
            .count(),
        1
    );
}

#[tokio::test]
async fn a_revoked_sign_in_stops_with_auth() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    graph.inject(GraphFault::RevokeRefreshTokens);
    graph.inject(GraphFault::ExpireTokens);
    let error = p.list(&window()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Auth, "{error}");
}

#[tokio::test]
async fn expired_delta_links_lead_to_a_full_listing_without_loss_or_duplicates() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    let made = created_ids(p.apply(creates("delta", events("delta", 30))).await);
    let listing = p.list(&window()).await.unwrap();
    let cursor = listing.cursor.unwrap();
    // Changes after the cursor: an edit, a delete, a new event.
    graph.user_edit(
        USER,
        made[0].as_str(),
        serde_json::json!({"subject": "delta edited"}),
    );
    graph.user_delete(USER, made[1].as_str());
    created_ids(p.apply(creates("delta-new", events("delta new", 1))).await);

    graph.inject(GraphFault::ExpireDeltaTokens);
    let error = p.changes(&cursor, &window()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::CursorExpired, "{error}");

    let relisted = p.list(&window()).await.unwrap();
    let ids: Vec<&str> = relisted.events.iter().map(|e| e.id.as_str()).collect();
    let unique: BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "no duplicates");
    let stored: BTreeSet<String> = graph
        .events(USER, None)
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        unique,
        stored.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        "nothing lost"
    );
    assert_eq!(unique.len(), 30);
    assert!(relisted.events.iter().any(|e| e.subject == "delta edited"));

    // The new cursor works, and `resyncRequired` is the same outcome.
    let cursor = relisted.cursor.unwrap();
    let changes = p.changes(&cursor, &window()).await.unwrap();
    assert!(changes.events.is_empty() && changes.removed.is_empty());
    graph.inject(GraphFault::ResyncRequired { times: 1 });
    let error = p.changes(&changes.cursor, &window()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::CursorExpired, "{error}");
}

#[tokio::test]
async fn the_engine_waits_out_throttling_and_converges() {
    use calbridge::model::Side;
    use calbridge::provider::InMemoryProvider;
    use calbridge::store::MemoryStore;

    let graph = emulator().await;
    let outlook = provider(&graph).await;
    created_ids(outlook.apply(creates("engine", events("engine", 3))).await);
    let salesforce = InMemoryProvider::new(Side::Salesforce);
    let engine = calbridge::SyncEngine::builder(outlook, salesforce.clone(), MemoryStore::new())
        .settings(calbridge::SyncSettings {
            time_zone: Some(chrono_tz::UTC),
            ..calbridge::SyncSettings::default()
        })
        .build()
        .unwrap();
    graph.inject(GraphFault::Throttle {
        retry_after: Duration::from_secs(1),
        times: 1,
        path: Some("calendarView".into()),
    });
    let started = Instant::now();
    let report = engine.sync().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for Retry-After"
    );
    assert!(report.errors.is_empty(), "{report}");
    assert_eq!(report.salesforce.created, 3);
    let throttled = graph
        .requests()
        .iter()
        .filter(|r| r.status == Some(429))
        .count();
    assert_eq!(throttled, 1);
}
