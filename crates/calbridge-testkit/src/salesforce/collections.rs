//! sObject Collections (reference §2.6): create, update, upsert by external id and delete of
//! up to 200 records in one API call, with per-record results and `allOrNone`.

use serde_json::{Map, Value, json};

use super::errors::{RestError, SfError};
use super::records::{self, Mode, Target};
use super::state::State;

/// Most records one collection request may carry.
pub(crate) const MAX_RECORDS: usize = 200;

/// One record's outcome.
type Outcome = Result<Done, Failed>;

#[derive(Debug)]
struct Done {
    id: String,
    created: Option<bool>,
}

#[derive(Debug)]
struct Failed {
    /// Echoed on failures of updates and deletes, which name their record.
    id: Option<String>,
    errors: Vec<SfError>,
}

fn failed(id: Option<&str>, errors: Vec<SfError>) -> Failed {
    Failed {
        id: id.map(str::to_owned),
        errors,
    }
}

fn too_many() -> RestError {
    RestError::bad_request(SfError::new(
        "EXCEEDED_ID_LIMIT",
        format!(
            "record limit reached. cannot submit more than {MAX_RECORDS} records into this call"
        ),
    ))
}

/// `{"allOrNone": bool, "records": [...]}` with each record an Event.
fn parse_body(body: &Value) -> Result<(bool, Vec<Map<String, Value>>), RestError> {
    let all_or_none = body
        .get("allOrNone")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(records) = body.get("records").and_then(Value::as_array) else {
        return Err(RestError::json_parse("Expected a records array"));
    };
    if records.len() > MAX_RECORDS {
        return Err(too_many());
    }
    let mut out = Vec::with_capacity(records.len());
    for record in records {
        let Some(obj) = record.as_object() else {
            return Err(RestError::json_parse("Each record must be a JSON object"));
        };
        match obj
            .get("attributes")
            .and_then(|a| a.get("type"))
            .and_then(Value::as_str)
        {
            Some(t) if t.eq_ignore_ascii_case("Event") => {}
            Some(t) => {
                return Err(RestError::bad_request(SfError::new(
                    "INVALID_TYPE",
                    format!("sObject type '{t}' is not supported."),
                )));
            }
            None => {
                return Err(RestError::bad_request(SfError::new(
                    "INVALID_TYPE",
                    "Must send a concrete entity type.",
                )));
            }
        }
        out.push(obj.clone());
    }
    Ok((all_or_none, out))
}

/// Runs `op` on every item; with `all_or_none`, any failure undoes every write and reports
/// the first real error, all other items `ALL_OR_NONE_OPERATION_ROLLED_BACK`.
fn run<T>(
    state: &mut State,
    all_or_none: bool,
    items: &[T],
    mut op: impl FnMut(&mut State, &T) -> Outcome,
) -> Value {
    let snapshot = all_or_none.then(|| {
        (
            state.rows.clone(),
            state.index.clone(),
            state.external.clone(),
        )
    });
    let outcomes: Vec<Outcome> = items.iter().map(|item| op(state, item)).collect();
    let first_failure = outcomes.iter().position(Result::is_err);
    let results = match (snapshot, first_failure) {
        (Some((rows, index, external)), Some(first)) => {
            state.rows = rows;
            state.index = index;
            state.external = external;
            outcomes
                .into_iter()
                .enumerate()
                .map(|(i, o)| match o {
                    Err(f) if i == first => failure_json(&f),
                    Err(f) => failure_json(&failed(f.id.as_deref(), vec![SfError::rolled_back()])),
                    Ok(_) => failure_json(&failed(None, vec![SfError::rolled_back()])),
                })
                .collect()
        }
        _ => outcomes
            .iter()
            .map(|o| match o {
                Ok(done) => {
                    let mut v = json!({"id": done.id, "success": true, "errors": []});
                    if let Some(created) = done.created {
                        v["created"] = json!(created);
                    }
                    v
                }
                Err(f) => failure_json(f),
            })
            .collect(),
    };
    Value::Array(results)
}

fn failure_json(f: &Failed) -> Value {
    let mut v = json!({
        "success": false,
        "errors": f.errors.iter().map(SfError::record_json).collect::<Vec<_>>(),
    });
    if let Some(id) = &f.id {
        v["id"] = json!(id);
    }
    v
}

/// `POST composite/sobjects`.
pub(crate) fn create(state: &mut State, user_id: &str, body: &Value) -> Result<Value, RestError> {
    let (all_or_none, records) = parse_body(body)?;
    Ok(run(state, all_or_none, &records, |state, rec| {
        records::create(state, rec, user_id, Mode::Create)
            .map(|id| Done { id, created: None })
            .map_err(|errors| failed(None, errors))
    }))
}

