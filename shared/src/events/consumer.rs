//! The consumer's loop: take the lease, stream the producer's feed from the cursor kept in
//! this service's own database, apply each batch in one transaction (the effect, the
//! applied-event records and the cursor commit together), and reconnect with back-off.

use std::sync::Arc;
use std::time::Duration;

use campus_proto::events::v1::WatchEventsRequest;
use campus_proto::events::v1::event_feed_internal_service_client::EventFeedInternalServiceClient;
use secrecy::{ExposeSecret, SecretString};
use sqlx::AnyConnection;
use tonic::transport::Channel;

use super::Event;
use crate::db::{Db, now_micros};
use crate::identity::SERVICE_TOKEN_HEADER;
use crate::tls::ClientTls;

/// What a handler's failure is: anything, logged with its chain; the batch is retried.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Applied-event records older than this (and behind the cursor) are deleted.
const KEEP_APPLIED: Duration = Duration::from_secs(24 * 3600);

/// Applies one event's effect to the consumer's database.
#[tonic::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// Applies `event` inside `tx`, the transaction that also records it as applied and moves
    /// the cursor. Events of types the consumer does not care about are `Ok(())`.
    async fn apply(&self, tx: &mut AnyConnection, event: &Event) -> Result<(), BoxError>;

    /// Called once a batch's transaction has ended: `committed` is true when its effects are
    /// now visible, false when it was rolled back (the batch will be retried). A handler that
    /// must act after commit (say, wake live streams in its own process) keeps what [`apply`]
    /// produced until then.
    ///
    /// [`apply`]: Handler::apply
    fn batch_ended(&self, committed: bool) {
        let _ = committed;
    }
}

/// Where a consumer reads from and who it is.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The producer's name ("account"): the key of the cursor, lease and applied records.
    pub feed: String,
    /// This consumer's name ("board"), shared by its replicas: the producer keeps its
    /// acknowledged position under it.
    pub consumer: String,
    /// The producer's URL.
    pub url: String,
    pub service_token: SecretString,
    pub tls: ClientTls,
    /// A replica that stops renewing its lease loses it after this long.
    pub lease_ttl: Duration,
}

/// One consumer of one feed. Clones share the handler and the lease holder id.
#[derive(Clone)]
pub struct Consumer {
    db: Db,
    config: ConsumerConfig,
    handler: Arc<dyn Handler>,
    /// This replica's lease holder id.
    holder: String,
    client: EventFeedInternalServiceClient<Channel>,
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer").field("feed", &self.config.feed).field("holder", &self.holder).finish()
    }
}

/// How a streaming session ended without an error.
enum Ended {
    /// The producer closed the stream (its lifetime): reconnect at once.
    Closed,
    /// Another replica holds the lease now.
    LeaseLost,
}

impl Consumer {
    pub fn new(
        db: Db,
        config: ConsumerConfig,
        handler: Arc<dyn Handler>,
    ) -> Result<Self, crate::config::ConfigError> {
        let channel = config
            .tls
            .endpoint(&config.url)?
            .connect_timeout(Duration::from_secs(2))
            .http2_keep_alive_interval(Duration::from_secs(20))
            .keep_alive_timeout(Duration::from_secs(10))
            .connect_lazy();
        Ok(Self {
            db,
            config,
            handler,
            holder: crate::identity::random_token(),
            client: EventFeedInternalServiceClient::new(channel),
        })
    }

    /// The position of the last event applied.
    pub async fn cursor(&self) -> Result<i64, sqlx::Error> {
        let position: Option<i64> = sqlx::query_scalar("SELECT position FROM event_cursor WHERE feed = $1")
            .bind(&self.config.feed)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(position.unwrap_or(0))
    }

