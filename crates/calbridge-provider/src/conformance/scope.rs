//! The workspace of one behaviour: its unique subject prefix, the events it created (deleted
//! at the end, pass or fail), and calls that turn provider answers into suite errors.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};

use calbridge_model::{Event, EventTime, FieldValue, ItemId, VersionTag, normalize_text};

use super::{ConformanceError, Context};
use crate::{CalendarProvider, ListWindow, ProviderError, Write, WriteResult};

/// Numbers the scopes of this process, so that two runs with the same `now` stay apart.
static NEXT_SCOPE: AtomicU64 = AtomicU64::new(1);

/// One behaviour's run.
pub(super) struct Scope<'a> {
    pub(super) name: &'static str,
    pub(super) p: &'a dyn CalendarProvider,
    ctx: &'a Context,
    /// Starts every subject this scope creates.
    prefix: String,
    /// Starts every idempotency key (no spaces: keys may end up in URLs or external ids).
    key_base: String,
    keys: u64,
    created: Vec<ItemId>,
}

impl<'a> Scope<'a> {
    pub(super) fn new(name: &'static str, p: &'a dyn CalendarProvider, ctx: &'a Context) -> Self {
        let n = NEXT_SCOPE.fetch_add(1, Ordering::Relaxed);
        let run = format!(
            "{}-{}-{n}",
            ctx.now.format("%Y%m%dT%H%M%S"),
            std::process::id()
        );
        Self {
            name,
            p,
            ctx,
            prefix: format!("calbridge-conformance {run} {name}:"),
            key_base: format!("cbconf-{run}"),
            keys: 0,
            created: Vec::new(),
        }
    }

    // ----- building events -----

    /// A subject unique to this scope.
    pub(super) fn subject(&self, label: &str) -> String {
        format!("{} {label}", self.prefix)
    }

    /// A new event (no id) with a unique subject.
    pub(super) fn event(&self, label: &str, time: EventTime) -> Event {
        Event::new("", self.subject(label), time)
    }

    /// Whether an event was created by this scope.
    pub(super) fn ours(&self, event: &Event) -> bool {
        event.subject.starts_with(&self.prefix)
    }

    /// The date `days` after now.
    pub(super) fn day(&self, days: i64) -> NaiveDate {
        (self.ctx.now + Duration::days(days)).date_naive()
    }

    /// `days` after now, at `minutes` past midnight UTC.
    pub(super) fn at(&self, days: i64, minutes: i64) -> DateTime<Utc> {
        self.day(days).and_time(NaiveTime::MIN).and_utc() + Duration::minutes(minutes)
    }

    /// The window every behaviour lists.
    pub(super) fn window(&self) -> ListWindow {
        ListWindow {
            start: self.ctx.now - Duration::days(1),
            end: self.ctx.now + Duration::days(60),
        }
    }

    pub(super) fn next_key(&mut self) -> String {
        self.keys += 1;
        format!("{}-{}", self.key_base, self.keys)
    }

    // ----- errors -----

    pub(super) fn fail(&self, message: impl Into<String>) -> ConformanceError {
        ConformanceError {
            behaviour: self.name,
            message: message.into(),
            source: None,
        }
    }

    pub(super) fn failed_call(&self, what: &str, error: ProviderError) -> ConformanceError {
        ConformanceError {
            behaviour: self.name,
            message: format!("{what}: {error}"),
            source: Some(error),
        }
    }

    pub(super) fn ensure(
        &self,
        holds: bool,
        message: impl FnOnce() -> String,
    ) -> Result<(), ConformanceError> {
        if holds {
            Ok(())
        } else {
            Err(self.fail(message()))
        }
    }

    // ----- calls -----

    /// Creates events in batches of `max_batch`, each with a fresh idempotency key; returns
    /// them as stored, in order.
    pub(super) async fn create_all(
        &mut self,
        events: Vec<Event>,
    ) -> Result<Vec<Event>, ConformanceError> {
        let batch = self.p.capabilities().max_batch.max(1);
        let mut stored = Vec::with_capacity(events.len());
        let mut events = events.into_iter().peekable();
        while events.peek().is_some() {
            let writes: Vec<Write> = events
                .by_ref()
                .take(batch)
                .map(|event| Write::Create {
                    event,
                    idempotency_key: self.next_key(),
                })
                .collect();
            let sent = writes.len();
            let results = self.p.apply(writes).await;
            self.ensure(results.len() == sent, || {
                format!("apply of {sent} creates returned {} results", results.len())
            })?;
            for result in results {
                let event = self.expect_created(result)?;
                stored.push(event);
            }
        }
        Ok(stored)
    }

    /// Creates one event with a fresh key.
    pub(super) async fn create(&mut self, event: Event) -> Result<Event, ConformanceError> {
        let key = self.next_key();
        self.create_with_key(event, key).await
    }

    /// Creates one event with the given idempotency key.
    pub(super) async fn create_with_key(
        &mut self,
        event: Event,
        idempotency_key: String,
    ) -> Result<Event, ConformanceError> {
        let result = self
            .write(Write::Create {
                event,
                idempotency_key,
            })
            .await?;
        self.expect_created(result)
    }

    fn expect_created(
        &mut self,
        result: Result<WriteResult, ProviderError>,
    ) -> Result<Event, ConformanceError> {
        match result {
            Ok(WriteResult::Created(event)) => {
                if !self.created.contains(&event.id) {
                    self.created.push(event.id.clone());
                }
                Ok(event)
            }
            Ok(other) => Err(self.fail(format!("a create answered {other:?}"))),
            Err(error) => Err(self.failed_call("create", error)),
        }
    }

