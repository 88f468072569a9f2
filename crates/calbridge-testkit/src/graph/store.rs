//! Event writes: create (with `transactionId` dedup), update (turning an occurrence into an
//! exception), delete, each bumping the change key, `lastModifiedDateTime` and the delta
//! version.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use http::StatusCode;

use super::events::{Endpoint, Kind, StoredEvent};
use super::ids::{occurrence_ical_uid, occurrence_id};
use super::input::{Changes, default_props, resolve_span};
use super::json::ApiError;
use super::recurrence::Recurrence;
use super::state::{State, Tombstone};
use super::view::{Found, exceptions, occurrence_span, originals};

/// Checks `If-Match` against the current change key (weak or strong form, or `*`).
pub(crate) fn check_if_match(change_key: &str, if_match: Option<&str>) -> Result<(), ApiError> {
    let Some(raw) = if_match else { return Ok(()) };
    let raw = raw.trim();
    if raw == "*" {
        return Ok(());
    }
    let inner = raw.strip_prefix("W/").unwrap_or(raw).trim_matches('"');
    if inner == change_key {
        return Ok(());
    }
    // graph.md §6.4: community code and emulators see 412 ErrorIrresolvableConflict.
    Err(ApiError::new(
        StatusCode::PRECONDITION_FAILED,
        "ErrorIrresolvableConflict",
        "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
    ))
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("ErrorInvalidRequest", message)
}

fn parse_recurrence(value: &serde_json::Value, start: &Endpoint) -> Result<Recurrence, ApiError> {
    Recurrence::parse(value, (&start.zone, start.tz)).map_err(invalid)
}

/// Creates an event in `calendar_id` and returns its id.
pub(crate) fn create(
    state: &mut State,
    calendar_id: &str,
    changes: Changes,
) -> Result<String, ApiError> {
    let owner_id = state
        .calendar_owner(calendar_id)
        .ok_or_else(ApiError::not_found)?
        .to_owned();
    if let Some(txn) = &changes.transaction_id {
        let duplicate = state.events.values().any(|e| {
            e.transaction_id.as_deref() == Some(txn.as_str())
                && state.calendar_owner(&e.calendar_id) == Some(owner_id.as_str())
        });
        if duplicate {
            // graph.md §1.7: a reused transactionId is rejected, not answered with the event.
            return Err(ApiError::new(
                state.duplicate_txn_status,
                "ErrorDuplicateTransactionId",
                "Your request can't be completed. The TransactionId specified in the request has already been used to create a different event.",
            ));
        }
    }
    let (Some(start), Some(end)) = (&changes.start, &changes.end) else {
        return Err(invalid("An event must have a start and an end."));
    };
    let all_day = changes.all_day.unwrap_or(false);
    let (start, end) = resolve_span(start, end, all_day)?;
    let kind = match &changes.recurrence {
        Some(Some(v)) => Kind::Master(Box::new(parse_recurrence(v, &start)?)),
        _ => Kind::Single,
    };
    let organizer = state
        .user_by_id(&owner_id)
        .map(super::state::User::email_json)
        .unwrap_or_default();
    let mut props = default_props(organizer);
    props.extend(changes.props);
    let now = state.now();
    let version = state.bump();
    let ev = StoredEvent {
        id: state.ids.event_id(),
        calendar_id: calendar_id.to_owned(),
        kind,
        start,
        end,
        all_day,
        props,
        ext: changes.ext,
        created: now,
        modified: now,
        change_key: state.ids.change_key(),
        ical_uid: state.ids.ical_uid(),
        transaction_id: changes.transaction_id,
        version,
        cancelled: BTreeSet::new(),
    };
    let id = ev.id.clone();
    tracing::debug!(%id, calendar_id, "graph emulator: event created");
    state.events.insert(id.clone(), ev);
    Ok(id)
}

/// Marks an event as written now: new change key, `lastModifiedDateTime` and version.
fn touch(state: &mut State, id: &str) {
    let now = state.now();
    let version = state.bump();
    let key = state.ids.change_key();
    if let Some(ev) = state.events.get_mut(id) {
        ev.modified = now;
        ev.version = version;
        ev.change_key = key;
    }
}

fn tombstone(state: &mut State, ev: &StoredEvent) {
    let version = state.bump();
    state.tombstones.push(Tombstone {
        id: ev.id.clone(),
        calendar_id: ev.calendar_id.clone(),
        version,
    });
}

/// Turns an occurrence into a stored exception with the occurrence's id.
fn materialise(
    state: &mut State,
    master_id: &str,
    original: DateTime<Utc>,
) -> Result<String, ApiError> {
    let master = state
        .events
        .get(master_id)
        .ok_or_else(ApiError::not_found)?
        .clone();
    let (s, e) = occurrence_span(&master, original);
    let id = occurrence_id(master_id, original);
    let ex = StoredEvent {
        id: id.clone(),
        kind: Kind::Exception {
            master_id: master_id.to_owned(),
            original_start: original,
        },
        start: Endpoint {
            utc: s,
            ..master.start.clone()
        },
        end: Endpoint {
            utc: e,
            ..master.end.clone()
        },
        ical_uid: occurrence_ical_uid(&master.ical_uid, original),
        transaction_id: None,
        cancelled: BTreeSet::new(),
        ..master
    };
    state.events.insert(id.clone(), ex);
    Ok(id)
}

