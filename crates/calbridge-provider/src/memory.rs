//! [`InMemoryProvider`]: the reference [`CalendarProvider`], held in memory, deterministic,
//! with scripted faults. The engine's tests (crash safety, retries, property tests) and the
//! examples run on it, so it implements every rule of the trait as strictly as a real
//! service: versions, optimistic concurrency, idempotent creates, cursors and tombstones.

mod faults;
mod state;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use calbridge_model::{Event, ItemId, Side};

use crate::{
    CalendarProvider, Capabilities, Changes, Cursor, ListWindow, Listing, ProviderError, Write,
    WriteResult,
};

pub use faults::{Fault, FaultError};

use state::State;

/// An in-memory calendar for one side.
///
/// - Ids are `mem-o-00000001` (Outlook) or `mem-s-00000001` (Salesforce), never reused.
/// - Every write, by the trait or by the simulated user, bumps a global sequence number `n`:
///   the event's version becomes `n` and its `last_modified` the logical clock, which is the
///   start time (see [`InMemoryProvider::with_start_time`]) plus `n` seconds.
/// - Listings are paged internally: each page counts one request (see
///   [`InMemoryProvider::requests`]).
/// - Cursors are `seq:n`; `changes` reports events written since, ids deleted since
///   (tombstones) and events that left the window since, as removed.
/// - Faults ([`Fault`]) script failures of trait calls and of single writes.
///
/// Clones share the calendar, so a test can keep one clone to edit and inspect while the
/// engine owns another.
#[derive(Clone, Debug)]
pub struct InMemoryProvider {
    side: Side,
    shared: Shared,
}

/// The shared state, with a short `Debug` (a provider may hold thousands of events and
/// appears in engine logs).
#[derive(Clone)]
struct Shared(Arc<Mutex<State>>);

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("State")
            .field("events", &state.len())
            .field("clock", &state.clock())
            .finish_non_exhaustive()
    }
}

impl InMemoryProvider {
    /// An empty calendar for `side`, with batches and pages of 100.
    #[must_use]
    pub fn new(side: Side) -> Self {
        Self {
            side,
            shared: Shared(Arc::new(Mutex::new(State::new(side)))),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while locked (in a test's edit closure) leaves the calendar consistent:
        // every mutation is a single insert or remove.
        self.shared.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the most writes one request takes ([`Capabilities::max_batch`]); at least 1.
    #[must_use]
    pub fn with_max_batch(self, max_batch: usize) -> Self {
        self.state().max_batch = max_batch.max(1);
        self
    }

    /// Sets how many events one listing page holds; at least 1.
    #[must_use]
    pub fn with_page_size(self, page_size: usize) -> Self {
        self.state().page_size = page_size.max(1);
        self
    }

    /// Sets the start of the logical clock (default 2026-01-01T00:00:00Z).
    #[must_use]
    pub fn with_start_time(self, start: DateTime<Utc>) -> Self {
        self.state().start_time = start;
        self
    }

    /// Keeps history (tombstones, moves) for only the last `writes` sequence numbers; a
    /// cursor older than that answers [`ProviderError::CursorExpired`]. Default: unlimited.
    #[must_use]
    pub fn with_tombstone_retention(self, writes: u64) -> Self {
        self.state().retention = Some(writes);
        self
    }

    /// The logical clock now: the start time plus one second per write so far.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.state().clock()
    }

    /// Requests made so far: one per listing page, `changes` call, `get`, `get_many` call, and `apply` chunk
    /// of up to `max_batch` writes. A call failed by a fault counts one.
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.state().requests
    }

    /// Sets the request count back to 0.
    pub fn reset_requests(&self) {
        self.state().requests = 0;
    }

    // ----- user simulation: edits made in the calendar itself, never subject to faults -----

    /// Stores events as they are, keeping their ids (an empty id gets a new one; an id that
    /// exists is replaced) and stamping versions. Returns the ids in order.
    pub fn seed(&self, events: impl IntoIterator<Item = Event>) -> Vec<ItemId> {
        let mut state = self.state();
        events.into_iter().map(|e| state.seed(e)).collect()
    }

    /// Creates an event with a new id, as a user would in the calendar's own interface.
    pub fn user_create(&self, event: Event) -> ItemId {
        self.state().user_create(event)
    }

    /// Edits an event in place (its id cannot change) and stamps a new version; `false` when
    /// there is no such event. `edit` runs with the calendar locked: it must not call back
    /// into this provider.
    pub fn user_edit(&self, id: &ItemId, edit: impl FnOnce(&mut Event)) -> bool {
        self.state().user_edit(id, edit)
    }

    /// Deletes an event, leaving a tombstone; `false` when there is no such event.
    pub fn user_delete(&self, id: &ItemId) -> bool {
        self.state().user_delete(id)
    }

    /// Every event, in id order.
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        self.state().events()
    }

    /// Calls `f` with every event, in id order, without copying them (`f` runs with the
    /// calendar locked: it must not call back into this provider).
    pub fn for_each_event(&self, f: impl FnMut(&Event)) {
        self.state().for_each_event(f);
    }

    /// One event, read without counting a request.
    #[must_use]
    pub fn event(&self, id: &ItemId) -> Option<Event> {
        self.state().event(id)
    }

