//! The REST data API under `/services/data/vNN.N/`: query, sObject rows, upsert by external
//! id, collections, getUpdated/getDeleted, describe and limits.

use axum::body::Bytes;
use axum::http::{Method, StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde_json::{Map, Value, json};

use super::auth::{Params, parse_params};
use super::collections;
use super::errors::{RestError, SfError};
use super::ids;
use super::query;
use super::records::{self, Mode, Target, render};
use super::server::json_response;
use super::state::{API_LIMIT, State};
use super::values::{format_datetime, parse_datetime};

use crate::segments::decode_segment;

/// `vNN.N` → accepted when within the served range.
fn check_version(v: &str) -> bool {
    v.strip_prefix('v')
        .and_then(|n| n.parse::<f64>().ok())
        .is_some_and(|n| {
            n >= f64::from(super::MIN_VERSION) && n <= f64::from(super::MAX_VERSION) + 0.99
        })
}

fn parse_json(body: &Bytes) -> Result<Value, RestError> {
    serde_json::from_slice(body).map_err(|e| RestError::json_parse(&e.to_string()))
}

fn parse_object(body: &Bytes) -> Result<Map<String, Value>, RestError> {
    match parse_json(body)? {
        Value::Object(m) => Ok(m),
        _ => Err(RestError::json_parse("Expected a JSON object")),
    }
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Dispatches an authenticated data request.
pub(crate) fn dispatch(
    st: &mut State,
    user_id: &str,
    parts: &Parts,
    body: &Bytes,
) -> Result<Response, RestError> {
    let params = parse_params(parts.uri.query().unwrap_or_default());
    let segs: Vec<String> = parts
        .uri
        .path()
        .trim_start_matches("/services/data/")
        .split('/')
        .filter(|s| !s.is_empty())
        .map(decode_segment)
        .collect();
    let Some((version, rest)) = segs.split_first() else {
        return Err(RestError::resource_not_found());
    };
    if !check_version(version) {
        return Err(RestError::resource_not_found());
    }
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let m = &parts.method;
    let ok = |v: Value| json_response(StatusCode::OK, &v);
    match (m, rest.as_slice()) {
        (&Method::GET, [kind @ ("query" | "queryAll")]) => {
            let q = params.get("q").ok_or_else(|| {
                RestError::bad_request(SfError::new(
                    "MALFORMED_QUERY",
                    "A query string has to be specified",
                ))
            })?;
            let batch = parts
                .headers
                .get("sforce-query-options")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| {
                    v.split([',', ';'])
                        .find_map(|kv| kv.trim().strip_prefix("batchSize="))
                        .and_then(|n| n.trim().parse().ok())
                });
            query::run(st, version, q, *kind == "queryAll", batch).map(ok)
        }
        (&Method::GET, ["query" | "queryAll", tail]) => query::next(st, version, tail).map(ok),
        (&Method::GET, ["limits"]) => Ok(ok(json!({
            "DailyApiRequests": {"Max": API_LIMIT, "Remaining": API_LIMIT.saturating_sub(st.api_usage)}
        }))),
        (&Method::GET, ["sobjects"]) => Ok(ok(json!({
            "encoding": "UTF-8", "maxBatchSize": 200,
            "sobjects": [{"name": "Event", "label": "Event", "keyPrefix": ids::EVENT_PREFIX,
                          "queryable": true, "replicateable": true, "createable": true,
                          "updateable": true, "deletable": true,
                          "urls": {"sobject": format!("/services/data/{version}/sobjects/Event")}}]
        }))),
        (_, ["sobjects", obj, tail @ ..]) if obj.eq_ignore_ascii_case("Event") => {
            sobject(st, user_id, version, m, tail, &params, body)
        }
        (_, ["sobjects", obj, ..]) => Err(RestError::not_found(SfError::new(
            "NOT_FOUND",
            format!(
                "The requested resource does not exist: sObject type '{obj}' is not supported by this emulator"
            ),
        ))),
        (&Method::POST, ["composite", "sobjects"]) => {
            collections::create(st, user_id, &parse_json(body)?).map(ok)
        }
        (&Method::PATCH, ["composite", "sobjects"]) => {
            collections::update(st, user_id, &parse_json(body)?).map(ok)
        }
        (&Method::DELETE, ["composite", "sobjects"]) => {
            let ids = params.get("ids").cloned().unwrap_or_default();
            let all = params
                .get("allOrNone")
                .is_some_and(|v| v.eq_ignore_ascii_case("true"));
            collections::delete(st, &ids, all).map(ok)
        }
        (&Method::PATCH, ["composite", "sobjects", obj, field])
            if obj.eq_ignore_ascii_case("Event") =>
        {
            collections::upsert(st, user_id, field, &parse_json(body)?).map(ok)
        }
        (&Method::GET, ["composite", "sobjects", obj]) if obj.eq_ignore_ascii_case("Event") => {
            retrieve(st, version, &params).map(ok)
        }
        (
            _,
            []
            | [
                "query" | "queryAll" | "limits" | "sobjects" | "composite",
                ..,
            ],
        ) => Err(RestError::method_not_allowed(m.as_str())),
        _ => Err(RestError::resource_not_found()),
    }
}

/// `GET composite/sobjects/Event?ids=&fields=`: `null` for ids that name no live record.
fn retrieve(st: &State, version: &str, params: &Params) -> Result<Value, RestError> {
    let fields = select_list(st, params.get("fields"))?;
    let ids = params.get("ids").map(String::as_str).unwrap_or_default();
    Ok(Value::Array(
        ids.split(',')
            .filter(|s| !s.is_empty())
            .map(|raw| match records::resolve(st, raw.trim()) {
                Target::Live(id) => st.row_index(&id).map_or(Value::Null, |i| {
                    render(st, &st.rows[i], version, fields.as_deref())
                }),
                _ => Value::Null,
            })
            .collect(),
    ))
}

/// `?fields=A,B` resolved to canonical names.
fn select_list(st: &State, fields: Option<&String>) -> Result<Option<Vec<String>>, RestError> {
    let Some(list) = fields else { return Ok(None) };
    let mut names = vec!["Id".to_owned()];
    for f in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let def = st
            .schema
            .get(f)
            .ok_or_else(|| RestError::bad_request(SfError::invalid_field(f)))?;
        if !names.contains(&def.name) {
            names.push(def.name.clone());
        }
    }
    Ok(Some(names))
}

