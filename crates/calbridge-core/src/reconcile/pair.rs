//! Reconciling one linked pair: the per-field three-way merge, deletions, and the state to
//! record.

use calbridge_model::{Event, Field, FieldHashes, FieldValue, ItemId, Side};

use super::{Ctx, Lookup, Orphan, current_hashes, idempotency_key};
use crate::plan::Commit;
use crate::{
    Action, Conflict, ConflictPolicy, Operation, PairKey, PairState, SidePatch, SideRecord,
    SkipReason, StateChange, WriteKind,
};

/// Decides what a stored pair needs, given where each side's item stands.
pub(crate) fn reconcile(
    ctx: &mut Ctx<'_>,
    stored: &PairState,
    outlook: Lookup<'_>,
    salesforce: Lookup<'_>,
    complete: (bool, bool),
) {
    use Lookup::{Absent, Gone, Invalid, Present};
    let (oid, sid) = (&stored.outlook.id, &stored.salesforce.id);
    match (outlook, salesforce) {
        (Invalid, _) | (_, Invalid) => {
            // A malformed item exists: nothing about the pair is known well enough to write.
            if matches!(outlook, Invalid) {
                ctx.skip(Side::Outlook, oid, SkipReason::Invalid, None);
            }
            if matches!(salesforce, Invalid) {
                ctx.skip(Side::Salesforce, sid, SkipReason::Invalid, None);
            }
        }
        (Present(o), Present(s)) => merge(ctx, stored, o, s, false),
        (Present(survivor), Gone) => deleted_on(ctx, stored, Side::Salesforce, survivor),
        (Gone, Present(survivor)) => deleted_on(ctx, stored, Side::Outlook, survivor),
        (Gone, Gone) => ctx
            .plan
            .state_changes
            .push(StateChange::Remove { pair: stored.key() }),
        (Gone, Absent) => ctx.skip(Side::Salesforce, sid, SkipReason::Unconfirmed, None),
        (Absent, Gone) => ctx.skip(Side::Outlook, oid, SkipReason::Unconfirmed, None),
        (Present(o), Absent) => one_side_read(ctx, stored, Side::Outlook, o, complete.1),
        (Absent, Present(s)) => one_side_read(ctx, stored, Side::Salesforce, s, complete.0),
        (Absent, Absent) => {
            if complete.0 {
                ctx.skip(Side::Outlook, oid, SkipReason::Unconfirmed, None);
            }
            if complete.1 {
                ctx.skip(Side::Salesforce, sid, SkipReason::Unconfirmed, None);
            }
            if !complete.0 && !complete.1 {
                ctx.plan.unchanged += 1;
            }
        }
    }
}

/// One side's item was read, its counterpart was not: fine when neither changed (an
/// incremental read), else the counterpart must be read first.
fn one_side_read(
    ctx: &mut Ctx<'_>,
    stored: &PairState,
    side: Side,
    event: &Event,
    other_complete: bool,
) {
    let record = stored.side(side);
    let unchanged = current_hashes(event, record.version.as_ref(), &record.hashes) == record.hashes;
    if unchanged && !other_complete {
        // Same content under a new version (a service that could not tell the version at
        // write time, or a stamp that moved by itself): remember it, so the next run takes the
        // fast path.
        if event.version.is_some() && event.version != record.version {
            ctx.plan.state_changes.push(StateChange::Patch {
                pair: stored.key(),
                side,
                patch: SidePatch {
                    version: event.version.clone(),
                    hashes: Vec::new(),
                },
            });
        }
        ctx.plan.unchanged += 1;
    } else {
        ctx.skip(
            side.other(),
            &stored.side(side.other()).id,
            SkipReason::Unconfirmed,
            None,
        );
    }
}

/// The side whose value wins a conflict on `field`.
pub(crate) fn winner(
    ctx: &Ctx<'_>,
    field: Field,
    outlook: &Event,
    salesforce: &Event,
) -> (Side, ConflictPolicy) {
    let policy = ctx.settings.conflict_policy;
    if field == Field::Body && ctx.settings.preserve_formatting && outlook.body.is_rich() {
        // A rich Outlook body is never overwritten, whatever the policy.
        return (Side::Outlook, policy);
    }
    let side = match policy {
        ConflictPolicy::Outlook => Side::Outlook,
        ConflictPolicy::Salesforce => Side::Salesforce,
        ConflictPolicy::Newest => match (outlook.last_modified, salesforce.last_modified) {
            (Some(o), Some(s)) if s > o => Side::Salesforce,
            (None, Some(_)) => Side::Salesforce,
            _ => Side::Outlook,
        },
    };
    (side, policy)
}

/// What a side's record becomes, field by field.
struct Next {
    hashes: [FieldHashes; 2],
    pending: [bool; 2],
    changes: [Vec<FieldValue>; 2],
    /// Fields whose new fingerprint must be recorded (written or agreed), per side.
    touched: [Vec<Field>; 2],
}

fn slot(side: Side) -> usize {
    match side {
        Side::Outlook => 0,
        Side::Salesforce => 1,
    }
}

