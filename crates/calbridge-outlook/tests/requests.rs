//! Request counts (not timings) against the Graph emulator: a no-change incremental read
//! costs one request; 1,000 creates cost at most 50 (`$batch` of 20); a listing costs its
//! pages. The connector's own count ([`CalendarProvider::requests`]) matches what the
//! emulator received.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::Utc;

use calbridge_model::{Event, EventTime, FieldValue};
use calbridge_provider::{CalendarProvider, ListWindow, Write, WriteResult};
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

fn creates(n: usize) -> Vec<Write> {
    (0..n)
        .map(|i| {
            let start = Utc::now()
                + chrono::Duration::days(1 + i64::try_from(i % 50).unwrap())
                + chrono::Duration::minutes(10 * i64::try_from(i / 50).unwrap());
            Write::Create {
                event: Event::new(
                    "",
                    format!("bulk {i:04}"),
                    EventTime::timed(start, start + chrono::Duration::minutes(10)),
                ),
                idempotency_key: format!("bulk-{i}"),
            }
        })
        .collect()
}

#[tokio::test]
async fn no_change_incremental_read_costs_one_request() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    let created = p.apply(creates(30)).await;
    assert!(created.iter().all(Result::is_ok));
    let listing = p.list(&window()).await.unwrap();
    assert_eq!(listing.events.len(), 30);

    let (ours, theirs) = (p.requests(), graph.request_count());
    let changes = p
        .changes(&listing.cursor.unwrap(), &window())
        .await
        .unwrap();
    assert!(changes.events.is_empty() && changes.removed.is_empty());
    let (ours, theirs) = (p.requests() - ours, graph.request_count() - theirs);
    eprintln!("no-change incremental read: {ours} request(s)");
    assert_eq!((ours, theirs), (1, 1));

    // Again from the new cursor: still one.
    let before = p.requests();
    let again = p.changes(&changes.cursor, &window()).await.unwrap();
    assert!(again.events.is_empty());
    assert_eq!(p.requests() - before, 1);
}

#[tokio::test]
async fn a_thousand_creates_cost_at_most_fifty_requests() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    let (ours, theirs) = (p.requests(), graph.request_count());
    let results = p.apply(creates(1000)).await;
    let made = results
        .iter()
        .filter(|r| matches!(r, Ok(WriteResult::Created(_))))
        .count();
    assert_eq!(made, 1000);
    let (ours, theirs) = (p.requests() - ours, graph.request_count() - theirs);
    eprintln!("1,000 creates: {ours} request(s)");
    assert!(ours <= 50, "{ours}");
    assert_eq!(usize::try_from(ours).unwrap(), theirs);
    assert_eq!(graph.events(USER, None).len(), 1000);

    // A listing of them: one delta round and one calendarView pass, 50 a page here.
    let before = p.requests();
    let listing = p.list(&window()).await.unwrap();
    assert_eq!(listing.events.len(), 1000);
    let listed = p.requests() - before;
    eprintln!("listing 1,000 events at 50 a page: {listed} request(s)");
    assert!(listed <= 2 * (1000 / 50 + 1), "{listed}");

    // Updates read the events first: two requests per 20.
    let updates: Vec<Write> = listing.events[..40]
        .iter()
        .map(|e| Write::Update {
            id: e.id.clone(),
            expected_version: e.version.clone(),
            changes: vec![FieldValue::Subject(format!("{} (edited)", e.subject))],
        })
        .collect();
    let before = p.requests();
    assert!(p.apply(updates).await.iter().all(Result::is_ok));
    let updated = p.requests() - before;
    eprintln!("40 updates: {updated} request(s)");
    assert_eq!(updated, 4);

    // The changes they caused: the delta round and one $batch read per 20 changed events.
    let before = p.requests();
    let changes = p
        .changes(&listing.cursor.unwrap(), &window())
        .await
        .unwrap();
    assert_eq!(changes.events.len(), 40);
    assert!(
        changes
            .events
            .iter()
            .all(|e| e.subject.ends_with("(edited)"))
    );
    let read = p.requests() - before;
    eprintln!("incremental read of 40 changes: {read} request(s)");
    assert!(read <= 4, "{read}");
}

#[tokio::test]
async fn a_window_longer_than_graph_allows_is_read_in_parts() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    let now = Utc::now();
    // Ten years each way: calendarView takes at most 1825 days at once.
    let window = ListWindow {
        start: now - chrono::Duration::days(3650),
        end: now + chrono::Duration::days(3650),
    };
    let writes = [-3600_i64, -10, 100, 2000, 3600]
        .iter()
        .map(|days| {
            let start = now + chrono::Duration::days(*days);
            Write::Create {
                event: Event::new(
                    "",
                    format!("in {days} days"),
                    EventTime::timed(start, start + chrono::Duration::hours(1)),
                ),
                idempotency_key: format!("far-{days}"),
            }
        })
        .collect();
    assert!(p.apply(writes).await.iter().all(Result::is_ok));
    let before = p.requests();
    let listing = p.list(&window).await.unwrap();
    assert_eq!(listing.events.len(), 5, "{:?}", listing.events);
    let listed = p.requests() - before;
    eprintln!("listing a 7,300-day window: {listed} request(s)");
    assert_eq!(listed, 10, "a delta round and a calendarView pass per part");
    let before = p.requests();
    let changes = p.changes(&listing.cursor.unwrap(), &window).await.unwrap();
    assert!(changes.events.is_empty() && changes.removed.is_empty());
    assert_eq!(p.requests() - before, 5, "one request per part");
}

/// The benchmark's scenario, as counts and rough times (ignored by default: it seeds 10,000
/// events; run with `--ignored --nocapture`).
#[tokio::test]
#[ignore = "slow: seeds 10,000 events"]
async fn ten_thousand_events_listed_then_read_incrementally() {
    let graph = emulator().await;
    let now = Utc::now();
    for i in 0..10_000_i64 {
        let start =
            now + chrono::Duration::days(1 + i % 300) + chrono::Duration::minutes(5 * (i / 300));
        let end = start + chrono::Duration::minutes(5);
        graph.seed_event(
            USER,
            None,
            serde_json::json!({
                "subject": format!("seeded {i}"),
                "start": {"dateTime": start.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
                "end": {"dateTime": end.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"},
            }),
        );
    }
    let window = ListWindow {
        start: now - chrono::Duration::days(30),
        end: now + chrono::Duration::days(365),
    };
    let p = provider_with(
        &graph,
        USER,
        calbridge_outlook::CalendarSelector::Primary,
        calbridge_outlook::DEFAULT_PAGE_SIZE,
    )
    .await;
    let started = std::time::Instant::now();
    let listing = p.list(&window).await.unwrap();
    eprintln!(
        "initial listing of {} events: {} requests, {:?}",
        listing.events.len(),
        p.requests(),
        started.elapsed()
    );
    assert_eq!(listing.events.len(), 10_000);
    let before = p.requests();
    let started = std::time::Instant::now();
    let changes = p.changes(&listing.cursor.unwrap(), &window).await.unwrap();
    eprintln!(
        "no-change incremental read: {} request(s), {:?}",
        p.requests() - before,
        started.elapsed()
    );
    assert!(changes.events.is_empty());
    assert_eq!(p.requests() - before, 1);
}
