//! The gRPC surface: one method per RPC of `AccountService` and `AccountInternalService`.
//! Each parses its request, runs the rules and SQL (one transaction per write) and maps the
//! rows to protobuf messages. Email codes and the password reset are in [`verification`].

mod verification;

pub use verification::CodeRules;
pub(crate) use verification::forget_stale_codes_forever;

/// The limits of the API that configuration sets.
#[derive(Debug, Clone, Copy)]
pub struct ApiRules {
    /// Sign-in throttling.
    pub throttle: Throttle,
    /// Email codes: validity, interval, quotas.
    pub codes: CodeRules,
    /// A nickname changes at most once per this long.
    pub nickname_cooldown: std::time::Duration,
}

use std::collections::BTreeSet;

use campus_proto::account::v1::account_internal_service_server::AccountInternalService;
use campus_proto::account::v1::account_service_server::AccountService;
use campus_proto::account::v1::*;
use campus_shared::db::{Db, now_micros, timestamp};
use campus_shared::error::{Violations, is_unique_violation};
use campus_shared::events::Outbox;
use campus_shared::identity::{TokenVerifier, random_token};
use campus_shared::page::{PageTokens, page_size};
use campus_shared::text::{self, Text};
use campus_shared::{Caller, Error};
use secrecy::{ExposeSecret, SecretString};
use tonic::{Request, Response, Status};

use crate::domain::email_code::{self, CodeKey, Purpose};
use crate::domain::{self, Email, EmailDomain, LoginId, Nickname, Passwords, Throttle};
use crate::mail::Mailer;
use crate::signin::SignIns;
use crate::store::{self, FriendRequestView, ProfileRow, UserRow};

type Result<T> = campus_shared::Result<T>;
type Reply<T> = std::result::Result<Response<T>, Status>;

/// The most ids one GetUsers call may ask for.
const MAX_GET_USERS: usize = 1000;

/// Both account services over one database.
#[derive(Debug, Clone)]
pub struct AccountApi {
    pub(crate) db: Db,
    pub(crate) passwords: Passwords,
    pages: PageTokens,
    pub(crate) sign_ins: SignIns,
    /// The account event feed's outbox (AccountDeleted).
    pub(crate) outbox: Outbox,
    /// This replica's token check, told at once of a deletion made here.
    pub(crate) verifier: TokenVerifier,
    code_key: CodeKey,
    code_rules: CodeRules,
    mailer: Mailer,
    nickname_cooldown: i64,
}

fn reply<T>(result: Result<T>) -> Reply<T> {
    result.map(Response::new).map_err(Status::from)
}

/// UNAUTHENTICATED with a stable reason (the shared error type has one fixed reason for it).
fn unauthenticated(reason: &str, message: &str) -> Error {
    let details = tonic_types::ErrorDetails::with_error_info(
        reason,
        campus_shared::error::ERROR_DOMAIN,
        std::collections::HashMap::<String, String>::new(),
    );
    Error::Upstream(<Status as tonic_types::StatusExt>::with_error_details(
        tonic::Code::Unauthenticated,
        message,
        details,
    ))
}

fn invalid_credentials() -> Error {
    unauthenticated("INVALID_CREDENTIALS", "invalid login id or password")
}

fn invalid_refresh_token() -> Error {
    unauthenticated("INVALID_REFRESH_TOKEN", "the refresh token is invalid or expired")
}

fn user_proto(row: UserRow) -> User {
    let role = if row.role == "admin" { Role::Admin } else { Role::User };
    User {
        id: row.id,
        login_id: row.login_id,
        nickname: row.nickname,
        email: row.email,
        school_id: row.school_id,
        role: role as i32,
        created_at: Some(timestamp(row.created_at)),
    }
}

fn profile_proto(row: ProfileRow) -> UserProfile {
    UserProfile { id: row.id, nickname: row.nickname, school_id: row.school_id }
}

