//! The workload harness: generates N realistic events on one calendar and measures, in one
//! process, (1) the initial sync to an empty second calendar, (2) a resync with no change —
//! listing both sides, then with incremental cursors — and (3) a resync after editing a share
//! of events on each side and deleting a share on the first. After each phase it checks that
//! both sides hold the same canonical events.
//!
//! ```sh
//! cargo run --release -p calbridge-benches --bin workload -- --events 100000 --edit-pct 1 --delete-pct 0.5 --json
//! cargo run --release -p calbridge-benches --bin workload -- --emulators --events 10000
//! cargo run --release -p calbridge-benches --bin workload -- --emulators --pairs 1000 --events 200
//! ```
//! Options: `--store sqlite|memory` (default sqlite, one temporary file per pair),
//! `--pairs P` (P independent calendar pairs synced concurrently, each with N events),
//! `--emulators` (through the Graph and Salesforce emulators over HTTP with the real
//! connectors, counting the HTTP requests of each phase; `--users-per-emulator K` pairs share
//! one emulator of each kind, default 10), `--json`.

mod emulated;
mod memory;
mod options;
mod output;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use calbridge::model::Side;
use calbridge::provider::CalendarProvider;
use calbridge::store::{MemoryStore, SqliteStore};
use calbridge::{ManualClock, SyncEngine, SyncSettings};
use calbridge_benches::bench_now;

use crate::emulated::Requests;
use crate::options::{Options, USAGE, every, parse_args};

pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The engine of one pair, with SQLite state in `dir` or in memory.
pub(crate) fn build_engine(
    outlook: impl CalendarProvider + 'static,
    salesforce: impl CalendarProvider + 'static,
    o: &Options,
    dir: &Path,
    index: usize,
) -> Result<SyncEngine, BoxError> {
    let settings = SyncSettings {
        time_zone: Some(chrono_tz::UTC),
        ..SyncSettings::default()
    };
    let clock = ManualClock::new(bench_now());
    let builder = if o.sqlite {
        let store = SqliteStore::open(dir.join(format!("pair-{index}.sqlite")))?;
        SyncEngine::builder(outlook, salesforce, store)
    } else {
        SyncEngine::builder(outlook, salesforce, MemoryStore::new())
    };
    Ok(builder.settings(settings).clock(clock).build()?)
}

/// The pairs under test.
enum World {
    Memory(Vec<memory::Pair>),
    Emulated(emulated::World),
}

impl World {
    fn engines(&self) -> Vec<Arc<SyncEngine>> {
        match self {
            Self::Memory(pairs) => pairs.iter().map(|p| Arc::clone(&p.engine)).collect(),
            Self::Emulated(w) => w.pairs.iter().map(|p| Arc::clone(&p.engine)).collect(),
        }
    }

    async fn converged(&self) -> Result<bool, BoxError> {
        match self {
            Self::Memory(pairs) => Ok(pairs.iter().all(memory::Pair::converged)),
            Self::Emulated(w) => w.converged().await,
        }
    }

    fn edit_and_delete(&self, o: &Options) {
        let (edit, delete) = (every(o.edit_pct), every(o.delete_pct));
        match self {
            Self::Memory(pairs) => pairs.iter().for_each(|p| p.edit_and_delete(edit, delete)),
            Self::Emulated(w) => w.edit_and_delete(edit, delete),
        }
    }

    /// Lets time pass between two syncs, where a clock can be moved.
    fn pass_time(&self) {
        if let Self::Emulated(w) = self {
            w.pass_time();
        }
    }

    fn take_requests(&self) -> Option<Requests> {
        match self {
            Self::Memory(_) => None,
            Self::Emulated(w) => Some(w.take_requests()),
        }
    }
}

