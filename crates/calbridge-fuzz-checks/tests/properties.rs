//! The fuzz targets' checks on stable, under `cargo test`: every file of
//! `fuzz/corpus_seed/` is replayed through its target's check, and property tests feed the
//! checks generated events (written as Graph and Salesforce JSON) and mutations of them.
//!
//! Cases are kept modest (`PROPTEST_CASES` raises them); the fuzzers in `fuzz/` go deeper.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use calbridge_fuzz_checks as checks;
use calbridge_model::{
    Body, Event, EventTime, ItemId, RecordLink, SalesforceId, Sensitivity, ShowAs, SnapFields,
};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus_seed")
}

#[test]
fn every_seed_of_every_target_passes_its_check() {
    let mut replayed = 0;
    for target in checks::TARGETS {
        let dir = corpus().join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("no seeds for {target} in {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no seeds for {target}");
        for file in files {
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| checks::run(target, &data));
            assert_eq!(
                outcome.ok(),
                Some(true),
                "{target}: {} fails its check",
                file.display()
            );
            replayed += 1;
        }
    }
    // Every seed directory is a target: a seed left without its check would never run.
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            checks::TARGETS.contains(&name.as_str()),
            "seeds for an unknown target {name}"
        );
    }
    assert!(replayed >= 30, "only {replayed} seeds");
}

/// A Salesforce id with the given key prefix (15 random characters, checksum added).
fn sf_id(prefix: &'static str) -> impl Strategy<Value = SalesforceId> {
    "[0-9A-Za-z]{12}".prop_map(move |rest| format!("{prefix}{rest}").parse().unwrap())
}

fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 1990 to 2090, at Graph's 100 ns and Salesforce's millisecond precision alike.
    (631_152_000i64..3_786_912_000, 0u32..1000)
        .prop_map(|(s, ms)| DateTime::from_timestamp(s, ms * 1_000_000).unwrap())
}

fn time() -> impl Strategy<Value = EventTime> {
    let zones = prop_oneof![
        Just(None),
        Just(Some(chrono_tz::UTC)),
        Just(Some(chrono_tz::Europe::Berlin)),
        Just(Some(chrono_tz::America::Los_Angeles)),
        Just(Some(chrono_tz::Asia::Kolkata)),
        Just(Some(chrono_tz::Australia::Lord_Howe)),
        Just(Some(chrono_tz::Pacific::Chatham)),
    ];
    prop_oneof![
        (instant(), 0i64..20_000, zones).prop_map(|(start, minutes, zone)| EventTime::Timed {
            start,
            end: start + Duration::minutes(minutes),
            zone,
        }),
        (0i64..36_000, 1i64..15).prop_map(|(day, days)| {
            let start = NaiveDate::from_ymd_opt(1990, 1, 1).unwrap() + Duration::days(day);
            EventTime::all_day(start, start + Duration::days(days))
        }),
    ]
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        any::<String>().prop_map(Body::text),
        "[ -~\\n]{0,80}".prop_map(Body::text),
        ("[a-zA-Z ,.&;<>/\"'=]{0,120}", any::<bool>()).prop_map(|(h, att)| Body::html(h, att)),
        ("[a-z ]{0,40}", "[a-z ]{0,40}")
            .prop_map(|(a, b)| Body::html(format!("<p><b>{a}</b><br>{b}</p>"), false)),
    ]
}

fn snap_fields() -> impl Strategy<Value = SnapFields> {
    let value = prop_oneof![
        Just(json!("Meeting")),
        "[ -~]{0,20}".prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ];
    proptest::collection::btree_map(
        prop_oneof![
            Just("Type".to_owned()),
            Just("Meeting_Outcome__c".to_owned())
        ],
        value,
        0..3,
    )
}

fn event() -> impl Strategy<Value = Event> {
    let who = prop_oneof![
        Just(None),
        sf_id("003").prop_map(Some),
        sf_id("00Q").prop_map(Some)
    ];
    let what = prop_oneof![
        Just(None),
        sf_id("001").prop_map(Some),
        sf_id("006").prop_map(Some)
    ];
    (
        (sf_id("00U"), any::<String>(), "[ -~]{0,60}", time(), body()),
        (
            prop_oneof![
                Just(Sensitivity::Normal),
                Just(Sensitivity::Personal),
                Just(Sensitivity::Private),
                Just(Sensitivity::Confidential),
            ],
            prop_oneof![
                Just(ShowAs::Free),
                Just(ShowAs::Tentative),
                Just(ShowAs::Busy),
                Just(ShowAs::OutOfOffice),
                Just(ShowAs::WorkingElsewhere),
            ],
            what,
            who,
            snap_fields(),
            proptest::option::of(sf_id("00U")),
        ),
    )
        .prop_map(
            |((id, subject, location, time, body), (sensitivity, show_as, what, who, snap, sf))| {
                let mut e = Event::new(ItemId::new(id.as_str()), subject, time);
                e.location = location;
                e.body = body;
                e.sensitivity = sensitivity;
                e.show_as = show_as;
                e.link = RecordLink { what, who };
                e.snap_fields = snap;
                e.counterpart = sf.map(|id| ItemId::new(id.as_str()));
                e
            },
        )
}

