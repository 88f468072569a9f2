//! Unit tests of the in-memory provider: write semantics, history, request counting, faults.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

use calbridge_model::{Event, EventTime, FieldValue, ItemId, Side, VersionTag};

use super::*;
use crate::ErrorKind;

fn t(days: i64, hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
        + Duration::days(days)
        + Duration::hours(hours)
}

fn timed(subject: &str, days: i64) -> Event {
    Event::new("", subject, EventTime::timed(t(days, 9), t(days, 10)))
}

fn window() -> ListWindow {
    ListWindow {
        start: t(0, 0),
        end: t(30, 0),
    }
}

fn create(subject: &str, days: i64, key: &str) -> Write {
    Write::Create {
        event: timed(subject, days),
        idempotency_key: key.into(),
    }
}

fn rename(id: &ItemId, version: Option<&VersionTag>, subject: &str) -> Write {
    Write::Update {
        id: id.clone(),
        expected_version: version.cloned(),
        changes: vec![FieldValue::Subject(subject.into())],
    }
}

fn delete(id: &ItemId, version: Option<&VersionTag>) -> Write {
    Write::Delete {
        id: id.clone(),
        expected_version: version.cloned(),
    }
}

async fn one(p: &InMemoryProvider, write: Write) -> Result<WriteResult, ProviderError> {
    let mut results = p.apply(vec![write]).await;
    assert_eq!(results.len(), 1);
    results.pop().unwrap()
}

async fn created(p: &InMemoryProvider, subject: &str, days: i64) -> Event {
    match one(p, create(subject, days, subject)).await.unwrap() {
        WriteResult::Created(event) => event,
        other => panic!("{other:?}"),
    }
}

fn kind<T: std::fmt::Debug>(result: Result<T, ProviderError>) -> ErrorKind {
    result.unwrap_err().kind()
}

#[tokio::test]
async fn ids_versions_and_clock_follow_the_sequence() {
    let start = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    let p = InMemoryProvider::new(Side::Salesforce).with_start_time(start);
    let a = created(&p, "a", 1).await;
    let b = created(&p, "b", 2).await;
    assert_eq!(a.id.as_str(), "mem-s-00000001");
    assert_eq!(b.id.as_str(), "mem-s-00000002");
    assert_eq!(b.version, Some(VersionTag::new("2")));
    assert_eq!(b.last_modified, Some(start + Duration::seconds(2)));
    assert!(p.user_edit(&a.id, |e| e.location = "Room 1".into()));
    let a2 = p.event(&a.id).unwrap();
    assert_eq!(
        (a2.version, a2.location.as_str()),
        (Some(VersionTag::new("3")), "Room 1")
    );
    assert_eq!(p.now(), start + Duration::seconds(3));

    let o = InMemoryProvider::new(Side::Outlook);
    assert_eq!(o.user_create(timed("x", 1)).as_str(), "mem-o-00000001");
}

#[tokio::test]
async fn seed_keeps_ids_and_fresh_ids_skip_them() {
    let p = InMemoryProvider::new(Side::Outlook);
    let mut given = timed("given", 1);
    given.id = ItemId::new("mem-o-00000001");
    let ids = p.seed([given, timed("fresh", 2)]);
    assert_eq!(ids[0].as_str(), "mem-o-00000001");
    assert_eq!(ids[1].as_str(), "mem-o-00000002");
    assert!(p.user_delete(&ids[1]));
    assert!(!p.user_delete(&ids[1]));
    // Deleted ids are not reused either.
    assert_eq!(p.user_create(timed("new", 3)).as_str(), "mem-o-00000003");
    assert_eq!((p.len(), p.is_empty()), (2, false));
    // Clones share the calendar.
    let clone = p.clone();
    clone.user_create(timed("via clone", 4));
    assert_eq!(p.len(), 3);
}

