//! campus in one process: the four services and the gateway, each on its own loopback port,
//! sharing one data directory (SQLite files, the key pair, the service credential, photos).
//!
//! [`System::start`] is what `cargo run` does and what the end-to-end tests boot on port 0.

pub mod seed;
pub mod web;

use std::net::SocketAddr;
use std::path::PathBuf;

use campus_shared::config::{DatabaseConfig, IdentityConfig, ServerLimits, ServiceConfig};
use campus_shared::identity::{SigningKey, TokenIssuer};
use secrecy::SecretString;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Where the one-process system keeps its data and which ports it uses (0 picks free ones).
#[derive(Debug, Clone)]
pub struct SystemConfig {
    pub data_dir: PathBuf,
    pub gateway_addr: SocketAddr,
    /// Ports of account, board, messaging and timetable.
    pub service_ports: [u16; 4],
    /// `loginId:password` of an administrator to create.
    pub bootstrap_admin: Option<(String, SecretString)>,
    /// Seed the demo schools, boards and lectures into a new database.
    pub seed_demo: bool,
    /// With `seed_demo`: also demo students and a week of posts, comments and likes.
    pub seed_activity: bool,
    /// `Secure` on the refresh cookie; browsers accept it on http://localhost too.
    pub secure_cookie: bool,
    /// Each service's database; `None` keeps SQLite files in `data_dir`.
    pub databases: Option<Databases>,
    /// Likes that make a post HOT and BEST.
    pub board_thresholds: campus_board::domain::Thresholds,
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

impl SystemConfig {
    /// The standard local set-up: ./data (or `CAMPUS_DATA_DIR`), gateway on 127.0.0.1:8080
    /// (or `GATEWAY_LISTEN_ADDR`), services on 50051–50054, demo data on a new database.
    pub fn from_env() -> anyhow::Result<Self> {
        use campus_shared::config::{data_dir, parse_or};
        let bootstrap_admin = campus_account::Config::from_env()?.bootstrap_admin;
        Ok(Self {
            data_dir: data_dir(),
            gateway_addr: parse_or("GATEWAY_LISTEN_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            // Each service's own listen variable picks its port here too (0: a free one).
            service_ports: [
                parse_or("ACCOUNT_LISTEN_ADDR", SocketAddr::from(([127, 0, 0, 1], 50051)))?.port(),
                parse_or("BOARD_LISTEN_ADDR", SocketAddr::from(([127, 0, 0, 1], 50052)))?.port(),
                parse_or("MESSAGING_LISTEN_ADDR", SocketAddr::from(([127, 0, 0, 1], 50053)))?.port(),
                parse_or("TIMETABLE_LISTEN_ADDR", SocketAddr::from(([127, 0, 0, 1], 50054)))?.port(),
            ],
            bootstrap_admin,
            seed_demo: parse_or("CAMPUS_SEED_DEMO", true)?,
            seed_activity: parse_or("CAMPUS_SEED_ACTIVITY", true)?,
            secure_cookie: parse_or("GATEWAY_SECURE_COOKIE", true)?,
            databases: None,
            board_thresholds: campus_board::Config::from_env()?.thresholds,
        })
    }

    /// Everything on free ports under `data_dir`, for tests.
    pub fn ephemeral(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            gateway_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            service_ports: [0; 4],
            bootstrap_admin: None,
            seed_demo: true,
            // Tests start from boards without posts; the one that checks the activity asks for it.
            seed_activity: false,
            secure_cookie: true,
            databases: None,
            board_thresholds: Default::default(),
        }
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

fn url(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

impl System {
    /// Binds every server, migrates every database, starts serving and seeds a new database.
    pub async fn start(config: SystemConfig) -> anyhow::Result<Self> {
        campus_shared::config::prepare_data_dir(&config.data_dir)?;
        let key = SigningKey::load_or_generate(&config.data_dir)?;
        let service_token = SecretString::from(
            campus_shared::config::load_or_create(
                &config.data_dir.join("service-token"),
                campus_shared::identity::random_token,
            )?
            .trim()
            .to_string(),
        );
        let identity = IdentityConfig {
            jwt_public_key_pem: key.public_key_pem(),
            issuer: campus_shared::config::DEFAULT_ISSUER.into(),
            audience: campus_shared::config::DEFAULT_AUDIENCE.into(),
            service_token: service_token.clone(),
        };
        let databases = config.databases.clone().unwrap_or_else(|| Databases::sqlite_in(&config.data_dir));
        let service = |database: &DatabaseConfig, port: u16| ServiceConfig {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], port)),
            database: database.clone(),
            identity: identity.clone(),
            limits: ServerLimits::default(),
        };
        let [account_port, board_port, messaging_port, timetable_port] = config.service_ports;

        let mut account_config = campus_account::Config::new(service(&databases.account, account_port));
        account_config.bootstrap_admin = config.bootstrap_admin.clone();
        let account = campus_account::Application::build(account_config).await?;
        let account_addr = account.local_addr();

        let board = campus_board::Application::build(campus_board::Config {
            service: service(&databases.board, board_port),
            thresholds: config.board_thresholds,
            blob_url: config.data_dir.join("photos").display().to_string(),
        })
        .await?;
        let board_addr = board.local_addr();

        let messaging = campus_messaging::Application::build(campus_messaging::Config {
            service: service(&databases.messaging, messaging_port),
            board_addr: url(board_addr),
            account_addr: url(account_addr),
        })
        .await?;
        let messaging_addr = messaging.local_addr();

        let timetable = campus_timetable::Application::build(campus_timetable::Config {
            service: service(&databases.timetable, timetable_port),
            account_addr: url(account_addr),
        })
        .await?;
        let timetable_addr = timetable.local_addr();

        let mut gateway_config = campus_gateway::Config::new(key.clone(), service_token.clone());
        gateway_config.listen_addr = config.gateway_addr;
        gateway_config.secure_cookie = config.secure_cookie;
        gateway_config.database = databases.gateway.clone();
        gateway_config.web = Some(web::router());
        gateway_config.upstreams = campus_gateway::Upstreams {
            account: url(account_addr),
            board: url(board_addr),
            messaging: url(messaging_addr),
            timetable: url(timetable_addr),
        };
        let gateway_port = config.gateway_addr.port();
        if gateway_port != 0 {
            let origin = format!("http://127.0.0.1:{gateway_port}");
            if !gateway_config.allowed_origins.contains(&origin) {
                gateway_config.allowed_origins.push(origin);
                gateway_config.allowed_origins.push(format!("http://localhost:{gateway_port}"));
            }
        }
        let gateway = campus_gateway::Application::build(gateway_config).await?;
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

        let issuer = TokenIssuer::new(
            &key,
            campus_shared::config::DEFAULT_ISSUER,
            campus_shared::config::DEFAULT_AUDIENCE,
        )?;
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
        if config.seed_demo {
            let upstreams = seed::Upstreams {
                account: campus_shared::testing::channel(account_addr),
                board: campus_shared::testing::channel(board_addr),
                timetable: campus_shared::testing::channel(timetable_addr),
            };
            let activity = config.seed_activity.then(|| seed::Activity {
                service_token: service_token.clone(),
                hot_likes: config.board_thresholds.hot,
                board_database: databases.board.clone(),
            });
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
