//! Builds the board service (database, migrations, photo store, gRPC server) and runs it.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use campus_proto::board::v1::board_internal_service_server::BoardInternalServiceServer;
use campus_proto::board::v1::board_service_server::BoardServiceServer;
use campus_proto::events::v1::event_feed_internal_service_server::EventFeedInternalServiceServer;
use campus_shared::config::{ACCOUNT_ADDR, EnvVar, ServiceConfig, data_dir, parse_or, var};
use campus_shared::db::{self, Db, Migrations};
use campus_shared::events::{Consumer, ConsumerConfig, Feed, FeedConfig, Outbox};
use campus_shared::identity::{AuthInterceptor, ServiceInterceptor, TokenVerifier};
use campus_shared::page::PageTokens;
use campus_shared::revocation::AccountFeedTasks;
use campus_shared::server::GrpcServer;
use secrecy::ExposeSecret;
use sqlx::migrate::Migrator;
use tonic::service::interceptor::InterceptedService;

use crate::blob::Blobs;
use crate::domain::Thresholds;
use crate::domain::photo::MAX_PHOTO_BYTES;
use crate::domain::search::SearchLimits;
use crate::events::consume::AccountEvents;
use crate::store::FirstPages;
use crate::store::search::Searches;

pub(crate) static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
pub(crate) static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// Room for a 10 MiB photo plus the request's other fields and framing.
const MAX_MESSAGE_BYTES: usize = MAX_PHOTO_BYTES + 1024 * 1024;

/// The board service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceConfig,
    /// Likes that make a post HOT and BEST.
    pub thresholds: Thresholds,
    /// Where photos are stored: a directory, `file://…`, `memory://` or `s3://bucket/prefix`.
    pub blob_url: String,
    /// URL of the account service, whose event feed board consumes; empty: none.
    pub account_addr: String,
    /// Board's own event feed (comments, HOT/BEST, removals): polling, retention, lifetime.
    pub feed: FeedConfig,
    /// How long a board's first page is shared before it is read again; what another replica
    /// changes shows within it (this process's own changes show at once). Zero shares none.
    pub first_page_ttl: Duration,
}

impl Config {
    pub const VARS: &'static [EnvVar] = &[
        EnvVar { name: "BOARD_LISTEN_ADDR", default: "127.0.0.1:50052", help: "gRPC listen address" },
        EnvVar {
            name: "BOARD_DATABASE_URL",
            default: "sqlite://./data/board.db",
            help: "sqlite:// or postgres:// URL",
        },
        ACCOUNT_ADDR.documented("account service URL (its event feed: deleted accounts)"),
        EnvVar { name: "BOARD_HOT_THRESHOLD", default: "10", help: "likes that make a post HOT" },
        EnvVar { name: "BOARD_BEST_THRESHOLD", default: "100", help: "likes that make a post BEST" },
        EnvVar {
            name: "BOARD_BLOB_URL",
            default: "./data/photos",
            help: "photo store: a directory, file://, or s3://bucket/prefix (s3 feature, AWS_* variables)",
        },
        EnvVar {
            name: "BOARD_SEARCH_TIMEOUT_MS",
            default: "2000",
            help: "how long a search may run (PostgreSQL)",
        },
        EnvVar { name: "BOARD_SEARCH_BURST", default: "20", help: "searches a user may make at once" },
        EnvVar {
            name: "BOARD_SEARCH_PER_SECOND",
            default: "2",
            help: "searches a user may make per second after the burst",
        },
        EnvVar {
            name: "BOARD_FIRST_PAGE_TTL_MS",
            default: "1000",
            help: "how long a board's first page is shared by its viewers (0: not at all)",
        },
        FeedConfig::RETENTION_VAR,
    ];

    /// The default of `first_page_ttl`.
    pub const FIRST_PAGE_TTL: Duration = Duration::from_secs(1);

    pub fn from_env() -> anyhow::Result<Self> {
        let d = Thresholds::default();
        Ok(Self {
            service: ServiceConfig::from_env("BOARD", "board", 50052)?,
            thresholds: Thresholds {
                hot: parse_or("BOARD_HOT_THRESHOLD", d.hot)?,
                best: parse_or("BOARD_BEST_THRESHOLD", d.best)?,
            },
            blob_url: var("BOARD_BLOB_URL")
                .unwrap_or_else(|| data_dir().join("photos").display().to_string()),
            account_addr: ACCOUNT_ADDR.read(),
            feed: FeedConfig::from_env()?,
            first_page_ttl: Duration::from_millis(parse_or(
                "BOARD_FIRST_PAGE_TTL_MS",
                Self::FIRST_PAGE_TTL.as_millis() as u64,
            )?),
        })
    }
}

/// A bound, migrated board service, ready to serve.
#[derive(Debug)]
pub struct Application {
    server: GrpcServer,
    /// Board's own event feed, whose old events the purge removes.
    events: Feed,
    /// The account feed board consumes.
    feed: Option<(Db, Consumer, TokenVerifier)>,
    /// Where the search indexer takes its queue from.
    db: Db,
}

