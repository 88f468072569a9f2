//! When an event happens: timed instants or all-day date ranges, and time-zone names.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::ModelError;

/// When an event happens.
///
/// Timed events are a UTC instant range plus the IANA zone the event was created in (kept so
/// that a copy can be shown in the organiser's zone). All-day events are a range of local
/// dates with an exclusive end: a one-day event on 3 March has `start = 03-03`, `end = 03-04`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventTime {
    /// A timed event.
    Timed {
        /// The first instant.
        start: DateTime<Utc>,
        /// The instant it ends (exclusive).
        end: DateTime<Utc>,
        /// The zone it was created in, when the side knows it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        zone: Option<Tz>,
    },
    /// An all-day event.
    AllDay {
        /// The first day.
        start: NaiveDate,
        /// The day after the last day.
        end: NaiveDate,
    },
}

/// The earliest and latest years calbridge accepts; both vendors' APIs stay well inside.
const MIN_YEAR: i32 = 1700;
const MAX_YEAR: i32 = 9999;

impl EventTime {
    /// A timed event in UTC with no recorded zone.
    #[must_use]
    pub fn timed(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Self::Timed {
            start,
            end,
            zone: None,
        }
    }

    /// An all-day event from `start` up to (not including) `end`.
    #[must_use]
    pub fn all_day(start: NaiveDate, end: NaiveDate) -> Self {
        Self::AllDay { start, end }
    }

    /// Whether this is an all-day event.
    #[must_use]
    pub fn is_all_day(&self) -> bool {
        matches!(self, Self::AllDay { .. })
    }

