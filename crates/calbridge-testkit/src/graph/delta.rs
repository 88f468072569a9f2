//! `calendarView/delta` (graph.md §4): rounds of pages linked by opaque `$skiptoken`s and
//! ending in a `$deltatoken`, computed against a per-chain snapshot of what the client holds.
//!
//! Fidelity points: only the newest link of a chain is valid (older ones answer 410
//! `syncStateNotFound`), occurrences are bare, a series is never split across pages,
//! changes outside the window surface as `@removed`, and deleting a single instance of a
//! series shows up only as a change of its master.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Utc};
use http::StatusCode;
use serde_json::{Value, json};

use super::api::ApiRequest;
use super::events::{RenderOpts, render, render_bare_occurrence};
use super::json::{ApiError, ApiResponse};
use super::odata::window;
use super::state::State;
use super::view::{ItemKind, ViewItem, window_items};

/// Delta's page size when the client sends no `odata.maxpagesize`.
const DEFAULT_PAGE: usize = 10;

/// All delta chains and the links that point into them.
#[derive(Debug, Default)]
pub(crate) struct DeltaState {
    chains: HashMap<u64, Chain>,
    links: HashMap<String, LinkRef>,
    next_chain: u64,
    /// Remaining injected `resyncRequired` answers.
    pub(crate) resync_required: u32,
}

