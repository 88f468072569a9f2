//! [`SalesforceProvider`]: one Salesforce user's `Event` records as a
//! [`CalendarProvider`].
//!
//! Reading: one SOQL query over the window for the owner (series masters excluded), every
//! page followed. Incremental reading: a `SystemModstamp` watermark. The next read asks
//! `queryAll` for rows modified since the watermark minus an overlap (late commits), which
//! returns edits and deletions (`IsDeleted = true`) in one request; rows already reported
//! at the same modstamp inside the overlap are remembered in the cursor and not reported
//! twice. Deletions stay visible for 15 days (the Recycle Bin), so an older watermark is
//! [`ProviderError::CursorExpired`].

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use reqwest::Method;
use serde_json::{Map, Value};
use tokio::sync::OnceCell;

use calbridge_core::BrokenItem;
use calbridge_model::{Event, EventTime, ItemId, SalesforceId, Side};
use calbridge_provider::{
    CalendarProvider, Capabilities, Changes, Cursor, ListWindow, Listing, ProviderError, Write,
    WriteResult,
};

use crate::client::{Api, Target};
use crate::config::SalesforceProviderBuilder;
use crate::fetcher::SalesforceTokenFetcher;
use crate::mapping::{BrokenRecord, Mapping, Row};
use crate::soql::{Literal, Op, Select};
use crate::wire::{ApiUsage, UserInfo, parse_datetime};

mod by_id;

pub use by_id::MAX_IDS_PER_QUERY;

/// How long Salesforce keeps deleted records visible to `queryAll` and getDeleted (the
/// Recycle Bin's 15 days): a watermark older than this may have missed deletions.
pub const DELETED_RETENTION: Duration = Duration::from_secs(15 * 24 * 60 * 60);

/// The text every cursor starts with (its format's version).
const CURSOR_PREFIX: &str = "sf1:";

/// A Salesforce user's calendar: the `Event` records one owner holds.
#[derive(Debug)]
pub struct SalesforceProvider {
    pub(crate) api: Api,
    pub(crate) mapping: Mapping,
    owner: OnceCell<SalesforceId>,
    identity: Option<Arc<SalesforceTokenFetcher>>,
    pub(crate) batch_size: usize,
    overlap: Duration,
}

/// An incremental position: the server's clock at the last read, and the rows seen inside
/// the overlap before it, with their modstamps (epoch milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Watermark {
    pub(crate) at: DateTime<Utc>,
    pub(crate) seen: BTreeMap<String, i64>,
}

impl Watermark {
    fn encode(&self) -> Cursor {
        let seen: Vec<String> = self
            .seen
            .iter()
            .map(|(id, ms)| format!("{id}@{ms}"))
            .collect();
        Cursor(format!(
            "{CURSOR_PREFIX}{}:{}",
            self.at.timestamp_millis(),
            seen.join(",")
        ))
    }

    fn decode(cursor: &Cursor) -> Option<Self> {
        let rest = cursor.0.strip_prefix(CURSOR_PREFIX)?;
        let (at, seen) = rest.split_once(':')?;
        let at = DateTime::from_timestamp_millis(at.parse().ok()?)?;
        let mut out = BTreeMap::new();
        for entry in seen.split(',').filter(|e| !e.is_empty()) {
            let (id, ms) = entry.split_once('@')?;
            out.insert(id.to_owned(), ms.parse().ok()?);
        }
        Some(Self { at, seen: out })
    }

    /// Remembers a row when it is inside the overlap before the watermark.
    fn note(&mut self, id: &str, stamp: Option<DateTime<Utc>>, overlap: TimeDelta) {
        if let Some(stamp) = stamp
            && stamp > self.at - overlap
        {
            self.seen.insert(id.to_owned(), stamp.timestamp_millis());
        }
    }
}

fn modstamp(record: &Map<String, Value>) -> Option<DateTime<Utc>> {
    record
        .get("SystemModstamp")
        .and_then(Value::as_str)
        .and_then(|s| parse_datetime("SystemModstamp", s).ok())
}

