//! Schools.

use sqlx::AnyConnection;

use super::*;

pub(crate) async fn insert_school(
    conn: &mut AnyConnection,
    id: i64,
    name: &str,
    domain: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("INSERT INTO school (id, name, email_domain, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(name)
        .bind(domain)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub(crate) async fn school(conn: &mut AnyConnection, id: i64) -> Result<Option<SchoolRow>> {
    Ok(sqlx::query_as("SELECT id, name, email_domain FROM school WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// Schools in id order after `after`, at most `limit`.
pub(crate) async fn list_schools(conn: &mut AnyConnection, after: i64, limit: i64) -> Result<Vec<SchoolRow>> {
    Ok(sqlx::query_as("SELECT id, name, email_domain FROM school WHERE id > $1 ORDER BY id LIMIT $2")
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}
