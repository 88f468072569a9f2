//! The values that cross the provider boundary.

use chrono::{DateTime, Utc};

use calbridge_core::BrokenItem;
use calbridge_model::{Event, FieldValue, ItemId, VersionTag};

/// The instants a listing covers. Providers may return more (all-day events are dates and
/// have no zone); the planner filters exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListWindow {
    /// The first instant.
    pub start: DateTime<Utc>,
    /// The first instant after the window.
    pub end: DateTime<Utc>,
}

/// An opaque position in a calendar's change history (a Graph delta link, a Salesforce
/// modification watermark).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Cursor(pub String);

impl std::fmt::Debug for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Delta links can embed tokens: show their length only.
        write!(f, "Cursor({} bytes)", self.0.len())
    }
}

/// A full listing of a window.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The events.
    pub events: Vec<Event>,
    /// Items that exist but could not be mapped.
    pub broken: Vec<BrokenItem>,
    /// Where to read changes from next time, when supported.
    pub cursor: Option<Cursor>,
}

/// Changes since a cursor.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// New and edited events.
    pub events: Vec<Event>,
    /// Items that exist but could not be mapped.
    pub broken: Vec<BrokenItem>,
    /// Ids reported removed. Not yet proof of deletion: Graph also reports events that left
    /// the window; the engine confirms each by id.
    pub removed: Vec<ItemId>,
    /// The next cursor.
    pub cursor: Cursor,
}

/// One write.
#[allow(
    clippy::large_enum_variant,
    reason = "writes live briefly in one batch; boxing the event would change the contract every connector matches on"
)]
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Create an event; a repeated `idempotency_key` must not create a second one.
    Create {
        /// The content (its `id` is ignored).
        event: Event,
        /// The key.
        idempotency_key: String,
    },
    /// Update fields of an event, only if it is still at `expected_version`.
    Update {
        /// The event.
        id: ItemId,
        /// The version it was read at (`None`: unconditional).
        expected_version: Option<VersionTag>,
        /// The new values.
        changes: Vec<FieldValue>,
    },
    /// Delete an event, only if it is still at `expected_version`. Deleting an event that is
    /// already gone succeeds.
    Delete {
        /// The event.
        id: ItemId,
        /// The version it was read at (`None`: unconditional).
        expected_version: Option<VersionTag>,
    },
}

/// The result of one successful write.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteResult {
    /// The event as stored (for a repeated key: the event created the first time). Its
    /// `version` may be `None` when the service answers a create without its stamp (then the
    /// next read brings it); every synced field must be as stored.
    Created(Event),
    /// The event as stored after the update.
    Updated(Event),
    /// The event is gone.
    Deleted,
}

/// What a provider supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// The most writes one [`CalendarProvider::apply`](crate::CalendarProvider::apply) call takes (Graph `$batch`: 20,
    /// Salesforce collections: 200).
    pub max_batch: usize,
    /// Whether [`CalendarProvider::changes`](crate::CalendarProvider::changes) works.
    pub incremental: bool,
    /// Whether a repeated idempotency key is recognised by the service itself.
    pub idempotent_creates: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            max_batch: 1,
            incremental: false,
            idempotent_creates: false,
        }
    }
}

/// A service's own account of usage against its limits (Salesforce's `Sforce-Limit-Info`:
/// API requests in the last 24 hours against the org's allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Quota {
    /// Used so far.
    pub used: u64,
    /// The allocation.
    pub limit: u64,
}
