//! Benchmark support: a small closed-loop load generator that keeps `in_flight` calls running
//! for a fixed time and reports throughput and latency percentiles, pgbench on a service's own
//! SQL, gRPC-web framing, and the fixtures more than one benchmark uses. Every call reports
//! whether its response was right, so errors are counted, not hidden. The benchmarks keep
//! their seeded PostgreSQL databases with [`pg_create_database`] and [`pg_drop_database`].

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use crate::db::{pg_create_database, pg_drop_database};

/// The outcome of one load run.
#[derive(Debug, Clone)]
pub struct Report {
    pub name: String,
    /// Calls completed in the measured window.
    pub requests: u64,
    /// Wrong answers, in the measured window and in the warm-up.
    pub errors: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
}

impl Report {
    pub fn per_second(&self) -> f64 {
        if self.elapsed.is_zero() { 0.0 } else { self.requests as f64 / self.elapsed.as_secs_f64() }
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

    /// Repetitions of one workload as one figure: the throughput of the median repetition, the
    /// median of each percentile, and the errors of all of them.
    pub fn median(name: &str, repetitions: &[Report]) -> Report {
        let mut by_rate: Vec<&Report> = repetitions.iter().collect();
        by_rate.sort_by(|a, b| a.per_second().total_cmp(&b.per_second()));
        let middle = by_rate.get(by_rate.len() / 2);
        let median_of = |f: fn(&Report) -> Duration| {
            let mut values: Vec<Duration> = repetitions.iter().map(f).collect();
            values.sort_unstable();
            values.get(values.len() / 2).copied().unwrap_or_default()
        };
        Report {
            name: name.to_string(),
            requests: middle.map(|r| r.requests).unwrap_or_default(),
            errors: repetitions.iter().map(|r| r.errors).sum(),
            elapsed: middle.map(|r| r.elapsed).unwrap_or_default(),
            p50: median_of(|r| r.p50),
            p90: median_of(|r| r.p90),
            p99: median_of(|r| r.p99),
        }
    }
}

/// A duration in milliseconds.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `p` quantile (0..1) of sorted latencies; zero when there are none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// What one timed call of [`run_timed`] reports.
#[derive(Debug, Clone, Copy)]
pub struct Timed {
    /// Whether the response was the expected one.
    pub ok: bool,
    /// The part of the call that counts as its latency.
    pub latency: Duration,
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
    run_timed(name, in_flight, warmup, duration, move |_, i| {
        let started = Instant::now();
        let call = call(i);
        async move {
            let ok = call.await;
            Timed { ok, latency: started.elapsed() }
        }
    })
    .await
}

/// [`run`] for calls that time themselves: `call(worker, i)` gets its worker's number (0 ..
/// `in_flight`, for workloads where each worker owns some state, such as a timetable) and may
/// do unmeasured work around the part it reports as its latency (undoing what it did, say).
/// A call counts in the window it started in.
pub async fn run_timed<F, Fut>(
    name: &str,
    in_flight: usize,
    warmup: Duration,
    duration: Duration,
    call: F,
) -> Report
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Timed> + Send,
{
    let call = Arc::new(call);
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let measure_from = started + warmup;
    let end = measure_from + duration;
    let mut workers = Vec::with_capacity(in_flight);
    for worker in 0..in_flight {
        let call = call.clone();
        let counter = counter.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let i = counter.fetch_add(1, Ordering::Relaxed);
                let timed = call(worker, i).await;
                if !timed.ok {
                    errors += 1;
                }
                if t0 >= measure_from {
                    latencies.push(timed.latency);
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in workers {
        match w.await {
            Ok((l, e)) => {
                latencies.extend(l);
                errors += e;
            }
            // A worker that panicked lost its calls: count it, do not hide it.
            Err(_) => errors += 1,
        }
    }
    latencies.sort_unstable();
    Report {
        name: name.to_string(),
        requests: latencies.len() as u64,
        errors,
        elapsed: duration,
        p50: percentile(&latencies, 0.50),
        p90: percentile(&latencies, 0.90),
        p99: percentile(&latencies, 0.99),
    }
}

/// `sql` with its `$1`, `$2`, … placeholders replaced by the pgbench variables `:names[0]`,
/// `:names[1]`, … (highest first, so `$1` never eats the start of `$10`).
pub fn pgbench_sql(sql: &str, names: &[&str]) -> String {
    let mut out = sql.to_string();
    for (i, name) in names.iter().enumerate().rev() {
        out = out.replace(&format!("${}", i + 1), &format!(":{name}"));
    }
    out
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
    pgbench_report("pgbench", url, script, clients, Duration::from_secs(seconds), defines)
        .ok()
        .map(|r| r.per_second())
}

/// Runs pgbench (`-M prepared`, one thread, `clients` connections) on a SQL script for
/// `duration` (plus the time it takes to connect) and reports it like [`run`]: transactions per second, latency percentiles from
/// pgbench's per-transaction log, and failed transactions as errors. A script error that makes
/// pgbench abort a client is an `Err` with pgbench's message.
pub fn pgbench_report(
    name: &str,
    url: &str,
    script: &str,
    clients: usize,
    duration: Duration,
    defines: &[(&str, String)],
) -> Result<Report, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("workload.sql");
    std::fs::write(&path, script).map_err(|e| e.to_string())?;
    let prefix = dir.path().join("log");
    let mut cmd = std::process::Command::new("pgbench");
    // pgbench's -T clock includes connecting its clients one after another, which takes tens
    // of milliseconds each; give it that time on top (its tps leaves it out anyway).
    let connecting = 1 + clients as u64 / 32;
    cmd.args(["-n", "-M", "prepared", "-T"])
        .arg((duration.as_secs().max(1) + connecting).to_string())
        .args(["-c", &clients.to_string(), "-j", "1", "-l", "--log-prefix"])
        .arg(&prefix)
        .arg("-f")
        .arg(&path);
    for (k, v) in defines {
        cmd.arg("-D").arg(format!("{k}={v}"));
    }
    cmd.arg(url);
    let out = cmd.output().map_err(|e| format!("pgbench: {e} (is it installed?)"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let why = stderr.lines().filter(|l| !l.trim().is_empty()).take(3).collect::<Vec<_>>().join(" / ");
        return Err(format!("pgbench failed ({}): {why}", out.status));
    }
    let field = |prefix: &str| -> Option<f64> {
        stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    let tps = field("tps = ").ok_or_else(|| {
        let last = stdout.lines().chain(stderr.lines()).rfind(|l| !l.trim().is_empty());
        format!("pgbench reported no throughput ({})", last.unwrap_or("no output"))
    })?;
    let failed = field("number of failed transactions: ").unwrap_or(0.0) as u64;
    let latencies = pgbench_latencies(dir.path())?;
    let requests = latencies.len() as u64;
    Ok(Report {
        name: name.to_string(),
        requests,
        errors: failed,
        // pgbench's tps leaves out connection set-up; keep its figure.
        elapsed: if tps > 0.0 { Duration::from_secs_f64(requests as f64 / tps) } else { duration },
        p50: percentile(&latencies, 0.50),
        p90: percentile(&latencies, 0.90),
        p99: percentile(&latencies, 0.99),
    })
}

/// The latencies of every transaction in the pgbench logs of `dir` (sorted). A log line is
/// `client transaction latency_us script epoch_s epoch_us`; failed ones have no number.
fn pgbench_latencies(dir: &Path) -> Result<Vec<Duration>, String> {
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("log.")) {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        for line in text.lines() {
            if let Some(us) = line.split_whitespace().nth(2).and_then(|v| v.parse::<u64>().ok()) {
                latencies.push(Duration::from_micros(us));
            }
        }
    }
    latencies.sort_unstable();
    Ok(latencies)
}

/// gRPC-web in binary mode (`application/grpc-web+proto`) over plain HTTP/1.1.
pub mod grpc_web {
    use bytes::Bytes;
    use prost::Message;

    /// A request body: one uncompressed data frame.
    pub fn frame(message: &impl Message) -> Bytes {
        let payload = message.encode_to_vec();
        let mut frame = Vec::with_capacity(5 + payload.len());
        frame.push(0u8);
        frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        frame.extend_from_slice(&payload);
        frame.into()
    }

    /// The message of a response body whose trailer frame says `grpc-status: 0`; otherwise
    /// what was wrong (a trailers-only error carries its status in the headers, which the
    /// caller checks first).
    pub fn unframe<M: Message + Default>(body: &[u8]) -> Result<M, String> {
        let mut rest = body;
        let mut message = None;
        let mut status = None;
        while rest.len() >= 5 {
            let flags = rest[0];
            let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            let payload = rest.get(5..5 + len).ok_or("truncated frame")?;
            if flags & 0x80 != 0 {
                let trailers = String::from_utf8_lossy(payload);
                status = trailers.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim().eq_ignore_ascii_case("grpc-status").then(|| v.trim().to_string())
                });
            } else if message.is_none() {
                message = Some(M::decode(payload).map_err(|e| e.to_string())?);
            }
            rest = &rest[5 + len..];
        }
        match status.as_deref() {
            Some("0") => message.ok_or_else(|| "no message frame".to_string()),
            Some(code) => Err(format!("grpc-status {code}")),
            None => Err("no trailer frame".into()),
        }
    }
}

/// Lecture-catalog fixtures of the timetable benchmarks.
pub mod lectures {
    use campus_proto::timetable::v1::Lecture;

