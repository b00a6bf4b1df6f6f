//! Starts the real board server on port 0 against a fresh database and a temporary photo
//! directory, and the small helpers every test uses.

use std::net::SocketAddr;
use std::time::Duration;

use campus_board::domain::Thresholds;
use campus_board::domain::search::SearchLimits;
use campus_board::{Application, Config};
use campus_proto::board::v1 as pb;
use campus_proto::board::v1::board_internal_service_client::BoardInternalServiceClient;
use campus_proto::board::v1::board_service_client::BoardServiceClient;
use campus_proto::events::v1::event_feed_internal_service_client::EventFeedInternalServiceClient;
use campus_proto::events::v1::{Event, WatchEventsRequest};
use campus_shared::db::Backend;
use campus_testkit::{TestDatabase, TestIdentity, channel};
use tonic::transport::Channel;
use tonic::{Request, Status};

/// The school most tests' users belong to.
pub(crate) const SCHOOL: i64 = 1;
/// Another school, whose users must never see the first one's content.
pub(crate) const OTHER_SCHOOL: i64 = 2;
/// Small thresholds so tests reach HOT and BEST with a few likes.
pub(crate) const HOT: i64 = 3;
pub(crate) const BEST: i64 = 5;

/// A running board service and what tests need to talk to it.
#[derive(Debug)]
pub(crate) struct TestApp {
    pub(crate) client: BoardServiceClient<Channel>,
    pub(crate) internal: BoardInternalServiceClient<Channel>,
    /// Board's event feed, on the same port.
    pub(crate) feed: EventFeedInternalServiceClient<Channel>,
    pub(crate) identity: TestIdentity,
    pub(crate) backend: Backend,
    _db: TestDatabase,
    _photos: tempfile::TempDir,
}

/// Runs `test` once per backend against a fresh app.
pub(crate) async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    campus_testkit::each_backend(spawn_app, test).await
}

pub(crate) async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, SearchLimits::default()).await
}

/// [`spawn_app`] with other search bounds.
pub(crate) async fn spawn_app_with(backend: Backend, limits: SearchLimits) -> TestApp {
    let identity = TestIdentity::new();
    let db = TestDatabase::new(backend).await;
    let photos = tempfile::tempdir().expect("photo dir");
    let config = config(&identity, &db, &photos, Config::FIRST_PAGE_TTL);
    let addr = start(config, limits).await;
    let client = BoardServiceClient::new(channel(addr))
        .max_decoding_message_size(16 * 1024 * 1024)
        .max_encoding_message_size(16 * 1024 * 1024);
    TestApp {
        client,
        internal: BoardInternalServiceClient::new(channel(addr)),
        feed: EventFeedInternalServiceClient::new(channel(addr)),
        identity,
        backend,
        _db: db,
        _photos: photos,
    }
}

fn config(
    identity: &TestIdentity,
    db: &TestDatabase,
    photos: &tempfile::TempDir,
    first_page_ttl: Duration,
) -> Config {
    Config {
        service: identity.service_config(db),
        thresholds: Thresholds { hot: HOT, best: BEST },
        blob_url: photos.path().join("photos").display().to_string(),
        account_addr: String::new(),
        feed: Default::default(),
        first_page_ttl,
    }
}

/// Builds and starts a board service; its address.
async fn start(config: Config, limits: SearchLimits) -> SocketAddr {
    let app = Application::build_with(config, limits).await.expect("build app");
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    addr
}

impl TestApp {
    /// A second replica of the service on the same database and photos, whose boards' first
    /// pages are shared for `first_page_ttl`.
    pub(crate) async fn replica(&self, first_page_ttl: Duration) -> BoardServiceClient<Channel> {
        let config = config(&self.identity, &self._db, &self._photos, first_page_ttl);
        BoardServiceClient::new(channel(start(config, SearchLimits::default()).await))
    }

    /// The URL of the app's database, for checks that read it directly.
    pub(crate) fn db_url(&self) -> &str {
        &self._db.url
    }

    /// A request from a user of [`SCHOOL`] (nickname `user<id>`).
    pub(crate) fn req<T>(&self, message: T, user_id: i64) -> Request<T> {
        self.identity.request(message, user_id, SCHOOL)
    }