impl DeltaState {
    /// Kills every chain (fault `ExpireDeltaTokens`): their links answer 410.
    pub(crate) fn expire_all(&mut self) {
        for chain in self.chains.values_mut() {
            chain.dead = true;
            chain.round = None;
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct LinkRef {
    chain: u64,
    generation: u64,
}

/// What the client holds: item id → (marker, series group).
type Snapshot = HashMap<String, (u64, String)>;

#[derive(Debug)]
struct Chain {
    calendar_id: String,
    ws: DateTime<Utc>,
    we: DateTime<Utc>,
    /// The initial request URL, for the `Location` of a 410.
    initial_url: String,
    generation: u64,
    dead: bool,
    snapshot: Snapshot,
    cursor: u64,
    round: Option<Round>,
}

#[derive(Debug)]
struct Round {
    groups: VecDeque<Vec<Entry>>,
    snapshot: Snapshot,
    cursor: u64,
}

#[derive(Debug, Clone)]
enum Entry {
    Item(ViewItem),
    Removed(String),
}

fn gone(code: &str, message: String, location: Option<&str>) -> ApiError {
    let e = ApiError::new(StatusCode::GONE, code, message);
    match location {
        Some(l) => e.with_header("Location", l),
        None => e,
    }
}

/// Serves one delta request for `calendar_id`.
pub(crate) fn handle(
    state: &mut State,
    req: &ApiRequest<'_>,
    calendar_id: &str,
) -> Result<ApiResponse, ApiError> {
    let token = req
        .query
        .get("$deltatoken")
        .map(|t| (t.to_owned(), true))
        .or_else(|| req.query.get("$skiptoken").map(|t| (t.to_owned(), false)));
    let chain_id = match token {
        None => start_chain(state, req, calendar_id)?,
        Some((tok, is_delta)) => {
            let link = state.delta.links.get(&tok).copied().ok_or_else(|| {
                gone(
                    "syncStateNotFound",
                    "The sync state is not found.".into(),
                    None,
                )
            })?;
            let resync = state.delta.resync_required > 0;
            let chain = state.delta.chains.get_mut(&link.chain).ok_or_else(|| {
                gone(
                    "syncStateNotFound",
                    "The sync state is not found.".into(),
                    None,
                )
            })?;
            if resync {
                chain.dead = true;
                chain.round = None;
                let url = chain.initial_url.clone();
                state.delta.resync_required -= 1;
                return Err(gone(
                    "resyncRequired",
                    "The delta token is no longer valid; the app must reset its sync state.".into(),
                    Some(&url),
                ));
            }
            if chain.dead
                || link.generation != chain.generation
                || (!is_delta && chain.round.is_none())
            {
                return Err(gone(
                    "syncStateNotFound",
                    format!(
                        "The sync state generation is not found; generation={};[highest={}]",
                        link.generation, chain.generation
                    ),
                    Some(&chain.initial_url),
                ));
            }
            if is_delta {
                let round = compute_round(state, link.chain, false);
                if let Some(chain) = state.delta.chains.get_mut(&link.chain) {
                    chain.round = Some(round);
                }
            }
            link.chain
        }
    };
    serve_page(state, req, chain_id)
}

fn start_chain(
    state: &mut State,
    req: &ApiRequest<'_>,
    calendar_id: &str,
) -> Result<u64, ApiError> {
    let (ws, we) = window(req)?;
    let id = state.delta.next_chain;
    state.delta.next_chain += 1;
    let initial_url = format!(
        "{}?{}",
        req.self_url(state),
        req.query.without(&["$skiptoken", "$deltatoken"])
    );
    state.delta.chains.insert(
        id,
        Chain {
            calendar_id: calendar_id.to_owned(),
            ws,
            we,
            initial_url,
            generation: 0,
            dead: false,
            snapshot: Snapshot::new(),
            cursor: 0,
            round: None,
        },
    );
    let round = compute_round(state, id, true);
    if let Some(chain) = state.delta.chains.get_mut(&id) {
        chain.round = Some(round);
    }
    Ok(id)
}

/// Everything that changed for the chain since its last round.
fn compute_round(state: &State, chain_id: u64, initial: bool) -> Round {
    let Some(chain) = state.delta.chains.get(&chain_id) else {
        return Round {
            groups: VecDeque::new(),
            snapshot: Snapshot::new(),
            cursor: state.version,
        };
    };
    let current = window_items(state, &chain.calendar_id, chain.ws, chain.we, true);
    let in_view: HashMap<&str, &ViewItem> = current.iter().map(|i| (i.id.as_str(), i)).collect();
    let mut removed: Vec<String> = Vec::new();
    if !initial {
        for (id, (_, group)) in &chain.snapshot {
            if in_view.contains_key(id.as_str()) {
                continue;
            }
            // A vanished instance of a series that is still in view is not reported: Graph
            // only reports the master's change (graph.md §4.4, pitfall 4).
            if group != id && in_view.contains_key(group.as_str()) {
                continue;
            }
            removed.push(id.clone());
        }
        // Changes outside the window surface as @removed (graph.md §4.4, pitfall 2).
        let outside = state
            .events
            .values()
            .filter(|e| e.calendar_id == chain.calendar_id && e.version > chain.cursor)
            .map(|e| &e.id)
            .chain(
                state
                    .tombstones
                    .iter()
                    .filter(|t| t.calendar_id == chain.calendar_id && t.version > chain.cursor)
                    .map(|t| &t.id),
            );
        for id in outside {
            if !in_view.contains_key(id.as_str())
                && !chain.snapshot.contains_key(id)
                && !removed.contains(id)
            {
                removed.push(id.clone());
            }
        }
        removed.sort();
    }
    let mut groups: VecDeque<Vec<Entry>> = removed
        .into_iter()
        .map(|id| vec![Entry::Removed(id)])
        .collect();
    let mut order: Vec<String> = Vec::new();
    let mut by_group: HashMap<String, Vec<Entry>> = HashMap::new();
    for item in &current {
        let changed = initial || chain.snapshot.get(&item.id).map(|(m, _)| *m) != Some(item.marker);
        if changed {
            if !by_group.contains_key(&item.group) {
                order.push(item.group.clone());
            }
            by_group
                .entry(item.group.clone())
                .or_default()
                .push(Entry::Item(item.clone()));
        }
    }
    groups.extend(order.into_iter().filter_map(|g| by_group.remove(&g)));
    Round {
        groups,
        snapshot: current
            .iter()
            .map(|i| (i.id.clone(), (i.marker, i.group.clone())))
            .collect(),
        cursor: state.version,
    }
}

fn render_entry(state: &State, entry: &Entry, opts: &RenderOpts) -> Value {
    let removed = |id: &str| json!({"@odata.type": "#microsoft.graph.event", "id": id, "@removed": {"reason": "deleted"}});
    match entry {
        Entry::Removed(id) => removed(id),
        Entry::Item(item) => match &item.kind {
            ItemKind::Stored | ItemKind::Master => state
                .events
                .get(&item.id)
                .map_or_else(|| removed(&item.id), |e| Value::Object(render(e, opts))),
            ItemKind::Occurrence {
                master_id,
                original,
            } => state.events.get(master_id).map_or_else(
                || removed(&item.id),
                |m| {
                    Value::Object(render_bare_occurrence(
                        m,
                        *original,
                        (item.start, item.end),
                        opts,
                    ))
                },
            ),
        },
    }
}

fn serve_page(
    state: &mut State,
    req: &ApiRequest<'_>,
    chain_id: u64,
) -> Result<ApiResponse, ApiError> {
    let prefer = req.prefer();
    let size = prefer.max_page_size.unwrap_or(DEFAULT_PAGE);
    let mut page: Vec<Entry> = Vec::new();
    let finished;
    {
        let chain = state.delta.chains.get_mut(&chain_id).ok_or_else(|| {
            gone(
                "syncStateNotFound",
                "The sync state is not found.".into(),
                None,
            )
        })?;
        let round = chain.round.as_mut().ok_or_else(|| {
            gone(
                "syncStateNotFound",
                "The sync state is not found.".into(),
                None,
            )
        })?;
        // Whole groups only: a series is never split across pages, even if that overflows
        // the requested size (graph.md §4.4).
        while let Some(group) = round.groups.front() {
            if !page.is_empty() && page.len() + group.len() > size {
                break;
            }
            if let Some(group) = round.groups.pop_front() {
                page.extend(group);
            }
        }
        finished = round.groups.is_empty();
        if finished && let Some(round) = chain.round.take() {
            chain.snapshot = round.snapshot;
            chain.cursor = round.cursor;
        }
        chain.generation += 1;
    }
    let opts = RenderOpts {
        tz: prefer.timezone.clone(),
        body_text: prefer.body_text,
        odata_type: true,
        ..RenderOpts::default()
    };
    let value: Vec<Value> = page.iter().map(|e| render_entry(state, e, &opts)).collect();
    let token = state.ids.token(24);
    let generation = state
        .delta
        .chains
        .get(&chain_id)
        .map_or(0, |c| c.generation);
    state.delta.links.insert(
        token.clone(),
        LinkRef {
            chain: chain_id,
            generation,
        },
    );
    let (key, param) = if finished {
        ("@odata.deltaLink", "$deltatoken")
    } else {
        ("@odata.nextLink", "$skiptoken")
    };
    let link = format!("{}?{param}={token}", req.self_url(state));
    let body = json!({
        "@odata.context": format!("{}/v1.0/$metadata#Collection(event)", state.authority),
        key: link,
        "value": value,
    });
    let mut applied = vec!["odata.track-changes".to_owned()];
    applied.extend(prefer.applied(true));
    tracing::debug!(
        chain_id,
        items = page.len(),
        finished,
        "graph emulator: delta page"
    );
    Ok(ApiResponse::json(StatusCode::OK, body)
        .with_header("Preference-Applied", applied.join(", ")))
}
