//! Signing up (CreateUser), checking a password, and the refresh-token sessions.

use campus_proto::account::v1::*;
use campus_shared::Error;
use campus_shared::db::{now_micros, timestamp};
use campus_shared::error::{Violations, is_unique_violation};
use campus_shared::identity::random_token;

use super::{AccountApi, Result, user_proto};
use crate::domain::email_code::{self, Purpose};
use crate::domain::{self, Email, LoginId, Nickname};
use crate::store;

fn invalid_credentials() -> Error {
    Error::unauthenticated_because("INVALID_CREDENTIALS", "invalid login id or password")
}

fn invalid_refresh_token() -> Error {
    Error::unauthenticated_because("INVALID_REFRESH_TOKEN", "the refresh token is invalid or expired")
}

impl AccountApi {
    /// Signs a user up. With `needs_code` the sign-up code mailed to the address must come
    /// along; it is checked in the transaction that inserts the user, so a failure creates
    /// nothing and a refused insert (a login id taken meanwhile) leaves the code usable.
    pub(super) async fn create_user(&self, req: CreateUserRequest, needs_code: bool) -> Result<User> {
        let mut v = Violations::new();
        let login_id = LoginId::parse(&req.login_id).map_err(|e| v.add("loginId", e)).ok();
        if let Err(e) = domain::check_password(&req.password, &[&req.login_id, &req.nickname, &req.email]) {
            v.add("password", e);
        }
        let nickname = Nickname::parse(&req.nickname).map_err(|e| v.add("nickname", e)).ok();
        let email = Email::parse(&req.email).map_err(|e| v.add("email", e)).ok();
        self.check_school_email(req.school_id, email.as_ref(), &mut v).await?;
        let code = if needs_code {
            email_code::parse(&req.email_code).map_err(|e| v.add("emailCode", e)).ok()
        } else {
            None
        };
        v.finish()?;
        let (Some(login_id), Some(nickname), Some(email)) = (login_id, nickname, email) else {
            return Err(Error::internal("validated fields missing"));
        };
        // Whether the email has an account is told only to whoever holds its code.
        if let Some(err) = self.taken(&login_id, &email, &nickname, !needs_code).await? {
            return Err(err);
        }
        let hash = self.passwords.hash(req.password).await?;
        let user = store::NewUser {
            id: campus_shared::id::next_id(),
            school_id: req.school_id,
            login_id: login_id.as_str(),
            email: email.as_str(),
            nickname: nickname.as_str(),
            password_hash: &hash,
            role: "user",
            now: now_micros(),
        };
        let mut tx = self.db.begin_write().await?;
        if let Some(code) = &code {
            tx = self.check_code(tx, email.as_str(), Purpose::SignUp, code).await?;
        }
        match store::insert_user(&mut tx, &user).await {
            // Someone took a name between the check and the insert (or, with a valid code,
            // the address has an account).
            Err(Error::Database(e)) if is_unique_violation(&e) => {
                drop(tx);
                let err = self.taken(&login_id, &email, &nickname, true).await?;
                return Err(
                    err.unwrap_or_else(|| Error::already_exists("LOGIN_ID_TAKEN", "this login id is taken"))
                );
            }
            other => other?,
        }
        let row = store::live_user(&mut tx, user.id).await?.ok_or(Error::NotFound("user"))?;
        tx.commit().await?;
        Ok(user_proto(row))
    }

    /// ALREADY_EXISTS naming the first of login id, email (when `tell_email`) and nickname a
    /// live user holds.
    pub(super) async fn taken(
        &self,
        login_id: &LoginId,
        email: &Email,
        nickname: &Nickname,
        tell_email: bool,
    ) -> Result<Option<Error>> {
        let (login, mail, nick) =
            store::taken(&mut *self.conn().await?, login_id.as_str(), email.as_str(), nickname.as_str())
                .await?;
        Ok(if login {
            Some(Error::already_exists("LOGIN_ID_TAKEN", "this login id is taken"))
        } else if mail && tell_email {
            Some(Error::already_exists("EMAIL_TAKEN", "this email is already registered"))
        } else if nick {
            Some(Error::already_exists("NICKNAME_TAKEN", "this nickname is taken"))
        } else {
            None
        })
    }

