//! Time-zone names between calbridge (IANA, through `chrono-tz`) and Graph (Windows names).
//!
//! Reading goes through [`calbridge_model::resolve_zone`] (the CLDR `windowsZones` table);
//! the CLDR table names some zones by their pre-rename IANA ids (`Asia/Calcutta`,
//! `Asia/Katmandu`), which this module turns into today's names so that a zone written as
//! `Asia/Kolkata` reads back as `Asia/Kolkata`. Writing needs the reverse: the Windows name
//! Graph should store for an IANA zone.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

use chrono::{DateTime, NaiveDate, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use windows_timezones::WindowsTimezone;

use calbridge_model::{ModelError, resolve_zone};

/// Today's IANA name → the name CLDR's `windowsZones` table uses for the same zone.
const RENAMED: &[(&str, &str)] = &[
    ("Asia/Kolkata", "Asia/Calcutta"),
    ("Asia/Kathmandu", "Asia/Katmandu"),
    ("Asia/Yangon", "Asia/Rangoon"),
    ("Asia/Ho_Chi_Minh", "Asia/Saigon"),
    ("Europe/Kyiv", "Europe/Kiev"),
    ("America/Nuuk", "America/Godthab"),
    ("Atlantic/Faroe", "Atlantic/Faeroe"),
    ("Pacific/Chuuk", "Pacific/Truk"),
    ("Pacific/Pohnpei", "Pacific/Ponape"),
    ("Pacific/Kanton", "Pacific/Enderbury"),
    ("America/Argentina/Buenos_Aires", "America/Buenos_Aires"),
    ("America/Indiana/Indianapolis", "America/Indianapolis"),
    ("America/Kentucky/Louisville", "America/Louisville"),
];

/// Names meaning UTC, which Graph calls `UTC`.
const UTC_NAMES: &[&str] = &[
    "UTC",
    "Etc/UTC",
    "Etc/Universal",
    "Etc/Zulu",
    "Universal",
    "Zulu",
    "Etc/UCT",
    "UCT",
];

/// Legacy zone values Graph returns that mean UTC.
const GRAPH_UTC_ALIASES: &[&str] = &["tzone://Microsoft/Utc"];

/// Resolves a zone name Graph returned (`field` names where it came from): Windows or IANA,
/// with CLDR's legacy ids turned into today's. Custom zones (`tzone://Microsoft/Custom`,
/// `Customized Time Zone`) and unknown names are errors.
pub(crate) fn read_zone(field: &'static str, name: &str) -> Result<Tz, ModelError> {
    if GRAPH_UTC_ALIASES
        .iter()
        .any(|alias| alias.eq_ignore_ascii_case(name.trim()))
    {
        return Ok(Tz::UTC);
    }
    let tz = resolve_zone(field, name)?;
    let legacy = tz.name();
    let modern = RENAMED
        .iter()
        .find(|(_, old)| *old == legacy)
        .and_then(|(new, _)| new.parse::<Tz>().ok());
    Ok(modern.unwrap_or(tz))
}

/// The Windows zone name Graph should store for `zone`, when there is one: CLDR's table
/// (every territory), then renamed ids, then a zone with the same offsets over the years
/// calendars are planned in.
pub(crate) fn windows_name(zone: Tz) -> Option<&'static str> {
    if UTC_NAMES.contains(&zone.name()) {
        return Some(WindowsTimezone::Utc.name());
    }
    if let Ok(windows) = WindowsTimezone::try_from(zone) {
        return Some(windows.name());
    }
    if let Some(windows) = RENAMED
        .iter()
        .find(|(new, _)| *new == zone.name())
        .and_then(|(_, old)| old.parse::<Tz>().ok())
        .and_then(|old| WindowsTimezone::try_from(old).ok())
    {
        return Some(windows.name());
    }
    static CACHE: OnceLock<Mutex<HashMap<Tz, Option<&'static str>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(hit) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&zone)
    {
        return *hit;
    }
    let found = equivalent_windows_zone(zone);
    cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(zone, found);
    found
}

/// A Windows zone whose IANA zone has the same UTC offset as `zone` every day of 2024–2035
/// (a zone CLDR lists under another id, or a link the table does not name). Daily samples
/// catch transitions a few days apart; both zones switching on the same day at different
/// hours would slip through, and no real pair of zones does that.
fn equivalent_windows_zone(zone: Tz) -> Option<&'static str> {
    let days = sample_days();
    let offsets: Vec<i32> = days.iter().map(|t| offset(zone, *t)).collect();
    chrono_tz::TZ_VARIANTS.iter().find_map(|candidate| {
        let windows = WindowsTimezone::try_from(*candidate).ok()?;
        days.iter()
            .zip(&offsets)
            .all(|(t, want)| offset(*candidate, *t) == *want)
            .then(|| windows.name())
    })
}

