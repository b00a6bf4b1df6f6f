//! NotificationService: the caller's notifications (DESIGN §9), one method per RPC.

use std::pin::Pin;
use std::sync::Arc;

use campus_proto::messaging::v1::notification_service_server::NotificationService;
use campus_proto::messaging::v1::{
    ListNotificationsRequest, ListNotificationsResponse, MarkNotificationsReadRequest,
    MarkNotificationsReadResponse, Notification, NotificationKind, StreamNotificationsRequest,
    StreamNotificationsResponse,
};
use campus_shared::Caller;
use campus_shared::db::timestamp;
use campus_shared::page::{PageTokens, page_size};
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use crate::domain::notifications::{Kind, MarkRead};
use crate::fanout::Hub;
use crate::store::Store;
use crate::store::notifications::{self as store, NotificationRow};

/// The notification service's state, shared by every request.
#[derive(Debug, Clone)]
pub(crate) struct NotificationApi {
    store: Store,
    hub: Arc<Hub<NotificationRow>>,
    tokens: PageTokens,
}

impl NotificationApi {
    pub(crate) fn new(store: Store, hub: Arc<Hub<NotificationRow>>, tokens: PageTokens) -> Self {
        Self { store, hub, tokens }
    }
}

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

fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[tonic::async_trait]
impl NotificationService for NotificationApi {
    async fn list_notifications(
        &self,
        request: Request<ListNotificationsRequest>,
    ) -> Result<Response<ListNotificationsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let body = request.into_inner();
        let size = page_size(body.page_size)?;
        let scope = format!("notifications:{}", caller.user_id);
        let before: Option<i64> = self.tokens.decode(&scope, &body.page_token)?;
        let mut rows = store::list(&self.store, caller.user_id, before, size + 1).await?;
        let next_page_token = self.tokens.next(&scope, &mut rows, size, |n| n.id);
        let mut conn = self.store.db.pool.acquire().await.map_err(campus_shared::Error::from)?;
        let unread = store::unread_count(&mut conn, caller.user_id).await?;
        Ok(Response::new(ListNotificationsResponse {
            notifications: rows.iter().map(notification_proto).collect(),
            next_page_token,
            unread_count: count(unread),
        }))
    }

    async fn mark_notifications_read(
        &self,
        request: Request<MarkNotificationsReadRequest>,
    ) -> Result<Response<MarkNotificationsReadResponse>, Status> {
        let caller = Caller::of(&request)?;
        let body = request.into_inner();
        let which = MarkRead::parse(body.ids, body.all)?;
        let (mut tx, _turn) = self.store.begin_write().await?;
        store::mark_read(&mut tx, caller.user_id, &which).await?;
        let unread = store::unread_count(&mut tx, caller.user_id).await?;
        tx.commit().await.map_err(campus_shared::Error::from)?;
        Ok(Response::new(MarkNotificationsReadResponse { unread_count: count(unread) }))
    }

    type StreamNotificationsStream =
        Pin<Box<dyn Stream<Item = Result<StreamNotificationsResponse, Status>> + Send>>;

    async fn stream_notifications(
        &self,
        request: Request<StreamNotificationsRequest>,
    ) -> Result<Response<Self::StreamNotificationsStream>, Status> {
        let user_id = Caller::of(&request)?.user_id;
        let stream = self
            .hub
            .subscribe(user_id)
            .map(|n| Ok(StreamNotificationsResponse { notification: Some(notification_proto(&n)) }));
        Ok(Response::new(Box::pin(stream)))
    }
}