/// What one phase did, summed over the pairs.
pub(crate) struct Phase {
    pub(crate) name: &'static str,
    pub(crate) seconds: f64,
    /// CPU time of the whole process during the phase (all threads, emulators included).
    pub(crate) cpu_seconds: f64,
    /// Peak resident memory of the process during the phase, in MiB.
    pub(crate) peak_rss_mib: f64,
    /// Writes to Outlook and to Salesforce.
    pub(crate) writes: [usize; 2],
    /// The most write requests the targets allow: per pair, one Graph `$batch` per 20
    /// writes and one Salesforce collection per 200.
    pub(crate) write_budget: [usize; 2],
    pub(crate) failed: usize,
    pub(crate) converged: bool,
    /// HTTP requests the emulators received, with `--emulators`.
    pub(crate) requests: Option<Requests>,
}

/// Syncs every pair concurrently (one task each) and checks the result.
async fn phase(name: &'static str, world: &World) -> Result<Phase, BoxError> {
    let engines = world.engines();
    output::reset_peak_rss();
    let start = Instant::now();
    let cpu = output::cpu_seconds();
    let mut tasks = tokio::task::JoinSet::new();
    for engine in engines {
        tasks.spawn(async move { engine.sync().await });
    }
    let mut reports = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        reports.push(joined??);
    }
    let seconds = start.elapsed().as_secs_f64();
    let cpu_seconds = output::cpu_seconds() - cpu;
    let peak_rss_mib = output::peak_rss_mib();
    let requests = world.take_requests();
    let mut p = Phase {
        name,
        seconds,
        cpu_seconds,
        peak_rss_mib,
        writes: [0; 2],
        write_budget: [0; 2],
        failed: 0,
        converged: false,
        requests,
    };
    for r in &reports {
        for (slot, (side, per_request)) in [(Side::Outlook, 20), (Side::Salesforce, 200)]
            .into_iter()
            .enumerate()
        {
            let s = r.side(side);
            let writes = s.created + s.updated + s.deleted;
            p.writes[slot] += writes;
            p.write_budget[slot] += writes.div_ceil(per_request);
        }
        p.failed += r.errors.len();
    }
    p.converged = world.converged().await?;
    // Progress for long runs; the report goes to stdout.
    eprintln!("{name}: {seconds:.3} s, converged: {}", p.converged);
    Ok(p)
}

async fn run(o: &Options, dir: &Path) -> Result<(Vec<Phase>, f64), BoxError> {
    let setup = Instant::now();
    let world = if o.emulators {
        World::Emulated(emulated::World::start(o, dir).await?)
    } else {
        World::Memory(memory::pairs(o, dir)?)
    };
    let setup = setup.elapsed().as_secs_f64();
    let mut phases = vec![phase("initial sync", &world).await?];
    for engine in world.engines() {
        engine.store().set_cursor(Side::Outlook, None).await?;
        engine.store().set_cursor(Side::Salesforce, None).await?;
    }
    world.pass_time();
    phases.push(phase("no-change resync, full listing", &world).await?);
    world.pass_time();
    phases.push(phase("no-change resync, incremental", &world).await?);
    world.pass_time();
    world.edit_and_delete(o);
    world.pass_time();
    phases.push(phase("resync after edits and deletes", &world).await?);
    Ok((phases, setup))
}

fn main() -> Result<(), BoxError> {
    let o = parse_args().map_err(|e| format!("{e}\n{USAGE}"))?;
    let dir = tempfile::tempdir()?;
    // One pair runs on the main thread (as an embedding program syncing one calendar pair
    // would; a second thread would only add its own allocator arena to the peak); several
    // run on two workers, one per core.
    let rt = if o.pairs == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?
    };
    let (phases, setup) = rt.block_on(run(&o, dir.path()))?;
    let peak = output::overall_peak_rss_mib();
    if o.json {
        println!("{}", output::json(&o, &phases, setup, peak));
    } else {
        print!("{}", output::table(&o, &phases, setup, peak));
    }
    if phases.iter().any(|p| !p.converged || p.failed > 0) {
        return Err("a phase did not converge or had failed items".into());
    }
    Ok(())
}
