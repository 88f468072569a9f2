//! Deletions and the range's edges over in-memory calendars: deletions noticed by a full
//! listing, the mass-delete guard and what a confirmation covers, and pairs that were half out
//! of range while both sides edited them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use calbridge::core::SkipReason;
use calbridge::model::{EventTime, Side};
use calbridge::provider::{Fault, InMemoryProvider};
use calbridge::store::MemoryStore;
use calbridge::{ManualClock, SyncEngine, SyncOptions};
use support::*;

/// Soak seed 3: a deletion noticed only by a full listing (the side's cursor expired) while
/// the other side was read incrementally and did not mention the counterpart.
#[tokio::test]
async fn a_delete_seen_by_a_full_listing_reaches_the_side_read_incrementally() {
    for side in Side::BOTH {
        let (outlook, salesforce) = calendars();
        let engine = engine(&outlook, &salesforce, MemoryStore::new(), settings());
        engine.sync().await.unwrap();
        let (deleted_on, other) = match side {
            Side::Outlook => (&outlook, &salesforce),
            Side::Salesforce => (&salesforce, &outlook),
        };
        let gone = find(deleted_on, "Pricing call");
        deleted_on.user_delete(&gone.id);
        deleted_on.inject(Fault::ExpireCursors);

        let report = engine.sync().await.unwrap();
        let (listed, other_report) = match side {
            Side::Outlook => (&report.outlook, &report.salesforce),
            Side::Salesforce => (&report.salesforce, &report.outlook),
        };
        assert!(listed.full_listing, "{side}: {report}");
        assert_eq!(other_report.deleted, 1, "{side}: {report}");
        assert!(
            !other_report.skipped.contains_key(&SkipReason::Unconfirmed),
            "{side}: nothing left unconfirmed: {report}"
        );
        assert!(!other.events().iter().any(|e| e.subject == "Pricing call"));
        assert_eq!(assert_converged(&outlook, &salesforce), 4);
    }
}

