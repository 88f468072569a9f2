//! The calendar behind an [`InMemoryProvider`](crate::InMemoryProvider): events, history
//! (sequence numbers, tombstones, moves) and the write semantics every provider must honour.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

use calbridge_model::{Event, EventTime, FieldValue, ItemId, Side, VersionTag};

use super::faults::Faults;
use crate::{Changes, Cursor, ListWindow, Listing, ProviderError, WriteResult};

/// 2026-01-01T00:00:00Z: the default start of the logical clock, fixed so that runs are
/// reproducible.
const DEFAULT_START_SECS: i64 = 1_767_225_600;

/// The text every cursor starts with.
const CURSOR_PREFIX: &str = "seq:";

/// One stored event and the sequence number of its last write. The event is boxed: map
/// nodes of small records stay small (a node holds eleven, often half used).
#[derive(Debug, Clone)]
struct Record {
    event: Box<Event>,
    seq: u64,
}

/// An event's time before a write moved it, so `changes` can tell whether it was in a window
/// at a cursor.
#[derive(Debug, Clone)]
struct Move {
    seq: u64,
    id: ItemId,
    before: EventTime,
}

/// Everything an in-memory calendar holds; shared by the clones of one provider.
#[derive(Debug)]
pub(super) struct State {
    pub(super) side: Side,
    pub(super) max_batch: usize,
    pub(super) page_size: usize,
    pub(super) start_time: DateTime<Utc>,
    /// How many sequence numbers of history (tombstones, moves) are kept; `None`: all.
    pub(super) retention: Option<u64>,
    pub(super) requests: u64,
    pub(super) faults: Faults,
    seq: u64,
    next_id: u64,
    events: BTreeMap<ItemId, Record>,
    /// Deleted id → the sequence number of its deletion.
    tombstones: BTreeMap<ItemId, u64>,
    /// In sequence order (appended as writes happen).
    moves: Vec<Move>,
    /// Idempotency key → the id it created.
    keys: HashMap<String, ItemId>,
    /// Cursors below this sequence number were expired by `Fault::ExpireCursors`.
    expired_below: u64,
}

impl State {
    pub(super) fn new(side: Side) -> Self {
        Self {
            side,
            max_batch: 100,
            page_size: 100,
            start_time: DateTime::from_timestamp(DEFAULT_START_SECS, 0)
                .unwrap_or(DateTime::UNIX_EPOCH),
            retention: None,
            requests: 0,
            faults: Faults::default(),
            seq: 0,
            next_id: 0,
            events: BTreeMap::new(),
            tombstones: BTreeMap::new(),
            moves: Vec::new(),
            keys: HashMap::new(),
            expired_below: 0,
        }
    }

    /// The logical clock: the start time plus one second per sequence number.
    pub(super) fn clock(&self) -> DateTime<Utc> {
        let secs = i64::try_from(self.seq).unwrap_or(i64::MAX);
        self.start_time
            .checked_add_signed(Duration::seconds(secs))
            .unwrap_or(self.start_time)
    }

    fn cursor(&self) -> Cursor {
        Cursor(format!("{CURSOR_PREFIX}{}", self.seq))
    }

    /// A new id that no event (live or deleted) has: seeded events may carry ids in the
    /// generated form, and reusing a deleted id would confuse deletion checks by id.
    fn fresh_id(&mut self) -> ItemId {
        let prefix = match self.side {
            Side::Outlook => "mem-o-",
            Side::Salesforce => "mem-s-",
        };
        loop {
            self.next_id += 1;
            let id = ItemId::new(format!("{prefix}{:08}", self.next_id));
            if !self.events.contains_key(&id) && !self.tombstones.contains_key(&id) {
                return id;
            }
        }
    }

    /// Stores `event` (its id already set) as a new write: bumps the sequence, stamps the
    /// version and modification time, and remembers a move for `changes`.
    fn store(&mut self, mut event: Event) -> Event {
        self.seq += 1;
        event.version = Some(VersionTag::new(self.seq.to_string()));
        event.last_modified = Some(self.clock());
        if let Some(old) = self.events.get(&event.id)
            && old.event.time != event.time
        {
            self.moves.push(Move {
                seq: self.seq,
                id: event.id.clone(),
                before: old.event.time.clone(),
            });
        }
        self.tombstones.remove(&event.id);
        let record = Record {
            event: Box::new(event.clone()),
            seq: self.seq,
        };
        self.events.insert(event.id.clone(), record);
        self.prune();
        event
    }

