//! Saving a calendar's events and loading them into another emulator, exactly: ids, change
//! keys, timestamps, iCalUIds, transaction ids, zones, series and their exceptions. This is
//! what lets an emulated world outlive a process (the `calbridge --emulate` CLI keeps its
//! calendars in a file between runs).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::GraphEmulator;
use super::events::{Endpoint, Kind, RenderOpts, StoredEvent, render};
use super::input::{Mode, parse_changes, resolve_span};
use super::json::{fmt_local, fmt_utc};
use super::recurrence::Recurrence;
use super::state::State;

/// Extra member of a saved series master: the original starts of deleted occurrences.
const CANCELLED: &str = "cancelledOccurrences";

fn endpoint_json(p: &Endpoint) -> Value {
    json!({"dateTime": fmt_local(p.local()), "timeZone": p.zone, "instant": fmt_utc(p.utc)})
}

fn saved(ev: &StoredEvent) -> Value {
    let mut m = render(
        ev,
        &RenderOpts {
            all_ext: true,
            ..RenderOpts::default()
        },
    );
    // Times in the zone the client wrote them in, plus the exact instant (a wall time in a
    // DST overlap names two instants).
    m.insert("start".into(), endpoint_json(&ev.start));
    m.insert("end".into(), endpoint_json(&ev.end));
    if matches!(ev.kind, Kind::Master(_)) {
        let cancelled: Vec<Value> = ev.cancelled.iter().map(|t| json!(fmt_utc(*t))).collect();
        m.insert(CANCELLED.into(), Value::Array(cancelled));
    }
    Value::Object(m)
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn instant(v: &Value, key: &str) -> Result<Option<DateTime<Utc>>, String> {
    match text(v, key) {
        None => Ok(None),
        Some(t) => DateTime::parse_from_rfc3339(t)
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|e| format!("{key} {t:?}: {e}")),
    }
}

/// An endpoint's exact instant, when the saved form carries one, replaces the one its wall
/// time resolves to.
fn pin(point: &mut Endpoint, saved: Option<&Value>) -> Result<(), String> {
    if let Some(at) = saved.map(|v| instant(v, "instant")).transpose()?.flatten() {
        point.utc = at;
    }
    Ok(())
}

fn restore_one(state: &mut State, calendar_id: &str, v: &Value) -> Result<String, String> {
    let id = text(v, "id").ok_or("a saved event has no id")?.to_owned();
    if state.events.contains_key(&id) {
        return Err(format!("event {id} is already in the emulator"));
    }
    let changes =
        parse_changes(v, Mode::Trusted).map_err(|e| format!("event {id}: {}", e.message))?;
    let (Some(start), Some(end)) = (&changes.start, &changes.end) else {
        return Err(format!("event {id} has no start or end"));
    };
    let all_day = changes.all_day.unwrap_or(false);
    let (mut start, mut end) =
        resolve_span(start, end, all_day).map_err(|e| format!("event {id}: {}", e.message))?;
    pin(&mut start, v.get("start"))?;
    pin(&mut end, v.get("end"))?;
    let kind = match (text(v, "type"), text(v, "seriesMasterId")) {
        (Some("exception"), Some(master)) => Kind::Exception {
            master_id: master.to_owned(),
            original_start: instant(v, "originalStart")?
                .ok_or_else(|| format!("exception {id} has no originalStart"))?,
        },
        _ => match changes.recurrence.flatten() {
            Some(r) => Kind::Master(Box::new(
                Recurrence::parse(&r, (&start.zone, start.tz))
                    .map_err(|e| format!("event {id}: {e}"))?,
            )),
            None => Kind::Single,
        },
    };
    let mut cancelled = BTreeSet::new();
    for t in v
        .get(CANCELLED)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let t = t.as_str().ok_or("cancelled occurrences are instants")?;
        let at = DateTime::parse_from_rfc3339(t).map_err(|e| format!("{t:?}: {e}"))?;
        cancelled.insert(at.with_timezone(&Utc));
    }
    let now = state.now();
    let organizer = v.get("organizer").cloned().unwrap_or(Value::Null);
    let mut props = super::input::default_props(organizer);
    props.extend(changes.props);
    // The saved values are already in the stored shape; taking them verbatim also keeps
    // what normalising again would change (`locations` rewrites `location`).
    for (key, value) in props.iter_mut() {
        if let Some(saved) = v.get(key) {
            value.clone_from(saved);
        }
    }
    let version = state.bump();
    let change_key = match text(v, "changeKey") {
        Some(k) => k.to_owned(),
        None => state.ids.change_key(),
    };
    let ical_uid = match text(v, "iCalUId") {
        Some(u) => u.to_owned(),
        None => state.ids.ical_uid(),
    };
    let event = StoredEvent {
        id: id.clone(),
        calendar_id: calendar_id.to_owned(),
        kind,
        start,
        end,
        all_day,
        props,
        ext: changes.ext,
        created: instant(v, "createdDateTime")?.unwrap_or(now),
        modified: instant(v, "lastModifiedDateTime")?.unwrap_or(now),
        change_key,
        ical_uid,
        transaction_id: changes.transaction_id,
        version,
        cancelled,
    };
    state.events.insert(id.clone(), event);
    Ok(id)
}

impl GraphEmulator {
    /// Every event stored in a calendar (the user's primary one when `None`): single
    /// instances, series masters and exceptions, in a JSON form that
    /// [`restore_events`](Self::restore_events) loads back exactly (Graph's event JSON, with
    /// start and end in the zone they were written in plus their exact `instant`, and a
    /// series master's deleted occurrences). Empty when the user or calendar is unknown.
    #[must_use]
    pub fn snapshot_events(&self, user: &str, calendar_id: Option<&str>) -> Vec<Value> {
        let st = self.state();
        let Some(cal) = st.user_calendar(user, calendar_id) else {
            return Vec::new();
        };
        st.events
            .values()
            .filter(|e| e.calendar_id == cal)
            .map(saved)
            .collect()
    }

    /// Loads events saved by [`snapshot_events`](Self::snapshot_events) (possibly by another
    /// emulator) into a calendar of `user` (the primary one when `None`), keeping their ids,
    /// change keys and timestamps. Delta sees them as new. Returns how many were loaded.
    ///
    /// # Errors
    /// An unknown calendar, an event without an id, an id already present, or an event that
    /// fails validation; the events before it stay loaded.
    pub fn restore_events(
        &self,
        user: &str,
        calendar_id: Option<&str>,
        events: &[Value],
    ) -> Result<usize, String> {
        let mut st = self.state();
        let cal = Self::user_calendar(&mut st, user, calendar_id)?;
        for v in events {
            restore_one(&mut st, &cal, v)?;
        }
        Ok(events.len())
    }
}