fn broken(b: BrokenRecord) -> BrokenItem {
    BrokenItem {
        id: b.id,
        error: Some(b.error),
    }
}

/// Whether an event falls in a listing window widened as the query widens it (all-day
/// events sit at UTC midnight whatever the user's zone).
fn in_window(time: &EventTime, window: &ListWindow) -> bool {
    let (start, end) = widened(window);
    match time {
        EventTime::Timed {
            start: s, end: e, ..
        } => *s < end && *e >= start,
        EventTime::AllDay { start: s, end: e } => {
            s.and_time(chrono::NaiveTime::MIN).and_utc() < end
                && e.and_time(chrono::NaiveTime::MIN).and_utc() >= start
        }
    }
}

/// The instants the window query asks for: a day more after the end and two before the
/// start, so that all-day events (stored at UTC midnight with an inclusive end date) of any
/// zone are included. The planner filters exactly.
fn widened(window: &ListWindow) -> (DateTime<Utc>, DateTime<Utc>) {
    (
        window.start - TimeDelta::days(2),
        window.end + TimeDelta::days(1),
    )
}

impl SalesforceProvider {
    /// A builder.
    #[must_use]
    pub fn builder() -> SalesforceProviderBuilder {
        SalesforceProviderBuilder::default()
    }

    pub(crate) fn new(
        api: Api,
        mapping: Mapping,
        owner: Option<SalesforceId>,
        identity: Option<Arc<SalesforceTokenFetcher>>,
        batch_size: usize,
        overlap: Duration,
    ) -> Self {
        Self {
            api,
            mapping,
            owner: OnceCell::new_with(owner),
            identity,
            batch_size,
            overlap,
        }
    }

    /// The latest `api-usage` Salesforce reported (`Sforce-Limit-Info`), if any yet.
    #[must_use]
    pub fn api_usage(&self) -> Option<ApiUsage> {
        self.api.usage()
    }

    /// The record mapping in use.
    #[must_use]
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// The owner whose events sync: as configured, or the signed-in user — named by the
    /// token answer's identity URL when the provider's own grant fetched the token, else
    /// asked once from `/services/oauth2/userinfo`.
    ///
    /// # Errors
    /// The request's error, or [`ProviderError::Permanent`] when the answer has no valid
    /// user id.
    pub async fn owner(&self) -> Result<SalesforceId, ProviderError> {
        self.owner
            .get_or_try_init(|| async {
                if let Some(fetcher) = &self.identity {
                    // A token fetched now (not one from a cache) names its user.
                    self.api.ensure_token().await?;
                    if let Some(user) = fetcher.user_id() {
                        tracing::debug!(owner = %user, "calendar owner is the signed-in user");
                        return Ok(user);
                    }
                }
                let answer = self
                    .api
                    .call(
                        Method::GET,
                        Target::Root("services/oauth2/userinfo"),
                        &[],
                        None,
                        None,
                    )
                    .await
                    .map_err(|f| f.error)?;
                let info: UserInfo = Api::parse(&answer)?;
                let id = SalesforceId::parse_field("user_id", &info.user_id)
                    .map_err(|e| ProviderError::permanent(format!("userinfo: {e}")))?;
                tracing::debug!(owner = %id, "calendar owner is the signed-in user");
                Ok(id)
            })
            .await
            .cloned()
    }

    fn overlap(&self) -> TimeDelta {
        TimeDelta::from_std(self.overlap).unwrap_or(TimeDelta::minutes(5))
    }

    fn query_error(e: crate::soql::BadName) -> ProviderError {
        ProviderError::permanent(format!("could not build a query: {e}"))
    }

