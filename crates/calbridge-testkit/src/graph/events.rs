//! The stored event (graph.md §1) and how it is rendered back in the shape and zone a
//! request asks for. What a request may write is in `input.rs`.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use super::json::{fmt_local, fmt_offset, fmt_utc, html_to_text, windows_name};
use super::recurrence::Recurrence;

/// What an event is within a series.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Single,
    Master(Box<Recurrence>),
    /// A modified occurrence: keeps the occurrence's id (graph.md §1.3).
    Exception {
        master_id: String,
        original_start: DateTime<Utc>,
    },
}

/// A start or end: the instant plus the zone the client wrote it in.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    pub(crate) utc: DateTime<Utc>,
    pub(crate) zone: String,
    pub(crate) tz: Tz,
}

impl Endpoint {
    pub(crate) fn local(&self) -> NaiveDateTime {
        self.utc.with_timezone(&self.tz).naive_local()
    }
}

/// One stored event (single instance, series master or exception).
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    pub(crate) id: String,
    pub(crate) calendar_id: String,
    pub(crate) kind: Kind,
    pub(crate) start: Endpoint,
    pub(crate) end: Endpoint,
    pub(crate) all_day: bool,
    /// Every other property, already normalised to the output shape.
    pub(crate) props: Map<String, Value>,
    pub(crate) ext: Vec<(String, Value)>,
    pub(crate) created: DateTime<Utc>,
    pub(crate) modified: DateTime<Utc>,
    pub(crate) change_key: String,
    pub(crate) ical_uid: String,
    pub(crate) transaction_id: Option<String>,
    pub(crate) version: u64,
    /// Masters only: original starts of deleted occurrences.
    pub(crate) cancelled: BTreeSet<DateTime<Utc>>,
}

impl StoredEvent {
    pub(crate) fn master_id(&self) -> Option<&str> {
        match &self.kind {
            Kind::Exception { master_id, .. } => Some(master_id),
            _ => None,
        }
    }

