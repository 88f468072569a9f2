//! Reading the calendar: listings, incremental changes, single events.
//!
//! A listing first opens a delta round (its baseline precedes the listing, so an edit made
//! while listing shows up again in the next changes instead of being lost), then reads
//! `calendarView` with calbridge's extended property expanded, following `@odata.nextLink`
//! exactly. Changes follow the stored delta link; the items it reports are read again by id
//! in `$batch`es (delta returns bare occurrences and no extended properties); a changed
//! series master makes the cursor expire, so the window is listed again.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use calbridge_core::BrokenItem;
use calbridge_model::{Event, ItemId};
use calbridge_provider::{Changes, Cursor, ListWindow, Listing, ProviderError};

use crate::client::{Call, PREFER_EVENTS, item_error, query};
use crate::mapping::{GraphItem, MappedPage, map_item, map_page};
use crate::property::expand_clause;
use crate::provider::{Inner, MAX_PAGES, Paths, broken_error, invalid, parse_json, too_many_pages};
use crate::wire::{BatchRequest, EVENT_SELECT};

/// The cursor's content: the newest delta link of each part of the window, and the window
/// they were opened for (a delta link cannot be re-windowed; another window needs a new
/// round).
#[derive(Debug, Serialize, Deserialize)]
struct CursorData {
    deltas: Vec<String>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// The longest window `calendarView` takes is 1825 days (and a span with leap days counts
/// them); longer windows are read in parts of 1820 days.
const MAX_VIEW_DAYS: i64 = 1820;

/// `window` cut into parts `calendarView` accepts (one part for usual windows).
fn parts(window: &ListWindow) -> Vec<ListWindow> {
    let step = chrono::Duration::days(MAX_VIEW_DAYS);
    let mut out = Vec::new();
    let mut start = window.start;
    loop {
        let end = (start + step).min(window.end);
        out.push(ListWindow { start, end });
        if end >= window.end {
            return out;
        }
        start = end;
    }
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Inner {
    fn window_query(&self, window: &ListWindow, extra: &[(&str, &str)]) -> String {
        let (start, end) = (iso(window.start), iso(window.end));
        let mut pairs = vec![
            ("startDateTime", start.as_str()),
            ("endDateTime", end.as_str()),
        ];
        pairs.extend_from_slice(extra);
        query(&pairs)
    }

    fn read_query(&self) -> (String, String) {
        (self.page_size.to_string(), expand_clause())
    }

    fn delta_prefer(&self) -> String {
        format!("{PREFER_EVENTS}, odata.maxpagesize={}", self.page_size)
    }

    /// Reads pages from `url` on, following `@odata.nextLink`, until a page carries no
    /// next link. Returns every page mapped.
    pub(crate) async fn pages(
        &self,
        mut url: url::Url,
        prefer: &str,
        delta: bool,
        item: Option<&ItemId>,
    ) -> Result<Vec<MappedPage>, ProviderError> {
        let mut pages = Vec::new();
        for _ in 0..MAX_PAGES {
            let answer = self.client.send(Call::get(url, prefer)).await?;
            if !answer.is_success() {
                let error = answer.error();
                if delta && error.is_cursor_expired() {
                    return Err(ProviderError::CursorExpired);
                }
                return Err(error.into_provider(item));
            }
            let page = map_page(&answer.body).map_err(|e| ProviderError::Transient {
                retry_after: None,
                message: format!("unreadable page: {e}"),
                source: None,
            })?;
            let next = page.next_link.clone();
            pages.push(page);
            match next {
                Some(link) => url = self.client.follow(&link)?,
                None => return Ok(pages),
            }
        }
        Err(too_many_pages())
    }

    /// Runs a delta round for `window` from the start and returns its delta link.
    async fn open_delta(
        &self,
        paths: &Paths,
        window: &ListWindow,
    ) -> Result<Option<String>, ProviderError> {
        let q = self.window_query(window, &[]);
        let url = self
            .client
            .url(&format!("{}/calendarView/delta?{q}", paths.view_root))?;
        let pages = self.pages(url, &self.delta_prefer(), true, None).await?;
        Ok(pages.into_iter().rev().find_map(|p| p.delta_link))
    }

    pub(crate) async fn list(&self, window: &ListWindow) -> Result<Listing, ProviderError> {
        let paths = self.paths().await?;
        let parts = parts(window);
        // The delta rounds first: their baseline precedes the listing, so an edit made while
        // listing shows up again in the next changes instead of being lost.
        let mut deltas = Vec::with_capacity(parts.len());
        for part in &parts {
            deltas.push(self.open_delta(paths, part).await?);
        }
        let (top, expand) = self.read_query();
        let mut merged = Merged::default();
        for part in &parts {
            let q = self.window_query(
                part,
                &[
                    ("$top", &top),
                    ("$select", EVENT_SELECT),
                    ("$expand", &expand),
                ],
            );
            let url = self
                .client
                .url(&format!("{}/calendarView?{q}", paths.view_root))?;
            // An event spanning two parts is listed by both: merged by id.
            for page in self.pages(url, PREFER_EVENTS, false, None).await? {
                merged.add(page.events, page.broken);
            }
        }
        let (events, broken) = merged.finish();
        let cursor = deltas
            .into_iter()
            .collect::<Option<Vec<String>>>()
            .map(|deltas| encode_cursor(deltas, window));
        Ok(Listing {
            events,
            broken,
            cursor,
        })
    }

    pub(crate) async fn changes(
        &self,
        cursor: &Cursor,
        window: &ListWindow,
    ) -> Result<Changes, ProviderError> {
        let Some(data) = decode_cursor(cursor) else {
            tracing::debug!("unreadable Outlook cursor; listing again");
            return Err(ProviderError::CursorExpired);
        };
        // The round covers the window it was opened for: a narrower window is served (the
        // engine filters), one reaching beyond needs a new round.
        if window.start < data.start || window.end > data.end {
            tracing::debug!("the window moved; a new delta round is needed");
            return Err(ProviderError::CursorExpired);
        }
        let paths = self.paths().await?;
        let mut removed: BTreeSet<ItemId> = BTreeSet::new();
        let mut changed: BTreeSet<ItemId> = BTreeSet::new();
        let mut masters: BTreeSet<ItemId> = BTreeSet::new();
        let mut next_deltas = Vec::with_capacity(data.deltas.len());
        for link in &data.deltas {
            let url = self.client.follow(link)?;
            let pages = self.pages(url, &self.delta_prefer(), true, None).await?;
            let round = Round::of(pages);
            let Some(delta_link) = round.delta_link else {
                return Err(ProviderError::transient(
                    "a delta round ended without a delta link",
                ));
            };
            next_deltas.push(delta_link);
            removed.extend(round.removed);
            changed.extend(round.changed);
            masters.extend(round.masters);
        }
        // Across parts, an event that moved from one to the other is removed from the first
        // and changed in the second: it is read again below, and its read decides.
        removed.retain(|id| !changed.contains(id));
        if !masters.is_empty() {
            // A series changed: delta does not say which of its occurrences went away
            // (deleting one occurrence only touches the master), and moving the series
            // gives its occurrences new ids. A full listing settles both.
            tracing::info!(
                series = masters.len(),
                "a recurring series changed in Outlook; listing the window again"
            );
            return Err(ProviderError::CursorExpired);
        }
        let mut merged = Merged::default();
        let to_read: Vec<ItemId> = changed.into_iter().collect();
        for (id, found) in self.read_many(paths, &to_read).await? {
            match found {
                Some(Ok(GraphItem::Event(event))) => merged.add(vec![*event], Vec::new()),
                Some(Ok(_)) => {}
                Some(Err(broken)) => merged.add(Vec::new(), vec![broken]),
                None => {
                    removed.insert(id);
                }
            }
        }
        let (events, broken) = merged.finish();
        let removed = removed
            .into_iter()
            .filter(|id| !events.iter().any(|e| &e.id == id))
            .collect();
        Ok(Changes {
            events,
            broken,
            removed,
            cursor: encode_cursor(
                next_deltas,
                &ListWindow {
                    start: data.start,
                    end: data.end,
                },
            ),
        })
    }

    /// Reads events by id, 20 to a `$batch`. `None`: the event is gone.
    pub(crate) async fn read_many(
        &self,
        paths: &Paths,
        ids: &[ItemId],
    ) -> Result<Vec<(ItemId, Option<Result<GraphItem, BrokenItem>>)>, ProviderError> {
        let bodies = self.read_bodies(paths, ids).await?;
        Ok(ids
            .iter()
            .zip(bodies)
            .map(|(id, body)| (id.clone(), body.map(|value| map_item(&value))))
            .collect())
    }

    /// Every event of `ids` as Graph answers it, in order, 20 to a `$batch` (a repeated id
    /// is asked each time). `None`: the event is gone (404 or 410); any other failed item
    /// (throttled, a server error) fails the whole read with its error.
    async fn read_bodies(
        &self,
        paths: &Paths,
        ids: &[ItemId],
    ) -> Result<Vec<Option<Value>>, ProviderError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(crate::config::MAX_BATCH) {
            let requests = chunk
                .iter()
                .enumerate()
                .map(|(i, id)| self.get_request(paths, i, id))
                .collect::<Result<Vec<_>, _>>()?;
            let mut answers = self.client.batch(&requests).await?;
            for (i, id) in chunk.iter().enumerate() {
                let Some(answer) = answers.remove(&i.to_string()) else {
                    return Err(ProviderError::transient("a $batch answer lacked an item"));
                };
                out.push(match answer.status {
                    200 => Some(answer.body.unwrap_or(Value::Null)),
                    404 | 410 => None,
                    _ => return Err(item_error(&answer).into_provider(Some(id))),
                });
            }
        }
        Ok(out)
    }

    /// Events by id, as [`Inner::get`] reads each, 20 to a `$batch`.
    pub(crate) async fn get_many(
        &self,
        ids: &[ItemId],
    ) -> Result<Vec<Option<Event>>, ProviderError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let paths = self.paths().await?;
        self.read_bodies(paths, ids)
            .await?
            .into_iter()
            .map(|body| body.map_or(Ok(None), |value| item_event(&value)))
            .collect()
    }

