//! Time zones through the Graph emulator: events created in Pacific, India (+05:30), Nepal
//! (+05:45), Lord Howe (half-hour daylight saving) and UTC, timed and all-day, come back
//! exactly; unknown and custom zones are broken items with a typed error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde_json::json;

use calbridge_model::{Event, EventTime, ItemId, ModelError, resolve_local};
use calbridge_outlook::mapping::map_page;
use calbridge_provider::{CalendarProvider, ListWindow, Write, WriteResult};
use support::*;

const ZONES: [(Tz, &str); 5] = [
    (chrono_tz::America::Los_Angeles, "Pacific Standard Time"),
    (chrono_tz::Asia::Kolkata, "India Standard Time"),
    (chrono_tz::Asia::Kathmandu, "Nepal Standard Time"),
    (chrono_tz::Australia::Lord_Howe, "Lord Howe Standard Time"),
    (chrono_tz::UTC, "UTC"),
];

fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn window() -> ListWindow {
    ListWindow {
        start: "2027-03-01T00:00:00Z".parse().unwrap(),
        end: "2027-12-01T00:00:00Z".parse().unwrap(),
    }
}

async fn create_all(p: &dyn CalendarProvider, events: Vec<Event>) -> Vec<Event> {
    let writes = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| Write::Create {
            event,
            idempotency_key: format!("zones-{i}"),
        })
        .collect();
    p.apply(writes)
        .await
        .into_iter()
        .map(|r| match r.unwrap() {
            WriteResult::Created(e) => e,
            other => panic!("{other:?}"),
        })
        .collect()
}

fn instants(time: &EventTime) -> (DateTime<Utc>, DateTime<Utc>) {
    match time {
        EventTime::Timed { start, end, .. } => (*start, *end),
        EventTime::AllDay { .. } => panic!("timed expected, got {time:?}"),
    }
}

fn zone_of(time: &EventTime) -> Option<Tz> {
    match time {
        EventTime::Timed { zone, .. } => *zone,
        EventTime::AllDay { .. } => None,
    }
}

#[tokio::test]
async fn timed_events_in_five_zones_round_trip_exactly() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    // (zone, local start, whether the wall time is unambiguous so the zone is kept)
    let mut cases: Vec<(Tz, &str, NaiveDateTime, bool)> = Vec::new();
    for (zone, windows) in ZONES {
        cases.push((zone, windows, local("2027-03-10 09:30"), true));
        // Late evening: the UTC date differs for every zone but UTC.
        cases.push((zone, windows, local("2027-03-10 23:45"), true));
    }
    let la = chrono_tz::America::Los_Angeles;
    let lord_howe = chrono_tz::Australia::Lord_Howe;
    // Just after Lord Howe's half-hour spring-forward gap (02:00 → 02:30).
    cases.push((
        lord_howe,
        "Lord Howe Standard Time",
        local("2027-10-03 02:30"),
        true,
    ));
    // Inside fall-back overlaps: the wall time names two instants, so the connector
    // writes the instant in UTC rather than let Graph pick one.
    cases.push((la, "UTC", local("2027-11-07 01:30"), false));
    cases.push((lord_howe, "UTC", local("2027-04-04 01:45"), false));

    let events: Vec<Event> = cases
        .iter()
        .map(|(zone, _, wall, _)| {
            let start = resolve_local(*wall, *zone);
            Event::new(
                "",
                format!("{} {wall}", zone.name()),
                EventTime::Timed {
                    start,
                    end: start + Duration::minutes(50),
                    zone: Some(*zone),
                },
            )
        })
        .collect();
    let created = create_all(&p, events.clone()).await;
    let listing = p.list(&window()).await.unwrap();
    assert!(listing.broken.is_empty(), "{:?}", listing.broken);
    for ((zone, windows, wall, keeps_zone), (want, got)) in
        cases.iter().zip(events.iter().zip(&created))
    {
        let read = p.get(&got.id).await.unwrap().unwrap();
        let listed = listing.events.iter().find(|e| e.id == got.id).unwrap();
        for (stage, event) in [("created", got), ("read", &read), ("listed", listed)] {
            assert_eq!(
                instants(&event.time),
                instants(&want.time),
                "{stage} {zone} {wall}"
            );
            let expected_zone = if *keeps_zone {
                Some(*zone)
            } else {
                Some(Tz::UTC)
            };
            assert_eq!(zone_of(&event.time), expected_zone, "{stage} {zone} {wall}");
        }
        // Graph holds the Windows name, and the wall time was sent in that zone.
        let stored = graph.event(USER, got.id.as_str()).unwrap();
        assert_eq!(stored["originalStartTimeZone"], *windows, "{zone} {wall}");
    }
    let posts: Vec<_> = graph
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path_and_query.ends_with("/$batch"))
        .collect();
    let body = &posts[0].body;
    assert!(
        body.contains(
            r#""dateTime":"2027-03-10T09:30:00.0000000","timeZone":"India Standard Time""#
        ),
        "{body}"
    );
}

