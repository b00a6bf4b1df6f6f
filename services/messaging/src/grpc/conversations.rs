//! Conversations: starting one (or adding to the one that exists), the caller's list, marking
//! read, leaving and blocking.

use campus_proto::messaging::v1::{
    Conversation, Counterpart, CreateConversationRequest, ListConversationsRequest,
    ListConversationsResponse, Origin,
};
use campus_shared::db::{now_micros, timestamp};
use campus_shared::error::{Error, Violations};
use campus_shared::page::page_size;
use campus_shared::{Caller, Result};
use tonic::Request;

use super::MessagingApi;
use super::messages::message_proto;
use crate::domain::{self, Content, ConversationKey, OriginKind, Sides, Target};
use crate::store::conversations as store;
use crate::store::{ConversationRow, NewConversation};

pub(super) fn conversation_proto(c: &ConversationRow, viewer: i64) -> Conversation {
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
        unread_count: super::count(c.unread_count),
        blocked: c.blocked,
        updated_at: Some(timestamp(c.updated_at)),
    }
}

impl MessagingApi {
    /// Starts the conversation of the target (or finds the one that exists) and adds the
    /// first message to it. Two concurrent starts end in one conversation.
    pub(super) async fn create_conversation(
        &self,
        caller: &Caller,
        request: Request<CreateConversationRequest>,
    ) -> Result<Conversation> {
        let metadata = request.metadata().clone();
        let body = request.into_inner();
        let mut violations = Violations::new();
        let target = Target::parse(body.target, &mut violations);
        let content = Content::parse(body.content, "content", &mut violations);
        violations.finish()?;
        let (Some(target), Some(content)) = (target, content) else {
            return Err(Error::internal("request parsed without violations"));
        };

        let (recipient, own_nickname) = self.upstreams.recipient(&metadata, caller.user_id, target).await?;
        domain::check_recipient(caller.user_id, caller.school_id, target.kind(), &recipient)?;
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
        };

        let mut tx = self.database.begin_write().await?;
        let conversation_id = match store::insert(&mut tx, &new, now_micros()).await? {
            Some(id) => id,
            None => store::id_of(&mut tx, new.key).await?,
        };
        // The caller is the starter of this request but maybe not of a reused conversation
        // (the other side may have started it), so both snapshots are refreshed by user id.
        let sides = &new.sides;
        let snapshots = [
            domain::fresh_nickname(sides.starter_id, &sides.starter_nickname),
            domain::fresh_nickname(sides.recipient_id, &sides.recipient_nickname),
        ];
        let event = self.add_message(&mut tx, conversation_id, caller.user_id, snapshots, &content).await?;
        let conversation = store::get(&mut tx, conversation_id, caller.user_id)
            .await?
            .ok_or(Error::NotFound("conversation"))?;
        tx.commit().await?;
        self.announce(&event);
        Ok(conversation_proto(&conversation, caller.user_id))
    }

    pub(super) async fn list_conversations(
        &self,
        caller: &Caller,
        req: ListConversationsRequest,
    ) -> Result<ListConversationsResponse> {
        let size = page_size(req.page_size)?;
        let scope = format!("conversations:{}", caller.user_id);
        let after: Option<(i64, i64)> = self.tokens.decode(&scope, &req.page_token)?;
        let mut rows =
            store::list(&mut *self.database.conn().await?, caller.user_id, after, size + 1).await?;
        let next_page_token = self.tokens.next(&scope, &mut rows, size, |c| (c.updated_at, c.id));
        Ok(ListConversationsResponse {
            conversations: rows.iter().map(|c| conversation_proto(c, caller.user_id)).collect(),
            next_page_token,
        })
    }

    /// Sets the caller's unread count to 0.
    pub(super) async fn mark_conversation_read(&self, caller: &Caller, id: i64) -> Result<Conversation> {
        let mut tx = self.database.begin_write().await?;
        store::mark_read(&mut tx, id, caller.user_id).await?;
        let conversation =
            store::get(&mut tx, id, caller.user_id).await?.ok_or(Error::NotFound("conversation"))?;
        tx.commit().await?;
        Ok(conversation_proto(&conversation, caller.user_id))
    }

    /// Leaves a conversation (DeleteConversation): hidden from the caller's list, its
    /// messages so far cleared and read, until a new message arrives.
    pub(super) async fn leave_conversation(&self, caller: &Caller, id: i64) -> Result<()> {
        let mut tx = self.database.begin_write().await?;
        let took_part = store::leave(&mut tx, id, caller.user_id).await?;
        tx.commit().await?;
        if !took_part {
            return Err(Error::NotFound("conversation"));
        }
        Ok(())
    }

    /// Blocks a conversation for both sides (once; the first blocker is kept).
    pub(super) async fn block_conversation(&self, caller: &Caller, id: i64) -> Result<Conversation> {
        let mut tx = self.database.begin_write().await?;
        store::block(&mut tx, id, caller.user_id).await?;
        let conversation =
            store::get(&mut tx, id, caller.user_id).await?.ok_or(Error::NotFound("conversation"))?;
        tx.commit().await?;
        Ok(conversation_proto(&conversation, caller.user_id))
    }
}
