//! Helpers of the chaos soak: a seeded generator, wrappers that kill the engine at a chosen
//! call (the call never returns; the test then drops the engine), and a snapshot of both
//! emulated calendars read straight from the emulators (never through the connectors, so
//! checking consumes no injected fault).
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use calbridge::core::{Echo, StateChange, SyncState};
use calbridge::model::{Event, ItemId, Side};
use calbridge::provider::{
    CalendarProvider, Capabilities, Changes, Cursor, ListWindow, Listing, ProviderError, Quota,
    Write, WriteResult,
};
use calbridge::store::{CreateIntent, RunRecord, StateStore, StoreError};
use calbridge_examples::emulated::{Emulated, OUTLOOK_USER};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;
use tokio::sync::Notify;

/// splitmix64: small, seeded, reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + i64::try_from(self.below(u64::try_from(hi - lo + 1).unwrap())).unwrap()
    }
    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[usize::try_from(self.below(items.len() as u64)).unwrap()])
        }
    }
}

// ---------------------------------------------------------------------------------------
// Crash wrappers. The trait methods are written out as `async_trait` expands them (the
// examples crate does not depend on `async-trait`).
// ---------------------------------------------------------------------------------------

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Counts calls across the wrapped providers and store; call number `crash_at` does its
/// work (a provider call: the service applies it) or not (a store write: the transaction
/// never commits), then never returns — as if the process died there.
#[derive(Debug, Default)]
pub struct CrashSwitch {
    pub calls: AtomicU64,
    pub crash_at: AtomicU64,
    pub crashed: Notify,
    pub point: Mutex<Option<String>>,
}

impl CrashSwitch {
    pub fn new(crash_at: u64) -> Arc<Self> {
        let s = Self::default();
        s.crash_at.store(crash_at, Ordering::SeqCst);
        Arc::new(s)
    }

    fn tick(&self) -> bool {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        n == self.crash_at.load(Ordering::SeqCst)
    }

    async fn die(&self, point: String) {
        *self.point.lock().unwrap() = Some(point);
        self.crashed.notify_one();
        std::future::pending::<()>().await;
    }

    pub fn point(&self) -> Option<String> {
        self.point.lock().unwrap().clone()
    }
}

#[derive(Debug)]
pub struct Crashing {
    pub inner: Arc<dyn CalendarProvider>,
    pub switch: Arc<CrashSwitch>,
}

impl Crashing {
    fn name(&self, call: &str) -> String {
        format!("{}.{call}", self.inner.side())
    }
}

impl CalendarProvider for Crashing {
    fn side(&self) -> Side {
        self.inner.side()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn list<'life0, 'life1, 'async_trait>(
        &'life0 self,
        window: &'life1 ListWindow,
    ) -> BoxFut<'async_trait, Result<Listing, ProviderError>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let crash = self.switch.tick();
            let r = self.inner.list(window).await;
            if crash {
                self.switch.die(self.name("list")).await;
            }
            r
        })
    }
    fn changes<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        cursor: &'life1 Cursor,
        window: &'life2 ListWindow,
    ) -> BoxFut<'async_trait, Result<Changes, ProviderError>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let crash = self.switch.tick();
            let r = self.inner.changes(cursor, window).await;
            if crash {
                self.switch.die(self.name("changes")).await;
            }
            r
        })
    }
    fn get<'life0, 'life1, 'async_trait>(
        &'life0 self,
        id: &'life1 ItemId,
    ) -> BoxFut<'async_trait, Result<Option<Event>, ProviderError>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let crash = self.switch.tick();
            let r = self.inner.get(id).await;
            if crash {
                self.switch.die(self.name("get")).await;
            }
            r
        })
    }
    fn get_many<'life0, 'life1, 'async_trait>(
        &'life0 self,
        ids: &'life1 [ItemId],
    ) -> BoxFut<'async_trait, Result<Vec<Option<Event>>, ProviderError>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let crash = self.switch.tick();
            let r = self.inner.get_many(ids).await;
            if crash {
                self.switch.die(self.name("get_many")).await;
            }
            r
        })
    }
    fn apply<'life0, 'async_trait>(
        &'life0 self,
        writes: Vec<Write>,
    ) -> BoxFut<'async_trait, Vec<Result<WriteResult, ProviderError>>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let crash = self.switch.tick();
            // The service applies the writes; the answer never arrives.
            let r = self.inner.apply(writes).await;
            if crash {
                self.switch.die(self.name("apply")).await;
            }
            r
        })
    }
    fn requests(&self) -> u64 {
        self.inner.requests()
    }
    fn quota(&self) -> Option<Quota> {
        self.inner.quota()
    }
}