#[tokio::test]
async fn all_day_events_keep_their_dates_in_every_zone() {
    let graph = emulator().await;
    let p = provider(&graph).await;
    let d = |s: &str| s.parse::<NaiveDate>().unwrap();
    // Created by calbridge.
    let made = create_all(
        &p,
        vec![
            Event::new(
                "",
                "one day",
                EventTime::all_day(d("2027-03-05"), d("2027-03-06")),
            ),
            Event::new(
                "",
                "three days",
                EventTime::all_day(d("2027-03-08"), d("2027-03-11")),
            ),
        ],
    )
    .await;
    assert_eq!(
        made[0].time,
        EventTime::all_day(d("2027-03-05"), d("2027-03-06"))
    );
    assert_eq!(
        made[1].time,
        EventTime::all_day(d("2027-03-08"), d("2027-03-11"))
    );
    // Created in Outlook, in each zone: floating dates, never shifted by an offset.
    let mut seeded = Vec::new();
    for (i, (_, windows)) in (0_u32..).zip(ZONES) {
        let day = 12 + i;
        let id = graph.seed_event(
            USER,
            None,
            json!({
                "subject": format!("all day in {windows}"),
                "isAllDay": true,
                "start": {"dateTime": format!("2027-03-{day:02}T00:00:00.0000000"), "timeZone": windows},
                "end": {"dateTime": format!("2027-03-{:02}T00:00:00.0000000", day + 1), "timeZone": windows},
            }),
        );
        seeded.push((ItemId::new(id), d(&format!("2027-03-{day:02}"))));
    }
    let listing = p.list(&window()).await.unwrap();
    assert!(listing.broken.is_empty(), "{:?}", listing.broken);
    for (id, day) in &seeded {
        let want = EventTime::all_day(*day, *day + Duration::days(1));
        let listed = listing.events.iter().find(|e| &e.id == id).unwrap();
        assert_eq!(listed.time, want, "{}", listed.subject);
        assert_eq!(p.get(id).await.unwrap().unwrap().time, want);
    }
    for made in &made {
        let read = p.get(&made.id).await.unwrap().unwrap();
        assert_eq!(read.time, made.time);
    }
}

#[tokio::test]
async fn unknown_and_custom_zones_are_broken_with_typed_errors() {
    // The emulator validates zones on every write, so it cannot hold an event in a custom
    // zone; the page below is what Graph returns for events made in desktop Outlook.
    let event = |id: &str, start_zone: &str, original: &str| {
        json!({
            "@odata.etag": "W/\"x\"", "id": id, "subject": id,
            "start": {"dateTime": "2027-03-04T15:00:00.0000000", "timeZone": start_zone},
            "end": {"dateTime": "2027-03-04T16:00:00.0000000", "timeZone": start_zone},
            "originalStartTimeZone": original, "originalEndTimeZone": original,
            "isAllDay": false, "type": "singleInstance",
        })
    };
    let page = json!({"value": [
        event("good", "UTC", "Nepal Standard Time"),
        event("custom", "UTC", "tzone://Microsoft/Custom"),
        event("customized", "UTC", "Customized Time Zone"),
        event("unknown", "Atlantis Standard Time", "Atlantis Standard Time"),
    ]});
    let mapped = map_page(&serde_json::to_vec(&page).unwrap()).unwrap();
    assert_eq!(mapped.events.len(), 1);
    assert_eq!(
        zone_of(&mapped.events[0].time),
        Some(chrono_tz::Asia::Kathmandu)
    );
    let broken: Vec<(&str, &str)> = mapped
        .broken
        .iter()
        .map(|b| match b.error.as_ref().unwrap() {
            ModelError::UnknownTimeZone { field, .. } => (b.id.as_str(), *field),
            other => panic!("{other}"),
        })
        .collect();
    assert_eq!(
        broken,
        [
            ("custom", "originalStartTimeZone"),
            ("customized", "originalStartTimeZone"),
            ("unknown", "start.timeZone"),
        ]
    );
}
