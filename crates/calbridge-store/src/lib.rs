//! The sync state of calbridge: what each run leaves for the next.
//!
//! A [`StateStore`] keeps, for one calendar pair, the linked pairs with their per-side base
//! (see [`calbridge_core::PairState`]), the create intents recorded before each create, the
//! change cursors of both sides, the events recorded for SnapRecord, and the history of runs.
//!
//! [`SqliteStore`] is the durable implementation (one file per calendar pair, WAL, one
//! transaction per commit, schema migrations, a lock so that a second process gets a clear
//! error); [`MemoryStore`] serves tests. The trait assumes nothing beyond what a transaction
//! gives, so a PostgreSQL store serving many workers (one row set per calendar pair) fits
//! behind it.

mod error;
mod memory;
mod sqlite;

pub use error::StoreError;
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use calbridge_core::{Echo, StateChange, SyncState};
use calbridge_model::{ItemId, Side};

/// A create about to be sent: recorded before the write, cleared in the same transaction
/// that records the new pair. One left behind means a run stopped between the two; the next
/// run's create carries the same key, so the service (or the pairing step) recognises the
/// copy instead of making a second one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateIntent {
    /// The idempotency key of the create.
    pub key: String,
    /// The side written.
    pub target: Side,
    /// The event copied.
    pub source_id: ItemId,
    /// When the intent was recorded.
    pub recorded_at: DateTime<Utc>,
}

/// One finished run, as kept in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// Whether it completed (false: stopped by an error or held by the delete guard).
    pub completed: bool,
    /// The run's report as JSON.
    pub report: serde_json::Value,
}

/// Durable state for one calendar pair.
///
/// Every method is one transaction: after it returns `Ok`, what it wrote survives a crash.
#[async_trait]
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// Everything the planner needs: the pairs and the SnapRecord set.
    ///
    /// # Errors
    /// [`StoreError`] when the state cannot be read.
    async fn load(&self) -> Result<SyncState, StoreError>;

    /// Applies state changes and clears the intents named in `done_intents`, all in one
    /// transaction.
    ///
    /// # Errors
    /// [`StoreError`]; then nothing was written.
    async fn commit(
        &self,
        changes: &[StateChange],
        done_intents: &[String],
    ) -> Result<(), StoreError>;

    /// Records writes before they are sent (see [`calbridge_core::Echo`]); a later commit
    /// naming an echo's item clears it, and [`StateStore::load`] returns those left.
    ///
    /// # Errors
    /// [`StoreError`]; then nothing was written.
    async fn record_echoes(&self, echoes: &[Echo]) -> Result<(), StoreError>;

    /// Records intents before their creates are sent.
    ///
    /// # Errors
    /// [`StoreError`]; then nothing was written.
    async fn record_intents(&self, intents: &[CreateIntent]) -> Result<(), StoreError>;

    /// Intents recorded and never cleared.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn pending_intents(&self) -> Result<Vec<CreateIntent>, StoreError>;

    /// A side's change cursor.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn cursor(&self, side: Side) -> Result<Option<String>, StoreError>;

    /// Sets (or with `None` clears) a side's change cursor.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn set_cursor(&self, side: Side, cursor: Option<&str>) -> Result<(), StoreError>;

    /// Adds an Outlook event to (or removes it from) the SnapRecord set.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn set_snapped(&self, id: &ItemId, snapped: bool) -> Result<(), StoreError>;

    /// Appends a run to the history (keeping the most recent 1,000).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError>;

    /// The most recent runs, newest first.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn recent_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError>;
}
