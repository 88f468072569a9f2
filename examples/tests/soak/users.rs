//! The simulated users: create, edit, move, make private, relate and delete events on both
//! services, between sync runs.

use super::*;

pub(crate) fn local(day: NaiveDate, minutes: u32) -> DateTime<Utc> {
    let naive = day.and_time(NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0).unwrap());
    NY.from_local_datetime(&naive)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

pub(crate) fn graph_time(t: DateTime<Utc>, zone_local: bool) -> Value {
    if zone_local {
        json!({"dateTime": t.with_timezone(&NY).format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "Eastern Standard Time"})
    } else {
        json!({"dateTime": t.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"})
    }
}

pub(crate) fn sf_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S.000+0000").to_string()
}

pub(crate) fn graph_show_as(v: &str) -> &'static str {
    match v {
        "free" => "free",
        "oof" => "oof",
        _ => "busy",
    }
}

pub(crate) fn sf_show_as(v: &str) -> &'static str {
    match v {
        "free" => "Free",
        "oof" => "OutOfOffice",
        _ => "Busy",
    }
}

impl Soak {
    pub(super) fn create(&mut self, side: Side, private: bool) {
        self.ledger.next_key += 1;
        let key = self.ledger.next_key;
        let rev = self.ledger.rev();
        let day = if self.rng.chance(85) {
            self.in_range_day()
        } else {
            self.out_of_range_day()
        };
        let (start, end) = self.random_time(day);
        let tag = if private { "priv" } else { "new" };
        let subject = format!("K{key} {tag}-{rev} {}", side.as_str());
        let location = format!("Room {key}-{rev}");
        let note = format!("note-{key}-{rev}");
        let show = ["busy", "free", "oof"][usize::try_from(self.rng.below(3)).unwrap()];
        match side {
            Side::Outlook => {
                let local_zone = self.rng.chance(50);
                let mut ev = json!({
                    "subject": subject,
                    "start": graph_time(start, local_zone),
                    "end": graph_time(end, local_zone),
                    "location": {"displayName": location},
                    "body": {"contentType": "text", "content": format!("Agenda {note}")},
                    "showAs": graph_show_as(show),
                });
                if private {
                    ev["sensitivity"] = json!("private");
                }
                self.world.graph.seed_event(OUTLOOK_USER, None, ev);
            }
            Side::Salesforce => {
                let mut ev = json!({
                    "Subject": subject,
                    "StartDateTime": sf_time(start),
                    "EndDateTime": sf_time(end),
                    "DurationInMinutes": (end - start).num_minutes(),
                    "Location": location,
                    "Description": format!("Agenda {note}"),
                    "ShowAs": sf_show_as(show),
                    "IsPrivate": private,
                });
                if !private && self.rng.chance(30) {
                    let what = self.rng.pick(&self.records).unwrap().clone();
                    ev["WhatId"] = json!(what);
                    self.ledger.what.insert(key, what);
                }
                self.world.salesforce.seed_event(ev);
            }
        }
        self.trace(format_args!(
            "user {side} creates key {key} {subject:?} {start}..{end} private={private}"
        ));
        if private {
            self.ledger.went_private.insert(key);
            self.ledger.private_subjects[idx(side)].insert(subject);
            return;
        }
        let run = self.run;
        for (f, v) in [
            (F::Exists, Val::Yes),
            (F::Subject, Val::Text(subject)),
            (F::Time, Val::Time(start, end)),
            (F::Location, Val::Text(location)),
            (F::Note, Val::Text(note)),
            (F::ShowAs, Val::Text(show.to_owned())),
        ] {
            self.ledger.edit(key, side, f, v, run);
        }
    }

