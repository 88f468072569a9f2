//! The canonical, provider-neutral event and its synced fields.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{Body, EventTime, ItemId, ModelError, SalesforceId, Side, VersionTag};

/// Who may see an event's details.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    /// Visible as usual.
    #[default]
    Normal,
    /// Marked personal (Outlook); still synced.
    Personal,
    /// Private (Outlook `private`, Salesforce `IsPrivate`).
    Private,
    /// Confidential (Outlook); treated as private.
    Confidential,
}

impl Sensitivity {
    /// Whether calbridge treats this as a private event.
    #[must_use]
    pub fn is_private(self) -> bool {
        matches!(self, Self::Private | Self::Confidential)
    }
}

/// How the event shows on the owner's free/busy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShowAs {
    /// Free.
    Free,
    /// Tentative.
    Tentative,
    /// Busy.
    #[default]
    Busy,
    /// Out of office.
    OutOfOffice,
    /// Working elsewhere.
    WorkingElsewhere,
}

/// The Salesforce records an event relates to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordLink {
    /// `WhatId`: an account, opportunity, case… (not a person).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what: Option<SalesforceId>,
    /// `WhoId`: a contact or a lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<SalesforceId>,
}

impl RecordLink {
    /// Whether the event relates to any record.
    #[must_use]
    pub fn is_related(&self) -> bool {
        self.what.is_some() || self.who.is_some()
    }
}

/// Facts about a recurring series this event belongs to. Series sync as their occurrences;
/// these facts are kept for reports and for the connectors, never written across.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    /// The series the occurrence belongs to (Graph `seriesMasterId`, Salesforce
    /// `RecurrenceActivityId`).
    pub series_id: String,
    /// The occurrence's original start, when it was moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_start: Option<DateTime<Utc>>,
}

/// Extra Salesforce fields set on an event: API name → JSON value.
pub type SnapFields = BTreeMap<String, serde_json::Value>;

/// A calendar event in calbridge's canonical, provider-neutral form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The id on the side it was read from.
    pub id: ItemId,
    /// The id of its copy on the other side, when this side stores it (Outlook keeps it in
    /// calbridge's extended property). Used only to re-pair after lost state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterpart: Option<ItemId>,
    /// Subject (title).
    pub subject: String,
    /// When it happens.
    pub time: EventTime,
    /// Location as free text.
    #[serde(default)]
    pub location: String,
    /// Body.
    #[serde(default)]
    pub body: Body,
    /// Sensitivity.
    #[serde(default)]
    pub sensitivity: Sensitivity,
    /// Free/busy status.
    #[serde(default)]
    pub show_as: ShowAs,
    /// Cancelled meeting (Outlook `isCancelled`).
    #[serde(default)]
    pub cancelled: bool,
    /// Related Salesforce records.
    #[serde(default)]
    pub link: RecordLink,
    /// Extra Salesforce fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub snap_fields: SnapFields,
    /// Recurrence facts, for occurrences of a series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<Recurrence>,
    /// When the side last changed it (informational; only breaks ties under the "newest"
    /// conflict policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<DateTime<Utc>>,
    /// The side's version tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionTag>,
}

/// Salesforce's limit on `Subject`.
pub const SALESFORCE_SUBJECT_MAX: usize = 255;
/// Salesforce's limit on `Location`.
pub const SALESFORCE_LOCATION_MAX: usize = 255;
/// Salesforce's limit on `Description`.
pub const SALESFORCE_DESCRIPTION_MAX: usize = 32_000;
/// Graph's practical limit on `subject`.
pub const OUTLOOK_SUBJECT_MAX: usize = 255;

/// The event key prefixes a `WhatId` may not have (people belong in `WhoId`).
const WHO_PREFIXES: [&str; 2] = ["003", "00Q"];

impl Event {
    /// A new event with the given id, subject and time and every other field empty.
    #[must_use]
    pub fn new(id: impl Into<ItemId>, subject: impl Into<String>, time: EventTime) -> Self {
        Self {
            id: id.into(),
            counterpart: None,
            subject: subject.into(),
            time,
            location: String::new(),
            body: Body::default(),
            sensitivity: Sensitivity::Normal,
            show_as: ShowAs::Busy,
            cancelled: false,
            link: RecordLink::default(),
            snap_fields: SnapFields::new(),
            recurrence: None,
            last_modified: None,
            version: None,
        }
    }