    /// Sends one write; the outer error is a protocol violation (not one result).
    pub(super) async fn write(
        &self,
        write: Write,
    ) -> Result<Result<WriteResult, ProviderError>, ConformanceError> {
        let mut results = self.p.apply(vec![write]).await;
        self.ensure(results.len() == 1, || {
            format!("apply of one write returned {} results", results.len())
        })?;
        results
            .pop()
            .ok_or_else(|| self.fail("apply returned no result"))
    }

    /// Updates an event and returns it as stored.
    pub(super) async fn update(
        &self,
        id: &ItemId,
        expected_version: Option<VersionTag>,
        changes: Vec<FieldValue>,
    ) -> Result<Event, ConformanceError> {
        let write = Write::Update {
            id: id.clone(),
            expected_version,
            changes,
        };
        match self.write(write).await? {
            Ok(WriteResult::Updated(event)) => Ok(event),
            Ok(other) => Err(self.fail(format!("an update answered {other:?}"))),
            Err(error) => Err(self.failed_call(&format!("update of {id}"), error)),
        }
    }

    /// Deletes an event and checks the answer is `Deleted`.
    pub(super) async fn delete(
        &self,
        id: &ItemId,
        expected_version: Option<VersionTag>,
    ) -> Result<(), ConformanceError> {
        let write = Write::Delete {
            id: id.clone(),
            expected_version,
        };
        match self.write(write).await? {
            Ok(WriteResult::Deleted) => Ok(()),
            Ok(other) => Err(self.fail(format!("a delete answered {other:?}"))),
            Err(error) => Err(self.failed_call(&format!("delete of {id}"), error)),
        }
    }

    /// Reads an event by id.
    pub(super) async fn get(&self, id: &ItemId) -> Result<Option<Event>, ConformanceError> {
        self.p
            .get(id)
            .await
            .map_err(|e| self.failed_call(&format!("get of {id}"), e))
    }

    /// Reads an event that must exist.
    pub(super) async fn get_some(&self, id: &ItemId) -> Result<Event, ConformanceError> {
        self.get(id)
            .await?
            .ok_or_else(|| self.fail(format!("get of {id} found nothing")))
    }

    /// Lists the window and keeps this scope's events.
    pub(super) async fn list_ours(&self) -> Result<Vec<Event>, ConformanceError> {
        let listing = self
            .p
            .list(&self.window())
            .await
            .map_err(|e| self.failed_call("list", e))?;
        Ok(listing
            .events
            .into_iter()
            .filter(|e| self.ours(e))
            .collect())
    }

    /// Deletes everything this scope created (already deleted is fine), then returns the
    /// behaviour's outcome, or the cleanup's failure when the behaviour passed.
    pub(super) async fn finish(
        self,
        outcome: Result<(), ConformanceError>,
    ) -> Result<(), ConformanceError> {
        let batch = self.p.capabilities().max_batch.max(1);
        let mut cleanup = Ok(());
        for ids in self.created.chunks(batch) {
            let writes = ids
                .iter()
                .map(|id| Write::Delete {
                    id: id.clone(),
                    expected_version: None,
                })
                .collect();
            let results = self.p.apply(writes).await;
            if results.len() != ids.len() && cleanup.is_ok() {
                cleanup = Err(self.fail(format!(
                    "cleanup: apply of {} deletes returned {} results",
                    ids.len(),
                    results.len()
                )));
            }
            for (id, result) in ids.iter().zip(results) {
                if let Err(error) = result {
                    tracing::warn!(behaviour = self.name, %id, %error, "cleanup delete failed");
                    if cleanup.is_ok() {
                        cleanup = Err(self.failed_call(&format!("cleanup delete of {id}"), error));
                    }
                }
            }
        }
        outcome.and(cleanup)
    }
}

/// Differences between what was written and what a provider returned, on the fields the
/// suite writes: subject, location, body text, show-as and times (instants or dates; the
/// zone is not compared, since Salesforce does not keep it).
pub(super) fn differences(expected: &Event, actual: &Event) -> Vec<String> {
    let mut diffs = Vec::new();
    if expected.subject != actual.subject {
        diffs.push(format!(
            "subject {:?} came back as {:?}",
            expected.subject, actual.subject
        ));
    }
    if expected.location != actual.location {
        diffs.push(format!(
            "location {:?} came back as {:?}",
            expected.location, actual.location
        ));
    }
    // Bodies compare as normalised text: Outlook turns a text body into HTML.
    let (want, got) = (
        normalize_text(expected.body.plain_text()),
        normalize_text(actual.body.plain_text()),
    );
    if want != got {
        diffs.push(format!("body text {want:?} came back as {got:?}"));
    }
    if expected.show_as != actual.show_as {
        diffs.push(format!(
            "show_as {:?} came back as {:?}",
            expected.show_as, actual.show_as
        ));
    }
    if !same_time(&expected.time, &actual.time) {
        diffs.push(format!(
            "time {:?} came back as {:?}",
            expected.time, actual.time
        ));
    }
    diffs
}

/// Same instants (timed) or same dates (all-day), zones aside.
pub(super) fn same_time(a: &EventTime, b: &EventTime) -> bool {
    match (a, b) {
        (
            EventTime::Timed { start, end, .. },
            EventTime::Timed {
                start: s2, end: e2, ..
            },
        ) => start == s2 && end == e2,
        (all_day @ EventTime::AllDay { .. }, other) => all_day == other,
        _ => false,
    }
}

/// Fails with every difference between what was written and what came back.
pub(super) fn check_same(
    s: &Scope<'_>,
    stage: &str,
    want: &Event,
    got: &Event,
) -> Result<(), ConformanceError> {
    let diffs = differences(want, got);
    s.ensure(diffs.is_empty(), || {
        format!("{stage} {}: {}", got.id, diffs.join("; "))
    })
}
