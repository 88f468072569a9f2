//! The emulator's whole state behind one `std::sync::Mutex`: handlers lock it, do their
//! synchronous work and unlock before any `.await`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use http::StatusCode;
use serde_json::{Value, json};

use super::RecordedRequest;
use super::auth::AuthState;
use super::delta::DeltaState;
use super::events::StoredEvent;
use super::faults::FaultState;
use super::ids::IdGen;

/// The handle every handler and the public API share.
pub(crate) type Shared = Arc<Mutex<State>>;

/// Locks the state; a panic in another handler must not wedge the emulator, so a poisoned
/// lock is simply taken over.
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A mailbox.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) upn: String,
    pub(crate) display_name: String,
}

impl User {
    pub(crate) fn email_json(&self) -> Value {
        json!({"emailAddress": {"name": self.display_name, "address": self.upn}})
    }
}

/// A calendar folder, owned by one mailbox and possibly shared with others.
#[derive(Debug, Clone)]
pub(crate) struct Calendar {
    pub(crate) id: String,
    pub(crate) owner: String,
    pub(crate) name: String,
    pub(crate) change_key: String,
    pub(crate) is_default: bool,
    pub(crate) shared_with: Vec<String>,
}

/// An event that no longer exists, kept so delta can report out-of-window deletions.
#[derive(Debug, Clone)]
pub(crate) struct Tombstone {
    pub(crate) id: String,
    pub(crate) calendar_id: String,
    pub(crate) version: u64,
}

/// Everything the emulator knows.
#[derive(Debug)]
pub(crate) struct State {
    /// `http://127.0.0.1:PORT`, for absolute links.
    pub(crate) authority: String,
    pub(crate) ids: IdGen,
    clock: Option<DateTime<Utc>>,
    pub(crate) users: Vec<User>,
    pub(crate) calendars: BTreeMap<String, Calendar>,
    pub(crate) events: BTreeMap<String, StoredEvent>,
    pub(crate) tombstones: Vec<Tombstone>,
    /// Bumped on every event write; delta cursors compare against it.
    pub(crate) version: u64,
    pub(crate) auth: AuthState,
    pub(crate) delta: DeltaState,
    pub(crate) faults: FaultState,
    pub(crate) requests: Vec<(u64, RecordedRequest)>,
    pub(crate) request_seq: u64,
    /// Status of `ErrorDuplicateTransactionId` (graph.md §1.7: 400 observed, 409 in some emulators).
    pub(crate) duplicate_txn_status: StatusCode,
}

impl State {
    pub(crate) fn new(authority: String, seed: u64) -> Self {
        Self {
            authority,
            ids: IdGen::new(seed),
            clock: None,
            users: Vec::new(),
            calendars: BTreeMap::new(),
            events: BTreeMap::new(),
            tombstones: Vec::new(),
            version: 0,
            auth: AuthState::default(),
            delta: DeltaState::default(),
            faults: FaultState::default(),
            requests: Vec::new(),
            request_seq: 0,
            duplicate_txn_status: StatusCode::BAD_REQUEST,
        }
    }

    /// The emulator's notion of now: the pinned clock, else the wall clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.unwrap_or_else(Utc::now)
    }

    pub(crate) fn set_clock(&mut self, now: DateTime<Utc>) {
        self.clock = Some(now);
    }

    /// The next write version.
    pub(crate) fn bump(&mut self) -> u64 {
        self.version += 1;
        self.version
    }

    /// A user by id or user principal name (case-insensitive, as Exchange matches SMTP).
    pub(crate) fn find_user(&self, key: &str) -> Option<&User> {
        self.users
            .iter()
            .find(|u| u.id.eq_ignore_ascii_case(key) || u.upn.eq_ignore_ascii_case(key))
    }

    pub(crate) fn user_by_id(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// Adds a mailbox with its primary calendar; an existing UPN returns the existing id.
    pub(crate) fn add_user(&mut self, upn: &str) -> String {
        if let Some(u) = self.find_user(upn) {
            return u.id.clone();
        }
        let id = self.ids.guid();
        let local = upn.split('@').next().unwrap_or(upn);
        let mut display_name: String = local.replace(['.', '_'], " ");
        if let Some(first) = display_name.get(0..1) {
            display_name = format!(
                "{}{}",
                first.to_uppercase(),
                display_name.get(1..).unwrap_or_default()
            );
        }
        self.users.push(User {
            id: id.clone(),
            upn: upn.to_owned(),
            display_name,
        });
        self.insert_calendar(&id, "Calendar", true);
        if self.auth.signed_in.is_none() {
            self.auth.signed_in = Some(id.clone());
        }
        id
    }

    pub(crate) fn insert_calendar(&mut self, owner: &str, name: &str, is_default: bool) -> String {
        let id = format!("AAMkAD{}AAA=", self.ids.token(30));
        let change_key = self.ids.change_key();
        self.calendars.insert(
            id.clone(),
            Calendar {
                id: id.clone(),
                owner: owner.to_owned(),
                name: name.to_owned(),
                change_key,
                is_default,
                shared_with: Vec::new(),
            },
        );
        id
    }

    pub(crate) fn primary_calendar(&self, user_id: &str) -> Option<String> {
        self.calendars
            .values()
            .find(|c| c.owner == user_id && c.is_default)
            .map(|c| c.id.clone())
    }

    /// A known user's calendar: `calendar_id`, or their primary one when `None`.
    pub(crate) fn user_calendar(&self, user: &str, calendar_id: Option<&str>) -> Option<String> {
        let owner = self.find_user(user)?.id.clone();
        calendar_id
            .map(str::to_owned)
            .or_else(|| self.primary_calendar(&owner))
    }

    /// Calendars that appear in `mailbox`'s own `/calendars`: its own and those shared with it.
    pub(crate) fn mailbox_calendars(&self, mailbox: &str) -> Vec<&Calendar> {
        self.calendars
            .values()
            .filter(|c| c.owner == mailbox || c.shared_with.iter().any(|u| u == mailbox))
            .collect()
    }

    /// The owner of the calendar holding an event (the mailbox transactionIds are unique in).
    pub(crate) fn calendar_owner(&self, calendar_id: &str) -> Option<&str> {
        self.calendars.get(calendar_id).map(|c| c.owner.as_str())
    }
}
