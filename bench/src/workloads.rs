//! The calls of every workload, each checking its whole answer (status, grpc-status, the
//! fields that prove it was the right one), and the setup they need: tokens for the seeded
//! users, the lecture catalog and one timetable per worker.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use campus_proto::board::v1::board_service_client::BoardServiceClient;
use campus_proto::board::v1::{ListPostsRequest, ListPostsResponse};
use campus_proto::google::api::HttpBody;
use campus_proto::timetable::v1::timetable_service_client::TimetableServiceClient;
use campus_proto::timetable::v1::{
    AddTimetableLectureRequest, CreateTimetableRequest, ImportLecturesRequest,
};
use campus_shared::identity::{ACCESS_TOKEN_TTL, TokenIssuer};
use campus_shared::{Caller, Role};
use campus_testkit::bench::{Timed, grpc_web, lectures};
use http::HeaderValue;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::layout::{FALL, Layout, YEAR};

/// Calls in flight in every workload.
pub(crate) const IN_FLIGHT: usize = 64;
/// Connections a gRPC workload spreads its calls over (HTTP/2 multiplexes the rest).
const CHANNELS: usize = 8;
/// Posts per ListPosts page.
pub(crate) const PAGE: i32 = 20;

/// One call of a workload: `(worker, call number)` to its outcome.
pub(crate) type Call = Arc<dyn Fn(usize, u64) -> Pin<Box<dyn Future<Output = Timed> + Send>> + Send + Sync>;

/// A spread of call numbers over the seeded rows (splitmix64), so calls do not walk the
/// boards and users in step.
pub(crate) fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Pre-signed access tokens of every seeded user: signing per call would bill the load
/// generator's CPU to the workload.
#[derive(Debug)]
pub(crate) struct Tokens {
    grpc: Vec<MetadataValue<Ascii>>,
    http: Vec<HeaderValue>,
    admin: String,
}

/// Mints the tokens of one workload. Services refuse a token that lives longer than the
/// gateway's 15 minutes, so a run longer than that cannot share one set.
#[derive(Clone)]
pub(crate) struct TokenSource {
    pub(crate) issuer: TokenIssuer,
    pub(crate) layout: Layout,
}

impl TokenSource {
    pub(crate) fn fresh(&self) -> Arc<Tokens> {
        Arc::new(Tokens::mint(&self.issuer, &self.layout).expect("mint access tokens"))
    }
}

impl Tokens {
    pub(crate) fn mint(issuer: &TokenIssuer, layout: &Layout) -> anyhow::Result<Tokens> {
        let now = campus_shared::db::now_micros() / 1_000_000;
        let mut grpc = Vec::with_capacity(layout.users as usize);
        let mut http = Vec::with_capacity(layout.users as usize);
        for u in 0..layout.users {
            let caller = Caller {
                user_id: layout.user_id(u),
                school_id: layout.school_id(),
                role: Role::User,
                nickname: Layout::nickname(u),
            };
            let bearer = format!("Bearer {}", issuer.issue_with(&caller, now, ACCESS_TOKEN_TTL)?);
            grpc.push(bearer.parse()?);
            http.push(HeaderValue::from_str(&bearer)?);
        }
        let admin = Caller {
            user_id: layout.user_id(0),
            school_id: layout.school_id(),
            role: Role::Admin,
            nickname: "admin".into(),
        };
        let admin = format!("Bearer {}", issuer.issue_with(&admin, now, ACCESS_TOKEN_TTL)?);
        Ok(Tokens { grpc, http, admin })
    }

    pub(crate) fn grpc<T>(&self, message: T, user: u64) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert("authorization", self.grpc[user as usize % self.grpc.len()].clone());
        request
    }

    fn http(&self, user: u64) -> HeaderValue {
        self.http[user as usize % self.http.len()].clone()
    }
}

fn channels(addr: SocketAddr) -> Vec<Channel> {
    (0..CHANNELS).map(|_| campus_testkit::channel(addr)).collect()
}

/// An HTTP/1.1 client with a connection per call in flight, as browsers and apps talk to the
/// gateway.
pub(crate) fn http_client() -> reqwest::Client {
    http_client_builder().build().expect("HTTP client")
}

fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().http1_only().pool_max_idle_per_host(IN_FLIGHT).timeout(Duration::from_secs(30))
}

async fn timed<F: Future<Output = bool>>(call: F) -> Timed {
    let started = Instant::now();
    let ok = call.await;
    Timed { ok, latency: started.elapsed() }
}

/// R1: grpc.health.v1 Check against the hello-world server.
pub(crate) fn hello(addr: SocketAddr) -> Call {
    let clients: Arc<Vec<HealthClient<Channel>>> =
        Arc::new(channels(addr).into_iter().map(HealthClient::new).collect());
    Arc::new(move |_, i| {
        let mut client = clients[i as usize % CHANNELS].clone();
        Box::pin(timed(async move {
            client
                .check(HealthCheckRequest { service: String::new() })
                .await
                .is_ok_and(|r| r.get_ref().status == 1)
        }))
    })
}

/// A ListPosts page is right when it is full and every post is the board's.
fn full_page(posts: &[campus_proto::board::v1::Post], board_id: i64) -> bool {
    posts.len() == PAGE as usize && posts.iter().all(|p| p.board_id == board_id)
}

/// W1 (and "gRPC through the gateway"): ListPosts, first page of a random board, as a random
/// user, over gRPC to `addr`.
pub(crate) fn list_posts_grpc(addr: SocketAddr, layout: Layout, tokens: Arc<Tokens>) -> Call {
    let clients: Arc<Vec<BoardServiceClient<Channel>>> =
        Arc::new(channels(addr).into_iter().map(BoardServiceClient::new).collect());
    Arc::new(move |_, i| {
        let r = mix(i);
        let board_id = layout.board_id((r % layout.boards as u64) as i64);
        let request = ListPostsRequest { board_id, page_size: PAGE, ..Default::default() };
        let request = tokens.grpc(request, r >> 20);
        let mut client = clients[i as usize % CHANNELS].clone();
        Box::pin(timed(async move {
            client.list_posts(request).await.is_ok_and(|r| full_page(&r.get_ref().posts, board_id))
        }))
    })
}

/// W2: the same page through the gateway as HTTP/JSON.
pub(crate) fn list_posts_json(gateway: SocketAddr, layout: Layout, tokens: Arc<Tokens>) -> Call {
    list_posts_json_at(format!("http://{gateway}"), http_client(), layout, tokens)
}

/// W2 TLS: W2 over HTTPS (keep-alive HTTP/1.1, as W2), trusting the gateway's `cert` (PEM).
pub(crate) fn list_posts_json_tls(
    gateway: SocketAddr,
    cert: &[u8],
    layout: Layout,
    tokens: Arc<Tokens>,
) -> Call {
    let cert = reqwest::Certificate::from_pem(cert).expect("the run's certificate");
    let http = http_client_builder().add_root_certificate(cert).build().expect("HTTPS client");
    list_posts_json_at(format!("https://{gateway}"), http, layout, tokens)
}

fn list_posts_json_at(base: String, http: reqwest::Client, layout: Layout, tokens: Arc<Tokens>) -> Call {
    Arc::new(move |_, i| {
        let r = mix(i);
        let board_id = layout.board_id((r % layout.boards as u64) as i64);
        let request = http
            .get(format!("{base}/v1/boards/{board_id}/posts?pageSize={PAGE}"))
            .header("authorization", tokens.http(r >> 20));
        Box::pin(timed(async move {
            let Ok(response) = request.send().await else { return false };
            if response.status() != 200 {
                return false;
            }
            let Ok(body) = response.bytes().await else { return false };
            let Ok(json) = serde_json::from_slice::<serde_json::Value>(&body) else { return false };
            let board = board_id.to_string();
            json["posts"].as_array().is_some_and(|posts| {
                posts.len() == PAGE as usize
                    && posts.iter().all(|p| p["boardId"].as_str() == Some(board.as_str()))
            })
        }))
    })
}