/// A JSON value to plant somewhere: the shapes the mappings meet, and some they should not.
fn junk() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::from),
        "(19|20|99|10000)[0-9]{2}-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9](\\.[0-9]{1,9})?(Z|\\+0000|-05:00)?"
            .prop_map(Value::from),
        Just(json!({"dateTime": "2026-03-08T02:30:00", "timeZone": "Pacific Standard Time"})),
        Just(json!({"dateTime": "2026-03-08T00:00:00", "timeZone": "tzone://Microsoft/Custom"})),
        Just(json!([{"id": "String {6b2f4e1c-9a73-4d58-b0e2-5c8d17f3a942} Name calbridge", "value": "{\"what\":\"003000000000001AAA\"}"}])),
        Just(json!({})),
        Just(json!([])),
    ]
}

/// `value` with one member replaced by junk, or removed.
fn mutate(mut value: Value, pick: usize, junk: Option<Value>) -> Value {
    if let Some(map) = value.as_object_mut()
        && !map.is_empty()
    {
        let key = map.keys().nth(pick % map.len()).cloned().unwrap();
        match junk {
            Some(v) => map.insert(key, v),
            None => map.remove(&key),
        };
    }
    value
}

fn salesforce_record(e: &Event) -> Option<Value> {
    checks::salesforce_json(&checks::snap_mapping(), e).map(|mut r| {
        r["SystemModstamp"] = json!("2026-01-02T03:04:05.678+0000");
        r
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn generated_graph_events_pass_the_checks(e in event()) {
        let json = checks::graph_json(&e);
        checks::graph_event(json.to_string().as_bytes());
        // Read back, a generated event is the event (up to its zone's Windows spelling).
        let read = calbridge_outlook::mapping::event_from_json(&json).unwrap();
        prop_assert_eq!(read.fingerprint(), e.fingerprint());
        prop_assert_eq!(&read.link, &e.link);
        prop_assert_eq!(&read.snap_fields, &e.snap_fields);
        prop_assert_eq!(&read.counterpart, &e.counterpart);
    }

    #[test]
    fn mutated_graph_events_pass_the_checks(
        e in event(), pick in any::<usize>(), junk in proptest::option::of(junk()),
    ) {
        checks::graph_event(mutate(checks::graph_json(&e), pick, junk).to_string().as_bytes());
    }

    #[test]
    fn graph_pages_pass_the_checks(
        events in proptest::collection::vec(event(), 0..5),
        pick in any::<usize>(),
        junk in proptest::option::of(junk()),
        next in proptest::option::of("https://graph\\.microsoft\\.com/v1\\.0/me/events\\?\\$skip=[0-9]{1,3}"),
    ) {
        let mut items: Vec<Value> = events.iter().map(checks::graph_json).collect();
        if let Some(first) = items.first_mut() {
            *first = mutate(first.take(), pick, junk);
        }
        items.push(json!({"id": "gone", "@removed": {"reason": "deleted"}}));
        items.push(json!({"id": "series", "type": "seriesMaster"}));
        let mut page = json!({"value": items});
        if let Some(next) = next {
            page["@odata.nextLink"] = json!(next);
        }
        checks::graph_page(page.to_string().as_bytes());
    }

    #[test]
    fn generated_salesforce_records_pass_the_checks(e in event()) {
        if let Some(record) = salesforce_record(&e) {
            checks::salesforce_record(record.to_string().as_bytes());
        }
    }

    #[test]
    fn mutated_salesforce_records_pass_the_checks(
        e in event(), pick in any::<usize>(), junk in proptest::option::of(junk()),
    ) {
        if let Some(record) = salesforce_record(&e) {
            checks::salesforce_record(mutate(record, pick, junk).to_string().as_bytes());
        }
    }

    #[test]
    fn soql_responses_pass_the_checks(
        events in proptest::collection::vec(event(), 0..5),
        pick in any::<usize>(),
        junk in proptest::option::of(junk()),
        done in any::<bool>(),
    ) {
        let mut records: Vec<Value> = events.iter().filter_map(salesforce_record).collect();
        if let Some(first) = records.first_mut() {
            *first = mutate(first.take(), pick, junk);
        }
        records.push(json!({"Id": "00U000000000001EAA", "IsDeleted": true}));
        let mut page = json!({"totalSize": records.len(), "done": done, "records": records});
        if !done {
            page["nextRecordsUrl"] = json!("/services/data/v62.0/query/01gRO0000016PIAYA2-2000");
        }
        checks::soql_response(page.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_bytes_pass_every_check(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        for target in checks::TARGETS {
            checks::run(target, &data);
        }
    }
}
