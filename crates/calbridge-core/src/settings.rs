//! The sync settings a user controls, with their defaults, validation and TOML form.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use calbridge_model::Side;

use crate::schedule::{ScheduleError, SyncMode};

/// Every setting of a calendar pair's sync (DESIGN §1). `Default` gives the documented
/// defaults; [`SyncSettings::from_toml_str`] reads the settings file, refusing unknown keys.
///
/// ```
/// use calbridge_core::SyncSettings;
/// let settings = SyncSettings::from_toml_str("related_only = true\n[range]\npast_days = 7\n").unwrap();
/// assert_eq!(settings.range.past_days, 7);
/// assert_eq!(settings.range.future_days, 365);
/// assert!(settings.related_only);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncSettings {
    /// Which events sync, by date.
    pub range: DateRange,
    /// The six prevent switches.
    pub direction: Direction,
    /// Whether private events are excluded (the default) or included.
    pub private_events: PrivateEvents,
    /// Only events related to a Salesforce record (`WhatId` / `WhoId`) sync.
    pub related_only: bool,
    /// Never overwrite a rich Outlook body (formatting, images, attachments) with Salesforce's
    /// plain text; other fields still update.
    pub preserve_formatting: bool,
    /// What wins when the same field changed on both sides.
    pub conflict_policy: ConflictPolicy,
    /// The mass-delete guard.
    pub delete_guard: DeleteGuard,
    /// Which two calendars are kept in step.
    pub calendars: CalendarPair,
    /// Manual, SnapRecord or automatic.
    pub mode: SyncMode,
    /// The user's IANA time zone, for day boundaries and active hours. `None` means the
    /// machine's local zone, resolved by the engine (the core reads no environment; it treats
    /// `None` as UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<Tz>,
    /// What is reported to the embedding program.
    pub notifications: Notifications,
}

/// The sync range around today, counted in whole days in the user's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DateRange {
    /// Days before today (default 30).
    pub past_days: u32,
    /// Days after today (default 365).
    pub future_days: u32,
}

impl Default for DateRange {
    fn default() -> Self {
        Self {
            past_days: 30,
            future_days: 365,
        }
    }
}

/// The most days a range may reach either way (ten years).
pub const MAX_RANGE_DAYS: u32 = 3650;

/// The prevent switches for writes to one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Prevent {
    /// Never create events on this side.
    pub create: bool,
    /// Never update events on this side.
    pub update: bool,
    /// Never delete events on this side.
    pub delete: bool,
}

impl Prevent {
    /// All three switches on: this side is never written.
    pub const ALL: Self = Self {
        create: true,
        update: true,
        delete: true,
    };
}

/// The kind of a write, as the prevent switches name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteKind {
    /// Creating an event.
    Create,
    /// Updating an event.
    Update,
    /// Deleting an event.
    Delete,
}

/// The six prevent switches: for each side, which writes *to* that side are prevented.
///
/// All off is bidirectional; preventing every write to Outlook makes the sync one-way,
/// Outlook → Salesforce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Direction {
    /// Writes to Outlook that are prevented.
    pub outlook: Prevent,
    /// Writes to Salesforce that are prevented.
    pub salesforce: Prevent,
}

impl Direction {
    /// Both ways, nothing prevented.
    #[must_use]
    pub fn bidirectional() -> Self {
        Self::default()
    }

    /// One way, Outlook → Salesforce: nothing is ever written to Outlook.
    #[must_use]
    pub fn outlook_to_salesforce() -> Self {
        Self {
            outlook: Prevent::ALL,
            salesforce: Prevent::default(),
        }
    }

    /// One way, Salesforce → Outlook: nothing is ever written to Salesforce.
    #[must_use]
    pub fn salesforce_to_outlook() -> Self {
        Self {
            outlook: Prevent::default(),
            salesforce: Prevent::ALL,
        }
    }

    /// The switches for writes to `side`.
    #[must_use]
    pub fn to(&self, side: Side) -> Prevent {
        match side {
            Side::Outlook => self.outlook,
            Side::Salesforce => self.salesforce,
        }
    }

    /// Whether a write of `kind` to `side` is allowed.
    #[must_use]
    pub fn allows(&self, side: Side, kind: WriteKind) -> bool {
        let p = self.to(side);
        match kind {
            WriteKind::Create => !p.create,
            WriteKind::Update => !p.update,
            WriteKind::Delete => !p.delete,
        }
    }
}

/// Whether private events sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivateEvents {
    /// Private events are never written to the other side (default).
    #[default]
    Exclude,
    /// Private events sync like any other, and stay private on the other side.
    Include,
}

/// What wins when the same field changed differently on both sides since the last sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// The side whose event was modified last (ties go to Outlook).
    #[default]
    Newest,
    /// Outlook always wins.
    Outlook,
    /// Salesforce always wins.
    Salesforce,
}

