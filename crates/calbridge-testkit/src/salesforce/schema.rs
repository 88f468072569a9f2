//! The Event sObject's fields: the standard ones of the reference's §1.3 plus custom fields a
//! test registers, with the properties the API enforces (type, length, create/update access,
//! filterability, external id).

use serde_json::{Value, json};

/// The type of a custom field registered with
/// [`SalesforceEmulator::add_custom_field`](super::SalesforceEmulator::add_custom_field).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CustomFieldKind {
    /// A text field of at most `max_len` characters. With `external_id` it is marked
    /// External ID + Unique (case-sensitive), usable for upsert.
    Text {
        /// Maximum length in characters (Salesforce allows up to 255).
        max_len: usize,
        /// Whether the field is an External ID, unique and case-sensitive.
        external_id: bool,
    },
    /// A number field (JSON number, returned as a double).
    Number,
    /// A checkbox (boolean, defaults to false).
    Checkbox,
    /// A restricted picklist with these API values.
    Picklist(Vec<String>),
}

/// Which object a reference field may point at; drives id-type validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefKind {
    /// `WhoId`: a Contact or a Lead.
    Who,
    /// `WhatId`: a non-human record (not a Contact, Lead, User, Event or Task).
    What,
    /// `OwnerId`: a User or a Calendar.
    Owner,
    /// A read-only system reference.
    System,
}

/// A field's data type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Id,
    Reference(RefKind),
    Text {
        max: usize,
    },
    TextArea {
        max: usize,
    },
    Bool,
    Int,
    Num,
    DateTime,
    Date,
    Picklist {
        values: Vec<String>,
        restricted: bool,
    },
}

/// One field of Event.
#[derive(Debug, Clone)]
pub(crate) struct FieldDef {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) kind: Kind,
    pub(crate) create: bool,
    pub(crate) update: bool,
    pub(crate) filterable: bool,
    /// External ID + Unique (case-sensitive).
    pub(crate) external_id: bool,
    pub(crate) custom: bool,
}

impl FieldDef {
    fn std(name: &str, label: &str, kind: Kind, create: bool, update: bool) -> Self {
        Self {
            name: name.to_owned(),
            label: label.to_owned(),
            kind,
            create,
            update,
            filterable: true,
            external_id: false,
            custom: false,
        }
    }

    /// The value a new record holds when the field is not given.
    pub(crate) fn default_value(&self) -> super::values::Val {
        use super::values::Val;
        match &self.kind {
            Kind::Bool => Val::Bool(false),
            _ if self.name == "ShowAs" => Val::Text("Busy".to_owned()),
            _ if self.name == "EventSubtype" => Val::Text("Event".to_owned()),
            _ => Val::Null,
        }
    }

    fn describe_type(&self) -> &'static str {
        match &self.kind {
            Kind::Id => "id",
            Kind::Reference(_) => "reference",
            Kind::Text { .. } if self.name == "Subject" => "combobox",
            Kind::Text { .. } => "string",
            Kind::TextArea { .. } => "textarea",
            Kind::Bool => "boolean",
            Kind::Int => "int",
            Kind::Num => "double",
            Kind::DateTime => "datetime",
            Kind::Date => "date",
            Kind::Picklist { .. } => "picklist",
        }
    }

    fn describe(&self) -> Value {
        let length = match &self.kind {
            Kind::Text { max } | Kind::TextArea { max } => *max,
            Kind::Id | Kind::Reference(_) => 18,
            _ => 0,
        };
        let picklist: Vec<Value> = match &self.kind {
            Kind::Picklist { values, .. } => values
                .iter()
                .map(|v| json!({"value": v, "label": v, "active": true, "defaultValue": false}))
                .collect(),
            _ => Vec::new(),
        };
        let reference_to: Vec<&str> = match &self.kind {
            Kind::Reference(RefKind::Who) => vec!["Contact", "Lead"],
            Kind::Reference(RefKind::Owner) => vec!["Calendar", "User"],
            Kind::Reference(RefKind::What) => vec!["Account", "Opportunity", "Campaign", "Case"],
            Kind::Reference(RefKind::System) => vec!["User"],
            _ => Vec::new(),
        };
        json!({
            "name": self.name,
            "label": self.label,
            "type": self.describe_type(),
            "length": length,
            "createable": self.create,
            "updateable": self.update,
            "nillable": !matches!(self.kind, Kind::Bool | Kind::Id),
            "filterable": self.filterable,
            "sortable": self.filterable,
            "externalId": self.external_id,
            "unique": self.external_id,
            "caseSensitive": self.external_id,
            "custom": self.custom,
            "idLookup": self.external_id || self.kind == Kind::Id,
            "restrictedPicklist": matches!(self.kind, Kind::Picklist { restricted: true, .. }),
            "picklistValues": picklist,
            "referenceTo": reference_to,
        })
    }
}