/// W6: the same page through the gateway over gRPC-web (binary, HTTP/1.1).
pub(crate) fn list_posts_grpc_web(gateway: SocketAddr, layout: Layout, tokens: Arc<Tokens>) -> Call {
    let http = http_client();
    let url = format!("http://{gateway}/campus.board.v1.BoardService/ListPosts");
    Arc::new(move |_, i| {
        let r = mix(i);
        let board_id = layout.board_id((r % layout.boards as u64) as i64);
        let body = grpc_web::frame(&ListPostsRequest { board_id, page_size: PAGE, ..Default::default() });
        let request = http
            .post(&url)
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .header("authorization", tokens.http(r >> 20))
            .body(body);
        Box::pin(timed(async move {
            let Ok(response) = request.send().await else { return false };
            // A trailers-only answer (an error) carries grpc-status in the headers.
            let header_ok = response.headers().get("grpc-status").is_none_or(|s| s == "0");
            if response.status() != 200 || !header_ok {
                return false;
            }
            let Ok(body) = response.bytes().await else { return false };
            grpc_web::unframe::<ListPostsResponse>(&body).is_ok_and(|page| full_page(&page.posts, board_id))
        }))
    })
}

const TITLE: &str = "벤치마크 글: 오늘 학식 뭐 나와요?";
const CONTENT: &str = "2학식 돈까스 줄이 너무 길어서 편의점 가려고요. 다들 점심 어디서 드세요? \
                       도서관 3층 열람실은 자리 있나요?";
const COMMENT: &str = "저도 궁금해요! 정보 감사합니다";

/// What W3 posts and R2's CreatePost script inserts.
pub(crate) fn post_text() -> (&'static str, &'static str) {
    (TITLE, CONTENT)
}

/// What W4 comments and R2's CreateComment script inserts.
pub(crate) fn comment_text() -> &'static str {
    COMMENT
}

/// W3: CreatePost through the gateway as HTTP/JSON, on a random board, as a random user,
/// half of them anonymous.
pub(crate) fn create_post(gateway: SocketAddr, layout: Layout, tokens: Arc<Tokens>) -> Call {
    let http = http_client();
    let bodies: Arc<[bytes::Bytes; 2]> = Arc::new([false, true].map(|anonymous| {
        serde_json::json!({"title": TITLE, "content": CONTENT, "anonymous": anonymous}).to_string().into()
    }));
    Arc::new(move |_, i| {
        let r = mix(i);
        let board_id = layout.board_id((r % layout.boards as u64) as i64);
        let request = http
            .post(format!("http://{gateway}/v1/boards/{board_id}/posts"))
            .header("authorization", tokens.http(r >> 20))
            .header("content-type", "application/json")
            .body(bodies[(i % 2) as usize].clone());
        Box::pin(timed(async move {
            let Ok(response) = request.send().await else { return false };
            if response.status() != 201 {
                return false;
            }
            let Ok(json) = response.json::<serde_json::Value>().await else { return false };
            json["boardId"].as_str() == Some(board_id.to_string().as_str())
                && json["title"] == TITLE
                && json["id"].as_str().is_some_and(|id| !id.is_empty())
        }))
    })
}

/// "W4 notify": when each notifying comment was acknowledged, and when its notification
/// arrived on its author's stream (see `notify.rs`).
#[derive(Debug, Default)]
pub(crate) struct Deliveries {
    acknowledged: Mutex<HashMap<i64, Instant>>,
    arrived: Mutex<HashMap<i64, Instant>>,
}

impl Deliveries {
    /// A comment `comment_id` that should notify its post's author was acknowledged now.
    pub(crate) fn acknowledged(&self, comment_id: i64) {
        self.acknowledged.lock().expect("deliveries").insert(comment_id, Instant::now());
    }

    pub(crate) fn arrived(&self, comment_id: i64) {
        self.arrived.lock().expect("deliveries").entry(comment_id).or_insert_with(Instant::now);
    }

    pub(crate) fn missing(&self) -> usize {
        let arrived = self.arrived.lock().expect("deliveries");
        self.acknowledged.lock().expect("deliveries").keys().filter(|id| !arrived.contains_key(id)).count()
    }

    /// When each comment was acknowledged, and when each notification arrived.
    pub(crate) fn times(&self) -> (HashMap<i64, Instant>, HashMap<i64, Instant>) {
        let acknowledged = self.acknowledged.lock().expect("deliveries").clone();
        let arrived = self.arrived.lock().expect("deliveries").clone();
        (acknowledged, arrived)
    }
}

