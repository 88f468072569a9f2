//! Hostile and broken input (issue 7): a table of bad inputs, each with the typed error it must
//! produce (naming the field) — and, for items inside a page, proof that the other items of the
//! same page still map. Nothing here may panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use calbridge::core::{SettingsError, SyncSettings};
use calbridge::model::{ModelError, SalesforceId, resolve_zone};
use calbridge_outlook::mapping::map_page;
use calbridge_salesforce::{Mapping, Row};
use serde_json::{Value, json};

/// What a bad input must come to.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The item is reported broken, naming this field.
    Broken(&'static str),
    /// The item maps (the input is odd but legitimate), and this check holds.
    Maps(fn(&calbridge::model::Event) -> bool),
}

fn graph_event(id: &str, subject: &str) -> Value {
    json!({
        "id": id,
        "@odata.etag": "W/\"abc\"",
        "subject": subject,
        "start": {"dateTime": "2026-12-01T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2026-12-01T10:00:00.0000000", "timeZone": "UTC"},
        "isAllDay": false,
        "sensitivity": "normal",
        "showAs": "busy",
        "body": {"contentType": "text", "content": "notes"},
        "location": {"displayName": "Room 4"},
        "lastModifiedDateTime": "2026-11-20T08:00:00Z"
    })
}

fn with(mut base: Value, path: &[&str], value: Value) -> Value {
    let mut at = &mut base;
    for key in &path[..path.len() - 1] {
        at = &mut at[*key];
    }
    at[path[path.len() - 1]] = value;
    base
}

fn without(mut base: Value, key: &str) -> Value {
    base.as_object_mut().unwrap().remove(key);
    base
}

fn ext(value: &str) -> Value {
    json!([{ "id": calbridge_outlook::EXTENDED_PROPERTY_ID, "value": value }])
}

