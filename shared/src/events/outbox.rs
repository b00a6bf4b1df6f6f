//! The producer's side of a transaction: append an event to the outbox, then, after commit,
//! wake the feed's streams.

use std::sync::Arc;

use sqlx::{Any, AnyConnection};
use tokio::sync::watch;

/// [`Outbox::append`]'s first statement: takes the next position (and holds the feed's head
/// row until commit) and returns it.
pub const NEXT_POSITION_SQL: &str =
    "UPDATE event_feed_head SET position = position + 1 WHERE id = 1 RETURNING position";

/// [`Outbox::append`]'s second statement, the outbox row: `$1` position, `$2` event id, `$3`
/// event type, `$4` payload, `$5` occurred at.
pub const APPEND_SQL: &str = "INSERT INTO event_outbox (position, id, event_type, payload, occurred_at) \
                              VALUES ($1, $2, $3, $4, $5)";

/// The transactional outbox of one producing service.
///
/// Clones share the wake-up signal: [`Outbox::committed`] wakes every `WatchEvents` stream of
/// this process at once; other replicas' streams find the event at their next poll.
#[derive(Debug, Clone)]
pub struct Outbox {
    wake: Arc<watch::Sender<u64>>,
}

impl Default for Outbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Outbox {
    pub fn new() -> Self {
        Self { wake: Arc::new(watch::Sender::new(0)) }
    }

    /// Writes `message` as an event in `tx`, the transaction of the change it describes, and
    /// returns its position. Nothing is visible until `tx` commits; a rollback takes the
    /// event (and its position) back.
    ///
    /// The position comes from the feed's head row, whose row lock (PostgreSQL) or the write
    /// lock (SQLite) is held until commit: two transactions never commit their positions out
    /// of order, so a reader that has seen position N has seen everything below it.
    pub async fn append<M: prost::Name>(
        tx: &mut AnyConnection,
        message: &M,
        occurred_at: i64,
    ) -> Result<i64, sqlx::Error> {
        let position: i64 = sqlx::query_scalar::<Any, i64>(NEXT_POSITION_SQL).fetch_one(&mut *tx).await?;
        sqlx::query(APPEND_SQL)
            .bind(position)
            .bind(crate::id::next_id())
            .bind(M::full_name())
            .bind(message.encode_to_vec())
            .bind(occurred_at)
            .execute(&mut *tx)
            .await?;
        Ok(position)
    }

    /// Wakes this process's streams: call after the transaction that appended commits.
    pub fn committed(&self) {
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes on every [`Outbox::committed`].
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }
}
