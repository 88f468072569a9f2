//! End to end: the sync engine between an in-memory Outlook calendar and the connector
//! talking to the Salesforce emulator, with SQLite state.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use calbridge::core::SyncSettings;
use calbridge::model::{Body, Event, EventTime, Side, Tz};
use calbridge::provider::InMemoryProvider;
use calbridge::store::SqliteStore;
use calbridge::{RetryPolicy, SyncEngine};
use calbridge_salesforce::SalesforceProvider;
use calbridge_testkit::salesforce::SalesforceFault;
use serde_json::json;
use support::*;

fn settings() -> SyncSettings {
    SyncSettings {
        time_zone: Some(Tz::UTC),
        ..SyncSettings::default()
    }
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_total: Duration::from_secs(10),
    }
}

fn engine(
    outlook: &InMemoryProvider,
    sf: &Arc<SalesforceProvider>,
    dir: &tempfile::TempDir,
) -> SyncEngine {
    SyncEngine::builder(
        outlook.clone(),
        Arc::clone(sf),
        SqliteStore::open(dir.path().join("state.sqlite")).unwrap(),
    )
    .settings(settings())
    .retry(fast_retry())
    .build()
    .unwrap()
}

fn sf_event(org: &Org, subject: &str, days: i64) -> serde_json::Value {
    json!({
        "Subject": subject,
        "StartDateTime": at(days, 14 * 60).to_rfc3339(),
        "EndDateTime": at(days, 15 * 60).to_rfc3339(),
        "OwnerId": org.owner,
    })
}

#[tokio::test]
async fn the_engine_syncs_both_ways_and_a_second_run_writes_nothing() {
    init_tracing();
    let org = org().await;
    let dir = tempfile::tempdir().unwrap();
    let sf = Arc::new(org.provider(true).await);
    let outlook = InMemoryProvider::new(Side::Outlook);
    let today = chrono::Utc::now().date_naive();
    let mut html = meeting("Acme kick-off", 3);
    html.body = Body::html(
        "<html><body><p>Agenda: <b>scope</b></p></body></html>",
        false,
    );
    outlook.seed([
        meeting("Pricing call", 1),
        meeting("Pipeline review", 2),
        html,
        Event::new(
            "",
            "Team offsite",
            EventTime::all_day(
                today + chrono::Duration::days(5),
                today + chrono::Duration::days(7),
            ),
        ),
        // The same meeting already exists on both sides: paired, not copied.
        Event::new(
            "",
            "Quarterly business review",
            EventTime::timed(at(4, 14 * 60), at(4, 15 * 60)),
        ),
    ]);
    org.sf.seed_event(sf_event(&org, "Globex CFO call", 1));
    org.sf
        .seed_event(sf_event(&org, "Quarterly business review", 4));
    let engine = engine(&outlook, &sf, &dir);

    let report = engine.sync().await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!((report.salesforce.created, report.outlook.created), (4, 1));
    assert_eq!((report.salesforce.updated, report.outlook.updated), (0, 0));
    assert_eq!((report.salesforce.deleted, report.outlook.deleted), (0, 0));
    let quota = report
        .salesforce
        .quota
        .expect("Sforce-Limit-Info reaches the report");
    assert!(quota.used > 0 && quota.limit >= quota.used, "{quota:?}");
    assert!(report.to_string().contains("API usage"), "{report}");
    assert!(report.salesforce.full_listing);
    assert_eq!(org.live(), 6);
    assert_eq!(outlook.len(), 6);
    let offsite = org
        .sf
        .events()
        .into_iter()
        .find(|e| e["Subject"] == "Team offsite")
        .unwrap();
    assert_eq!(
        (
            offsite["IsAllDayEvent"].clone(),
            offsite["DurationInMinutes"].clone()
        ),
        (json!(true), json!(2880))
    );
    let kick_off = org
        .sf
        .events()
        .into_iter()
        .find(|e| e["Subject"] == "Acme kick-off")
        .unwrap();
    assert_eq!(kick_off["Description"], json!("Agenda: scope"));
    assert_eq!(
        find_outlook(&outlook, "Globex CFO call").time,
        EventTime::timed(at(1, 14 * 60), at(1, 15 * 60))
    );

    let again = engine.sync().await.unwrap();
    assert!(
        !again.salesforce.full_listing,
        "the second run reads changes"
    );
    assert_eq!(
        (
            again.salesforce.created,
            again.salesforce.updated,
            again.salesforce.deleted
        ),
        (0, 0, 0)
    );
    assert_eq!(
        (
            again.outlook.created,
            again.outlook.updated,
            again.outlook.deleted
        ),
        (0, 0, 0)
    );
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    assert_eq!((org.live(), outlook.len()), (6, 6));

    // An edit in Salesforce and a deletion in Outlook travel across.
    let globex = org
        .sf
        .events()
        .into_iter()
        .find(|e| e["Subject"] == "Globex CFO call")
        .unwrap();
    org.sf.user_edit(
        globex["Id"].as_str().unwrap(),
        json!({"Subject": "Globex CFO call (moved)", "Location": "Zoom"}),
    );
    let pricing = find_outlook(&outlook, "Pricing call");
    outlook.user_delete(&pricing.id);
    let third = engine.sync().await.unwrap();
    assert!(third.errors.is_empty(), "{:?}", third.errors);
    assert_eq!((third.outlook.updated, third.salesforce.deleted), (1, 1));
    let moved = find_outlook(&outlook, "Globex CFO call (moved)");
    assert_eq!(moved.location, "Zoom");
    assert_eq!(org.live(), 5);
}

fn find_outlook(p: &InMemoryProvider, subject: &str) -> Event {
    p.events()
        .into_iter()
        .find(|e| e.subject == subject)
        .unwrap_or_else(|| panic!("no {subject:?} in Outlook"))
}

#[tokio::test]
async fn transient_faults_are_retried_by_the_engine() {
    let org = org().await;
    let dir = tempfile::tempdir().unwrap();
    let sf = Arc::new(org.provider(true).await);
    let outlook = InMemoryProvider::new(Side::Outlook);
    outlook.seed((0..5).map(|i| meeting(&format!("m{i}"), 1 + i)));
    let engine = engine(&outlook, &sf, &dir);
    org.sf
        .inject(SalesforceFault::RequestLimitExceeded { times: 1 });
    org.sf.inject(SalesforceFault::DropAfterWrite { times: 1 });
    org.sf.inject(SalesforceFault::ExpireSessions);
    let report = engine.sync().await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.salesforce.created, 5);
    assert_eq!(org.live(), 5, "no duplicate after the dropped answer");
}

#[tokio::test]
async fn without_an_external_id_a_lost_answer_is_paired_on_the_next_run() {
    let org = org().await;
    let dir = tempfile::tempdir().unwrap();
    let sf = Arc::new(org.provider(false).await);
    let outlook = InMemoryProvider::new(Side::Outlook);
    outlook.seed((0..3).map(|i| meeting(&format!("m{i}"), 1 + i)));
    let engine = engine(&outlook, &sf, &dir);
    org.sf.inject(SalesforceFault::DropAfterWrite { times: 1 });
    let first = engine.sync().await.unwrap();
    assert_eq!(first.errors.len(), 3, "reported, not retried blindly");
    assert_eq!(org.live(), 3);
    let second = engine.sync().await.unwrap();
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    assert_eq!(
        second.salesforce.created, 0,
        "the copies were found and paired"
    );
    assert_eq!(second.interrupted_creates, 3);
    assert_eq!(org.live(), 3);
}
