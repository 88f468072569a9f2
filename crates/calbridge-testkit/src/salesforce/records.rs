//! The Event table's write path (create, update, delete) with the validation real orgs apply,
//! and the JSON rendering of rows.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::errors::SfError;
use super::ids::{self, CALENDAR_PREFIX, CONTACT_PREFIX, EVENT_PREFIX, LEAD_PREFIX, USER_PREFIX};
use super::schema::{FieldDef, Kind, RefKind};
use super::state::{Row, State};
use super::times::normalize_times;
use super::values::{Val, parse_date, parse_datetime};

/// Who is writing, which decides what is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A REST create: read-only fields refused, references must exist.
    Create,
    /// A REST update.
    Update,
    /// A test seeding data or simulating an edit in the Salesforce UI: read-only fields
    /// (Id, IsChild, CreatedDate, …) may be set and references need not exist, but types,
    /// lengths and the time rules still apply.
    Seed,
}

/// Supplied field values by canonical API name.
pub(crate) type Supplied = HashMap<String, Val>;

/// Fields a child (invitee) event lets its owner change ([OBJ-EVENT] IsChild).
const CHILD_UPDATABLE: [&str; 2] = ["IsReminderSet", "ReminderDateTime"];
/// Text shown of an offending value in error messages.
const MAX_ECHO: usize = 255;

fn echo(v: &str) -> String {
    if v.chars().count() > MAX_ECHO {
        let cut: String = v.chars().take(MAX_ECHO).collect();
        format!("{cut}...")
    } else {
        v.to_owned()
    }
}

fn wrong_type(def: &FieldDef, v: &Value) -> SfError {
    let shown = match v {
        Value::String(s) => echo(s),
        other => other.to_string(),
    };
    SfError::new(
        "INVALID_TYPE_ON_FIELD_IN_RECORD",
        format!("{}: value not of required type: {shown}", def.label),
    )
    .with_field(&def.name)
}

/// Converts one JSON value to the field's type, checking lengths and picklists.
fn convert(def: &FieldDef, v: &Value) -> Result<Val, SfError> {
    if v.is_null() {
        // A checkbox cannot hold null: Salesforce stores false.
        return Ok(if def.kind == Kind::Bool {
            Val::Bool(false)
        } else {
            Val::Null
        });
    }
    match &def.kind {
        Kind::Id | Kind::Reference(_) => match v {
            Value::String(s) if s.is_empty() => Ok(Val::Null),
            Value::String(s) => ids::salesforce_id_18(s).map(Val::Text).ok_or_else(|| {
                SfError::new(
                    "MALFORMED_ID",
                    format!("{}: id value of incorrect type: {}", def.label, echo(s)),
                )
                .with_field(&def.name)
            }),
            _ => Err(wrong_type(def, v)),
        },
        Kind::Text { max } | Kind::TextArea { max } => {
            let Value::String(s) = v else {
                return Err(wrong_type(def, v));
            };
            if s.chars().count() > *max {
                return Err(SfError::new(
                    "STRING_TOO_LONG",
                    format!(
                        "{}: data value too large: {} (max length={max})",
                        def.label,
                        echo(s)
                    ),
                )
                .with_field(&def.name));
            }
            Ok(if s.is_empty() {
                Val::Null
            } else {
                Val::Text(s.clone())
            })
        }
        Kind::Picklist { values, restricted } => {
            let Value::String(s) = v else {
                return Err(wrong_type(def, v));
            };
            if *restricted && !values.iter().any(|x| x == s) {
                return Err(SfError::new(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    format!(
                        "{}: bad value for restricted picklist field: {}",
                        def.label,
                        echo(s)
                    ),
                )
                .with_field(&def.name));
            }
            Ok(Val::Text(s.clone()))
        }
        Kind::Bool => v.as_bool().map(Val::Bool).ok_or_else(|| wrong_type(def, v)),
        Kind::Int => match v.as_i64() {
            Some(i) => Ok(Val::Int(i)),
            // 60.0 is an integer to Salesforce's JSON reader.
            None => match v.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => Ok(Val::Int(f as i64)),
                _ => Err(wrong_type(def, v)),
            },
        },
        Kind::Num => v.as_f64().map(Val::Num).ok_or_else(|| wrong_type(def, v)),
        Kind::DateTime => v
            .as_str()
            .and_then(parse_datetime)
            .map(Val::DateTime)
            .ok_or_else(|| wrong_type(def, v)),
        Kind::Date => v
            .as_str()
            .and_then(parse_date)
            .map(Val::Date)
            .ok_or_else(|| wrong_type(def, v)),
    }
}

