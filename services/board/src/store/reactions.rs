//! Likes (of posts and comments) and scraps, each counted with the row that records it.

use campus_shared::error::Result;
use sqlx::any::AnyQueryResult;
use sqlx::{AnyConnection, FromRow};

use super::inserted;

/// Records a like; false when the user already liked the post.
pub(crate) async fn insert_post_like(
    tx: &mut AnyConnection,
    post_id: i64,
    user_id: i64,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query("INSERT INTO post_like (post_id, user_id, created_at) VALUES ($1, $2, $3)")
        .bind(post_id)
        .bind(user_id)
        .bind(now)
        .execute(tx)
        .await;
    inserted(done)
}

/// A post right after a like was counted.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct LikedRow {
    pub(crate) like_count: i64,
    pub(crate) hot_at: Option<i64>,
    pub(crate) best_at: Option<i64>,
}

/// Counts a like and returns the new count with the HOT/BEST stamps as they were. The
/// UPDATE holds the post row (PostgreSQL) or the write lock (SQLite) until commit, so the
/// stamps read here cannot change before [`stamp_promotions`] runs in the same transaction.
pub(crate) async fn count_post_like(tx: &mut AnyConnection, post_id: i64) -> Result<LikedRow> {
    Ok(sqlx::query_as(
        "UPDATE post SET like_count = like_count + 1 WHERE id = $1 RETURNING like_count, hot_at, best_at",
    )
    .bind(post_id)
    .fetch_one(tx)
    .await?)
}

/// Stamps `hot_at` / `best_at` (each only if unset) with `now`.
pub(crate) async fn stamp_promotions(
    tx: &mut AnyConnection,
    post_id: i64,
    promotions: crate::domain::Promotions,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE post SET hot_at = CASE WHEN $2 = 1 AND hot_at IS NULL THEN $4 ELSE hot_at END, \
         best_at = CASE WHEN $3 = 1 AND best_at IS NULL THEN $4 ELSE best_at END WHERE id = $1",
    )
    .bind(post_id)
    .bind(i64::from(promotions.hot))
    .bind(i64::from(promotions.best))
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Records and counts a scrap; false when the user already scrapped the post.
pub(crate) async fn insert_scrap(
    tx: &mut AnyConnection,
    post_id: i64,
    user_id: i64,
    now: i64,
) -> Result<bool> {
    let done =
        sqlx::query("INSERT INTO post_scrap (id, post_id, user_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(campus_shared::id::next_id())
            .bind(post_id)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await;
    count_if_inserted(tx, done, "UPDATE post SET scrap_count = scrap_count + 1 WHERE id = $1", post_id).await
}

/// Removes a scrap if there is one.
pub(crate) async fn delete_scrap(tx: &mut AnyConnection, post_id: i64, user_id: i64) -> Result<()> {
    let done = sqlx::query("DELETE FROM post_scrap WHERE post_id = $1 AND user_id = $2")
        .bind(post_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() > 0 {
        sqlx::query("UPDATE post SET scrap_count = scrap_count - 1 WHERE id = $1")
            .bind(post_id)
            .execute(tx)
            .await?;
    }
    Ok(())
}

/// Records and counts a comment like; false when the user already liked the comment.
pub(crate) async fn like_comment(
    tx: &mut AnyConnection,
    comment_id: i64,
    user_id: i64,
    now: i64,
) -> Result<bool> {
    let done = sqlx::query("INSERT INTO comment_like (comment_id, user_id, created_at) VALUES ($1, $2, $3)")
        .bind(comment_id)
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await;
    count_if_inserted(tx, done, "UPDATE comment SET like_count = like_count + 1 WHERE id = $1", comment_id)
        .await
}

/// Counts what an INSERT guarded by a unique index tried to write: `count_sql` (`$1` the
/// counted row's id) runs only when the row was written; false when it was already there.
async fn count_if_inserted(
    tx: &mut AnyConnection,
    insert: sqlx::Result<AnyQueryResult>,
    count_sql: &'static str,
    counted_id: i64,
) -> Result<bool> {
    if !inserted(insert)? {
        return Ok(false);
    }
    sqlx::query(count_sql).bind(counted_id).execute(tx).await?;
    Ok(true)
}
