//! Comments: thread-ordered lists, anonymous numbers, replies, writes.

use campus_shared::error::Result;
use sqlx::{Any, AnyConnection, Executor, FromRow};

use super::{viewer_page, viewer_row};

/// A comment with what is needed to show its author.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct CommentRow {
    pub(crate) id: i64,
    pub(crate) post_id: i64,
    pub(crate) parent_id: i64,
    pub(crate) thread_id: i64,
    pub(crate) author_id: i64,
    pub(crate) author_nickname: String,
    pub(crate) anonymous: i64,
    pub(crate) anon_number: i64,
    pub(crate) content: String,
    pub(crate) like_count: i64,
    pub(crate) created_at: i64,
    pub(crate) deleted: i64,
    pub(crate) liked: i64,
}

/// `$1` is the viewer (counts, not EXISTS: see `board_select!`).
macro_rules! comment_select {
    () => {
        "SELECT c.id, c.post_id, c.parent_id, c.thread_id, c.author_id, c.author_nickname, c.anonymous, \
         c.anon_number, c.content, c.like_count, c.created_at, \
         CASE WHEN c.deleted_at IS NULL THEN 0 ELSE 1 END AS deleted, \
         (SELECT count(*) FROM comment_like l WHERE l.comment_id = c.id AND l.user_id = $1) AS liked \
         FROM comment c"
    };
}

/// A post's comments in thread order (each top-level comment followed by its replies), after
/// the cursor `(thread_id, id)`. Deleted comments show only while they have live replies.
pub(crate) async fn list_comments<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    post_id: i64,
    after: (i64, i64),
    limit: i64,
) -> Result<Vec<CommentRow>> {
    let sql = concat!(
        comment_select!(),
        " WHERE c.post_id = $2 AND (c.deleted_at IS NULL OR c.reply_count > 0) AND c.report_count < 5 \
         AND (c.thread_id > $3 OR (c.thread_id = $3 AND c.id > $4)) ORDER BY c.thread_id, c.id LIMIT $5"
    );
    viewer_page(e, sql, viewer, post_id, &[after.0, after.1], limit).await
}

/// A live comment of a live post of the school.
pub(crate) async fn get_comment<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
    id: i64,
) -> Result<Option<CommentRow>> {
    let sql = concat!(
        comment_select!(),
        " JOIN post p ON p.id = c.post_id \
         WHERE c.id = $2 AND p.school_id = $3 AND c.deleted_at IS NULL AND p.deleted_at IS NULL"
    );
    viewer_row(e, sql, viewer, id, school_id).await
}

/// The first statement of CreateComment (the benchmark runs it through `reference`).
pub(crate) const COUNT_NEW_COMMENT_SQL: &str = "UPDATE post SET comment_count = comment_count + 1 \
     WHERE id = $1 AND school_id = $2 AND deleted_at IS NULL RETURNING author_id, anonymous";

/// Counts a new comment on a live post of the school and returns the post's author and
/// whether the post is anonymous. On PostgreSQL this also locks the post row, which
/// serialises the commenters of one post for the anonymous-number allocation that follows.
pub(crate) async fn count_new_comment(
    tx: &mut AnyConnection,
    post_id: i64,
    school_id: i64,
) -> Result<Option<(i64, i64)>> {
    Ok(sqlx::query_as(COUNT_NEW_COMMENT_SQL).bind(post_id).bind(school_id).fetch_optional(tx).await?)
}