/// The fields of Event, standard first in the order the fixture's query result lists them.
#[derive(Debug, Clone)]
pub(crate) struct Schema {
    fields: Vec<FieldDef>,
}

impl Schema {
    pub(crate) fn standard() -> Self {
        use Kind::*;
        let r = |k| Reference(k);
        let (c, u) = (true, true);
        let mut f = vec![
            FieldDef::std("Id", "Activity ID", Id, false, false),
            FieldDef::std("WhoId", "Name ID", r(RefKind::Who), c, u),
            FieldDef::std("WhatId", "Related To ID", r(RefKind::What), c, u),
            FieldDef::std("Subject", "Subject", Text { max: 255 }, c, u),
            FieldDef::std("Location", "Location", Text { max: 255 }, c, u),
            FieldDef::std("IsAllDayEvent", "All-Day Event", Bool, c, u),
            FieldDef::std("ActivityDateTime", "Due Date Time", DateTime, c, u),
            FieldDef::std("ActivityDate", "Due Date Only", Date, c, u),
            FieldDef::std("DurationInMinutes", "Duration", Int, c, u),
            FieldDef::std("StartDateTime", "Start Date Time", DateTime, c, u),
            FieldDef::std("EndDateTime", "End Date Time", DateTime, c, u),
            FieldDef::std("EndDate", "End Date", Date, false, false),
            FieldDef::std("Description", "Description", TextArea { max: 32_000 }, c, u),
            FieldDef::std("AccountId", "Account ID", r(RefKind::System), false, false),
            FieldDef::std("OwnerId", "Assigned To ID", r(RefKind::Owner), c, u),
            FieldDef::std(
                "Type",
                "Type",
                Picklist {
                    values: ["Call", "Email", "Meeting", "Other"]
                        .map(String::from)
                        .to_vec(),
                    restricted: false,
                },
                c,
                u,
            ),
            FieldDef::std("IsPrivate", "Private", Bool, c, u),
            FieldDef::std(
                "ShowAs",
                "Show Time As",
                Picklist {
                    values: ["Busy", "OutOfOffice", "Free"].map(String::from).to_vec(),
                    restricted: true,
                },
                c,
                u,
            ),
            FieldDef::std("IsDeleted", "Deleted", Bool, false, false),
            FieldDef::std("IsChild", "Is Child", Bool, false, false),
            FieldDef::std("IsGroupEvent", "Is Group Event", Bool, false, false),
            FieldDef::std(
                "GroupEventType",
                "Group Event Type",
                Text { max: 40 },
                false,
                false,
            ),
            FieldDef::std("CreatedDate", "Created Date", DateTime, false, false),
            FieldDef::std(
                "CreatedById",
                "Created By ID",
                r(RefKind::System),
                false,
                false,
            ),
            FieldDef::std(
                "LastModifiedDate",
                "Last Modified Date",
                DateTime,
                false,
                false,
            ),
            FieldDef::std(
                "LastModifiedById",
                "Last Modified By ID",
                r(RefKind::System),
                false,
                false,
            ),
            FieldDef::std("SystemModstamp", "System Modstamp", DateTime, false, false),
            FieldDef::std("IsArchived", "Archived", Bool, false, false),
            FieldDef::std(
                "RecurrenceActivityId",
                "Recurrence Activity ID",
                r(RefKind::System),
                false,
                false,
            ),
            // Settable on create only ([OBJ-EVENT]); the emulator does not expand patterns
            // into occurrences, seed them with `seed_recurring_series` instead.
            FieldDef::std(
                "IsRecurrence",
                "Create Recurring Series of Events",
                Bool,
                c,
                false,
            ),
            FieldDef::std(
                "RecurrenceStartDateTime",
                "Recurrence Begins",
                DateTime,
                c,
                false,
            ),
            FieldDef::std("RecurrenceEndDateOnly", "Recurrence Ends", Date, c, false),
            FieldDef::std(
                "RecurrenceTimeZoneSidKey",
                "Recurrence Time Zone",
                Text { max: 40 },
                c,
                false,
            ),
            FieldDef::std(
                "RecurrenceType",
                "Recurrence Pattern",
                Text { max: 40 },
                c,
                false,
            ),
            FieldDef::std("RecurrenceInterval", "Recurrence Interval", Int, c, false),
            FieldDef::std(
                "RecurrenceDayOfWeekMask",
                "Recurrence Day of Week Mask",
                Int,
                c,
                false,
            ),
            FieldDef::std(
                "RecurrenceDayOfMonth",
                "Recurrence Day of Month",
                Int,
                c,
                false,
            ),
            FieldDef::std(
                "RecurrenceInstance",
                "Recurrence Instance",
                Text { max: 40 },
                c,
                false,
            ),
            FieldDef::std(
                "RecurrenceMonthOfYear",
                "Recurrence Month of Year",
                Text { max: 40 },
                c,
                false,
            ),
            FieldDef::std("ReminderDateTime", "Reminder Date/Time", DateTime, c, u),
            FieldDef::std("IsReminderSet", "Reminder Set", Bool, c, u),
            FieldDef::std("EventSubtype", "Event Subtype", Text { max: 40 }, c, false),
            FieldDef::std(
                "IsRecurrence2Exclusion",
                "Historical Event",
                Bool,
                false,
                false,
            ),
            FieldDef::std(
                "Recurrence2PatternText",
                "Recurrence Pattern",
                TextArea { max: 512 },
                c,
                false,
            ),
            FieldDef::std(
                "Recurrence2PatternVersion",
                "Pattern Version",
                Text { max: 40 },
                false,
                false,
            ),
            FieldDef::std("IsRecurrence2", "Repeat", Bool, false, false),
            FieldDef::std("IsRecurrence2Exception", "Is Exception", Bool, false, false),
            FieldDef::std(
                "Recurrence2PatternStartDate",
                "Recurrence Pattern Start Date",
                DateTime,
                false,
                false,
            ),
            FieldDef::std(
                "Recurrence2PatternTimeZone",
                "Recurrence Pattern Time Zone Reference",
                Text { max: 255 },
                false,
                false,
            ),
            FieldDef::std(
                "ServiceAppointmentId",
                "Service Appointment ID",
                r(RefKind::System),
                false,
                false,
            ),
        ];
        // Long text areas cannot be filtered in SOQL ([OBJ-EVENT]: Description is not Filter).
        for field in &mut f {
            if matches!(field.kind, TextArea { .. }) {
                field.filterable = false;
            }
        }
        Self { fields: f }
    }