    pub const PROFESSORS: [&str; 10] =
        ["김민수", "이지원", "박서연", "최현우", "정아라", "강동훈", "윤하늘", "장미정", "임태호", "한소희"];
    pub const SUBJECTS: [&str; 8] = [
        "Data Structures",
        "Algorithms",
        "Operating Systems",
        "Databases",
        "Networks",
        "Compilers",
        "Linear Algebra",
        "Statistics",
    ];

    /// An import CSV of `count` lectures. Lecture `i` has two 75-minute slots a week on a
    /// 30-minute grid, Monday to Friday 09:00-18:00.
    pub fn catalog(count: usize) -> String {
        let mut csv = String::from("code,name,professor,credits,times,section,category\n");
        let days = ["Mon", "Tue", "Wed", "Thu", "Fri"];
        let clock = |m: usize| format!("{:02}:{:02}", m / 60, m % 60);
        for i in 0..count {
            let day = i % 5;
            let start = 9 * 60 + ((i / 5) % 16) * 30;
            let end = start + 75;
            csv.push_str(&format!(
                "C{i:04},{} {},{},{},{} {}-{} R{}; {} {}-{} R{},01,major\n",
                SUBJECTS[i % SUBJECTS.len()],
                i / SUBJECTS.len(),
                PROFESSORS[i % PROFESSORS.len()],
                1 + i % 3,
                days[day],
                clock(start),
                clock(end),
                100 + i % 400,
                days[(day + 2) % 5],
                clock(start),
                clock(end),
                100 + i % 400,
            ));
        }
        csv
    }

