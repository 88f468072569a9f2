//! Shared helpers for the engine's tests: realistic calendars, wrappers that crash or
//! interfere, and checks of the final state of both sides.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use calbridge::core::{Echo, StateChange, SyncSettings, SyncState};
use calbridge::model::{Event, EventTime, FieldHashes, ItemId, Side, pairing_key};
use calbridge::provider::{
    CalendarProvider, Capabilities, Changes, Cursor, InMemoryProvider, ListWindow, Listing,
    ProviderError, Write, WriteResult,
};
use calbridge::store::{CreateIntent, RunRecord, StateStore, StoreError};
use calbridge::{ManualClock, RetryPolicy, SyncEngine};
use chrono::{DateTime, Duration, TimeZone, Utc};
use tokio::sync::Notify;

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()
}

pub fn at(days: i64, hour: u32) -> DateTime<Utc> {
    let d = now().date_naive() + Duration::days(days);
    Utc.from_utc_datetime(&d.and_hms_opt(hour, 0, 0).unwrap())
}

/// The first event with this subject.
pub fn find(p: &InMemoryProvider, subject: &str) -> Event {
    p.events()
        .into_iter()
        .find(|e| e.subject == subject)
        .unwrap_or_else(|| panic!("no {subject:?} in {}", p.side()))
}

pub fn meeting(subject: &str, days: i64, hour: u32) -> Event {
    Event::new(
        "",
        subject,
        EventTime::timed(at(days, hour), at(days, hour) + Duration::hours(1)),
    )
}

/// Four Outlook meetings and two Salesforce ones, one of them on both sides.
pub fn calendars() -> (InMemoryProvider, InMemoryProvider) {
    let outlook = InMemoryProvider::new(Side::Outlook);
    let salesforce = InMemoryProvider::new(Side::Salesforce);
    outlook.seed([
        meeting("Pricing call", 1, 10),
        meeting("Pipeline review", 2, 14),
        meeting("Quarterly business review", 3, 16),
        meeting("Acme kick-off", 4, 9),
    ]);
    salesforce.seed([
        meeting("Quarterly business review", 3, 16),
        meeting("Globex CFO call", 1, 18),
    ]);
    (outlook, salesforce)
}

/// Retries fast: tests run on a manual clock anyway.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: std::time::Duration::from_millis(10),
        max_backoff: std::time::Duration::from_millis(100),
        max_total: std::time::Duration::from_secs(600),
    }
}

pub fn settings() -> SyncSettings {
    SyncSettings {
        time_zone: Some(chrono_tz::UTC),
        ..SyncSettings::default()
    }
}

pub fn engine(
    outlook: &InMemoryProvider,
    salesforce: &InMemoryProvider,
    store: impl StateStore + 'static,
    settings: SyncSettings,
) -> SyncEngine {
    SyncEngine::builder(outlook.clone(), salesforce.clone(), store)
        .settings(settings)
        .clock(ManualClock::new(now()))
        .retry(fast_retry())
        .build()
        .unwrap()
}

/// Asserts both sides hold the same synced content for every event in range, each event
/// once, and returns the number of events per side.
pub fn assert_converged(outlook: &InMemoryProvider, salesforce: &InMemoryProvider) -> usize {
    let contents = |p: &InMemoryProvider| {
        let mut v: Vec<FieldHashes> = p
            .events()
            .iter()
            .filter(|e| !e.is_private())
            .map(FieldHashes::of)
            .collect();
        v.sort_by_key(FieldHashes::combined);
        v
    };
    let (o, s) = (contents(outlook), contents(salesforce));
    assert_eq!(
        o.len(),
        s.len(),
        "different counts: outlook {:#?}\nsalesforce {:#?}",
        outlook.events(),
        salesforce.events()
    );
    assert_eq!(
        o,
        s,
        "different content: outlook {:#?}\nsalesforce {:#?}",
        outlook.events(),
        salesforce.events()
    );
    assert_no_duplicates(outlook);
    assert_no_duplicates(salesforce);
    o.len()
}

pub fn assert_no_duplicates(p: &InMemoryProvider) {
    let mut seen = HashMap::new();
    for e in p.events() {
        if let Some(first) = seen.insert(pairing_key(&e), e.id.clone()) {
            panic!(
                "{} holds {:?} twice ({} and {})",
                p.side(),
                e.subject,
                first,
                e.id
            );
        }
    }
}

