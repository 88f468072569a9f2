//! Events with no stored pair: pair them with the same meeting on the other side (so a
//! first sync of calendars that already overlap duplicates nothing), or copy them across.

use std::collections::{HashMap, VecDeque};

use calbridge_model::{
    Event, EventTime, Field, FieldHashes, ItemId, Side, StableBuildHasher, pairing_key,
};

use super::pair::{create_op, merge, winner};
use super::{Ctx, SideIndex, invalid_for};
use crate::{
    Conflict, PairKey, PairState, SideRecord, SkipReason, StateChange, SyncState, WriteKind,
};

/// Reconciles every event no stored pair claimed.
pub(crate) fn reconcile(
    ctx: &mut Ctx<'_>,
    o: &SideIndex<'_>,
    s: &SideIndex<'_>,
    state: &SyncState,
) {
    let snap_record = ctx.settings.mode.is_snap_record();
    let mut candidates = [Vec::new(), Vec::new()];
    let mut private: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    for (slot, index) in [o, s].into_iter().enumerate() {
        for (i, event) in index.snapshot.events.iter().enumerate() {
            if index.claimed[i] {
                continue;
            }
            if !index.valid[i] {
                ctx.skip(index.side, &event.id, SkipReason::Invalid, None);
                continue;
            }
            match ctx.filter(event) {
                // A private event is never copied, but it still takes part in matching: the
                // same meeting on the other side must not be copied next to it.
                Some(SkipReason::Private) => {
                    private[slot].push(i);
                    candidates[slot].push(i);
                    continue;
                }
                Some(reason) => {
                    ctx.skip(index.side, &event.id, reason, None);
                    continue;
                }
                None => {}
            }
            if snap_record && index.side == Side::Outlook && !state.snapped.contains(&event.id) {
                ctx.skip(index.side, &event.id, SkipReason::NotSnapped, None);
                continue;
            }
            candidates[slot].push(i);
        }
    }
    // Survivors of a deleted counterpart, edited since: they need a copy like new events.
    let mut replaces: HashMap<(usize, usize), (PairKey, ItemId), StableBuildHasher> =
        HashMap::default();
    for orphan in std::mem::take(&mut ctx.orphans) {
        let (slot, index) = if orphan.side == Side::Outlook {
            (0, o)
        } else {
            (1, s)
        };
        if let Some(i) = index.position(&orphan.id) {
            candidates[slot].push(i);
            replaces.insert((slot, i), (orphan.replaces, orphan.gone));
        }
    }
    let [cand_o, cand_s] = candidates;
    let mut used = [
        vec![false; o.snapshot.events.len()],
        vec![false; s.snapshot.events.len()],
    ];
    let mut is_cand = [
        vec![false; o.snapshot.events.len()],
        vec![false; s.snapshot.events.len()],
    ];
    for &i in &cand_o {
        is_cand[0][i] = true;
    }
    for &j in &cand_s {
        is_cand[1][j] = true;
    }
    let mut matches: Vec<(usize, usize)> = Vec::new();

    // 1. A stamped counterpart id, when the stamp is not contradicted (a copied-and-pasted
    //    Outlook event carries its original's stamp; the original keeps it).
    for (from, list) in [(0usize, &cand_o), (1usize, &cand_s)] {
        let (this, other) = if from == 0 { (o, s) } else { (s, o) };
        for &i in list {
            if used[from][i] {
                continue;
            }
            let event = &this.snapshot.events[i];
            let Some(j) = event.counterpart.as_ref().and_then(|c| other.position(c)) else {
                continue;
            };
            let back = &other.snapshot.events[j].counterpart;
            if is_cand[1 - from][j]
                && !used[1 - from][j]
                && (back.is_none() || back.as_ref() == Some(&event.id))
            {
                used[from][i] = true;
                used[1 - from][j] = true;
                matches.push(if from == 0 { (i, j) } else { (j, i) });
            }
        }
    }

    // 2. The same meeting: subject (normalised, any case) and times.
    let mut by_key: HashMap<(String, EventTime), VecDeque<usize>, StableBuildHasher> =
        HashMap::default();
    for &j in &cand_s {
        if !used[1][j] {
            by_key
                .entry(pairing_key(&s.snapshot.events[j]))
                .or_default()
                .push_back(j);
        }
    }
    if !by_key.is_empty() {
        for &i in &cand_o {
            if used[0][i] {
                continue;
            }
            if let Some(j) = by_key
                .get_mut(&pairing_key(&o.snapshot.events[i]))
                .and_then(VecDeque::pop_front)
            {
                used[0][i] = true;
                used[1][j] = true;
                matches.push((i, j));
            }
        }
    }

    let mut is_private = [
        vec![false; o.snapshot.events.len()],
        vec![false; s.snapshot.events.len()],
    ];
    for (slot, list) in private.iter().enumerate() {
        for &i in list {
            is_private[slot][i] = true;
        }
    }
    for (slot, index) in [o, s].into_iter().enumerate() {
        for &i in &private[slot] {
            // Unmatched private events are simply not synced.
            if !used[slot][i] {
                ctx.skip(
                    index.side,
                    &index.snapshot.events[i].id,
                    SkipReason::Private,
                    None,
                );
            }
        }
    }

    for (i, j) in matches {
        let (oe, se) = (&o.snapshot.events[i], &s.snapshot.events[j]);
        if is_private[0][i] || is_private[1][j] {
            // The same meeting, private on one side: neither linked nor copied while private.
            ctx.skip(Side::Outlook, &oe.id, SkipReason::Private, None);
            ctx.skip(Side::Salesforce, &se.id, SkipReason::Private, None);
            continue;
        }
        if ctx.settings.related_only && !oe.link.is_related() && !se.link.is_related() {
            ctx.skip(Side::Outlook, &oe.id, SkipReason::NotRelated, None);
            ctx.skip(Side::Salesforce, &se.id, SkipReason::NotRelated, None);
            continue;
        }
        for key in [(0, i), (1, j)] {
            if let Some((old, _)) = replaces.get(&key) {
                ctx.plan
                    .state_changes
                    .push(StateChange::Remove { pair: old.clone() });
            }
        }
        pair_up(ctx, oe, se);
    }

    for (slot, index, list) in [(0usize, o, &cand_o), (1usize, s, &cand_s)] {
        for &i in list {
            if used[slot][i] || is_private[slot][i] {
                continue;
            }
            let event = &index.snapshot.events[i];
            match replaces.get(&(slot, i)) {
                Some((old, gone)) => recreate(ctx, index.side, event, old, gone),
                None => copy_across(ctx, index.side, event, snap_record),
            }
        }
    }
}

