//! The planner: from two snapshots and the stored state to a [`Plan`] (DESIGN §3).
//!
//! Pure: no I/O, no clock (`now` is an argument), no randomness. The same inputs always give
//! the same plan, in the same order: stored pairs first (in state order), then unpaired
//! Outlook events, then unpaired Salesforce events.

mod pair;
mod snapshot;
mod unpaired;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::BTreeSet;

use calbridge_model::{Event, FieldHashes, ItemId, Side, StableHasher};

use crate::{
    Direction, GuardTrip, ItemError, Operation, Plan, PrivateEvents, Skip, SkipReason,
    SyncSettings, SyncState, SyncWindow, WriteKind,
};

pub use snapshot::{BrokenItem, Snapshot};
pub(crate) use snapshot::{Lookup, SideIndex};

/// Plans a sync with the settings' zone (UTC when none is set) and deletes unconfirmed.
/// See [`Planner`] for the options.
#[must_use]
pub fn plan(
    settings: &SyncSettings,
    now: DateTime<Utc>,
    outlook: &Snapshot,
    salesforce: &Snapshot,
    state: &SyncState,
) -> Plan {
    Planner::new(settings).plan(now, outlook, salesforce, state)
}

/// Makes plans for one calendar pair.
///
/// ```
/// use calbridge_core::{Planner, Snapshot, SyncSettings, SyncState};
/// use calbridge_model::{Event, EventTime, Side};
/// use chrono::{TimeZone, Utc};
///
/// let now = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
/// let start = now + chrono::Duration::days(1);
/// let meeting = Event::new("AAMk-1", "Pricing call", EventTime::timed(start, start + chrono::Duration::hours(1)));
/// let settings = SyncSettings::default();
/// let plan = Planner::new(&settings)
///     .zone(chrono_tz::Europe::London)
///     .plan(now, &Snapshot::complete(vec![meeting]), &Snapshot::complete(vec![]), &SyncState::default());
/// assert_eq!(plan.operations.len(), 1);
/// assert_eq!(plan.operations[0].target, Side::Salesforce);
/// ```
#[derive(Debug, Clone)]
pub struct Planner<'a> {
    settings: &'a SyncSettings,
    zone: Tz,
    confirm_deletes: bool,
    confirmed: BTreeSet<ItemId>,
}

impl<'a> Planner<'a> {
    /// A planner for these settings, in their zone (UTC when none is set).
    #[must_use]
    pub fn new(settings: &'a SyncSettings) -> Self {
        Self {
            settings,
            zone: settings.zone(),
            confirm_deletes: false,
            confirmed: BTreeSet::new(),
        }
    }

    /// Uses `zone` for day boundaries (the engine passes the machine's zone when the
    /// settings name none).
    #[must_use]
    pub fn zone(mut self, zone: Tz) -> Self {
        self.zone = zone;
        self
    }

    /// The user confirmed a mass delete: the guard does not hold this plan.
    #[must_use]
    pub fn confirm_deletes(mut self, confirmed: bool) -> Self {
        self.confirm_deletes = confirmed;
        self
    }

    /// The user confirmed the deletion of exactly these items (the ids of a held run's
    /// [`GuardTrip`]s): their deletes pass the guard, and any other delete is guarded as
    /// usual, so a confirmation never covers deletes the user was not shown.
    #[must_use]
    pub fn confirm_only(mut self, ids: impl IntoIterator<Item = ItemId>) -> Self {
        self.confirmed = ids.into_iter().collect();
        self
    }

    /// The window a plan made at `now` covers.
    #[must_use]
    pub fn window(&self, now: DateTime<Utc>) -> SyncWindow {
        SyncWindow::new(self.settings.range, now, self.zone)
    }

