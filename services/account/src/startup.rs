//! Builds the account service (database, migrations, gRPC server) and runs it.

use std::future::Future;
use std::net::SocketAddr;

use campus_proto::account::v1::account_internal_service_server::AccountInternalServiceServer;
use campus_proto::account::v1::account_service_server::AccountServiceServer;
use campus_shared::config::{EnvVar, ServiceConfig};
use campus_shared::db::{self, Migrations};
use campus_shared::identity::{AuthInterceptor, ServiceInterceptor, TokenVerifier};
use campus_shared::server::GrpcServer;
use sqlx::migrate::Migrator;

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// The account service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceConfig,
}

impl Config {
    pub const VARS: &'static [EnvVar] = &[
        EnvVar { name: "ACCOUNT_LISTEN_ADDR", default: "127.0.0.1:50051", help: "gRPC listen address" },
        EnvVar { name: "ACCOUNT_DATABASE_URL", default: "sqlite://./data/account.db", help: "sqlite:// or postgres:// URL" },
    ];

    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self { service: ServiceConfig::from_env("ACCOUNT", "account", 50051)? })
    }
}

/// A bound, migrated account service, ready to serve.
#[derive(Debug)]
pub struct Application {
    server: GrpcServer,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = db::connect(&config.service.database, Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        let verifier = TokenVerifier::from_config(&config.service.identity)?;
        let state = crate::grpc::AccountApi::new(db, &config);
        let server = GrpcServer::bind(config.service.listen_addr, config.service.limits.clone())
            .await?
            .add_service(AccountServiceServer::with_interceptor(state.clone(), AuthInterceptor::new(verifier.clone())))
            .add_service(AccountInternalServiceServer::with_interceptor(
                state,
                ServiceInterceptor::new(&config.service.identity.service_token, verifier),
            ));
        Ok(Self { server })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        self.server.serve(shutdown).await?;
        Ok(())
    }
}
