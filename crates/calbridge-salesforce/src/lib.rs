//! calbridge's Salesforce connector: one Salesforce user's calendar (the `Event` sObject) as
//! a [`CalendarProvider`](calbridge_provider::CalendarProvider), over the REST API.
//!
//! - **Configuration** ([`SalesforceProviderBuilder`]): login host (production, sandbox or
//!   My Domain), API version (default [`DEFAULT_API_VERSION`]), the owner whose calendar
//!   syncs (default the signed-in user, from `/services/oauth2/userinfo`), an optional
//!   external-id field for idempotent creates, the snap fields allowed, a token source, the
//!   HTTP client and the batch size (200).
//! - **Auth** ([`WebServerFlow`], [`SalesforceTokenFetcher`]): the web-server flow with PKCE
//!   and the refresh-token flow through the `oauth2` crate, and the JWT bearer flow (RS256).
//!   Every call goes to the token's `instance_url`; a 401 refreshes the token once and
//!   replays the call. Tokens and secrets never appear in `Debug` or logs.
//! - **Reading**: SOQL over the window for the owner, selecting only the mapped fields,
//!   following `nextRecordsUrl` on the instance's origin only; Classic series masters are
//!   skipped and their occurrences synced. Changes come from a `SystemModstamp` watermark and
//!   `queryAll` (edits and deletions in one request); a watermark older than the 15 days
//!   Salesforce keeps deletions is [`CursorExpired`](calbridge_provider::ProviderError::CursorExpired).
//! - **Mapping** ([`Mapping`], table in [`mapping`]): exact both ways, all-day and multi-day
//!   events through `IsAllDayEvent`, `ActivityDate` and `DurationInMinutes`.
//! - **Writing**: sObject Collections (200 records, `allOrNone = false`), each record's result
//!   its own outcome; creates are upserts on the external-id field when one is configured;
//!   every written record is read back in one query.
//! - **Errors** ([`classify`]): Salesforce's error codes as
//!   [`ProviderError`](calbridge_provider::ProviderError) kinds; the latest `Sforce-Limit-Info`
//!   is kept ([`SalesforceProvider::api_usage`]).

mod auth;
mod client;
mod config;
mod error;
mod fetcher;
pub mod mapping;
mod provider;
pub mod soql;
mod wire;
mod writes;

pub use auth::{
    AuthorizationStart, PRODUCTION_LOGIN, SANDBOX_LOGIN, WebServerFlow, login_host,
    parse_token_response,
};
pub use config::{
    DEFAULT_API_VERSION, DEFAULT_WATERMARK_OVERLAP, MAX_BATCH, SalesforceProviderBuilder,
};
pub use error::{ApiError, ConfigError, classify, parse_errors};
pub use fetcher::SalesforceTokenFetcher;
pub use mapping::{BrokenRecord, EVENT_FIELDS, Mapping, Outgoing, Row};
pub use provider::{DELETED_RETENTION, MAX_IDS_PER_QUERY, SalesforceProvider};
pub use wire::{
    ApiUsage, QueryPage, SaveResult, format_date, format_datetime, parse_date, parse_datetime,
};
