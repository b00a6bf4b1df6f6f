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

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use campus_shared::Result;
use campus_shared::db::{Backend, Db};
use sqlx::pool::PoolConnection;
use sqlx::{Any, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub(crate) use conversations::{ConversationRow, NewConversation};
pub(crate) use messages::{MessageEvent, MessageRow};
pub(crate) use notifications::NotificationRow;

/// The service's database. SQLite has one writer at a time; instead of letting concurrent
/// writers poll its busy handler (which backs off in sleeps up to 100 ms and is unfair), this
/// process queues them in FIFO order before they take a connection. Only this service writes
/// its SQLite file, so an in-process queue covers every writer. PostgreSQL needs none.
#[derive(Debug, Clone)]
pub(crate) struct Database {
    pub(crate) db: Db,
    writer: Arc<Mutex<()>>,
}

impl Database {
    pub(crate) fn new(db: Db) -> Self {
        Self { db, writer: Arc::new(Mutex::new(())) }
    }

    pub(crate) fn backend(&self) -> Backend {
        self.db.backend
    }

    /// A write transaction, with this process's SQLite write turn held until it ends.
    pub(crate) async fn begin_write(&self) -> Result<WriteTx> {
        let turn = match self.db.backend {
            Backend::Sqlite => Some(self.writer.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        Ok(WriteTx { tx: self.db.begin_write().await?, _turn: turn })
    }

    /// A pooled connection for reads.
    pub(crate) async fn conn(&self) -> Result<PoolConnection<Any>> {
        Ok(self.db.pool.acquire().await?)
    }
}

/// A write transaction of [`Database::begin_write`]; it derefs to the transaction, so store
/// functions take it as `&mut tx`. Dropped without [`WriteTx::commit`], it rolls back.
#[derive(Debug)]
pub(crate) struct WriteTx {
    // Declared first so that it ends (commits or rolls back) before the turn is handed on.
    tx: Transaction<'static, Any>,
    _turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub(crate) async fn commit(self) -> Result<()> {
        let WriteTx { tx, _turn } = self;
        tx.commit().await?;
        Ok(())
    }
}

impl Deref for WriteTx {
    type Target = Transaction<'static, Any>;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}
