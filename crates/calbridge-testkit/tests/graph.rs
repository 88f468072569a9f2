//! The Graph emulator over real HTTP: reads, writes, paging, time zones, recurrence,
//! delta, `$batch` and the documented fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use calbridge_testkit::graph::{GraphEmulator, GraphFault, IdStyle};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const USER: &str = "adele@contoso.com";

struct Env {
    graph: GraphEmulator,
    token: String,
    http: reqwest::Client,
}

async fn env() -> Env {
    let graph = GraphEmulator::start().await.unwrap();
    graph.add_user(USER);
    let token = graph
        .issue_token(USER, Duration::from_secs(3600))
        .access_token;
    Env {
        graph,
        token,
        http: reqwest::Client::new(),
    }
}

/// Percent-encodes an id for a path segment.
fn enc(id: &str) -> String {
    id.replace('%', "%25")
        .replace('/', "%2F")
        .replace('+', "%2B")
        .replace('=', "%3D")
}

fn utc_event(subject: &str, start: &str, end: &str) -> Value {
    json!({"subject": subject, "start": {"dateTime": start, "timeZone": "UTC"}, "end": {"dateTime": end, "timeZone": "UTC"}})
}

impl Env {
    fn url(&self, rel: &str) -> String {
        format!("{}{rel}", self.graph.base_url())
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (u16, HeaderMap, Value) {
        let mut rb = self.http.request(method, url).bearer_auth(&self.token);
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        (
            status,
            headers,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }

    async fn get(&self, url: &str, headers: &[(&str, &str)]) -> (u16, HeaderMap, Value) {
        self.send(reqwest::Method::GET, url, headers, None).await
    }

    /// Follows nextLinks verbatim; returns every page's `value`.
    async fn pages(&self, first: &str, headers: &[(&str, &str)]) -> Vec<Vec<Value>> {
        let mut out = Vec::new();
        let mut next = Some(first.to_owned());
        while let Some(url) = next {
            let (status, _, body) = self.get(&url, headers).await;
            assert_eq!(status, 200, "{body}");
            out.push(body["value"].as_array().unwrap().clone());
            next = body["@odata.nextLink"].as_str().map(str::to_owned);
            if let Some(n) = &next {
                assert!(
                    n.starts_with(&self.graph.base_url()),
                    "absolute link to the emulator: {n}"
                );
            }
        }
        out
    }

    /// One full delta round: (items, deltaLink).
    async fn delta_round(&self, first: &str, page: usize) -> (Vec<Value>, String) {
        let prefer = format!("odata.maxpagesize={page}");
        let mut items = Vec::new();
        let mut url = first.to_owned();
        loop {
            let (status, _, body) = self.get(&url, &[("Prefer", &prefer)]).await;
            assert_eq!(status, 200, "{body}");
            items.extend(body["value"].as_array().unwrap().iter().cloned());
            if let Some(n) = body["@odata.nextLink"].as_str() {
                assert!(n.contains("$skiptoken="));
                url = n.to_owned();
            } else {
                let d = body["@odata.deltaLink"].as_str().unwrap();
                assert!(d.starts_with(&self.graph.base_url()) && d.contains("$deltatoken="));
                return (items, d.to_owned());
            }
        }
    }
}

const WINDOW: &str = "startDateTime=2026-03-01T00:00:00Z&endDateTime=2026-04-01T00:00:00Z";

#[tokio::test]
async fn calendar_view_pages_with_top_and_maxpagesize() {
    let e = env().await;
    let mut seeded = HashSet::new();
    for i in 0..25 {
        let day = 1 + i % 28;
        seeded.insert(e.graph.seed_event(
            USER,
            None,
            utc_event(
                &format!("E{i}"),
                &format!("2026-03-{day:02}T09:00:00"),
                &format!("2026-03-{day:02}T10:00:00"),
            ),
        ));
    }
    // Overlapping the window start counts; outside does not.
    seeded.insert(e.graph.seed_event(
        USER,
        None,
        utc_event("straddle", "2026-02-28T23:00:00", "2026-03-01T01:00:00"),
    ));
    e.graph.seed_event(
        USER,
        None,
        utc_event("outside", "2026-04-01T00:00:00", "2026-04-01T01:00:00"),
    );

    let pages = e
        .pages(&e.url(&format!("/me/calendarView?{WINDOW}&$top=10")), &[])
        .await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![10, 10, 6]
    );
    let ids: Vec<String> = pages
        .concat()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 26);
    assert_eq!(ids.into_iter().collect::<HashSet<_>>(), seeded);

