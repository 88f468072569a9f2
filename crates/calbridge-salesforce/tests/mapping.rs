//! The mapping against the emulator's validation: one batch mixing events that must land
//! exactly (all-day, multi-day, across DST, a cut description, HTML, private) with events
//! that must fail one by one (an invalid WhatId, a snap field of the wrong type, …), the
//! rest of the batch applied.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write as _;
use std::sync::{Arc, Mutex};

use calbridge_model::{
    Body, Event, EventTime, FieldValue, ItemId, RecordLink, SALESFORCE_DESCRIPTION_MAX,
    SalesforceId, Sensitivity, ShowAs, SnapFields,
};
use calbridge_provider::{CalendarProvider, ListWindow, ProviderError, Write, WriteResult};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use serde_json::json;
use support::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn invalid_field(r: &Result<WriteResult, ProviderError>) -> String {
    match r {
        Err(ProviderError::InvalidData { field, .. }) => field.clone(),
        other => panic!("want InvalidData, got {other:?}"),
    }
}

fn stored(r: &Result<WriteResult, ProviderError>) -> Event {
    match r {
        Ok(WriteResult::Created(e) | WriteResult::Updated(e)) => e.clone(),
        other => panic!("want a stored event, got {other:?}"),
    }
}

/// Log lines written while the guard lives (the test runs on one thread).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[tokio::test]
async fn a_mixed_batch_lands_exactly_and_fails_item_by_item() {
    let org = org().await;
    let p = org.provider(true).await;
    let account: SalesforceId = org.sf.add_related_record("001").parse().unwrap();
    let contact: SalesforceId = org.sf.add_related_record("003").parse().unwrap();
    // Well-formed, but no such account in the org: the service refuses it.
    let unknown_account: SalesforceId = "0015Y00002c7g8u".parse().unwrap();
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::WARN)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let berlin: calbridge_model::Tz = "Europe/Berlin".parse().unwrap();
    let mut events = Vec::new();
    // 0: one all-day day.
    events.push(Event::new(
        "",
        "Offsite",
        EventTime::all_day(d("2027-03-03"), d("2027-03-04")),
    ));
    // 1: three all-day days over Europe's clock change (2027-03-28).
    events.push(Event::new(
        "",
        "Conference",
        EventTime::all_day(d("2027-03-27"), d("2027-03-30")),
    ));
    // 2: timed across the change: 01:30 CET to 04:30 CEST is two real hours.
    let start = Utc.with_ymd_and_hms(2027, 3, 28, 0, 30, 0).unwrap();
    events.push(Event::new(
        "",
        "Night shift",
        EventTime::Timed {
            start,
            end: start + Duration::hours(2),
            zone: Some(berlin),
        },
    ));
    // 3: a description over the limit: cut, reported, written.
    let mut long = meeting("Long notes", 5);
    long.body = Body::text(format!("{}END", "0123456789".repeat(3_300)));
    events.push(long);
    // 4: a contact as WhatId: refused before sending.
    let mut what_person = meeting("WhatId is a person", 6);
    what_person.link.what = Some(contact.clone());
    events.push(what_person);
    // 5: an unknown account as WhatId: refused by the service.
    let mut what_unknown = meeting("WhatId does not exist", 6);
    what_unknown.link.what = Some(unknown_account);
    events.push(what_unknown);
    // 6: a number field given text: refused by the service.
    let mut wrong_type = meeting("Score of the wrong type", 7);
    wrong_type
        .snap_fields
        .insert("Score__c".into(), json!("high"));
    events.push(wrong_type);
    // 7: a snap field not allowed: refused before sending.
    let mut not_allowed = meeting("Not an allowed snap field", 7);
    not_allowed.snap_fields.insert("Secret__c".into(), json!(1));
    events.push(not_allowed);
    // 8: a subject over 255 characters.
    events.push(meeting(&"S".repeat(256), 8));
    // 9: related, with snap fields.
    let mut related = meeting("Related", 9);
    related.link = RecordLink {
        what: Some(account.clone()),
        who: Some(contact.clone()),
    };
    related.snap_fields = SnapFields::from([
        ("Type".to_owned(), json!("Meeting")),
        ("Score__c".to_owned(), json!(4.5)),
        ("Outcome__c".to_owned(), json!("Won")),
    ]);
    events.push(related);
    // 10: an Outlook HTML body becomes plain text.
    let mut html = meeting("From Outlook", 10);
    html.body = Body::html(
        "<html><head><style>p{margin:0}</style></head><body><p>Agenda:&nbsp;<b>pricing</b></p><ul><li>one</li></ul></body></html>",
        false,
    );
    events.push(html);
    // 11: private and free; cancelled is not stored.
    let mut private = meeting("Private", 11);
    private.sensitivity = Sensitivity::Private;
    private.show_as = ShowAs::Free;
    private.cancelled = true;
    events.push(private);

    let writes: Vec<Write> = events
        .iter()
        .enumerate()
        .map(|(i, e)| create(e.clone(), &format!("mixed-{i}")))
        .collect();
    let results = p.apply(writes).await;
    assert_eq!(results.len(), events.len());

    for i in [0, 1, 2] {
        assert_eq!(
            stored(&results[i]).time.canonical(),
            events[i].time.canonical(),
            "event {i}"
        );
    }
    let cut = stored(&results[3]);
    assert_eq!(
        cut.body.plain_text().chars().count(),
        SALESFORCE_DESCRIPTION_MAX
    );
    assert!(
        events[3]
            .body
            .plain_text()
            .starts_with(cut.body.plain_text())
    );
    let log = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("description was cut") && log.contains("33003"),
        "{log}"
    );
    assert_eq!(invalid_field(&results[4]), "WhatId");
    assert_eq!(invalid_field(&results[5]), "WhatId");
    assert_eq!(invalid_field(&results[6]), "Score__c");
    assert_eq!(invalid_field(&results[7]), "Secret__c");
    assert_eq!(invalid_field(&results[8]), "Subject");
    let rel = stored(&results[9]);
    assert_eq!(rel.link, events[9].link);
    assert_eq!(rel.snap_fields, events[9].snap_fields);
    assert_eq!(
        stored(&results[10]).body.plain_text(),
        "Agenda: pricing\none"
    );
    let private = stored(&results[11]);
    assert!(private.is_private() && private.show_as == ShowAs::Free && !private.cancelled);
    assert_eq!(
        org.live(),
        7,
        "the valid creates landed, the invalid ones did not"
    );

    // What a later read returns is what the write returned: same fingerprint.
    for r in results.iter().filter(|r| r.is_ok()) {
        let written = stored(r);
        let read = p.get(&written.id).await.unwrap().unwrap();
        assert_eq!(without_stamps(read), without_stamps(written));
    }
    // The all-day events as Salesforce holds them: inclusive end, 1440 × days.
    let conference = org.sf.event(stored(&results[1]).id.as_str()).unwrap();
    assert_eq!(conference["DurationInMinutes"], json!(4320));
    assert_eq!(conference["ActivityDate"], json!("2027-03-27"));
    assert_eq!(
        conference["EndDateTime"],
        json!("2027-03-29T00:00:00.000+0000")
    );
    drop(_guard);
    let _ = std::io::stdout().flush();
}

