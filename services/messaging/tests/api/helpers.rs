//! `spawn_app`: the real messaging server on port 0 against a fresh database, with fake board
//! and account upstreams, and a client that calls it as any user of the test world.

use std::net::SocketAddr;
use std::sync::Arc;

use campus_messaging::{Application, Config, StreamStats};
use campus_proto::messaging::v1::create_conversation_request::Target;
use campus_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use campus_proto::messaging::v1::notification_service_client::NotificationServiceClient;
use campus_proto::messaging::v1::{
    BlockConversationRequest, Conversation, CreateConversationRequest, DeleteConversationRequest,
    ListConversationsRequest, ListConversationsResponse, ListMessagesRequest, ListMessagesResponse,
    ListNotificationsRequest, ListNotificationsResponse, MarkConversationReadRequest,
    MarkNotificationsReadRequest, MarkNotificationsReadResponse, Message, Notification, SendMessageRequest,
    StreamMessagesRequest, StreamMessagesResponse, StreamNotificationsRequest, StreamNotificationsResponse,
};
use campus_shared::db::Backend;
use campus_shared::{Caller, Role};
use campus_testkit::{TestDatabase, TestIdentity, channel, dead_url};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic::{Request, Status, Streaming};

pub use campus_testkit::fakes::Directory;

pub const SCHOOL: i64 = 1;
pub const OTHER_SCHOOL: i64 = 2;
pub const ALICE: i64 = 1;
pub const BOB: i64 = 2;
pub const CAROL: i64 = 3;
/// A user of the other school.
pub const DAVE: i64 = 4;
/// A named post by Bob.
pub const BOB_POST: i64 = 100;
/// An anonymous post by Bob.
pub const BOB_ANON_POST: i64 = 101;
pub const ALICE_POST: i64 = 102;
/// A named comment by Carol on Bob's post.
pub const CAROL_COMMENT: i64 = 200;
/// An anonymous comment by Bob on his own post.
pub const BOB_ANON_COMMENT: i64 = 201;
pub const DAVE_POST: i64 = 300;

/// Fills the directory with the users, posts and comments above.
pub fn world() -> Directory {
    let dir = Directory::default();
    dir.add_user(ALICE, SCHOOL, "alice");
    dir.add_user(BOB, SCHOOL, "bob");
    dir.add_user(CAROL, SCHOOL, "carol");
    dir.add_user(DAVE, OTHER_SCHOOL, "dave");
    dir.add_post(BOB_POST, BOB, false);
    dir.add_post(BOB_ANON_POST, BOB, true);
    dir.add_post(ALICE_POST, ALICE, false);
    dir.add_comment(CAROL_COMMENT, BOB_POST, CAROL, false);
    dir.add_comment(BOB_ANON_COMMENT, BOB_POST, BOB, true);
    dir.add_post(DAVE_POST, DAVE, false);
    dir
}

/// One running messaging instance.
#[derive(Debug)]
pub struct TestApp {
    pub backend: Backend,
    pub identity: TestIdentity,
    pub dir: Directory,
    pub stats: StreamStats,
    pub db: Arc<TestDatabase>,
    pub addr: SocketAddr,
    client: MessagingServiceClient<Channel>,
    notifications: NotificationServiceClient<Channel>,
    upstreams: (String, String),
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A messaging server on a fresh database of `backend`, with the test world upstream.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_on(TestDatabase::new(backend).await).await
}

/// A messaging server on `db`, a database prepared by the test.
pub async fn spawn_app_on(db: TestDatabase) -> TestApp {
    let identity = TestIdentity::new();
    let dir = world();
    let upstreams = spawn_upstreams(&dir, &identity).await;
    start(db.backend, identity, dir, Arc::new(db), upstreams).await
}

/// The fake board and account in front of `dir`: their URLs.
async fn spawn_upstreams(dir: &Directory, identity: &TestIdentity) -> (String, String) {
    let board = campus_testkit::fakes::spawn_board(dir.clone(), identity).await;
    let account = campus_testkit::fakes::spawn_account(dir.clone(), identity).await;
    (format!("http://{board}"), format!("http://{account}"))
}

