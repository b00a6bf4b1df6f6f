//! Photos: their listing on posts, the per-post count, and the rows.

use campus_shared::error::Result;
use sqlx::{Any, AnyConnection, Executor, FromRow};

/// A photo's listing on a post.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct PhotoRow {
    pub(crate) id: i64,
    pub(crate) post_id: i64,
    pub(crate) content_type: String,
}

/// The photos of several posts in one query.
pub(crate) async fn photos_of<'c, E: Executor<'c, Database = Any>>(
    e: E,
    post_ids: &[i64],
) -> Result<Vec<PhotoRow>> {
    if post_ids.is_empty() {
        return Ok(Vec::new());
    }
    // Only numbered placeholders are spliced in; the ids themselves are bound.
    let placeholders: Vec<String> = (1..=post_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, post_id, content_type FROM photo WHERE post_id IN ({}) ORDER BY post_id, id",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for id in post_ids {
        query = query.bind(*id);
    }
    Ok(query.fetch_all(e).await?)
}

/// Counts a photo on a post unless it already has `max`; false when full (or just deleted).
pub(crate) async fn count_photo(tx: &mut AnyConnection, post_id: i64, max: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE post SET photo_count = photo_count + 1 WHERE id = $1 AND deleted_at IS NULL AND photo_count < $2",
    )
    .bind(post_id)
    .bind(max)
    .execute(tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The fields of a stored photo.
#[derive(Debug)]
pub(crate) struct NewPhotoRow<'a> {
    pub(crate) id: i64,
    pub(crate) post_id: i64,
    pub(crate) owner_id: i64,
    pub(crate) content_type: &'a str,
    pub(crate) size_bytes: i64,
    pub(crate) now: i64,
}

pub(crate) async fn insert_photo(tx: &mut AnyConnection, p: &NewPhotoRow<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO photo (id, post_id, owner_id, content_type, size_bytes, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(p.id)
    .bind(p.post_id)
    .bind(p.owner_id)
    .bind(p.content_type)
    .bind(p.size_bytes)
    .bind(p.now)
    .execute(tx)
    .await?;
    Ok(())
}

/// The content type of a photo on a live post of the school.
pub(crate) async fn photo_type<'c, E: Executor<'c, Database = Any>>(
    e: E,
    school_id: i64,
    id: i64,
) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT ph.content_type FROM photo ph JOIN post p ON p.id = ph.post_id \
         WHERE ph.id = $1 AND p.school_id = $2 AND p.deleted_at IS NULL",
    )
    .bind(id)
    .bind(school_id)
    .fetch_optional(e)
    .await?;
    Ok(row.map(|(t,)| t))
}
