//! Unit tests of the mapping's edge cases.

use super::*;
use crate::property::EXTENDED_PROPERTY_ID;
use calbridge_model::FieldValue;
use calbridge_model::{RecordLink, SnapFields};
use chrono::Utc;
use serde_json::json;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A Graph event as calendarView returns it with `Prefer: outlook.timezone="UTC"`.
fn graph(extra: Value) -> Value {
    let mut base = json!({
        "@odata.etag": "W/\"ck1\"",
        "id": "AAMk/+=",
        "subject": "Pricing call",
        "body": {"contentType": "html", "content": "<html><body><p>Agenda</p></body></html>"},
        "start": {"dateTime": "2026-03-02T17:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-02T18:30:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "Pacific Standard Time",
        "originalEndTimeZone": "Pacific Standard Time",
        "isAllDay": false,
        "isCancelled": false,
        "sensitivity": "normal",
        "showAs": "busy",
        "type": "singleInstance",
        "lastModifiedDateTime": "2026-02-01T10:00:00.1234567Z",
        "hasAttachments": false,
        "location": {"displayName": "Room 4"},
        "attendees": [{"emailAddress": {"address": "a@example.com"}}],
    });
    if let (Value::Object(base), Value::Object(extra)) = (&mut base, extra) {
        base.extend(extra);
    }
    base
}

fn mapped(value: Value) -> Result<Event, ModelError> {
    event_from_json(&value)
}

#[test]
fn timed_event_reads_as_utc_instants_in_its_zone() {
    let event = mapped(graph(json!({}))).unwrap();
    assert_eq!(
        event.time,
        EventTime::Timed {
            start: utc("2026-03-02T17:00:00Z"),
            end: utc("2026-03-02T18:30:00Z"),
            zone: Some(chrono_tz::America::Los_Angeles),
        }
    );
    assert_eq!(event.id.as_str(), "AAMk/+=");
    assert_eq!(event.version.unwrap().as_str(), "W/\"ck1\"");
    assert_eq!(event.location, "Room 4");
    assert_eq!(event.body.plain_text(), "Agenda");
    assert!(!event.body.is_rich());
    assert_eq!(
        event.last_modified.unwrap().timestamp_nanos_opt().unwrap() % 1_000_000_000,
        123_456_700
    );
}

#[test]
fn wall_times_in_a_windows_zone_are_converted() {
    let event = mapped(graph(json!({
        "start": {"dateTime": "2019-03-15T12:00:00.0000000", "timeZone": "Pacific Standard Time"},
        "end": {"dateTime": "2019-03-15T14:00:00.0000000", "timeZone": "Pacific Standard Time"},
    })))
    .unwrap();
    let EventTime::Timed { start, end, .. } = event.time else {
        panic!("timed");
    };
    assert_eq!(start, utc("2019-03-15T19:00:00Z"));
    assert_eq!(end, utc("2019-03-15T21:00:00Z"));
}

#[test]
fn all_day_is_midnight_to_midnight_dates() {
    let event = mapped(graph(json!({
        "isAllDay": true,
        "start": {"dateTime": "2026-03-05T00:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-08T00:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "tzone://Microsoft/Custom",
    })))
    .unwrap();
    assert_eq!(
        event.time,
        EventTime::all_day(date("2026-03-05"), date("2026-03-08"))
    );
}

#[test]
fn all_day_validation() {
    let off_midnight = mapped(graph(json!({
        "isAllDay": true,
        "start": {"dateTime": "2026-03-05T00:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-06T08:00:00.0000000", "timeZone": "UTC"},
    })))
    .unwrap_err();
    assert!(
        matches!(
            off_midnight,
            ModelError::AllDayNotWholeDays { field: "end", .. }
        ),
        "{off_midnight}"
    );
    let empty = mapped(graph(json!({
        "isAllDay": true,
        "start": {"dateTime": "2026-03-05T00:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-03-05T00:00:00.0000000", "timeZone": "UTC"},
    })))
    .unwrap_err();
    assert!(
        matches!(empty, ModelError::EndBeforeStart { .. }),
        "{empty}"
    );
}

#[test]
fn unknown_and_custom_zones_are_typed_errors() {
    for (extra, field) in [
        (
            json!({"originalStartTimeZone": "tzone://Microsoft/Custom"}),
            "originalStartTimeZone",
        ),
        (
            json!({"originalStartTimeZone": "Customized Time Zone"}),
            "originalStartTimeZone",
        ),
        (
            json!({"originalEndTimeZone": "Atlantis Standard Time"}),
            "originalEndTimeZone",
        ),
        (
            json!({"start": {"dateTime": "2026-03-02T17:00:00.0000000", "timeZone": "Mars/Olympus"}}),
            "start.timeZone",
        ),
    ] {
        let err = mapped(graph(extra)).unwrap_err();
        assert!(
            matches!(err, ModelError::UnknownTimeZone { field: f, .. } if f == field),
            "{err}"
        );
    }
}

#[test]
fn bad_dates_are_typed_errors() {
    for (extra, field) in [
        (
            json!({"start": {"dateTime": "2026-02-30T10:00:00", "timeZone": "UTC"}}),
            "start.dateTime",
        ),
        (
            json!({"end": {"dateTime": "tomorrow", "timeZone": "UTC"}}),
            "end.dateTime",
        ),
        (
            json!({"lastModifiedDateTime": "yesterday"}),
            "lastModifiedDateTime",
        ),
        (json!({"end": null}), "end"),
    ] {
        let err = mapped(graph(extra)).unwrap_err();
        assert_eq!(err.field(), field, "{err}");
    }
    let reversed = mapped(graph(json!({
        "end": {"dateTime": "2026-03-02T16:00:00.0000000", "timeZone": "UTC"}
    })))
    .unwrap_err();
    assert!(matches!(reversed, ModelError::EndBeforeStart { .. }));
}

#[test]
fn enumerations() {
    let private = mapped(graph(json!({"sensitivity": "Private", "showAs": "oof"}))).unwrap();
    assert_eq!(private.sensitivity, Sensitivity::Private);
    assert_eq!(private.show_as, ShowAs::OutOfOffice);
    let unknown = mapped(graph(json!({"showAs": "unknown"}))).unwrap();
    assert_eq!(unknown.show_as, ShowAs::Busy);
    let err = mapped(graph(json!({"sensitivity": "secret"}))).unwrap_err();
    assert_eq!(err.field(), "sensitivity");
}

#[test]
fn bodies_and_attachments() {
    let text = mapped(graph(
        json!({"body": {"contentType": "text", "content": "plain"}}),
    ))
    .unwrap();
    assert_eq!(text.body, Body::text("plain"));
    let attached = mapped(graph(json!({"hasAttachments": true}))).unwrap();
    assert!(attached.body.is_rich());
    let styled = mapped(graph(
        json!({"body": {"contentType": "HTML", "content": "<body><b>x</b></body>"}}),
    ))
    .unwrap();
    assert!(styled.body.is_rich());
}

#[test]
fn series_items() {
    let occurrence = mapped(graph(json!({
        "type": "occurrence",
        "seriesMasterId": "MASTER",
        "originalStart": "2026-03-02T17:00:00Z",
    })))
    .unwrap();
    assert_eq!(
        occurrence.recurrence,
        Some(Recurrence {
            series_id: "MASTER".into(),
            original_start: Some(utc("2026-03-02T17:00:00Z")),
        })
    );
    assert!(matches!(
        map_item(&graph(json!({"type": "seriesMaster"}))),
        Ok(GraphItem::SeriesMaster { .. })
    ));
    assert!(matches!(
        map_item(&json!({"id": "gone", "@removed": {"reason": "deleted"}})),
        Ok(GraphItem::Removed { id }) if id.as_str() == "gone"
    ));
    let broken = map_item(&json!({"id": "x", "subject": 5})).unwrap_err();
    assert_eq!(broken.id.as_str(), "x");
    assert!(broken.error.is_some());
}

fn linked_event() -> Event {
    let start = utc("2026-03-02T04:00:00Z");
    let mut event = Event::new(
        "",
        "QBR",
        EventTime::Timed {
            start,
            end: start + chrono::Duration::minutes(45),
            zone: Some(chrono_tz::Asia::Kolkata),
        },
    );
    event.body = Body::text("From Salesforce");
    event.link = RecordLink {
        what: Some("001A0000006Vm9r".parse().unwrap()),
        who: Some("003A0000006Vm9r".parse().unwrap()),
    };
    event.snap_fields = SnapFields::from([("Type".into(), json!("Meeting"))]);
    event.counterpart = Some(ItemId::new("00UA0000001abcdEAA"));
    event.sensitivity = Sensitivity::Personal;
    event.show_as = ShowAs::Tentative;
    event
}

#[test]
fn create_body_has_zone_property_and_no_attendees() {
    let body = event_to_json(&linked_event(), "tx-1");
    assert_eq!(
        body["start"],
        json!({"dateTime": "2026-03-02T09:30:00.0000000", "timeZone": "India Standard Time"})
    );
    assert_eq!(body["end"]["dateTime"], "2026-03-02T10:15:00.0000000");
    assert_eq!(body["isAllDay"], false);
    assert_eq!(
        body["body"],
        json!({"contentType": "text", "content": "From Salesforce"})
    );
    assert_eq!(body["transactionId"], "tx-1");
    assert_eq!(body["sensitivity"], "personal");
    assert_eq!(body["showAs"], "tentative");
    assert!(body.get("attendees").is_none() && body.get("categories").is_none());
    let prop = &body["singleValueExtendedProperties"][0];
    assert_eq!(prop["id"], EXTENDED_PROPERTY_ID);
    assert_eq!(
        prop["value"],
        r#"{"what":"001A0000006Vm9rIAC","who":"003A0000006Vm9rIAC","snap":{"Type":"Meeting"},"sf":"00UA0000001abcdEAA"}"#
    );
}

#[test]
fn all_day_and_zoneless_writes() {
    let mut event = linked_event();
    event.time = EventTime::all_day(date("2026-03-05"), date("2026-03-06"));
    let body = event_to_json(&event, "k");
    assert_eq!(body["isAllDay"], true);
    assert_eq!(
        body["end"],
        json!({"dateTime": "2026-03-06T00:00:00.0000000", "timeZone": "UTC"})
    );
    event.time = EventTime::timed(utc("2026-03-05T10:00:00.25Z"), utc("2026-03-05T11:00:00Z"));
    let body = event_to_json(&event, "k");
    assert_eq!(
        body["start"],
        json!({"dateTime": "2026-03-05T10:00:00.2500000", "timeZone": "UTC"})
    );
}

#[test]
fn extended_property_round_trip() {
    let event = linked_event();
    let sent = event_to_json(&event, "k");
    // What Graph returns when the property is expanded.
    let read = mapped(graph(json!({
        "singleValueExtendedProperties": sent["singleValueExtendedProperties"].clone(),
    })))
    .unwrap();
    assert_eq!(read.link, event.link);
    assert_eq!(read.snap_fields, event.snap_fields);
    assert_eq!(read.counterpart, event.counterpart);
    // Other properties are not ours.
    let other = mapped(graph(json!({
        "singleValueExtendedProperties": [{"id": "String {00000000-0000-0000-0000-000000000001} Name calbridge", "value": "x"}],
    })))
    .unwrap();
    assert!(!other.link.is_related());
    let malformed = mapped(graph(json!({
        "singleValueExtendedProperties": [{"id": EXTENDED_PROPERTY_ID, "value": "{not json"}],
    })))
    .unwrap_err();
    assert_eq!(malformed.field(), "singleValueExtendedProperties");
}

#[test]
fn patches_carry_only_changed_fields() {
    let mut current = mapped(graph(json!({"sensitivity": "confidential"}))).unwrap();
    current.counterpart = Some(ItemId::new("00UA0000001abcdEAA"));
    let patch = patch_for(
        &current,
        &[
            FieldValue::Subject("Renamed".into()),
            FieldValue::Private(true),
            FieldValue::Cancelled(true),
        ],
    );
    let keys: Vec<&str> = patch.body.keys().map(String::as_str).collect();
    assert_eq!(keys, ["subject"], "confidential already counts as private");
    assert!(!patch.expected.cancelled);

    let link = RecordLink {
        what: Some("006A0000006Vm9r".parse().unwrap()),
        who: None,
    };
    let start = utc("2026-04-01T09:00:00Z");
    let patch = patch_for(
        &current,
        &[
            FieldValue::Related(link.clone()),
            FieldValue::Private(false),
            FieldValue::Time(EventTime::timed(start, start + chrono::Duration::hours(1))),
        ],
    );
    assert_eq!(patch.body["sensitivity"], "normal");
    assert_eq!(
        patch.body["start"],
        json!({"dateTime": "2026-04-01T02:00:00.0000000", "timeZone": "Pacific Standard Time"}),
        "a zoneless time keeps the zone the event shows in"
    );
    let value = patch.body["singleValueExtendedProperties"][0]["value"]
        .as_str()
        .unwrap();
    assert_eq!(
        value, r#"{"what":"006A0000006Vm9rIAC","sf":"00UA0000001abcdEAA"}"#,
        "the counterpart survives a relation change"
    );
    assert_eq!(patch.expected.link, link);
    assert!(patch.body.get("attendees").is_none());
}

/// Found by the `graph_event` fuzz target: `16:15:60` read as a leap second, an instant that
/// the write spelled as `16:15:60.9999999`, another instant.
#[test]
fn a_leap_second_is_refused_naming_the_field() {
    for (field, value) in [
        (
            "end",
            json!({"dateTime": "2026-04-14T16:15:60.0000000", "timeZone": "UTC"}),
        ),
        (
            "start",
            json!({"dateTime": "2026-03-02T16:59:60Z", "timeZone": "UTC"}),
        ),
        (
            "end",
            json!({"dateTime": "2026-03-03T00:00:60", "timeZone": "UTC"}),
        ),
    ] {
        let mut extra = json!({});
        extra[field] = value;
        if field == "end" && extra[field]["dateTime"] == "2026-03-03T00:00:60" {
            extra["isAllDay"] = json!(true);
            extra["start"] = json!({"dateTime": "2026-03-02T00:00:00", "timeZone": "UTC"});
        }
        match mapped(graph(extra)) {
            Err(ModelError::Unparsable {
                field: f, reason, ..
            }) => {
                assert_eq!(f, format!("{field}.dateTime"));
                assert!(reason.contains("leap second"), "{reason}");
            }
            other => panic!("{field}: {other:?}"),
        }
    }
}
