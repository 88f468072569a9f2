//! The sync window: the range of days around today, in the user's zone, that syncs.

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use calbridge_model::{EventTime, start_of_day};

use crate::DateRange;

/// The days that sync: from `first_day` (today minus the past days) up to but not including
/// `end_day` (the day after today plus the future days), in the user's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncWindow {
    /// The first day in range.
    pub first_day: NaiveDate,
    /// The first day after the range.
    pub end_day: NaiveDate,
    /// The first instant in range (midnight of `first_day` in `zone`).
    pub start: DateTime<Utc>,
    /// The first instant after the range.
    pub end: DateTime<Utc>,
    /// The user's zone.
    pub zone: Tz,
}

impl SyncWindow {
    /// The window around `now` for `range`, with day boundaries in `zone`.
    #[must_use]
    pub fn new(range: DateRange, now: DateTime<Utc>, zone: Tz) -> Self {
        let today = now.with_timezone(&zone).date_naive();
        let first_day = today
            .checked_sub_days(Days::new(u64::from(range.past_days)))
            .unwrap_or(NaiveDate::MIN);
        let end_day = today
            .checked_add_days(Days::new(u64::from(range.future_days) + 1))
            .unwrap_or(NaiveDate::MAX);
        Self {
            first_day,
            end_day,
            start: start_of_day(first_day, zone),
            end: start_of_day(end_day, zone),
            zone,
        }
    }

    /// Whether an event with this time overlaps the window. An all-day event overlaps when
    /// one of its days is in range; a timed event when any part of it is (an event of zero
    /// length counts when its start is in range).
    #[must_use]
    pub fn contains(&self, time: &EventTime) -> bool {
        match time {
            EventTime::AllDay { start, end } => *start < self.end_day && *end > self.first_day,
            EventTime::Timed { start, end, .. } => {
                *start < self.end && (*end > self.start || (*start >= self.start && end <= start))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn window_days_are_counted_in_the_users_zone() {
        // 23:30 UTC on 1 March is already 2 March in Sydney.
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 23, 30, 0).unwrap();
        let w = SyncWindow::new(
            DateRange {
                past_days: 1,
                future_days: 1,
            },
            now,
            chrono_tz::Australia::Sydney,
        );
        assert_eq!((w.first_day, w.end_day), (d("2026-03-01"), d("2026-03-04")));
        assert_eq!(w.start.to_rfc3339(), "2026-02-28T13:00:00+00:00");
        let utc = SyncWindow::new(
            DateRange {
                past_days: 1,
                future_days: 1,
            },
            now,
            Tz::UTC,
        );
        assert_eq!(
            (utc.first_day, utc.end_day),
            (d("2026-02-28"), d("2026-03-03"))
        );
    }

    #[test]
    fn boundary_days_are_in_and_outside_days_are_out() {
        let now = Utc.with_ymd_and_hms(2026, 6, 15, 12, 0, 0).unwrap();
        let w = SyncWindow::new(DateRange::default(), now, Tz::UTC);
        assert!(w.contains(&EventTime::all_day(d("2026-05-16"), d("2026-05-17"))));
        assert!(!w.contains(&EventTime::all_day(d("2026-05-15"), d("2026-05-16"))));
        assert!(w.contains(&EventTime::all_day(d("2027-06-15"), d("2027-06-16"))));
        assert!(!w.contains(&EventTime::all_day(d("2027-06-16"), d("2027-06-17"))));
        let at = |h| Utc.with_ymd_and_hms(2026, 5, 16, h, 0, 0).unwrap();
        assert!(w.contains(&EventTime::timed(at(0), at(0))));
        let before = Utc.with_ymd_and_hms(2026, 5, 15, 23, 0, 0).unwrap();
        assert!(!w.contains(&EventTime::timed(before, at(0))));
        assert!(w.contains(&EventTime::timed(before, at(1))));
    }
}