    let (_, headers, first) = e
        .get(
            &e.url(&format!("/me/calendarView?{WINDOW}")),
            &[("Prefer", "odata.maxpagesize=7")],
        )
        .await;
    assert!(
        headers["preference-applied"]
            .to_str()
            .unwrap()
            .contains("odata.maxpagesize=7")
    );
    assert_eq!(first["value"].as_array().unwrap().len(), 7);
    let pages = e
        .pages(
            &e.url(&format!("/me/calendarView?{WINDOW}")),
            &[("Prefer", "odata.maxpagesize=7")],
        )
        .await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![7, 7, 7, 5]
    );
    // Default page size is 10 (graph.md §3.3).
    let pages = e.pages(&e.url("/me/calendar/calendarView?startdatetime=2026-03-01T00:00:00Z&enddatetime=2026-04-01T00:00:00Z"), &[]).await;
    assert_eq!(pages[0].len(), 10);
}

#[tokio::test]
async fn calendar_view_requires_a_window() {
    let e = env().await;
    let (status, _, body) = e.get(&e.url("/me/calendarView"), &[]).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "ErrorInvalidParameter");
    let (status, _, body) = e.get(&e.url("/me/calendarView?startDateTime=2019-11-12T00:00:00Z&endDateTime=2024-11-12T00:00:00Z"), &[]).await;
    assert_eq!(status, 400, "1827 days is over the cap");
    assert_eq!(body["error"]["code"], "ErrorInvalidRequest");
}

#[tokio::test]
async fn select_keeps_only_listed_properties_plus_id_and_etag() {
    let e = env().await;
    e.graph.seed_event(
        USER,
        None,
        utc_event("Pick", "2026-03-02T09:00:00", "2026-03-02T10:00:00"),
    );
    let (_, _, body) = e
        .get(
            &e.url(&format!("/me/calendarView?{WINDOW}&$select=subject,start")),
            &[],
        )
        .await;
    let item = body["value"][0].as_object().unwrap();
    let keys: HashSet<&str> = item.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        HashSet::from(["@odata.etag", "id", "subject", "start"])
    );
    let (_, _, one) = e
        .get(
            &e.url(&format!(
                "/me/events/{}?$select=end",
                enc(item["id"].as_str().unwrap())
            )),
            &[],
        )
        .await;
    assert!(one.get("subject").is_none() && one.get("end").is_some());
}

#[tokio::test]
async fn outlook_timezone_renders_times_in_the_requested_zone() {
    let e = env().await;
    let id = e.graph.seed_event(
        USER,
        None,
        utc_event("tz", "2026-03-01T09:00:00", "2026-03-01T10:00:00"),
    );
    let all_day = e.graph.seed_event(
        USER,
        None,
        json!({"subject": "holiday", "isAllDay": true, "start": {"dateTime": "2026-03-05T00:00:00", "timeZone": "Tokyo Standard Time"}, "end": {"dateTime": "2026-03-06T00:00:00", "timeZone": "Tokyo Standard Time"}}),
    );
    let url = e.url(&format!("/me/events/{}", enc(&id)));
    let (_, _, utc) = e.get(&url, &[]).await;
    assert_eq!(
        utc["start"],
        json!({"dateTime": "2026-03-01T09:00:00.0000000", "timeZone": "UTC"})
    );
    let (_, headers, pst) = e
        .get(
            &url,
            &[("Prefer", "outlook.timezone=\"Pacific Standard Time\"")],
        )
        .await;
    assert_eq!(
        pst["start"],
        json!({"dateTime": "2026-03-01T01:00:00.0000000", "timeZone": "Pacific Standard Time"})
    );
    assert_eq!(
        headers["preference-applied"],
        "outlook.timezone=\"Pacific Standard Time\""
    );
    let (_, _, berlin) = e
        .get(
            &url,
            &[(
                "Prefer",
                "outlook.timezone=\"Europe/Berlin\", IdType=\"ImmutableId\"",
            )],
        )
        .await;
    assert_eq!(
        berlin["end"],
        json!({"dateTime": "2026-03-01T11:00:00.0000000", "timeZone": "Europe/Berlin"})
    );
    // All-day events keep their midnight whatever the zone (graph.md §1.8).
    let (_, _, day) = e
        .get(
            &e.url(&format!("/me/events/{}", enc(&all_day))),
            &[("Prefer", "outlook.timezone=\"Pacific Standard Time\"")],
        )
        .await;
    assert_eq!(day["start"]["dateTime"], "2026-03-05T00:00:00.0000000");
    assert_eq!(day["originalStartTimeZone"], "Tokyo Standard Time");
    // An IANA zone on input is reported as its Windows name.
    let (status, _, created) = e
        .send(reqwest::Method::POST, &e.url("/me/events"), &[], Some(json!({"subject": "x", "start": {"dateTime": "2026-03-03T09:00:00", "timeZone": "Europe/Paris"}, "end": {"dateTime": "2026-03-03T10:00:00", "timeZone": "Europe/Paris"}})))
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["originalStartTimeZone"], "Romance Standard Time");
    assert_eq!(created["start"]["dateTime"], "2026-03-03T08:00:00.0000000");
}

