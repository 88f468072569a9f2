//! The Salesforce emulator over real HTTP: SOQL, paging, collections, upsert, validation,
//! auth flows and faults, checked against the documented payloads in
//! `shared/fixtures/salesforce/` when that folder is present.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use calbridge_testkit::salesforce::{
    CustomFieldKind, SalesforceEmulator, SalesforceFault, salesforce_id_18,
};
use chrono::{DateTime, FixedOffset};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const USER: &str = "ada@example.com";

struct Api {
    sf: SalesforceEmulator,
    http: reqwest::Client,
    token: String,
    user_id: String,
}

impl Api {
    async fn new() -> Self {
        let sf = SalesforceEmulator::start().await.unwrap();
        let user_id = sf.add_user(USER);
        let token = sf.issue_token(USER, Duration::from_secs(3600)).access_token;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            sf,
            http,
            token,
            user_id,
        }
    }

    fn url(&self, path: &str) -> String {
        format!(
            "{}/services/data/{}/{path}",
            self.sf.instance_url(),
            self.sf.api_version()
        )
    }

    async fn raw(&self, method: Method, url: &str, body: Option<&Value>) -> reqwest::Response {
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.unwrap()
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let resp = self.raw(method, &self.url(path), body).await;
        read(resp).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn query(&self, soql: &str) -> (StatusCode, Value) {
        self.query_kind("query", soql).await
    }

    async fn query_kind(&self, kind: &str, soql: &str) -> (StatusCode, Value) {
        let url = reqwest::Url::parse_with_params(&self.url(kind), [("q", soql)]).unwrap();
        read(self.raw(Method::GET, url.as_str(), None).await).await
    }

    async fn create(&self, record: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, "sobjects/Event", Some(record))
            .await
    }
}

async fn read(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    let value = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, value)
}

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/salesforce")
}

