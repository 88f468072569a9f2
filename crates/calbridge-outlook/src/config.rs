//! Configuring an [`OutlookProvider`](crate::OutlookProvider): where Graph is, whose mailbox,
//! which calendar, which tokens.

use std::sync::Arc;

use calbridge_core::OutlookCalendar;
use calbridge_http::{ClientOptions, TokenSource, build_client, require_secure_endpoint};
use thiserror::Error;

use crate::client::GraphClient;
use crate::provider::OutlookProvider;

/// Microsoft Graph v1.0.
pub const DEFAULT_BASE_URL: &str = "https://graph.microsoft.com/v1.0";

/// The most requests Graph accepts in one `$batch`.
pub const MAX_BATCH: usize = 20;

/// The default page size of listings (`$top`) and delta rounds (`odata.maxpagesize`).
pub const DEFAULT_PAGE_SIZE: usize = 250;

/// Whose mailbox the calendar is read through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mailbox {
    /// The signed-in user (`/me`; delegated tokens only).
    #[default]
    Me,
    /// A user by id or principal name (`/users/{id}`): app-only access, or a delegate.
    User(String),
}

/// Which calendar syncs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CalendarSelector {
    /// The mailbox's primary calendar.
    #[default]
    Primary,
    /// One of the mailbox's calendars, by Graph id.
    Id(String),
    /// One of the mailbox's calendars, by display name (looked up on first use).
    Named(String),
    /// A calendar another user shared with the signed-in user, read through the owner's
    /// mailbox (`/users/{owner}/...`; needs `Calendars.ReadWrite.Shared`).
    Shared {
        /// The owner's id or address.
        owner: String,
        /// The calendar's id in the owner's mailbox (`None`: the owner's primary calendar).
        calendar: Option<String>,
    },
    /// A calendar another user shared, by display name (looked up on first use among the
    /// calendars `owner` shared).
    SharedNamed {
        /// The owner's id or address.
        owner: String,
        /// The calendar's name.
        name: String,
    },
}

impl From<&OutlookCalendar> for CalendarSelector {
    fn from(calendar: &OutlookCalendar) -> Self {
        match calendar {
            OutlookCalendar::Primary => Self::Primary,
            OutlookCalendar::Id { id } => Self::Id(id.clone()),
            OutlookCalendar::Named { name } => Self::Named(name.clone()),
            OutlookCalendar::Shared { owner, name } if name.is_empty() => Self::Shared {
                owner: owner.clone(),
                calendar: None,
            },
            OutlookCalendar::Shared { owner, name } => Self::SharedNamed {
                owner: owner.clone(),
                name: name.clone(),
            },
        }
    }
}

/// Why a provider could not be built.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The base URL is not `https` (or `http` on loopback), or not a URL.
    #[error("invalid Graph base URL: {0}")]
    BaseUrl(String),
    /// No token source was given.
    #[error("a token source is required")]
    MissingTokens,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

/// Builds an [`OutlookProvider`].
///
/// ```no_run
/// # fn demo(tokens: std::sync::Arc<calbridge_http::TokenSource>) -> Result<(), calbridge_outlook::ConfigError> {
/// use calbridge_outlook::{CalendarSelector, Mailbox, OutlookProvider};
///
/// let outlook = OutlookProvider::builder()
///     .mailbox(Mailbox::Me)
///     .calendar(CalendarSelector::Primary)
///     .token_source(tokens)
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct OutlookProviderBuilder {
    base_url: String,
    mailbox: Mailbox,
    calendar: CalendarSelector,
    tokens: Option<Arc<TokenSource>>,
    http: Option<reqwest::Client>,
    page_size: usize,
    max_batch: usize,
}

impl Default for OutlookProviderBuilder {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.into(),
            mailbox: Mailbox::Me,
            calendar: CalendarSelector::Primary,
            tokens: None,
            http: None,
            page_size: DEFAULT_PAGE_SIZE,
            max_batch: MAX_BATCH,
        }
    }
}

impl OutlookProviderBuilder {
    /// The Graph version root (default [`DEFAULT_BASE_URL`]; tests point it at an
    /// emulator).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Whose mailbox (default [`Mailbox::Me`]).
    #[must_use]
    pub fn mailbox(mut self, mailbox: Mailbox) -> Self {
        self.mailbox = mailbox;
        self
    }

    /// Which calendar (default [`CalendarSelector::Primary`]).
    #[must_use]
    pub fn calendar(mut self, calendar: impl Into<CalendarSelector>) -> Self {
        self.calendar = calendar.into();
        self
    }

    /// Where access tokens come from (required).
    #[must_use]
    pub fn token_source(mut self, tokens: Arc<TokenSource>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// The HTTP client (default: [`calbridge_http::build_client`], which never follows
    /// redirects).
    #[must_use]
    pub fn with_http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// Events per listing page and per delta page (1–1000, default
    /// [`DEFAULT_PAGE_SIZE`]).
    #[must_use]
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = size.clamp(1, 1000);
        self
    }

    /// Writes per `$batch` (1–20, default [`MAX_BATCH`]).
    #[must_use]
    pub fn max_batch(mut self, size: usize) -> Self {
        self.max_batch = size.clamp(1, MAX_BATCH);
        self
    }

    /// Checks the configuration and builds the provider. Nothing is sent yet: named
    /// calendars are looked up on first use.
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn build(self) -> Result<OutlookProvider, ConfigError> {
        let base = require_secure_endpoint(self.base_url.trim_end_matches('/'))
            .map_err(|e| ConfigError::BaseUrl(e.to_string()))?;
        let tokens = self.tokens.ok_or(ConfigError::MissingTokens)?;
        let http = match self.http {
            Some(http) => http,
            None => build_client(&ClientOptions::default())
                .map_err(|e| ConfigError::Http(e.to_string()))?,
        };
        Ok(OutlookProvider::from_parts(
            GraphClient::new(http, base, tokens),
            self.mailbox,
            self.calendar,
            self.page_size,
            self.max_batch,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_map_to_selectors() {
        assert_eq!(
            CalendarSelector::from(&OutlookCalendar::Shared {
                owner: "ada@example.com".into(),
                name: String::new(),
            }),
            CalendarSelector::Shared {
                owner: "ada@example.com".into(),
                calendar: None,
            }
        );
        assert_eq!(
            CalendarSelector::from(&OutlookCalendar::Named {
                name: "Sales".into()
            }),
            CalendarSelector::Named("Sales".into())
        );
    }

    #[test]
    fn limits_are_clamped() {
        let b = OutlookProviderBuilder::default().max_batch(50).page_size(0);
        assert_eq!((b.max_batch, b.page_size), (MAX_BATCH, 1));
    }

    #[test]
    fn insecure_base_urls_and_missing_tokens_are_refused() {
        let err = OutlookProviderBuilder::default()
            .base_url("http://graph.example.com/v1.0")
            .build()
            .unwrap_err();
        assert!(matches!(err, ConfigError::BaseUrl(_)), "{err}");
        let err = OutlookProviderBuilder::default().build().unwrap_err();
        assert!(matches!(err, ConfigError::MissingTokens), "{err}");
    }
}
