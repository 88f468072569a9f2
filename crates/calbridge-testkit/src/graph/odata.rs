//! OData query options and paging shared by the list handlers: `$top`,
//! `Prefer: odata.maxpagesize`, `$skiptoken` links, `$expand` and `$filter` on extended
//! properties, and the calendarView window.

use chrono::{DateTime, Utc};
use http::StatusCode;
use serde_json::Value;

use super::api::ApiRequest;
use super::events::RenderOpts;
use super::ids::{b64, b64url_decode};
use super::json::{ApiError, ApiResponse, Prefer, parse_window_time};
use super::state::State;

/// Graph's default page size for events and calendarView (graph.md §3.3).
const DEFAULT_PAGE: usize = 10;
/// The widest calendarView window Graph accepts (graph.md §3.1).
const MAX_WINDOW_DAYS: i64 = 1825;

/// Render options from `Prefer` and `$expand`.
pub(crate) fn render_opts(req: &ApiRequest<'_>, prefer: &Prefer) -> RenderOpts {
    RenderOpts {
        tz: prefer.timezone.clone(),
        body_text: prefer.body_text,
        ext_ids: req.query.get("$expand").and_then(parse_expand),
        ..RenderOpts::default()
    }
}

/// Single-quoted OData literals in order (`''` is an escaped quote).
fn quoted(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut lit = String::new();
        while let Some(d) = chars.next() {
            if d == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    lit.push('\'');
                } else {
                    break;
                }
            } else {
                lit.push(d);
            }
        }
        out.push(lit);
    }
    out
}

/// `singleValueExtendedProperties($filter=id eq '...')` → the requested ids.
fn parse_expand(expand: &str) -> Option<Vec<String>> {
    expand
        .to_ascii_lowercase()
        .contains("singlevalueextendedproperties")
        .then(|| quoted(expand))
}

/// `$filter=singleValueExtendedProperties/Any(ep: ep/id eq '...' and ep/value eq '...')`.
pub(crate) fn parse_ext_filter(
    req: &ApiRequest<'_>,
) -> Result<Option<(String, Option<String>)>, ApiError> {
    let Some(filter) = req.query.get("$filter") else {
        return Ok(None);
    };
    if !filter
        .to_ascii_lowercase()
        .replace(' ', "")
        .starts_with("singlevalueextendedproperties/any(")
    {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            format!("The emulator does not support $filter={filter}"),
        ));
    }
    let mut lits = quoted(filter).into_iter();
    let id = lits
        .next()
        .ok_or_else(|| ApiError::bad_request("BadRequest", "Invalid filter clause"))?;
    Ok(Some((id, lits.next())))
}

/// Where a page starts and how long it is.
pub(crate) struct Page {
    offset: usize,
    size: usize,
    pub(crate) from_prefer: bool,
}

/// Offset (`$skiptoken`/`$skip`) and size (`$top`, else `odata.maxpagesize`, else 10).
pub(crate) fn page_params(req: &ApiRequest<'_>, prefer: &Prefer) -> Result<Page, ApiError> {
    let offset = match (req.query.get("$skiptoken"), req.query.get("$skip")) {
        (Some(tok), _) => b64url_decode(tok)
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("skip:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| ApiError::bad_request("BadRequest", "The $skiptoken is invalid."))?,
        (None, Some(n)) => n.parse().map_err(|_| {
            ApiError::bad_request("BadRequest", format!("Invalid value '{n}' for $skip."))
        })?,
        (None, None) => 0,
    };
    let top = match req.query.get("$top") {
        Some(n) => Some(n.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            ApiError::bad_request("BadRequest", format!("Invalid value '{n}' for $top."))
        })?),
        None => None,
    };
    let from_prefer = top.is_none() && prefer.max_page_size.is_some();
    Ok(Page {
        offset,
        size: top.or(prefer.max_page_size).unwrap_or(DEFAULT_PAGE),
        from_prefer,
    })
}

/// Cuts one page and builds the absolute `@odata.nextLink` back to this emulator.
pub(crate) fn paginate<T>(
    state: &State,
    req: &ApiRequest<'_>,
    page: &Page,
    items: Vec<T>,
) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let end = page.offset.saturating_add(page.size).min(total);
    let next = (end < total).then(|| {
        let token = b64(format!("skip:{end}").as_bytes(), true, false);
        let rest = req.query.without(&["$skip", "$skiptoken"]);
        let sep = if rest.is_empty() {
            String::new()
        } else {
            format!("{rest}&")
        };
        format!("{}?{sep}$skiptoken={token}", req.self_url(state))
    });
    (
        items
            .into_iter()
            .skip(page.offset)
            .take(page.size)
            .collect(),
        next,
    )
}

/// A 200 with `Preference-Applied` for what was honoured.
pub(crate) fn ok(body: Value, prefer: &Prefer, page_from_prefer: bool) -> ApiResponse {
    let applied = prefer.applied(page_from_prefer);
    let r = ApiResponse::json(StatusCode::OK, body);
    if applied.is_empty() {
        r
    } else {
        r.with_header("Preference-Applied", applied.join(", "))
    }
}

/// The required calendarView window (graph.md §3.1).
pub(crate) fn window(req: &ApiRequest<'_>) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let missing = || {
        ApiError::bad_request(
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
        )
    };
    let parse = |name: &str| -> Result<DateTime<Utc>, ApiError> {
        let raw = req.query.get(name).ok_or_else(missing)?;
        parse_window_time(raw).ok_or_else(|| {
            ApiError::bad_request(
                "ErrorInvalidParameter",
                format!("The value '{raw}' of parameter '{name}' is invalid."),
            )
        })
    };
    let (ws, we) = (parse("startDateTime")?, parse("endDateTime")?);
    if (we - ws).num_days() > MAX_WINDOW_DAYS {
        return Err(ApiError::bad_request(
            "ErrorInvalidRequest",
            "The value of the parameter 'EndDateTime' is invalid. The range between the start and end dates is greater than the allowed range. Maximum number of days: 1825",
        ));
    }
    Ok((ws, we))
}
