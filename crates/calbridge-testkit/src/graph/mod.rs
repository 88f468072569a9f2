//! An in-process Microsoft Graph calendar emulator, served over real HTTP on `127.0.0.1`.
//!
//! It implements what a calendar sync connector uses, following
//! `shared/reference/graph.md`:
//!
//! - `/v1.0/me/...` and `/v1.0/users/{id|upn}/...`: `calendar`, `calendars`,
//!   `calendars/{id}`, `events` (list, `POST`), `events/{id}` (`GET`/`PATCH`/`DELETE`),
//!   `events/{id}/instances`, `calendarView` and `calendarView/delta` under the mailbox,
//!   `calendar/` or `calendars/{id}/`, and `POST /v1.0/$batch`;
//! - paging (`$top`, `Prefer: odata.maxpagesize`, absolute `@odata.nextLink` back to the
//!   emulator), `$select`, `$expand=singleValueExtendedProperties(...)`, `$filter` on an
//!   extended property, `Prefer: outlook.timezone` (Windows or IANA names);
//! - recurring series (daily, weekly, monthly and yearly patterns) expanded into occurrences
//!   with stable ids, exceptions created by patching an occurrence;
//! - delta rounds with `@removed` items and `410 syncStateNotFound` for dead tokens;
//! - the identity platform endpoints under `/{tenant}/oauth2/v2.0/` (token, devicecode,
//!   authorize) and bearer checks;
//! - injected faults ([`GraphFault`]).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use calbridge_testkit::graph::GraphEmulator;
//! let graph = GraphEmulator::start().await?;
//! graph.add_user("adele@contoso.com");
//! let tokens = graph.issue_token("adele@contoso.com", std::time::Duration::from_secs(3600));
//! let id = graph.seed_event("adele@contoso.com", None, serde_json::json!({
//!     "subject": "Standup",
//!     "start": {"dateTime": "2026-03-02T09:00:00", "timeZone": "W. Europe Standard Time"},
//!     "end": {"dateTime": "2026-03-02T09:15:00", "timeZone": "W. Europe Standard Time"},
//! }));
//! // GET {base_url}/me/events/{id} with `Authorization: Bearer {tokens.access_token}`.
//! # let _ = (tokens, id, graph.base_url());
//! # Ok(()) }
//! ```

mod api;
mod auth;
mod batch;
mod delta;
mod events;
mod faults;
mod handlers;
mod ids;
mod input;
mod json;
mod oauth;
mod odata;
mod recurrence;
mod server;
mod snapshot;
mod state;
mod store;
mod types;
mod view;

pub use self::types::{GraphFault, GraphTokens, IdStyle, RecordedRequest};

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::StatusCode;
use serde_json::Value;

use self::auth::Principal;
use self::events::{RenderOpts, render};
use self::faults::Action;
use self::handlers::render_found;
use self::input::{Mode, parse_changes};
use self::state::{Shared, State, lock};
use self::view::{Found, calendar_of, find};

/// Aborts the server task when the last emulator handle goes away.
#[derive(Debug)]
struct ServerTask(tokio::task::JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A running Graph emulator. Cloning gives another handle to the same server; the server
/// stops when the last handle is dropped.
#[derive(Clone)]
pub struct GraphEmulator {
    shared: Shared,
    authority: String,
    _task: Arc<ServerTask>,
}

impl std::fmt::Debug for GraphEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphEmulator")
            .field("authority", &self.authority)
            .finish_non_exhaustive()
    }
}

