//! The calendar-provider abstraction of calbridge.
//!
//! A [`CalendarProvider`] is one calendar on one side — an Outlook calendar through Microsoft
//! Graph, a Salesforce user's events, or the [`InMemoryProvider`] used in tests and examples.
//! It lists a window (paging internally, returning a complete snapshot), reports changes since
//! an opaque cursor, reads events by id (one or many at a time), and applies batches of writes with optimistic
//! concurrency (updates and deletes carry the version they were planned against) and
//! idempotent creates (a repeated idempotency key creates one event).
//!
//! Every provider runs the same `conformance` suite (module `conformance`, feature
//! `conformance`).

mod error;
mod memory;
mod types;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

pub use error::{BoxError, ErrorKind, ProviderError};
pub use memory::{Fault, FaultError, InMemoryProvider};
pub use types::{Capabilities, Changes, Cursor, ListWindow, Listing, Quota, Write, WriteResult};

use async_trait::async_trait;

use calbridge_model::{Event, ItemId, Side};

/// One calendar on one side.
///
/// Implementations must be cheap to share (`Send + Sync`); the engine calls them from one
/// task at a time per calendar pair but never assumes more.
#[async_trait]
pub trait CalendarProvider: Send + Sync + std::fmt::Debug {
    /// Which side this calendar is.
    fn side(&self) -> Side;

    /// What this provider can do.
    fn capabilities(&self) -> Capabilities;

    /// Every event overlapping `window`, all pages read, plus a cursor for
    /// [`CalendarProvider::changes`] when the provider supports incremental reads.
    /// Items that exist but cannot be mapped are returned in [`Listing::broken`], never
    /// dropped.
    ///
    /// # Errors
    /// Any [`ProviderError`]; a failed page fails the whole listing.
    async fn list(&self, window: &ListWindow) -> Result<Listing, ProviderError>;

    /// What changed in `window` since `cursor`: new and edited events, removed ids (which
    /// the engine confirms by id before treating as deletions), and the next cursor.
    ///
    /// # Errors
    /// [`ProviderError::CursorExpired`] when the cursor is no longer valid (list again);
    /// any other [`ProviderError`].
    async fn changes(&self, cursor: &Cursor, window: &ListWindow)
    -> Result<Changes, ProviderError>;

    /// One event by id; `Ok(None)` when it is gone.
    ///
    /// # Errors
    /// Any [`ProviderError`] but `NotFound` (which is `Ok(None)`).
    async fn get(&self, id: &ItemId) -> Result<Option<Event>, ProviderError>;

    /// Several events by id, in as few requests as the service allows: one answer per id,
    /// in the same order and number as `ids` (a repeated id is answered each time), `None`
    /// where [`CalendarProvider::get`] would answer `Ok(None)`. An id that `get` would
    /// fail for (an item that cannot be mapped, a malformed id) fails the whole call with
    /// the same error. The default calls `get` for each id.
    ///
    /// # Errors
    /// Any [`ProviderError`] but `NotFound`; a failed request fails the whole call.
    async fn get_many(&self, ids: &[ItemId]) -> Result<Vec<Option<Event>>, ProviderError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.get(id).await?);
        }
        Ok(out)
    }

    /// Applies writes, at most [`Capabilities::max_batch`] at once, returning one result per
    /// write in the same order. A failed write does not fail the others.
    async fn apply(&self, writes: Vec<Write>) -> Vec<Result<WriteResult, ProviderError>>;

    /// How many requests this provider has sent so far (for reports). Providers that do not
    /// count answer 0.
    fn requests(&self) -> u64 {
        0
    }

    /// The service's usage against its limits as last reported, when it reports one.
    fn quota(&self) -> Option<Quota> {
        None
    }
}

#[async_trait]
impl<P: CalendarProvider + ?Sized> CalendarProvider for std::sync::Arc<P> {
    fn side(&self) -> Side {
        (**self).side()
    }

    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }

    async fn list(&self, window: &ListWindow) -> Result<Listing, ProviderError> {
        (**self).list(window).await
    }

    async fn changes(
        &self,
        cursor: &Cursor,
        window: &ListWindow,
    ) -> Result<Changes, ProviderError> {
        (**self).changes(cursor, window).await
    }

    async fn get(&self, id: &ItemId) -> Result<Option<Event>, ProviderError> {
        (**self).get(id).await
    }

    async fn get_many(&self, ids: &[ItemId]) -> Result<Vec<Option<Event>>, ProviderError> {
        (**self).get_many(ids).await
    }

    async fn apply(&self, writes: Vec<Write>) -> Vec<Result<WriteResult, ProviderError>> {
        (**self).apply(writes).await
    }

    fn requests(&self) -> u64 {
        (**self).requests()
    }

    fn quota(&self) -> Option<Quota> {
        (**self).quota()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trait_is_object_safe() {
        fn takes(_: &dyn CalendarProvider) {}
        takes(&InMemoryProvider::new(Side::Outlook));
    }
}
