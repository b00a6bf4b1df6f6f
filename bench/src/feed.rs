//! `campus-bench feed`: the lag of the account event feed (DESIGN §8), from an event's commit
//! in the producer's database to its application in a consumer's, at a steady write rate.
//!
//! ```text
//! cargo run --release -p campus-bench -- feed [--rate 500] [--secs 20] [--warmup 3]
//! ```
//!
//! The account and board services run in this process on fresh PostgreSQL databases
//! (`campus_bench_feed_account`, `campus_bench_feed_board` on `CAMPUS_BENCH_PG_URL`), board
//! consuming account's feed over gRPC as in production. The events are `AccountDeleted`
//! of users that have no rows in board: a deletion through the API costs an argon2 hash
//! (about 30 ms of a core), so 500 of them a second would measure argon2 on this machine,
//! not the feed. Instead a writer appends each event with the producer's own library call
//! (`Outbox::append`, one transaction per event, as account's deletion does) at the given
//! rate. It writes as another account replica would: the feed's stream finds its commits by
//! polling (every 200 ms), the slower of the two wake-ups (account's own commits wake the
//! stream at once). Board applies each event in full (its applied record, the deleted-account
//! record, the five statements that anonymise and remove a user's board data).
//!
//! Lag = board's `applied_at` − the event's `occurred_at` (stamped in the writing
//! transaction just before its commit), both on this machine's clock, for every event
//! written after the warm-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use campus_proto::account::v1::AccountDeleted;
use campus_shared::config::{DatabaseConfig, IdentityConfig, ServerLimits, ServiceConfig};
use campus_shared::db::{Backend, Db, now_micros, timestamp};
use campus_shared::events::Outbox;
use campus_shared::identity::SigningKey;
use campus_testkit::bench::pg_create_database;
use secrecy::SecretString;

/// The command line of `feed`.
#[derive(Debug, Clone)]
pub(crate) struct FeedOptions {
    pub(crate) rate: u32,
    pub(crate) duration: Duration,
    pub(crate) warmup: Duration,
    pub(crate) pg_url: String,
}

impl FeedOptions {
    pub(crate) fn parse(args: &[String], pg_url: String) -> anyhow::Result<Self> {
        let mut o =
            Self { rate: 500, duration: Duration::from_secs(20), warmup: Duration::from_secs(3), pg_url };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--rate" => o.rate = value()?.parse()?,
                "--secs" => o.duration = Duration::from_secs_f64(value()?.parse()?),
                "--warmup" => o.warmup = Duration::from_secs_f64(value()?.parse()?),
                _ => bail!(
                    "unknown option {flag}\nusage: campus-bench feed [--rate N] [--secs N] [--warmup N]"
                ),
            }
        }
        if o.rate == 0 || o.duration.is_zero() {
            bail!("--rate and --secs must be positive");
        }
        Ok(o)
    }
}

fn service(url: String, identity: &IdentityConfig) -> ServiceConfig {
    ServiceConfig {
        listen_addr: ([127, 0, 0, 1], 0).into(),
        database: DatabaseConfig::new(url),
        identity: identity.clone(),
        limits: ServerLimits::default(),
        tls: None,
        client_tls: Default::default(),
    }
}

fn percentile(sorted: &[i64], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Duration::from_micros(sorted[index].max(0) as u64)
}

