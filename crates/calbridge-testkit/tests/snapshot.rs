//! Both emulators' snapshots: what one emulator saved, another loads back exactly, and what
//! the second serves over HTTP is what the first served.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use calbridge_testkit::graph::GraphEmulator;
use calbridge_testkit::salesforce::{CustomFieldKind, SalesforceEmulator};
use serde_json::{Value, json};

const USER: &str = "adele@contoso.com";
const WINDOW: &str = "startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z";

fn enc(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

async fn graph_get(graph: &GraphEmulator, rel: &str) -> Value {
    let token = graph
        .issue_token(USER, Duration::from_secs(600))
        .access_token;
    let resp = reqwest::Client::new()
        .get(format!("{}{rel}", graph.base_url()))
        .bearer_auth(token)
        .header("Prefer", "outlook.timezone=\"Pacific Standard Time\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

/// Everything but the per-request `@odata.context` (which names the emulator's host).
fn values(page: &Value) -> Vec<Value> {
    page["value"].as_array().unwrap().clone()
}

#[tokio::test]
async fn graph_events_saved_by_one_emulator_load_exactly_into_another() {
    let first = GraphEmulator::start().await.unwrap();
    first.add_user(USER);
    let timed = first.seed_event(
        USER,
        None,
        json!({
            "subject": "Pricing call",
            "body": {"contentType": "html", "content": "<p><b>Agenda</b></p>"},
            "start": {"dateTime": "2026-03-08T01:30:00", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2026-03-08T03:30:00", "timeZone": "Pacific Standard Time"},
            "sensitivity": "private",
            "location": {"displayName": "Room 4"},
            "transactionId": "txn-1",
            "singleValueExtendedProperties": [{"id": "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name calbridge", "value": "k-1"}],
        }),
    );
    first.seed_event(
        USER,
        None,
        json!({
            "subject": "Summit",
            "isAllDay": true,
            "start": {"dateTime": "2026-03-10T00:00:00", "timeZone": "W. Europe Standard Time"},
            "end": {"dateTime": "2026-03-12T00:00:00", "timeZone": "W. Europe Standard Time"},
        }),
    );
    let series = first.seed_event(
        USER,
        None,
        json!({
            "subject": "Pipeline review",
            "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": "2026-03-02T09:30:00", "timeZone": "UTC"},
            "recurrence": {
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 4},
            },
        }),
    );
    let instances = values(
        &graph_get(
            &first,
            &format!("/me/events/{}/instances?{WINDOW}", enc(&series)),
        )
        .await,
    );
    assert_eq!(instances.len(), 4);
    let second = instances[1]["id"].as_str().unwrap();
    let third = instances[2]["id"].as_str().unwrap();
    assert!(first.user_edit(USER, second, json!({"subject": "Pipeline review (moved)"})));
    assert!(first.user_delete(USER, third));
    assert!(first.user_edit(USER, &timed, json!({"showAs": "tentative"})));

    let saved = first.snapshot_events(USER, None);
    assert_eq!(
        saved.len(),
        4,
        "single, all-day, master, exception: {saved:#?}"
    );
    // The saved form survives a trip through a file.
    let text = serde_json::to_string(&saved).unwrap();
    let saved: Vec<Value> = serde_json::from_str(&text).unwrap();

    let other = GraphEmulator::start().await.unwrap();
    other.add_user(USER);
    assert_eq!(other.restore_events(USER, None, &saved).unwrap(), 4);
    assert_eq!(other.snapshot_events(USER, None), saved);
    assert_eq!(other.events(USER, None), first.events(USER, None));
    let view = format!("/me/calendarView?{WINDOW}&$top=50");
    assert_eq!(
        values(&graph_get(&other, &view).await),
        values(&graph_get(&first, &view).await)
    );
    assert_eq!(other.event(USER, &timed), first.event(USER, &timed));

    // Loading the same events twice is refused, naming the id.
    let again = other.restore_events(USER, None, &saved).unwrap_err();
    assert!(again.contains("already"), "{again}");
    // So is an event without an id.
    let err = other
        .restore_events(USER, None, &[json!({"subject": "x"})])
        .unwrap_err();
    assert!(err.contains("no id"), "{err}");
}

fn salesforce_setup(sf: &SalesforceEmulator) -> String {
    let owner = sf.add_user("ada@acme.example");
    sf.add_custom_field(
        "Calbridge_Key__c",
        CustomFieldKind::Text {
            max_len: 255,
            external_id: true,
        },
    );
    owner
}

#[tokio::test]
async fn salesforce_events_saved_by_one_emulator_load_exactly_into_another() {
    let first = SalesforceEmulator::start().await.unwrap();
    let owner = salesforce_setup(&first);
    let account = first.add_related_record("001");
    let timed = first.seed_event(json!({
        "Subject": "Call with Acme",
        "StartDateTime": "2026-03-02T09:00:00Z",
        "EndDateTime": "2026-03-02T09:30:00Z",
        "WhatId": account,
        "Description": "Pricing",
        "Calbridge_Key__c": "k-1",
    }));
    first.seed_event(json!({
        "Subject": "Offsite",
        "IsAllDayEvent": true,
        "ActivityDate": "2026-03-10",
        "DurationInMinutes": 2880,
    }));
    let gone = first.seed_event(json!({
        "Subject": "Cancelled",
        "StartDateTime": "2026-03-03T09:00:00Z",
        "EndDateTime": "2026-03-03T09:30:00Z",
    }));
    assert!(first.user_edit(&timed, json!({"Location": "Room 4"})));
    assert!(first.user_delete(&gone));

    let saved = first.snapshot_events();
    assert_eq!(saved.len(), 2, "live records only: {saved:#?}");

    let other = SalesforceEmulator::start().await.unwrap();
    assert_eq!(salesforce_setup(&other), owner);
    other.add_related_record(&account);
    assert_eq!(other.restore_events(&saved).unwrap(), 2);
    assert_eq!(other.events(), first.events());
    assert_eq!(other.snapshot_events(), saved);

    // New records never take a restored id (the emulators mint ids from a counter, so the
    // second one's next ids are the first one's).
    for day in 4..7 {
        let fresh = other.seed_event(json!({
            "Subject": "New",
            "StartDateTime": format!("2026-03-0{day}T09:00:00Z"),
            "EndDateTime": format!("2026-03-0{day}T09:30:00Z"),
        }));
        assert!(saved.iter().all(|r| r["Id"] != json!(fresh)), "{fresh}");
    }
    assert_eq!(other.events().len(), 5);

    // Loading a record twice is refused.
    let err = other.restore_events(&saved[..1]).unwrap_err();
    assert!(err.contains("DUPLICATE_VALUE"), "{err}");
}
