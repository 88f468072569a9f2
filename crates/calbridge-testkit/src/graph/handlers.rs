//! The calendar and event handlers: calendars, `/events` CRUD, `/instances` and
//! `calendarView`; query options and paging are in `odata.rs`.

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::api::{ApiRequest, CalSel, Scope, collection};
use super::events::{Kind, RenderOpts, ext_id_matches, render, render_occurrence};
use super::ids::looks_like_id;
use super::input::{Mode, parse_changes};
use super::json::{ApiError, ApiResponse, apply_select, select_list};
use super::odata::{ok, page_params, paginate, parse_ext_filter, render_opts, window};
use super::state::{Calendar, State};
use super::store;
use super::view::{
    Found, ItemKind, ViewItem, calendar_of, find, occurrence_span, series_items, window_items,
};

fn calendar_json(state: &State, cal: &Calendar, scope: &Scope) -> Value {
    let own = cal.owner == scope.mailbox && scope.viewer.is_none();
    let owner = state.user_by_id(&cal.owner).map_or(
        json!(null),
        |u| json!({"name": u.display_name, "address": u.upn}),
    );
    json!({
        "id": cal.id, "name": cal.name, "color": "auto", "hexColor": "", "isDefaultCalendar": cal.is_default && cal.owner == scope.mailbox,
        "changeKey": cal.change_key, "canShare": own, "canViewPrivateItems": own, "canEdit": true,
        "allowedOnlineMeetingProviders": ["teamsForBusiness"], "defaultOnlineMeetingProvider": "teamsForBusiness",
        "isTallyingResponses": true, "isRemovable": !cal.is_default, "owner": owner,
    })
}

pub(crate) fn list_calendars(
    state: &mut State,
    req: &ApiRequest<'_>,
    scope: &Scope,
) -> Result<ApiResponse, ApiError> {
    let prefer = req.prefer();
    let page = page_params(req, &prefer)?;
    let mut cals: Vec<&Calendar> = scope
        .calendars(state)
        .iter()
        .filter_map(|id| state.calendars.get(id))
        .collect();
    cals.sort_by_key(|c| {
        (
            !(c.is_default && c.owner == scope.mailbox),
            c.name.clone(),
            c.id.clone(),
        )
    });
    let values: Vec<Value> = cals
        .iter()
        .map(|c| calendar_json(state, c, scope))
        .collect();
    let (values, next) = paginate(state, req, &page, values);
    let select = select_list(&req.query);
    let values = values
        .into_iter()
        .map(|v| {
            Value::Object(apply_select(
                v.as_object().cloned().unwrap_or_default(),
                select.as_deref(),
            ))
        })
        .collect();
    Ok(ok(
        collection(
            state,
            &format!("users('{}')/calendars", scope.mailbox),
            values,
            next,
        ),
        &prefer,
        page.from_prefer,
    ))
}

pub(crate) fn get_calendar(
    state: &mut State,
    req: &ApiRequest<'_>,
    scope: &Scope,
    sel: &CalSel,
) -> Result<ApiResponse, ApiError> {
    let id = sel.resolve(state, scope)?;
    let cal = state.calendars.get(&id).ok_or_else(ApiError::not_found)?;
    let mut body = calendar_json(state, cal, scope);
    if let Some(obj) = body.as_object_mut() {
        obj.insert(
            "@odata.context".into(),
            json!(format!(
                "{}/v1.0/$metadata#users('{}')/calendars/$entity",
                state.authority, scope.mailbox
            )),
        );
    }
    Ok(ok(body, &req.prefer(), false))
}

/// Renders a window item (occurrences in full, as calendarView shows them).
pub(crate) fn render_item(
    state: &State,
    item: &ViewItem,
    opts: &RenderOpts,
) -> Option<Map<String, Value>> {
    match &item.kind {
        ItemKind::Stored | ItemKind::Master => state.events.get(&item.id).map(|e| render(e, opts)),
        ItemKind::Occurrence {
            master_id,
            original,
        } => {
            let master = state.events.get(master_id)?;
            Some(render_occurrence(
                master,
                *original,
                (item.start, item.end),
                opts,
            ))
        }
    }
}

