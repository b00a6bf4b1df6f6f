//! The system under test as separate processes: each release binary started pinned to the
//! server cores on a free loopback port, waited for, measured through /proc (CPU time, RSS
//! now and at peak) and stopped with SIGTERM.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The binaries the benchmark runs, as cargo names them.
pub(crate) const BINARIES: [&str; 5] =
    ["campus-account", "campus-board", "campus-messaging", "campus-timetable", "campus-gateway"];

/// The command that builds them, for error messages.
pub(crate) const BUILD_COMMAND: &str = "cargo build --release --workspace --bins";

/// The workspace's target directory (`CARGO_TARGET_DIR` when set).
pub(crate) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"),
    }
}

/// Builds the release binaries (a quick no-op when they are fresh) unless `skip`, then checks
/// that each exists; `dir` takes them from elsewhere, unbuilt.
pub(crate) fn ensure_binaries(skip: bool, dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let release = dir.map(Path::to_path_buf).unwrap_or_else(|| target_dir().join("release"));
    if !skip && dir.is_none() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        eprintln!("building the release binaries ({BUILD_COMMAND}, services and gateway only)");
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--release", "--bins"]);
        for b in BINARIES {
            cmd.args(["-p", b]);
        }
        let status = cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("..")).status();
        if !status.is_ok_and(|s| s.success()) {
            bail!("building the services failed; run `{BUILD_COMMAND}` and look at its errors");
        }
    }
    for b in BINARIES {
        let path = release.join(b);
        if !path.is_file() {
            bail!("{} is missing: run `{BUILD_COMMAND}` first", path.display());
        }
    }
    Ok(release)
}

/// A loopback address nobody listens on right now.
pub(crate) fn free_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], campus_testkit::unused_port()))
}

/// One running server process.
#[derive(Debug)]
pub(crate) struct Proc {
    /// Its label in the report ("board", "gateway (SQLite)", …).
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    pub(crate) pid: u32,
    /// Counts against "every service ≤ 20 MB idle, ≤ 60 MB peak".
    pub(crate) is_service: bool,
    child: Child,
    log: PathBuf,
    /// VmRSS once it started and answered, before any load.
    pub(crate) idle_kb: u64,
}

impl Proc {
    /// Starts `binary` under `taskset -c cpus` with `env`, logging to `logs/<name>.log`.
    pub(crate) fn spawn(
        name: &str,
        binary: &Path,
        args: &[&str],
        env: &[(String, String)],
        addr: SocketAddr,
        cpus: &str,
        logs: &Path,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(logs)?;
        let log = logs.join(format!("{}.log", name.replace([' ', '(', ')'], "")));
        let out = std::fs::File::create(&log)?;
        let mut cmd = Command::new("taskset");
        cmd.arg("-c").arg(cpus).arg(binary).args(args);
        // Only what the bench sets: no OTLP export, no stray configuration from the shell.
        for var in ["OTEL_EXPORTER_OTLP_ENDPOINT", "CAMPUS_BOOTSTRAP_ADMIN"] {
            cmd.env_remove(var);
        }
        // As the image runs them (Dockerfile).
        cmd.env("MALLOC_ARENA_MAX", "2");
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out);
        let child = cmd.spawn().with_context(|| format!("start {} under taskset", binary.display()))?;
        Ok(Self { name: name.into(), addr, pid: child.id(), is_service: true, child, log, idle_kb: 0 })
    }

    /// Fails with the end of its log if the process has exited.
    pub(crate) fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "{} exited ({status}); its log {} ends:\n{}",
                self.name,
                self.log.display(),
                tail.join("\n")
            );
        }
        Ok(())
    }

    /// CPU time used so far (user + system).
    pub(crate) fn cpu(&self) -> Duration {
        cpu_of(self.pid).unwrap_or_default()
    }

    /// `(VmRSS, VmHWM)` in KiB.
    pub(crate) fn memory(&self) -> (u64, u64) {
        memory_of(self.pid)
    }

    /// Starts a new peak: VmHWM falls back to the current RSS.
    pub(crate) fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5");
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    pub(crate) fn stop(&mut self, grace: Duration) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill").arg("-TERM").arg(self.pid.to_string()).status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(3));
    }
}

fn clock_ticks_per_second() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100)
    })
}

/// utime + stime of a process, from /proc/<pid>/stat.
pub(crate) fn cpu_of(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after its closing parenthesis do not.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // After the name: state is field 3, utime 14 and stime 15 (1-based over the whole line).
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) as f64 / clock_ticks_per_second() as f64))
}

/// CPU time of this process and of the children it has waited for (pgbench): the load
/// generator's side of a workload.
pub(crate) fn own_cpu() -> Duration {
    let read = || -> Option<Duration> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        // utime, stime, cutime, cstime: fields 14 to 17.
        let ticks: u64 = fields.get(11..15)?.iter().map(|f| f.parse::<u64>().unwrap_or(0)).sum();
        Some(Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64))
    };
    read().unwrap_or_default()
}