/// Resolves a record id for update/delete, checking the row-lock fault.
fn writable(state: &mut State, raw: &str) -> Result<String, Failed> {
    match records::resolve(state, raw) {
        Target::Live(id) => {
            if state.faults.lock_hit(&id) {
                Err(failed(Some(&id), vec![SfError::lock_row(&id)]))
            } else {
                Ok(id)
            }
        }
        Target::Deleted(id) => Err(failed(Some(&id), vec![SfError::entity_is_deleted()])),
        Target::Missing(id) | Target::WrongType(id) => {
            Err(failed(Some(&id), vec![SfError::invalid_cross_reference()]))
        }
        Target::Malformed => Err(failed(
            None,
            vec![SfError::new("MALFORMED_ID", format!("malformed id {raw}")).with_field("Id")],
        )),
    }
}

/// `PATCH composite/sobjects`: every record carries its `id`.
pub(crate) fn update(state: &mut State, user_id: &str, body: &Value) -> Result<Value, RestError> {
    let (all_or_none, records) = parse_body(body)?;
    Ok(run(state, all_or_none, &records, |state, rec| {
        let raw = rec
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("id"))
            .and_then(|(_, v)| v.as_str())
            .ok_or_else(|| {
                failed(
                    None,
                    vec![SfError::new(
                        "MISSING_ARGUMENT",
                        "Id not specified in an update call",
                    )],
                )
            })?;
        let id = writable(state, raw)?;
        records::update(state, &id, rec, user_id, Mode::Update)
            .map(|()| Done {
                id: id.clone(),
                created: None,
            })
            .map_err(|errors| failed(Some(&id), errors))
    }))
}

/// `PATCH composite/sobjects/Event/{field}`: create or update each record by its external id.
pub(crate) fn upsert(
    state: &mut State,
    user_id: &str,
    field: &str,
    body: &Value,
) -> Result<Value, RestError> {
    let Some(def) = state.schema.get(field).filter(|d| d.external_id) else {
        return Err(RestError::not_found(SfError::new(
            "NOT_FOUND",
            format!("Provided external ID field does not exist or is not accessible: {field}"),
        )));
    };
    let field = def.name.clone();
    let (all_or_none, records) = parse_body(body)?;
    let keys: Vec<Option<String>> = records
        .iter()
        .map(|r| {
            r.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(&field))
                .and_then(|(_, v)| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
        .collect();
    let items: Vec<(usize, &Map<String, Value>)> = records.iter().enumerate().collect();
    Ok(run(state, all_or_none, &items, |state, (i, rec)| {
        let Some(key) = &keys[*i] else {
            return Err(failed(
                None,
                vec![
                    SfError::new(
                        "REQUIRED_FIELD_MISSING",
                        format!("Required fields are missing: [{field}]"),
                    )
                    .with_field(&field),
                ],
            ));
        };
        if keys.iter().filter(|k| k.as_ref() == Some(key)).count() > 1 {
            return Err(failed(
                None,
                vec![
                    SfError::new(
                        "DUPLICATE_EXTERNAL_ID",
                        format!("Duplicate external id specified: {key}"),
                    )
                    .with_field(&field),
                ],
            ));
        }
        upsert_one(state, user_id, &field, key, rec)
    }))
}

/// Finds the live record whose external id `field` equals `key` (case-sensitive).
pub(crate) fn find_by_external_id(state: &State, field: &str, key: &str) -> Option<String> {
    state
        .rows_with(field, key)
        .find(|r| r.deleted.is_none())
        .map(|r| r.id.clone())
}

fn upsert_one(
    state: &mut State,
    user_id: &str,
    field: &str,
    key: &str,
    rec: &Map<String, Value>,
) -> Outcome {
    match find_by_external_id(state, field, key) {
        Some(existing) => {
            let id = writable(state, &existing)?;
            records::update(state, &id, rec, user_id, Mode::Update)
                .map(|()| Done {
                    id: id.clone(),
                    created: Some(false),
                })
                .map_err(|errors| failed(Some(&id), errors))
        }
        None => records::create(state, rec, user_id, Mode::Create)
            .map(|id| Done {
                id,
                created: Some(true),
            })
            .map_err(|errors| failed(None, errors)),
    }
}

/// `DELETE composite/sobjects?ids=...&allOrNone=...`.
pub(crate) fn delete(state: &mut State, ids: &str, all_or_none: bool) -> Result<Value, RestError> {
    let ids: Vec<&str> = ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if ids.len() > MAX_RECORDS {
        return Err(too_many());
    }
    Ok(run(state, all_or_none, &ids, |state, raw| {
        let id = writable(state, raw)?;
        records::delete(state, &id)
            .map(|()| Done {
                id: id.clone(),
                created: None,
            })
            .map_err(|e| failed(Some(&id), vec![e]))
    }))
}
