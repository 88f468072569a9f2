//! Schedule arithmetic for auto sync: when runs are due, in the user's time zone.
//!
//! Slots are wall-clock aligned (`active_from + k * every_minutes` on active weekdays) because
//! users think in local times ("every 30 minutes from 08:00"). Each slot is resolved in the zone:
//! a local time inside a DST gap does not exist and is skipped; a local time inside a DST overlap
//! happens twice and yields both instants, so the real spacing between runs stays even.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Local dates searched by [`Schedule::next_run`]: one day back (a local date can start before
/// the UTC date of `now`), today, and eight days ahead (any weekday recurs within that).
const SEARCH_DAYS: usize = 10;

/// A time of day in minutes since midnight, 0..=1440 ("24:00" allowed, meaning end of day).
/// Serde: a "HH:MM" string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u16);

impl TimeOfDay {
    /// Builds a time from hours and minutes; `None` unless `h < 24 && m < 60` or it is 24:00.
    pub const fn from_hm(h: u16, m: u16) -> Option<Self> {
        if (h < 24 && m < 60) || (h == 24 && m == 0) {
            Some(Self(h * 60 + m))
        } else {
            None
        }
    }

    /// Minutes since midnight, 0..=1440.
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl FromStr for TimeOfDay {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || ScheduleError::InvalidTimeOfDay {
            value: s.to_owned(),
        };
        let (h, m) = s.split_once(':').ok_or_else(invalid)?;
        // Checked by hand because `u16::from_str` would also accept "+8" or "008".
        let digits = |p: &str, len: std::ops::RangeInclusive<usize>| {
            len.contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(h, 1..=2) || !digits(m, 2..=2) {
            return Err(invalid());
        }
        let (h, m) = (
            h.parse().map_err(|_| invalid())?,
            m.parse().map_err(|_| invalid())?,
        );
        Self::from_hm(h, m).ok_or_else(invalid)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Days of the week the schedule runs on. Serde: list of lowercase 3-letter names
/// `["mon", "tue", ...]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Weekdays(u8);

/// Names in bit order (bit 0 = Monday), as written in settings files.
const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Weekdays {
    /// Every day of the week.
    pub const fn all() -> Self {
        Self(0b111_1111)
    }

    /// Monday to Friday.
    pub const fn mon_to_fri() -> Self {
        Self(0b001_1111)
    }

    /// Whether `day` is one of the days.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    /// Whether no day is selected (such a schedule never runs and fails validation).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The selected days, Monday first.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        (0..7u8)
            .filter_map(|i| Weekday::try_from(i).ok())
            .filter(move |d| self.contains(*d))
    }
}

impl Default for Weekdays {
    fn default() -> Self {
        Self::mon_to_fri()
    }
}

impl FromIterator<Weekday> for Weekdays {
    fn from_iter<I: IntoIterator<Item = Weekday>>(iter: I) -> Self {
        let bits = iter
            .into_iter()
            .fold(0, |b, d| b | (1 << d.num_days_from_monday()));
        Self(bits)
    }
}

impl Serialize for Weekdays {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names = self
            .iter()
            .map(|d| DAY_NAMES[d.num_days_from_monday() as usize]);
        serializer.collect_seq(names)
    }
}

impl<'de> Deserialize<'de> for Weekdays {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let day = |name: &String| {
            let index = DAY_NAMES.iter().position(|n| n == name);
            index
                .and_then(|i| Weekday::try_from(i as u8).ok())
                .ok_or_else(|| {
                    serde::de::Error::custom(ScheduleError::UnknownWeekday {
                        value: name.clone(),
                    })
                })
        };
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(day)
            .collect()
    }
}

