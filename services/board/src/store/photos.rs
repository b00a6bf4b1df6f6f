//! Photos: their listing on posts, the per-post count, and the rows.

use campus_shared::error::Result;
use sqlx::{Any, AnyConnection, Executor, FromRow};

/// A photo's listing on a post.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct PhotoRow {
    pub(crate) id: i64,
    pub(crate) content_type: String,
}

/// A post's photos, oldest first.
pub(crate) async fn photos_of<'c, E: Executor<'c, Database = Any>>(
    e: E,
    post_id: i64,
) -> Result<Vec<PhotoRow>> {
    Ok(sqlx::query_as("SELECT id, content_type FROM photo WHERE post_id = $1 ORDER BY id")
        .bind(post_id)
        .fetch_all(e)
        .await?)
}

/// Counts the photo `photo_id` on a post unless it already has `max`, and keeps the post's
/// first photo (its smallest id: photos leave only with their post); false when full (or just
/// deleted).
pub(crate) async fn count_photo(
    tx: &mut AnyConnection,
    post_id: i64,
    photo_id: i64,
    max: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE post SET photo_count = photo_count + 1, \
         first_photo_id = CASE WHEN first_photo_id IS NULL OR first_photo_id > $3 THEN $3 ELSE first_photo_id END \
         WHERE id = $1 AND deleted_at IS NULL AND photo_count < $2",
    )
    .bind(post_id)
    .bind(max)
    .bind(photo_id)
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
