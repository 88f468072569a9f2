//! The sync state the planner reads: linked pairs and what each side held when last synced.

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use calbridge_model::{Field, FieldHashes, ItemId, Side, StableBuildHasher, VersionTag};

/// What calbridge last recorded about one side of a linked pair.
///
/// `hashes` are the fingerprints of that side's fields as of the last sync — the base of the
/// three-way merge, kept per side so that a side that stores a field lossily (Salesforce
/// truncating a description) never looks edited. A field whose change on this side has not
/// been copied yet (prevented, masked) keeps its old fingerprint, so it is seen again next
/// run. `version` is set only when `hashes` describe the side's content at that version
/// exactly; then an unchanged version lets the planner skip hashing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SideRecord {
    /// The item's id on this side.
    pub id: ItemId,
    /// The version the hashes describe, when they describe one exactly.
    pub version: Option<VersionTag>,
    /// The base fingerprints.
    pub hashes: FieldHashes,
}

/// A linked pair: one Outlook event and its Salesforce copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairState {
    /// The Outlook side.
    pub outlook: SideRecord,
    /// The Salesforce side.
    pub salesforce: SideRecord,
}

impl PairState {
    /// One side's record.
    #[must_use]
    pub fn side(&self, side: Side) -> &SideRecord {
        match side {
            Side::Outlook => &self.outlook,
            Side::Salesforce => &self.salesforce,
        }
    }

    /// One side's record, mutably.
    pub fn side_mut(&mut self, side: Side) -> &mut SideRecord {
        match side {
            Side::Outlook => &mut self.outlook,
            Side::Salesforce => &mut self.salesforce,
        }
    }

    /// The pair's key.
    #[must_use]
    pub fn key(&self) -> PairKey {
        PairKey {
            outlook: self.outlook.id.clone(),
            salesforce: self.salesforce.id.clone(),
        }
    }
}

/// Identifies a pair by its two ids.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PairKey {
    /// The Outlook id.
    pub outlook: ItemId,
    /// The Salesforce id.
    pub salesforce: ItemId,
}

impl PairKey {
    /// The id on one side.
    #[must_use]
    pub fn id(&self, side: Side) -> &ItemId {
        match side {
            Side::Outlook => &self.outlook,
            Side::Salesforce => &self.salesforce,
        }
    }
}

/// A change to one side's record of an existing pair, recorded once a write is confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SidePatch {
    /// The new version (`None` clears it, forcing a fresh comparison next run).
    pub version: Option<VersionTag>,
    /// Fingerprints to replace, by field.
    pub hashes: Vec<(Field, u64)>,
}

/// One change to the stored state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum StateChange {
    /// Store a pair, replacing the pair with key `replaces` when given (a re-created side).
    Put {
        /// The pair this one replaces.
        replaces: Option<PairKey>,
        /// The pair.
        pair: PairState,
    },
    /// Patch one side of an existing pair.
    Patch {
        /// The pair.
        pair: PairKey,
        /// The side patched.
        side: Side,
        /// The patch.
        patch: SidePatch,
    },
    /// Forget a pair (both sides gone).
    Remove {
        /// The pair.
        pair: PairKey,
    },
}

/// A write calbridge sent (or is about to send) to one item, recorded before it is sent: the
/// fingerprints the written fields will have. Should the run stop before the write is
/// recorded as done (killed, or the connection dropped after the service applied it), the
/// next run recognises those values on the item as calbridge's own copy rather than as the
/// user's edit, so a newer edit of the same field on the other side wins without a conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Echo {
    /// The side written.
    pub side: Side,
    /// The item written.
    pub id: ItemId,
    /// The fingerprints of the fields written, as they will read back.
    pub fields: Vec<(Field, u64)>,
}

impl StateChange {
    /// The item ids this change names (both ids of its pair, and of a pair it replaces).
    pub fn ids(&self) -> impl Iterator<Item = &ItemId> {
        let (key, pair, replaces) = match self {
            Self::Put { replaces, pair } => (None, Some(pair), replaces.as_ref()),
            Self::Patch { pair, .. } | Self::Remove { pair } => (Some(pair), None, None),
        };
        key.into_iter()
            .chain(replaces)
            .flat_map(|k| [&k.outlook, &k.salesforce])
            .chain(
                pair.into_iter()
                    .flat_map(|p| [&p.outlook.id, &p.salesforce.id]),
            )
    }
}

/// Everything the planner needs to know from past runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// The linked pairs.
    pub pairs: Vec<PairState>,
    /// Outlook events the user recorded (SnapRecord mode pushes only these).
    #[serde(default)]
    pub snapped: BTreeSet<ItemId>,
    /// Writes sent and not yet recorded as done (see [`Echo`]); a commit naming the item's
    /// pair clears its echo.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub echoes: Vec<Echo>,
}

