//! An in-process emulator of the Salesforce REST API for the `Event` sObject, and of the
//! OAuth endpoints a connector authenticates with, served over real HTTP on `127.0.0.1`.
//!
//! It follows the facts collected in `shared/reference/salesforce.md`:
//!
//! - **OAuth** (`/services/oauth2/token`, `/authorize`, `/revoke`): refresh-token grant,
//!   authorization code with PKCE (the authorize endpoint consents at once and redirects), and
//!   the JWT bearer grant (RS256, verified against the connected app's certificate, `aud` =
//!   [`SalesforceEmulator::login_url`]). Token answers have the §4.3 shape with
//!   `instance_url` pointing back at the emulator; access tokens slide like real sessions.
//! - **REST** under `/services/data/vNN.N/` (42.0 to 67.0): `query` / `queryAll` with
//!   `nextRecordsUrl` paging, `sobjects/Event[/{id}]` GET/POST/PATCH/DELETE, upsert by
//!   external id (`sobjects/Event/{Field}/{value}` and `composite/sobjects/Event/{Field}`),
//!   sObject Collections (create/update/delete, 200 records, `allOrNone`), getUpdated /
//!   getDeleted, describe and limits. Every answer carries `Sforce-Limit-Info`.
//! - **Validation** with the real error codes: `STRING_TOO_LONG`, `REQUIRED_FIELD_MISSING`,
//!   `FIELD_INTEGRITY_EXCEPTION` (time rules), `MALFORMED_ID`,
//!   `INVALID_CROSS_REFERENCE_KEY`, `INVALID_FIELD`, `INVALID_TYPE_ON_FIELD_IN_RECORD`,
//!   `INVALID_FIELD_FOR_INSERT_UPDATE`, `DUPLICATE_VALUE`, ...
//! - **Faults** ([`SalesforceFault`]): request limit, 503, row locks, dropped connections
//!   (before or after applying a write), slow answers, expired sessions and cursors.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use calbridge_testkit::salesforce::{CustomFieldKind, SalesforceEmulator};
//! let sf = SalesforceEmulator::start().await?;
//! sf.add_user("ada@example.com");
//! sf.add_custom_field("Calbridge_Key__c", CustomFieldKind::Text { max_len: 255, external_id: true });
//! let tokens = sf.issue_token("ada@example.com", std::time::Duration::from_secs(3600));
//! let id = sf.seed_event(serde_json::json!({
//!     "Subject": "Kick-off",
//!     "StartDateTime": "2026-03-02T09:00:00Z",
//!     "EndDateTime": "2026-03-02T10:00:00Z",
//! }));
//! // ... point the connector at sf.instance_url() with tokens.access_token ...
//! # let _ = (tokens, id); Ok(()) }
//! ```

mod auth;
mod collections;
mod errors;
mod faults;
mod ids;
mod query;
mod records;
mod rest;
mod schema;
mod server;
mod snapshot;
mod soql;
mod state;
mod times;
mod values;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use faults::SalesforceFault;
pub use ids::salesforce_id_18;
pub use schema::CustomFieldKind;

use records::{Mode, Target};
use server::{ConnHandle, KillableListener, Shared, lock};
use state::State;

/// The API version [`SalesforceEmulator::api_version`] reports (Winter '25).
const API_VERSION: &str = "v62.0";
/// Lowest version served: sObject Collections need 42.0.
pub(crate) const MIN_VERSION: u32 = 42;
/// Highest version served (Summer '26).
pub(crate) const MAX_VERSION: u32 = 67;

/// Tokens minted by [`SalesforceEmulator::issue_token`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceTokens {
    /// The bearer token for REST calls (`<org id>!<opaque>`).
    pub access_token: String,
    /// A refresh token any client id may redeem at the token endpoint.
    pub refresh_token: String,
}

/// One request the emulator received, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The HTTP method, e.g. `PATCH`.
    pub method: String,
    /// The path and query string as sent.
    pub path_and_query: String,
    /// The body as text (lossy UTF-8). Headers, hence the `Authorization` value, are never
    /// recorded.
    pub body: String,
}

/// Stops the server when the last [`SalesforceEmulator`] handle is dropped.
#[derive(Debug)]
struct ShutdownGuard(Option<oneshot::Sender<()>>);

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            // The server may already be gone; nothing to do then.
            let _ = tx.send(());
        }
    }
}

/// A running Salesforce emulator. Cloning gives another handle to the same server, which
/// stops when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct SalesforceEmulator {
    shared: Shared,
    addr: SocketAddr,
    _guard: Arc<ShutdownGuard>,
}