    /// Whether two lectures have overlapping slots.
    pub fn overlap(a: &Lecture, b: &Lecture) -> bool {
        a.times.iter().any(|x| {
            b.times
                .iter()
                .any(|y| x.day == y.day && x.start_minute < y.end_minute && y.start_minute < x.end_minute)
        })
    }

    /// The conflict workload's lectures around an anchor (the first lecture): the ids of the
    /// others that collide with it, and of those that fit beside it.
    pub fn around_anchor(lectures: &[Lecture]) -> Option<(Lecture, Vec<i64>, Vec<i64>)> {
        let anchor = lectures.first()?.clone();
        let conflicting = lectures[1..].iter().filter(|l| overlap(l, &anchor)).map(|l| l.id).collect();
        let fitting = lectures.iter().filter(|l| !overlap(l, &anchor)).map(|l| l.id).collect();
        Some((anchor, conflicting, fitting))
    }
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

    #[tokio::test]
    async fn timed_calls_report_their_own_latency_per_worker() {
        let report = run_timed("t", 3, Duration::ZERO, Duration::from_millis(50), |worker, _| async move {
            tokio::task::yield_now().await;
            Timed { ok: worker != 2, latency: Duration::from_millis(worker as u64 + 1) }
        })
        .await;
        assert!(report.errors > 0, "worker 2's calls are wrong");
        assert_eq!(report.p99, Duration::from_millis(3));
        assert!(report.p50 >= Duration::from_millis(1) && report.p50 <= Duration::from_millis(3));
    }