impl GraphEmulator {
    /// Starts an emulator on `127.0.0.1` with a random port.
    ///
    /// # Errors
    /// Binding the listener failed.
    pub async fn start() -> std::io::Result<Self> {
        let (shared, authority, task) = server::start().await?;
        Ok(Self {
            shared,
            authority,
            _task: Arc::new(ServerTask(task)),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        lock(&self.shared)
    }

    /// The Graph base URL, `http://127.0.0.1:PORT/v1.0`.
    pub fn base_url(&self) -> String {
        format!("{}/v1.0", self.authority)
    }

    /// The identity authority, `http://127.0.0.1:PORT`; the token endpoints are
    /// `{authority}/{tenant}/oauth2/v2.0/{token,devicecode,authorize}` for any tenant.
    pub fn authority(&self) -> String {
        self.authority.clone()
    }

    /// Registers an app. With a secret it is confidential (client credentials allowed, a
    /// wrong secret is `invalid_client`); without, it is a public client.
    pub fn register_client(&self, client_id: &str, client_secret: Option<&str>) {
        self.state()
            .auth
            .clients
            .insert(client_id.to_owned(), client_secret.map(str::to_owned));
    }

    /// Adds a mailbox (with its primary calendar "Calendar") and returns its id. The
    /// first user added is the one interactive flows sign in as. Adding an existing UPN
    /// returns the existing id. `/me` resolves to the token's user.
    pub fn add_user(&self, user: &str) -> String {
        self.state().add_user(user)
    }

    /// Resolves a user by id or UPN, adding it when unknown.
    fn user_id(st: &mut State, user: &str) -> String {
        match st.find_user(user) {
            Some(u) => u.id.clone(),
            None => st.add_user(user),
        }
    }

    /// Resolves a user (added when unknown) and one of their calendars: `calendar_id`, or the
    /// primary one. Returns the calendar's id.
    fn user_calendar(
        st: &mut State,
        user: &str,
        calendar_id: Option<&str>,
    ) -> Result<String, String> {
        Self::user_id(st, user);
        let cal = st
            .user_calendar(user, calendar_id)
            .ok_or("the user has no primary calendar")?;
        if !st.calendars.contains_key(&cal) {
            return Err(format!("unknown calendar {cal}"));
        }
        Ok(cal)
    }

    /// Adds a secondary calendar to a user (added first if unknown) and returns its id.
    pub fn add_calendar(&self, user: &str, name: &str) -> String {
        let mut st = self.state();
        let owner = Self::user_id(&mut st, user);
        st.insert_calendar(&owner, name, false)
    }

    /// Shares `owner`'s calendar with `with_user`: it then appears in `with_user`'s
    /// `/me/calendars` (owner = the sharer, `canShare: false`) and under
    /// `/users/{owner}/...` for them. Unknown ids are ignored.
    pub fn share_calendar(&self, owner: &str, calendar_id: &str, with_user: &str) {
        let mut st = self.state();
        let owner_id = Self::user_id(&mut st, owner);
        let with = Self::user_id(&mut st, with_user);
        if let Some(cal) = st
            .calendars
            .get_mut(calendar_id)
            .filter(|c| c.owner == owner_id)
            && !cal.shared_with.contains(&with)
        {
            cal.shared_with.push(with);
        }
    }

    /// Issues a delegated access token (valid for `ttl` on the emulator's clock) and a
    /// refresh token usable by any registered client.
    pub fn issue_token(&self, user: &str, ttl: Duration) -> GraphTokens {
        let mut st = self.state();
        let id = Self::user_id(&mut st, user);
        let body = auth::issue(
            &mut st,
            Principal::User(id),
            None,
            "https://graph.microsoft.com/.default offline_access",
            true,
            ttl,
        );
        let text = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        GraphTokens {
            access_token: text("access_token"),
            refresh_token: text("refresh_token"),
        }
    }

    /// Seeds an event from Graph JSON (a POST body or a documented response: read-only
    /// properties such as `isCancelled` and `hasAttachments` are applied, unknown ones
    /// ignored) into `calendar_id` or the primary calendar, and returns its id.
    ///
    /// # Panics
    /// When the event is invalid or the calendar unknown: a broken fixture should fail the
    /// test loudly. Use [`GraphEmulator::try_seed_event`] to get the error instead.
    pub fn seed_event(&self, user: &str, calendar_id: Option<&str>, event: Value) -> String {
        match self.try_seed_event(user, calendar_id, event) {
            Ok(id) => id,
            Err(e) => panic!("GraphEmulator::seed_event: {e}"),
        }
    }

    /// [`GraphEmulator::seed_event`] returning the Graph error message instead of panicking.
    ///
    /// # Errors
    /// The event fails validation (as a POST would) or the calendar is unknown.
    pub fn try_seed_event(
        &self,
        user: &str,
        calendar_id: Option<&str>,
        event: Value,
    ) -> Result<String, String> {
        let mut st = self.state();
        let cal = Self::user_calendar(&mut st, user, calendar_id)?;
        let changes = parse_changes(&event, Mode::Trusted)
            .map_err(|e| format!("{}: {}", e.code, e.message))?;
        store::create(&mut st, &cal, changes).map_err(|e| format!("{}: {}", e.code, e.message))
    }

    /// The single instances and series masters of a calendar (primary when `None`) as
    /// `GET /events` returns them, in UTC, plus every stored
    /// `singleValueExtendedProperties` (which a GET returns only through `$expand`).
    pub fn events(&self, user: &str, calendar_id: Option<&str>) -> Vec<Value> {
        let st = self.state();
        let Some(cal) = st.user_calendar(user, calendar_id) else {
            return Vec::new();
        };
        let opts = RenderOpts {
            all_ext: true,
            ..RenderOpts::default()
        };
        let mut list: Vec<_> = st
            .events
            .values()
            .filter(|e| e.calendar_id == cal && e.master_id().is_none())
            .collect();
        list.sort_by(|a, b| (a.start.utc, &a.id).cmp(&(b.start.utc, &b.id)));
        list.into_iter()
            .map(|e| Value::Object(render(e, &opts)))
            .collect()
    }

    /// One event, exception or occurrence visible to `user`, as `GET /me/events/{id}`
    /// returns it (UTC), plus its extended properties.
    pub fn event(&self, user: &str, id: &str) -> Option<Value> {
        let st = self.state();
        let found = Self::visible(&st, user, id)?;
        let opts = RenderOpts {
            all_ext: true,
            ..RenderOpts::default()
        };
        render_found(&st, &found, &opts).ok().map(Value::Object)
    }

    fn visible(st: &State, user: &str, id: &str) -> Option<Found> {
        let owner = st.find_user(user)?.id.clone();
        let found = find(st, id)?;
        let cal = calendar_of(st, &found)?;
        st.mailbox_calendars(&owner)
            .iter()
            .any(|c| c.id == cal)
            .then_some(found)
    }

    /// Applies an edit as the user would in Outlook (any property, read-only ones such as
    /// `isCancelled` included): new change key and `lastModifiedDateTime`, visible to delta.
    /// Editing an occurrence turns it into an exception. Returns `false` when the event
    /// is not visible to the user or the edit is invalid.
    pub fn user_edit(&self, user: &str, id: &str, patch: Value) -> bool {
        let mut st = self.state();
        let Some(found) = Self::visible(&st, user, id) else {
            return false;
        };
        let Ok(changes) = parse_changes(&patch, Mode::Trusted) else {
            return false;
        };
        store::update(&mut st, &found, changes, None).is_ok()
    }

    /// Deletes an event, series or occurrence as the user would. Returns `false` when it
    /// is not visible to the user.
    pub fn user_delete(&self, user: &str, id: &str) -> bool {
        let mut st = self.state();
        let Some(found) = Self::visible(&st, user, id) else {
            return false;
        };
        store::delete(&mut st, &found, None).is_ok()
    }

    /// Injects a fault (see [`GraphFault`]).
    pub fn inject(&self, fault: GraphFault) {
        let mut st = self.state();
        tracing::debug!(?fault, "graph emulator: fault injected");
        match fault {
            GraphFault::Throttle {
                retry_after,
                times,
                path,
            } => st.faults.arm(Action::Throttle(retry_after), times, path),
            GraphFault::Unavailable {
                status,
                times,
                path,
            } => st.faults.arm(Action::Unavailable(status), times, path),
            GraphFault::DropConnection { times, path } => st.faults.arm(Action::Drop, times, path),
            GraphFault::Slow { delay, times, path } => {
                st.faults.arm(Action::Slow(delay), times, path)
            }
            GraphFault::ExpireTokens => {
                let now = st.now();
                st.auth.expire_access_tokens(now);
            }
            GraphFault::ExpireDeltaTokens => st.delta.expire_all(),
            GraphFault::BatchItemThrottle { retry_after, times } => {
                st.faults.arm_batch_items(retry_after, times)
            }
            GraphFault::ResyncRequired { times } => st.delta.resync_required += times,
            GraphFault::RevokeRefreshTokens => st.auth.revoke_refresh_tokens(),
        }
    }

    /// Disarms every queued fault (expired tokens stay expired).
    pub fn clear_faults(&self) {
        let mut st = self.state();
        st.faults.clear();
        st.delta.resync_required = 0;
    }

    /// Every request received since the last reset, oldest first. A `$batch` is one
    /// request; token endpoint calls are included.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state()
            .requests
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// How many requests were received since the last reset.
    pub fn request_count(&self) -> usize {
        self.state().requests.len()
    }

    /// Forgets the recorded requests.
    pub fn reset_requests(&self) {
        self.state().requests.clear();
    }

    /// Pins the emulator's clock (`createdDateTime`, `lastModifiedDateTime`, token and
    /// code expiry). Default: the wall clock.
    pub fn set_clock(&self, now: DateTime<Utc>) {
        self.state().set_clock(now);
    }

    /// Chooses the shape of ids minted from now on.
    pub fn set_id_style(&self, style: IdStyle) {
        self.state().ids.style = style;
    }

    /// The user the authorize endpoint and the device flow sign in as (default: the first
    /// user added; a `login_hint` on authorize takes precedence).
    pub fn set_signed_in_user(&self, user: &str) {
        let mut st = self.state();
        let id = Self::user_id(&mut st, user);
        st.auth.signed_in = Some(id);
    }

    /// Device flow: how many polls answer `authorization_pending` before success
    /// (default 1) and the `interval` announced, in seconds (default 1; Entra says 5).
    pub fn set_device_flow(&self, pending_polls: u32, interval_secs: u64) {
        let mut st = self.state();
        st.auth.device_pending_polls = pending_polls;
        st.auth.device_interval = interval_secs;
    }

    /// Lifetime of tokens from the token endpoint (default 3599 s).
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.state().auth.token_ttl = ttl;
    }

    /// HTTP status of `ErrorDuplicateTransactionId` (default 400; graph.md §1.7 says
    /// clients should accept 400 or 409).
    pub fn set_duplicate_transaction_status(&self, status: u16) {
        self.state().duplicate_txn_status =
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    }
}
