//! Every SQL statement of the messaging service, one module per resource:
//! [`conversations`] (with each participant's inbox row), [`messages`] and
//! [`notifications`]; and sqlx's record of applied [`migrations`].
//!
//! Functions here run statements on the connection or transaction they are given and answer
//! rows or the shared [`Result`]; they decide nothing beyond what a statement answers. The
//! gRPC layer opens the transaction ([`Database::begin_write`]) and commits it, the feeds'
//! handlers (in `events.rs`) run in their consumer's transaction, and the rules live in
//! [`crate::domain`].
//!
//! A new message, the conversation's last message and activity time, and both participants'
//! inbox rows (unread count, un-hiding) change in one transaction, so the unread counters
//! never drift from the messages they count. On PostgreSQL the same transaction sends the
//! NOTIFY that streams on every replica wait for, so an announcement exists exactly when the
//! message (or notification) does.

pub(crate) mod conversations;
pub(crate) mod messages;
pub(crate) mod migrations;
pub(crate) mod notifications;

use campus_shared::Result;
pub(crate) use campus_shared::db::WriteTx;
use campus_shared::db::{Backend, Db};
use sqlx::Any;
use sqlx::pool::PoolConnection;

pub(crate) use conversations::{ConversationRow, NewConversation};
pub(crate) use messages::{MessageEvent, MessageRow};
pub(crate) use notifications::NotificationRow;

/// The service's database. Write transactions queue for SQLite's one writer in the shared
/// [`Db`]; PostgreSQL needs no queue.
#[derive(Debug, Clone)]
pub(crate) struct Database {
    pub(crate) db: Db,
}

impl Database {
    pub(crate) fn new(db: Db) -> Self {
        Self { db }
    }

    pub(crate) fn backend(&self) -> Backend {
        self.db.backend
    }

    /// A write transaction ([`Db::begin_write`]).
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        Ok(self.db.begin_write().await?)
    }

    /// A pooled connection for reads.
    pub(crate) async fn conn(&self) -> Result<PoolConnection<Any>> {
        Ok(self.db.pool.acquire().await?)
    }
}
