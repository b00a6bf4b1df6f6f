//! The feed machinery on both backends, without a network: outbox order, the stream's
//! backlog and live phases, the purge rule, idempotent batches and the lease.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use campus_proto::events::v1::WatchEventsRequest;
use campus_proto::events::v1::event_feed_internal_service_server::EventFeedInternalService;
use prost_types::Timestamp;
use sqlx::AnyConnection;
use sqlx::migrate::Migrator;
use tokio_stream::StreamExt;

use campus_shared::db::{self, Db, Migrations};
use campus_shared::events::consumer::BoxError;
use campus_shared::events::*;
use campus_testkit::{TestDatabase, backends};

static SQLITE: Migrator = sqlx::migrate!("tests/events/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("tests/events/postgres");

async fn database(db: &TestDatabase) -> Db {
    db::connect(&db.config(), Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await.unwrap()
}

/// Appends one event (a Timestamp message stands in for a domain payload) and commits.
async fn append(db: &Db, outbox: &Outbox, seconds: i64) -> i64 {
    let mut tx = db.begin_write().await.unwrap();
    let position = Outbox::append(&mut tx, &Timestamp { seconds, nanos: 0 }, db::now_micros()).await.unwrap();
    tx.commit().await.unwrap();
    outbox.committed();
    position
}

fn feed(db: &Db, outbox: &Outbox, retention: Duration) -> Feed {
    Feed::new(db.clone(), outbox.clone(), FeedConfig { retention, ..FeedConfig::default() })
}

fn seconds(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| payload::<Timestamp>(e).unwrap().unwrap().seconds).collect()
}

#[tokio::test]
async fn positions_have_no_gaps_and_a_rollback_takes_its_event_back() {
    for backend in backends() {
        let test_db = TestDatabase::new(backend).await;
        let db = database(&test_db).await;
        let outbox = Outbox::new();
        assert_eq!(append(&db, &outbox, 10).await, 1);
        let mut tx = db.begin_write().await.unwrap();
        Outbox::append(&mut tx, &Timestamp { seconds: 11, nanos: 0 }, 0).await.unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(append(&db, &outbox, 12).await, 2, "{backend:?}");
        let events = feed(&db, &outbox, Duration::ZERO).read(0).await.unwrap();
        assert_eq!(events.iter().map(|e| e.position).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(seconds(&events), [10, 12]);
        assert_eq!(events[0].r#type, "google.protobuf.Timestamp");
        assert_ne!(events[0].id, events[1].id);
    }
}

#[tokio::test]
async fn watch_sends_the_backlog_then_each_commit_as_it_happens() {
    for backend in backends() {
        let test_db = TestDatabase::new(backend).await;
        let db = database(&test_db).await;
        let outbox = Outbox::new();
        for s in 1..=3 {
            append(&db, &outbox, s).await;
        }
        // A long poll: only the local wake-up can deliver the live event in time.
        let service = Feed::new(
            db.clone(),
            outbox.clone(),
            FeedConfig { poll: Duration::from_secs(3600), ..FeedConfig::default() },
        );
        let request = tonic::Request::new(WatchEventsRequest { after: 1, consumer: "board".into() });
        let mut stream = service.watch_events(request).await.unwrap().into_inner();
        let backlog = stream.next().await.unwrap().unwrap().events;
        assert_eq!(seconds(&backlog), [2, 3], "{backend:?}: the backlog after the cursor");
        append(&db, &outbox, 4).await;
        let live =
            tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(seconds(&live.events), [4], "{backend:?}: the live event");
        assert_eq!(live.events[0].position, 4);

        let bad = tonic::Request::new(WatchEventsRequest { after: 0, consumer: "Not A Name".into() });
        let status = service.watch_events(bad).await.err().unwrap();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
    }
}

#[tokio::test]
async fn events_are_purged_once_every_known_consumer_passed_them_and_they_are_old() {
    for backend in backends() {
        let test_db = TestDatabase::new(backend).await;
        let db = database(&test_db).await;
        let outbox = Outbox::new();
        for s in 1..=3 {
            append(&db, &outbox, s).await;
        }
        let keep_long = feed(&db, &outbox, Duration::from_secs(3600));
        let keep_none = feed(&db, &outbox, Duration::ZERO);
        assert_eq!(keep_none.purge().await.unwrap(), 0, "{backend:?}: no consumer known yet");
        let watch = |after: i64, consumer: &str| {
            tonic::Request::new(WatchEventsRequest { after, consumer: consumer.into() })
        };
        keep_none.watch_events(watch(2, "board")).await.unwrap();
        keep_none.watch_events(watch(0, "messaging")).await.unwrap();
        assert_eq!(keep_none.purge().await.unwrap(), 0, "{backend:?}: messaging passed nothing");
        keep_none.watch_events(watch(3, "messaging")).await.unwrap();
        assert_eq!(keep_long.purge().await.unwrap(), 0, "{backend:?}: within the retention");
        assert_eq!(keep_none.purge().await.unwrap(), 2, "{backend:?}: both passed 1 and 2");
        assert_eq!(seconds(&keep_none.read(0).await.unwrap()), [3]);
        // Positions go on from the head, not from what is left.
        assert_eq!(append(&db, &outbox, 4).await, 4);
    }
}

/// Counts what it applies, and records it in the consumer's own table.
#[derive(Debug, Default)]
struct Counting(AtomicUsize);

#[tonic::async_trait]
impl Handler for Counting {
    async fn apply(&self, tx: &mut AnyConnection, event: &Event) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        campus_shared::revocation::record_deleted_account(tx, event.position, 0).await?;
        Ok(())
    }
}

fn consumer(db: &Db, handler: Arc<Counting>) -> Consumer {
    let config = ConsumerConfig {
        feed: "account".into(),
        consumer: "board".into(),
        url: "http://127.0.0.1:9".into(),
        service_token: "secret".to_string().into(),
        tls: Default::default(),
        lease_ttl: Duration::from_secs(10),
    };
    Consumer::new(db.clone(), config, handler).unwrap()
}

#[tokio::test]
async fn a_batch_applies_each_event_id_once_and_moves_the_cursor() {
    for backend in backends() {
        let test_db = TestDatabase::new(backend).await;
        let db = database(&test_db).await;
        let outbox = Outbox::new();
        for s in 1..=5 {
            append(&db, &outbox, s).await;
        }
        let events = feed(&db, &outbox, Duration::ZERO).read(0).await.unwrap();
        let handler = Arc::new(Counting::default());
        let consumer = consumer(&db, handler.clone());
        assert_eq!(consumer.apply_batch(&events[..3]).await.unwrap(), 3);
        assert_eq!(consumer.cursor().await.unwrap(), 3);
        // A replayed, overlapping batch (a reconnect, another replica): only the new ones.
        assert_eq!(consumer.apply_batch(&events).await.unwrap(), 2, "{backend:?}");
        assert_eq!(consumer.apply_batch(&events[..2]).await.unwrap(), 0);
        assert_eq!(consumer.cursor().await.unwrap(), 5, "{backend:?}: the cursor never goes back");
        assert_eq!(handler.0.load(Ordering::SeqCst), 5);
        let recorded: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM deleted_account").fetch_one(&db.pool).await.unwrap();
        assert_eq!(recorded, 5);
    }
}

#[tokio::test]
async fn one_replica_holds_the_lease_until_it_releases_it() {
    for backend in backends() {
        let test_db = TestDatabase::new(backend).await;
        let db = database(&test_db).await;
        let (a, b) = (consumer(&db, Arc::default()), consumer(&db, Arc::default()));
        assert!(a.try_lease().await.unwrap(), "{backend:?}");
        assert!(!b.try_lease().await.unwrap(), "{backend:?}: a holds it");
        assert!(a.try_lease().await.unwrap(), "{backend:?}: a renews it");
        a.release().await;
        assert!(b.try_lease().await.unwrap(), "{backend:?}: free after the release");
        assert!(!a.try_lease().await.unwrap());
        // An expired lease is taken over.
        sqlx::query("UPDATE event_lease SET expires_at = 0").execute(&db.pool).await.unwrap();
        assert!(a.try_lease().await.unwrap(), "{backend:?}: taken over after expiry");
    }
}