    /// Looks a field up by API name, case-insensitively as Salesforce does.
    pub(crate) fn get(&self, name: &str) -> Option<&FieldDef> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &FieldDef> {
        self.fields.iter()
    }

    /// Adds (or replaces) a custom field.
    pub(crate) fn add_custom(&mut self, name: &str, kind: &CustomFieldKind) {
        let (kind, external_id) = match kind {
            CustomFieldKind::Text {
                max_len,
                external_id,
            } => (Kind::Text { max: *max_len }, *external_id),
            CustomFieldKind::Number => (Kind::Num, false),
            CustomFieldKind::Checkbox => (Kind::Bool, false),
            CustomFieldKind::Picklist(values) => (
                Kind::Picklist {
                    values: values.clone(),
                    restricted: true,
                },
                false,
            ),
        };
        self.fields.retain(|f| !f.name.eq_ignore_ascii_case(name));
        let label = name.trim_end_matches("__c").replace('_', " ");
        self.fields.push(FieldDef {
            name: name.to_owned(),
            label,
            kind,
            create: true,
            update: true,
            filterable: true,
            external_id,
            custom: true,
        });
    }

    /// `GET sobjects/Event/describe`, trimmed to what a connector checks.
    pub(crate) fn describe(&self, version: &str) -> Value {
        json!({
            "name": "Event",
            "label": "Event",
            "labelPlural": "Events",
            "keyPrefix": super::ids::EVENT_PREFIX,
            "createable": true,
            "updateable": true,
            "deletable": true,
            "queryable": true,
            "replicateable": true,
            "custom": false,
            "urls": {
                "sobject": format!("/services/data/{version}/sobjects/Event"),
                "describe": format!("/services/data/{version}/sobjects/Event/describe"),
                "rowTemplate": format!("/services/data/{version}/sobjects/Event/{{ID}}"),
            },
            "fields": self.fields.iter().map(FieldDef::describe).collect::<Vec<_>>(),
        })
    }
}