/// How long the search indexer waits when the queue held less than a batch: posts gather
/// into larger batches, each cheaper per post, and a search reads at most this long's
/// writes from the queue.
const INDEXER_PAUSE: Duration = Duration::from_millis(100);

/// How often at most the indexer vacuums the queue, when it has taken posts from it.
const QUEUE_VACUUM_EVERY: Duration = Duration::from_secs(1);

/// Indexes queued posts batch by batch (`store::search::index_pending`), as long as it runs.
async fn index_forever(db: Db) {
    use crate::store::search;
    let (mut taken, mut vacuumed) = (0, std::time::Instant::now());
    loop {
        match search::index_pending(&db).await {
            Ok(n) => {
                taken += n;
                if taken > 0 && vacuumed.elapsed() >= QUEUE_VACUUM_EVERY {
                    if let Err(error) = search::vacuum_queue(&db).await {
                        tracing::warn!(%error, "could not vacuum the search indexer's queue");
                    }
                    (taken, vacuumed) = (0, std::time::Instant::now());
                }
                if n == 0
                    && let Err(error) = search::merge_step(&db).await
                {
                    tracing::warn!(%error, "could not merge the search index's segments");
                }
                if n < search::index_batch(db.backend) as u64 {
                    tokio::time::sleep(INDEXER_PAUSE).await;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "a search index batch failed; it is taken again");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let d = SearchLimits::default();
        let limits = SearchLimits {
            statement_timeout: Duration::from_millis(parse_or(
                "BOARD_SEARCH_TIMEOUT_MS",
                d.statement_timeout.as_millis() as u64,
            )?),
            burst: parse_or("BOARD_SEARCH_BURST", d.burst)?,
            per_second: parse_or("BOARD_SEARCH_PER_SECOND", d.per_second)?,
            ..d
        };
        anyhow::ensure!(
            limits.burst >= 1.0 && limits.per_second > 0.0 && !limits.statement_timeout.is_zero(),
            "search limits must be positive (a burst of at least 1)"
        );
        Self::build_with(config, limits).await
    }

    /// [`Application::build`] with other search bounds (tests make them small).
    pub async fn build_with(config: Config, search_limits: SearchLimits) -> anyhow::Result<Self> {
        anyhow::ensure!(
            config.thresholds.hot > 0 && config.thresholds.best > 0,
            "like thresholds must be positive"
        );
        let db = db::connect(&config.service.database, Migrations { sqlite: &SQLITE, postgres: &POSTGRES })
            .await?;
        let identity = &config.service.identity;
        let verifier = TokenVerifier::from_config(identity)?;
        let tokens = PageTokens::new(identity.service_token.expose_secret().as_bytes());
        let blobs = Blobs::open(&config.blob_url)?;
        let first_pages = Arc::new(FirstPages::new(config.first_page_ttl));
        let feed = if config.account_addr.is_empty() {
            None
        } else {
            let consumer = Consumer::new(
                db.clone(),
                ConsumerConfig::of_account_feed("board", &config.account_addr, &config.service),
                Arc::new(AccountEvents::new(first_pages.clone())),
            )?;
            Some((db.clone(), consumer, verifier.clone()))
        };
        let outbox = Outbox::new();
        let events = Feed::new(db.clone(), outbox.clone(), config.feed.clone());
        let index_db = db.clone();
        let searches = Searches::open(&db, &config.service.database, search_limits).await?;
        // Posts written before the search index existed, or before its terms last changed, are
        // (re)indexed in the background, batch by batch; new, edited and deleted ones through
        // the indexer's queue.
        let (backfilled, statistics) = (db.clone(), searches.statistics.clone());
        tokio::spawn(async move {
            match crate::store::search::backfill(&backfilled).await {
                Ok(n) => {
                    statistics.backfilled();
                    if n > 0 {
                        tracing::info!(posts = n, "search index backfilled");
                    }
                }
                Err(error) => tracing::error!(%error, "search index backfill stopped; it resumes on restart"),
            }
        });
        let api =
            crate::grpc::BoardApi::new(db, tokens, config.thresholds, blobs, searches, outbox, first_pages);
        let public = BoardServiceServer::new(api.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let server = GrpcServer::bind(config.service.listen_addr, config.service.limits.clone())
            .await?
            .with_tls(config.service.tls.clone())
            .add_service(InterceptedService::new(public, AuthInterceptor::new(verifier.clone())))
            .add_service(BoardInternalServiceServer::with_interceptor(
                api,
                ServiceInterceptor::new(&identity.service_token, verifier.clone()),
            ))
            .add_service(EventFeedInternalServiceServer::with_interceptor(
                events.clone(),
                ServiceInterceptor::new(&identity.service_token, verifier),
            ));
        Ok(Self { server, events, feed, db: index_db })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let feed = self.feed.map(|(db, consumer, verifier)| AccountFeedTasks::start(db, consumer, verifier));
        let purge = tokio::spawn(self.events.purge_forever());
        let indexer = tokio::spawn(index_forever(self.db));
        let served = self.server.serve(shutdown).await;
        purge.abort();
        indexer.abort();
        if let Some(feed) = feed {
            feed.stop().await;
        }
        served?;
        Ok(())
    }
}
