//! The `attack` workload (DESIGN §10, issue 17): W2 alone, then W2 again while hostile
//! clients work the gateway from other loopback addresses — 2,000 connections that never
//! finish their request head, 200 whose body trickles in, and 16 that post 10 MB bodies of
//! unknown keys in a loop. Reported: W2's rate and p99 both ways, /healthz latency both
//! ways, the gateway's peak RSS under attack and what the attackers got back.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use campus_testkit::bench::{Report, ms, run_timed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinHandle;

use crate::plan::Section;
use crate::procs::Proc;
use crate::report::Target;
use crate::workloads::{Call, IN_FLIGHT};

/// Connections that send half a request head and then a header line a second.
const SLOW_HEADERS: usize = 2000;
/// Connections that send a head and the start of a 1 MiB body, then a byte a second.
const SLOW_BODIES: usize = 200;
/// Clients posting 10 MB bodies of unknown keys, one after another.
const BIG_BODIES: usize = 16;
/// Addresses the slow-header connections come from (125 each, under the per-address limit).
const SLOW_HEADER_ADDRESSES: usize = 16;

const PEAK_RSS_LIMIT_KB: u64 = 150 * 1024;

/// What the attack measured.
#[derive(Debug)]
pub(crate) struct Attack {
    alone: Report,
    under: Report,
    health_alone: Vec<Duration>,
    health_under: Vec<Duration>,
    rss_before_kb: u64,
    peak_rss_kb: u64,
    /// Slow-header connections open at once, at most (sampled).
    held_max: u64,
    /// What the attackers saw: "slow header closed", "slow body 408", "10 MB body 400", …
    outcomes: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
struct Tally {
    outcomes: Mutex<BTreeMap<String, u64>>,
    held: AtomicU64,
}

impl Tally {
    fn count(&self, what: String) {
        *self.outcomes.lock().unwrap_or_else(|e| e.into_inner()).entry(what).or_default() += 1;
    }
}

async fn connect(from: Ipv4Addr, to: SocketAddr) -> Option<TcpStream> {
    let socket = TcpSocket::new_v4().ok()?;
    socket.bind((from, 0).into()).ok()?;
    socket.connect(to).await.ok()
}

/// The status of the answer the server sends, if any, before it closes.
async fn status_of(stream: &mut TcpStream, bound: Duration) -> Option<u16> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    head.extend_from_slice(&chunk[..n]);
                    if head.windows(2).any(|w| w == b"\r\n") {
                        return;
                    }
                }
            }
        }
    };
    let _ = tokio::time::timeout(bound, read).await;
    let line = String::from_utf8_lossy(&head);
    line.split(' ').nth(1).and_then(|s| s.parse().ok())
}

