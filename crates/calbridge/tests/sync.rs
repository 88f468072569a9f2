//! End-to-end runs over in-memory calendars with SQLite state: counts, convergence,
//! incremental resyncs, faults, the delete guard, relate and SnapRecord.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use calbridge::EngineError;
use calbridge::core::SyncMode;
use calbridge::model::{RecordLink, Side};
use calbridge::provider::{Fault, FaultError, InMemoryProvider};
use calbridge::store::{MemoryStore, SqliteStore};
use support::*;

#[tokio::test]
async fn preview_writes_nothing_and_sync_converges_with_sqlite_state() {
    let dir = tempfile::tempdir().unwrap();
    let (outlook, salesforce) = calendars();
    let engine = engine(
        &outlook,
        &salesforce,
        SqliteStore::open(dir.path().join("state.sqlite")).unwrap(),
        settings(),
    );

    let preview = engine.preview().await.unwrap();
    assert!(preview.report.preview);
    assert_eq!(
        (
            preview.report.salesforce.created,
            preview.report.outlook.created
        ),
        (3, 1)
    );
    assert_eq!(
        (outlook.len(), salesforce.len()),
        (4, 2),
        "a preview writes nothing"
    );

    let report = engine.sync().await.unwrap();
    assert_eq!(report.salesforce.created, 3);
    assert_eq!(report.outlook.created, 1);
    assert!(report.outlook.full_listing && report.salesforce.full_listing);
    assert!(report.errors.is_empty(), "{report}");
    assert_eq!(assert_converged(&outlook, &salesforce), 5);

    let again = engine.sync().await.unwrap();
    assert_eq!(again.writes(), 0, "{again}");
    assert!(
        !again.outlook.full_listing,
        "second run reads incrementally"
    );
    assert_eq!(engine.store().recent_runs(10).await.unwrap().len(), 2);
}

#[tokio::test]
async fn edits_on_both_sides_flow_and_deletes_follow() {
    let (outlook, salesforce) = calendars();
    let engine = engine(&outlook, &salesforce, MemoryStore::new(), settings());
    engine.sync().await.unwrap();
    let pricing = find(&outlook, "Pricing call");
    outlook.user_edit(&pricing.id, |e| e.location = "Zoom".into());
    let globex = find(&salesforce, "Globex CFO call");
    salesforce.user_edit(&globex.id, |e| e.subject = "Globex CFO call (moved)".into());
    let kickoff = find(&outlook, "Acme kick-off");
    outlook.user_delete(&kickoff.id);

    let report = engine.sync().await.unwrap();
    assert_eq!(
        (
            report.salesforce.updated,
            report.salesforce.deleted,
            report.outlook.updated
        ),
        (1, 1, 1),
        "{report}"
    );
    assert_eq!(assert_converged(&outlook, &salesforce), 4);
    assert!(salesforce.events().iter().any(|e| e.location == "Zoom"));
}

#[tokio::test]
async fn throttling_and_transient_failures_are_retried() {
    let (outlook, salesforce) = calendars();
    let engine = engine(&outlook, &salesforce, MemoryStore::new(), settings());
    // The first list of Salesforce is throttled, then one write batch fails transiently.
    salesforce.inject(Fault::Throttle {
        call: 1,
        retry_after: Duration::from_secs(3),
    });
    salesforce.inject(Fault::FailCall {
        call: 3,
        error: FaultError::Transient,
    });
    let report = engine.sync().await.unwrap();
    assert!(report.errors.is_empty(), "{report}");
    assert_converged(&outlook, &salesforce);
    // The retry honoured Retry-After on the manual clock.
    assert!(engine.clock().now() >= now() + chrono::Duration::seconds(3));
}

#[tokio::test]
async fn a_permanent_failure_on_one_item_is_reported_and_the_rest_applied() {
    let (outlook, salesforce) = calendars();
    let engine = engine(&outlook, &salesforce, MemoryStore::new(), settings());
    let pricing = find(&outlook, "Pricing call");
    // Fail exactly the create of the pricing call: its key is derived from its id.
    let preview = engine.preview().await.unwrap();
    let key = preview
        .plan
        .operations
        .iter()
        .find_map(|op| match &op.action {
            calbridge::core::Action::Create {
                idempotency_key, ..
            } if op.source_id == pricing.id => Some(idempotency_key.clone()),
            _ => None,
        })
        .unwrap();
    salesforce.inject(Fault::FailItem {
        id_or_key: key,
        error: FaultError::InvalidData("Subject".into()),
        times: u32::MAX,
    });
    let report = engine.sync().await.unwrap();
    assert_eq!(report.salesforce.created, 2);
    assert_eq!(report.salesforce.failed, 1);
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].id, pricing.id);
    assert_eq!(report.errors[0].kind, "invalid_data");
    assert_eq!(salesforce.len(), 4);
    // Failed items keep the cursor back, so the next run reads them again and retries.
    salesforce.clear_faults();
    let report = engine.sync().await.unwrap();
    assert_eq!(report.salesforce.created, 1, "{report}");
    assert_converged(&outlook, &salesforce);
}