/// Counts calls across wrapped providers and stores; at call `crash_at` it does the work
/// (a provider call) or not (a store commit), then never returns — as if the process died.
#[derive(Debug, Default)]
pub struct CrashSwitch {
    pub calls: AtomicU64,
    pub crash_at: AtomicU64,
    pub crashed: Notify,
}

impl CrashSwitch {
    pub fn new(crash_at: u64) -> Arc<Self> {
        let s = Self::default();
        s.crash_at.store(crash_at, Ordering::SeqCst);
        Arc::new(s)
    }

    /// Whether this call is the one that crashes.
    fn tick(&self) -> bool {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        n == self.crash_at.load(Ordering::SeqCst)
    }

    async fn die(&self) -> ! {
        self.crashed.notify_one();
        std::future::pending::<()>().await;
        unreachable!()
    }
}

#[derive(Debug)]
pub struct CrashingProvider {
    pub inner: InMemoryProvider,
    pub switch: Arc<CrashSwitch>,
}

#[async_trait]
impl CalendarProvider for CrashingProvider {
    fn side(&self) -> Side {
        self.inner.side()
    }
    fn capabilities(&self) -> Capabilities {
        let mut c = self.inner.capabilities();
        c.max_batch = 2; // small batches: more crash points between writes
        c
    }
    async fn list(&self, window: &ListWindow) -> Result<Listing, ProviderError> {
        let crash = self.switch.tick();
        let r = self.inner.list(window).await;
        if crash {
            self.switch.die().await;
        }
        r
    }
    async fn changes(
        &self,
        cursor: &Cursor,
        window: &ListWindow,
    ) -> Result<Changes, ProviderError> {
        let crash = self.switch.tick();
        let r = self.inner.changes(cursor, window).await;
        if crash {
            self.switch.die().await;
        }
        r
    }
    async fn get(&self, id: &ItemId) -> Result<Option<Event>, ProviderError> {
        let crash = self.switch.tick();
        let r = self.inner.get(id).await;
        if crash {
            self.switch.die().await;
        }
        r
    }
    async fn get_many(&self, ids: &[ItemId]) -> Result<Vec<Option<Event>>, ProviderError> {
        let crash = self.switch.tick();
        let r = self.inner.get_many(ids).await;
        if crash {
            self.switch.die().await;
        }
        r
    }
    async fn apply(&self, writes: Vec<Write>) -> Vec<Result<WriteResult, ProviderError>> {
        let crash = self.switch.tick();
        // The service applies the writes; the answer never arrives.
        let r = self.inner.apply(writes).await;
        if crash {
            self.switch.die().await;
        }
        r
    }
}

#[derive(Debug)]
pub struct CrashingStore<S> {
    pub inner: S,
    pub switch: Arc<CrashSwitch>,
}

#[async_trait]
impl<S: StateStore> StateStore for CrashingStore<S> {
    async fn load(&self) -> Result<SyncState, StoreError> {
        self.inner.load().await
    }
    async fn commit(&self, changes: &[StateChange], done: &[String]) -> Result<(), StoreError> {
        if self.switch.tick() {
            // Dies before the transaction commits.
            self.switch.die().await;
        }
        self.inner.commit(changes, done).await
    }
    async fn record_echoes(&self, echoes: &[Echo]) -> Result<(), StoreError> {
        if self.switch.tick() {
            self.switch.die().await;
        }
        self.inner.record_echoes(echoes).await
    }
    async fn record_intents(&self, intents: &[CreateIntent]) -> Result<(), StoreError> {
        if self.switch.tick() {
            self.switch.die().await;
        }
        self.inner.record_intents(intents).await
    }
    async fn pending_intents(&self) -> Result<Vec<CreateIntent>, StoreError> {
        self.inner.pending_intents().await
    }
    async fn cursor(&self, side: Side) -> Result<Option<String>, StoreError> {
        self.inner.cursor(side).await
    }
    async fn set_cursor(&self, side: Side, cursor: Option<&str>) -> Result<(), StoreError> {
        if self.switch.tick() {
            self.switch.die().await;
        }
        self.inner.set_cursor(side, cursor).await
    }
    async fn set_snapped(&self, id: &ItemId, snapped: bool) -> Result<(), StoreError> {
        self.inner.set_snapped(id, snapped).await
    }
    async fn record_run(&self, run: &RunRecord) -> Result<(), StoreError> {
        self.inner.record_run(run).await
    }
    async fn recent_runs(&self, limit: usize) -> Result<Vec<RunRecord>, StoreError> {
        self.inner.recent_runs(limit).await
    }
}