#[tokio::test]
async fn repeated_idempotency_key_returns_the_first_event() {
    let p = InMemoryProvider::new(Side::Outlook);
    let results = p
        .apply(vec![create("a", 1, "k1"), create("a", 1, "k1")])
        .await;
    let [
        Ok(WriteResult::Created(first)),
        Ok(WriteResult::Created(second)),
    ] = &results[..]
    else {
        panic!("{results:?}");
    };
    assert_eq!(first, second);
    assert_eq!(p.len(), 1);
    // Once its event is deleted, the key creates anew.
    p.user_delete(&first.id);
    let Ok(WriteResult::Created(third)) = one(&p, create("a", 1, "k1")).await else {
        panic!();
    };
    assert_ne!(third.id, first.id);
    assert_eq!(p.len(), 1);
}

#[tokio::test]
async fn stale_versions_are_refused_and_change_nothing() {
    let p = InMemoryProvider::new(Side::Outlook);
    let a = created(&p, "a", 1).await;
    let v1 = a.version.clone();
    let Ok(WriteResult::Updated(a2)) = one(&p, rename(&a.id, v1.as_ref(), "a2")).await else {
        panic!();
    };
    let stale = one(&p, rename(&a.id, v1.as_ref(), "a3")).await;
    assert!(matches!(stale, Err(ProviderError::Precondition { ref id }) if *id == a.id));
    assert_eq!(
        kind(one(&p, delete(&a.id, v1.as_ref())).await),
        ErrorKind::Precondition
    );
    assert_eq!(p.event(&a.id).unwrap(), a2);
    // Unconditional writes go through.
    assert!(one(&p, rename(&a.id, None, "a4")).await.is_ok());
    assert!(one(&p, delete(&a.id, None)).await.is_ok());
}

#[tokio::test]
async fn missing_items_update_not_found_and_delete_ok() {
    let p = InMemoryProvider::new(Side::Salesforce);
    let ghost = ItemId::new("mem-s-404");
    assert_eq!(
        kind(one(&p, rename(&ghost, None, "x")).await),
        ErrorKind::NotFound
    );
    let version = VersionTag::new("7");
    assert_eq!(
        one(&p, delete(&ghost, Some(&version))).await.unwrap(),
        WriteResult::Deleted
    );
    assert_eq!(p.get(&ghost).await.unwrap(), None);
}

#[tokio::test]
async fn invalid_events_are_refused_as_invalid_data() {
    let p = InMemoryProvider::new(Side::Salesforce);
    let result = one(&p, create(&"x".repeat(256), 1, "long")).await;
    assert!(
        matches!(result, Err(ProviderError::InvalidData { ref field, .. }) if field == "subject")
    );
    let a = created(&p, "a", 1).await;
    let backwards = Write::Update {
        id: a.id.clone(),
        expected_version: None,
        changes: vec![FieldValue::Time(EventTime::timed(t(1, 10), t(1, 9)))],
    };
    assert_eq!(kind(one(&p, backwards).await), ErrorKind::InvalidData);
    assert_eq!(p.event(&a.id).unwrap(), a);
}

#[tokio::test]
async fn listing_takes_overlapping_events_and_widens_all_day_dates() {
    let p = InMemoryProvider::new(Side::Outlook);
    let day = |d: u32| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let window = ListWindow {
        start: t(9, 12),
        end: t(19, 0),
    };
    let ids = p.seed([
        Event::new("", "ends at start", EventTime::timed(t(9, 11), t(9, 12))),
        Event::new("", "straddles start", EventTime::timed(t(9, 11), t(9, 13))),
        Event::new("", "instant inside", EventTime::timed(t(12, 0), t(12, 0))),
        Event::new("", "starts at end", EventTime::timed(t(19, 0), t(19, 1))),
        Event::new("", "day before start", EventTime::all_day(day(9), day(10))),
        Event::new("", "two days before", EventTime::all_day(day(8), day(9))),
        Event::new("", "day after end", EventTime::all_day(day(21), day(22))),
        Event::new("", "two days after", EventTime::all_day(day(22), day(23))),
    ]);
    let listing = p.list(&window).await.unwrap();
    let listed: Vec<&ItemId> = listing.events.iter().map(|e| &e.id).collect();
    assert_eq!(listed, [&ids[1], &ids[2], &ids[4], &ids[6]]);
    assert_eq!(listing.cursor, Some(Cursor("seq:8".into())));
}

