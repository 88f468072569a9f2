//! Wire-format helpers shared by every handler: the Graph error body (graph.md §8.2), the
//! date-time renderings of §0, time-zone names (§6.5), the `Prefer` header (§6.1–6.3),
//! case-insensitive query options (§0) and `$select`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

/// Per-request identifiers echoed in headers and in every error's `innerError`.
#[derive(Debug, Clone)]
pub(crate) struct RequestCtx {
    pub(crate) request_id: String,
    pub(crate) client_request_id: String,
    pub(crate) date: DateTime<Utc>,
}

/// A handler's answer before it becomes an HTTP response or a `$batch` item.
#[derive(Debug, Clone)]
pub(crate) struct ApiResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Value>,
}

impl ApiResponse {
    pub(crate) fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    pub(crate) fn empty(status: StatusCode) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// A Graph error before the request context is known: rendered by [`ApiError::render`].
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_owned(),
            message: message.into(),
            headers: Vec::new(),
        }
    }

    pub(crate) fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub(crate) fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
        )
    }

    pub(crate) fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    pub(crate) fn render(self, ctx: &RequestCtx) -> ApiResponse {
        ApiResponse {
            status: self.status,
            headers: self.headers,
            body: Some(error_body(&self.code, &self.message, ctx)),
        }
    }
}

/// The §8.2 error body.
pub(crate) fn error_body(code: &str, message: &str, ctx: &RequestCtx) -> Value {
    json!({"error": {"code": code, "message": message, "innerError": inner_error(ctx)}})
}

pub(crate) fn inner_error(ctx: &RequestCtx) -> Value {
    json!({
        "date": ctx.date.format("%Y-%m-%dT%H:%M:%S").to_string(),
        "request-id": ctx.request_id,
        "client-request-id": ctx.client_request_id,
    })
}

/// The throttling body of `throttling.md` (fixture `error_429_throttled.json`).
pub(crate) fn throttle_body(ctx: &RequestCtx) -> Value {
    let mut inner = inner_error(ctx);
    if let Some(obj) = inner.as_object_mut() {
        obj.insert("code".into(), json!("429"));
        obj.insert("message".into(), json!("Please retry after"));
        obj.insert("status".into(), json!("429"));
    }
    json!({"error": {"code": "TooManyRequests", "message": "Please retry again later.", "innerError": inner}})
}

/// `2017-04-15T11:00:00.0000000`: a naive local time with seven fractional digits.
pub(crate) fn fmt_local(t: NaiveDateTime) -> String {
    format!(
        "{}.{:07}",
        t.format("%Y-%m-%dT%H:%M:%S"),
        t.nanosecond() % 1_000_000_000 / 100
    )
}

/// `2019-02-28T21:17:57.5619700Z`: a UTC instant as `createdDateTime` shows it.
pub(crate) fn fmt_utc(t: DateTime<Utc>) -> String {
    format!("{}Z", fmt_local(t.naive_utc()))
}

/// `2017-09-04T19:00:00Z`: `originalStart` (a DateTimeOffset without fraction).
pub(crate) fn fmt_offset(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Resolves a zone name as Graph accepts it: `UTC`, Windows ids and IANA names.
/// Custom zones (`tzone://Microsoft/Custom`, `Customized Time Zone`) resolve to nothing.
pub(crate) fn resolve_zone(name: &str) -> Option<Tz> {
    let trimmed = name.trim();
    if trimmed.eq_ignore_ascii_case("utc") || trimmed.eq_ignore_ascii_case("tzone://Microsoft/Utc")
    {
        return Some(Tz::UTC);
    }
    if let Ok(tz) = trimmed.parse::<Tz>() {
        return Some(tz);
    }
    trimmed
        .parse::<windows_timezones::WindowsTimezone>()
        .ok()
        .map(Tz::from)
}

/// The Windows name Graph reports for a zone (`originalStartTimeZone` is always Windows).
pub(crate) fn windows_name(given: &str, tz: Tz) -> String {
    if tz == Tz::UTC || given.eq_ignore_ascii_case("utc") {
        return "UTC".to_owned();
    }
    if given.parse::<windows_timezones::WindowsTimezone>().is_ok() {
        return given.to_owned();
    }
    windows_timezones::WindowsTimezone::try_from(tz)
        .map(|w| w.name().to_owned())
        .unwrap_or_else(|_| given.to_owned())
}

/// Local wall time → instant, moving forward out of a DST gap and taking the earlier of
/// two ambiguous instants (what Exchange does for recurring events across transitions).
pub(crate) fn local_to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut probe = local;
    for _ in 0..(24 * 60) {
        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
            return t.with_timezone(&Utc);
        }
        probe += chrono::Duration::minutes(1);
    }
    Utc.from_utc_datetime(&local)
}

/// Parses an event `dateTime`: naive (`2019-03-15T12:00:00`, any fraction) or, leniently,
/// with an offset, which is converted to the zone's wall time.
pub(crate) fn parse_local(text: &str, tz: Tz) -> Option<NaiveDateTime> {
    let t = text.trim();
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(n);
        }
    }
    if let Ok(n) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return n.and_hms_opt(0, 0, 0);
    }
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.with_timezone(&tz).naive_local())
}

/// Parses `startDateTime`/`endDateTime`: an offset is honoured, no offset means UTC
/// (graph.md §3.1). A `+` decoded as a space by form decoding is put back.
pub(crate) fn parse_window_time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim().replace(' ', "+");
    if let Ok(d) = DateTime::parse_from_rfc3339(&t) {
        return Some(d.with_timezone(&Utc));
    }
    parse_local(&t, Tz::UTC).map(|n| Utc.from_utc_datetime(&n))
}

