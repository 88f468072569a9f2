//! Pairs synced through the Microsoft Graph and Salesforce emulators over real HTTP on
//! 127.0.0.1, with the real connectors. Several pairs share one emulator of each kind (a
//! tenant and an org serving many users), and every connector shares one HTTP client, as
//! one process serving many calendar pairs would.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

use calbridge::SyncEngine;
use calbridge::core::SyncWindow;
use calbridge::model::{Event, EventTime, FieldHashes, ShowAs};
use calbridge::provider::{CalendarProvider, ListWindow};
use calbridge_benches::{bench_now, generated_event};
use calbridge_examples::emulated::{
    CLIENT_ID, CLIENT_SECRET, KEY_FIELD, signed_in_outlook, signed_in_salesforce,
};
use calbridge_outlook::OutlookProvider;
use calbridge_salesforce::SalesforceProvider;
use calbridge_testkit::graph::GraphEmulator;
use calbridge_testkit::salesforce::{CustomFieldKind, SalesforceEmulator};

use crate::options::Options;
use crate::{BoxError, build_engine};

/// How long the tokens the emulators issue stay valid (longer than any run).
const TOKEN_LIFETIME: Duration = Duration::from_secs(4 * 3600);
/// The time that passes between two syncs (and before the users' edits).
pub(crate) const BETWEEN_SYNCS: Duration = Duration::from_secs(10 * 60);
/// Windows zone names Graph events are written in, with their IANA equivalents.
const ZONES: [(&str, Tz); 4] = [
    ("UTC", chrono_tz::UTC),
    ("W. Europe Standard Time", chrono_tz::Europe::Berlin),
    ("Pacific Standard Time", chrono_tz::America::Los_Angeles),
    ("Tokyo Standard Time", chrono_tz::Asia::Tokyo),
];

/// One Graph tenant and one Salesforce org.
struct Shard {
    graph: GraphEmulator,
    salesforce: SalesforceEmulator,
}

/// One calendar pair: a mailbox on a Graph emulator, a user on a Salesforce emulator.
pub(crate) struct Pair {
    shard: usize,
    upn: String,
    owner: String,
    outlook: OutlookProvider,
    salesforce: Arc<SalesforceProvider>,
    pub(crate) engine: Arc<SyncEngine>,
}

/// Every emulator and pair.
pub(crate) struct World {
    shards: Vec<Shard>,
    pub(crate) pairs: Vec<Pair>,
    window: SyncWindow,
}

/// HTTP requests the emulators received, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Requests {
    pub(crate) graph_reads: usize,
    pub(crate) graph_writes: usize,
    pub(crate) salesforce_reads: usize,
    pub(crate) salesforce_writes: usize,
    /// Token endpoint calls, both services.
    pub(crate) auth: usize,
}

/// Graph JSON for a generated event, written in one of several zones.
fn graph_json(e: &Event, i: usize) -> Value {
    let (zone_name, zone) = ZONES[i % ZONES.len()];
    let local = |t: DateTime<Utc>| {
        t.with_timezone(&zone)
            .naive_local()
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string()
    };
    let (start, end, all_day) = match &e.time {
        EventTime::Timed { start, end, .. } => (local(*start), local(*end), false),
        EventTime::AllDay { start, end } => {
            (format!("{start}T00:00:00"), format!("{end}T00:00:00"), true)
        }
    };
    json!({
        "subject": e.subject,
        "start": {"dateTime": start, "timeZone": zone_name},
        "end": {"dateTime": end, "timeZone": zone_name},
        "isAllDay": all_day,
        "location": {"displayName": e.location},
        "body": {"contentType": "text", "content": e.body.plain_text()},
        "showAs": if e.show_as == ShowAs::Tentative { "tentative" } else { "busy" },
    })
}

async fn start_shard() -> Result<Shard, BoxError> {
    let graph = GraphEmulator::start().await?;
    graph.register_client(CLIENT_ID, Some(CLIENT_SECRET));
    let salesforce = SalesforceEmulator::start().await?;
    salesforce.register_client(CLIENT_ID, Some(CLIENT_SECRET), None);
    salesforce.add_custom_field(
        KEY_FIELD,
        CustomFieldKind::Text {
            max_len: 255,
            external_id: true,
        },
    );
    Ok(Shard { graph, salesforce })
}

impl World {
    /// Starts `ceil(pairs / users_per_emulator)` emulators of each kind, seeds `events`
    /// events on every pair's Outlook calendar and builds the engines.
    pub(crate) async fn start(o: &Options, dir: &std::path::Path) -> Result<Self, BoxError> {
        let http = calbridge_http::build_client(&calbridge_http::ClientOptions {
            request_timeout: Duration::from_secs(600),
            ..calbridge_http::ClientOptions::default()
        })?;
        let mut shards = Vec::new();
        for _ in 0..o.pairs.div_ceil(o.users_per_emulator) {
            shards.push(start_shard().await?);
        }
        let mut pairs = Vec::with_capacity(o.pairs);
        for index in 0..o.pairs {
            let shard = index / o.users_per_emulator;
            let s = &shards[shard];
            let upn = format!("rep{index}@contoso.example");
            let username = format!("rep{index}@acme.example");
            s.graph.add_user(&upn);
            for i in 0..o.events {
                let e = generated_event(String::new(), i);
                s.graph
                    .try_seed_event(&upn, None, graph_json(&e, i))
                    .map_err(|e| format!("seeding event {i}: {e}"))?;
            }
            let owner = s.salesforce.add_user(&username);
            let outlook = signed_in_outlook(&s.graph, &upn, TOKEN_LIFETIME)
                .await?
                .with_http_client(http.clone())
                .build()?;
            let salesforce = Arc::new(
                signed_in_salesforce(&s.salesforce, &username, &owner, TOKEN_LIFETIME)
                    .await?
                    .with_http_client(http.clone())
                    .build()?,
            );
            let engine = build_engine(outlook.clone(), Arc::clone(&salesforce), o, dir, index)?;
            pairs.push(Pair {
                shard,
                upn,
                owner,
                outlook,
                salesforce,
                engine: Arc::new(engine),
            });
        }
        let settings = calbridge::SyncSettings::default();
        let window = SyncWindow::new(settings.range, bench_now(), chrono_tz::UTC);
        let world = Self {
            shards,
            pairs,
            window,
        };
        world.take_requests();
        Ok(world)
    }