fn graph_cases() -> Vec<(&'static str, Value, Expect)> {
    let e = || graph_event("AAMk-bad", "Bad one");
    vec![
        (
            "start missing",
            without(e(), "start"),
            Expect::Broken("start"),
        ),
        (
            "start.dateTime of the wrong type",
            with(e(), &["start", "dateTime"], json!(42)),
            Expect::Broken("event"),
        ),
        (
            "end before start",
            with(
                e(),
                &["end", "dateTime"],
                json!("2026-12-01T08:00:00.0000000"),
            ),
            Expect::Broken("time"),
        ),
        (
            "unknown Windows zone",
            with(e(), &["start", "timeZone"], json!("Mars Standard Time")),
            Expect::Broken("start.timeZone"),
        ),
        (
            "custom zone",
            with(
                e(),
                &["start", "timeZone"],
                json!("tzone://Microsoft/Custom"),
            ),
            Expect::Broken("start.timeZone"),
        ),
        (
            "customized zone",
            with(e(), &["end", "timeZone"], json!("Customized Time Zone")),
            Expect::Broken("end.timeZone"),
        ),
        (
            "year 10000",
            with(
                e(),
                &["end", "dateTime"],
                json!("10000-01-01T00:00:00.0000000"),
            ),
            Expect::Broken("end.dateTime"),
        ),
        (
            "garbage date",
            with(e(), &["start", "dateTime"], json!("yesterday-ish")),
            Expect::Broken("start.dateTime"),
        ),
        (
            "all-day not at midnight",
            with(e(), &["isAllDay"], json!(true)),
            Expect::Broken("start"),
        ),
        (
            "subject of the wrong type",
            with(e(), &["subject"], json!(["a", "b"])),
            Expect::Broken("event"),
        ),
        (
            "unknown sensitivity",
            with(e(), &["sensitivity"], json!("top-secret")),
            Expect::Broken("sensitivity"),
        ),
        // Graph adds values over time: an unknown one reads as busy, the event is kept.
        (
            "unknown showAs",
            with(e(), &["showAs"], json!("busyish")),
            Expect::Maps(|e| e.show_as == calbridge::model::ShowAs::Busy),
        ),
        ("id missing", without(e(), "id"), Expect::Broken("event")),
        (
            "body of the wrong type",
            with(e(), &["body"], json!("plain string")),
            Expect::Broken("event"),
        ),
        (
            "malformed extended property",
            with(e(), &["singleValueExtendedProperties"], ext("{not json")),
            Expect::Broken("singleValueExtendedProperties"),
        ),
        (
            "WhatId that is a contact",
            with(
                e(),
                &["singleValueExtendedProperties"],
                ext(r#"{"what":"003A0000006Vm9r"}"#),
            ),
            Expect::Broken("WhatId"),
        ),
        (
            "WhatId with a bad checksum",
            with(
                e(),
                &["singleValueExtendedProperties"],
                ext(r#"{"what":"001A0000006Vm9rZZZ"}"#),
            ),
            Expect::Broken("WhatId"),
        ),
        (
            "NUL and control characters in the subject",
            with(e(), &["subject"], json!("Bo\u{0}ard\u{7} call")),
            Expect::Maps(|e| e.subject.contains("ard")),
        ),
        (
            "an HTML body with a script",
            with(
                e(),
                &["body"],
                json!({"contentType": "html", "content": "<p>Hi</p><script>steal()</script>"}),
            ),
            Expect::Maps(|e| !e.body.plain_text().contains("steal")),
        ),
        (
            "an id with / and +",
            with(e(), &["id"], json!("AAMk/ab+cd==")),
            Expect::Maps(|e| e.id.as_str() == "AAMk/ab+cd=="),
        ),
        (
            "a 10 MB body",
            with(
                e(),
                &["body"],
                json!({"contentType": "html", "content": format!("<p>{}</p>", "x".repeat(10 << 20))}),
            ),
            Expect::Maps(|e| e.body.plain_text().len() <= 1 << 21),
        ),
    ]
}

fn sf_record(id: &str) -> serde_json::Map<String, Value> {
    json!({
        "attributes": {"type": "Event"},
        "Id": id,
        "Subject": "Call",
        "StartDateTime": "2026-12-01T09:00:00.000+0000",
        "EndDateTime": "2026-12-01T10:00:00.000+0000",
        "IsAllDayEvent": false,
        "DurationInMinutes": 60,
        "IsPrivate": false,
        "ShowAs": "Busy",
        "SystemModstamp": "2026-11-20T08:00:00.000+0000"
    })
    .as_object()
    .unwrap()
    .clone()
}

fn salesforce_cases() -> Vec<(&'static str, Value, Value, Expect)> {
    vec![
        (
            "garbage start",
            json!("StartDateTime"),
            json!("soon"),
            Expect::Broken("StartDateTime"),
        ),
        (
            "end before start",
            json!("EndDateTime"),
            json!("2026-12-01T08:00:00.000+0000"),
            Expect::Broken("EndDateTime"),
        ),
        (
            "year 10000",
            json!("EndDateTime"),
            json!("10000-01-01T00:00:00.000+0000"),
            Expect::Broken("EndDateTime"),
        ),
        (
            "a malformed WhatId",
            json!("WhatId"),
            json!("001-not-an-id"),
            Expect::Broken("WhatId"),
        ),
        // Broken at the boundary, as the Outlook connector does with a bad relation (it used
        // to map to an event only the planner refused).
        (
            "a WhoId that is an opportunity",
            json!("WhoId"),
            json!("006A0000006Vm9r"),
            Expect::Broken("WhoId"),
        ),
        (
            "an unknown ShowAs",
            json!("ShowAs"),
            json!("Maybe"),
            Expect::Broken("ShowAs"),
        ),
        (
            "DurationInMinutes as text",
            json!("DurationInMinutes"),
            json!("sixty"),
            Expect::Broken("DurationInMinutes"),
        ),
        (
            "IsPrivate as text",
            json!("IsPrivate"),
            json!("yes"),
            Expect::Broken("IsPrivate"),
        ),
        (
            "an 18-character id with a bad checksum",
            json!("Id"),
            json!("00U5e00000AbCdEZZZ"),
            Expect::Broken("Id"),
        ),
        (
            "SOQL metacharacters in the subject",
            json!("Subject"),
            json!("x' OR Id != '"),
            Expect::Maps(|e| e.subject == "x' OR Id != '"),
        ),
        (
            "a 15-character id where 18 is usual",
            json!("Id"),
            json!("00U5e00000AbCdE"),
            Expect::Maps(|e| e.id.as_str().len() == 18),
        ),
    ]
}

#[test]
fn bad_graph_items_are_broken_with_their_field_and_the_rest_of_the_page_maps() {
    let mut failures = Vec::new();
    for (name, bad, expect) in graph_cases() {
        let page = json!({"value": [graph_event("AAMk-1", "Good one"), bad, graph_event("AAMk-2", "Good two")]});
        let mapped = match map_page(page.to_string().as_bytes()) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{name}: the whole page failed: {e}"));
                continue;
            }
        };
        let good: Vec<_> = mapped
            .events
            .iter()
            .filter(|e| e.subject.starts_with("Good"))
            .collect();
        if good.len() != 2 {
            failures.push(format!(
                "{name}: the good items did not all map ({})",
                good.len()
            ));
        }
        match expect {
            Expect::Broken(field) => match mapped.broken.as_slice() {
                [b] => {
                    let got = b.error.as_ref().map(ModelError::field).unwrap_or("<none>");
                    if got != field {
                        failures.push(format!(
                            "{name}: broken on `{got}`, expected `{field}` ({:?})",
                            b.error
                        ));
                    }
                }
                other => failures.push(format!("{name}: expected one broken item, got {other:?}")),
            },
            Expect::Maps(check) => match mapped
                .events
                .iter()
                .find(|e| !e.subject.starts_with("Good"))
            {
                Some(e) if check(e) => {}
                other => failures.push(format!(
                    "{name}: expected the item to map and pass its check, got {:?} / broken {:?}",
                    other.map(|e| &e.subject),
                    mapped.broken
                )),
            },
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        graph_cases().len(),
        failures.join("\n")
    );
}

#[test]
fn bad_salesforce_records_are_broken_with_their_field() {
    let mapping = Mapping::new(Vec::<String>::new(), None).unwrap();
    let mut failures = Vec::new();
    for (name, field, value, expect) in salesforce_cases() {
        let mut record = sf_record("00U5e00000AbCdE");
        record.insert(field.as_str().unwrap().to_owned(), value);
        // The good records around it are unaffected (each maps on its own).
        let good = mapping.read(&sf_record("00U5e00000AbCdF"));
        if good.is_err() {
            failures.push(format!("{name}: the good record did not map: {good:?}"));
        }
        match (mapping.read(&record), expect) {
            (Err(b), Expect::Broken(want)) if b.error.field() == want => {}
            (Err(b), Expect::Broken(want)) => failures.push(format!(
                "{name}: broken on `{}`, expected `{want}` ({})",
                b.error.field(),
                b.error
            )),
            (Ok(Row::Event(e)), Expect::Maps(check)) if check(&e) => {}
            (other, _) => failures.push(format!("{name}: unexpected {other:?}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        salesforce_cases().len(),
        failures.join("\n")
    );
}

#[test]
fn bad_pages_are_typed_errors_not_panics() {
    for (name, body) in [
        (
            "truncated JSON",
            br#"{"value":[{"id":"AAMk-1","subject":"Cut"#.to_vec(),
        ),
        ("value not an array", br#"{"value":{"id":"x"}}"#.to_vec()),
        ("not JSON at all", b"<html>502 Bad Gateway</html>".to_vec()),
        ("empty body", Vec::new()),
    ] {
        let err = map_page(&body).map(|_| ()).expect_err(name);
        assert_eq!(err.field(), "value", "{name}: {err}");
    }
}

#[test]
fn bad_settings_are_refused_naming_the_key() {
    let cases: [(&str, &str, &str); 6] = [
        ("unknown key", "[range]\npast_dayz = 3\n", "past_dayz"),
        (
            "out of range",
            "[range]\nfuture_days = 99999\n",
            "range.future_days",
        ),
        ("wrong type", "related_only = \"yes\"\n", "boolean"),
        ("unknown zone", "time_zone = \"Mars/Base\"\n", "Mars/Base"),
        (
            "every 0 minutes",
            "[mode]\nkind = \"auto\"\nevery_minutes = 0\n",
            "every_minutes",
        ),
        ("truncated", "[range\npast_days = 3", ""),
    ];
    for (name, text, key) in cases {
        let err = SyncSettings::from_toml_str(text).expect_err(name);
        let message = err.to_string();
        assert!(message.contains(key), "{name}: {message}");
        if let SettingsError::Parse { line, .. } = err {
            assert!(line >= 1, "{name}: no line in {message}");
        }
    }
}

#[test]
fn bad_ids_and_zones_are_typed_errors() {
    for bad in [
        "",
        "001",
        "001A0000006Vm9r!",
        "001A0000006Vm9rZZZ",
        "001A0000006Vm9r'--",
        "001A0000006Vm9r\u{0}",
    ] {
        assert!(
            matches!(
                bad.parse::<SalesforceId>(),
                Err(ModelError::InvalidSalesforceId { .. })
            ),
            "{bad:?}"
        );
    }
    for bad in [
        "tzone://Microsoft/Custom",
        "Customized Time Zone",
        "Mars/Base",
        "",
        "UTC+99",
    ] {
        assert_eq!(
            resolve_zone("timeZone", bad).unwrap_err().field(),
            "timeZone",
            "{bad:?}"
        );
    }
    // SOQL values are escaped, never spliced: a quote cannot end the literal.
    let escaped = calbridge_salesforce::soql::escape_str("x' OR Id != '");
    let bytes = escaped.as_bytes();
    for (i, &c) in bytes.iter().enumerate() {
        if c == b'\'' {
            assert!(
                i > 0 && bytes[i - 1] == b'\\',
                "unescaped quote in {escaped}"
            );
        }
    }
}
