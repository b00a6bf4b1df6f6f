//! Every SQL statement of the account service. Functions take a connection (`&mut *tx` for a
//! transaction), so the caller decides what runs in one transaction.

pub mod email_code;

use sqlx::{AnyConnection, FromRow};

/// Friend request states, numbered as `FriendRequestState`.
pub const PENDING: i64 = 1;
pub const ACCEPTED: i64 = 2;
pub const DECLINED: i64 = 3;

type Result<T> = std::result::Result<T, sqlx::Error>;

/// A school as stored.
#[derive(Debug, Clone, FromRow)]
pub struct SchoolRow {
    pub id: i64,
    pub name: String,
    pub email_domain: String,
}

/// A user as read (never with the password hash).
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: i64,
    pub school_id: i64,
    pub login_id: String,
    pub email: String,
    pub nickname: String,
    pub role: String,
    pub created_at: i64,
}

/// The public part of a user.
#[derive(Debug, Clone, FromRow)]
pub struct ProfileRow {
    pub id: i64,
    pub nickname: String,
    pub school_id: i64,
}

/// A live user that is about to be inserted.
#[derive(Debug)]
pub struct NewUser<'a> {
    pub id: i64,
    pub school_id: i64,
    pub login_id: &'a str,
    pub email: &'a str,
    pub nickname: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub now: i64,
}

/// A refresh token with its family.
#[derive(Debug, Clone, FromRow)]
pub struct TokenRow {
    pub family_id: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub expires_at: i64,
    pub user_id: i64,
}

/// A friend request as stored.
#[derive(Debug, Clone, FromRow)]
pub struct FriendRequestRow {
    pub id: i64,
    pub requester_id: i64,
    pub recipient_id: i64,
    pub state: i64,
    pub created_at: i64,
}

/// A friend request with both sides' profiles.
#[derive(Debug, Clone, FromRow)]
pub struct FriendRequestView {
    pub id: i64,
    pub state: i64,
    pub created_at: i64,
    pub requester_id: i64,
    pub requester_nickname: String,
    pub requester_school_id: i64,
    pub recipient_id: i64,
    pub recipient_nickname: String,
    pub recipient_school_id: i64,
}

/// A friend and when the friendship began.
#[derive(Debug, Clone, FromRow)]
pub struct FriendRow {
    pub id: i64,
    pub nickname: String,
    pub school_id: i64,
    pub created_at: i64,
}

// ---- schools

pub async fn insert_school(
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

pub async fn school(conn: &mut AnyConnection, id: i64) -> Result<Option<SchoolRow>> {
    sqlx::query_as("SELECT id, name, email_domain FROM school WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Schools in id order after `after`, at most `limit`.
pub async fn list_schools(conn: &mut AnyConnection, after: i64, limit: i64) -> Result<Vec<SchoolRow>> {
    sqlx::query_as("SELECT id, name, email_domain FROM school WHERE id > $1 ORDER BY id LIMIT $2")
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await
}

// ---- users

pub async fn live_user(conn: &mut AnyConnection, id: i64) -> Result<Option<UserRow>> {
    sqlx::query_as(
        "SELECT id, school_id, login_id, email, nickname, role, created_at
         FROM user_account WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn live_user_by_login(conn: &mut AnyConnection, login_id: &str) -> Result<Option<UserRow>> {
    sqlx::query_as(
        "SELECT id, school_id, login_id, email, nickname, role, created_at
         FROM user_account WHERE login_id = $1 AND deleted_at IS NULL",
    )
    .bind(login_id)
    .fetch_optional(conn)
    .await
}

pub async fn live_user_by_email(conn: &mut AnyConnection, email: &str) -> Result<Option<UserRow>> {
    sqlx::query_as(
        "SELECT id, school_id, login_id, email, nickname, role, created_at
         FROM user_account WHERE email = $1 AND deleted_at IS NULL",
    )
    .bind(email)
    .fetch_optional(conn)
    .await
}

/// The stored password hash of a live user.
pub async fn password_hash(conn: &mut AnyConnection, id: i64) -> Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT password_hash FROM user_account WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(h,)| h))
}

/// A live user with their password hash, for logins.
#[derive(Debug, Clone, FromRow)]
pub struct CredentialsRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: String,
}

/// The live user with `login_id` and their password hash, in one query (a known and an
/// unknown login id cost the same round trips).
pub async fn credentials(conn: &mut AnyConnection, login_id: &str) -> Result<Option<CredentialsRow>> {
    sqlx::query_as(
        "SELECT id, school_id, login_id, email, nickname, role, created_at, password_hash
         FROM user_account WHERE login_id = $1 AND deleted_at IS NULL",
    )
    .bind(login_id)
    .fetch_optional(conn)
    .await
}

/// Which of a login id, an email and a nickname live users already hold:
/// `(login id taken, email taken, nickname taken)`.
pub async fn taken(
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

pub async fn insert_user(conn: &mut AnyConnection, user: &NewUser<'_>) -> Result<()> {
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

/// When a live user's nickname last changed after sign-up: `Some(None)` if never.
pub async fn nickname_changed_at(conn: &mut AnyConnection, id: i64) -> Result<Option<Option<i64>>> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT nickname_changed_at FROM user_account WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|(at,)| at))
}

