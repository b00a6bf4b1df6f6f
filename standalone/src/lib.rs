//! campus in one process: the four services and the gateway, each on its own loopback port,
//! sharing one data directory (SQLite files, the key pair, the service credential, photos).
//!
//! Each component reads its own configuration (`Config::from_env`), so every variable the
//! README documents works here as it does in a container. The runner overrides only what one
//! process must: where each service is reached (its bound address), the key, issuer, audience
//! and credential the services trust (the gateway's), and the web client the gateway serves.
//!
//! [`System::start`] is what `cargo run` does and what the end-to-end tests boot on port 0.

pub mod seed;
pub mod web;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use campus_shared::config::{DatabaseConfig, EnvVar, IdentityConfig, ServerLimits, ServiceConfig};
use campus_shared::identity::{SigningKey, TokenIssuer};
use secrecy::SecretString;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What the one-process system runs: each component's own configuration and the runner's.
#[derive(Debug, Clone)]
pub struct SystemConfig {
    pub data_dir: PathBuf,
    /// Seed the demo schools, boards and lectures into a new database.
    pub seed_demo: bool,
    /// With `seed_demo`: also demo students and a week of posts, comments and likes.
    pub seed_activity: bool,
    pub account: campus_account::Config,
    pub board: campus_board::Config,
    pub messaging: campus_messaging::Config,
    pub timetable: campus_timetable::Config,
    /// Its upstream addresses and web client are filled in by [`System::start`].
    pub gateway: campus_gateway::Config,
}

/// One database per service, as in production (DESIGN §2: each service owns its data).
#[derive(Debug, Clone)]
pub struct Databases {
    pub account: DatabaseConfig,
    pub board: DatabaseConfig,
    pub messaging: DatabaseConfig,
    pub timetable: DatabaseConfig,
    /// The gateway's own: its idempotency records.
    pub gateway: DatabaseConfig,
}

impl Databases {
    /// SQLite files `<name>.db` under `dir`.
    pub fn sqlite_in(dir: &std::path::Path) -> Self {
        let file = |name: &str| {
            DatabaseConfig::new(format!("sqlite://{}?mode=rwc", dir.join(format!("{name}.db")).display()))
        };
        Self {
            account: file("account"),
            board: file("board"),
            messaging: file("messaging"),
            timetable: file("timetable"),
            gateway: file("gateway"),
        }
    }
}

/// The runner's own variables.
const OWN_VARS: &[EnvVar] = &[
    EnvVar {
        name: "CAMPUS_SEED_DEMO",
        default: "true",
        help: "seed demo schools, boards and lectures into a new database",
    },
    EnvVar {
        name: "CAMPUS_SEED_ACTIVITY",
        default: "true",
        help: "with the demo data, also demo students and their week of posts",
    },
];

/// Set by the runner (each service is reached at its bound address), so not read here.
pub const WIRED_VARS: &[&str] = &["ACCOUNT_ADDR", "BOARD_ADDR", "MESSAGING_ADDR", "TIMETABLE_ADDR"];

/// The variables the one-process run reads besides [`campus_shared::config::COMMON_VARS`]:
/// its own and every component's, each once. (Of the common ones, `CAMPUS_JWT_PUBLIC_KEY`
/// is not read: the services take the gateway's key.)
pub fn documented_vars() -> Vec<EnvVar> {
    let mut vars: Vec<EnvVar> = Vec::new();
    let all = [
        OWN_VARS,
        campus_gateway::Config::VARS,
        campus_account::Config::VARS,
        campus_board::Config::VARS,
        campus_messaging::Config::VARS,
        campus_timetable::Config::VARS,
    ];
    for var in all.concat() {
        if !WIRED_VARS.contains(&var.name) && !vars.iter().any(|v| v.name == var.name) {
            vars.push(var);
        }
    }
    vars
}

/// The browser origins of a gateway on `port` of this machine (https under TLS).
fn local_origins(port: u16, tls: bool) -> [String; 2] {
    let scheme = if tls { "https" } else { "http" };
    [format!("{scheme}://127.0.0.1:{port}"), format!("{scheme}://localhost:{port}")]
}

