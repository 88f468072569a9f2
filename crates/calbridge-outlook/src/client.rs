//! Talking to Graph over HTTP: the bearer token (refreshed once after a 401), the `Prefer`
//! headers every read needs, paging links followed only on the configured origin, `$batch`,
//! a count of every request sent, and a gate that keeps every request back until a
//! `Retry-After` the service sent has passed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::Value;
use url::Url;

use calbridge_http::{TokenSource, same_origin};
use calbridge_model::ItemId;
use calbridge_provider::ProviderError;

use crate::error::{GraphError, parse_error, transport};
use crate::wire::{BatchAnswer, BatchBody, BatchRequest, BatchResponse};

/// The preferences of every request that returns events: UTC times (zones come from
/// `originalStartTimeZone`), immutable ids (stable across moves), and HTML bodies (to tell
/// formatted bodies from plain ones).
pub(crate) const PREFER_EVENTS: &str =
    "outlook.timezone=\"UTC\", IdType=\"ImmutableId\", outlook.body-content-type=\"html\"";

/// An answer, whatever its status.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The parsed error of a failed answer.
    pub(crate) fn error(&self) -> GraphError {
        parse_error(self.status, &self.headers, &self.body)
    }

    /// The answer when it succeeded, else the engine's view of its error.
    pub(crate) fn ok(self, item: Option<&ItemId>) -> Result<Self, ProviderError> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(self.error().into_provider(item))
        }
    }
}

/// One request.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) prefer: Option<String>,
    pub(crate) json: Option<&'a Value>,
}

impl Call<'_> {
    pub(crate) fn get(url: Url, prefer: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            url,
            prefer: Some(prefer.into()),
            json: None,
        }
    }
}

