//! What can go wrong talking to a calendar, classified so the engine can decide from the
//! kind alone whether to retry, skip the item, or stop the run.

use std::time::Duration;

use thiserror::Error;

use calbridge_model::ItemId;

/// A boxed error from a lower layer (HTTP client, JSON parser, …).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error from a [`CalendarProvider`](crate::CalendarProvider).
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The service asked us to slow down (HTTP 429, Salesforce `REQUEST_LIMIT_EXCEEDED`).
    #[error("throttled by the service{}: {message}", fmt_after(*retry_after))]
    Throttled {
        /// How long the service asked us to wait, when it said.
        retry_after: Option<Duration>,
        /// The service's message.
        message: String,
    },
    /// A failure that may pass on retry (5xx, a dropped connection, a lock error).
    #[error("temporary failure{}: {message}", fmt_after(*retry_after))]
    Transient {
        /// How long to wait, when the service said.
        retry_after: Option<Duration>,
        /// What happened.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// The credentials were refused or expired and could not be refreshed: the run stops.
    #[error("authentication failed: {message}")]
    Auth {
        /// What the service said.
        message: String,
    },
    /// The item does not exist (any more).
    #[error("{id} was not found")]
    NotFound {
        /// The item.
        id: ItemId,
    },
    /// The item changed since the version the write was planned against.
    #[error("{id} changed since it was read")]
    Precondition {
        /// The item.
        id: ItemId,
    },
    /// The service refused a value; the item is skipped and reported.
    #[error("invalid data in `{field}`: {message}")]
    InvalidData {
        /// The field at fault, as the service or the mapping names it.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// An incremental cursor is no longer valid: list the window again.
    #[error("the change cursor expired; a full listing is needed")]
    CursorExpired,
    /// Any other failure that retrying will not fix.
    #[error("permanent failure: {message}")]
    Permanent {
        /// What happened.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
}

fn fmt_after(after: Option<Duration>) -> String {
    after
        .map(|d| format!(" (retry after {} ms)", d.as_millis()))
        .unwrap_or_default()
}

/// The kind of a [`ProviderError`], which alone decides what the engine does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Wait and retry.
    Throttled,
    /// Retry with backoff.
    Transient,
    /// Stop the run.
    Auth,
    /// The item is gone.
    NotFound,
    /// Re-read the item and plan it again.
    Precondition,
    /// Skip the item and report it.
    InvalidData,
    /// List again.
    CursorExpired,
    /// Skip the item and report it.
    Permanent,
}

impl ProviderError {
    /// The error's kind.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Throttled { .. } => ErrorKind::Throttled,
            Self::Transient { .. } => ErrorKind::Transient,
            Self::Auth { .. } => ErrorKind::Auth,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Precondition { .. } => ErrorKind::Precondition,
            Self::InvalidData { .. } => ErrorKind::InvalidData,
            Self::CursorExpired => ErrorKind::CursorExpired,
            Self::Permanent { .. } => ErrorKind::Permanent,
        }
    }

    /// Whether retrying the same request may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind(), ErrorKind::Throttled | ErrorKind::Transient)
    }

    /// How long the service asked us to wait before retrying.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Throttled { retry_after, .. } | Self::Transient { retry_after, .. } => {
                *retry_after
            }
            _ => None,
        }
    }

    /// A copy of this error for another item of the same failed request: the kind, the wait
    /// and the message are kept (what the engine acts on); the source is dropped, since
    /// errors are not `Clone`.
    #[must_use]
    pub fn duplicate(&self) -> Self {
        match self {
            Self::Throttled {
                retry_after,
                message,
            } => Self::Throttled {
                retry_after: *retry_after,
                message: message.clone(),
            },
            Self::Transient {
                retry_after,
                message,
                ..
            } => Self::Transient {
                retry_after: *retry_after,
                message: message.clone(),
                source: None,
            },
            Self::Auth { message } => Self::Auth {
                message: message.clone(),
            },
            Self::NotFound { id } => Self::NotFound { id: id.clone() },
            Self::Precondition { id } => Self::Precondition { id: id.clone() },
            Self::InvalidData { field, message } => Self::InvalidData {
                field: field.clone(),
                message: message.clone(),
            },
            Self::CursorExpired => Self::CursorExpired,
            Self::Permanent { message, .. } => Self::Permanent {
                message: message.clone(),
                source: None,
            },
        }
    }

    /// A transient error with a message and no source.
    #[must_use]
    pub fn transient(message: impl Into<String>) -> Self {
        Self::Transient {
            retry_after: None,
            message: message.into(),
            source: None,
        }
    }

    /// A permanent error with a message and no source.
    #[must_use]
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent {
            message: message.into(),
            source: None,
        }
    }
}