/// The three-way merge of a pair whose two items were both read. `fresh` marks a pair found
/// on this run (its base was made up from the two sides and is recorded with the plan).
pub(crate) fn merge(ctx: &mut Ctx<'_>, stored: &PairState, o: &Event, s: &Event, fresh: bool) {
    let events = [o, s];
    let echoed;
    let has_echo = !ctx.echoes.is_empty()
        && (ctx.echo(Side::Outlook, &o.id).is_some()
            || ctx.echo(Side::Salesforce, &s.id).is_some());
    let stored = if !has_echo {
        stored
    } else {
        echoed = with_echoes(ctx, stored, events);
        &echoed
    };
    let records = [&stored.outlook, &stored.salesforce];
    let current = [
        current_hashes(o, stored.outlook.version.as_ref(), &stored.outlook.hashes),
        current_hashes(
            s,
            stored.salesforce.version.as_ref(),
            &stored.salesforce.hashes,
        ),
    ];
    if !fresh && current[0] == records[0].hashes && current[1] == records[1].hashes {
        // In step. Record versions that moved without a content change, so the next run
        // takes the fast path.
        if o.version != records[0].version || s.version != records[1].version {
            let mut pair = stored.clone();
            pair.outlook.version.clone_from(&o.version);
            pair.salesforce.version.clone_from(&s.version);
            ctx.plan.state_changes.push(StateChange::Put {
                replaces: None,
                pair,
            });
        }
        ctx.plan.unchanged += 1;
        return;
    }
    let mut blocked = false;
    for (side, event) in [(Side::Outlook, o), (Side::Salesforce, s)] {
        if let Some(reason) = ctx.filter(event) {
            ctx.skip(side, &event.id, reason, None);
            blocked = true;
        }
    }
    if !blocked && ctx.settings.related_only && !o.link.is_related() && !s.link.is_related() {
        ctx.skip(Side::Outlook, &o.id, SkipReason::NotRelated, None);
        blocked = true;
    }
    if blocked {
        return;
    }

    let mut next = Next {
        hashes: [records[0].hashes, records[1].hashes],
        pending: [false; 2],
        changes: [Vec::new(), Vec::new()],
        touched: [Vec::new(), Vec::new()],
    };
    for field in Field::ALL {
        let r = [records[0].hashes.get(field), records[1].hashes.get(field)];
        let c = [current[0].get(field), current[1].get(field)];
        let from = match (c[0] != r[0], c[1] != r[1]) {
            (false, false) => continue,
            (true, false) => Side::Outlook,
            (false, true) => Side::Salesforce,
            (true, true) if c[0] == c[1] => {
                // Both made the same change.
                for (i, hash) in c.into_iter().enumerate() {
                    next.hashes[i].set(field, hash);
                    next.touched[i].push(field);
                }
                continue;
            }
            (true, true) => {
                let (win, policy) = winner(ctx, field, o, s);
                let lose = win.other();
                ctx.plan.conflicts.push(Conflict {
                    outlook_id: o.id.clone(),
                    salesforce_id: s.id.clone(),
                    field,
                    winner: win,
                    policy,
                });
                ctx.skip(
                    lose,
                    &events[slot(lose)].id,
                    SkipReason::Conflict,
                    Some(field),
                );
                // The loser's value is settled: only the winner's change remains to copy.
                next.hashes[slot(lose)].set(field, c[slot(lose)]);
                next.touched[slot(lose)].push(field);
                win
            }
        };
        let to = from.other();
        let src = events[slot(from)];
        if to == Side::Outlook
            && field == Field::Body
            && ctx.settings.preserve_formatting
            && o.body.is_rich()
        {
            ctx.skip(from, &src.id, SkipReason::Masked, Some(field));
            next.pending[slot(from)] = true;
            continue;
        }
        if !ctx.allows(to, WriteKind::Update) {
            ctx.skip(from, &src.id, SkipReason::Prevented, Some(field));
            next.pending[slot(from)] = true;
            continue;
        }
        if field == Field::Private && ctx.excludes_private() {
            // Only reachable when a private event was let through; never write the flag.
            continue;
        }
        next.changes[slot(to)].push(src.get(field));
        for i in 0..2 {
            next.hashes[i].set(field, c[slot(from)]);
            if !next.touched[i].contains(&field) {
                next.touched[i].push(field);
            }
        }
    }
    emit(ctx, stored, events, next, fresh);
}

/// The stored pair with the base of every field that holds calbridge's own unrecorded write
/// (see [`crate::Echo`]) moved to the written value on both sides: that value was the source's
/// when it was sent, so only a change since then is an edit.
fn with_echoes(ctx: &Ctx<'_>, stored: &PairState, events: [&Event; 2]) -> PairState {
    let mut pair = stored.clone();
    for side in Side::BOTH {
        let i = slot(side);
        let Some(fields) = ctx.echo(side, &events[i].id) else {
            continue;
        };
        let record = stored.side(side);
        let current = current_hashes(events[i], record.version.as_ref(), &record.hashes);
        for &(field, hash) in fields {
            if current.get(field) == hash && record.hashes.get(field) != hash {
                pair.outlook.hashes.set(field, hash);
                pair.salesforce.hashes.set(field, hash);
            }
        }
        // The version recorded predates the write.
        pair.side_mut(side).version = None;
    }
    pair
}

