//! What a run did, for people (`Display`) and programs (serde JSON), and the observer that
//! hears about it as it happens.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use calbridge_core::{Conflict, GuardTrip, Notifications, Plan, SkipReason};
use calbridge_model::{ItemId, Side};

/// Counts for one side.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SideReport {
    /// Events created on this side.
    pub created: usize,
    /// Events updated on this side.
    pub updated: usize,
    /// Events deleted on this side.
    pub deleted: usize,
    /// Writes to this side that failed.
    pub failed: usize,
    /// Items of this side held back, by reason.
    pub skipped: BTreeMap<SkipReason, usize>,
    /// HTTP (or equivalent) requests made to this side.
    pub requests: u64,
    /// Whether this side was listed in full (`false`: read incrementally).
    pub full_listing: bool,
    /// The service's usage against its limits after the run, when it reports one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<calbridge_provider::Quota>,
}

/// A write that failed, or an item that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    /// The side of the item.
    pub side: Side,
    /// The item (for a failed create: the source item).
    pub id: ItemId,
    /// What failed, in a word (`invalid_data`, `permanent`, `not_found`, `precondition`,
    /// `transient`, `throttled`, `invalid`).
    pub kind: String,
    /// The message.
    pub message: String,
}

/// The report of one run (or preview).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Whether this is a preview (nothing written).
    pub preview: bool,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: DateTime<Utc>,
    /// Outlook's counts.
    pub outlook: SideReport,
    /// Salesforce's counts.
    pub salesforce: SideReport,
    /// Pairs already in step.
    pub unchanged: usize,
    /// Conflicts and how they were settled.
    pub conflicts: Vec<Conflict>,
    /// Items that failed or could not be read.
    pub errors: Vec<ItemFailure>,
    /// Set when the delete guard held the run: nothing was written.
    pub held: Vec<GuardTrip>,
    /// Creates a previous run had started but not recorded (it was interrupted); this run
    /// finished them or found their copies.
    pub interrupted_creates: usize,
}

impl Report {
    pub(crate) fn new(started_at: DateTime<Utc>, preview: bool) -> Self {
        Self {
            preview,
            started_at,
            finished_at: started_at,
            outlook: SideReport::default(),
            salesforce: SideReport::default(),
            unchanged: 0,
            conflicts: Vec::new(),
            errors: Vec::new(),
            held: Vec::new(),
            interrupted_creates: 0,
        }
    }

    /// One side's counts.
    #[must_use]
    pub fn side(&self, side: Side) -> &SideReport {
        match side {
            Side::Outlook => &self.outlook,
            Side::Salesforce => &self.salesforce,
        }
    }

    pub(crate) fn side_mut(&mut self, side: Side) -> &mut SideReport {
        match side {
            Side::Outlook => &mut self.outlook,
            Side::Salesforce => &mut self.salesforce,
        }
    }

    /// Copies what the plan says about skips, conflicts, invalid items and the guard.
    pub(crate) fn absorb_plan(&mut self, plan: &Plan) {
        self.unchanged = plan.unchanged;
        self.conflicts.clone_from(&plan.conflicts);
        self.held.clone_from(&plan.delete_guard);
        for skip in &plan.skipped {
            *self
                .side_mut(skip.side)
                .skipped
                .entry(skip.reason)
                .or_default() += 1;
        }
        for error in &plan.errors {
            self.errors.push(ItemFailure {
                side: error.side,
                id: error.id.clone(),
                kind: "invalid".into(),
                message: error.error.to_string(),
            });
        }
    }

    /// Whether every planned write succeeded and nothing was held.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.outlook.failed == 0 && self.salesforce.failed == 0 && self.held.is_empty()
    }

    /// Writes made (or, in a preview, planned).
    #[must_use]
    pub fn writes(&self) -> usize {
        [&self.outlook, &self.salesforce]
            .iter()
            .map(|s| s.created + s.updated + s.deleted)
            .sum()
    }

    /// The report as JSON.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let took = (self.finished_at - self.started_at).num_milliseconds();
        let what = if self.preview { "Preview" } else { "Sync" };
        writeln!(
            f,
            "{what} of {} ({took} ms)",
            self.started_at.format("%Y-%m-%d %H:%M:%S UTC")
        )?;
        for g in &self.held {
            writeln!(f, "  HELD: {g}")?;
        }
        for side in Side::BOTH {
            let s = self.side(side);
            let skipped: Vec<String> = s.skipped.iter().map(|(r, n)| format!("{n} {r}")).collect();
            writeln!(
                f,
                "  {:<10} created {}, updated {}, deleted {}, failed {}; skipped: {}; {} requests{}{}",
                side.as_str(),
                s.created,
                s.updated,
                s.deleted,
                s.failed,
                if skipped.is_empty() {
                    "none".to_owned()
                } else {
                    skipped.join(", ")
                },
                s.requests,
                if s.full_listing {
                    " (full listing)"
                } else {
                    ""
                },
                s.quota
                    .map(|q| format!("; API usage {}/{}", q.used, q.limit))
                    .unwrap_or_default(),
            )?;
        }
        writeln!(
            f,
            "  unchanged: {}; conflicts: {}; errors: {}",
            self.unchanged,
            self.conflicts.len(),
            self.errors.len()
        )?;
        for c in &self.conflicts {
            writeln!(
                f,
                "  conflict on {} of {}/{}: {} kept",
                c.field, c.outlook_id, c.salesforce_id, c.winner
            )?;
        }
        for e in &self.errors {
            writeln!(
                f,
                "  error on {} {} ({}): {}",
                e.side, e.id, e.kind, e.message
            )?;
        }
        Ok(())
    }
}

/// Hears about a run as it happens, so an embedding program can show progress and
/// notifications. Every method has an empty default. Which calls are made follows the
/// notification settings: item errors only with `errors`, conflicts only with `conflicts`,
/// the summary only with `summary`.
pub trait SyncObserver: Send + Sync {
    /// `done` of `total` writes finished.
    fn progress(&self, _done: usize, _total: usize) {}
    /// An item failed.
    fn item_failed(&self, _failure: &ItemFailure) {}
    /// A conflict was settled.
    fn conflict(&self, _conflict: &Conflict) {}
    /// The run finished (or was held).
    fn finished(&self, _report: &Report) {}
}

/// Calls an observer as the notification settings allow.
pub(crate) struct Notify<'a> {
    pub(crate) observer: Option<&'a dyn SyncObserver>,
    pub(crate) settings: Notifications,
}

impl Notify<'_> {
    pub(crate) fn progress(&self, done: usize, total: usize) {
        if let Some(o) = self.observer {
            o.progress(done, total);
        }
    }

    pub(crate) fn failed(&self, failure: &ItemFailure) {
        if let (Some(o), true) = (self.observer, self.settings.errors) {
            o.item_failed(failure);
        }
    }

    pub(crate) fn conflicts(&self, conflicts: &[Conflict]) {
        if let (Some(o), true) = (self.observer, self.settings.conflicts) {
            for c in conflicts {
                o.conflict(c);
            }
        }
    }

    pub(crate) fn finished(&self, report: &Report) {
        if let (Some(o), true) = (self.observer, self.settings.summary) {
            o.finished(report);
        }
    }
}