    /// Deletes `id`, leaving a tombstone; `false` when it did not exist.
    fn remove(&mut self, id: &ItemId) -> bool {
        if self.events.remove(id).is_none() {
            return false;
        }
        self.seq += 1;
        self.tombstones.insert(id.clone(), self.seq);
        self.prune();
        true
    }

    /// Drops history older than the retention; cursors that old expire with it.
    fn prune(&mut self) {
        let Some(keep) = self.retention else { return };
        let cutoff = self.seq.saturating_sub(keep);
        self.tombstones.retain(|_, seq| *seq > cutoff);
        let old = self.moves.partition_point(|m| m.seq <= cutoff);
        self.moves.drain(..old);
    }

    /// Makes every cursor issued so far invalid. The sequence moves on by one so that a
    /// cursor issued right after (with no write in between) stays distinguishable.
    pub(super) fn expire_cursors(&mut self) {
        self.seq += 1;
        self.expired_below = self.seq;
    }

    // ----- user simulation -----

    pub(super) fn seed(&mut self, mut event: Event) -> ItemId {
        if event.id.as_str().is_empty() {
            event.id = self.fresh_id();
        }
        self.store(event).id
    }

    pub(super) fn user_create(&mut self, mut event: Event) -> ItemId {
        event.id = self.fresh_id();
        self.store(event).id
    }

    pub(super) fn user_edit(&mut self, id: &ItemId, edit: impl FnOnce(&mut Event)) -> bool {
        let Some(record) = self.events.get(id) else {
            return false;
        };
        let mut event = Event::clone(&record.event);
        edit(&mut event);
        // The id is the calendar's, not the user's, to change.
        event.id = id.clone();
        self.store(event);
        true
    }

    pub(super) fn user_delete(&mut self, id: &ItemId) -> bool {
        self.remove(id)
    }

    pub(super) fn event(&self, id: &ItemId) -> Option<Event> {
        self.events.get(id).map(|r| Event::clone(&r.event))
    }

    pub(super) fn events(&self) -> Vec<Event> {
        self.events
            .values()
            .map(|r| Event::clone(&r.event))
            .collect()
    }

    pub(super) fn for_each_event(&self, mut f: impl FnMut(&Event)) {
        self.events.values().for_each(|r| f(&r.event));
    }

    pub(super) fn len(&self) -> usize {
        self.events.len()
    }

    // ----- the provider's reads -----

    /// Every event overlapping `window`, in id order; one request per page.
    pub(super) fn list(&mut self, window: &ListWindow) -> Listing {
        // Counted first: a listing sized exactly, where growing by doubling would hold up to
        // twice the events' room (and both buffers while it moves).
        let in_window = |r: &&Record| overlaps(&r.event.time, window);
        let count = self.events.values().filter(in_window).count();
        let mut events = Vec::with_capacity(count);
        events.extend(
            self.events
                .values()
                .filter(in_window)
                .map(|r| Event::clone(&r.event)),
        );
        let pages = events.len().div_ceil(self.page_size).max(1);
        self.requests += u64::try_from(pages).unwrap_or(u64::MAX);
        Listing {
            events,
            broken: Vec::new(),
            cursor: Some(self.cursor()),
        }
    }

    /// What changed in `window` since `cursor`.
    pub(super) fn changes(
        &mut self,
        cursor: &Cursor,
        window: &ListWindow,
    ) -> Result<Changes, ProviderError> {
        self.requests += 1;
        let since = self.cursor_seq(cursor)?;
        let mut events = Vec::new();
        let mut removed: BTreeSet<ItemId> = self
            .tombstones
            .iter()
            .filter(|(_, seq)| **seq > since)
            .map(|(id, _)| id.clone())
            .collect();
        for (id, record) in self.events.range(..) {
            if record.seq <= since {
                continue;
            }
            if overlaps(&record.event.time, window) {
                events.push(Event::clone(&record.event));
            } else if self.was_in_window(id, since, window) {
                // Graph reports an event moved out of the window as removed; the engine
                // must confirm such ids with `get`, so the reference provider does the same.
                removed.insert(id.clone());
            }
        }
        Ok(Changes {
            events,
            broken: Vec::new(),
            removed: removed.into_iter().collect(),
            cursor: self.cursor(),
        })
    }