/// W4: CreateComment on one of the hot posts (all 64 workers on 10 posts, so they queue on
/// the post rows' locks), through the gateway as HTTP/JSON, as a random user. With
/// `deliveries` ("W4 notify"), each comment that should notify its post's author (the writer
/// is someone else) is recorded as it is acknowledged.
pub(crate) fn create_comment(
    gateway: SocketAddr,
    layout: Layout,
    tokens: Arc<Tokens>,
    deliveries: Option<Arc<Deliveries>>,
) -> Call {
    let http = http_client();
    let hot: Arc<Vec<(i64, i64)>> =
        Arc::new(layout.hot_posts().map(|n| (layout.post_id(n), layout.post_author(n))).collect());
    let body: bytes::Bytes = serde_json::json!({"content": COMMENT, "anonymous": false}).to_string().into();
    Arc::new(move |_, i| {
        let r = mix(i);
        let (post_id, author) = hot[(r % hot.len() as u64) as usize];
        let writer = (r >> 20) % layout.users as u64;
        let notifies = deliveries.clone().filter(|_| writer != author as u64);
        let request = http
            .post(format!("http://{gateway}/v1/posts/{post_id}/comments"))
            .header("authorization", tokens.http(writer))
            .header("content-type", "application/json")
            .body(body.clone());
        Box::pin(timed(async move {
            let Ok(response) = request.send().await else { return false };
            if response.status() != 201 {
                return false;
            }
            let Ok(json) = response.json::<serde_json::Value>().await else { return false };
            let id = json["id"].as_str().and_then(|id| id.parse::<i64>().ok());
            if let (Some(deliveries), Some(id)) = (notifies, id) {
                deliveries.acknowledged(id);
            }
            id.is_some()
                && json["postId"].as_str() == Some(post_id.to_string().as_str())
                && json["content"] == COMMENT
        }))
    })
}

/// The timetable workload's fixture: one timetable per worker holding the anchor lecture,
/// and the lectures that collide with the anchor or fit beside it.
#[derive(Debug, Clone)]
pub(crate) struct Timetables {
    /// `(owner's user number, timetable id)` per worker.
    pub(crate) owned: Vec<(i64, i64)>,
    pub(crate) conflicting: Vec<i64>,
    pub(crate) fitting: Vec<i64>,
}

/// Imports the lecture catalog (the seed's one step that goes through a service: the import
/// is what builds the slot rows and folded search columns).
pub(crate) async fn import_lectures(
    timetable: SocketAddr,
    layout: &Layout,
    tokens: &Tokens,
) -> anyhow::Result<()> {
    let csv = lectures::catalog(layout.lectures as usize);
    let request = ImportLecturesRequest {
        school_id: layout.school_id(),
        year: YEAR,
        semester: FALL,
        csv: Some(HttpBody { content_type: "text/csv".into(), data: csv.into_bytes(), extensions: vec![] }),
    };
    let mut request = tonic::Request::new(request);
    request.metadata_mut().insert("authorization", tokens.admin.parse()?);
    let imported = TimetableServiceClient::new(campus_testkit::channel(timetable))
        .import_lectures(request)
        .await
        .context("import the lecture catalog")?
        .into_inner()
        .imported;
    if imported as i64 != layout.lectures {
        bail!("imported {imported} lectures, expected {}", layout.lectures);
    }
    Ok(())
}

/// Makes one timetable per worker (owned by users 0..IN_FLIGHT) holding the anchor lecture.
pub(crate) async fn timetables(timetable: SocketAddr, tokens: &Tokens) -> anyhow::Result<Timetables> {
    let client = TimetableServiceClient::new(campus_testkit::channel(timetable));
    let all = campus_testkit::timetable::all_lectures(&client, YEAR, FALL, |r| tokens.grpc(r, 0)).await?;
    let (anchor, conflicting, fitting) = lectures::around_anchor(&all).context("no lectures")?;
    if conflicting.is_empty() || fitting.is_empty() {
        bail!("the catalog has no lectures that collide with or fit beside the anchor");
    }
    let mut owned = Vec::new();
    for user in 0..IN_FLIGHT as u64 {
        let create = CreateTimetableRequest { year: YEAR, semester: FALL, name: String::new() };
        let id = client.clone().create_timetable(tokens.grpc(create, user)).await?.into_inner().id;
        let add = AddTimetableLectureRequest { timetable_id: id, lecture_id: anchor.id };
        client.clone().add_timetable_lecture(tokens.grpc(add, user)).await?;
        owned.push((user as i64, id));
    }
    Ok(Timetables { owned, conflicting, fitting })
}

