//! Chaos soak (issue 7): a seeded, reproducible run of many syncs through the real
//! connectors, over both emulators, with SQLite state, while simulated users on both sides
//! create, edit, move (in and out of the range, across the 2027-03-14 DST change), make
//! private, relate and delete events, the emulators inject faults, and the engine is killed
//! at random calls. After every run it checks the invariants listed on [`soak`]; when the
//! faults stop, one more run must converge both sides.
//!
//! ```sh
//! cargo test -p calbridge-examples --test soak -- --nocapture            # 200 runs
//! CALBRIDGE_SOAK_SEED=0x1234 cargo test -p calbridge-examples --test soak   # replay a seed
//! CALBRIDGE_SOAK_RUNS=2000 cargo test --release -p calbridge-examples --test soak -- --nocapture
//! ```
//!
//! `CALBRIDGE_SOAK_RUNS=2000` is the longer mode (a few minutes in release). Every
//! assertion message names the seed; the same seed replays the same users, faults and
//! crash points.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod soak_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use calbridge::core::SyncWindow;
use calbridge::model::Side;
use calbridge::provider::CalendarProvider;
use calbridge::store::SqliteStore;
use calbridge::{EngineError, ManualClock, Report, RetryPolicy, SyncEngine, SyncSettings};
use calbridge_examples::emulated::{Emulated, OUTLOOK_USER};
use calbridge_testkit::graph::GraphFault;
use calbridge_testkit::salesforce::SalesforceFault;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::America::New_York as NY;
use serde_json::{Value, json};
use soak_support::*;

/// The seed CI runs. Seeds known to fail are pinned below as ignored tests until fixed.
const DEFAULT_SEED: u64 = 1;
const DEFAULT_RUNS: usize = 200;
const PAST_DAYS: u32 = 7;
const FUTURE_DAYS: u32 = 28;
/// How far the engine's clock moves between runs: 200 runs slide the range by 25 days.
const STEP: Duration = Duration::hours(3);
/// The DST change the users move events across.
const DST_DAY: (i32, u32, u32) = (2027, 3, 14);

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

fn settings() -> SyncSettings {
    SyncSettings::from_toml_str(&format!(
        "related_only = false\ntime_zone = \"America/New_York\"\nconflict_policy = \"outlook\"\n\
         [range]\npast_days = {PAST_DAYS}\nfuture_days = {FUTURE_DAYS}\n"
    ))
    .unwrap()
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: StdDuration::from_millis(1),
        max_backoff: StdDuration::from_millis(4),
        max_total: StdDuration::from_secs(30),
    }
}

fn other(side: Side) -> Side {
    match side {
        Side::Outlook => Side::Salesforce,
        Side::Salesforce => Side::Outlook,
    }
}

/// A synced field the users edit (and `Exists`: the event was created).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum F {
    Exists,
    Subject,
    Time,
    Location,
    Note,
    ShowAs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Yes,
    Text(String),
    Time(DateTime<Utc>, DateTime<Utc>),
}

/// The report's name of a field.
fn field_name(f: F) -> &'static str {
    match f {
        F::Exists => "exists",
        F::Subject => "subject",
        F::Time => "time",
        F::Location => "location",
        F::Note => "body",
        F::ShowAs => "show_as",
    }
}

fn value(e: &Seen, f: F) -> Val {
    match f {
        F::Exists => Val::Yes,
        F::Subject => Val::Text(e.subject.clone()),
        F::Time => Val::Time(e.start, e.end),
        F::Location => Val::Text(e.location.clone()),
        F::Note => Val::Text(e.note.clone()),
        F::ShowAs => Val::Text(e.show_as.clone()),
    }
}

/// A user's edit not yet seen on both sides after a successful run.
#[derive(Debug, Clone)]
struct Pending {
    key: u64,
    side: Side,
    field: F,
    val: Val,
    run: usize,
    /// A run failed or was killed since the edit: its conflict report may be lost.
    unclean: bool,
}

/// What the users did.
#[derive(Debug, Default)]
struct Ledger {
    next_key: u64,
    rev: u64,
    pending: Vec<Pending>,
    /// Keys a user deleted on a side (cleared when the key is on that side again).
    user_deleted: [BTreeSet<u64>; 2],
    /// Every subject a private event had, per side.
    private_subjects: [BTreeSet<String>; 2],
    /// Keys that were private on some side at some time. What happens to the other copy of
    /// a pair that went private is not specified, so the final convergence skips them.
    went_private: BTreeSet<u64>,
    /// Salesforce relations set by the user.
    what: BTreeMap<u64, String>,
    /// Per key and field, the value both sides held after the last successful run: a user
    /// edit back to it cannot be told from no edit at all.
    agreed: BTreeMap<(u64, F), Val>,
}