#[derive(Debug)]
pub struct CrashingStore<S> {
    pub inner: S,
    pub switch: Arc<CrashSwitch>,
}

impl<S: StateStore> StateStore for CrashingStore<S> {
    fn load<'life0, 'async_trait>(
        &'life0 self,
    ) -> BoxFut<'async_trait, Result<SyncState, StoreError>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.load()
    }
    fn commit<'life0, 'life1, 'life2, 'async_trait>(
        &'life0 self,
        changes: &'life1 [StateChange],
        done_intents: &'life2 [String],
    ) -> BoxFut<'async_trait, Result<(), StoreError>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        'life2: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            if self.switch.tick() {
                // Dies before the transaction commits.
                self.switch.die("store.commit".into()).await;
            }
            self.inner.commit(changes, done_intents).await
        })
    }
    fn record_echoes<'life0, 'life1, 'async_trait>(
        &'life0 self,
        echoes: &'life1 [Echo],
    ) -> BoxFut<'async_trait, Result<(), StoreError>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            if self.switch.tick() {
                self.switch.die("store.record_echoes".into()).await;
            }
            self.inner.record_echoes(echoes).await
        })
    }
    fn record_intents<'life0, 'life1, 'async_trait>(
        &'life0 self,
        intents: &'life1 [CreateIntent],
    ) -> BoxFut<'async_trait, Result<(), StoreError>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            if self.switch.tick() {
                self.switch.die("store.record_intents".into()).await;
            }
            self.inner.record_intents(intents).await
        })
    }
    fn pending_intents<'life0, 'async_trait>(
        &'life0 self,
    ) -> BoxFut<'async_trait, Result<Vec<CreateIntent>, StoreError>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.pending_intents()
    }
    fn cursor<'life0, 'async_trait>(
        &'life0 self,
        side: Side,
    ) -> BoxFut<'async_trait, Result<Option<String>, StoreError>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.cursor(side)
    }
    fn set_cursor<'life0, 'life1, 'async_trait>(
        &'life0 self,
        side: Side,
        cursor: Option<&'life1 str>,
    ) -> BoxFut<'async_trait, Result<(), StoreError>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            if self.switch.tick() {
                self.switch.die("store.set_cursor".into()).await;
            }
            self.inner.set_cursor(side, cursor).await
        })
    }
    fn set_snapped<'life0, 'life1, 'async_trait>(
        &'life0 self,
        id: &'life1 ItemId,
        snapped: bool,
    ) -> BoxFut<'async_trait, Result<(), StoreError>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.set_snapped(id, snapped)
    }
    fn record_run<'life0, 'life1, 'async_trait>(
        &'life0 self,
        run: &'life1 RunRecord,
    ) -> BoxFut<'async_trait, Result<(), StoreError>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.record_run(run)
    }
    fn recent_runs<'life0, 'async_trait>(
        &'life0 self,
        limit: usize,
    ) -> BoxFut<'async_trait, Result<Vec<RunRecord>, StoreError>>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        self.inner.recent_runs(limit)
    }
}

// ---------------------------------------------------------------------------------------
// Reading the emulators.
// ---------------------------------------------------------------------------------------

/// One event as a side stores it, reduced to what the soak compares.
#[derive(Clone, PartialEq, Eq)]
pub struct Seen {
    pub key: u64,
    pub id: String,
    pub subject: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub location: String,
    /// The `note-…` token of the body, if any.
    pub note: String,
    /// `busy`, `free`, `oof` or what the side says.
    pub show_as: String,
    pub private: bool,
    pub what: Option<String>,
    /// The whole record as the emulator renders it.
    pub raw: String,
}

impl std::fmt::Debug for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The raw record is long: shown only where it is compared.
        write!(
            f,
            "[{} {:?} {}..{} loc {:?} {:?} {}{}{}]",
            self.id,
            self.subject,
            self.start,
            self.end,
            self.location,
            self.note,
            self.show_as,
            if self.private { " private" } else { "" },
            self.what
                .as_deref()
                .map(|w| format!(" what {w}"))
                .unwrap_or_default()
        )
    }
}