    /// Whether the event is private (excluded from sync by default).
    #[must_use]
    pub fn is_private(&self) -> bool {
        self.sensitivity.is_private()
    }

    /// Checks what holds whatever the side: a non-empty id, sane times, a `WhatId` that is
    /// not a person and a `WhoId` that is one.
    ///
    /// # Errors
    /// The first problem found, naming its field.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.id.as_str().is_empty() {
            return Err(ModelError::Missing { field: "id" });
        }
        self.time.validate()?;
        if let Some(what) = &self.link.what
            && WHO_PREFIXES.contains(&what.key_prefix())
        {
            return Err(ModelError::WrongKeyPrefix {
                field: "WhatId",
                value: what.to_string(),
                prefix: what.key_prefix().to_owned(),
            });
        }
        if let Some(who) = &self.link.who
            && !WHO_PREFIXES.contains(&who.key_prefix())
        {
            return Err(ModelError::WrongKeyPrefix {
                field: "WhoId",
                value: who.to_string(),
                prefix: who.key_prefix().to_owned(),
            });
        }
        Ok(())
    }

    /// Checks that the event can be written to `side` as it is: [`Event::validate`] plus the
    /// side's length limits on subject and location. (A long Salesforce description is
    /// truncated by the connector and reported, never refused.)
    ///
    /// # Errors
    /// The first problem found, naming its field.
    pub fn validate_for(&self, side: Side) -> Result<(), ModelError> {
        self.validate()?;
        let limits: &[(&'static str, &str, usize)] = match side {
            Side::Salesforce => &[
                ("subject", &self.subject, SALESFORCE_SUBJECT_MAX),
                ("location", &self.location, SALESFORCE_LOCATION_MAX),
            ],
            Side::Outlook => &[("subject", &self.subject, OUTLOOK_SUBJECT_MAX)],
        };
        for (field, value, max) in limits {
            let len = value.chars().count();
            if len > *max {
                return Err(ModelError::TooLong {
                    field,
                    len,
                    max: *max,
                });
            }
        }
        Ok(())
    }

    /// The value of one synced field.
    #[must_use]
    pub fn get(&self, field: Field) -> FieldValue {
        match field {
            Field::Subject => FieldValue::Subject(self.subject.clone()),
            Field::Time => FieldValue::Time(self.time.clone()),
            Field::Location => FieldValue::Location(self.location.clone()),
            Field::Body => FieldValue::Body(self.body.clone()),
            Field::ShowAs => FieldValue::ShowAs(self.show_as),
            Field::Private => FieldValue::Private(self.is_private()),
            Field::Cancelled => FieldValue::Cancelled(self.cancelled),
            Field::Related => FieldValue::Related(self.link.clone()),
            Field::SnapFields => FieldValue::SnapFields(self.snap_fields.clone()),
        }
    }

    /// Writes one synced field, as a provider applying an update does.
    pub fn set(&mut self, value: FieldValue) {
        match value {
            FieldValue::Subject(v) => self.subject = v,
            FieldValue::Time(v) => self.time = v,
            FieldValue::Location(v) => self.location = v,
            FieldValue::Body(v) => self.body = v,
            FieldValue::ShowAs(v) => self.show_as = v,
            FieldValue::Private(true) => {
                if !self.sensitivity.is_private() {
                    self.sensitivity = Sensitivity::Private;
                }
            }
            FieldValue::Private(false) => {
                if self.sensitivity.is_private() {
                    self.sensitivity = Sensitivity::Normal;
                }
            }
            FieldValue::Cancelled(v) => self.cancelled = v,
            FieldValue::Related(v) => self.link = v,
            FieldValue::SnapFields(v) => self.snap_fields = v,
        }
    }
}

