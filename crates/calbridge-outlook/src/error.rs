//! Graph's answers that are not successes, parsed in one place ([`parse_error`]) and turned
//! into [`ProviderError`] kinds the engine acts on.

use std::time::Duration;

use http::{HeaderMap, StatusCode};
use serde_json::Value;
use thiserror::Error;

use calbridge_http::{body_snippet, retry_after};
use calbridge_model::ItemId;
use calbridge_provider::ProviderError;

/// How much of a service message is kept: messages end up in reports and logs.
const MAX_MESSAGE: usize = 300;

/// A Graph answer with an error status, as far as its body could be read.
///
/// The body is the documented shape `{"error": {"code", "message", "innerError": {...}}}`
/// when the service behaves; anything else (HTML from a proxy, truncated JSON, nothing)
/// still gives a `GraphError` that quotes the status and the first bytes of the body.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("Graph answered {status}{}: {message}", self.code_suffix())]
pub struct GraphError {
    /// The HTTP status.
    pub status: u16,
    /// The error codes, outermost first (`innerError` objects can nest more specific ones).
    /// Empty when the body had none.
    pub codes: Vec<String>,
    /// The service's message, or a snippet of the unexpected body.
    pub message: String,
    /// The property the service blamed (`error.target` or `details[].target`), if any.
    pub target: Option<String>,
    /// The wait the service asked for (`Retry-After`).
    pub retry_after: Option<Duration>,
    /// The event an `ErrorDuplicateTransactionId` answer points at, when it says.
    pub existing_event_id: Option<String>,
}

impl GraphError {
    fn code_suffix(&self) -> String {
        self.codes
            .first()
            .filter(|c| !c.is_empty())
            .map(|c| format!(" {c}"))
            .unwrap_or_default()
    }

    /// Whether any code in the chain is `code` (Graph codes are matched case-insensitively:
    /// Outlook spells them `SyncStateNotFound`, generic Graph `syncStateNotFound`).
    #[must_use]
    pub fn has_code(&self, code: &str) -> bool {
        self.codes.iter().any(|c| c.eq_ignore_ascii_case(code))
    }

    /// Whether this answer says a delta token is dead: 410 Gone, `syncStateNotFound` or
    /// `resyncRequired`.
    #[must_use]
    pub fn is_cursor_expired(&self) -> bool {
        self.status == StatusCode::GONE.as_u16()
            || self.has_code("syncStateNotFound")
            || self.has_code("resyncRequired")
    }

    /// Whether this answer refuses a create because its `transactionId` was used before.
    #[must_use]
    pub fn is_duplicate_transaction(&self) -> bool {
        self.has_code("ErrorDuplicateTransactionId")
    }

    /// The engine's view of this error; `item` is the event the request was about, if any.
    #[must_use]
    pub fn into_provider(self, item: Option<&ItemId>) -> ProviderError {
        let status = self.status;
        if self.has_code("syncStateNotFound") || self.has_code("resyncRequired") {
            return ProviderError::CursorExpired;
        }
        match (status, item) {
            (401, _) => ProviderError::Auth {
                message: self.to_string(),
            },
            (429, _) => ProviderError::Throttled {
                retry_after: self.retry_after,
                message: self.to_string(),
            },
            // 500 and 502 are not named by Graph's throttling guide, but they are what a
            // gateway hiccup looks like; creates are safe to repeat thanks to transactionId.
            (408 | 500 | 502 | 503 | 504, _) => ProviderError::Transient {
                retry_after: self.retry_after,
                message: self.to_string(),
                source: None,
            },
            (404 | 410, Some(id)) => ProviderError::NotFound { id: id.clone() },
            (412, Some(id)) => ProviderError::Precondition { id: id.clone() },
            // A conflicting concurrent write to the item (ErrorIrresolvableConflict has been
            // seen with 409 too): re-read and plan again, as for a stale etag.
            (409, Some(id)) if self.has_code("ErrorIrresolvableConflict") => {
                ProviderError::Precondition { id: id.clone() }
            }
            (400 | 422, _) => match self.blamed_field() {
                Some(field) => ProviderError::InvalidData {
                    field,
                    message: self.to_string(),
                },
                None => ProviderError::permanent(self.to_string()),
            },
            _ => ProviderError::permanent(self.to_string()),
        }
    }

    /// The field a validation error is about: the service's `target`, a property named in
    /// the message, or one implied by a well-known code.
    fn blamed_field(&self) -> Option<String> {
        if let Some(target) = self.target.as_ref().filter(|t| !t.is_empty()) {
            return Some(target.clone());
        }
        if self.has_code("ErrorInvalidIdMalformed") {
            return Some("id".into());
        }
        if self.has_code("ErrorOccurrenceCrossingBoundary") {
            return Some("start".into());
        }
        if self.has_code("ErrorDuplicateTransactionId") {
            return Some("transactionId".into());
        }
        quoted_property(&self.message)
    }
}

