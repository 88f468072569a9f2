//! Test support: a tiny two-calendar world that applies plans the way the engine will, and
//! a readable rendering of plans for snapshots.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use calbridge_core::{
    Action, Plan, Planner, Snapshot, StateChange, SyncSettings, SyncState, WriteOutcome,
};
use calbridge_model::{Body, Event, EventTime, FieldHashes, ItemId, Side, VersionTag};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};

/// "Now" for every scenario: Tuesday 24 November 2026, 09:00 UTC.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap()
}

pub fn at(days: i64, hour: u32) -> DateTime<Utc> {
    let day = now().date_naive() + Duration::days(days);
    Utc.from_utc_datetime(&day.and_hms_opt(hour, 0, 0).unwrap())
}

pub fn timed(days: i64, hour: u32, hours: i64) -> EventTime {
    EventTime::timed(at(days, hour), at(days, hour) + Duration::hours(hours))
}

pub fn all_day(days: i64, len: i64) -> EventTime {
    let d: NaiveDate = now().date_naive() + Duration::days(days);
    EventTime::all_day(d, d + Duration::days(len))
}

pub fn event(id: &str, subject: &str, time: EventTime) -> Event {
    Event::new(id, subject, time)
}

pub fn rich_body() -> Body {
    Body::html(
        "<html><head><style>p{margin:0}</style></head><body><p><b>Agenda</b></p><ul><li>Pricing</li><li>Next steps</li></ul><img src=\"cid:logo\"></body></html>",
        true,
    )
}

/// One calendar: events by id, with versions that move on every write and creates that are
/// idempotent by key (as Graph's `transactionId` makes them).
#[derive(Debug, Clone)]
pub struct Calendar {
    pub side: Side,
    pub events: BTreeMap<ItemId, Event>,
    pub keys: HashMap<String, ItemId>,
    pub counter: u64,
}

