//! Friends and friend requests, and AreFriends for other services.

use campus_proto::account::v1::*;
use campus_shared::Error;
use campus_shared::db::{now_micros, timestamp};
use campus_shared::error::is_unique_violation;
use campus_shared::page::page_size;
use campus_shared::text::{self, Text};

use super::{AccountApi, Result};
use crate::domain;
use crate::store::{self, FriendRequestView};

fn request_proto(row: FriendRequestView) -> FriendRequest {
    FriendRequest {
        id: row.id,
        requester: Some(UserProfile {
            id: row.requester_id,
            nickname: row.requester_nickname,
            school_id: row.requester_school_id,
        }),
        recipient: Some(UserProfile {
            id: row.recipient_id,
            nickname: row.recipient_nickname,
            school_id: row.recipient_school_id,
        }),
        state: row.state as i32,
        created_at: Some(timestamp(row.created_at)),
    }
}

impl AccountApi {
    pub(super) async fn list_friends(
        &self,
        user_id: i64,
        req: ListFriendsRequest,
    ) -> Result<ListFriendsResponse> {
        let size = page_size(req.page_size)?;
        let scope = format!("friends:{user_id}");
        let before =
            self.pages.decode::<(i64, i64)>(&scope, &req.page_token)?.unwrap_or((i64::MAX, i64::MAX));
        let mut rows = store::friends(&mut *self.conn().await?, user_id, before, size + 1).await?;
        let next_page_token = self.pages.next(&scope, &mut rows, size, |f| (f.created_at, f.id));
        let friends = rows
            .into_iter()
            .map(|f| Friend {
                user: Some(UserProfile { id: f.id, nickname: f.nickname, school_id: f.school_id }),
                created_at: Some(timestamp(f.created_at)),
            })
            .collect();
        Ok(ListFriendsResponse { friends, next_page_token })
    }

    pub(super) async fn delete_friend(&self, user_id: i64, friend_id: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        if store::delete_friendship(&mut tx, user_id, friend_id).await? == 0 {
            return Err(Error::NotFound("friend"));
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn create_friend_request(
        &self,
        user_id: i64,
        req: CreateFriendRequestRequest,
    ) -> Result<FriendRequest> {
        let login_id = domain::normalize_login_id(&req.login_id);
        if login_id.is_empty() {
            return Err(Error::invalid("loginId", "is required"));
        }
        if let Some(problem) = text::problem(&login_id, Text::Line) {
            return Err(Error::invalid("loginId", problem));
        }
        let mut tx = self.db.begin_write().await?;
        let me = store::live_user(&mut tx, user_id).await?.ok_or(Error::NotFound("user"))?;
        let other = store::schoolmate_by_login(&mut tx, me.school_id, &login_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        if other.id == me.id {
            return Err(Error::failed_precondition("CANNOT_BEFRIEND_SELF", "you cannot befriend yourself"));
        }
        if store::are_friends(&mut tx, me.id, other.id).await? {
            return Err(Error::already_exists("ALREADY_FRIENDS", "you are already friends"));
        }
        let pending =
            || Error::already_exists("FRIEND_REQUEST_PENDING", "a friend request is already pending");
        if store::pending_between(&mut tx, me.id, other.id).await? {
            return Err(pending());
        }
        let id = campus_shared::id::next_id();
        match store::insert_friend_request(&mut tx, id, me.id, other.id, now_micros()).await {
            Err(Error::Database(e)) if is_unique_violation(&e) => return Err(pending()),
            other => other?,
        }
        let view = store::friend_request_view(&mut tx, id).await?.ok_or(Error::NotFound("friend request"))?;
        tx.commit().await?;
        Ok(request_proto(view))
    }

    pub(super) async fn list_friend_requests(
        &self,
        user_id: i64,
        req: ListFriendRequestsRequest,
    ) -> Result<ListFriendRequestsResponse> {
        let size = page_size(req.page_size)?;
        let scope = format!("friend-requests:{user_id}");
        let before = self.pages.decode::<i64>(&scope, &req.page_token)?.unwrap_or(i64::MAX);
        let mut rows = store::pending_requests(&mut *self.conn().await?, user_id, before, size + 1).await?;
        let next_page_token = self.pages.next(&scope, &mut rows, size, |r| r.id);
        Ok(ListFriendRequestsResponse {
            friend_requests: rows.into_iter().map(request_proto).collect(),
            next_page_token,
        })
    }

    /// Accepts or declines a request sent to `user_id`; anyone else's is NOT_FOUND.
    pub(super) async fn decide(&self, user_id: i64, id: i64, state: i64) -> Result<FriendRequest> {
        let now = now_micros();
        let mut tx = self.db.begin_write().await?;
        let request = store::friend_request(&mut tx, id)
            .await?
            .filter(|r| r.recipient_id == user_id)
            .ok_or(Error::NotFound("friend request"))?;
        let not_pending = || {
            Error::failed_precondition(
                "FRIEND_REQUEST_NOT_PENDING",
                "the friend request was already answered",
            )
        };
        if request.state != store::PENDING
            || store::decide_friend_request(&mut tx, id, state, now).await? == 0
        {
            return Err(not_pending());
        }
        if state == store::ACCEPTED {
            store::insert_friendship(&mut tx, request.requester_id, request.recipient_id, now).await?;
        }
        let view = store::friend_request_view(&mut tx, id).await?.ok_or(Error::NotFound("friend request"))?;
        tx.commit().await?;
        Ok(request_proto(view))
    }

    pub(super) async fn are_friends(&self, req: AreFriendsRequest) -> Result<AreFriendsResponse> {
        let friends = store::are_friends(&mut *self.conn().await?, req.user_id, req.other_user_id).await?;
        Ok(AreFriendsResponse { friends })
    }
}
