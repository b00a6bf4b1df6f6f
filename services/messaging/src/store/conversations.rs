//! Conversations and each participant's inbox row (`participant`: unread count, what they
//! cleared by leaving, whether it is hidden from their list).

use campus_shared::Result;
use campus_shared::id::next_id;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::MessageRow;
use crate::domain::{ConversationKey, OriginKind, Sides};

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

/// Everything CreateConversation knows before it writes.
#[derive(Debug, Clone)]
pub(crate) struct NewConversation {
    pub(crate) school_id: i64,
    pub(crate) key: ConversationKey,
    pub(crate) origin_post_id: i64,
    pub(crate) sides: Sides,
}

/// A nickname snapshot to store for one user: `(user id, nickname)`.
pub(crate) type Snapshot<'a> = (i64, &'a str);

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

/// The conversation as `viewer` sees it; `None` unless they take part in it.
pub(crate) async fn get(
    conn: &mut AnyConnection,
    conversation_id: i64,
    viewer: i64,
) -> Result<Option<ConversationRow>> {
    let row = sqlx::query(concat!(select_conversation!(), "WHERE p.conversation_id = $1 AND p.user_id = $2"))
        .bind(conversation_id)
        .bind(viewer)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(conversation_from).transpose()?)
}

/// Inserts the conversation of `new.key` with both participants' inbox rows, unless one with
/// that key exists: the unique index on the key lets exactly one of concurrent inserts
/// through. Returns the new conversation's id, `None` when it existed.
pub(crate) async fn insert(conn: &mut AnyConnection, new: &NewConversation, now: i64) -> Result<Option<i64>> {
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
    .fetch_optional(&mut *conn)
    .await?;
    let Some(id) = inserted else { return Ok(None) };
    for user in [new.sides.starter_id, new.sides.recipient_id] {
        sqlx::query(
            "INSERT INTO participant (conversation_id, user_id, updated_at, unread_count, \
             cleared_through, hidden) VALUES ($1, $2, $3, 0, 0, 0)",
        )
        .bind(id)
        .bind(user)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(Some(id))
}

/// The id of the conversation with `key` (which exists).
pub(crate) async fn id_of(conn: &mut AnyConnection, key: ConversationKey) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM conversation WHERE user_low = $1 AND user_high = $2 AND origin_kind = $3 \
         AND origin_id = $4 AND anon_key = $5",
    )
    .bind(key.user_low)
    .bind(key.user_high)
    .bind(key.origin_kind as i64)
    .bind(key.origin_id)
    .bind(key.anon_key)
    .fetch_one(conn)
    .await?)
}