#[tokio::test]
async fn updates_fail_item_by_item_too() {
    let org = org().await;
    let p = org.provider(false).await;
    let created = create_all(
        &p,
        vec![
            meeting("a", 3),
            meeting("b", 4),
            meeting("c", 5),
            meeting("d", 6),
        ],
    )
    .await;
    let account = org.sf.add_related_record("001");
    let update = |i: usize, changes: Vec<FieldValue>| Write::Update {
        id: created[i].id.clone(),
        expected_version: created[i].version.clone(),
        changes,
    };
    let results = p
        .apply(vec![
            update(
                0,
                vec![FieldValue::SnapFields(SnapFields::from([(
                    "Score__c".to_owned(),
                    json!("x"),
                )]))],
            ),
            update(
                1,
                vec![
                    FieldValue::Time(EventTime::all_day(d("2027-10-30"), d("2027-11-02"))),
                    FieldValue::Subject("b, three days".into()),
                ],
            ),
            update(
                2,
                vec![FieldValue::Related(RecordLink {
                    what: None,
                    who: Some(account.parse().unwrap()),
                })],
            ),
            update(3, vec![FieldValue::Cancelled(true)]),
        ])
        .await;
    assert_eq!(invalid_field(&results[0]), "Score__c");
    let b = stored(&results[1]);
    assert_eq!(b.time, EventTime::all_day(d("2027-10-30"), d("2027-11-02")));
    assert_eq!(invalid_field(&results[2]), "WhoId");
    // Nothing Salesforce stores changed: the event comes back as it was.
    let before = p.get(&created[3].id).await.unwrap().unwrap();
    assert_eq!(stored(&results[3]).version, before.version);
    assert_eq!(without_stamps(stored(&results[3])), without_stamps(before));
    // Back from all-day to timed.
    let start = Utc.with_ymd_and_hms(2027, 11, 1, 15, 0, 0).unwrap();
    let timed = EventTime::timed(start, start + Duration::minutes(45));
    let r = p
        .apply(vec![Write::Update {
            id: b.id.clone(),
            expected_version: b.version.clone(),
            changes: vec![FieldValue::Time(timed.clone())],
        }])
        .await;
    assert_eq!(stored(&r[0]).time, timed);
}