fn sample_days() -> Vec<DateTime<Utc>> {
    let first = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    (0..12 * 366)
        .map(|d| {
            (first + chrono::Duration::days(d))
                .and_hms_opt(12, 0, 0)
                .unwrap_or_default()
                .and_utc()
        })
        .collect()
}

fn offset(zone: Tz, at: DateTime<Utc>) -> i32 {
    zone.offset_from_utc_datetime(&at.naive_utc())
        .fix()
        .local_minus_utc()
}

/// The wall-clock time of `instant` in `zone`, when that wall time names exactly one
/// instant (not in a daylight-saving overlap), so that Graph reads it back exactly.
pub(crate) fn unambiguous_local(zone: Tz, instant: DateTime<Utc>) -> Option<chrono::NaiveDateTime> {
    let local = instant.with_timezone(&zone).naive_local();
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) if t.with_timezone(&Utc) == instant => Some(local),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_in_the_suite_have_windows_names() {
        for (zone, windows) in [
            (chrono_tz::America::Los_Angeles, "Pacific Standard Time"),
            (chrono_tz::Asia::Kolkata, "India Standard Time"),
            (chrono_tz::Asia::Calcutta, "India Standard Time"),
            (chrono_tz::Asia::Kathmandu, "Nepal Standard Time"),
            (chrono_tz::Australia::Lord_Howe, "Lord Howe Standard Time"),
            (chrono_tz::Europe::Zurich, "W. Europe Standard Time"),
            (chrono_tz::Europe::Kyiv, "FLE Standard Time"),
            (chrono_tz::UTC, "UTC"),
            (chrono_tz::Etc::UTC, "UTC"),
        ] {
            assert_eq!(windows_name(zone), Some(windows), "{zone}");
        }
    }

    #[test]
    fn reading_gives_todays_names() {
        assert_eq!(
            read_zone("z", "India Standard Time").unwrap(),
            chrono_tz::Asia::Kolkata
        );
        assert_eq!(
            read_zone("z", "Nepal Standard Time").unwrap(),
            chrono_tz::Asia::Kathmandu
        );
        assert_eq!(
            read_zone("z", "Pacific Standard Time").unwrap(),
            chrono_tz::America::Los_Angeles
        );
        assert_eq!(read_zone("z", "UTC").unwrap(), chrono_tz::UTC);
        assert_eq!(
            read_zone("z", "tzone://Microsoft/Utc").unwrap(),
            chrono_tz::UTC
        );
        for custom in [
            "tzone://Microsoft/Custom",
            "Customized Time Zone",
            "Mars/Base",
        ] {
            assert!(matches!(
                read_zone("originalStartTimeZone", custom),
                Err(ModelError::UnknownTimeZone {
                    field: "originalStartTimeZone",
                    ..
                })
            ));
        }
    }

    #[test]
    fn every_windows_zone_round_trips_through_its_iana_zone() {
        use chrono_tz::{America, Asia, Australia, Europe, Pacific};
        for tz in [
            America::Los_Angeles,
            America::Sao_Paulo,
            America::St_Johns,
            Asia::Kolkata,
            Asia::Kathmandu,
            Asia::Tehran,
            Australia::Lord_Howe,
            Australia::Eucla,
            Europe::London,
            Europe::Kyiv,
            Pacific::Chatham,
            Pacific::Kiritimati,
        ] {
            if let Some(name) = windows_name(tz) {
                let back = read_zone("z", name).unwrap();
                let t = "2027-07-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
                assert_eq!(offset(back, t), offset(tz, t), "{tz} → {name} → {back}");
            }
        }
    }

    #[test]
    fn overlaps_are_not_sent_as_wall_times() {
        let la = chrono_tz::America::Los_Angeles;
        // 2026-11-01 01:30 happens twice in Los Angeles.
        let first = "2026-11-01T08:30:00Z".parse::<DateTime<Utc>>().unwrap();
        assert!(unambiguous_local(la, first).is_none());
        let noon = "2026-11-01T20:00:00Z".parse::<DateTime<Utc>>().unwrap();
        assert!(unambiguous_local(la, noon).is_some());
    }
}