    /// A `$batch` GET of one event with the fields calbridge reads.
    pub(crate) fn get_request(
        &self,
        paths: &Paths,
        index: usize,
        id: &ItemId,
    ) -> Result<BatchRequest, ProviderError> {
        let q = query(&[("$select", EVENT_SELECT), ("$expand", &expand_clause())]);
        let url = self.client.url(&format!("{}?{q}", paths.item(id)))?;
        Ok(BatchRequest {
            id: index.to_string(),
            method: "GET",
            url: self.client.relative(&url),
            headers: BTreeMap::from([("Prefer".to_owned(), PREFER_EVENTS.to_owned())]),
            body: None,
        })
    }

    /// One event by id, as Graph holds it (`None`: gone).
    pub(crate) async fn get(&self, id: &ItemId) -> Result<Option<Event>, ProviderError> {
        let paths = self.paths().await?;
        let q = query(&[("$select", EVENT_SELECT), ("$expand", &expand_clause())]);
        let url = self.client.url(&format!("{}?{q}", paths.item(id)))?;
        let answer = self.client.send(Call::get(url, PREFER_EVENTS)).await?;
        if matches!(answer.status.as_u16(), 404 | 410) {
            return Ok(None);
        }
        let answer = answer.ok(Some(id))?;
        let value: Value = parse_json(&answer.body)?;
        item_event(&value)
    }
}

