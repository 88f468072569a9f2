//! The engine end to end over two in-memory calendars with SQLite state on a temporary
//! file: an initial sync of 10k and 100k events, a resync with no change, and a resync after
//! 1% edits on each side.

use std::time::Duration;

use calbridge::model::Side;
use calbridge::provider::InMemoryProvider;
use calbridge::store::SqliteStore;
use calbridge::{ManualClock, SyncEngine, SyncSettings};
use calbridge_benches::{bench_now, generated_event};
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};

fn settings() -> SyncSettings {
    SyncSettings {
        time_zone: Some(chrono_tz::UTC),
        ..SyncSettings::default()
    }
}

struct World {
    _dir: tempfile::TempDir,
    outlook: InMemoryProvider,
    salesforce: InMemoryProvider,
    engine: SyncEngine,
}

fn world(n: usize) -> World {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let outlook = InMemoryProvider::new(Side::Outlook).with_max_batch(500);
    let salesforce = InMemoryProvider::new(Side::Salesforce).with_max_batch(500);
    outlook.seed((0..n).map(|i| {
        let mut e = generated_event(String::new(), i);
        e.version = None;
        e
    }));
    let store =
        SqliteStore::open(dir.path().join("state.sqlite")).unwrap_or_else(|e| panic!("store: {e}"));
    let engine = SyncEngine::builder(outlook.clone(), salesforce.clone(), store)
        .settings(settings())
        .clock(ManualClock::new(bench_now()))
        .build()
        .unwrap_or_else(|e| panic!("engine: {e}"));
    World {
        _dir: dir,
        outlook,
        salesforce,
        engine,
    }
}

fn run(rt: &tokio::runtime::Runtime, engine: &SyncEngine) {
    let report = rt
        .block_on(engine.sync())
        .unwrap_or_else(|e| panic!("sync: {e}"));
    assert!(report.errors.is_empty(), "{report}");
}

fn engine(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let mut group = c.benchmark_group("engine");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    for n in [10_000usize, 100_000] {
        group.bench_with_input(BenchmarkId::new("initial_sync", n), &n, |b, &n| {
            b.iter_batched(
                || world(n),
                |w| run(&rt, &w.engine),
                BatchSize::PerIteration,
            );
        });
        let w = world(n);
        run(&rt, &w.engine);
        group.bench_with_input(BenchmarkId::new("no_change_resync", n), &n, |b, _| {
            b.iter(|| run(&rt, &w.engine))
        });
        let round = std::cell::Cell::new(0usize);
        group.bench_with_input(
            BenchmarkId::new("resync_after_1pct_edits", n),
            &n,
            |b, &n| {
                b.iter_batched(
                    || {
                        // Fixed-length values: repeated rounds must not grow the events.
                        round.set(round.get() + 1);
                        let r = round.get();
                        let o = w.outlook.events();
                        let s = w.salesforce.events();
                        for (k, e) in o.iter().step_by(100).enumerate().take(n / 100) {
                            w.outlook
                                .user_edit(&e.id, |e| e.location = format!("Moved {r}-{k}"));
                        }
                        for (k, e) in s.iter().skip(50).step_by(100).enumerate().take(n / 100) {
                            w.salesforce
                                .user_edit(&e.id, |e| e.subject = format!("Renamed {r}-{k}"));
                        }
                    },
                    |()| run(&rt, &w.engine),
                    BatchSize::PerIteration,
                );
            },
        );
    }
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