/// Checks what a reference may point at, and (outside seeds) that it exists.
fn check_reference(state: &State, def: &FieldDef, id: &str, mode: Mode) -> Result<(), SfError> {
    let Kind::Reference(kind) = def.kind else {
        return Ok(());
    };
    let prefix = &id[..3];
    let type_ok = match kind {
        RefKind::Who => prefix == CONTACT_PREFIX || prefix == LEAD_PREFIX,
        RefKind::What => ![
            CONTACT_PREFIX,
            LEAD_PREFIX,
            USER_PREFIX,
            EVENT_PREFIX,
            "00T",
            "00D",
        ]
        .contains(&prefix),
        RefKind::Owner => prefix == USER_PREFIX || prefix == CALENDAR_PREFIX,
        RefKind::System => true,
    };
    if !type_ok {
        return Err(SfError::new(
            "MALFORMED_ID",
            format!("{}: id value of incorrect type: {id}", def.label),
        )
        .with_field(&def.name));
    }
    if mode == Mode::Seed {
        return Ok(());
    }
    let exists = match kind {
        RefKind::Owner => state.is_user(id) || state.related.contains(id),
        _ => state.related.contains(id),
    };
    if exists {
        Ok(())
    } else {
        Err(SfError::invalid_cross_reference().with_field(&def.name))
    }
}

