//! calbridge's [`Event`] → Graph JSON: the body of a create, and PATCHes of only the
//! changed fields. Attendees and categories are never sent.

use chrono::{NaiveDateTime, NaiveTime, Timelike};
use serde_json::{Map, Value, json};

use calbridge_model::{Body, Event, EventTime, FieldValue, Sensitivity, ShowAs};

use crate::property::PropertyData;
use crate::zone::{unambiguous_local, windows_name};

pub(super) fn sensitivity_to_graph(value: Sensitivity) -> &'static str {
    match value {
        Sensitivity::Normal => "normal",
        Sensitivity::Personal => "personal",
        Sensitivity::Private => "private",
        Sensitivity::Confidential => "confidential",
    }
}

pub(super) fn show_as_to_graph(value: ShowAs) -> &'static str {
    match value {
        ShowAs::Free => "free",
        ShowAs::Tentative => "tentative",
        ShowAs::Busy => "busy",
        ShowAs::OutOfOffice => "oof",
        ShowAs::WorkingElsewhere => "workingElsewhere",
    }
}

/// The JSON body creating `event` with `transaction_id` (Graph's idempotency key).
#[must_use]
pub fn event_to_json(event: &Event, transaction_id: &str) -> Value {
    let mut body = Map::new();
    body.insert("subject".into(), json!(event.subject));
    body.insert("body".into(), body_to_graph(&event.body));
    insert_time(&mut body, &event.time);
    body.insert("location".into(), json!({ "displayName": event.location }));
    body.insert(
        "sensitivity".into(),
        json!(sensitivity_to_graph(event.sensitivity)),
    );
    body.insert("showAs".into(), json!(show_as_to_graph(event.show_as)));
    let property = property_of(event);
    if !property.is_empty() {
        body.insert(
            "singleValueExtendedProperties".into(),
            json!([property.to_json()]),
        );
    }
    body.insert("transactionId".into(), json!(transaction_id));
    Value::Object(body)
}

/// What calbridge's property holds for `event`.
pub(crate) fn property_of(event: &Event) -> PropertyData {
    PropertyData {
        link: event.link.clone(),
        snap: event.snap_fields.clone(),
        counterpart: event.counterpart.clone(),
    }
}

/// Copies what calbridge's property holds onto an event Graph returned: creates and updates
/// answer without extended properties, though they were stored.
pub(crate) fn overlay_property(event: &mut Event, data: &PropertyData) {
    event.link = data.link.clone();
    event.snap_fields = data.snap.clone();
    event.counterpart = data.counterpart.clone();
}

fn body_to_graph(body: &Body) -> Value {
    match body {
        Body::Text { text } => json!({ "contentType": "text", "content": text }),
        Body::Html { html, .. } => json!({ "contentType": "html", "content": html }),
    }
}

fn insert_time(body: &mut Map<String, Value>, time: &EventTime) {
    let (start, end, all_day) = match time {
        EventTime::Timed { start, end, zone } => {
            // Both bounds in one zone, or both in UTC: a zone recorded for the start only
            // would come back as the event's zone with a shifted end.
            let named = zone.and_then(|z| {
                let name = windows_name(z)?;
                let s = unambiguous_local(z, *start)?;
                let e = unambiguous_local(z, *end)?;
                Some((name, s, e))
            });
            match named {
                Some((name, s, e)) => (wall(s, name), wall(e, name), false),
                None => (
                    wall(start.naive_utc(), "UTC"),
                    wall(end.naive_utc(), "UTC"),
                    false,
                ),
            }
        }
        EventTime::AllDay { start, end } => (
            wall(start.and_time(NaiveTime::MIN), "UTC"),
            wall(end.and_time(NaiveTime::MIN), "UTC"),
            true,
        ),
    };
    body.insert("start".into(), start);
    body.insert("end".into(), end);
    body.insert("isAllDay".into(), json!(all_day));
}

/// `{dateTime, timeZone}` with Graph's seven fractional digits.
fn wall(local: NaiveDateTime, zone: &str) -> Value {
    let ticks = local.nanosecond().min(999_999_999) / 100;
    json!({
        "dateTime": format!("{}.{ticks:07}", local.format("%Y-%m-%dT%H:%M:%S")),
        "timeZone": zone,
    })
}

/// A PATCH: the fields to send, and the event as it should read afterwards.
#[derive(Debug, Clone)]
pub(crate) struct Patch {
    /// Only the changed fields (empty: nothing to send).
    pub(crate) body: Map<String, Value>,
    /// `current` with the changes applied.
    pub(crate) expected: Event,
    /// The property after the change (written when the relation or snap fields changed).
    pub(crate) property: PropertyData,
}

/// Builds the PATCH for `changes` on `current` (read just before). `cancelled` is not
/// writable without mailing attendees a cancellation, so a change to it is left out.
pub(crate) fn patch_for(current: &Event, changes: &[FieldValue]) -> Patch {
    let mut expected = current.clone();
    let mut body = Map::new();
    let mut property_changed = false;
    for change in changes {
        match change {
            FieldValue::Subject(subject) => {
                body.insert("subject".into(), json!(subject));
            }
            FieldValue::Time(time) => {
                // Salesforce has no zones: keep the zone the Outlook event shows in.
                let time = match (time, &current.time) {
                    (
                        EventTime::Timed {
                            start,
                            end,
                            zone: None,
                        },
                        EventTime::Timed { zone: Some(z), .. },
                    ) => EventTime::Timed {
                        start: *start,
                        end: *end,
                        zone: Some(*z),
                    },
                    _ => time.clone(),
                };
                insert_time(&mut body, &time);
                expected.time = time;
                continue;
            }
            FieldValue::Location(location) => {
                body.insert("location".into(), json!({ "displayName": location }));
            }
            FieldValue::Body(new) => {
                body.insert("body".into(), body_to_graph(new));
            }
            FieldValue::ShowAs(show_as) => {
                body.insert("showAs".into(), json!(show_as_to_graph(*show_as)));
            }
            FieldValue::Private(_) => {}
            FieldValue::Cancelled(_) => {
                tracing::debug!(id = %current.id, "not writing `cancelled` to Outlook: it would mail attendees");
                continue;
            }
            FieldValue::Related(_) | FieldValue::SnapFields(_) => property_changed = true,
        }
        expected.set(change.clone());
    }
    if expected.sensitivity != current.sensitivity {
        body.insert(
            "sensitivity".into(),
            json!(sensitivity_to_graph(expected.sensitivity)),
        );
    }
    let property = property_of(&expected);
    if property_changed {
        body.insert(
            "singleValueExtendedProperties".into(),
            json!([property.to_json()]),
        );
    }
    Patch {
        body,
        expected,
        property,
    }
}