#[tokio::test]
async fn the_delete_guard_holds_a_mass_delete_until_confirmed() {
    let outlook = InMemoryProvider::new(Side::Outlook);
    let salesforce = InMemoryProvider::new(Side::Salesforce);
    outlook.seed((0..20).map(|i| meeting(&format!("Meeting {i}"), 1 + i, 10)));
    let engine = engine(&outlook, &salesforce, MemoryStore::new(), settings());
    engine.sync().await.unwrap();
    for e in outlook.events().into_iter().take(15) {
        outlook.user_delete(&e.id);
    }
    let held = engine.sync().await.unwrap();
    assert_eq!(held.held.len(), 1, "{held}");
    assert_eq!(held.writes(), 0);
    assert_eq!(
        *held
            .salesforce
            .skipped
            .get(&SkipReason::DeleteGuard)
            .unwrap(),
        15
    );
    assert_eq!(salesforce.len(), 20, "nothing written");
    let confirmed = engine
        .sync_with(SyncOptions {
            confirm_deletes: true,
            ..SyncOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(confirmed.salesforce.deleted, 15);
    assert_eq!(salesforce.len(), 5);
}

/// Confirming a held run confirms the deletes it showed, not others that appear before the
/// confirmed run.
#[tokio::test]
async fn a_confirmation_covers_only_the_deletes_that_were_shown() {
    let outlook = InMemoryProvider::new(Side::Outlook);
    let salesforce = InMemoryProvider::new(Side::Salesforce);
    outlook.seed((0..40).map(|i| meeting(&format!("Meeting {i}"), 1 + i, 10)));
    let engine = engine(&outlook, &salesforce, MemoryStore::new(), settings());
    engine.sync().await.unwrap();
    let events = outlook.events();
    for e in &events[..15] {
        outlook.user_delete(&e.id);
    }
    let held = engine.sync().await.unwrap();
    assert_eq!(held.held.len(), 1, "{held}");
    let shown: Vec<_> = held.held[0].ids.clone();
    assert_eq!(shown.len(), 15);
    assert!(shown.iter().all(|id| salesforce.event(id).is_some()));

    // Before the user answers, 15 more disappear from Outlook.
    for e in &events[15..30] {
        outlook.user_delete(&e.id);
    }
    let confirmed = engine
        .sync_with(SyncOptions {
            confirmed_deletes: shown.clone(),
            ..SyncOptions::default()
        })
        .await
        .unwrap();
    assert_eq!(
        confirmed.held.len(),
        1,
        "the new deletes are held: {confirmed}"
    );
    assert_eq!(
        confirmed.writes(),
        0,
        "a held run writes nothing: {confirmed}"
    );
    let new = &confirmed.held[0].ids;
    assert_eq!(
        new.len(),
        15,
        "only the deletes not yet confirmed are shown"
    );
    assert!(new.iter().all(|id| !shown.contains(id)));
    assert_eq!(salesforce.len(), 40);

    let all: Vec<_> = shown.iter().chain(new).cloned().collect();
    let done = engine
        .sync_with(SyncOptions {
            confirmed_deletes: all,
            ..SyncOptions::default()
        })
        .await
        .unwrap();
    assert!(done.held.is_empty(), "{done}");
    assert_eq!(done.salesforce.deleted, 30, "{done}");
    assert_eq!(salesforce.len(), 10);
}

/// Soak seed 14: a pair half outside the range (Salesforce moved it past the range's end)
/// edited on both sides in the meantime; when the range reaches it, the clash on the same field
/// must be reported as a conflict, not settled silently.
#[tokio::test]
async fn edits_made_while_a_pair_was_half_out_of_range_conflict_when_it_returns() {
    let outlook = InMemoryProvider::new(Side::Outlook);
    let salesforce = InMemoryProvider::new(Side::Salesforce);
    outlook.seed([meeting("Far-off offsite", 360, 10)]);
    let clock = ManualClock::new(now());
    let engine = SyncEngine::builder(outlook.clone(), salesforce.clone(), MemoryStore::new())
        .settings(settings())
        .clock(clock.clone())
        .retry(fast_retry())
        .build()
        .unwrap();
    engine.sync().await.unwrap();
    let sf = find(&salesforce, "Far-off offsite");
    salesforce.user_edit(&sf.id, |e| {
        e.time = EventTime::timed(at(370, 10), at(370, 11));
    });
    for _ in 0..3 {
        clock.advance(std::time::Duration::from_secs(3 * 3600));
        engine.sync().await.unwrap();
    }
    let ol = find(&outlook, "Far-off offsite");
    outlook.user_edit(&ol.id, |e| e.location = "Outlook room".into());
    for _ in 0..3 {
        clock.advance(std::time::Duration::from_secs(3 * 3600));
        engine.sync().await.unwrap();
    }
    salesforce.user_edit(&sf.id, |e| e.location = "Salesforce room".into());
    for _ in 0..3 {
        clock.advance(std::time::Duration::from_secs(3 * 3600));
        engine.sync().await.unwrap();
    }
    assert_eq!(
        find(&salesforce, "Far-off offsite").location,
        "Salesforce room"
    );

    clock.advance(std::time::Duration::from_secs(12 * 86_400));
    let report = engine.sync().await.unwrap();
    let sf_now = find(&salesforce, "Far-off offsite");
    let ol_now = find(&outlook, "Far-off offsite");
    assert!(
        report
            .conflicts
            .iter()
            .any(|c| c.field == calbridge::model::Field::Location),
        "{report}"
    );
    assert_eq!(sf_now.location, ol_now.location, "{report}");
    assert_eq!(ol_now.time, sf_now.time, "the move travels: {report}");
}

/// A provider whose batched read answers one item short: the confirmation of a deletion must
/// fail the read rather than pair answers with the wrong ids.
#[derive(Debug)]
struct ShortReads(InMemoryProvider);

#[async_trait::async_trait]
impl calbridge::provider::CalendarProvider for ShortReads {
    fn side(&self) -> Side {
        self.0.side()
    }
    fn capabilities(&self) -> calbridge::provider::Capabilities {
        self.0.capabilities()
    }
    async fn list(
        &self,
        window: &calbridge::provider::ListWindow,
    ) -> Result<calbridge::provider::Listing, calbridge::provider::ProviderError> {
        self.0.list(window).await
    }
    async fn changes(
        &self,
        cursor: &calbridge::provider::Cursor,
        window: &calbridge::provider::ListWindow,
    ) -> Result<calbridge::provider::Changes, calbridge::provider::ProviderError> {
        self.0.changes(cursor, window).await
    }
    async fn get(
        &self,
        id: &calbridge::model::ItemId,
    ) -> Result<Option<calbridge::model::Event>, calbridge::provider::ProviderError> {
        self.0.get(id).await
    }
    async fn get_many(
        &self,
        ids: &[calbridge::model::ItemId],
    ) -> Result<Vec<Option<calbridge::model::Event>>, calbridge::provider::ProviderError> {
        let mut found = self.0.get_many(ids).await?;
        found.pop();
        Ok(found)
    }
    async fn apply(
        &self,
        writes: Vec<calbridge::provider::Write>,
    ) -> Vec<Result<calbridge::provider::WriteResult, calbridge::provider::ProviderError>> {
        self.0.apply(writes).await
    }
}

#[tokio::test]
async fn a_batched_read_answering_short_fails_the_run_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let (outlook, salesforce) = calendars();
    {
        let store = calbridge::store::SqliteStore::open(&path).unwrap();
        engine(&outlook, &salesforce, store, settings())
            .sync()
            .await
            .unwrap();
    }
    let gone = find(&outlook, "Pricing call");
    outlook.user_delete(&gone.id);
    outlook.inject(Fault::ExpireCursors);
    let store = calbridge::store::SqliteStore::open(&path).unwrap();
    let engine = SyncEngine::builder(ShortReads(outlook.clone()), salesforce.clone(), store)
        .settings(settings())
        .clock(ManualClock::new(now()))
        .retry(fast_retry())
        .build()
        .unwrap();
    let before = salesforce.len();
    let error = engine.sync().await.unwrap_err();
    assert!(format!("{error:?}").contains("by id"), "{error:?}");
    assert_eq!(
        salesforce.len(),
        before,
        "nothing deleted on a short answer"
    );
}