/// Whether `user` takes part in the conversation (blocked or not).
pub(crate) async fn has_participant(
    conn: &mut AnyConnection,
    conversation_id: i64,
    user: i64,
) -> Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM conversation WHERE id = $1 AND (starter_id = $2 OR recipient_id = $2)",
    )
    .bind(conversation_id)
    .bind(user)
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// Makes `message_id` the conversation's last message and refreshes the nickname snapshots
/// given, if the conversation is not blocked and `sender` takes part in it; returns whether
/// it did. On PostgreSQL the UPDATE waits for (and then re-reads) a concurrent block, so no
/// message slips in after one, and the happy path needs no extra statement for the check.
pub(crate) async fn record_message(
    conn: &mut AnyConnection,
    conversation_id: i64,
    sender: i64,
    message_id: i64,
    now: i64,
    snapshots: [Option<Snapshot<'_>>; 2],
) -> Result<bool> {
    // User id 0 matches nobody: a snapshot not given keeps the stored one.
    let [(first_id, first_name), (second_id, second_name)] = snapshots.map(|s| s.unwrap_or((0, "")));
    let touched = sqlx::query(
        "UPDATE conversation SET last_message_id = $1, updated_at = $2, \
         starter_nickname = CASE WHEN starter_id = $3 THEN $4 WHEN starter_id = $5 THEN $6 ELSE starter_nickname END, \
         recipient_nickname = CASE WHEN recipient_id = $3 THEN $4 WHEN recipient_id = $5 THEN $6 ELSE recipient_nickname END \
         WHERE id = $7 AND blocked_by = 0 AND (starter_id = $8 OR recipient_id = $8)",
    )
    .bind(message_id)
    .bind(now)
    .bind(first_id)
    .bind(first_name)
    .bind(second_id)
    .bind(second_name)
    .bind(conversation_id)
    .bind(sender)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(touched > 0)
}

/// Moves both inbox rows with a new message from `sender`: activity time, visible again, one
/// more unread for everyone but the sender. Returns the participants.
pub(crate) async fn touch_inboxes(
    conn: &mut AnyConnection,
    conversation_id: i64,
    sender: i64,
    now: i64,
) -> Result<Vec<i64>> {
    Ok(sqlx::query_scalar(
        "UPDATE participant SET updated_at = $1, hidden = 0, \
         unread_count = unread_count + CASE WHEN user_id = $2 THEN 0 ELSE 1 END \
         WHERE conversation_id = $3 RETURNING user_id",
    )
    .bind(now)
    .bind(sender)
    .bind(conversation_id)
    .fetch_all(conn)
    .await?)
}

/// The viewer's visible conversations, most recently active first, after the `(updated_at,
/// id)` cursor; `limit` rows at most.
pub(crate) async fn list(
    conn: &mut AnyConnection,
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
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(conversation_from).collect::<Result<_, _>>()?)
}

/// The last message id the viewer cleared by leaving (0 if none); `None` unless they take
/// part in the conversation.
pub(crate) async fn cleared_through(
    conn: &mut AnyConnection,
    conversation_id: i64,
    viewer: i64,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT cleared_through FROM participant WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(viewer)
    .fetch_optional(conn)
    .await?)
}

/// Sets the viewer's unread count to 0.
pub(crate) async fn mark_read(conn: &mut AnyConnection, conversation_id: i64, viewer: i64) -> Result<()> {
    sqlx::query("UPDATE participant SET unread_count = 0 WHERE conversation_id = $1 AND user_id = $2")
        .bind(conversation_id)
        .bind(viewer)
        .execute(conn)
        .await?;
    Ok(())
}

/// Hides the conversation from the viewer's list with its messages so far cleared and read;
/// returns whether the viewer has an inbox row in it.
pub(crate) async fn leave(conn: &mut AnyConnection, conversation_id: i64, viewer: i64) -> Result<bool> {
    let touched = sqlx::query(
        "UPDATE participant SET hidden = 1, unread_count = 0, \
         cleared_through = (SELECT last_message_id FROM conversation WHERE id = $1) \
         WHERE conversation_id = $1 AND user_id = $2",
    )
    .bind(conversation_id)
    .bind(viewer)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(touched > 0)
}

/// Marks the conversation blocked by the viewer, if they take part in it and nobody blocked
/// it before (the first blocker is kept).
pub(crate) async fn block(conn: &mut AnyConnection, conversation_id: i64, viewer: i64) -> Result<()> {
    sqlx::query(
        "UPDATE conversation SET blocked_by = $1 WHERE id = $2 AND blocked_by = 0 \
         AND EXISTS (SELECT 1 FROM participant WHERE conversation_id = $2 AND user_id = $1)",
    )
    .bind(viewer)
    .bind(conversation_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Shows `user_id`'s side of every conversation as `shown_as` (a deleted account).
pub(crate) async fn rename_side(conn: &mut AnyConnection, user_id: i64, shown_as: &str) -> Result<()> {
    for sql in [
        "UPDATE conversation SET starter_nickname = $2 WHERE starter_id = $1",
        "UPDATE conversation SET recipient_nickname = $2 WHERE recipient_id = $1",
    ] {
        sqlx::query(sql).bind(user_id).bind(shown_as).execute(&mut *conn).await?;
    }
    Ok(())
}
