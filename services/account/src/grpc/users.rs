//! Users as themselves (GetMe, UpdateMe, ChangePassword), as others see them (GetUser)
//! and as other services ask for them (GetUsers).

use std::collections::BTreeSet;

use campus_proto::account::v1::*;
use campus_shared::db::now_micros;
use campus_shared::error::{Violations, is_unique_violation};
use campus_shared::{Caller, Error};

use super::{AccountApi, Result, user_proto};
use crate::domain::{self, Nickname};
use crate::store;

/// The most ids one GetUsers call may ask for.
const MAX_GET_USERS: usize = 1000;

fn profile_proto(row: store::ProfileRow) -> UserProfile {
    UserProfile { id: row.id, nickname: row.nickname, school_id: row.school_id }
}

impl AccountApi {
    pub(super) async fn me(&self, user_id: i64) -> Result<User> {
        let row =
            store::live_user(&mut *self.conn().await?, user_id).await?.ok_or(Error::NotFound("user"))?;
        Ok(user_proto(row))
    }

    /// A nickname changes at most once per cooldown; the one chosen at sign-up does not count,
    /// and "changing" it to itself changes nothing.
    pub(super) async fn update_me(&self, user_id: i64, req: UpdateMeRequest) -> Result<User> {
        let nickname = Nickname::parse(&req.nickname).map_err(|e| Error::invalid("nickname", e))?;
        let now = now_micros();
        let mut tx = self.db.begin_write().await?;
        let current = store::live_user(&mut tx, user_id).await?.ok_or(Error::NotFound("user"))?;
        if current.nickname == nickname.as_str() {
            return Ok(user_proto(current));
        }
        match store::update_nickname(&mut tx, user_id, nickname.as_str(), now, now - self.nickname_cooldown)
            .await
        {
            Ok(0) => {
                return Err(Error::failed_precondition(
                    "NICKNAME_CHANGE_TOO_SOON",
                    format!(
                        "a nickname can change once every {} days",
                        self.nickname_cooldown / (24 * 3600 * 1_000_000)
                    ),
                ));
            }
            Ok(_) => {}
            Err(Error::Database(e)) if is_unique_violation(&e) => {
                return Err(Error::already_exists("NICKNAME_TAKEN", "this nickname is taken"));
            }
            Err(e) => return Err(e),
        }
        let row = store::live_user(&mut tx, user_id).await?.ok_or(Error::NotFound("user"))?;
        tx.commit().await?;
        Ok(user_proto(row))
    }

    /// `client` is the caller's address as the gateway put it in `x-forwarded-for`.
    pub(super) async fn change_password(
        &self,
        user_id: i64,
        client: &str,
        req: ChangePasswordRequest,
    ) -> Result<()> {
        let user =
            store::live_user(&mut *self.conn().await?, user_id).await?.ok_or(Error::NotFound("user"))?;
        let mut v = Violations::new();
        v.check(!req.current_password.is_empty(), "currentPassword", "is required");
        let known = [user.login_id.as_str(), user.nickname.as_str(), user.email.as_str()];
        if let Err(e) = domain::check_password(&req.new_password, &known) {
            v.add("newPassword", e);
        }
        v.finish()?;
        let stored = store::password_hash(&mut *self.conn().await?, user_id).await?;
        // Guessing the current password with a stolen access token is throttled like a login.
        let attempt = self.sign_ins.reserve(&user.login_id, client).await?;
        if !self.passwords.verify(req.current_password, stored).await? {
            self.sign_ins.failed(&attempt, "password_change_failed");
            return Err(Error::invalid("currentPassword", "is not the current password"));
        }
        let hash = self.passwords.hash(req.new_password).await?;
        let now = now_micros();
        let mut tx = self.db.begin_write().await?;
        if store::update_password(&mut tx, user_id, &hash, now).await? == 0 {
            return Err(Error::NotFound("user"));
        }
        store::revoke_user_families(&mut tx, user_id, now).await?;
        tx.commit().await?;
        self.sign_ins.succeeded(attempt).await
    }

    pub(super) async fn get_user(&self, caller: &Caller, id: i64) -> Result<UserProfile> {
        let row = store::live_user(&mut *self.conn().await?, id)
            .await?
            .filter(|u| u.school_id == caller.school_id)
            .ok_or(Error::NotFound("user"))?;
        Ok(UserProfile { id: row.id, nickname: row.nickname, school_id: row.school_id })
    }

    pub(super) async fn get_users(&self, ids: Vec<i64>) -> Result<GetUsersResponse> {
        let ids: BTreeSet<i64> = ids.into_iter().collect();
        if ids.len() > MAX_GET_USERS {
            return Err(Error::invalid("ids", format!("at most {MAX_GET_USERS} ids")));
        }
        let ids: Vec<i64> = ids.into_iter().collect();
        let rows = store::profiles(&mut *self.conn().await?, &ids).await?;
        Ok(GetUsersResponse { users: rows.into_iter().map(profile_proto).collect() })
    }
}
