//! Graph payloads parsed by the connector's mapping, with snapshots of what calbridge makes
//! of them: Microsoft's documented examples (`../shared/fixtures/graph/`, whenever that folder
//! exists beside the checkout) and calbridge's own payloads in the same shapes
//! (`tests/fixtures/graph/`), plus payloads that must fail with a typed error
//! (`tests/fixtures/graph-broken/`).
//!
//! Every event in an event payload must map; one that does not fails the test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::{Value, json};

use calbridge_model::ItemId;
use calbridge_outlook::mapping::{GraphItem, event_from_json, map_item, map_page};
use calbridge_outlook::parse_error;

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

/// The HTTP status in a file name such as `error_429_throttled.json`.
fn status_in_name(name: &str) -> StatusCode {
    name.split('_')
        .find_map(|part| part.parse::<u16>().ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_REQUEST)
}

fn looks_like_event(value: &Value) -> bool {
    value.get("@removed").is_some()
        || value.get("start").is_some()
        || value.get("@odata.type").and_then(Value::as_str) == Some("#microsoft.graph.event")
}

/// What calbridge makes of one payload, as a JSON value to snapshot. Panics when an event
/// does not map.
fn digest(name: &str, payload: &Value) -> Value {
    if let Some(error) = payload.get("error") {
        let headers = HeaderMap::new();
        let body = serde_json::to_vec(&json!({ "error": error })).unwrap();
        let parsed = parse_error(status_in_name(name), &headers, &body);
        let kind = format!(
            "{:?}",
            parsed.clone().into_provider(Some(&ItemId::new("x"))).kind()
        );
        return json!({ "error": parsed.to_string(), "codes": parsed.codes, "kind": kind,
                       "cursor_expired": parsed.is_cursor_expired() });
    }
    if let Some(responses) = payload.get("responses").and_then(Value::as_array) {
        let mut items: Vec<Value> = responses.iter().map(|r| batch_item(name, r)).collect();
        items.sort_by_key(|v| v["id"].as_str().unwrap_or_default().to_owned());
        return Value::Array(items);
    }
    if let Some(items) = payload.get("value").and_then(Value::as_array) {
        if !items.iter().any(looks_like_event) {
            // A collection of something else (calendars): snapshot it as read.
            return json!({ "other_collection": items.iter().map(|i| json!({
                "id": i["id"], "name": i["name"], "owner": i["owner"]["address"], "canEdit": i["canEdit"],
            })).collect::<Vec<_>>() });
        }
        let page = map_page(&serde_json::to_vec(payload).unwrap()).unwrap();
        assert!(
            page.broken.is_empty(),
            "{name}: events failed to map: {:?}",
            page.broken
        );
        return json!({
            "events": page.events,
            "removed": page.removed,
            "series_masters": page.series_masters,
            "next_link": page.next_link,
            "delta_link": page.delta_link,
        });
    }
    assert!(
        looks_like_event(payload),
        "{name}: not a payload this test knows"
    );
    let event = event_from_json(payload).unwrap_or_else(|e| panic!("{name}: {e}"));
    let listed_as = match map_item(payload).unwrap() {
        GraphItem::Event(_) => "event",
        GraphItem::SeriesMaster { .. } => "series master (skipped in listings)",
        _ => "other",
    };
    json!({ "event": event, "listed_as": listed_as })
}

fn batch_item(name: &str, item: &Value) -> Value {
    let status = item["status"].as_u64().unwrap_or_default();
    let body = item.get("body").cloned().unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        if looks_like_event(&body) {
            let event = event_from_json(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
            return json!({ "id": item["id"], "status": status, "event": event });
        }
        return json!({ "id": item["id"], "status": status, "body": "not an event" });
    }
    let mut headers = HeaderMap::new();
    for (k, v) in item["headers"].as_object().into_iter().flatten() {
        if let (Ok(k), Some(Ok(v))) = (
            HeaderName::from_bytes(k.as_bytes()),
            v.as_str().map(HeaderValue::from_str),
        ) {
            headers.insert(k, v);
        }
    }
    let status = StatusCode::from_u16(u16::try_from(status).unwrap()).unwrap();
    let error = parse_error(status, &headers, &serde_json::to_vec(&body).unwrap());
    let provider = error.clone().into_provider(Some(&ItemId::new("AAMk-item")));
    json!({
        "id": item["id"],
        "status": status.as_u16(),
        "kind": format!("{:?}", provider.kind()),
        "retry_after_s": provider.retry_after().map(|d| d.as_secs()),
        "duplicate_transaction": error.is_duplicate_transaction(),
    })
}

fn snapshot_dir(prefix: &str, dir: &Path) -> usize {
    let files = json_files(dir);
    for path in &files {
        let name = stem(path);
        let payload: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let digest = digest(&name, &payload);
        insta::assert_json_snapshot!(format!("{prefix}__{name}"), digest);
    }
    files.len()
}

#[test]
fn vendor_documented_payloads_map() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/graph");
    if !dir.is_dir() {
        eprintln!("{} not found: vendor fixtures skipped", dir.display());
        return;
    }
    assert!(
        snapshot_dir("vendor", &dir) > 0,
        "no fixtures in {}",
        dir.display()
    );
}

#[test]
fn own_payloads_map() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/graph");
    assert!(snapshot_dir("own", &dir) >= 5);
}

#[test]
fn broken_payloads_fail_with_the_field_named_in_their_file_name() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/graph-broken");
    let files = json_files(&dir);
    assert!(files.len() >= 5);
    for path in files {
        let name = stem(&path);
        let (_, field) = name.split_once("__").expect("name__field.json");
        let payload: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let error = event_from_json(&payload).expect_err(&name);
        assert_eq!(error.field(), field, "{name}: {error}");
        // In a listing, the item is reported broken with that error, not dropped.
        let page = map_page(&serde_json::to_vec(&json!({ "value": [payload] })).unwrap()).unwrap();
        assert_eq!(page.events.len(), 0, "{name}");
        assert_eq!(page.broken.len(), 1, "{name}");
        assert_eq!(page.broken[0].error.as_ref(), Some(&error), "{name}");
    }
}
