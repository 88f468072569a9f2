//! `patternedRecurrence` (graph.md §1.5): validation of what a client sends, the fully
//! populated form Graph returns, and expansion into occurrence dates.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::json::{resolve_zone, windows_name};

/// Upper bound on generated occurrences per expansion: a `noEnd` daily series over a
/// 1825-day window stays well below it, and a runaway loop cannot hang a test.
const MAX_OCCURRENCES: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternType {
    Daily,
    Weekly,
    AbsoluteMonthly,
    RelativeMonthly,
    AbsoluteYearly,
    RelativeYearly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeType {
    EndDate,
    NoEnd,
    Numbered,
}

/// A validated recurrence.
#[derive(Debug, Clone)]
pub(crate) struct Recurrence {
    kind: PatternType,
    interval: u32,
    days: Vec<Weekday>,
    first_day: Weekday,
    /// 0..=3 for first..fourth, 4 for last.
    index: u8,
    day_of_month: u32,
    month: u32,
    range: RangeType,
    pub(crate) start_date: NaiveDate,
    end_date: Option<NaiveDate>,
    count: u32,
    zone_name: String,
    /// Zone of the dates and of the occurrences' wall-clock time.
    pub(crate) tz: Tz,
}

const INDEXES: [&str; 5] = ["first", "second", "third", "fourth", "last"];

fn weekday(name: &str) -> Option<Weekday> {
    name.to_ascii_lowercase().parse::<Weekday>().ok()
}

fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn int_field(v: &Value, key: &str) -> Result<Option<u32>, String> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => x
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("'{key}' must be a non-negative integer")),
    }
}

