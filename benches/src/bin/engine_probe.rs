//! Times the engine's phases on in-memory calendars with SQLite state, for profiling:
//! `cargo run --release -p calbridge-benches --bin engine_probe -- 100000`.

use std::time::Instant;

use calbridge::model::Side;
use calbridge::provider::InMemoryProvider;
use calbridge::store::SqliteStore;
use calbridge::{ManualClock, SyncEngine, SyncSettings};
use calbridge_benches::{bench_now, generated_event};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let rounds: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir()?;
    let outlook = InMemoryProvider::new(Side::Outlook).with_max_batch(500);
    let salesforce = InMemoryProvider::new(Side::Salesforce).with_max_batch(500);
    outlook.seed((0..n).map(|i| {
        let mut e = generated_event(String::new(), i);
        e.version = None;
        e
    }));
    let engine = SyncEngine::builder(
        outlook,
        salesforce,
        SqliteStore::open(dir.path().join("s.sqlite"))?,
    )
    .settings(SyncSettings {
        time_zone: Some(chrono_tz::UTC),
        ..SyncSettings::default()
    })
    .clock(ManualClock::new(bench_now()))
    .build()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let t = Instant::now();
    let report = rt.block_on(engine.sync())?;
    println!(
        "initial sync of {n}: {:?} ({} writes)",
        t.elapsed(),
        report.writes()
    );
    for _ in 0..rounds {
        let t = Instant::now();
        let report = rt.block_on(engine.sync())?;
        println!(
            "no-change resync: {:?} ({} writes, {} requests)",
            t.elapsed(),
            report.writes(),
            report.outlook.requests + report.salesforce.requests
        );
    }
    Ok(())
}