#[tokio::test]
async fn invalid_times_are_rejected() {
    let e = env().await;
    let url = e.url("/me/events");
    let post = |body: Value| e.send(reqwest::Method::POST, &url, &[], Some(body));
    let (status, _, body) = post(json!({"subject": "x", "start": {"dateTime": "2026-03-03T09:00:00", "timeZone": "Mars/Olympus"}, "end": {"dateTime": "2026-03-03T10:00:00", "timeZone": "UTC"}})).await;
    assert_eq!(status, 400, "{body}");
    let (status, _, _) = post(json!({"isAllDay": true, "start": {"dateTime": "2026-03-03T09:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2026-03-04T00:00:00", "timeZone": "UTC"}})).await;
    assert_eq!(status, 400, "all-day must be midnight to midnight");
    let (status, _, body) = post(json!({"subjekt": "typo", "start": {"dateTime": "2026-03-03T09:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2026-03-03T10:00:00", "timeZone": "UTC"}})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("RequestBodyRead"))
    );
}

#[tokio::test]
async fn create_with_the_same_transaction_id_twice_yields_one_event() {
    let e = env().await;
    let mut body = utc_event("Lunch", "2026-03-15T12:00:00", "2026-03-15T13:00:00");
    body["transactionId"] = json!("7E163156-7762-4BEB-A1C6-729EA81755A7");
    body["body"] = json!({"contentType": "TEXT", "content": "Does mid month work for you?"});
    let (status, headers, first) = e
        .send(
            reqwest::Method::POST,
            &e.url("/me/events"),
            &[],
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, 201);
    assert!(headers.contains_key("location"));
    assert_eq!(
        first["transactionId"],
        "7E163156-7762-4BEB-A1C6-729EA81755A7"
    );
    assert_eq!(
        first["body"]["contentType"], "html",
        "text bodies come back as HTML"
    );
    assert_eq!(first["bodyPreview"], "Does mid month work for you?");
    let (status, _, second) = e
        .send(reqwest::Method::POST, &e.url("/me/events"), &[], Some(body))
        .await;
    assert_eq!(status, 400);
    assert_eq!(second["error"]["code"], "ErrorDuplicateTransactionId");
    assert_eq!(e.graph.events(USER, None).len(), 1);
    // transactionId cannot be patched.
    let (status, _, _) = e
        .send(
            reqwest::Method::PATCH,
            &e.url(&format!(
                "/me/events/{}",
                enc(first["id"].as_str().unwrap())
            )),
            &[],
            Some(json!({"transactionId": "x"})),
        )
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn patch_with_a_stale_if_match_is_412() {
    let e = env().await;
    let id = e.graph.seed_event(
        USER,
        None,
        utc_event("v1", "2026-03-02T09:00:00", "2026-03-02T10:00:00"),
    );
    let url = e.url(&format!("/me/events/{}", enc(&id)));
    let (_, _, v1) = e.get(&url, &[]).await;
    let etag = v1["@odata.etag"].as_str().unwrap().to_owned();
    assert_eq!(etag, format!("W/\"{}\"", v1["changeKey"].as_str().unwrap()));
    let (status, _, v2) = e
        .send(
            reqwest::Method::PATCH,
            &url,
            &[("If-Match", &etag)],
            Some(json!({"subject": "v2"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v2["subject"], "v2");
    assert_ne!(v2["@odata.etag"], v1["@odata.etag"]);
    assert_ne!(v2["changeKey"], v1["changeKey"]);
    assert_eq!(v2["createdDateTime"], v1["createdDateTime"]);
    let (status, _, err) = e
        .send(
            reqwest::Method::PATCH,
            &url,
            &[("If-Match", &etag)],
            Some(json!({"subject": "v3"})),
        )
        .await;
    assert_eq!(status, 412);
    assert_eq!(err["error"]["code"], "ErrorIrresolvableConflict");
    let (status, _, _) = e
        .send(reqwest::Method::DELETE, &url, &[("If-Match", &etag)], None)
        .await;
    assert_eq!(status, 412);
    // A user's edit in Outlook also moves the etag.
    assert!(e.graph.user_edit(USER, &id, json!({"subject": "by user"})));
    assert_ne!(
        e.graph.event(USER, &id).unwrap()["changeKey"],
        v2["changeKey"]
    );
}

#[tokio::test]
async fn delete_then_get_is_404_with_the_documented_error_body() {
    let e = env().await;
    let id = e.graph.seed_event(
        USER,
        None,
        utc_event("gone", "2026-03-02T09:00:00", "2026-03-02T10:00:00"),
    );
    let url = e.url(&format!("/me/events/{}", enc(&id)));
    let (status, _, _) = e.send(reqwest::Method::DELETE, &url, &[], None).await;
    assert_eq!(status, 204);
    let (status, headers, body) = e.get(&url, &[("client-request-id", "abc-123")]).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "ErrorItemNotFound");
    assert_eq!(body["error"]["innerError"]["client-request-id"], "abc-123");
    assert_eq!(
        body["error"]["innerError"]["request-id"].as_str(),
        headers["request-id"].to_str().ok()
    );
    assert!(body["error"]["innerError"]["date"].is_string());
    let (status, _, _) = e.send(reqwest::Method::DELETE, &url, &[], None).await;
    assert_eq!(status, 404);
    let (status, _, body) = e.get(&e.url("/me/events/not%20an%20id"), &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("ErrorInvalidIdMalformed"))
    );
}

#[tokio::test]
async fn ids_with_slash_and_plus_must_be_percent_encoded() {
    let e = env().await;
    e.graph.set_id_style(IdStyle::Mixed);
    let ids: Vec<String> = (0..2)
        .map(|i| {
            e.graph.seed_event(
                USER,
                None,
                utc_event(
                    &format!("m{i}"),
                    "2026-03-02T09:00:00",
                    "2026-03-02T10:00:00",
                ),
            )
        })
        .collect();
    let odd = ids
        .iter()
        .find(|id| id.contains('/') && id.contains('+'))
        .unwrap();
    let (status, _, body) = e
        .get(&e.url(&format!("/me/events/{}", enc(odd))), &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], odd.as_str());
    let (status, _, _) = e.get(&e.url(&format!("/me/events/{odd}")), &[]).await;
    assert_eq!(status, 400, "an unencoded '/' splits the path");
}

#[tokio::test]
async fn delta_rounds_report_edits_deletions_and_moves_only() {
    let e = env().await;
    let seed = |s: &str, d: u32| {
        e.graph.seed_event(
            USER,
            None,
            utc_event(
                s,
                &format!("2026-03-{d:02}T09:00:00"),
                &format!("2026-03-{d:02}T10:00:00"),
            ),
        )
    };
    let (a, b, c, d) = (seed("A", 2), seed("B", 3), seed("C", 4), seed("D", 5));
    let start = e.url(&format!("/me/calendarView/delta?{WINDOW}"));
    let (items, link1) = e.delta_round(&start, 2).await;
    let ids: HashSet<&str> = items.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        HashSet::from([a.as_str(), b.as_str(), c.as_str(), d.as_str()])
    );
    assert!(
        items
            .iter()
            .all(|v| v["@odata.type"] == "#microsoft.graph.event")
    );

    assert!(e.graph.user_edit(USER, &a, json!({"subject": "A2"})));
    assert!(e.graph.user_delete(USER, &b));
    assert!(e.graph.user_edit(USER, &c, json!({"start": {"dateTime": "2026-06-01T09:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2026-06-01T10:00:00", "timeZone": "UTC"}})));
    let new = seed("E", 6);
    let (items, link2) = e.delta_round(&link1, 10).await;
    let full: HashSet<&str> = items
        .iter()
        .filter(|v| v.get("@removed").is_none())
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    let removed: HashSet<&str> = items
        .iter()
        .filter(|v| v["@removed"]["reason"] == "deleted")
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(full, HashSet::from([a.as_str(), new.as_str()]));
    assert_eq!(removed, HashSet::from([b.as_str(), c.as_str()]));
    assert!(items.iter().any(|v| v["subject"] == "A2"));

    let (items, link3) = e.delta_round(&link2, 10).await;
    assert!(items.is_empty(), "nothing changed: {items:?}");
    // Only the newest link is valid.
    let (status, _, body) = e.get(&link1, &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("syncStateNotFound"))
    );
    // A change outside the window shows up as @removed of an id the client never saw.
    let outside = e.graph.seed_event(
        USER,
        None,
        utc_event("far", "2026-09-01T09:00:00", "2026-09-01T10:00:00"),
    );
    let (items, _) = e.delta_round(&link3, 10).await;
    assert_eq!(
        items,
        vec![
            json!({"@odata.type": "#microsoft.graph.event", "id": outside, "@removed": {"reason": "deleted"}})
        ]
    );
}

