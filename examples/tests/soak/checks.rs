//! The invariants checked after every run, and convergence at the end.

use super::ledger::field_name;
use super::*;

impl Soak {
    /// Events strictly outside the range (by more than a day), by id, as stored.
    pub(super) fn outside(&self, w: &World) -> [BTreeMap<String, String>; 2] {
        let win = self.window();
        let mut out = [BTreeMap::new(), BTreeMap::new()];
        for side in [Side::Outlook, Side::Salesforce] {
            for e in w.all(side) {
                if e.end <= win.start - Duration::days(1) || e.start >= win.end + Duration::days(1)
                {
                    out[idx(side)].insert(e.id.clone(), e.raw.clone());
                }
            }
        }
        out
    }

    pub(super) fn record_agreed(&mut self, after: &World) {
        for (key, copies) in &after.sides[0] {
            let (Some(o), Some(s)) = (copies.first(), after.get(Side::Salesforce, *key)) else {
                continue;
            };
            for field in [F::Subject, F::Time, F::Location, F::Note, F::ShowAs] {
                let v = value(o, field);
                if v == value(s, field) {
                    self.ledger.agreed.insert((*key, field), v);
                }
            }
        }
    }

    pub(super) fn well_inside(&self, e: &Seen) -> bool {
        let win = self.window();
        e.start >= win.start + Duration::days(1) && e.end <= win.end - Duration::days(1)
    }

    /// The checks after every run; returns the violations.
    pub(super) fn check(
        &mut self,
        before: &World,
        outside_before: &[BTreeMap<String, String>; 2],
        after: &World,
        report: Option<&Report>,
    ) -> Vec<String> {
        self.stats.checks += 1;
        let mut v = Vec::new();
        for side in [Side::Outlook, Side::Salesforce] {
            let o = other(side);
            // No event twice.
            for (key, copies) in &after.sides[idx(side)] {
                if copies.len() > 1 {
                    v.push(format!(
                        "{side} holds key {key} {} times: {copies:#?}",
                        copies.len()
                    ));
                }
            }
            let mut by_subject_start = BTreeMap::new();
            for e in after.all(side) {
                if let Some(first) = by_subject_start.insert((e.subject.clone(), e.start), &e.id) {
                    v.push(format!(
                        "{side} holds {:?} at {} twice ({first} and {})",
                        e.subject, e.start, e.id
                    ));
                }
            }
            // Nothing deleted unless a user deleted it or its counterpart.
            for (key, copies) in &before.sides[idx(side)] {
                if !after.sides[idx(side)].contains_key(key)
                    && !self.ledger.user_deleted[idx(o)].contains(key)
                {
                    v.push(format!(
                        "{side} lost key {key} ({:?}) though no user deleted it or its {o} counterpart",
                        copies[0]
                    ));
                }
            }
            // Nothing private crossed over.
            for e in after.all(o) {
                if self.ledger.private_subjects[idx(side)].contains(&e.subject) {
                    v.push(format!(
                        "{o} carries {:?}, the subject of a private {side} event: {e:?}",
                        e.subject
                    ));
                }
            }
            // Nothing outside the range changed.
            let now_by_id: BTreeMap<&str, &Seen> =
                after.all(side).map(|e| (e.id.as_str(), e)).collect();
            for (id, raw) in &outside_before[idx(side)] {
                match now_by_id.get(id.as_str()) {
                    None => v.push(format!(
                        "{side} event {id} outside the range vanished: {raw}"
                    )),
                    Some(e) if &e.raw != raw => v.push(format!(
                        "{side} event {id} outside the range changed:\n before {raw}\n after  {}",
                        e.raw
                    )),
                    Some(_) => {}
                }
            }
            // Relations set in Salesforce stay.
            if side == Side::Salesforce {
                for (key, what) in &self.ledger.what {
                    if let Some(e) = after.get(side, *key)
                        && e.what.as_deref() != Some(what.as_str())
                        && !e.private
                    {
                        v.push(format!(
                            "Salesforce key {key} lost its WhatId {what}: {e:?}"
                        ));
                    }
                }
            }
        }
        match report {
            Some(r) => self.check_edits(before, after, r, &mut v),
            None => {
                for p in &mut self.ledger.pending {
                    p.unclean = true;
                }
            }
        }
        v
    }