/// The mass-delete guard: a run that would delete more than `max_deletes` events on one side
/// *and* more than `max_percent` % of that side's events in range is held for confirmation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeleteGuard {
    /// Whether the guard is on.
    pub enabled: bool,
    /// Deletes on one side allowed without confirmation, whatever the share.
    pub max_deletes: u32,
    /// Share of a side's events in range (percent) that may be deleted without confirmation.
    pub max_percent: u8,
}

impl Default for DeleteGuard {
    fn default() -> Self {
        Self {
            enabled: true,
            max_deletes: 10,
            max_percent: 20,
        }
    }
}

/// Which Outlook calendar syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutlookCalendar {
    /// The user's primary calendar.
    #[default]
    Primary,
    /// One of the user's own calendars, by Graph id.
    Id {
        /// The calendar id.
        id: String,
    },
    /// One of the user's own calendars, by display name.
    Named {
        /// The calendar's name.
        name: String,
    },
    /// A calendar another user shared with this one.
    Shared {
        /// The owner's address.
        owner: String,
        /// The calendar's name (empty: the owner's primary calendar).
        #[serde(default)]
        name: String,
    },
}

/// The one-to-one calendar pair.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CalendarPair {
    /// The Outlook calendar.
    pub outlook: OutlookCalendar,
    /// The Salesforce user whose events sync (`None`: the authenticated user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub salesforce_owner: Option<String>,
}

/// Which outcomes are reported to the embedding program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Notifications {
    /// Per-item errors and failed runs (default on).
    pub errors: bool,
    /// Conflicts and how they were settled (default off).
    pub conflicts: bool,
    /// A summary of every run (default on).
    pub summary: bool,
}

impl Default for Notifications {
    fn default() -> Self {
        Self {
            errors: true,
            conflicts: false,
            summary: true,
        }
    }
}

/// Why settings could not be read or are not usable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The TOML could not be parsed or holds an unknown key or a value of the wrong type.
    #[error("settings line {line}, column {column}: {message}")]
    Parse {
        /// 1-based line of the problem (0 when unknown).
        line: usize,
        /// 1-based column of the problem (0 when unknown).
        column: usize,
        /// What is wrong, naming the key.
        message: String,
    },
    /// A value is out of range.
    #[error("setting `{setting}`: {message}")]
    Invalid {
        /// The setting's dotted path (`range.past_days`).
        setting: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The schedule is not usable.
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The settings could not be written as TOML.
    #[error("settings cannot be written as TOML: {0}")]
    Serialize(String),
}

impl SyncSettings {
    /// Reads settings from TOML and validates them. Keys left out take their defaults.
    ///
    /// # Errors
    /// [`SettingsError::Parse`] (with line and column) for bad TOML, unknown keys and wrong
    /// types; the errors of [`SyncSettings::validate`] for out-of-range values.
    pub fn from_toml_str(text: &str) -> Result<Self, SettingsError> {
        let settings: Self = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_and_column(text, span.start))
                .unwrap_or((0, 0));
            SettingsError::Parse {
                line,
                column,
                message: e.message().trim().to_owned(),
            }
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// The settings as TOML.
    ///
    /// # Errors
    /// [`SettingsError::Serialize`] (not expected for valid settings).
    pub fn to_toml_string(&self) -> Result<String, SettingsError> {
        toml::to_string(self).map_err(|e| SettingsError::Serialize(e.to_string()))
    }

    /// Checks every value's range.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the setting, or [`SettingsError::Schedule`].
    pub fn validate(&self) -> Result<(), SettingsError> {
        for (setting, days) in [
            ("range.past_days", self.range.past_days),
            ("range.future_days", self.range.future_days),
        ] {
            if days > MAX_RANGE_DAYS {
                return Err(SettingsError::Invalid {
                    setting,
                    message: format!("{days} days is more than the {MAX_RANGE_DAYS} allowed"),
                });
            }
        }
        if self.delete_guard.max_percent > 100 {
            return Err(SettingsError::Invalid {
                setting: "delete_guard.max_percent",
                message: format!(
                    "{} is not a percentage (0–100)",
                    self.delete_guard.max_percent
                ),
            });
        }
        match &self.calendars.outlook {
            OutlookCalendar::Id { id } if id.trim().is_empty() => {
                return Err(SettingsError::Invalid {
                    setting: "calendars.outlook.id",
                    message: "must not be empty".into(),
                });
            }
            OutlookCalendar::Named { name } if name.trim().is_empty() => {
                return Err(SettingsError::Invalid {
                    setting: "calendars.outlook.name",
                    message: "must not be empty".into(),
                });
            }
            OutlookCalendar::Shared { owner, .. } if owner.trim().is_empty() => {
                return Err(SettingsError::Invalid {
                    setting: "calendars.outlook.owner",
                    message: "must not be empty".into(),
                });
            }
            _ => {}
        }
        if let Some(schedule) = self.mode.schedule() {
            schedule.validate()?;
        }
        Ok(())
    }