impl Recurrence {
    /// Validates a client's `recurrence`. Even fields the pattern ignores are validated,
    /// as Graph does. `start_zone` is the event's start zone, used when
    /// `recurrenceTimeZone` is absent.
    pub(crate) fn parse(v: &Value, start_zone: (&str, Tz)) -> Result<Self, String> {
        let pattern = v
            .get("pattern")
            .filter(|p| p.is_object())
            .ok_or("recurrence.pattern is required")?;
        let range = v
            .get("range")
            .filter(|p| p.is_object())
            .ok_or("recurrence.range is required")?;
        let kind = match str_field(pattern, "type")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("daily") => PatternType::Daily,
            Some("weekly") => PatternType::Weekly,
            Some("absolutemonthly") => PatternType::AbsoluteMonthly,
            Some("relativemonthly") => PatternType::RelativeMonthly,
            Some("absoluteyearly") => PatternType::AbsoluteYearly,
            Some("relativeyearly") => PatternType::RelativeYearly,
            other => return Err(format!("invalid recurrence pattern type {other:?}")),
        };
        let interval =
            int_field(pattern, "interval")?.ok_or("recurrence.pattern.interval is required")?;
        if interval == 0 {
            return Err("recurrence.pattern.interval must be at least 1".into());
        }
        let mut days = Vec::new();
        if let Some(list) = pattern.get("daysOfWeek").and_then(Value::as_array) {
            for d in list {
                days.push(
                    d.as_str()
                        .and_then(weekday)
                        .ok_or_else(|| format!("invalid day of week {d}"))?,
                );
            }
        }
        let needs_days = matches!(
            kind,
            PatternType::Weekly | PatternType::RelativeMonthly | PatternType::RelativeYearly
        );
        if needs_days && days.is_empty() {
            return Err("recurrence.pattern.daysOfWeek is required for this pattern type".into());
        }
        let first_day = match str_field(pattern, "firstDayOfWeek") {
            Some(d) => weekday(d).ok_or_else(|| format!("invalid firstDayOfWeek {d}"))?,
            None => Weekday::Sun,
        };
        let index = match str_field(pattern, "index") {
            Some(i) => INDEXES
                .iter()
                .position(|x| x.eq_ignore_ascii_case(i))
                .ok_or_else(|| format!("invalid index {i}"))?,
            None => 0,
        };
        let day_of_month = int_field(pattern, "dayOfMonth")?.unwrap_or(0);
        let month = int_field(pattern, "month")?.unwrap_or(0);
        if day_of_month > 31 || month > 12 {
            return Err("dayOfMonth or month out of range".into());
        }
        if matches!(
            kind,
            PatternType::AbsoluteMonthly | PatternType::AbsoluteYearly
        ) && day_of_month == 0
        {
            return Err("recurrence.pattern.dayOfMonth is required for this pattern type".into());
        }
        if matches!(
            kind,
            PatternType::AbsoluteYearly | PatternType::RelativeYearly
        ) && month == 0
        {
            return Err("recurrence.pattern.month is required for this pattern type".into());
        }
        let range_kind = match str_field(range, "type")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("enddate") => RangeType::EndDate,
            Some("noend") => RangeType::NoEnd,
            Some("numbered") => RangeType::Numbered,
            other => return Err(format!("invalid recurrence range type {other:?}")),
        };
        let date = |key: &str| -> Result<Option<NaiveDate>, String> {
            match str_field(range, key) {
                None => Ok(None),
                Some(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                    .map(Some)
                    .map_err(|_| format!("invalid {key} {s}")),
            }
        };
        let start_date = date("startDate")?.ok_or("recurrence.range.startDate is required")?;
        let end_date = date("endDate")?.filter(|d| *d != NaiveDate::MIN && d.year() > 1);
        let count = int_field(range, "numberOfOccurrences")?.unwrap_or(0);
        match range_kind {
            RangeType::EndDate if end_date.is_none() => {
                return Err("recurrence.range.endDate is required".into());
            }
            RangeType::EndDate if end_date < Some(start_date) => {
                return Err("recurrence.range.endDate is before startDate".into());
            }
            RangeType::Numbered if count == 0 => {
                return Err("recurrence.range.numberOfOccurrences must be positive".into());
            }
            _ => {}
        }
        let (zone_name, tz) = match str_field(range, "recurrenceTimeZone").filter(|s| !s.is_empty())
        {
            Some(name) => (
                name.to_owned(),
                resolve_zone(name)
                    .ok_or_else(|| format!("unsupported recurrenceTimeZone {name}"))?,
            ),
            None => (start_zone.0.to_owned(), start_zone.1),
        };
        Ok(Self {
            kind,
            interval,
            days,
            first_day,
            index: u8::try_from(index).unwrap_or(0),
            day_of_month,
            month,
            range: range_kind,
            start_date,
            end_date: if range_kind == RangeType::EndDate {
                end_date
            } else {
                None
            },
            count: if range_kind == RangeType::Numbered {
                count
            } else {
                0
            },
            zone_name,
            tz,
        })
    }

    /// The fully populated form Graph returns (fixture `event_create_recurring_seriesmaster_201.json`).
    pub(crate) fn to_json(&self) -> Value {
        let kind = match self.kind {
            PatternType::Daily => "daily",
            PatternType::Weekly => "weekly",
            PatternType::AbsoluteMonthly => "absoluteMonthly",
            PatternType::RelativeMonthly => "relativeMonthly",
            PatternType::AbsoluteYearly => "absoluteYearly",
            PatternType::RelativeYearly => "relativeYearly",
        };
        let range = match self.range {
            RangeType::EndDate => "endDate",
            RangeType::NoEnd => "noEnd",
            RangeType::Numbered => "numbered",
        };
        json!({
            "pattern": {
                "type": kind,
                "interval": self.interval,
                "month": self.month,
                "dayOfMonth": self.day_of_month,
                "daysOfWeek": self.days.iter().map(|d| weekday_name(*d)).collect::<Vec<_>>(),
                "firstDayOfWeek": weekday_name(self.first_day),
                "index": INDEXES[usize::from(self.index.min(4))],
            },
            "range": {
                "type": range,
                "startDate": self.start_date.format("%Y-%m-%d").to_string(),
                "endDate": self.end_date.map_or_else(|| "0001-01-01".to_owned(), |d| d.format("%Y-%m-%d").to_string()),
                "recurrenceTimeZone": windows_name(&self.zone_name, self.tz),
                "numberOfOccurrences": self.count,
            }
        })
    }

    /// Occurrence dates from the range start up to and including `until`, honouring the
    /// range's end date or count.
    pub(crate) fn dates(&self, until: NaiveDate) -> Vec<NaiveDate> {
        let last = match self.end_date {
            Some(end) if end < until => end,
            _ => until,
        };
        let mut out = Vec::new();
        let limit = if self.range == RangeType::Numbered {
            self.count as usize
        } else {
            MAX_OCCURRENCES
        };
        let mut period: u32 = 0;
        // Each period (day, week, month, year) yields zero or more candidate dates.
        loop {
            let candidates = self.period_dates(period);
            let Some(first) = candidates
                .first()
                .copied()
                .or_else(|| self.period_anchor(period))
            else {
                break;
            };
            if first > last && candidates.iter().all(|d| *d > last) {
                break;
            }
            for d in candidates {
                if d < self.start_date {
                    continue;
                }
                if d > last || out.len() >= limit {
                    return out;
                }
                out.push(d);
            }
            if out.len() >= limit.min(MAX_OCCURRENCES) {
                break;
            }
            period = match period.checked_add(self.interval) {
                Some(p) => p,
                None => break,
            };
        }
        out
    }

    /// The first day of period `n` (used to stop iterating when a period has no match).
    fn period_anchor(&self, n: u32) -> Option<NaiveDate> {
        let s = self.start_date;
        match self.kind {
            PatternType::Daily => s.checked_add_days(Days::new(u64::from(n))),
            PatternType::Weekly => {
                week_start(s, self.first_day).checked_add_days(Days::new(u64::from(n) * 7))
            }
            PatternType::AbsoluteMonthly | PatternType::RelativeMonthly => {
                s.with_day(1)?.checked_add_months(Months::new(n))
            }
            PatternType::AbsoluteYearly | PatternType::RelativeYearly => {
                NaiveDate::from_ymd_opt(s.year().checked_add(i32::try_from(n).ok()?)?, 1, 1)
            }
        }
    }

    fn period_dates(&self, n: u32) -> Vec<NaiveDate> {
        let Some(anchor) = self.period_anchor(n) else {
            return Vec::new();
        };
        match self.kind {
            PatternType::Daily => vec![anchor],
            PatternType::Weekly => {
                let mut v: Vec<NaiveDate> = (0..7u64)
                    .filter_map(|i| anchor.checked_add_days(Days::new(i)))
                    .filter(|d| self.days.contains(&d.weekday()))
                    .collect();
                v.sort();
                v
            }
            PatternType::AbsoluteMonthly => {
                clamp_day(anchor.year(), anchor.month(), self.day_of_month)
                    .into_iter()
                    .collect()
            }
            PatternType::AbsoluteYearly => clamp_day(anchor.year(), self.month, self.day_of_month)
                .into_iter()
                .collect(),
            PatternType::RelativeMonthly => self
                .relative(anchor.year(), anchor.month())
                .into_iter()
                .collect(),
            PatternType::RelativeYearly => self
                .relative(anchor.year(), self.month)
                .into_iter()
                .collect(),
        }
    }

    /// The `index`-th day of the month that is one of `days` ("first Thursday", "last weekday").
    fn relative(&self, year: i32, month: u32) -> Option<NaiveDate> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let matching: Vec<NaiveDate> = first
            .iter_days()
            .take_while(|d| d.month() == month)
            .filter(|d| self.days.contains(&d.weekday()))
            .collect();
        if self.index == 4 {
            matching.last().copied()
        } else {
            matching.get(usize::from(self.index)).copied()
        }
    }
}