/// An event read by id: a master maps like a single event, a removed marker means gone, an
/// item that cannot be mapped fails the read.
fn item_event(value: &Value) -> Result<Option<Event>, ProviderError> {
    let event = match map_item(value) {
        Ok(GraphItem::Event(event)) => *event,
        Ok(GraphItem::SeriesMaster { .. }) => {
            crate::mapping::event_from_json(value).map_err(|e| invalid(&e))?
        }
        Ok(GraphItem::Removed { .. }) => return Ok(None),
        Err(broken) => return Err(broken_error(&broken)),
    };
    Ok(Some(event))
}

/// Events gathered from several pages, each id once (the last read wins).
#[derive(Default)]
struct Merged {
    order: Vec<ItemId>,
    events: BTreeMap<ItemId, Event>,
    broken: BTreeMap<ItemId, BrokenItem>,
}

impl Merged {
    fn add(&mut self, events: Vec<Event>, broken: Vec<BrokenItem>) {
        for event in events {
            self.broken.remove(&event.id);
            if !self.events.contains_key(&event.id) {
                self.order.push(event.id.clone());
            }
            self.events.insert(event.id.clone(), event);
        }
        for item in broken {
            if self.events.remove(&item.id).is_none() && !self.broken.contains_key(&item.id) {
                self.order.push(item.id.clone());
            }
            self.broken.insert(item.id.clone(), item);
        }
    }

