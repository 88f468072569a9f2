//! Records to events.

use chrono::Duration;
use serde_json::{Map, Value};

use calbridge_model::{
    Body, Event, EventTime, ItemId, ModelError, RecordLink, Recurrence, SalesforceId, Sensitivity,
    ShowAs, VersionTag,
};

use super::{BrokenRecord, Mapping, Row};
use crate::wire::{format_datetime, parse_date, parse_datetime};

impl Mapping {
    /// Maps one record of a query answer.
    ///
    /// # Errors
    /// [`BrokenRecord`] naming the field that does not map.
    pub fn read(&self, record: &Map<String, Value>) -> Result<Row, BrokenRecord> {
        let raw_id = record.get("Id").and_then(Value::as_str).unwrap_or_default();
        let broken = |error| BrokenRecord {
            id: ItemId::new(raw_id),
            error,
        };
        let id = SalesforceId::parse_field("Id", raw_id).map_err(broken)?;
        let id = ItemId::new(id.as_str());
        if flag(record, "IsDeleted").map_err(broken)? {
            return Ok(Row::Deleted(id));
        }
        if flag(record, "IsRecurrence").map_err(broken)? {
            return Ok(Row::SeriesMaster(id));
        }
        let event = self.read_event(id.clone(), record).map_err(broken)?;
        Ok(Row::Event(Box::new(event)))
    }

    fn read_event(&self, id: ItemId, r: &Map<String, Value>) -> Result<Event, ModelError> {
        let time = read_time(r)?;
        time.validate().map_err(|e| match e {
            ModelError::EndBeforeStart { start, end, .. } => ModelError::EndBeforeStart {
                field: "EndDateTime",
                start,
                end,
            },
            other => other,
        })?;
        let mut event = Event::new(id, text(r, "Subject")?.unwrap_or_default(), time);
        event.location = text(r, "Location")?.unwrap_or_default();
        event.body = Body::text(text(r, "Description")?.unwrap_or_default());
        if flag(r, "IsPrivate")? {
            event.sensitivity = Sensitivity::Private;
        }
        event.show_as = match text(r, "ShowAs")?.as_deref() {
            None | Some("Busy") => ShowAs::Busy,
            Some("Free") => ShowAs::Free,
            Some("OutOfOffice") => ShowAs::OutOfOffice,
            Some(other) => {
                return Err(ModelError::unparsable(
                    "ShowAs",
                    other,
                    "Busy, Free or OutOfOffice",
                ));
            }
        };
        event.link = RecordLink {
            what: id_field(r, "WhatId")?,
            who: id_field(r, "WhoId")?,
        };
        for name in &self.snap_fields {
            if let Some((_, value)) = r.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))
                && !value.is_null()
            {
                event.snap_fields.insert(name.clone(), value.clone());
            }
        }
        event.recurrence = id_field(r, "RecurrenceActivityId")?.map(|series| Recurrence {
            series_id: series.to_string(),
            original_start: None,
        });
        event.last_modified = datetime(r, "LastModifiedDate")?;
        // The version is the modstamp re-formatted, so that two spellings of one instant
        // (`+0000` and `Z`) are one version.
        event.version = datetime(r, "SystemModstamp")?.map(|t| VersionTag::new(format_datetime(t)));
        // The rest of the model's rules (a `WhatId` that is a person, a `WhoId` that is not),
        // at the boundary as the Outlook connector checks them: a record that breaks them is
        // broken, never an event the engine would have to catch.
        event.validate()?;
        Ok(event)
    }
}

/// Reads the time fields by the rules of the reference's §1.4.
fn read_time(r: &Map<String, Value>) -> Result<EventTime, ModelError> {
    let duration = int(r, "DurationInMinutes")?;
    if flag(r, "IsAllDayEvent")? {
        let start = match date(r, "ActivityDate")? {
            Some(d) => d,
            None => datetime(r, "StartDateTime")?
                .map(|t| t.date_naive())
                .ok_or(ModelError::Missing {
                    field: "ActivityDate",
                })?,
        };
        // DurationInMinutes = 1440 × days is the canonical span; the inclusive EndDateTime
        // (last day at 00:00 UTC) stands in when it is missing.
        let (days, field) = match (duration, datetime(r, "EndDateTime")?) {
            (Some(d), _) if d > 0 => (d.div_euclid(1440) + i64::from(d % 1440 != 0), DURATION),
            (_, Some(end)) => ((end.date_naive() - start).num_days() + 1, "EndDateTime"),
            _ => (1, DURATION),
        };
        // A duration of a billion years must not overflow the date: it is out of range.
        let end = Duration::try_days(days.max(1))
            .and_then(|span| start.checked_add_signed(span))
            .ok_or_else(|| out_of_range(field, days))?;
        return Ok(EventTime::all_day(start, end));
    }
    let start = datetime(r, "StartDateTime")?.ok_or(ModelError::Missing {
        field: "StartDateTime",
    })?;
    let end = match (datetime(r, "EndDateTime")?, duration) {
        (Some(end), _) => end,
        (None, Some(d)) => Duration::try_minutes(d)
            .and_then(|span| start.checked_add_signed(span))
            .ok_or_else(|| out_of_range(DURATION, d))?,
        (None, None) => {
            return Err(ModelError::Missing {
                field: "EndDateTime",
            });
        }
    };
    Ok(EventTime::timed(start, end))
}

const DURATION: &str = "DurationInMinutes";

fn out_of_range(field: &'static str, value: i64) -> ModelError {
    ModelError::OutOfRange {
        field,
        value: value.to_string(),
    }
}

// ----- typed field readers: null and absent are the same, a wrong type names the field -----

fn value<'a>(r: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    r.get(field).filter(|v| !v.is_null())
}

fn text(r: &Map<String, Value>, field: &'static str) -> Result<Option<String>, ModelError> {
    match value(r, field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ModelError::unparsable(field, &other.to_string(), "text")),
    }
}

fn flag(r: &Map<String, Value>, field: &'static str) -> Result<bool, ModelError> {
    match value(r, field) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(ModelError::unparsable(
            field,
            &other.to_string(),
            "true or false",
        )),
    }
}

fn int(r: &Map<String, Value>, field: &'static str) -> Result<Option<i64>, ModelError> {
    match value(r, field) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 1e12)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or_else(|| ModelError::unparsable(field, &v.to_string(), "a whole number")),
    }
}

fn datetime(
    r: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ModelError> {
    text(r, field)?
        .map(|s| parse_datetime(field, &s))
        .transpose()
}

fn date(
    r: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<chrono::NaiveDate>, ModelError> {
    text(r, field)?.map(|s| parse_date(field, &s)).transpose()
}

fn id_field(
    r: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<SalesforceId>, ModelError> {
    text(r, field)?
        .filter(|s| !s.is_empty())
        .map(|s| SalesforceId::parse_field(field, &s))
        .transpose()
}