    #[test]
    fn the_median_repetition_and_every_error() {
        let rep = |requests, p50_ms, errors| Report {
            name: String::new(),
            requests,
            errors,
            elapsed: Duration::from_secs(1),
            p50: Duration::from_millis(p50_ms),
            p90: Duration::from_millis(p50_ms * 2),
            p99: Duration::from_millis(p50_ms * 3),
        };
        let median = Report::median("w", &[rep(300, 9, 1), rep(100, 1, 0), rep(200, 4, 2)]);
        assert_eq!((median.requests, median.errors), (200, 3));
        assert_eq!(median.p50, Duration::from_millis(4));
        assert_eq!(median.p99, Duration::from_millis(12));
    }

    #[test]
    fn placeholders_become_pgbench_variables() {
        let sql = "INSERT INTO t VALUES ($1, $2, $10, $1)";
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        assert_eq!(pgbench_sql(sql, &names), "INSERT INTO t VALUES (:a, :b, :j, :a)");
    }

    #[test]
    fn grpc_web_frames_round_trip_and_errors_show() {
        let message = prost_types::Duration { seconds: 7, nanos: 0 };
        let mut body = grpc_web::frame(&message).to_vec();
        let trailers = b"grpc-status:0\r\ngrpc-message:\r\n";
        body.push(0x80);
        body.extend_from_slice(&(trailers.len() as u32).to_be_bytes());
        body.extend_from_slice(trailers);
        assert_eq!(grpc_web::unframe::<prost_types::Duration>(&body), Ok(message));

        let mut failed = grpc_web::frame(&message).to_vec();
        let trailers = b"grpc-status: 13\r\n";
        failed.push(0x80);
        failed.extend_from_slice(&(trailers.len() as u32).to_be_bytes());
        failed.extend_from_slice(trailers);
        assert_eq!(grpc_web::unframe::<prost_types::Duration>(&failed), Err("grpc-status 13".into()));
        let no_trailer = grpc_web::frame(&message);
        assert!(grpc_web::unframe::<prost_types::Duration>(&no_trailer).is_err());
    }

    /// pgbench's own figures and its per-transaction log come back as a report; a script
    /// that fails is an error with pgbench's reason. Runs when a PostgreSQL server is named.
    #[test]
    fn pgbench_reports_throughput_latency_and_failures() {
        let Some(url) = campus_shared::config::var(crate::db::PG_URL_VAR) else { return };
        let script = "\\set n random(1, 1000)\nSELECT :n + 1;\n";
        let report =
            pgbench_report("select", &url, script, 2, Duration::from_secs(1), &[]).expect("pgbench runs");
        assert!(report.requests > 100, "{report:?}");
        assert_eq!(report.errors, 0);
        assert!(
            report.p50 > Duration::ZERO && report.p99 >= report.p50 && report.p99 < Duration::from_secs(1)
        );
        assert!(report.per_second() > 100.0);

        let broken =
            pgbench_report("broken", &url, "SELECT * FROM no_such_table;\n", 1, Duration::from_secs(1), &[]);
        assert!(
            broken.is_err_and(|why| why.contains("no_such_table")),
            "the reason names the failing statement"
        );
    }

    #[test]
    fn the_catalog_is_an_import_csv() {
        let csv = lectures::catalog(100);
        assert_eq!(csv.lines().count(), 101);
        assert!(csv.lines().nth(1).unwrap().starts_with("C0000,Data Structures 0,김민수,1,Mon 09:00-10:15"));
    }
}
