//! What the simulated users did and what must follow from it: pending edits, deletions,
//! private subjects, relations, and the values both sides agreed on.

use super::*;

/// A synced field the users edit (and `Exists`: the event was created).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum F {
    Exists,
    Subject,
    Time,
    Location,
    Note,
    ShowAs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    Yes,
    Text(String),
    Time(DateTime<Utc>, DateTime<Utc>),
}

/// The report's name of a field.
pub(crate) fn field_name(f: F) -> &'static str {
    match f {
        F::Exists => "exists",
        F::Subject => "subject",
        F::Time => "time",
        F::Location => "location",
        F::Note => "body",
        F::ShowAs => "show_as",
    }
}

pub(crate) fn value(e: &Seen, f: F) -> Val {
    match f {
        F::Exists => Val::Yes,
        F::Subject => Val::Text(e.subject.clone()),
        F::Time => Val::Time(e.start, e.end),
        F::Location => Val::Text(e.location.clone()),
        F::Note => Val::Text(e.note.clone()),
        F::ShowAs => Val::Text(e.show_as.clone()),
    }
}

/// A user's edit not yet seen on both sides after a successful run.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub(crate) key: u64,
    pub(crate) side: Side,
    pub(crate) field: F,
    pub(crate) val: Val,
    pub(crate) run: usize,
    /// A run failed or was killed since the edit: its conflict report may be lost.
    pub(crate) unclean: bool,
}

/// What the users did.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub(crate) next_key: u64,
    pub(crate) rev: u64,
    pub(crate) pending: Vec<Pending>,
    /// Keys a user deleted on a side (cleared when the key is on that side again).
    pub(crate) user_deleted: [BTreeSet<u64>; 2],
    /// Every subject a private event had, per side.
    pub(crate) private_subjects: [BTreeSet<String>; 2],
    /// Keys that were private on some side at some time. What happens to the other copy of
    /// a pair that went private is not specified, so the final convergence skips them.
    pub(crate) went_private: BTreeSet<u64>,
    /// Salesforce relations set by the user.
    pub(crate) what: BTreeMap<u64, String>,
    /// Per key and field, the value both sides held after the last successful run: a user
    /// edit back to it cannot be told from no edit at all.
    pub(crate) agreed: BTreeMap<(u64, F), Val>,
}

impl Ledger {
    pub(crate) fn edit(&mut self, key: u64, side: Side, field: F, val: Val, run: usize) {
        self.pending
            .retain(|p| !(p.key == key && p.side == side && p.field == field));
        if self.agreed.get(&(key, field)) == Some(&val) {
            // Back to the value both sides held after the last sync: to a three-way merge
            // that is no edit at all (the other side's change, or a deletion, wins).
            return;
        }
        self.pending.push(Pending {
            key,
            side,
            field,
            val,
            run,
            unclean: false,
        });
    }
    pub(crate) fn rev(&mut self) -> u64 {
        self.rev += 1;
        self.rev
    }
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) ok: usize,
    pub(crate) ok_with_item_errors: usize,
    pub(crate) failed: BTreeMap<String, usize>,
    pub(crate) killed: BTreeMap<String, usize>,
    pub(crate) crash_armed_not_hit: usize,
    pub(crate) held: usize,
    pub(crate) faults: BTreeMap<&'static str, usize>,
    pub(crate) actions: BTreeMap<&'static str, usize>,
    pub(crate) conflicts: usize,
    pub(crate) checks: usize,
}