/// Half a head, then a header line a second until the gateway closes; then again.
async fn slow_header(from: Ipv4Addr, to: SocketAddr, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    while !stop.load(Ordering::Relaxed) {
        let Some(mut stream) = connect(from, to).await else {
            tally.count("slow header: connect failed".into());
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        tally.held.fetch_add(1, Ordering::Relaxed);
        let mut open = stream.write_all(b"POST /v1/auth/login HTTP/1.1\r\nhost: campus\r\n").await.is_ok();
        let mut buf = [0u8; 1024];
        while open && !stop.load(Ordering::Relaxed) {
            tokio::select! {
                read = stream.read(&mut buf) => open = matches!(read, Ok(n) if n > 0),
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    open = stream.write_all(b"x-slow: 1\r\n").await.is_ok();
                }
            }
        }
        tally.held.fetch_sub(1, Ordering::Relaxed);
        if !stop.load(Ordering::Relaxed) {
            tally.count("slow header: closed by the gateway".into());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A login with a 1 MiB body of which 16 KiB arrive, then a byte a second.
async fn slow_body(from: Ipv4Addr, to: SocketAddr, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let mut start = format!(
        "POST /v1/auth/login HTTP/1.1\r\nhost: campus\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{{\"loginId\": \"",
        1024 * 1024
    )
    .into_bytes();
    start.extend(std::iter::repeat_n(b'a', 16 * 1024));
    while !stop.load(Ordering::Relaxed) {
        let Some(mut stream) = connect(from, to).await else {
            tally.count("slow body: connect failed".into());
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let mut open = stream.write_all(&start).await.is_ok();
        let mut status = None;
        let mut buf = [0u8; 1024];
        while open && !stop.load(Ordering::Relaxed) {
            tokio::select! {
                read = stream.read(&mut buf) => {
                    open = false;
                    if let Ok(n) = read {
                        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                        status = line.split(' ').nth(1).and_then(|s| s.parse::<u16>().ok());
                    }
                }
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    open = stream.write_all(b"a").await.is_ok();
                }
            }
        }
        if !stop.load(Ordering::Relaxed) {
            tally.count(match status {
                Some(code) => format!("slow body: answered {code}"),
                None => "slow body: closed without an answer".into(),
            });
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Sign-ups with 10 MB of unknown keys, one after another.
async fn big_bodies(
    from: Ipv4Addr,
    to: SocketAddr,
    body: Arc<Vec<u8>>,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let head = format!(
        "POST /v1/auth/signup HTTP/1.1\r\nhost: campus\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    while !stop.load(Ordering::Relaxed) {
        let Some(mut stream) = connect(from, to).await else {
            tally.count("10 MB body: connect failed".into());
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        let sent = stream.write_all(head.as_bytes()).await.is_ok() && stream.write_all(&body).await.is_ok();
        let status = status_of(&mut stream, Duration::from_secs(30)).await;
        tally.count(match (status, sent) {
            (Some(code), _) => format!("10 MB body: answered {code}"),
            (None, true) => "10 MB body: no answer".into(),
            (None, false) => "10 MB body: cut off".into(),
        });
        // Refused ones come back after a moment rather than in a tight loop.
        if status != Some(400) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `/healthz` one after another (50 ms apart) until `stop`, from 127.0.0.1.
fn health_sampler(gateway: SocketAddr, stop: Arc<AtomicBool>) -> JoinHandle<Vec<Duration>> {
    tokio::spawn(async move {
        let http = reqwest::Client::builder().http1_only().build().expect("HTTP client");
        let url = format!("http://{gateway}/healthz");
        let mut samples = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            match http.get(&url).timeout(Duration::from_secs(10)).send().await {
                Ok(r) if r.status() == 200 => samples.push(t.elapsed()),
                // A failed probe counts as the probe's bound.
                _ => samples.push(Duration::from_secs(10)),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        samples
    })
}

/// Runs the attack against `gateway` with W2's `call`.
pub(crate) async fn run(gateway: &Proc, call: Call, warmup: Duration, duration: Duration) -> Attack {
    let addr = gateway.addr;
    eprintln!("attack: W2 alone");
    let stop_health = Arc::new(AtomicBool::new(false));
    let health = health_sampler(addr, stop_health.clone());
    let c = call.clone();
    let alone = run_timed("W2 alone", IN_FLIGHT, warmup, duration, move |w, i| c(w, i)).await;
    stop_health.store(true, Ordering::Relaxed);
    let health_alone = health.await.unwrap_or_default();
    let rss_before_kb = gateway.memory().0;

    eprintln!(
        "attack: {SLOW_HEADERS} slow-header and {SLOW_BODIES} slow-body connections, {BIG_BODIES} \
         10 MB bodies in a loop"
    );
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    gateway.reset_peak();
    let mut tasks: Vec<JoinHandle<()>> = Vec::new();
    for i in 0..SLOW_HEADERS {
        let from = Ipv4Addr::new(127, 0, 1, (i % SLOW_HEADER_ADDRESSES) as u8 + 1);
        tasks.push(tokio::spawn(slow_header(from, addr, stop.clone(), tally.clone())));
    }
    for i in 0..SLOW_BODIES {
        let from = Ipv4Addr::new(127, 0, 2, (i % 4) as u8 + 1);
        tasks.push(tokio::spawn(slow_body(from, addr, stop.clone(), tally.clone())));
    }
    let body = Arc::new(unknown_keys(10_000_000));
    for i in 0..BIG_BODIES {
        let from = Ipv4Addr::new(127, 0, 3, i as u8 + 1);
        tasks.push(tokio::spawn(big_bodies(from, addr, body.clone(), stop.clone(), tally.clone())));
    }
    // The held connections build up for a moment before W2 is measured again.
    let mut held_max = 0;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        held_max = held_max.max(tally.held.load(Ordering::Relaxed));
    }
    let sampler = {
        let (stop, tally) = (stop.clone(), tally.clone());
        tokio::spawn(async move {
            let mut max = 0;
            while !stop.load(Ordering::Relaxed) {
                max = max.max(tally.held.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            max
        })
    };
    let stop_health = Arc::new(AtomicBool::new(false));
    let health = health_sampler(addr, stop_health.clone());
    eprintln!("attack: W2 under attack");
    let c = call.clone();
    let under = run_timed("W2 under attack", IN_FLIGHT, warmup, duration, move |w, i| c(w, i)).await;
    stop_health.store(true, Ordering::Relaxed);
    let health_under = health.await.unwrap_or_default();
    let peak_rss_kb = gateway.memory().1;
    stop.store(true, Ordering::Relaxed);
    held_max = held_max.max(sampler.await.unwrap_or_default());
    for task in tasks {
        task.abort();
    }
    let outcomes = tally.outcomes.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let attack =
        Attack { alone, under, health_alone, health_under, rss_before_kb, peak_rss_kb, held_max, outcomes };
    eprintln!("{}", attack.markdown());
    attack
}

/// `{"k0":0,"k1":0,…}` of about `bytes` bytes.
fn unknown_keys(bytes: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(bytes + 32);
    body.push(b'{');
    let mut i = 0u64;
    while body.len() < bytes {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(format!("\"k{i}\":0").as_bytes());
        i += 1;
    }
    body.push(b'}');
    body
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

impl Section for Attack {
    /// The three targets.
    fn targets(&self) -> Vec<Target> {
        let (alone, under) = (self.alone.per_second(), self.under.per_second());
        let ratio = if alone > 0.0 { under / alone } else { 0.0 };
        let p99_ratio = if self.alone.p99.is_zero() {
            f64::INFINITY
        } else {
            self.under.p99.as_secs_f64() / self.alone.p99.as_secs_f64()
        };
        vec![
            Target {
                target: "attack: gateway peak RSS ≤ 150 MB".into(),
                measured: format!("{:.1} MB", self.peak_rss_kb as f64 / 1024.0),
                met: Some(self.peak_rss_kb <= PEAK_RSS_LIMIT_KB),
            },
            Target {
                target: "attack: W2 under attack ≥ 0.7× W2 alone".into(),
                measured: format!("{ratio:.2}× ({under:.0} / {alone:.0} req/s)"),
                met: Some(ratio >= 0.7),
            },
            Target {
                target: "attack: W2 p99 under attack ≤ 3× alone".into(),
                measured: format!(
                    "{p99_ratio:.2}× ({:.2} / {:.2} ms)",
                    ms(self.under.p99),
                    ms(self.alone.p99)
                ),
                met: Some(p99_ratio <= 3.0),
            },
        ]
    }

    /// The report's attack section.
    fn markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        let _ = writeln!(s, "\n## Attack (DESIGN §10)\n");
        let _ = writeln!(
            s,
            "{SLOW_HEADERS} connections that never finish their request head (from \
             {SLOW_HEADER_ADDRESSES} addresses), {SLOW_BODIES} whose 1 MiB login body trickles in, \
             {BIG_BODIES} clients posting 10 MB sign-up bodies of unknown keys in a loop — all from \
             127.0.1-3.x, while W2 runs from 127.0.0.1 ({IN_FLIGHT} in flight) and /healthz is asked \
             every 50 ms.\n"
        );
        let _ = writeln!(
            s,
            "| | req/s | p50 ms | p99 ms | errors | /healthz p50 ms | /healthz p99 ms | /healthz max ms |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for (name, r, h) in [
            ("W2 alone", &self.alone, &self.health_alone),
            ("W2 under attack", &self.under, &self.health_under),
        ] {
            let _ = writeln!(
                s,
                "| {name} | {:.0} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {:.2} |",
                r.per_second(),
                ms(r.p50),
                ms(r.p99),
                r.errors,
                ms(percentile(h, 0.5)),
                ms(percentile(h, 0.99)),
                ms(percentile(h, 1.0)),
            );
        }
        let _ = writeln!(
            s,
            "\nGateway RSS: {:.1} MB before the attack, {:.1} MB at peak during it. Slow-header \
             connections open at once: at most {}.\n",
            self.rss_before_kb as f64 / 1024.0,
            self.peak_rss_kb as f64 / 1024.0,
            self.held_max
        );
        let _ = writeln!(s, "| what the attackers got | count |\n|---|---:|");
        for (what, n) in &self.outcomes {
            let _ = writeln!(s, "| {what} | {n} |");
        }
        s
    }
}