/// Parses a write body into typed values, collecting every field error.
pub(crate) fn parse_fields(
    state: &State,
    body: &Map<String, Value>,
    mode: Mode,
) -> Result<Supplied, Vec<SfError>> {
    let mut out = Supplied::new();
    let mut errors = Vec::new();
    for (key, value) in body {
        if key == "attributes" || (mode == Mode::Update && key.eq_ignore_ascii_case("id")) {
            continue;
        }
        let Some(def) = state.schema.get(key) else {
            errors.push(SfError::invalid_field(key));
            continue;
        };
        let allowed = match mode {
            Mode::Create => def.create,
            Mode::Update => def.update,
            Mode::Seed => true,
        };
        if !allowed {
            errors.push(
                SfError::new(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    format!(
                        "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                        def.name
                    ),
                )
                .with_field(&def.name),
            );
            continue;
        }
        match convert(def, value) {
            Ok(val) => {
                if let Val::Text(id) = &val
                    && let Err(e) = check_reference(state, def, id, mode)
                {
                    errors.push(e);
                    continue;
                }
                out.insert(def.name.clone(), val);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Rules across fields: private events stay unrelated, external ids stay unique.
fn check_rules(
    state: &State,
    fields: &HashMap<String, Val>,
    self_id: Option<&str>,
) -> Result<(), SfError> {
    let private = fields
        .get("IsPrivate")
        .and_then(Val::as_bool)
        .unwrap_or(false);
    let related = ["WhoId", "WhatId"]
        .iter()
        .any(|f| fields.get(*f).is_some_and(|v| !v.is_null()));
    if private && related {
        return Err(SfError::new(
            "FIELD_INTEGRITY_EXCEPTION",
            "You can't associate a private event with other records.",
        )
        .with_field("IsPrivate"));
    }
    for def in state.schema.iter().filter(|d| d.external_id) {
        let Some(Val::Text(value)) = fields.get(&def.name) else {
            continue;
        };
        let clash = state
            .rows_with(&def.name, value)
            .find(|r| r.deleted.is_none() && Some(r.id.as_str()) != self_id);
        if let Some(other) = clash {
            return Err(SfError::new(
                "DUPLICATE_VALUE",
                format!(
                    "duplicate value found: {} duplicates value on record with id: {}",
                    def.name, other.id
                ),
            )
            .with_field(&def.name));
        }
    }
    Ok(())
}

/// AccountId follows WhatId when it names an account ([OBJ-EVENT] AccountId).
fn derive_account(fields: &mut HashMap<String, Val>) {
    let account = match fields.get("WhatId") {
        Some(Val::Text(id)) if id.starts_with("001") => Val::Text(id.clone()),
        _ => Val::Null,
    };
    fields.insert("AccountId".to_owned(), account);
}

/// Creates a record; returns its 18-character id.
pub(crate) fn create(
    state: &mut State,
    body: &Map<String, Value>,
    user_id: &str,
    mode: Mode,
) -> Result<String, Vec<SfError>> {
    let supplied = parse_fields(state, body, mode)?;
    let mut fields: HashMap<String, Val> = state
        .schema
        .iter()
        .map(|d| (d.name.clone(), d.default_value()))
        .filter(|(_, v)| !v.is_null())
        .collect();
    fields.insert("OwnerId".to_owned(), Val::Text(user_id.to_owned()));
    for (k, v) in &supplied {
        fields.insert(k.clone(), v.clone());
    }
    normalize_times(&mut fields, &supplied, None).map_err(|e| vec![e])?;
    if !supplied.contains_key("AccountId") {
        derive_account(&mut fields);
    }
    let id = match fields.remove("Id") {
        Some(Val::Text(id)) => {
            if !id.starts_with(EVENT_PREFIX) || state.row_index(&id).is_some() {
                return Err(vec![
                    SfError::new(
                        "DUPLICATE_VALUE",
                        format!("seeded Id {id} is not a new Event id"),
                    )
                    .with_field("Id"),
                ]);
            }
            id
        }
        _ => state.mint_id(EVENT_PREFIX),
    };
    check_rules(state, &fields, Some(&id)).map_err(|e| vec![e])?;
    let stamp = state.next_stamp();
    for name in ["CreatedDate", "LastModifiedDate", "SystemModstamp"] {
        fields
            .entry(name.to_owned())
            .or_insert(Val::DateTime(stamp));
    }
    for name in ["CreatedById", "LastModifiedById"] {
        fields
            .entry(name.to_owned())
            .or_insert_with(|| Val::Text(user_id.to_owned()));
    }
    fields.remove("IsDeleted");
    state.index.insert(id.clone(), state.rows.len());
    state.rows.push(Row {
        id: id.clone(),
        fields,
        deleted: None,
    });
    state.index_external(state.rows.len() - 1);
    Ok(id)
}

/// Updates the record at `id18`, which the caller resolved to an existing row.
pub(crate) fn update(
    state: &mut State,
    id18: &str,
    body: &Map<String, Value>,
    user_id: &str,
    mode: Mode,
) -> Result<(), Vec<SfError>> {
    let Some(idx) = state.row_index(id18) else {
        return Err(vec![SfError::invalid_cross_reference()]);
    };
    if state.rows[idx].deleted.is_some() {
        return Err(vec![SfError::entity_is_deleted()]);
    }
    let supplied = parse_fields(state, body, mode)?;
    let row = &state.rows[idx];
    if mode == Mode::Update && row.flag("IsChild") {
        let refused: Vec<SfError> = supplied
            .keys()
            .filter(|k| !CHILD_UPDATABLE.contains(&k.as_str()))
            .map(|k| {
                SfError::new(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    format!("Unable to create/update fields: {k}. A child event can only change its reminder."),
                )
                .with_field(k)
            })
            .collect();
        if !refused.is_empty() {
            return Err(refused);
        }
    }
    let mut fields = row.fields.clone();
    for (k, v) in &supplied {
        fields.insert(k.clone(), v.clone());
    }
    normalize_times(&mut fields, &supplied, Some(&row.fields)).map_err(|e| vec![e])?;
    if supplied.contains_key("WhatId") && !supplied.contains_key("AccountId") {
        derive_account(&mut fields);
    }
    fields.remove("Id");
    fields.remove("IsDeleted");
    check_rules(state, &fields, Some(id18)).map_err(|e| vec![e])?;
    let stamp = state.next_stamp();
    for name in ["LastModifiedDate", "SystemModstamp"] {
        if !(mode == Mode::Seed && supplied.contains_key(name)) {
            fields.insert(name.to_owned(), Val::DateTime(stamp));
        }
    }
    if !(mode == Mode::Seed && supplied.contains_key("LastModifiedById")) {
        fields.insert("LastModifiedById".to_owned(), Val::Text(user_id.to_owned()));
    }
    state.rows[idx].fields = fields;
    state.index_external(idx);
    Ok(())
}

/// Soft-deletes the record at `id18` (Recycle Bin); deleting a Classic recurring series'
/// master deletes its occurrences too ([OBJ-EVENT] §2.9).
pub(crate) fn delete(state: &mut State, id18: &str) -> Result<(), SfError> {
    let Some(idx) = state.row_index(id18) else {
        return Err(SfError::invalid_cross_reference());
    };
    if state.rows[idx].deleted.is_some() {
        return Err(SfError::entity_is_deleted());
    }
    let cascade: Vec<usize> = if state.rows[idx].flag("IsRecurrence") {
        state
            .rows
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                *i != idx
                    && r.deleted.is_none()
                    && r.fields.get("RecurrenceActivityId").and_then(Val::as_text) == Some(id18)
            })
            .map(|(i, _)| i)
            .collect()
    } else {
        Vec::new()
    };
    for i in std::iter::once(idx).chain(cascade) {
        let stamp = state.next_stamp();
        let row = &mut state.rows[i];
        row.deleted = Some(stamp);
        row.fields
            .insert("SystemModstamp".to_owned(), Val::DateTime(stamp));
    }
    Ok(())
}

/// What an id taken from a URL or a collection names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Live(String),
    Deleted(String),
    /// Well-formed Event id that names nothing.
    Missing(String),
    /// Not an id, or a bad suffix.
    Malformed,
    /// A valid id of another object.
    WrongType(String),
}

pub(crate) fn resolve(state: &State, raw: &str) -> Target {
    let Some(id) = ids::salesforce_id_18(raw) else {
        return Target::Malformed;
    };
    if !id.starts_with(EVENT_PREFIX) {
        return Target::WrongType(id);
    }
    match state.row_index(&id) {
        Some(i) if state.rows[i].deleted.is_some() => Target::Deleted(id),
        Some(_) => Target::Live(id),
        None => Target::Missing(id),
    }
}

/// A row as the API returns it: `attributes` then the selected fields (all by default).
pub(crate) fn render(state: &State, row: &Row, version: &str, select: Option<&[String]>) -> Value {
    let mut obj = Map::new();
    obj.insert(
        "attributes".to_owned(),
        json!({"type": "Event", "url": format!("/services/data/{version}/sobjects/Event/{}", row.id)}),
    );
    match select {
        Some(names) => {
            for name in names {
                obj.insert(name.clone(), row.get(name).to_json());
            }
        }
        None => {
            for def in state.schema.iter() {
                obj.insert(def.name.clone(), row.get(&def.name).to_json());
            }
        }
    }
    Value::Object(obj)
}