/// W5: AddTimetableLecture through the gateway as HTTP/JSON, half of the attempts colliding
/// with the anchor (answered 400 with reason TIME_CONFLICT) and half fitting (answered 200,
/// then removed again, unmeasured, so the timetable never fills up).
pub(crate) fn add_lecture(gateway: SocketAddr, fixture: Arc<Timetables>, tokens: Arc<Tokens>) -> Call {
    let http = http_client();
    Arc::new(move |worker, i| {
        let (user, timetable_id) = fixture.owned[worker % fixture.owned.len()];
        let conflict = i % 2 == 0;
        let r = mix(i) as usize;
        let lecture_id = if conflict {
            fixture.conflicting[r % fixture.conflicting.len()]
        } else {
            fixture.fitting[r % fixture.fitting.len()]
        };
        let token = tokens.http(user as u64);
        let add = http
            .post(format!("http://{gateway}/v1/timetables/{timetable_id}/lectures"))
            .header("authorization", token.clone())
            .header("content-type", "application/json")
            .body(serde_json::json!({ "lectureId": lecture_id.to_string() }).to_string());
        let remove = http
            .delete(format!("http://{gateway}/v1/timetables/{timetable_id}/lectures/{lecture_id}"))
            .header("authorization", token);
        Box::pin(async move {
            let started = Instant::now();
            let response = add.send().await;
            let (status, body) = match response {
                Ok(r) => (r.status().as_u16(), r.bytes().await.unwrap_or_default()),
                Err(_) => (0, Default::default()),
            };
            let latency = started.elapsed();
            let text = String::from_utf8_lossy(&body);
            let ok = if conflict {
                status == 400 && text.contains("TIME_CONFLICT")
            } else {
                status == 200 && text.contains(&format!("\"{lecture_id}\""))
            };
            let mut undone = true;
            if status == 200 {
                undone = remove.send().await.is_ok_and(|r| r.status() == 200);
            }
            Timed { ok: ok && undone, latency }
        })
    })
}

/// What W7 searches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SearchKind {
    /// Two-syllable words in most posts: the page fills from the newest posts.
    Common,
    /// A title's last syllables and its number ("학식 #48213"): one to a dozen posts.
    Rare,
    /// Korean words in no post: the case that scanned every post before the index.
    Absent,
    /// Latin words (none in the seeded posts, some in the ones W3 wrote).
    Latin,
}

const COMMON: [&str; 6] = ["학식", "서버", "자리", "수강", "범위", "메뉴"];
const ABSENT: [&str; 5] = ["기숙사 통금", "통금", "장학금", "휴학 신청", "축제 티켓"];
const LATIN: [&str; 5] = ["wifi", "Rust", "exam", "zoom lecture", "MT"];

/// The query of call `r` of a kind, and whether the answer must fill the page.
fn search_query(kind: SearchKind, layout: &Layout, r: u64) -> String {
    let pick = |words: &[&str]| words[(r % words.len() as u64) as usize].to_string();
    match kind {
        SearchKind::Common => pick(&COMMON),
        SearchKind::Absent => pick(&ABSENT),
        SearchKind::Latin => pick(&LATIN),
        SearchKind::Rare => {
            // The seeded title of post n: a slice of TITLES, then " #n" (seed.rs).
            let n = 1 + (r % layout.posts as u64) as i64;
            let titles: Vec<char> = crate::seed::TITLES.chars().collect();
            let start = (n % 40) as usize;
            let end = (start + 6 + (n % 17) as usize).min(titles.len());
            let tail: String = titles[end.saturating_sub(2)..end].iter().collect();
            format!("{tail} #{n}")
        }
    }
}