/// A synced field: the unit of the three-way merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// [`Event::subject`].
    Subject,
    /// [`Event::time`] (start, end and all-day together).
    Time,
    /// [`Event::location`].
    Location,
    /// [`Event::body`], compared as normalised plain text.
    Body,
    /// [`Event::show_as`].
    ShowAs,
    /// Whether the event is private (written only when private events are included).
    Private,
    /// [`Event::cancelled`].
    Cancelled,
    /// [`Event::link`] (`WhatId`, `WhoId`).
    Related,
    /// [`Event::snap_fields`].
    SnapFields,
}

impl Field {
    /// Every synced field, in a fixed order.
    pub const ALL: [Self; 9] = [
        Self::Subject,
        Self::Time,
        Self::Location,
        Self::Body,
        Self::ShowAs,
        Self::Private,
        Self::Cancelled,
        Self::Related,
        Self::SnapFields,
    ];

    /// How many synced fields there are.
    pub const COUNT: usize = Self::ALL.len();

    /// The field's position in [`Field::ALL`].
    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }

    /// The canonical field name used in plans, reports and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subject => "subject",
            Self::Time => "time",
            Self::Location => "location",
            Self::Body => "body",
            Self::ShowAs => "show_as",
            Self::Private => "private",
            Self::Cancelled => "cancelled",
            Self::Related => "related",
            Self::SnapFields => "snap_fields",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A new value for one synced field, as carried by a planned update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "field", content = "value", rename_all = "snake_case")]
pub enum FieldValue {
    /// New subject.
    Subject(String),
    /// New time.
    Time(EventTime),
    /// New location.
    Location(String),
    /// New body.
    Body(Body),
    /// New free/busy status.
    ShowAs(ShowAs),
    /// New private flag.
    Private(bool),
    /// New cancelled flag.
    Cancelled(bool),
    /// New related records.
    Related(RecordLink),
    /// New snap fields.
    SnapFields(SnapFields),
}

impl FieldValue {
    /// Which field this value is for.
    #[must_use]
    pub fn field(&self) -> Field {
        match self {
            Self::Subject(_) => Field::Subject,
            Self::Time(_) => Field::Time,
            Self::Location(_) => Field::Location,
            Self::Body(_) => Field::Body,
            Self::ShowAs(_) => Field::ShowAs,
            Self::Private(_) => Field::Private,
            Self::Cancelled(_) => Field::Cancelled,
            Self::Related(_) => Field::Related,
            Self::SnapFields(_) => Field::SnapFields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sample() -> Event {
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        Event::new(
            "e1",
            "Pipeline review",
            EventTime::timed(start, start + chrono::Duration::hours(1)),
        )
    }

    #[test]
    fn set_then_get_round_trips_every_field() {
        let mut a = sample();
        let mut b = sample();
        b.subject = "Other".into();
        b.location = "Room 4".into();
        b.body = Body::text("notes");
        b.show_as = ShowAs::Tentative;
        b.sensitivity = Sensitivity::Private;
        b.cancelled = true;
        b.link.what = Some("001A0000006Vm9r".parse().unwrap());
        b.snap_fields
            .insert("Type".into(), serde_json::json!("Meeting"));
        for field in Field::ALL {
            a.set(b.get(field));
            assert_eq!(a.get(field), b.get(field), "{field}");
        }
        assert_eq!(a.sensitivity, Sensitivity::Private);
    }

    #[test]
    fn what_id_may_not_be_a_person() {
        let mut e = sample();
        e.link.what = Some("003A0000006Vm9r".parse().unwrap());
        assert_eq!(e.validate().unwrap_err().field(), "WhatId");
        e.link.what = None;
        e.link.who = Some("006A0000006Vm9r".parse().unwrap());
        assert_eq!(e.validate().unwrap_err().field(), "WhoId");
    }

    #[test]
    fn salesforce_subject_limit() {
        let mut e = sample();
        e.subject = "x".repeat(256);
        assert!(e.validate_for(Side::Outlook).is_err());
        e.subject = "é".repeat(255);
        assert!(e.validate_for(Side::Salesforce).is_ok());
        e.subject.push('x');
        assert!(matches!(
            e.validate_for(Side::Salesforce),
            Err(ModelError::TooLong {
                field: "subject",
                len: 256,
                max: 255
            })
        ));
    }

    #[test]
    fn field_indices_match_all() {
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
        }
    }
}