    /// Runs `SELECT <mapped fields> … WHERE Id IN (ids)` in as few queries as the URL length
    /// allows, returning the rows by id.
    pub(crate) async fn read_ids(
        &self,
        ids: &[SalesforceId],
    ) -> Result<BTreeMap<String, Map<String, Value>>, ProviderError> {
        let mut rows = BTreeMap::new();
        // 200 ids keep the URL far below Salesforce's 16,384-byte limit.
        for chunk in ids.chunks(200) {
            let soql = Select::new(self.mapping.select_fields())
                .and_then(|s| s.filter_in("Id", chunk))
                .map_err(Self::query_error)?
                .build();
            let (records, _) = self.api.query(&soql, false).await?;
            for record in records {
                if let Some(id) = record.get("Id").and_then(Value::as_str) {
                    rows.insert(id.to_owned(), record);
                }
            }
        }
        Ok(rows)
    }
}

#[async_trait]
impl CalendarProvider for SalesforceProvider {
    fn side(&self) -> Side {
        Side::Salesforce
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_batch: self.batch_size,
            incremental: true,
            idempotent_creates: self.mapping.external_id_field().is_some(),
        }
    }

    async fn list(&self, window: &ListWindow) -> Result<Listing, ProviderError> {
        let owner = self.owner().await?;
        let (from, to) = widened(window);
        let soql = Select::new(self.mapping.select_fields())
            .and_then(|s| s.filter("OwnerId", Op::Eq, Literal::Id(&owner)))
            .and_then(|s| s.filter("IsRecurrence", Op::Eq, Literal::Bool(false)))
            .and_then(|s| s.filter("StartDateTime", Op::Lt, Literal::DateTime(to)))
            .and_then(|s| s.filter("EndDateTime", Op::Ge, Literal::DateTime(from)))
            .and_then(|s| s.order_by("StartDateTime"))
            .and_then(|s| s.order_by("Id"))
            .map_err(Self::query_error)?
            .build();
        let (records, date) = self.api.query(&soql, false).await?;
        let mut mark = Watermark {
            at: date.unwrap_or_else(Utc::now),
            seen: BTreeMap::new(),
        };
        let mut listing = Listing::default();
        let mut ids = HashSet::new();
        for record in &records {
            match self.mapping.read(record) {
                Ok(Row::Event(event)) => {
                    mark.note(event.id.as_str(), modstamp(record), self.overlap());
                    // Pages are snapshots of one cursor, but a repeat must not list twice.
                    if ids.insert(event.id.clone()) {
                        listing.events.push(*event);
                    }
                }
                Ok(Row::SeriesMaster(_) | Row::Deleted(_)) => {}
                Err(b) => {
                    tracing::warn!(id = %b.id, error = %b.error, "a Salesforce event does not map");
                    listing.broken.push(broken(b));
                }
            }
        }
        tracing::debug!(
            events = listing.events.len(),
            broken = listing.broken.len(),
            requests = self.api.requests(),
            "listed Salesforce events"
        );
        listing.cursor = Some(mark.encode());
        Ok(listing)
    }

    async fn changes(
        &self,
        cursor: &Cursor,
        window: &ListWindow,
    ) -> Result<Changes, ProviderError> {
        let Some(mark) = Watermark::decode(cursor) else {
            tracing::debug!(?cursor, "unreadable cursor: listing again");
            return Err(ProviderError::CursorExpired);
        };
        let retention = TimeDelta::from_std(DELETED_RETENTION).unwrap_or(TimeDelta::days(15));
        if Utc::now() - mark.at > retention {
            tracing::info!(watermark = %mark.at, "the watermark is older than Salesforce keeps deletions");
            return Err(ProviderError::CursorExpired);
        }
        let owner = self.owner().await?;
        let since = mark.at - self.overlap();
        let mut fields = self.mapping.select_fields();
        fields.push("IsDeleted".into());
        let soql = Select::new(fields)
            .and_then(|s| s.filter("OwnerId", Op::Eq, Literal::Id(&owner)))
            .and_then(|s| s.filter("IsRecurrence", Op::Eq, Literal::Bool(false)))
            .and_then(|s| s.filter("SystemModstamp", Op::Gt, Literal::DateTime(since)))
            .and_then(|s| s.order_by("SystemModstamp"))
            .and_then(|s| s.order_by("Id"))
            .map_err(Self::query_error)?
            .build();
        let (records, date) = self.api.query(&soql, true).await?;
        let mut next = Watermark {
            at: date.map_or(mark.at, |d| d.max(mark.at)),
            seen: BTreeMap::new(),
        };
        let mut changes = Changes::default();
        for record in &records {
            let stamp = modstamp(record);
            let id = record.get("Id").and_then(Value::as_str).unwrap_or_default();
            next.note(id, stamp, self.overlap());
            if stamp.is_some_and(|s| mark.seen.get(id) == Some(&s.timestamp_millis())) {
                // Reported by the previous read at this very version.
                continue;
            }
            match self.mapping.read(record) {
                Ok(Row::Event(event)) if in_window(&event.time, window) => {
                    changes.events.push(*event)
                }
                // Edited but outside the window: not synced (and never a deletion).
                Ok(Row::Event(_) | Row::SeriesMaster(_)) => {}
                Ok(Row::Deleted(id)) => changes.removed.push(id),
                Err(b) => changes.broken.push(broken(b)),
            }
        }
        tracing::debug!(
            events = changes.events.len(),
            removed = changes.removed.len(),
            "read Salesforce changes"
        );
        changes.cursor = next.encode();
        Ok(changes)
    }

    async fn get(&self, id: &ItemId) -> Result<Option<Event>, ProviderError> {
        self.get_one(id).await
    }

    /// One query per [`MAX_IDS_PER_QUERY`] distinct ids.
    async fn get_many(&self, ids: &[ItemId]) -> Result<Vec<Option<Event>>, ProviderError> {
        self.get_by_ids(ids).await
    }

    async fn apply(&self, writes: Vec<Write>) -> Vec<Result<WriteResult, ProviderError>> {
        self.apply_writes(writes).await
    }

    fn requests(&self) -> u64 {
        self.api.requests()
    }

    fn quota(&self) -> Option<calbridge_provider::Quota> {
        self.api_usage().map(|u| calbridge_provider::Quota {
            used: u.used,
            limit: u.max,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let at = "2026-03-01T10:00:00.123Z".parse().unwrap();
        let mut mark = Watermark {
            at,
            seen: BTreeMap::new(),
        };
        let overlap = TimeDelta::minutes(5);
        mark.note(
            "00U000000000001AAA",
            Some(at - TimeDelta::minutes(1)),
            overlap,
        );
        mark.note(
            "00U000000000002AAA",
            Some(at - TimeDelta::minutes(6)),
            overlap,
        );
        mark.note("00U000000000003AAA", None, overlap);
        assert_eq!(mark.seen.len(), 1);
        let cursor = mark.encode();
        assert_eq!(Watermark::decode(&cursor), Some(mark));
        for bad in ["", "seq:4", "sf1:x:", "sf1:1:id", "sf1:1:id@x"] {
            assert_eq!(Watermark::decode(&Cursor(bad.into())), None, "{bad}");
        }
        assert!(Watermark::decode(&Cursor("sf1:0:".into())).is_some());
    }

    #[test]
    fn windows_widen_for_all_day_events() {
        let window = ListWindow {
            start: "2026-03-05T08:00:00Z".parse().unwrap(),
            end: "2026-03-06T08:00:00Z".parse().unwrap(),
        };
        let d = |s: &str| s.parse().unwrap();
        assert!(in_window(
            &EventTime::all_day(d("2026-03-05"), d("2026-03-06")),
            &window
        ));
        assert!(in_window(
            &EventTime::all_day(d("2026-03-06"), d("2026-03-07")),
            &window
        ));
        assert!(!in_window(
            &EventTime::all_day(d("2026-03-09"), d("2026-03-10")),
            &window
        ));
    }
}
