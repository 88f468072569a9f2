//! Graph's event resource ⇄ calbridge's [`Event`], both ways and exact.
//!
//! Reading: `start`/`end` (`{dateTime, timeZone}`) become UTC instants, the event's zone is
//! `originalStartTimeZone` resolved from its Windows name; all-day events are
//! midnight-to-midnight floating dates; the Salesforce relation, snap fields and counterpart
//! come from calbridge's extended property. Anything that cannot be mapped exactly — an
//! unknown or custom zone, a bad date, an all-day event off midnight, a malformed property —
//! is a typed [`ModelError`], never a silent default.
//!
//! Writing: a create carries subject, body, times (in the event's zone when Graph knows a
//! Windows name for it and the wall time is unambiguous, else UTC), `isAllDay`, location,
//! sensitivity, `showAs`, calbridge's property and `transactionId`. An update carries only
//! the changed fields. Attendees are never sent: Outlook would mail invitations.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use calbridge_core::BrokenItem;
use calbridge_model::{
    Body, Event, EventTime, ItemId, ModelError, Recurrence, Sensitivity, ShowAs, resolve_local,
};

use crate::property::{PropertyData, is_calbridge_property};
use crate::wire::{DateTimeTimeZone, GraphEvent, Page};
use crate::zone::read_zone;

/// One item of a Graph event collection, as calbridge sees it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GraphItem {
    /// An event (single instance, occurrence or exception) mapped exactly.
    Event(Box<Event>),
    /// A recurring series' master: synced through its occurrences, not itself.
    SeriesMaster {
        /// The master's id.
        id: ItemId,
    },
    /// A delta `@removed` entry (deleted, or left the window: the engine confirms by id).
    Removed {
        /// The item's id.
        id: ItemId,
    },
}

/// A page of events mapped: what [`map_page`] returns.
#[derive(Debug, Clone, Default)]
pub struct MappedPage {
    /// Events mapped exactly.
    pub events: Vec<Event>,
    /// Items that could not be mapped, with their typed errors.
    pub broken: Vec<BrokenItem>,
    /// Ids of `@removed` entries.
    pub removed: Vec<ItemId>,
    /// Ids of series masters (skipped).
    pub series_masters: Vec<ItemId>,
    /// `@odata.nextLink`, if any.
    pub next_link: Option<String>,
    /// `@odata.deltaLink`, if any.
    pub delta_link: Option<String>,
}

/// Maps a whole collection page (`{"value": [...], "@odata.nextLink": ...}`), item by item:
/// a bad item lands in [`MappedPage::broken`], never fails the page.
///
/// # Errors
/// [`ModelError::Unparsable`] when the body is not a collection at all.
pub fn map_page(body: &[u8]) -> Result<MappedPage, ModelError> {
    let page: Page = serde_json::from_slice(body).map_err(|e| {
        ModelError::unparsable("value", &String::from_utf8_lossy(body), e.to_string())
    })?;
    let mut mapped = MappedPage {
        next_link: page.next_link,
        delta_link: page.delta_link,
        ..MappedPage::default()
    };
    for value in &page.value {
        match map_item(value) {
            Ok(GraphItem::Event(event)) => mapped.events.push(*event),
            Ok(GraphItem::SeriesMaster { id }) => mapped.series_masters.push(id),
            Ok(GraphItem::Removed { id }) => mapped.removed.push(id),
            Err(broken) => mapped.broken.push(broken),
        }
    }
    Ok(mapped)
}

/// Maps one item of a collection (or a single event resource).
///
/// # Errors
/// The item with its typed error when it cannot be mapped.
pub fn map_item(value: &Value) -> Result<GraphItem, BrokenItem> {
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let broken = |error: ModelError| BrokenItem {
        id: ItemId::new(if id.is_empty() { "<no id>" } else { &id }),
        error: Some(error),
    };
    let raw: GraphEvent = serde_json::from_value(value.clone()).map_err(|e| {
        broken(ModelError::unparsable(
            "event",
            &value.to_string(),
            e.to_string(),
        ))
    })?;
    if raw.id.is_empty() {
        return Err(broken(ModelError::Missing { field: "id" }));
    }
    if raw.removed.is_some() {
        return Ok(GraphItem::Removed {
            id: ItemId::new(raw.id),
        });
    }
    if raw.is_series_master() {
        return Ok(GraphItem::SeriesMaster {
            id: ItemId::new(raw.id),
        });
    }
    event_from_graph(&raw)
        .map(|e| GraphItem::Event(Box::new(e)))
        .map_err(broken)
}