    /// A request from a user of another school.
    pub(crate) fn req_in<T>(&self, message: T, user_id: i64, school_id: i64) -> Request<T> {
        self.identity.request(message, user_id, school_id)
    }

    /// The next `count` events of board's feed after position `after`, read over
    /// `WatchEvents` with the service credential as consumer `test`. Waits for them (a stuck
    /// feed fails the test after a minute rather than hanging it).
    pub(crate) async fn events_after(&self, after: i64, count: usize) -> Vec<Event> {
        let request =
            self.identity.service_request(WatchEventsRequest { after, consumer: "test".into() }, None);
        let mut stream = self.feed.clone().watch_events(request).await.expect("watch events").into_inner();
        let mut events = Vec::new();
        let read = async {
            while events.len() < count {
                let batch = stream.message().await.expect("a batch of events").expect("the feed ended");
                events.extend(batch.events);
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), read)
            .await
            .unwrap_or_else(|_| panic!("{count} events after {after} did not come"));
        events
    }

    pub(crate) fn client(&self) -> BoardServiceClient<Channel> {
        self.client.clone()
    }

    pub(crate) async fn board(&self, user_id: i64, name: &str) -> pb::Board {
        self.board_in(user_id, SCHOOL, name, false).await
    }

    pub(crate) async fn board_in(
        &self,
        user_id: i64,
        school_id: i64,
        name: &str,
        hot_disabled: bool,
    ) -> pb::Board {
        let request = pb::CreateBoardRequest {
            name: name.into(),
            description: format!("{name} description"),
            category: pb::BoardCategory::General as i32,
            hot_disabled,
        };
        self.client()
            .create_board(self.req_in(request, user_id, school_id))
            .await
            .expect("create board")
            .into_inner()
    }

    pub(crate) async fn post(&self, user_id: i64, board_id: i64, title: &str, anonymous: bool) -> pb::Post {
        let request = pb::CreatePostRequest {
            board_id,
            title: title.into(),
            content: format!("{title} body"),
            anonymous,
        };
        self.client().create_post(self.req(request, user_id)).await.expect("create post").into_inner()
    }

    pub(crate) async fn get_post(&self, user_id: i64, id: i64) -> Result<pb::Post, Status> {
        Ok(self.client().get_post(self.req(pb::GetPostRequest { id }, user_id)).await?.into_inner())
    }

    pub(crate) async fn comment(
        &self,
        user_id: i64,
        post_id: i64,
        anonymous: bool,
        parent_id: Option<i64>,
    ) -> Result<pb::Comment, Status> {
        let request = pb::CreateCommentRequest {
            post_id,
            content: format!("comment by {user_id}"),
            anonymous,
            parent_id,
        };
        Ok(self.client().create_comment(self.req(request, user_id)).await?.into_inner())
    }

    pub(crate) async fn comments(&self, user_id: i64, post_id: i64) -> Vec<pb::Comment> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = pb::ListCommentsRequest { post_id, page_size: 7, page_token };
            let page = self
                .client()
                .list_comments(self.req(request, user_id))
                .await
                .expect("list comments")
                .into_inner();
            all.extend(page.comments);
            if page.next_page_token.is_empty() {
                return all;
            }
            page_token = page.next_page_token;
        }
    }

    pub(crate) async fn like(&self, user_id: i64, id: i64) -> Result<pb::Post, Status> {
        Ok(self.client().like_post(self.req(pb::LikePostRequest { id }, user_id)).await?.into_inner())
    }

    /// Every post of a board a user can see, following page tokens.
    pub(crate) async fn board_posts(&self, user_id: i64, board_id: i64, query: &str) -> Vec<pb::Post> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = pb::ListPostsRequest { board_id, page_size: 10, page_token, query: query.into() };
            let page =
                self.client().list_posts(self.req(request, user_id)).await.expect("list posts").into_inner();
            all.extend(page.posts);
            if page.next_page_token.is_empty() {
                return all;
            }
            page_token = page.next_page_token;
        }
    }
}