    /// Takes or renews the lease; false while another live replica holds it.
    pub async fn try_lease(&self) -> Result<bool, sqlx::Error> {
        let now = now_micros();
        let expires_at = now + self.config.lease_ttl.as_micros() as i64;
        let done = sqlx::query(
            "INSERT INTO event_lease (feed, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (feed) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE event_lease.holder = excluded.holder OR event_lease.expires_at < $4",
        )
        .bind(&self.config.feed)
        .bind(&self.holder)
        .bind(expires_at)
        .bind(now)
        .execute(&self.db.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease up (on shutdown), so another replica takes over at once.
    pub async fn release(&self) {
        let released = sqlx::query("DELETE FROM event_lease WHERE feed = $1 AND holder = $2")
            .bind(&self.config.feed)
            .bind(&self.holder)
            .execute(&self.db.pool)
            .await;
        if let Err(error) = released {
            tracing::warn!(%error, feed = %self.config.feed, "releasing the event lease failed");
        }
    }

    /// Applies a batch in one transaction: each event not applied before (by id) gets its
    /// effect and an applied record, and the cursor moves to the batch's last position.
    /// Returns how many events were new.
    pub async fn apply_batch(&self, events: &[Event]) -> Result<usize, BoxError> {
        let applied = self.apply_batch_in_one_transaction(events).await;
        self.handler.batch_ended(applied.is_ok());
        applied
    }

    async fn apply_batch_in_one_transaction(&self, events: &[Event]) -> Result<usize, BoxError> {
        let Some(last) = events.last() else {
            return Ok(0);
        };
        let feed = &self.config.feed;
        let mut tx = self.db.begin_write().await?;
        let mut applied = 0;
        for event in events {
            let occurred_at = crate::db::micros(event.occurred_at.as_ref());
            let fresh = sqlx::query(
                "INSERT INTO event_applied (feed, event_id, position, occurred_at, applied_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .bind(feed)
            .bind(event.id)
            .bind(event.position)
            .bind(occurred_at)
            .bind(now_micros())
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if fresh {
                self.handler.apply(&mut tx, event).await?;
                applied += 1;
            }
        }
        sqlx::query(
            "INSERT INTO event_cursor (feed, position) VALUES ($1, $2) ON CONFLICT (feed) \
             DO UPDATE SET position = excluded.position WHERE event_cursor.position < excluded.position",
        )
        .bind(feed)
        .bind(last.position)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// Deletes applied records that are both behind the cursor and old: the cursor already
    /// keeps those events from coming back.
    async fn forget_old_applied(&self) -> Result<(), sqlx::Error> {
        let cursor = self.cursor().await?;
        sqlx::query("DELETE FROM event_applied WHERE feed = $1 AND position <= $2 AND applied_at < $3")
            .bind(&self.config.feed)
            .bind(cursor)
            .bind(now_micros() - KEEP_APPLIED.as_micros() as i64)
            .execute(&self.db.pool)
            .await?;
        Ok(())
    }

    /// Consumes until the task is aborted: waits for the lease, streams from the cursor,
    /// reconnects after errors with a doubling back-off (100 ms to 10 s).
    pub async fn run_forever(self) {
        let mut backoff = MIN_BACKOFF;
        let renew_every = self.config.lease_ttl / 3;
        let mut sweep = tokio::time::interval(Duration::from_secs(3600));
        loop {
            match self.try_lease().await {
                Ok(true) => {}
                Ok(false) => {
                    tokio::time::sleep(renew_every).await;
                    continue;
                }
                Err(error) => {
                    tracing::warn!(%error, feed = %self.config.feed, "taking the event lease failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
            if futures::FutureExt::now_or_never(sweep.tick()).is_some()
                && let Err(error) = self.forget_old_applied().await
            {
                tracing::warn!(%error, "forgetting old applied events failed");
            }
            match self.session(&mut backoff).await {
                Ok(Ended::Closed) => {}
                Ok(Ended::LeaseLost) => {
                    tracing::info!(feed = %self.config.feed, "event lease taken by another replica")
                }
                Err(error) => {
                    tracing::warn!(
                        error = %error, feed = %self.config.feed, retry_in_ms = backoff.as_millis() as u64,
                        "event feed interrupted"
                    );
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// One stream: from the cursor until the producer ends it, the lease is lost, or an
    /// error. `backoff` goes back to its minimum once a batch is applied.
    async fn session(&self, backoff: &mut Duration) -> Result<Ended, BoxError> {
        let after = self.cursor().await?;
        let mut request =
            tonic::Request::new(WatchEventsRequest { after, consumer: self.config.consumer.clone() });
        request
            .metadata_mut()
            .insert(SERVICE_TOKEN_HEADER, self.config.service_token.expose_secret().parse()?);
        let mut stream = self.client.clone().watch_events(request).await?.into_inner();
        let mut renew = tokio::time::interval(self.config.lease_ttl / 3);
        renew.tick().await;
        loop {
            tokio::select! {
                _ = renew.tick() => {
                    if !self.try_lease().await? {
                        return Ok(Ended::LeaseLost);
                    }
                }
                message = stream.message() => match message? {
                    None => return Ok(Ended::Closed),
                    Some(batch) => {
                        let applied = self.apply_batch(&batch.events).await?;
                        *backoff = MIN_BACKOFF;
                        tracing::debug!(feed = %self.config.feed, applied, "events applied");
                    }
                },
            }
        }
    }
}

impl ConsumerConfig {
    /// The account feed as consumed by the service `consumer` of `service`'s configuration
    /// (its service credential and client TLS), with a 10-second lease.
    pub fn of_account_feed(
        consumer: &str,
        account_addr: &str,
        service: &crate::config::ServiceConfig,
    ) -> Self {
        Self {
            feed: "account".into(),
            consumer: consumer.into(),
            url: account_addr.into(),
            service_token: service.identity.service_token.clone(),
            tls: service.client_tls.clone(),
            lease_ttl: Duration::from_secs(10),
        }
    }

    /// The board feed (comments, promotions, removals) as consumed by the service `consumer`,
    /// with a 10-second lease.
    pub fn of_board_feed(consumer: &str, board_addr: &str, service: &crate::config::ServiceConfig) -> Self {
        Self { feed: "board".into(), url: board_addr.into(), ..Self::of_account_feed(consumer, "", service) }
    }
}