#[tokio::test]
async fn requests_count_pages_changes_gets_and_chunks() {
    let p = InMemoryProvider::new(Side::Outlook)
        .with_page_size(10)
        .with_max_batch(4);
    let writes = (0..9).map(|i| create("e", 1, &format!("k{i}"))).collect();
    assert!(p.apply(writes).await.iter().all(Result::is_ok));
    assert_eq!(p.requests(), 3);
    p.reset_requests();
    p.seed((0..12).map(|_| timed("s", 2)));
    let listing = p.list(&window()).await.unwrap();
    assert_eq!((listing.events.len(), p.requests()), (21, 3));
    p.changes(listing.cursor.as_ref().unwrap(), &window())
        .await
        .unwrap();
    p.get(&ItemId::new("nope")).await.unwrap();
    assert!(p.apply(Vec::new()).await.is_empty());
    assert_eq!(CalendarProvider::requests(&p), 5);
    // An empty window is still one page.
    p.reset_requests();
    let empty = ListWindow {
        start: t(100, 0),
        end: t(101, 0),
    };
    assert!(p.list(&empty).await.unwrap().events.is_empty());
    assert_eq!(p.requests(), 1);
    let caps = p.capabilities();
    assert_eq!(
        (caps.max_batch, caps.incremental, caps.idempotent_creates),
        (4, true, true)
    );
}

#[tokio::test]
async fn changes_report_writes_and_tombstones_since_the_cursor() {
    let p = InMemoryProvider::new(Side::Outlook);
    let ids = p.seed(["a", "b", "c", "d"].map(|s| timed(s, 1)));
    let cursor = p.list(&window()).await.unwrap().cursor.unwrap();
    p.user_edit(&ids[0], |e| e.subject = "a2".into());
    p.user_delete(&ids[1]);
    let Ok(WriteResult::Created(new)) = one(&p, create("new", 2, "k")).await else {
        panic!();
    };
    p.user_create(timed("far away", 200));
    let changes = p.changes(&cursor, &window()).await.unwrap();
    let changed: Vec<&ItemId> = changes.events.iter().map(|e| &e.id).collect();
    assert_eq!(changed, [&ids[0], &new.id]);
    assert_eq!(changes.removed, [ids[1].clone()]);
    // From the new cursor, nothing.
    let again = p.changes(&changes.cursor, &window()).await.unwrap();
    assert!(again.events.is_empty() && again.removed.is_empty());
}

#[tokio::test]
async fn events_moved_out_of_the_window_are_reported_removed() {
    let p = InMemoryProvider::new(Side::Outlook);
    let ids = p.seed([timed("leaves", 1), timed("stays", 2), timed("outside", 100)]);
    let cursor = p.list(&window()).await.unwrap().cursor.unwrap();
    p.user_edit(&ids[0], |e| e.time = EventTime::timed(t(90, 9), t(90, 10)));
    p.user_edit(&ids[0], |e| e.time = EventTime::timed(t(91, 9), t(91, 10)));
    p.user_edit(&ids[1], |e| e.time = EventTime::timed(t(3, 9), t(3, 10)));
    p.user_edit(&ids[2], |e| e.subject = "still outside".into());
    let changes = p.changes(&cursor, &window()).await.unwrap();
    assert_eq!(changes.removed, [ids[0].clone()]);
    assert_eq!(changes.events.len(), 1);
    assert_eq!(changes.events[0].id, ids[1]);
    // It is still there: the engine confirms by id and finds it.
    assert!(p.get(&ids[0]).await.unwrap().is_some());
}