    /// Checks the bounds: the end after the start, years inside 1700–9999.
    ///
    /// # Errors
    /// [`ModelError::EndBeforeStart`] or [`ModelError::OutOfRange`], naming `time`.
    pub fn validate(&self) -> Result<(), ModelError> {
        match self {
            Self::Timed { start, end, .. } => {
                for t in [start, end] {
                    if !(MIN_YEAR..=MAX_YEAR).contains(&t.year()) {
                        return Err(ModelError::OutOfRange {
                            field: "time",
                            value: t.to_rfc3339(),
                        });
                    }
                }
                if end < start {
                    return Err(ModelError::EndBeforeStart {
                        field: "time",
                        start: start.to_rfc3339(),
                        end: end.to_rfc3339(),
                    });
                }
            }
            Self::AllDay { start, end } => {
                for d in [start, end] {
                    if !(MIN_YEAR..=MAX_YEAR).contains(&d.year()) {
                        return Err(ModelError::OutOfRange {
                            field: "time",
                            value: d.to_string(),
                        });
                    }
                }
                if end <= start {
                    return Err(ModelError::EndBeforeStart {
                        field: "time",
                        start: start.to_string(),
                        end: end.to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The instant range this event covers when its local dates are read in `zone` (for
    /// all-day events) — used to test overlap with a sync window.
    #[must_use]
    pub fn instant_range(&self, zone: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        match self {
            Self::Timed { start, end, .. } => (*start, *end),
            Self::AllDay { start, end } => (start_of_day(*start, zone), start_of_day(*end, zone)),
        }
    }

    /// The same time with sub-second precision dropped and the zone forgotten: what two
    /// sides are compared on.
    #[must_use]
    pub fn canonical(&self) -> Self {
        match self {
            Self::Timed { start, end, .. } => Self::Timed {
                start: truncate_to_second(*start),
                end: truncate_to_second(*end),
                zone: None,
            },
            all_day @ Self::AllDay { .. } => all_day.clone(),
        }
    }
}

/// Drops the sub-second part of an instant.
#[must_use]
pub fn truncate_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// The first instant of `date` in `zone`. When midnight does not exist (a DST gap at
/// midnight, as in some South American zones) it is the first instant after the gap.
#[must_use]
pub fn start_of_day(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    resolve_local(midnight, zone)
}

/// Resolves a local wall-clock time to an instant: the earlier instant in an overlap, and
/// the first instant after the gap when the wall time does not exist.
#[must_use]
pub fn resolve_local(local: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    let mut probe = local;
    // A gap is at most a few hours; step forward a minute at a time, bounded.
    for _ in 0..(24 * 60) {
        if let Some(t) = zone.from_local_datetime(&probe).earliest() {
            return t.with_timezone(&Utc);
        }
        probe += chrono::Duration::minutes(1);
    }
    Utc.from_utc_datetime(&local)
}

/// Resolves a time-zone name as Microsoft Graph or a user may spell it: first as an IANA
/// name (`Europe/Berlin`, `UTC`), then as a Windows name through the CLDR `windowsZones`
/// table (`Pacific Standard Time` → `America/Los_Angeles`).
///
/// Custom zones (`tzone://Microsoft/Custom`, `Customized Time Zone`) and unknown names are a
/// typed error naming `field` — never a silent UTC.
///
/// ```
/// use calbridge_model::resolve_zone;
/// assert_eq!(resolve_zone("start.timeZone", "Pacific Standard Time").unwrap(), chrono_tz::America::Los_Angeles);
/// assert_eq!(resolve_zone("start.timeZone", "Asia/Kathmandu").unwrap(), chrono_tz::Asia::Kathmandu);
/// assert!(resolve_zone("start.timeZone", "tzone://Microsoft/Custom").is_err());
/// ```
///
/// # Errors
/// [`ModelError::UnknownTimeZone`].
pub fn resolve_zone(field: &'static str, name: &str) -> Result<Tz, ModelError> {
    let trimmed = name.trim();
    if let Ok(tz) = trimmed.parse::<Tz>() {
        return Ok(tz);
    }
    if let Ok(windows) = trimmed.parse::<windows_timezones::WindowsTimezone>() {
        return Ok(Tz::from(windows));
    }
    Err(ModelError::UnknownTimeZone {
        field,
        name: name.chars().take(64).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_iana_names_resolve() {
        let cases = [
            ("Pacific Standard Time", "America/Los_Angeles"),
            ("India Standard Time", "Asia/Calcutta"),
            ("Nepal Standard Time", "Asia/Katmandu"),
            ("Lord Howe Standard Time", "Australia/Lord_Howe"),
            ("W. Europe Standard Time", "Europe/Berlin"),
            ("UTC", "UTC"),
            ("Europe/London", "Europe/London"),
        ];
        for (name, iana) in cases {
            let tz = resolve_zone("zone", name).unwrap();
            assert_eq!(tz.name(), iana, "{name}");
        }
    }

    #[test]
    fn custom_and_unknown_zones_are_errors() {
        for name in [
            "tzone://Microsoft/Custom",
            "Customized Time Zone",
            "Mars/Olympus",
            "",
        ] {
            let err = resolve_zone("start.timeZone", name).unwrap_err();
            assert_eq!(err.field(), "start.timeZone");
        }
    }

    #[test]
    fn validation_catches_reversed_and_absurd_bounds() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert!(
            EventTime::timed(t("2026-01-02T10:00:00Z"), t("2026-01-02T09:00:00Z"))
                .validate()
                .is_err()
        );
        assert!(
            EventTime::timed(t("2026-01-02T10:00:00Z"), t("2026-01-02T10:00:00Z"))
                .validate()
                .is_ok()
        );
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert!(
            EventTime::all_day(d("2026-01-02"), d("2026-01-02"))
                .validate()
                .is_err()
        );
        assert!(
            EventTime::all_day(d("2026-01-02"), d("2026-01-03"))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn midnight_in_a_gap_moves_forward() {
        // Santiago springs forward at 00:00 → 01:00 on 2026-09-06.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let start = start_of_day(NaiveDate::from_ymd_opt(2026, 9, 6).unwrap(), tz);
        assert_eq!(start.to_rfc3339(), "2026-09-06T04:00:00+00:00");
    }
}