impl SyncState {
    /// Applies changes in order (the in-memory equivalent of a store's commits). A pair put
    /// under an id another pair holds supersedes that pair, as a store's unique ids force.
    pub fn apply(&mut self, changes: impl IntoIterator<Item = StateChange>) {
        type Index = std::collections::HashMap<ItemId, usize, StableBuildHasher>;
        let changes: Vec<StateChange> = changes.into_iter().collect();
        if changes.is_empty() {
            return;
        }
        if !self.echoes.is_empty() {
            let named: HashSet<&ItemId> = changes.iter().flat_map(StateChange::ids).collect();
            self.echoes.retain(|e| !named.contains(&e.id));
        }
        // Only ids the changes name are ever looked up, so only the pairs holding one are
        // indexed: a few changes against many pairs cost one pass without a clone.
        let (by_outlook, by_salesforce) = if self.pairs.is_empty() {
            // A first sync: every change is a new pair, sized for at once.
            let sized = || Index::with_capacity_and_hasher(changes.len(), StableBuildHasher);
            self.pairs.reserve(changes.len());
            (sized(), sized())
        } else {
            type Wanted<'a> = HashSet<&'a ItemId, StableBuildHasher>;
            let (mut outlook, mut salesforce) = (Wanted::default(), Wanted::default());
            for change in &changes {
                match change {
                    StateChange::Put { replaces, pair } => {
                        outlook.extend(replaces.as_ref().map(|k| &k.outlook));
                        outlook.insert(&pair.outlook.id);
                        salesforce.insert(&pair.salesforce.id);
                    }
                    StateChange::Patch { pair, .. } | StateChange::Remove { pair } => {
                        outlook.insert(&pair.outlook);
                    }
                }
            }
            let mut by_outlook: Index = Index::default();
            let mut by_salesforce: Index = Index::default();
            for (i, p) in self.pairs.iter().enumerate() {
                if outlook.contains(&p.outlook.id) {
                    by_outlook.insert(p.outlook.id.clone(), i);
                }
                if salesforce.contains(&p.salesforce.id) {
                    by_salesforce.insert(p.salesforce.id.clone(), i);
                }
            }
            (by_outlook, by_salesforce)
        };
        let (mut by_outlook, mut by_salesforce) = (by_outlook, by_salesforce);
        let mut removed: HashSet<usize, StableBuildHasher> = HashSet::default();
        let forget = |i: usize,
                      pairs: &[PairState],
                      o: &mut Index,
                      s: &mut Index,
                      removed: &mut HashSet<usize, StableBuildHasher>| {
            if removed.insert(i) {
                o.remove(&pairs[i].outlook.id);
                s.remove(&pairs[i].salesforce.id);
            }
        };
        for change in changes {
            match change {
                StateChange::Put { replaces, pair } => {
                    if let Some(old) = replaces.and_then(|k| {
                        by_outlook
                            .get(&k.outlook)
                            .copied()
                            .filter(|&i| self.pairs[i].salesforce.id == k.salesforce)
                    }) {
                        forget(
                            old,
                            &self.pairs,
                            &mut by_outlook,
                            &mut by_salesforce,
                            &mut removed,
                        );
                    }
                    let same = by_outlook
                        .get(&pair.outlook.id)
                        .copied()
                        .filter(|&i| self.pairs[i].salesforce.id == pair.salesforce.id);
                    if let Some(i) = same {
                        self.pairs[i] = pair;
                        continue;
                    }
                    for i in [
                        by_outlook.get(&pair.outlook.id).copied(),
                        by_salesforce.get(&pair.salesforce.id).copied(),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        forget(
                            i,
                            &self.pairs,
                            &mut by_outlook,
                            &mut by_salesforce,
                            &mut removed,
                        );
                    }
                    by_outlook.insert(pair.outlook.id.clone(), self.pairs.len());
                    by_salesforce.insert(pair.salesforce.id.clone(), self.pairs.len());
                    self.pairs.push(pair);
                }
                StateChange::Patch { pair, side, patch } => {
                    let found = by_outlook
                        .get(&pair.outlook)
                        .copied()
                        .filter(|&i| self.pairs[i].salesforce.id == pair.salesforce);
                    if let Some(i) = found {
                        let record = self.pairs[i].side_mut(side);
                        record.version = patch.version;
                        for (field, hash) in patch.hashes {
                            record.hashes.set(field, hash);
                        }
                    }
                }
                StateChange::Remove { pair } => {
                    let found = by_outlook
                        .get(&pair.outlook)
                        .copied()
                        .filter(|&i| self.pairs[i].salesforce.id == pair.salesforce);
                    if let Some(i) = found {
                        forget(
                            i,
                            &self.pairs,
                            &mut by_outlook,
                            &mut by_salesforce,
                            &mut removed,
                        );
                    }
                }
            }
        }
        if !removed.is_empty() {
            let mut i = 0;
            self.pairs.retain(|_| {
                let keep = !removed.contains(&i);
                i += 1;
                keep
            });
        }
    }
}
