//! The emulator's mutable state: org, users, connected apps, sessions, the Event table with
//! its tombstones, query cursors, faults and the request log.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, TimeDelta, Utc};

use super::RecordedRequest;
use super::faults::Faults;
use super::ids::{self, ORG_PREFIX, USER_PREFIX};
use super::schema::Schema;
use super::values::Val;
use crate::crypto::{base64_url, sha256};

/// Default page size of query results ([QOPT]: default and maximum 2,000).
pub(crate) const DEFAULT_PAGE_SIZE: usize = 2000;
/// Daily API allocation reported in `Sforce-Limit-Info` (Developer Edition).
pub(crate) const API_LIMIT: u64 = 15_000;
/// Session lifetime for tokens minted by the token endpoint (the common 2 h org setting).
pub(crate) const SESSION_TTL: Duration = Duration::from_secs(2 * 60 * 60);

/// A Salesforce user.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) username: String,
}

/// A connected app.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) secret: Option<String>,
    pub(crate) certificate_pem: Option<String>,
}

/// A live access token. Sessions slide: each successful call extends them by `ttl`, as
/// Salesforce does.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) user_id: String,
    pub(crate) ttl: Duration,
    pub(crate) expires: Instant,
}

/// What a refresh token grants.
#[derive(Debug, Clone)]
pub(crate) struct RefreshGrant {
    pub(crate) user_id: String,
    /// The connected app it was issued to; `None` for tokens from `issue_token`, which any
    /// client id may redeem.
    pub(crate) client_id: Option<String>,
}

/// A pending authorization code of the web-server flow.
#[derive(Debug, Clone)]
pub(crate) struct AuthCode {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    /// `(method, challenge)` when the authorize request carried PKCE.
    pub(crate) challenge: Option<(String, String)>,
    pub(crate) user_id: String,
    pub(crate) scope: String,
    pub(crate) expires: Instant,
}

/// One Event record, live or a tombstone.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) id: String,
    /// Field values by canonical API name; a missing key reads as the field's default.
    pub(crate) fields: HashMap<String, Val>,
    /// When the row went to the Recycle Bin.
    pub(crate) deleted: Option<DateTime<Utc>>,
}

impl Row {
    pub(crate) fn get(&self, name: &str) -> Val {
        match name {
            "Id" => Val::Text(self.id.clone()),
            "IsDeleted" => Val::Bool(self.deleted.is_some()),
            _ => self.fields.get(name).cloned().unwrap_or(Val::Null),
        }
    }

    pub(crate) fn flag(&self, name: &str) -> bool {
        self.fields
            .get(name)
            .and_then(Val::as_bool)
            .unwrap_or(false)
    }
}

/// A query cursor: the full result, paged out by offset.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    pub(crate) records: Vec<serde_json::Value>,
    pub(crate) page_size: usize,
    pub(crate) all_rows: bool,
}

/// Everything behind the emulator's mutex.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) base_url: String,
    pub(crate) org_id: String,
    pub(crate) schema: Schema,
    pub(crate) users: Vec<User>,
    /// Ids of non-Event records (accounts, contacts, …) that WhatId/WhoId may point at.
    pub(crate) related: HashSet<String>,
    pub(crate) clients: HashMap<String, Client>,
    pub(crate) sessions: HashMap<String, Session>,
    pub(crate) refresh_tokens: HashMap<String, RefreshGrant>,
    pub(crate) auth_codes: HashMap<String, AuthCode>,
    pub(crate) rows: Vec<Row>,
    pub(crate) index: HashMap<String, usize>,
    /// External-id field → value → rows that hold or held it (a lookup checks the row still
    /// does), so upserts and the uniqueness rule need no scan of every row.
    pub(crate) external: HashMap<String, HashMap<String, Vec<usize>>>,
    pub(crate) last_stamp: Option<DateTime<Utc>>,
    serial: u64,
    pub(crate) page_size: usize,
    pub(crate) cursors: HashMap<String, Cursor>,
    pub(crate) faults: Faults,
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) api_usage: u64,
    pub(crate) started: DateTime<Utc>,
    /// How far the emulator's clock runs ahead of the wall clock (see
    /// [`SalesforceEmulator::advance_clock`](super::SalesforceEmulator::advance_clock)).
    pub(crate) clock_offset: TimeDelta,
}

impl State {
    pub(crate) fn new(base_url: String) -> Self {
        let started = Utc::now();
        let mut state = Self {
            base_url,
            org_id: String::new(),
            schema: Schema::standard(),
            users: Vec::new(),
            related: HashSet::new(),
            clients: HashMap::new(),
            sessions: HashMap::new(),
            refresh_tokens: HashMap::new(),
            auth_codes: HashMap::new(),
            rows: Vec::new(),
            index: HashMap::new(),
            external: HashMap::new(),
            last_stamp: None,
            serial: 0,
            page_size: DEFAULT_PAGE_SIZE,
            cursors: HashMap::new(),
            faults: Faults::default(),
            requests: Vec::new(),
            api_usage: 0,
            started,
            clock_offset: TimeDelta::zero(),
        };
        state.org_id = state.mint_id(ORG_PREFIX);
        state
    }

