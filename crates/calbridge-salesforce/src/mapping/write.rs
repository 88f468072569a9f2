//! Events and changes to records.

use chrono::NaiveTime;
use serde_json::{Map, Value};

use calbridge_model::{
    Body, Event, EventTime, FieldValue, ModelError, SALESFORCE_DESCRIPTION_MAX,
    SALESFORCE_LOCATION_MAX, SALESFORCE_SUBJECT_MAX, SalesforceId, ShowAs, SnapFields,
    html_to_text,
};
use calbridge_provider::ProviderError;

use super::{Mapping, NOT_WHAT, Outgoing, WHO};
use crate::wire::{format_date, format_datetime};

impl Mapping {
    /// The fields of a new record for `event`: every mapped field, the owner, and the
    /// idempotency key in the external-id field when one is configured.
    ///
    /// # Errors
    /// [`ProviderError::InvalidData`] naming the Salesforce field at fault, before anything
    /// is sent.
    pub fn create_fields(
        &self,
        event: &Event,
        owner: Option<&SalesforceId>,
        key: &str,
    ) -> Result<Outgoing, ProviderError> {
        let mut out = Outgoing {
            fields: Map::new(),
            truncated_from: None,
        };
        let mut changes: Vec<FieldValue> = [
            calbridge_model::Field::Subject,
            calbridge_model::Field::Time,
            calbridge_model::Field::Location,
            calbridge_model::Field::Body,
            calbridge_model::Field::ShowAs,
            calbridge_model::Field::Private,
        ]
        .into_iter()
        .map(|f| event.get(f))
        .collect();
        if event.link.is_related() {
            changes.push(FieldValue::Related(event.link.clone()));
        }
        for change in &changes {
            self.put(&mut out, change, true)?;
        }
        self.put_snaps(&mut out, &event.snap_fields, true)?;
        if let Some(owner) = owner {
            out.fields
                .insert("OwnerId".into(), Value::String(owner.to_string()));
        }
        if let Some(ext) = &self.external_id_field {
            out.fields
                .insert(ext.clone(), Value::String(key.to_owned()));
        }
        Ok(out)
    }

    /// The fields an update with `changes` sends (a `Cancelled` change sends nothing).
    ///
    /// # Errors
    /// [`ProviderError::InvalidData`] naming the Salesforce field at fault.
    pub fn update_fields(&self, changes: &[FieldValue]) -> Result<Outgoing, ProviderError> {
        let mut out = Outgoing {
            fields: Map::new(),
            truncated_from: None,
        };
        for change in changes {
            if let FieldValue::SnapFields(snaps) = change {
                self.put_snaps(&mut out, snaps, false)?;
            } else {
                self.put(&mut out, change, false)?;
            }
        }
        Ok(out)
    }

    fn put(
        &self,
        out: &mut Outgoing,
        change: &FieldValue,
        create: bool,
    ) -> Result<(), ProviderError> {
        let f = &mut out.fields;
        match change {
            FieldValue::Subject(s) => {
                f.insert(
                    "Subject".into(),
                    limited("Subject", s, SALESFORCE_SUBJECT_MAX)?,
                );
            }
            FieldValue::Location(s) => {
                f.insert(
                    "Location".into(),
                    limited("Location", s, SALESFORCE_LOCATION_MAX)?,
                );
            }
            FieldValue::Time(t) => write_time(f, t)?,
            FieldValue::Body(body) => {
                let (text, cut) = description(body);
                out.truncated_from = cut;
                out.fields.insert("Description".into(), Value::String(text));
            }
            FieldValue::ShowAs(s) => {
                let value = match s {
                    ShowAs::Free => "Free",
                    ShowAs::OutOfOffice => "OutOfOffice",
                    // No Salesforce value: Busy is the nearest (both block the time).
                    ShowAs::Busy | ShowAs::Tentative | ShowAs::WorkingElsewhere => "Busy",
                };
                f.insert("ShowAs".into(), Value::String(value.into()));
            }
            FieldValue::Private(p) => {
                f.insert("IsPrivate".into(), Value::Bool(*p));
            }
            // Salesforce has no cancelled flag; see the module table.
            FieldValue::Cancelled(_) => {}
            FieldValue::Related(link) => {
                for (name, id, ok) in [
                    ("WhatId", &link.what, what_ok as fn(&str) -> bool),
                    ("WhoId", &link.who, who_ok),
                ] {
                    match id {
                        Some(id) if !ok(id.key_prefix()) => {
                            return Err(ProviderError::InvalidData {
                                field: name.into(),
                                message: format!(
                                    "{id} has key prefix {}, which {name} does not accept",
                                    id.key_prefix()
                                ),
                            });
                        }
                        Some(id) => {
                            f.insert(name.into(), Value::String(id.to_string()));
                        }
                        None if !create => {
                            f.insert(name.into(), Value::Null);
                        }
                        None => {}
                    }
                }
            }
            FieldValue::SnapFields(snaps) => self.put_snaps(out, snaps, create)?,
        }
        Ok(())
    }