fn external_field_missing(segment: &str) -> RestError {
    RestError::not_found(SfError::new(
        "NOT_FOUND",
        format!("Provided external ID field does not exist or is not accessible: {segment}"),
    ))
}

fn wrong_id(raw: &str) -> RestError {
    RestError::bad_request(
        SfError::new(
            "MALFORMED_ID",
            format!("Event ID: id value of incorrect type: {raw}"),
        )
        .with_field("Id"),
    )
}

/// Everything under `sobjects/Event`.
fn sobject(
    st: &mut State,
    user_id: &str,
    version: &str,
    m: &Method,
    tail: &[&str],
    params: &Params,
    body: &Bytes,
) -> Result<Response, RestError> {
    match (m, tail) {
        (&Method::POST, []) => {
            let obj = parse_object(body)?;
            let id =
                records::create(st, &obj, user_id, Mode::Create).map_err(RestError::from_record)?;
            Ok(json_response(
                StatusCode::CREATED,
                &json!({"id": id, "success": true, "errors": []}),
            ))
        }
        (&Method::GET, []) => Ok(json_response(
            StatusCode::OK,
            &json!({"objectDescribe": {"name": "Event", "keyPrefix": ids::EVENT_PREFIX}, "recentItems": []}),
        )),
        (&Method::GET, ["describe"]) => {
            Ok(json_response(StatusCode::OK, &st.schema.describe(version)))
        }
        (&Method::GET, ["deleted"]) => replication(st, params, true),
        (&Method::GET, ["updated"]) => replication(st, params, false),
        (_, [raw]) => row(st, user_id, version, m, raw, params, body),
        (_, [field, value]) => by_external_id(st, user_id, version, m, field, value, params, body),
        _ => Err(RestError::resource_not_found()),
    }
}

/// GET/PATCH/DELETE `sobjects/Event/{id}`.
fn row(
    st: &mut State,
    user_id: &str,
    version: &str,
    m: &Method,
    raw: &str,
    params: &Params,
    body: &Bytes,
) -> Result<Response, RestError> {
    let id = match records::resolve(st, raw) {
        Target::Live(id) => id,
        Target::Deleted(_) => return Err(RestError::not_found(SfError::entity_is_deleted())),
        Target::Missing(_) if *m == Method::GET => return Err(RestError::resource_not_found()),
        Target::Missing(_) => return Err(RestError::not_found(SfError::invalid_cross_reference())),
        Target::WrongType(_) => return Err(wrong_id(raw)),
        Target::Malformed if ids::looks_like_id(raw) => return Err(wrong_id(raw)),
        // A segment that is not an id reads as an external-id field name.
        Target::Malformed => return Err(external_field_missing(raw)),
    };
    match *m {
        Method::GET => {
            let fields = select_list(st, params.get("fields"))?;
            let i = st
                .row_index(&id)
                .ok_or_else(RestError::resource_not_found)?;
            Ok(json_response(
                StatusCode::OK,
                &render(st, &st.rows[i], version, fields.as_deref()),
            ))
        }
        Method::PATCH => {
            let obj = parse_object(body)?;
            if st.faults.lock_hit(&id) {
                return Err(RestError::bad_request(SfError::lock_row(&id)));
            }
            records::update(st, &id, &obj, user_id, Mode::Update)
                .map_err(RestError::from_record)?;
            Ok(no_content())
        }
        Method::DELETE => {
            if st.faults.lock_hit(&id) {
                return Err(RestError::bad_request(SfError::lock_row(&id)));
            }
            records::delete(st, &id).map_err(RestError::not_found)?;
            Ok(no_content())
        }
        _ => Err(RestError::method_not_allowed(m.as_str())),
    }
}

