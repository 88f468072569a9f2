//! The workload harness: generates N realistic events on one calendar and measures, in one
//! process, (1) the initial sync to an empty second calendar, (2) a resync with no change —
//! listing both sides, then with incremental cursors — and (3) a resync after editing a share
//! of events on each side and deleting a share on the first. After each phase it checks that
//! both sides hold the same canonical events.
//!
//! ```sh
//! cargo run --release -p calbridge-benches --bin workload -- --events 100000 --edit-pct 1 --delete-pct 0.5 --json
//! ```
//! Options: `--store sqlite|memory` (default sqlite, on a temporary file), `--pairs P`
//! (P independent calendar pairs synced concurrently), `--json`.

use std::time::Instant;

use calbridge::model::{FieldHashes, Side};
use calbridge::provider::InMemoryProvider;
use calbridge::store::{MemoryStore, SqliteStore, StateStore};
use calbridge::{ManualClock, SyncEngine, SyncSettings};
use calbridge_benches::{bench_now, generated_event};

#[derive(Debug, Clone)]
struct Options {
    events: usize,
    edit_pct: f64,
    delete_pct: f64,
    sqlite: bool,
    pairs: usize,
    json: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        events: 10_000,
        edit_pct: 1.0,
        delete_pct: 0.5,
        sqlite: true,
        pairs: 1,
        json: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--events" => {
                o.events = value("--events")?
                    .parse()
                    .map_err(|e| format!("--events: {e}"))?
            }
            "--edit-pct" => {
                o.edit_pct = value("--edit-pct")?
                    .parse()
                    .map_err(|e| format!("--edit-pct: {e}"))?
            }
            "--delete-pct" => {
                o.delete_pct = value("--delete-pct")?
                    .parse()
                    .map_err(|e| format!("--delete-pct: {e}"))?
            }
            "--pairs" => {
                o.pairs = value("--pairs")?
                    .parse()
                    .map_err(|e| format!("--pairs: {e}"))?
            }
            "--store" => {
                o.sqlite = match value("--store")?.as_str() {
                    "sqlite" => true,
                    "memory" => false,
                    other => {
                        return Err(format!(
                            "--store: unknown store {other:?} (sqlite or memory)"
                        ));
                    }
                }
            }
            "--json" => o.json = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(o)
}

struct Pair {
    outlook: InMemoryProvider,
    salesforce: InMemoryProvider,
    engine: SyncEngine,
}

fn make_pair(
    o: &Options,
    dir: &std::path::Path,
    index: usize,
) -> Result<Pair, Box<dyn std::error::Error>> {
    let outlook = InMemoryProvider::new(Side::Outlook).with_max_batch(500);
    let salesforce = InMemoryProvider::new(Side::Salesforce).with_max_batch(500);
    outlook.seed((0..o.events).map(|i| {
        let mut e = generated_event(String::new(), i);
        e.version = None;
        e
    }));
    let store: Box<dyn StateStore> = if o.sqlite {
        Box::new(SqliteStore::open(dir.join(format!("pair-{index}.sqlite")))?)
    } else {
        Box::new(MemoryStore::new())
    };
    let engine = SyncEngine::builder(outlook.clone(), salesforce.clone(), BoxedStore(store))
        .settings(SyncSettings {
            time_zone: Some(chrono_tz::UTC),
            ..SyncSettings::default()
        })
        .clock(ManualClock::new(bench_now()))
        .build()?;
    Ok(Pair {
        outlook,
        salesforce,
        engine,
    })
}

/// A boxed store behind the trait (the builder takes a concrete store).
#[derive(Debug)]
struct BoxedStore(Box<dyn StateStore>);

#[async_trait::async_trait]
impl StateStore for BoxedStore {
    async fn load(&self) -> Result<calbridge::core::SyncState, calbridge::store::StoreError> {
        self.0.load().await
    }
    async fn commit(
        &self,
        c: &[calbridge::core::StateChange],
        d: &[String],
    ) -> Result<(), calbridge::store::StoreError> {
        self.0.commit(c, d).await
    }
    async fn record_intents(
        &self,
        i: &[calbridge::store::CreateIntent],
    ) -> Result<(), calbridge::store::StoreError> {
        self.0.record_intents(i).await
    }
    async fn pending_intents(
        &self,
    ) -> Result<Vec<calbridge::store::CreateIntent>, calbridge::store::StoreError> {
        self.0.pending_intents().await
    }
    async fn cursor(&self, side: Side) -> Result<Option<String>, calbridge::store::StoreError> {
        self.0.cursor(side).await
    }
    async fn set_cursor(
        &self,
        side: Side,
        c: Option<&str>,
    ) -> Result<(), calbridge::store::StoreError> {
        self.0.set_cursor(side, c).await
    }
    async fn set_snapped(
        &self,
        id: &calbridge::model::ItemId,
        s: bool,
    ) -> Result<(), calbridge::store::StoreError> {
        self.0.set_snapped(id, s).await
    }
    async fn record_run(
        &self,
        r: &calbridge::store::RunRecord,
    ) -> Result<(), calbridge::store::StoreError> {
        self.0.record_run(r).await
    }
    async fn recent_runs(
        &self,
        l: usize,
    ) -> Result<Vec<calbridge::store::RunRecord>, calbridge::store::StoreError> {
        self.0.recent_runs(l).await
    }
}

