//! The SQL of email codes and their quotas.

use sqlx::{AnyConnection, FromRow};

use campus_shared::Result;

/// A code as stored, after a try was reserved on it.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct CodeRow {
    pub code_mac: String,
    pub expires_at: i64,
}

/// A code's state, for explaining why no try could be reserved.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct CodeState {
    pub tries: i64,
    pub used_at: Option<i64>,
}

/// A new code for an address and purpose, replacing the previous one unless that one was
/// made after `not_before`. False when it was (one code per address and purpose per interval).
pub(crate) async fn replace_code(
    conn: &mut AnyConnection,
    email: &str,
    purpose: i64,
    code_mac: &str,
    now: i64,
    expires_at: i64,
    not_before: i64,
) -> Result<bool> {
    let row: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO email_code (email, purpose, code_mac, created_at, expires_at, tries, used_at)
         VALUES ($1, $2, $3, $4, $5, 0, NULL)
         ON CONFLICT (email, purpose) DO UPDATE
           SET code_mac = excluded.code_mac, created_at = excluded.created_at,
               expires_at = excluded.expires_at, tries = 0, used_at = NULL
           WHERE email_code.created_at <= $6
         RETURNING created_at",
    )
    .bind(email)
    .bind(purpose)
    .bind(code_mac)
    .bind(now)
    .bind(expires_at)
    .bind(not_before)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Reserves one try on an unused code that has tries left; `None` when there is no such code.
/// Reserving before comparing means a burst of parallel guesses gets no more tries than
/// guesses made one after another.
pub(crate) async fn reserve_try(
    conn: &mut AnyConnection,
    email: &str,
    purpose: i64,
    max_tries: i64,
) -> Result<Option<CodeRow>> {
    Ok(sqlx::query_as(
        "UPDATE email_code SET tries = tries + 1
         WHERE email = $1 AND purpose = $2 AND used_at IS NULL AND tries < $3
         RETURNING code_mac, expires_at",
    )
    .bind(email)
    .bind(purpose)
    .bind(max_tries)
    .fetch_optional(conn)
    .await?)
}

pub(crate) async fn code_state(
    conn: &mut AnyConnection,
    email: &str,
    purpose: i64,
) -> Result<Option<CodeState>> {
    Ok(sqlx::query_as("SELECT tries, used_at FROM email_code WHERE email = $1 AND purpose = $2")
        .bind(email)
        .bind(purpose)
        .fetch_optional(conn)
        .await?)
}

/// Marks a code used (its try was reserved in the same transaction).
pub(crate) async fn use_code(conn: &mut AnyConnection, email: &str, purpose: i64, now: i64) -> Result<u64> {
    let done = sqlx::query(
        "UPDATE email_code SET used_at = $3 WHERE email = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(email)
    .bind(purpose)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Counts one code against the quota of (`email`, `client`): at most `limit` per `window`
/// microseconds, a new window starting with the first code after the last one ended. False
/// when the quota is spent.
pub(crate) async fn spend_quota(
    conn: &mut AnyConnection,
    email: &str,
    client: &str,
    now: i64,
    window: i64,
    limit: i64,
) -> Result<bool> {
    let spent: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO email_code_quota (email, client, window_start, sent) VALUES ($1, $2, $3, 1)
         ON CONFLICT (email, client) DO UPDATE SET
           window_start = CASE WHEN email_code_quota.window_start <= $4 THEN $3 ELSE email_code_quota.window_start END,
           sent = CASE WHEN email_code_quota.window_start <= $4 THEN 1 ELSE email_code_quota.sent + 1 END
         WHERE email_code_quota.window_start <= $4 OR email_code_quota.sent < $5
         RETURNING sent",
    )
    .bind(email)
    .bind(client)
    .bind(now)
    .bind(now.saturating_sub(window))
    .bind(limit)
    .fetch_optional(conn)
    .await?;
    Ok(spent.is_some())
}

/// Forgets codes that expired before `expired_before` and quota windows that started before
/// `window_before`: requests for made-up addresses would otherwise pile up.
pub(crate) async fn forget_stale_codes(
    conn: &mut AnyConnection,
    expired_before: i64,
    window_before: i64,
) -> Result<u64> {
    let codes = sqlx::query("DELETE FROM email_code WHERE expires_at < $1")
        .bind(expired_before)
        .execute(&mut *conn)
        .await?;
    let quotas = sqlx::query("DELETE FROM email_code_quota WHERE window_start < $1")
        .bind(window_before)
        .execute(conn)
        .await?;
    Ok(codes.rows_affected() + quotas.rows_affected())
}