    /// Parses a cursor and checks it is still valid.
    fn cursor_seq(&self, cursor: &Cursor) -> Result<u64, ProviderError> {
        let Some(seq) = cursor
            .0
            .strip_prefix(CURSOR_PREFIX)
            .and_then(|n| n.parse::<u64>().ok())
        else {
            tracing::debug!(?cursor, "unparsable cursor treated as expired");
            return Err(ProviderError::CursorExpired);
        };
        let too_old = self
            .retention
            .is_some_and(|keep| seq.saturating_add(keep) < self.seq);
        // A cursor from the future was issued by another calendar.
        if seq < self.expired_below || too_old || seq > self.seq {
            tracing::debug!(seq, current = self.seq, "cursor expired");
            return Err(ProviderError::CursorExpired);
        }
        Ok(seq)
    }

    /// Whether `id`'s first known time after `since` overlapped `window`: the time it had at
    /// the cursor, or when it was created after it.
    fn was_in_window(&self, id: &ItemId, since: u64, window: &ListWindow) -> bool {
        let start = self.moves.partition_point(|m| m.seq <= since);
        self.moves[start..]
            .iter()
            .find(|m| &m.id == id)
            .is_some_and(|m| overlaps(&m.before, window))
    }

    // ----- the provider's writes -----

    pub(super) fn get(&mut self, id: &ItemId) -> Option<Event> {
        self.requests += 1;
        self.event(id)
    }

    pub(super) fn create(
        &mut self,
        mut event: Event,
        key: String,
    ) -> Result<WriteResult, ProviderError> {
        if let Some(existing) = self.keys.get(&key).and_then(|id| self.events.get(id)) {
            return Ok(WriteResult::Created(Event::clone(&existing.event)));
        }
        // A key whose event was deleted since counts as unused: the caller asks for an event
        // that does not exist, and there is nothing else to return.
        event.id = self.fresh_id();
        self.validate(&event)?;
        let stored = self.store(event);
        self.keys.insert(key, stored.id.clone());
        Ok(WriteResult::Created(stored))
    }

    pub(super) fn update(
        &mut self,
        id: &ItemId,
        expected: Option<&VersionTag>,
        changes: Vec<FieldValue>,
    ) -> Result<WriteResult, ProviderError> {
        let Some(record) = self.events.get(id) else {
            return Err(ProviderError::NotFound { id: id.clone() });
        };
        if expected.is_some_and(|v| record.event.version.as_ref() != Some(v)) {
            return Err(ProviderError::Precondition { id: id.clone() });
        }
        let mut event = Event::clone(&record.event);
        for change in changes {
            event.set(change);
        }
        self.validate(&event)?;
        Ok(WriteResult::Updated(self.store(event)))
    }

    pub(super) fn delete(
        &mut self,
        id: &ItemId,
        expected: Option<&VersionTag>,
    ) -> Result<WriteResult, ProviderError> {
        if let (Some(record), Some(v)) = (self.events.get(id), expected)
            && record.event.version.as_ref() != Some(v)
        {
            return Err(ProviderError::Precondition { id: id.clone() });
        }
        self.remove(id);
        Ok(WriteResult::Deleted)
    }

    /// Refuses what a real service of this side would refuse (bad times, over-long fields).
    fn validate(&self, event: &Event) -> Result<(), ProviderError> {
        event
            .validate_for(self.side)
            .map_err(|e| ProviderError::InvalidData {
                field: e.field().to_owned(),
                message: e.to_string(),
            })
    }
}

/// Whether an event falls in a listing window. All-day events are dates without a zone, so
/// they are included when their days touch the window's dates widened by a day on each side
/// (as real services over-include); the planner filters exactly.
pub(super) fn overlaps(time: &EventTime, window: &ListWindow) -> bool {
    match time {
        EventTime::Timed { start, end, .. } => {
            if start == end {
                // A zero-length event is an instant: in the window when it is.
                window.start <= *start && *start < window.end
            } else {
                *start < window.end && *end > window.start
            }
        }
        EventTime::AllDay { start, end } => {
            let first = window.start.date_naive();
            let first = first.pred_opt().unwrap_or(first);
            let last = window.end.date_naive();
            let last = last.succ_opt().unwrap_or(last);
            *start <= last && *end > first
        }
    }
}