#[tokio::test]
async fn bad_old_and_expired_cursors_are_cursor_expired() {
    let p = InMemoryProvider::new(Side::Outlook).with_tombstone_retention(3);
    let w = window();
    for text in ["", "seq:", "seq:x", "delta?token=1", "seq:99"] {
        assert_eq!(
            kind(p.changes(&Cursor(text.into()), &w).await),
            ErrorKind::CursorExpired
        );
    }
    let old = p.list(&w).await.unwrap().cursor.unwrap();
    let ids = p.seed((0..3).map(|i| timed("e", i)));
    let recent = p.list(&w).await.unwrap().cursor.unwrap();
    assert!(p.changes(&old, &w).await.is_ok(), "3 writes old: kept");
    p.user_delete(&ids[0]);
    assert_eq!(kind(p.changes(&old, &w).await), ErrorKind::CursorExpired);
    assert_eq!(
        p.changes(&recent, &w).await.unwrap().removed,
        [ids[0].clone()]
    );

    p.inject(Fault::ExpireCursors);
    assert_eq!(kind(p.changes(&recent, &w).await), ErrorKind::CursorExpired);
    let fresh = p.list(&w).await.unwrap().cursor.unwrap();
    assert!(p.changes(&fresh, &w).await.is_ok());
}

#[tokio::test]
async fn fail_call_fails_only_the_nth_call() {
    let p = InMemoryProvider::new(Side::Outlook);
    p.inject(Fault::FailCall {
        call: 2,
        error: FaultError::Auth,
    });
    assert!(p.list(&window()).await.is_ok());
    assert_eq!(kind(p.get(&ItemId::new("x")).await), ErrorKind::Auth);
    assert!(p.get(&ItemId::new("x")).await.is_ok());
    // A failed apply fails every write and applies none.
    p.inject(Fault::FailCall {
        call: 1,
        error: FaultError::Transient,
    });
    let results = p
        .apply(vec![create("a", 1, "k1"), create("b", 1, "k2")])
        .await;
    assert_eq!(results.len(), 2);
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().unwrap_err().kind() == ErrorKind::Transient)
    );
    assert!(p.is_empty());
}

#[tokio::test]
async fn throttle_carries_retry_after() {
    let p = InMemoryProvider::new(Side::Salesforce);
    p.inject(Fault::Throttle {
        call: 1,
        retry_after: StdDuration::from_secs(7),
    });
    let error = p.list(&window()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Throttled);
    assert_eq!(error.retry_after(), Some(StdDuration::from_secs(7)));
    assert!(error.is_retryable());
    assert!(p.list(&window()).await.is_ok());
}

#[tokio::test]
async fn fail_all_calls_until_cleared() {
    let p = InMemoryProvider::new(Side::Outlook);
    p.inject(Fault::FailAllCalls {
        error: FaultError::Throttled(None),
    });
    for _ in 0..3 {
        assert_eq!(kind(p.list(&window()).await), ErrorKind::Throttled);
    }
    // The simulated user is not affected.
    p.user_create(timed("a", 1));
    p.clear_faults();
    assert_eq!(p.list(&window()).await.unwrap().events.len(), 1);
}

#[tokio::test]
async fn fail_item_fails_n_times_then_succeeds() {
    let p = InMemoryProvider::new(Side::Outlook);
    let a = created(&p, "a", 1).await;
    p.inject(Fault::FailItem {
        id_or_key: "k-b".into(),
        error: FaultError::Transient,
        times: 2,
    });
    p.inject(Fault::FailItem {
        id_or_key: a.id.to_string(),
        error: FaultError::InvalidData("subject".into()),
        times: 1,
    });
    let batch = || vec![create("b", 1, "k-b"), rename(&a.id, None, "a2")];
    let first = p.apply(batch()).await;
    assert_eq!(first[0].as_ref().unwrap_err().kind(), ErrorKind::Transient);
    assert!(
        matches!(&first[1], Err(ProviderError::InvalidData { field, .. }) if field == "subject")
    );
    let second = p.apply(batch()).await;
    assert_eq!(second[0].as_ref().unwrap_err().kind(), ErrorKind::Transient);
    assert!(second[1].is_ok());
    let third = p.apply(batch()).await;
    assert!(third.iter().all(Result::is_ok));
    assert_eq!(p.len(), 2);
}

