//! Test doubles of the internal APIs services call upstream: account's
//! `AccountInternalService` (AreFriends, GetUsers) and board's `BoardInternalService`
//! (GetContentAuthor), both answering from one [`Directory`] a test fills, and their event
//! feeds (`EventFeedInternalService.WatchEvents`) serving the events a test publishes with
//! [`Directory::publish_board_event`] and [`Directory::publish_account_event`].
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
use campus_proto::events::v1::event_feed_internal_service_server::{
    EventFeedInternalService, EventFeedInternalServiceServer,
};
use campus_proto::events::v1::{Event, WatchEventsRequest, WatchEventsResponse};
use campus_shared::Caller;
use campus_shared::events::feed::{FeedConfig, stream_events};
use campus_shared::identity::{ServiceInterceptor, TokenVerifier};
use tokio::sync::{mpsc, watch};
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

/// An event feed as the fakes serve it: every event published so far, in position order
/// (position = index + 1), and a signal that wakes open streams.
#[derive(Debug)]
struct FeedLog {
    events: Mutex<Vec<Event>>,
    wake: watch::Sender<u64>,
}

impl Default for FeedLog {
    fn default() -> Self {
        Self { events: Mutex::new(Vec::new()), wake: watch::Sender::new(0) }
    }
}

impl FeedLog {
    /// Appends an event of `message` (with a fresh id); returns it.
    fn publish<M: prost::Name>(&self, message: &M) -> Event {
        let event = Event {
            id: campus_shared::id::next_id(),
            r#type: M::full_name(),
            payload: Some(prost_types::Any {
                type_url: format!("type.googleapis.com/{}", M::full_name()),
                value: message.encode_to_vec(),
            }),
            occurred_at: Some(campus_shared::db::timestamp(campus_shared::db::now_micros())),
            position: 0,
        };
        self.append(event)
    }

    fn append(&self, mut event: Event) -> Event {
        let mut events = self.events.lock().expect("feed lock");
        event.position = events.len() as i64 + 1;
        events.push(event.clone());
        drop(events);
        self.wake.send_modify(|n| *n += 1);
        event
    }

    /// The events after `after`.
    fn events_after(&self, after: i64) -> Vec<Event> {
        let events = self.events.lock().expect("feed lock");
        events.iter().skip(after.max(0) as usize).cloned().collect()
    }
}

/// The users, friendships, posts and comments the fakes know, and board's and account's
/// event feeds. Clones share one world.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    world: Arc<Mutex<World>>,
    board_feed: Arc<FeedLog>,
    account_feed: Arc<FeedLog>,
}

impl Directory {
    fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().expect("directory lock")
    }

    /// Appends an event (with a fresh id) to board's fake feed; returns it.
    pub fn publish_board_event<M: prost::Name>(&self, message: &M) -> Event {
        self.board_feed.publish(message)
    }

    /// Appends `event` again at the next position, same id: what a producer that delivers
    /// twice would send.
    pub fn republish_board_event(&self, event: &Event) -> Event {
        self.board_feed.append(event.clone())
    }

    /// Appends an event (with a fresh id) to account's fake feed; returns it.
    pub fn publish_account_event<M: prost::Name>(&self, message: &M) -> Event {
        self.account_feed.publish(message)
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

/// Starts the account fake (its internal service and its event feed) on a free port; returns
/// its address.
pub async fn spawn_account(directory: Directory, identity: &TestIdentity) -> SocketAddr {
    let feed = EventFeedInternalServiceServer::with_interceptor(
        FakeFeed(directory.account_feed.clone()),
        interceptor(identity),
    );
    let service =
        AccountInternalServiceServer::with_interceptor(FakeAccount(directory), interceptor(identity));
    crate::net::serve(|server| server.add_service(service).add_service(feed)).await
}

/// Starts the board fake (its internal service and its event feed) on a free port; returns
/// its address.
pub async fn spawn_board(directory: Directory, identity: &TestIdentity) -> SocketAddr {
    let feed = EventFeedInternalServiceServer::with_interceptor(
        FakeFeed(directory.board_feed.clone()),
        interceptor(identity),
    );
    let service = BoardInternalServiceServer::with_interceptor(FakeBoard(directory), interceptor(identity));
    crate::net::serve(|server| server.add_service(service).add_service(feed)).await
}

/// Test double of a service's `campus.events.v1.EventFeedInternalService`: the backlog after
/// the consumer's cursor, then each event as it is published, by the real feed's stream loop.
#[derive(Debug, Clone)]
struct FakeFeed(Arc<FeedLog>);

#[tonic::async_trait]
impl EventFeedInternalService for FakeFeed {
    type WatchEventsStream = tokio_stream::wrappers::ReceiverStream<Result<WatchEventsResponse, Status>>;

    async fn watch_events(
        &self,
        request: Request<WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let feed = self.0.clone();
        let wake = feed.wake.subscribe();
        let read = move |cursor| std::future::ready(Ok(feed.events_after(cursor)));
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(stream_events(FeedConfig::default(), request.get_ref().after, wake, tx, read));
        Ok(Response::new(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }
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
