//! The sign-in throttle: attempts per login id and address, and budgets per login id.

use sqlx::AnyConnection;

use super::*;

/// Reserves one attempt for a login id at a client address, counted as a failure until it
/// succeeds, unless the address is in its back-off window. The conditional upsert decides
/// races: of parallel attempts, only those reserved before the window was set get a row.
/// Returns `(failures including this one, last success at this address)`, or `None` when
/// refused.
pub(crate) async fn reserve_attempt(
    conn: &mut AnyConnection,
    login_id: &str,
    client: &str,
    now: i64,
) -> Result<Option<(i64, i64)>> {
    Ok(sqlx::query_as(
        "INSERT INTO login_throttle (login_id, client, failures, blocked_until, succeeded_at, updated_at)
         VALUES ($1, $2, 1, 0, 0, $3)
         ON CONFLICT (login_id, client) DO UPDATE
           SET failures = login_throttle.failures + 1, updated_at = excluded.updated_at
           WHERE login_throttle.blocked_until <= excluded.updated_at
         RETURNING failures, succeeded_at",
    )
    .bind(login_id)
    .bind(client)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

pub(crate) async fn block_client_until(
    conn: &mut AnyConnection,
    login_id: &str,
    client: &str,
    until: i64,
) -> Result<()> {
    sqlx::query("UPDATE login_throttle SET blocked_until = $3 WHERE login_id = $1 AND client = $2")
        .bind(login_id)
        .bind(client)
        .bind(until)
        .execute(conn)
        .await?;
    Ok(())
}

/// A successful sign-in at an address: its failures are forgiven and it becomes familiar.
pub(crate) async fn record_success(
    conn: &mut AnyConnection,
    login_id: &str,
    client: &str,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE login_throttle SET failures = 0, blocked_until = 0, succeeded_at = $3, updated_at = $3
         WHERE login_id = $1 AND client = $2",
    )
    .bind(login_id)
    .bind(client)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Spends one attempt of a login id's budget for unfamiliar addresses: at most `budget` in a
/// window of `window` microseconds, a new window starting with the first attempt after the
/// last one ended. False when the budget is spent.
pub(crate) async fn spend_budget(
    conn: &mut AnyConnection,
    login_id: &str,
    now: i64,
    window: i64,
    budget: i64,
) -> Result<bool> {
    let spent: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO login_budget (login_id, window_start, attempts) VALUES ($1, $2, 1)
         ON CONFLICT (login_id) DO UPDATE SET
           window_start = CASE WHEN login_budget.window_start <= $3 THEN $2 ELSE login_budget.window_start END,
           attempts = CASE WHEN login_budget.window_start <= $3 THEN 1 ELSE login_budget.attempts + 1 END
         WHERE login_budget.window_start <= $3 OR login_budget.attempts < $4
         RETURNING attempts",
    )
    .bind(login_id)
    .bind(now)
    .bind(now.saturating_sub(window))
    .bind(budget)
    .fetch_optional(conn)
    .await?;
    Ok(spent.is_some())
}

/// Gives back an attempt that turned out to be the owner's.
pub(crate) async fn refund_budget(conn: &mut AnyConnection, login_id: &str) -> Result<()> {
    sqlx::query("UPDATE login_budget SET attempts = attempts - 1 WHERE login_id = $1 AND attempts > 0")
        .bind(login_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Forgets what no longer throttles or vouches for anyone: address rows idle since
/// `idle_before`, out of their window and not familiar since `familiar_before`, and budgets
/// whose window started before `window_before`. Rows for made-up login ids would otherwise
/// pile up.
pub(crate) async fn forget_stale_attempts(
    conn: &mut AnyConnection,
    now: i64,
    idle_before: i64,
    familiar_before: i64,
    window_before: i64,
) -> Result<u64> {
    let addresses = sqlx::query(
        "DELETE FROM login_throttle WHERE updated_at < $1 AND blocked_until < $2 AND succeeded_at < $3",
    )
    .bind(idle_before)
    .bind(now)
    .bind(familiar_before)
    .execute(&mut *conn)
    .await?;
    let budgets = sqlx::query("DELETE FROM login_budget WHERE window_start < $1")
        .bind(window_before)
        .execute(conn)
        .await?;
    Ok(addresses.rows_affected() + budgets.rows_affected())
}
