//! What a POST, PATCH or trusted seed may write into an event (graph.md §1.1, §1.2,
//! §1.7–1.9), validated and normalised to the shape Graph returns.

use chrono::{NaiveDateTime, NaiveTime};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use super::events::Endpoint;
use super::json::{ApiError, html_to_text, local_to_utc, parse_local, resolve_zone, text_to_html};

/// Who is writing, which decides what may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A client's POST: writable properties only, unknown names rejected.
    Create,
    /// A client's PATCH: as create, and `transactionId` is refused.
    Patch,
    /// Test setup or a simulated user in Outlook: read-only properties such as
    /// `isCancelled` and `hasAttachments` may be set; unknown names are ignored.
    Trusted,
}

const WRITABLE: &[&str] = &[
    "subject",
    "body",
    "start",
    "end",
    "isAllDay",
    "location",
    "locations",
    "attendees",
    "categories",
    "sensitivity",
    "showAs",
    "importance",
    "isReminderOn",
    "reminderMinutesBeforeStart",
    "responseRequested",
    "recurrence",
    "hideAttendees",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "allowNewTimeProposals",
    "organizer",
    "isDraft",
    "transactionId",
    "singleValueExtendedProperties",
    "multiValueExtendedProperties",
];

/// Known read-only properties: ignored from clients (as Graph does), applied when trusted.
const READ_ONLY: &[&str] = &[
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "iCalUId",
    "bodyPreview",
    "type",
    "seriesMasterId",
    "originalStart",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "webLink",
    "onlineMeetingUrl",
    "onlineMeeting",
    "hasAttachments",
    "isCancelled",
    "isOrganizer",
    "responseStatus",
    "uid",
];

/// A validated set of changes from a request body.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) start: Option<(NaiveDateTime, String, Tz)>,
    pub(crate) end: Option<(NaiveDateTime, String, Tz)>,
    pub(crate) all_day: Option<bool>,
    /// `Some(None)` clears the recurrence.
    pub(crate) recurrence: Option<Option<Value>>,
    pub(crate) props: Map<String, Value>,
    pub(crate) ext: Vec<(String, Value)>,
    pub(crate) transaction_id: Option<String>,
}

fn body_error(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("RequestBodyRead", message)
}

fn enum_value(key: &str, v: &Value, allowed: &[&str]) -> Result<Value, ApiError> {
    let s = v.as_str().ok_or_else(|| {
        body_error(format!(
            "Cannot convert the literal '{v}' to the expected type for '{key}'."
        ))
    })?;
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(s))
        .map(|a| json!(a))
        .ok_or_else(|| body_error(format!("Requested value '{s}' was not found.")))
}

fn parse_time(key: &str, v: &Value) -> Result<(NaiveDateTime, String, Tz), ApiError> {
    let text = v.get("dateTime").and_then(Value::as_str).ok_or_else(|| {
        ApiError::bad_request(
            "ErrorInvalidRequest",
            format!("'{key}.dateTime' is required."),
        )
    })?;
    let zone = v.get("timeZone").and_then(Value::as_str).unwrap_or("UTC");
    // graph.md §12 leaves the exact code open; Exchange reports unknown zones this way.
    let tz = resolve_zone(zone).ok_or_else(|| {
        ApiError::bad_request(
            "TimeZoneNotSupportedException",
            format!("A valid TimeZone value must be specified. The following TimeZone value is not supported: '{zone}'."),
        )
    })?;
    let local = parse_local(text, tz).ok_or_else(|| body_error(format!("Cannot convert the literal '{text}' to the expected type 'Edm.String' for '{key}.dateTime'.")))?;
    Ok((local, zone.to_owned(), tz))
}

fn location_json(v: &Value) -> Result<Value, ApiError> {
    if v.is_null() {
        return Ok(
            json!({"displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": {}, "coordinates": {}}),
        );
    }
    let mut obj = v
        .as_object()
        .cloned()
        .ok_or_else(|| body_error("location must be an object"))?;
    let name = obj
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    obj.insert("displayName".into(), json!(name));
    obj.entry("locationType").or_insert(json!("default"));
    if name.is_empty() {
        obj.entry("uniqueIdType").or_insert(json!("unknown"));
    } else {
        obj.entry("uniqueId").or_insert(json!(name));
        obj.entry("uniqueIdType").or_insert(json!("private"));
    }
    Ok(Value::Object(obj))
}

