//! Routing of one Graph request (from HTTP or from a `$batch` item) to its handler, with
//! the mailbox and calendar access rules of graph.md §3.5.

use http::{HeaderMap, Method, StatusCode};
use serde_json::json;

use super::auth::Principal;
use super::json::{ApiError, ApiResponse, Prefer, Query, RequestCtx};
use super::state::State;
use super::{delta, handlers};

/// One request to the `/v1.0` API, independent of how it arrived.
#[derive(Debug)]
pub(crate) struct ApiRequest<'a> {
    pub(crate) method: &'a Method,
    /// The raw (still percent-encoded) path after `/v1.0`, e.g. `/me/events/AAk...`.
    pub(crate) path: &'a str,
    pub(crate) query: Query,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: &'a [u8],
    pub(crate) principal: &'a Principal,
    pub(crate) ctx: &'a RequestCtx,
}

impl ApiRequest<'_> {
    pub(crate) fn prefer(&self) -> Prefer {
        Prefer::parse(self.headers)
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn json_body(&self) -> Result<serde_json::Value, ApiError> {
        serde_json::from_slice(self.body).map_err(|e| {
            ApiError::bad_request(
                "RequestBodyRead",
                format!("Invalid JSON in the request body: {e}"),
            )
        })
    }

    /// The absolute URL of this request's path (for `nextLink`/`deltaLink`).
    pub(crate) fn self_url(&self, state: &State) -> String {
        format!("{}/v1.0{}", state.authority, self.path)
    }
}

/// Whose mailbox a path addresses and who is looking.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub(crate) mailbox: String,
    /// Set when a delegated user reads another user's mailbox: only calendars shared with
    /// them are visible.
    pub(crate) viewer: Option<String>,
}

impl Scope {
    /// Calendar ids visible through this scope.
    pub(crate) fn calendars(&self, state: &State) -> Vec<String> {
        match &self.viewer {
            None => state
                .mailbox_calendars(&self.mailbox)
                .into_iter()
                .map(|c| c.id.clone())
                .collect(),
            Some(v) => state
                .calendars
                .values()
                .filter(|c| c.owner == self.mailbox && c.shared_with.iter().any(|u| u == v))
                .map(|c| c.id.clone())
                .collect(),
        }
    }

    pub(crate) fn can_see(&self, state: &State, calendar_id: &str) -> bool {
        self.calendars(state).iter().any(|c| c == calendar_id)
    }
}

/// Which calendar a path names.
#[derive(Debug, Clone)]
pub(crate) enum CalSel {
    /// `/calendar/...` or no calendar segment: the mailbox's primary calendar.
    Default,
    Id(String),
}

impl CalSel {
    /// Resolves to a calendar id the scope may use.
    pub(crate) fn resolve(&self, state: &State, scope: &Scope) -> Result<String, ApiError> {
        match self {
            Self::Default => {
                let id = state
                    .primary_calendar(&scope.mailbox)
                    .ok_or_else(ApiError::not_found)?;
                if scope.can_see(state, &id) {
                    Ok(id)
                } else {
                    Err(access_denied())
                }
            }
            Self::Id(id) => {
                if scope.can_see(state, id) {
                    Ok(id.clone())
                } else {
                    Err(ApiError::not_found())
                }
            }
        }
    }
}

pub(crate) fn access_denied() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "ErrorAccessDenied",
        "Access is denied. Check credentials and try again.",
    )
}

pub(crate) use crate::segments::decode_segment;

fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Request_BadRequest",
        "Specified HTTP method is not allowed for the request target.",
    )
}

fn unknown_segment(seg: &str) -> ApiError {
    ApiError::bad_request(
        "BadRequest",
        format!("Resource not found for the segment '{seg}'."),
    )
}

/// Handles one API request; errors become §8.2 bodies.
pub(crate) fn dispatch(state: &mut State, req: &ApiRequest<'_>) -> ApiResponse {
    match route(state, req) {
        Ok(r) => r,
        Err(e) => e.render(req.ctx),
    }
}

