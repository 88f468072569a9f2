//! The public value types of the emulator's API: id style, issued tokens, recorded
//! requests and injectable faults.

use std::time::Duration;

/// How new event ids are shaped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdStyle {
    /// Like Graph immutable ids: URL-safe base64, always holding `-` and `_`.
    #[default]
    UrlSafe,
    /// Every other id also holds `/`, `+` and a trailing `=`, as REST ids do: a connector
    /// must percent-encode ids in paths (graph.md §0, pitfall 15).
    Mixed,
}

/// Tokens issued by [`GraphEmulator::issue_token`](super::GraphEmulator::issue_token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphTokens {
    /// Bearer token for `/v1.0` calls.
    pub access_token: String,
    /// Refresh token for `grant_type=refresh_token` at the token endpoint.
    pub refresh_token: String,
}

/// One request as the emulator received it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path and query as sent, e.g. `/v1.0/me/calendarView?startDateTime=...`.
    pub path_and_query: String,
    /// Selected headers (`content-type`, `if-match`, `prefer`, `client-request-id`,
    /// `accept`), plus `authorization` with only its scheme (`Bearer [redacted]`).
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy UTF-8).
    pub body: String,
    /// The status answered; `None` while in flight or when the connection was dropped.
    pub status: Option<u16>,
}

impl RecordedRequest {
    /// The first recorded value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A fault to inject. Request faults are queued and fire, in order, on the next `times`
/// requests whose path and query contain `path` (every request, token endpoints included,
/// when `None`), before any handler runs: a faulted request changes no state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GraphFault {
    /// 429 `TooManyRequests` with `Retry-After` (whole seconds, rounded up).
    Throttle {
        /// Value of `Retry-After`.
        retry_after: Duration,
        /// How many requests it answers.
        times: u32,
        /// Only requests whose path and query contain this.
        path: Option<String>,
    },
    /// A transient 5xx (503 `serviceNotAvailable`, 504 `gatewayTimeout`, 500 `generalException`).
    Unavailable {
        /// The HTTP status.
        status: u16,
        /// How many requests it answers.
        times: u32,
        /// Only requests whose path and query contain this.
        path: Option<String>,
    },
    /// Close the connection without any HTTP answer (the client sees a connection error).
    DropConnection {
        /// How many requests it drops.
        times: u32,
        /// Only requests whose path and query contain this.
        path: Option<String>,
    },
    /// Delay the answer, then serve normally.
    Slow {
        /// How long to wait before handling.
        delay: Duration,
        /// How many requests it delays.
        times: u32,
        /// Only requests whose path and query contain this.
        path: Option<String>,
    },
    /// Expire every access token now (refresh tokens keep working).
    ExpireTokens,
    /// Kill every delta chain now: their links answer 410 `syncStateNotFound`.
    ExpireDeltaTokens,
    /// The next `times` `$batch` items answer 429 with their own `Retry-After`, while
    /// the batch itself answers 200.
    BatchItemThrottle {
        /// Value of the items' `Retry-After`.
        retry_after: Duration,
        /// How many items it answers.
        times: u32,
    },
    /// The next `times` delta requests that carry a token answer 410 `resyncRequired`,
    /// and their chain dies.
    ResyncRequired {
        /// How many delta requests it answers.
        times: u32,
    },
    /// Revoke every refresh token: refreshing answers `invalid_grant`.
    RevokeRefreshTokens,
}
