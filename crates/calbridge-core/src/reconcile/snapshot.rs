//! What the engine read from one side, as the planner takes it.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

use serde::{Deserialize, Serialize};

use calbridge_model::{Event, ItemId, ModelError, Side, StableBuildHasher, StableHasher};

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
    /// Event position by the fingerprint of its id: lookups compare one word instead of
    /// chasing the id's text (the planner's hottest path on large calendars).
    by_hash: HashMap<u64, u32, PrehashedBuildHasher>,
    /// Ids whose fingerprint collides with another id's (practically never used).
    collided: HashMap<&'a ItemId, usize, StableBuildHasher>,
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
        let mut by_hash = HashMap::with_capacity_and_hasher(n, PrehashedBuildHasher);
        let mut collided: HashMap<&ItemId, usize, StableBuildHasher> = HashMap::default();
        let mut duplicated: HashSet<&ItemId, StableBuildHasher> = HashSet::default();
        let mut valid = vec![true; n];
        // Hash every id first: independent iterations let the processor fetch many ids from
        // memory at once, where a combined loop waits for each one in turn.
        let hashes: Vec<u64> = snapshot.events.iter().map(|e| id_hash(&e.id)).collect();
        for (i, event) in snapshot.events.iter().enumerate() {
            if let Err(error) = event.validate() {
                valid[i] = false;
                errors.push(ItemError {
                    side,
                    id: event.id.clone(),
                    error,
                });
            }
            let position = u32::try_from(i).unwrap_or(u32::MAX);
            match by_hash.entry(hashes[i]) {
                Entry::Vacant(slot) => {
                    slot.insert(position);
                }
                Entry::Occupied(slot) => {
                    let first = &snapshot.events[*slot.get() as usize].id;
                    // Same id twice, or a second id with a colliding hash seen twice.
                    if first == &event.id || collided.insert(&event.id, i).is_some() {
                        duplicated.insert(&event.id);
                    }
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
            by_hash,
            collided,
            broken,
            gone: snapshot.gone.iter().collect(),
            valid,
            claimed: vec![false; n],
        }
    }

    /// Where the item at `position` (looked up for `id`) stands; marks a present event as
    /// claimed by a pair.
    pub(crate) fn claim_at(&mut self, position: Option<usize>, id: &ItemId) -> Lookup<'a> {
        if let Some(i) = position {
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
        !self.is_empty()
            && (self.position(id).is_some() || self.broken.contains(id) || self.gone.contains(id))
    }

    /// Whether the snapshot holds nothing at all (an incremental read with no change): then
    /// no id needs hashing to know it is absent.
    pub(crate) fn is_empty(&self) -> bool {
        self.snapshot.events.is_empty() && self.broken.is_empty() && self.gone.is_empty()
    }

    /// The index of an event by id.
    pub(crate) fn position(&self, id: &ItemId) -> Option<usize> {
        if self.snapshot.events.is_empty() {
            return None;
        }
        self.position_hashed(id_hash(id), id)
    }

    /// [`SideIndex::position`] with the id's hash already computed.
    pub(crate) fn position_hashed(&self, hash: u64, id: &ItemId) -> Option<usize> {
        if let Some(&i) = self.by_hash.get(&hash) {
            let i = i as usize;
            if self.snapshot.events.get(i).is_some_and(|e| &e.id == id) {
                return Some(i);
            }
        }
        if self.collided.is_empty() {
            None
        } else {
            self.collided.get(id).copied()
        }
    }
}

pub(crate) fn id_hash(id: &ItemId) -> u64 {
    let mut h = StableHasher::new();
    h.write(id.as_str().as_bytes());
    h.finish()
}

/// Hashes a `u64` that already is a well-mixed fingerprint by taking it as it is.
#[derive(Debug, Clone, Copy, Default)]
struct PrehashedBuildHasher;

#[derive(Debug, Clone, Copy, Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl BuildHasher for PrehashedBuildHasher {
    type Hasher = Prehashed;

    fn build_hasher(&self) -> Prehashed {
        Prehashed(0)
    }
}
