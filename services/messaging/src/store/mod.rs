//! Every SQL statement of the messaging service.
//!
//! Each write RPC is one transaction. A new message, the conversation's last message and
//! activity time, and both participants' inbox rows (unread count, un-hiding) change together,
//! so the unread counters never drift from the messages they count. On PostgreSQL the same
//! transaction sends the NOTIFY that streams on every replica wait for, so a notification
//! exists exactly when the message does. Notifications' SQL is in [`notifications`].

pub(crate) mod notifications;

use std::sync::Arc;

use campus_shared::db::{Backend, Db, now_micros};
use campus_shared::id::next_id;
use campus_shared::{Error, Result};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::domain::{CONVERSATION_BLOCKED, Content, ConversationKey, OriginKind, Sides};

/// The PostgreSQL NOTIFY channel new messages are announced on.
pub(crate) const NOTIFY_CHANNEL: &str = "campus_messaging";
/// NOTIFY payloads must stay under 8,000 bytes; longer ones go without the content and the
/// listener reads the message back.
const MAX_NOTIFY_PAYLOAD: usize = 7900;

/// The service's database. SQLite has one writer at a time; instead of letting concurrent
/// writers poll its busy handler (which backs off in sleeps up to 100 ms and is unfair), this
/// process queues them in FIFO order before they take a connection. Only this service writes
/// its SQLite file, so an in-process queue covers every writer. PostgreSQL needs none.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub(crate) db: Db,
    writer: Arc<Mutex<()>>,
}

impl Store {
    pub(crate) fn new(db: Db) -> Self {
        Self { db, writer: Arc::new(Mutex::new(())) }
    }

    /// A write transaction, with this process's SQLite write turn held until it is dropped.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<(Transaction<'static, Any>, Option<OwnedMutexGuard<()>>)> {
        let turn = match self.db.backend {
            Backend::Sqlite => Some(self.writer.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        Ok((self.db.begin_write().await?, turn))
    }
}

/// A conversation as one participant sees it.
#[derive(Debug, Clone)]
pub(crate) struct ConversationRow {
    pub(crate) id: i64,
    pub(crate) sides: Sides,
    pub(crate) origin_kind: OriginKind,
    pub(crate) origin_id: i64,
    pub(crate) origin_post_id: i64,
    pub(crate) blocked: bool,
    pub(crate) updated_at: i64,
    pub(crate) unread_count: i64,
    /// The last message, unless the viewer cleared it by leaving.
    pub(crate) last_message: Option<MessageRow>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MessageRow {
    pub(crate) id: i64,
    pub(crate) conversation_id: i64,
    pub(crate) sender_id: i64,
    pub(crate) content: String,
    pub(crate) created_at: i64,
}

/// A new message and who should hear about it: what the streams fan out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct MessageEvent {
    pub(crate) message: MessageRow,
    pub(crate) recipient_id: i64,
}

/// The NOTIFY payload: the event, with the content left out when it would not fit.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Notification {
    pub(crate) id: i64,
    pub(crate) conversation_id: i64,
    pub(crate) sender_id: i64,
    pub(crate) recipient_id: i64,
    pub(crate) created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) content: Option<String>,
}

impl Notification {
    fn payload(event: &MessageEvent) -> String {
        let m = &event.message;
        let mut n = Notification {
            id: m.id,
            conversation_id: m.conversation_id,
            sender_id: m.sender_id,
            recipient_id: event.recipient_id,
            created_at: m.created_at,
            content: Some(m.content.clone()),
        };
        let full = serde_json::to_string(&n).unwrap_or_default();
        if full.len() <= MAX_NOTIFY_PAYLOAD {
            return full;
        }
        n.content = None;
        serde_json::to_string(&n).unwrap_or_default()
    }
}

/// Everything CreateConversation knows before it writes.
#[derive(Debug, Clone)]
pub(crate) struct NewConversation<'a> {
    pub(crate) school_id: i64,
    pub(crate) key: ConversationKey,
    pub(crate) origin_post_id: i64,
    pub(crate) sides: Sides,
    pub(crate) content: &'a Content,
}