fn same_content(p: &Pair) -> bool {
    let sorted = |c: &InMemoryProvider| {
        let mut v: Vec<u64> = c
            .events()
            .iter()
            .map(|e| FieldHashes::of(e).combined())
            .collect();
        v.sort_unstable();
        v
    };
    sorted(&p.outlook) == sorted(&p.salesforce)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

struct Phase {
    name: &'static str,
    seconds: f64,
    writes: usize,
    converged: bool,
}

async fn phase(name: &'static str, pairs: &[Pair]) -> Result<Phase, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let reports = futures_join_all(pairs.iter().map(|p| p.engine.sync())).await;
    let seconds = start.elapsed().as_secs_f64();
    let mut writes = 0;
    for r in reports {
        writes += r?.writes();
    }
    Ok(Phase {
        name,
        seconds,
        writes,
        converged: pairs.iter().all(same_content),
    })
}

fn edit_and_delete(p: &Pair, edit_every: usize, delete_every: usize) {
    for (k, e) in p.outlook.events().iter().enumerate() {
        if k % edit_every == 0 {
            p.outlook
                .user_edit(&e.id, |e| e.location = format!("Moved {k}"));
        } else if k % delete_every == 1 {
            p.outlook.user_delete(&e.id);
        }
    }
    for (k, e) in p.salesforce.events().iter().enumerate() {
        if k % edit_every == edit_every / 2 {
            p.salesforce
                .user_edit(&e.id, |e| e.subject = format!("Renamed {k}"));
        }
    }
}

/// Runs futures concurrently on the current task (no extra dependency for a join).
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out = Vec::with_capacity(set.len());
    for f in set {
        out.push(f.await);
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = parse_args().map_err(|e| format!("{e}\nusage: workload [--events N] [--edit-pct X] [--delete-pct Y] [--store sqlite|memory] [--pairs P] [--json]"))?;
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let pairs: Vec<Pair> = (0..o.pairs)
        .map(|i| make_pair(&o, dir.path(), i))
        .collect::<Result<_, _>>()?;
    let total = o.events * o.pairs;
    let phases = rt.block_on(async {
        let mut phases = vec![phase("initial sync", &pairs).await?];
        for p in &pairs {
            p.engine.store().set_cursor(Side::Outlook, None).await?;
            p.engine.store().set_cursor(Side::Salesforce, None).await?;
        }
        phases.push(phase("no-change resync, full listing", &pairs).await?);
        phases.push(phase("no-change resync, incremental", &pairs).await?);
        for p in &pairs {
            edit_and_delete(p, every(o.edit_pct), every(o.delete_pct));
        }
        phases.push(phase("resync after edits and deletes", &pairs).await?);
        Ok::<_, Box<dyn std::error::Error>>(phases)
    })?;
    let peak = peak_rss_mib();
    if o.json {
        let list: Vec<String> = phases
            .iter()
            .map(|p| format!(
                "{{\"phase\":\"{}\",\"seconds\":{:.4},\"events_per_second\":{:.0},\"writes\":{},\"converged\":{}}}",
                p.name, p.seconds, total as f64 / p.seconds.max(1e-9), p.writes, p.converged
            ))
            .collect();
        println!(
            "{{\"events\":{},\"pairs\":{},\"store\":\"{}\",\"phases\":[{}],\"peak_rss_mib\":{:.1}}}",
            o.events,
            o.pairs,
            if o.sqlite { "sqlite" } else { "memory" },
            list.join(","),
            peak
        );
    } else {
        println!(
            "{} events × {} pair(s), {} state",
            o.events,
            o.pairs,
            if o.sqlite { "SQLite" } else { "in-memory" }
        );
        println!(
            "{:<34} {:>10} {:>14} {:>9} {:>10}",
            "phase", "seconds", "events/s", "writes", "converged"
        );
        for p in &phases {
            println!(
                "{:<34} {:>10.4} {:>14.0} {:>9} {:>10}",
                p.name,
                p.seconds,
                total as f64 / p.seconds.max(1e-9),
                p.writes,
                p.converged
            );
        }
        println!("peak resident memory: {peak:.1} MiB");
    }
    if phases.iter().any(|p| !p.converged) {
        return Err("a phase did not converge".into());
    }
    Ok(())
}

fn every(pct: f64) -> usize {
    if pct <= 0.0 {
        usize::MAX
    } else {
        ((100.0 / pct).round() as usize).max(1)
    }
}