#[tokio::test]
async fn an_auth_failure_mid_run_stops_it_and_a_rerun_finishes_without_duplicates() {
    let (outlook, salesforce) = calendars();
    let salesforce = salesforce.with_max_batch(1);
    let engine = engine(&outlook, &salesforce, MemoryStore::new(), settings());
    // Call 1 lists Salesforce, call 2 creates the first copy, call 3 is refused.
    salesforce.inject(Fault::FailCall {
        call: 3,
        error: FaultError::Auth,
    });
    let err = engine.sync().await.unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Auth {
                side: Side::Salesforce,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        salesforce.len(),
        3,
        "one copy made before the refusal, nothing after"
    );
    let report = engine.sync().await.unwrap();
    assert_eq!(report.salesforce.created, 2, "{report}");
    assert_converged(&outlook, &salesforce);
}

/// Forwards to a calendar, but before the next write batch someone edits the victim.
#[derive(Debug)]
struct EditsBeforeWrite {
    inner: InMemoryProvider,
    victim: std::sync::Arc<std::sync::Mutex<Option<calbridge::model::ItemId>>>,
}

#[async_trait::async_trait]
impl calbridge::provider::CalendarProvider for EditsBeforeWrite {
    fn side(&self) -> Side {
        self.inner.side()
    }
    fn capabilities(&self) -> calbridge::provider::Capabilities {
        self.inner.capabilities()
    }
    async fn list(
        &self,
        w: &calbridge::provider::ListWindow,
    ) -> Result<calbridge::provider::Listing, calbridge::provider::ProviderError> {
        self.inner.list(w).await
    }
    async fn changes(
        &self,
        c: &calbridge::provider::Cursor,
        w: &calbridge::provider::ListWindow,
    ) -> Result<calbridge::provider::Changes, calbridge::provider::ProviderError> {
        self.inner.changes(c, w).await
    }
    async fn get(
        &self,
        id: &calbridge::model::ItemId,
    ) -> Result<Option<calbridge::model::Event>, calbridge::provider::ProviderError> {
        self.inner.get(id).await
    }
    async fn get_many(
        &self,
        ids: &[calbridge::model::ItemId],
    ) -> Result<Vec<Option<calbridge::model::Event>>, calbridge::provider::ProviderError> {
        self.inner.get_many(ids).await
    }
    async fn apply(
        &self,
        writes: Vec<calbridge::provider::Write>,
    ) -> Vec<Result<calbridge::provider::WriteResult, calbridge::provider::ProviderError>> {
        let victim = self.victim.lock().unwrap().take();
        if let Some(id) = victim {
            self.inner.user_edit(&id, |e| {
                e.subject = "Pricing call — edited in Salesforce".into()
            });
        }
        self.inner.apply(writes).await
    }
}

#[tokio::test]
async fn a_stale_version_is_read_again_and_planned_again() {
    let (outlook, salesforce) = calendars();
    let victim = std::sync::Arc::new(std::sync::Mutex::new(None));
    let interfering = EditsBeforeWrite {
        inner: salesforce.clone(),
        victim: std::sync::Arc::clone(&victim),
    };
    let engine = calbridge::SyncEngine::builder(outlook.clone(), interfering, MemoryStore::new())
        .settings(settings())
        .clock(calbridge::ManualClock::new(now()))
        .retry(fast_retry())
        .build()
        .unwrap();
    engine.sync().await.unwrap();
    let pricing = find(&outlook, "Pricing call");
    let copy = find(&salesforce, "Pricing call");
    outlook.user_edit(&pricing.id, |e| e.location = "Room 4".into());
    *victim.lock().unwrap() = Some(copy.id.clone());
    let report = engine.sync().await.unwrap();
    assert!(report.errors.is_empty(), "{report}");
    // The refused write was read again and planned again in the same run: the Salesforce
    // edit went to Outlook and the Outlook edit to Salesforce.
    assert_eq!(
        (report.outlook.updated, report.salesforce.updated),
        (1, 1),
        "{report}"
    );
    let copy = salesforce.event(&copy.id).unwrap();
    assert_eq!(
        (copy.location.as_str(), copy.subject.as_str()),
        ("Room 4", "Pricing call — edited in Salesforce")
    );
    // The Salesforce edit flows back on the next run.
    engine.sync().await.unwrap();
    assert_converged(&outlook, &salesforce);
}