pub(crate) fn render_found(
    state: &State,
    found: &Found,
    opts: &RenderOpts,
) -> Result<Map<String, Value>, ApiError> {
    match found {
        Found::Stored(id) => state
            .events
            .get(id)
            .map(|e| render(e, opts))
            .ok_or_else(ApiError::not_found),
        Found::Occurrence {
            master_id,
            original,
        } => {
            let master = state
                .events
                .get(master_id)
                .ok_or_else(ApiError::not_found)?;
            Ok(render_occurrence(
                master,
                *original,
                occurrence_span(master, *original),
                opts,
            ))
        }
    }
}

/// Finds an event the scope may see, optionally within one calendar.
fn locate(state: &State, scope: &Scope, within: Option<&str>, id: &str) -> Result<Found, ApiError> {
    if !looks_like_id(id) {
        return Err(ApiError::bad_request(
            "ErrorInvalidIdMalformed",
            "Id is malformed.",
        ));
    }
    let found = find(state, id).ok_or_else(ApiError::not_found)?;
    let cal = calendar_of(state, &found).ok_or_else(ApiError::not_found)?;
    if within.is_some_and(|w| w != cal) || !scope.can_see(state, &cal) {
        return Err(ApiError::not_found());
    }
    Ok(found)
}

fn entity(state: &State, scope: &Scope, mut obj: Map<String, Value>) -> Value {
    obj.insert(
        "@odata.context".into(),
        json!(format!(
            "{}/v1.0/$metadata#users('{}')/events/$entity",
            state.authority, scope.mailbox
        )),
    );
    Value::Object(obj)
}

pub(crate) fn list_events(
    state: &mut State,
    req: &ApiRequest<'_>,
    scope: &Scope,
    sel: &CalSel,
) -> Result<ApiResponse, ApiError> {
    let prefer = req.prefer();
    let page = page_params(req, &prefer)?;
    let cal = sel.resolve(state, scope)?;
    let filter = parse_ext_filter(req)?;
    let mut events: Vec<_> = state
        .events
        .values()
        .filter(|e| e.calendar_id == cal && !matches!(e.kind, Kind::Exception { .. }))
        .filter(|e| match &filter {
            None => true,
            Some((pid, value)) => e.ext.iter().any(|(k, v)| {
                ext_id_matches(k, pid)
                    && value.as_ref().is_none_or(|want| {
                        v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(want))
                            || v.to_string().eq_ignore_ascii_case(want)
                    })
            }),
        })
        .collect();
    events.sort_by(|a, b| (a.start.utc, &a.id).cmp(&(b.start.utc, &b.id)));
    let (events, next) = paginate(state, req, &page, events);
    let opts = render_opts(req, &prefer);
    let select = select_list(&req.query);
    let values = events
        .into_iter()
        .map(|e| Value::Object(apply_select(render(e, &opts), select.as_deref())))
        .collect();
    Ok(ok(
        collection(
            state,
            &format!("users('{}')/events", scope.mailbox),
            values,
            next,
        ),
        &prefer,
        page.from_prefer,
    ))
}

pub(crate) fn calendar_view(
    state: &mut State,
    req: &ApiRequest<'_>,
    scope: &Scope,
    sel: &CalSel,
) -> Result<ApiResponse, ApiError> {
    let (ws, we) = window(req)?;
    let prefer = req.prefer();
    let page = page_params(req, &prefer)?;
    let cal = sel.resolve(state, scope)?;
    let items = window_items(state, &cal, ws, we, false);
    let (items, next) = paginate(state, req, &page, items);
    Ok(rendered_page(
        state,
        req,
        &prefer,
        page.from_prefer,
        &format!("users('{}')/calendarView", scope.mailbox),
        &items,
        next,
    ))
}

