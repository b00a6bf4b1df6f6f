//! Builds the messaging service (database, migrations, upstream clients, the stream hubs and,
//! on PostgreSQL, their LISTEN connection, the consumers of account's and board's feeds) and
//! runs MessagingService and NotificationService.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use campus_proto::messaging::v1::messaging_service_server::MessagingServiceServer;
use campus_proto::messaging::v1::notification_service_server::NotificationServiceServer;
use campus_shared::config::{ACCOUNT_ADDR, BOARD_ADDR, EnvVar, ServiceConfig, parse_or};
use campus_shared::db::{self, Backend, Db, Migrations};
use campus_shared::events::{Consumer, ConsumerConfig};
use campus_shared::identity::{AuthInterceptor, TokenVerifier};
use campus_shared::page::PageTokens;
use campus_shared::revocation::AccountFeedTasks;
use campus_shared::server::GrpcServer;
use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;

use crate::events::{AccountEvents, BoardEvents};
use crate::fanout::{self, Hubs};
use crate::grpc::MessagingApi;
use crate::store::{Database, migrations};
use crate::upstream::Upstreams;

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// The messaging service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceConfig,
    /// URL of the board service (for `BoardInternalService.GetContentAuthor`, and its event
    /// feed, which notifications come from).
    pub board_addr: String,
    /// URL of the account service (for `AccountInternalService.GetUsers`).
    pub account_addr: String,
    /// How many StreamMessages and StreamNotifications calls one user may hold open at once,
    /// both kinds together, on each replica (the next is RESOURCE_EXHAUSTED
    /// `TOO_MANY_STREAMS`).
    pub max_streams_per_user: usize,
}

impl Config {
    /// The service's own environment variables, for `--help`.
    pub const VARS: &'static [EnvVar] = &[
        EnvVar { name: "MESSAGING_LISTEN_ADDR", default: "127.0.0.1:50053", help: "gRPC listen address" },
        EnvVar {
            name: "MESSAGING_DATABASE_URL",
            default: "sqlite://./data/messaging.db",
            help: "sqlite:// or postgres:// URL",
        },
        BOARD_ADDR.documented("board service URL (content authors, and its event feed for notifications)"),
        ACCOUNT_ADDR.documented("account service URL (profiles, and its event feed)"),
        EnvVar {
            name: "MESSAGING_MAX_STREAMS_PER_USER",
            default: "8",
            help: "open StreamMessages and StreamNotifications calls per user and replica",
        },
    ];

    /// The default of `MESSAGING_MAX_STREAMS_PER_USER`.
    pub const DEFAULT_MAX_STREAMS_PER_USER: usize = 8;

    pub fn from_env() -> anyhow::Result<Self> {
        let max_streams_per_user =
            parse_or("MESSAGING_MAX_STREAMS_PER_USER", Self::DEFAULT_MAX_STREAMS_PER_USER)?;
        anyhow::ensure!(max_streams_per_user >= 1, "MESSAGING_MAX_STREAMS_PER_USER must be at least 1");
        Ok(Self {
            service: ServiceConfig::from_env("MESSAGING", "messaging", 50053)?,
            board_addr: BOARD_ADDR.read(),
            account_addr: ACCOUNT_ADDR.read(),
            max_streams_per_user,
        })
    }
}

/// Versions of the applied migrations as first named, by timestamp
/// (`20240101000000_messaging.sql`…), and as named now, by number like every other
/// service's (`0001_messaging.sql`…). The SQL, and so each checksum, is unchanged.
///
/// Remove this (and [`renumber_migrations`]) once every messaging database has been started
/// by a release that has it: after that no `_sqlx_migrations` holds an old version.
const RENUMBERED_MIGRATIONS: [(i64, i64); 3] =
    [(20240101000000, 1), (20261203000000, 10), (20261204000000, 11)];