impl Ledger {
    fn edit(&mut self, key: u64, side: Side, field: F, val: Val, run: usize) {
        self.pending
            .retain(|p| !(p.key == key && p.side == side && p.field == field));
        if self.agreed.get(&(key, field)) == Some(&val) {
            // Back to the value both sides held after the last sync: to a three-way merge
            // that is no edit at all (the other side's change, or a deletion, wins).
            return;
        }
        self.pending.push(Pending {
            key,
            side,
            field,
            val,
            run,
            unclean: false,
        });
    }
    fn rev(&mut self) -> u64 {
        self.rev += 1;
        self.rev
    }
}

#[derive(Debug, Default)]
struct Stats {
    ok: usize,
    ok_with_item_errors: usize,
    failed: BTreeMap<String, usize>,
    killed: BTreeMap<String, usize>,
    crash_armed_not_hit: usize,
    held: usize,
    faults: BTreeMap<&'static str, usize>,
    actions: BTreeMap<&'static str, usize>,
    conflicts: usize,
    checks: usize,
}

#[allow(clippy::large_enum_variant, reason = "one value per run")]
enum Outcome {
    Done(Result<Report, EngineError>),
    Killed(String),
}

struct Soak {
    seed: u64,
    rng: Rng,
    world: Emulated,
    outlook: Arc<dyn CalendarProvider>,
    salesforce: Arc<dyn CalendarProvider>,
    clock: ManualClock,
    path: std::path::PathBuf,
    settings: SyncSettings,
    ledger: Ledger,
    stats: Stats,
    records: Vec<String>,
    run: usize,
}

fn local(day: NaiveDate, minutes: u32) -> DateTime<Utc> {
    let naive = day.and_time(NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0).unwrap());
    NY.from_local_datetime(&naive)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn graph_time(t: DateTime<Utc>, zone_local: bool) -> Value {
    if zone_local {
        json!({"dateTime": t.with_timezone(&NY).format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "Eastern Standard Time"})
    } else {
        json!({"dateTime": t.format("%Y-%m-%dT%H:%M:%S").to_string(), "timeZone": "UTC"})
    }
}

fn sf_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S.000+0000").to_string()
}

fn graph_show_as(v: &str) -> &'static str {
    match v {
        "free" => "free",
        "oof" => "oof",
        _ => "busy",
    }
}

fn sf_show_as(v: &str) -> &'static str {
    match v {
        "free" => "Free",
        "oof" => "OutOfOffice",
        _ => "Busy",
    }
}

fn verbose() -> bool {
    std::env::var_os("CALBRIDGE_SOAK_VERBOSE").is_some()
}

impl Soak {
    fn trace(&self, what: impl std::fmt::Display) {
        if verbose() {
            eprintln!("[run {}] {what}", self.run);
        }
    }

    fn ctx(&self) -> String {
        format!(
            "seed {:#x} (replay: CALBRIDGE_SOAK_SEED={:#x}), run {}",
            self.seed, self.seed, self.run
        )
    }

    fn now(&self) -> DateTime<Utc> {
        calbridge::Clock::now(&self.clock)
    }

    fn window(&self) -> SyncWindow {
        SyncWindow::new(self.settings.range, self.now(), NY)
    }

    fn today(&self) -> NaiveDate {
        self.now().with_timezone(&NY).date_naive()
    }

    // ------------------------------------------------------------------ users

    fn random_time(&mut self, day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
        let minutes = u32::try_from(self.rng.range(8 * 2, 18 * 2)).unwrap() * 30;
        let start = local(day, minutes);
        let len = [30, 60, 90][usize::try_from(self.rng.below(3)).unwrap()];
        (start, start + Duration::minutes(len))
    }

    fn in_range_day(&mut self) -> NaiveDate {
        self.today() + Duration::days(self.rng.range(0, i64::from(FUTURE_DAYS) - 3))
    }