thread_local! {
    /// One clock for both calendars of a test, so "newest" means the later edit.
    static CLOCK: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

fn tick() -> DateTime<Utc> {
    let n = CLOCK.with(|c| {
        c.set(c.get() + 1);
        c.get()
    });
    now() - Duration::days(2) + Duration::seconds(n)
}

impl Calendar {
    pub fn new(side: Side) -> Self {
        Self {
            side,
            events: BTreeMap::new(),
            keys: HashMap::new(),
            counter: 0,
        }
    }

    fn bump(&mut self) -> (VersionTag, DateTime<Utc>) {
        self.counter += 1;
        (
            VersionTag::new(format!("{}-v{}", self.side, self.counter)),
            tick(),
        )
    }

    /// A user adds an event (its id is kept).
    pub fn add(&mut self, mut event: Event) -> ItemId {
        let (v, t) = self.bump();
        event.version = Some(v);
        event.last_modified = Some(t);
        let id = event.id.clone();
        self.events.insert(id.clone(), event);
        id
    }

    /// A user edits an event.
    pub fn edit(&mut self, id: &str, f: impl FnOnce(&mut Event)) {
        let (v, t) = self.bump();
        let e = self
            .events
            .get_mut(&ItemId::new(id))
            .expect("edit of a missing event");
        f(e);
        e.version = Some(v);
        e.last_modified = Some(t);
    }

    pub fn remove(&mut self, id: &str) {
        self.events.remove(&ItemId::new(id));
    }

    pub fn get(&self, id: &ItemId) -> Option<&Event> {
        self.events.get(id)
    }

    /// Everything, as a full listing plus reads by id of linked items gone missing.
    pub fn snapshot(&self, state: &SyncState) -> Snapshot {
        let mut snapshot = Snapshot::complete(self.events.values().cloned().collect());
        for pair in &state.pairs {
            let id = &pair.side(self.side).id;
            if !self.events.contains_key(id) {
                snapshot.gone.push(id.clone());
            }
        }
        snapshot
    }

    /// Applies one planned write. `None` when the write is refused (stale version).
    pub fn apply(&mut self, action: &Action) -> Option<WriteOutcome> {
        match action {
            Action::Create {
                event,
                idempotency_key,
            } => {
                if let Some(id) = self.keys.get(idempotency_key)
                    && let Some(e) = self.events.get(id)
                {
                    return Some(WriteOutcome::Created {
                        id: id.clone(),
                        version: e.version.clone(),
                        stored: Some(FieldHashes::of(e)),
                    });
                }
                let (v, t) = self.bump();
                let id = ItemId::new(format!(
                    "{}-{}",
                    if self.side == Side::Outlook { "O" } else { "S" },
                    self.counter
                ));
                let mut e = (**event).clone();
                e.id = id.clone();
                e.version = Some(v.clone());
                e.last_modified = Some(t);
                let stored = FieldHashes::of(&e);
                self.events.insert(id.clone(), e);
                self.keys.insert(idempotency_key.clone(), id.clone());
                Some(WriteOutcome::Created {
                    id,
                    version: Some(v),
                    stored: Some(stored),
                })
            }
            Action::Update {
                target_id,
                expected_version,
                changes,
            } => {
                let (v, t) = self.bump();
                let e = self.events.get_mut(target_id)?;
                if expected_version.is_some() && &e.version != expected_version {
                    return None;
                }
                for c in changes {
                    e.set(c.clone());
                }
                e.version = Some(v.clone());
                e.last_modified = Some(t);
                Some(WriteOutcome::Updated {
                    version: Some(v),
                    stored: Some(FieldHashes::of(e)),
                })
            }
            Action::Delete { target_id, .. } => {
                self.events.remove(target_id);
                Some(WriteOutcome::Deleted)
            }
        }
    }
}

/// Two calendars and the stored state.
#[derive(Debug, Clone)]
pub struct World {
    pub outlook: Calendar,
    pub salesforce: Calendar,
    pub state: SyncState,
}

impl Default for World {
    fn default() -> Self {
        Self {
            outlook: Calendar::new(Side::Outlook),
            salesforce: Calendar::new(Side::Salesforce),
            state: SyncState::default(),
        }
    }
}

impl World {
    pub fn cal(&mut self, side: Side) -> &mut Calendar {
        match side {
            Side::Outlook => &mut self.outlook,
            Side::Salesforce => &mut self.salesforce,
        }
    }

    pub fn plan(&self, settings: &SyncSettings) -> Plan {
        self.plan_with(Planner::new(settings))
    }

    pub fn plan_with(&self, planner: Planner<'_>) -> Plan {
        planner.plan(
            now(),
            &self.outlook.snapshot(&self.state),
            &self.salesforce.snapshot(&self.state),
            &self.state,
        )
    }

    /// Applies a plan as the engine does: the state changes, then each write, recording each
    /// as it is confirmed. `crash_after` stops after that many writes, the last one written
    /// but not recorded.
    pub fn apply(&mut self, plan: &Plan, crash_after: Option<usize>) {
        assert!(!plan.is_held(), "a held plan must not be applied");
        self.state.apply(plan.state_changes.iter().cloned());
        for (n, op) in plan.operations.iter().enumerate() {
            let outcome = self.cal(op.target).apply(&op.action);
            if crash_after == Some(n + 1) {
                return;
            }
            if let Some(outcome) = outcome {
                let changes = op.confirm(outcome).expect("outcome fits");
                self.state.apply(changes);
            }
        }
    }

    pub fn sync(&mut self, settings: &SyncSettings) -> Plan {
        let plan = self.plan(settings);
        if !plan.is_held() {
            self.apply(&plan, None);
        }
        plan
    }
}

/// A plan as stable, readable text for snapshots.
pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    writeln!(
        out,
        "window: {} .. {}",
        plan.window.first_day, plan.window.end_day
    )
    .unwrap();
    for op in &plan.operations {
        match &op.action {
            Action::Create { event, .. } => {
                writeln!(
                    out,
                    "create on {} from {}: {:?} {}",
                    op.target,
                    op.source_id,
                    event.subject,
                    describe_time(&event.time)
                )
                .unwrap();
            }
            Action::Update {
                target_id, changes, ..
            } => {
                let fields: Vec<String> = changes
                    .iter()
                    .map(|c| {
                        format!(
                            "{}={}",
                            c.field(),
                            short(&serde_json::to_value(c).unwrap()["value"])
                        )
                    })
                    .collect();
                writeln!(
                    out,
                    "update {} {} from {}: {}",
                    op.target,
                    target_id,
                    op.source_id,
                    fields.join(", ")
                )
                .unwrap();
            }
            Action::Delete { target_id, .. } => {
                writeln!(
                    out,
                    "delete {} {} (gone: {})",
                    op.target, target_id, op.source_id
                )
                .unwrap();
            }
        }
    }
    for s in &plan.skipped {
        let field = s.field.map(|f| format!(" [{f}]")).unwrap_or_default();
        writeln!(out, "skip {} {}: {}{}", s.side, s.id, s.reason, field).unwrap();
    }
    for c in &plan.conflicts {
        writeln!(
            out,
            "conflict {}/{} {}: {} wins ({:?})",
            c.outlook_id, c.salesforce_id, c.field, c.winner, c.policy
        )
        .unwrap();
    }
    for e in &plan.errors {
        writeln!(out, "error {} {}: {}", e.side, e.id, e.error).unwrap();
    }
    for g in &plan.delete_guard {
        writeln!(out, "held: {g}").unwrap();
    }
    let (mut put, mut patch, mut remove) = (0, 0, 0);
    for c in &plan.state_changes {
        match c {
            StateChange::Put { .. } => put += 1,
            StateChange::Patch { .. } => patch += 1,
            StateChange::Remove { .. } => remove += 1,
        }
    }
    writeln!(
        out,
        "state: {put} put, {patch} patch, {remove} remove; unchanged: {}",
        plan.unchanged
    )
    .unwrap();
    out
}

fn describe_time(t: &EventTime) -> String {
    match t {
        EventTime::Timed { start, end, .. } => {
            format!("{} .. {}", start.to_rfc3339(), end.to_rfc3339())
        }
        EventTime::AllDay { start, end } => format!("all day {start} .. {end}"),
    }
}

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}