fn emit(ctx: &mut Ctx<'_>, stored: &PairState, events: [&Event; 2], next: Next, fresh: bool) {
    let key = stored.key();
    let has_changes = [!next.changes[0].is_empty(), !next.changes[1].is_empty()];
    if !has_changes[0] && !has_changes[1] {
        let record = |i: usize| SideRecord {
            id: events[i].id.clone(),
            version: if next.pending[i] {
                None
            } else {
                events[i].version.clone()
            },
            hashes: next.hashes[i],
        };
        let pair = PairState {
            outlook: record(0),
            salesforce: record(1),
        };
        if fresh || pair != *stored {
            ctx.plan.state_changes.push(StateChange::Put {
                replaces: None,
                pair,
            });
        }
        if !next.pending[0] && !next.pending[1] {
            ctx.plan.unchanged += 1;
        }
        return;
    }
    if fresh {
        ctx.plan.state_changes.push(StateChange::Put {
            replaces: None,
            pair: stored.clone(),
        });
    }
    let Next {
        hashes,
        pending,
        mut changes,
        touched,
    } = next;
    for target in Side::BOTH {
        let t = slot(target);
        let src = 1 - t;
        let changes = std::mem::take(&mut changes[t]);
        if changes.is_empty() {
            continue;
        }
        let patch = |i: usize, version| SidePatch {
            version,
            hashes: touched[i].iter().map(|&f| (f, hashes[i].get(f))).collect(),
        };
        // Versions are recorded only when the record will describe that version exactly:
        // nothing pending on that side and no other write to it.
        let source_version = if pending[src] || has_changes[src] {
            None
        } else {
            events[src].version.clone()
        };
        let target_complete = !pending[t] && !has_changes[src];
        ctx.push(Operation {
            target,
            source_id: events[src].id.clone(),
            action: Action::Update {
                target_id: events[t].id.clone(),
                expected_version: events[t].version.clone(),
                changes,
            },
            commit: Commit::Update {
                pair: key.clone(),
                target_patch: patch(t, None),
                source_patch: patch(src, source_version),
                target_complete,
            },
        });
    }
}

/// The item on `gone_side` was confirmed deleted; `survivor` is its counterpart.
fn deleted_on(ctx: &mut Ctx<'_>, stored: &PairState, gone_side: Side, survivor: &Event) {
    let side = gone_side.other();
    if let Some(reason) = ctx.filter(survivor) {
        ctx.skip(side, &survivor.id, reason, None);
        return;
    }
    if ctx.settings.related_only && !survivor.link.is_related() {
        ctx.skip(side, &survivor.id, SkipReason::NotRelated, None);
        return;
    }
    let record = stored.side(side);
    let hashes = current_hashes(survivor, record.version.as_ref(), &record.hashes);
    let gone_id = &stored.side(gone_side).id;
    if hashes != record.hashes {
        // Modified beats delete: the edit survives as a new copy. The copy is made with the
        // unpaired events, so that a copy written by an interrupted run is found again
        // instead of being made twice.
        ctx.orphans.push(Orphan {
            side,
            id: survivor.id.clone(),
            replaces: stored.key(),
            gone: gone_id.clone(),
        });
        return;
    }
    if !ctx.allows(side, WriteKind::Delete) {
        ctx.skip(side, &survivor.id, SkipReason::Prevented, None);
        return;
    }
    ctx.push(Operation {
        target: side,
        source_id: gone_id.clone(),
        action: Action::Delete {
            target_id: survivor.id.clone(),
            expected_version: survivor.version.clone(),
        },
        commit: Commit::Delete { pair: stored.key() },
    });
}

/// An operation creating a copy of `source` on the other side.
pub(crate) fn create_op(
    source: &Event,
    source_side: Side,
    hashes: FieldHashes,
    replaces: Option<PairKey>,
    replacing: Option<&ItemId>,
) -> Operation {
    let target = source_side.other();
    let mut event = source.clone();
    event.counterpart = Some(source.id.clone());
    event.version = None;
    let source_record = SideRecord {
        id: source.id.clone(),
        version: source.version.clone(),
        hashes,
    };
    let target_record = SideRecord {
        id: ItemId::new(""),
        version: None,
        hashes,
    };
    let pair = match source_side {
        Side::Outlook => PairState {
            outlook: source_record,
            salesforce: target_record,
        },
        Side::Salesforce => PairState {
            outlook: target_record,
            salesforce: source_record,
        },
    };
    Operation {
        target,
        source_id: source.id.clone(),
        action: Action::Create {
            idempotency_key: idempotency_key(source_side, &source.id, replacing),
            event: Box::new(event),
        },
        commit: Commit::Create { replaces, pair },
    }
}