/// A bad schedule setting; each message names the setting and the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// `schedule.active_from` / `schedule.active_until` is not a "HH:MM" time in 00:00..=24:00.
    #[error("schedule time {value:?} is invalid: expected \"HH:MM\" from 00:00 to 24:00")]
    InvalidTimeOfDay {
        /// The text as written.
        value: String,
    },
    /// `schedule.weekdays` holds something other than mon, tue, wed, thu, fri, sat, sun.
    #[error("schedule.weekdays entry {value:?} is invalid: expected one of {DAY_NAMES:?}")]
    UnknownWeekday {
        /// The name as written.
        value: String,
    },
    /// `schedule.every_minutes` is outside 5..=1440.
    #[error(
        "schedule.every_minutes = {value} is out of range: must be {}..={}",
        Schedule::MIN_EVERY_MINUTES,
        Schedule::MAX_EVERY_MINUTES
    )]
    EveryMinutesOutOfRange {
        /// The configured interval.
        value: u32,
    },
    /// `schedule.active_from` is not before `schedule.active_until`.
    #[error("schedule.active_from ({from}) must be before schedule.active_until ({until})")]
    EmptyWindow {
        /// The configured start of the active hours.
        from: TimeOfDay,
        /// The configured end of the active hours.
        until: TimeOfDay,
    },
    /// `schedule.weekdays` is empty.
    #[error("schedule.weekdays is empty: name at least one day")]
    NoWeekdays,
}

/// When auto sync runs: every N minutes inside an active time-of-day window on chosen weekdays,
/// in the user's zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Schedule {
    /// Minutes between slots, 5..=1440, counted from `active_from` each day.
    pub every_minutes: u32,
    /// Local time of the first slot of each active day (inclusive).
    pub active_from: TimeOfDay,
    /// Local time after which no slot starts (exclusive); may be "24:00".
    pub active_until: TimeOfDay,
    /// Days (of the local calendar) on which slots happen.
    pub weekdays: Weekdays,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            every_minutes: 30,
            active_from: TimeOfDay(8 * 60),
            active_until: TimeOfDay(18 * 60),
            weekdays: Weekdays::mon_to_fri(),
        }
    }
}

impl Schedule {
    /// Smallest accepted `every_minutes`; shorter would hammer the calendar servers.
    pub const MIN_EVERY_MINUTES: u32 = 5;
    /// Largest accepted `every_minutes`: one slot a day.
    pub const MAX_EVERY_MINUTES: u32 = 1440;

    /// Checks every setting; the error names the first bad one.
    pub fn validate(&self) -> Result<(), ScheduleError> {
        if !(Self::MIN_EVERY_MINUTES..=Self::MAX_EVERY_MINUTES).contains(&self.every_minutes) {
            return Err(ScheduleError::EveryMinutesOutOfRange {
                value: self.every_minutes,
            });
        }
        if self.active_from >= self.active_until {
            return Err(ScheduleError::EmptyWindow {
                from: self.active_from,
                until: self.active_until,
            });
        }
        if self.weekdays.is_empty() {
            return Err(ScheduleError::NoWeekdays);
        }
        Ok(())
    }

    /// The first run instant strictly after `now`.
    ///
    /// Searches local dates from the day before `now` to eight days after it; `None` if the
    /// schedule is invalid or has no slot there (only possible when every slot of the single
    /// active weekday falls into a DST gap).
    pub fn next_run(&self, zone: Tz, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.validate().ok()?;
        let today = now.with_timezone(&zone).date_naive();
        let mut best: Option<DateTime<Utc>> = None;
        let start = today.pred_opt().unwrap_or(today);
        for date in start.iter_days().take(SEARCH_DAYS) {
            let found_before = best.is_some();
            if let Some(c) = self.slots_on(zone, date).filter(|t| *t > now).min() {
                best = Some(best.map_or(c, |b| b.min(c)));
            }
            // One more date after the first hit, because an overlap crossing local midnight can
            // put a slot of the next date before the last slot of this one.
            if found_before {
                break;
            }
        }
        best
    }