    /// Applies a user's edit of one field; returns false when the emulator refused it.
    pub(super) fn set(&mut self, side: Side, e: &Seen, field: F, val: &Val) -> bool {
        let ok = match (side, field, val) {
            (Side::Outlook, F::Subject, Val::Text(t)) => json!({"subject": t}),
            (Side::Outlook, F::Location, Val::Text(t)) => json!({"location": {"displayName": t}}),
            (Side::Outlook, F::Note, Val::Text(t)) => {
                json!({"body": {"contentType": "text", "content": format!("Edited {t}")}})
            }
            (Side::Outlook, F::ShowAs, Val::Text(t)) => json!({"showAs": graph_show_as(t)}),
            (Side::Outlook, F::Time, Val::Time(s, en)) => {
                let z = self.rng.chance(50);
                json!({"start": graph_time(*s, z), "end": graph_time(*en, z)})
            }
            (Side::Salesforce, F::Subject, Val::Text(t)) => json!({"Subject": t}),
            (Side::Salesforce, F::Location, Val::Text(t)) => json!({"Location": t}),
            (Side::Salesforce, F::Note, Val::Text(t)) => {
                json!({"Description": format!("Edited {t}")})
            }
            (Side::Salesforce, F::ShowAs, Val::Text(t)) => json!({"ShowAs": sf_show_as(t)}),
            (Side::Salesforce, F::Time, Val::Time(s, en)) => json!({
                "StartDateTime": sf_time(*s), "EndDateTime": sf_time(*en),
                "DurationInMinutes": (*en - *s).num_minutes(),
            }),
            _ => unreachable!("{field:?} {val:?}"),
        };
        self.trace(format_args!(
            "user {side} edits key {} {field:?} = {val:?} ({e:?})",
            e.key
        ));
        let done = match side {
            Side::Outlook => self.world.graph.user_edit(OUTLOOK_USER, &e.id, ok),
            Side::Salesforce => self.world.salesforce.user_edit(&e.id, ok),
        };
        assert!(done, "{}: user edit refused on {side} {e:?}", self.ctx());
        if e.private {
            if let (F::Subject, Val::Text(t)) = (field, val) {
                self.ledger.private_subjects[idx(side)].insert(t.clone());
            }
        } else if value(e, field) != *val {
            // A save that changes nothing (a time "moved" to where it was) is not an edit:
            // calbridge compares content, so it neither travels nor beats a deletion.
            let run = self.run;
            self.ledger.edit(e.key, side, field, val.clone(), run);
        }
        true
    }

    /// A new value for `field` of `e`.
    pub(super) fn new_value(&mut self, e: &Seen, field: F) -> Val {
        let rev = self.ledger.rev();
        let key = e.key;
        match field {
            F::Subject => {
                let tag = if e.private { "priv" } else { "edit" };
                Val::Text(format!("K{key} {tag}-{rev}"))
            }
            F::Location => Val::Text(format!("Place {key}-{rev}")),
            F::Note => Val::Text(format!("note-{key}-{rev}")),
            F::ShowAs => {
                let choices: Vec<&str> = ["busy", "free", "oof"]
                    .into_iter()
                    .filter(|s| *s != e.show_as)
                    .collect();
                Val::Text((*self.rng.pick(&choices).unwrap()).to_owned())
            }
            F::Time => {
                // Same day, another hour; or another day in range.
                let day = if self.rng.chance(50) {
                    e.start.with_timezone(&NY).date_naive()
                } else {
                    self.in_range_day()
                };
                let (s, en) = self.random_time(day);
                Val::Time(s, en)
            }
            F::Exists => unreachable!(),
        }
    }

    pub(super) fn live(&self, w: &World, side: Side) -> Vec<Seen> {
        w.all(side).cloned().collect()
    }