    /// Snap fields as given; on update, allowed fields missing from the map are cleared.
    fn put_snaps(
        &self,
        out: &mut Outgoing,
        snaps: &SnapFields,
        create: bool,
    ) -> Result<(), ProviderError> {
        for (name, value) in snaps {
            let Some(allowed) = self
                .snap_fields
                .iter()
                .find(|s| s.eq_ignore_ascii_case(name))
            else {
                return Err(ProviderError::InvalidData {
                    field: name.chars().take(80).collect(),
                    message: "not an allowed snap field".into(),
                });
            };
            out.fields.insert(allowed.clone(), value.clone());
        }
        if !create {
            for allowed in &self.snap_fields {
                if !snaps.keys().any(|k| k.eq_ignore_ascii_case(allowed)) {
                    out.fields.insert(allowed.clone(), Value::Null);
                }
            }
        }
        Ok(())
    }
}

fn what_ok(prefix: &str) -> bool {
    !NOT_WHAT.contains(&prefix)
}

fn who_ok(prefix: &str) -> bool {
    WHO.contains(&prefix)
}

fn limited(field: &str, value: &str, max: usize) -> Result<Value, ProviderError> {
    let len = value.chars().count();
    if len > max {
        return Err(ProviderError::InvalidData {
            field: field.into(),
            message: format!("{len} characters; Salesforce takes at most {max}"),
        });
    }
    Ok(Value::String(value.to_owned()))
}

/// The body as `Description` text, cut to the limit; the original length when cut.
#[must_use]
pub fn description(body: &Body) -> (String, Option<usize>) {
    let text = match body {
        Body::Text { text } => text.clone(),
        Body::Html { html, .. } => html_to_text(html),
    };
    let len = text.chars().count();
    if len <= SALESFORCE_DESCRIPTION_MAX {
        return (text, None);
    }
    let cut: String = text.chars().take(SALESFORCE_DESCRIPTION_MAX).collect();
    (cut, Some(len))
}

fn write_time(f: &mut Map<String, Value>, time: &EventTime) -> Result<(), ProviderError> {
    let invalid = |field: &str, e: ModelError| ProviderError::InvalidData {
        field: field.into(),
        message: e.to_string(),
    };
    match time {
        EventTime::Timed { start, end, .. } => {
            time.validate().map_err(|e| invalid("EndDateTime", e))?;
            // Start and end only: Salesforce derives DurationInMinutes, ActivityDate and
            // ActivityDateTime, and refuses a duration that disagrees.
            f.insert("IsAllDayEvent".into(), Value::Bool(false));
            f.insert(
                "StartDateTime".into(),
                Value::String(format_datetime(*start)),
            );
            f.insert("EndDateTime".into(), Value::String(format_datetime(*end)));
        }
        EventTime::AllDay { start, end } => {
            time.validate()
                .map_err(|e| invalid("DurationInMinutes", e))?;
            let days = (*end - *start).num_days();
            let midnight = start.and_time(NaiveTime::MIN).and_utc();
            f.insert("IsAllDayEvent".into(), Value::Bool(true));
            f.insert("ActivityDate".into(), Value::String(format_date(*start)));
            f.insert(
                "StartDateTime".into(),
                Value::String(format_datetime(midnight)),
            );
            f.insert("DurationInMinutes".into(), Value::from(days * 1440));
        }
    }
    Ok(())
}
