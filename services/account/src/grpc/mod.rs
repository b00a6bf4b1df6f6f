//! The gRPC surface of `AccountService` and `AccountInternalService`. Each RPC is a one-line
//! trait method here that hands the caller and the request to a handler in the module of its
//! resource ([`schools`], [`users`], [`friends`], [`sessions`]; email codes and the password
//! reset in [`verification`]). A handler parses the request into domain values, opens and
//! commits the transaction, asks [`crate::domain`] to decide, has [`crate::store`] run the
//! SQL, and maps the rows to protobuf; [`reply`] turns its shared `Result` into the answer.

mod friends;
mod schools;
mod sessions;
mod users;
mod verification;

pub use verification::CodeRules;
pub(crate) use verification::forget_stale_codes_forever;

/// The limits of the API that configuration sets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ApiRules {
    /// Sign-in throttling.
    pub throttle: Throttle,
    /// Email codes: validity, interval, quotas.
    pub codes: CodeRules,
    /// A nickname changes at most once per this long.
    pub nickname_cooldown: std::time::Duration,
}

use campus_proto::account::v1::account_internal_service_server::AccountInternalService;
use campus_proto::account::v1::account_service_server::AccountService;
use campus_proto::account::v1::*;
use campus_shared::Caller;
use campus_shared::db::{Db, duration_micros, timestamp};
use campus_shared::error::{Reply, reply};
use campus_shared::events::Outbox;
use campus_shared::identity::TokenVerifier;
use campus_shared::page::PageTokens;
use secrecy::{ExposeSecret, SecretString};
use tonic::Request;

use crate::domain::email_code::CodeKey;
use crate::domain::{Passwords, Throttle};
use crate::mail::Mailer;
use crate::signin::SignIns;
use crate::store::{self, UserRow};

type Result<T> = campus_shared::Result<T>;

/// Both account services over one database.
#[derive(Debug, Clone)]
pub(crate) struct AccountApi {
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

pub(super) fn user_proto(row: UserRow) -> User {
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

impl AccountApi {
    /// Page tokens and email codes are keyed by the service credential; `rules` are the
    /// configured limits; mail goes through `mailer`; account events go to `outbox`;
    /// `verifier` learns of deleted accounts at once.
    pub(crate) fn new(
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
            nickname_cooldown: duration_micros(rules.nickname_cooldown),
        }
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.db.pool.acquire().await?)
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
