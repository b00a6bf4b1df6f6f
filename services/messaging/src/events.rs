//! Messaging as a consumer of the account and board event feeds (DESIGN §8, §9).

use std::sync::{Arc, Mutex};

use campus_proto::board::v1::{CommentCreated, CommentRemoved, PostPromoted, PostRemoved};
use campus_shared::db::{Backend, micros, now_micros};
use campus_shared::events::consumer::BoxError;
use campus_shared::events::{self, Event, Handler};
use campus_shared::revocation;
use sqlx::AnyConnection;

use crate::domain::UNKNOWN_USER;
use crate::domain::notifications::{self as rules, NewNotification};
use crate::fanout::Hub;
use crate::store::NotificationRow;
use crate::store::{conversations, notifications as store};

/// Applies account events to messaging's database. A deleted account's side of every
/// conversation shows [`UNKNOWN_USER`] (the messages stay in the other side's inbox, DESIGN
/// §7), and its own notifications go. Applying it twice changes nothing more.
#[derive(Debug)]
pub(crate) struct AccountEvents;

#[tonic::async_trait]
impl Handler for AccountEvents {
    async fn apply(&self, tx: &mut AnyConnection, event: &Event) -> Result<(), BoxError> {
        if let Some(user_id) = revocation::record_if_account_deleted(tx, event).await? {
            conversations::rename_side(tx, user_id, UNKNOWN_USER).await?;
            store::delete_of_user(tx, user_id).await?;
        }
        Ok(())
    }
}

/// Turns board events into notifications, in the consumer's transaction (so each event's
/// notifications commit with its applied record: exactly once, whatever crashes).
///
/// New notifications reach live streams after commit: on PostgreSQL through the NOTIFY the
/// insert sends (every replica hears it); on SQLite (one process) this handler keeps them
/// until its batch has committed and then hands them to the hub itself.
#[derive(Debug)]
pub(crate) struct BoardEvents {
    backend: Backend,
    hub: Arc<Hub<NotificationRow>>,
    pending: Mutex<Vec<NotificationRow>>,
}

impl BoardEvents {
    pub(crate) fn new(backend: Backend, hub: Arc<Hub<NotificationRow>>) -> Self {
        Self { backend, hub, pending: Mutex::new(Vec::new()) }
    }

    async fn store_all(
        &self,
        tx: &mut AnyConnection,
        list: impl IntoIterator<Item = NewNotification>,
        created_at: i64,
    ) -> Result<(), BoxError> {
        // An event without a time is stamped when applied.
        let created_at = if created_at > 0 { created_at } else { now_micros() };
        for new in list {
            // A deleted account is notified of nothing any more.
            if store::account_deleted(tx, new.user_id).await? {
                continue;
            }
            let row = NotificationRow::unread(&new, created_at);
            if !store::insert(tx, &row).await? {
                continue;
            }
            store::announce(tx, self.backend, &row).await?;
            if self.backend == Backend::Sqlite {
                self.pending.lock().unwrap_or_else(|p| p.into_inner()).push(row);
            }
        }
        Ok(())
    }
}

#[tonic::async_trait]
impl Handler for BoardEvents {
    async fn apply(&self, tx: &mut AnyConnection, event: &Event) -> Result<(), BoxError> {
        if let Some(created) = events::payload::<CommentCreated>(event) {
            let created = created?;
            let at = micros(created.created_at.as_ref());
            self.store_all(tx, rules::for_comment(&created), at).await?;
        } else if let Some(promoted) = events::payload::<PostPromoted>(event) {
            let promoted = promoted?;
            let at = micros(promoted.promoted_at.as_ref());
            self.store_all(tx, rules::for_promotion(&promoted), at).await?;
        } else if let Some(removed) = events::payload::<PostRemoved>(event) {
            store::delete_of_post(tx, removed?.post_id).await?;
        } else if let Some(removed) = events::payload::<CommentRemoved>(event) {
            let comment_id = removed?.comment_id;
            // 0 marks HOT and BEST, which belong to no comment.
            if comment_id > 0 {
                store::delete_of_comment(tx, comment_id).await?;
            }
        }
        Ok(())
    }

    fn batch_ended(&self, committed: bool) {
        let pending = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if committed {
            for row in pending {
                self.hub.publish_notification(row);
            }
        }
    }
}
