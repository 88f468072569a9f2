//! Workload generators shared by calbridge's benchmarks.

use calbridge_core::{PairState, SideRecord, Snapshot, SyncState};
use calbridge_model::{Body, Event, EventTime, FieldHashes, ItemId, ShowAs, VersionTag};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

/// The instant every generated workload is planned at.
#[must_use]
pub fn bench_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

const SUBJECTS: [&str; 8] = [
    "Pipeline review",
    "Pricing call",
    "Quarterly business review",
    "Demo",
    "Renewal negotiation",
    "Kick-off",
    "Contract signature",
    "Onboarding",
];
const PLACES: [&str; 5] = [
    "Room 4",
    "Zoom",
    "Acme HQ, Berlin",
    "Teams",
    "Client office",
];

/// A realistic event: distinct subject, location, a ~200-character description, start times
/// spread over the sync window, one in twenty all-day.
#[must_use]
pub fn generated_event(id: String, i: usize) -> Event {
    let now = bench_now();
    let offset_minutes = ((i * 7919) % (360 * 24 * 4)) as i64 * 15 - 20 * 24 * 60;
    let start = now + Duration::minutes(offset_minutes);
    let time = if i.is_multiple_of(20) {
        let day: NaiveDate = start.date_naive();
        EventTime::all_day(day, day + Duration::days(1))
    } else {
        EventTime::timed(start, start + Duration::minutes(30 + (i % 4) as i64 * 15))
    };
    let mut event = Event::new(id, format!("{} #{i}", SUBJECTS[i % SUBJECTS.len()]), time);
    event.location = PLACES[i % PLACES.len()].to_owned();
    event.body = Body::text(format!(
        "Agenda for meeting {i}: review open opportunities, confirm pricing for the next quarter, \
         agree on owners for each follow-up and the date of the next review. Bring the latest numbers."
    ));
    event.show_as = if i.is_multiple_of(9) {
        ShowAs::Tentative
    } else {
        ShowAs::Busy
    };
    event.version = Some(VersionTag::new(format!("v{i}")));
    event
}

/// Two calendars of `n` events each that were synced before (every event linked), then
/// edited: `edit_pct` % of Outlook events change their subject, another `edit_pct` % of
/// Salesforce events change their location, and `delete_pct` % of Outlook events are
/// deleted (confirmed gone).
#[must_use]
pub fn synced_then_edited(
    n: usize,
    edit_pct: f64,
    delete_pct: f64,
) -> (Snapshot, Snapshot, SyncState) {
    let mut outlook = Vec::with_capacity(n);
    let mut salesforce = Vec::with_capacity(n);
    let mut pairs = Vec::with_capacity(n);
    for i in 0..n {
        let o = generated_event(format!("AAMkAGI2T{i:08}"), i);
        let mut s = o.clone();
        s.id = ItemId::new(format!("00U5e{i:010}AAA"));
        s.version = Some(VersionTag::new(format!(
            "2026-11-01T00:00:{:02}.000Z#{i}",
            i % 60
        )));
        let hashes = FieldHashes::of(&o);
        pairs.push(PairState {
            outlook: SideRecord {
                id: o.id.clone(),
                version: o.version.clone(),
                hashes,
            },
            salesforce: SideRecord {
                id: s.id.clone(),
                version: s.version.clone(),
                hashes,
            },
        });
        outlook.push(o);
        salesforce.push(s);
    }
    let every = |pct: f64| {
        if pct <= 0.0 {
            usize::MAX
        } else {
            ((100.0 / pct).round() as usize).max(1)
        }
    };
    let (edit_every, delete_every) = (every(edit_pct), every(delete_pct));
    for (i, e) in outlook.iter_mut().enumerate() {
        if i.is_multiple_of(edit_every) {
            e.subject.push_str(" (moved)");
            e.version = Some(VersionTag::new(format!("v{i}-edited")));
        }
    }
    for (i, e) in salesforce.iter_mut().enumerate() {
        if i % edit_every == edit_every / 2 {
            e.location = "Board room".to_owned();
            e.version = Some(VersionTag::new(format!("edited-{i}")));
        }
    }
    let mut gone = Vec::new();
    outlook.retain(|e| {
        let index = e.id.as_str()[9..].parse::<usize>().unwrap_or(0);
        let keep = index % delete_every != 1 % delete_every.max(2);
        if !keep {
            gone.push(e.id.clone());
        }
        keep
    });
    let mut o = Snapshot::complete(outlook);
    o.gone = gone;
    (
        o,
        Snapshot::complete(salesforce),
        SyncState {
            pairs,
            ..SyncState::default()
        },
    )
}
