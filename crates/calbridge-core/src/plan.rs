//! The plan: every write a sync would make, what it holds back and why, and the state to
//! record as writes are confirmed.

use std::fmt;

use serde::{Serialize, Serializer};

use calbridge_model::{
    Event, Field, FieldHashes, FieldValue, ItemId, ModelError, Side, VersionTag,
};

use crate::{ConflictPolicy, PairKey, PairState, SidePatch, StateChange, SyncWindow};

/// What one run would do.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The window the plan was made for.
    pub window: SyncWindow,
    /// The writes, in a deterministic order.
    pub operations: Vec<Operation>,
    /// What was held back, with the reason.
    pub skipped: Vec<Skip>,
    /// Fields changed differently on both sides, and what won.
    pub conflicts: Vec<Conflict>,
    /// Items that could not be read or written as they are.
    pub errors: Vec<ItemError>,
    /// State to record at once: it needs no write (a pair found on a first sync, a pair
    /// both of whose sides are gone, versions that moved without content changes).
    pub state_changes: Vec<StateChange>,
    /// Pairs already in step.
    pub unchanged: usize,
    /// Non-empty when the mass-delete guard holds this run: nothing may be written until
    /// the user confirms (plan again with deletes confirmed).
    pub delete_guard: Vec<GuardTrip>,
}

impl Plan {
    /// Whether the mass-delete guard holds this run back.
    #[must_use]
    pub fn is_held(&self) -> bool {
        !self.delete_guard.is_empty()
    }

    /// The operations that write to `side`.
    pub fn operations_on(&self, side: Side) -> impl Iterator<Item = &Operation> {
        self.operations.iter().filter(move |op| op.target == side)
    }

    /// Whether the plan writes nothing and records nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty() && self.state_changes.is_empty()
    }
}

/// One write.
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    /// The side written.
    pub target: Side,
    /// The item whose content is copied (for a delete: the item whose deletion is copied).
    pub source_id: ItemId,
    /// What is written.
    pub action: Action,
    #[serde(skip)]
    pub(crate) commit: Commit,
}

/// The kind of write and its payload.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create a copy of an event.
    Create {
        /// The content to write (its `id` is the source's id).
        event: Box<Event>,
        /// A key that makes a repeated create of the same copy harmless (Graph
        /// `transactionId`, a Salesforce external id, the engine's intent row).
        idempotency_key: String,
    },
    /// Update fields of an existing event.
    Update {
        /// The item updated.
        target_id: ItemId,
        /// The version the plan saw: the write must fail if the item changed since.
        expected_version: Option<VersionTag>,
        /// The fields written and their new values.
        changes: Vec<FieldValue>,
    },
    /// Delete an event whose counterpart was deleted.
    Delete {
        /// The item deleted.
        target_id: ItemId,
        /// The version the plan saw.
        expected_version: Option<VersionTag>,
    },
}

impl Action {
    /// `create`, `update` or `delete`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Create { .. } => "create",
            Self::Update { .. } => "update",
            Self::Delete { .. } => "delete",
        }
    }
}

/// How an operation turns into state once it is confirmed.
#[derive(Debug, Clone)]
pub(crate) enum Commit {
    /// A new pair; the target's id, version and hashes come from the outcome.
    Create {
        replaces: Option<PairKey>,
        pair: PairState,
    },
    /// Patch both sides: the target's written fields (and version) and the source's
    /// absorbed fields.
    Update {
        pair: PairKey,
        target_patch: SidePatch,
        source_patch: SidePatch,
        /// Whether the target's record is complete after the write (its version may be kept).
        target_complete: bool,
    },
    /// Forget the pair.
    Delete { pair: PairKey },
}

/// What the target side reports after a confirmed write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The event was created (or found already created by its idempotency key).
    Created {
        /// Its id.
        id: ItemId,
        /// Its version.
        version: Option<VersionTag>,
        /// Fingerprints of what the side stored, when it returned the event; `None` means
        /// "as planned".
        stored: Option<FieldHashes>,
    },
    /// The event was updated.
    Updated {
        /// Its new version.
        version: Option<VersionTag>,
        /// Fingerprints of what the side stored, when known.
        stored: Option<FieldHashes>,
    },
    /// The event was deleted (or was already gone).
    Deleted,
}

/// The outcome does not fit the operation (a delete reported as a create, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {action} operation cannot be confirmed with a {outcome} outcome")]
pub struct OutcomeMismatch {
    /// The operation's action.
    pub action: &'static str,
    /// The outcome given.
    pub outcome: &'static str,
}

impl Operation {
    /// For an update, what to record before sending it (see [`crate::Echo`]): the target
    /// item and the fingerprints its written fields will have.
    #[must_use]
    pub fn echo(&self) -> Option<crate::Echo> {
        match (&self.action, &self.commit) {
            (Action::Update { target_id, .. }, Commit::Update { target_patch, .. }) => {
                Some(crate::Echo {
                    side: self.target,
                    id: target_id.clone(),
                    fields: target_patch.hashes.clone(),
                })
            }
            _ => None,
        }
    }

