use super::*;
use calbridge_model::{
    Body, EventTime, Field, FieldValue, RecordLink, SALESFORCE_DESCRIPTION_MAX, SalesforceId,
    Sensitivity, ShowAs, SnapFields, VersionTag,
};
use calbridge_provider::ProviderError;
use serde_json::json;

fn mapping() -> Mapping {
    Mapping::new(
        ["Type".to_owned(), "Score__c".to_owned()],
        Some("Calbridge_Key__c".into()),
    )
    .unwrap()
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn timed_record() -> Map<String, Value> {
    obj(json!({
        "attributes": {"type": "Event"},
        "Id": "00UKe000002rCdsMAE",
        "Subject": "Pricing call",
        "StartDateTime": "2026-03-02T09:00:00.000+0000",
        "EndDateTime": "2026-03-02T10:30:00.000+0000",
        "IsAllDayEvent": false,
        "ActivityDate": "2026-03-02",
        "DurationInMinutes": 90,
        "IsPrivate": false,
        "Description": "Agenda",
        "Location": "Room 4",
        "ShowAs": "OutOfOffice",
        "WhatId": "0015Y00002c7g8uQAA",
        "WhoId": null,
        "OwnerId": "0055Y00000Gd0iOQAR",
        "IsRecurrence": false,
        "RecurrenceActivityId": null,
        "IsChild": false,
        "LastModifiedDate": "2026-03-01T08:00:00.000+0000",
        "SystemModstamp": "2026-03-01T08:00:01.000+0000",
        "Type": "Meeting",
        "Score__c": null
    }))
}

fn event(r: Map<String, Value>) -> Event {
    match mapping().read(&r).unwrap() {
        Row::Event(e) => *e,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_timed_record_maps_every_field() {
    let e = event(timed_record());
    assert_eq!(e.id.as_str(), "00UKe000002rCdsMAE");
    assert_eq!(
        e.time,
        EventTime::timed(
            "2026-03-02T09:00:00Z".parse().unwrap(),
            "2026-03-02T10:30:00Z".parse().unwrap()
        )
    );
    assert_eq!(
        (e.subject.as_str(), e.location.as_str()),
        ("Pricing call", "Room 4")
    );
    assert_eq!(e.body.plain_text(), "Agenda");
    assert_eq!(e.show_as, ShowAs::OutOfOffice);
    assert_eq!(
        e.link.what.as_ref().map(SalesforceId::as_str),
        Some("0015Y00002c7g8uQAA")
    );
    assert_eq!(
        e.snap_fields,
        SnapFields::from([("Type".to_owned(), json!("Meeting"))])
    );
    assert_eq!(
        e.version.as_ref().map(VersionTag::as_str),
        Some("2026-03-01T08:00:01.000Z")
    );
    assert!(!e.cancelled && !e.is_private());
}

#[test]
fn all_day_records_use_the_duration_and_an_exclusive_end() {
    let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    let mut r = timed_record();
    r.insert("IsAllDayEvent".into(), json!(true));
    r.insert("ActivityDate".into(), json!("2026-03-02"));
    r.insert(
        "StartDateTime".into(),
        json!("2026-03-02T00:00:00.000+0000"),
    );
    r.insert("EndDateTime".into(), json!("2026-03-04T00:00:00.000+0000"));
    r.insert("DurationInMinutes".into(), json!(4320));
    assert_eq!(
        event(r.clone()).time,
        EventTime::all_day(d("2026-03-02"), d("2026-03-05"))
    );
    // Without a duration the inclusive end date decides.
    r.insert("DurationInMinutes".into(), Value::Null);
    assert_eq!(
        event(r.clone()).time,
        EventTime::all_day(d("2026-03-02"), d("2026-03-05"))
    );
    // Without either: one day.
    r.insert("EndDateTime".into(), Value::Null);
    assert_eq!(
        event(r).time,
        EventTime::all_day(d("2026-03-02"), d("2026-03-03"))
    );
}

#[test]
fn masters_deleted_rows_and_broken_rows() {
    let mut r = timed_record();
    r.insert("IsRecurrence".into(), json!(true));
    assert!(matches!(mapping().read(&r), Ok(Row::SeriesMaster(_))));
    let mut r = timed_record();
    r.insert("IsDeleted".into(), json!(true));
    assert!(matches!(mapping().read(&r), Ok(Row::Deleted(_))));
    for (field, value) in [
        ("StartDateTime", json!("yesterday")),
        ("StartDateTime", Value::Null),
        ("EndDateTime", json!("2026-03-02T08:00:00.000+0000")),
        ("WhatId", json!("001-not-an-id")),
        ("ShowAs", json!("Tentative")),
        ("IsPrivate", json!("yes")),
        ("Id", json!("nope")),
    ] {
        let mut r = timed_record();
        r.insert(field.into(), value.clone());
        let b = mapping().read(&r).unwrap_err();
        assert_eq!(b.error.field(), field, "{field} = {value}");
    }
}

#[test]
fn occurrences_keep_their_series() {
    let mut r = timed_record();
    r.insert("RecurrenceActivityId".into(), json!("00UKe000002rCdtMAE"));
    let e = event(r);
    assert_eq!(e.recurrence.unwrap().series_id, "00UKe000002rCdtMAE");
}

#[test]
fn creates_carry_every_field_the_owner_and_the_key() {
    let mut e = event(timed_record());
    e.body = Body::html("<p>Hello&nbsp;<b>world</b></p>", false);
    e.sensitivity = Sensitivity::Confidential;
    e.link = RecordLink::default();
    e.cancelled = true;
    let owner: SalesforceId = "0055Y00000Gd0iOQAR".parse().unwrap();
    let out = mapping()
        .create_fields(&e, Some(&owner), "calbridge-0001")
        .unwrap();
    let f = &out.fields;
    assert_eq!(f["Subject"], json!("Pricing call"));
    assert_eq!(f["StartDateTime"], json!("2026-03-02T09:00:00.000Z"));
    assert_eq!(f["EndDateTime"], json!("2026-03-02T10:30:00.000Z"));
    assert_eq!(f["IsAllDayEvent"], json!(false));
    assert_eq!(f["Description"], json!("Hello world"));
    assert_eq!(f["IsPrivate"], json!(true));
    assert_eq!(f["OwnerId"], json!("0055Y00000Gd0iOQAR"));
    assert_eq!(f["Calbridge_Key__c"], json!("calbridge-0001"));
    assert_eq!(f["Type"], json!("Meeting"));
    assert!(!f.contains_key("WhatId") && !f.contains_key("DurationInMinutes"));
    assert!(!f.keys().any(|k| k.to_lowercase().contains("cancel")));
}

#[test]
fn all_day_writes_use_activity_date_and_whole_days() {
    let d = |s: &str| s.parse::<chrono::NaiveDate>().unwrap();
    let out = mapping()
        .update_fields(&[FieldValue::Time(EventTime::all_day(
            d("2026-03-29"),
            d("2026-04-01"),
        ))])
        .unwrap();
    assert_eq!(
        Value::Object(out.fields),
        json!({
            "IsAllDayEvent": true,
            "ActivityDate": "2026-03-29",
            "StartDateTime": "2026-03-29T00:00:00.000Z",
            "DurationInMinutes": 4320
        })
    );
}

#[test]
fn limits_ids_and_snap_fields_are_checked_before_sending() {
    let m = mapping();
    let field = |r: Result<Outgoing, ProviderError>| match r {
        Err(ProviderError::InvalidData { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        field(m.update_fields(&[FieldValue::Subject("x".repeat(256))])),
        "Subject"
    );
    assert!(
        m.update_fields(&[FieldValue::Subject("é".repeat(255))])
            .is_ok()
    );
    assert_eq!(
        field(m.update_fields(&[FieldValue::Location("x".repeat(256))])),
        "Location"
    );
    let contact: SalesforceId = "003A0000006Vm9r".parse().unwrap();
    let account: SalesforceId = "001A0000006Vm9r".parse().unwrap();
    let what_person = RecordLink {
        what: Some(contact.clone()),
        who: None,
    };
    assert_eq!(
        field(m.update_fields(&[FieldValue::Related(what_person)])),
        "WhatId"
    );
    let who_account = RecordLink {
        what: None,
        who: Some(account.clone()),
    };
    assert_eq!(
        field(m.update_fields(&[FieldValue::Related(who_account)])),
        "WhoId"
    );
    let ok = RecordLink {
        what: Some(account),
        who: Some(contact),
    };
    assert!(m.update_fields(&[FieldValue::Related(ok)]).is_ok());
    let snaps = SnapFields::from([("Secret__c".to_owned(), json!(1))]);
    assert_eq!(
        field(m.update_fields(&[FieldValue::SnapFields(snaps)])),
        "Secret__c"
    );
}

#[test]
fn updates_clear_what_is_gone_and_skip_cancelled() {
    let m = mapping();
    let out = m
        .update_fields(&[
            FieldValue::Related(RecordLink::default()),
            FieldValue::SnapFields(SnapFields::from([("type".to_owned(), json!("Call"))])),
            FieldValue::Cancelled(true),
        ])
        .unwrap();
    assert_eq!(
        Value::Object(out.fields),
        json!({"WhatId": null, "WhoId": null, "Type": "Call", "Score__c": null})
    );
    assert!(
        m.update_fields(&[FieldValue::Cancelled(true)])
            .unwrap()
            .fields
            .is_empty()
    );
}

#[test]
fn long_descriptions_are_cut_and_reported() {
    let body = Body::text("ab".repeat(20_000));
    let (text, cut) = description(&body);
    assert_eq!(text.chars().count(), SALESFORCE_DESCRIPTION_MAX);
    assert_eq!(cut, Some(40_000));
    let out = mapping().update_fields(&[FieldValue::Body(body)]).unwrap();
    assert_eq!(out.truncated_from, Some(40_000));
    assert_eq!(
        description(&Body::text("short")),
        ("short".to_owned(), None)
    );
}

#[test]
fn tentative_and_elsewhere_are_written_as_busy() {
    for (show, want) in [
        (ShowAs::Tentative, "Busy"),
        (ShowAs::WorkingElsewhere, "Busy"),
        (ShowAs::Free, "Free"),
        (ShowAs::OutOfOffice, "OutOfOffice"),
    ] {
        let out = mapping()
            .update_fields(&[FieldValue::ShowAs(show)])
            .unwrap();
        assert_eq!(out.fields["ShowAs"], json!(want));
    }
}

#[test]
fn a_written_event_reads_back_the_same() {
    let original = event(timed_record());
    let owner: SalesforceId = "0055Y00000Gd0iOQAR".parse().unwrap();
    let out = mapping()
        .create_fields(&original, Some(&owner), "k")
        .unwrap();
    let mut back = out.fields.clone();
    back.insert("Id".into(), json!("00UKe000002rCdsMAE"));
    let read = event(back);
    for field in Field::ALL {
        assert_eq!(read.get(field), original.get(field), "{field}");
    }
}

/// Found by the `salesforce_record` fuzz target: a record relating a person as `WhatId` (or
/// an account as `WhoId`) mapped to an event that failed `Event::validate`.
#[test]
fn a_record_with_a_person_as_what_or_an_account_as_who_is_broken() {
    for (field, id) in [("WhatId", "003A0000006Vm9r"), ("WhoId", "001A0000006Vm9r")] {
        let mut record = timed_record();
        record.insert("WhatId".into(), Value::Null);
        record.insert(field.into(), json!(id));
        let broken = mapping().read(&record).unwrap_err();
        assert_eq!(broken.id.as_str(), "00UKe000002rCdsMAE");
        assert!(
            matches!(&broken.error, ModelError::WrongKeyPrefix { field: f, .. } if *f == field),
            "{field}: {:?}",
            broken.error
        );
    }
}

/// Found by the property tests of the fuzz checks: a huge `DurationInMinutes` overflowed
/// the end's arithmetic and panicked (in debug builds already at `d + 1439`).
#[test]
fn a_huge_duration_is_out_of_range_not_a_panic() {
    for minutes in [i64::MAX, i64::MAX - 1000, 999_999_999_999, 6_000_000_000] {
        let mut all_day = obj(json!({
            "Id": "00UKe000002rCdsMAE",
            "IsAllDayEvent": true,
            "ActivityDate": "2026-03-02",
        }));
        all_day.insert("DurationInMinutes".into(), json!(minutes));
        let mut timed = timed_record();
        timed.remove("EndDateTime");
        timed.insert("DurationInMinutes".into(), json!(minutes));
        for record in [all_day, timed] {
            let broken = mapping().read(&record).unwrap_err();
            assert!(
                matches!(
                    &broken.error,
                    ModelError::OutOfRange {
                        field: "DurationInMinutes" | "time",
                        ..
                    }
                ),
                "{minutes}: {:?}",
                broken.error
            );
        }
    }
}
