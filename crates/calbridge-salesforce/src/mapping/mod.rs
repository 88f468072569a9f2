//! `Event` records ↔ canonical [`Event`]s, exactly, both ways.
//!
//! | model | Salesforce |
//! | --- | --- |
//! | timed [`EventTime`](calbridge_model::EventTime) | `StartDateTime` / `EndDateTime` in UTC, `IsAllDayEvent = false` |
//! | all-day [`EventTime`](calbridge_model::EventTime) (exclusive end) | `IsAllDayEvent = true`, `ActivityDate` = first day, `StartDateTime` = its 00:00 UTC, `DurationInMinutes` = 1440 × days (Salesforce keeps an inclusive `EndDateTime`) |
//! | `subject` / `location` | `Subject` / `Location`, at most 255 characters (longer: refused before sending) |
//! | `body` | `Description`, plain text (HTML converted with [`html_to_text`](calbridge_model::html_to_text)), cut to 32,000 characters with a warning |
//! | `sensitivity` private/confidential | `IsPrivate` |
//! | `show_as` | `ShowAs`: `Busy`, `Free`, `OutOfOffice`; `Tentative` and `WorkingElsewhere` have no Salesforce value and are written as `Busy` |
//! | `link` | `WhatId` (not a contact, lead, user, event or task) / `WhoId` (contact `003` or lead `00Q`) |
//! | `snap_fields` | the allowed fields, written as given; null values read as absent |
//! | `cancelled` | not stored (Salesforce has no such field): written nowhere, read as `false`, so what the connector reports holding stays what Salesforce holds |
//! | `recurrence` | `RecurrenceActivityId` of a Classic series occurrence; series masters (`IsRecurrence = true`) are not synced |
//! | `version` / `last_modified` | `SystemModstamp` / `LastModifiedDate` |

mod read;
mod write;

use serde_json::{Map, Value};

use calbridge_model::{Event, ItemId, ModelError};

use crate::error::ConfigError;
use crate::soql::is_api_name;

pub use write::description;

/// The fields every query selects (plus the allowed snap fields and the external-id field).
pub const EVENT_FIELDS: [&str; 19] = [
    "Id",
    "Subject",
    "StartDateTime",
    "EndDateTime",
    "IsAllDayEvent",
    "ActivityDate",
    "DurationInMinutes",
    "IsPrivate",
    "Description",
    "Location",
    "ShowAs",
    "WhatId",
    "WhoId",
    "OwnerId",
    "IsRecurrence",
    "RecurrenceActivityId",
    "IsChild",
    "LastModifiedDate",
    "SystemModstamp",
];

/// Fields calbridge maps itself or Salesforce manages: never snap fields, never the
/// external-id field.
const RESERVED: [&str; 12] = [
    "ActivityDateTime",
    "EndDate",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedById",
    "AccountId",
    "IsGroupEvent",
    "GroupEventType",
    "IsArchived",
    "IsRecurrence2",
    "EventWhoIds",
];

/// Key prefixes a `WhatId` may not have: people (contact, lead, user) and activities.
const NOT_WHAT: [&str; 6] = ["003", "00Q", "005", "00U", "00T", "00D"];
/// Key prefixes a `WhoId` must have: contact, lead.
const WHO: [&str; 2] = ["003", "00Q"];

/// A record as read.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// A mapped event.
    Event(Box<Event>),
    /// The master row of a Classic recurring series: its occurrences sync, it does not.
    SeriesMaster(ItemId),
    /// A deleted record (from `queryAll`).
    Deleted(ItemId),
}

/// A record that exists but does not map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenRecord {
    /// Its id (as sent, when it is not a valid id).
    pub id: ItemId,
    /// What is wrong, naming the field.
    pub error: ModelError,
}

/// A record to send: its fields, and the note of a cut description.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// Field API name → JSON value.
    pub fields: Map<String, Value>,
    /// Characters the description had before it was cut to 32,000, when it was.
    pub truncated_from: Option<usize>,
}

/// Maps records to events and events to records, for one configuration of snap fields and
/// external-id field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    snap_fields: Vec<String>,
    external_id_field: Option<String>,
}

fn check_name(setting: &'static str, name: &str) -> Result<(), ConfigError> {
    let refuse = |reason| ConfigError::FieldName {
        setting,
        name: name.chars().take(64).collect(),
        reason,
    };
    if !is_api_name(name) {
        return Err(refuse("is not a Salesforce field API name"));
    }
    let taken = |f: &&str| f.eq_ignore_ascii_case(name);
    if EVENT_FIELDS.iter().any(taken) || RESERVED.iter().any(taken) {
        return Err(refuse(
            "is mapped by calbridge itself or managed by Salesforce",
        ));
    }
    Ok(())
}

impl Mapping {
    /// A mapping with these allowed snap fields (API names) and optional external-id field.
    ///
    /// # Errors
    /// [`ConfigError::FieldName`] for a name that is not an API name, one calbridge maps
    /// itself, or the external-id field listed as a snap field.
    pub fn new(
        snap_fields: impl IntoIterator<Item = String>,
        external_id_field: Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut snaps: Vec<String> = Vec::new();
        for name in snap_fields {
            check_name("snap_fields", &name)?;
            if !snaps.iter().any(|s| s.eq_ignore_ascii_case(&name)) {
                snaps.push(name);
            }
        }
        if let Some(ext) = &external_id_field {
            check_name("external_id_field", ext)?;
            if snaps.iter().any(|s| s.eq_ignore_ascii_case(ext)) {
                return Err(ConfigError::FieldName {
                    setting: "snap_fields",
                    name: ext.clone(),
                    reason: "is the external-id field, which holds calbridge's keys",
                });
            }
        }
        Ok(Self {
            snap_fields: snaps,
            external_id_field,
        })
    }

    /// The allowed snap fields.
    #[must_use]
    pub fn snap_fields(&self) -> &[String] {
        &self.snap_fields
    }

    /// The external-id field, when configured.
    #[must_use]
    pub fn external_id_field(&self) -> Option<&str> {
        self.external_id_field.as_deref()
    }

    /// Every field a query selects.
    #[must_use]
    pub fn select_fields(&self) -> Vec<String> {
        EVENT_FIELDS
            .iter()
            .map(|f| (*f).to_owned())
            .chain(self.snap_fields.iter().cloned())
            .chain(self.external_id_field.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests;