    pub(crate) fn recurrence(&self) -> Option<&Recurrence> {
        match &self.kind {
            Kind::Master(r) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn etag(&self) -> String {
        format!("W/\"{}\"", self.change_key)
    }
}

/// The zone a read renders in, and the other output choices of a request.
#[derive(Debug, Clone, Default)]
pub(crate) struct RenderOpts {
    /// `Prefer: outlook.timezone`; UTC when absent.
    pub(crate) tz: Option<(String, Tz)>,
    pub(crate) body_text: bool,
    /// `$expand=singleValueExtendedProperties($filter=id eq '...')`.
    pub(crate) ext_ids: Option<Vec<String>>,
    /// Delta items carry `@odata.type`.
    pub(crate) odata_type: bool,
    /// Test inspection: include every stored extended property.
    pub(crate) all_ext: bool,
}

/// `{"dateTime","timeZone"}` for an instant; all-day events keep their own midnight and
/// only take the label (graph.md §1.8).
pub(crate) fn render_time(
    utc: DateTime<Utc>,
    own_tz: Tz,
    all_day: bool,
    opts: &RenderOpts,
) -> Value {
    let (label, tz) = opts
        .tz
        .clone()
        .unwrap_or_else(|| ("UTC".to_owned(), Tz::UTC));
    let local = if all_day {
        utc.with_timezone(&own_tz).naive_local()
    } else {
        utc.with_timezone(&tz).naive_local()
    };
    json!({"dateTime": fmt_local(local), "timeZone": label})
}

/// Extended property ids compare case-insensitively except for the `Name` part
/// (graph.md §1.9).
pub(crate) fn ext_id_matches(stored: &str, wanted: &str) -> bool {
    match (stored.split_once(" Name "), wanted.split_once(" Name ")) {
        (Some((a, an)), Some((b, bn))) => a.eq_ignore_ascii_case(b) && an == bn,
        _ => stored.eq_ignore_ascii_case(wanted),
    }
}

fn ext_json(ev: &StoredEvent, opts: &RenderOpts) -> Option<Value> {
    let props: Vec<Value> = ev
        .ext
        .iter()
        .filter(|(id, _)| {
            opts.all_ext
                || opts
                    .ext_ids
                    .as_ref()
                    .is_some_and(|w| w.iter().any(|x| ext_id_matches(id, x)))
        })
        .map(|(id, v)| json!({"id": id, "value": v}))
        .collect();
    if opts.ext_ids.is_some() || (opts.all_ext && !props.is_empty()) {
        Some(Value::Array(props))
    } else {
        None
    }
}

fn web_link(id: &str) -> String {
    let enc: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
    format!("https://outlook.office365.com/owa/?itemid={enc}&exvsurl=1&path=/calendar/item")
}

/// Renders a stored event (single, master or exception).
pub(crate) fn render(ev: &StoredEvent, opts: &RenderOpts) -> Map<String, Value> {
    let mut m = Map::new();
    if opts.odata_type {
        m.insert("@odata.type".into(), json!("#microsoft.graph.event"));
    }
    m.insert("@odata.etag".into(), json!(ev.etag()));
    m.insert("id".into(), json!(ev.id));
    m.insert("createdDateTime".into(), json!(fmt_utc(ev.created)));
    m.insert("lastModifiedDateTime".into(), json!(fmt_utc(ev.modified)));
    m.insert("changeKey".into(), json!(ev.change_key));
    m.insert(
        "transactionId".into(),
        ev.transaction_id.as_ref().map_or(Value::Null, |t| json!(t)),
    );
    m.insert(
        "originalStartTimeZone".into(),
        json!(windows_name(&ev.start.zone, ev.start.tz)),
    );
    m.insert(
        "originalEndTimeZone".into(),
        json!(windows_name(&ev.end.zone, ev.end.tz)),
    );
    m.insert("iCalUId".into(), json!(ev.ical_uid));
    m.insert("webLink".into(), json!(web_link(&ev.id)));
    for (k, v) in &ev.props {
        m.insert(k.clone(), v.clone());
    }
    if opts.body_text {
        let text = ev
            .props
            .get("body")
            .and_then(|b| b.get("content"))
            .and_then(Value::as_str)
            .map(html_to_text)
            .unwrap_or_default();
        m.insert(
            "body".into(),
            json!({"contentType": "text", "content": text}),
        );
    }
    m.insert("isAllDay".into(), json!(ev.all_day));
    m.insert(
        "start".into(),
        render_time(ev.start.utc, ev.start.tz, ev.all_day, opts),
    );
    m.insert(
        "end".into(),
        render_time(ev.end.utc, ev.start.tz, ev.all_day, opts),
    );
    let (kind, master, original) = match &ev.kind {
        Kind::Single => ("singleInstance", Value::Null, None),
        Kind::Master(_) => ("seriesMaster", Value::Null, None),
        Kind::Exception {
            master_id,
            original_start,
        } => ("exception", json!(master_id), Some(*original_start)),
    };
    m.insert("type".into(), json!(kind));
    m.insert("seriesMasterId".into(), master);
    if let Some(o) = original {
        m.insert("originalStart".into(), json!(fmt_offset(o)));
    }
    m.insert(
        "recurrence".into(),
        ev.recurrence().map_or(Value::Null, Recurrence::to_json),
    );
    if let Some(ext) = ext_json(ev, opts) {
        m.insert("singleValueExtendedProperties".into(), ext);
    }
    m
}

/// Renders one occurrence of `master` in full (calendarView, GET by occurrence id).
pub(crate) fn render_occurrence(
    master: &StoredEvent,
    original: DateTime<Utc>,
    span: (DateTime<Utc>, DateTime<Utc>),
    opts: &RenderOpts,
) -> Map<String, Value> {
    let mut m = render(
        master,
        &RenderOpts {
            odata_type: false,
            ..opts.clone()
        },
    );
    let id = super::ids::occurrence_id(&master.id, original);
    m.insert("id".into(), json!(id));
    m.insert("webLink".into(), json!(web_link(&id)));
    m.insert(
        "iCalUId".into(),
        json!(super::ids::occurrence_ical_uid(&master.ical_uid, original)),
    );
    m.insert("type".into(), json!("occurrence"));
    m.insert("seriesMasterId".into(), json!(master.id));
    m.insert("originalStart".into(), json!(fmt_offset(original)));
    m.insert("recurrence".into(), Value::Null);
    m.insert(
        "start".into(),
        render_time(span.0, master.start.tz, master.all_day, opts),
    );
    m.insert(
        "end".into(),
        render_time(span.1, master.start.tz, master.all_day, opts),
    );
    if opts.odata_type {
        m.insert("@odata.type".into(), json!("#microsoft.graph.event"));
    }
    m
}

/// The bare occurrence delta returns (graph.md §4.4): type, ids, etag, start and end only.
pub(crate) fn render_bare_occurrence(
    master: &StoredEvent,
    original: DateTime<Utc>,
    span: (DateTime<Utc>, DateTime<Utc>),
    opts: &RenderOpts,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("@odata.type".into(), json!("#microsoft.graph.event"));
    m.insert("@odata.etag".into(), json!(master.etag()));
    m.insert(
        "id".into(),
        json!(super::ids::occurrence_id(&master.id, original)),
    );
    m.insert("seriesMasterId".into(), json!(master.id));
    m.insert("type".into(), json!("occurrence"));
    m.insert(
        "start".into(),
        render_time(span.0, master.start.tz, master.all_day, opts),
    );
    m.insert(
        "end".into(),
        render_time(span.1, master.start.tz, master.all_day, opts),
    );
    m
}
