//! Test doubles of the two upstreams messaging calls: board's `GetContentAuthor` and
//! account's `GetUsers`, answering from a directory each test fills. They sit behind the real
//! `ServiceInterceptor`, and board insists on a forwarded user token, so a test also proves
//! that messaging forwards both credentials. (Shared with the benchmark via `#[path]`.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use campus_proto::account::v1::account_internal_service_server::{
    AccountInternalService, AccountInternalServiceServer,
};
use campus_proto::account::v1::{
    AreFriendsRequest, AreFriendsResponse, CreateSessionRequest, CreateSessionResponse, CreateUserRequest,
    GetUsersRequest, GetUsersResponse, RevokeSessionRequest, RotateSessionRequest, RotateSessionResponse,
    User, UserProfile, VerifyPasswordRequest, VerifyPasswordResponse,
};
use campus_proto::board::v1::board_internal_service_server::{
    BoardInternalService, BoardInternalServiceServer,
};
use campus_proto::board::v1::get_content_author_request::Target;
use campus_proto::board::v1::{GetContentAuthorRequest, GetContentAuthorResponse};
use campus_shared::Caller;
use campus_shared::identity::{ServiceInterceptor, TokenVerifier};
use campus_shared::testing::TestIdentity;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

/// Who wrote a post or comment.
#[derive(Debug, Clone, Copy)]
pub struct Authored {
    pub author_id: i64,
    pub school_id: i64,
    pub post_id: i64,
    pub anonymous: bool,
}

#[derive(Debug, Default)]
struct Inner {
    users: HashMap<i64, UserProfile>,
    posts: HashMap<i64, Authored>,
    comments: HashMap<i64, Authored>,
}

/// The users, posts and comments the fake upstreams know.
#[derive(Debug, Clone, Default)]
pub struct Directory(Arc<Mutex<Inner>>);

impl Directory {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().expect("directory lock")
    }

    pub fn add_user(&self, id: i64, school_id: i64, nickname: &str) {
        self.inner().users.insert(id, UserProfile { id, nickname: nickname.into(), school_id });
    }

    pub fn user(&self, id: i64) -> Option<UserProfile> {
        self.inner().users.get(&id).cloned()
    }

    pub fn add_post(&self, id: i64, author_id: i64, anonymous: bool) {
        let school_id = self.user(author_id).map(|u| u.school_id).unwrap_or_default();
        self.inner().posts.insert(id, Authored { author_id, school_id, post_id: id, anonymous });
    }

    pub fn add_comment(&self, id: i64, post_id: i64, author_id: i64, anonymous: bool) {
        let school_id = self.user(author_id).map(|u| u.school_id).unwrap_or_default();
        self.inner().comments.insert(id, Authored { author_id, school_id, post_id, anonymous });
    }

    /// Board answers NOT_FOUND for a deleted post, as for one that never existed.
    pub fn delete_post(&self, id: i64) {
        self.inner().posts.remove(&id);
    }
}

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
        let inner = self.0.inner();
        let found = match request.get_ref().target {
            Some(Target::PostId(id)) => inner.posts.get(&id),
            Some(Target::CommentId(id)) => inner.comments.get(&id),
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

#[derive(Debug, Clone)]
struct FakeAccount(Directory);

#[tonic::async_trait]
impl AccountInternalService for FakeAccount {
    async fn create_user(&self, _: Request<CreateUserRequest>) -> Result<Response<User>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn verify_password(
        &self,
        _: Request<VerifyPasswordRequest>,
    ) -> Result<Response<VerifyPasswordResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn create_session(
        &self,
        _: Request<CreateSessionRequest>,
    ) -> Result<Response<CreateSessionResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn rotate_session(
        &self,
        _: Request<RotateSessionRequest>,
    ) -> Result<Response<RotateSessionResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn revoke_session(&self, _: Request<RevokeSessionRequest>) -> Result<Response<()>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn are_friends(
        &self,
        _: Request<AreFriendsRequest>,
    ) -> Result<Response<AreFriendsResponse>, Status> {
        Err(Status::unimplemented("fake"))
    }
    async fn get_users(
        &self,
        request: Request<GetUsersRequest>,
    ) -> Result<Response<GetUsersResponse>, Status> {
        let inner = self.0.inner();
        let users = request.get_ref().ids.iter().filter_map(|id| inner.users.get(id).cloned()).collect();
        Ok(Response::new(GetUsersResponse { users }))
    }
}

/// Starts both fakes on port 0; returns the board and account URLs.
pub async fn spawn_upstreams(directory: Directory, identity: &TestIdentity) -> (String, String) {
    let verifier = TokenVerifier::from_config(&identity.config()).expect("verifier");
    let guard = ServiceInterceptor::new(&identity.service_token, verifier);
    let mut urls = Vec::new();
    for board in [true, false] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake upstream");
        urls.push(format!("http://{}", listener.local_addr().expect("address")));
        let mut builder = tonic::transport::Server::builder();
        let router = if board {
            builder.add_service(BoardInternalServiceServer::with_interceptor(
                FakeBoard(directory.clone()),
                guard.clone(),
            ))
        } else {
            builder.add_service(AccountInternalServiceServer::with_interceptor(
                FakeAccount(directory.clone()),
                guard.clone(),
            ))
        };
        tokio::spawn(router.serve_with_incoming(TcpIncoming::from(listener)));
    }
    (urls.remove(0), urls.remove(0))
}