/// The commenter's anonymous number on a post: the one they already have, or the next one.
/// Callers hold the post row (see [`count_new_comment`]), so the read-then-insert is safe; the
/// unique indexes would refuse a duplicate anyway.
pub(crate) async fn anon_number(tx: &mut AnyConnection, post_id: i64, user_id: i64) -> Result<i64> {
    let existing: Option<(i64,)> =
        sqlx::query_as("SELECT number FROM comment_anon WHERE post_id = $1 AND user_id = $2")
            .bind(post_id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((n,)) = existing {
        return Ok(n);
    }
    let (n,): (i64,) = sqlx::query_as(
        "UPDATE post SET anon_counter = anon_counter + 1 WHERE id = $1 RETURNING anon_counter",
    )
    .bind(post_id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO comment_anon (post_id, user_id, number) VALUES ($1, $2, $3)")
        .bind(post_id)
        .bind(user_id)
        .bind(n)
        .execute(tx)
        .await?;
    Ok(n)
}

/// A comment a reply would attach to: its post, its own parent, whether it is deleted, and
/// the author of the top comment the reply joins (its own author when it is the top).
#[derive(Debug, Clone, FromRow)]
pub(crate) struct ParentRow {
    pub(crate) id: i64,
    pub(crate) post_id: i64,
    pub(crate) parent_id: i64,
    pub(crate) deleted: i64,
    pub(crate) top_author_id: i64,
}

pub(crate) async fn comment_parent(
    tx: &mut AnyConnection,
    school_id: i64,
    id: i64,
) -> Result<Option<ParentRow>> {
    Ok(sqlx::query_as(
        "SELECT c.id, c.post_id, c.parent_id, CASE WHEN c.deleted_at IS NULL THEN 0 ELSE 1 END AS deleted, \
         COALESCE(t.author_id, c.author_id) AS top_author_id \
         FROM comment c JOIN post p ON p.id = c.post_id LEFT JOIN comment t ON t.id = c.parent_id \
         WHERE c.id = $1 AND p.school_id = $2",
    )
    .bind(id)
    .bind(school_id)
    .fetch_optional(tx)
    .await?)
}

/// Changes a comment's count of live replies by `delta`.
pub(crate) async fn add_replies(tx: &mut AnyConnection, id: i64, delta: i64) -> Result<()> {
    sqlx::query("UPDATE comment SET reply_count = reply_count + $2 WHERE id = $1")
        .bind(id)
        .bind(delta)
        .execute(tx)
        .await?;
    Ok(())
}

/// The fields of a new comment.
#[derive(Debug)]
pub(crate) struct NewCommentRow<'a> {
    pub(crate) id: i64,
    pub(crate) post_id: i64,
    pub(crate) parent_id: i64,
    pub(crate) thread_id: i64,
    pub(crate) author_id: i64,
    pub(crate) author_nickname: &'a str,
    pub(crate) anonymous: bool,
    pub(crate) anon_number: i64,
    pub(crate) content: &'a str,
    pub(crate) now: i64,
}

/// The last statement of CreateComment (the benchmark runs it through `reference`).
pub(crate) const INSERT_COMMENT_SQL: &str = "INSERT INTO comment (id, post_id, parent_id, thread_id, author_id, \
     author_nickname, anonymous, anon_number, content, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub(crate) async fn insert_comment(tx: &mut AnyConnection, c: &NewCommentRow<'_>) -> Result<()> {
    sqlx::query(INSERT_COMMENT_SQL)
        .bind(c.id)
        .bind(c.post_id)
        .bind(c.parent_id)
        .bind(c.thread_id)
        .bind(c.author_id)
        .bind(c.author_nickname)
        .bind(i64::from(c.anonymous))
        .bind(c.anon_number)
        .bind(c.content)
        .bind(c.now)
        .execute(tx)
        .await?;
    Ok(())
}

/// Soft-deletes a comment (wiping its text) and uncounts it; false when it was already gone.
pub(crate) async fn delete_comment(tx: &mut AnyConnection, c: &CommentRow, now: i64) -> Result<bool> {
    // The post row first, as in comment creation, so concurrent writers lock in one order.
    sqlx::query("UPDATE post SET comment_count = comment_count - 1 WHERE id = $1")
        .bind(c.post_id)
        .execute(&mut *tx)
        .await?;
    let done =
        sqlx::query("UPDATE comment SET deleted_at = $2, content = '' WHERE id = $1 AND deleted_at IS NULL")
            .bind(c.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    if c.parent_id != 0 {
        add_replies(tx, c.parent_id, -1).await?;
    }
    Ok(true)
}