/// Runs the feed benchmark and prints (and writes to `out/feed.md`) its figures.
pub(crate) async fn run(o: FeedOptions, out: &std::path::Path) -> anyhow::Result<()> {
    let account_url = pg_create_database(&o.pg_url, "campus_bench_feed_account", true).await?;
    let board_url = pg_create_database(&o.pg_url, "campus_bench_feed_board", true).await?;
    let identity = IdentityConfig {
        jwt_public_key_pem: SigningKey::generate().public_key_pem(),
        issuer: campus_shared::config::DEFAULT_ISSUER.into(),
        audience: campus_shared::config::DEFAULT_AUDIENCE.into(),
        service_token: SecretString::from(campus_shared::identity::random_token()),
    };
    let account = campus_account::Application::build(campus_account::Config::new(service(
        account_url.clone(),
        &identity,
    )))
    .await?;
    let account_addr = account.local_addr();
    tokio::spawn(account.run_until_stopped(std::future::pending()));
    let photos = tempfile::tempdir()?;
    let board = campus_board::Application::build(campus_board::Config {
        service: service(board_url.clone(), &identity),
        thresholds: Default::default(),
        blob_url: photos.path().display().to_string(),
        account_addr: format!("http://{account_addr}"),
        feed: Default::default(),
        first_page_ttl: campus_board::Config::FIRST_PAGE_TTL,
    })
    .await?;
    tokio::spawn(board.run_until_stopped(std::future::pending()));

    sqlx::any::install_default_drivers();
    let producer = Db::new(sqlx::AnyPool::connect(&account_url).await?, Backend::Postgres);
    let consumer = sqlx::AnyPool::connect(&board_url).await?;

    eprintln!(
        "feed: writing {} events/s for {:?} (+{:?} warm-up) into account's outbox; board consumes",
        o.rate, o.duration, o.warmup
    );
    let written = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(32));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(o.rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let measured_from = now_micros() + o.warmup.as_micros() as i64;
    let total = o.warmup + o.duration;
    let mut user_id = 1_000_000_000_i64;
    while started.elapsed() < total {
        tick.tick().await;
        user_id += 1;
        let permit = in_flight.clone().acquire_owned().await?;
        let (db, written, failed) = (producer.clone(), written.clone(), failed.clone());
        tokio::spawn(async move {
            let result = async {
                let mut tx = db.begin_write().await?;
                let now = now_micros();
                let event = AccountDeleted { user_id, school_id: 1, deleted_at: Some(timestamp(now)) };
                Outbox::append(&mut tx, &event, now).await?;
                tx.commit().await
            }
            .await;
            match result {
                Ok(()) => written.fetch_add(1, Ordering::Relaxed),
                Err(_) => failed.fetch_add(1, Ordering::Relaxed),
            };
            drop(permit);
        });
    }
    let _ = in_flight.acquire_many(32).await?;
    let wrote_for = started.elapsed();
    let head: i64 = sqlx::query_scalar("SELECT position FROM event_feed_head WHERE id = 1")
        .fetch_one(&producer.pool)
        .await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let cursor: Option<i64> =
            sqlx::query_scalar("SELECT position FROM event_cursor WHERE feed = 'account'")
                .fetch_optional(&consumer)
                .await?;
        if cursor.unwrap_or(0) >= head {
            break;
        }
        if Instant::now() > deadline {
            bail!("board did not catch up with position {head} within a minute (at {cursor:?})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut lags: Vec<i64> = sqlx::query_scalar(
        "SELECT applied_at - occurred_at FROM event_applied WHERE feed = 'account' AND occurred_at >= $1",
    )
    .bind(measured_from)
    .fetch_all(&consumer)
    .await?;
    lags.sort_unstable();
    let written = written.load(Ordering::Relaxed);
    let measured = lags.len();
    let achieved = measured as f64 / o.duration.as_secs_f64();
    let (p50, p99, max) = (percentile(&lags, 0.50), percentile(&lags, 0.99), percentile(&lags, 1.0));
    let verdict = if p99 <= Duration::from_secs(1) { "met" } else { "MISSED" };
    let report = format!(
        "# Event-feed lag (account → board, PostgreSQL)\n\n\
         | written | measured | rate (events/s) | p50 | p99 | max | target p99 ≤ 1 s |\n\
         |---|---|---|---|---|---|---|\n\
         | {written} in {wrote_for:.1?} ({} failed) | {measured} | {achieved:.0} | {p50:.1?} | {p99:.1?} | {max:.1?} | {verdict} |\n",
        failed.load(Ordering::Relaxed),
    );
    println!("{report}");
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("feed.md"), &report)?;
    Ok(())
}