    /// Whether `now` is inside the active hours (local time in zone within [from, until) on an
    /// active weekday).
    pub fn is_active(&self, zone: Tz, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&zone);
        let minute = local.hour() * 60 + local.minute();
        self.weekdays.contains(local.weekday())
            && u32::from(self.active_from.0) <= minute
            && minute < u32::from(self.active_until.0)
    }

    /// The run slots (instants) in `[from, to)`, in order: for tests and previews.
    ///
    /// Empty for an invalid schedule. The result grows with the range, so callers bound it.
    pub fn runs_between(
        &self,
        zone: Tz,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<DateTime<Utc>> {
        if from >= to || self.validate().is_err() {
            return Vec::new();
        }
        // Pad a day each side: an overlap can map a slot of an adjacent local date into range.
        let first = from.with_timezone(&zone).date_naive();
        let last = to.with_timezone(&zone).date_naive();
        let last = last.succ_opt().unwrap_or(last);
        let mut runs: Vec<_> = (first.pred_opt().unwrap_or(first).iter_days())
            .take_while(|d| *d <= last)
            .flat_map(|d| self.slots_on(zone, d))
            .filter(|t| from <= *t && *t < to)
            .collect();
        runs.sort_unstable();
        runs.dedup();
        runs
    }

    /// The instants of the slots on one local date, in local-time order (not necessarily
    /// instant order inside an overlap). Callers must have validated: `every_minutes > 0`.
    fn slots_on(&self, zone: Tz, date: NaiveDate) -> impl Iterator<Item = DateTime<Utc>> {
        let active = self.weekdays.contains(date.weekday());
        let minutes = u32::from(self.active_from.0)..u32::from(self.active_until.0);
        let step = self.every_minutes.max(1) as usize;
        minutes
            .step_by(step)
            .filter(move |_| active)
            .flat_map(move |m| {
                let resolved = date
                    .and_hms_opt(m / 60, m % 60, 0)
                    .map(|l| zone.from_local_datetime(&l));
                let (first, second) = match resolved {
                    Some(LocalResult::Single(t)) => (Some(t), None),
                    Some(LocalResult::Ambiguous(a, b)) => (Some(a), Some(b)),
                    // A DST gap: this wall-clock time never happens on that date.
                    Some(LocalResult::None) | None => (None, None),
                };
                first
                    .into_iter()
                    .chain(second)
                    .map(|t| t.with_timezone(&Utc))
            })
    }
}

/// How syncs are started. Enabling Auto disables SnapRecord by construction (one enum).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SyncMode {
    /// Only when the user asks.
    #[default]
    Manual,
    /// When the user records a snapshot.
    SnapRecord,
    /// On the slots of a schedule.
    Auto(Schedule),
}

impl SyncMode {
    /// The schedule, when the mode is [`SyncMode::Auto`].
    pub fn schedule(&self) -> Option<&Schedule> {
        match self {
            Self::Auto(schedule) => Some(schedule),
            Self::Manual | Self::SnapRecord => None,
        }
    }