/// The HTTP side of the connector.
pub(crate) struct GraphClient {
    http: reqwest::Client,
    /// The version root, without a trailing slash (`https://graph.microsoft.com/v1.0`).
    base: Url,
    tokens: Arc<TokenSource>,
    requests: AtomicU64,
    not_before: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.base.as_str())
            .field("requests", &self.requests.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl GraphClient {
    pub(crate) fn new(http: reqwest::Client, base: Url, tokens: Arc<TokenSource>) -> Self {
        Self {
            http,
            base,
            tokens,
            requests: AtomicU64::new(0),
            not_before: Mutex::new(None),
        }
    }

    /// How many HTTP requests were sent.
    pub(crate) fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// A URL under the version root. `path_and_query` starts with `/` and is already
    /// percent-encoded (see [`segment`] and [`query`]).
    pub(crate) fn url(&self, path_and_query: &str) -> Result<Url, ProviderError> {
        let text = format!(
            "{}{path_and_query}",
            self.base.as_str().trim_end_matches('/')
        );
        Url::parse(&text).map_err(|e| ProviderError::permanent(format!("bad request URL: {e}")))
    }

    /// A link Graph returned (`@odata.nextLink`, `@odata.deltaLink`), accepted only on the
    /// configured origin: a hostile page must not get our token sent elsewhere.
    pub(crate) fn follow(&self, link: &str) -> Result<Url, ProviderError> {
        same_origin(&self.base, link).map_err(|e| ProviderError::permanent(e.to_string()))
    }

    /// `url` relative to the version root, as `$batch` items want it.
    pub(crate) fn relative(&self, url: &Url) -> String {
        let root = self.base.path().trim_end_matches('/');
        let path = url.path();
        let path = path.strip_prefix(root).unwrap_or(path);
        match url.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        }
    }

    fn gate(&self) -> Result<(), ProviderError> {
        let mut not_before = self
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match *not_before {
            Some(at) if at > Instant::now() => Err(ProviderError::Throttled {
                retry_after: Some(at - Instant::now()),
                message: "Graph asked to wait (Retry-After) and the wait is not over".into(),
            }),
            Some(_) => {
                *not_before = None;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Holds every request back until `wait` has passed.
    pub(crate) fn hold(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut not_before = self
            .not_before
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if not_before.is_none_or(|at| at < until) {
            *not_before = Some(until);
        }
    }

    /// Sends a request. A 401 refreshes the token once and resends; a second 401 is
    /// [`ProviderError::Auth`]. Every other status is returned as an [`Answer`]. A
    /// `Retry-After` on a throttling or unavailability answer closes the gate.
    pub(crate) async fn send(&self, call: Call<'_>) -> Result<Answer, ProviderError> {
        // Before anything else, the token endpoint included: Graph asked us to wait.
        self.gate()?;
        let mut token = self.tokens.token().await?;
        let mut refreshed = false;
        loop {
            self.gate()?;
            let mut request = self
                .http
                .request(call.method.clone(), call.url.clone())
                .bearer_auth(token.access_token.expose_secret());
            if let Some(prefer) = &call.prefer {
                request = request.header("Prefer", prefer);
            }
            if let Some(json) = call.json {
                request = request.json(json);
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let what = format!("{} {}", call.method, call.url.path());
            let response = request.send().await.map_err(|e| transport(&e, &what))?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response
                .bytes()
                .await
                .map_err(|e| transport(&e, &what))?
                .to_vec();
            let answer = Answer {
                status,
                headers,
                body,
            };
            if status == StatusCode::UNAUTHORIZED {
                if refreshed {
                    return Err(answer.error().into_provider(None));
                }
                tracing::debug!(request = %what, "access token refused; refreshing once");
                token = self
                    .tokens
                    .refresh_after_rejection(&token.access_token)
                    .await?;
                refreshed = true;
                continue;
            }
            if is_wait_status(status.as_u16())
                && let Some(wait) = answer.error().retry_after
            {
                self.hold(wait);
            }
            return Ok(answer);
        }
    }

    /// Sends one `$batch` (at most 20 requests) and returns each answer by request id.
    /// A batch that fails as a whole fails every item with the same error kind.
    pub(crate) async fn batch(
        &self,
        requests: &[BatchRequest],
    ) -> Result<BTreeMap<String, BatchResponse>, ProviderError> {
        let url = self.url("/$batch")?;
        let body = serde_json::to_value(BatchBody { requests })
            .map_err(|e| ProviderError::permanent(format!("cannot encode a batch: {e}")))?;
        let answer = self
            .send(Call {
                method: Method::POST,
                url,
                prefer: None,
                json: Some(&body),
            })
            .await?
            .ok(None)?;
        let parsed: BatchAnswer =
            serde_json::from_slice(&answer.body).map_err(|e| ProviderError::Transient {
                retry_after: None,
                message: format!(
                    "unreadable $batch answer ({e}): {}",
                    calbridge_http::body_snippet(&answer.body)
                ),
                source: None,
            })?;
        let mut by_id = BTreeMap::new();
        let mut longest_wait: Option<Duration> = None;
        for response in parsed.responses {
            if is_wait_status(response.status)
                && let Some(wait) = item_error(&response).retry_after
            {
                longest_wait = longest_wait.max(Some(wait));
            }
            by_id.insert(response.id.clone(), response);
        }
        if let Some(wait) = longest_wait {
            self.hold(wait);
        }
        Ok(by_id)
    }
}

fn is_wait_status(status: u16) -> bool {
    matches!(status, 429 | 503 | 504)
}

/// The headers of a `$batch` item as an HTTP header map (invalid entries dropped).
pub(crate) fn item_headers(response: &BatchResponse) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in &response.headers {
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

/// The parsed error of a `$batch` item.
pub(crate) fn item_error(response: &BatchResponse) -> GraphError {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let body = match &response.body {
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(other) => serde_json::to_vec(other).unwrap_or_default(),
        None => Vec::new(),
    };
    parse_error(status, &item_headers(response), &body)
}

/// Percent-encodes one path segment: Graph ids hold `/`, `+` and `=`.
pub(crate) fn segment(text: &str) -> String {
    encode(text, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
    })
}

/// Builds a query string from `(name, value)` pairs, names as given (`$select`), values
/// percent-encoded (spaces as `%20`, which every OData parser reads as a space).
pub(crate) fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| {
            let value = encode(value, |b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'-' | b'.' | b'_' | b'~' | b',' | b'(' | b')' | b'\'' | b'$' | b':'
                    )
            });
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_encoded_as_one_segment() {
        assert_eq!(segment("AAMk/+ab=="), "AAMk%2F%2Bab%3D%3D");
        assert_eq!(segment("a-b_c.d~e"), "a-b_c.d~e");
    }

    #[test]
    fn queries_encode_spaces_braces_and_quotes_safely() {
        let q = query(&[
            ("$expand", "x($filter=id eq 'String {6b2f} Name calbridge')"),
            ("startDateTime", "2026-01-01T00:00:00Z"),
        ]);
        assert_eq!(
            q,
            "$expand=x($filter%3Did%20eq%20'String%20%7B6b2f%7D%20Name%20calbridge')&startDateTime=2026-01-01T00:00:00Z"
        );
    }
}
