//! What the engine read from one side, as the planner takes it.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};

use calbridge_model::{Event, ItemId, ModelError, Side, StableBuildHasher};

use crate::ItemError;

/// One side's events as read for a run.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The events read: the listing of the window, plus linked events read by id.
    pub events: Vec<Event>,
    /// Items the side returned that could not be mapped (they exist: never treated as gone).
    pub broken: Vec<BrokenItem>,
    /// Items confirmed deleted by id (a 404 or a tombstone).
    pub gone: Vec<ItemId>,
    /// `true` when `events` hold every event of the window (a full listing); `false` when
    /// they hold only what changed since a cursor.
    pub complete: bool,
}

impl Snapshot {
    /// A full listing.
    #[must_use]
    pub fn complete(events: Vec<Event>) -> Self {
        Self {
            events,
            complete: true,
            ..Self::default()
        }
    }

    /// Only the changes since a cursor.
    #[must_use]
    pub fn changes(events: Vec<Event>, gone: Vec<ItemId>) -> Self {
        Self {
            events,
            gone,
            complete: false,
            ..Self::default()
        }
    }
}

/// An item that exists but could not be mapped to an [`Event`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokenItem {
    /// The item's id.
    pub id: ItemId,
    /// What is wrong with it.
    #[serde(skip)]
    pub error: Option<ModelError>,
}

/// Where a linked item stands in its side's snapshot.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Lookup<'a> {
    /// Read and valid.
    Present(&'a Event),
    /// Exists, but is malformed.
    Invalid,
    /// Confirmed deleted.
    Gone,
    /// Not in the snapshot.
    Absent,
}

/// One side's snapshot, indexed.
#[derive(Debug)]
pub(crate) struct SideIndex<'a> {
    pub(crate) side: Side,
    pub(crate) snapshot: &'a Snapshot,
    by_id: HashMap<&'a ItemId, usize, StableBuildHasher>,
    broken: HashSet<&'a ItemId, StableBuildHasher>,
    gone: HashSet<&'a ItemId, StableBuildHasher>,
    /// Per event: valid (and first with its id).
    pub(crate) valid: Vec<bool>,
    /// Per event: belongs to a stored pair.
    pub(crate) claimed: Vec<bool>,
}

impl<'a> SideIndex<'a> {
    /// Indexes a snapshot, validating every event; problems go to `errors`.
    pub(crate) fn new(side: Side, snapshot: &'a Snapshot, errors: &mut Vec<ItemError>) -> Self {
        let n = snapshot.events.len();
        let mut by_id = HashMap::with_capacity_and_hasher(n, StableBuildHasher);
        let mut duplicated: HashSet<&ItemId, StableBuildHasher> = HashSet::default();
        let mut valid = vec![true; n];
        for (i, event) in snapshot.events.iter().enumerate() {
            if let Err(error) = event.validate() {
                valid[i] = false;
                errors.push(ItemError {
                    side,
                    id: event.id.clone(),
                    error,
                });
            }
            if by_id.insert(&event.id, i).is_some() {
                duplicated.insert(&event.id);
            }
        }
        // Two items under one id: neither can be trusted, and neither is taken as gone.
        for id in &duplicated {
            errors.push(ItemError {
                side,
                id: (*id).clone(),
                error: ModelError::unparsable("id", id.as_str(), "appears more than once in one listing"),
            });
        }
        if !duplicated.is_empty() {
            for (i, event) in snapshot.events.iter().enumerate() {
                if duplicated.contains(&event.id) {
                    valid[i] = false;
                }
            }
        }
        let mut broken: HashSet<&ItemId, StableBuildHasher> = HashSet::default();
        for item in &snapshot.broken {
            broken.insert(&item.id);
            if let Some(error) = &item.error {
                errors.push(ItemError {
                    side,
                    id: item.id.clone(),
                    error: error.clone(),
                });
            }
        }
        Self {
            side,
            snapshot,
            by_id,
            broken,
            gone: snapshot.gone.iter().collect(),
            valid,
            claimed: vec![false; n],
        }
    }

    /// Where `id` stands; marks a present event as claimed by a pair.
    pub(crate) fn claim(&mut self, id: &ItemId) -> Lookup<'a> {
        if let Some(&i) = self.by_id.get(id) {
            self.claimed[i] = true;
            return if self.valid[i] {
                Lookup::Present(&self.snapshot.events[i])
            } else {
                Lookup::Invalid
            };
        }
        if self.broken.contains(id) {
            Lookup::Invalid
        } else if self.gone.contains(id) {
            Lookup::Gone
        } else {
            Lookup::Absent
        }
    }

    /// Whether `id` appears in the snapshot at all (as an event, broken or gone).
    pub(crate) fn mentions(&self, id: &ItemId) -> bool {
        self.by_id.contains_key(id) || self.broken.contains(id) || self.gone.contains(id)
    }

    /// The index of an event by id.
    pub(crate) fn position(&self, id: &ItemId) -> Option<usize> {
        self.by_id.get(id).copied()
    }
}
