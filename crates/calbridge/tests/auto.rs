//! The auto-sync loop on a manual clock: it fires at the schedule's instants across a DST
//! change and never outside active hours.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};

use calbridge::core::{Schedule, TimeOfDay, Weekdays};
use calbridge::model::Side;
use calbridge::provider::InMemoryProvider;
use calbridge::store::MemoryStore;
use calbridge::{ManualClock, SyncEngine, SyncSettings};
use chrono::{TimeZone, Utc};
use support::*;

#[tokio::test]
async fn runs_on_schedule_across_the_november_dst_change() {
    let ny = chrono_tz::America::New_York;
    let start = Utc.with_ymd_and_hms(2026, 10, 31, 10, 0, 0).unwrap(); // 06:00 EDT, Saturday
    let end = Utc.with_ymd_and_hms(2026, 11, 3, 0, 0, 0).unwrap();
    let schedule = Schedule {
        every_minutes: 45,
        active_from: TimeOfDay::from_hm(8, 0).unwrap(),
        active_until: TimeOfDay::from_hm(10, 0).unwrap(),
        weekdays: Weekdays::all(),
    };
    let outlook = InMemoryProvider::new(Side::Outlook);
    outlook.seed([meeting("Standup", 1, 13)]);
    let salesforce = InMemoryProvider::new(Side::Salesforce);
    let clock = ManualClock::new(start);
    let engine = SyncEngine::builder(outlook.clone(), salesforce.clone(), MemoryStore::new())
        .settings(SyncSettings {
            time_zone: Some(ny),
            ..SyncSettings::default()
        })
        .clock(clock.clone())
        .build()
        .unwrap();

    let fired = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(tokio::sync::Notify::new());
    let (f, s, c) = (Arc::clone(&fired), Arc::clone(&stop), clock.clone());
    let runs = engine
        .run_auto(&schedule, async move { s.notified().await }, move |run| {
            assert!(run.outcome.is_ok(), "{:?}", run.outcome);
            f.lock().unwrap().push(run.scheduled_for);
            if calbridge::Clock::now(&c) >= end {
                stop.notify_one();
            }
        })
        .await
        .unwrap();

    let fired = fired.lock().unwrap().clone();
    let expected: Vec<_> = schedule.runs_between(ny, start, end).into_iter().collect();
    assert_eq!(&fired[..expected.len()], &expected[..]);
    assert_eq!(runs, fired.len());
    // 08:00, 08:45, 09:30 local each day: EDT (UTC-4) on Saturday, EST (UTC-5) from Sunday.
    let iso: Vec<String> = expected
        .iter()
        .map(|t| t.format("%m-%d %H:%M").to_string())
        .collect();
    assert_eq!(
        iso,
        [
            "10-31 12:00",
            "10-31 12:45",
            "10-31 13:30",
            "11-01 13:00",
            "11-01 13:45",
            "11-01 14:30",
            "11-02 13:00",
            "11-02 13:45",
            "11-02 14:30"
        ]
    );
    for t in &fired {
        assert!(schedule.is_active(ny, *t), "{t} is outside active hours");
    }
    assert_eq!(salesforce.len(), 1, "the runs synced");
}

#[tokio::test]
async fn shutdown_stops_the_loop_before_the_next_run() {
    let outlook = InMemoryProvider::new(Side::Outlook);
    let salesforce = InMemoryProvider::new(Side::Salesforce);
    let engine = SyncEngine::builder(outlook, salesforce, MemoryStore::new())
        .settings(settings())
        .clock(ManualClock::new(now()))
        .build()
        .unwrap();
    let runs = engine
        .run_auto(&Schedule::default(), async {}, |_| {
            panic!("no run expected")
        })
        .await
        .unwrap();
    assert_eq!(runs, 0);
}
