//! Reading both sides for a run: incremental when a cursor exists, a full listing
//! otherwise, then every linked item the planner must see confirmed by id.

use std::time::Duration;

use chrono::NaiveDate;
use tracing::{Instrument, debug, info_span};

use calbridge_core::{Planner, Snapshot, SyncState};
use calbridge_model::{ItemId, Side};
use calbridge_provider::{CalendarProvider, Cursor, ListWindow, ProviderError};
use calbridge_store::StateStore;

use crate::retry::{Jitter, RetryPolicy};
use crate::{Clock, EngineError};

/// One side as read.
#[derive(Debug)]
pub(crate) struct SideRead {
    pub(crate) snapshot: Snapshot,
    /// The cursor to store once the run's writes are done.
    pub(crate) next_cursor: Option<Cursor>,
    pub(crate) full: bool,
    /// The last day of the window this read covered.
    pub(crate) window_end: NaiveDate,
}

/// A cursor as stored: prefixed with the end of the window it was opened for. A provider's
/// changes only report what was modified, so when days come into range (the window moves
/// every day) the next read must be a full listing, or an old, untouched event that just
/// entered the range would never be seen.
pub(crate) fn stored_cursor(window_end: NaiveDate, cursor: &Cursor) -> String {
    format!("{window_end}\n{}", cursor.0)
}

fn usable_cursor(stored: &str, window_end: NaiveDate) -> Option<Cursor> {
    let (day, cursor) = stored.split_once('\n')?;
    (day == window_end.to_string()).then(|| Cursor(cursor.to_owned()))
}

/// Retries a provider call on throttling and transient failures.
pub(crate) async fn with_retry<T, F, Fut>(
    clock: &dyn Clock,
    policy: &RetryPolicy,
    jitter: &mut Jitter,
    mut call: F,
) -> Result<T, ProviderError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, ProviderError>>,
{
    let mut attempt = 1;
    let mut waited = Duration::ZERO;
    loop {
        match call().await {
            Err(e) if e.is_retryable() => {
                let Some(wait) = policy.backoff(attempt, waited, e.retry_after(), jitter.next())
                else {
                    return Err(e);
                };
                debug!(attempt, wait_ms = wait.as_millis() as u64, error = %e, "retrying");
                clock.sleep(wait).await;
                waited += wait;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Reads one side.
pub(crate) async fn read_side(
    provider: &dyn CalendarProvider,
    store: &dyn StateStore,
    window: ListWindow,
    window_end: NaiveDate,
    clock: &dyn Clock,
    policy: &RetryPolicy,
    jitter: &mut Jitter,
) -> Result<SideRead, EngineError> {
    let side = provider.side();
    let map_err = |source: ProviderError| EngineError::reading(side, source);
    let cursor = if provider.capabilities().incremental {
        store
            .cursor(side)
            .await?
            .and_then(|stored| usable_cursor(&stored, window_end))
    } else {
        None
    };
    if let Some(cursor) = cursor {
        let span = info_span!("changes", %side);
        let result = with_retry(clock, policy, jitter, || provider.changes(&cursor, &window))
            .instrument(span)
            .await;
        match result {
            Ok(changes) => {
                let mut snapshot = Snapshot::changes(changes.events, Vec::new());
                snapshot.broken = changes.broken;
                // Reported removals are only candidates: Graph also reports events that
                // left the window. Each is confirmed by id below.
                confirm(
                    provider,
                    &changes.removed,
                    &mut snapshot,
                    clock,
                    policy,
                    jitter,
                )
                .await
                .map_err(map_err)?;
                return Ok(SideRead {
                    snapshot,
                    next_cursor: Some(changes.cursor),
                    full: false,
                    window_end,
                });
            }
            Err(ProviderError::CursorExpired) => debug!(%side, "cursor expired; listing again"),
            Err(e) => return Err(map_err(e)),
        }
    }
    let span = info_span!("list", %side);
    let listing = with_retry(clock, policy, jitter, || provider.list(&window))
        .instrument(span)
        .await
        .map_err(map_err)?;
    let mut snapshot = Snapshot::complete(listing.events);
    snapshot.broken = listing.broken;
    Ok(SideRead {
        snapshot,
        next_cursor: listing.cursor,
        full: true,
        window_end,
    })
}

/// How many ids one [`CalendarProvider::get_many`] call reads (connectors split further
/// as their service requires: 20 to a Graph `$batch`, 200 to a Salesforce query).
pub(crate) const CONFIRM_CHUNK: usize = 200;

/// Reads `ids` in chunks of [`CONFIRM_CHUNK`]: present ones join the snapshot's events,
/// missing ones its confirmed-gone list.
pub(crate) async fn confirm(
    provider: &dyn CalendarProvider,
    ids: &[ItemId],
    snapshot: &mut Snapshot,
    clock: &dyn Clock,
    policy: &RetryPolicy,
    jitter: &mut Jitter,
) -> Result<(), ProviderError> {
    // Callers pass ids the snapshot does not mention yet; only repeats are skipped here.
    let mut seen = std::collections::HashSet::new();
    let unique: Vec<ItemId> = ids.iter().filter(|id| seen.insert(*id)).cloned().collect();
    for chunk in unique.chunks(CONFIRM_CHUNK) {
        let found = with_retry(clock, policy, jitter, || provider.get_many(chunk)).await?;
        if found.len() != chunk.len() {
            return Err(ProviderError::permanent(format!(
                "a read of {} ids by id answered {}",
                chunk.len(),
                found.len()
            )));
        }
        for (id, event) in chunk.iter().zip(found) {
            match event {
                Some(event) => snapshot.events.push(event),
                None => snapshot.gone.push(id.clone()),
            }
        }
    }
    Ok(())
}

/// Reads what the planner needs confirmed: linked items missing from a full listing, and the
/// counterparts of changed items read incrementally.
pub(crate) async fn confirm_linked(
    planner: &Planner<'_>,
    providers: [&dyn CalendarProvider; 2],
    reads: &mut [SideRead; 2],
    state: &SyncState,
    clock: &dyn Clock,
    policy: &RetryPolicy,
    jitter: &mut Jitter,
) -> Result<(), EngineError> {
    let needed = planner.ids_to_confirm(&reads[0].snapshot, &reads[1].snapshot, state);
    for side in Side::BOTH {
        let slot = usize::from(side == Side::Salesforce);
        let ids: Vec<ItemId> = needed
            .iter()
            .filter(|(s, _)| *s == side)
            .map(|(_, id)| id.clone())
            .collect();
        if ids.is_empty() {
            continue;
        }
        confirm(
            providers[slot],
            &ids,
            &mut reads[slot].snapshot,
            clock,
            policy,
            jitter,
        )
        .await
        .map_err(|source| EngineError::reading(side, source))?;
    }
    Ok(())
}