/// Changes a live user's nickname unless it already changed after `not_after`; 1 when done.
/// The condition makes two concurrent changes race on the row: only one passes.
pub async fn update_nickname(
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

pub async fn update_password(conn: &mut AnyConnection, id: i64, hash: &str, now: i64) -> Result<u64> {
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

pub async fn soft_delete_user(conn: &mut AnyConnection, id: i64, now: i64) -> Result<u64> {
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
pub async fn profiles(conn: &mut AnyConnection, ids: &[i64]) -> Result<Vec<ProfileRow>> {
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
    query.fetch_all(conn).await
}

// ---- sessions

pub async fn insert_family(
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

pub async fn insert_token(conn: &mut AnyConnection, hash: &str, family_id: i64, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO refresh_token (token_hash, family_id, created_at) VALUES ($1, $2, $3)")
        .bind(hash)
        .bind(family_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn token(conn: &mut AnyConnection, hash: &str) -> Result<Option<TokenRow>> {
    sqlx::query_as(
        "SELECT t.family_id, t.used_at, f.revoked_at, f.expires_at, f.user_id
         FROM refresh_token t JOIN session_family f ON f.id = t.family_id
         WHERE t.token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(conn)
    .await
}

/// Marks a token used unless it already was; 1 when this call used it. The condition makes
/// concurrent rotations of one token race on the row: exactly one of them sees 1.
pub async fn mark_token_used(conn: &mut AnyConnection, hash: &str, now: i64) -> Result<u64> {
    let done = sqlx::query("UPDATE refresh_token SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL")
        .bind(hash)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

pub async fn revoke_family(conn: &mut AnyConnection, family_id: i64, now: i64) -> Result<()> {
    sqlx::query("UPDATE session_family SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .bind(family_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn revoke_user_families(conn: &mut AnyConnection, user_id: i64, now: i64) -> Result<()> {
    sqlx::query("UPDATE session_family SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

// ---- sign-in throttle

/// Reserves one attempt for a login id at a client address, counted as a failure until it
/// succeeds, unless the address is in its back-off window. The conditional upsert decides
/// races: of parallel attempts, only those reserved before the window was set get a row.
/// Returns `(failures including this one, last success at this address)`, or `None` when
/// refused.
pub async fn reserve_attempt(
    conn: &mut AnyConnection,
    login_id: &str,
    client: &str,
    now: i64,
) -> Result<Option<(i64, i64)>> {
    sqlx::query_as(
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
    .await
}

pub async fn block_client_until(
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
pub async fn record_success(conn: &mut AnyConnection, login_id: &str, client: &str, now: i64) -> Result<()> {
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
pub async fn spend_budget(
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
pub async fn refund_budget(conn: &mut AnyConnection, login_id: &str) -> Result<()> {
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
pub async fn forget_stale_attempts(
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

// ---- friends

/// The live user of a school with `login_id`.
pub async fn schoolmate_by_login(
    conn: &mut AnyConnection,
    school_id: i64,
    login_id: &str,
) -> Result<Option<ProfileRow>> {
    sqlx::query_as(
        "SELECT id, nickname, school_id FROM user_account
         WHERE login_id = $1 AND school_id = $2 AND deleted_at IS NULL",
    )
    .bind(login_id)
    .bind(school_id)
    .fetch_optional(conn)
    .await
}

pub async fn are_friends(conn: &mut AnyConnection, user_id: i64, other_id: i64) -> Result<bool> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM friendship WHERE user_id = $1 AND friend_id = $2")
            .bind(user_id)
            .bind(other_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

pub async fn pending_between(conn: &mut AnyConnection, a: i64, b: i64) -> Result<bool> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM friend_request WHERE user_low = $1 AND user_high = $2 AND state = 1")
            .bind(a.min(b))
            .bind(a.max(b))
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

pub async fn insert_friend_request(
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

pub async fn friend_request(conn: &mut AnyConnection, id: i64) -> Result<Option<FriendRequestRow>> {
    sqlx::query_as(
        "SELECT id, requester_id, recipient_id, state, created_at FROM friend_request WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Moves a pending request to `state`; 1 when it was still pending.
pub async fn decide_friend_request(conn: &mut AnyConnection, id: i64, state: i64, now: i64) -> Result<u64> {
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

pub async fn friend_request_view(conn: &mut AnyConnection, id: i64) -> Result<Option<FriendRequestView>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{REQUEST_VIEW} WHERE r.id = $1")))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Pending requests to or from a user, newest first, with ids below `before`.
pub async fn pending_requests(
    conn: &mut AnyConnection,
    user_id: i64,
    before: i64,
    limit: i64,
) -> Result<Vec<FriendRequestView>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{REQUEST_VIEW}
         WHERE r.state = 1 AND (r.requester_id = $1 OR r.recipient_id = $1) AND r.id < $2
           AND a.deleted_at IS NULL AND b.deleted_at IS NULL
         ORDER BY r.id DESC LIMIT $3"
    )))
    .bind(user_id)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Makes two users friends, stored once per direction.
pub async fn insert_friendship(conn: &mut AnyConnection, a: i64, b: i64, now: i64) -> Result<()> {
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
pub async fn delete_friendship(conn: &mut AnyConnection, a: i64, b: i64) -> Result<u64> {
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
pub async fn friends(
    conn: &mut AnyConnection,
    user_id: i64,
    before: (i64, i64),
    limit: i64,
) -> Result<Vec<FriendRow>> {
    sqlx::query_as(
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
    .await
}

/// Removes a leaving user's pending friend requests and friendships.
pub async fn forget_friends(conn: &mut AnyConnection, user_id: i64) -> Result<()> {
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