fn route(state: &mut State, req: &ApiRequest<'_>) -> Result<ApiResponse, ApiError> {
    let segs: Vec<String> = req
        .path
        .trim_start_matches('/')
        .split('/')
        .map(decode_segment)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (scope, rest) = match segs.as_slice() {
        ["me", rest @ ..] => match req.principal {
            Principal::User(id) => (
                Scope {
                    mailbox: id.clone(),
                    viewer: None,
                },
                rest,
            ),
            Principal::App(_) => {
                return Err(ApiError::bad_request(
                    "BadRequest",
                    "/me request is only valid with delegated authentication flow.",
                ));
            }
        },
        ["users", key, rest @ ..] => {
            let user = state.find_user(key).ok_or_else(|| {
                ApiError::new(
                    StatusCode::NOT_FOUND,
                    "ErrorInvalidUser",
                    format!("The requested user '{key}' is invalid."),
                )
            })?;
            let viewer = match req.principal {
                Principal::User(id) if *id != user.id => Some(id.clone()),
                _ => None,
            };
            (
                Scope {
                    mailbox: user.id.clone(),
                    viewer,
                },
                rest,
            )
        }
        [first, ..] => return Err(unknown_segment(first)),
        [] => return Err(unknown_segment("")),
    };
    let (cal, rest) = match rest {
        ["calendar", tail @ ..] => (Some(CalSel::Default), tail),
        ["calendars", cid, tail @ ..] if !tail.is_empty() => {
            (Some(CalSel::Id((*cid).to_owned())), tail)
        }
        _ => (None, rest),
    };
    let m = req.method;
    match (cal, rest) {
        (None, ["calendars"]) => {
            only_get(m).and_then(|()| handlers::list_calendars(state, req, &scope))
        }
        (None, ["calendars", cid]) => only_get(m).and_then(|()| {
            handlers::get_calendar(state, req, &scope, &CalSel::Id((*cid).to_owned()))
        }),
        (Some(CalSel::Default), []) => {
            only_get(m).and_then(|()| handlers::get_calendar(state, req, &scope, &CalSel::Default))
        }
        (cal, ["events"]) => {
            let sel = cal.unwrap_or(CalSel::Default);
            match *m {
                Method::GET => handlers::list_events(state, req, &scope, &sel),
                Method::POST => handlers::create_event(state, req, &scope, &sel),
                _ => Err(method_not_allowed()),
            }
        }
        (cal, ["events", id]) => {
            let within = match &cal {
                Some(sel) => Some(sel.resolve(state, &scope)?),
                None => None,
            };
            match *m {
                Method::GET => handlers::get_event(state, req, &scope, within.as_deref(), id),
                Method::PATCH => handlers::patch_event(state, req, &scope, within.as_deref(), id),
                Method::DELETE => handlers::delete_event(state, req, &scope, within.as_deref(), id),
                _ => Err(method_not_allowed()),
            }
        }
        (cal, ["events", id, "instances"]) => {
            let within = match &cal {
                Some(sel) => Some(sel.resolve(state, &scope)?),
                None => None,
            };
            only_get(m)
                .and_then(|()| handlers::instances(state, req, &scope, within.as_deref(), id))
        }
        (cal, ["calendarView"]) => only_get(m).and_then(|()| {
            handlers::calendar_view(state, req, &scope, &cal.unwrap_or(CalSel::Default))
        }),
        (cal, ["calendarView", "delta"]) => {
            only_get(m)?;
            let calendar_id = cal.unwrap_or(CalSel::Default).resolve(state, &scope)?;
            delta::handle(state, req, &calendar_id)
        }
        (_, [.., last]) => Err(unknown_segment(last)),
        (_, []) => Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "The emulator does not serve this resource.",
        )),
    }
}

fn only_get(m: &Method) -> Result<(), ApiError> {
    if *m == Method::GET {
        Ok(())
    } else {
        Err(method_not_allowed())
    }
}

/// A collection body with optional next link.
pub(crate) fn collection(
    state: &State,
    context: &str,
    value: Vec<serde_json::Value>,
    next: Option<String>,
) -> serde_json::Value {
    let mut body = json!({"@odata.context": format!("{}/v1.0/$metadata#{context}", state.authority), "value": value});
    if let (Some(link), Some(obj)) = (next, body.as_object_mut()) {
        obj.insert("@odata.nextLink".into(), json!(link));
    }
    body
}