#[tokio::test]
async fn crash_after_writes_applies_but_reports_failure() {
    let p = InMemoryProvider::new(Side::Salesforce);
    p.crash_after_writes(2);
    let batch = || {
        (0..4)
            .map(|i| create("e", 1, &format!("k{i}")))
            .collect::<Vec<_>>()
    };
    let results = p.apply(batch()).await;
    assert_eq!(results.len(), 4);
    for result in &results {
        let error = result.as_ref().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Transient);
        assert!(error.to_string().contains("connection dropped"));
    }
    // The first two were applied all the same; the retry finds them by key.
    assert_eq!(p.len(), 2);
    let retry = p.apply(batch()).await;
    assert!(retry.iter().all(Result::is_ok));
    assert_eq!(p.len(), 4);
}

#[tokio::test]
async fn crash_after_zero_writes_applies_nothing_and_fires_once() {
    let p = InMemoryProvider::new(Side::Outlook);
    p.crash_after_writes(0);
    let results = p.apply(vec![create("a", 1, "k")]).await;
    assert_eq!(
        kind(results.into_iter().next().unwrap()),
        ErrorKind::Transient
    );
    assert!(p.is_empty());
    assert!(one(&p, create("a", 1, "k")).await.is_ok());
    // Failed writes do not count towards the crash, and clear_faults disarms it.
    p.crash_after_writes(1);
    let stale = rename(&ItemId::new("missing"), None, "x");
    assert_eq!(kind(one(&p, stale).await), ErrorKind::NotFound);
    p.clear_faults();
    assert!(one(&p, create("b", 1, "k2")).await.is_ok());
}

#[test]
fn fault_errors_convert_to_their_kinds() {
    let cases = [
        (FaultError::Transient, ErrorKind::Transient),
        (FaultError::Throttled(None), ErrorKind::Throttled),
        (FaultError::Auth, ErrorKind::Auth),
        (FaultError::Permanent, ErrorKind::Permanent),
        (
            FaultError::InvalidData("location".into()),
            ErrorKind::InvalidData,
        ),
    ];
    for (fault, want) in cases {
        assert_eq!(ProviderError::from(fault).kind(), want);
    }
}

#[test]
fn debug_output_is_short() {
    let p = InMemoryProvider::new(Side::Outlook);
    p.seed((0..50).map(|i| timed("event with a long subject", i)));
    assert!(format!("{p:?}").len() < 200, "{p:?}");
}

#[tokio::test]
async fn get_many_is_one_request_and_one_call_for_faults() {
    let p = InMemoryProvider::new(Side::Outlook);
    let ids = p.seed([timed("a", 1), timed("b", 2)]);
    assert!(p.user_delete(&ids[1]));
    p.reset_requests();
    let asked = [
        ids[1].clone(),
        ids[0].clone(),
        ItemId::new("nope"),
        ids[0].clone(),
    ];
    let found = p.get_many(&asked).await.unwrap();
    assert_eq!(p.requests(), 1);
    let subjects: Vec<Option<&str>> = found
        .iter()
        .map(|e| e.as_ref().map(|e| e.subject.as_str()))
        .collect();
    assert_eq!(subjects, [None, Some("a"), None, Some("a")]);
    // A call fault fails the whole call, once.
    p.inject(Fault::FailCall {
        call: 1,
        error: FaultError::Throttled(Some(StdDuration::from_secs(2))),
    });
    assert_eq!(kind(p.get_many(&asked).await), ErrorKind::Throttled);
    assert_eq!(p.requests(), 2);
    assert_eq!(p.get_many(&asked).await.unwrap(), found);
}
