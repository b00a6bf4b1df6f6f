//! Messages, and their announcement to every replica's streams on PostgreSQL.

use campus_shared::Result;
use campus_shared::db::Backend;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// The PostgreSQL NOTIFY channel new messages are announced on.
pub(crate) const NOTIFY_CHANNEL: &str = "campus_messaging";
/// NOTIFY payloads must stay under 8,000 bytes; longer ones go without the content and the
/// listener reads the message back.
const MAX_NOTIFY_PAYLOAD: usize = 7900;

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

fn message_from(row: &AnyRow) -> Result<MessageRow, sqlx::Error> {
    Ok(MessageRow {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        sender_id: row.try_get("sender_id")?,
        content: row.try_get("content")?,
        created_at: row.try_get("created_at")?,
    })
}

pub(crate) async fn insert(conn: &mut AnyConnection, message: &MessageRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO message (id, conversation_id, sender_id, content, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(message.id)
    .bind(message.conversation_id)
    .bind(message.sender_id)
    .bind(&message.content)
    .bind(message.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// On PostgreSQL, NOTIFYs every replica's listener of the new message. NOTIFY is
/// transactional: it is delivered on commit and dropped on rollback. SQLite has one process,
/// whose writer hands the message to its streams after commit, so nothing is sent there.
pub(crate) async fn announce(conn: &mut AnyConnection, backend: Backend, event: &MessageEvent) -> Result<()> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(NOTIFY_CHANNEL)
            .bind(Notification::payload(event))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Messages of a conversation, newest first, later than `cleared_through` and older than
/// `before`; `limit` rows at most.
pub(crate) async fn list(
    conn: &mut AnyConnection,
    conversation_id: i64,
    cleared_through: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<MessageRow>> {
    let rows = sqlx::query(
        "SELECT id, conversation_id, sender_id, content, created_at FROM message \
         WHERE conversation_id = $1 AND id > $2 AND id < $3 ORDER BY id DESC LIMIT $4",
    )
    .bind(conversation_id)
    .bind(cleared_through)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(message_from).collect::<Result<_, _>>()?)
}

/// One message by id (for announcements too large to carry their content).
pub(crate) async fn get(conn: &mut AnyConnection, id: i64) -> Result<Option<MessageRow>> {
    let row =
        sqlx::query("SELECT id, conversation_id, sender_id, content, created_at FROM message WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(row.as_ref().map(message_from).transpose()?)
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
