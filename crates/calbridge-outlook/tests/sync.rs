//! End to end: the engine syncs the connector (talking to the Graph emulator) with an
//! in-memory Salesforce calendar, state in SQLite. Counts, both sides' contents, the
//! extended property on Outlook, no invitations, a quiet second run, edits and deletes
//! flowing both ways.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{Duration, NaiveDate, NaiveTime, Utc};
use serde_json::{Value, json};

use calbridge::core::SkipReason;
use calbridge::model::{Body, Event, EventTime, RecordLink, Side};
use calbridge::provider::InMemoryProvider;
use calbridge::store::SqliteStore;
use calbridge::{SyncEngine, SyncSettings};
use calbridge_outlook::EXTENDED_PROPERTY_ID;
use support::*;

fn day(days: i64) -> NaiveDate {
    (Utc::now() + Duration::days(days)).date_naive()
}

/// `{dateTime, timeZone}` for `days` from today at `hour` in `zone`.
fn wall(days: i64, hour: u32, zone: &str) -> Value {
    let t = day(days).and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap());
    json!({"dateTime": t.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": zone})
}

fn utc_at(days: i64, hour: u32) -> chrono::DateTime<Utc> {
    day(days)
        .and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap())
        .and_utc()
}

fn property(stored: &Value) -> Option<Value> {
    stored["singleValueExtendedProperties"]
        .as_array()?
        .iter()
        .find(|p| p["id"] == EXTENDED_PROPERTY_ID)
        .and_then(|p| p["value"].as_str())
        .map(|v| serde_json::from_str(v).unwrap())
}

fn by_subject<'a>(events: &'a [Value], subject: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["subject"] == subject)
        .unwrap_or_else(|| panic!("no {subject:?} in Outlook"))
}