    /// A fresh 18-character id with the given key prefix, never one already in use (records
    /// restored from a snapshot keep the ids another emulator minted).
    pub(crate) fn mint_id(&mut self, prefix: &str) -> String {
        loop {
            self.serial += 1;
            let id = ids::mint(prefix, self.serial);
            if !self.index.contains_key(&id) && !self.related.contains(&id) && !self.is_user(&id) {
                return id;
            }
        }
    }

    /// An unguessable-looking opaque string (tokens, codes, locators' entropy).
    pub(crate) fn mint_secret(&mut self, purpose: &str) -> String {
        self.serial += 1;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let seed = format!("{purpose}:{}:{}:{nanos}", self.serial, self.base_url);
        base64_url(&sha256(seed.as_bytes()))
    }

    /// The emulator's clock: the wall clock plus the offset it was advanced by.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// The next write timestamp: millisecond precision, strictly after every earlier one so
    /// `SystemModstamp` orders writes even within one millisecond.
    pub(crate) fn next_stamp(&mut self) -> DateTime<Utc> {
        let now = self.now();
        let now = now
            .checked_sub_signed(TimeDelta::nanoseconds(i64::from(
                now.timestamp_subsec_nanos() % 1_000_000,
            )))
            .unwrap_or(now);
        let stamp = match self.last_stamp {
            Some(last) if now <= last => last + TimeDelta::milliseconds(1),
            _ => now,
        };
        self.last_stamp = Some(stamp);
        stamp
    }

    pub(crate) fn add_user(&mut self, username: &str) -> String {
        if let Some(user) = self.users.iter().find(|u| u.username == username) {
            return user.id.clone();
        }
        let id = self.mint_id(USER_PREFIX);
        self.users.push(User {
            id: id.clone(),
            username: username.to_owned(),
        });
        id
    }

    pub(crate) fn user_by_name(&self, username: &str) -> Option<&User> {
        self.users.iter().find(|u| u.username == username)
    }

    pub(crate) fn is_user(&self, id: &str) -> bool {
        self.users.iter().any(|u| u.id == id)
    }

    /// The user that seeds and UI edits are attributed to: the first one, created on demand.
    pub(crate) fn default_user(&mut self) -> String {
        match self.users.first() {
            Some(u) => u.id.clone(),
            None => self.add_user("emulator.user@calbridge.test"),
        }
    }

    /// Starts a session for `user_id` and returns its access token, shaped like Salesforce's
    /// (`<15-char org id>!<opaque>`).
    pub(crate) fn new_session(&mut self, user_id: &str, ttl: Duration) -> String {
        let secret = self.mint_secret("access");
        let token = format!("{}!AR{secret}", &self.org_id[..15]);
        self.sessions.insert(
            token.clone(),
            Session {
                user_id: user_id.to_owned(),
                ttl,
                expires: Instant::now() + ttl,
            },
        );
        token
    }

    pub(crate) fn new_refresh_token(&mut self, user_id: &str, client_id: Option<&str>) -> String {
        let token = format!("5Aep861{}", self.mint_secret("refresh"));
        self.refresh_tokens.insert(
            token.clone(),
            RefreshGrant {
                user_id: user_id.to_owned(),
                client_id: client_id.map(str::to_owned),
            },
        );
        token
    }

    /// The user of a live session, extending it; `None` for unknown or expired tokens.
    pub(crate) fn authenticate(&mut self, token: &str) -> Option<String> {
        let now = Instant::now();
        let session = self.sessions.get_mut(token)?;
        if session.expires <= now {
            self.sessions.remove(token);
            return None;
        }
        session.expires = now + session.ttl;
        Some(session.user_id.clone())
    }

    /// Row index of a live or deleted record by 18-character id.
    pub(crate) fn row_index(&self, id18: &str) -> Option<usize> {
        self.index.get(id18).copied()
    }

    /// Indexes the external-id values of the row at `idx` (after it was added or changed).
    pub(crate) fn index_external(&mut self, idx: usize) {
        let Some(row) = self.rows.get(idx) else {
            return;
        };
        for def in self.schema.iter().filter(|d| d.external_id) {
            if let Some(Val::Text(value)) = row.fields.get(&def.name) {
                let rows = self
                    .external
                    .entry(def.name.clone())
                    .or_default()
                    .entry(value.clone())
                    .or_default();
                if !rows.contains(&idx) {
                    rows.push(idx);
                }
            }
        }
    }

    /// Rows (live or deleted) whose external-id field `field` holds `value`.
    pub(crate) fn rows_with<'a>(
        &'a self,
        field: &'a str,
        value: &'a str,
    ) -> impl Iterator<Item = &'a Row> + 'a {
        self.external
            .get(field)
            .and_then(|values| values.get(value))
            .into_iter()
            .flatten()
            .filter_map(|i| self.rows.get(*i))
            .filter(move |r| r.fields.get(field).and_then(Val::as_text) == Some(value))
    }

    pub(crate) fn live_rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.deleted.is_none())
    }
}
