//! Runs one workload (a warm-up, then repetitions) while reading every server process's CPU
//! time and peak RSS and PostgreSQL's CPU time, and keeps the figures for the report.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use campus_testkit::bench::{Report, pgbench_report, run_timed};

use crate::procs::{DbCpu, Proc, own_cpu};
use crate::reference::Script;
use crate::workloads::{Call, IN_FLIGHT};

/// How long each workload runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub(crate) warmup: Duration,
    pub(crate) duration: Duration,
    pub(crate) repetitions: usize,
}

/// What a workload is measured with.
pub(crate) enum Driver {
    /// Calls from this process.
    Calls(Call),
    /// pgbench on a database.
    Pgbench { url: String, script: Script },
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Driver::Calls(_) => f.write_str("Calls"),
            Driver::Pgbench { url, .. } => write!(f, "Pgbench({url})"),
        }
    }
}

/// The figures of one workload.
#[derive(Debug, Clone)]
pub(crate) struct Measured {
    pub(crate) id: &'static str,
    /// The median repetition; its `errors` are those of the warm-up and every repetition.
    pub(crate) report: Report,
    /// CPU cores the server processes used while measured (1.0 = one core busy).
    pub(crate) server_cpu: f64,
    /// CPU cores PostgreSQL used while measured.
    pub(crate) db_cpu: f64,
    /// CPU cores the load generator (this process, or pgbench) used while measured: near 1.0
    /// it, not the servers, set the pace.
    pub(crate) client_cpu: f64,
    /// CPU time per measured call of each server process, of PostgreSQL and of the load
    /// generator: where a workload's cost goes.
    pub(crate) cpu_per_call: BTreeMap<String, Duration>,
    /// Peak RSS (KiB) of each process during this workload.
    pub(crate) peaks: BTreeMap<String, u64>,
    /// Why it could not run, when it could not.
    pub(crate) failure: Option<String>,
}

impl Measured {
    pub(crate) fn failed(id: &'static str, name: &str, why: String) -> Self {
        Measured {
            id,
            report: Report {
                name: name.into(),
                requests: 0,
                errors: 0,
                elapsed: Duration::ZERO,
                p50: Duration::ZERO,
                p90: Duration::ZERO,
                p99: Duration::ZERO,
            },
            server_cpu: 0.0,
            db_cpu: 0.0,
            client_cpu: 0.0,
            cpu_per_call: BTreeMap::new(),
            peaks: BTreeMap::new(),
            failure: Some(why),
        }
    }
}

/// The label under which PostgreSQL's CPU is reported.
pub(crate) const POSTGRES: &str = "PostgreSQL";
/// The label under which the load generator's CPU is reported.
pub(crate) const LOAD_GENERATOR: &str = "load generator";

/// One repetition of a driver.
async fn once(name: &str, driver: &Driver, duration: Duration) -> Result<Report, String> {
    match driver {
        Driver::Calls(call) => {
            let call = call.clone();
            Ok(run_timed(name, IN_FLIGHT, Duration::ZERO, duration, move |w, i| call(w, i)).await)
        }
        Driver::Pgbench { url, script } => {
            // A shared server may be short of connection slots for a moment (other people's
            // test suites): wait for them rather than report a failure that is not ours.
            let mut attempts = 0;
            loop {
                let (name, url, script) = (name.to_string(), url.clone(), script.clone());
                let result = tokio::task::spawn_blocking(move || {
                    let defines: Vec<(&str, String)> =
                        script.defines.iter().map(|(k, v)| (*k, v.clone())).collect();
                    pgbench_report(&name, &url, &script.text, IN_FLIGHT, duration, &defines)
                })
                .await
                .map_err(|e| e.to_string())?;
                match result {
                    Err(why) if why.contains("too many clients") && attempts < 10 => {
                        attempts += 1;
                        eprintln!("  PostgreSQL is out of connection slots; retrying in 5 s");
                        tokio::time::sleep(Duration::from_secs(5)).await;
                    }
                    other => return other,
                }
            }
        }
    }
}

/// A warm-up and `timing.repetitions` measured runs; the median repetition is reported.
pub(crate) async fn measure(
    id: &'static str,
    name: &str,
    driver: Driver,
    procs: &[Proc],
    timing: Timing,
) -> Measured {
    eprintln!("{id}: {name}");
    for p in procs {
        p.reset_peak();
    }
    let warmup = match once(name, &driver, timing.warmup).await {
        Ok(r) => r,
        Err(why) => return Measured::failed(id, name, why),
    };
    let mut reps = Vec::new();
    let mut by_process: BTreeMap<String, Duration> = BTreeMap::new();
    let (mut server, mut db, mut client, mut wall) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for _ in 0..timing.repetitions {
        let before: Vec<Duration> = procs.iter().map(|p| p.cpu()).collect();
        let (c0, db_cpu, t0) = (own_cpu(), DbCpu::start(), Instant::now());
        let report = once(name, &driver, timing.duration).await;
        wall += t0.elapsed();
        for (p, b) in procs.iter().zip(before) {
            let used = p.cpu().saturating_sub(b);
            server += used;
            *by_process.entry(p.name.clone()).or_default() += used;
        }
        let (c, d) = (own_cpu().saturating_sub(c0), db_cpu.finish().await);
        client += c;
        db += d;
        *by_process.entry(LOAD_GENERATOR.into()).or_default() += c;
        *by_process.entry(POSTGRES.into()).or_default() += d;
        let report = match report {
            Ok(r) => r,
            Err(why) => return Measured::failed(id, name, why),
        };
        eprintln!(
            "  {:>8.0} req/s  p50 {:.2} ms  p99 {:.2} ms  errors {}",
            report.per_second(),
            report.p50.as_secs_f64() * 1e3,
            report.p99.as_secs_f64() * 1e3,
            report.errors
        );
        reps.push(report);
    }
    let calls: u64 = reps.iter().map(|r| r.requests).sum::<u64>().max(1);
    let cpu_per_call = by_process.into_iter().map(|(k, v)| (k, v.div_f64(calls as f64))).collect();
    let mut report = Report::median(name, &reps);
    report.errors += warmup.errors;
    let peaks = procs.iter().map(|p| (p.name.clone(), p.memory().1)).collect();
    let cores = |d: Duration| if wall.is_zero() { 0.0 } else { d.as_secs_f64() / wall.as_secs_f64() };
    Measured {
        id,
        report,
        server_cpu: cores(server),
        db_cpu: cores(db),
        client_cpu: cores(client),
        cpu_per_call,
        peaks,
        failure: None,
    }
}