/// The soak's key of an event: subjects are `K<key> …`.
pub fn key_of(subject: &str) -> Option<u64> {
    let rest = subject.strip_prefix('K')?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn note_of(text: &str) -> String {
    text.find("note-")
        .map(|i| {
            text[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect()
        })
        .unwrap_or_default()
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str().unwrap_or("")
}

fn graph_time(v: &Value) -> DateTime<Utc> {
    assert_eq!(
        s(v, &["timeZone"]),
        "UTC",
        "graph emulator times are UTC: {v}"
    );
    let text = s(v, &["dateTime"]);
    NaiveDateTime::parse_from_str(&text[..19], "%Y-%m-%dT%H:%M:%S")
        .unwrap_or_else(|e| panic!("graph time {text}: {e}"))
        .and_utc()
}

fn sf_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .unwrap_or_else(|e| panic!("salesforce time {text}: {e}"))
        .with_timezone(&Utc)
}

/// Every event of one side, in the emulator's order.
pub fn read_side(world: &Emulated, side: Side) -> Vec<Seen> {
    match side {
        Side::Outlook => world
            .graph
            .events(OUTLOOK_USER, None)
            .into_iter()
            .map(|v| {
                let subject = s(&v, &["subject"]).to_owned();
                Seen {
                    key: key_of(&subject)
                        .unwrap_or_else(|| panic!("outlook event with no soak key: {v}")),
                    id: s(&v, &["id"]).to_owned(),
                    start: graph_time(&v["start"]),
                    end: graph_time(&v["end"]),
                    location: s(&v, &["location", "displayName"]).to_owned(),
                    note: note_of(s(&v, &["body", "content"])),
                    show_as: s(&v, &["showAs"]).to_lowercase(),
                    private: matches!(s(&v, &["sensitivity"]), "private" | "confidential"),
                    what: None,
                    raw: v.to_string(),
                    subject,
                }
            })
            .collect(),
        Side::Salesforce => world
            .salesforce
            .events()
            .into_iter()
            .map(|v| {
                let subject = s(&v, &["Subject"]).to_owned();
                let show_as = match s(&v, &["ShowAs"]) {
                    "OutOfOffice" => "oof".to_owned(),
                    other => other.to_lowercase(),
                };
                Seen {
                    key: key_of(&subject)
                        .unwrap_or_else(|| panic!("salesforce event with no soak key: {v}")),
                    id: s(&v, &["Id"]).to_owned(),
                    start: sf_time(s(&v, &["StartDateTime"])),
                    end: sf_time(s(&v, &["EndDateTime"])),
                    location: s(&v, &["Location"]).to_owned(),
                    note: note_of(s(&v, &["Description"])),
                    show_as,
                    private: v["IsPrivate"].as_bool().unwrap_or(false),
                    what: v["WhatId"].as_str().map(str::to_owned),
                    raw: v.to_string(),
                    subject,
                }
            })
            .collect(),
    }
}

/// Both sides, by side then key (a key held twice keeps every copy).
#[derive(Debug, Clone, Default)]
pub struct World {
    pub sides: [BTreeMap<u64, Vec<Seen>>; 2],
}

pub fn idx(side: Side) -> usize {
    match side {
        Side::Outlook => 0,
        Side::Salesforce => 1,
    }
}

pub fn read_world(world: &Emulated) -> World {
    let mut w = World::default();
    for side in [Side::Outlook, Side::Salesforce] {
        for e in read_side(world, side) {
            w.sides[idx(side)].entry(e.key).or_default().push(e);
        }
    }
    w
}

impl World {
    /// The one event with `key` on `side` (the first, if held twice: duplicates are
    /// reported separately).
    pub fn get(&self, side: Side, key: u64) -> Option<&Seen> {
        self.sides[idx(side)].get(&key).and_then(|v| v.first())
    }
    pub fn all(&self, side: Side) -> impl Iterator<Item = &Seen> {
        self.sides[idx(side)].values().flatten()
    }
}

/// The engine's clock: a manual "now" (the range slides as the soak decides), with real
/// sleeps, so a connector's own `Retry-After` gate (on the wall clock) is over when the
/// engine retries.
#[derive(Debug, Clone)]
pub struct SoakClock(pub calbridge::ManualClock);

impl calbridge::Clock for SoakClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
    fn sleep<'life0, 'async_trait>(
        &'life0 self,
        duration: std::time::Duration,
    ) -> BoxFut<'async_trait, ()>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            tokio::time::sleep(duration).await;
            self.0.advance(duration);
        })
    }
}
