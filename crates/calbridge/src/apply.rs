//! Applying a plan: batches sized to each side, an intent before every create, state
//! committed after every confirmed batch, transient failures retried, per-item failures
//! reported while the run goes on, and an authentication failure stopping it.

use std::time::Duration;

use tracing::{Instrument, debug, info_span, warn};

use calbridge_core::{Action, Echo, Operation, Plan, StateChange, WriteOutcome};
use calbridge_model::{FieldHashes, ItemId, Side};
use calbridge_provider::{CalendarProvider, ErrorKind, ProviderError, Write, WriteResult};
use calbridge_store::{CreateIntent, StateStore};

use crate::report::{ItemFailure, Notify, Report};
use crate::retry::{Jitter, RetryPolicy};
use crate::{Clock, EngineError};

/// Everything applying needs.
pub(crate) struct Applier<'a> {
    pub(crate) providers: [&'a dyn CalendarProvider; 2],
    pub(crate) store: &'a dyn StateStore,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) policy: &'a RetryPolicy,
    pub(crate) jitter: &'a mut Jitter,
    pub(crate) notify: &'a Notify<'a>,
    pub(crate) report: &'a mut Report,
    /// Every state change committed, in order, for the engine's in-memory copy.
    pub(crate) committed: &'a mut Vec<StateChange>,
}

/// A write refused because its target changed since it was read.
#[derive(Debug, Clone)]
pub(crate) struct Stale {
    pub(crate) target: Side,
    pub(crate) target_id: ItemId,
    pub(crate) source_id: ItemId,
}

fn slot(side: Side) -> usize {
    usize::from(side == Side::Salesforce)
}

fn to_write(action: &Action) -> Write {
    match action {
        Action::Create {
            event,
            idempotency_key,
        } => Write::Create {
            event: (**event).clone(),
            idempotency_key: idempotency_key.clone(),
        },
        Action::Update {
            target_id,
            expected_version,
            changes,
        } => Write::Update {
            id: target_id.clone(),
            expected_version: expected_version.clone(),
            changes: changes.clone(),
        },
        Action::Delete {
            target_id,
            expected_version,
        } => Write::Delete {
            id: target_id.clone(),
            expected_version: expected_version.clone(),
        },
    }
}

fn to_outcome(result: WriteResult) -> WriteOutcome {
    match result {
        WriteResult::Created(e) => WriteOutcome::Created {
            stored: Some(FieldHashes::of(&e)),
            id: e.id,
            version: e.version,
        },
        WriteResult::Updated(e) => WriteOutcome::Updated {
            stored: Some(FieldHashes::of(&e)),
            version: e.version,
        },
        WriteResult::Deleted => WriteOutcome::Deleted,
    }
}

fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Throttled => "throttled",
        ErrorKind::Transient => "transient",
        ErrorKind::Auth => "auth",
        ErrorKind::NotFound => "not_found",
        ErrorKind::Precondition => "precondition",
        ErrorKind::InvalidData => "invalid_data",
        ErrorKind::CursorExpired => "cursor_expired",
        _ => "permanent",
    }
}