    fn out_of_range_day(&mut self) -> NaiveDate {
        if self.rng.chance(50) {
            self.today() + Duration::days(i64::from(FUTURE_DAYS) + self.rng.range(4, 20))
        } else {
            self.today() - Duration::days(i64::from(PAST_DAYS) + self.rng.range(3, 15))
        }
    }

    fn create(&mut self, side: Side, private: bool) {
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
    fn set(&mut self, side: Side, e: &Seen, field: F, val: &Val) -> bool {
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
    fn new_value(&mut self, e: &Seen, field: F) -> Val {
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

    fn live(&self, w: &World, side: Side) -> Vec<Seen> {
        w.all(side).cloned().collect()
    }

    fn user_step(&mut self) {
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

    fn user_delete(&mut self, side: Side, e: &Seen, w: &World) {
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
            value(e, p.field) != p.val || copy_there.is_none()
        });
    }

    // ------------------------------------------------------------------ faults

    fn inject_faults(&mut self, w: &World) {
        self.world.graph.clear_faults();
        self.world.salesforce.clear_faults();
        let n = self.rng.below(4);
        for _ in 0..n {
            let times = u32::try_from(self.rng.range(1, 2)).unwrap();
            let secs = StdDuration::from_secs(self.rng.below(2));
            let name = match self.rng.below(15) {
                0 => {
                    self.world.graph.inject(GraphFault::Throttle {
                        retry_after: secs,
                        times,
                        path: None,
                    });
                    "graph 429 retry-after"
                }
                1 => {
                    self.world.graph.inject(GraphFault::BatchItemThrottle {
                        retry_after: secs,
                        times,
                    });
                    "graph $batch item 429"
                }
                2 => {
                    self.world.graph.inject(GraphFault::Unavailable {
                        status: 503,
                        times,
                        path: None,
                    });
                    "graph 503"
                }
                3 => {
                    self.world.graph.inject(GraphFault::DropConnection {
                        times: 1,
                        path: Some("$batch".into()),
                    });
                    "graph dropped connection ($batch)"
                }
                4 => {
                    self.world.graph.inject(GraphFault::DropConnection {
                        times: 1,
                        path: None,
                    });
                    "graph dropped connection"
                }
                5 => {
                    self.world.graph.inject(GraphFault::ExpireTokens);
                    "graph expired tokens"
                }
                6 => {
                    self.world.graph.inject(GraphFault::ExpireDeltaTokens);
                    "graph expired delta tokens"
                }
                7 => {
                    self.world
                        .graph
                        .inject(GraphFault::ResyncRequired { times: 1 });
                    "graph delta resync required"
                }
                8 => {
                    self.world
                        .salesforce
                        .inject(SalesforceFault::Unavailable { times });
                    "salesforce 503"
                }
                9 => {
                    self.world
                        .salesforce
                        .inject(SalesforceFault::DropConnection {
                            times: 1,
                            path: None,
                        });
                    "salesforce dropped connection"
                }
                10 => {
                    self.world
                        .salesforce
                        .inject(SalesforceFault::DropAfterWrite { times: 1 });
                    "salesforce dropped after write (mid-batch)"
                }
                11 => {
                    self.world
                        .salesforce
                        .inject(SalesforceFault::ExpireSessions);
                    "salesforce expired sessions"
                }
                12 | 13 => {
                    let sf: Vec<&Seen> = w.all(Side::Salesforce).collect();
                    let Some(t) = self.rng.pick(&sf) else {
                        continue;
                    };
                    self.world.salesforce.inject(SalesforceFault::LockRow {
                        id: t.id.clone(),
                        times: times + 1,
                    });
                    "salesforce UNABLE_TO_LOCK_ROW"
                }
                _ => {
                    if self.rng.chance(50) {
                        self.world.graph.inject(GraphFault::Slow {
                            delay: StdDuration::from_millis(15),
                            times: 1,
                            path: None,
                        });
                        "graph slow"
                    } else {
                        self.world
                            .salesforce
                            .inject(SalesforceFault::RequestLimitExceeded { times: 1 });
                        "salesforce request limit exceeded"
                    }
                }
            };
            self.trace(format_args!("fault: {name}"));
            *self.stats.faults.entry(name).or_default() += 1;
        }
    }

    // ------------------------------------------------------------------ runs

    async fn sync_once(&mut self, crash_at: u64) -> Outcome {
        let switch = CrashSwitch::new(crash_at);
        let store = CrashingStore {
            inner: SqliteStore::open(&self.path)
                .unwrap_or_else(|e| panic!("{}: reopening the state: {e}", self.ctx())),
            switch: Arc::clone(&switch),
        };
        let engine = SyncEngine::builder(
            Crashing {
                inner: Arc::clone(&self.outlook),
                switch: Arc::clone(&switch),
            },
            Crashing {
                inner: Arc::clone(&self.salesforce),
                switch: Arc::clone(&switch),
            },
            store,
        )
        .settings(self.settings.clone())
        .clock(SoakClock(self.clock.clone()))
        .retry(fast_retry())
        .jitter_seed(self.seed ^ self.run as u64)
        .build()
        .unwrap();
        let run = async {
            tokio::select! {
                r = engine.sync() => Outcome::Done(r),
                () = switch.crashed.notified() => Outcome::Killed(switch.point().unwrap_or_default()),
            }
        };
        let outcome = tokio::time::timeout(StdDuration::from_secs(120), run)
            .await
            .unwrap_or_else(|_| panic!("{}: a sync hung for 2 minutes", self.ctx()));
        drop(engine);
        outcome
    }

    /// Events strictly outside the range (by more than a day), by id, as stored.
    fn outside(&self, w: &World) -> [BTreeMap<String, String>; 2] {
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

    fn record_agreed(&mut self, after: &World) {
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

    fn well_inside(&self, e: &Seen) -> bool {
        let win = self.window();
        e.start >= win.start + Duration::days(1) && e.end <= win.end - Duration::days(1)
    }

    /// The checks after every run; returns the violations.
    fn check(
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
    fn check_edits(&mut self, before: &World, after: &World, r: &Report, v: &mut Vec<String>) {
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

    async fn one_run(&mut self, crash: bool, faults: bool) -> Vec<String> {
        let before = read_world(&self.world);
        if faults {
            self.inject_faults(&before);
        }
        let outside_before = self.outside(&before);
        let crash_at = if crash { self.rng.range(1, 14) } else { 0 };
        let outcome = self.sync_once(u64::try_from(crash_at).unwrap()).await;
        let after = read_world(&self.world);
        if verbose() {
            let what = match &outcome {
                Outcome::Killed(p) => format!("killed at {p}"),
                Outcome::Done(Err(e)) => format!("failed: {e:?}"),
                Outcome::Done(Ok(r)) => format!("ok: {}", r.to_json()),
            };
            self.trace(format_args!("sync (crash_at {crash_at}): {what}"));
        }
        let report = match &outcome {
            Outcome::Killed(point) => {
                *self.stats.killed.entry(point.clone()).or_default() += 1;
                None
            }
            Outcome::Done(Err(e)) => {
                if std::env::var_os("CALBRIDGE_SOAK_VERBOSE").is_some() {
                    eprintln!("{}: run failed: {e} / {e:?}", self.ctx());
                }
                let kind = format!("{e}");
                let kind: String = kind.chars().take(60).collect();
                *self.stats.failed.entry(kind).or_default() += 1;
                None
            }
            Outcome::Done(Ok(r)) => {
                if crash {
                    self.stats.crash_armed_not_hit += 1;
                }
                self.stats.conflicts += r.conflicts.len();
                if !r.held.is_empty() {
                    self.stats.held += 1;
                    None
                } else {
                    self.stats.ok += 1;
                    if !r.errors.is_empty() {
                        self.stats.ok_with_item_errors += 1;
                    }
                    Some(r.clone())
                }
            }
        };
        let v = self.check(&before, &outside_before, &after, report.as_ref());
        if report.is_some() {
            self.record_agreed(&after);
        }
        for side in [Side::Outlook, Side::Salesforce] {
            let present: BTreeSet<u64> = after.sides[idx(side)].keys().copied().collect();
            self.ledger.user_deleted[idx(side)].retain(|k| !present.contains(k));
        }
        v
    }

    /// After the faults stop: both sides hold the same non-private in-range events.
    fn check_converged(&self, w: &World) -> Vec<String> {
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

/// The soak. Invariants after every run:
/// - no event twice on either side (by key, and by subject + start);
/// - every user edit (create, subject, time, location, body, show-as) is on both sides after
///   a successful run, or that run reports it (a conflict it lost, an item failure: it must
///   then arrive later), unless private or outside the range; a failed or killed run defers
///   the check to the next successful one;
/// - nothing deleted on a side unless a user deleted it or its counterpart;
/// - no private event's subject on the other side;
/// - events outside the range (by more than a day) byte-identical before and after;
/// - relations (`WhatId`) set in Salesforce stay.
///
/// Then faults stop and one more run must converge both sides.
#[tokio::test]
async fn soak() {
    let seed = env_u64("CALBRIDGE_SOAK_SEED").unwrap_or(DEFAULT_SEED);
    let runs = env_u64("CALBRIDGE_SOAK_RUNS").map_or(DEFAULT_RUNS, |n| usize::try_from(n).unwrap());
    run_soak(seed, runs).await;
}

/// Seed 4 found a product bug at run 70 (fixed): a Salesforce event created outside the range
/// entered it as the days passed, unmodified, and was never read while Salesforce was read
/// incrementally. The engine now stores each cursor with the end of its window and lists in
/// full when the window has moved. Seed 1 failed the same way before the fix.
#[tokio::test]
async fn soak_seed_4_range_slide() {
    run_soak(4, DEFAULT_RUNS).await;
}

/// Regression: a successful run (116) left a Salesforce event without its Outlook copy. The
/// Outlook copy had been deleted by the user just as Outlook's delta cursor expired: the full
/// listing noticed the deletion, but Salesforce was read incrementally, so its counterpart was
/// never read and the deletion was held as "unconfirmed" on every later run. Counterparts of
/// items missing from a full listing are now read by id too.
#[tokio::test]
async fn soak_seed_c0ffee() {
    run_soak(0x00c0_ffee_5eed_2027, DEFAULT_RUNS).await;
}

/// Regression: the same lost deletion as [`soak_seed_c0ffee`], found at run 196.
#[tokio::test]
async fn soak_seed_3() {
    run_soak(3, DEFAULT_RUNS).await;
}

async fn run_soak(seed: u64, runs: usize) {
    let started = Instant::now();
    let world = Emulated::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let records = (0..4)
        .map(|i| world.record(if i % 2 == 0 { "001" } else { "006" }))
        .collect();
    let mut soak = Soak {
        seed,
        rng: Rng::new(seed),
        outlook: Arc::new(world.outlook().await.unwrap()),
        salesforce: Arc::new(world.salesforce().await.unwrap()),
        world,
        clock: ManualClock::new(Utc.with_ymd_and_hms(2027, 3, 1, 15, 0, 0).unwrap()),
        path: dir.path().join("state.sqlite"),
        settings: settings(),
        ledger: Ledger::default(),
        stats: Stats::default(),
        records,
        run: 0,
    };
    // Both calendars start with a few events.
    for _ in 0..6 {
        soak.create(Side::Outlook, false);
        soak.create(Side::Salesforce, false);
    }
    soak.create(Side::Outlook, true);
    soak.create(Side::Salesforce, true);

    for run in 1..=runs {
        soak.run = run;
        if run > 1 {
            soak.user_step();
        }
        let crash = run > 1 && soak.rng.chance(20);
        let faults = soak.rng.chance(70);
        let v = soak.one_run(crash, faults).await;
        assert!(
            v.is_empty(),
            "{}: {} invariant violation(s):\n{}\nstats so far: {:#?}",
            soak.ctx(),
            v.len(),
            v.join("\n---\n"),
            soak.stats
        );
        soak.clock.advance(STEP.to_std().unwrap());
    }

    // The faults stop: one more run converges both sides.
    soak.run = runs + 1;
    soak.world.graph.clear_faults();
    soak.world.salesforce.clear_faults();
    let mut v = soak.one_run(false, false).await;
    let ok = soak.stats.ok;
    let last = read_world(&soak.world);
    v.extend(soak.check_converged(&last));
    let elapsed = started.elapsed();
    let summary = format!(
        "soak seed {seed:#x}: {runs} runs + 1 final in {:.1?}; events now outlook {} / salesforce {}; \
         {} edits still pending (outside the range)\n{:#?}",
        elapsed,
        last.all(Side::Outlook).count(),
        last.all(Side::Salesforce).count(),
        soak.ledger.pending.len(),
        soak.stats
    );
    println!("{summary}");
    assert!(
        v.is_empty(),
        "{}: final run did not converge ({} violation(s)):\n{}\n{summary}",
        soak.ctx(),
        v.len(),
        v.join("\n---\n")
    );
    assert!(
        ok > runs / 2,
        "{}: too few successful runs\n{summary}",
        soak.ctx()
    );
}
