//! A small closed-loop load generator for the benchmarks: keeps `in_flight` calls running for
//! a fixed time and reports throughput and latency percentiles. Every call reports whether
//! its response was right, so errors are counted, not hidden.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The outcome of one load run.
#[derive(Debug, Clone)]
pub struct Report {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// `| name | req/s | p50 | p90 | p99 | errors |` in milliseconds.
    pub fn markdown_row(&self) -> String {
        format!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            self.name,
            self.per_second(),
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            self.errors
        )
    }

    pub const MARKDOWN_HEADER: &'static str =
        "| workload | req/s | p50 ms | p90 ms | p99 ms | errors |\n|---|---:|---:|---:|---:|---:|";
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `call(i)` with `in_flight` concurrent workers for `warmup` (not measured) and then
/// `duration`. `call` returns `true` when the response was the expected one.
pub async fn run<F, Fut>(
    name: &str,
    in_flight: usize,
    warmup: Duration,
    duration: Duration,
    call: F,
) -> Report
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let call = Arc::new(call);
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + duration;
    let mut workers = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        let call = call.clone();
        let counter = counter.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            loop {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let ok = call(i).await;
                if t0 >= measure_from {
                    latencies.push(t0.elapsed());
                    if !ok {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in workers {
        if let Ok((l, e)) = w.await {
            latencies.extend(l);
            errors += e;
        }
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        if latencies.is_empty() {
            Duration::ZERO
        } else {
            latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)]
        }
    };
    Report {
        name: name.to_string(),
        requests: latencies.len() as u64,
        errors,
        elapsed: duration,
        p50: pct(0.50),
        p90: pct(0.90),
        p99: pct(0.99),
    }
}

/// Runs pgbench with `-M prepared` on a SQL script for `seconds` at `clients` connections and
/// returns its transactions per second; `None` when pgbench is missing or failed.
pub fn pgbench(
    url: &str,
    script: &str,
    clients: usize,
    seconds: u64,
    defines: &[(&str, String)],
) -> Option<f64> {
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join("workload.sql");
    std::fs::write(&path, script).ok()?;
    let mut cmd = std::process::Command::new("pgbench");
    cmd.args([
        "-n",
        "-M",
        "prepared",
        "-T",
        &seconds.to_string(),
        "-c",
        &clients.to_string(),
        "-j",
        "1",
        "-f",
    ])
    .arg(&path);
    for (k, v) in defines {
        cmd.arg("-D").arg(format!("{k}={v}"));
    }
    cmd.arg(url);
    let out = cmd.output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_requests_and_errors() {
        let report = run("t", 4, Duration::ZERO, Duration::from_millis(100), |i| async move {
            tokio::task::yield_now().await;
            i % 2 == 0
        })
        .await;
        assert!(report.requests > 10);
        assert!(report.errors > 0 && report.errors < report.requests);
        assert!(report.p99 >= report.p50);
    }
}
