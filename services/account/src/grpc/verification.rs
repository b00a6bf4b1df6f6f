//! `AccountVerificationInternalService`: email codes (DESIGN 7), the password reset they allow, and
//! the operator's verified sign-up. Also the code check that sign-up runs.
//!
//! No enumeration: every code request stores a code row and costs the same queries whether or
//! not the address has an account (so the 60-second rule and the quotas say nothing either);
//! only the mail differs, and mail leaves through a queue, off the request path.

use std::time::Duration;

use campus_proto::account::v1::account_verification_internal_service_server::AccountVerificationInternalService;
use campus_proto::account::v1::*;
use campus_shared::Error;
use campus_shared::db::{Db, WriteTx, duration_micros, now_micros, timestamp};
use campus_shared::error::Violations;
use sqlx::AnyConnection;
use tonic::{Request, Response, Status};

use super::{AccountApi, Result};
use crate::domain::email_code::{self, MAX_TRIES, Purpose};
use crate::domain::{self, Email, client_key};
use crate::mail::Letter;
use crate::store;
use crate::store::email_code as codes;
use campus_shared::error::{Reply, reply};

/// How often expired codes and old quota windows are swept away.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// Codes and quota windows are kept this long after they end.
const KEEP_FOR: Duration = Duration::from_secs(2 * 24 * 3600);

/// The limits on codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeRules {
    /// How long a code is accepted.
    pub ttl: Duration,
    /// One new code per address and purpose per this long.
    pub interval: Duration,
    /// Codes per address and client address per hour.
    pub per_client_per_hour: i64,
    /// Codes per address per day, from all clients (bounds guesses at one address overall).
    pub per_address_per_day: i64,
}

impl Default for CodeRules {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(600),
            interval: Duration::from_secs(60),
            per_client_per_hour: 5,
            per_address_per_day: 20,
        }
    }
}

fn code_invalid() -> Error {
    Error::failed_precondition("EMAIL_CODE_INVALID", "the code is wrong or was already used")
}

/// Email codes over the account database.
impl AccountApi {
    /// Checks `code` for `email` and `purpose` inside `tx` and, when right, marks it used
    /// there and hands `tx` back for the rest of the write. A wrong, expired or exhausted
    /// code commits `tx` before answering the refusal, so the spent try is kept.
    pub(super) async fn check_code(
        &self,
        mut tx: WriteTx,
        email: &str,
        purpose: Purpose,
        code: &str,
    ) -> Result<WriteTx> {
        match self.try_code(&mut tx, email, purpose, code).await {
            Ok(()) => Ok(tx),
            // Every refusal of a code is FAILED_PRECONDITION; a database error commits nothing.
            Err(refusal @ Error::FailedPrecondition { .. }) => {
                tx.commit().await?;
                Err(refusal)
            }
            Err(e) => Err(e),
        }
    }

    /// [`Self::check_code`]'s reads and writes.
    async fn try_code(
        &self,
        tx: &mut AnyConnection,
        email: &str,
        purpose: Purpose,
        code: &str,
    ) -> Result<()> {
        let now = now_micros();
        let Some(row) = codes::reserve_try(tx, email, purpose.as_i64(), MAX_TRIES).await? else {
            // No try left to reserve: explain why.
            let refusal = match codes::code_state(tx, email, purpose.as_i64()).await? {
                Some(state) if state.used_at.is_none() && state.tries >= MAX_TRIES => {
                    Error::failed_precondition(
                        "EMAIL_CODE_TOO_MANY_TRIES",
                        "too many wrong codes; ask for a new one",
                    )
                }
                _ => code_invalid(),
            };
            return Err(refusal);
        };
        if !self.code_key.opens(&row.code_mac, purpose, email, code) {
            return Err(code_invalid());
        }
        if row.expires_at <= now {
            return Err(Error::failed_precondition(
                "EMAIL_CODE_EXPIRED",
                "the code expired; ask for a new one",
            ));
        }
        codes::use_code(tx, email, purpose.as_i64(), now).await?;
        Ok(())
    }