fn attendees_json(v: &Value) -> Result<Value, ApiError> {
    let list = v
        .as_array()
        .ok_or_else(|| body_error("attendees must be an array"))?;
    if list.len() > 500 {
        return Err(ApiError::bad_request(
            "ErrorInvalidRequest",
            "An event can have at most 500 attendees.",
        ));
    }
    let mut out = Vec::new();
    for a in list {
        let mut obj = a
            .as_object()
            .cloned()
            .ok_or_else(|| body_error("attendee must be an object"))?;
        if !obj.get("emailAddress").is_some_and(Value::is_object) {
            return Err(body_error("attendee.emailAddress is required"));
        }
        let kind = match obj.get("type") {
            Some(t) if !t.is_null() => {
                enum_value("attendee.type", t, &["required", "optional", "resource"])?
            }
            _ => json!("required"),
        };
        obj.insert("type".into(), kind);
        obj.entry("status")
            .or_insert(json!({"response": "none", "time": "0001-01-01T00:00:00Z"}));
        out.push(Value::Object(obj));
    }
    Ok(Value::Array(out))
}

/// Validates a request body into [`Changes`].
pub(crate) fn parse_changes(body: &Value, mode: Mode) -> Result<Changes, ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| body_error("The request body must be a JSON object."))?;
    let mut c = Changes::default();
    for (key, v) in obj {
        if key.starts_with('@') || key.contains("@odata.") {
            continue;
        }
        let trusted = mode == Mode::Trusted;
        if !WRITABLE.contains(&key.as_str()) {
            if READ_ONLY.contains(&key.as_str()) || trusted {
                if trusted {
                    apply_read_only(&mut c, key, v)?;
                }
                continue;
            }
            return Err(body_error(format!(
                "The property '{key}' does not exist on type 'microsoft.graph.event'. Make sure to only use property names that are defined by the type or mark the type as open type."
            )));
        }
        match key.as_str() {
            "start" => c.start = Some(parse_time("start", v)?),
            "end" => c.end = Some(parse_time("end", v)?),
            "isAllDay" => {
                c.all_day = Some(
                    v.as_bool()
                        .ok_or_else(|| body_error("isAllDay must be a boolean"))?,
                )
            }
            "recurrence" => c.recurrence = Some((!v.is_null()).then(|| v.clone())),
            "transactionId" => match mode {
                Mode::Patch => {
                    return Err(ApiError::bad_request(
                        "ErrorInvalidRequest",
                        "The property 'TransactionId' cannot be updated.",
                    ));
                }
                _ => c.transaction_id = v.as_str().map(str::to_owned),
            },
            "subject" => {
                let s = if v.is_null() {
                    ""
                } else {
                    v.as_str()
                        .ok_or_else(|| body_error("subject must be a string"))?
                };
                c.props.insert(key.clone(), json!(s));
            }
            "body" => {
                let kind = match v.get("contentType") {
                    Some(t) if !t.is_null() => {
                        enum_value("body.contentType", t, &["text", "html"])?
                    }
                    _ => json!("text"),
                };
                let content = v.get("content").and_then(Value::as_str).unwrap_or_default();
                let html = if kind == "text" {
                    text_to_html(content)
                } else {
                    content.to_owned()
                };
                c.props.insert(
                    "bodyPreview".into(),
                    json!(html_to_text(&html).chars().take(255).collect::<String>()),
                );
                c.props.insert(
                    "body".into(),
                    json!({"contentType": "html", "content": html}),
                );
            }
            "location" => {
                let loc = location_json(v)?;
                let has_name = loc
                    .get("displayName")
                    .and_then(Value::as_str)
                    .is_some_and(|s| !s.is_empty());
                c.props.insert(
                    "locations".into(),
                    if has_name { json!([loc]) } else { json!([]) },
                );
                c.props.insert("location".into(), loc);
            }
            "locations" => {
                let list = v
                    .as_array()
                    .ok_or_else(|| body_error("locations must be an array"))?;
                let locs = list
                    .iter()
                    .map(location_json)
                    .collect::<Result<Vec<_>, _>>()?;
                c.props.insert(
                    "location".into(),
                    locs.first()
                        .cloned()
                        .unwrap_or(location_json(&Value::Null)?),
                );
                c.props.insert("locations".into(), Value::Array(locs));
            }
            "attendees" => {
                c.props.insert(key.clone(), attendees_json(v)?);
            }
            "categories" => {
                let ok = v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
                if !ok {
                    return Err(body_error("categories must be an array of strings"));
                }
                c.props.insert(key.clone(), v.clone());
            }
            "sensitivity" => {
                c.props.insert(
                    key.clone(),
                    enum_value(key, v, &["normal", "personal", "private", "confidential"])?,
                );
            }
            "showAs" => {
                c.props.insert(
                    key.clone(),
                    enum_value(
                        key,
                        v,
                        &[
                            "free",
                            "tentative",
                            "busy",
                            "oof",
                            "workingElsewhere",
                            "unknown",
                        ],
                    )?,
                );
            }
            "importance" => {
                c.props
                    .insert(key.clone(), enum_value(key, v, &["low", "normal", "high"])?);
            }
            "onlineMeetingProvider" => {
                c.props.insert(
                    key.clone(),
                    enum_value(
                        key,
                        v,
                        &[
                            "unknown",
                            "teamsForBusiness",
                            "skypeForBusiness",
                            "skypeForConsumer",
                        ],
                    )?,
                );
            }
            "reminderMinutesBeforeStart" => {
                let n = v
                    .as_i64()
                    .ok_or_else(|| body_error("reminderMinutesBeforeStart must be an integer"))?;
                c.props.insert(key.clone(), json!(n));
            }
            "singleValueExtendedProperties" => {
                let list = v
                    .as_array()
                    .ok_or_else(|| body_error("singleValueExtendedProperties must be an array"))?;
                for p in list {
                    let id = p
                        .get("id")
                        .and_then(Value::as_str)
                        .ok_or_else(|| body_error("extended property id is required"))?;
                    let value = p.get("value").cloned().unwrap_or(Value::Null);
                    c.ext.push((id.to_owned(), value));
                }
            }
            // Multi-value extended properties are accepted but not stored (no connector uses them).
            "multiValueExtendedProperties" => {}
            "organizer" => {
                if !v.get("emailAddress").is_some_and(Value::is_object) {
                    return Err(body_error("organizer.emailAddress is required"));
                }
                c.props.insert(key.clone(), v.clone());
            }
            _ => {
                let b = v
                    .as_bool()
                    .ok_or_else(|| body_error(format!("{key} must be a boolean")))?;
                c.props.insert(key.clone(), json!(b));
            }
        }
    }
    Ok(c)
}