/// A property named in a message: `... property 'start' ...`, `... 'isAllDay' ...`.
fn quoted_property(message: &str) -> Option<String> {
    let mut parts = message.split('\'');
    parts.next()?;
    let candidate = parts.next()?;
    let looks_like_name = !candidate.is_empty()
        && candidate.len() <= 64
        && candidate
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '/' | '@'));
    looks_like_name.then(|| candidate.to_owned())
}

/// Parses an error answer. Never panics, whatever the body.
#[must_use]
pub fn parse_error(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> GraphError {
    let retry_after = retry_after(headers, chrono::Utc::now());
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    match error {
        Some(Value::Object(_)) => {
            let error = error.unwrap_or(&Value::Null);
            GraphError {
                status: status.as_u16(),
                codes: code_chain(error),
                message: message_of(error, body),
                target: target_of(error),
                retry_after,
                existing_event_id: existing_id_of(error),
            }
        }
        // OAuth-style bodies (`{"error": "invalid_token", "error_description": ...}`) and
        // anything else: keep what there is, quote the body.
        Some(Value::String(code)) => GraphError {
            status: status.as_u16(),
            codes: vec![code.clone()],
            message: parsed
                .as_ref()
                .and_then(|v| v.get("error_description"))
                .and_then(Value::as_str)
                .map_or_else(|| body_snippet(body), truncate),
            target: None,
            retry_after,
            existing_event_id: None,
        },
        _ => GraphError {
            status: status.as_u16(),
            codes: Vec::new(),
            message: if body.is_empty() {
                "empty body".into()
            } else {
                format!("unexpected body: {}", body_snippet(body))
            },
            target: None,
            retry_after,
            existing_event_id: None,
        },
    }
}

fn truncate(text: &str) -> String {
    let mut out: String = text.chars().take(MAX_MESSAGE).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    out
}

/// `error.code`, then each nested `innerError.code` (bounded: a hostile body could nest
/// deeply).
fn code_chain(error: &Value) -> Vec<String> {
    let mut codes = Vec::new();
    let mut node = Some(error);
    for _ in 0..8 {
        let Some(current) = node else { break };
        if let Some(code) = current.get("code").and_then(Value::as_str) {
            codes.push(code.to_owned());
        }
        node = current
            .get("innerError")
            .or_else(|| current.get("innererror"))
            .filter(|v| v.is_object());
    }
    codes
}

fn message_of(error: &Value, body: &[u8]) -> String {
    match error.get("message").and_then(Value::as_str) {
        Some(m) if !m.is_empty() => truncate(m),
        _ => format!("no message; body: {}", body_snippet(body)),
    }
}

fn target_of(error: &Value) -> Option<String> {
    if let Some(target) = error.get("target").and_then(Value::as_str) {
        return Some(target.to_owned());
    }
    error
        .get("details")
        .and_then(Value::as_array)?
        .iter()
        .find_map(|d| d.get("target").and_then(Value::as_str))
        .map(str::to_owned)
}

/// The existing event's id in a duplicate-transaction answer. Undocumented: one client reads
/// an `@event.existingEventId` annotation; look for it on the error and its inner error.
fn existing_id_of(error: &Value) -> Option<String> {
    let keys = ["@event.existingEventId", "existingEventId"];
    let inner = error.get("innerError");
    [Some(error), inner]
        .into_iter()
        .flatten()
        .find_map(|node| {
            keys.iter()
                .find_map(|k| node.get(*k).and_then(Value::as_str))
        })
        .map(str::to_owned)
}

/// A failure to talk to Graph at all (connect, reset, timeout, a body cut short): worth a
/// retry. Only a request we could not even build is permanent.
pub(crate) fn transport(error: &reqwest::Error, what: &str) -> ProviderError {
    if error.is_builder() {
        return ProviderError::permanent(format!("{what}: cannot build the request: {error}"));
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    // The URL may carry a delta token: reqwest's message names it, so strip it.
    let message = format!("{what}: {kind}: {}", error_without_url(error));
    ProviderError::Transient {
        retry_after: None,
        message,
        source: None,
    }
}

fn error_without_url(error: &reqwest::Error) -> String {
    let text = error.to_string();
    match error.url() {
        Some(url) => text.replace(url.as_str(), "<url>"),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calbridge_provider::ErrorKind;

    fn parse(status: u16, body: &str) -> GraphError {
        parse_error(
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
        )
    }

    fn kind(status: u16, body: &str) -> ErrorKind {
        parse(status, body)
            .into_provider(Some(&ItemId::new("AAMk=")))
            .kind()
    }

    #[test]
    fn documented_throttling_body_with_retry_after() {
        let body = r#"{"error":{"code":"TooManyRequests","innerError":{"code":"429","date":"2020-08-18T12:51:51","message":"Please retry after","request-id":"94fb3b52","status":"429"},"message":"Please retry again later."}}"#;
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "10".parse().unwrap());
        let error = parse_error(StatusCode::TOO_MANY_REQUESTS, &headers, body.as_bytes());
        assert_eq!(error.codes, ["TooManyRequests", "429"]);
        assert_eq!(error.retry_after, Some(Duration::from_secs(10)));
        let provider = error.into_provider(None);
        assert_eq!(provider.kind(), ErrorKind::Throttled);
        assert_eq!(provider.retry_after(), Some(Duration::from_secs(10)));
    }

    #[test]
    fn statuses_map_to_kinds() {
        let body = r#"{"error":{"code":"X","message":"m"}}"#;
        assert_eq!(kind(401, body), ErrorKind::Auth);
        assert_eq!(kind(404, body), ErrorKind::NotFound);
        assert_eq!(kind(412, body), ErrorKind::Precondition);
        assert_eq!(kind(503, body), ErrorKind::Transient);
        assert_eq!(kind(504, body), ErrorKind::Transient);
        assert_eq!(kind(403, body), ErrorKind::Permanent);
        assert_eq!(kind(400, body), ErrorKind::Permanent);
        assert_eq!(
            kind(
                409,
                r#"{"error":{"code":"ErrorIrresolvableConflict","message":"m"}}"#
            ),
            ErrorKind::Precondition
        );
        // Without an item, "not found" is about the calendar or mailbox: permanent.
        assert_eq!(
            parse(404, body).into_provider(None).kind(),
            ErrorKind::Permanent
        );
    }

    #[test]
    fn dead_delta_tokens_in_every_spelling() {
        for (status, body) in [
            (
                410,
                r#"{"error":{"code":"SyncStateNotFound","message":"The sync state generation is not found; generation=149;[highest=157]"}}"#,
            ),
            (
                400,
                r#"{"error":{"code":"syncStateNotFound","message":"gone"}}"#,
            ),
            (
                400,
                r#"{"error":{"code":"badRequest","message":"x","innerError":{"code":"resyncRequired"}}}"#,
            ),
            (410, ""),
        ] {
            let error = parse(status, body);
            assert!(error.is_cursor_expired(), "{status} {body}");
        }
        assert_eq!(
            parse(400, r#"{"error":{"code":"resyncRequired","message":"m"}}"#)
                .into_provider(None)
                .kind(),
            ErrorKind::CursorExpired
        );
    }

    #[test]
    fn validation_errors_name_their_field() {
        let by_target = parse(
            400,
            r#"{"error":{"code":"ErrorInvalidRequest","message":"bad","target":"end"}}"#,
        )
        .into_provider(None);
        assert!(
            matches!(&by_target, ProviderError::InvalidData { field, .. } if field == "end"),
            "{by_target:?}"
        );
        let by_message = parse(
            400,
            r#"{"error":{"code":"ErrorInvalidRequest","message":"The property 'isAllDay' requires midnight."}}"#,
        )
        .into_provider(None);
        assert!(
            matches!(&by_message, ProviderError::InvalidData { field, .. } if field == "isAllDay"),
            "{by_message:?}"
        );
        let malformed = parse(
            400,
            r#"{"error":{"code":"ErrorInvalidIdMalformed","message":"Id is malformed."}}"#,
        )
        .into_provider(None);
        assert!(
            matches!(&malformed, ProviderError::InvalidData { field, .. } if field == "id"),
            "{malformed:?}"
        );
    }

    #[test]
    fn garbage_bodies_never_panic_and_are_quoted() {
        let bodies: [&[u8]; 7] = [
            b"",
            b"<html><body>502 Bad Gateway</body></html>",
            b"{\"error\":",
            b"{\"error\":null}",
            b"[1,2,3]",
            b"\xff\xfe\x00garbage",
            b"{\"error\":{\"code\":17,\"message\":[\"x\"],\"innerError\":\"no\"}}",
        ];
        for body in bodies {
            let error = parse_error(StatusCode::BAD_GATEWAY, &HeaderMap::new(), body);
            assert_eq!(error.status, 502);
            let text = error.to_string();
            assert!(text.contains("502"), "{text}");
            assert_eq!(
                error.into_provider(None).kind(),
                ErrorKind::Transient,
                "{text}"
            );
        }
        let html = parse(418, "<html>I'm a teapot</html>");
        assert!(html.to_string().contains("teapot"), "{html}");
        assert_eq!(html.into_provider(None).kind(), ErrorKind::Permanent);
    }

    #[test]
    fn huge_messages_are_cut() {
        let body = format!(
            r#"{{"error":{{"code":"X","message":"{}"}}}}"#,
            "a".repeat(10_000)
        );
        assert!(parse(400, &body).message.chars().count() <= MAX_MESSAGE + 1);
    }

    #[test]
    fn duplicate_transaction_and_existing_id() {
        let error = parse(
            400,
            r#"{"error":{"code":"ErrorDuplicateTransactionId","message":"used","@event.existingEventId":"AAMk+/="}}"#,
        );
        assert!(error.is_duplicate_transaction());
        assert_eq!(error.existing_event_id.as_deref(), Some("AAMk+/="));
    }

    #[test]
    fn oauth_style_error_bodies() {
        let error = parse(
            401,
            r#"{"error":"invalid_token","error_description":"expired"}"#,
        );
        assert_eq!(error.codes, ["invalid_token"]);
        assert_eq!(error.message, "expired");
    }
}