    async fn send_email_code(&self, req: SendEmailCodeRequest) -> Result<SendEmailCodeResponse> {
        let mut v = Violations::new();
        let email = Email::parse(&req.email).map_err(|e| v.add("email", e)).ok();
        let purpose = Purpose::from_proto(req.purpose);
        if purpose.is_none() {
            v.add("purpose", "must be SIGN_UP or PASSWORD_RESET");
        }
        if purpose == Some(Purpose::SignUp) {
            self.check_school_email(req.school_id, email.as_ref(), &mut v).await?;
        }
        v.finish()?;
        let (Some(email), Some(purpose)) = (email, purpose) else {
            return Err(Error::internal("validated fields missing"));
        };
        let email = email.as_str();
        let has_account = store::live_user_by_email(&mut *self.conn().await?, email).await?.is_some();

        let code = email_code::generate();
        let sealed = self.code_key.seal(purpose, email, &code);
        let rules = self.code_rules;
        let now = now_micros();
        let expires_at = now + duration_micros(rules.ttl);
        let client = client_key(&req.client_address);
        let mut tx = self.db.begin_write().await?;
        // The 60-second rule first: a too-soon request spends no quota.
        if !codes::replace_code(
            &mut tx,
            email,
            purpose.as_i64(),
            &sealed,
            now,
            expires_at,
            now - duration_micros(rules.interval),
        )
        .await?
        {
            return Err(Error::resource_exhausted(
                "EMAIL_CODE_TOO_SOON",
                format!("one code per {} seconds; wait and ask again", rules.interval.as_secs()),
            ));
        }
        let hour = duration_micros(Duration::from_secs(3600));
        let day = duration_micros(Duration::from_secs(24 * 3600));
        if !codes::spend_quota(&mut tx, email, &client, now, hour, rules.per_client_per_hour).await?
            || !codes::spend_quota(&mut tx, email, "", now, day, rules.per_address_per_day).await?
        {
            tracing::warn!(security_event = "email_code_quota", client = %client, "email code quota spent");
            return Err(Error::resource_exhausted(
                "RATE_LIMITED",
                "too many codes for this address; try again later",
            ));
        }
        tx.commit().await?;

        // Built either way, so both answers cost the same; sent when there is someone to tell.
        let minutes = rules.ttl.as_secs().div_ceil(60);
        let (subject, body) = match (purpose, has_account) {
            (Purpose::SignUp, true) => email_code::mail_already_registered(),
            (purpose, _) => email_code::mail_for_code(purpose, &code, minutes),
        };
        let letter = Letter { to: email.to_owned(), subject, body };
        if purpose == Purpose::SignUp || has_account {
            self.mailer.send(letter);
        }
        Ok(SendEmailCodeResponse { expires_at: Some(timestamp(expires_at)) })
    }

    async fn reset_password(&self, req: ResetPasswordRequest) -> Result<()> {
        let mut v = Violations::new();
        let email = Email::parse(&req.email).map_err(|e| v.add("email", e)).ok();
        let code = email_code::parse(&req.code).map_err(|e| v.add("code", e)).ok();
        // Only what the request itself says here; the account's own words are checked once
        // the code has proven the caller owns the address.
        if let Err(e) = domain::check_password(&req.new_password, &[&req.email]) {
            v.add("newPassword", e);
        }
        v.finish()?;
        let (Some(email), Some(code)) = (email, code) else {
            return Err(Error::internal("validated fields missing"));
        };
        let email = email.as_str();

        let tx = self.db.begin_write().await?;
        let mut tx = self.check_code(tx, email, Purpose::PasswordReset, &code).await?;
        let Some(user) = store::live_user_by_email(&mut tx, email).await? else {
            // The account went away after the code was mailed; the code is spent.
            tx.commit().await?;
            return Err(code_invalid());
        };
        if let Err(e) =
            domain::check_password(&req.new_password, &[&user.login_id, &user.nickname, &user.email])
        {
            // Not the code's fault: leave it usable (the transaction is dropped).
            return Err(Error::invalid("newPassword", e));
        }
        tx.commit().await?;

        let hash = self.passwords.hash(req.new_password).await?;
        let now = now_micros();
        let mut tx = self.db.begin_write().await?;
        if store::update_password(&mut tx, user.id, &hash, now).await? == 0 {
            return Err(code_invalid());
        }
        store::revoke_user_families(&mut tx, user.id, now).await?;
        tx.commit().await?;
        tracing::info!(
            security_event = "password_reset",
            user_id = user.id,
            "password reset; sessions revoked"
        );
        Ok(())
    }
}

/// Sweeps expired codes and old quota windows every hour, forever.
pub(crate) async fn forget_stale_codes_forever(db: Db) {
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        every.tick().await;
        let before = now_micros() - duration_micros(KEEP_FOR);
        let swept = async {
            let mut tx = db.begin_write().await?;
            let n = codes::forget_stale_codes(&mut tx, before, before).await?;
            tx.commit().await?;
            Ok::<_, Error>(n)
        };
        match swept.await {
            Ok(n) if n > 0 => tracing::debug!(rows = n, "forgot stale email codes"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweeping stale email codes failed"),
        }
    }
}

#[tonic::async_trait]
impl AccountVerificationInternalService for AccountApi {
    async fn send_email_code(&self, request: Request<SendEmailCodeRequest>) -> Reply<SendEmailCodeResponse> {
        reply(self.send_email_code(request.into_inner()).await)
    }

    async fn reset_password(&self, request: Request<ResetPasswordRequest>) -> Reply<()> {
        reply(self.reset_password(request.into_inner()).await)
    }

    async fn create_verified_user(
        &self,
        request: Request<CreateVerifiedUserRequest>,
    ) -> std::result::Result<Response<User>, Status> {
        let CreateVerifiedUserRequest { login_id, password, nickname, email, school_id } =
            request.into_inner();
        let request =
            CreateUserRequest { login_id, password, nickname, email, school_id, email_code: String::new() };
        reply(self.create_user(request, false).await)
    }
}
