//! Account deletion (탈퇴, DESIGN §7): the password is checked, then in one transaction the
//! account is soft-deleted (its login id, email and nickname become free), its sessions are
//! revoked, its friendships and pending requests go, and `AccountDeleted` is appended to the
//! account event feed, from which every other service learns of it.

use campus_proto::account::v1::{AccountDeleted, DeleteMeRequest};
use campus_shared::db::{now_micros, timestamp};
use campus_shared::events::Outbox;
use campus_shared::{Error, Result};

use crate::grpc::AccountApi;
use crate::store;

impl AccountApi {
    /// `client` is the caller's address as the gateway gave it (the throttle's key).
    pub(crate) async fn delete_account(
        &self,
        user_id: i64,
        client: &str,
        req: DeleteMeRequest,
    ) -> Result<()> {
        if req.password.is_empty() {
            return Err(Error::invalid("password", "is required"));
        }
        let user = store::live_user(&mut *self.db.pool.acquire().await?, user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        let stored = store::password_hash(&mut *self.db.pool.acquire().await?, user_id).await?;
        // Guessing the password with a stolen access token is throttled like a login.
        let attempt = self.sign_ins.reserve(&user.login_id, client).await?;
        if !self.passwords.verify(req.password, stored).await? {
            self.sign_ins.failed(&attempt, "account_deletion_wrong_password");
            return Err(Error::permission_denied("WRONG_PASSWORD", "the password is not right"));
        }
        let now = now_micros();
        let mut tx = self.db.begin_write().await?;
        if store::soft_delete_user(&mut tx, user_id, now).await? == 0 {
            return Err(Error::NotFound("user"));
        }
        store::revoke_user_families(&mut tx, user_id, now).await?;
        store::forget_friends(&mut tx, user_id).await?;
        let event = AccountDeleted { user_id, school_id: user.school_id, deleted_at: Some(timestamp(now)) };
        Outbox::append(&mut tx, &event, now).await?;
        tx.commit().await?;
        self.outbox.committed();
        // This replica refuses the tokens at once; the others within their next refresh.
        self.verifier.refuse_user(user_id);
        tracing::info!(user_id, "account deleted");
        self.sign_ins.succeeded(attempt).await
    }
}
