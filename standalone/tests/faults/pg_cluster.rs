//! A private, throwaway PostgreSQL cluster on a free port, so a test can restart PostgreSQL
//! without touching the machine's shared server (other tests use that one concurrently).
//! initdb writes it into a temp dir; when the test runs as root, the server binaries run as
//! the `postgres` user, which owns the dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A running cluster; stopped (immediately) and deleted when dropped.
pub(crate) struct PgCluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// Run the server binaries through `runuser -u postgres --` (PostgreSQL refuses root).
    as_postgres: bool,
    dir: tempfile::TempDir,
}

/// The server binaries: the newest /usr/lib/postgresql/<version>/bin, else `pg_config
/// --bindir`. Fails the test when there are none: a test that needs PostgreSQL was asked for
/// (CAMPUS_TEST_PG_URL is set), so skipping would hide that it never ran.
fn bin_dir() -> PathBuf {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_server(bin))
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    match from_pg_config.filter(|bin| has_server(bin)) {
        Some(bin) => bin,
        None => panic!(
            "CAMPUS_TEST_PG_URL is set but the PostgreSQL server binaries (initdb, pg_ctl) are not \
             installed: install the postgresql package (they land in /usr/lib/postgresql/<version>/bin) \
             or unset CAMPUS_TEST_PG_URL"
        ),
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `id -u postgres` and `id -g postgres`.
fn postgres_ids() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, "postgres"]).output().expect("run id(1)");
        assert!(out.status.success(), "running as root needs a `postgres` user to run PostgreSQL");
        String::from_utf8_lossy(&out.stdout).trim().parse().expect("numeric id")
    };
    (id("-u"), id("-g"))
}

impl PgCluster {
    /// initdb into a temp dir and start the server on a free port (trust authentication,
    /// loopback TCP and a socket in the temp dir, fsync off: the data is thrown away).
    pub(crate) fn start() -> Self {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("temp dir");
        let as_postgres = is_root();
        if as_postgres {
            let (uid, gid) = postgres_ids();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the cluster dir");
        }
        let port = campus_testkit::unused_port();
        let cluster = Self { data: dir.path().join("data"), bin, port, as_postgres, dir };
        let data = cluster.data.display().to_string();
        cluster.run("initdb", &["-D", &data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]);
        cluster.pg_ctl_start();
        cluster
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) -> Output {
        let output = self.command(tool).args(args).output().unwrap_or_else(|e| panic!("run {tool}: {e}"));
        assert!(
            output.status.success(),
            "{tool} {args:?} failed: {}\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let data = self.data.display().to_string();
        let log = self.dir.path().join("postgres.log").display().to_string();
        self.run("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "30", "start"]);
    }

    /// `postgres://postgres@127.0.0.1:<port>/<database>`.
    pub(crate) fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates a database and returns its URL.
    pub(crate) fn create_database(&self, name: &str) -> String {
        let port = self.port.to_string();
        self.run("createdb", &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", name]);
        self.url(name)
    }

    /// Stops the server, keeps it down for `down`, and starts it again; returns once it
    /// accepts connections. `crash` stops it like a power cut (`-m immediate`: no shutdown
    /// checkpoint, crash recovery at start) instead of a clean restart (`-m fast`: sessions
    /// are terminated, as an operator's restart does).
    pub(crate) fn restart(&self, down: Duration, crash: bool) {
        let data = self.data.display().to_string();
        let mode = if crash { "immediate" } else { "fast" };
        self.run("pg_ctl", &["-D", &data, "-m", mode, "-w", "-t", "30", "stop"]);
        let until = Instant::now() + down;
        while Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.pg_ctl_start();
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = self.command("pg_ctl").args(["-D", &data, "-m", "immediate", "-w", "stop"]).output();
    }
}