#[tokio::test]
async fn dead_delta_tokens_answer_410() {
    let e = env().await;
    e.graph.seed_event(
        USER,
        None,
        utc_event("A", "2026-03-02T09:00:00", "2026-03-02T10:00:00"),
    );
    let (_, link) = e
        .delta_round(&e.url(&format!("/me/calendarView/delta?{WINDOW}")), 5)
        .await;
    e.graph.inject(GraphFault::ExpireDeltaTokens);
    let (status, headers, body) = e.get(&link, &[]).await;
    assert_eq!(status, 410);
    assert_eq!(body["error"]["code"], "syncStateNotFound");
    assert!(
        headers["location"]
            .to_str()
            .unwrap()
            .contains("startDateTime=")
    );
    let (status, _, _) = e
        .get(&e.url("/me/calendarView/delta?$deltatoken=bogus"), &[])
        .await;
    assert_eq!(status, 410);
    // A fresh round works, and an injected resyncRequired kills it.
    let (_, link) = e
        .delta_round(&e.url(&format!("/me/calendarView/delta?{WINDOW}")), 5)
        .await;
    e.graph.inject(GraphFault::ResyncRequired { times: 1 });
    let (status, _, body) = e.get(&link, &[]).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (410, Some("resyncRequired"))
    );
}