/// The conversation columns every read selects, joined with the viewer's participant row and
/// the last message.
macro_rules! select_conversation {
    () => {
        "SELECT c.id, c.starter_id, c.recipient_id, c.origin_kind, c.origin_id, c.origin_post_id, \
         c.starter_anonymous, c.recipient_anonymous, c.starter_nickname, c.recipient_nickname, \
         c.blocked_by, p.updated_at, p.unread_count, p.cleared_through, \
         m.id AS m_id, m.sender_id AS m_sender_id, m.content AS m_content, m.created_at AS m_created_at \
         FROM participant p JOIN conversation c ON c.id = p.conversation_id \
         LEFT JOIN message m ON m.id = c.last_message_id "
    };
}

fn conversation_from(row: &AnyRow) -> Result<ConversationRow, sqlx::Error> {
    let cleared_through: i64 = row.try_get("cleared_through")?;
    let last_id: Option<i64> = row.try_get("m_id")?;
    let last_message = match last_id {
        Some(id) if id > cleared_through => Some(MessageRow {
            id,
            conversation_id: row.try_get("id")?,
            sender_id: row.try_get::<Option<i64>, _>("m_sender_id")?.unwrap_or_default(),
            content: row.try_get::<Option<String>, _>("m_content")?.unwrap_or_default(),
            created_at: row.try_get::<Option<i64>, _>("m_created_at")?.unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(ConversationRow {
        id: row.try_get("id")?,
        sides: Sides {
            starter_id: row.try_get("starter_id")?,
            recipient_id: row.try_get("recipient_id")?,
            starter_anonymous: row.try_get::<i64, _>("starter_anonymous")? != 0,
            recipient_anonymous: row.try_get::<i64, _>("recipient_anonymous")? != 0,
            starter_nickname: row.try_get("starter_nickname")?,
            recipient_nickname: row.try_get("recipient_nickname")?,
        },
        origin_kind: OriginKind::from_i64(row.try_get("origin_kind")?),
        origin_id: row.try_get("origin_id")?,
        origin_post_id: row.try_get("origin_post_id")?,
        blocked: row.try_get::<i64, _>("blocked_by")? != 0,
        updated_at: row.try_get("updated_at")?,
        unread_count: row.try_get("unread_count")?,
        last_message,
    })
}

fn message_from(row: &AnyRow) -> Result<MessageRow, sqlx::Error> {
    Ok(MessageRow {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        sender_id: row.try_get("sender_id")?,
        content: row.try_get("content")?,
        created_at: row.try_get("created_at")?,
    })
}

async fn conversation_in(
    tx: &mut Transaction<'static, Any>,
    conversation_id: i64,
    viewer: i64,
) -> Result<Option<ConversationRow>> {
    let row = sqlx::query(concat!(select_conversation!(), "WHERE p.conversation_id = $1 AND p.user_id = $2"))
        .bind(conversation_id)
        .bind(viewer)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.as_ref().map(conversation_from).transpose()?)
}

/// Starts the conversation of `new.key` (or finds the one that exists) and adds the first
/// message to it. Two concurrent starts end in one conversation: the unique index on the key
/// lets exactly one INSERT through and the other reads the winner's row.
pub(crate) async fn start_conversation(
    store: &Store,
    new: NewConversation<'_>,
) -> Result<(ConversationRow, MessageEvent)> {
    let (mut tx, _turn) = store.begin_write().await?;
    let now = now_micros();
    let key = new.key;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO conversation (id, school_id, user_low, user_high, starter_id, recipient_id, \
         origin_kind, origin_id, origin_post_id, anon_key, starter_anonymous, recipient_anonymous, \
         starter_nickname, recipient_nickname, blocked_by, last_message_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, 0, $15, $15) \
         ON CONFLICT (user_low, user_high, origin_kind, origin_id, anon_key) DO NOTHING RETURNING id",
    )
    .bind(next_id())
    .bind(new.school_id)
    .bind(key.user_low)
    .bind(key.user_high)
    .bind(new.sides.starter_id)
    .bind(new.sides.recipient_id)
    .bind(key.origin_kind as i64)
    .bind(key.origin_id)
    .bind(new.origin_post_id)
    .bind(key.anon_key)
    .bind(i64::from(new.sides.starter_anonymous))
    .bind(i64::from(new.sides.recipient_anonymous))
    .bind(&new.sides.starter_nickname)
    .bind(&new.sides.recipient_nickname)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;

    let conversation_id = match inserted {
        Some(id) => {
            for user in [new.sides.starter_id, new.sides.recipient_id] {
                sqlx::query(
                    "INSERT INTO participant (conversation_id, user_id, updated_at, unread_count, \
                     cleared_through, hidden) VALUES ($1, $2, $3, 0, 0, 0)",
                )
                .bind(id)
                .bind(user)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            id
        }
        None => {
            sqlx::query_scalar(
                "SELECT id FROM conversation WHERE user_low = $1 AND user_high = $2 AND origin_kind = $3 \
                 AND origin_id = $4 AND anon_key = $5",
            )
            .bind(key.user_low)
            .bind(key.user_high)
            .bind(key.origin_kind as i64)
            .bind(key.origin_id)
            .bind(key.anon_key)
            .fetch_one(&mut *tx)
            .await?
        }
    };

    // The caller is the starter of this request but maybe not of a reused conversation (the
    // other side may have started it), so both snapshots are refreshed by user id.
    let me = new.sides.starter_id;
    let other = (new.sides.recipient_id, new.sides.recipient_nickname.as_str());
    let event = add_message(
        &mut tx,
        store.db.backend,
        conversation_id,
        me,
        &new.sides.starter_nickname,
        Some(other),
        new.content,
    )
    .await?;
    let conversation =
        conversation_in(&mut tx, conversation_id, me).await?.ok_or(Error::NotFound("conversation"))?;
    tx.commit().await?;
    Ok((conversation, event))
}

/// Adds a message to a conversation the sender takes part in; NOT_FOUND for anyone else.
pub(crate) async fn send_message(
    store: &Store,
    conversation_id: i64,
    sender: i64,
    sender_nickname: &str,
    content: &Content,
) -> Result<MessageEvent> {
    let (mut tx, _turn) = store.begin_write().await?;
    let event =
        add_message(&mut tx, store.db.backend, conversation_id, sender, sender_nickname, None, content)
            .await?;
    tx.commit().await?;
    Ok(event)
}

/// Inserts a message and moves the conversation and both inbox rows with it: NOT_FOUND unless
/// the sender takes part, CONVERSATION_BLOCKED once blocked. Both guards sit in the first
/// UPDATE, which on PostgreSQL waits for (and then re-reads) a concurrent block, so no message
/// slips in after one; the happy path costs no extra round trip for them.
async fn add_message(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    conversation_id: i64,
    sender: i64,
    sender_nickname: &str,
    other: Option<(i64, &str)>,
    content: &Content,
) -> Result<MessageEvent> {
    let id = next_id();
    let now = now_micros();
    // An empty nickname (a token without the claim) keeps the stored snapshot: user id 0
    // matches nobody.
    let sender_key = if sender_nickname.is_empty() { 0 } else { sender };
    let (other_id, other_nickname) = other.filter(|(_, n)| !n.is_empty()).unwrap_or((0, ""));
    let touched = sqlx::query(
        "UPDATE conversation SET last_message_id = $1, updated_at = $2, \
         starter_nickname = CASE WHEN starter_id = $3 THEN $4 WHEN starter_id = $5 THEN $6 ELSE starter_nickname END, \
         recipient_nickname = CASE WHEN recipient_id = $3 THEN $4 WHEN recipient_id = $5 THEN $6 ELSE recipient_nickname END \
         WHERE id = $7 AND blocked_by = 0 AND (starter_id = $8 OR recipient_id = $8)",
    )
    .bind(id)
    .bind(now)
    .bind(sender_key)
    .bind(sender_nickname)
    .bind(other_id)
    .bind(other_nickname)
    .bind(conversation_id)
    .bind(sender)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if touched == 0 {
        let member: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM conversation WHERE id = $1 AND (starter_id = $2 OR recipient_id = $2)",
        )
        .bind(conversation_id)
        .bind(sender)
        .fetch_optional(&mut **tx)
        .await?;
        return Err(match member {
            None => Error::NotFound("conversation"),
            Some(_) => Error::failed_precondition(CONVERSATION_BLOCKED, "this conversation is blocked"),
        });
    }
    sqlx::query(
        "INSERT INTO message (id, conversation_id, sender_id, content, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(conversation_id)
    .bind(sender)
    .bind(content.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    let participants: Vec<i64> = sqlx::query_scalar(
        "UPDATE participant SET updated_at = $1, hidden = 0, \
         unread_count = unread_count + CASE WHEN user_id = $2 THEN 0 ELSE 1 END \
         WHERE conversation_id = $3 RETURNING user_id",
    )
    .bind(now)
    .bind(sender)
    .bind(conversation_id)
    .fetch_all(&mut **tx)
    .await?;
    let recipient_id = participants
        .into_iter()
        .find(|user| *user != sender)
        .ok_or_else(|| Error::internal("a conversation without a second participant"))?;
    let event = MessageEvent {
        message: MessageRow {
            id,
            conversation_id,
            sender_id: sender,
            content: content.as_str().to_string(),
            created_at: now,
        },
        recipient_id,
    };
    if backend == Backend::Postgres {
        // NOTIFY is transactional: it is delivered on commit and dropped on rollback.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(NOTIFY_CHANNEL)
            .bind(Notification::payload(&event))
            .execute(&mut **tx)
            .await?;
    }
    Ok(event)
}

/// The viewer's visible conversations, most recently active first, after the `(updated_at,
/// id)` cursor; `limit` rows at most.
pub(crate) async fn list_conversations(
    store: &Store,
    viewer: i64,
    after: Option<(i64, i64)>,
    limit: i64,
) -> Result<Vec<ConversationRow>> {
    let (updated_at, id) = after.unwrap_or((i64::MAX, i64::MAX));
    let rows = sqlx::query(concat!(
        select_conversation!(),
        "WHERE p.user_id = $1 AND p.hidden = 0 \
         AND (p.updated_at, p.conversation_id) < ($2, $3) \
         ORDER BY p.updated_at DESC, p.conversation_id DESC LIMIT $4"
    ))
    .bind(viewer)
    .bind(updated_at)
    .bind(id)
    .bind(limit)
    .fetch_all(&store.db.pool)
    .await?;
    Ok(rows.iter().map(conversation_from).collect::<Result<_, _>>()?)
}

/// Messages of a conversation the viewer takes part in, newest first, older than `before`,
/// leaving out what the viewer cleared by leaving; `None` when the viewer is not a participant.
pub(crate) async fn list_messages(
    store: &Store,
    conversation_id: i64,
    viewer: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Option<Vec<MessageRow>>> {
    let cleared: Option<i64> = sqlx::query_scalar(
        "SELECT cleared_through FROM participant WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(viewer)
    .fetch_optional(&store.db.pool)
    .await?;
    let Some(cleared) = cleared else {
        return Ok(None);
    };
    let rows = sqlx::query(
        "SELECT id, conversation_id, sender_id, content, created_at FROM message \
         WHERE conversation_id = $1 AND id > $2 AND id < $3 ORDER BY id DESC LIMIT $4",
    )
    .bind(conversation_id)
    .bind(cleared)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&store.db.pool)
    .await?;
    Ok(Some(rows.iter().map(message_from).collect::<Result<_, _>>()?))
}

/// One message by id (for notifications too large to carry their content).
pub(crate) async fn message(store: &Store, id: i64) -> Result<Option<MessageRow>> {
    let row =
        sqlx::query("SELECT id, conversation_id, sender_id, content, created_at FROM message WHERE id = $1")
            .bind(id)
            .fetch_optional(&store.db.pool)
            .await?;
    Ok(row.as_ref().map(message_from).transpose()?)
}

/// Sets the viewer's unread count to 0 and returns the conversation.
pub(crate) async fn mark_read(
    store: &Store,
    conversation_id: i64,
    viewer: i64,
) -> Result<Option<ConversationRow>> {
    let (mut tx, _turn) = store.begin_write().await?;
    sqlx::query("UPDATE participant SET unread_count = 0 WHERE conversation_id = $1 AND user_id = $2")
        .bind(conversation_id)
        .bind(viewer)
        .execute(&mut *tx)
        .await?;
    let conversation = conversation_in(&mut tx, conversation_id, viewer).await?;
    tx.commit().await?;
    Ok(conversation)
}

/// Leaves a conversation: hidden from the viewer's list, its messages so far cleared and
/// read, until a new message arrives. Returns whether the viewer takes part in it.
pub(crate) async fn leave(store: &Store, conversation_id: i64, viewer: i64) -> Result<bool> {
    let (mut tx, _turn) = store.begin_write().await?;
    let touched = sqlx::query(
        "UPDATE participant SET hidden = 1, unread_count = 0, \
         cleared_through = (SELECT last_message_id FROM conversation WHERE id = $1) \
         WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(viewer)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(touched > 0)
}

/// Blocks a conversation for both sides (once; the first blocker is kept) and returns it.
pub(crate) async fn block(
    store: &Store,
    conversation_id: i64,
    viewer: i64,
) -> Result<Option<ConversationRow>> {
    let (mut tx, _turn) = store.begin_write().await?;
    sqlx::query(
        "UPDATE conversation SET blocked_by = $1 WHERE id = $2 AND blocked_by = 0 \
         AND EXISTS (SELECT 1 FROM participant WHERE conversation_id = $2 AND user_id = $1)",
    )
    .bind(viewer)
    .bind(conversation_id)
    .execute(&mut *tx)
    .await?;
    let conversation = conversation_in(&mut tx, conversation_id, viewer).await?;
    tx.commit().await?;
    Ok(conversation)
}

/// How a deleted account is shown to the people it wrote to (DESIGN §7).
pub(crate) const UNKNOWN_USER: &str = "(알 수 없음)";

/// A deleted account: its side of every conversation shows [`UNKNOWN_USER`]; the messages
/// stay in the other side's inbox. Applying it twice changes nothing more.
pub(crate) async fn forget_account(
    tx: &mut sqlx::AnyConnection,
    user_id: i64,
) -> std::result::Result<(), sqlx::Error> {
    for sql in [
        "UPDATE conversation SET starter_nickname = $2 WHERE starter_id = $1",
        "UPDATE conversation SET recipient_nickname = $2 WHERE recipient_id = $1",
    ] {
        sqlx::query(sql).bind(user_id).bind(UNKNOWN_USER).execute(&mut *tx).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_notifications_leave_the_content_out() {
        let event = |content: String| MessageEvent {
            message: MessageRow { id: 1, conversation_id: 2, sender_id: 3, content, created_at: 4 },
            recipient_id: 5,
        };
        let small: Notification = serde_json::from_str(&Notification::payload(&event("hi".into()))).unwrap();
        assert_eq!(small.content.as_deref(), Some("hi"));
        // The longest legal message fits even when every character escapes to six bytes...
        let longest = Notification::payload(&event("\u{1}".repeat(crate::domain::MAX_CONTENT_CHARS)));
        assert!(serde_json::from_str::<Notification>(&longest).unwrap().content.is_some());
        // ...and anything larger is announced without its content.
        let large = Notification::payload(&event("\u{1}".repeat(2000)));
        assert!(large.len() < MAX_NOTIFY_PAYLOAD);
        let parsed: Notification = serde_json::from_str(&large).unwrap();
        assert_eq!((parsed.content, parsed.recipient_id), (None, 5));
    }
}
