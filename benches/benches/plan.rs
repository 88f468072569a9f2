//! Planning cost for 1k, 10k and 100k events per side, 1% edited on each side and 0.5%
//! deleted.

use calbridge_benches::{bench_now, synced_then_edited};
use calbridge_core::{Planner, SyncSettings};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn plan(c: &mut Criterion) {
    let settings = SyncSettings::default();
    let mut group = c.benchmark_group("plan");
    group.sample_size(20);
    for n in [1_000usize, 10_000, 100_000] {
        let (outlook, salesforce, state) = synced_then_edited(n, 1.0, 0.5);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            // Deletes are confirmed so the guard does not cut the work short.
            let planner = Planner::new(&settings).confirm_deletes(true);
            b.iter(|| planner.plan(bench_now(), &outlook, &salesforce, &state));
        });
    }
    group.finish();
}

criterion_group!(benches, plan);
criterion_main!(benches);
