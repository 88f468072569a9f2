//! calbridge's Outlook connector: one Outlook calendar through Microsoft Graph v1.0, as a
//! [`CalendarProvider`](calbridge_provider::CalendarProvider).
//!
//! - **Configuration** ([`OutlookProvider::builder`]): the Graph base URL (default
//!   [`DEFAULT_BASE_URL`]), the mailbox (`/me` or `/users/{id}`), the calendar (primary, an
//!   own calendar by id or name, or a calendar another user shared), a
//!   [`TokenSource`](calbridge_http::TokenSource), page and batch sizes.
//! - **Sign-in** ([`GraphAuth`]): authorization code with PKCE, device code, client
//!   credentials, on the Microsoft identity platform's v2.0 endpoints (any authority and
//!   tenant); [`GraphTokenFetcher`] refreshes tokens for the token source. Secrets never
//!   appear in `Debug` output or logs.
//! - **Reading**: `calendarView` with only the fields used, UTC times, immutable ids and
//!   calbridge's extended property, following `@odata.nextLink` exactly; incremental reads
//!   through `calendarView/delta`, the newest delta link being the cursor. Series sync as
//!   their occurrences. Items that cannot be mapped exactly (unknown or custom time zones,
//!   bad dates) are returned as broken with a typed error, never dropped or guessed.
//! - **Writing**: up to 20 writes per `$batch`, creates idempotent through `transactionId`,
//!   updates and deletes guarded by `If-Match`. Attendees are never sent (Outlook would
//!   mail invitations); `categories` are never touched.
//! - **Errors**: Graph's error bodies become [`ProviderError`](calbridge_provider::ProviderError)
//!   kinds ([`GraphError`], [`parse_error`]); a `Retry-After` holds every further request
//!   back until it has passed.
//!
//! The Salesforce relation (`WhatId`/`WhoId`), snap fields and the counterpart's Salesforce
//! id travel in one single-value extended property ([`EXTENDED_PROPERTY_ID`]) holding
//! compact JSON, so every machine running calbridge against the mailbox sees them.
//!
//! Costs: a listing is a delta round plus a `calendarView` pass, each one request per page
//! (windows longer than Graph's 1825-day cap are read in parts); a no-change incremental
//! read is one request; writes go 20 to a `$batch` (updates read their events first, one
//! more `$batch` per 20). [`requests`](calbridge_provider::CalendarProvider::requests)
//! counts requests to Graph; token-endpoint calls go through the shared token source and
//! are not counted.
//!
//! Limits, by Graph's design: a changed recurring series makes the cursor expire (delta does
//! not say which occurrences went away), so the window is listed again; `cancelled` is read
//! but never written (cancelling through Graph mails the attendees).

mod auth;
mod client;
mod config;
mod error;
pub mod mapping;
mod property;
mod provider;
mod read;
mod wire;
mod write;
mod zone;

pub use auth::{
    APP_ONLY_SCOPE, AuthError, AuthorizeRequest, DEFAULT_AUTHORITY, DELEGATED_SCOPES, DeviceCode,
    Grant, GraphAuth, GraphTokenFetcher,
};
pub use config::{
    CalendarSelector, ConfigError, DEFAULT_BASE_URL, DEFAULT_PAGE_SIZE, MAX_BATCH, Mailbox,
    OutlookProviderBuilder,
};
pub use error::{GraphError, parse_error};
pub use property::{EXTENDED_PROPERTY_ID, PROPERTY_NAMESPACE};
pub use provider::{CalendarInfo, OutlookProvider};