/// GET/PATCH `sobjects/Event/{ExternalIdField}/{value}` (PATCH = upsert).
#[allow(clippy::too_many_arguments)]
fn by_external_id(
    st: &mut State,
    user_id: &str,
    version: &str,
    m: &Method,
    field: &str,
    value: &str,
    params: &Params,
    body: &Bytes,
) -> Result<Response, RestError> {
    let Some(def) = st.schema.get(field).filter(|d| d.external_id) else {
        return Err(external_field_missing(field));
    };
    let field = def.name.clone();
    let existing = collections::find_by_external_id(st, &field, value);
    match (m, existing) {
        (&Method::GET, Some(id)) => {
            let i = st
                .row_index(&id)
                .ok_or_else(RestError::resource_not_found)?;
            Ok(json_response(
                StatusCode::OK,
                &render(st, &st.rows[i], version, None),
            ))
        }
        (&Method::GET, None) => Err(RestError::resource_not_found()),
        (&Method::PATCH, existing) => {
            let mut obj = parse_object(body)?;
            if let Some((_, v)) = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(&field))
                && v.as_str() != Some(value)
            {
                return Err(RestError::bad_request(
                    SfError::new(
                        "INVALID_FIELD",
                        format!("{field} in the body does not match the URL value {value}"),
                    )
                    .with_field(&field),
                ));
            }
            match existing {
                Some(id) => {
                    if st.faults.lock_hit(&id) {
                        return Err(RestError::bad_request(SfError::lock_row(&id)));
                    }
                    records::update(st, &id, &obj, user_id, Mode::Update)
                        .map_err(RestError::from_record)?;
                    Ok(json_response(
                        StatusCode::OK,
                        &json!({"id": id, "success": true, "errors": [], "created": false}),
                    ))
                }
                None if params.get("updateOnly").is_some_and(|v| v == "true") => {
                    Err(RestError::resource_not_found())
                }
                None => {
                    obj.insert(field.clone(), Value::String(value.to_owned()));
                    let id = records::create(st, &obj, user_id, Mode::Create)
                        .map_err(RestError::from_record)?;
                    Ok(json_response(
                        StatusCode::CREATED,
                        &json!({"id": id, "success": true, "errors": [], "created": true}),
                    ))
                }
            }
        }
        _ => Err(RestError::method_not_allowed(m.as_str())),
    }
}

fn to_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t)
}

/// getDeleted (`deleted = true`) and getUpdated: windows truncated to the minute, `start`
/// strictly before `end`, and no older than the Recycle Bin (15 days) or the updated log
/// (30 days) reaches.
fn replication(st: &State, params: &Params, deleted: bool) -> Result<Response, RestError> {
    let bad = |msg: &str| RestError::bad_request(SfError::new("INVALID_REPLICATION_DATE", msg));
    let parse = |name: &str| {
        let raw = params.get(name).ok_or_else(|| {
            RestError::bad_request(SfError::new(
                "MISSING_ARGUMENT",
                format!("{name} is required"),
            ))
        })?;
        // An unencoded `+` in the offset arrives as a space; read it back as `+`.
        parse_datetime(&raw.replace(' ', "+"))
            .map(to_minute)
            .ok_or_else(|| {
                RestError::bad_request(SfError::new(
                    "INVALID_PARAMETER_VALUE",
                    format!("{name}: invalid date {raw}"),
                ))
            })
    };
    let (start, end) = (parse("start")?, parse("end")?);
    if start >= end {
        return Err(bad(
            "startDate must chronologically precede endDate by more than one minute",
        ));
    }
    let now = st.now();
    let reach = if deleted {
        TimeDelta::days(15)
    } else {
        TimeDelta::days(30)
    };
    if start < now - reach {
        return Err(bad(&format!(
            "startDate cannot be more than {} days ago",
            reach.num_days()
        )));
    }
    let latest = format_datetime(to_minute(end.min(now)));
    let body = if deleted {
        let records: Vec<Value> = st
            .rows
            .iter()
            .filter_map(|r| r.deleted.map(|d| (r, d)))
            .filter(|(_, d)| *d >= start && *d < end)
            .map(|(r, d)| json!({"id": r.id, "deletedDate": format_datetime(d)}))
            .collect();
        json!({
            "deletedRecords": records,
            "earliestDateAvailable": format_datetime(to_minute(st.started)),
            "latestDateCovered": latest,
        })
    } else {
        let ids: Vec<&str> = st
            .live_rows()
            .filter(|r| {
                r.get("SystemModstamp")
                    .as_datetime()
                    .is_some_and(|t| t >= start && t < end)
            })
            .map(|r| r.id.as_str())
            .collect();
        json!({"ids": ids, "latestDateCovered": latest})
    };
    Ok(json_response(StatusCode::OK, &body))
}
