//! Notifications (DESIGN §9): the caller's list with its unread count, marking read, and
//! StreamNotifications.

use campus_proto::messaging::v1::{
    ListNotificationsRequest, ListNotificationsResponse, MarkNotificationsReadRequest,
    MarkNotificationsReadResponse, Notification, NotificationKind, StreamNotificationsResponse,
};
use campus_shared::db::timestamp;
use campus_shared::page::page_size;
use campus_shared::{Caller, Result};
use futures::StreamExt;

use super::{ItemStream, MessagingApi, count};
use crate::domain::notifications::{Kind, MarkRead};
use crate::store::NotificationRow;
use crate::store::notifications as store;

fn kind_proto(kind: i64) -> NotificationKind {
    match Kind::from_i64(kind) {
        Some(Kind::Comment) => NotificationKind::Comment,
        Some(Kind::Reply) => NotificationKind::Reply,
        Some(Kind::Hot) => NotificationKind::Hot,
        Some(Kind::Best) => NotificationKind::Best,
        None => NotificationKind::Unspecified,
    }
}

/// A notification as its owner sees it. It has no field for the actor.
fn notification_proto(n: &NotificationRow) -> Notification {
    Notification {
        id: n.id,
        kind: kind_proto(n.kind) as i32,
        post_id: n.post_id,
        comment_id: (n.comment_id > 0).then_some(n.comment_id),
        board_id: n.board_id,
        board_name: n.board_name.clone(),
        preview: n.preview.clone(),
        read: n.read,
        created_at: Some(timestamp(n.created_at)),
    }
}

impl MessagingApi {
    pub(super) async fn list_notifications(
        &self,
        caller: &Caller,
        req: ListNotificationsRequest,
    ) -> Result<ListNotificationsResponse> {
        let size = page_size(req.page_size)?;
        let scope = format!("notifications:{}", caller.user_id);
        let before: Option<i64> = self.tokens.decode(&scope, &req.page_token)?;
        let mut conn = self.database.conn().await?;
        let mut rows = store::list(&mut conn, caller.user_id, before, size + 1).await?;
        let next_page_token = self.tokens.next(&scope, &mut rows, size, |n| n.id);
        let unread = store::unread_count(&mut conn, caller.user_id).await?;
        Ok(ListNotificationsResponse {
            notifications: rows.iter().map(notification_proto).collect(),
            next_page_token,
            unread_count: count(unread),
        })
    }

    pub(super) async fn mark_notifications_read(
        &self,
        caller: &Caller,
        req: MarkNotificationsReadRequest,
    ) -> Result<MarkNotificationsReadResponse> {
        let which = MarkRead::parse(req.ids, req.all)?;
        let mut tx = self.database.begin_write().await?;
        store::mark_read(&mut tx, caller.user_id, &which).await?;
        let unread = store::unread_count(&mut tx, caller.user_id).await?;
        tx.commit().await?;
        Ok(MarkNotificationsReadResponse { unread_count: count(unread) })
    }

    pub(super) fn stream_notifications(
        &self,
        caller: &Caller,
    ) -> Result<ItemStream<StreamNotificationsResponse>> {
        let stream = self
            .hubs
            .notifications
            .subscribe(caller.user_id)?
            .map(|n| Ok(StreamNotificationsResponse { notification: Some(notification_proto(&n)) }));
        Ok(Box::pin(stream))
    }
}
