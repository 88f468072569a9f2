//! The harness's report: a table or JSON, and the process's peak resident memory.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;

use crate::Phase;
use crate::options::Options;

/// The process's peak resident set (`VmHWM`), in MiB; 0 where `/proc` is not there.
pub(crate) fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The highest peak seen before the last [`reset_peak_rss`], in KiB.
static EARLIER_PEAK_KIB: AtomicU64 = AtomicU64::new(0);

/// Starts a new peak for [`peak_rss_mib`] (Linux: `5` to `/proc/self/clear_refs`), keeping
/// the one so far for [`overall_peak_rss_mib`].
pub(crate) fn reset_peak_rss() {
    let kib = (peak_rss_mib() * 1024.0) as u64;
    EARLIER_PEAK_KIB.fetch_max(kib, Ordering::Relaxed);
    // Where the kernel does not allow it, the peaks stay cumulative.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident set over its whole life, in MiB.
pub(crate) fn overall_peak_rss_mib() -> f64 {
    let earlier = EARLIER_PEAK_KIB.load(Ordering::Relaxed) as f64 / 1024.0;
    peak_rss_mib().max(earlier)
}

/// CPU time of every thread of the process so far, in seconds (`/proc/self/task/*/schedstat`,
/// nanoseconds on a CPU): unlike wall time, not inflated by other processes on the machine.
pub(crate) fn cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    nanos as f64 / 1e9
}

fn store_name(o: &Options) -> &'static str {
    if o.sqlite { "sqlite" } else { "memory" }
}

fn providers_name(o: &Options) -> &'static str {
    if o.emulators { "emulators" } else { "memory" }
}

fn events_per_second(o: &Options, p: &Phase) -> f64 {
    (o.events * o.pairs) as f64 / p.seconds.max(1e-9)
}

/// The report as one JSON object.
pub(crate) fn json(o: &Options, phases: &[Phase], setup: f64, peak: f64) -> String {
    let list: Vec<_> = phases
        .iter()
        .map(|p| {
            let mut v = json!({
                "phase": p.name,
                "seconds": (p.seconds * 1e4).round() / 1e4,
                "cpu_seconds": (p.cpu_seconds * 1e4).round() / 1e4,
                "peak_rss_mib": (p.peak_rss_mib * 10.0).round() / 10.0,
                "events_per_second": events_per_second(o, p).round(),
                "writes": {"outlook": p.writes[0], "salesforce": p.writes[1]},
                "failed": p.failed,
                "converged": p.converged,
            });
            if let Some(r) = p.requests {
                v["requests"] = json!({
                    "graph_reads": r.graph_reads,
                    "graph_writes": r.graph_writes,
                    "graph_write_budget": p.write_budget[0],
                    "salesforce_reads": r.salesforce_reads,
                    "salesforce_writes": r.salesforce_writes,
                    "salesforce_write_budget": p.write_budget[1],
                    "auth": r.auth,
                });
            }
            v
        })
        .collect();
    json!({
        "events": o.events,
        "pairs": o.pairs,
        "providers": providers_name(o),
        "store": store_name(o),
        "setup_seconds": (setup * 1e3).round() / 1e3,
        "total_seconds": (phases.iter().map(|p| p.seconds).sum::<f64>() * 1e4).round() / 1e4,
        "phases": list,
        "peak_rss_mib": (peak * 10.0).round() / 10.0,
    })
    .to_string()
}

/// The report as a table.
pub(crate) fn table(o: &Options, phases: &[Phase], setup: f64, peak: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} events × {} pair(s), {} providers, {} state (set-up {setup:.1} s)",
        o.events,
        o.pairs,
        if o.emulators {
            "emulated (HTTP)"
        } else {
            "in-memory"
        },
        if o.sqlite { "SQLite" } else { "in-memory" },
    );
    let _ = write!(
        out,
        "{:<32} {:>9} {:>9} {:>12} {:>9} {:>13} {:>9}",
        "phase", "seconds", "cpu s", "events/s", "peak MiB", "writes O/S", "converged"
    );
    if o.emulators {
        let _ = write!(
            out,
            " {:>11} {:>17} {:>11} {:>17} {:>5}",
            "graph reads", "graph writes(max)", "sf reads", "sf writes(max)", "auth"
        );
    }
    out.push('\n');
    for p in phases {
        let _ = write!(
            out,
            "{:<32} {:>9.4} {:>9.4} {:>12.0} {:>9.1} {:>13} {:>9}",
            p.name,
            p.seconds,
            p.cpu_seconds,
            events_per_second(o, p),
            p.peak_rss_mib,
            format!("{}/{}", p.writes[0], p.writes[1]),
            if p.failed > 0 {
                format!("{} FAILED", p.failed)
            } else {
                p.converged.to_string()
            },
        );
        if let Some(r) = p.requests {
            let _ = write!(
                out,
                " {:>11} {:>17} {:>11} {:>17} {:>5}",
                r.graph_reads,
                format!("{} ({})", r.graph_writes, p.write_budget[0]),
                r.salesforce_reads,
                format!("{} ({})", r.salesforce_writes, p.write_budget[1]),
                r.auth
            );
        }
        out.push('\n');
    }
    let total: f64 = phases.iter().map(|p| p.seconds).sum();
    let _ = writeln!(
        out,
        "total {total:.3} s; peak resident memory: {peak:.1} MiB"
    );
    out
}