#[tokio::test]
async fn listings_return_what_was_written_and_skip_series_masters() {
    let org = org().await;
    let p = org.provider(false).await;
    let today = Utc::now().date_naive();
    let written = create_all(
        &p,
        vec![
            Event::new(
                "",
                "All day today",
                EventTime::all_day(today, today + Duration::days(1)),
            ),
            Event::new(
                "",
                "Two days",
                EventTime::all_day(today + Duration::days(2), today + Duration::days(4)),
            ),
            meeting("Timed", 1),
        ],
    )
    .await;
    let (master, occurrences) = org.sf.seed_recurring_series(
        json!({"Subject": "Series", "StartDateTime": at(3, 600).to_rfc3339(), "EndDateTime": at(3, 630).to_rfc3339(), "OwnerId": org.owner}),
        (0..3)
            .map(|w| json!({"Subject": "Series", "StartDateTime": at(3 + 7 * w, 600).to_rfc3339(), "EndDateTime": at(3 + 7 * w, 630).to_rfc3339(), "OwnerId": org.owner}))
            .collect(),
    );
    let window = ListWindow {
        start: Utc::now() - Duration::days(1),
        end: Utc::now() + Duration::days(30),
    };
    let listing = p.list(&window).await.unwrap();
    assert!(listing.broken.is_empty());
    for w in &written {
        let listed = listing.events.iter().find(|e| e.id == w.id).unwrap();
        assert_eq!(without_stamps(listed.clone()), without_stamps(w.clone()));
    }
    assert!(!listing.events.iter().any(|e| e.id.as_str() == master));
    let series: Vec<&Event> = listing
        .events
        .iter()
        .filter(|e| occurrences.iter().any(|o| o == e.id.as_str()))
        .collect();
    assert_eq!(series.len(), 3);
    assert!(
        series
            .iter()
            .all(|e| e.recurrence.as_ref().unwrap().series_id == master)
    );
    assert!(p.get(&ItemId::new(master)).await.unwrap().is_none());
}

/// A create is answered without the server's stamps (they come with the next read), so
/// comparisons with what a read returns leave them out.
fn without_stamps(mut e: Event) -> Event {
    e.version = None;
    e.last_modified = None;
    e
}