fn apply_read_only(c: &mut Changes, key: &str, v: &Value) -> Result<(), ApiError> {
    match key {
        "isCancelled" | "hasAttachments" | "isOrganizer" => {
            if let Some(b) = v.as_bool() {
                c.props.insert(key.to_owned(), json!(b));
            }
        }
        "responseStatus" if v.is_object() => {
            c.props.insert(key.to_owned(), v.clone());
        }
        _ => {}
    }
    Ok(())
}

/// Properties every new event starts with (the defaults of the doc examples).
pub(crate) fn default_props(organizer: Value) -> Map<String, Value> {
    let defaults = json!({
        "subject": "", "bodyPreview": "", "body": {"contentType": "html", "content": ""},
        "importance": "normal", "sensitivity": "normal", "showAs": "busy", "isCancelled": false,
        "isOrganizer": true, "responseRequested": true, "isReminderOn": true, "reminderMinutesBeforeStart": 15,
        "hasAttachments": false, "isDraft": false, "hideAttendees": false, "allowNewTimeProposals": true,
        "isOnlineMeeting": false, "onlineMeetingProvider": "unknown", "onlineMeeting": null, "onlineMeetingUrl": null,
        "categories": [], "attendees": [], "locations": [],
        "location": {"displayName": "", "locationType": "default", "uniqueIdType": "unknown", "address": {}, "coordinates": {}},
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "organizer": organizer,
    });
    match defaults {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Resolves start/end into instants and checks the all-day rule (graph.md §1.8) and order.
pub(crate) fn resolve_span(
    start: &(NaiveDateTime, String, Tz),
    end: &(NaiveDateTime, String, Tz),
    all_day: bool,
) -> Result<(Endpoint, Endpoint), ApiError> {
    if all_day {
        let midnight = NaiveTime::MIN;
        if start.0.time() != midnight
            || end.0.time() != midnight
            || start.2 != end.2
            || end.0 <= start.0
        {
            // The exact code is not established (graph.md §12); the status is.
            return Err(ApiError::bad_request(
                "ErrorInvalidRequest",
                "An all-day event must start and end at midnight in the same time zone and last at least one day.",
            ));
        }
    }
    let s = Endpoint {
        utc: local_to_utc(start.2, start.0),
        zone: start.1.clone(),
        tz: start.2,
    };
    let e = Endpoint {
        utc: local_to_utc(end.2, end.0),
        zone: end.1.clone(),
        tz: end.2,
    };
    if e.utc < s.utc {
        return Err(ApiError::bad_request(
            "ErrorInvalidRequest",
            "The end time of the event must be later than or equal to its start time.",
        ));
    }
    Ok((s, e))
}
