//! Test doubles of the internal APIs services call upstream: account's
//! `AccountInternalService` (AreFriends, GetUsers) and board's `BoardInternalService`
//! (GetContentAuthor), both answering from one [`Directory`] a test fills.
//!
//! They sit behind the real `ServiceInterceptor`, so a call without the service credential
//! fails; AreFriends and GetContentAuthor also insist on a forwarded user token (AreFriends
//! one that belongs to the user asked about), so a test proves that the caller forwards both.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use campus_proto::account::v1 as account;
use campus_proto::account::v1::account_internal_service_server::{
    AccountInternalService, AccountInternalServiceServer,
};
use campus_proto::board::v1::board_internal_service_server::{
    BoardInternalService, BoardInternalServiceServer,
};
use campus_proto::board::v1::get_content_author_request::Target;
use campus_proto::board::v1::{GetContentAuthorRequest, GetContentAuthorResponse};
use campus_shared::Caller;
use campus_shared::identity::{ServiceInterceptor, TokenVerifier};
use tonic::{Request, Response, Status};

use crate::identity::TestIdentity;

/// Who wrote a post or comment.
#[derive(Debug, Clone, Copy)]
pub struct Authored {
    pub author_id: i64,
    pub school_id: i64,
    pub post_id: i64,
    pub anonymous: bool,
}

#[derive(Debug, Default)]
struct World {
    users: HashMap<i64, account::UserProfile>,
    friends: HashSet<(i64, i64)>,
    posts: HashMap<i64, Authored>,
    comments: HashMap<i64, Authored>,
}

/// The users, friendships, posts and comments the fakes know. Clones share one world.
#[derive(Debug, Clone, Default)]
pub struct Directory(Arc<Mutex<World>>);

impl Directory {
    fn world(&self) -> MutexGuard<'_, World> {
        self.0.lock().expect("directory lock")
    }

    pub fn add_user(&self, id: i64, school_id: i64, nickname: &str) {
        self.world().users.insert(id, account::UserProfile { id, nickname: nickname.into(), school_id });
    }

    pub fn user(&self, id: i64) -> Option<account::UserProfile> {
        self.world().users.get(&id).cloned()
    }

    /// Makes two users friends (in either order).
    pub fn befriend(&self, a: i64, b: i64) {
        self.world().friends.insert((a.min(b), a.max(b)));
    }

    pub fn are_friends(&self, a: i64, b: i64) -> bool {
        self.world().friends.contains(&(a.min(b), a.max(b)))
    }

    pub fn add_post(&self, id: i64, author_id: i64, anonymous: bool) {
        let school_id = self.user(author_id).map(|u| u.school_id).unwrap_or_default();
        self.world().posts.insert(id, Authored { author_id, school_id, post_id: id, anonymous });
    }

    pub fn add_comment(&self, id: i64, post_id: i64, author_id: i64, anonymous: bool) {
        let school_id = self.user(author_id).map(|u| u.school_id).unwrap_or_default();
        self.world().comments.insert(id, Authored { author_id, school_id, post_id, anonymous });
    }

    /// Board answers NOT_FOUND for a deleted post, as for one that never existed.
    pub fn delete_post(&self, id: i64) {
        self.world().posts.remove(&id);
    }
}

fn interceptor(identity: &TestIdentity) -> ServiceInterceptor {
    let verifier = TokenVerifier::from_config(&identity.config()).expect("verifier");
    ServiceInterceptor::new(&identity.service_token, verifier)
}

/// Starts the account fake on a free port; returns its address.
pub async fn spawn_account(directory: Directory, identity: &TestIdentity) -> SocketAddr {
    let service =
        AccountInternalServiceServer::with_interceptor(FakeAccount(directory), interceptor(identity));
    crate::net::serve(|server| server.add_service(service)).await
}

/// Starts the board fake on a free port; returns its address.
pub async fn spawn_board(directory: Directory, identity: &TestIdentity) -> SocketAddr {
    let service = BoardInternalServiceServer::with_interceptor(FakeBoard(directory), interceptor(identity));
    crate::net::serve(|server| server.add_service(service)).await
}

/// Test double of `campus.account.v1.AccountInternalService`: AreFriends and GetUsers answer
/// from the directory, the rest are UNIMPLEMENTED.
#[derive(Debug, Clone)]
struct FakeAccount(Directory);

#[tonic::async_trait]
impl AccountInternalService for FakeAccount {
    async fn are_friends(
        &self,
        request: Request<account::AreFriendsRequest>,
    ) -> Result<Response<account::AreFriendsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        if caller.user_id != req.user_id {
            return Err(Status::permission_denied("asked on behalf of someone else"));
        }
        let friends = self.0.are_friends(req.user_id, req.other_user_id);
        Ok(Response::new(account::AreFriendsResponse { friends }))
    }

    async fn get_users(
        &self,
        request: Request<account::GetUsersRequest>,
    ) -> Result<Response<account::GetUsersResponse>, Status> {
        let world = self.0.world();
        let users = request.get_ref().ids.iter().filter_map(|id| world.users.get(id).cloned()).collect();
        Ok(Response::new(account::GetUsersResponse { users }))
    }

    async fn create_user(
        &self,
        _: Request<account::CreateUserRequest>,
    ) -> Result<Response<account::User>, Status> {
        Err(Status::unimplemented("test double"))
    }

    async fn verify_password(
        &self,
        _: Request<account::VerifyPasswordRequest>,
    ) -> Result<Response<account::VerifyPasswordResponse>, Status> {
        Err(Status::unimplemented("test double"))
    }

    async fn create_session(
        &self,
        _: Request<account::CreateSessionRequest>,
    ) -> Result<Response<account::CreateSessionResponse>, Status> {
        Err(Status::unimplemented("test double"))
    }

    async fn rotate_session(
        &self,
        _: Request<account::RotateSessionRequest>,
    ) -> Result<Response<account::RotateSessionResponse>, Status> {
        Err(Status::unimplemented("test double"))
    }

    async fn revoke_session(
        &self,
        _: Request<account::RevokeSessionRequest>,
    ) -> Result<Response<()>, Status> {
        Err(Status::unimplemented("test double"))
    }
}

/// Test double of `campus.board.v1.BoardInternalService`.
#[derive(Debug, Clone)]
struct FakeBoard(Directory);

#[tonic::async_trait]
impl BoardInternalService for FakeBoard {
    async fn get_content_author(
        &self,
        request: Request<GetContentAuthorRequest>,
    ) -> Result<Response<GetContentAuthorResponse>, Status> {
        if request.extensions().get::<Caller>().is_none() {
            return Err(Status::unauthenticated("the user's token was not forwarded"));
        }
        let world = self.0.world();
        let found = match request.get_ref().target {
            Some(Target::PostId(id)) => world.posts.get(&id),
            Some(Target::CommentId(id)) => world.comments.get(&id),
            None => return Err(Status::invalid_argument("target is required")),
        };
        let a = found.ok_or_else(|| Status::not_found("not found"))?;
        Ok(Response::new(GetContentAuthorResponse {
            author_id: a.author_id,
            school_id: a.school_id,
            post_id: a.post_id,
            anonymous: a.anonymous,
        }))
    }
}