/// W7: SearchPosts school-wide over gRPC to `addr`, as a random user. An answer is right
/// when every post holds the query (case aside), common words fill the page and rare
/// phrases find their post.
pub(crate) fn search_posts(addr: SocketAddr, layout: Layout, tokens: Arc<Tokens>, kind: SearchKind) -> Call {
    use campus_proto::board::v1::SearchPostsRequest;
    let clients: Arc<Vec<BoardServiceClient<Channel>>> =
        Arc::new(channels(addr).into_iter().map(BoardServiceClient::new).collect());
    Arc::new(move |_, i| {
        let r = mix(i);
        let query = search_query(kind, &layout, r);
        let request = SearchPostsRequest { query: query.clone(), page_size: PAGE, page_token: String::new() };
        let request = tokens.grpc(request, r >> 20);
        let mut client = clients[i as usize % CHANNELS].clone();
        Box::pin(timed(async move {
            let Ok(page) = client.search_posts(request).await else { return false };
            search_answer_is_right(kind, &query, &page.get_ref().posts)
        }))
    })
}

/// Whether a W7 answer is right: every post holds the query (case aside, trimmed as the
/// service trims it), common words fill the page, rare phrases find their post and absent
/// words nothing.
fn search_answer_is_right(kind: SearchKind, query: &str, posts: &[campus_proto::board::v1::Post]) -> bool {
    let wanted = query.trim().to_lowercase();
    let all_match = posts.iter().all(|p| listed_text(p).to_lowercase().contains(&wanted));
    all_match
        && match kind {
            SearchKind::Common => posts.len() == PAGE as usize,
            SearchKind::Rare => !posts.is_empty(),
            SearchKind::Absent => posts.is_empty(),
            SearchKind::Latin => true,
        }
}

/// The text a search matched in a listed post: its title, and its content, which lists leave
/// out. A seeded post's content is known from the number its title ends in (" #n"); any other
/// post's only as far as its preview goes.
fn listed_text(post: &campus_proto::board::v1::Post) -> String {
    let seeded = post.title.rsplit_once(" #").and_then(|(_, n)| n.parse::<i64>().ok());
    let content = match seeded {
        Some(n) => crate::seed::seeded_content(n),
        None => post.content_preview.clone(),
    };
    format!("{}\n{content}", post.title)
}

#[cfg(test)]
mod search_tests {
    use super::*;
    use campus_proto::board::v1::Post;

    /// Post 77's title slice ends in " 신", so its rare query starts with a space; the
    /// service searches "신 #77…", which post 770,123's "…수강신 #770123" holds as well.
    #[test]
    fn a_rare_query_is_checked_as_the_service_trims_it() {
        let layout = Layout::new(1.0, 0);
        let query = search_query(SearchKind::Rare, &layout, 76);
        assert_eq!(query, " 신 #77");
        let post = |title: &str| Post { title: title.into(), ..Default::default() };
        let found = [post("동아리 신 #77"), post("요 수강신 #770123")];
        assert!(search_answer_is_right(SearchKind::Rare, &query, &found));
        assert!(!search_answer_is_right(SearchKind::Rare, "신 #78", &found));
        assert!(!search_answer_is_right(SearchKind::Rare, &query, &[]));
    }

    /// Lists carry no content: a common word found past a seeded post's preview is checked
    /// against the content the seed wrote for it.
    #[test]
    fn a_common_word_is_checked_against_the_seeded_content() {
        let n = 9;
        let content = crate::seed::seeded_content(n);
        assert_eq!(content.chars().count(), 30);
        let preview: String = content.chars().take(10).collect();
        let word: String = content.chars().skip(20).take(2).collect();
        assert!(!preview.contains(&word), "{word} must lie past the preview");
        let post = Post { title: format!("나와요 #{n}"), content_preview: preview, ..Default::default() };
        let found = vec![post; PAGE as usize];
        assert!(search_answer_is_right(SearchKind::Common, &word, &found));
        assert!(!search_answer_is_right(SearchKind::Common, "기숙사 통금", &found));
        assert!(!search_answer_is_right(SearchKind::Common, &word, &found[1..]));
    }
}
