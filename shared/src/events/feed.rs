//! The producer's `WatchEvents` stream, the consumers' acknowledgements, and the purge.

use std::future::Future;
use std::time::Duration;

use campus_proto::events::v1::event_feed_internal_service_server::EventFeedInternalService;
use campus_proto::events::v1::{Event, WatchEventsRequest, WatchEventsResponse};
use sqlx::Row;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::Outbox;
use crate::db::{Db, now_micros, timestamp};
use crate::env::{ConfigError, EnvVar, seconds_or};

/// Events sent in one response (and read in one query).
const BATCH: i64 = 256;
/// How often the purge runs.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// How the feed serves and purges.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    /// How often an idle stream looks for events committed by other replicas (this
    /// process's own commits wake it at once).
    pub poll: Duration,
    /// An event is purged once every known consumer has passed it and it is this old.
    pub retention: Duration,
    /// A stream ends after this long and the consumer reconnects with its cursor: that
    /// reconnection is its acknowledgement, so acknowledgements advance at least this often.
    pub stream_lifetime: Duration,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(200),
            retention: Duration::from_secs(7 * 24 * 3600),
            stream_lifetime: Duration::from_secs(300),
        }
    }
}

impl FeedConfig {
    /// The variable of [`FeedConfig::retention`], in the `--help` of every producer.
    pub const RETENTION_VAR: EnvVar = EnvVar {
        name: "CAMPUS_EVENT_RETENTION_SECS",
        default: "604800",
        help: "keep feed events this long (7 days) after every consumer has passed them",
    };

    /// The defaults with [`FeedConfig::RETENTION_VAR`] read.
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let retention = seconds_or(Self::RETENTION_VAR.name, defaults.retention.as_secs())?;
        Ok(Self { retention, ..defaults })
    }
}

/// The `EventFeedInternalService` of one producer, over its database and outbox.
#[derive(Debug, Clone)]
pub struct Feed {
    db: Db,
    outbox: Outbox,
    config: FeedConfig,
}

/// A consumer's name: what `event_consumer` is keyed by.
fn valid_consumer(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl Feed {
    pub fn new(db: Db, outbox: Outbox, config: FeedConfig) -> Self {
        Self { db, outbox, config }
    }

    /// Events after `after`, at most [`BATCH`], in position order.
    pub async fn read(&self, after: i64) -> Result<Vec<Event>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT position, id, event_type, payload, occurred_at FROM event_outbox \
             WHERE position > $1 ORDER BY position LIMIT $2",
        )
        .bind(after)
        .bind(BATCH)
        .fetch_all(&self.db.pool)
        .await?;
        rows.into_iter()
            .map(|row| {
                let event_type: String = row.try_get("event_type")?;
                Ok(Event {
                    position: row.try_get("position")?,
                    id: row.try_get("id")?,
                    payload: Some(prost_types::Any {
                        type_url: format!("type.googleapis.com/{event_type}"),
                        value: row.try_get("payload")?,
                    }),
                    r#type: event_type,
                    occurred_at: Some(timestamp(row.try_get("occurred_at")?)),
                })
            })
            .collect()
    }

    /// Records that `consumer` has applied everything up to `after`.
    async fn acknowledge(&self, consumer: &str, after: i64) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO event_consumer (name, acked_position, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET acked_position = excluded.acked_position, \
             seen_at = excluded.seen_at",
        )
        .bind(consumer)
        .bind(after)
        .bind(now_micros())
        .execute(&self.db.pool)
        .await?;
        Ok(())
    }

    /// Deletes the events every known consumer has passed that are older than the
    /// retention; returns how many. With no consumer known yet, nothing goes.
    pub async fn purge(&self) -> Result<u64, sqlx::Error> {
        let cutoff = now_micros() - self.config.retention.as_micros() as i64;
        let done = sqlx::query(
            "DELETE FROM event_outbox WHERE occurred_at < $1 \
             AND position <= (SELECT MIN(acked_position) FROM event_consumer)",
        )
        .bind(cutoff)
        .execute(&self.db.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Purges every minute, for as long as the service runs.
    pub async fn purge_forever(self) {
        let mut tick = tokio::time::interval(PURGE_EVERY);
        loop {
            tick.tick().await;
            match self.purge().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "purged events every consumer has passed"),
                Err(error) => tracing::warn!(%error, "event purge failed; retrying later"),
            }
        }
    }
}

/// The body of a `WatchEvents` stream: sends what `read(cursor)` returns, batch by batch, to
/// `tx`, and when it returns nothing waits for `wake` (or `config.poll`, for other replicas'
/// commits); ends when the consumer goes away, `read` fails (its status is sent) or the
/// stream's lifetime ends. The wake-up is marked seen *before* each read, so a commit between
/// the read and the wait is never slept through.
pub async fn stream_events<Read, Reading>(
    config: FeedConfig,
    mut cursor: i64,
    mut wake: watch::Receiver<u64>,
    tx: mpsc::Sender<Result<WatchEventsResponse, Status>>,
    mut read: Read,
) where
    Read: FnMut(i64) -> Reading,
    Reading: Future<Output = Result<Vec<Event>, Status>>,
{
    let ends = tokio::time::Instant::now() + config.stream_lifetime;
    loop {
        wake.borrow_and_update();
        let events = match read(cursor).await {
            Ok(events) => events,
            Err(status) => {
                let _ = tx.send(Err(status)).await;
                return;
            }
        };
        if let Some(last) = events.last() {
            cursor = last.position;
            if tx.send(Ok(WatchEventsResponse { events })).await.is_err() {
                return;
            }
            continue;
        }
        tokio::select! {
            _ = tx.closed() => return,
            _ = tokio::time::sleep_until(ends) => return,
            _ = wake.changed() => {}
            _ = tokio::time::sleep(config.poll) => {}
        }
    }
}

#[tonic::async_trait]
impl EventFeedInternalService for Feed {
    type WatchEventsStream = ReceiverStream<Result<WatchEventsResponse, Status>>;

    async fn watch_events(
        &self,
        request: Request<WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let WatchEventsRequest { after, consumer } = request.into_inner();
        let mut v = crate::error::Violations::new();
        v.check(valid_consumer(&consumer), "consumer", "must be 1-64 of a-z, 0-9, - and _");
        v.check(after >= 0, "after", "must not be negative");
        v.finish()?;
        self.acknowledge(&consumer, after).await.map_err(crate::Error::from)?;
        let (tx, rx) = mpsc::channel(2);
        let feed = self.clone();
        let read = move |cursor| {
            let feed = feed.clone();
            async move {
                feed.read(cursor).await.map_err(|error| {
                    tracing::warn!(%error, "reading the event outbox failed");
                    Status::unavailable("the event feed is unavailable")
                })
            }
        };
        tokio::spawn(stream_events(self.config.clone(), after, self.outbox.subscribe(), tx, read));
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_names_are_short_plain_words() {
        assert!(valid_consumer("board"));
        assert!(valid_consumer("notifications-2"));
        assert!(!valid_consumer(""));
        assert!(!valid_consumer("Board"));
        assert!(!valid_consumer("a b"));
        assert!(!valid_consumer(&"x".repeat(65)));
    }
}
