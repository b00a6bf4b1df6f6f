//! campus as production runs it: the four services and the gateway as separate processes
//! (their own binaries, configured by environment variables) on loopback ports, which a test
//! can kill, terminate and restart one by one.

use std::collections::HashMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use campus_shared::db::Backend;
use campus_shared::identity::{Caller, Role, SigningKey, TokenIssuer};
use campus_testkit::TestDatabase;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// One process of the deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Proc {
    Account,
    Board,
    Messaging,
    Timetable,
    Gateway,
}

impl Proc {
    pub(crate) const ALL: [Proc; 5] =
        [Proc::Account, Proc::Board, Proc::Messaging, Proc::Timetable, Proc::Gateway];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Proc::Account => "account",
            Proc::Board => "board",
            Proc::Messaging => "messaging",
            Proc::Timetable => "timetable",
            Proc::Gateway => "gateway",
        }
    }

    fn binary(self) -> String {
        format!("campus-{}", self.name())
    }

    fn package(self) -> String {
        self.binary()
    }

    /// The prefix of the service's own variables (`BOARD_LISTEN_ADDR`, `BOARD_DATABASE_URL`).
    fn prefix(self) -> &'static str {
        match self {
            Proc::Account => "ACCOUNT",
            Proc::Board => "BOARD",
            Proc::Messaging => "MESSAGING",
            Proc::Timetable => "TIMETABLE",
            Proc::Gateway => "GATEWAY",
        }
    }
}

/// What a test changes from the defaults.
#[derive(Debug, Default, Clone)]
pub(crate) struct Options {
    /// `GATEWAY_CONCURRENCY_LIMIT`.
    pub(crate) gateway_concurrency_limit: Option<usize>,
    /// Database URLs that replace the backend's (a private PostgreSQL cluster, say).
    pub(crate) database_urls: HashMap<Proc, String>,
}

/// The running processes; every one still running is killed when this drops.
pub(crate) struct Deployment {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
    issuer: TokenIssuer,
    dir: tempfile::TempDir,
    ports: HashMap<Proc, u16>,
    env: HashMap<Proc, Vec<(String, String)>>,
    children: HashMap<Proc, Child>,
    _databases: Vec<TestDatabase>,
}

/// How long a process may take to start serving (debug builds on a busy two-core machine).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Where cargo put the workspace's binaries: next to the `deps` folder holding this test.
fn binary_path(proc: Proc) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let path = dir.join(proc.binary());
    assert!(
        path.is_file(),
        "the {} binary is missing at {}: build it first with `cargo build -p {}` \
         (`cargo test --workspace` builds every binary before running the tests)",
        proc.binary(),
        path.display(),
        proc.package(),
    );
    path
}