/// A documented payload, or `None` when the shared folder is absent.
fn fixture(name: &str) -> Option<Value> {
    let text = std::fs::read_to_string(fixture_dir().join(name)).ok()?;
    Some(serde_json::from_str(&text).unwrap())
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

fn timed(subject: &str, start: &str, end: &str) -> Value {
    json!({"Subject": subject, "StartDateTime": start, "EndDateTime": end})
}

fn first_error(v: &Value) -> (&str, Vec<String>) {
    let e = &v[0];
    let code = e["errorCode"]
        .as_str()
        .or_else(|| e["statusCode"].as_str())
        .unwrap();
    let fields = e["fields"]
        .as_array()
        .map(|f| f.iter().map(|x| x.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default();
    (code, fields)
}

fn sf_time(s: &Value) -> DateTime<FixedOffset> {
    DateTime::parse_from_str(s.as_str().unwrap(), "%Y-%m-%dT%H:%M:%S%.3f%z").unwrap()
}

#[tokio::test]
async fn ids_have_case_safe_suffixes() {
    assert_eq!(
        salesforce_id_18("001A0000006Vm9r").as_deref(),
        Some("001A0000006Vm9rIAC")
    );
    assert_eq!(salesforce_id_18("001A0000006Vm9rZZZ"), None);
    let api = Api::new().await;
    let (status, body) = api
        .create(&timed(
            "Sync",
            "2026-03-02T09:00:00Z",
            "2026-03-02T10:00:00Z",
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["success"], json!(true));
    assert_eq!(body["errors"], json!([]));
    let id = body["id"].as_str().unwrap();
    assert_eq!(id.len(), 18);
    assert!(id.starts_with("00U"));
    assert_eq!(salesforce_id_18(&id[..15]).as_deref(), Some(id));
    assert_eq!(
        salesforce_id_18(&api.user_id).as_deref(),
        Some(api.user_id.as_str())
    );
    // The 15-character form reads the same record.
    let (status, rec) = api.get(&format!("sobjects/Event/{}", &id[..15])).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rec["Id"], json!(id));
    assert_eq!(
        rec["attributes"]["url"],
        json!(format!("/services/data/v62.0/sobjects/Event/{id}"))
    );
    // A bad suffix is malformed; an unknown well-formed id is not found.
    let (status, err) = api.get(&format!("sobjects/Event/{}ZZZ", &id[..15])).await;
    assert_eq!(
        (status, first_error(&err).0),
        (StatusCode::BAD_REQUEST, "MALFORMED_ID")
    );
    let unknown = salesforce_id_18("00UKe0000000001").unwrap();
    let (status, err) = api.get(&format!("sobjects/Event/{unknown}")).await;
    assert_eq!(
        (status, first_error(&err).0),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
}

#[tokio::test]
async fn soql_filters_orders_limits_and_selects() {
    let api = Api::new().await;
    let other = api.sf.add_user("bob@example.com");
    let mut ids = Vec::new();
    for (i, (day, private)) in [(2, false), (3, true), (4, false), (5, false), (6, false)]
        .into_iter()
        .enumerate()
    {
        let mut rec = timed(
            &format!("Meeting {i}"),
            &format!("2026-03-0{day}T09:00:00Z"),
            &format!("2026-03-0{day}T10:00:00Z"),
        );
        rec["IsPrivate"] = json!(private);
        if i == 4 {
            rec["OwnerId"] = json!(other);
        }
        ids.push(api.sf.seed_event(rec));
    }
    let soql = format!(
        "SELECT Id, Subject, StartDateTime FROM Event WHERE OwnerId = '{}' \
         AND StartDateTime >= 2026-03-03T00:00:00Z AND IsPrivate = false \
         ORDER BY StartDateTime DESC LIMIT 2",
        api.user_id
    );
    let (status, body) = api.query(&soql).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalSize"], json!(2));
    assert_eq!(body["done"], json!(true));
    assert!(body.get("nextRecordsUrl").is_none());
    let recs = body["records"].as_array().unwrap();
    let subjects: Vec<&str> = recs
        .iter()
        .map(|r| r["Subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["Meeting 3", "Meeting 2"]);
    assert_eq!(
        keys(&recs[0]),
        ["attributes", "Id", "Subject", "StartDateTime"]
            .map(String::from)
            .into()
    );
    assert_eq!(recs[0]["attributes"]["type"], json!("Event"));
    assert_eq!(
        recs[0]["StartDateTime"],
        json!("2026-03-05T09:00:00.000+0000")
    );

    // IN with a 15-character id, OR, NOT, LIKE, case-insensitive keywords and fields.
    let (_, body) = api
        .query(&format!(
            "select id from event where ID in ('{}', '{}') or (subject like 'meeting 4' and not isprivate = true) order by Id",
            &ids[0][..15],
            ids[1]
        ))
        .await;
    let got: BTreeSet<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Id"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        [ids[0].as_str(), ids[1].as_str(), ids[4].as_str()].into()
    );

    // A quote inside a string literal stays data.
    let (status, body) = api
        .query("SELECT Id FROM Event WHERE Subject = 'x\\' OR Subject != \\'y'")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["totalSize"], json!(0));

    let (_, count) = api
        .query("SELECT COUNT() FROM Event WHERE ActivityDate >= 2026-03-04")
        .await;
    assert_eq!(count["totalSize"], json!(3));

    for (soql, code) in [
        ("SELECT Id, Nope__c FROM Event", "INVALID_FIELD"),
        ("SELECT Id FRM Event", "MALFORMED_QUERY"),
        (
            "SELECT Id FROM Event WHERE StartDateTime > 2026-03-01",
            "INVALID_FIELD",
        ),
        (
            "SELECT Id FROM Event WHERE Description = 'x'",
            "INVALID_FIELD",
        ),
        (
            "SELECT Id FROM Event WHERE WhatId = 'not-an-id'",
            "INVALID_QUERY_FILTER_OPERATOR",
        ),
        ("SELECT Id FROM Account", "INVALID_TYPE"),
    ] {
        let (status, err) = api.query(soql).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{soql}");
        assert_eq!(first_error(&err).0, code, "{soql}: {err}");
    }
}

#[tokio::test]
async fn query_pages_follow_next_records_url() {
    let api = Api::new().await;
    for i in 0..7 {
        api.sf.seed_event(timed(
            &format!("E{i}"),
            "2026-03-02T09:00:00Z",
            "2026-03-02T09:30:00Z",
        ));
    }
    api.sf.set_page_size(3);
    let (status, mut page) = api.query("SELECT Id FROM Event ORDER BY Id").await;
    assert_eq!(status, StatusCode::OK);
    if let Some(doc) = fixture("query_page_not_done_response.json") {
        assert_eq!(keys(&page), keys(&doc));
    }
    let mut seen = Vec::new();
    loop {
        assert_eq!(page["totalSize"], json!(7));
        for r in page["records"].as_array().unwrap() {
            seen.push(r["Id"].as_str().unwrap().to_owned());
        }
        if page["done"] == json!(true) {
            assert!(page.get("nextRecordsUrl").is_none());
            break;
        }
        let next = page["nextRecordsUrl"].as_str().unwrap();
        assert!(next.starts_with("/services/data/v62.0/query/01g"), "{next}");
        let resp = api
            .raw(
                Method::GET,
                &format!("{}{next}", api.sf.instance_url()),
                None,
            )
            .await;
        page = read(resp).await.1;
    }
    assert_eq!(seen.len(), 7);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    // A followed-to-the-end cursor is gone.
    let (status, err) = api.get("query/01gKe0000000000AAA-3").await;
    assert_eq!(
        (status, first_error(&err).0),
        (StatusCode::BAD_REQUEST, "INVALID_QUERY_LOCATOR")
    );
}

#[tokio::test]
async fn batch_size_header_is_clamped_and_cursors_expire() {
    let api = Api::new().await;
    for i in 0..250 {
        api.sf.seed_event(timed(
            &format!("E{i}"),
            "2026-03-02T09:00:00Z",
            "2026-03-02T09:30:00Z",
        ));
    }
    let url = reqwest::Url::parse_with_params(&api.url("query"), [("q", "SELECT Id FROM Event")])
        .unwrap();
    let resp = api
        .http
        .get(url)
        .bearer_auth(&api.token)
        .header("Sforce-Query-Options", "batchSize=10")
        .send()
        .await
        .unwrap();
    let (_, page) = read(resp).await;
    // 10 is below the documented minimum of 200.
    assert_eq!(page["records"].as_array().unwrap().len(), 200);
    assert_eq!(page["done"], json!(false));
    api.sf.inject(SalesforceFault::ExpireQueryLocators);
    let next = page["nextRecordsUrl"].as_str().unwrap();
    let (status, err) = read(
        api.raw(
            Method::GET,
            &format!("{}{next}", api.sf.instance_url()),
            None,
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, first_error(&err).0),
        (StatusCode::BAD_REQUEST, "INVALID_QUERY_LOCATOR")
    );
}

#[tokio::test]
async fn query_all_shows_deleted_rows_and_get_deleted_lists_them() {
    let api = Api::new().await;
    let keep = api.sf.seed_event(timed(
        "Keep",
        "2026-03-02T09:00:00Z",
        "2026-03-02T10:00:00Z",
    ));
    let gone = api.sf.seed_event(timed(
        "Gone",
        "2026-03-03T09:00:00Z",
        "2026-03-03T10:00:00Z",
    ));
    let before = chrono::Utc::now() - chrono::TimeDelta::minutes(2);
    let (status, body) = api
        .call(Method::DELETE, &format!("sobjects/Event/{gone}"), None)
        .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));

    let (_, live) = api.query("SELECT Id, IsDeleted FROM Event").await;
    assert_eq!(live["totalSize"], json!(1));
    assert_eq!(live["records"][0]["Id"], json!(keep));
    let (_, all) = api
        .query_kind(
            "queryAll",
            "SELECT Id, IsDeleted FROM Event ORDER BY StartDateTime",
        )
        .await;
    assert_eq!(all["totalSize"], json!(2));
    assert_eq!(all["records"][1]["Id"], json!(gone));
    assert_eq!(all["records"][1]["IsDeleted"], json!(true));
    assert_eq!(all["records"][0]["IsDeleted"], json!(false));
    let (_, tomb) = api
        .query_kind("queryAll", "SELECT Id FROM Event WHERE IsDeleted = true")
        .await;
    assert_eq!(tomb["records"][0]["Id"], json!(gone));

    let (status, err) = api.get(&format!("sobjects/Event/{gone}")).await;
    assert_eq!(
        (status, first_error(&err).0),
        (StatusCode::NOT_FOUND, "ENTITY_IS_DELETED")
    );
    let (status, err) = api
        .call(Method::DELETE, &format!("sobjects/Event/{gone}"), None)
        .await;
    assert_eq!(
        (status, first_error(&err).0),
        (StatusCode::NOT_FOUND, "ENTITY_IS_DELETED")
    );
    assert!(api.sf.event(&gone).is_none());

    let end = chrono::Utc::now() + chrono::TimeDelta::minutes(2);
    let url = reqwest::Url::parse_with_params(
        &api.url("sobjects/Event/deleted/"),
        [("start", before.to_rfc3339()), ("end", end.to_rfc3339())],
    )
    .unwrap();
    let (status, deleted) = read(api.raw(Method::GET, url.as_str(), None).await).await;
    assert_eq!(status, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["deletedRecords"][0]["id"], json!(gone));
    sf_time(&deleted["deletedRecords"][0]["deletedDate"]);
    sf_time(&deleted["latestDateCovered"]);
    if let Some(doc) = fixture("sobject_deleted_response.json") {
        assert_eq!(keys(&deleted), keys(&doc));
        assert_eq!(
            keys(&deleted["deletedRecords"][0]),
            keys(&doc["deletedRecords"][0])
        );
    }
    // start must precede end.
    let url = reqwest::Url::parse_with_params(
        &api.url("sobjects/Event/deleted/"),
        [("start", end.to_rfc3339()), ("end", before.to_rfc3339())],
    )
    .unwrap();
    let (status, err) = read(api.raw(Method::GET, url.as_str(), None).await).await;
    assert_eq!(
        (status, first_error(&err).0),
        (StatusCode::BAD_REQUEST, "INVALID_REPLICATION_DATE")
    );
    // A delete in the UI is a tombstone too, and only happens once.
    assert!(api.sf.user_delete(&keep[..15]));
    assert!(!api.sf.user_delete(&keep));
    let (_, all) = api
        .query_kind("queryAll", "SELECT Id FROM Event WHERE IsDeleted = true")
        .await;
    assert_eq!(all["totalSize"], json!(2));
}

#[tokio::test]
async fn get_updated_lists_changed_ids() {
    let api = Api::new().await;
    let start = chrono::Utc::now() - chrono::TimeDelta::minutes(1);
    let id = api
        .sf
        .seed_event(timed("New", "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z"));
    let end = chrono::Utc::now() + chrono::TimeDelta::minutes(2);
    let url = reqwest::Url::parse_with_params(
        &api.url("sobjects/Event/updated/"),
        [("start", start.to_rfc3339()), ("end", end.to_rfc3339())],
    )
    .unwrap();
    let (status, body) = read(api.raw(Method::GET, url.as_str(), None).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ids"], json!([id]));
    if let Some(doc) = fixture("sobject_updated_response.json") {
        assert_eq!(keys(&body), keys(&doc));
    }
}

fn collection(records: Vec<Value>, all_or_none: bool) -> Value {
    let records: Vec<Value> = records
        .into_iter()
        .map(|mut r| {
            r["attributes"] = json!({"type": "Event"});
            r
        })
        .collect();
    json!({"allOrNone": all_or_none, "records": records})
}

#[tokio::test]
async fn collection_create_of_200_with_one_invalid_record() {
    let api = Api::new().await;
    let mut records: Vec<Value> = (0..200)
        .map(|i| {
            timed(
                &format!("Bulk {i}"),
                "2026-03-02T09:00:00Z",
                "2026-03-02T10:00:00Z",
            )
        })
        .collect();
    records[57]["Subject"] = json!("x".repeat(256));
    api.sf.reset_requests();
    let usage = api.sf.api_usage();
    let (status, results) = api
        .call(
            Method::POST,
            "composite/sobjects",
            Some(&collection(records, false)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{results}");
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 200);
    assert_eq!(api.sf.request_count(), 1);
    assert_eq!(api.sf.api_usage(), usage + 1);
    let bad = &results[57];
    assert_eq!(bad["success"], json!(false));
    assert_eq!(bad["errors"][0]["statusCode"], json!("STRING_TOO_LONG"));
    assert_eq!(bad["errors"][0]["fields"], json!(["Subject"]));
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("max length=255")
    );
    for (i, r) in results.iter().enumerate().filter(|(i, _)| *i != 57) {
        assert_eq!(r["success"], json!(true), "{i}: {r}");
        assert_eq!(r["errors"], json!([]));
        assert!(salesforce_id_18(r["id"].as_str().unwrap()).is_some());
    }
    assert_eq!(api.sf.events().len(), 199);
    if let Some(doc) = fixture("composite_sobjects_create_partial_failure_allornone_false.json") {
        assert_eq!(keys(bad), keys(&doc[0]));
        assert_eq!(keys(&bad["errors"][0]), keys(&doc[0]["errors"][0]));
        assert_eq!(keys(&results[0]), keys(&doc[1]));
    }
    // 201 records is one too many.
    let many: Vec<Value> = (0..201)
        .map(|i| {
            timed(
                &format!("B{i}"),
                "2026-03-02T09:00:00Z",
                "2026-03-02T10:00:00Z",
            )
        })
        .collect();
    let (status, _) = api
        .call(
            Method::POST,
            "composite/sobjects",
            Some(&collection(many, false)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn collection_all_or_none_rolls_back() {
    let api = Api::new().await;
    let records = vec![
        timed("Fine", "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z"),
        timed("Backwards", "2026-03-02T09:00:00Z", "2026-03-02T08:00:00Z"),
        timed("Fine too", "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z"),
    ];
    let (status, results) = api
        .call(
            Method::POST,
            "composite/sobjects",
            Some(&collection(records, true)),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        results[1]["errors"][0]["statusCode"],
        json!("FIELD_INTEGRITY_EXCEPTION")
    );
    assert_eq!(results[1]["errors"][0]["fields"], json!(["EndDateTime"]));
    for i in [0, 2] {
        assert_eq!(results[i]["success"], json!(false));
        assert_eq!(
            results[i]["errors"][0]["statusCode"],
            json!("ALL_OR_NONE_OPERATION_ROLLED_BACK")
        );
    }
    assert!(api.sf.events().is_empty());
    if let Some(doc) = fixture("composite_sobjects_create_failure_allornone_true.json") {
        assert_eq!(
            results[0]["errors"][0]["message"],
            doc[1]["errors"][0]["message"]
        );
        assert_eq!(keys(&results[0]), keys(&doc[1]));
    }
}

#[tokio::test]
async fn collection_update_and_delete() {
    let api = Api::new().await;
    let ids: Vec<String> = (0..3)
        .map(|i| {
            api.sf.seed_event(timed(
                &format!("E{i}"),
                "2026-03-02T09:00:00Z",
                "2026-03-02T10:00:00Z",
            ))
        })
        .collect();
    let malformed = format!("{}ZZZ", &ids[2][..15]);
    let records = vec![
        json!({"id": ids[0], "Subject": "Renamed 0"}),
        json!({"id": ids[1], "Location": "Room 1", "DurationInMinutes": 90}),
        json!({"id": malformed, "Subject": "nope"}),
    ];
    let (status, results) = api
        .call(
            Method::PATCH,
            "composite/sobjects",
            Some(&collection(records, false)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{results}");
    assert_eq!(
        results[0],
        json!({"id": ids[0], "success": true, "errors": []})
    );
    assert_eq!(results[1]["success"], json!(true));
    assert_eq!(results[2]["errors"][0]["statusCode"], json!("MALFORMED_ID"));
    assert_eq!(
        api.sf.event(&ids[0]).unwrap()["Subject"],
        json!("Renamed 0")
    );
    let e1 = api.sf.event(&ids[1]).unwrap();
    assert_eq!(e1["EndDateTime"], json!("2026-03-02T10:30:00.000+0000"));

    let (status, results) = api
        .call(
            Method::DELETE,
            &format!(
                "composite/sobjects?ids={},{},{malformed}&allOrNone=false",
                ids[0], ids[1]
            ),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(results[0]["success"], json!(true));
    assert_eq!(results[1]["success"], json!(true));
    assert_eq!(results[2]["errors"][0]["statusCode"], json!("MALFORMED_ID"));
    assert_eq!(api.sf.events().len(), 1);
    let (_, again) = api
        .call(
            Method::DELETE,
            &format!("composite/sobjects?ids={}", ids[0]),
            None,
        )
        .await;
    assert_eq!(
        again[0]["errors"][0]["statusCode"],
        json!("ENTITY_IS_DELETED")
    );
}

#[tokio::test]
async fn upsert_by_external_id_twice_makes_one_record() {
    let api = Api::new().await;
    let rec = json!({"Subject": "Outlook meeting", "StartDateTime": "2026-03-02T09:00:00Z",
                     "EndDateTime": "2026-03-02T10:00:00Z", "Meeting_Outcome__c": "n/a"});
    let (status, err) = api.create(&rec).await;
    assert_eq!(
        (status, first_error(&err).0),
        (StatusCode::BAD_REQUEST, "INVALID_FIELD")
    );
    api.sf.add_custom_field(
        "Meeting_Outcome__c",
        CustomFieldKind::Text {
            max_len: 255,
            external_id: false,
        },
    );
    api.sf.add_custom_field(
        "Calbridge_Key__c",
        CustomFieldKind::Text {
            max_len: 255,
            external_id: true,
        },
    );

    let mut first = rec.clone();
    first["Calbridge_Key__c"] = json!("AAMkAGI2-graph-id");
    let (status, r1) = api
        .call(
            Method::PATCH,
            "composite/sobjects/Event/Calbridge_Key__c",
            Some(&collection(vec![first.clone()], false)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{r1}");
    assert_eq!(r1[0]["created"], json!(true));
    let mut second = first;
    second["Subject"] = json!("Outlook meeting (moved)");
    second["StartDateTime"] = json!("2026-03-02T11:00:00Z");
    second["EndDateTime"] = json!("2026-03-02T12:00:00Z");
    let (_, r2) = api
        .call(
            Method::PATCH,
            "composite/sobjects/Event/Calbridge_Key__c",
            Some(&collection(vec![second], false)),
        )
        .await;
    assert_eq!(r2[0]["created"], json!(false));
    assert_eq!(r2[0]["id"], r1[0]["id"]);
    let events = api.sf.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["Subject"], json!("Outlook meeting (moved)"));

    // Single-record upsert: 200 + created:false on a match, 201 + created:true otherwise.
    let (status, body) = api
        .call(
            Method::PATCH,
            "sobjects/Event/Calbridge_Key__c/AAMkAGI2-graph-id",
            Some(&json!({"Location": "Room 7"})),
        )
        .await;
    assert_eq!(
        (status, body["created"].clone()),
        (StatusCode::OK, json!(false))
    );
    let (status, body) = api
        .call(
            Method::PATCH,
            "sobjects/Event/Calbridge_Key__c/other-key",
            Some(&timed(
                "Other",
                "2026-03-03T09:00:00Z",
                "2026-03-03T10:00:00Z",
            )),
        )
        .await;
    assert_eq!(
        (status, body["created"].clone()),
        (StatusCode::CREATED, json!(true))
    );
    // Unique: a plain create with a taken key is a duplicate.
    let mut dup = timed("Dup", "2026-03-03T09:00:00Z", "2026-03-03T10:00:00Z");
    dup["Calbridge_Key__c"] = json!("other-key");
    let (status, err) = api.create(&dup).await;
    assert_eq!(
        (status, first_error(&err).0),
        (StatusCode::BAD_REQUEST, "DUPLICATE_VALUE")
    );
    // Only external-id fields can key an upsert.
    let (status, err) = api
        .call(
            Method::PATCH,
            "composite/sobjects/Event/Meeting_Outcome__c",
            Some(&collection(vec![], false)),
        )
        .await;
    assert_eq!(
        (status, first_error(&err).0),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
}

#[tokio::test]
async fn system_modstamp_strictly_increases() {
    let api = Api::new().await;
    let (_, created) = api
        .create(&timed(
            "Tick",
            "2026-03-02T09:00:00Z",
            "2026-03-02T10:00:00Z",
        ))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let mut last = None;
    for i in 0..20 {
        let (status, _) = api
            .call(
                Method::PATCH,
                &format!("sobjects/Event/{id}"),
                Some(&json!({"Subject": format!("Tick {i}")})),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (_, rec) = api.get(&format!("sobjects/Event/{id}")).await;
        let stamp = rec["SystemModstamp"].as_str().unwrap();
        assert!(stamp.ends_with("+0000") && stamp.len() == 28, "{stamp}");
        assert_eq!(rec["LastModifiedDate"], rec["SystemModstamp"]);
        let t = sf_time(&rec["SystemModstamp"]);
        if let Some(prev) = last {
            assert!(t > prev, "{t} <= {prev}");
        }
        last = Some(t);
    }
    // A UI edit bumps it too.
    let before = sf_time(&api.sf.event(&id).unwrap()["SystemModstamp"]);
    assert!(api.sf.user_edit(&id, json!({"Location": "Cafe"})));
    assert!(sf_time(&api.sf.event(&id).unwrap()["SystemModstamp"]) > before);
}

#[tokio::test]
async fn invalid_who_and_what_ids_are_refused() {
    let api = Api::new().await;
    let base = timed("Call", "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z");
    let account = api.sf.add_related_record("001");
    let contact = api.sf.add_related_record("003");
    let cases = [
        (
            json!({"WhatId": "001A0000006Vm9rZZZ"}),
            "MALFORMED_ID",
            "WhatId",
        ),
        (json!({"WhoId": "hello"}), "MALFORMED_ID", "WhoId"),
        (json!({"WhoId": account}), "MALFORMED_ID", "WhoId"),
        (json!({"WhatId": contact}), "MALFORMED_ID", "WhatId"),
        (
            json!({"WhatId": "001A0000006Vm9rIAC"}),
            "INVALID_CROSS_REFERENCE_KEY",
            "WhatId",
        ),
        (
            json!({"WhoId": contact, "IsPrivate": true}),
            "FIELD_INTEGRITY_EXCEPTION",
            "IsPrivate",
        ),
    ];
    for (extra, code, field) in cases {
        let mut rec = base.clone();
        rec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, err) = api.create(&rec).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{rec}");
        assert_eq!(
            first_error(&err),
            (code, vec![field.to_owned()]),
            "{rec}: {err}"
        );
    }
    let mut ok = base;
    ok["WhatId"] = json!(&account[..15]);
    ok["WhoId"] = json!(contact);
    let (status, body) = api.create(&ok).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let rec = api.sf.event(body["id"].as_str().unwrap()).unwrap();
    assert_eq!(rec["WhatId"], json!(account));
    assert_eq!(rec["AccountId"], json!(account));
}

#[tokio::test]
async fn time_and_all_day_rules() {
    let api = Api::new().await;
    // All-day from ActivityDate alone: one day, inclusive end at UTC midnight.
    let (status, body) = api
        .create(&json!({"Subject": "Holiday", "IsAllDayEvent": true, "ActivityDate": "2026-03-05"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let rec = api.sf.event(body["id"].as_str().unwrap()).unwrap();
    assert_eq!(rec["StartDateTime"], json!("2026-03-05T00:00:00.000+0000"));
    assert_eq!(rec["EndDateTime"], json!("2026-03-05T00:00:00.000+0000"));
    assert_eq!(rec["DurationInMinutes"], json!(1440));
    assert_eq!(rec["ActivityDateTime"], Value::Null);
    // Three days via EndDateTime.
    let (_, body) = api
        .create(&json!({"Subject": "Offsite", "IsAllDayEvent": true,
                        "StartDateTime": "2026-03-09T00:00:00Z", "EndDateTime": "2026-03-11T00:00:00Z"}))
        .await;
    let rec = api.sf.event(body["id"].as_str().unwrap()).unwrap();
    assert_eq!(
        (rec["DurationInMinutes"].clone(), rec["EndDate"].clone()),
        (json!(4320), json!("2026-03-11"))
    );
    // Offsets are converted to UTC; ActivityDate follows the UTC start.
    let (_, body) = api
        .create(&json!({"Subject": "Zoned", "StartDateTime": "2026-03-02T00:30:00+01:00", "DurationInMinutes": 45}))
        .await;
    let rec = api.sf.event(body["id"].as_str().unwrap()).unwrap();
    assert_eq!(rec["StartDateTime"], json!("2026-03-01T23:30:00.000+0000"));
    assert_eq!(rec["ActivityDateTime"], rec["StartDateTime"]);
    assert_eq!(rec["ActivityDate"], json!("2026-03-01"));
    assert_eq!(rec["EndDateTime"], json!("2026-03-02T00:15:00.000+0000"));

    let refused = [
        (
            json!({"StartDateTime": "2026-03-02T09:00:00Z"}),
            "REQUIRED_FIELD_MISSING",
            "EndDateTime",
        ),
        (
            json!({"EndDateTime": "2026-03-02T09:00:00Z", "DurationInMinutes": 60}),
            "REQUIRED_FIELD_MISSING",
            "StartDateTime",
        ),
        (
            timed("x", "2026-03-02T09:00:00Z", "2026-03-02T08:59:00Z"),
            "FIELD_INTEGRITY_EXCEPTION",
            "EndDateTime",
        ),
        (
            json!({"StartDateTime": "2026-03-02T09:00:00Z", "EndDateTime": "2026-03-02T10:00:00Z", "DurationInMinutes": 30}),
            "FIELD_INTEGRITY_EXCEPTION",
            "DurationInMinutes",
        ),
        (
            json!({"StartDateTime": "2026-03-02T09:00:00Z", "ActivityDateTime": "2026-03-02T10:00:00Z", "DurationInMinutes": 30}),
            "FIELD_INTEGRITY_EXCEPTION",
            "ActivityDateTime",
        ),
        (
            json!({"StartDateTime": "2026-03-02T09:00:00Z", "DurationInMinutes": 20161}),
            "FIELD_INTEGRITY_EXCEPTION",
            "DurationInMinutes",
        ),
        (
            json!({"IsAllDayEvent": true, "ActivityDate": "2026-03-05", "StartDateTime": "2026-03-06T00:00:00Z"}),
            "FIELD_INTEGRITY_EXCEPTION",
            "ActivityDate",
        ),
        (
            json!({"IsAllDayEvent": true, "ActivityDate": "2026-03-05", "EndDateTime": "2026-03-04T00:00:00Z"}),
            "FIELD_INTEGRITY_EXCEPTION",
            "EndDateTime",
        ),
        (
            json!({"IsAllDayEvent": true, "ActivityDate": "2026-03-01", "EndDateTime": "2026-03-20T00:00:00Z"}),
            "FIELD_INTEGRITY_EXCEPTION",
            "EndDateTime",
        ),
        (
            json!({"IsAllDayEvent": true}),
            "REQUIRED_FIELD_MISSING",
            "ActivityDate",
        ),
    ];
    for (rec, code, field) in refused {
        let (status, err) = api.create(&rec).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{rec}");
        assert_eq!(
            first_error(&err),
            (code, vec![field.to_owned()]),
            "{rec}: {err}"
        );
    }
    // Moving the start keeps the duration.
    let (_, body) = api
        .create(&timed(
            "Move",
            "2026-03-02T09:00:00Z",
            "2026-03-02T10:00:00Z",
        ))
        .await;
    let id = body["id"].as_str().unwrap();
    api.call(
        Method::PATCH,
        &format!("sobjects/Event/{id}"),
        Some(&json!({"StartDateTime": "2026-03-02T13:00:00Z"})),
    )
    .await;
    assert_eq!(
        api.sf.event(id).unwrap()["EndDateTime"],
        json!("2026-03-02T14:00:00.000+0000")
    );
}

#[tokio::test]
async fn wrong_types_lengths_and_read_only_fields() {
    let api = Api::new().await;
    let base = timed("T", "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z");
    let cases = [
        (
            json!({"IsPrivate": "yes"}),
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            "IsPrivate",
        ),
        (
            json!({"StartDateTime": 12}),
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            "StartDateTime",
        ),
        (
            json!({"DurationInMinutes": "60", "EndDateTime": null}),
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            "DurationInMinutes",
        ),
        (json!({"Nope__c": "x"}), "INVALID_FIELD", "Nope__c"),
        (
            json!({"IsChild": true}),
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "IsChild",
        ),
        (
            json!({"ShowAs": "Maybe"}),
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            "ShowAs",
        ),
        (
            json!({"Description": "d".repeat(32_001)}),
            "STRING_TOO_LONG",
            "Description",
        ),
        (
            json!({"Location": "l".repeat(256)}),
            "STRING_TOO_LONG",
            "Location",
        ),
    ];
    for (extra, code, field) in cases {
        let mut rec = base.clone();
        rec.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let (status, err) = api.create(&rec).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(first_error(&err), (code, vec![field.to_owned()]), "{err}");
    }
    let mut max = base;
    max["Description"] = json!("d".repeat(32_000));
    max["ShowAs"] = json!("OutOfOffice");
    assert_eq!(api.create(&max).await.0, StatusCode::CREATED);
    // Unparseable JSON is a request-level error.
    let resp = api
        .http
        .post(api.url("sobjects/Event"))
        .bearer_auth(&api.token)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    let (status, err) = read(resp).await;
    assert_eq!(
        (status, first_error(&err).0),
        (StatusCode::BAD_REQUEST, "JSON_PARSER_ERROR")
    );
}

#[tokio::test]
async fn fixture_record_round_trips_through_query() {
    let Some(doc) = fixture("query_events_response.json") else {
        return;
    };
    let api = Api::new().await;
    let mut record = doc["records"][0].clone();
    record.as_object_mut().unwrap().remove("attributes");
    let fields: Vec<String> = record.as_object().unwrap().keys().cloned().collect();
    let id = api.sf.seed_event(record);
    assert_eq!(id, "00UKe000002rCdsMAE");
    let url = format!(
        "{}/services/data/v64.0/query?q={}",
        api.sf.instance_url(),
        url::form_urlencoded::byte_serialize(
            format!("SELECT {} FROM Event", fields.join(", ")).as_bytes()
        )
        .collect::<String>()
    );
    let (status, body) = read(api.raw(Method::GET, &url, None).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["records"][0], doc["records"][0]);
    assert_eq!(body["totalSize"], json!(1));
}

#[tokio::test]
async fn recurring_series_masters_can_be_skipped() {
    let api = Api::new().await;
    let occurrences: Vec<Value> = (2..5)
        .map(|d| {
            timed(
                "Standup",
                &format!("2026-03-0{d}T09:00:00Z"),
                &format!("2026-03-0{d}T09:15:00Z"),
            )
        })
        .collect();
    let mut master = timed("Standup", "2026-03-02T09:00:00Z", "2026-03-02T09:15:00Z");
    master["RecurrenceType"] = json!("RecursDaily");
    master["RecurrenceInterval"] = json!(1);
    let (master_id, occ) = api.sf.seed_recurring_series(master, occurrences);
    let (_, body) = api
        .query(
            "SELECT Id, RecurrenceActivityId, IsRecurrence FROM Event WHERE IsRecurrence = false",
        )
        .await;
    assert_eq!(body["totalSize"], json!(3));
    for r in body["records"].as_array().unwrap() {
        assert_eq!(r["RecurrenceActivityId"], json!(master_id));
    }
    let m = api.sf.event(&master_id).unwrap();
    assert_eq!(
        (m["IsRecurrence"].clone(), m["RecurrenceActivityId"].clone()),
        (json!(true), json!(master_id))
    );
    // Deleting the series master deletes its occurrences.
    api.call(Method::DELETE, &format!("sobjects/Event/{master_id}"), None)
        .await;
    assert!(api.sf.events().is_empty());
    assert!(api.sf.event(&occ[0]).is_none());
}

#[tokio::test]
async fn expired_sessions_answer_401_and_refresh_recovers() {
    let api = Api::new().await;
    let tokens = api.sf.issue_token(USER, Duration::from_secs(3600));
    api.sf.register_client("cb-client", Some("cb-secret"), None);
    let resp = api.raw(Method::GET, &api.url("limits"), None).await;
    assert_eq!(
        resp.headers()["sforce-limit-info"].to_str().unwrap(),
        "api-usage=1/15000"
    );

    api.sf.inject(SalesforceFault::ExpireSessions);
    let resp = api
        .http
        .get(api.url("sobjects/Event/describe"))
        .bearer_auth(&tokens.access_token)
        .send()
        .await
        .unwrap();
    assert!(resp.headers().contains_key("sforce-limit-info"));
    let (status, body) = read(resp).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let expected = fixture("error_invalid_session_id_401.json").unwrap_or(
        json!([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]),
    );
    assert_eq!(body, expected);

    let token_url = format!("{}/services/oauth2/token", api.sf.login_url());
    let resp = api
        .http
        .post(&token_url)
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token.as_str()),
            ("client_id", "cb-client"),
            ("client_secret", "cb-secret"),
        ])
        .send()
        .await
        .unwrap();
    let (status, granted) = read(resp).await;
    assert_eq!(status, StatusCode::OK, "{granted}");
    assert_eq!(granted["instance_url"], json!(api.sf.instance_url()));
    assert_eq!(granted["token_type"], json!("Bearer"));
    assert!(granted.get("refresh_token").is_none());
    assert!(
        granted["issued_at"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    if let Some(doc) = fixture("oauth_token_response.json") {
        assert!(keys(&granted).is_superset(&keys(&doc)), "{granted}");
    }
    let access = granted["access_token"].as_str().unwrap();
    let resp = api
        .http
        .get(api.url("sobjects/Event/describe"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    let (status, describe) = read(resp).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        describe["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "StartDateTime")
    );

    // Wrong secret, then a token nobody issued.
    for (refresh, secret, error) in [
        (tokens.refresh_token.as_str(), "wrong", "invalid_client"),
        ("5Aep861nope", "cb-secret", "invalid_grant"),
    ] {
        let resp = api
            .http
            .post(&token_url)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh),
                ("client_id", "cb-client"),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap();
        let (status, body) = read(resp).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], json!(error), "{body}");
        assert!(body["error_description"].is_string());
    }
    // No request log entry holds an access token (headers are never recorded).
    assert!(
        api.sf
            .requests()
            .iter()
            .all(|r| !r.path_and_query.contains(access) && !r.body.contains(access))
    );
}

#[derive(serde::Serialize)]
struct JwtClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
}

fn sign(key_pem: &[u8], claims: &JwtClaims<'_>) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem).unwrap();
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        claims,
        &key,
    )
    .unwrap()
}

#[tokio::test]
async fn jwt_bearer_grant() {
    let api = Api::new().await;
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let key = std::fs::read(data.join("jwt_test_key.pem")).unwrap();
    let other = std::fs::read(data.join("jwt_other_key.pem")).unwrap();
    let cert = std::fs::read_to_string(data.join("jwt_test_cert.pem")).unwrap();
    api.sf.register_client("jwt-app", None, Some(&cert));
    let aud = api.sf.login_url();
    let now = jsonwebtoken::get_current_timestamp();
    let token_url = format!("{aud}/services/oauth2/token");
    let grant = |assertion: String| {
        let http = api.http.clone();
        let url = token_url.clone();
        async move {
            let resp = http
                .post(url)
                .form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", assertion.as_str()),
                ])
                .send()
                .await
                .unwrap();
            read(resp).await
        }
    };
    let good = JwtClaims {
        iss: "jwt-app",
        sub: USER,
        aud: &aud,
        exp: now + 180,
    };
    let (status, body) = grant(sign(&key, &good)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none());
    let access = body["access_token"].as_str().unwrap();
    let url = reqwest::Url::parse_with_params(&api.url("query"), [("q", "SELECT Id FROM Event")])
        .unwrap();
    let resp = api.http.get(url).bearer_auth(access).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let refused = [
        sign(&other, &good),
        sign(
            &key,
            &JwtClaims {
                exp: now - 10,
                ..good
            },
        ),
        sign(
            &key,
            &JwtClaims {
                aud: "https://login.salesforce.com",
                ..good
            },
        ),
        sign(
            &key,
            &JwtClaims {
                sub: "nobody@example.com",
                ..good
            },
        ),
        "not.a.jwt".to_owned(),
    ];
    for assertion in refused {
        let (status, body) = grant(assertion).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], json!("invalid_grant"), "{body}");
    }
    let (_, body) = grant(sign(
        &key,
        &JwtClaims {
            iss: "unknown-app",
            ..good
        },
    ))
    .await;
    assert_eq!(body["error"], json!("invalid_client_id"));
}

#[tokio::test]
async fn authorization_code_with_pkce() {
    let api = Api::new().await;
    let api = &api;
    api.sf.register_client("web-app", Some("web-secret"), None);
    // RFC 7636 appendix B.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let redirect = "http://localhost:8765/callback";
    let authorize = || async {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/services/oauth2/authorize", api.sf.login_url()),
            [
                ("response_type", "code"),
                ("client_id", "web-app"),
                ("redirect_uri", redirect),
                ("scope", "api refresh_token"),
                ("state", "xyz 1"),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .unwrap();
        let resp = api.http.get(url).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::FOUND);
        let location = reqwest::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
        assert!(location.as_str().starts_with(redirect));
        let params: std::collections::HashMap<String, String> =
            location.query_pairs().into_owned().collect();
        assert_eq!(params["state"], "xyz 1");
        params["code"].clone()
    };
    let exchange = |code: String, verifier: Option<&'static str>| async move {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code),
            ("client_id", "web-app".to_owned()),
            ("client_secret", "web-secret".to_owned()),
            ("redirect_uri", redirect.to_owned()),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v.to_owned()));
        }
        let resp = api
            .http
            .post(format!("{}/services/oauth2/token", api.sf.login_url()))
            .form(&form)
            .send()
            .await
            .unwrap();
        read(resp).await
    };
    let (status, body) = exchange(
        authorize().await,
        Some("wrong-verifier-wrong-verifier-wrong-verifier"),
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_request"))
    );
    let (_, body) = exchange(authorize().await, None).await;
    assert_eq!(body["error"], json!("invalid_grant"));
    let code = authorize().await;
    let (status, body) = exchange(code.clone(), Some(verifier)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["refresh_token"].is_string());
    assert!(body["id"].as_str().unwrap().ends_with(&api.user_id));
    // Codes are single-use.
    let (_, body) = exchange(code, Some(verifier)).await;
    assert_eq!(body["error"], json!("invalid_grant"));
}

#[tokio::test]
async fn request_limit_and_unavailable_faults() {
    let api = Api::new().await;
    api.sf
        .inject(SalesforceFault::RequestLimitExceeded { times: 1 });
    let (status, err) = api.query("SELECT Id FROM Event").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        err,
        json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    );
    assert_eq!(api.query("SELECT Id FROM Event").await.0, StatusCode::OK);
    api.sf.inject(SalesforceFault::Unavailable { times: 2 });
    assert_eq!(
        api.query("SELECT Id FROM Event").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        api.query("SELECT Id FROM Event").await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(api.query("SELECT Id FROM Event").await.0, StatusCode::OK);
    api.sf.inject(SalesforceFault::Unavailable { times: 5 });
    api.sf.clear_faults();
    assert_eq!(api.query("SELECT Id FROM Event").await.0, StatusCode::OK);
    api.sf.inject(SalesforceFault::Slow {
        delay: Duration::from_millis(300),
        times: 1,
    });
    let t = Instant::now();
    assert_eq!(api.query("SELECT Id FROM Event").await.0, StatusCode::OK);
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn lock_row_fault_fails_one_record_of_a_collection() {
    let api = Api::new().await;
    let ids: Vec<String> = (0..3)
        .map(|i| {
            api.sf.seed_event(timed(
                &format!("E{i}"),
                "2026-03-02T09:00:00Z",
                "2026-03-02T10:00:00Z",
            ))
        })
        .collect();
    api.sf.inject(SalesforceFault::LockRow {
        id: ids[1][..15].to_owned(),
        times: 1,
    });
    let body = collection(
        ids.iter()
            .map(|id| json!({"id": id, "Subject": "Locked?"}))
            .collect(),
        false,
    );
    let (_, results) = api
        .call(Method::PATCH, "composite/sobjects", Some(&body))
        .await;
    assert_eq!(results[0]["success"], json!(true));
    assert_eq!(results[2]["success"], json!(true));
    assert_eq!(results[1]["success"], json!(false));
    assert_eq!(
        results[1]["errors"][0]["statusCode"],
        json!("UNABLE_TO_LOCK_ROW")
    );
    assert_eq!(api.sf.event(&ids[1]).unwrap()["Subject"], json!("E1"));
    let (_, results) = api
        .call(Method::PATCH, "composite/sobjects", Some(&body))
        .await;
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["success"] == json!(true))
    );
}

#[tokio::test]
async fn dropped_connections_are_transport_errors() {
    let api = Api::new().await;
    api.sf.inject(SalesforceFault::DropConnection {
        times: 1,
        path: Some("/query".to_owned()),
    });
    let url = reqwest::Url::parse_with_params(&api.url("query"), [("q", "SELECT Id FROM Event")])
        .unwrap();
    let err = api
        .http
        .get(url.clone())
        .bearer_auth(&api.token)
        .send()
        .await
        .expect_err("the connection is dropped without an answer");
    assert!(err.status().is_none());
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    // The next request gets through.
    assert_eq!(
        api.raw(Method::GET, url.as_str(), None).await.status(),
        StatusCode::OK
    );

    // After-write drop: the client sees an error, yet the records exist.
    api.sf.inject(SalesforceFault::DropAfterWrite { times: 1 });
    let records = collection(
        vec![
            timed("A", "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z"),
            timed("B", "2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z"),
        ],
        false,
    );
    let err = api
        .http
        .post(api.url("composite/sobjects"))
        .bearer_auth(&api.token)
        .json(&records)
        .send()
        .await
        .expect_err("dropped after the write");
    assert!(err.status().is_none());
    assert_eq!(api.sf.events().len(), 2);
}

#[tokio::test]
async fn external_ids_stay_unique_through_updates_deletes_and_rollbacks() {
    let api = Api::new().await;
    api.sf.add_custom_field(
        "Calbridge_Key__c",
        CustomFieldKind::Text {
            max_len: 255,
            external_id: true,
        },
    );
    let keyed = |subject: &str, key: &str| {
        let mut r = timed(subject, "2026-03-03T09:00:00Z", "2026-03-03T10:00:00Z");
        r["Calbridge_Key__c"] = json!(key);
        r
    };
    let (_, a) = api.create(&keyed("A", "k1")).await;
    let a = a["id"].as_str().unwrap().to_owned();
    // A key given up by an update is free again; the new one is taken.
    let (status, _) = api
        .call(
            Method::PATCH,
            &format!("sobjects/Event/{a}"),
            Some(&json!({"Calbridge_Key__c": "k2"})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(api.create(&keyed("B", "k1")).await.0, StatusCode::CREATED);
    let (status, err) = api.create(&keyed("C", "k2")).await;
    assert_eq!(
        (status, first_error(&err).0),
        (StatusCode::BAD_REQUEST, "DUPLICATE_VALUE")
    );
    // An all-or-none collection that fails leaves no key behind.
    let (_, r) = api
        .call(
            Method::POST,
            "composite/sobjects",
            Some(&collection(
                vec![keyed("D", "k3"), json!({"Subject": "no times"})],
                true,
            )),
        )
        .await;
    assert_eq!(r[0]["success"], json!(false), "{r}");
    assert_eq!(api.create(&keyed("D", "k3")).await.0, StatusCode::CREATED);
    // A deleted record's key is free; an upsert by it creates.
    assert!(api.sf.user_delete(&a));
    let (status, body) = api
        .call(
            Method::PATCH,
            "sobjects/Event/Calbridge_Key__c/k2",
            Some(&timed("E", "2026-03-04T09:00:00Z", "2026-03-04T10:00:00Z")),
        )
        .await;
    assert_eq!(
        (status, body["created"].clone()),
        (StatusCode::CREATED, json!(true))
    );
}

#[tokio::test]
async fn an_advanced_clock_stamps_writes_and_dates_answers() {
    let api = Api::new().await;
    api.sf.advance_clock(Duration::from_secs(3600));
    let resp = api
        .raw(
            Method::POST,
            &api.url("sobjects/Event"),
            Some(&timed(
                "Later",
                "2026-03-03T09:00:00Z",
                "2026-03-03T10:00:00Z",
            )),
        )
        .await;
    let date = resp
        .headers()
        .get("date")
        .and_then(|v| v.to_str().ok())
        .map(|v| DateTime::parse_from_rfc2822(v).unwrap())
        .unwrap();
    let soon = chrono::Utc::now() + chrono::Duration::minutes(55);
    assert!(date > soon, "{date}");
    let (_, body) = read(resp).await;
    let id = body["id"].as_str().unwrap();
    let stamp = sf_time(&api.sf.event(id).unwrap()["SystemModstamp"]);
    assert!(stamp > soon, "{stamp}");
}