    /// After a successful run: every pending edit is on both sides, or reported (a conflict
    /// it lost, an item failure — then it stays pending), or legitimately held back.
    pub(super) fn check_edits(
        &mut self,
        before: &World,
        after: &World,
        r: &Report,
        v: &mut Vec<String>,
    ) {
        let snapshot = self.ledger.pending.clone();
        let mut keep = Vec::new();
        for p in &snapshot {
            let (x, y) = (p.side, other(p.side));
            let Some(ex) = after.get(x, p.key) else {
                v.push(format!(
                    "{x} event key {} edited by the user ({:?} = {:?}, run {}) is gone, and no user deleted it",
                    p.key, p.field, p.val, p.run
                ));
                continue;
            };
            let ey = after.get(y, p.key);
            if ex.private || ey.is_some_and(|e| e.private) {
                // A private event and its pair do not sync.
                continue;
            }
            let carried =
                value(ex, p.field) == p.val && ey.is_some_and(|e| value(e, p.field) == p.val);
            let field_conflict = r.conflicts.iter().any(|c| {
                c.field.as_str() == field_name(p.field)
                    && (c.outlook_id.as_str() == ex.id || c.salesforce_id.as_str() == ex.id)
            });
            if !self.well_inside(ex) || ey.is_some_and(|e| !self.well_inside(e)) {
                // Near the range's edges an edit may or may not travel; once it has, or once
                // a conflict on it was reported, it is settled like any other.
                if !carried && !field_conflict {
                    keep.push(p.clone());
                }
                continue;
            }
            let errored = r
                .errors
                .iter()
                .any(|f| f.id.as_str() == ex.id || ey.is_some_and(|e| e.id == f.id.as_str()));
            let conflict_reported = r.conflicts.iter().any(|c| {
                c.outlook_id.as_str() == ex.id
                    || c.salesforce_id.as_str() == ex.id
                    || ey.is_some_and(|e| {
                        c.outlook_id.as_str() == e.id || c.salesforce_id.as_str() == e.id
                    })
            });
            let vx = value(ex, p.field);
            if vx != p.val {
                // Overwritten on its own side: only a lost conflict may do that.
                let rival = snapshot
                    .iter()
                    .any(|q| q.key == p.key && q.side == y && q.field == p.field && q.val == vx);
                if rival && (conflict_reported || p.unclean) {
                    continue;
                }
                // The other side held the winning value when the run began (for example the
                // echo of a write whose run was killed before it was recorded) and the run
                // reported the conflict on this field: the rule is "reported", and it was.
                let held_before = before
                    .get(y, p.key)
                    .is_some_and(|e| value(e, p.field) == vx);
                if field_conflict && held_before {
                    continue;
                }
                v.push(format!(
                    "{x} key {} field {:?}: the user's {:?} (run {}) was overwritten by {vx:?} without a reported conflict; report {}",
                    p.key,
                    p.field,
                    p.val,
                    p.run,
                    r.to_json()
                ));
                continue;
            }
            let Some(ey) = ey else {
                if errored {
                    keep.push(p.clone());
                } else {
                    v.push(format!(
                        "{x} key {} ({:?}) has no {y} copy after a successful run; edit {:?} = {:?} (run {}) not carried nor reported; report {}",
                        p.key,
                        ex.subject,
                        p.field,
                        p.val,
                        p.run,
                        r.to_json()
                    ));
                }
                continue;
            };
            let vy = value(ey, p.field);
            if vy == p.val {
                continue;
            }
            if errored {
                keep.push(p.clone());
                continue;
            }
            v.push(format!(
                "{x} key {} field {:?}: the user's {:?} (run {}) is not on {y} ({vy:?}) and not reported; {x} {ex:?}\n{y} {ey:?}\nreport {}",
                p.key,
                p.field,
                p.val,
                p.run,
                r.to_json()
            ));
        }
        self.ledger.pending = keep;
    }

    /// After the faults stop: both sides hold the same non-private in-range events.
    pub(super) fn check_converged(&self, w: &World) -> Vec<String> {
        let mut v = Vec::new();
        for side in [Side::Outlook, Side::Salesforce] {
            let o = other(side);
            for e in w.all(side) {
                if e.private || self.ledger.went_private.contains(&e.key) || !self.well_inside(e) {
                    continue;
                }
                let copies = w.sides[idx(o)].get(&e.key).map_or(&[][..], Vec::as_slice);
                match copies {
                    [c] if !self.well_inside(c) => {}
                    [c] => {
                        if (&c.subject, c.start, c.end, &c.location)
                            != (&e.subject, e.start, e.end, &e.location)
                        {
                            v.push(format!("not converged: {side} {e:?}\n{o} {c:?}"));
                        }
                    }
                    _ => v.push(format!(
                        "not converged: {side} {e:?} has {} copies on {o}: {copies:#?}",
                        copies.len()
                    )),
                }
            }
        }
        v
    }
}
