//! An in-memory store, for tests and previews.

use std::sync::Mutex;

use async_trait::async_trait;

use calbridge_core::{Echo, StateChange, SyncState};
use calbridge_model::{ItemId, Side};

use crate::{CreateIntent, RunRecord, StateStore, StoreError};

#[derive(Debug, Default)]
struct Inner {
    state: SyncState,
    /// Committed changes not yet folded into `state`: applying them costs a pass over every
    /// pair, so they are applied together on `load`, or once they outnumber the pairs
    /// (amortised constant time per change, where one pass per commit made a 100k-event
    /// first sync quadratic).
    pending: Vec<StateChange>,
    intents: Vec<CreateIntent>,
    cursors: [Option<String>; 2],
    runs: Vec<RunRecord>,
}

/// Sync state held in memory; clones do not share it. Dropping it loses everything.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut guard = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

impl Inner {
    fn flush(&mut self) {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.state.apply(pending);
        }
    }
}

fn slot(side: Side) -> usize {
    match side {
        Side::Outlook => 0,
        Side::Salesforce => 1,
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn load(&self) -> Result<SyncState, StoreError> {
        Ok(self.with(|i| {
            i.flush();
            i.state.clone()
        }))
    }

    async fn commit(
        &self,
        changes: &[StateChange],
        done_intents: &[String],
    ) -> Result<(), StoreError> {
        self.with(|i| {
            i.pending.extend(changes.iter().cloned());
            if i.pending.len() > i.state.pairs.len().max(1024) {
                i.flush();
            }
            i.intents
                .retain(|intent| !done_intents.contains(&intent.key));
        });
        Ok(())
    }

    async fn record_echoes(&self, echoes: &[Echo]) -> Result<(), StoreError> {
        self.with(|i| {
            // Commits made before these echoes must not clear them.
            i.flush();
            for echo in echoes {
                i.state
                    .echoes
                    .retain(|e| !(e.side == echo.side && e.id == echo.id));
                i.state.echoes.push(echo.clone());
            }
        });
        Ok(())
    }

    async fn record_intents(&self, intents: &[CreateIntent]) -> Result<(), StoreError> {
        self.with(|i| {
            for intent in intents {
                if !i.intents.iter().any(|x| x.key == intent.key) {
                    i.intents.push(intent.clone());
                }
            }
        });
        Ok(())
    }

    async fn pending_intents(&self) -> Result<Vec<CreateIntent>, StoreError> {
        Ok(self.with(|i| i.intents.clone()))
    }

    async fn cursor(&self, side: Side) -> Result<Option<String>, StoreError> {
        Ok(self.with(|i| i.cursors[slot(side)].clone()))
    }

    async fn set_cursor(&self, side: Side, cursor: Option<&str>) -> Result<(), StoreError> {
        self.with(|i| i.cursors[slot(side)] = cursor.map(str::to_owned));
        Ok(())
    }

    async fn set_snapped(&self, id: &ItemId, snapped: bool) -> Result<(), StoreError> {
        self.with(|i| {
            if snapped {
                i.state.snapped.insert(id.clone());
            } else {
                i.state.snapped.remove(id);
            }
        });
        Ok(())
    }

    async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        self.with(|i| {
            i.runs.push(run.clone());
            let excess = i.runs.len().saturating_sub(1000);
            i.runs.drain(..excess);
        });
        Ok(())
    }

    async fn recent_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        Ok(self.with(|i| i.runs.iter().rev().take(limit).cloned().collect()))
    }
}