    /// Linked items the engine must read by id before planning: a linked item missing from
    /// a full listing (deleted, or moved out of range?), and the counterpart of a linked item
    /// that changed when the counterpart's side was read incrementally.
    #[must_use]
    pub fn ids_to_confirm(
        &self,
        outlook: &Snapshot,
        salesforce: &Snapshot,
        state: &SyncState,
    ) -> Vec<(Side, ItemId)> {
        let mut errors = Vec::new();
        let o = SideIndex::new(Side::Outlook, outlook, &mut errors);
        let s = SideIndex::new(Side::Salesforce, salesforce, &mut errors);
        let mut out = Vec::new();
        // An item read at the version recorded for it, or with exactly the content recorded
        // for it, did not change (typically our own write, echoed by an incremental read): its
        // counterpart need not be read.
        let changed =
            |index: &SideIndex<'_>, record: &crate::SideRecord| match index.position(&record.id) {
                Some(i) => {
                    let event = &index.snapshot.events[i];
                    current_hashes(event, record.version.as_ref(), &record.hashes) != record.hashes
                }
                None => index.mentions(&record.id),
            };
        for pair in &state.pairs {
            let seen_o = o.mentions(&pair.outlook.id);
            let seen_s = s.mentions(&pair.salesforce.id);
            // Missing from a full listing: read by id below, and it may turn out deleted. Its
            // counterpart must then be read too, or the deletion could not be carried over
            // (an incremental read will not mention it again).
            let missing_o = !seen_o && outlook.complete;
            let missing_s = !seen_s && salesforce.complete;
            if !seen_o && (missing_o || missing_s || changed(&s, &pair.salesforce)) {
                out.push((Side::Outlook, pair.outlook.id.clone()));
            }
            if !seen_s && (missing_s || missing_o || changed(&o, &pair.outlook)) {
                out.push((Side::Salesforce, pair.salesforce.id.clone()));
            }
        }
        out
    }

    /// Plans a sync of the two snapshots against the stored state.
    #[must_use]
    pub fn plan(
        &self,
        now: DateTime<Utc>,
        outlook: &Snapshot,
        salesforce: &Snapshot,
        state: &SyncState,
    ) -> Plan {
        let window = self.window(now);
        let mut plan = Plan {
            window,
            operations: Vec::new(),
            skipped: Vec::new(),
            conflicts: Vec::new(),
            errors: Vec::new(),
            state_changes: Vec::new(),
            unchanged: 0,
            delete_guard: Vec::new(),
        };
        let mut o = SideIndex::new(Side::Outlook, outlook, &mut plan.errors);
        let mut s = SideIndex::new(Side::Salesforce, salesforce, &mut plan.errors);
        let mut ctx = Ctx {
            orphans: Vec::new(),
            settings: self.settings,
            direction: self.settings.effective_direction(),
            window,
            plan,
            echoes: &state.echoes,
        };
        // Look every pair up in batches of independent steps (hash, then probe): on large
        // calendars the cost is memory latency, and independent loads overlap.
        // A side with no events (an incremental read without changes) needs no hashing.
        let hash_if = |present: bool, id: &ItemId| if present { snapshot::id_hash(id) } else { 0 };
        let (o_any, s_any) = (!outlook.events.is_empty(), !salesforce.events.is_empty());
        let hashes: Vec<(u64, u64)> = state
            .pairs
            .iter()
            .map(|p| {
                (
                    hash_if(o_any, &p.outlook.id),
                    hash_if(s_any, &p.salesforce.id),
                )
            })
            .collect();
        let positions: Vec<(Option<usize>, Option<usize>)> = state
            .pairs
            .iter()
            .zip(&hashes)
            .map(|(p, &(ho, hs))| {
                (
                    o_any
                        .then(|| o.position_hashed(ho, &p.outlook.id))
                        .flatten(),
                    s_any
                        .then(|| s.position_hashed(hs, &p.salesforce.id))
                        .flatten(),
                )
            })
            .collect();
        drop(hashes);
        for (stored, &(po, ps)) in state.pairs.iter().zip(&positions) {
            let lo = o.claim_at(po, &stored.outlook.id);
            let ls = s.claim_at(ps, &stored.salesforce.id);
            pair::reconcile(
                &mut ctx,
                stored,
                lo,
                ls,
                (outlook.complete, salesforce.complete),
            );
        }
        unpaired::reconcile(&mut ctx, &o, &s, state);
        let mut plan = ctx.plan;
        if self.settings.delete_guard.enabled && !self.confirm_deletes {
            apply_delete_guard(self.settings, &mut plan, [&o, &s], state, &self.confirmed);
        }
        plan
    }
}

/// The planner's working state.
pub(crate) struct Ctx<'a> {
    /// Linked events whose counterpart was deleted while they were edited: they get a new
    /// copy (or are linked to one already there) with the unpaired events.
    pub(crate) orphans: Vec<Orphan>,
    pub(crate) settings: &'a SyncSettings,
    pub(crate) direction: Direction,
    pub(crate) window: SyncWindow,
    pub(crate) plan: Plan,
    /// Writes sent and never recorded as done, by side and item.
    pub(crate) echoes: &'a [crate::Echo],
}