    /// How many events the calendar holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.state().len()
    }

    /// Whether the calendar holds no events.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // ----- faults -----

    /// Scripts a failure; see [`Fault`].
    pub fn inject(&self, fault: Fault) {
        tracing::debug!(side = %self.side, ?fault, "fault injected");
        let mut state = self.state();
        if fault == Fault::ExpireCursors {
            state.expire_cursors();
        } else {
            state.faults.add(fault);
        }
    }

    /// Forgets every pending fault, including an armed
    /// [`crash_after_writes`](Self::crash_after_writes). Cursors already expired stay expired.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    /// Simulates a connection dropped after the service applied `n` more writes: the `apply`
    /// call in which the `n`-th successful write happens stops there and answers
    /// [`ProviderError::Transient`] ("connection dropped") for **every** write of the call,
    /// although the first ones were applied. With `n = 0` the next `apply` applies nothing.
    /// Fires once.
    pub fn crash_after_writes(&self, n: u64) {
        self.state().faults.crash_after(n);
    }

    /// Counts a trait call; the injected error it fails with, if any.
    fn call_fault(state: &mut State, call: &'static str) -> Option<FaultError> {
        let error = state.faults.on_call()?;
        state.requests += 1;
        tracing::debug!(side = %state.side, call, ?error, "injected call fault fired");
        Some(error)
    }
}

fn dropped() -> ProviderError {
    ProviderError::transient("connection dropped")
}

/// One write, after its item faults.
fn apply_one(state: &mut State, write: Write) -> Result<WriteResult, ProviderError> {
    let target = match &write {
        Write::Create {
            idempotency_key, ..
        } => idempotency_key.as_str(),
        Write::Update { id, .. } | Write::Delete { id, .. } => id.as_str(),
    };
    if let Some(error) = state.faults.on_item(target) {
        tracing::debug!(side = %state.side, target, ?error, "injected item fault fired");
        return Err(error.into());
    }
    match write {
        Write::Create {
            event,
            idempotency_key,
        } => state.create(event, idempotency_key),
        Write::Update {
            id,
            expected_version,
            changes,
        } => state.update(&id, expected_version.as_ref(), changes),
        Write::Delete {
            id,
            expected_version,
        } => state.delete(&id, expected_version.as_ref()),
    }
}

#[async_trait]
impl CalendarProvider for InMemoryProvider {
    fn side(&self) -> Side {
        self.side
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_batch: self.state().max_batch,
            incremental: true,
            idempotent_creates: true,
        }
    }

    async fn list(&self, window: &ListWindow) -> Result<Listing, ProviderError> {
        let mut state = self.state();
        if let Some(error) = Self::call_fault(&mut state, "list") {
            return Err(error.into());
        }
        Ok(state.list(window))
    }

    async fn changes(
        &self,
        cursor: &Cursor,
        window: &ListWindow,
    ) -> Result<Changes, ProviderError> {
        let mut state = self.state();
        if let Some(error) = Self::call_fault(&mut state, "changes") {
            return Err(error.into());
        }
        state.changes(cursor, window)
    }

    async fn get(&self, id: &ItemId) -> Result<Option<Event>, ProviderError> {
        let mut state = self.state();
        if let Some(error) = Self::call_fault(&mut state, "get") {
            return Err(error.into());
        }
        Ok(state.get(id))
    }

    /// One request for the whole slice, whatever its length (an empty slice counts one
    /// too, as a call a fault can aim at).
    async fn get_many(&self, ids: &[ItemId]) -> Result<Vec<Option<Event>>, ProviderError> {
        let mut state = self.state();
        if let Some(error) = Self::call_fault(&mut state, "get_many") {
            return Err(error.into());
        }
        state.requests += 1;
        Ok(ids.iter().map(|id| state.event(id)).collect())
    }

    /// Applies every write, whatever their number, counting one request per
    /// `max_batch` chunk (a caller sending more than `max_batch` is not refused: a real
    /// connector would split the call the same way).
    async fn apply(&self, writes: Vec<Write>) -> Vec<Result<WriteResult, ProviderError>> {
        let mut state = self.state();
        let count = writes.len();
        if let Some(error) = Self::call_fault(&mut state, "apply") {
            return (0..count).map(|_| Err(error.clone().into())).collect();
        }
        if count == 0 {
            return Vec::new();
        }
        state.requests += u64::try_from(count.div_ceil(state.max_batch)).unwrap_or(u64::MAX);
        if state.faults.crash_due() {
            state.faults.crashed();
            tracing::debug!(side = %state.side, "simulated dropped connection before any write");
            return (0..count).map(|_| Err(dropped())).collect();
        }
        let mut results = Vec::with_capacity(count);
        for write in writes {
            let result = apply_one(&mut state, write);
            let applied = result.is_ok();
            results.push(result);
            if applied && state.faults.on_write_applied() {
                state.faults.crashed();
                tracing::debug!(
                    side = %state.side,
                    applied = results.iter().filter(|r| r.is_ok()).count(),
                    "simulated dropped connection: applied writes reported failed"
                );
                return (0..count).map(|_| Err(dropped())).collect();
            }
        }
        results
    }

    fn requests(&self) -> u64 {
        Self::requests(self)
    }
}
