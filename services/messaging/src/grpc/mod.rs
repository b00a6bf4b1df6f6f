//! The gRPC surface: one method per RPC, each parsing the request, calling the domain and the
//! store, and mapping rows to protobuf. MessagingService is here; NotificationService in
//! [`notifications`].

pub(crate) mod notifications;

use std::pin::Pin;
use std::sync::Arc;

use campus_proto::messaging::v1::messaging_service_server::MessagingService;
use campus_proto::messaging::v1::{
    BlockConversationRequest, Conversation, Counterpart, CreateConversationRequest,
    DeleteConversationRequest, ListConversationsRequest, ListConversationsResponse, ListMessagesRequest,
    ListMessagesResponse, MarkConversationReadRequest, Message, Origin, SendMessageRequest,
    StreamMessagesRequest, StreamMessagesResponse,
};
use campus_shared::db::{Backend, timestamp};
use campus_shared::error::Violations;
use campus_shared::page::{PageTokens, page_size};
use campus_shared::{Caller, Error};
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use crate::domain::{Content, ConversationKey, OriginKind, Sides, Target, check_recipient};
use crate::fanout::Hub;
use crate::store::{self, ConversationRow, MessageEvent, MessageRow, NewConversation, Store};
use crate::upstream::Upstreams;

/// The messaging service's state, shared by every request.
#[derive(Debug, Clone)]
pub(crate) struct MessagingApi {
    store: Store,
    hub: Arc<Hub<MessageRow>>,
    upstreams: Upstreams,
    tokens: PageTokens,
}

impl MessagingApi {
    pub(crate) fn new(
        store: Store,
        hub: Arc<Hub<MessageRow>>,
        upstreams: Upstreams,
        tokens: PageTokens,
    ) -> Self {
        Self { store, hub, upstreams, tokens }
    }

    /// After a commit: on SQLite this process is the only one, so its streams hear about the
    /// message directly; on PostgreSQL the NOTIFY sent in the transaction reaches every
    /// replica's listener, this one's included.
    fn announce(&self, event: &MessageEvent) {
        if self.store.db.backend == Backend::Sqlite {
            self.hub.publish_message(event);
        }
    }
}

/// A message as `viewer` sees it.
fn message_proto(m: &MessageRow, viewer: i64) -> Message {
    Message {
        id: m.id,
        conversation_id: m.conversation_id,
        content: m.content.clone(),
        is_mine: m.sender_id == viewer,
        created_at: Some(timestamp(m.created_at)),
    }
}

fn conversation_proto(c: &ConversationRow, viewer: i64) -> Conversation {
    let counterpart = c.sides.counterpart_for(viewer);
    let origin = match c.origin_kind {
        OriginKind::User => Origin::default(),
        OriginKind::Post => Origin { post_id: Some(c.origin_id), comment_id: None },
        OriginKind::Comment => Origin { post_id: Some(c.origin_post_id), comment_id: Some(c.origin_id) },
    };
    Conversation {
        id: c.id,
        counterpart: Some(Counterpart {
            display_name: counterpart.display_name,
            is_anonymous: counterpart.is_anonymous,
        }),
        origin: Some(origin),
        last_message: c.last_message.as_ref().map(|m| message_proto(m, viewer)),
        unread_count: i32::try_from(c.unread_count).unwrap_or(i32::MAX),
        blocked: c.blocked,
        updated_at: Some(timestamp(c.updated_at)),
    }
}

fn parse_content(raw: String) -> Result<Content, Error> {
    let mut violations = Violations::new();
    let content = Content::parse(raw, "content", &mut violations);
    violations.finish()?;
    content.ok_or_else(|| Error::internal("content parsed without violations"))
}

#[tonic::async_trait]
impl MessagingService for MessagingApi {
    async fn create_conversation(
        &self,
        request: Request<CreateConversationRequest>,
    ) -> Result<Response<Conversation>, Status> {
        let caller = Caller::of(&request)?;
        let metadata = request.metadata().clone();
        let body = request.into_inner();
        let mut violations = Violations::new();
        let target = Target::parse(body.target, &mut violations);
        let content = Content::parse(body.content, "content", &mut violations);
        violations.finish()?;
        let (Some(target), Some(content)) = (target, content) else {
            return Err(Error::internal("request parsed without violations").into());
        };

        let (recipient, own_nickname) = self.upstreams.recipient(&metadata, caller.user_id, target).await?;
        check_recipient(caller.user_id, caller.school_id, target.kind(), &recipient)?;
        let new = NewConversation {
            school_id: caller.school_id,
            key: ConversationKey::new(caller.user_id, recipient.user_id, target, body.anonymous),
            origin_post_id: recipient.post_id,
            sides: Sides {
                starter_id: caller.user_id,
                recipient_id: recipient.user_id,
                starter_anonymous: body.anonymous,
                recipient_anonymous: recipient.anonymous,
                starter_nickname: own_nickname.unwrap_or_else(|| caller.nickname.clone()),
                recipient_nickname: recipient.nickname,
            },
            content: &content,
        };
        let (conversation, event) = store::start_conversation(&self.store, new).await?;
        self.announce(&event);
        Ok(Response::new(conversation_proto(&conversation, caller.user_id)))
    }