/// Maps one event resource (JSON) to an [`Event`]; series masters map like single events.
///
/// # Errors
/// The first field that cannot be mapped exactly.
pub fn event_from_json(value: &Value) -> Result<Event, ModelError> {
    let raw: GraphEvent = serde_json::from_value(value.clone())
        .map_err(|e| ModelError::unparsable("event", &value.to_string(), e.to_string()))?;
    event_from_graph(&raw)
}

pub(crate) fn event_from_graph(raw: &GraphEvent) -> Result<Event, ModelError> {
    if raw.id.is_empty() {
        return Err(ModelError::Missing { field: "id" });
    }
    let time = time_from_graph(raw)?;
    let mut event = Event::new(
        raw.id.as_str(),
        raw.subject.clone().unwrap_or_default(),
        time,
    );
    event.location = raw
        .location
        .as_ref()
        .and_then(|l| l.display_name.clone())
        .unwrap_or_default();
    event.body = body_from_graph(raw);
    event.sensitivity = sensitivity_from_graph(raw.sensitivity.as_deref())?;
    event.show_as = show_as_from_graph(raw.show_as.as_deref());
    event.cancelled = raw.is_cancelled.unwrap_or(false);
    event.recurrence = recurrence_from_graph(raw)?;
    event.last_modified = raw
        .last_modified_date_time
        .as_deref()
        .map(|t| parse_instant("lastModifiedDateTime", t))
        .transpose()?;
    event.version = version_of(raw);
    let property = raw
        .single_value_extended_properties
        .iter()
        .flatten()
        .find(|p| is_calbridge_property(&p.id));
    if let Some(value) = property.and_then(|p| p.value.as_deref()) {
        let data = PropertyData::parse(value)?;
        event.link = data.link;
        event.snap_fields = data.snap;
        event.counterpart = data.counterpart;
    }
    event.validate()?;
    Ok(event)
}

/// The version tag: the weak etag as received (what `If-Match` must carry), or one built
/// from `changeKey` the way Graph builds its etags.
fn version_of(raw: &GraphEvent) -> Option<calbridge_model::VersionTag> {
    raw.etag
        .clone()
        .or_else(|| raw.change_key.as_ref().map(|ck| format!("W/\"{ck}\"")))
        .map(calbridge_model::VersionTag::new)
}

fn time_from_graph(raw: &GraphEvent) -> Result<EventTime, ModelError> {
    let start = raw
        .start
        .as_ref()
        .ok_or(ModelError::Missing { field: "start" })?;
    let end = raw
        .end
        .as_ref()
        .ok_or(ModelError::Missing { field: "end" })?;
    let time = if raw.is_all_day.unwrap_or(false) {
        // All-day bounds are floating dates: midnight in whatever zone Graph rendered them
        // in, never converted (Graph does not convert them for `outlook.timezone` either).
        EventTime::all_day(
            midnight_date("start", "start.dateTime", start)?,
            midnight_date("end", "end.dateTime", end)?,
        )
    } else {
        let start_at = instant_of("start.dateTime", "start.timeZone", start)?;
        let end_at = instant_of("end.dateTime", "end.timeZone", end)?;
        let zone = match non_empty(raw.original_start_time_zone.as_deref()) {
            Some(name) => read_zone("originalStartTimeZone", name)?,
            None => read_zone("start.timeZone", &start.time_zone)?,
        };
        if let Some(name) = non_empty(raw.original_end_time_zone.as_deref()) {
            read_zone("originalEndTimeZone", name)?;
        }
        EventTime::Timed {
            start: start_at,
            end: end_at,
            zone: Some(zone),
        }
    };
    time.validate()?;
    Ok(time)
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// Graph's `dateTime`: a naive local time with up to seven fractional digits. An offset or
/// `Z`, which some writers add, is honoured.
///
/// A leap second (`:60`) is refused: Graph never writes one, and chrono would keep it as an
/// instant that no write can spell back (found by the `graph_event` fuzz target).
fn parse_wall(field: &'static str, text: &str) -> Result<WallTime, ModelError> {
    let leap = || ModelError::unparsable(field, text, "a leap second (:60) is not a wall time");
    if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        if naive.nanosecond() >= 1_000_000_000 {
            return Err(leap());
        }
        return Ok(WallTime::Naive(naive));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        if at.nanosecond() >= 1_000_000_000 {
            return Err(leap());
        }
        return Ok(WallTime::Instant(at.with_timezone(&Utc)));
    }
    Err(ModelError::unparsable(
        field,
        text,
        "expected yyyy-mm-ddThh:mm:ss[.fffffff]",
    ))
}