/// Copies an edited event whose counterpart was deleted (modify beats delete).
fn recreate(ctx: &mut Ctx<'_>, side: Side, event: &Event, old: &PairKey, gone: &ItemId) {
    create_if_allowed(ctx, side, event, Some((old, gone)));
}

/// Creates a copy of `event` on the other side, unless a prevent switch or the target's
/// rules forbid it (then the event is reported as skipped).
fn create_if_allowed(
    ctx: &mut Ctx<'_>,
    side: Side,
    event: &Event,
    replacing: Option<(&PairKey, &ItemId)>,
) {
    let target = side.other();
    if !ctx.allows(target, WriteKind::Create) {
        ctx.skip(side, &event.id, SkipReason::Prevented, None);
        return;
    }
    if invalid_for(ctx, event, side, target) {
        return;
    }
    let op = create_op(
        event,
        side,
        FieldHashes::of(event),
        replacing.map(|(old, _)| old.clone()),
        replacing.map(|(_, gone)| gone),
    );
    ctx.push(op);
}

/// Copies an unpaired event to the other side.
fn copy_across(ctx: &mut Ctx<'_>, side: Side, event: &Event, snap_record: bool) {
    if snap_record && side == Side::Salesforce {
        ctx.skip(side, &event.id, SkipReason::NotSnapped, None);
        return;
    }
    if ctx.settings.related_only && !event.link.is_related() {
        ctx.skip(side, &event.id, SkipReason::NotRelated, None);
        return;
    }
    create_if_allowed(ctx, side, event, None);
}

/// Links two events taken for the same meeting. Their base is made up field by field: where
/// they differ, the loser's value, so that the winner's value is what gets copied. An empty
/// value always loses silently; otherwise the conflict policy decides and the difference is
/// reported as a conflict.
fn pair_up(ctx: &mut Ctx<'_>, o: &Event, s: &Event) {
    let ho = FieldHashes::of(o);
    let hs = FieldHashes::of(s);
    let empty = empty_hashes();
    let mut base = ho;
    for field in Field::ALL {
        let (co, cs) = (ho.get(field), hs.get(field));
        if co == cs {
            continue;
        }
        let win = if cs == empty.get(field) {
            Side::Outlook
        } else if co == empty.get(field) {
            Side::Salesforce
        } else {
            let (win, policy) = winner(ctx, field, o, s);
            ctx.plan.conflicts.push(Conflict {
                outlook_id: o.id.clone(),
                salesforce_id: s.id.clone(),
                field,
                winner: win,
                policy,
            });
            let loser = if win == Side::Outlook { s } else { o };
            ctx.skip(win.other(), &loser.id, SkipReason::Conflict, Some(field));
            win
        };
        base.set(field, if win == Side::Outlook { cs } else { co });
    }
    let stored = PairState {
        outlook: SideRecord {
            id: o.id.clone(),
            version: None,
            hashes: base,
        },
        salesforce: SideRecord {
            id: s.id.clone(),
            version: None,
            hashes: base,
        },
    };
    merge(ctx, &stored, o, s, true);
}

/// The fingerprints of an event with every text field empty.
fn empty_hashes() -> FieldHashes {
    let epoch = chrono::DateTime::UNIX_EPOCH;
    FieldHashes::of(&Event::new(
        ItemId::new(""),
        "",
        EventTime::timed(epoch, epoch),
    ))
}