/// `(VmRSS, VmHWM)` of a process in KiB, zero when unreadable.
pub(crate) fn memory_of(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Whether a PostgreSQL process works for the benchmark: a backend of one of its databases,
/// or a background process everyone shares (WAL writer, checkpointer, …). Backends of other
/// databases (other people's tests on a shared server) are left out.
fn serves_the_bench(title: &str) -> bool {
    const SHARED: [&str; 6] = [
        "checkpointer",
        "background writer",
        "walwriter",
        "autovacuum launcher",
        "logical replication launcher",
        "stats collector",
    ];
    match title.strip_prefix("postgres: ") {
        Some(rest) => rest.contains("campus_bench_") || SHARED.iter().any(|s| rest.starts_with(s)),
        // The postmaster keeps its command line; it forks every new connection.
        None => true,
    }
}

/// CPU time of the PostgreSQL processes that serve the benchmark, per pid.
fn postgres_cpu_by_pid() -> HashMap<u32, Duration> {
    let mut out = HashMap::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return out };
    for entry in entries.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) else { continue };
        if comm.trim() != "postgres" {
            continue;
        }
        let title = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let title = String::from_utf8_lossy(&title).replace('\0', " ");
        if serves_the_bench(title.trim())
            && let Some(cpu) = cpu_of(pid)
        {
            out.insert(pid, cpu);
        }
    }
    out
}

/// Samples PostgreSQL's CPU while a workload runs. Backends come and go (pgbench connects
/// its own), so each is sampled every 200 ms and counted from when it was first seen (or from
/// zero if it started during the window) to when it was last seen.
#[derive(Debug)]
pub(crate) struct DbCpu {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Duration>,
}

impl DbCpu {
    pub(crate) fn start() -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let before = postgres_cpu_by_pid();
            let mut seen: HashMap<u32, (Duration, Duration)> =
                before.iter().map(|(pid, cpu)| (*pid, (*cpu, *cpu))).collect();
            loop {
                let last_round = flag.load(Ordering::Relaxed);
                for (pid, cpu) in postgres_cpu_by_pid() {
                    seen.entry(pid).or_insert((Duration::ZERO, cpu)).1 = cpu;
                }
                if last_round {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            seen.values().map(|(first, last)| last.saturating_sub(*first)).sum()
        });
        Self { stop, task }
    }

    /// The CPU time used since [`DbCpu::start`].
    pub(crate) async fn finish(self) -> Duration {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

/// Pins this process (and the threads and children it makes afterwards) to `cpus`.
pub(crate) fn pin_self(cpus: &str) -> anyhow::Result<()> {
    let status = Command::new("taskset")
        .args(["-cp", cpus, &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status()
        .context("taskset (util-linux) is needed to pin the load generator")?;
    if !status.success() {
        bail!("taskset -cp {cpus} failed");
    }
    Ok(())
}

/// Waits until `ready()` answers true, failing if the process dies or `timeout` passes.
pub(crate) async fn wait_ready<F, Fut>(proc: &mut Proc, timeout: Duration, mut ready: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        proc.check_alive()?;
        if ready().await {
            proc.idle_kb = proc.memory().0;
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{} did not become ready in {timeout:?} (log: {})", proc.name, proc.log.display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_bench_s_postgres_processes_count() {
        assert!(serves_the_bench("postgres: postgres campus_bench_board 127.0.0.1(5000) idle"));
        assert!(serves_the_bench("postgres: walwriter"));
        assert!(serves_the_bench("/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main"));
        assert!(!serves_the_bench("postgres: postgres campus_test_1795653959_c61fec1b 127.0.0.1(5001) idle"));
        assert!(!serves_the_bench("postgres: autovacuum worker campus_test_1"));
    }

    #[test]
    fn reads_its_own_cpu_and_memory() {
        let pid = std::process::id();
        let before = cpu_of(pid).expect("own /proc/self/stat");
        // Spins until the reading has grown by 100 ms: on a loaded machine that takes longer
        // than 100 ms of wall time, so only a reading that never grows fails.
        let spin = Instant::now();
        let mut x = 0u64;
        let mut cpu = before;
        while cpu < before + Duration::from_millis(100) && spin.elapsed() < Duration::from_secs(60) {
            for _ in 0..1_000_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
            cpu = cpu_of(pid).expect("own /proc/self/stat");
        }
        assert!(x != 1);
        assert!(
            cpu >= before + Duration::from_millis(100),
            "spun {:?}, read {before:?} then {cpu:?}",
            spin.elapsed()
        );
        let (rss, peak) = memory_of(pid);
        assert!(rss > 1000 && peak >= rss, "rss {rss} KiB, peak {peak} KiB");
    }
}