impl SystemConfig {
    /// Every component's `Config::from_env`, under `CAMPUS_DATA_DIR` (./data), plus
    /// `CAMPUS_SEED_DEMO`. Without `CAMPUS_ALLOWED_ORIGINS`, the gateway's own origin on
    /// `GATEWAY_LISTEN_ADDR`'s port is allowed, so the web client it serves works there.
    pub fn from_env() -> anyhow::Result<Self> {
        use campus_shared::config::{data_dir, parse_or, prepare_data_dir, var};
        let data_dir = data_dir();
        prepare_data_dir(&data_dir)?;
        let mut gateway = campus_gateway::Config::from_env()?;
        let port = gateway.listen_addr.port();
        if var("CAMPUS_ALLOWED_ORIGINS").is_none() && port != 0 {
            for origin in local_origins(port, gateway.tls.is_some()) {
                if !gateway.allowed_origins.contains(&origin) {
                    gateway.allowed_origins.push(origin);
                }
            }
        }
        Ok(Self {
            data_dir,
            seed_demo: parse_or("CAMPUS_SEED_DEMO", true)?,
            seed_activity: parse_or("CAMPUS_SEED_ACTIVITY", true)?,
            account: campus_account::Config::from_env()?,
            board: campus_board::Config::from_env()?,
            messaging: campus_messaging::Config::from_env()?,
            timetable: campus_timetable::Config::from_env()?,
            gateway,
        })
    }

    /// Everything on free loopback ports with SQLite files under `data_dir`, a fresh key and
    /// credential, and defaults otherwise (reads no environment), for tests.
    pub fn ephemeral(data_dir: PathBuf) -> Self {
        let key = SigningKey::generate();
        let service_token = SecretString::from(campus_shared::identity::random_token());
        let databases = Databases::sqlite_in(&data_dir);
        let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
        let identity = IdentityConfig {
            jwt_public_key_pem: key.public_key_pem(),
            issuer: campus_shared::config::DEFAULT_ISSUER.into(),
            audience: campus_shared::config::DEFAULT_AUDIENCE.into(),
            service_token: service_token.clone(),
        };
        let service = |database: &DatabaseConfig| ServiceConfig {
            listen_addr: loopback,
            database: database.clone(),
            identity: identity.clone(),
            limits: ServerLimits::default(),
            tls: None,
            client_tls: Default::default(),
        };
        let mut gateway = campus_gateway::Config::new(key, service_token);
        gateway.listen_addr = loopback;
        gateway.database = databases.gateway.clone();
        Self {
            seed_demo: true,
            // Tests start from boards without posts; the one that checks the activity asks for it.
            seed_activity: false,
            account: campus_account::Config {
                mail: campus_account::MailConfig::outbox(data_dir.join("outbox")),
                ..campus_account::Config::new(service(&databases.account))
            },
            board: campus_board::Config {
                service: service(&databases.board),
                thresholds: Default::default(),
                blob_url: data_dir.join("photos").display().to_string(),
                account_addr: String::new(),
                feed: Default::default(),
                first_page_ttl: campus_board::Config::FIRST_PAGE_TTL,
            },
            messaging: campus_messaging::Config {
                service: service(&databases.messaging),
                board_addr: String::new(),
                account_addr: String::new(),
                max_streams_per_user: campus_messaging::Config::DEFAULT_MAX_STREAMS_PER_USER,
            },
            timetable: campus_timetable::Config {
                service: service(&databases.timetable),
                account_addr: String::new(),
            },
            gateway,
            data_dir,
        }
    }

    /// Puts each component on its own database.
    pub fn set_databases(&mut self, databases: Databases) {
        self.account.service.database = databases.account;
        self.board.service.database = databases.board;
        self.messaging.service.database = databases.messaging;
        self.timetable.service.database = databases.timetable;
        self.gateway.database = databases.gateway;
    }
}

