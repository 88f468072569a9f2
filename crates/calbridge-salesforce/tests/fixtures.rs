//! Documented Salesforce payloads through the connector's parsing and mapping, with insta
//! snapshots of what comes out: the vendor's examples in `../shared/fixtures/salesforce/`
//! (whenever that folder is beside the checkout) and this crate's own in `tests/fixtures/`.
//! Any Event record that fails to map fails the test (except in the `broken` fixture, whose
//! records must all be refused with the field named).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use calbridge_provider::ErrorKind;
use calbridge_salesforce::{
    Mapping, QueryPage, Row, SaveResult, classify, parse_errors, parse_token_response,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn mapping() -> Mapping {
    Mapping::new(["Type".to_owned(), "Score__c".to_owned()], None).unwrap()
}

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Throttled => "throttled",
        ErrorKind::Transient => "transient",
        ErrorKind::Auth => "auth",
        ErrorKind::NotFound => "not_found",
        ErrorKind::Precondition => "precondition",
        ErrorKind::InvalidData => "invalid_data",
        ErrorKind::CursorExpired => "cursor_expired",
        _ => "permanent",
    }
}

fn error_json(e: &calbridge_provider::ProviderError) -> Value {
    match e {
        calbridge_provider::ProviderError::InvalidData { field, .. } => {
            json!({"kind": kind_name(e.kind()), "field": field})
        }
        _ => json!({"kind": kind_name(e.kind())}),
    }
}

/// What one fixture file reads as, in a form worth snapshotting.
fn read_fixture(path: &Path) -> Value {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let body = std::fs::read(path).unwrap();
    if name.starts_with("query") {
        let page: QueryPage =
            serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        let broken_expected = name.contains("broken");
        let records: Vec<Value> = page
            .records
            .iter()
            .map(|record| {
                let object = record
                    .get("attributes")
                    .and_then(|a| a.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if object != "Event" {
                    // Paging examples may list other objects: only the page shape matters.
                    return json!({"skipped": object});
                }
                match mapping().read(record) {
                    Ok(_) if broken_expected => panic!("{name}: {record:?} mapped but must not"),
                    Ok(Row::Event(event)) => json!({"event": event}),
                    Ok(Row::SeriesMaster(id)) => json!({"series_master": id}),
                    Ok(Row::Deleted(id)) => json!({"deleted": id}),
                    Err(b) if broken_expected => {
                        json!({"broken": {"id": b.id, "field": b.error.field(), "error": b.error.to_string()}})
                    }
                    Err(b) => panic!("{name}: record {} does not map: {}", b.id, b.error),
                }
            })
            .collect();
        // Salesforce pages say `done` and link the next page only when not done; the
        // connector follows the link whenever `done` is false.
        return json!({
            "done": page.done,
            "follows_next_page": !page.done && page.next_records_url.is_some(),
            "records": records,
        });
    }
    if name.starts_with("composite_sobjects") {
        let results: Vec<SaveResult> =
            serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        let id = calbridge_model::ItemId::new("00U5Y00000AbCd1UAF");
        return Value::Array(
            results
                .iter()
                .map(|r| {
                    if r.success {
                        json!({"ok": r.id, "created": r.created})
                    } else {
                        let e = classify(None, &r.errors, "", r.id.as_ref().map(|_| &id), None);
                        error_json(&e)
                    }
                })
                .collect(),
        );
    }
    if name.starts_with("error_") {
        let status: u16 = name
            .trim_end_matches(".json")
            .rsplit('_')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("{name}: no status in the name"));
        let errors = parse_errors(&body);
        assert!(!errors.is_empty(), "{name}: not an error array");
        let id = calbridge_model::ItemId::new("00U5Y00000AbCd1UAF");
        let e = classify(
            StatusCode::from_u16(status).ok(),
            &errors,
            "",
            Some(&id),
            None,
        );
        return error_json(&e);
    }
    if name.starts_with("oauth_token_response") {
        let tokens = parse_token_response(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !format!("{tokens:?}").contains("!AR"),
            "{name}: a token shows in Debug"
        );
        return json!({"instance_url": tokens.instance_url, "has_refresh_token": tokens.refresh_token.is_some()});
    }
    // getUpdated/getDeleted examples: the connector reads changes through queryAll instead,
    // so only their shape is checked.
    let value: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{name}: {e}"));
    json!({"unused_resource": value.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>())})
}

fn fixtures(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn snapshot_all(prefix: &str, dir: &Path) -> usize {
    let files = fixtures(dir);
    for path in &files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let value = read_fixture(path);
        insta::assert_json_snapshot!(format!("{prefix}__{stem}"), value);
    }
    files.len()
}

#[test]
fn shared_vendor_fixtures_map() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/salesforce");
    if !dir.is_dir() {
        eprintln!("{} is not there: skipped", dir.display());
        return;
    }
    assert!(
        snapshot_all("shared", &dir) > 0,
        "no fixtures in {}",
        dir.display()
    );
}

#[test]
fn own_fixtures_map() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    assert!(snapshot_all("own", &dir) >= 8);
}

#[test]
fn the_vendor_event_maps_exactly() {
    // The shape of the psoxy fixture, independent of ../shared: the one Event it holds.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let value = read_fixture(&dir.join("query_events_mixed_response.json"));
    let first = &value["records"][0]["event"];
    assert_eq!(first["time"]["start"], "2026-03-02T09:00:00Z");
    assert_eq!(first["time"]["end"], "2026-03-02T10:30:00Z");
    // Salesforce keeps an inclusive end; the model's is exclusive.
    let one_day = &value["records"][1]["event"]["time"];
    assert_eq!(
        (one_day["start"].as_str(), one_day["end"].as_str()),
        (Some("2026-03-03"), Some("2026-03-04"))
    );
    let three_days = &value["records"][2]["event"]["time"];
    assert_eq!(
        (three_days["start"].as_str(), three_days["end"].as_str()),
        (Some("2026-03-28"), Some("2026-03-31"))
    );
    assert!(value["records"][5].get("series_master").is_some());
}
