//! Friend requests and friendships.

use sqlx::AnyConnection;

use super::*;

/// The live user of a school with `login_id`.
pub(crate) async fn schoolmate_by_login(
    conn: &mut AnyConnection,
    school_id: i64,
    login_id: &str,
) -> Result<Option<ProfileRow>> {
    Ok(sqlx::query_as(
        "SELECT id, nickname, school_id FROM user_account
         WHERE login_id = $1 AND school_id = $2 AND deleted_at IS NULL",
    )
    .bind(login_id)
    .bind(school_id)
    .fetch_optional(conn)
    .await?)
}

pub(crate) async fn are_friends(conn: &mut AnyConnection, user_id: i64, other_id: i64) -> Result<bool> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM friendship WHERE user_id = $1 AND friend_id = $2")
            .bind(user_id)
            .bind(other_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

pub(crate) async fn pending_between(conn: &mut AnyConnection, a: i64, b: i64) -> Result<bool> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM friend_request WHERE user_low = $1 AND user_high = $2 AND state = 1")
            .bind(a.min(b))
            .bind(a.max(b))
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

pub(crate) async fn insert_friend_request(
    conn: &mut AnyConnection,
    id: i64,
    requester_id: i64,
    recipient_id: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO friend_request (id, requester_id, recipient_id, user_low, user_high, state, created_at)
         VALUES ($1, $2, $3, $4, $5, 1, $6)",
    )
    .bind(id)
    .bind(requester_id)
    .bind(recipient_id)
    .bind(requester_id.min(recipient_id))
    .bind(requester_id.max(recipient_id))
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) async fn friend_request(conn: &mut AnyConnection, id: i64) -> Result<Option<FriendRequestRow>> {
    Ok(sqlx::query_as("SELECT requester_id, recipient_id, state FROM friend_request WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// Moves a pending request to `state`; 1 when it was still pending.
pub(crate) async fn decide_friend_request(
    conn: &mut AnyConnection,
    id: i64,
    state: i64,
    now: i64,
) -> Result<u64> {
    let done =
        sqlx::query("UPDATE friend_request SET state = $2, decided_at = $3 WHERE id = $1 AND state = 1")
            .bind(id)
            .bind(state)
            .bind(now)
            .execute(conn)
            .await?;
    Ok(done.rows_affected())
}

const REQUEST_VIEW: &str = "SELECT r.id, r.state, r.created_at,
           a.id AS requester_id, a.nickname AS requester_nickname, a.school_id AS requester_school_id,
           b.id AS recipient_id, b.nickname AS recipient_nickname, b.school_id AS recipient_school_id
         FROM friend_request r
         JOIN user_account a ON a.id = r.requester_id
         JOIN user_account b ON b.id = r.recipient_id";

pub(crate) async fn friend_request_view(
    conn: &mut AnyConnection,
    id: i64,
) -> Result<Option<FriendRequestView>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!("{REQUEST_VIEW} WHERE r.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await?)
}

/// Pending requests to or from a user, newest first, with ids below `before`.
pub(crate) async fn pending_requests(
    conn: &mut AnyConnection,
    user_id: i64,
    before: i64,
    limit: i64,
) -> Result<Vec<FriendRequestView>> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REQUEST_VIEW}
         WHERE r.state = 1 AND (r.requester_id = $1 OR r.recipient_id = $1) AND r.id < $2
           AND a.deleted_at IS NULL AND b.deleted_at IS NULL
         ORDER BY r.id DESC LIMIT $3"
    )))
    .bind(user_id)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Makes two users friends, stored once per direction.
pub(crate) async fn insert_friendship(conn: &mut AnyConnection, a: i64, b: i64, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO friendship (user_id, friend_id, created_at) VALUES ($1, $2, $3), ($2, $1, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(a)
    .bind(b)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends a friendship both ways; the number of rows removed (0 when they were not friends).
pub(crate) async fn delete_friendship(conn: &mut AnyConnection, a: i64, b: i64) -> Result<u64> {
    let done = sqlx::query(
        "DELETE FROM friendship WHERE (user_id = $1 AND friend_id = $2) OR (user_id = $2 AND friend_id = $1)",
    )
    .bind(a)
    .bind(b)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// A user's live friends, newest friendship first, after the `(created_at, id)` cursor.
pub(crate) async fn friends(
    conn: &mut AnyConnection,
    user_id: i64,
    before: (i64, i64),
    limit: i64,
) -> Result<Vec<FriendRow>> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.nickname, u.school_id, f.created_at
         FROM friendship f JOIN user_account u ON u.id = f.friend_id
         WHERE f.user_id = $1 AND u.deleted_at IS NULL
           AND (f.created_at < $2 OR (f.created_at = $2 AND f.friend_id < $3))
         ORDER BY f.created_at DESC, f.friend_id DESC LIMIT $4",
    )
    .bind(user_id)
    .bind(before.0)
    .bind(before.1)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Removes a leaving user's pending friend requests and friendships.
pub(crate) async fn forget_friends(conn: &mut AnyConnection, user_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM friend_request WHERE state = 1 AND (requester_id = $1 OR recipient_id = $1)")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM friendship WHERE user_id = $1 OR friend_id = $1")
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}