    fn finish(mut self) -> (Vec<Event>, Vec<BrokenItem>) {
        let mut events = Vec::with_capacity(self.events.len());
        let mut broken = Vec::with_capacity(self.broken.len());
        for id in self.order {
            if let Some(event) = self.events.remove(&id) {
                events.push(event);
            } else if let Some(item) = self.broken.remove(&id) {
                broken.push(item);
            }
        }
        (events, broken)
    }
}

/// What one delta round reported. Within a round later entries win: an item edited and
/// then deleted in one round is removed.
#[derive(Default)]
struct Round {
    removed: BTreeSet<ItemId>,
    changed: BTreeSet<ItemId>,
    masters: BTreeSet<ItemId>,
    delta_link: Option<String>,
}

impl Round {
    fn of(pages: Vec<MappedPage>) -> Self {
        let mut round = Self::default();
        for page in pages {
            for id in page.removed {
                round.changed.remove(&id);
                round.removed.insert(id);
            }
            for id in page
                .events
                .into_iter()
                .map(|e| e.id)
                .chain(page.broken.into_iter().map(|b| b.id))
            {
                round.removed.remove(&id);
                round.changed.insert(id);
            }
            for id in page.series_masters {
                round.removed.remove(&id);
                round.masters.insert(id);
            }
            round.delta_link = page.delta_link.or(round.delta_link);
        }
        round
    }
}

fn encode_cursor(deltas: Vec<String>, window: &ListWindow) -> Cursor {
    let data = CursorData {
        deltas,
        start: window.start,
        end: window.end,
    };
    Cursor(serde_json::to_string(&data).unwrap_or_default())
}

fn decode_cursor(cursor: &Cursor) -> Option<CursorData> {
    serde_json::from_str(&cursor.0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_windows_are_cut_into_parts_graph_accepts() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let short = ListWindow {
            start: t("2026-01-01T00:00:00Z"),
            end: t("2027-02-01T00:00:00Z"),
        };
        assert_eq!(parts(&short), vec![short]);
        let long = ListWindow {
            start: t("2016-11-24T00:00:00Z"),
            end: t("2036-11-25T00:00:00Z"),
        };
        let cut = parts(&long);
        assert_eq!(cut.len(), 5);
        assert_eq!(cut[0].start, long.start);
        assert_eq!(cut[4].end, long.end);
        for pair in cut.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        assert!(
            cut.iter()
                .all(|p| p.end - p.start <= chrono::Duration::days(1825))
        );
    }

    #[test]
    fn a_round_keeps_the_last_word_on_each_item() {
        let page = |removed: &[&str], masters: &[&str], link: Option<&str>| MappedPage {
            removed: removed.iter().map(|s| ItemId::new(*s)).collect(),
            series_masters: masters.iter().map(|s| ItemId::new(*s)).collect(),
            delta_link: link.map(str::to_owned),
            ..MappedPage::default()
        };
        let round = Round::of(vec![
            page(&["a"], &["m"], None),
            page(
                &["b"],
                &[],
                Some("https://graph.microsoft.com/v1.0/x?$deltatoken=1"),
            ),
        ]);
        assert_eq!(round.removed.len(), 2);
        assert!(round.masters.contains(&ItemId::new("m")));
        assert!(round.delta_link.is_some());
    }
}
