//! The Event time rules of the reference's §1.4: how StartDateTime, EndDateTime,
//! DurationInMinutes, ActivityDateTime, ActivityDate and IsAllDayEvent must agree, and what
//! Salesforce derives from what was sent.
//!
//! Errors follow API >= 39.0 placement: on EndDateTime when DurationInMinutes was not
//! supplied, else on DurationInMinutes. Multiday events are assumed enabled (14-day cap).
//! All-day events are stored with an inclusive end: a one-day event has
//! `StartDateTime == EndDateTime` (the day at 00:00 UTC) and `DurationInMinutes = 1440`
//! (widely observed, unconfirmed in the docs; see §1.4 and §8 of the reference).

use std::collections::HashMap;

use chrono::TimeDelta;

use super::errors::SfError;
use super::records::Supplied;
use super::values::{Val, midnight};

/// Longest event: 14 days ("Multiday events can't exceed 14 days").
const MAX_MINUTES: i64 = 14 * 1440;

fn integrity(field: &str, message: &str) -> SfError {
    SfError::new("FIELD_INTEGRITY_EXCEPTION", format!("{field}: {message}")).with_field(field)
}

fn required(field: &str) -> SfError {
    SfError::new(
        "REQUIRED_FIELD_MISSING",
        format!("Required fields are missing: [{field}]"),
    )
    .with_field(field)
}

fn days_for(minutes: i64) -> i64 {
    ((minutes + 1439) / 1440).max(1)
}

/// Validates the time fields of `fields` (the merged record) given what this write supplied,
/// and fills the derived ones. `existing` is the stored record on update, `None` on create.
pub(crate) fn normalize_times(
    fields: &mut HashMap<String, Val>,
    supplied: &Supplied,
    existing: Option<&HashMap<String, Val>>,
) -> Result<(), SfError> {
    let all_day = fields
        .get("IsAllDayEvent")
        .and_then(Val::as_bool)
        .unwrap_or(false);
    let creating = existing.is_none();
    // Some(None) = explicitly nulled in this write; None = not sent.
    let s_start = supplied.get("StartDateTime").map(Val::as_datetime);
    let s_adt = supplied.get("ActivityDateTime").map(Val::as_datetime);
    let s_ad = supplied.get("ActivityDate").map(Val::as_date);
    let s_end = supplied.get("EndDateTime").map(Val::as_datetime);
    let s_dur = supplied.get("DurationInMinutes").map(Val::as_int);
    let old = |name: &str| existing.and_then(|e| e.get(name)).cloned();
    let old_start = old("StartDateTime").and_then(|v| v.as_datetime());
    let old_dur = old("DurationInMinutes").and_then(|v| v.as_int());
    let end_field = if s_dur.flatten().is_some() {
        "DurationInMinutes"
    } else {
        "EndDateTime"
    };

    let (start, end, duration, date, activity_dt) = if all_day {
        let date = match (s_ad.flatten(), s_start.flatten()) {
            (Some(d), Some(s)) if d != s.date_naive() => {
                return Err(integrity(
                    "ActivityDate",
                    "Due Date Only must match the date of Start Date Time",
                ));
            }
            (Some(d), _) => d,
            (None, Some(s)) => s.date_naive(),
            (None, None) => {
                let cleared = s_ad.is_some() || s_start.is_some();
                let stored = old("ActivityDate")
                    .and_then(|v| v.as_date())
                    .or(old_start.map(|s| s.date_naive()));
                match stored {
                    Some(d) if !creating && !cleared => d,
                    _ => return Err(required("ActivityDate")),
                }
            }
        };
        if let Some(Some(a)) = s_adt
            && a != midnight(date)
        {
            return Err(integrity(
                "ActivityDateTime",
                "an all-day event has no Due Date Time; set ActivityDate instead",
            ));
        }
        let day_span = |e: chrono::DateTime<chrono::Utc>| (e.date_naive() - date).num_days() + 1;
        let days = match (s_end.flatten(), s_dur.flatten()) {
            (Some(e), Some(d)) => {
                if d <= 0 || day_span(e) != days_for(d) {
                    return Err(integrity(
                        "DurationInMinutes",
                        "Duration and End Date Time don't agree",
                    ));
                }
                day_span(e)
            }
            (Some(e), None) => {
                if day_span(e) < 1 {
                    return Err(integrity(
                        "EndDateTime",
                        "End Date Time can't be earlier than Start Date Time",
                    ));
                }
                day_span(e)
            }
            (None, Some(d)) => {
                if d <= 0 {
                    return Err(integrity(
                        "DurationInMinutes",
                        "Duration must be a positive number of minutes",
                    ));
                }
                days_for(d)
            }
            // Both null: one day ([OBJ-EVENT] DurationInMinutes); an update keeps its span.
            (None, None) if creating => 1,
            (None, None) => old_dur.map_or(1, days_for),
        };
        if days * 1440 > MAX_MINUTES {
            return Err(integrity(end_field, "Multiday events can't exceed 14 days"));
        }
        let start = midnight(date);
        let end = start + TimeDelta::days(days - 1);
        (start, end, days * 1440, date, Val::Null)
    } else {
        let start = match (s_start.flatten(), s_adt.flatten()) {
            (Some(a), Some(b)) if a != b => {
                return Err(integrity(
                    "ActivityDateTime",
                    "Due Date Time must match Start Date Time",
                ));
            }
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => {
                let cleared = s_start.is_some() || s_adt.is_some();
                match old_start {
                    Some(s) if !creating && !cleared => s,
                    _ => return Err(required("StartDateTime")),
                }
            }
        };
        if let Some(Some(d)) = s_ad
            && d != start.date_naive()
        {
            return Err(integrity(
                "ActivityDate",
                "Due Date Only must match the date of Start Date Time",
            ));
        }
        let (end, duration) = match (s_end.flatten(), s_dur.flatten()) {
            (Some(e), Some(d)) => {
                if (e - start).num_minutes() != d || e < start {
                    return Err(integrity(
                        "DurationInMinutes",
                        "Duration and End Date Time don't agree",
                    ));
                }
                (e, d)
            }
            (Some(e), None) => {
                if e < start {
                    return Err(integrity(
                        "EndDateTime",
                        "End Date Time can't be earlier than Start Date Time",
                    ));
                }
                (e, (e - start).num_minutes())
            }
            (None, Some(d)) => {
                if d < 0 {
                    return Err(integrity(
                        "DurationInMinutes",
                        "Duration must be a non-negative number of minutes",
                    ));
                }
                (start + TimeDelta::minutes(d), d)
            }
            (None, None) => {
                let cleared = s_end.is_some() || s_dur.is_some();
                match old_dur {
                    // Moving the start keeps the duration.
                    Some(d) if !creating && !cleared => (start + TimeDelta::minutes(d), d),
                    _ => return Err(required("EndDateTime")),
                }
            }
        };
        if duration > MAX_MINUTES {
            return Err(integrity(end_field, "Multiday events can't exceed 14 days"));
        }
        (
            start,
            end,
            duration,
            start.date_naive(),
            Val::DateTime(start),
        )
    };
    fields.insert("StartDateTime".to_owned(), Val::DateTime(start));
    fields.insert("EndDateTime".to_owned(), Val::DateTime(end));
    fields.insert("DurationInMinutes".to_owned(), Val::Int(duration));
    fields.insert("ActivityDate".to_owned(), Val::Date(date));
    fields.insert("ActivityDateTime".to_owned(), activity_dt);
    fields.insert("EndDate".to_owned(), Val::Date(end.date_naive()));
    Ok(())
}
