//! Every SQL statement of the account service, one module per resource. Functions take a
//! connection (`&mut *tx` for a transaction), so the gRPC layer decides what runs in one
//! transaction; they decide nothing and answer the shared result type.

pub(crate) mod email_code;
mod friends;
mod schools;
mod sessions;
mod sign_ins;
mod users;

pub(crate) use friends::*;
pub(crate) use schools::*;
pub(crate) use sessions::*;
pub(crate) use sign_ins::*;
pub(crate) use users::*;

use sqlx::FromRow;

/// Friend request states, numbered as `FriendRequestState`.
pub(crate) const PENDING: i64 = 1;
pub(crate) const ACCEPTED: i64 = 2;
pub(crate) const DECLINED: i64 = 3;

use campus_shared::Result;

/// A school as stored.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct SchoolRow {
    pub id: i64,
    pub name: String,
    pub email_domain: String,
}

/// A user as read (never with the password hash).
#[derive(Debug, Clone, FromRow)]
pub(crate) struct UserRow {
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
pub(crate) struct ProfileRow {
    pub id: i64,
    pub nickname: String,
    pub school_id: i64,
}

/// A live user that is about to be inserted.
#[derive(Debug)]
pub(crate) struct NewUser<'a> {
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
pub(crate) struct TokenRow {
    pub family_id: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub expires_at: i64,
    pub user_id: i64,
}

/// A friend request as stored.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct FriendRequestRow {
    pub requester_id: i64,
    pub recipient_id: i64,
    pub state: i64,
}

/// A friend request with both sides' profiles.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct FriendRequestView {
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
pub(crate) struct FriendRow {
    pub id: i64,
    pub nickname: String,
    pub school_id: i64,
    pub created_at: i64,
}