impl Applier<'_> {
    /// Applies every operation of `plan` (its state changes first). Returns the writes
    /// refused as stale, for the caller to re-read and plan again.
    pub(crate) async fn apply(
        &mut self,
        plan: &Plan,
        stale_is_failure: bool,
    ) -> Result<Vec<Stale>, EngineError> {
        if !plan.state_changes.is_empty() {
            self.store.commit(&plan.state_changes, &[]).await?;
            self.committed.extend(plan.state_changes.iter().cloned());
        }
        let total = plan.operations.len();
        let mut done = 0usize;
        let mut stale = Vec::new();
        for side in Side::BOTH {
            let provider = self.providers[slot(side)];
            let batch = provider.capabilities().max_batch.max(1);
            let ops: Vec<&Operation> = plan.operations_on(side).collect();
            for (n, chunk) in ops.chunks(batch).enumerate() {
                let span = info_span!("batch", %side, n, size = chunk.len());
                self.apply_chunk(provider, chunk, stale_is_failure, &mut stale)
                    .instrument(span)
                    .await?;
                done += chunk.len();
                self.notify.progress(done, total);
            }
        }
        Ok(stale)
    }

    async fn apply_chunk(
        &mut self,
        provider: &dyn CalendarProvider,
        chunk: &[&Operation],
        stale_is_failure: bool,
        stale: &mut Vec<Stale>,
    ) -> Result<(), EngineError> {
        let side = provider.side();
        let now = self.clock.now();
        let intents: Vec<CreateIntent> = chunk
            .iter()
            .filter_map(|op| match &op.action {
                Action::Create {
                    idempotency_key, ..
                } => Some(CreateIntent {
                    key: idempotency_key.clone(),
                    target: side,
                    source_id: op.source_id.clone(),
                    recorded_at: now,
                }),
                _ => None,
            })
            .collect();
        if !intents.is_empty() {
            self.store.record_intents(&intents).await?;
        }
        // Updates too are noted before they are sent: should this run stop before recording
        // them, the next one knows the written values for calbridge's own.
        let echoes: Vec<Echo> = chunk.iter().filter_map(|op| op.echo()).collect();
        if !echoes.is_empty() {
            self.store.record_echoes(&echoes).await?;
        }
        let mut pending: Vec<&Operation> = chunk.to_vec();
        let mut attempt = 1u32;
        let mut waited = Duration::ZERO;
        while !pending.is_empty() {
            let writes = pending.iter().map(|op| to_write(&op.action)).collect();
            let results = provider.apply(writes).await;
            let mut changes: Vec<StateChange> = Vec::new();
            let mut done_intents: Vec<String> = Vec::new();
            let mut retry: Vec<&Operation> = Vec::new();
            let mut retry_after: Option<Duration> = None;
            let mut auth: Option<ProviderError> = None;
            let mut results = results.into_iter();
            for op in &pending {
                let result = results.next().unwrap_or_else(|| {
                    Err(ProviderError::permanent(
                        "the provider returned fewer results than writes",
                    ))
                });
                match result {
                    Ok(result) => match op.confirm(to_outcome(result)) {
                        Ok(c) => {
                            changes.extend(c);
                            let counts = self.report.side_mut(side);
                            match &op.action {
                                Action::Create {
                                    idempotency_key, ..
                                } => {
                                    counts.created += 1;
                                    done_intents.push(idempotency_key.clone());
                                }
                                Action::Update { .. } => counts.updated += 1,
                                Action::Delete { .. } => counts.deleted += 1,
                            }
                        }
                        Err(mismatch) => self.fail(side, op, "permanent", mismatch.to_string()),
                    },
                    Err(e) if e.is_retryable() => {
                        retry_after = retry_after.max(e.retry_after());
                        retry.push(op);
                    }
                    Err(e) if e.kind() == ErrorKind::Auth => auth = Some(e),
                    Err(e) if e.kind() == ErrorKind::Precondition && !stale_is_failure => {
                        if let Some(target_id) = op.target_id() {
                            stale.push(Stale {
                                target: side,
                                target_id: target_id.clone(),
                                source_id: op.source_id.clone(),
                            });
                        }
                    }
                    Err(e) => self.fail(side, op, kind_name(e.kind()), e.to_string()),
                }
            }
            // What was confirmed is recorded before anything else happens.
            if !changes.is_empty() || !done_intents.is_empty() {
                self.store.commit(&changes, &done_intents).await?;
                self.committed.extend(changes);
            }
            if let Some(source) = auth {
                warn!(%side, "authentication failed; stopping the run");
                return Err(EngineError::Auth { side, source });
            }
            if retry.is_empty() {
                break;
            }
            match self
                .policy
                .backoff(attempt, waited, retry_after, self.jitter.next())
            {
                Some(wait) => {
                    debug!(%side, items = retry.len(), wait_ms = wait.as_millis() as u64, "retrying writes");
                    self.clock.sleep(wait).await;
                    waited += wait;
                    attempt += 1;
                    pending = retry;
                }
                None => {
                    for op in retry {
                        self.fail(side, op, "transient", "still failing after retries".into());
                    }
                    break;
                }
            }
        }
        Ok(())
    }

    fn fail(&mut self, side: Side, op: &Operation, kind: &str, message: String) {
        self.report.side_mut(side).failed += 1;
        // A failed create is reported on the event that was being copied.
        let (item_side, id) = match op.target_id() {
            Some(target) => (side, target.clone()),
            None => (side.other(), op.source_id.clone()),
        };
        let failure = ItemFailure {
            side: item_side,
            id,
            kind: kind.to_owned(),
            message,
        };
        self.notify.failed(&failure);
        self.report.errors.push(failure);
    }
}