    pub(super) async fn verify_password(&self, req: VerifyPasswordRequest) -> Result<VerifyPasswordResponse> {
        let login_id = domain::normalize_login_id(&req.login_id);
        // No account can have a malformed login id: skip the lookups (and keep such ids out
        // of the throttle table) but still spend the hash, so timing tells nothing.
        let well_formed = LoginId::parse(&login_id).is_ok();
        let attempt = if well_formed {
            Some(self.sign_ins.reserve(&login_id, &req.client_address).await?)
        } else {
            None
        };
        let credentials =
            if well_formed { store::credentials(&mut *self.conn().await?, &login_id).await? } else { None };
        let (user, stored) = match credentials {
            Some(found) => (Some(found.user), Some(found.password_hash)),
            None => (None, None),
        };
        let matches = self.passwords.verify(req.password, stored).await?;
        match (user, attempt) {
            (Some(user), Some(attempt)) if matches => {
                self.sign_ins.succeeded(attempt).await?;
                Ok(VerifyPasswordResponse { user: Some(user_proto(user)) })
            }
            (_, attempt) => {
                if let Some(attempt) = attempt {
                    self.sign_ins.failed(&attempt, "login_failed");
                }
                Err(invalid_credentials())
            }
        }
    }

    pub(super) async fn create_session(&self, user_id: i64) -> Result<CreateSessionResponse> {
        let now = now_micros();
        let expires_at = now + domain::SESSION_TTL_MICROS;
        let token = random_token();
        let mut tx = self.db.begin_write().await?;
        let user = store::live_user(&mut tx, user_id).await?.ok_or(Error::NotFound("user"))?;
        let family_id = campus_shared::id::next_id();
        store::insert_family(&mut tx, family_id, user_id, now, expires_at).await?;
        store::insert_token(&mut tx, &domain::token_hash(&token), family_id, now).await?;
        tx.commit().await?;
        Ok(CreateSessionResponse {
            refresh_token: token,
            expires_at: Some(timestamp(expires_at)),
            user: Some(user_proto(user)),
        })
    }

    pub(super) async fn rotate_session(&self, token: &str) -> Result<RotateSessionResponse> {
        if token.is_empty() {
            return Err(invalid_refresh_token());
        }
        let hash = domain::token_hash(token);
        let now = now_micros();
        let mut tx = self.db.begin_write().await?;
        let current = store::token(&mut tx, &hash).await?.ok_or_else(invalid_refresh_token)?;
        if current.revoked_at.is_some() || current.expires_at <= now {
            return Err(invalid_refresh_token());
        }
        // The conditional UPDATE decides races: of concurrent rotations of one token exactly
        // one marks it used; the others see it used and treat it as the reuse it is.
        if current.used_at.is_some() || store::mark_token_used(&mut tx, &hash, now).await? == 0 {
            store::revoke_family(&mut tx, current.family_id, now).await?;
            tx.commit().await?;
            tracing::warn!(
                security_event = "refresh_token_reused",
                family_id = current.family_id,
                user_id = current.user_id,
                "refresh token reused; family revoked"
            );
            return Err(Error::unauthenticated_because(
                "REFRESH_TOKEN_REUSED",
                "the refresh token was already used; sign in again",
            ));
        }
        let user = store::live_user(&mut tx, current.user_id).await?.ok_or_else(invalid_refresh_token)?;
        let next = random_token();
        store::insert_token(&mut tx, &domain::token_hash(&next), current.family_id, now).await?;
        tx.commit().await?;
        Ok(RotateSessionResponse {
            refresh_token: next,
            expires_at: Some(timestamp(current.expires_at)),
            user: Some(user_proto(user)),
        })
    }

    pub(super) async fn revoke_session(&self, token: &str) -> Result<()> {
        let hash = domain::token_hash(token);
        let mut tx = self.db.begin_write().await?;
        // Unknown tokens are fine: logging out twice, or with a stale cookie, succeeds.
        if let Some(current) = store::token(&mut tx, &hash).await? {
            store::revoke_family(&mut tx, current.family_id, now_micros()).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
