//! Starts the system under test: the four services and the gateway on PostgreSQL, a board
//! service and a gateway on SQLite, and the R1 hello-world server, all as separate processes
//! pinned to the server cores, verifying tokens with a key this process holds.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use campus_shared::identity::{SigningKey, TokenIssuer};
use secrecy::{ExposeSecret, SecretString};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::procs::{Proc, free_addr, wait_ready};

/// Where each database lives.
#[derive(Debug, Clone)]
pub(crate) struct Databases {
    pub(crate) account: String,
    pub(crate) board: String,
    pub(crate) messaging: String,
    pub(crate) timetable: String,
    /// The SQLite board database, when the SQLite workloads run.
    pub(crate) board_sqlite: Option<String>,
    /// Copies of the board databases without the search index, for the board service and
    /// gateway from before it (`--base-bin-dir`): PostgreSQL's, and SQLite's when it runs.
    pub(crate) board_base: Option<(String, Option<String>)>,
}

/// The running processes and the identity they trust.
#[derive(Debug)]
pub(crate) struct System {
    pub(crate) procs: Vec<Proc>,
    pub(crate) issuer: TokenIssuer,
    /// The self-signed certificate (PEM) of "gateway (TLS)", when it was started.
    pub(crate) tls_cert: Option<Vec<u8>>,
    _keys: tempfile::TempDir,
}

const READY_TIMEOUT: Duration = Duration::from_secs(120);

