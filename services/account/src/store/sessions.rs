//! Refresh-token families and their tokens.

use sqlx::AnyConnection;

use super::*;

pub(crate) async fn insert_family(
    conn: &mut AnyConnection,
    id: i64,
    user_id: i64,
    now: i64,
    expires_at: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO session_family (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn insert_token(
    conn: &mut AnyConnection,
    hash: &str,
    family_id: i64,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO refresh_token (token_hash, family_id, created_at) VALUES ($1, $2, $3)")
        .bind(hash)
        .bind(family_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn token(conn: &mut AnyConnection, hash: &str) -> Result<Option<TokenRow>> {
    Ok(sqlx::query_as(
        "SELECT t.family_id, t.used_at, f.revoked_at, f.expires_at, f.user_id
         FROM refresh_token t JOIN session_family f ON f.id = t.family_id
         WHERE t.token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(conn)
    .await?)
}

/// Marks a token used unless it already was; 1 when this call used it. The condition makes
/// concurrent rotations of one token race on the row: exactly one of them sees 1.
pub(crate) async fn mark_token_used(conn: &mut AnyConnection, hash: &str, now: i64) -> Result<u64> {
    let done = sqlx::query("UPDATE refresh_token SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL")
        .bind(hash)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn revoke_family(conn: &mut AnyConnection, family_id: i64, now: i64) -> Result<()> {
    sqlx::query("UPDATE session_family SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(family_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn revoke_user_families(conn: &mut AnyConnection, user_id: i64, now: i64) -> Result<()> {
    sqlx::query("UPDATE session_family SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}
