//! Typed field values and the Salesforce wire formats for dates and times.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

/// A stored field value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Text(String),
    Bool(bool),
    Int(i64),
    Num(f64),
    DateTime(DateTime<Utc>),
    Date(NaiveDate),
}

impl Val {
    /// The JSON Salesforce returns for this value.
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Text(s) => Value::String(s.clone()),
            Self::Bool(b) => Value::Bool(*b),
            Self::Int(i) => Value::from(*i),
            Self::Num(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
            Self::DateTime(t) => Value::String(format_datetime(*t)),
            Self::Date(d) => Value::String(d.format("%Y-%m-%d").to_string()),
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    pub(crate) fn as_datetime(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::DateTime(t) => Some(*t),
            _ => None,
        }
    }

    pub(crate) fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Self::Date(d) => Some(*d),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub(crate) fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub(crate) fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Ordering used by SOQL comparisons and ORDER BY between two non-null values of the same
    /// kind. Text compares case-insensitively, as SOQL does.
    pub(crate) fn compare(&self, other: &Self) -> Option<Ordering> {
        match (self, other) {
            (Self::Text(a), Self::Text(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
            (Self::Bool(a), Self::Bool(b)) => Some(a.cmp(b)),
            (Self::Int(a), Self::Int(b)) => Some(a.cmp(b)),
            (Self::Int(a), Self::Num(b)) => (*a as f64).partial_cmp(b),
            (Self::Num(a), Self::Int(b)) => a.partial_cmp(&(*b as f64)),
            (Self::Num(a), Self::Num(b)) => a.partial_cmp(b),
            (Self::DateTime(a), Self::DateTime(b)) => Some(a.cmp(b)),
            (Self::Date(a), Self::Date(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// `2026-03-01T09:00:00.000+0000`: what Salesforce's REST API emits (millis always, offset
/// without a colon).
pub(crate) fn format_datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// Parses a dateTime as the REST API accepts it: `yyyy-MM-ddTHH:mm:ss[.SSS](Z|+HH:mm|+HHmm)`.
/// A value without an offset is taken as UTC, as Salesforce does (a classic source of shifted
/// meetings, §6.2 of the reference).
pub(crate) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    None
}

/// Parses a date field value. A full dateTime is accepted and converted to its UTC date,
/// reproducing the day shift real orgs show when a client sends a date with an offset.
pub(crate) fn parse_date(s: &str) -> Option<NaiveDate> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d);
    }
    parse_datetime(s).map(|t| t.date_naive())
}

/// Midnight UTC of a date.
pub(crate) fn midnight(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn formats_round_trip() {
        let t = parse_datetime("2002-10-10T12:00:00+05:00").unwrap();
        assert_eq!(format_datetime(t), "2002-10-10T07:00:00.000+0000");
        let u = parse_datetime("2025-09-24T16:00:00.000+0000").unwrap();
        assert_eq!(format_datetime(u), "2025-09-24T16:00:00.000+0000");
        assert_eq!(
            parse_date("2021-03-06T00:00:00+04:00"),
            NaiveDate::from_ymd_opt(2021, 3, 5)
        );
        assert!(parse_datetime("yesterday").is_none());
    }
}
