//! Checks of Salesforce input: one `Event` record, and a SOQL query response.

use chrono::TimeDelta;
use serde_json::{Map, Value};

use calbridge_model::{Event, SALESFORCE_LOCATION_MAX, SALESFORCE_SUBJECT_MAX, SalesforceId};
use calbridge_provider::ProviderError;
use calbridge_salesforce::{Mapping, QueryPage, Row};

use crate::graph::same_time;

/// The external-id field of the checks' mapping (calbridge's idempotency key).
pub const KEY_FIELD: &str = "Calbridge_Key__c";
/// The snap fields of the checks' mapping: a standard field and a custom one.
pub const SNAP_FIELDS: [&str; 2] = ["Type", "Meeting_Outcome__c"];
/// What a create does not carry and Salesforce keeps or sets itself: copied from the record
/// read to the record read back.
const KEPT_BY_SALESFORCE: [&str; 4] = [
    "Id",
    "SystemModstamp",
    "LastModifiedDate",
    "RecurrenceActivityId",
];

/// The mapping the checks use: [`SNAP_FIELDS`] and [`KEY_FIELD`].
///
/// # Panics
/// Never: the names are valid.
#[must_use]
pub fn snap_mapping() -> Mapping {
    match Mapping::new(
        SNAP_FIELDS.iter().map(|s| (*s).to_owned()),
        Some(KEY_FIELD.to_owned()),
    ) {
        Ok(mapping) => mapping,
        Err(e) => panic!("the checks' mapping is refused: {e}"),
    }
}

/// One `Event` record: it maps or is broken with its id as sent; a mapped id is the
/// 18-character form of `Id`; a mapped event round-trips (see [`salesforce_round_trip`]).
///
/// # Panics
/// When an invariant breaks.
pub fn salesforce_record(data: &[u8]) {
    let Ok(Value::Object(record)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let _row = check_record(&snap_mapping(), &record);
}

/// A SOQL query response (`{"totalSize", "done", "nextRecordsUrl", "records"}`): every record
/// is checked as [`salesforce_record`] does, and maps the same within the page as alone.
///
/// # Panics
/// When an invariant breaks.
pub fn soql_response(data: &[u8]) {
    let Ok(page) = serde_json::from_slice::<QueryPage>(data) else {
        return;
    };
    let mapping = snap_mapping();
    let rows: Vec<_> = page
        .records
        .iter()
        .map(|r| check_record(&mapping, r))
        .collect();
    for (record, row) in page.records.iter().zip(&rows) {
        assert_eq!(&mapping.read(record), row, "the same record maps the same");
    }
}

fn check_record(
    mapping: &Mapping,
    record: &Map<String, Value>,
) -> Result<Row, calbridge_salesforce::BrokenRecord> {
    let raw_id = record.get("Id").and_then(Value::as_str).unwrap_or_default();
    let row = mapping.read(record);
    let full_id = || match SalesforceId::parse_field("Id", raw_id) {
        Ok(id) => id.as_str().to_owned(),
        Err(e) => panic!("a record with a bad Id mapped: {e}"),
    };
    match &row {
        Ok(Row::Event(event)) => {
            assert_eq!(event.id.as_str(), full_id());
            event
                .validate()
                .unwrap_or_else(|e| panic!("a mapped event is invalid: {e}"));
            salesforce_round_trip(mapping, record, event);
        }
        Ok(Row::Deleted(id) | Row::SeriesMaster(id)) => assert_eq!(id.as_str(), full_id()),
        Err(broken) => assert_eq!(broken.id.as_str(), raw_id),
    }
    row
}

/// Writes `event` (mapped from `record`) as a new record, reads back what Salesforce would
/// hold and checks:
///
/// - a refused write names a documented reason (a subject or location over 255 characters,
///   a `WhatId` that is a person or an activity, a `WhoId` that is not a contact or lead);
/// - the record read back maps, and writing it again sends the same fields;
/// - it equals `event`, times compared at Salesforce's precision (1 ms) and a description cut
///   to 32,000 characters allowed to be that cut.
///
/// # Panics
/// When a check fails.
pub fn salesforce_round_trip(mapping: &Mapping, record: &Map<String, Value>, event: &Event) {
    let written = match mapping.create_fields(event, None, "key") {
        Ok(written) => written,
        Err(ProviderError::InvalidData { field, message }) => {
            let chars = |s: &str| s.chars().count();
            let documented = match field.as_str() {
                "Subject" => chars(&event.subject) > SALESFORCE_SUBJECT_MAX,
                "Location" => chars(&event.location) > SALESFORCE_LOCATION_MAX,
                "WhatId" => event.link.what.as_ref().is_some_and(|id| {
                    ["003", "00Q", "005", "00U", "00T", "00D"].contains(&id.key_prefix())
                }),
                "WhoId" => event
                    .link
                    .who
                    .as_ref()
                    .is_some_and(|id| !["003", "00Q"].contains(&id.key_prefix())),
                _ => false,
            };
            assert!(documented, "a read event is refused for {field}: {message}");
            return;
        }
        Err(other) => panic!("a read event is refused: {other}"),
    };
    let mut back = written.fields.clone();
    for key in KEPT_BY_SALESFORCE {
        match record.get(key) {
            Some(v) => back.insert(key.to_owned(), v.clone()),
            None => back.remove(key),
        };
    }
    let mut again = match mapping.read(&back) {
        Ok(Row::Event(again)) => *again,
        other => panic!("an event written as a record reads back as {other:?}\n{back:?}"),
    };
    let rewritten = match mapping.create_fields(&again, None, "key") {
        Ok(rewritten) => rewritten,
        Err(e) => panic!("the read-back event is refused: {e}"),
    };
    assert_eq!(
        rewritten.fields, written.fields,
        "writing the read-back event sends other fields"
    );
    assert!(
        same_time(&event.time, &again.time, TimeDelta::milliseconds(1)),
        "times: {:?} became {:?}",
        event.time,
        again.time
    );
    again.time = event.time.clone();
    if written.truncated_from.is_some() {
        let cut: String = event
            .body
            .plain_text()
            .chars()
            .take(calbridge_model::SALESFORCE_DESCRIPTION_MAX)
            .collect();
        assert_eq!(
            again.body.plain_text(),
            cut,
            "a cut description is the first part"
        );
        again.body = event.body.clone();
    }
    assert_eq!(&again, event, "an event changed through a record\n{back:?}");
}

/// A record for `event` as a query returns it: the create fields plus an id and a modstamp.
#[must_use]
pub fn salesforce_json(mapping: &Mapping, event: &Event) -> Option<Value> {
    let mut fields = mapping.create_fields(event, None, "key").ok()?.fields;
    fields.insert("Id".into(), Value::String(event.id.as_str().to_owned()));
    Some(Value::Object(fields))
}
