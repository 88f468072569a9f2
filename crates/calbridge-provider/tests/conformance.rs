//! The conformance suite against the in-memory provider, on both sides.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use calbridge_model::{Event, EventTime, ItemId, Sensitivity, Side};
use calbridge_provider::conformance::{self, Context};
use calbridge_provider::{
    CalendarProvider, Capabilities, Changes, Cursor, InMemoryProvider, ListWindow, Listing,
    ProviderError, Write, WriteResult,
};
use chrono::{Duration, Offset, TimeZone, Utc};

fn ctx() -> Context {
    Context::new(Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap())
}

/// Someone else's events in the calendar: the suite must neither see nor touch them.
fn with_foreign_events(provider: &InMemoryProvider) -> Vec<Event> {
    let start = ctx().now + Duration::days(10);
    provider.seed((0..5).map(|i| {
        Event::new(
            "",
            format!("foreign {i}"),
            EventTime::timed(start, start + Duration::hours(1)),
        )
    }));
    provider.events()
}

async fn passes(provider: InMemoryProvider) {
    let before = with_foreign_events(&provider);
    let result = conformance::run_all(&provider, &ctx()).await;
    assert!(result.is_ok(), "{}", result.unwrap_err());
    // Everything the suite created was deleted; the foreign events are untouched.
    assert_eq!(provider.events(), before);
}

#[tokio::test]
async fn in_memory_outlook_passes_the_suite() {
    passes(InMemoryProvider::new(Side::Outlook).with_page_size(100)).await;
}

#[tokio::test]
async fn in_memory_salesforce_passes_the_suite() {
    passes(InMemoryProvider::new(Side::Salesforce).with_page_size(100)).await;
}

#[tokio::test]
async fn small_batches_and_pages_pass_the_suite() {
    let provider = InMemoryProvider::new(Side::Outlook)
        .with_max_batch(20)
        .with_page_size(7);
    passes(provider).await;
}

#[tokio::test]
async fn every_behaviour_reports_under_its_name() {
    let provider = InMemoryProvider::new(Side::Salesforce);
    let outcomes = conformance::run_each(&provider, &ctx()).await;
    let names: Vec<&str> = outcomes.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, conformance::BEHAVIOURS);
    assert!(outcomes.iter().all(|(_, outcome)| outcome.is_ok()));
    assert!(provider.is_empty());
}

#[tokio::test]
async fn listing_reads_several_pages() {
    let provider = InMemoryProvider::new(Side::Outlook).with_page_size(100);
    provider.reset_requests();
    conformance::listing_covers_every_page(&provider, &ctx())
        .await
        .unwrap();
    // 250 creates and 250 deletes in chunks of 100 (3 + 3) and one listing of 3 pages.
    assert_eq!(provider.requests(), 9);
}

/// Classic provider bugs, each of which one behaviour of the suite must catch.
#[derive(Debug, Clone, Copy)]
enum Flaw {
    IgnoresVersions,
    LosesLastPage,
    ReadsLocalTimeAsUtc,
    ForgetsPrivate,
    ForgetsDeletions,
    IgnoresKeys,
}

#[derive(Debug)]
struct Broken {
    inner: InMemoryProvider,
    flaw: Flaw,
    keys: AtomicU64,
}

#[async_trait]
impl CalendarProvider for Broken {
    fn side(&self) -> Side {
        self.inner.side()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn list(&self, window: &ListWindow) -> Result<Listing, ProviderError> {
        let mut listing = self.inner.list(window).await?;
        if let Flaw::LosesLastPage = self.flaw {
            listing.events.truncate(200);
        }
        Ok(listing)
    }

    async fn changes(
        &self,
        cursor: &Cursor,
        window: &ListWindow,
    ) -> Result<Changes, ProviderError> {
        let mut changes = self.inner.changes(cursor, window).await?;
        if let Flaw::ForgetsDeletions = self.flaw {
            changes.removed.clear();
        }
        Ok(changes)
    }

    async fn get(&self, id: &ItemId) -> Result<Option<Event>, ProviderError> {
        self.inner.get(id).await
    }

    async fn apply(&self, writes: Vec<Write>) -> Vec<Result<WriteResult, ProviderError>> {
        let writes = writes.into_iter().map(|write| self.spoil(write)).collect();
        self.inner.apply(writes).await
    }
}

impl Broken {
    fn spoil(&self, write: Write) -> Write {
        match (self.flaw, write) {
            (Flaw::IgnoresVersions, Write::Update { id, changes, .. }) => Write::Update {
                id,
                expected_version: None,
                changes,
            },
            (
                Flaw::ReadsLocalTimeAsUtc,
                Write::Create {
                    mut event,
                    idempotency_key,
                },
            ) => {
                if let EventTime::Timed {
                    start,
                    end,
                    zone: Some(zone),
                } = event.time
                {
                    let offset = zone.offset_from_utc_datetime(&start.naive_utc()).fix();
                    let shift = Duration::seconds(i64::from(offset.local_minus_utc()));
                    event.time = EventTime::timed(start + shift, end + shift);
                }
                Write::Create {
                    event,
                    idempotency_key,
                }
            }
            (
                Flaw::ForgetsPrivate,
                Write::Create {
                    mut event,
                    idempotency_key,
                },
            ) => {
                event.sensitivity = Sensitivity::Normal;
                Write::Create {
                    event,
                    idempotency_key,
                }
            }
            (Flaw::IgnoresKeys, Write::Create { event, .. }) => Write::Create {
                event,
                idempotency_key: format!("unique-{}", self.keys.fetch_add(1, Ordering::Relaxed)),
            },
            (_, write) => write,
        }
    }
}

#[tokio::test]
async fn the_suite_catches_broken_providers_and_still_cleans_up() {
    let cases = [
        (Flaw::IgnoresVersions, "stale_version_is_refused"),
        (Flaw::LosesLastPage, "listing_covers_every_page"),
        (Flaw::ReadsLocalTimeAsUtc, "timed_zones_round_trip"),
        (Flaw::ForgetsPrivate, "private_flag_round_trips"),
        (Flaw::ForgetsDeletions, "changes_report_edits_and_deletions"),
        (Flaw::IgnoresKeys, "idempotent_create"),
    ];
    for (flaw, behaviour) in cases {
        let inner = InMemoryProvider::new(Side::Outlook);
        let broken = Broken {
            inner: inner.clone(),
            flaw,
            keys: AtomicU64::new(0),
        };
        let outcomes = conformance::run_each(&broken, &ctx()).await;
        let failed: Vec<&str> = outcomes
            .iter()
            .filter(|(_, outcome)| outcome.is_err())
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(failed, [behaviour], "{flaw:?}");
        let error = conformance::run_all(&broken, &ctx()).await.unwrap_err();
        assert_eq!(error.behaviour, behaviour);
        assert!(error.to_string().contains(behaviour), "{error}");
        assert!(inner.is_empty(), "{flaw:?} left {} events", inner.len());
    }
}