    /// Moves the Salesforce emulators' clocks on by [`BETWEEN_SYNCS`]: the connector re-reads
    /// the last minutes before its watermark (late commits), which syncs seconds apart would
    /// pay for and syncs minutes apart do not.
    pub(crate) fn pass_time(&self) {
        for s in &self.shards {
            s.salesforce.advance_clock(BETWEEN_SYNCS);
        }
    }

    /// The requests received since the last call, by kind; forgets them.
    pub(crate) fn take_requests(&self) -> Requests {
        let mut r = Requests::default();
        for s in &self.shards {
            for q in s.graph.requests() {
                if q.path_and_query.contains("/oauth2/") {
                    r.auth += 1;
                } else if graph_write(&q.method, &q.path_and_query, &q.body) {
                    r.graph_writes += 1;
                } else {
                    r.graph_reads += 1;
                }
            }
            s.graph.reset_requests();
            for q in s.salesforce.requests() {
                if q.path_and_query.starts_with("/services/oauth2/") {
                    r.auth += 1;
                } else if q.method == "GET" {
                    r.salesforce_reads += 1;
                } else {
                    r.salesforce_writes += 1;
                }
            }
            s.salesforce.reset_requests();
        }
        r
    }

    /// Whether every pair's two calendars hold the same canonical events in the window
    /// (read through the connectors; the requests this makes are forgotten).
    pub(crate) async fn converged(&self) -> Result<bool, BoxError> {
        let window = ListWindow {
            start: self.window.start,
            end: self.window.end,
        };
        let mut all = true;
        for p in &self.pairs {
            let outlook = p.outlook.list(&window).await?;
            let salesforce = p.salesforce.list(&window).await?;
            let (o, s) = (
                canonical(&outlook.events, &self.window),
                canonical(&salesforce.events, &self.window),
            );
            if o != s || !outlook.broken.is_empty() || !salesforce.broken.is_empty() {
                eprintln!(
                    "pair {} ({}): {} Outlook and {} Salesforce events differ",
                    p.upn,
                    p.owner,
                    o.len(),
                    s.len()
                );
                all = false;
            }
        }
        self.take_requests();
        Ok(all)
    }

    /// Edits one event in `edit_every` on each side (different events) and deletes one in
    /// `delete_every` on Outlook, as the users would in Outlook and Salesforce.
    pub(crate) fn edit_and_delete(&self, edit_every: usize, delete_every: usize) {
        for (n, s) in self.shards.iter().enumerate() {
            let rows = s.salesforce.events();
            for p in self.pairs.iter().filter(|p| p.shard == n) {
                let ids = s
                    .graph
                    .events(&p.upn, None)
                    .into_iter()
                    .filter_map(|v| v["id"].as_str().map(str::to_owned));
                for (k, id) in ids.enumerate() {
                    if k % edit_every == 0 {
                        let patch = json!({"location": {"displayName": format!("Moved {k}")}});
                        s.graph.user_edit(&p.upn, &id, patch);
                    } else if k % delete_every == 1 {
                        s.graph.user_delete(&p.upn, &id);
                    }
                }
                let ids = rows
                    .iter()
                    .filter(|v| v["OwnerId"].as_str() == Some(p.owner.as_str()))
                    .filter_map(|v| v["Id"].as_str());
                for (k, id) in ids.enumerate() {
                    if k % edit_every == edit_every / 2 {
                        s.salesforce
                            .user_edit(id, json!({"Subject": format!("Renamed {k}")}));
                    }
                }
            }
        }
        self.take_requests();
    }
}

/// Whether a Graph request writes: a `$batch` holding a non-GET request, or any other
/// non-GET request.
fn graph_write(method: &str, path: &str, body: &str) -> bool {
    if path.contains("/$batch") {
        serde_json::from_str::<Value>(body)
            .ok()
            .and_then(|v| {
                v["requests"].as_array().map(|list| {
                    list.iter()
                        .any(|r| r["method"].as_str().is_some_and(|m| m != "GET"))
                })
            })
            .unwrap_or(false)
    } else {
        method != "GET"
    }
}

/// The events in the window as sorted fingerprints, with what Salesforce cannot hold
/// (tentative and working-elsewhere show as busy there) folded the same way on both sides.
fn canonical(events: &[Event], window: &SyncWindow) -> Vec<u64> {
    let mut out: Vec<u64> = events
        .iter()
        .filter(|e| window.contains(&e.time))
        .map(|e| {
            let mut e = e.clone();
            if matches!(e.show_as, ShowAs::Tentative | ShowAs::WorkingElsewhere) {
                e.show_as = ShowAs::Busy;
            }
            FieldHashes::of(&e).combined()
        })
        .collect();
    out.sort_unstable();
    out
}