    /// The zone used for day boundaries: the configured one, else UTC (the engine fills in
    /// the machine's zone before planning).
    #[must_use]
    pub fn zone(&self) -> Tz {
        self.time_zone.unwrap_or(Tz::UTC)
    }

    /// The prevent switches in force: the configured ones, plus — in SnapRecord mode, which
    /// is one-way Outlook → Salesforce — every write to Outlook.
    #[must_use]
    pub fn effective_direction(&self) -> Direction {
        let mut direction = self.direction;
        if self.mode.is_snap_record() {
            direction.outlook = Prevent::ALL;
        }
        direction
    }
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Schedule;

    #[test]
    fn defaults_match_the_design() {
        let s = SyncSettings::default();
        assert_eq!((s.range.past_days, s.range.future_days), (30, 365));
        assert_eq!(s.direction, Direction::bidirectional());
        assert_eq!(s.private_events, PrivateEvents::Exclude);
        assert!(!s.related_only && !s.preserve_formatting);
        assert_eq!(s.conflict_policy, ConflictPolicy::Newest);
        assert_eq!(
            s.delete_guard,
            DeleteGuard {
                enabled: true,
                max_deletes: 10,
                max_percent: 20
            }
        );
        assert_eq!(s.mode, SyncMode::Manual);
        assert_eq!(s.calendars.outlook, OutlookCalendar::Primary);
        assert!(s.notifications.errors && s.notifications.summary && !s.notifications.conflicts);
    }

    #[test]
    fn toml_round_trip_of_every_setting() {
        let s = SyncSettings {
            range: DateRange {
                past_days: 7,
                future_days: 90,
            },
            direction: Direction::outlook_to_salesforce(),
            private_events: PrivateEvents::Include,
            related_only: true,
            preserve_formatting: true,
            conflict_policy: ConflictPolicy::Salesforce,
            delete_guard: DeleteGuard {
                enabled: false,
                max_deletes: 3,
                max_percent: 50,
            },
            calendars: CalendarPair {
                outlook: OutlookCalendar::Shared {
                    owner: "boss@example.com".into(),
                    name: "Team".into(),
                },
                salesforce_owner: Some("005A0000001abcd".into()),
            },
            mode: SyncMode::Auto(Schedule::default()),
            time_zone: Some(chrono_tz::Europe::London),
            notifications: Notifications {
                errors: true,
                conflicts: true,
                summary: false,
            },
        };
        let text = s.to_toml_string().unwrap();
        assert_eq!(SyncSettings::from_toml_str(&text).unwrap(), s, "{text}");
    }

    #[test]
    fn presets_are_the_prevent_switches() {
        let o2s = Direction::outlook_to_salesforce();
        assert!(!o2s.allows(Side::Outlook, WriteKind::Create));
        assert!(!o2s.allows(Side::Outlook, WriteKind::Update));
        assert!(!o2s.allows(Side::Outlook, WriteKind::Delete));
        assert!(o2s.allows(Side::Salesforce, WriteKind::Delete));
        let s2o = Direction::salesforce_to_outlook();
        assert!(!s2o.allows(Side::Salesforce, WriteKind::Create));
        assert!(s2o.allows(Side::Outlook, WriteKind::Update));
    }

    #[test]
    fn unknown_key_is_refused_with_its_name_and_line() {
        let err = SyncSettings::from_toml_str("related_only = true\n\n[range]\npast_dayz = 3\n")
            .unwrap_err();
        match err {
            SettingsError::Parse { line, message, .. } => {
                assert_eq!(line, 4);
                assert!(message.contains("past_dayz"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn wrong_types_and_ranges_are_refused() {
        assert!(matches!(
            SyncSettings::from_toml_str("related_only = \"yes\"").unwrap_err(),
            SettingsError::Parse { line: 1, .. }
        ));
        assert!(matches!(
            SyncSettings::from_toml_str("[range]\nfuture_days = 99999").unwrap_err(),
            SettingsError::Invalid {
                setting: "range.future_days",
                ..
            }
        ));
        assert!(matches!(
            SyncSettings::from_toml_str("[delete_guard]\nmax_percent = 120").unwrap_err(),
            SettingsError::Invalid {
                setting: "delete_guard.max_percent",
                ..
            }
        ));
        assert!(SyncSettings::from_toml_str("time_zone = \"Mars/Base\"").is_err());
        assert!(SyncSettings::from_toml_str("[mode]\nkind = \"auto\"\nevery_minutes = 0").is_err());
    }

    #[test]
    fn snap_record_is_one_way_to_salesforce() {
        let s = SyncSettings {
            mode: SyncMode::SnapRecord,
            ..SyncSettings::default()
        };
        assert_eq!(s.effective_direction().outlook, Prevent::ALL);
        assert_eq!(s.effective_direction().salesforce, Prevent::default());
    }
}
