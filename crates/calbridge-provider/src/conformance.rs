//! The conformance suite every [`CalendarProvider`] passes: the in-memory provider in this
//! crate's tests, the connectors against their emulators, and — with care — real services.
//!
//! Each behaviour is a function `async fn(p, ctx) -> Result<(), ConformanceError>`. It
//! creates its own events, with a subject prefix unique to the run, in the days after
//! [`Context::now`]; never assumes the calendar is empty (it looks only at its own events);
//! deletes what it created before returning, pass or fail; and reports failures as values,
//! never panics. [`run_all`] runs every behaviour and returns the first failure.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use calbridge_provider::{InMemoryProvider, conformance};
//! use calbridge_model::Side;
//!
//! let provider = InMemoryProvider::new(Side::Outlook);
//! let ctx = conformance::Context::new(chrono::Utc::now());
//! conformance::run_all(&provider, &ctx).await.unwrap();
//! # });
//! ```

mod batch;
mod behaviours;
mod scope;

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::{CalendarProvider, ProviderError};

pub use batch::get_many_matches_get;
pub use behaviours::{
    all_day_round_trip, changes_report_edits_and_deletions, crud_round_trip,
    deleted_item_reads_none, idempotent_create, listing_covers_every_page,
    private_flag_round_trips, stale_version_is_refused, timed_zones_round_trip,
};

/// How many events [`listing_covers_every_page`] creates: more than two pages of a
/// 100-event page, the in-memory provider's default, plus some.
pub const MANY_EVENTS: usize = 250;

/// The names of the behaviours, in the order [`run_all`] runs them.
pub const BEHAVIOURS: [&str; 10] = [
    "crud_round_trip",
    "listing_covers_every_page",
    "stale_version_is_refused",
    "idempotent_create",
    "timed_zones_round_trip",
    "all_day_round_trip",
    "private_flag_round_trips",
    "deleted_item_reads_none",
    "changes_report_edits_and_deletions",
    "get_many_matches_get",
];

/// What the suite needs to know about the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    /// The present: events are created 3 to 30 days after it, and listed over
    /// `now - 1 day .. now + 60 days`.
    pub now: DateTime<Utc>,
}

impl Context {
    /// A context for `now`.
    #[must_use]
    pub fn new(now: DateTime<Utc>) -> Self {
        Self { now }
    }
}

/// A behaviour the provider got wrong (or could not be checked because a call failed).
#[derive(Debug, Error)]
#[error("conformance `{behaviour}` failed: {message}")]
pub struct ConformanceError {
    /// The behaviour (one of [`BEHAVIOURS`]).
    pub behaviour: &'static str,
    /// What went wrong.
    pub message: String,
    /// The provider's error, when a call failed.
    #[source]
    pub source: Option<ProviderError>,
}

/// Runs every behaviour, in the order of [`BEHAVIOURS`], and returns each outcome. Later
/// behaviours run even when an earlier one failed.
pub async fn run_each(
    p: &dyn CalendarProvider,
    ctx: &Context,
) -> Vec<(&'static str, Result<(), ConformanceError>)> {
    let mut outcomes = Vec::with_capacity(BEHAVIOURS.len());
    // A macro rather than a table of function pointers: async fns borrowing their
    // arguments do not coerce to one boxed type without ceremony.
    macro_rules! run {
        ($($behaviour:ident),* $(,)?) => {$(
            let outcome = $behaviour(p, ctx).await;
            match &outcome {
                Ok(()) => tracing::info!(behaviour = stringify!($behaviour), "conformance passed"),
                Err(error) => tracing::error!(%error, "conformance failed"),
            }
            outcomes.push((stringify!($behaviour), outcome));
        )*};
    }
    run!(
        crud_round_trip,
        listing_covers_every_page,
        stale_version_is_refused,
        idempotent_create,
        timed_zones_round_trip,
        all_day_round_trip,
        private_flag_round_trips,
        deleted_item_reads_none,
        changes_report_edits_and_deletions,
        get_many_matches_get,
    );
    outcomes
}

/// Runs every behaviour and returns the first failure.
///
/// # Errors
/// The first behaviour that failed, by name, with what went wrong.
pub async fn run_all(p: &dyn CalendarProvider, ctx: &Context) -> Result<(), ConformanceError> {
    run_each(p, ctx)
        .await
        .into_iter()
        .map(|(_, outcome)| outcome)
        .find(Result::is_err)
        .unwrap_or(Ok(()))
}