impl System {
    /// Starts everything from `release`, and from `base` a board service and a gateway on
    /// each of the base databases ("board (base)", "gateway (base)", and "… SQLite base").
    pub(crate) async fn start(
        release: &Path,
        base: Option<&Path>,
        dbs: &Databases,
        cpus: &str,
        run_dir: &Path,
        with_tls: bool,
    ) -> anyhow::Result<System> {
        let keys = tempfile::tempdir()?;
        let key = SigningKey::load_or_generate(keys.path()).context("signing key")?;
        let issuer = TokenIssuer::new(
            &key,
            campus_shared::config::DEFAULT_ISSUER,
            campus_shared::config::DEFAULT_AUDIENCE,
        )?;
        let service_token = SecretString::from(campus_shared::identity::random_token());
        let logs = run_dir.join("logs");
        let common = vec![
            ("CAMPUS_JWT_PUBLIC_KEY".to_string(), key.public_key_pem()),
            ("CAMPUS_SERVICE_TOKEN".to_string(), service_token.expose_secret().to_string()),
            ("CAMPUS_DATA_DIR".to_string(), run_dir.join("data").display().to_string()),
            // W7 measures searches, not the per-user search rate (2 a second, burst 20) that
            // guards them: at 15,000 searches a second over the 10,000 seeded users, some users
            // went past it and were refused (RESOURCE_EXHAUSTED, counted as errors). The API
            // tests cover the rate itself.
            ("BOARD_SEARCH_PER_SECOND".to_string(), "1000".to_string()),
        ];
        let bin = |name: &str| release.join(name);
        let url = |addr: SocketAddr| format!("http://{addr}");
        let mut procs = Vec::new();

        let account = free_addr();
        let board = free_addr();
        let messaging = free_addr();
        let timetable = free_addr();
        let services = [
            ("account", "campus-account", "ACCOUNT", account, dbs.account.clone(), vec![]),
            (
                "board",
                "campus-board",
                "BOARD",
                board,
                dbs.board.clone(),
                vec![("BOARD_BLOB_URL".to_string(), run_dir.join("photos").display().to_string())],
            ),
            (
                "messaging",
                "campus-messaging",
                "MESSAGING",
                messaging,
                dbs.messaging.clone(),
                vec![("BOARD_ADDR".to_string(), url(board)), ("ACCOUNT_ADDR".to_string(), url(account))],
            ),
            (
                "timetable",
                "campus-timetable",
                "TIMETABLE",
                timetable,
                dbs.timetable.clone(),
                vec![("ACCOUNT_ADDR".to_string(), url(account))],
            ),
        ];
        for (name, binary, prefix, addr, database, extra) in services {
            let mut env = common.clone();
            env.push((format!("{prefix}_LISTEN_ADDR"), addr.to_string()));
            env.push((format!("{prefix}_DATABASE_URL"), database));
            env.extend(extra);
            procs.push(Proc::spawn(name, &bin(binary), &[], &env, addr, cpus, &logs)?);
        }
        // Board services of their own: (name, binary directory, database, photos, gateway).
        let mut boards: Vec<(&str, &Path, String, &str, &str)> = Vec::new();
        if let Some(database) = &dbs.board_sqlite {
            boards.push(("board (SQLite)", release, database.clone(), "photos-sqlite", "gateway (SQLite)"));
        }
        if let (Some(base), Some((pg, sqlite))) = (base, &dbs.board_base) {
            boards.push(("board (base)", base, pg.clone(), "photos-base", "gateway (base)"));
            if let Some(sqlite) = sqlite {
                boards.push((
                    "board (SQLite base)",
                    base,
                    sqlite.clone(),
                    "photos-sqlite-base",
                    "gateway (SQLite base)",
                ));
            }
        }
        let mut gateways = vec![("gateway", release, board, false)];
        for (name, dir, database, photos, gateway) in boards {
            let addr = free_addr();
            let mut env = common.clone();
            env.push(("BOARD_LISTEN_ADDR".into(), addr.to_string()));
            env.push(("BOARD_DATABASE_URL".into(), database));
            env.push(("BOARD_BLOB_URL".into(), run_dir.join(photos).display().to_string()));
            procs.push(Proc::spawn(name, &dir.join("campus-board"), &[], &env, addr, cpus, &logs)?);
            gateways.push((gateway, dir, addr, false));
        }
        for proc in procs.iter_mut() {
            let channel = campus_testkit::channel(proc.addr);
            wait_ready(proc, READY_TIMEOUT, || serving(channel.clone())).await?;
        }

        let key_file = keys.path().join("jwt-private.pem");
        // The same gateway over HTTPS (W2 TLS), with a certificate made for this run.
        let mut tls_cert = None;
        if with_tls {
            gateways.push(("gateway (TLS)", release, board, true));
        }
        for (name, dir, board, tls) in gateways {
            let addr = free_addr();
            let mut env = common.clone();
            let mut http = reqwest::Client::builder();
            let mut scheme = "http";
            if tls {
                let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])?;
                let (cert, key) = (keys.path().join("tls-cert.pem"), keys.path().join("tls-key.pem"));
                std::fs::write(&cert, made.cert.pem())?;
                std::fs::write(&key, made.signing_key.serialize_pem())?;
                env.push(("GATEWAY_TLS_CERT_FILE".into(), cert.display().to_string()));
                env.push(("GATEWAY_TLS_KEY_FILE".into(), key.display().to_string()));
                let pem = made.cert.pem().into_bytes();
                http = http.add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
                tls_cert = Some(pem);
                scheme = "https";
            }
            env.push(("GATEWAY_LISTEN_ADDR".into(), addr.to_string()));
            env.push(("CAMPUS_JWT_PRIVATE_KEY_FILE".into(), key_file.display().to_string()));
            env.push(("ACCOUNT_ADDR".into(), url(account)));
            env.push(("BOARD_ADDR".into(), url(board)));
            env.push(("MESSAGING_ADDR".into(), url(messaging)));
            env.push(("TIMETABLE_ADDR".into(), url(timetable)));
            let mut proc = Proc::spawn(name, &dir.join("campus-gateway"), &[], &env, addr, cpus, &logs)?;
            let http = http.build()?;
            let ready = format!("{scheme}://{addr}/readyz");
            wait_ready(&mut proc, READY_TIMEOUT, || {
                let request = http.get(&ready).send();
                async move { request.await.is_ok_and(|r| r.status() == 200) }
            })
            .await?;
            procs.push(proc);
        }

        let hello = free_addr();
        let me = std::env::current_exe()?;
        let addr_arg = hello.to_string();
        let mut proc = Proc::spawn("hello (R1)", &me, &["hello-server", &addr_arg], &[], hello, cpus, &logs)?;
        proc.is_service = false;
        let channel = campus_testkit::channel(hello);
        wait_ready(&mut proc, READY_TIMEOUT, || serving(channel.clone())).await?;
        procs.push(proc);

        Ok(System { procs, issuer, tls_cert, _keys: keys })
    }

    /// The process called `name`.
    pub(crate) fn addr(&self, name: &str) -> SocketAddr {
        self.procs
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.addr)
            .unwrap_or_else(|| panic!("no process {name}"))
    }

    /// Fails if any process has died.
    pub(crate) fn check_alive(&mut self) -> anyhow::Result<()> {
        self.procs.iter_mut().try_for_each(|p| p.check_alive())
    }

    /// Stops every process, the gateways first.
    pub(crate) fn stop(&mut self) {
        for proc in self.procs.iter_mut().rev() {
            proc.stop(Duration::from_secs(10));
        }
    }
}

/// Whether a gRPC server answers its health check with SERVING.
pub(crate) async fn serving(channel: tonic::transport::Channel) -> bool {
    HealthClient::new(channel)
        .check(HealthCheckRequest { service: String::new() })
        .await
        .is_ok_and(|r| r.get_ref().status == ServingStatus::Serving as i32)
}

/// The R1 reference: tonic's own health service and nothing else, the cheapest RPC there is.
pub(crate) async fn hello_server(addr: SocketAddr) -> anyhow::Result<()> {
    let (_reporter, service) = tonic_health::server::health_reporter();
    tonic::transport::Server::builder().add_service(service).serve(addr).await?;
    Ok(())
}

/// `target/bench`, made if missing.
pub(crate) fn out_dir() -> anyhow::Result<PathBuf> {
    let dir = crate::procs::target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