    /// The state to record once this write is confirmed.
    ///
    /// # Errors
    /// [`OutcomeMismatch`] when the outcome is of another kind than the operation.
    pub fn confirm(&self, outcome: WriteOutcome) -> Result<Vec<StateChange>, OutcomeMismatch> {
        let mismatch = |outcome| OutcomeMismatch {
            action: self.action.name(),
            outcome,
        };
        match (&self.commit, outcome) {
            (
                Commit::Create { replaces, pair },
                WriteOutcome::Created {
                    id,
                    version,
                    stored,
                },
            ) => {
                let mut pair = pair.clone();
                let record = pair.side_mut(self.target);
                record.id = id;
                record.version = version;
                if let Some(stored) = stored {
                    record.hashes = stored;
                }
                Ok(vec![StateChange::Put {
                    replaces: replaces.clone(),
                    pair,
                }])
            }
            (
                Commit::Update {
                    pair,
                    target_patch,
                    source_patch,
                    target_complete,
                },
                WriteOutcome::Updated { version, stored },
            ) => {
                let mut target_patch = target_patch.clone();
                if let Some(stored) = stored {
                    for (field, hash) in &mut target_patch.hashes {
                        *hash = stored.get(*field);
                    }
                }
                target_patch.version = if *target_complete { version } else { None };
                Ok(vec![
                    StateChange::Patch {
                        pair: pair.clone(),
                        side: self.target,
                        patch: target_patch,
                    },
                    StateChange::Patch {
                        pair: pair.clone(),
                        side: self.target.other(),
                        patch: source_patch.clone(),
                    },
                ])
            }
            (Commit::Delete { pair }, WriteOutcome::Deleted) => {
                Ok(vec![StateChange::Remove { pair: pair.clone() }])
            }
            (_, WriteOutcome::Created { .. }) => Err(mismatch("created")),
            (_, WriteOutcome::Updated { .. }) => Err(mismatch("updated")),
            (_, WriteOutcome::Deleted) => Err(mismatch("deleted")),
        }
    }

    /// The id written (none for a create).
    #[must_use]
    pub fn target_id(&self) -> Option<&ItemId> {
        match &self.action {
            Action::Create { .. } => None,
            Action::Update { target_id, .. } | Action::Delete { target_id, .. } => Some(target_id),
        }
    }

    /// The canonical names of the fields written.
    #[must_use]
    pub fn fields(&self) -> Vec<Field> {
        match &self.action {
            Action::Create { .. } => Field::ALL.to_vec(),
            Action::Update { changes, .. } => changes.iter().map(FieldValue::field).collect(),
            Action::Delete { .. } => Vec::new(),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.action {
            Action::Create { event, .. } => write!(
                f,
                "create on {} from {}: {:?}",
                self.target, self.source_id, event.subject
            ),
            Action::Update {
                target_id, changes, ..
            } => {
                let names: Vec<_> = changes.iter().map(|c| c.field().as_str()).collect();
                write!(
                    f,
                    "update {} {target_id} from {}: {}",
                    self.target,
                    self.source_id,
                    names.join(", ")
                )
            }
            Action::Delete { target_id, .. } => write!(
                f,
                "delete {} {target_id} (deleted: {})",
                self.target, self.source_id
            ),
        }
    }
}

/// Why an item or a write was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The event is private and private events are excluded.
    Private,
    /// The event is outside the date range.
    OutsideWindow,
    /// Only related events sync and this one relates to no record.
    NotRelated,
    /// A prevent switch forbids the write.
    Prevented,
    /// Preserve formatting keeps a rich Outlook body from being overwritten.
    Masked,
    /// The other side's change to this field won a conflict.
    Conflict,
    /// The mass-delete guard holds the delete.
    DeleteGuard,
    /// SnapRecord mode: the event was not recorded by the user.
    NotSnapped,
    /// The item is malformed (see the plan's errors).
    Invalid,
    /// A linked item is missing from its side's listing and its deletion is not confirmed.
    Unconfirmed,
}

impl SkipReason {
    /// The reason's name as in reports and JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::OutsideWindow => "outside_window",
            Self::NotRelated => "not_related",
            Self::Prevented => "prevented",
            Self::Masked => "masked",
            Self::Conflict => "conflict",
            Self::DeleteGuard => "delete_guard",
            Self::NotSnapped => "not_snapped",
            Self::Invalid => "invalid",
            Self::Unconfirmed => "unconfirmed",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An item (or one field of it) that was not synced, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    /// The side of the item whose content or deletion was held back.
    pub side: Side,
    /// The item.
    pub id: ItemId,
    /// Why.
    pub reason: SkipReason,
    /// The field held back, when only one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<Field>,
}

/// A field changed differently on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The Outlook item.
    pub outlook_id: ItemId,
    /// The Salesforce item.
    pub salesforce_id: ItemId,
    /// The field.
    pub field: Field,
    /// The side whose value was kept.
    pub winner: Side,
    /// The policy that decided.
    pub policy: ConflictPolicy,
}

/// An item that could not be synced as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemError {
    /// The side the item is on.
    pub side: Side,
    /// The item.
    pub id: ItemId,
    /// What is wrong, naming the field.
    #[serde(serialize_with = "error_as_text")]
    pub error: ModelError,
}

fn error_as_text<S: Serializer>(error: &ModelError, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&error.to_string())
}

/// Why the mass-delete guard held a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GuardTrip {
    /// The side that would lose events.
    pub side: Side,
    /// How many deletes were planned there.
    pub deletes: usize,
    /// How many of that side's events are in range.
    pub in_range: usize,
    /// The items held back: what a user confirms when confirming this trip (see
    /// [`Planner::confirm_only`](crate::Planner::confirm_only)).
    pub ids: Vec<ItemId>,
}

impl fmt::Display for GuardTrip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the run would delete {} of {} events in range on {}; confirm to proceed",
            self.deletes, self.in_range, self.side
        )
    }
}