fn school_proto(row: store::SchoolRow) -> School {
    School { id: row.id, name: row.name, email_domain: row.email_domain }
}

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
    /// Page tokens and email codes are keyed by the service credential; `rules` are the
    /// configured limits; mail goes through `mailer`; account events go to `outbox`;
    /// `verifier` learns of deleted accounts at once.
    pub fn new(
        db: Db,
        passwords: Passwords,
        service_token: &SecretString,
        rules: ApiRules,
        mailer: Mailer,
        outbox: Outbox,
        verifier: TokenVerifier,
    ) -> Self {
        let secret = service_token.expose_secret().as_bytes();
        let pages = PageTokens::new(secret);
        let sign_ins = SignIns::new(db.clone(), rules.throttle);
        Self {
            db,
            passwords,
            pages,
            sign_ins,
            outbox,
            verifier,
            code_key: CodeKey::derive(secret),
            code_rules: rules.codes,
            mailer,
            nickname_cooldown: i64::try_from(rules.nickname_cooldown.as_micros()).unwrap_or(i64::MAX),
        }
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.db.pool.acquire().await?)
    }

    // ---- schools

    async fn list_schools(&self, req: ListSchoolsRequest) -> Result<ListSchoolsResponse> {
        let size = page_size(req.page_size)?;
        let after = self.pages.decode::<i64>("schools", &req.page_token)?.unwrap_or(i64::MIN);
        let mut rows = store::list_schools(&mut *self.conn().await?, after, size + 1).await?;
        let next_page_token = self.pages.next("schools", &mut rows, size, |s| s.id);
        Ok(ListSchoolsResponse { schools: rows.into_iter().map(school_proto).collect(), next_page_token })
    }

    async fn get_school(&self, id: i64) -> Result<School> {
        let row = store::school(&mut *self.conn().await?, id).await?.ok_or(Error::NotFound("school"))?;
        Ok(school_proto(row))
    }

    async fn create_school(&self, req: CreateSchoolRequest) -> Result<School> {
        let mut v = Violations::new();
        if let Err(e) = domain::check_school_name(&req.name) {
            v.add("name", e);
        }
        let domain = EmailDomain::parse(&req.email_domain).map_err(|e| v.add("emailDomain", e)).ok();
        v.finish()?;
        let domain = domain.ok_or_else(|| Error::internal("validated domain missing"))?;
        let row = store::SchoolRow {
            id: campus_shared::id::next_id(),
            name: req.name,
            email_domain: domain.as_str().to_owned(),
        };
        let mut tx = self.db.begin_write().await?;
        match store::insert_school(&mut tx, row.id, &row.name, &row.email_domain, now_micros()).await {
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::already_exists(
                    "SCHOOL_DOMAIN_TAKEN",
                    "a school with this email domain already exists",
                ));
            }
            other => other?,
        }
        tx.commit().await?;
        Ok(school_proto(row))
    }

    // ---- the caller's account

    async fn me(&self, user_id: i64) -> Result<User> {
        let row =
            store::live_user(&mut *self.conn().await?, user_id).await?.ok_or(Error::NotFound("user"))?;
        Ok(user_proto(row))
    }

    /// A nickname changes at most once per cooldown; the one chosen at sign-up does not count,
    /// and "changing" it to itself changes nothing.
    async fn update_me(&self, user_id: i64, req: UpdateMeRequest) -> Result<User> {
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
            Err(e) if is_unique_violation(&e) => {
                return Err(Error::already_exists("NICKNAME_TAKEN", "this nickname is taken"));
            }
            Err(e) => return Err(e.into()),
        }
        let row = store::live_user(&mut tx, user_id).await?.ok_or(Error::NotFound("user"))?;
        tx.commit().await?;
        Ok(user_proto(row))
    }

    /// `client` is the caller's address as the gateway put it in `x-forwarded-for`.
    async fn change_password(&self, user_id: i64, client: &str, req: ChangePasswordRequest) -> Result<()> {
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

    async fn get_user(&self, caller: &Caller, id: i64) -> Result<UserProfile> {
        let row = store::live_user(&mut *self.conn().await?, id)
            .await?
            .filter(|u| u.school_id == caller.school_id)
            .ok_or(Error::NotFound("user"))?;
        Ok(UserProfile { id: row.id, nickname: row.nickname, school_id: row.school_id })
    }

    // ---- friends

    async fn list_friends(&self, user_id: i64, req: ListFriendsRequest) -> Result<ListFriendsResponse> {
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

    async fn delete_friend(&self, user_id: i64, friend_id: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        if store::delete_friendship(&mut tx, user_id, friend_id).await? == 0 {
            return Err(Error::NotFound("friend"));
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_friend_request(
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
            Err(e) if is_unique_violation(&e) => return Err(pending()),
            other => other?,
        }
        let view = store::friend_request_view(&mut tx, id).await?.ok_or(Error::NotFound("friend request"))?;
        tx.commit().await?;
        Ok(request_proto(view))
    }

    async fn list_friend_requests(
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
    async fn decide(&self, user_id: i64, id: i64, state: i64) -> Result<FriendRequest> {
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

    // ---- internal: users and passwords

    /// Signs a user up. With `needs_code` the sign-up code mailed to the address must come
    /// along; it is checked in the transaction that inserts the user, so a failure creates
    /// nothing and a refused insert (a login id taken meanwhile) leaves the code usable.
    async fn create_user(&self, req: CreateUserRequest, needs_code: bool) -> Result<User> {
        let mut v = Violations::new();
        let login_id = LoginId::parse(&req.login_id).map_err(|e| v.add("loginId", e)).ok();
        if let Err(e) = domain::check_password(&req.password, &[&req.login_id, &req.nickname, &req.email]) {
            v.add("password", e);
        }
        let nickname = Nickname::parse(&req.nickname).map_err(|e| v.add("nickname", e)).ok();
        let email = Email::parse(&req.email).map_err(|e| v.add("email", e)).ok();
        if req.school_id <= 0 {
            v.add("schoolId", "is required");
        } else {
            match store::school(&mut *self.conn().await?, req.school_id).await? {
                None => v.add("schoolId", "no such school"),
                Some(school) => {
                    if let Some(email) = email.as_ref().filter(|e| e.domain() != school.email_domain) {
                        v.add(
                            "email",
                            format!(
                                "must be an address at @{} (got @{})",
                                school.email_domain,
                                email.domain()
                            ),
                        );
                    }
                }
            }
        }
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
        if let Some(code) = &code
            && let Err(refusal) = self.check_code(&mut tx, email.as_str(), Purpose::SignUp, code).await?
        {
            tx.commit().await?;
            return Err(refusal);
        }
        match store::insert_user(&mut tx, &user).await {
            // Someone took a name between the check and the insert (or, with a valid code,
            // the address has an account).
            Err(e) if is_unique_violation(&e) => {
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
    async fn taken(
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

    async fn verify_password(&self, req: VerifyPasswordRequest) -> Result<VerifyPasswordResponse> {
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

    // ---- internal: sessions

    async fn create_session(&self, user_id: i64) -> Result<CreateSessionResponse> {
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

    async fn rotate_session(&self, token: &str) -> Result<RotateSessionResponse> {
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
            return Err(unauthenticated(
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

    async fn revoke_session(&self, token: &str) -> Result<()> {
        let hash = domain::token_hash(token);
        let mut tx = self.db.begin_write().await?;
        // Unknown tokens are fine: logging out twice, or with a stale cookie, succeeds.
        if let Some(current) = store::token(&mut tx, &hash).await? {
            store::revoke_family(&mut tx, current.family_id, now_micros()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- internal: friends and profiles

    async fn get_users(&self, ids: Vec<i64>) -> Result<GetUsersResponse> {
        let ids: BTreeSet<i64> = ids.into_iter().collect();
        if ids.len() > MAX_GET_USERS {
            return Err(Error::invalid("ids", format!("at most {MAX_GET_USERS} ids")));
        }
        let ids: Vec<i64> = ids.into_iter().collect();
        let rows = store::profiles(&mut *self.conn().await?, &ids).await?;
        Ok(GetUsersResponse { users: rows.into_iter().map(profile_proto).collect() })
    }

    async fn are_friends(&self, req: AreFriendsRequest) -> Result<AreFriendsResponse> {
        let friends = store::are_friends(&mut *self.conn().await?, req.user_id, req.other_user_id).await?;
        Ok(AreFriendsResponse { friends })
    }
}

#[tonic::async_trait]
impl AccountService for AccountApi {
    async fn list_schools(&self, request: Request<ListSchoolsRequest>) -> Reply<ListSchoolsResponse> {
        // Public: the signup form lists schools before anyone has a token.
        reply(self.list_schools(request.into_inner()).await)
    }

    async fn get_school(&self, request: Request<GetSchoolRequest>) -> Reply<School> {
        Caller::of(&request)?;
        reply(self.get_school(request.into_inner().id).await)
    }

    async fn create_school(&self, request: Request<CreateSchoolRequest>) -> Reply<School> {
        Caller::admin_of(&request)?;
        reply(self.create_school(request.into_inner()).await)
    }

    async fn get_me(&self, request: Request<GetMeRequest>) -> Reply<User> {
        let caller = Caller::of(&request)?;
        reply(self.me(caller.user_id).await)
    }

    async fn update_me(&self, request: Request<UpdateMeRequest>) -> Reply<User> {
        let caller = Caller::of(&request)?;
        reply(self.update_me(caller.user_id, request.into_inner()).await)
    }

    async fn change_password(&self, request: Request<ChangePasswordRequest>) -> Reply<()> {
        let caller = Caller::of(&request)?;
        // The gateway sets this to the address it decided on (its trust boundary).
        let client =
            request.metadata().get("x-forwarded-for").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let client = client.to_owned();
        reply(self.change_password(caller.user_id, &client, request.into_inner()).await)
    }

    async fn delete_me(&self, request: Request<DeleteMeRequest>) -> Reply<()> {
        let caller = Caller::of(&request)?;
        // The gateway sets this to the address it decided on (its trust boundary).
        let client =
            request.metadata().get("x-forwarded-for").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let client = client.to_owned();
        reply(self.delete_account(caller.user_id, &client, request.into_inner()).await)
    }

    async fn get_user(&self, request: Request<GetUserRequest>) -> Reply<UserProfile> {
        let caller = Caller::of(&request)?;
        reply(self.get_user(&caller, request.into_inner().id).await)
    }

    async fn list_friends(&self, request: Request<ListFriendsRequest>) -> Reply<ListFriendsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_friends(caller.user_id, request.into_inner()).await)
    }

    async fn delete_friend(&self, request: Request<DeleteFriendRequest>) -> Reply<()> {
        let caller = Caller::of(&request)?;
        reply(self.delete_friend(caller.user_id, request.into_inner().user_id).await)
    }

    async fn create_friend_request(
        &self,
        request: Request<CreateFriendRequestRequest>,
    ) -> Reply<FriendRequest> {
        let caller = Caller::of(&request)?;
        reply(self.create_friend_request(caller.user_id, request.into_inner()).await)
    }

    async fn list_friend_requests(
        &self,
        request: Request<ListFriendRequestsRequest>,
    ) -> Reply<ListFriendRequestsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_friend_requests(caller.user_id, request.into_inner()).await)
    }

    async fn accept_friend_request(
        &self,
        request: Request<AcceptFriendRequestRequest>,
    ) -> Reply<FriendRequest> {
        let caller = Caller::of(&request)?;
        reply(self.decide(caller.user_id, request.into_inner().id, store::ACCEPTED).await)
    }

    async fn decline_friend_request(
        &self,
        request: Request<DeclineFriendRequestRequest>,
    ) -> Reply<FriendRequest> {
        let caller = Caller::of(&request)?;
        reply(self.decide(caller.user_id, request.into_inner().id, store::DECLINED).await)
    }
}

#[tonic::async_trait]
impl AccountInternalService for AccountApi {
    async fn create_user(&self, request: Request<CreateUserRequest>) -> Reply<User> {
        reply(self.create_user(request.into_inner(), true).await)
    }

    async fn verify_password(
        &self,
        request: Request<VerifyPasswordRequest>,
    ) -> Reply<VerifyPasswordResponse> {
        reply(self.verify_password(request.into_inner()).await)
    }

    async fn create_session(&self, request: Request<CreateSessionRequest>) -> Reply<CreateSessionResponse> {
        reply(self.create_session(request.into_inner().user_id).await)
    }

    async fn rotate_session(&self, request: Request<RotateSessionRequest>) -> Reply<RotateSessionResponse> {
        reply(self.rotate_session(&request.into_inner().refresh_token).await)
    }

    async fn revoke_session(&self, request: Request<RevokeSessionRequest>) -> Reply<()> {
        reply(self.revoke_session(&request.into_inner().refresh_token).await)
    }

    async fn are_friends(&self, request: Request<AreFriendsRequest>) -> Reply<AreFriendsResponse> {
        reply(self.are_friends(request.into_inner()).await)
    }

    async fn get_users(&self, request: Request<GetUsersRequest>) -> Reply<GetUsersResponse> {
        reply(self.get_users(request.into_inner().ids).await)
    }
}
