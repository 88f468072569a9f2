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

#[path = "soak/checks.rs"]
mod checks;
#[path = "soak/faults.rs"]
mod faults;
#[path = "soak/ledger.rs"]
mod ledger;
mod soak_support;
#[path = "soak/users.rs"]
mod users;

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
use ledger::{F, Ledger, Stats, Val, value};
use serde_json::{Value, json};
use soak_support::*;
use users::local;

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

    // ------------------------------------------------------------------ faults

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

/// Open: a Salesforce copy created by a run killed before recording it, then edited by the
/// user before the rerun, is not recognised as the copy (Salesforce events carry no
/// counterpart stamp and the content no longer matches): the rerun's upsert by creation key
/// overwrites the user's edit and the edited copy is copied back to Outlook (run 8).
#[tokio::test]
#[ignore = "open product bug: unrecorded Salesforce copy edited before the rerun is duplicated"]
async fn soak_seed_60_unrecorded_copy_edited() {
    run_soak(60, DEFAULT_RUNS).await;
}

/// Open: a Salesforce event was copied to Outlook by a run killed before recording the copy
/// (run 12); the user then related the Salesforce event to another record. The rerun pairs the
/// copy by its stamp but, with no recorded base, sees both sides as edited: a conflict on
/// `related` that the Outlook policy settles for the copy's older WhatId (run 13). Creates
/// need what updates now have (`Echo`): the written fingerprints noted with the intent.
#[tokio::test]
#[ignore = "open product bug: an unrecorded copy has no base, so a later edit of its source conflicts"]
async fn soak_seed_53_what_id_after_interrupted_copy() {
    run_soak(53, DEFAULT_RUNS).await;
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