async fn start(
    backend: Backend,
    identity: TestIdentity,
    dir: Directory,
    db: Arc<TestDatabase>,
    upstreams: (String, String),
) -> TestApp {
    let config = Config {
        service: identity.service_config(&db),
        board_addr: upstreams.0.clone(),
        account_addr: upstreams.1.clone(),
        max_streams_per_user: Config::DEFAULT_MAX_STREAMS_PER_USER,
    };
    let app = Application::build(config).await.expect("build messaging");
    let addr = app.local_addr();
    let client = MessagingServiceClient::new(channel(addr));
    let notifications = NotificationServiceClient::new(channel(app.local_addr()));
    let stats = app.stream_stats();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    TestApp {
        backend,
        identity,
        dir,
        stats,
        db,
        addr,
        client,
        notifications,
        upstreams,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    /// A second instance of the service on the same database (a replica).
    pub async fn replica(&self) -> TestApp {
        start(self.backend, self.identity.clone(), self.dir.clone(), self.db.clone(), self.upstreams.clone())
            .await
    }

    /// Another instance on the same database whose board and account are unreachable.
    pub async fn with_dead_upstreams(&self) -> TestApp {
        let dead = (dead_url().await, dead_url().await);
        start(self.backend, self.identity.clone(), self.dir.clone(), self.db.clone(), dead).await
    }

    /// Stops the server and waits until it has finished.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task").expect("server stopped cleanly");
        }
    }

    /// A request from `user` (nickname and school from the directory).
    pub fn req<T>(&self, user: i64, message: T) -> Request<T> {
        let profile = self.dir.user(user).expect("user in the test world");
        let caller = Caller {
            user_id: user,
            school_id: profile.school_id,
            role: Role::User,
            nickname: profile.nickname,
        };
        self.identity.request_as(message, &caller)
    }

    pub fn client(&self) -> MessagingServiceClient<Channel> {
        self.client.clone()
    }

    pub fn notification_client(&self) -> NotificationServiceClient<Channel> {
        self.notifications.clone()
    }

    pub async fn list_notifications(
        &self,
        user: i64,
        page_size: i32,
        page_token: &str,
    ) -> Result<ListNotificationsResponse, Status> {
        let body = ListNotificationsRequest { page_size, page_token: page_token.into() };
        self.notification_client().list_notifications(self.req(user, body)).await.map(|r| r.into_inner())
    }

    /// The first page (up to 100) of a user's notifications, and their unread count.
    pub async fn notifications(&self, user: i64) -> (Vec<Notification>, i32) {
        let page = self.list_notifications(user, 100, "").await.expect("list notifications");
        (page.notifications, page.unread_count)
    }

    /// Waits (up to 10 s, DESIGN §8's allowance) until `user` has a notification of
    /// `comment_id` (or, with 0, of the post `post_id` without a comment); returns the list.
    pub async fn notified(&self, user: i64, post_id: i64, comment_id: i64) -> Vec<Notification> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (list, _) = self.notifications(user).await;
            if list.iter().any(|n| n.post_id == post_id && n.comment_id.unwrap_or(0) == comment_id) {
                return list;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{:?}: user {user} not notified of post {post_id} comment {comment_id}: {list:?}",
                self.backend
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub async fn mark_notifications_read(
        &self,
        user: i64,
        ids: Vec<i64>,
        all: bool,
    ) -> Result<MarkNotificationsReadResponse, Status> {
        let body = MarkNotificationsReadRequest { ids, all };
        self.notification_client().mark_notifications_read(self.req(user, body)).await.map(|r| r.into_inner())
    }

    pub async fn notification_stream(&self, user: i64) -> Streaming<StreamNotificationsResponse> {
        self.try_notification_stream(user).await.expect("open notification stream")
    }

    pub async fn try_notification_stream(
        &self,
        user: i64,
    ) -> Result<Streaming<StreamNotificationsResponse>, Status> {
        let request = self.req(user, StreamNotificationsRequest {});
        self.notification_client().stream_notifications(request).await.map(|r| r.into_inner())
    }

    /// A notification stream on a connection of its own whose client lets at most 1 KiB be
    /// in flight: until it is read, the server can send it hardly anything, so it falls
    /// behind.
    pub async fn slow_notification_stream(&self, user: i64) -> Streaming<StreamNotificationsResponse> {
        let slow = tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .expect("valid uri")
            .initial_stream_window_size(Some(1024))
            .connect_lazy();
        NotificationServiceClient::new(slow)
            .stream_notifications(self.req(user, StreamNotificationsRequest {}))
            .await
            .expect("open notification stream")
            .into_inner()
    }

    pub async fn start(
        &self,
        user: i64,
        target: Target,
        anonymous: bool,
        content: &str,
    ) -> Result<Conversation, Status> {
        let body = CreateConversationRequest { target: Some(target), anonymous, content: content.into() };
        self.client().create_conversation(self.req(user, body)).await.map(|r| r.into_inner())
    }

    pub async fn send(&self, user: i64, conversation_id: i64, content: &str) -> Result<Message, Status> {
        let body = SendMessageRequest { conversation_id, content: content.into() };
        self.client().send_message(self.req(user, body)).await.map(|r| r.into_inner())
    }

    pub async fn conversations(
        &self,
        user: i64,
        page_size: i32,
        page_token: &str,
    ) -> Result<ListConversationsResponse, Status> {
        let body = ListConversationsRequest { page_size, page_token: page_token.into() };
        self.client().list_conversations(self.req(user, body)).await.map(|r| r.into_inner())
    }

    /// The first page (up to 100) of a user's conversations.
    pub async fn inbox(&self, user: i64) -> Vec<Conversation> {
        self.conversations(user, 100, "").await.expect("list conversations").conversations
    }

    pub async fn messages(
        &self,
        user: i64,
        conversation_id: i64,
        page_size: i32,
        page_token: &str,
    ) -> Result<ListMessagesResponse, Status> {
        let body = ListMessagesRequest { conversation_id, page_size, page_token: page_token.into() };
        self.client().list_messages(self.req(user, body)).await.map(|r| r.into_inner())
    }

    pub async fn read(&self, user: i64, id: i64) -> Result<Conversation, Status> {
        self.client()
            .mark_conversation_read(self.req(user, MarkConversationReadRequest { id }))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn leave(&self, user: i64, id: i64) -> Result<(), Status> {
        self.client()
            .delete_conversation(self.req(user, DeleteConversationRequest { id }))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn block(&self, user: i64, id: i64) -> Result<Conversation, Status> {
        self.client()
            .block_conversation(self.req(user, BlockConversationRequest { id }))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn stream(&self, user: i64) -> Streaming<StreamMessagesResponse> {
        self.try_stream(user).await.expect("open stream")
    }

    pub async fn try_stream(&self, user: i64) -> Result<Streaming<StreamMessagesResponse>, Status> {
        self.client().stream_messages(self.req(user, StreamMessagesRequest {})).await.map(|r| r.into_inner())
    }
}

/// The next message of a stream, failing the test after two seconds.
pub async fn next_message(stream: &mut Streaming<StreamMessagesResponse>) -> Message {
    let next = tokio::time::timeout(std::time::Duration::from_secs(2), stream.message())
        .await
        .expect("a message within two seconds")
        .expect("stream ok")
        .expect("stream still open");
    next.message.expect("message set")
}

/// The next message with an id of at least `min_id`. A stream opened right after a message was
/// sent may still receive that earlier message (on PostgreSQL its NOTIFY can arrive after the
/// stream subscribed); callers that only care about later messages skip such stragglers.
pub async fn next_message_from(stream: &mut Streaming<StreamMessagesResponse>, min_id: i64) -> Message {
    loop {
        let message = next_message(stream).await;
        if message.id >= min_id {
            return message;
        }
    }
}

/// The next notification of a stream, failing the test after ten seconds (the feed's
/// allowance, DESIGN §8).
pub async fn next_notification(stream: &mut Streaming<StreamNotificationsResponse>) -> Notification {
    let next = tokio::time::timeout(std::time::Duration::from_secs(10), stream.message())
        .await
        .expect("a notification within ten seconds")
        .expect("stream ok")
        .expect("stream still open");
    next.notification.expect("notification set")
}
