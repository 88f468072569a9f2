//! JSON batching (graph.md §7): up to 20 relative requests run through the same dispatcher,
//! answered as one 200 with per-item status, headers and body.

use std::collections::HashSet;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{Map, Value, json};

use super::api::{ApiRequest, dispatch};
use super::faults::retry_after_secs;
use super::json::{ApiError, ApiResponse, Query, RequestCtx, throttle_body};
use super::state::State;

/// Graph's limit on requests per batch.
const MAX_ITEMS: usize = 20;

fn item_json(id: &str, r: &ApiResponse) -> Value {
    let mut headers = Map::new();
    for (k, v) in &r.headers {
        headers.insert(k.clone(), json!(v));
    }
    if r.body.is_some() {
        headers.insert("Content-Type".into(), json!("application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"));
    }
    let mut item = json!({"id": id, "status": r.status.as_u16(), "headers": headers});
    if let (Some(body), Some(obj)) = (&r.body, item.as_object_mut()) {
        obj.insert("body".into(), body.clone());
    }
    item
}

/// Handles `POST /v1.0/$batch` for an already authenticated caller.
pub(crate) fn handle(state: &mut State, outer: &ApiRequest<'_>) -> ApiResponse {
    match run(state, outer) {
        Ok(r) => r,
        Err(e) => e.render(outer.ctx),
    }
}

fn run(state: &mut State, outer: &ApiRequest<'_>) -> Result<ApiResponse, ApiError> {
    let invalid = |m: String| ApiError::bad_request("BadRequest", m);
    let body = outer.json_body()?;
    let requests = body
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("Invalid batch payload format.".into()))?;
    if requests.len() > MAX_ITEMS {
        return Err(invalid(format!(
            "The number of batch requests ({}) exceeds the limit of {MAX_ITEMS}.",
            requests.len()
        )));
    }
    let mut seen = HashSet::new();
    for r in requests {
        let id = r
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("Every batch request needs a string 'id'.".into()))?;
        if !seen.insert(id.to_ascii_lowercase()) {
            return Err(invalid(format!(
                "Request Id '{id}' is duplicated in the batch."
            )));
        }
        let has_type = r
            .get("headers")
            .and_then(Value::as_object)
            .is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("content-type")));
        if r.get("body").is_some_and(|b| !b.is_null()) && !has_type {
            return Err(invalid(format!(
                "Write request id : {id} does not contain Content-Type header or body."
            )));
        }
    }
    let mut answered: Vec<(String, ApiResponse)> = Vec::new();
    for r in requests {
        let id = r
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let ctx = RequestCtx {
            request_id: state.ids.guid(),
            client_request_id: outer.ctx.client_request_id.clone(),
            date: state.now(),
        };
        let resp = run_item(state, outer, r, &answered, &ctx);
        answered.push((id, resp));
    }
    // Graph answers in any order; reversing makes a connector that pairs by position fail.
    let items: Vec<Value> = answered
        .iter()
        .rev()
        .map(|(id, r)| item_json(id, r))
        .collect();
    Ok(ApiResponse::json(
        StatusCode::OK,
        json!({"responses": items}),
    ))
}

fn run_item(
    state: &mut State,
    outer: &ApiRequest<'_>,
    r: &Value,
    answered: &[(String, ApiResponse)],
    ctx: &RequestCtx,
) -> ApiResponse {
    let deps: Vec<&str> = r
        .get("dependsOn")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let failed = deps.iter().any(|d| {
        !answered
            .iter()
            .any(|(id, resp)| id.eq_ignore_ascii_case(d) && resp.status.is_success())
    });
    if failed {
        return ApiError::new(
            StatusCode::FAILED_DEPENDENCY,
            "FailedDependency",
            "A request this request depends on failed.",
        )
        .render(ctx);
    }
    if let Some(wait) = state.faults.take_batch_item() {
        return ApiResponse::json(StatusCode::TOO_MANY_REQUESTS, throttle_body(ctx))
            .with_header("Retry-After", retry_after_secs(wait).to_string());
    }
    let method = r
        .get("method")
        .and_then(Value::as_str)
        .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok());
    let url = r.get("url").and_then(Value::as_str).unwrap_or_default();
    let Some(method) = method else {
        return ApiError::bad_request("BadRequest", "Invalid or missing method.").render(ctx);
    };
    if url.contains("://") || url.trim_start_matches('/').starts_with("$batch") || url.is_empty() {
        return ApiError::bad_request(
            "BadRequest",
            format!("Invalid request URL '{url}': use a relative URL such as /me/events."),
        )
        .render(ctx);
    }
    let rel = if url.starts_with('/') {
        url.to_owned()
    } else {
        format!("/{url}")
    };
    let (path, query) = match rel.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (rel.clone(), None),
    };
    let mut headers = HeaderMap::new();
    if let Some(h) = r.get("headers").and_then(Value::as_object) {
        for (k, v) in h {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(k.as_bytes()),
                v.as_str().map(HeaderValue::from_str),
            ) {
                headers.append(name, value);
            }
        }
    }
    let body = match r.get("body") {
        Some(Value::Null) | None => Vec::new(),
        Some(b) => serde_json::to_vec(b).unwrap_or_default(),
    };
    let req = ApiRequest {
        method: &method,
        path: &path,
        query: Query::parse(query.as_deref()),
        headers: &headers,
        body: &body,
        principal: outer.principal,
        ctx,
    };
    dispatch(state, &req)
}