fn week_start(d: NaiveDate, first: Weekday) -> NaiveDate {
    let back = (7 + d.weekday().num_days_from_monday() - first.num_days_from_monday()) % 7;
    d.checked_sub_days(Days::new(u64::from(back))).unwrap_or(d)
}

/// Day `day` of the month, or its last day when the month is shorter (Outlook's rule).
fn clamp_day(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    (1..=day.min(31))
        .rev()
        .find_map(|d| NaiveDate::from_ymd_opt(year, month, d))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn weekly_until_end_date_matches_the_doc_example() {
        let r = Recurrence::parse(
            &json!({"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["Monday"]},
                    "range": {"type": "endDate", "startDate": "2017-09-04", "endDate": "2017-12-31"}}),
            ("Pacific Standard Time", chrono_tz::America::Los_Angeles),
        )
        .unwrap();
        let dates = r.dates(d("2018-06-01"));
        assert_eq!(dates.len(), 17);
        assert_eq!(dates.last().copied(), Some(d("2017-12-25")));
        assert_eq!(
            r.to_json()["range"]["recurrenceTimeZone"],
            "Pacific Standard Time"
        );
    }

    #[test]
    fn other_patterns_expand() {
        let tz = ("UTC", Tz::UTC);
        let numbered = json!({"pattern": {"type": "daily", "interval": 2}, "range": {"type": "numbered", "startDate": "2026-03-01", "numberOfOccurrences": 3}});
        assert_eq!(
            Recurrence::parse(&numbered, tz)
                .unwrap()
                .dates(d("2027-01-01")),
            vec![d("2026-03-01"), d("2026-03-03"), d("2026-03-05")]
        );
        let rel = json!({"pattern": {"type": "relativeMonthly", "interval": 2, "daysOfWeek": ["Thursday"], "index": "first"}, "range": {"type": "noEnd", "startDate": "2017-08-29"}});
        assert_eq!(
            Recurrence::parse(&rel, tz).unwrap().dates(d("2017-12-31")),
            vec![d("2017-10-05"), d("2017-12-07")]
        );
        let biweekly = json!({"pattern": {"type": "weekly", "interval": 2, "daysOfWeek": ["tuesday", "friday"]}, "range": {"type": "endDate", "startDate": "2026-03-04", "endDate": "2026-03-31"}});
        assert_eq!(
            Recurrence::parse(&biweekly, tz)
                .unwrap()
                .dates(d("2026-12-31")),
            vec![
                d("2026-03-06"),
                d("2026-03-17"),
                d("2026-03-20"),
                d("2026-03-31")
            ]
        );
        let monthly = json!({"pattern": {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31}, "range": {"type": "numbered", "startDate": "2026-01-31", "numberOfOccurrences": 3}});
        assert_eq!(
            Recurrence::parse(&monthly, tz)
                .unwrap()
                .dates(d("2027-01-01")),
            vec![d("2026-01-31"), d("2026-02-28"), d("2026-03-31")]
        );
        let bad = json!({"pattern": {"type": "weekly", "interval": 1}, "range": {"type": "noEnd", "startDate": "2026-01-01"}});
        assert!(Recurrence::parse(&bad, tz).is_err());
    }
}
