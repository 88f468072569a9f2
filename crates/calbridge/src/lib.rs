//! calbridge keeps one Outlook calendar (Microsoft Graph) and one Salesforce user's calendar
//! (the `Event` sObject) in step, by rules the user sets.
//!
//! The [`SyncEngine`] runs fetch → plan → (preview | apply) → record: it reads both sides
//! (incrementally when it can), confirms apparent deletions by id, plans with the pure
//! reconcile core ([`core`]), and applies the plan in batches with an intent before every
//! create, the state committed after every confirmed batch, transient failures retried with
//! backoff honouring `Retry-After`, and per-item failures reported while the run goes on.
//! [`SyncEngine::run_auto`] runs it on a schedule.
//!
//! The building blocks are re-exported: [`model`] (events), [`core`] (settings, plans,
//! schedules), [`provider`] (the calendar trait and an in-memory calendar) and [`store`]
//! (durable state).

mod apply;
mod auto;
mod builder;
mod clock;
mod engine;
mod error;
mod fetch;
mod report;
mod retry;

pub use auto::AutoRun;
pub use builder::SyncEngineBuilder;
pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{Preview, SyncEngine, SyncOptions};
pub use error::EngineError;
pub use report::{ItemFailure, Report, SideReport, SyncObserver};
pub use retry::RetryPolicy;

pub use calbridge_core::{SyncMode, SyncSettings};

/// The reconcile core: settings, plans, schedules.
pub use calbridge_core as core;
/// The event model.
pub use calbridge_model as model;
/// Calendar providers.
pub use calbridge_provider as provider;
/// Sync state stores.
pub use calbridge_store as store;

/// The README's examples, compiled and run as doctests.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
