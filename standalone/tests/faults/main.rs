//! Fault tests with real processes on loopback, as production runs campus: every service and
//! the gateway are their own binaries (found next to this test binary; `cargo test
//! --workspace` builds them). A load loop hits the gateway while a test kills a service,
//! restarts PostgreSQL, sends SIGTERM, or pushes the gateway past its concurrency limit; every
//! request is bounded by a client timeout, and every write that got a 2xx is read back.
//!
//! The tests run one at a time (they measure latencies on a small machine) and print a
//! summary line each (`--nocapture` shows it): what was tried, what came back, what was lost.
//! Run alone (`cargo test -p campus --test faults`), they use the binaries already built:
//! after changing a service, rebuild it (`cargo build --workspace --bins`) or run the tests
//! through `cargo test --workspace`. The PostgreSQL restart test runs when
//! `CAMPUS_TEST_PG_URL` is set, on a private cluster of its own (it needs initdb and pg_ctl).
//! `notify` does the same to notifications: messaging or board down or killed while comments
//! are written, and two messaging replicas. `search` kills board's search indexer in the
//! middle of a backlog.

mod deployment;
mod feed;
mod kill;
mod load;
mod notify;
mod overload;
mod pg_cluster;
mod pg_restart;
mod search;
mod sigterm;

use std::time::Duration;

use deployment::Deployment;
use load::Sample;
use serde_json::{Value, json};

/// The fault tests measure time; running two at once on two cores would measure each other.
/// (A tokio mutex: it is held across awaits, and each test has its own runtime.)
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// A pool on a service's own database, to read or write behind its back.
async fn pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url).await.expect("connect")
}

/// The school every user of these tests belongs to (tokens are minted, not signed up).
const SCHOOL: i64 = 1;

/// Every request of a load is given up after this long and counted as a hang.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(6);

/// A user's token and the gateway's base URL.
#[derive(Clone)]
struct User {
    base: String,
    token: String,
}

impl User {
    fn new(deployment: &Deployment, id: i64) -> Self {
        Self { base: deployment.base.clone(), token: deployment.token(id, SCHOOL) }
    }

    fn request(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token)
    }

    fn get(&self, http: &reqwest::Client, path: &str) -> reqwest::RequestBuilder {
        self.request(http, reqwest::Method::GET, path)
    }

    fn post(&self, http: &reqwest::Client, path: &str, body: Value) -> reqwest::RequestBuilder {
        self.request(http, reqwest::Method::POST, path).json(&body)
    }

    /// Sends a request and returns the status and JSON body, panicking on a transport error.
    async fn call(&self, request: reqwest::RequestBuilder) -> (u16, Value) {
        let response = request.send().await.expect("the gateway answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn create_board(&self, http: &reqwest::Client) -> String {
        let body = json!({"name": "장애 대비 게시판", "description": "faults", "category": "BOARD_CATEGORY_GENERAL"});
        let (status, board) = self.call(self.post(http, "/v1/boards", body)).await;
        assert_eq!(status, 201, "create board: {board}");
        board["id"].as_str().expect("board id").to_string()
    }

    async fn create_post(&self, http: &reqwest::Client, board: &str, title: &str) -> String {
        let body = json!({"title": title, "content": "본문", "anonymous": false});
        let (status, post) = self.call(self.post(http, &format!("/v1/boards/{board}/posts"), body)).await;
        assert_eq!(status, 201, "create post: {post}");
        post["id"].as_str().expect("post id").to_string()
    }
}

/// The load worker that creates posts: `POST /v1/boards/{board}/posts`, title `<tag>-<n>`.
fn create_posts(user: &User, board: &str, tag: &'static str) -> load::Worker {
    let (user, path) = (user.clone(), format!("/v1/boards/{board}/posts"));
    load::worker("board:create", move |http, n| {
        user.post(http, &path, json!({"title": format!("{tag}-{n}"), "content": "부하", "anonymous": false}))
    })
}

/// The load worker that reads one post.
fn read_post(user: &User, post: &str) -> load::Worker {
    let (user, path) = (user.clone(), format!("/v1/posts/{post}"));
    load::worker("board:read", move |http, _| user.get(http, &path))
}

/// The load worker on another service: the caller's grades (timetable).
fn read_grades(user: &User) -> load::Worker {
    let user = user.clone();
    load::worker("timetable:read", move |http, _| user.get(http, "/v1/me/grades"))
}

/// The ids and titles of the posts whose create got a 2xx.
fn accepted_posts(samples: &[Sample]) -> Vec<(String, String)> {
    samples
        .iter()
        .filter(|s| s.route == "board:create" && s.ok())
        .map(|s| {
            let body = s.body();
            (body["id"].as_str().expect("id").to_string(), body["title"].as_str().expect("title").to_string())
        })
        .collect()
}

/// Reads every accepted post back; returns the ones that are missing or changed.
async fn lost_posts(user: &User, http: &reqwest::Client, accepted: &[(String, String)]) -> Vec<String> {
    let mut lost = Vec::new();
    for (id, title) in accepted {
        let (status, post) = user.call(user.get(http, &format!("/v1/posts/{id}"))).await;
        if status != 200 || post["title"] != title.as_str() {
            lost.push(format!("{id} ({title}): {status} {post}"));
        }
    }
    lost
}

/// Samples that are neither a 2xx nor one of the `allowed` statuses (hangs and transport
/// errors included), for assertion messages.
fn unexpected<'a>(samples: impl IntoIterator<Item = &'a Sample>, allowed: &[u16]) -> Vec<String> {
    samples
        .into_iter()
        .filter(|s| !s.ok() && !s.status().is_some_and(|status| allowed.contains(&status)))
        .map(|s| format!("{} at {:?} after {:?}: {:?}", s.route, s.at, s.took, s.outcome))
        .collect()
}

/// A 503 from the gateway is the UNAVAILABLE error body.
fn assert_unavailable_bodies(samples: &[Sample]) {
    for sample in samples.iter().filter(|s| s.status() == Some(503)) {
        assert_eq!(sample.body()["code"], 14, "a 503 carries code UNAVAILABLE: {sample:?}");
        assert!(sample.body()["message"].as_str().is_some_and(|m| !m.is_empty()), "{sample:?}");
    }
}