impl Deployment {
    /// Starts every process on `backend` and waits until the gateway reports ready.
    pub(crate) async fn start(backend: Backend, options: Options) -> Self {
        for proc in Proc::ALL {
            binary_path(proc);
        }
        let dir = tempfile::tempdir().expect("temp dir");
        // The key pair and the service credential every process reads from the data dir.
        let key = SigningKey::load_or_generate(dir.path()).expect("key pair");
        campus_shared::config::load_or_create(
            &dir.path().join("service-token"),
            campus_shared::identity::random_token,
        )
        .expect("service token");
        std::fs::create_dir_all(dir.path().join("logs")).expect("log dir");
        let issuer = TokenIssuer::new(
            &key,
            campus_shared::config::DEFAULT_ISSUER,
            campus_shared::config::DEFAULT_AUDIENCE,
        )
        .expect("issuer");

        let ports: HashMap<Proc, u16> =
            Proc::ALL.iter().map(|p| (*p, campus_testkit::unused_port())).collect();
        let url = |p: Proc| format!("http://127.0.0.1:{}", ports[&p]);
        let mut databases = Vec::new();
        let mut env = HashMap::new();
        for proc in Proc::ALL {
            let mut vars = vec![
                ("CAMPUS_DATA_DIR".to_string(), dir.path().display().to_string()),
                ("RUST_LOG".to_string(), "warn".to_string()),
                ("CAMPUS_SHUTDOWN_TIMEOUT_SECS".to_string(), "8".to_string()),
            ];
            let listen = format!("127.0.0.1:{}", ports[&proc]);
            vars.push((format!("{}_LISTEN_ADDR", proc.prefix()), listen));
            if proc != Proc::Gateway {
                let database = match options.database_urls.get(&proc) {
                    Some(url) => Some(url.clone()),
                    None if backend == Backend::Postgres => {
                        let db = TestDatabase::new(backend).await;
                        let url = db.url.clone();
                        databases.push(db);
                        Some(url)
                    }
                    // SQLite: <name>.db in the data dir, the binaries' default.
                    None => None,
                };
                if let Some(database) = database {
                    vars.push((format!("{}_DATABASE_URL", proc.prefix()), database));
                }
            }
            match proc {
                Proc::Messaging => {
                    vars.push(("BOARD_ADDR".into(), url(Proc::Board)));
                    vars.push(("ACCOUNT_ADDR".into(), url(Proc::Account)));
                }
                Proc::Timetable | Proc::Board => vars.push(("ACCOUNT_ADDR".into(), url(Proc::Account))),
                Proc::Gateway => {
                    vars.push(("ACCOUNT_ADDR".into(), url(Proc::Account)));
                    vars.push(("BOARD_ADDR".into(), url(Proc::Board)));
                    vars.push(("MESSAGING_ADDR".into(), url(Proc::Messaging)));
                    vars.push(("TIMETABLE_ADDR".into(), url(Proc::Timetable)));
                    vars.push(("GATEWAY_SECURE_COOKIE".into(), "false".into()));
                    if let Some(limit) = options.gateway_concurrency_limit {
                        vars.push(("GATEWAY_CONCURRENCY_LIMIT".into(), limit.to_string()));
                    }
                }
                Proc::Account => {}
            }
            env.insert(proc, vars);
        }

        let mut deployment = Self {
            base: format!("http://127.0.0.1:{}", ports[&Proc::Gateway]),
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client"),
            issuer,
            dir,
            ports,
            env,
            children: HashMap::new(),
            _databases: databases,
        };
        for proc in Proc::ALL {
            deployment.spawn(proc);
        }
        for proc in Proc::ALL {
            deployment.wait_serving(proc).await;
        }
        deployment
    }