#[tokio::test]
async fn engine_syncs_outlook_and_salesforce_both_ways() {
    let graph = emulator().await;
    // Outlook: a meeting with attendees, an all-day event, a private event, a weekly series
    // of three, and a meeting Salesforce already has.
    graph.seed_event(USER, None, json!({
        "subject": "Pricing call",
        "start": wall(2, 9, "Pacific Standard Time"), "end": wall(2, 10, "Pacific Standard Time"),
        "body": {"contentType": "html", "content": "<html><body><p><b>Agenda</b>: pricing</p></body></html>"},
        "attendees": [{"type": "required", "emailAddress": {"name": "Dana", "address": "dana@example.com"}}],
    }));
    graph.seed_event(
        USER,
        None,
        json!({
            "subject": "Offsite", "isAllDay": true,
            "start": {"dateTime": format!("{}T00:00:00", day(5)), "timeZone": "UTC"},
            "end": {"dateTime": format!("{}T00:00:00", day(7)), "timeZone": "UTC"},
        }),
    );
    graph.seed_event(
        USER,
        None,
        json!({
            "subject": "Doctor", "sensitivity": "private",
            "start": wall(3, 8, "UTC"), "end": wall(3, 9, "UTC"),
        }),
    );
    graph.seed_event(USER, None, json!({
        "subject": "Weekly pipeline review",
        "start": wall(1, 7, "Nepal Standard Time"), "end": wall(1, 8, "Nepal Standard Time"),
        "recurrence": {
            "pattern": {"type": "daily", "interval": 7},
            "range": {"type": "numbered", "startDate": day(1).to_string(), "numberOfOccurrences": 3},
        },
    }));
    graph.seed_event(
        USER,
        None,
        json!({
            "subject": "Quarterly business review",
            "start": wall(4, 16, "UTC"), "end": wall(4, 17, "UTC"),
        }),
    );

    let salesforce = InMemoryProvider::new(Side::Salesforce);
    let qbr = Event::new(
        "",
        "Quarterly business review",
        EventTime::timed(utc_at(4, 16), utc_at(4, 17)),
    );
    let mut globex = Event::new(
        "",
        "Globex CFO call",
        EventTime::timed(utc_at(6, 18), utc_at(6, 18) + Duration::minutes(30)),
    );
    globex.body = Body::text("Prepared in Salesforce.\nBring the contract.");
    globex.link = RecordLink {
        what: Some("006A0000006Vm9r".parse().unwrap()),
        who: Some("003A0000006Vm9r".parse().unwrap()),
    };
    globex.snap_fields.insert("Type".into(), json!("Meeting"));
    salesforce.seed([qbr, globex]);

    let outlook = provider(&graph).await;
    let dir = tempfile::tempdir().unwrap();
    let engine = SyncEngine::builder(
        outlook.clone(),
        salesforce.clone(),
        SqliteStore::open(dir.path().join("state.sqlite")).unwrap(),
    )
    .settings(SyncSettings {
        time_zone: Some(chrono_tz::UTC),
        ..SyncSettings::default()
    })
    .build()
    .unwrap();

    let report = engine.sync().await.unwrap();
    assert!(report.errors.is_empty(), "{report}");
    // Pricing call, Offsite and three occurrences go to Salesforce; the private event does
    // not; the business review pairs with Salesforce's copy.
    assert_eq!(report.salesforce.created, 5, "{report}");
    assert_eq!(report.outlook.created, 1, "{report}");
    assert_eq!(
        report.outlook.skipped.get(&SkipReason::Private),
        Some(&1),
        "{report}"
    );
    assert!(report.outlook.full_listing);
    assert!(report.outlook.requests > 0);

    let sf = salesforce.events();
    assert_eq!(sf.len(), 7, "{sf:#?}");
    let pricing = sf.iter().find(|e| e.subject == "Pricing call").unwrap();
    assert_eq!(pricing.body.plain_text(), "Agenda: pricing");
    assert!(pricing.counterpart.is_some() || pricing.id.as_str().starts_with("mem-s"));
    let offsite = sf.iter().find(|e| e.subject == "Offsite").unwrap();
    assert_eq!(offsite.time, EventTime::all_day(day(5), day(7)));
    assert_eq!(
        sf.iter()
            .filter(|e| e.subject == "Weekly pipeline review")
            .count(),
        3
    );
    assert!(!sf.iter().any(|e| e.subject == "Doctor"));

    let stored = graph.events(USER, None);
    let globex = by_subject(&stored, "Globex CFO call");
    let prop = property(globex).expect("calbridge's property on the Outlook copy");
    assert_eq!(prop["what"], "006A0000006Vm9rIAC");
    assert_eq!(prop["who"], "003A0000006Vm9rIAC");
    assert_eq!(prop["snap"], json!({"Type": "Meeting"}));
    let sf_globex = sf.iter().find(|e| e.subject == "Globex CFO call").unwrap();
    assert_eq!(prop["sf"], sf_globex.id.as_str());
    assert_eq!(globex["attendees"], json!([]), "no invitations are sent");
    assert!(globex["transactionId"].is_string());
    assert_eq!(
        stored
            .iter()
            .filter(|e| e["subject"] == "Quarterly business review")
            .count(),
        1,
        "paired, not duplicated"
    );

    // A second run with no edits writes nothing. It reads Outlook incrementally: the delta
    // round echoes the event the first run created, read again in one `$batch`.
    let before = outlook_requests(&graph);
    let again = engine.sync().await.unwrap();
    assert_eq!(again.writes(), 0, "{again}");
    assert!(!again.outlook.full_listing, "{again}");
    assert_eq!(
        outlook_requests(&graph) - before,
        2,
        "{:#?}",
        graph.requests()
    );
    // With nothing new at all, reading Outlook costs one request.
    let before = outlook_requests(&graph);
    let quiet = engine.sync().await.unwrap();
    assert_eq!(quiet.writes(), 0, "{quiet}");
    assert_eq!(
        outlook_requests(&graph) - before,
        1,
        "{:#?}",
        graph.requests()
    );

    // Edits flow: a subject changed in Outlook, a relation changed in Salesforce; a delete in
    // Salesforce removes the Outlook copy.
    let pricing_id = by_subject(&stored, "Pricing call")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(graph.user_edit(
        USER,
        &pricing_id,
        json!({"subject": "Pricing call (moved)"})
    ));
    let globex_sf = sf_globex.id.clone();
    salesforce.user_edit(&globex_sf, |e| {
        e.link.what = Some("001A0000006Vm9r".parse().unwrap());
    });
    let qbr_sf = sf
        .iter()
        .find(|e| e.subject == "Quarterly business review")
        .unwrap()
        .id
        .clone();
    salesforce.user_delete(&qbr_sf);
    let third = engine.sync().await.unwrap();
    assert!(third.errors.is_empty(), "{third}");
    assert_eq!(third.salesforce.updated, 1, "{third}");
    assert_eq!(third.outlook.updated, 1, "{third}");
    assert_eq!(third.outlook.deleted, 1, "{third}");
    assert!(
        salesforce
            .events()
            .iter()
            .any(|e| e.subject == "Pricing call (moved)")
    );
    let stored = graph.events(USER, None);
    assert!(
        !stored
            .iter()
            .any(|e| e["subject"] == "Quarterly business review")
    );
    let globex_prop = property(by_subject(&stored, "Globex CFO call")).unwrap();
    assert_eq!(globex_prop["what"], "001A0000006Vm9rIAC");
    assert_eq!(globex_prop["who"], "003A0000006Vm9rIAC");
    assert_eq!(
        globex_prop["sf"],
        globex_sf.as_str(),
        "the counterpart survives"
    );

    // And then it is quiet again.
    let fourth = engine.sync().await.unwrap();
    assert_eq!(fourth.writes(), 0, "{fourth}");
}

/// Requests to the Graph API (token endpoint calls excluded).
fn outlook_requests(graph: &calbridge_testkit::graph::GraphEmulator) -> usize {
    graph
        .requests()
        .iter()
        .filter(|r| r.path_and_query.starts_with("/v1.0/"))
        .count()
}