/// Renames the versions in `_sqlx_migrations` of a database migrated under the old names,
/// in one transaction, before the migrator runs: sqlx records each migration by version and
/// refuses to start on a database that recorded one it no longer knows. Nothing happens on a
/// new database (no record yet) or one already renumbered. Binaries from before the rename
/// refuse to start on a renumbered database, so rolling back past it means renaming back.
async fn renumber_migrations(database: &Database) -> campus_shared::Result<()> {
    let mut tx = database.begin_write().await?;
    if migrations::record_exists(&mut tx, database.backend()).await? {
        for (from, to) in RENUMBERED_MIGRATIONS {
            migrations::renumber(&mut tx, from, to).await?;
        }
    }
    Ok(tx.commit().await?)
}

/// Counts the open StreamMessages and StreamNotifications calls of one instance (for tests
/// and diagnostics).
#[derive(Debug, Clone)]
pub struct StreamStats(Hubs);

impl StreamStats {
    /// How many streams are open now.
    pub fn open(&self) -> usize {
        self.0.open_streams()
    }
}

/// The feeds' consumers of one instance, with what they need to run.
#[derive(Debug)]
struct Feeds {
    db: Db,
    verifier: TokenVerifier,
    account: Consumer,
    board: Consumer,
}

/// A bound, migrated messaging service, ready to serve.
#[derive(Debug)]
pub struct Application {
    server: GrpcServer,
    hubs: Hubs,
    feeds: Feeds,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let service = &config.service;
        let database = Database::new(db::open(&service.database).await?);
        renumber_migrations(&database).await?;
        database.db.migrate(Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        let hubs = Hubs::new(config.max_streams_per_user);
        if database.backend() == Backend::Postgres {
            fanout::listen(&service.database.url, hubs.clone(), database.clone()).await?;
        }
        let verifier = TokenVerifier::from_config(&service.identity)?;
        let feeds = Feeds {
            db: database.db.clone(),
            verifier: verifier.clone(),
            account: Consumer::new(
                database.db.clone(),
                ConsumerConfig::of_account_feed("messaging", &config.account_addr, service),
                Arc::new(AccountEvents),
            )?,
            board: Consumer::new(
                database.db.clone(),
                ConsumerConfig::of_board_feed("messaging", &config.board_addr, service),
                Arc::new(BoardEvents::new(database.backend(), hubs.notifications.clone())),
            )?,
        };
        let upstreams = Upstreams::new(
            &config.board_addr,
            &config.account_addr,
            service.identity.service_token.clone(),
            &service.client_tls,
        )?;
        // Every replica shares the service credential, so each can read the others' tokens.
        let tokens = PageTokens::new(service.identity.service_token.expose_secret().as_bytes());
        let api = MessagingApi::new(database, hubs.clone(), upstreams, tokens);
        let server = GrpcServer::bind(service.listen_addr, service.limits.clone())
            .await?
            .with_tls(service.tls.clone())
            .add_service(MessagingServiceServer::with_interceptor(
                api.clone(),
                AuthInterceptor::new(verifier.clone()),
            ))
            .add_service(NotificationServiceServer::with_interceptor(api, AuthInterceptor::new(verifier)));
        Ok(Self { server, hubs, feeds })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// A handle that counts this instance's open streams, usable after
    /// [`Application::run_until_stopped`] took the application.
    pub fn stream_stats(&self) -> StreamStats {
        StreamStats(self.hubs.clone())
    }

    /// Serves until `shutdown` resolves. Open streams end first (they would otherwise hold
    /// their connections through the whole grace period), then in-flight requests drain.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let hubs = self.hubs.clone();
        let shutdown = async move {
            shutdown.await;
            hubs.close();
        };
        let Feeds { db, verifier, account, board } = self.feeds;
        let account = AccountFeedTasks::start(db, account, verifier);
        let board_task = tokio::spawn(board.clone().run_forever());
        let served = self.server.serve(shutdown).await;
        account.stop().await;
        board_task.abort();
        let _ = board_task.await;
        // Another replica takes the board feed over at once.
        board.release().await;
        // Stops the PostgreSQL listener even when the server ended on its own.
        self.hubs.close();
        served?;
        Ok(())
    }
}
