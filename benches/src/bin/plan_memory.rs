//! Peak heap memory of one plan beyond its inputs, per event: `cargo run --release -p
//! calbridge-benches --bin plan_memory -- 100000`.
#![allow(unsafe_code)] // a counting global allocator is the one way to measure this

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use calbridge_benches::{bench_now, synced_then_edited};
use calbridge_core::{Planner, SyncSettings};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let (outlook, salesforce, state) = synced_then_edited(n, 1.0, 0.5);
    let settings = SyncSettings::default();
    let planner = Planner::new(&settings).confirm_deletes(true);
    let baseline = CURRENT.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let repeat: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1);
    let started = std::time::Instant::now();
    let mut plan = planner.plan(bench_now(), &outlook, &salesforce, &state);
    for _ in 1..repeat {
        plan = planner.plan(bench_now(), &outlook, &salesforce, &state);
    }
    let elapsed = started.elapsed() / repeat as u32;
    let peak = PEAK.load(Ordering::Relaxed) - baseline;
    let retained = CURRENT.load(Ordering::Relaxed) - baseline;
    let per_event = peak as f64 / (2 * n) as f64;
    println!(
        "events per side: {n}\noperations: {}\npeak beyond inputs: {peak} bytes ({per_event:.1} bytes per event, both sides counted)\nplan retained: {retained} bytes\ntime per plan: {elapsed:?}",
        plan.operations.len()
    );
}