fn weekly_series() -> Value {
    json!({
        "subject": "Weekly sync",
        "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "W. Europe Standard Time"},
        "end": {"dateTime": "2026-03-02T09:30:00", "timeZone": "W. Europe Standard Time"},
        "recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["Monday", "Wednesday"]},
                        "range": {"type": "numbered", "startDate": "2026-03-02", "numberOfOccurrences": 6}}
    })
}

#[tokio::test]
async fn weekly_series_expands_into_occurrences() {
    let e = env().await;
    let (status, _, master) = e
        .send(
            reqwest::Method::POST,
            &e.url("/me/events"),
            &[],
            Some(weekly_series()),
        )
        .await;
    assert_eq!(status, 201, "{master}");
    assert_eq!(master["type"], "seriesMaster");
    assert_eq!(
        master["recurrence"]["pattern"]["daysOfWeek"],
        json!(["monday", "wednesday"])
    );
    let mid = master["id"].as_str().unwrap();
    let view = format!("/me/calendarView?{WINDOW}&$top=50");
    let (_, _, body) = e.get(&e.url(&view), &[]).await;
    let occ = body["value"].as_array().unwrap().clone();
    assert_eq!(occ.len(), 6);
    assert!(occ.iter().all(|o| o["type"] == "occurrence"
        && o["seriesMasterId"] == mid
        && o["subject"] == "Weekly sync"));
    assert_eq!(occ[0]["originalStart"], "2026-03-02T08:00:00Z");
    assert_eq!(occ[5]["start"]["dateTime"], "2026-03-18T08:00:00.0000000");
    let uids: HashSet<&str> = occ.iter().map(|o| o["iCalUId"].as_str().unwrap()).collect();
    assert_eq!(uids.len(), 6, "each occurrence has its own iCalUId");
    let (_, _, again) = e.get(&e.url(&view), &[]).await;
    assert_eq!(again["value"], body["value"], "occurrence ids are stable");
    // /events lists the master only.
    let (_, _, list) = e.get(&e.url("/me/events"), &[]).await;
    assert_eq!(list["value"].as_array().unwrap().len(), 1);

    // Patch one occurrence: it becomes an exception with the same id.
    let second = occ[1]["id"].as_str().unwrap();
    let (status, _, ex) = e
        .send(
            reqwest::Method::PATCH,
            &e.url(&format!("/me/events/{}", enc(second))),
            &[],
            Some(json!({"subject": "moved"})),
        )
        .await;
    assert_eq!(status, 200, "{ex}");
    assert_eq!(
        (ex["id"].as_str(), ex["type"].as_str()),
        (Some(second), Some("exception"))
    );
    let (status, _, err) = e
        .send(
            reqwest::Method::PATCH,
            &e.url(&format!("/me/events/{}", enc(occ[2]["id"].as_str().unwrap()))),
            &[],
            Some(json!({"start": {"dateTime": "2026-03-11T12:00:00", "timeZone": "UTC"}, "end": {"dateTime": "2026-03-11T12:30:00", "timeZone": "UTC"}})),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (400, Some("ErrorOccurrenceCrossingBoundary"))
    );
    // Delete another occurrence: it disappears from the view.
    let (status, _, _) = e
        .send(
            reqwest::Method::DELETE,
            &e.url(&format!(
                "/me/events/{}",
                enc(occ[3]["id"].as_str().unwrap())
            )),
            &[],
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (_, _, after) = e.get(&e.url(&view), &[]).await;
    let after = after["value"].as_array().unwrap();
    assert_eq!(after.len(), 5);
    assert!(
        after
            .iter()
            .any(|o| o["type"] == "exception" && o["subject"] == "moved")
    );
    let (_, _, inst) = e
        .get(
            &e.url(&format!("/me/events/{}/instances?{WINDOW}", enc(mid))),
            &[],
        )
        .await;
    assert_eq!(inst["value"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn delta_returns_bare_occurrences_and_full_masters() {
    let e = env().await;
    e.graph.seed_event(USER, None, weekly_series());
    let (items, _) = e
        .delta_round(&e.url(&format!("/me/calendarView/delta?{WINDOW}")), 2)
        .await;
    assert_eq!(
        items.len(),
        7,
        "the master and six occurrences, never split"
    );
    let bare = items
        .iter()
        .find(|v| v["type"] == "occurrence")
        .unwrap()
        .as_object()
        .unwrap();
    let keys: HashSet<&str> = bare.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        HashSet::from([
            "@odata.type",
            "@odata.etag",
            "id",
            "seriesMasterId",
            "type",
            "start",
            "end"
        ])
    );
    assert!(
        items
            .iter()
            .any(|v| v["type"] == "seriesMaster" && v["subject"] == "Weekly sync")
    );
}

#[tokio::test]
async fn extended_properties_are_stored_and_expanded_on_request() {
    let e = env().await;
    let pid = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name SalesforceId";
    let mut body = utc_event("x", "2026-03-02T09:00:00", "2026-03-02T10:00:00");
    body["singleValueExtendedProperties"] = json!([{"id": pid, "value": "00U5e00000AbCdE"}]);
    let (_, _, created) = e
        .send(reqwest::Method::POST, &e.url("/me/events"), &[], Some(body))
        .await;
    assert!(created.get("singleValueExtendedProperties").is_none());
    let id = enc(created["id"].as_str().unwrap());
    let (_, _, got) = e
        .get(
            &e.url(&format!(
                "/me/events/{id}?$expand=singleValueExtendedProperties($filter=id eq '{pid}')"
            )),
            &[],
        )
        .await;
    assert_eq!(
        got["singleValueExtendedProperties"],
        json!([{"id": pid, "value": "00U5e00000AbCdE"}])
    );
    let filter = format!(
        "/me/events?$filter=singleValueExtendedProperties/Any(ep: ep/id eq '{pid}' and ep/value eq '00u5e00000abcde')"
    );
    let (_, _, found) = e.get(&e.url(&filter), &[]).await;
    assert_eq!(found["value"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn calendars_and_sharing() {
    let e = env().await;
    let bob = "bob@contoso.com";
    let team = e.graph.add_calendar(bob, "Team");
    e.graph.share_calendar(bob, &team, USER);
    let seeded = e.graph.seed_event(
        bob,
        Some(&team),
        utc_event("team", "2026-03-02T09:00:00", "2026-03-02T10:00:00"),
    );
    let (_, _, cals) = e.get(&e.url("/me/calendars"), &[]).await;
    let cals = cals["value"].as_array().unwrap();
    assert_eq!(cals.len(), 2);
    assert_eq!(
        (cals[0]["name"].as_str(), cals[0]["canShare"].as_bool()),
        (Some("Calendar"), Some(true))
    );
    let shared = cals.iter().find(|c| c["id"] == team.as_str()).unwrap();
    assert_eq!(
        (
            shared["canShare"].as_bool(),
            shared["owner"]["address"].as_str()
        ),
        (Some(false), Some(bob))
    );
    let (status, _, view) = e
        .get(
            &e.url(&format!(
                "/me/calendars/{}/calendarView?{WINDOW}",
                enc(&team)
            )),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(view["value"][0]["id"], seeded.as_str());
    let (status, _, _) = e
        .get(
            &e.url(&format!("/users/{bob}/calendars/{}/events", enc(&team))),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = e
        .get(&e.url(&format!("/users/{bob}/calendar/events")), &[])
        .await;
    assert_eq!(status, 403, "bob's primary calendar is not shared");
    let (status, _, primary) = e.get(&e.url("/me/calendar"), &[]).await;
    assert_eq!(
        (status, primary["isDefaultCalendar"].as_bool()),
        (200, Some(true))
    );
}

#[tokio::test]
async fn batch_answers_mixed_statuses_and_a_throttled_item() {
    let e = env().await;
    let id = e.graph.seed_event(
        USER,
        None,
        utc_event("b", "2026-03-02T09:00:00", "2026-03-02T10:00:00"),
    );
    let path = format!("/me/events/{}", enc(&id));
    e.graph.reset_requests();
    e.graph.inject(GraphFault::BatchItemThrottle {
        retry_after: Duration::from_secs(7),
        times: 1,
    });
    let batch = json!({"requests": [
        {"id": "1", "method": "GET", "url": "/me/events/AAkALgAAAAAAmissing"},
        {"id": "2", "method": "GET", "url": path},
        {"id": "3", "method": "PATCH", "url": path, "headers": {"Content-Type": "application/json"}, "body": {"subject": "batched"}},
        {"id": "4", "method": "DELETE", "url": "/me/events/AAkALgAAAAAAmissing"},
        {"id": "5", "method": "GET", "url": format!("/me/calendarView?{WINDOW}"), "headers": {"Prefer": "outlook.timezone=\"Pacific Standard Time\""}},
    ]});
    let (status, _, body) = e
        .send(reqwest::Method::POST, &e.url("/$batch"), &[], Some(batch))
        .await;
    assert_eq!(status, 200);
    let by_id = |k: &str| {
        body["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("1")["status"], 429);
    assert_eq!(by_id("1")["headers"]["Retry-After"], "7");
    assert_eq!(by_id("2")["status"], 200);
    assert_eq!(by_id("3")["status"], 200);
    assert_eq!(by_id("3")["body"]["subject"], "batched");
    assert_eq!(by_id("4")["status"], 404);
    assert_eq!(by_id("4")["body"]["error"]["code"], "ErrorItemNotFound");
    assert_eq!(
        by_id("5")["body"]["value"][0]["start"]["timeZone"],
        "Pacific Standard Time"
    );
    assert_eq!(e.graph.request_count(), 1, "a batch is one request");

    let too_many: Vec<Value> = (0..21)
        .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/me/calendar"}))
        .collect();
    let (status, _, _) = e
        .send(
            reqwest::Method::POST,
            &e.url("/$batch"),
            &[],
            Some(json!({"requests": too_many})),
        )
        .await;
    assert_eq!(status, 400);
    let dup = json!({"requests": [{"id": "a", "method": "GET", "url": "/me/calendar"}, {"id": "A", "method": "GET", "url": "/me/calendar"}]});
    let (status, _, _) = e
        .send(reqwest::Method::POST, &e.url("/$batch"), &[], Some(dup))
        .await;
    assert_eq!(status, 400);
}

fn fixtures() -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/graph");
    dir.is_dir().then_some(dir)
}

fn fixture(dir: &Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
}

#[tokio::test]
async fn documented_fixtures_seed_and_render_as_documented() {
    let Some(dir) = fixtures() else { return };
    let e = env().await;
    let pst = [("Prefer", "outlook.timezone=\"Pacific Standard Time\"")];

    let doc = fixture(&dir, "event_create_with_transactionid_201.json");
    let id = e.graph.seed_event(USER, None, doc.clone());
    let (_, _, got) = e
        .get(&e.url(&format!("/me/events/{}", enc(&id))), &pst)
        .await;
    for key in [
        "subject",
        "bodyPreview",
        "start",
        "end",
        "transactionId",
        "originalStartTimeZone",
        "sensitivity",
        "showAs",
        "type",
        "isAllDay",
    ] {
        assert_eq!(got[key], doc[key], "{key}");
    }
    assert_eq!(
        got["location"]["displayName"],
        doc["location"]["displayName"]
    );
    assert_eq!(got["attendees"], doc["attendees"]);
    let doc_keys: HashSet<&String> = doc
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !k.starts_with('@') && *k != "OnlineMeeting")
        .collect();
    let got_keys: HashSet<&String> = got.as_object().unwrap().keys().collect();
    assert!(
        doc_keys.is_subset(&got_keys),
        "missing: {:?}",
        doc_keys.difference(&got_keys).collect::<Vec<_>>()
    );

    let series = fixture(&dir, "event_create_recurring_seriesmaster_201.json");
    let sid = e.graph.seed_event(USER, None, series.clone());
    let (_, _, master) = e
        .get(&e.url(&format!("/me/events/{}", enc(&sid))), &pst)
        .await;
    assert_eq!(master["recurrence"], series["recurrence"]);
    assert_eq!(master["start"], series["start"]);
    let (_, _, inst) = e.get(&e.url(&format!("/me/events/{}/instances?startDateTime=2017-09-01T00:00:00Z&endDateTime=2018-01-01T00:00:00Z&$top=100", enc(&sid))), &[]).await;
    let inst = inst["value"].as_array().unwrap();
    assert_eq!(inst.len(), 17, "every Monday 2017-09-04..2017-12-25");
    assert_eq!(inst[16]["originalStart"], "2017-12-25T20:00:00Z");

    let listed = fixture(&dir, "events_list_prefer_timezone_select_200.json");
    for v in listed["value"].as_array().unwrap() {
        let lid = e.graph.seed_event(USER, None, v.clone());
        let (_, _, got) = e.get(&e.url(&format!("/me/events/{}?$select=subject,body,bodyPreview,organizer,attendees,start,end,location", enc(&lid))), &pst).await;
        for key in [
            "subject",
            "bodyPreview",
            "body",
            "start",
            "end",
            "attendees",
            "organizer",
        ] {
            assert_eq!(got[key], v[key], "{key}");
        }
    }
    for name in [
        "calendarview_delta_page1_nextlink_200.json",
        "calendarview_delta_nextround_removed_deltalink_200.json",
    ] {
        for v in fixture(&dir, name)["value"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v.get("@removed").is_none())
        {
            let did = e.graph.seed_event(USER, None, v.clone());
            assert_eq!(e.graph.event(USER, &did).unwrap()["start"], v["start"]);
        }
    }

    // The calendar list carries every documented field.
    let (_, _, cals) = e.get(&e.url("/me/calendars"), &[]).await;
    let doc = fixture(&dir, "calendars_list_200.json");
    let want: HashSet<&String> = doc["value"][0]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !k.starts_with('@'))
        .collect();
    let have: HashSet<&String> = cals["value"][0].as_object().unwrap().keys().collect();
    assert!(
        want.is_subset(&have),
        "missing: {:?}",
        want.difference(&have).collect::<Vec<_>>()
    );

    // The throttling body has the documented shape.
    e.graph.inject(GraphFault::Throttle {
        retry_after: Duration::from_secs(10),
        times: 1,
        path: None,
    });
    let (status, _, body) = e.get(&e.url("/me/calendar"), &[]).await;
    assert_eq!(status, 429);
    let doc = fixture(&dir, "error_429_throttled.json");
    let keys = |v: &Value| {
        v.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<HashSet<_>>()
    };
    assert_eq!(keys(&body["error"]), keys(&doc["error"]));
    assert!(keys(&doc["error"]["innerError"]).is_subset(&keys(&body["error"]["innerError"])));
}

#[tokio::test]
async fn daily_series_keeps_its_wall_clock_time_across_dst() {
    let e = env().await;
    let berlin = |t: &str| json!({"dateTime": t, "timeZone": "W. Europe Standard Time"});
    e.graph.seed_event(
        USER,
        None,
        json!({"subject": "daily", "start": berlin("2026-03-27T09:00:00"), "end": berlin("2026-03-27T09:30:00"),
               "recurrence": {"pattern": {"type": "daily", "interval": 1}, "range": {"type": "endDate", "startDate": "2026-03-27", "endDate": "2026-03-30"}}}),
    );
    let (_, _, utc) = e
        .get(&e.url(&format!("/me/calendarView?{WINDOW}")), &[])
        .await;
    let starts: Vec<&str> = utc["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["start"]["dateTime"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2026-03-27T08:00:00.0000000",
            "2026-03-28T08:00:00.0000000",
            "2026-03-29T07:00:00.0000000",
            "2026-03-30T07:00:00.0000000"
        ]
    );
    let (_, _, local) = e
        .get(
            &e.url(&format!("/me/calendarView?{WINDOW}")),
            &[("Prefer", "outlook.timezone=\"W. Europe Standard Time\"")],
        )
        .await;
    assert!(local["value"].as_array().unwrap().iter().all(|v| {
        v["start"]["dateTime"]
            .as_str()
            .unwrap()
            .ends_with("T09:00:00.0000000")
    }));
}

#[tokio::test]
async fn deleting_one_occurrence_shows_in_delta_only_as_a_master_change() {
    let e = env().await;
    let master = e.graph.seed_event(USER, None, weekly_series());
    let (items, link) = e
        .delta_round(&e.url(&format!("/me/calendarView/delta?{WINDOW}")), 50)
        .await;
    let victim = items.iter().find(|v| v["type"] == "occurrence").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(e.graph.user_delete(USER, &victim));
    let (items, _) = e.delta_round(&link, 50).await;
    assert!(
        items.iter().all(|v| v.get("@removed").is_none()),
        "graph.md §4.4: no @removed for one occurrence"
    );
    assert!(
        items
            .iter()
            .any(|v| v["id"] == master.as_str() && v["type"] == "seriesMaster")
    );
    assert!(!items.iter().any(|v| v["id"] == victim.as_str()));
    assert!(e.graph.event(USER, &victim).is_none());
}

#[tokio::test]
async fn pinned_clock_drives_timestamps_and_user_edits_may_set_read_only_fields() {
    let e = env().await;
    let t0: chrono::DateTime<chrono::Utc> = "2026-02-01T10:00:00Z".parse().unwrap();
    e.graph.set_clock(t0);
    let id = e.graph.seed_event(
        USER,
        None,
        utc_event("clock", "2026-03-02T09:00:00", "2026-03-02T10:00:00"),
    );
    let before = e.graph.event(USER, &id).unwrap();
    assert_eq!(before["createdDateTime"], "2026-02-01T10:00:00.0000000Z");
    e.graph.set_clock(t0 + chrono::Duration::hours(1));
    assert!(e.graph.user_edit(USER, &id, json!({"isCancelled": true})));
    let after = e.graph.event(USER, &id).unwrap();
    assert_eq!(
        after["lastModifiedDateTime"],
        "2026-02-01T11:00:00.0000000Z"
    );
    assert_eq!(after["createdDateTime"], before["createdDateTime"]);
    assert_eq!(after["isCancelled"], true);
    assert!(
        !e.graph
            .user_edit("someone-else@contoso.com", &id, json!({"subject": "no"}))
    );
}
