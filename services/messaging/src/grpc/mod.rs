//! The gRPC surface of MessagingService and NotificationService. Each RPC is a one-line
//! method of a service trait here, which hands the caller and the request to a handler on
//! [`MessagingApi`] in the module of its resource ([`conversations`], [`messages`],
//! [`notifications`]). A handler parses the request into domain values, opens and commits the
//! transaction, asks [`crate::domain`] to decide, has [`crate::store`] run the SQL, and maps
//! the answer to protobuf; [`reply`] turns its shared `Result` into the gRPC answer.

mod conversations;
mod messages;
mod notifications;

use std::pin::Pin;

use campus_proto::messaging::v1::messaging_service_server::MessagingService;
use campus_proto::messaging::v1::notification_service_server::NotificationService;
use campus_proto::messaging::v1::{
    BlockConversationRequest, Conversation, CreateConversationRequest, DeleteConversationRequest,
    ListConversationsRequest, ListConversationsResponse, ListMessagesRequest, ListMessagesResponse,
    ListNotificationsRequest, ListNotificationsResponse, MarkConversationReadRequest,
    MarkNotificationsReadRequest, MarkNotificationsReadResponse, Message, SendMessageRequest,
    StreamMessagesRequest, StreamMessagesResponse, StreamNotificationsRequest, StreamNotificationsResponse,
};
use campus_shared::Caller;
use campus_shared::error::{Reply, reply};
use campus_shared::page::PageTokens;
use futures::Stream;
use tonic::{Request, Status};

use crate::fanout::Hubs;
use crate::store::Database;
use crate::upstream::Upstreams;

/// A server stream of `T`, as the service traits answer it.
type ItemStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The state every RPC of both services shares.
#[derive(Debug, Clone)]
pub(crate) struct MessagingApi {
    database: Database,
    hubs: Hubs,
    upstreams: Upstreams,
    tokens: PageTokens,
}

impl MessagingApi {
    pub(crate) fn new(database: Database, hubs: Hubs, upstreams: Upstreams, tokens: PageTokens) -> Self {
        Self { database, hubs, upstreams, tokens }
    }
}

/// A count as the protos carry it.
fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

#[tonic::async_trait]
impl MessagingService for MessagingApi {
    async fn create_conversation(&self, request: Request<CreateConversationRequest>) -> Reply<Conversation> {
        let caller = Caller::of(&request)?;
        reply(self.create_conversation(&caller, request).await)
    }

    async fn list_conversations(
        &self,
        request: Request<ListConversationsRequest>,
    ) -> Reply<ListConversationsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_conversations(&caller, request.into_inner()).await)
    }

    async fn list_messages(&self, request: Request<ListMessagesRequest>) -> Reply<ListMessagesResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_messages(&caller, request.into_inner()).await)
    }

    async fn send_message(&self, request: Request<SendMessageRequest>) -> Reply<Message> {
        let caller = Caller::of(&request)?;
        reply(self.send_message(&caller, request.into_inner()).await)
    }

    async fn mark_conversation_read(
        &self,
        request: Request<MarkConversationReadRequest>,
    ) -> Reply<Conversation> {
        let caller = Caller::of(&request)?;
        reply(self.mark_conversation_read(&caller, request.into_inner().id).await)
    }

    async fn delete_conversation(&self, request: Request<DeleteConversationRequest>) -> Reply<()> {
        let caller = Caller::of(&request)?;
        reply(self.leave_conversation(&caller, request.into_inner().id).await)
    }

    async fn block_conversation(&self, request: Request<BlockConversationRequest>) -> Reply<Conversation> {
        let caller = Caller::of(&request)?;
        reply(self.block_conversation(&caller, request.into_inner().id).await)
    }

    type StreamMessagesStream = ItemStream<StreamMessagesResponse>;

    async fn stream_messages(
        &self,
        request: Request<StreamMessagesRequest>,
    ) -> Reply<Self::StreamMessagesStream> {
        let caller = Caller::of(&request)?;
        reply(self.stream_messages(&caller))
    }
}

#[tonic::async_trait]
impl NotificationService for MessagingApi {
    async fn list_notifications(
        &self,
        request: Request<ListNotificationsRequest>,
    ) -> Reply<ListNotificationsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_notifications(&caller, request.into_inner()).await)
    }

    async fn mark_notifications_read(
        &self,
        request: Request<MarkNotificationsReadRequest>,
    ) -> Reply<MarkNotificationsReadResponse> {
        let caller = Caller::of(&request)?;
        reply(self.mark_notifications_read(&caller, request.into_inner()).await)
    }

    type StreamNotificationsStream = ItemStream<StreamNotificationsResponse>;

    async fn stream_notifications(
        &self,
        request: Request<StreamNotificationsRequest>,
    ) -> Reply<Self::StreamNotificationsStream> {
        let caller = Caller::of(&request)?;
        reply(self.stream_notifications(&caller))
    }
}
