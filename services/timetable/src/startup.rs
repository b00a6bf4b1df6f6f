//! Builds the timetable service (database, migrations, gRPC server) and runs it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use campus_proto::timetable::v1::timetable_service_server::TimetableServiceServer;
use campus_shared::config::{ACCOUNT_ADDR, EnvVar, ServiceConfig};
use campus_shared::db::{self, Db, Migrations};
use campus_shared::events::{Consumer, ConsumerConfig};
use campus_shared::identity::{AuthInterceptor, TokenVerifier};
use campus_shared::revocation::AccountFeedTasks;
use campus_shared::server::GrpcServer;
use sqlx::migrate::Migrator;
use tonic::service::interceptor::InterceptedService;

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// The largest request accepted (a catalog CSV).
pub(crate) const MAX_REQUEST_BYTES: usize = 16 << 20;

/// The timetable service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceConfig,
    /// URL of the account service, asked whether two users are friends.
    pub account_addr: String,
}

impl Config {
    /// The service's own variables, for `--help`.
    pub const VARS: &'static [EnvVar] = &[
        EnvVar { name: "TIMETABLE_LISTEN_ADDR", default: "127.0.0.1:50054", help: "gRPC listen address" },
        EnvVar {
            name: "TIMETABLE_DATABASE_URL",
            default: "sqlite://./data/timetable.db",
            help: "sqlite:// or postgres:// URL",
        },
        ACCOUNT_ADDR.documented("account service URL (friend checks, and its event feed)"),
    ];

    /// Reads the configuration from the environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self {
            service: ServiceConfig::from_env("TIMETABLE", "timetable", 50054)?,
            account_addr: ACCOUNT_ADDR.read(),
        })
    }
}

/// A bound, migrated timetable service, ready to serve.
#[derive(Debug)]
pub struct Application {
    server: GrpcServer,
    feed: (Db, Consumer, TokenVerifier),
}

impl Application {
    /// Connects and migrates the database and binds the listener (port 0 picks one).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = db::connect(&config.service.database, Migrations { sqlite: &SQLITE, postgres: &POSTGRES })
            .await?;
        let verifier = TokenVerifier::from_config(&config.service.identity)?;
        let consumer = Consumer::new(
            db.clone(),
            ConsumerConfig::of_account_feed("timetable", &config.account_addr, &config.service),
            Arc::new(crate::events::AccountEvents),
        )?;
        let feed = (db.clone(), consumer, verifier.clone());
        let api = crate::grpc::TimetableApi::new(
            db,
            &config.account_addr,
            config.service.identity.service_token.clone(),
            &config.service.client_tls,
        )?;
        let server = GrpcServer::bind(config.service.listen_addr, config.service.limits.clone())
            .await?
            .with_tls(config.service.tls.clone())
            .add_service(InterceptedService::new(
                // Catalog imports are whole CSV files; gRPC's 4 MiB default is too small for
                // a large school's catalog.
                TimetableServiceServer::new(api).max_decoding_message_size(MAX_REQUEST_BYTES),
                AuthInterceptor::new(verifier),
            ));
        Ok(Self { server, feed })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Serves until `shutdown` resolves.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (db, consumer, verifier) = self.feed;
        let feed = AccountFeedTasks::start(db, consumer, verifier);
        let served = self.server.serve(shutdown).await;
        feed.stop().await;
        served?;
        Ok(())
    }
}