impl Ctx<'_> {
    /// The fields of an unrecorded write to `id` on `side`, if any.
    pub(crate) fn echo(&self, side: Side, id: &ItemId) -> Option<&[(calbridge_model::Field, u64)]> {
        self.echoes
            .iter()
            .find(|e| e.side == side && &e.id == id)
            .map(|e| e.fields.as_slice())
    }

    pub(crate) fn skip(
        &mut self,
        side: Side,
        id: &ItemId,
        reason: SkipReason,
        field: Option<calbridge_model::Field>,
    ) {
        self.plan.skipped.push(Skip {
            side,
            id: id.clone(),
            reason,
            field,
        });
    }

    pub(crate) fn excludes_private(&self) -> bool {
        self.settings.private_events == PrivateEvents::Exclude
    }

    pub(crate) fn allows(&self, target: Side, kind: WriteKind) -> bool {
        self.direction.allows(target, kind)
    }

    /// The first filter an event fails, if any (window, private, related).
    pub(crate) fn filter(&self, event: &Event) -> Option<SkipReason> {
        if !self.window.contains(&event.time) {
            Some(SkipReason::OutsideWindow)
        } else if self.excludes_private() && event.is_private() {
            Some(SkipReason::Private)
        } else {
            None
        }
    }

    pub(crate) fn push(&mut self, op: Operation) {
        self.plan.operations.push(op);
    }
}

/// A linked event that lost its counterpart but changed since: it needs a new copy.
#[derive(Debug, Clone)]
pub(crate) struct Orphan {
    pub(crate) side: Side,
    pub(crate) id: ItemId,
    pub(crate) replaces: crate::PairKey,
    pub(crate) gone: ItemId,
}

/// The fingerprints of what a side holds now: the stored ones when the version did not move
/// (no hashing on the fast path), else computed.
pub(crate) fn current_hashes(
    event: &Event,
    version_seen: Option<&calbridge_model::VersionTag>,
    stored: &FieldHashes,
) -> FieldHashes {
    match (&event.version, version_seen) {
        (Some(now), Some(seen)) if now == seen => *stored,
        _ => FieldHashes::of(event),
    }
}

/// A deterministic idempotency key for creating a copy of `source` on the other side
/// (`replacing` names the copy it re-creates after a delete).
pub(crate) fn idempotency_key(
    source_side: Side,
    source: &ItemId,
    replacing: Option<&ItemId>,
) -> String {
    use std::hash::Hasher;
    let mut h = StableHasher::new();
    h.write(source_side.as_str().as_bytes());
    h.write(source.as_str().as_bytes());
    if let Some(old) = replacing {
        h.write(old.as_str().as_bytes());
    }
    format!("calbridge-{:016x}", h.finish())
}

fn apply_delete_guard(
    settings: &SyncSettings,
    plan: &mut Plan,
    sides: [&SideIndex<'_>; 2],
    state: &SyncState,
    confirmed: &BTreeSet<ItemId>,
) {
    let guard = settings.delete_guard;
    for index in sides {
        let side = index.side;
        let guarded = |op: &Operation| {
            op.target == side
                && matches!(op.action, crate::Action::Delete { .. })
                && op.target_id().is_none_or(|id| !confirmed.contains(id))
        };
        let deletes = plan.operations.iter().filter(|op| guarded(op)).count();
        if deletes == 0 {
            continue;
        }
        let in_range = if index.snapshot.complete {
            index
                .snapshot
                .events
                .iter()
                .filter(|e| plan.window.contains(&e.time))
                .count()
        } else {
            state.pairs.len()
        };
        let over_count = deletes > guard.max_deletes as usize;
        let over_share = deletes * 100 > usize::from(guard.max_percent) * in_range;
        if !(over_count && over_share) {
            continue;
        }
        let (held, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut plan.operations)
            .into_iter()
            .partition(|op| guarded(op));
        plan.operations = kept;
        plan.delete_guard.push(GuardTrip {
            side,
            deletes,
            in_range,
            ids: held
                .iter()
                .filter_map(|op| op.target_id().cloned())
                .collect(),
        });
        for op in held {
            if let Some(id) = op.target_id() {
                plan.skipped.push(Skip {
                    side,
                    id: id.clone(),
                    reason: SkipReason::DeleteGuard,
                    field: None,
                });
            }
        }
    }
}

/// Records an event that cannot be written to `target` as it is.
pub(crate) fn invalid_for(
    ctx: &mut Ctx<'_>,
    source: &Event,
    source_side: Side,
    target: Side,
) -> bool {
    match source.validate_for(target) {
        Ok(()) => false,
        Err(error) => {
            ctx.plan.errors.push(ItemError {
                side: source_side,
                id: source.id.clone(),
                error,
            });
            ctx.skip(source_side, &source.id, SkipReason::Invalid, None);
            true
        }
    }
}