/// The preferences of one request (`Prefer` may repeat and may list several values).
#[derive(Debug, Clone, Default)]
pub(crate) struct Prefer {
    /// `outlook.timezone`: the label as sent and the zone it names.
    pub(crate) timezone: Option<(String, Tz)>,
    pub(crate) max_page_size: Option<usize>,
    pub(crate) body_text: bool,
    pub(crate) immutable_id: bool,
}

impl Prefer {
    pub(crate) fn parse(headers: &HeaderMap) -> Self {
        let mut out = Self::default();
        for value in headers.get_all("prefer") {
            let Ok(text) = value.to_str() else { continue };
            for item in split_outside_quotes(text) {
                let (key, val) = match item.split_once('=') {
                    Some((k, v)) => (
                        k.trim().to_ascii_lowercase(),
                        v.trim().trim_matches('"').to_owned(),
                    ),
                    None => (item.trim().to_ascii_lowercase(), String::new()),
                };
                match key.as_str() {
                    "outlook.timezone" => {
                        out.timezone = resolve_zone(&val).map(|tz| (val.clone(), tz))
                    }
                    "odata.maxpagesize" => out.max_page_size = val.parse().ok().filter(|n| *n > 0),
                    "outlook.body-content-type" => out.body_text = val.eq_ignore_ascii_case("text"),
                    "idtype" => out.immutable_id = val.eq_ignore_ascii_case("ImmutableId"),
                    _ => {}
                }
            }
        }
        out
    }

    /// `Preference-Applied` values for what this emulator honoured.
    pub(crate) fn applied(&self, page_size_used: bool) -> Vec<String> {
        let mut v = Vec::new();
        if let Some((label, _)) = &self.timezone {
            v.push(format!("outlook.timezone=\"{label}\""));
        }
        if page_size_used && let Some(n) = self.max_page_size {
            v.push(format!("odata.maxpagesize={n}"));
        }
        if self.body_text {
            v.push("outlook.body-content-type=\"text\"".to_owned());
        }
        if self.immutable_id {
            v.push("IdType=\"ImmutableId\"".to_owned());
        }
        v
    }
}

fn split_outside_quotes(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' | ';' if !quoted => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// Decoded query options, looked up case-insensitively (`$skipToken` = `$skiptoken`).
#[derive(Debug, Clone, Default)]
pub(crate) struct Query {
    pub(crate) pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self { pairs }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The query string again, without the named options, keys kept literal (`$top`).
    pub(crate) fn without(&self, drop: &[&str]) -> String {
        self.pairs
            .iter()
            .filter(|(k, _)| !drop.iter().any(|d| d.eq_ignore_ascii_case(k)))
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                )
            })
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// Parses `$select=a,b` into property names (`None` when absent or empty).
pub(crate) fn select_list(query: &Query) -> Option<Vec<String>> {
    let raw = query.get("$select")?;
    let list: Vec<String> = raw
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    (!list.is_empty()).then_some(list)
}

/// Keeps only the selected properties (matched case-insensitively), plus `id` and the
/// `@odata.*` annotations, which Graph always returns.
pub(crate) fn apply_select(
    obj: Map<String, Value>,
    select: Option<&[String]>,
) -> Map<String, Value> {
    let Some(select) = select else { return obj };
    obj.into_iter()
        .filter(|(k, _)| {
            k == "id"
                || k.starts_with("@odata.")
                || k == "singleValueExtendedProperties"
                || select.iter().any(|s| s.eq_ignore_ascii_case(k))
        })
        .collect()
}

/// Crude HTML → text for `bodyPreview` and `Prefer: outlook.body-content-type="text"`:
/// drops `<head>`, tags, decodes the common entities and collapses whitespace.
pub(crate) fn html_to_text(html: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let mut src = html.to_owned();
    if let (Some(a), Some(b)) = (lower.find("<head"), lower.find("</head>"))
        && b > a
    {
        src = format!("{}{}", &html[..a], &html[b + 7..]);
    }
    let mut out = String::new();
    let mut in_tag = false;
    for c in src.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What Exchange stores for a text body: the text wrapped in its HTML envelope (graph.md
/// §3.4, "a text body comes back as HTML").
pub(crate) fn text_to_html(text: &str) -> String {
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = escaped.replace("\r\n", "\n").replace('\n', "<br>\r\n");
    format!(
        "<html>\r\n<head>\r\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\">\r\n</head>\r\n<body>\r\n{body}\r\n</body>\r\n</html>\r\n"
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn prefer_lists_parse() {
        let mut h = HeaderMap::new();
        h.insert(
            "prefer",
            "outlook.timezone=\"Pacific Standard Time\", odata.maxpagesize=5"
                .parse()
                .unwrap(),
        );
        h.append("prefer", "IdType=\"ImmutableId\"".parse().unwrap());
        let p = Prefer::parse(&h);
        assert_eq!(p.timezone.unwrap().1, chrono_tz::America::Los_Angeles);
        assert_eq!(p.max_page_size, Some(5));
        assert!(p.immutable_id);
    }

    #[test]
    fn formats_match_the_wire() {
        let t = "2019-02-28T21:17:57.56197Z"
            .parse::<DateTime<Utc>>()
            .unwrap();
        assert_eq!(fmt_utc(t), "2019-02-28T21:17:57.5619700Z");
        assert_eq!(
            parse_window_time("2019-11-08T19:00:00 08:00")
                .unwrap()
                .to_rfc3339(),
            "2019-11-08T11:00:00+00:00"
        );
        assert_eq!(
            html_to_text("<html><head><meta x></head><body><p>Hi&amp;bye</p></body></html>"),
            "Hi&bye"
        );
    }
}
