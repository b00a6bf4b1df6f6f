//! Messages: a conversation's list, sending, and StreamMessages.

use campus_proto::messaging::v1::{
    ListMessagesRequest, ListMessagesResponse, Message, SendMessageRequest, StreamMessagesResponse,
};
use campus_shared::db::{Backend, now_micros, timestamp};
use campus_shared::error::{Error, Violations};
use campus_shared::id::next_id;
use campus_shared::page::page_size;
use campus_shared::{Caller, Result};
use futures::StreamExt;

use super::{ItemStream, MessagingApi};
use crate::domain::{self, Content};
use crate::store::conversations::{self, Snapshot};
use crate::store::messages as store;
use crate::store::{MessageEvent, MessageRow, WriteTx};

/// A message as `viewer` sees it.
pub(super) fn message_proto(m: &MessageRow, viewer: i64) -> Message {
    Message {
        id: m.id,
        conversation_id: m.conversation_id,
        content: m.content.clone(),
        is_mine: m.sender_id == viewer,
        created_at: Some(timestamp(m.created_at)),
    }
}

fn parse_content(raw: String) -> Result<Content> {
    let mut violations = Violations::new();
    let content = Content::parse(raw, "content", &mut violations);
    violations.finish()?;
    content.ok_or_else(|| Error::internal("content parsed without violations"))
}

impl MessagingApi {
    /// Messages of a conversation the caller takes part in, newest first, leaving out what
    /// they cleared by leaving.
    pub(super) async fn list_messages(
        &self,
        caller: &Caller,
        req: ListMessagesRequest,
    ) -> Result<ListMessagesResponse> {
        let size = page_size(req.page_size)?;
        let scope = format!("messages:{}:{}", req.conversation_id, caller.user_id);
        let before: Option<i64> = self.tokens.decode(&scope, &req.page_token)?;
        let mut conn = self.database.conn().await?;
        let cleared = conversations::cleared_through(&mut conn, req.conversation_id, caller.user_id)
            .await?
            .ok_or(Error::NotFound("conversation"))?;
        let mut rows = store::list(&mut conn, req.conversation_id, cleared, before, size + 1).await?;
        let next_page_token = self.tokens.next(&scope, &mut rows, size, |m| m.id);
        Ok(ListMessagesResponse {
            messages: rows.iter().map(|m| message_proto(m, caller.user_id)).collect(),
            next_page_token,
        })
    }

    pub(super) async fn send_message(&self, caller: &Caller, req: SendMessageRequest) -> Result<Message> {
        let content = parse_content(req.content)?;
        let snapshots = [domain::fresh_nickname(caller.user_id, &caller.nickname), None];
        let mut tx = self.database.begin_write().await?;
        let event =
            self.add_message(&mut tx, req.conversation_id, caller.user_id, snapshots, &content).await?;
        tx.commit().await?;
        self.announce(&event);
        Ok(message_proto(&event.message, caller.user_id))
    }

    /// Adds a message to a conversation and moves the conversation and both inbox rows with
    /// it, refreshing the nickname snapshots given; refused unless the sender takes part and
    /// the conversation is not blocked ([`domain::message_refused`]).
    pub(super) async fn add_message(
        &self,
        tx: &mut WriteTx,
        conversation_id: i64,
        sender: i64,
        snapshots: [Option<Snapshot<'_>>; 2],
        content: &Content,
    ) -> Result<MessageEvent> {
        let message = MessageRow {
            id: next_id(),
            conversation_id,
            sender_id: sender,
            content: content.as_str().to_string(),
            created_at: now_micros(),
        };
        let (id, now) = (message.id, message.created_at);
        if !conversations::record_message(tx, conversation_id, sender, id, now, snapshots).await? {
            let takes_part = conversations::has_participant(tx, conversation_id, sender).await?;
            return Err(domain::message_refused(takes_part));
        }
        store::insert(tx, &message).await?;
        let participants = conversations::touch_inboxes(tx, conversation_id, sender, now).await?;
        let event = MessageEvent { recipient_id: domain::recipient_of(&participants, sender)?, message };
        store::announce(tx, self.database.backend(), &event).await?;
        Ok(event)
    }

    /// After a commit: on SQLite this process is the only one, so its streams hear about the
    /// message directly; on PostgreSQL the NOTIFY sent in the transaction reaches every
    /// replica's listener, this one's included.
    pub(super) fn announce(&self, event: &MessageEvent) {
        if self.database.backend() == Backend::Sqlite {
            self.hubs.messages.publish_message(event);
        }
    }

    pub(super) fn stream_messages(&self, caller: &Caller) -> Result<ItemStream<StreamMessagesResponse>> {
        let user_id = caller.user_id;
        let stream = self
            .hubs
            .messages
            .subscribe(user_id)?
            .map(move |m| Ok(StreamMessagesResponse { message: Some(message_proto(&m, user_id)) }));
        Ok(Box::pin(stream))
    }
}