    async fn list_conversations(
        &self,
        request: Request<ListConversationsRequest>,
    ) -> Result<Response<ListConversationsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let body = request.into_inner();
        let size = page_size(body.page_size)?;
        let scope = format!("conversations:{}", caller.user_id);
        let after: Option<(i64, i64)> = self.tokens.decode(&scope, &body.page_token)?;
        let mut rows = store::list_conversations(&self.store, caller.user_id, after, size + 1).await?;
        let next_page_token = self.tokens.next(&scope, &mut rows, size, |c| (c.updated_at, c.id));
        Ok(Response::new(ListConversationsResponse {
            conversations: rows.iter().map(|c| conversation_proto(c, caller.user_id)).collect(),
            next_page_token,
        }))
    }

    async fn list_messages(
        &self,
        request: Request<ListMessagesRequest>,
    ) -> Result<Response<ListMessagesResponse>, Status> {
        let caller = Caller::of(&request)?;
        let body = request.into_inner();
        let size = page_size(body.page_size)?;
        let scope = format!("messages:{}:{}", body.conversation_id, caller.user_id);
        let before: Option<i64> = self.tokens.decode(&scope, &body.page_token)?;
        let mut rows =
            store::list_messages(&self.store, body.conversation_id, caller.user_id, before, size + 1)
                .await?
                .ok_or(Error::NotFound("conversation"))?;
        let next_page_token = self.tokens.next(&scope, &mut rows, size, |m| m.id);
        Ok(Response::new(ListMessagesResponse {
            messages: rows.iter().map(|m| message_proto(m, caller.user_id)).collect(),
            next_page_token,
        }))
    }

    async fn send_message(&self, request: Request<SendMessageRequest>) -> Result<Response<Message>, Status> {
        let caller = Caller::of(&request)?;
        let body = request.into_inner();
        let content = parse_content(body.content)?;
        let event = store::send_message(
            &self.store,
            body.conversation_id,
            caller.user_id,
            &caller.nickname,
            &content,
        )
        .await?;
        self.announce(&event);
        Ok(Response::new(message_proto(&event.message, caller.user_id)))
    }

    async fn mark_conversation_read(
        &self,
        request: Request<MarkConversationReadRequest>,
    ) -> Result<Response<Conversation>, Status> {
        let caller = Caller::of(&request)?;
        let conversation = store::mark_read(&self.store, request.get_ref().id, caller.user_id)
            .await?
            .ok_or(Error::NotFound("conversation"))?;
        Ok(Response::new(conversation_proto(&conversation, caller.user_id)))
    }

    async fn delete_conversation(
        &self,
        request: Request<DeleteConversationRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = Caller::of(&request)?;
        if !store::leave(&self.store, request.get_ref().id, caller.user_id).await? {
            return Err(Error::NotFound("conversation").into());
        }
        Ok(Response::new(()))
    }

    async fn block_conversation(
        &self,
        request: Request<BlockConversationRequest>,
    ) -> Result<Response<Conversation>, Status> {
        let caller = Caller::of(&request)?;
        let conversation = store::block(&self.store, request.get_ref().id, caller.user_id)
            .await?
            .ok_or(Error::NotFound("conversation"))?;
        Ok(Response::new(conversation_proto(&conversation, caller.user_id)))
    }

    type StreamMessagesStream = Pin<Box<dyn Stream<Item = Result<StreamMessagesResponse, Status>> + Send>>;

    async fn stream_messages(
        &self,
        request: Request<StreamMessagesRequest>,
    ) -> Result<Response<Self::StreamMessagesStream>, Status> {
        let user_id = Caller::of(&request)?.user_id;
        let stream = self
            .hub
            .subscribe(user_id)
            .map(move |m| Ok(StreamMessagesResponse { message: Some(message_proto(&m, user_id)) }));
        Ok(Response::new(Box::pin(stream)))
    }
}