#[tokio::test]
async fn relate_reaches_salesforce_and_snap_record_pushes_only_snapped_events() {
    let (outlook, salesforce) = (
        InMemoryProvider::new(Side::Outlook),
        InMemoryProvider::new(Side::Salesforce),
    );
    let ids = outlook.seed([
        meeting("Recorded call", 1, 10),
        meeting("Not recorded", 1, 12),
    ]);
    let s = calbridge::SyncSettings {
        mode: SyncMode::SnapRecord,
        ..settings()
    };
    let engine = engine(&outlook, &salesforce, MemoryStore::new(), s);
    let link = RecordLink {
        what: Some("006A0000006Vm9r".parse().unwrap()),
        who: Some("003A0000006Vm9r".parse().unwrap()),
    };
    let mut snap = calbridge::model::SnapFields::new();
    snap.insert("Type".into(), serde_json::json!("Meeting"));
    engine
        .relate(&ids[0], link.clone(), snap.clone())
        .await
        .unwrap();
    let report = engine.snap(&ids[0]).await.unwrap();
    assert_eq!(report.salesforce.created, 1, "{report}");
    let copy = &salesforce.events()[0];
    assert_eq!(copy.link, link);
    assert_eq!(copy.snap_fields, snap);
    assert_eq!(salesforce.len(), 1, "the unrecorded event stays in Outlook");
}

#[tokio::test]
async fn an_unknown_event_cannot_be_related() {
    let (outlook, salesforce) = calendars();
    let engine = engine(&outlook, &salesforce, MemoryStore::new(), settings());
    let err = engine
        .relate(&"nope".into(), RecordLink::default(), Default::default())
        .await
        .unwrap_err();
    assert!(matches!(err, EngineError::NotFound { .. }));
}

#[derive(Default, Clone)]
struct Recorder(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

impl calbridge::SyncObserver for Recorder {
    fn progress(&self, done: usize, total: usize) {
        self.0
            .lock()
            .unwrap()
            .push(format!("progress {done}/{total}"));
    }
    fn item_failed(&self, failure: &calbridge::ItemFailure) {
        self.0
            .lock()
            .unwrap()
            .push(format!("failed {}", failure.kind));
    }
    fn conflict(&self, conflict: &calbridge::core::Conflict) {
        self.0
            .lock()
            .unwrap()
            .push(format!("conflict {}", conflict.field));
    }
    fn finished(&self, report: &calbridge::Report) {
        self.0
            .lock()
            .unwrap()
            .push(format!("finished {}", report.writes()));
    }
}

#[tokio::test]
async fn the_observer_hears_what_the_notification_settings_allow() {
    for (errors, conflicts, summary) in [(true, true, true), (false, false, false)] {
        let (outlook, salesforce) = calendars();
        let recorder = Recorder::default();
        let mut s = settings();
        s.notifications = calbridge::core::Notifications {
            errors,
            conflicts,
            summary,
        };
        let engine =
            calbridge::SyncEngine::builder(outlook.clone(), salesforce.clone(), MemoryStore::new())
                .settings(s)
                .clock(calbridge::ManualClock::new(now()))
                .retry(fast_retry())
                .observer(recorder.clone())
                .build()
                .unwrap();
        let globex = find(&salesforce, "Globex CFO call");
        let key = engine
            .preview()
            .await
            .unwrap()
            .plan
            .operations
            .iter()
            .find_map(|op| match &op.action {
                calbridge::core::Action::Create {
                    idempotency_key, ..
                } if op.source_id == globex.id => Some(idempotency_key.clone()),
                _ => None,
            })
            .unwrap();
        outlook.inject(Fault::FailItem {
            id_or_key: key,
            error: FaultError::Permanent,
            times: 1,
        });
        // The shared review differs in location: a conflict on the first pairing.
        let review = find(&outlook, "Quarterly business review");
        outlook.user_edit(&review.id, |e| e.location = "Room 1".into());
        let review_sf = find(&salesforce, "Quarterly business review");
        salesforce.user_edit(&review_sf.id, |e| e.location = "Room 2".into());
        engine.sync().await.unwrap();
        let heard = recorder.0.lock().unwrap().clone();
        assert!(heard.iter().any(|h| h.starts_with("progress")), "{heard:?}");
        assert_eq!(
            heard.contains(&"failed permanent".to_owned()),
            errors,
            "{heard:?}"
        );
        assert_eq!(
            heard.contains(&"conflict location".to_owned()),
            conflicts,
            "{heard:?}"
        );
        assert_eq!(
            heard.iter().any(|h| h.starts_with("finished")),
            summary,
            "{heard:?}"
        );
    }
}

#[tokio::test]
async fn the_report_reads_well_and_serialises() {
    let (outlook, salesforce) = calendars();
    let engine = engine(&outlook, &salesforce, MemoryStore::new(), settings());
    let report = engine.sync().await.unwrap();
    let text = report.to_string();
    assert!(
        text.contains("salesforce created 3, updated 0, deleted 0, failed 0"),
        "{text}"
    );
    assert!(text.contains("outlook    created 1"), "{text}");
    let json = report.to_json();
    assert_eq!(json["salesforce"]["created"], 3);
    assert_eq!(json["outlook"]["full_listing"], true);
    assert_eq!(json["preview"], false);
    assert!(json["errors"].as_array().unwrap().is_empty());
}