    /// Whether the mode is [`SyncMode::SnapRecord`].
    pub fn is_snap_record(&self) -> bool {
        matches!(self, Self::SnapRecord)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, SecondsFormat};
    use chrono_tz::{America, Asia, Australia, Europe};
    use proptest::prelude::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }
    fn rfc(t: DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
    /// `every` minutes from `from` to `until` (minutes since midnight) on all days.
    fn sched(every: u32, from: u16, until: u16) -> Schedule {
        let (active_from, active_until) = (TimeOfDay(from), TimeOfDay(until));
        let weekdays = Weekdays::all();
        Schedule {
            every_minutes: every,
            active_from,
            active_until,
            weekdays,
        }
    }
    /// Every 30 min, 00:00-06:00, all days. `want` is a UTC date then UTC "HH:MM" times: exactly
    /// those runs lie in that range, and chained `next_run` calls walk the same list.
    fn check(zone: Tz, want: &str) {
        let s = sched(30, 0, 6 * 60);
        let mut words = want.split_whitespace();
        let date = words.next().unwrap();
        let want: Vec<_> = words.map(|hm| format!("{date}T{hm}:00Z")).collect();
        let (first, last) = (at(&want[0]), at(&want[want.len() - 1]));
        let runs = s.runs_between(zone, first, last + Duration::seconds(1));
        assert_eq!(runs.into_iter().map(rfc).collect::<Vec<_>>(), want);
        let mut now = first - Duration::seconds(1);
        for w in &want {
            now = s.next_run(zone, now).unwrap();
            assert_eq!(rfc(now), *w);
        }
    }

    #[test]
    fn new_york_spring_forward_skips_gap_slots() {
        // 2026-03-08 02:00 EST (-5) -> 03:00 EDT (-4). 01:00/01:30 EST = 06:00Z/06:30Z; local
        // 02:00 and 02:30 never happen; 03:00/03:30 EDT = 07:00Z/07:30Z.
        check(America::New_York, "2026-03-08 06:00 06:30 07:00 07:30");
    }

    #[test]
    fn new_york_fall_back_runs_both_occurrences() {
        // 2026-11-01 02:00 EDT (-4) -> 01:00 EST (-5). 01:00/01:30 EDT = 05:00Z/05:30Z,
        // 01:00/01:30 EST = 06:00Z/06:30Z, 02:00 EST = 07:00Z.
        let ny = America::New_York;
        check(ny, "2026-11-01 05:00 05:30 06:00 06:30 07:00");
    }

    #[test]
    fn london_spring_forward_and_fall_back() {
        // 2026-03-29 01:00 GMT -> 02:00 BST (+1): 00:30 GMT = 00:30Z, 01:00/01:30 skipped,
        // 02:00 BST = 01:00Z.
        check(Europe::London, "2026-03-29 00:30 01:00 01:30");
        // 2026-10-25 02:00 BST -> 01:00 GMT: 01:00/01:30 BST = 00:00Z/00:30Z, 01:00/01:30 GMT =
        // 01:00Z/01:30Z, 02:00 GMT = 02:00Z.
        check(Europe::London, "2026-10-25 00:00 00:30 01:00 01:30 02:00");
    }

    #[test]
    fn lord_howe_half_hour_shift() {
        // 2026-10-04 02:00 +10:30 -> 02:30 +11:00 (local dates are a day ahead of UTC here):
        // 01:00/01:30 +10:30 = 10-03 14:30Z/15:00Z, 02:00 skipped, 02:30/03:00 +11 = 15:30Z/16:00Z.
        let lh = Australia::Lord_Howe;
        check(lh, "2026-10-03 14:30 15:00 15:30 16:00");
        // 2026-04-05 02:00 +11:00 -> 01:30 +10:30: 01:00/01:30 +11 = 04-04 14:00Z/14:30Z,
        // 01:30 again at +10:30 = 15:00Z, 02:00 +10:30 = 15:30Z.
        check(lh, "2026-04-04 14:00 14:30 15:00 15:30");
    }

    #[test]
    fn outside_active_hours_waits_for_monday() {
        // June 2026: New York is on EDT (-4); Friday 2026-06-05 18:05 local = 22:05Z.
        let (s, ny) = (Schedule::default(), America::New_York);
        let next = s.next_run(ny, at("2026-06-05T22:05:00Z")).unwrap();
        assert_eq!(rfc(next), "2026-06-08T12:00:00Z"); // Monday 08:00 EDT
        assert!(!s.is_active(ny, at("2026-06-05T22:00:00Z"))); // Friday 18:00
        assert!(s.is_active(ny, at("2026-06-05T21:59:00Z"))); // Friday 17:59
        assert!(s.is_active(ny, at("2026-06-08T12:00:00Z"))); // Monday 08:00
        assert!(!s.is_active(ny, at("2026-06-06T14:00:00Z"))); // Saturday 10:00
    }

    #[test]
    fn interval_not_dividing_the_window() {
        let (s, day) = (sched(45, 8 * 60, 10 * 60), at("2026-05-04T00:00:00Z"));
        let runs = s.runs_between(Tz::UTC, day, day + Duration::days(1));
        let runs: Vec<_> = runs.into_iter().map(rfc).collect();
        assert_eq!(
            runs.join(" "),
            "2026-05-04T08:00:00Z 2026-05-04T08:45:00Z 2026-05-04T09:30:00Z"
        );
    }

    #[test]
    fn validation_names_the_setting() {
        let d = Schedule::default();
        assert_eq!(d.validate(), Ok(()));
        let err = |edit: &dyn Fn(&mut Schedule)| {
            let mut s = d.clone();
            edit(&mut s);
            s.validate().unwrap_err().to_string()
        };
        let e = err(&|s| s.every_minutes = 0);
        assert!(e.starts_with("schedule.every_minutes = 0 "), "{e}");
        let e = err(&|s| s.every_minutes = 2000);
        assert!(e.starts_with("schedule.every_minutes = 2000 "), "{e}");
        let e = err(&|s| s.active_from = s.active_until);
        assert!(e.starts_with("schedule.active_from (18:00)"), "{e}");
        let e = err(&|s| s.weekdays = Weekdays::from_iter([]));
        assert!(e.starts_with("schedule.weekdays is empty"), "{e}");
        for bad in ["25:00", "8h", "24:01", "+8:00", "08:0"] {
            let e = bad.parse::<TimeOfDay>().unwrap_err();
            assert_eq!(e, ScheduleError::InvalidTimeOfDay { value: bad.into() });
        }
        assert_eq!("24:00".parse::<TimeOfDay>().unwrap().minutes(), 1440);
        assert_eq!(TimeOfDay::from_hm(7, 5).unwrap().to_string(), "07:05");
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Settings {
        mode: SyncMode,
    }

    #[test]
    fn mode_toml_round_trip() {
        let parse = |text: &str| toml::from_str::<Settings>(text);
        let auto = parse(concat!(
            "[mode]\nkind = \"auto\"\nevery_minutes = 15\nactive_from = \"07:30\"\n",
            "active_until = \"24:00\"\nweekdays = [\"sun\", \"mon\"]\n"
        ));
        let mut want = sched(15, 7 * 60 + 30, 24 * 60);
        want.weekdays = [Weekday::Mon, Weekday::Sun].into_iter().collect();
        let auto = auto.unwrap();
        assert_eq!(auto.mode.schedule(), Some(&want));
        let manual = parse("[mode]\nkind = \"manual\"\n").unwrap();
        assert_eq!(manual.mode, SyncMode::Manual);
        let snap = parse("[mode]\nkind = \"snap_record\"\n").unwrap();
        assert!(snap.mode.is_snap_record() && !manual.mode.is_snap_record());
        for s in [auto, manual, snap] {
            assert_eq!(parse(&toml::to_string(&s).unwrap()).unwrap(), s);
        }
        // Omitted fields take the defaults; misspelt fields and unknown days are rejected.
        let partial = parse("[mode]\nkind = \"auto\"\nevery_minutes = 10\n").unwrap();
        let want = Schedule {
            every_minutes: 10,
            ..Schedule::default()
        };
        assert_eq!(partial.mode, SyncMode::Auto(want));
        assert!(parse("[mode]\nkind = \"auto\"\nevry_minutes = 10\n").is_err());
        assert!(parse("[mode]\nkind = \"auto\"\nweekdays = [\"monday\"]\n").is_err());
    }

    const ZONES: [Tz; 6] = [
        Australia::Lord_Howe,
        Asia::Kathmandu,
        America::New_York,
        Europe::London,
        America::Santiago,
        Tz::UTC,
    ];
    prop_compose! {
        fn any_schedule()(from in 0u16..1440)(
            from in Just(from), until in from + 1..=1440, every in 5u32..=1440, days in 1u8..=127,
        ) -> Schedule {
            let (active_from, active_until) = (TimeOfDay(from), TimeOfDay(until));
            Schedule { every_minutes: every, active_from, active_until, weekdays: Weekdays(days) }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn next_run_is_the_next_slot(
            zone in 0..ZONES.len(), secs in 1_767_225_600i64..1_830_297_600, s in any_schedule(),
        ) {
            // secs spans 2026-01-01T00:00Z..2028-01-01T00:00Z.
            let (zone, now) = (ZONES[zone], DateTime::from_timestamp(secs, 0).unwrap());
            let next = s.next_run(zone, now).unwrap();
            prop_assert!(next > now && next - now <= Duration::days(8));
            let local = next.with_timezone(&zone);
            let (minute, from) = (local.hour() * 60 + local.minute(), u32::from(s.active_from.0));
            prop_assert!(s.weekdays.contains(local.weekday()) && local.second() == 0);
            prop_assert!(from <= minute && minute < u32::from(s.active_until.0));
            prop_assert_eq!((minute - from) % s.every_minutes, 0);
            prop_assert!(s.runs_between(zone, now, next).iter().all(|r| *r <= now));
            let through_next = s.runs_between(zone, now, next + Duration::seconds(1));
            prop_assert_eq!(through_next.last(), Some(&next));
        }
    }
}