/// A running system.
#[derive(Debug)]
pub struct System {
    pub gateway_addr: SocketAddr,
    pub account_addr: SocketAddr,
    pub board_addr: SocketAddr,
    pub messaging_addr: SocketAddr,
    pub timetable_addr: SocketAddr,
    /// Signs tokens exactly as the gateway does (tests and seeding use it).
    pub issuer: TokenIssuer,
    stop: watch::Sender<bool>,
    tasks: JoinSet<(&'static str, anyhow::Result<()>)>,
}

/// The URL a server bound to `addr` is reached at from this process.
fn url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { addr.ip() };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// A lazily connected channel to a server of this process (plain HTTP/2 over loopback).
fn loopback_channel(addr: SocketAddr) -> anyhow::Result<tonic::transport::Channel> {
    Ok(tonic::transport::Endpoint::from_shared(url(addr))?.connect_lazy())
}

impl System {
    /// Binds every server, migrates every database, starts serving and seeds a new database.
    pub async fn start(config: SystemConfig) -> anyhow::Result<Self> {
        campus_shared::config::prepare_data_dir(&config.data_dir)?;
        let SystemConfig {
            seed_demo,
            seed_activity,
            mut account,
            mut board,
            mut messaging,
            mut timetable,
            mut gateway,
            ..
        } = config;
        // The services trust the gateway of this process, whatever they were configured with.
        let identity = IdentityConfig {
            jwt_public_key_pem: gateway.signing_key.public_key_pem(),
            issuer: gateway.issuer.clone(),
            audience: gateway.audience.clone(),
            service_token: gateway.service_token.clone(),
        };
        for service in
            [&mut account.service, &mut board.service, &mut messaging.service, &mut timetable.service]
        {
            service.identity = identity.clone();
            // In one process the services talk over loopback (http:// addresses below); TLS
            // is the gateway's concern here.
            service.tls = None;
            service.client_tls = Default::default();
        }

        let activity = seed::Activity {
            service_token: gateway.service_token.clone(),
            hot_likes: board.thresholds.hot,
            board_database: board.service.database.clone(),
        };

        let account = campus_account::Application::build(account).await?;
        let account_addr = account.local_addr();

        board.account_addr = url(account_addr);
        let board = campus_board::Application::build(board).await?;
        let board_addr = board.local_addr();

        messaging.board_addr = url(board_addr);
        messaging.account_addr = url(account_addr);
        let messaging = campus_messaging::Application::build(messaging).await?;
        let messaging_addr = messaging.local_addr();

        timetable.account_addr = url(account_addr);
        let timetable = campus_timetable::Application::build(timetable).await?;
        let timetable_addr = timetable.local_addr();

        gateway.web = Some(web::router());
        gateway.upstreams = campus_gateway::Upstreams {
            account: url(account_addr),
            board: url(board_addr),
            messaging: url(messaging_addr),
            timetable: url(timetable_addr),
        };
        let issuer = TokenIssuer::new(&gateway.signing_key, &gateway.issuer, &gateway.audience)?;
        let gateway = campus_gateway::Application::build(gateway).await?;
        let gateway_addr = gateway.local_addr();

        let (stop, stopped) = watch::channel(false);
        let signal = move || {
            let mut rx = stopped.clone();
            async move {
                let _ = rx.wait_for(|stop| *stop).await;
            }
        };
        let mut tasks = JoinSet::new();
        let s = signal();
        tasks.spawn(async move { ("account", account.run_until_stopped(s).await) });
        let s = signal();
        tasks.spawn(async move { ("board", board.run_until_stopped(s).await) });
        let s = signal();
        tasks.spawn(async move { ("messaging", messaging.run_until_stopped(s).await) });
        let s = signal();
        tasks.spawn(async move { ("timetable", timetable.run_until_stopped(s).await) });
        let s = signal();
        tasks.spawn(async move { ("gateway", gateway.run_until_stopped(s).await) });

        let system = Self {
            gateway_addr,
            account_addr,
            board_addr,
            messaging_addr,
            timetable_addr,
            issuer,
            stop,
            tasks,
        };
        if seed_demo {
            let upstreams = seed::Upstreams {
                account: loopback_channel(account_addr)?,
                board: loopback_channel(board_addr)?,
                timetable: loopback_channel(timetable_addr)?,
            };
            let activity = seed_activity.then_some(activity);
            let started = std::time::Instant::now();
            if seed::seed_if_empty(&upstreams, &system.issuer, activity.as_ref()).await? {
                tracing::info!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "seeded the demo schools, boards, lectures, students and a week of posts"
                );
            }
        }
        Ok(system)
    }

    /// Runs until `shutdown` resolves or a server fails, then stops everything cleanly.
    pub async fn run_until(mut self, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
        let result = tokio::select! {
            _ = shutdown => Ok(()),
            Some(joined) = self.tasks.join_next() => match joined {
                Ok((name, Ok(()))) => Err(anyhow::anyhow!("{name} stopped unexpectedly")),
                Ok((name, Err(e))) => Err(e.context(format!("{name} failed"))),
                Err(e) => Err(e.into()),
            },
        };
        self.stop().await;
        result
    }

    /// Stops every server and waits for them to finish their in-flight requests.
    pub async fn stop(&mut self) {
        let _ = self.stop.send(true);
        while let Some(joined) = self.tasks.join_next().await {
            if let Ok((name, Err(e))) = joined {
                tracing::warn!(service = name, error = %e, "stopped with an error");
            }
        }
    }
}