pub(crate) fn instances(
    state: &mut State,
    req: &ApiRequest<'_>,
    scope: &Scope,
    within: Option<&str>,
    id: &str,
) -> Result<ApiResponse, ApiError> {
    let (ws, we) = window(req)?;
    let prefer = req.prefer();
    let page = page_params(req, &prefer)?;
    let items = match locate(state, scope, within, id)? {
        Found::Stored(mid) => match state.events.get(&mid) {
            Some(master) if master.recurrence().is_some() => series_items(state, master, ws, we),
            _ => Vec::new(),
        },
        Found::Occurrence { .. } => Vec::new(),
    };
    let (items, next) = paginate(state, req, &page, items);
    Ok(rendered_page(
        state,
        req,
        &prefer,
        page.from_prefer,
        &format!("users('{}')/events('{id}')/instances", scope.mailbox),
        &items,
        next,
    ))
}

pub(crate) fn get_event(
    state: &mut State,
    req: &ApiRequest<'_>,
    scope: &Scope,
    within: Option<&str>,
    id: &str,
) -> Result<ApiResponse, ApiError> {
    let prefer = req.prefer();
    let found = locate(state, scope, within, id)?;
    let obj = render_found(state, &found, &render_opts(req, &prefer))?;
    let select = select_list(&req.query);
    Ok(ok(
        entity(state, scope, apply_select(obj, select.as_deref())),
        &prefer,
        false,
    ))
}

pub(crate) fn create_event(
    state: &mut State,
    req: &ApiRequest<'_>,
    scope: &Scope,
    sel: &CalSel,
) -> Result<ApiResponse, ApiError> {
    let prefer = req.prefer();
    let cal = sel.resolve(state, scope)?;
    let changes = parse_changes(&req.json_body()?, Mode::Create)?;
    let id = store::create(state, &cal, changes)?;
    let opts = RenderOpts {
        tz: prefer.timezone.clone(),
        body_text: prefer.body_text,
        ..RenderOpts::default()
    };
    let obj = render_found(state, &Found::Stored(id.clone()), &opts)?;
    let location = format!(
        "{}/v1.0/users('{}')/events('{}')",
        state.authority, scope.mailbox, id
    );
    let mut r = ok(entity(state, scope, obj), &prefer, false);
    r.status = StatusCode::CREATED;
    Ok(r.with_header("Location", location))
}

pub(crate) fn patch_event(
    state: &mut State,
    req: &ApiRequest<'_>,
    scope: &Scope,
    within: Option<&str>,
    id: &str,
) -> Result<ApiResponse, ApiError> {
    let prefer = req.prefer();
    let changes = parse_changes(&req.json_body()?, Mode::Patch)?;
    let found = locate(state, scope, within, id)?;
    let new_id = store::update(state, &found, changes, req.header("if-match"))?;
    let opts = RenderOpts {
        tz: prefer.timezone.clone(),
        body_text: prefer.body_text,
        ..RenderOpts::default()
    };
    let obj = render_found(state, &Found::Stored(new_id), &opts)?;
    Ok(ok(entity(state, scope, obj), &prefer, false))
}

pub(crate) fn delete_event(
    state: &mut State,
    req: &ApiRequest<'_>,
    scope: &Scope,
    within: Option<&str>,
    id: &str,
) -> Result<ApiResponse, ApiError> {
    let found = locate(state, scope, within, id)?;
    store::delete(state, &found, req.header("if-match"))?;
    Ok(ApiResponse::empty(StatusCode::NO_CONTENT))
}

/// Renders a page of items as a Graph collection: each item in the requested zone, cut to
/// `$select`, under its `@odata.context`, with the next link when there is one.
fn rendered_page(
    state: &State,
    req: &ApiRequest<'_>,
    prefer: &super::json::Prefer,
    from_prefer: bool,
    context: &str,
    items: &[ViewItem],
    next: Option<String>,
) -> ApiResponse {
    let opts = render_opts(req, prefer);
    let select = select_list(&req.query);
    let values = items
        .iter()
        .filter_map(|i| render_item(state, i, &opts))
        .map(|m| Value::Object(apply_select(m, select.as_deref())))
        .collect();
    ok(
        collection(state, context, values, next),
        prefer,
        from_prefer,
    )
}
