//! Users: reads, sign-up, profile and password changes, soft deletion.

use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Encode, FromRow, Type};

use super::*;

/// The statement that reads the live user whose `column` is `$1`: the columns of [`UserRow`],
/// then any `extra` ones.
macro_rules! live_user_by {
    ($column:literal $(, $extra:literal)?) => {
        concat!(
            "SELECT id, school_id, login_id, email, nickname, role, created_at",
            $($extra,)?
            " FROM user_account WHERE ",
            $column,
            " = $1 AND deleted_at IS NULL"
        )
    };
}

/// Runs a [`live_user_by!`] statement with `key` as its `$1`.
async fn fetch_live<'q, R, K>(conn: &mut AnyConnection, sql: &'static str, key: K) -> Result<Option<R>>
where
    R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    K: 'q + Encode<'q, Any> + Type<Any> + Send,
{
    Ok(sqlx::query_as(sql).bind(key).fetch_optional(conn).await?)
}

pub(crate) async fn live_user(conn: &mut AnyConnection, id: i64) -> Result<Option<UserRow>> {
    fetch_live(conn, live_user_by!("id"), id).await
}

pub(crate) async fn live_user_by_login(conn: &mut AnyConnection, login_id: &str) -> Result<Option<UserRow>> {
    fetch_live(conn, live_user_by!("login_id"), login_id).await
}

pub(crate) async fn live_user_by_email(conn: &mut AnyConnection, email: &str) -> Result<Option<UserRow>> {
    fetch_live(conn, live_user_by!("email"), email).await
}

/// The stored password hash of a live user.
pub(crate) async fn password_hash(conn: &mut AnyConnection, id: i64) -> Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT password_hash FROM user_account WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(h,)| h))
}

/// A live user with their password hash, for logins.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct CredentialsRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: String,
}

/// The live user with `login_id` and their password hash, in one query (a known and an
/// unknown login id cost the same round trips).
pub(crate) async fn credentials(conn: &mut AnyConnection, login_id: &str) -> Result<Option<CredentialsRow>> {
    fetch_live(conn, live_user_by!("login_id", ", password_hash"), login_id).await
}

/// Which of a login id, an email and a nickname live users already hold:
/// `(login id taken, email taken, nickname taken)`.
pub(crate) async fn taken(
    conn: &mut AnyConnection,
    login_id: &str,
    email: &str,
    nickname: &str,
) -> Result<(bool, bool, bool)> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT login_id, email, nickname FROM user_account
         WHERE deleted_at IS NULL AND (login_id = $1 OR email = $2 OR nickname = $3)",
    )
    .bind(login_id)
    .bind(email)
    .bind(nickname)
    .fetch_all(conn)
    .await?;
    Ok((
        rows.iter().any(|r| r.0 == login_id),
        rows.iter().any(|r| r.1 == email),
        rows.iter().any(|r| r.2 == nickname),
    ))
}

pub(crate) async fn insert_user(conn: &mut AnyConnection, user: &NewUser<'_>) -> Result<()> {
    sqlx::query(
        "INSERT INTO user_account
           (id, school_id, login_id, email, nickname, password_hash, role, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(user.id)
    .bind(user.school_id)
    .bind(user.login_id)
    .bind(user.email)
    .bind(user.nickname)
    .bind(user.password_hash)
    .bind(user.role)
    .bind(user.now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Changes a live user's nickname unless it already changed after `not_after`; 1 when done.
/// The condition makes two concurrent changes race on the row: only one passes.
pub(crate) async fn update_nickname(
    conn: &mut AnyConnection,
    id: i64,
    nickname: &str,
    now: i64,
    not_after: i64,
) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE user_account SET nickname = $2, updated_at = $3, nickname_changed_at = $3
         WHERE id = $1 AND deleted_at IS NULL
           AND (nickname_changed_at IS NULL OR nickname_changed_at <= $4)",
    )
    .bind(id)
    .bind(nickname)
    .bind(now)
    .bind(not_after)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn update_password(conn: &mut AnyConnection, id: i64, hash: &str, now: i64) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE user_account SET password_hash = $2, updated_at = $3 WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(hash)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

pub(crate) async fn soft_delete_user(conn: &mut AnyConnection, id: i64, now: i64) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE user_account SET deleted_at = $2, updated_at = $2 WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Public profiles of the live users among `ids`.
pub(crate) async fn profiles(conn: &mut AnyConnection, ids: &[i64]) -> Result<Vec<ProfileRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, nickname, school_id FROM user_account
         WHERE deleted_at IS NULL AND id IN ({}) ORDER BY id",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(*id);
    }
    Ok(query.fetch_all(conn).await?)
}
