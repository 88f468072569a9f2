//! Checks of Microsoft Graph input: one event resource, and a collection page.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use calbridge_model::{Event, EventTime};
use calbridge_outlook::mapping::{GraphItem, event_from_json, event_to_json, map_item, map_page};

/// The transaction id the round trips write (any value does).
const TXN: &str = "calbridge-fuzz";
/// What a create body does not carry and Graph keeps or sets itself: copied from the item
/// read to the answer a create would get, so that the round trip compares like with like.
const KEPT_BY_GRAPH: [&str; 9] = [
    "id",
    "@odata.etag",
    "changeKey",
    "lastModifiedDateTime",
    "isCancelled",
    "hasAttachments",
    "type",
    "seriesMasterId",
    "originalStart",
];

/// One Graph event resource: `map_item` and `event_from_json` agree, and a mapped event
/// round-trips (see [`graph_round_trip`]).
///
/// # Panics
/// When an invariant breaks.
pub fn graph_event(data: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _item = check_item(&value);
}

/// A Graph collection page: `map_page` accounts for every item once, in order, exactly as
/// `map_item` maps it alone, keeps the paging and delta links, and every event round-trips.
///
/// # Panics
/// When an invariant breaks.
pub fn graph_page(data: &[u8]) {
    let Ok(page) = map_page(data) else {
        return;
    };
    // Only the members the page has: others may even hold text that is not UTF-8.
    let members: PageMembers = match serde_json::from_slice(data) {
        Ok(members) => members,
        Err(e) => panic!("map_page took a body that is not a page: {e}"),
    };
    let items = members.value;
    let (mut events, mut broken, mut removed, mut masters) = (0, 0, 0, 0);
    for item in &items {
        match check_item(item) {
            Ok(GraphItem::Event(event)) => {
                assert_eq!(page.events.get(events), Some(&*event), "event {events}");
                events += 1;
            }
            Ok(GraphItem::Removed { id }) => {
                assert_eq!(page.removed.get(removed), Some(&id), "removed {removed}");
                removed += 1;
            }
            Ok(GraphItem::SeriesMaster { id }) => {
                assert_eq!(
                    page.series_masters.get(masters),
                    Some(&id),
                    "master {masters}"
                );
                masters += 1;
            }
            Ok(other) => panic!("an item of a kind this check does not know: {other:?}"),
            Err(item) => {
                assert_eq!(page.broken.get(broken), Some(&item), "broken {broken}");
                broken += 1;
            }
        }
    }
    assert_eq!(
        (events, broken, removed, masters),
        (
            page.events.len(),
            page.broken.len(),
            page.removed.len(),
            page.series_masters.len()
        ),
        "every item is accounted for once"
    );
    assert_eq!(page.next_link, members.next_link);
    assert_eq!(page.delta_link, members.delta_link);
}

/// The members of a collection page, read independently of the connector.
#[derive(Deserialize)]
struct PageMembers {
    #[serde(default)]
    value: Vec<Value>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink", default)]
    delta_link: Option<String>,
}

/// Maps one item both ways (`map_item`, `event_from_json`) and checks they agree; round-trips
/// an event.
fn check_item(value: &Value) -> Result<GraphItem, calbridge_core::BrokenItem> {
    let item = map_item(value);
    let id = value.get("id").and_then(Value::as_str).unwrap_or_default();
    match &item {
        Ok(GraphItem::Event(event)) => {
            assert_eq!(event.id.as_str(), id);
            match event_from_json(value) {
                Ok(direct) => assert_eq!(&direct, &**event, "map_item and event_from_json"),
                Err(e) => panic!("map_item mapped what event_from_json refuses: {e}"),
            }
            event
                .validate()
                .unwrap_or_else(|e| panic!("a mapped event is invalid: {e}"));
            graph_round_trip(value, event);
        }
        Ok(GraphItem::Removed { id: removed } | GraphItem::SeriesMaster { id: removed }) => {
            assert_eq!(removed.as_str(), id);
        }
        Ok(other) => panic!("an item of a kind this check does not know: {other:?}"),
        Err(broken) => {
            let expected = if id.is_empty() { "<no id>" } else { id };
            assert_eq!(broken.id.as_str(), expected);
            assert!(broken.error.is_some(), "a broken item says why");
        }
    }
    item
}

/// Writes `event` (mapped from `read`) as a create body, reads back what Graph would answer
/// and checks:
///
/// - the answer maps;
/// - writing the mapped answer gives the same body (the write is a fixed point);
/// - the mapped answer equals `event`, times compared at Graph's precision (100 ns) and the
///   zone allowed to change only as the write spelled it (a zone without a Windows name, or a
///   wall time that does not exist there, is written in UTC).
///
/// # Panics
/// When a check fails.
pub fn graph_round_trip(read: &Value, event: &Event) {
    let written = event_to_json(event, TXN);
    let mut answer = written.as_object().cloned().unwrap_or_default();
    for key in KEPT_BY_GRAPH {
        match read.get(key) {
            Some(v) => answer.insert(key.to_owned(), v.clone()),
            None => answer.remove(key),
        };
    }
    // Graph reports the zones a create named as the original zones.
    for (from, to) in [
        ("start", "originalStartTimeZone"),
        ("end", "originalEndTimeZone"),
    ] {
        if let Some(zone) = written.get(from).and_then(|t| t.get("timeZone")) {
            answer.insert(to.to_owned(), zone.clone());
        }
    }
    let answer = Value::Object(answer);
    let mut again = match event_from_json(&answer) {
        Ok(again) => again,
        Err(e) => panic!("an event written as Graph JSON does not read back: {e}\n{answer:#}"),
    };
    assert_eq!(
        event_to_json(&again, TXN),
        written,
        "writing the read-back event gives another body"
    );
    assert!(
        same_time(&event.time, &again.time, TimeDelta::nanoseconds(100)),
        "times: {:?} became {:?}",
        event.time,
        again.time
    );
    again.time = event.time.clone();
    assert_eq!(
        &again, event,
        "an event changed through Graph JSON\n{answer:#}"
    );
}

/// Whether two times are the same at `precision` (instants truncated to it); zones are not
/// compared.
pub(crate) fn same_time(a: &EventTime, b: &EventTime, precision: TimeDelta) -> bool {
    let step = u32::try_from(precision.num_nanoseconds().unwrap_or(1))
        .unwrap_or(1)
        .max(1);
    let cut = |t: &DateTime<Utc>| (t.timestamp(), t.timestamp_subsec_nanos() / step);
    match (a, b) {
        (
            EventTime::Timed { start, end, .. },
            EventTime::Timed {
                start: s2, end: e2, ..
            },
        ) => cut(start) == cut(s2) && cut(end) == cut(e2),
        (EventTime::AllDay { .. }, EventTime::AllDay { .. }) => a == b,
        _ => false,
    }
}

/// A Graph event resource for `event` as a listing returns it: the create body plus an id.
#[must_use]
pub fn graph_json(event: &Event) -> Value {
    let mut body: Map<String, Value> = event_to_json(event, TXN)
        .as_object()
        .cloned()
        .unwrap_or_default();
    body.insert("id".into(), Value::String(event.id.as_str().to_owned()));
    Value::Object(body)
}
