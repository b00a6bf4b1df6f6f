//! Notifications. Writes run in the caller's transaction: the board feed's consumer's (which
//! also records the event as applied and moves the cursor) or MarkNotificationsRead's. The
//! table holds no actor: nothing stored here can name the person who commented.

use campus_shared::db::Backend;
use campus_shared::id::next_id;
use campus_shared::{Error, Result};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::domain::notifications::{MarkRead, NewNotification};

/// The PostgreSQL NOTIFY channel new notifications are announced on.
pub(crate) const NOTIFICATION_CHANNEL: &str = "campus_notifications";

/// A stored notification; also the NOTIFY payload (a preview of 60 characters and a board
/// name keep it far below PostgreSQL's 8,000 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NotificationRow {
    pub(crate) id: i64,
    pub(crate) user_id: i64,
    pub(crate) kind: i64,
    pub(crate) post_id: i64,
    /// 0 for HOT and BEST.
    pub(crate) comment_id: i64,
    pub(crate) board_id: i64,
    pub(crate) board_name: String,
    pub(crate) preview: String,
    pub(crate) read: bool,
    pub(crate) created_at: i64,
}

impl NotificationRow {
    /// A new, unread notification with a fresh id.
    pub(crate) fn unread(new: &NewNotification, created_at: i64) -> Self {
        Self {
            id: next_id(),
            user_id: new.user_id,
            kind: new.kind as i64,
            post_id: new.post_id,
            comment_id: new.comment_id,
            board_id: new.board_id,
            board_name: new.board_name.clone(),
            preview: new.preview.clone(),
            read: false,
            created_at,
        }
    }
}

fn row_from(row: &AnyRow) -> Result<NotificationRow, sqlx::Error> {
    Ok(NotificationRow {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        kind: row.try_get("kind")?,
        post_id: row.try_get("post_id")?,
        comment_id: row.try_get("comment_id")?,
        board_id: row.try_get("board_id")?,
        board_name: row.try_get("board_name")?,
        preview: row.try_get("preview")?,
        read: row.try_get::<i64, _>("is_read")? != 0,
        created_at: row.try_get("created_at")?,
    })
}

/// Whether `user_id`'s account was deleted (the account feed recorded it).
pub(crate) async fn account_deleted(conn: &mut AnyConnection, user_id: i64) -> Result<bool> {
    let deleted: Option<i64> = sqlx::query_scalar("SELECT user_id FROM deleted_account WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
    Ok(deleted.is_some())
}

/// Stores a notification unless the same one (person, kind, post, comment) exists; returns
/// whether it stored it.
pub(crate) async fn insert(conn: &mut AnyConnection, row: &NotificationRow) -> Result<bool> {
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO notification (id, user_id, kind, post_id, comment_id, board_id, board_name, \
         preview, is_read, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9) \
         ON CONFLICT (user_id, kind, post_id, comment_id) DO NOTHING RETURNING id",
    )
    .bind(row.id)
    .bind(row.user_id)
    .bind(row.kind)
    .bind(row.post_id)
    .bind(row.comment_id)
    .bind(row.board_id)
    .bind(&row.board_name)
    .bind(&row.preview)
    .bind(row.created_at)
    .fetch_optional(conn)
    .await?;
    Ok(inserted.is_some())
}

/// On PostgreSQL, NOTIFYs every replica's listener of the new notification. NOTIFY is
/// transactional: every replica hears of it on commit, none on rollback. SQLite has one
/// process, whose feed handler hands it to its streams after commit.
pub(crate) async fn announce(
    conn: &mut AnyConnection,
    backend: Backend,
    row: &NotificationRow,
) -> Result<()> {
    if backend == Backend::Postgres {
        let payload = serde_json::to_string(row).map_err(|e| Error::Internal(Box::new(e)))?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(NOTIFICATION_CHANNEL)
            .bind(payload)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Deletes every notification of a post (it was deleted or hidden), its comments' included.
pub(crate) async fn delete_of_post(conn: &mut AnyConnection, post_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM notification WHERE post_id = $1").bind(post_id).execute(conn).await?;
    Ok(())
}

/// Deletes the notifications of a comment (it was deleted or hidden).
pub(crate) async fn delete_of_comment(conn: &mut AnyConnection, comment_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM notification WHERE comment_id = $1").bind(comment_id).execute(conn).await?;
    Ok(())
}

/// Deletes every notification of a deleted account.
pub(crate) async fn delete_of_user(conn: &mut AnyConnection, user_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM notification WHERE user_id = $1").bind(user_id).execute(conn).await?;
    Ok(())
}

/// The user's notifications, newest first, older than `before`; `limit` rows at most.
pub(crate) async fn list(
    conn: &mut AnyConnection,
    user_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<NotificationRow>> {
    let rows = sqlx::query(
        "SELECT id, user_id, kind, post_id, comment_id, board_id, board_name, preview, is_read, created_at \
         FROM notification WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(user_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(row_from).collect::<Result<_, _>>()?)
}

/// How many of the user's notifications are unread.
pub(crate) async fn unread_count(conn: &mut AnyConnection, user_id: i64) -> Result<i64> {
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM notification WHERE user_id = $1 AND is_read = 0")
            .bind(user_id)
            .fetch_one(conn)
            .await?;
    Ok(count)
}

/// Marks the user's notifications read: all, or those of `ids` that are theirs (others'
/// ids match nothing).
pub(crate) async fn mark_read(conn: &mut AnyConnection, user_id: i64, which: &MarkRead) -> Result<()> {
    match which {
        MarkRead::All => {
            sqlx::query("UPDATE notification SET is_read = 1 WHERE user_id = $1 AND is_read = 0")
                .bind(user_id)
                .execute(conn)
                .await?;
        }
        MarkRead::Ids(ids) => {
            let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
            let sql = format!(
                "UPDATE notification SET is_read = 1 WHERE user_id = $1 AND is_read = 0 AND id IN ({})",
                placeholders.join(", ")
            );
            // Only placeholders are formatted in; the ids travel as bound values.
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id);
            for id in ids {
                query = query.bind(*id);
            }
            query.execute(conn).await?;
        }
    }
    Ok(())
}