enum WallTime {
    Naive(NaiveDateTime),
    Instant(DateTime<Utc>),
}

fn instant_of(
    field: &'static str,
    zone_field: &'static str,
    value: &DateTimeTimeZone,
) -> Result<DateTime<Utc>, ModelError> {
    match parse_wall(field, &value.date_time)? {
        WallTime::Instant(at) => Ok(at),
        WallTime::Naive(naive) => {
            let zone = read_zone(zone_field, &value.time_zone)?;
            Ok(if zone == Tz::UTC {
                naive.and_utc()
            } else {
                resolve_local(naive, zone)
            })
        }
    }
}

fn midnight_date(
    field: &'static str,
    parse_field: &'static str,
    value: &DateTimeTimeZone,
) -> Result<NaiveDate, ModelError> {
    let naive = match parse_wall(parse_field, &value.date_time)? {
        WallTime::Naive(naive) => naive,
        WallTime::Instant(at) => at.naive_utc(),
    };
    if naive.time() != NaiveTime::MIN {
        return Err(ModelError::AllDayNotWholeDays {
            field,
            value: value.date_time.chars().take(64).collect(),
        });
    }
    Ok(naive.date())
}

fn parse_instant(field: &'static str, text: &str) -> Result<DateTime<Utc>, ModelError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            // Occasionally written without an offset; Graph's instants are UTC.
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").map(|n| n.and_utc())
        })
        .map_err(|e| ModelError::unparsable(field, text, e.to_string()))
}

fn body_from_graph(raw: &GraphEvent) -> Body {
    let Some(body) = &raw.body else {
        return Body::default();
    };
    let content = body.content.clone().unwrap_or_default();
    let is_text = body
        .content_type
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("text"));
    if is_text {
        Body::text(content)
    } else {
        Body::html(content, raw.has_attachments.unwrap_or(false))
    }
}

fn sensitivity_from_graph(value: Option<&str>) -> Result<Sensitivity, ModelError> {
    let Some(value) = value else {
        return Ok(Sensitivity::Normal);
    };
    match value.to_ascii_lowercase().as_str() {
        "normal" => Ok(Sensitivity::Normal),
        "personal" => Ok(Sensitivity::Personal),
        "private" => Ok(Sensitivity::Private),
        "confidential" => Ok(Sensitivity::Confidential),
        // An unknown value could hide a private event: refuse it rather than guess "normal".
        _ => Err(ModelError::unparsable(
            "sensitivity",
            value,
            "expected normal, personal, private or confidential",
        )),
    }
}

fn show_as_from_graph(value: Option<&str>) -> ShowAs {
    match value.map(str::to_ascii_lowercase).as_deref() {
        Some("free") => ShowAs::Free,
        Some("tentative") => ShowAs::Tentative,
        Some("oof") => ShowAs::OutOfOffice,
        Some("workingelsewhere") => ShowAs::WorkingElsewhere,
        // `busy`, `unknown` and values Graph may add later: busy is what Outlook shows.
        _ => ShowAs::Busy,
    }
}

fn recurrence_from_graph(raw: &GraphEvent) -> Result<Option<Recurrence>, ModelError> {
    let in_series = raw.kind.as_deref().is_some_and(|k| {
        k.eq_ignore_ascii_case("occurrence") || k.eq_ignore_ascii_case("exception")
    }) || raw
        .series_master_id
        .as_deref()
        .is_some_and(|s| !s.is_empty());
    if !in_series {
        return Ok(None);
    }
    Ok(Some(Recurrence {
        series_id: raw.series_master_id.clone().unwrap_or_default(),
        original_start: raw
            .original_start
            .as_deref()
            .map(|t| parse_instant("originalStart", t))
            .transpose()?,
    }))
}

mod to_graph;

pub use to_graph::event_to_json;
pub(crate) use to_graph::{Patch, overlay_property, patch_for, property_of};

#[cfg(test)]
mod tests;