impl SalesforceEmulator {
    /// Starts a server on `127.0.0.1` with a random port, on the current Tokio runtime.
    ///
    /// # Errors
    /// Binding the listener failed.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared: Shared = Arc::new(Mutex::new(State::new(format!("http://{addr}"))));
        let app = server::router(Arc::clone(&shared));
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(
                KillableListener { inner: listener },
                app.into_make_service_with_connect_info::<ConnHandle>(),
            )
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "salesforce emulator stopped with an error");
            }
        });
        tracing::debug!(%addr, "salesforce emulator started");
        Ok(Self {
            shared,
            addr,
            _guard: Arc::new(ShutdownGuard(Some(tx))),
        })
    }

    /// The instance URL (`http://127.0.0.1:PORT`), as token answers report it.
    #[must_use]
    pub fn instance_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The login host: the same server (token endpoint at `/services/oauth2/token`). JWT
    /// assertions must name it as `aud`.
    #[must_use]
    pub fn login_url(&self) -> String {
        self.instance_url()
    }

    /// The API version connectors should use, e.g. `v62.0` (any version from 42.0 to 67.0 is
    /// served).
    #[must_use]
    pub fn api_version(&self) -> &'static str {
        API_VERSION
    }

    /// Registers a connected app. With a secret, the authorization-code grant requires it
    /// and other grants check it when sent; with a certificate (or public key) PEM, the app
    /// can use the JWT bearer grant.
    pub fn register_client(
        &self,
        client_id: &str,
        client_secret: Option<&str>,
        certificate_pem: Option<&str>,
    ) {
        lock(&self.shared).clients.insert(
            client_id.to_owned(),
            state::Client {
                secret: client_secret.map(str::to_owned),
                certificate_pem: certificate_pem.map(str::to_owned),
            },
        );
    }

    /// Adds a user (idempotent per username) and returns its 18-character `005` id. The first
    /// user owns seeded events and is who the authorize endpoint logs in without `login_hint`.
    pub fn add_user(&self, username: &str) -> String {
        lock(&self.shared).add_user(username)
    }

    /// Mints an access token living `ttl` (sliding: each call extends it) and a refresh
    /// token for `username`, adding the user if unknown.
    pub fn issue_token(&self, username: &str, ttl: Duration) -> SalesforceTokens {
        let mut st = lock(&self.shared);
        let user_id = st.add_user(username);
        SalesforceTokens {
            access_token: st.new_session(&user_id, ttl),
            refresh_token: st.new_refresh_token(&user_id, None),
        }
    }

    /// Adds a custom field to Event (an Activity custom field).
    ///
    /// # Panics
    /// If `api_name` does not end in `__c`.
    pub fn add_custom_field(&self, api_name: &str, kind: CustomFieldKind) {
        assert!(
            api_name.ends_with("__c") && api_name.len() > 3,
            "custom field API names end in __c: {api_name}"
        );
        lock(&self.shared).schema.add_custom(api_name, &kind);
    }

    /// Makes a non-Event record exist so `WhatId` / `WhoId` / `OwnerId` writes may point at
    /// it: given a 3-character key prefix (`001` account, `003` contact, `00Q` lead, `006`
    /// opportunity, `023` calendar, ...) mints a new id; given a 15/18-character id,
    /// registers it. Returns the 18-character id.
    ///
    /// # Panics
    /// If the argument is neither a 3-character prefix nor a valid id.
    pub fn add_related_record(&self, prefix_or_id: &str) -> String {
        let mut st = lock(&self.shared);
        let id =
            if prefix_or_id.len() == 3 && prefix_or_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                st.mint_id(prefix_or_id)
            } else {
                match salesforce_id_18(prefix_or_id) {
                    Some(id) => id,
                    None => panic!("not a key prefix or a Salesforce id: {prefix_or_id}"),
                }
            };
        st.related.insert(id.clone());
        id
    }

    /// Inserts an event as if created in Salesforce's UI and returns its 18-character id.
    ///
    /// `fields` uses API names. Read-only fields may be given (`Id`, `IsChild`,
    /// `CreatedDate`, `SystemModstamp`, `RecurrenceActivityId`, ...) and references need not
    /// exist, but types, lengths and the time rules apply. `OwnerId` defaults to the first
    /// user (created on demand).
    ///
    /// # Panics
    /// If `fields` is not an object or Salesforce would refuse the record.
    pub fn seed_event(&self, fields: Value) -> String {
        let mut st = lock(&self.shared);
        seed(&mut st, &fields)
    }

    /// Seeds a Classic recurring series: a master (`IsRecurrence = true`) and its
    /// occurrences, all with `RecurrenceActivityId` = the master's id (as [CDC] shows).
    /// Returns the master id and the occurrence ids. Deleting the master through the API
    /// deletes the occurrences too.
    ///
    /// # Panics
    /// As [`seed_event`](Self::seed_event).
    pub fn seed_recurring_series(
        &self,
        master: Value,
        occurrences: Vec<Value>,
    ) -> (String, Vec<String>) {
        let mut st = lock(&self.shared);
        let master_id = st.mint_id(ids::EVENT_PREFIX);
        let mut master = master;
        if let Some(obj) = master.as_object_mut() {
            obj.insert("Id".to_owned(), Value::String(master_id.clone()));
            obj.insert("IsRecurrence".to_owned(), Value::Bool(true));
            obj.insert(
                "RecurrenceActivityId".to_owned(),
                Value::String(master_id.clone()),
            );
        }
        seed(&mut st, &master);
        let ids = occurrences
            .into_iter()
            .map(|mut occ| {
                if let Some(obj) = occ.as_object_mut() {
                    obj.insert("IsRecurrence".to_owned(), Value::Bool(false));
                    obj.insert(
                        "RecurrenceActivityId".to_owned(),
                        Value::String(master_id.clone()),
                    );
                }
                seed(&mut st, &occ)
            })
            .collect();
        (master_id, ids)
    }

    /// Live events as `GET sobjects/Event/{id}` returns them, in creation order.
    #[must_use]
    pub fn events(&self) -> Vec<Value> {
        let st = lock(&self.shared);
        st.live_rows()
            .map(|r| records::render(&st, r, API_VERSION, None))
            .collect()
    }

    /// One live event by 15- or 18-character id.
    #[must_use]
    pub fn event(&self, id: &str) -> Option<Value> {
        let st = lock(&self.shared);
        match records::resolve(&st, id) {
            Target::Live(id) => st
                .row_index(&id)
                .map(|i| records::render(&st, &st.rows[i], API_VERSION, None)),
            _ => None,
        }
    }

    /// Edits an event as a user would in Salesforce (bumping `SystemModstamp`). Returns
    /// false when no live event has this id.
    ///
    /// # Panics
    /// If Salesforce would refuse the edit (bad field, type, length, time rules).
    pub fn user_edit(&self, id: &str, fields: Value) -> bool {
        let mut st = lock(&self.shared);
        let Target::Live(id) = records::resolve(&st, id) else {
            return false;
        };
        let Some(obj) = fields.as_object() else {
            panic!("user_edit: fields must be a JSON object");
        };
        let user = first_user(&mut st);
        if let Err(e) = records::update(&mut st, &id, obj, &user, Mode::Seed) {
            panic!("user_edit: Salesforce would refuse this edit: {e:?}");
        }
        true
    }

    /// Deletes an event as a user would (to the Recycle Bin: a tombstone visible to
    /// `queryAll` and getDeleted). Returns false when no live event has this id.
    pub fn user_delete(&self, id: &str) -> bool {
        let mut st = lock(&self.shared);
        match records::resolve(&st, id) {
            Target::Live(id) => records::delete(&mut st, &id).is_ok(),
            _ => false,
        }
    }

    /// Moves the emulator's clock (`SystemModstamp` of later writes, the `Date` header,
    /// replication windows) `by` further ahead of the wall clock: what a benchmark does to
    /// stand for the minutes between two syncs without waiting for them.
    pub fn advance_clock(&self, by: Duration) {
        let by = chrono::TimeDelta::from_std(by).unwrap_or(chrono::TimeDelta::zero());
        lock(&self.shared).clock_offset += by;
    }

    /// Caps query pages at `n` records (default 2,000), below whatever `batchSize` asks:
    /// real pages can be smaller than requested.
    pub fn set_page_size(&self, n: usize) {
        lock(&self.shared).page_size = n.max(1);
    }

    /// Injects a fault. `ExpireSessions` and `ExpireQueryLocators` act at once; the others
    /// arm and fire on later requests.
    pub fn inject(&self, fault: SalesforceFault) {
        let mut st = lock(&self.shared);
        tracing::debug!(?fault, "salesforce emulator: fault injected");
        match fault {
            SalesforceFault::ExpireSessions => st.sessions.clear(),
            SalesforceFault::ExpireQueryLocators => st.cursors.clear(),
            other => st.faults.arm(other),
        }
    }

    /// Disarms every pending fault.
    pub fn clear_faults(&self) {
        lock(&self.shared).faults.clear();
    }

    /// Every request received since the start or the last [`reset_requests`](Self::reset_requests),
    /// OAuth included.
    #[must_use]
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared).requests.clone()
    }

    /// How many requests [`requests`](Self::requests) holds.
    #[must_use]
    pub fn request_count(&self) -> usize {
        lock(&self.shared).requests.len()
    }

    /// Forgets the recorded requests.
    pub fn reset_requests(&self) {
        lock(&self.shared).requests.clear();
    }

    /// API calls counted so far, as `Sforce-Limit-Info: api-usage=N/15000` reports: one per
    /// authenticated data request (a collection of 200 records counts once).
    #[must_use]
    pub fn api_usage(&self) -> u64 {
        lock(&self.shared).api_usage
    }
}

fn first_user(st: &mut State) -> String {
    st.default_user()
}

fn seed(st: &mut State, fields: &Value) -> String {
    let Some(obj) = fields.as_object() else {
        panic!("seed_event: fields must be a JSON object, got {fields}");
    };
    let owner = first_user(st);
    match records::create(st, obj, &owner, Mode::Seed) {
        Ok(id) => id,
        Err(e) => panic!("seed_event: Salesforce would refuse this record: {e:?}"),
    }
}