/// An exception may not move onto or past the day of a neighbouring occurrence
/// (graph.md §1.5, `ErrorOccurrenceCrossingBoundary`).
fn check_boundary(
    state: &State,
    master_id: &str,
    original: DateTime<Utc>,
    new_start: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(master) = state.events.get(master_id) else {
        return Ok(());
    };
    let Some(rec) = master.recurrence() else {
        return Ok(());
    };
    let horizon = original.max(new_start) + chrono::Duration::days(400);
    let all = originals(master, horizon);
    let day = |t: DateTime<Utc>| t.with_timezone(&rec.tz).date_naive();
    let prev = all.iter().rev().find(|o| **o < original);
    let next = all.iter().find(|o| **o > original);
    let crossing = prev.is_some_and(|p| day(new_start) <= day(*p))
        || next.is_some_and(|n| day(new_start) >= day(*n));
    if crossing {
        return Err(ApiError::bad_request(
            "ErrorOccurrenceCrossingBoundary",
            "Modified occurrence is crossing or overlapping adjacent occurrence.",
        ));
    }
    Ok(())
}

/// Applies a PATCH (or a trusted edit) and returns the id of the updated item.
pub(crate) fn update(
    state: &mut State,
    found: &Found,
    changes: Changes,
    if_match: Option<&str>,
) -> Result<String, ApiError> {
    let id = match found {
        Found::Stored(id) => {
            let ev = state.events.get(id).ok_or_else(ApiError::not_found)?;
            check_if_match(&ev.change_key, if_match)?;
            id.clone()
        }
        Found::Occurrence {
            master_id,
            original,
        } => {
            let master = state
                .events
                .get(master_id)
                .ok_or_else(ApiError::not_found)?;
            check_if_match(&master.change_key, if_match)?;
            if changes.recurrence.is_some() {
                return Err(invalid(
                    "The recurrence of an occurrence cannot be changed.",
                ));
            }
            // Validate before materialising so a rejected PATCH leaves no trace.
            if let Some(start) = &changes.start {
                check_boundary(
                    state,
                    master_id,
                    *original,
                    super::json::local_to_utc(start.2, start.0),
                )?;
            }
            materialise(state, master_id, *original)?
        }
    };
    let mut ev = state
        .events
        .get(&id)
        .ok_or_else(ApiError::not_found)?
        .clone();
    let times_changed =
        changes.start.is_some() || changes.end.is_some() || changes.all_day.is_some();
    if times_changed {
        let cur = |p: &Endpoint| (p.local(), p.zone.clone(), p.tz);
        let start = changes.start.clone().unwrap_or_else(|| cur(&ev.start));
        let end = changes.end.clone().unwrap_or_else(|| cur(&ev.end));
        let all_day = changes.all_day.unwrap_or(ev.all_day);
        let (s, e) = resolve_span(&start, &end, all_day)?;
        if let Kind::Exception {
            master_id,
            original_start,
        } = &ev.kind
            && matches!(found, Found::Stored(_))
        {
            check_boundary(state, master_id, *original_start, s.utc)?;
        }
        ev.start = s;
        ev.end = e;
        ev.all_day = all_day;
    }
    let mut series_reset = times_changed && matches!(ev.kind, Kind::Master(_));
    match (&changes.recurrence, &ev.kind) {
        (Some(_), Kind::Exception { .. }) => {
            return Err(invalid(
                "The recurrence of an occurrence cannot be changed.",
            ));
        }
        (Some(Some(v)), _) => {
            ev.kind = Kind::Master(Box::new(parse_recurrence(v, &ev.start)?));
            series_reset = true;
        }
        (Some(None), Kind::Master(_)) => {
            ev.kind = Kind::Single;
            series_reset = true;
        }
        _ => {}
    }
    ev.props.extend(changes.props);
    for (pid, value) in changes.ext {
        match ev
            .ext
            .iter_mut()
            .find(|(k, _)| super::events::ext_id_matches(k, &pid))
        {
            Some(slot) => slot.1 = value,
            None => ev.ext.push((pid, value)),
        }
    }
    if series_reset {
        // A rescheduled series loses its exceptions and deletions, as in Outlook.
        ev.cancelled.clear();
        let dropped: Vec<StoredEvent> = exceptions(state, &id).cloned().collect();
        for ex in dropped {
            state.events.remove(&ex.id);
            tombstone(state, &ex);
        }
    }
    state.events.insert(id.clone(), ev);
    touch(state, &id);
    Ok(id)
}

/// Deletes an event, a series (with its exceptions) or one instance of a series.
pub(crate) fn delete(
    state: &mut State,
    found: &Found,
    if_match: Option<&str>,
) -> Result<(), ApiError> {
    match found {
        Found::Occurrence {
            master_id,
            original,
        } => {
            let master = state
                .events
                .get_mut(master_id)
                .ok_or_else(ApiError::not_found)?;
            check_if_match(&master.change_key, if_match)?;
            master.cancelled.insert(*original);
            // graph.md §4.4: deleting one occurrence shows up only as a master change.
            touch(state, master_id);
        }
        Found::Stored(id) => {
            let ev = state
                .events
                .get(id)
                .ok_or_else(ApiError::not_found)?
                .clone();
            check_if_match(&ev.change_key, if_match)?;
            state.events.remove(id);
            tombstone(state, &ev);
            match &ev.kind {
                Kind::Master(_) => {
                    let dropped: Vec<StoredEvent> = exceptions(state, id).cloned().collect();
                    for ex in dropped {
                        state.events.remove(&ex.id);
                        tombstone(state, &ex);
                    }
                }
                Kind::Exception {
                    master_id,
                    original_start,
                } => {
                    if let Some(master) = state.events.get_mut(master_id) {
                        master.cancelled.insert(*original_start);
                    }
                    let master_id = master_id.clone();
                    touch(state, &master_id);
                }
                Kind::Single => {}
            }
            tracing::debug!(%id, "graph emulator: event deleted");
        }
    }
    Ok(())
}
