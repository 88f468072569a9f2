//! Pairs of [`InMemoryProvider`]s: the engine and the store without any HTTP.

use std::sync::Arc;

use calbridge::SyncEngine;
use calbridge::model::{FieldHashes, ItemId, Side};
use calbridge::provider::InMemoryProvider;
use calbridge_benches::generated_event;

use crate::options::Options;
use crate::{BoxError, build_engine};

/// One in-memory calendar pair.
pub(crate) struct Pair {
    outlook: InMemoryProvider,
    salesforce: InMemoryProvider,
    pub(crate) engine: Arc<SyncEngine>,
}

/// `o.pairs` pairs, each with `o.events` events on Outlook and an empty Salesforce.
pub(crate) fn pairs(o: &Options, dir: &std::path::Path) -> Result<Vec<Pair>, BoxError> {
    (0..o.pairs)
        .map(|index| {
            let outlook = InMemoryProvider::new(Side::Outlook).with_max_batch(500);
            let salesforce = InMemoryProvider::new(Side::Salesforce).with_max_batch(500);
            outlook.seed((0..o.events).map(|i| {
                let mut e = generated_event(String::new(), i);
                e.version = None;
                e
            }));
            let engine = build_engine(outlook.clone(), salesforce.clone(), o, dir, index)?;
            Ok(Pair {
                outlook,
                salesforce,
                engine: Arc::new(engine),
            })
        })
        .collect()
}

impl Pair {
    /// Whether both sides hold the same canonical events.
    pub(crate) fn converged(&self) -> bool {
        let sorted = |c: &InMemoryProvider| {
            let mut v = Vec::with_capacity(c.len());
            c.for_each_event(|e| v.push(FieldHashes::of(e).combined()));
            v.sort_unstable();
            v
        };
        sorted(&self.outlook) == sorted(&self.salesforce)
    }

    /// Edits one event in `edit_every` on each side (different events) and deletes one in
    /// `delete_every` on Outlook.
    pub(crate) fn edit_and_delete(&self, edit_every: usize, delete_every: usize) {
        for (k, id) in ids(&self.outlook).iter().enumerate() {
            if k % edit_every == 0 {
                self.outlook
                    .user_edit(id, |e| e.location = format!("Moved {k}"));
            } else if k % delete_every == 1 {
                self.outlook.user_delete(id);
            }
        }
        for (k, id) in ids(&self.salesforce).iter().enumerate() {
            if k % edit_every == edit_every / 2 {
                self.salesforce
                    .user_edit(id, |e| e.subject = format!("Renamed {k}"));
            }
        }
    }
}

/// The ids of a calendar's events, in id order.
fn ids(c: &InMemoryProvider) -> Vec<ItemId> {
    let mut ids = Vec::with_capacity(c.len());
    c.for_each_event(|e| ids.push(e.id.clone()));
    ids
}
