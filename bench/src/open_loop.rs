//! Open-loop runs: calls sent at a fixed arrival rate, each one's latency counted from the time
//! it was scheduled to be sent, as wrk2 does.
//!
//! A closed loop (64 calls in flight, the next sent when one returns) slows its sending down
//! whenever the server stalls, so a stall delays few measured calls and hides in the
//! percentiles: coordinated omission. Here the schedule does not wait for the server: a call
//! due at `t` that goes out late, or waits behind a stall, counts everything since `t`. W1, W2
//! and W6 run this way at half of the throughput their closed loop just measured, which is
//! the latency a student sees on a busy but not saturated system.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use campus_testkit::bench::{ms, percentile};
use tokio::sync::mpsc;

use crate::measure::{Driver, Measured, Timing};
use crate::plan::Planned;
use crate::report::Target;
use crate::workloads::{Call, IN_FLIGHT};

/// The workloads measured open-loop too (with their "base" forms).
pub(crate) const WORKLOADS: [&str; 3] = ["W1", "W2", "W6"];
/// The fraction of the closed-loop maximum they are driven at.
pub(crate) const LOAD: f64 = 0.5;
/// The p99 a student may wait at that load.
const P99_LIMIT_MS: f64 = 10.0;
/// Calls allowed to be outstanding at once: past it the server is not keeping up at all, and
/// a due call is counted as refused (an error) instead of piling up without bound.
const MAX_OUTSTANDING: usize = 4096;

/// The figures of one open-loop run.
#[derive(Debug, Clone)]
pub(crate) struct OpenLoop {
    pub(crate) id: &'static str,
    pub(crate) name: String,
    /// Calls scheduled per second.
    pub(crate) rate: f64,
    /// Calls completed per second in the measured window.
    pub(crate) achieved: f64,
    /// Wrong answers and calls that could not be sent (warm-up included).
    pub(crate) errors: u64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
    pub(crate) p999: Duration,
    pub(crate) max: Duration,
}

/// W1, W2 and W6 of `plan` (and their "base" forms, when they ran), each at [`LOAD`] × the
/// throughput `results` measured for it closed-loop.
pub(crate) async fn measure_all(
    plan: &[Planned],
    results: &[Measured],
    timing: Timing,
) -> anyhow::Result<Vec<OpenLoop>> {
    let mut out = Vec::new();
    for planned in plan {
        let id = planned.id;
        if !WORKLOADS.contains(&id.strip_suffix(" base").unwrap_or(id)) {
            continue;
        }
        let Some(measured) = results.iter().find(|m| m.id == id && m.failure.is_none()) else {
            continue;
        };
        let rate = measured.report.per_second() * LOAD;
        let Driver::Calls(call) = (planned.prepare)().await?.driver else {
            continue;
        };
        if rate < 1.0 {
            continue;
        }
        eprintln!("{id} open loop: {rate:.0} calls/s scheduled");
        let run = run(id, &planned.name, call, rate, timing).await;
        eprintln!(
            "  {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  p99.9 {:.2} ms  errors {}",
            run.achieved,
            ms(run.p50),
            ms(run.p99),
            ms(run.p999),
            run.errors
        );
        out.push(run);
    }
    Ok(out)
}

/// One open-loop run: a warm-up, then `timing.duration` measured (repetitions are a closed-loop
/// notion; one long window gives the tail more samples).
async fn run(id: &'static str, name: &str, call: Call, rate: f64, timing: Timing) -> OpenLoop {
    let window = timing.duration * timing.repetitions.max(1) as u32;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(bool, bool, Duration)>();
    let outstanding = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let measure_from = start + timing.warmup;
    let total = ((timing.warmup + window).as_secs_f64() * rate) as u64;
    let mut refused = 0u64;
    for i in 0..total {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        if outstanding.load(Ordering::Relaxed) >= MAX_OUTSTANDING {
            refused += 1;
            continue;
        }
        outstanding.fetch_add(1, Ordering::Relaxed);
        let (call, done, outstanding) = (call.clone(), done_tx.clone(), outstanding.clone());
        tokio::spawn(async move {
            let pending = call(i as usize % IN_FLIGHT, i);
            // The call times itself from when it starts sending; the time it waited for its
            // turn since it was due counts too.
            let waited = due.elapsed();
            let timed = pending.await;
            outstanding.fetch_sub(1, Ordering::Relaxed);
            let _ = done.send((due >= measure_from, timed.ok, waited + timed.latency));
        });
    }
    drop(done_tx);
    let (mut latencies, mut errors) = (Vec::new(), refused);
    while let Some((measured, ok, latency)) = done_rx.recv().await {
        errors += u64::from(!ok);
        if measured {
            latencies.push(latency);
        }
    }
    latencies.sort_unstable();
    OpenLoop {
        id,
        name: name.to_string(),
        rate,
        achieved: latencies.len() as f64 / window.as_secs_f64(),
        errors,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        p999: percentile(&latencies, 0.999),
        max: latencies.last().copied().unwrap_or_default(),
    }
}

/// p99 ≤ 10 ms at half load, for each open-loop run of this build (the base runs are figures).
pub(crate) fn targets(runs: &[OpenLoop]) -> Vec<Target> {
    runs.iter()
        .filter(|r| !r.id.ends_with(" base"))
        .map(|r| Target {
            target: format!("open-loop p99 ≤ {P99_LIMIT_MS:.0} ms at {:.0}% load: {}", LOAD * 100.0, r.id),
            measured: format!("{:.2} ms", ms(r.p99)),
            met: Some(ms(r.p99) <= P99_LIMIT_MS && r.errors == 0),
        })
        .collect()
}

/// The open-loop table of the report.
pub(crate) fn markdown(runs: &[OpenLoop]) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let mut md = format!(
        "\n## Open loop at {:.0}% of the closed-loop maximum\n\n\
         Calls are sent on a fixed schedule and each latency counts from the call's scheduled send \
         time (no coordinated omission, as wrk2).\n\n\
         | workload | scheduled/s | completed/s | p50 ms | p99 ms | p99.9 ms | max ms | errors |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
        LOAD * 100.0
    );
    for r in runs {
        md.push_str(&format!(
            "| {} {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |\n",
            r.id,
            r.name,
            r.rate,
            r.achieved,
            ms(r.p50),
            ms(r.p99),
            ms(r.p999),
            ms(r.max),
            r.errors
        ));
    }
    md
}
