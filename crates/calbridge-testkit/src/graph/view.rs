//! Expanding a calendar into what a time window shows (calendarView, delta, instances) and
//! resolving an id that may name an occurrence.

use chrono::{DateTime, Days, NaiveDate, Utc};

use super::events::{Kind, StoredEvent};
use super::ids::{occurrence_id, split_occurrence_id};
use super::json::local_to_utc;
use super::recurrence::Recurrence;
use super::state::State;

/// What a window item is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ItemKind {
    /// A stored single instance or exception.
    Stored,
    /// A series master (delta only: calendarView does not list masters).
    Master,
    /// An unmodified occurrence of a series.
    Occurrence {
        master_id: String,
        original: DateTime<Utc>,
    },
}

/// One entry of a window.
#[derive(Debug, Clone)]
pub(crate) struct ViewItem {
    pub(crate) id: String,
    pub(crate) start: DateTime<Utc>,
    pub(crate) end: DateTime<Utc>,
    pub(crate) kind: ItemKind,
    /// Series members share their master's id, so delta never splits a series over pages.
    pub(crate) group: String,
    /// Changes whenever the item would render differently (delta compares it).
    pub(crate) marker: u64,
}

/// Graph's window rule: overlap, with zero-length events counted at the window start.
pub(crate) fn overlaps(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    ws: DateTime<Utc>,
    we: DateTime<Utc>,
) -> bool {
    start < we && (end > ws || (start == end && start >= ws))
}

/// The instant of the occurrence on `date`: the master's wall-clock time in the
/// recurrence zone, so a weekly 09:00 stays 09:00 across DST changes.
fn occurrence_start(master: &StoredEvent, rec: &Recurrence, date: NaiveDate) -> DateTime<Utc> {
    let tod = master.start.utc.with_timezone(&rec.tz).time();
    local_to_utc(rec.tz, date.and_time(tod))
}

/// Start and end of an unmodified occurrence.
pub(crate) fn occurrence_span(
    master: &StoredEvent,
    original: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    (original, original + (master.end.utc - master.start.utc))
}

/// Original starts of every occurrence beginning before `until` (deleted ones included).
pub(crate) fn originals(master: &StoredEvent, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let Some(rec) = master.recurrence() else {
        return Vec::new();
    };
    let last_date = until
        .with_timezone(&rec.tz)
        .date_naive()
        .checked_add_days(Days::new(1))
        .unwrap_or(NaiveDate::MAX);
    rec.dates(last_date)
        .into_iter()
        .map(|d| occurrence_start(master, rec, d))
        .filter(|s| *s < until)
        .collect()
}

/// The exceptions of a series.
pub(crate) fn exceptions<'a>(
    state: &'a State,
    master_id: &'a str,
) -> impl Iterator<Item = &'a StoredEvent> + 'a {
    state
        .events
        .values()
        .filter(move |e| e.master_id() == Some(master_id))
}

/// Occurrences and exceptions of one series overlapping the window (`/instances`), sorted.
pub(crate) fn series_items(
    state: &State,
    master: &StoredEvent,
    ws: DateTime<Utc>,
    we: DateTime<Utc>,
) -> Vec<ViewItem> {
    let mut out = Vec::new();
    let modified: Vec<DateTime<Utc>> = exceptions(state, &master.id)
        .filter_map(|e| match &e.kind {
            Kind::Exception { original_start, .. } => Some(*original_start),
            _ => None,
        })
        .collect();
    for original in originals(master, we) {
        if master.cancelled.contains(&original) || modified.contains(&original) {
            continue;
        }
        let (s, e) = occurrence_span(master, original);
        if overlaps(s, e, ws, we) {
            out.push(ViewItem {
                id: occurrence_id(&master.id, original),
                start: s,
                end: e,
                kind: ItemKind::Occurrence {
                    master_id: master.id.clone(),
                    original,
                },
                group: master.id.clone(),
                marker: master.version,
            });
        }
    }
    for ex in exceptions(state, &master.id) {
        if overlaps(ex.start.utc, ex.end.utc, ws, we) {
            out.push(ViewItem {
                id: ex.id.clone(),
                start: ex.start.utc,
                end: ex.end.utc,
                kind: ItemKind::Stored,
                group: master.id.clone(),
                marker: ex.version,
            });
        }
    }
    out.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
    out
}

/// Everything one calendar shows in the window; masters are included when `with_masters`
/// (delta) and at least one of their instances is in the window.
pub(crate) fn window_items(
    state: &State,
    calendar_id: &str,
    ws: DateTime<Utc>,
    we: DateTime<Utc>,
    with_masters: bool,
) -> Vec<ViewItem> {
    let mut out = Vec::new();
    for ev in state
        .events
        .values()
        .filter(|e| e.calendar_id == calendar_id)
    {
        match &ev.kind {
            Kind::Single => {
                if overlaps(ev.start.utc, ev.end.utc, ws, we) {
                    out.push(ViewItem {
                        id: ev.id.clone(),
                        start: ev.start.utc,
                        end: ev.end.utc,
                        kind: ItemKind::Stored,
                        group: ev.id.clone(),
                        marker: ev.version,
                    });
                }
            }
            // Exceptions are emitted with their series below.
            Kind::Exception { .. } => {}
            Kind::Master(_) => {
                let members = series_items(state, ev, ws, we);
                if with_masters && !members.is_empty() {
                    out.push(ViewItem {
                        id: ev.id.clone(),
                        start: ev.start.utc,
                        end: ev.end.utc,
                        kind: ItemKind::Master,
                        group: ev.id.clone(),
                        marker: ev.version,
                    });
                }
                out.extend(members);
            }
        }
    }
    out.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
    out
}

/// What an id names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    Stored(String),
    Occurrence {
        master_id: String,
        original: DateTime<Utc>,
    },
}

/// Resolves an id to a stored event or to a live occurrence of a stored series.
pub(crate) fn find(state: &State, id: &str) -> Option<Found> {
    if state.events.contains_key(id) {
        return Some(Found::Stored(id.to_owned()));
    }
    let (master_id, original) = split_occurrence_id(id)?;
    let master = state.events.get(master_id)?;
    if master.cancelled.contains(&original) {
        return None;
    }
    let until = original + chrono::Duration::seconds(1);
    originals(master, until)
        .contains(&original)
        .then(|| Found::Occurrence {
            master_id: master_id.to_owned(),
            original,
        })
}

/// The calendar an id lives in.
pub(crate) fn calendar_of(state: &State, found: &Found) -> Option<String> {
    let id = match found {
        Found::Stored(id) => id,
        Found::Occurrence { master_id, .. } => master_id,
    };
    state.events.get(id).map(|e| e.calendar_id.clone())
}