    pub(super) fn user_step(&mut self) {
        let n = self.rng.range(1, 5);
        for _ in 0..n {
            let w = read_world(&self.world);
            let side = if self.rng.chance(50) {
                Side::Outlook
            } else {
                Side::Salesforce
            };
            let live = self.live(&w, side);
            let roll = self.rng.below(100);
            let Some(target) = self.rng.pick(&live).cloned() else {
                self.create(side, false);
                *self.stats.actions.entry("create").or_default() += 1;
                continue;
            };
            let crowded = live.len() > 40;
            match roll {
                0..=22 if !crowded => {
                    let private = self.rng.chance(8);
                    self.create(side, private);
                    let name = if private { "create private" } else { "create" };
                    *self.stats.actions.entry(name).or_default() += 1;
                }
                0..=54 => {
                    let field = *self
                        .rng
                        .pick(&[F::Subject, F::Time, F::Location, F::Note, F::ShowAs])
                        .unwrap();
                    let v = self.new_value(&target, field);
                    self.set(side, &target, field, &v);
                    *self.stats.actions.entry("edit").or_default() += 1;
                }
                55..=64 => {
                    // Move: out of range, into range, or across the DST change.
                    let kind = self.rng.below(3);
                    let day = match kind {
                        0 => self.out_of_range_day(),
                        1 => self.in_range_day(),
                        _ => {
                            let dst =
                                NaiveDate::from_ymd_opt(DST_DAY.0, DST_DAY.1, DST_DAY.2).unwrap();
                            let d = target.start.with_timezone(&NY).date_naive();
                            if d < dst {
                                dst + Duration::days(self.rng.range(0, 3))
                            } else {
                                dst - Duration::days(self.rng.range(1, 3))
                            }
                        }
                    };
                    // Keep the local time of day: across DST its UTC hour changes.
                    let l = target.start.with_timezone(&NY);
                    let minutes =
                        u32::try_from((l.time() - NaiveTime::MIN).num_minutes().clamp(0, 23 * 60))
                            .unwrap();
                    let s = local(day, minutes);
                    let v = Val::Time(s, s + (target.end - target.start));
                    self.set(side, &target, F::Time, &v);
                    let name = ["move out", "move in", "move across dst"][kind as usize];
                    *self.stats.actions.entry(name).or_default() += 1;
                }
                65..=69 => {
                    // Make private, under a new subject nothing else carries.
                    let rev = self.ledger.rev();
                    let subject = format!("K{} priv-{rev}", target.key);
                    let patch = match side {
                        Side::Outlook => json!({"sensitivity": "private", "subject": subject}),
                        Side::Salesforce => {
                            json!({"IsPrivate": true, "Subject": subject, "WhatId": null, "WhoId": null})
                        }
                    };
                    let ok = match side {
                        Side::Outlook => {
                            self.world.graph.user_edit(OUTLOOK_USER, &target.id, patch)
                        }
                        Side::Salesforce => self.world.salesforce.user_edit(&target.id, patch),
                    };
                    assert!(ok, "{}: make private refused", self.ctx());
                    self.trace(format_args!(
                        "user {side} makes key {} private as {subject:?} ({target:?})",
                        target.key
                    ));
                    self.ledger.went_private.insert(target.key);
                    self.ledger.private_subjects[idx(side)].insert(subject);
                    self.ledger.pending.retain(|p| p.key != target.key);
                    if side == Side::Salesforce {
                        self.ledger.what.remove(&target.key);
                    }
                    *self.stats.actions.entry("make private").or_default() += 1;
                }
                70..=76 => {
                    // Relate a Salesforce event to a record.
                    let sf: Vec<Seen> = self
                        .live(&w, Side::Salesforce)
                        .into_iter()
                        .filter(|e| !e.private)
                        .collect();
                    if let Some(t) = self.rng.pick(&sf).cloned() {
                        let what = self.rng.pick(&self.records).unwrap().clone();
                        assert!(
                            self.world
                                .salesforce
                                .user_edit(&t.id, json!({"WhatId": what})),
                            "{}: relate refused",
                            self.ctx()
                        );
                        self.ledger.what.insert(t.key, what);
                        *self.stats.actions.entry("relate").or_default() += 1;
                    }
                }
                77..=90 => {
                    self.user_delete(side, &target, &w);
                    *self.stats.actions.entry("delete").or_default() += 1;
                }
                _ => {
                    // The same event on both sides: deleted on one, edited on the other; or
                    // the same field edited on both (a conflict).
                    let Some(copy) = w.get(other(side), target.key).cloned() else {
                        continue;
                    };
                    let field = *self
                        .rng
                        .pick(&[F::Subject, F::Time, F::Location, F::Note, F::ShowAs])
                        .unwrap();
                    if self.rng.chance(50) {
                        self.user_delete(side, &target, &w);
                        let v = self.new_value(&copy, field);
                        self.set(other(side), &copy, field, &v);
                        *self.stats.actions.entry("delete vs edit").or_default() += 1;
                    } else {
                        let v = self.new_value(&target, field);
                        self.set(side, &target, field, &v);
                        let v = self.new_value(&copy, field);
                        self.set(other(side), &copy, field, &v);
                        *self.stats.actions.entry("edit vs edit").or_default() += 1;
                    }
                }
            }
        }
    }

    pub(super) fn user_delete(&mut self, side: Side, e: &Seen, w: &World) {
        let ok = match side {
            Side::Outlook => self.world.graph.user_delete(OUTLOOK_USER, &e.id),
            Side::Salesforce => self.world.salesforce.user_delete(&e.id),
        };
        assert!(ok, "{}: user delete refused on {side} {e:?}", self.ctx());
        self.trace(format_args!("user {side} deletes key {} ({e:?})", e.key));
        let key = e.key;
        self.ledger.user_deleted[idx(side)].insert(key);
        if side == Side::Salesforce {
            self.ledger.what.remove(&key);
        }
        // Edits on the deleted copy are gone with it; edits on the other side that already
        // reached the deleted copy may be deleted with their event (the delete is the newer
        // change). Edits that did not reach it must survive (modify beats delete).
        let copy_there = w.get(other(side), key).cloned();
        self.ledger.pending.retain(|p| {
            if p.key != key {
                return true;
            }
            if p.side == side {
                return false;
            }
            // Already overwritten by the deleted copy's value in a run whose report was never
            // seen (killed): a conflict it lost, nothing left to survive the deletion.
            let lost = p.unclean
                && copy_there.as_ref().is_some_and(|c| {
                    let there = value(c, p.field);
                    there != p.val && there == value(e, p.field)
                });
            if lost {
                return false;
            }
            value(e, p.field) != p.val || copy_there.is_none()
        });
    }
}
