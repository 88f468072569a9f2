//! Graph's JSON as it travels: the event resource, collections with their paging links,
//! calendars and `$batch` envelopes.
//!
//! Everything an event may lack is optional: delta pages carry bare occurrences (id, type,
//! start, end), `$select` trims the rest, and the fixtures in Microsoft's docs omit fields
//! freely. Dates stay strings here so that one bad value fails one item in `mapping`, not a
//! whole page in serde.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A page of a collection. Items stay raw JSON: each is mapped on its own so that one
/// malformed item is reported, not fatal to its page.
#[derive(Debug, Deserialize)]
pub(crate) struct Page {
    #[serde(default)]
    pub(crate) value: Vec<Value>,
    #[serde(rename = "@odata.nextLink", default)]
    pub(crate) next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink", default)]
    pub(crate) delta_link: Option<String>,
}

/// `dateTimeTimeZone`: a naive local time and the zone it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DateTimeTimeZone {
    pub(crate) date_time: String,
    pub(crate) time_zone: String,
}

/// `itemBody`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ItemBody {
    #[serde(default)]
    pub(crate) content_type: Option<String>,
    #[serde(default)]
    pub(crate) content: Option<String>,
}

/// The part of `location` calbridge syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Location {
    #[serde(default)]
    pub(crate) display_name: Option<String>,
}

/// One `singleValueLegacyExtendedProperty`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExtendedProperty {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) value: Option<String>,
}

/// `@removed` on a delta item.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Removed {
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "kept for debugging output; every reason is confirmed by id"
    )]
    pub(crate) reason: Option<String>,
}

/// The event resource, as far as calbridge reads it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphEvent {
    pub(crate) id: String,
    #[serde(rename = "@odata.etag", default)]
    pub(crate) etag: Option<String>,
    #[serde(default)]
    pub(crate) change_key: Option<String>,
    #[serde(default)]
    pub(crate) subject: Option<String>,
    #[serde(default)]
    pub(crate) body: Option<ItemBody>,
    #[serde(default)]
    pub(crate) start: Option<DateTimeTimeZone>,
    #[serde(default)]
    pub(crate) end: Option<DateTimeTimeZone>,
    #[serde(default)]
    pub(crate) original_start_time_zone: Option<String>,
    #[serde(default)]
    pub(crate) original_end_time_zone: Option<String>,
    #[serde(default)]
    pub(crate) is_all_day: Option<bool>,
    #[serde(default)]
    pub(crate) is_cancelled: Option<bool>,
    #[serde(default)]
    pub(crate) sensitivity: Option<String>,
    #[serde(default)]
    pub(crate) show_as: Option<String>,
    #[serde(default)]
    pub(crate) location: Option<Location>,
    #[serde(rename = "type", default)]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) series_master_id: Option<String>,
    #[serde(default)]
    pub(crate) original_start: Option<String>,
    #[serde(default)]
    pub(crate) last_modified_date_time: Option<String>,
    #[serde(default)]
    pub(crate) has_attachments: Option<bool>,
    #[serde(default)]
    pub(crate) single_value_extended_properties: Option<Vec<ExtendedProperty>>,
    #[serde(rename = "@removed", default)]
    pub(crate) removed: Option<Removed>,
}

impl GraphEvent {
    /// Whether this item is a recurring series' master (synced through its occurrences).
    pub(crate) fn is_series_master(&self) -> bool {
        self.kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("seriesMaster"))
    }
}

/// The `$select` of every event read: only the fields the mapping uses.
pub(crate) const EVENT_SELECT: &str = "id,subject,body,start,end,originalStartTimeZone,\
originalEndTimeZone,isAllDay,isCancelled,sensitivity,showAs,location,type,seriesMasterId,\
originalStart,lastModifiedDateTime,changeKey,hasAttachments,transactionId";

/// A calendar's owner.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct EmailAddress {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) address: Option<String>,
}

/// The calendar resource, as far as calbridge reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GraphCalendar {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) can_edit: Option<bool>,
    #[serde(default)]
    pub(crate) is_default_calendar: Option<bool>,
    #[serde(default)]
    pub(crate) owner: Option<EmailAddress>,
}

/// One request of a `$batch`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BatchRequest {
    pub(crate) id: String,
    pub(crate) method: &'static str,
    /// Relative to the version root (`/me/events/...`).
    pub(crate) url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<Value>,
}

/// The `$batch` request body.
#[derive(Debug, Serialize)]
pub(crate) struct BatchBody<'a> {
    pub(crate) requests: &'a [BatchRequest],
}

/// One answer of a `$batch`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BatchResponse {
    pub(crate) id: String,
    pub(crate) status: u16,
    #[serde(default)]
    pub(crate) headers: BTreeMap<String, Value>,
    #[serde(default)]
    pub(crate) body: Option<Value>,
}

/// The `$batch` response body.
#[derive(Debug, Deserialize)]
pub(crate) struct BatchAnswer {
    #[serde(default)]
    pub(crate) responses: Vec<BatchResponse>,
}