    pub(crate) fn addr(&self, proc: Proc) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.ports[&proc]))
    }

    /// Starts a process (again) on its port with its environment; output goes to its log.
    pub(crate) fn spawn(&mut self, proc: Proc) {
        assert!(!self.children.contains_key(&proc), "{} is already running", proc.name());
        let log = File::options().create(true).append(true).open(self.log_path(proc)).expect("log file");
        let child = Command::new(binary_path(proc))
            .env_clear()
            .envs(self.env[&proc].iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", proc.binary()));
        self.children.insert(proc, child);
    }

    fn log_path(&self, proc: Proc) -> PathBuf {
        self.dir.path().join("logs").join(format!("{}.log", proc.name()))
    }

    /// The end of a process's log, for assertion messages.
    pub(crate) fn log_tail(&self, proc: Proc) -> String {
        let text = std::fs::read_to_string(self.log_path(proc)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits until the process answers: a service's grpc.health.v1 check says SERVING, the
    /// gateway's /readyz says every upstream is.
    pub(crate) async fn wait_serving(&mut self, proc: Proc) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.children.get_mut(&proc).and_then(|c| c.try_wait().ok().flatten()) {
                panic!("{} exited with {status} while starting:\n{}", proc.name(), self.log_tail(proc));
            }
            if self.is_serving(proc).await {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not start serving within {START_TIMEOUT:?}:\n{}",
                proc.name(),
                self.log_tail(proc)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn is_serving(&self, proc: Proc) -> bool {
        if proc == Proc::Gateway {
            let probe = self.http.get(format!("{}/readyz", self.base)).timeout(Duration::from_secs(2)).send();
            return matches!(probe.await, Ok(r) if r.status() == 200);
        }
        serving(self.addr(proc)).await == Some(ServingStatus::Serving)
    }

    /// SIGKILL, and waits until the process is gone.
    pub(crate) fn kill(&mut self, proc: Proc) {
        let mut child = self.children.remove(&proc).expect("running");
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    /// Sends SIGTERM; the process stays registered until [`Deployment::wait_exit`].
    pub(crate) fn terminate(&mut self, proc: Proc) {
        let pid = self.children[&proc].id();
        // std has no SIGTERM and unsafe code is forbidden here: kill(1) sends it.
        let sent = Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("run kill(1)");
        assert!(sent.success(), "kill -TERM {pid} failed");
    }

    /// Waits up to `limit` for the process to exit; `None` if it is still running.
    pub(crate) async fn wait_exit(&mut self, proc: Proc, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            let child = self.children.get_mut(&proc).expect("registered");
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.children.remove(&proc);
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The database URL a service's process uses.
    pub(crate) fn database_url(&self, proc: Proc) -> String {
        let own = format!("{}_DATABASE_URL", proc.prefix());
        match self.env[&proc].iter().find(|(name, _)| *name == own) {
            Some((_, url)) => url.clone(),
            None => {
                format!("sqlite://{}?mode=rwc", self.dir.path().join(format!("{}.db", proc.name())).display())
            }
        }
    }

    /// Starts another replica of a service on its own port, with the same environment
    /// otherwise (the same database); the caller owns the process.
    pub(crate) async fn spawn_replica(&self, proc: Proc) -> (Child, SocketAddr) {
        let port = campus_testkit::unused_port();
        let listen = format!("{}_LISTEN_ADDR", proc.prefix());
        let log_path = self.dir.path().join("logs").join(format!("{}-replica.log", proc.name()));
        let log = File::options().create(true).append(true).open(&log_path).expect("log file");
        let child = Command::new(binary_path(proc))
            .env_clear()
            .envs(self.env[&proc].iter().filter(|(k, _)| *k != listen).map(|(k, v)| (k.as_str(), v.as_str())))
            .env(&listen, format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", proc.binary()));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + START_TIMEOUT;
        while serving(addr).await != Some(ServingStatus::Serving) {
            assert!(Instant::now() < deadline, "the {} replica did not start", proc.name());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (child, addr)
    }

    /// An access token for a user of a school, signed with the gateway's key.
    pub(crate) fn token(&self, user_id: i64, school_id: i64) -> String {
        let caller = Caller { user_id, school_id, role: Role::User, nickname: format!("faults{user_id}") };
        self.issuer.issue(&caller).expect("token")
    }

    /// The account process's mail (`$CAMPUS_DATA_DIR/outbox`): where sign-up codes arrive.
    pub(crate) fn outbox(&self) -> campus_testkit::Outbox {
        campus_testkit::Outbox::at(self.dir.path().join("outbox"))
    }

    /// An administrator's access token (to create a school).
    pub(crate) fn admin_token(&self) -> String {
        let caller = Caller { user_id: 1, school_id: 0, role: Role::Admin, nickname: "관리자".into() };
        self.issuer.issue(&caller).expect("token")
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for (_, mut child) in self.children.drain() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A service's overall grpc.health.v1 status, or `None` when it does not answer.
pub(crate) async fn serving(addr: SocketAddr) -> Option<ServingStatus> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .ok()?
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(1))
        .connect()
        .await
        .ok()?;
    let response =
        HealthClient::new(channel).check(HealthCheckRequest { service: String::new() }).await.ok()?;
    ServingStatus::try_from(response.into_inner().status).ok()
}
