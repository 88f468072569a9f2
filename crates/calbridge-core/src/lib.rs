//! The pure reconcile core of calbridge.
//!
//! Given the sync settings, the current instant, one snapshot of each calendar and the stored
//! state of past runs, [`plan`] decides exactly which writes a sync makes and why
//! (DESIGN §3): pairing of equal unpaired events, a per-field three-way merge against a base
//! stored per side, the conflict policy, the direction switches, the private / related /
//! window filters, the preserve-formatting mask, deletions only for confirmed-gone items,
//! modify-beats-delete, and the mass-delete guard. The [`Plan`] lists every operation, every
//! item held back with its reason, every conflict and its resolution, and — through
//! [`Operation::confirm`] — the state to record once each write is confirmed.
//!
//! The core does no I/O, no async and reads no clock: `now` is an argument. It also holds the
//! schedule arithmetic of automatic sync ([`Schedule::next_run`]).

mod plan;
mod reconcile;
pub mod schedule;
mod settings;
mod state;
mod window;

pub use plan::{
    Action, Conflict, GuardTrip, ItemError, Operation, OutcomeMismatch, Plan, Skip, SkipReason,
    WriteOutcome,
};
pub use reconcile::{BrokenItem, Planner, Snapshot, plan};
pub use schedule::{Schedule, ScheduleError, SyncMode, TimeOfDay, Weekdays};
pub use settings::{
    CalendarPair, ConflictPolicy, DateRange, DeleteGuard, Direction, MAX_RANGE_DAYS, Notifications,
    OutlookCalendar, Prevent, PrivateEvents, SettingsError, SyncSettings, WriteKind,
};
pub use state::{Echo, PairKey, PairState, SidePatch, SideRecord, StateChange, SyncState};
pub use window::SyncWindow;
