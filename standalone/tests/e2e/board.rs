//! The board (issue 5) as a web or mobile client sees it: every rule checked over HTTP/JSON
//! through the gateway on each backend — boards and pins, posts, keyset lists, HOT/BEST,
//! search, "my" lists, comments with anonymous numbering, likes, scraps, reports, photos as
//! raw bytes, school isolation, exact counters under concurrency, refused input that leaves
//! nothing behind, and the internal author lookup the gateway never serves.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicI64, Ordering};

use campus_proto::board::v1 as pb;
use campus_proto::board::v1::board_internal_service_client::BoardInternalServiceClient;
use campus_proto::board::v1::board_service_client::BoardServiceClient;
use campus_proto::board::v1::get_content_author_request::Target;
use campus_shared::identity::{Caller, Role};
use campus_testkit::backends;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::images;
use crate::support::{BEST, Client, HOT, Reply, School, TestSystem, User};

/// The boards the demo seed gives every school, in creation order.
const SEEDED_BOARDS: [&str; 9] = [
    "자유게시판",
    "비밀게시판",
    "졸업생게시판",
    "새내기게시판",
    "시사·이슈",
    "장터게시판",
    "정보게시판",
    "홍보게시판",
    "동아리·학회",
];

/// Just enough of each format's header for the content sniffing.
static PNG: LazyLock<Vec<u8>> = LazyLock::new(images::png);
static JPEG: LazyLock<Vec<u8>> = LazyLock::new(images::jpeg);
static GIF: LazyLock<Vec<u8>> = LazyLock::new(images::gif);
static WEBP: LazyLock<Vec<u8>> = LazyLock::new(images::webp);

const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// helpers

/// Several users of one school, signed up at once (`{prefix}{n}`).
async fn users(sys: &TestSystem, prefix: &str, count: usize, school: School) -> Vec<User> {
    join_all((0..count).map(|n| async move { sys.user(&format!("{prefix}{n:02}"), school).await })).await
}

/// `count` members of a school for crowd scenes (likers, reporters, concurrent commenters):
/// tokens signed exactly as the gateway signs them at login, without a password hash per
/// member. The board trusts only the token, so what they see is what a signed-up user sees;
/// the actors whose accounts matter sign up with [`TestSystem::user`].
async fn crowd(sys: &TestSystem, prefix: &str, count: usize, school: School) -> Vec<User> {
    static NEXT_ID: AtomicI64 = AtomicI64::new(9_000_000_000);
    let (school_id, _) = sys.school(school).await;
    (0..count)
        .map(|n| {
            let user_id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let nickname = format!("닉{prefix}{n:02}");
            let caller = Caller {
                user_id,
                school_id: school_id.parse().expect("a school id"),
                role: Role::User,
                nickname: nickname.clone(),
            };
            let mut client = sys.anonymous();
            client.token = Some(sys.system.issuer.issue(&caller).expect("a token"));
            User {
                id: user_id.to_string(),
                login_id: format!("{prefix}{n:02}"),
                nickname,
                school_id: school_id.clone(),
                client,
            }
        })
        .collect()
}

/// Percent-encodes a query value.
fn q(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn id(item: &Value) -> String {
    item["id"].as_str().unwrap_or_else(|| panic!("an id in {item}")).to_string()
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id).collect()
}

fn list(body: &Value, field: &str) -> Vec<Value> {
    body[field].as_array().unwrap_or_else(|| panic!("a {field} list in {body}")).clone()
}

/// Every item of a list, following `nextPageToken`; every page but the last is full.
async fn all_pages(client: &Client, path: &str, field: &str, page_size: usize) -> Vec<Value> {
    let join = if path.contains('?') { '&' } else { '?' };
    let mut items = Vec::new();
    let mut token = String::new();
    for _ in 0..100 {
        let page =
            client.get(&format!("{path}{join}pageSize={page_size}&pageToken={}", q(&token))).await.ok();
        let got = list(&page, field);
        let next = page["nextPageToken"].as_str().expect("nextPageToken").to_string();
        if next.is_empty() {
            assert!(got.len() <= page_size, "{path}: {page}");
            items.extend(got);
            return items;
        }
        assert_eq!(got.len(), page_size, "{path}: a page before the last is full: {page}");
        items.extend(got);
        token = next;
    }
    panic!("{path}: more than 100 pages");
}

async fn post_with(user: &Client, board: &str, title: &str, content: &str, anonymous: bool) -> Reply {
    user.post(
        &format!("/v1/boards/{board}/posts"),
        json!({"title": title, "content": content, "anonymous": anonymous}),
    )
    .await
}

/// A post that must be created; its JSON.
async fn write_post(user: &Client, board: &str, title: &str, anonymous: bool) -> Value {
    let reply = post_with(user, board, title, &format!("{title} 본문"), anonymous).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body
}

async fn read_post(user: &Client, post: &str) -> Value {
    user.get(&format!("/v1/posts/{post}")).await.ok()
}

async fn comment(user: &Client, post: &str, content: &str, anonymous: bool, parent: Option<&str>) -> Reply {
    let mut body = json!({"content": content, "anonymous": anonymous});
    if let Some(parent) = parent {
        body["parentId"] = json!(parent);
    }
    user.post(&format!("/v1/posts/{post}/comments"), body).await
}

/// A comment that must be created; its JSON.
async fn write_comment(user: &Client, post: &str, anonymous: bool, parent: Option<&str>) -> Value {
    let reply = comment(user, post, "댓글입니다", anonymous, parent).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body
}

async fn comments(user: &Client, post: &str) -> Vec<Value> {
    all_pages(user, &format!("/v1/posts/{post}/comments"), "comments", 3).await
}

async fn like(user: &Client, post: &str) -> Reply {
    user.post(&format!("/v1/posts/{post}:like"), json!({})).await
}

async fn like_comment(user: &Client, comment: &str) -> Reply {
    user.post(&format!("/v1/comments/{comment}:like"), json!({})).await
}

async fn scrap(user: &Client, post: &str) -> Reply {
    user.send(Method::PUT, &format!("/v1/posts/{post}/scrap"), None).await
}

async fn unscrap(user: &Client, post: &str) -> Reply {
    user.delete(&format!("/v1/posts/{post}/scrap")).await
}

async fn upload(user: &Client, post: &str, content_type: &str, bytes: &[u8]) -> Reply {
    user.send_bytes(Method::POST, &format!("/v1/posts/{post}/photos"), content_type, bytes.to_vec()).await
}

async fn board_posts(user: &Client, board: &str) -> Vec<Value> {
    all_pages(user, &format!("/v1/boards/{board}/posts"), "posts", 4).await
}

async fn hot(user: &Client) -> Vec<String> {
    ids(&list(&user.get("/v1/hot-posts").await.ok(), "posts"))
}

async fn best(user: &Client) -> Vec<String> {
    ids(&list(&user.get("/v1/best-posts").await.ok(), "posts"))
}

async fn search(user: &Client, query: &str) -> Vec<String> {
    ids(&all_pages(user, &format!("/v1/posts:search?query={}", q(query)), "posts", 2).await)
}

/// How a post's or comment's author is shown: (displayName, isAnonymous, isMe).
fn author(item: &Value) -> (String, bool, bool) {
    let a = &item["author"];
    (a["displayName"].as_str().expect("displayName").to_string(), a["isAnonymous"] == true, a["isMe"] == true)
}

/// How a comment's author is shown: (displayName, isAnonymous, isPostAuthor).
fn commenter(item: &Value) -> (String, bool, bool) {
    let a = &item["author"];
    (
        a["displayName"].as_str().expect("displayName").to_string(),
        a["isAnonymous"] == true,
        a["isPostAuthor"] == true,
    )
}

/// The (likeCount, commentCount, scrapCount) of a post.
fn counts(post: &Value) -> (i64, i64, i64) {
    let n = |f: &str| post[f].as_i64().unwrap_or_else(|| panic!("{f} in {post}"));
    (n("likeCount"), n("commentCount"), n("scrapCount"))
}

// ---------------------------------------------------------------------------------------------
// boards

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boards_are_the_schools_own_and_pins_are_each_users() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let (alice, bora, sam) = futures::join!(
            sys.user("alice01", School::Hanbit),
            sys.user("bora01", School::Hanbit),
            sys.user("sam001", School::Saesol),
        );

        // The seeded boards, in creation order, all of the caller's school.
        let boards = list(&alice.get("/v1/boards").await.ok(), "boards");
        let names: Vec<&str> = boards.iter().map(|b| b["name"].as_str().unwrap()).collect();
        assert_eq!(names, SEEDED_BOARDS, "{backend:?}");
        assert!(boards.iter().all(|b| b["schoolId"] == alice.school_id.as_str() && b["pinned"] == false));
        let by_name = |name: &str| boards.iter().find(|b| b["name"] == name).unwrap().clone();
        let free = by_name("자유게시판");
        assert_eq!(
            (free["category"].as_str(), free["hotDisabled"].as_bool()),
            (Some("BOARD_CATEGORY_GENERAL"), Some(false))
        );
        let market = by_name("장터게시판");
        assert_eq!(
            (market["category"].as_str(), market["hotDisabled"].as_bool()),
            (Some("BOARD_CATEGORY_MARKET"), Some(true))
        );
        assert_eq!(by_name("비밀게시판")["category"], "BOARD_CATEGORY_SECRET");
        assert_eq!(ids(&all_pages(&alice, "/v1/boards", "boards", 4).await), ids(&boards), "keyset pages");

        // The other school has boards of the same names, none of them shared.
        let theirs = list(&sam.get("/v1/boards").await.ok(), "boards");
        assert_eq!(theirs.len(), SEEDED_BOARDS.len());
        assert!(theirs.iter().all(|b| b["schoolId"] == sam.school_id.as_str()));
        let mine: HashSet<String> = ids(&boards).into_iter().collect();
        assert!(ids(&theirs).iter().all(|b| !mine.contains(b)), "{backend:?}: no board is shared");

        let got = alice.get(&format!("/v1/boards/{}", id(&free))).await.ok();
        assert_eq!(
            (got["name"].as_str(), got["description"].as_str()),
            (Some("자유게시판"), Some("자유롭게 이야기하는 곳"))
        );
        sam.get(&format!("/v1/boards/{}", id(&free))).await.expect_error(404, "NOT_FOUND");
        alice.get("/v1/boards/987654321").await.expect_error(404, "NOT_FOUND");

        // A student creates a board for their school.
        let study = json!({"name": "스터디게시판", "description": "같이 공부해요", "category": "BOARD_CATEGORY_INFO"});
        let created = alice.post("/v1/boards", study.clone()).await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
        let created = created.body;
        assert_eq!(
            (created["name"].as_str(), created["category"].as_str(), created["schoolId"].as_str()),
            (Some("스터디게시판"), Some("BOARD_CATEGORY_INFO"), Some(alice.school_id.as_str()))
        );
        assert_eq!(
            (created["hotDisabled"].as_bool(), created["pinned"].as_bool()),
            (Some(false), Some(false))
        );
        let seen = list(&bora.get("/v1/boards").await.ok(), "boards");
        assert_eq!(seen.last().map(id), Some(id(&created)), "newest board last");
        assert!(!ids(&list(&sam.get("/v1/boards").await.ok(), "boards")).contains(&id(&created)));
        sam.get(&format!("/v1/boards/{}", id(&created))).await.expect_error(404, "NOT_FOUND");
        // Names are unique per school only.
        bora.post("/v1/boards", study.clone()).await.expect_error(409, "BOARD_NAME_TAKEN");
        assert_eq!(sam.post("/v1/boards", study).await.status, StatusCode::CREATED);

        let bad = alice
            .post(
                "/v1/boards",
                json!({"name": " ", "description": "d".repeat(201), "category": "BOARD_CATEGORY_UNSPECIFIED"}),
            )
            .await;
        bad.expect_error(400, "INVALID_ARGUMENT");
        assert_eq!(bad.violations(), ["name", "description", "category"]);
        let unknown_category =
            alice.post("/v1/boards", json!({"name": "새 게시판", "category": "BOARD_CATEGORY_NOPE"})).await;
        unknown_category.expect_error(400, "INVALID_ARGUMENT");
        assert_eq!(unknown_category.violations(), ["category"]);
        let after = list(&alice.get("/v1/boards").await.ok(), "boards");
        assert_eq!(after.len(), SEEDED_BOARDS.len() + 1, "{backend:?}: refused boards leave nothing");

        // Pins: per user, listed in the order they were pinned, marked on every board read.
        let (info, club) = (id(&by_name("정보게시판")), id(&by_name("동아리·학회")));
        let pin = |user: &User, board: &str| {
            let path = format!("/v1/me/pinned-boards/{board}");
            let client = user.client.clone();
            async move { client.send(Method::PUT, &path, None).await }
        };
        let pinned = pin(&alice, &club).await.ok();
        assert_eq!((id(&pinned), pinned["pinned"].as_bool()), (club.clone(), Some(true)));
        pin(&alice, &info).await.ok();
        pin(&alice, &club).await.ok();
        let mine = list(&alice.get("/v1/me/pinned-boards").await.ok(), "boards");
        assert_eq!(ids(&mine), [club.clone(), info.clone()], "{backend:?}: first pinned first, once each");
        assert!(mine.iter().all(|b| b["pinned"] == true));
        assert!(list(&bora.get("/v1/me/pinned-boards").await.ok(), "boards").is_empty());
        let flagged: Vec<String> = list(&alice.get("/v1/boards").await.ok(), "boards")
            .iter()
            .filter(|b| b["pinned"] == true)
            .map(id)
            .collect();
        assert_eq!(flagged, [info.clone(), club.clone()], "the board list marks the caller's pins");
        assert!(list(&bora.get("/v1/boards").await.ok(), "boards").iter().all(|b| b["pinned"] == false));
        assert_eq!(alice.get(&format!("/v1/boards/{club}")).await.ok()["pinned"], true);
        assert_eq!(bora.get(&format!("/v1/boards/{club}")).await.ok()["pinned"], false);

        let unpinned = alice.delete(&format!("/v1/me/pinned-boards/{club}")).await;
        assert_eq!(unpinned.status, StatusCode::NO_CONTENT, "{unpinned:?}");
        assert_eq!(
            alice.delete(&format!("/v1/me/pinned-boards/{club}")).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(ids(&list(&alice.get("/v1/me/pinned-boards").await.ok(), "boards")), [info.as_str()]);

        pin(&sam, &info).await.expect_error(404, "NOT_FOUND");
        sam.delete(&format!("/v1/me/pinned-boards/{info}")).await.expect_error(404, "NOT_FOUND");
        pin(&alice, "987654321").await.expect_error(404, "NOT_FOUND");
        assert!(list(&sam.get("/v1/me/pinned-boards").await.ok(), "boards").is_empty());
        sys.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// posts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_are_named_or_anonymous_and_only_their_author_edits_or_deletes() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let (alice, bora) =
            futures::join!(sys.user("alice01", School::Hanbit), sys.user("bora01", School::Hanbit));
        let free = sys.board(&alice, "자유게시판").await;

        let named = write_post(&alice, &free, "첫 글", false).await;
        assert_eq!(named["boardId"], free.as_str());
        assert_eq!((named["title"].as_str(), named["content"].as_str()), (Some("첫 글"), Some("첫 글 본문")));
        assert_eq!(author(&named), (alice.nickname.clone(), false, true));
        assert_eq!(counts(&named), (0, 0, 0));
        assert_eq!(named["photos"], json!([]));
        for (flag, want) in [
            ("isMine", true),
            ("likedByMe", false),
            ("scrappedByMe", false),
            ("isHot", false),
            ("isBest", false),
        ] {
            assert_eq!(named[flag].as_bool(), Some(want), "{flag}: {named}");
        }
        assert!(named["createdAt"].as_str().is_some_and(|t| t.ends_with('Z')), "{named}");
        let named_id = id(&named);
        let seen = read_post(&bora, &named_id).await;
        assert_eq!(author(&seen), (alice.nickname.clone(), false, false));
        assert_eq!(seen["isMine"], false);

        // Anonymous: "익명" to everyone, and nothing in the answer gives the author away.
        let anonymous = write_post(&alice, &free, "익명 글", true).await;
        let anonymous_id = id(&anonymous);
        assert_eq!(author(&anonymous), ("익명".into(), true, true));
        let seen = read_post(&bora, &anonymous_id).await;
        assert_eq!(author(&seen), ("익명".into(), true, false));
        assert_eq!(seen["isMine"], false);
        let listed = board_posts(&bora, &free).await;
        assert_eq!(ids(&listed), [anonymous_id.clone(), named_id.clone()]);
        assert_eq!(author(&listed[0]), ("익명".into(), true, false));
        let text = serde_json::to_string(&seen).unwrap() + &serde_json::to_string(&listed[0]).unwrap();
        for secret in [&alice.id, &alice.nickname, &alice.login_id] {
            assert!(!text.contains(secret.as_str()), "{backend:?}: {secret} leaks from {text}");
        }

        // Updates: the author only, changed fields only, and nothing half-applied.
        let path = format!("/v1/posts/{named_id}");
        bora.patch(&path, json!({"title": "남이 바꾼 제목"})).await.expect_error(403, "NOT_OWNER");
        assert_eq!(read_post(&alice, &named_id).await["title"], "첫 글");
        let updated = alice.patch(&path, json!({"title": "  바꾼 제목  "})).await.ok();
        assert_eq!(
            (updated["title"].as_str(), updated["content"].as_str()),
            (Some("바꾼 제목"), Some("첫 글 본문"))
        );
        assert_ne!(updated["updatedAt"], updated["createdAt"]);
        let updated = alice.patch(&path, json!({"content": "새 본문"})).await.ok();
        assert_eq!(
            (updated["title"].as_str(), updated["content"].as_str()),
            (Some("바꾼 제목"), Some("새 본문"))
        );
        let nothing = alice.patch(&path, json!({})).await;
        nothing.expect_error(400, "INVALID_ARGUMENT");
        assert_eq!(nothing.violations(), ["title"]);
        let half = alice.patch(&path, json!({"title": "좋은 제목", "content": ""})).await;
        half.expect_error(400, "INVALID_ARGUMENT");
        assert_eq!(half.violations(), ["content"]);
        let kept = read_post(&bora, &named_id).await;
        assert_eq!((kept["title"].as_str(), kept["content"].as_str()), (Some("바꾼 제목"), Some("새 본문")));

        // Soft delete: the author only; afterwards the post is gone for every purpose.
        bora.delete(&path).await.expect_error(403, "NOT_OWNER");
        assert_eq!(read_post(&bora, &named_id).await["title"], "바꾼 제목");
        let deleted = alice.delete(&path).await;
        assert_eq!((deleted.status, &deleted.body), (StatusCode::NO_CONTENT, &Value::Null));
        alice.get(&path).await.expect_error(404, "NOT_FOUND");
        bora.get(&path).await.expect_error(404, "NOT_FOUND");
        assert_eq!(ids(&board_posts(&bora, &free).await), [anonymous_id.as_str()]);
        assert_eq!(ids(&list(&alice.get("/v1/me/posts").await.ok(), "posts")), [anonymous_id.as_str()]);
        assert!(search(&bora, "바꾼").await.is_empty());
        alice.patch(&path, json!({"title": "되살리기"})).await.expect_error(404, "NOT_FOUND");
        alice.delete(&path).await.expect_error(404, "NOT_FOUND");
        like(&bora, &named_id).await.expect_error(404, "NOT_FOUND");
        scrap(&bora, &named_id).await.expect_error(404, "NOT_FOUND");
        comment(&bora, &named_id, "늦은 댓글", true, None).await.expect_error(404, "NOT_FOUND");
        bora.get(&format!("{path}/comments")).await.expect_error(404, "NOT_FOUND");
        upload(&alice, &named_id, "image/png", &PNG).await.expect_error(404, "NOT_FOUND");
        sys.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn board_lists_are_keyset_paged_newest_first_and_refuse_bad_tokens() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let (alice, bora) =
            futures::join!(sys.user("alice01", School::Hanbit), sys.user("bora01", School::Hanbit));
        let free = sys.board(&alice, "자유게시판").await;
        let info = sys.board(&alice, "정보게시판").await;

        let mut newest_first = Vec::new();
        for i in 0..7 {
            let title = if i % 3 == 0 { format!("Apple {i}") } else { format!("banana {i}") };
            newest_first.insert(0, id(&write_post(&alice, &free, &title, i % 2 == 0).await));
        }
        write_post(&alice, &info, "apple elsewhere", false).await;

        let path = format!("/v1/boards/{free}/posts");
        let page1 = bora.get(&format!("{path}?pageSize=3")).await.ok();
        assert_eq!(ids(&list(&page1, "posts")), newest_first[..3], "{backend:?}");
        let token = page1["nextPageToken"].as_str().unwrap().to_string();
        assert!(!token.is_empty());
        // A post written between two pages does not shift the next one: the cursor is a key.
        let newer = id(&write_post(&alice, &free, "사이에 쓴 글", false).await);
        let page2 = bora.get(&format!("{path}?pageSize=3&pageToken={}", q(&token))).await.ok();
        assert_eq!(ids(&list(&page2, "posts")), newest_first[3..6]);
        let token2 = page2["nextPageToken"].as_str().unwrap().to_string();
        let page3 = bora.get(&format!("{path}?pageSize=3&pageToken={}", q(&token2))).await.ok();
        assert_eq!(ids(&list(&page3, "posts")), newest_first[6..]);
        assert_eq!(page3["nextPageToken"], "", "the last page has no token");

        let everything = board_posts(&bora, &free).await;
        let mut expected = vec![newer.clone()];
        expected.extend(newest_first.iter().cloned());
        assert_eq!(ids(&everything), expected);
        assert!(everything.iter().all(|p| p["isMine"] == false && p["boardId"] == free.as_str()));
        assert!(board_posts(&alice, &free).await.iter().all(|p| p["isMine"] == true));
        let default_page = bora.get(&path).await.ok();
        assert_eq!(
            (list(&default_page, "posts").len(), default_page["nextPageToken"].as_str()),
            (8, Some(""))
        );

        // The board's own search, case-insensitive, over the whole board.
        let apples = all_pages(&bora, &format!("{path}?query=APPLE"), "posts", 2).await;
        let want: Vec<String> = [6, 3, 0].iter().map(|i| newest_first[6 - i].clone()).collect();
        assert_eq!(ids(&apples), want);

        // Bad page tokens and sizes.
        for bad in ["garbage", "AAAA", &token[..token.len() - 2]] {
            let reply = bora.get(&format!("{path}?pageToken={}", q(bad))).await;
            reply.expect_error(400, "INVALID_ARGUMENT");
            assert_eq!(reply.violations(), ["pageToken"], "{bad}");
        }
        let elsewhere =
            bora.get(&format!("/v1/boards/{info}/posts?pageSize=3&pageToken={}", q(&token))).await;
        elsewhere.expect_error(400, "INVALID_ARGUMENT");
        assert_eq!(elsewhere.violations(), ["pageToken"], "a token is only good for its own list");
        let filtered = bora.get(&format!("{path}?query=apple&pageToken={}", q(&token))).await;
        filtered.expect_error(400, "INVALID_ARGUMENT");
        let mine = bora.get(&format!("/v1/me/posts?pageToken={}", q(&token))).await;
        mine.expect_error(400, "INVALID_ARGUMENT");
        assert_eq!(mine.violations(), ["pageToken"]);
        for (query, field) in
            [("pageSize=-1", "pageSize"), ("pageSize=many", "pageSize"), ("color=red", "color")]
        {
            let reply = bora.get(&format!("{path}?{query}")).await;
            reply.expect_error(400, "INVALID_ARGUMENT");
            assert_eq!(reply.violations(), [field], "{query}");
        }
        sys.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_posts_are_refused_field_by_field_and_leave_nothing() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("alice01", School::Hanbit).await;
        let free = sys.board(&alice, "자유게시판").await;

        // The limits count characters and are inclusive.
        let longest = post_with(&alice, &free, &"가".repeat(100), &"나".repeat(10_000), false).await;
        assert_eq!(longest.status, StatusCode::CREATED, "{longest:?}");
        let longest = id(&longest.body);

        let cases: [(String, String, &[&str]); 7] = [
            (String::new(), "본문".into(), &["title"]),
            ("   ".into(), "본문".into(), &["title"]),
            ("가".repeat(101), "본문".into(), &["title"]),
            ("제목".into(), String::new(), &["content"]),
            ("제목".into(), " \n ".into(), &["content"]),
            ("제목".into(), "나".repeat(10_001), &["content"]),
            (String::new(), "나".repeat(10_001), &["title", "content"]),
        ];
        for (title, content, fields) in &cases {
            let reply = post_with(&alice, &free, title, content, false).await;
            reply.expect_error(400, "INVALID_ARGUMENT");
            assert_eq!(reply.violations(), *fields, "{backend:?}: {} / {} chars", title.len(), content.len());
        }
        // An unknown board, and ids that are not ids.
        post_with(&alice, "987654321", "제목", "본문", false).await.expect_error(404, "NOT_FOUND");
        for bad_board in ["0", "-5", "abc"] {
            let reply = post_with(&alice, bad_board, "제목", "본문", false).await;
            reply.expect_error(400, "INVALID_ARGUMENT");
            assert_eq!(reply.violations(), ["boardId"], "{bad_board}");
        }
        // Bodies that are not the message.
        let broken = alice
            .send_bytes(
                Method::POST,
                &format!("/v1/boards/{free}/posts"),
                "application/json",
                b"{\"title\":".to_vec(),
            )
            .await;
        broken.expect_error(400, "INVALID_ARGUMENT");
        assert_eq!(broken.violations(), ["body"]);
        let wrong_type =
            alice.post(&format!("/v1/boards/{free}/posts"), json!({"title": 5, "content": []})).await;
        wrong_type.expect_error(400, "INVALID_ARGUMENT");
        let mut fields = wrong_type.violations();
        fields.sort();
        assert_eq!(fields, ["content", "title"]);

        // Over-long edits change nothing, not even the valid half.
        let path = format!("/v1/posts/{longest}");
        for (edit, field) in [
            (json!({"title": ""}), "title"),
            (json!({"title": "가".repeat(101)}), "title"),
            (json!({"title": "짧은 제목", "content": "나".repeat(10_001)}), "content"),
        ] {
            let reply = alice.patch(&path, edit).await;
            reply.expect_error(400, "INVALID_ARGUMENT");
            assert_eq!(reply.violations(), [field]);
        }
        let kept = read_post(&alice, &longest).await;
        assert_eq!(kept["title"].as_str().map(|t| t.chars().count()), Some(100));
        assert_eq!(kept["content"].as_str().map(|t| t.chars().count()), Some(10_000));
        assert_eq!(ids(&board_posts(&alice, &free).await), [longest.as_str()], "{backend:?}");
        assert_eq!(ids(&list(&alice.get("/v1/me/posts").await.ok(), "posts")), [longest.as_str()]);

        // Comment text: 1–300 characters.
        for content in [String::new(), "  ".into(), "가".repeat(301)] {
            let reply = comment(&alice, &longest, &content, true, None).await;
            reply.expect_error(400, "INVALID_ARGUMENT");
            assert_eq!(reply.violations(), ["content"]);
        }
        assert_eq!(counts(&read_post(&alice, &longest).await).1, 0);
        assert!(comments(&alice, &longest).await.is_empty());
        assert_eq!(
            comment(&alice, &longest, &"가".repeat(300), true, None).await.status,
            StatusCode::CREATED
        );
        assert_eq!(counts(&read_post(&alice, &longest).await).1, 1);
        sys.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// likes, scraps, HOT and BEST

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn likes_and_scraps_follow_the_rules_and_show_in_every_read() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let (alice, bora, chul) = futures::join!(
            sys.user("alice01", School::Hanbit),
            sys.user("bora01", School::Hanbit),
            sys.user("chul01", School::Hanbit),
        );
        let free = sys.board(&alice, "자유게시판").await;
        let first = id(&write_post(&alice, &free, "공감 받을 글", true).await);
        let second = id(&write_post(&alice, &free, "두 번째 글", false).await);

        // Likes: never your own, once, never undone.
        like(&alice, &first).await.expect_error(400, "CANNOT_LIKE_OWN_POST");
        assert_eq!(counts(&read_post(&alice, &first).await).0, 0);
        let liked = like(&bora, &first).await.ok();
        assert_eq!(
            (counts(&liked).0, liked["likedByMe"].as_bool(), liked["isMine"].as_bool()),
            (1, Some(true), Some(false))
        );
        assert_eq!(author(&liked).0, "익명");
        like(&bora, &first).await.expect_error(409, "ALREADY_LIKED");
        let undo = bora.delete(&format!("/v1/posts/{first}:like")).await;
        assert_eq!(undo.headers.get("allow").map(|v| v.as_bytes()), Some(&b"POST"[..]), "{undo:?}");
        assert_eq!(undo.status, StatusCode::METHOD_NOT_ALLOWED, "{backend:?}: a like cannot be taken back");
        let seen = read_post(&bora, &first).await;
        assert_eq!((counts(&seen).0, seen["likedByMe"].as_bool()), (1, Some(true)), "{backend:?}");
        let seen = read_post(&chul, &first).await;
        assert_eq!((counts(&seen).0, seen["likedByMe"].as_bool()), (1, Some(false)));
        like(&bora, "987654321").await.expect_error(404, "NOT_FOUND");

        // Scraps: never your own, once, removable.
        scrap(&alice, &first).await.expect_error(400, "CANNOT_SCRAP_OWN_POST");
        assert_eq!(counts(&read_post(&alice, &first).await).2, 0);
        let scrapped = scrap(&bora, &second).await.ok();
        assert_eq!((counts(&scrapped).2, scrapped["scrappedByMe"].as_bool()), (1, Some(true)));
        scrap(&bora, &first).await.ok();
        assert_eq!(counts(&scrap(&chul, &first).await.ok()).2, 2);
        scrap(&bora, &first).await.expect_error(409, "ALREADY_SCRAPPED");
        assert_eq!(counts(&read_post(&alice, &first).await).2, 2);

        // The viewer's flags in lists.
        let flags = |posts: &[Value]| -> Vec<(String, bool, bool, bool)> {
            posts
                .iter()
                .map(|p| (id(p), p["likedByMe"] == true, p["scrappedByMe"] == true, p["isMine"] == true))
                .collect()
        };
        assert_eq!(
            flags(&board_posts(&bora, &free).await),
            [(second.clone(), false, true, false), (first.clone(), true, true, false)]
        );
        assert_eq!(
            flags(&board_posts(&chul, &free).await),
            [(second.clone(), false, false, false), (first.clone(), false, true, false)]
        );
        assert_eq!(
            flags(&board_posts(&alice, &free).await),
            [(second.clone(), false, false, true), (first.clone(), false, false, true)]
        );

        // My scraps: latest scrap first, and paged.
        let mine = all_pages(&bora, "/v1/me/scraps", "posts", 1).await;
        assert_eq!(flags(&mine), [(first.clone(), true, true, false), (second.clone(), false, true, false)]);
        assert_eq!(ids(&list(&chul.get("/v1/me/scraps").await.ok(), "posts")), [first.as_str()]);
        assert!(list(&alice.get("/v1/me/scraps").await.ok(), "posts").is_empty());

        let removed = unscrap(&bora, &first).await.ok();
        assert_eq!((counts(&removed).2, removed["scrappedByMe"].as_bool()), (1, Some(false)));
        let again = unscrap(&bora, &first).await.ok();
        assert_eq!(counts(&again).2, 1, "{backend:?}: removing twice uncounts once");
        assert_eq!(ids(&list(&bora.get("/v1/me/scraps").await.ok(), "posts")), [second.as_str()]);
        assert_eq!(read_post(&chul, &first).await["scrappedByMe"], true);
        assert_eq!(counts(&scrap(&bora, &first).await.ok()).2, 2, "a removed scrap can be made again");
        sys.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_and_best_follow_the_thresholds_per_school() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let (alice, sam) =
            futures::join!(sys.user("alice01", School::Hanbit), sys.user("sam001", School::Saesol));
        let likers = crowd(&sys, "liker", BEST as usize, School::Hanbit).await;
        let hot_n = HOT as usize;
        let free = sys.board(&alice, "자유게시판").await;
        let market = sys.board(&alice, "장터게시판").await; // opted out of HOT
        let first = id(&write_post(&alice, &free, "first", false).await);
        let second = id(&write_post(&alice, &free, "second", true).await);
        let quiet = id(&write_post(&alice, &market, "장터 글", false).await);

        for liker in &likers[..hot_n - 1] {
            like(liker, &first).await.ok();
        }
        let below = read_post(&alice, &first).await;
        assert_eq!((below["isHot"].as_bool(), below["isBest"].as_bool()), (Some(false), Some(false)));
        assert!(hot(&alice).await.is_empty());
        let crossed = like(&likers[hot_n - 1], &first).await.ok();
        assert_eq!(
            (crossed["isHot"].as_bool(), crossed["isBest"].as_bool()),
            (Some(true), Some(false)),
            "{backend:?}"
        );
        for liker in &likers[..hot_n] {
            like(liker, &second).await.ok();
            like(liker, &quiet).await.ok();
        }
        assert_eq!(
            hot(&alice).await,
            [second.clone(), first.clone()],
            "{backend:?}: latest to turn HOT first"
        );
        assert_eq!(read_post(&alice, &quiet).await["isHot"], false, "a board may opt out of HOT");
        assert!(best(&alice).await.is_empty());
        let seen: Vec<bool> = list(&likers[0].get("/v1/hot-posts").await.ok(), "posts")
            .iter()
            .map(|p| p["likedByMe"] == true)
            .collect();
        assert_eq!(seen, [true, true]);

        for liker in &likers[hot_n..] {
            like(liker, &first).await.ok();
            like(liker, &quiet).await.ok();
        }
        let top = read_post(&alice, &first).await;
        assert_eq!(
            (counts(&top).0, top["isHot"].as_bool(), top["isBest"].as_bool()),
            (BEST, Some(true), Some(true))
        );
        assert_eq!(best(&alice).await, [quiet.clone(), first.clone()], "BEST ignores the HOT opt-out");
        assert_eq!(read_post(&alice, &quiet).await["isHot"], false);

        // Keyset pages, and nothing of it at the other school.
        let paged = ids(&all_pages(&alice, "/v1/hot-posts", "posts", 1).await);
        assert_eq!(paged, [second.clone(), first.clone()]);
        assert_eq!(
            ids(&all_pages(&alice, "/v1/best-posts", "posts", 1).await),
            [quiet.clone(), first.clone()]
        );
        assert!(hot(&sam).await.is_empty() && best(&sam).await.is_empty(), "{backend:?}");
        let page = alice.get("/v1/hot-posts?pageSize=1").await.ok();
        let token = page["nextPageToken"].as_str().unwrap().to_string();
        let foreign = sam.get(&format!("/v1/hot-posts?pageToken={}", q(&token))).await;
        foreign.expect_error(400, "INVALID_ARGUMENT");
        assert_eq!(foreign.violations(), ["pageToken"], "a token of one school's list is no good at another");
        sys.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// search and "my" lists

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_spans_the_schools_boards_and_my_lists_are_mine() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let (alice, bora, sam) = futures::join!(
            sys.user("alice01", School::Hanbit),
            sys.user("bora01", School::Hanbit),
            sys.user("sam001", School::Saesol),
        );
        let free = sys.board(&alice, "자유게시판").await;
        let info = sys.board(&alice, "정보게시판").await;
        let theirs = sys.board(&sam, "자유게시판").await;

        // Created in this order; ids grow with it.
        let by_title = id(&write_post(&alice, &free, "Rust 스터디 모집", false).await);
        let anon = id(&write_post(&bora, &info, "다들 rust 하나요", true).await);
        let python = id(&write_post(&alice, &free, "파이썬", false).await);
        let by_content = post_with(&alice, &info, "질문 있어요", "RUSTACEAN 모여라", false).await;
        let by_content = id(&by_content.ok());
        let percent = id(&write_post(&alice, &free, "100% 환불", false).await);
        let thousand = id(&write_post(&alice, &free, "1000 환불", false).await);
        let outsider = id(&write_post(&sam, &theirs, "rust too", false).await);

        assert_eq!(
            search(&bora, "RUST").await,
            [by_content.clone(), anon.clone(), by_title.clone()],
            "{backend:?}"
        );
        assert_eq!(search(&bora, "100%").await, [percent.as_str()], "% matches literally");
        assert_eq!(search(&bora, "환불").await, [thousand.clone(), percent.clone()]);
        assert_eq!(search(&sam, "rust").await, [outsider.as_str()], "{backend:?}: only the caller's school");
        let found = list(&bora.get("/v1/posts:search?query=rust&pageSize=5").await.ok(), "posts");
        let anon_found = found.iter().find(|p| id(p) == anon).unwrap();
        assert_eq!(
            (author(anon_found), anon_found["isMine"].as_bool()),
            (("익명".into(), true, true), Some(true))
        );
        for empty in ["", "%20%20"] {
            let reply = bora.get(&format!("/v1/posts:search?query={empty}")).await;
            reply.expect_error(400, "INVALID_ARGUMENT");
            assert_eq!(reply.violations(), ["query"]);
        }

        // My posts: newest first, anonymous ones included, paged.
        let mine = all_pages(&alice, "/v1/me/posts", "posts", 2).await;
        assert_eq!(
            ids(&mine),
            [thousand.clone(), percent.clone(), by_content.clone(), python.clone(), by_title.clone()]
        );
        assert!(mine.iter().all(|p| p["isMine"] == true && p["author"]["isMe"] == true));
        let bora_mine = list(&bora.get("/v1/me/posts").await.ok(), "posts");
        assert_eq!(
            (ids(&bora_mine), author(&bora_mine[0])),
            (vec![anon.clone()], ("익명".into(), true, true))
        );
        assert_eq!(ids(&list(&sam.get("/v1/me/posts").await.ok(), "posts")), [outsider.as_str()]);

        // My commented posts: posts with a live comment of mine, newest post first, once each.
        write_comment(&bora, &by_title, true, None).await;
        write_comment(&bora, &by_title, false, None).await;
        write_comment(&bora, &python, false, None).await;
        write_comment(&bora, &anon, true, None).await;
        let gone = write_comment(&bora, &percent, true, None).await;
        let deleted = bora.delete(&format!("/v1/comments/{}", id(&gone))).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT);
        let commented = all_pages(&bora, "/v1/me/commented-posts", "posts", 1).await;
        assert_eq!(ids(&commented), [python.clone(), anon.clone(), by_title.clone()], "{backend:?}");
        assert_eq!(commented.iter().map(|p| p["isMine"] == true).collect::<Vec<_>>(), [false, true, false]);
        assert!(list(&alice.get("/v1/me/commented-posts").await.ok(), "posts").is_empty());
        sys.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// comments

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_commenters_keep_one_number_per_post() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let people = users(&sys, "member", 5, School::Hanbit).await;
        let [alice, bora, chul, dami, eun] = &people[..] else { unreachable!() };
        let free = sys.board(alice, "자유게시판").await;
        let post = id(&write_post(alice, &free, "익명 질문", true).await);

        let said = [
            write_comment(bora, &post, true, None).await,
            write_comment(chul, &post, true, None).await,
            write_comment(bora, &post, true, None).await,
            write_comment(alice, &post, true, None).await,
            write_comment(dami, &post, false, None).await,
            write_comment(alice, &post, false, None).await,
            write_comment(eun, &post, true, None).await,
        ];
        let expected = [
            ("익명1".to_string(), true, false),
            ("익명2".into(), true, false),
            ("익명1".into(), true, false),
            ("익명(글쓴이)".into(), true, true),
            (dami.nickname.clone(), false, false),
            // By name under an anonymous post: flagging the post's author would unmask the post.
            (alice.nickname.clone(), false, false),
            ("익명3".into(), true, false),
        ];
        assert_eq!(said.iter().map(commenter).collect::<Vec<_>>(), expected, "{backend:?}");

        // Every reader sees the same names; only the writer sees isMe.
        let listed = comments(chul, &post).await;
        assert_eq!(ids(&listed), ids(&said));
        assert_eq!(listed.iter().map(commenter).collect::<Vec<_>>(), expected);
        let me: Vec<bool> = listed.iter().map(|c| c["author"]["isMe"] == true).collect();
        assert_eq!(me, [false, true, false, false, false, false, false]);
        assert!(
            listed
                .iter()
                .all(|c| c["parentId"] == "0" && c["deleted"] == false && c["postId"] == post.as_str())
        );
        let text = serde_json::to_string(&listed).unwrap();
        for user in [alice, bora, chul, eun] {
            assert!(!text.contains(user.id.as_str()), "{backend:?}: user ids never leave: {text}");
        }
        for user in [bora, chul, eun] {
            assert!(!text.contains(user.nickname.as_str()), "anonymous names stay hidden: {text}");
        }
        assert_eq!(counts(&read_post(dami, &post).await).1, 7);

        // Numbers are per post; a named post's author is flagged when commenting by name.
        let named = id(&write_post(alice, &free, "실명 글", false).await);
        assert_eq!(commenter(&write_comment(chul, &named, true, None).await), ("익명1".into(), true, false));
        assert_eq!(
            commenter(&write_comment(alice, &named, false, None).await),
            (alice.nickname.clone(), false, true)
        );
        assert_eq!(
            commenter(&write_comment(alice, &named, true, None).await),
            ("익명(글쓴이)".into(), true, true)
        );
        assert_eq!(commenter(&write_comment(bora, &named, true, None).await), ("익명2".into(), true, false));
        sys.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_are_one_level_deep_and_deleted_parents_leave_a_placeholder() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let people = users(&sys, "member", 4, School::Hanbit).await;
        let [alice, bora, chul, dami] = &people[..] else { unreachable!() };
        let free = sys.board(alice, "자유게시판").await;
        let post = id(&write_post(alice, &free, "글", false).await);
        let other = id(&write_post(alice, &free, "다른 글", false).await);

        let top1 = id(&write_comment(bora, &post, true, None).await);
        let top2 = id(&write_comment(chul, &post, false, None).await);
        let reply = write_comment(chul, &post, true, Some(&top1)).await;
        assert_eq!(reply["parentId"], top1.as_str());
        assert_eq!(commenter(&reply).0, "익명2");
        let reply = id(&reply);
        // A reply to a reply joins its top comment (DESIGN §5: one level deep).
        let nested = write_comment(dami, &post, true, Some(&reply)).await;
        assert_eq!(nested["parentId"], top1.as_str(), "{backend:?}");
        let nested = id(&nested);
        let thread = |cs: &[Value]| -> Vec<(String, String)> {
            cs.iter().map(|c| (id(c), c["parentId"].as_str().unwrap().to_string())).collect()
        };
        let order = vec![
            (top1.clone(), "0".to_string()),
            (reply.clone(), top1.clone()),
            (nested.clone(), top1.clone()),
            (top2.clone(), "0".into()),
        ];
        assert_eq!(thread(&comments(alice, &post).await), order, "threads read in order");

        // A parent on another post, or none at all, is refused and writes nothing.
        let foreign = id(&write_comment(bora, &other, false, None).await);
        let refused = comment(bora, &post, "엉뚱한 답글", true, Some(&foreign)).await;
        refused.expect_error(400, "PARENT_NOT_IN_POST");
        assert_eq!(refused.violations(), ["parentId"]);
        comment(bora, &post, "없는 댓글에 답글", true, Some("987654321"))
            .await
            .expect_error(404, "NOT_FOUND");
        let bad_parent = comment(bora, &post, "답글", true, Some("0")).await;
        bad_parent.expect_error(400, "INVALID_ARGUMENT");
        assert_eq!(thread(&comments(alice, &post).await), order, "{backend:?}: nothing half-written");
        assert_eq!(counts(&read_post(alice, &post).await).1, 4);
        assert_eq!((counts(&read_post(alice, &other).await).1, comments(alice, &other).await.len()), (1, 1));

        // Deleting: the author only; with replies a placeholder stays, without it vanishes.
        let path = |c: &str| format!("/v1/comments/{c}");
        chul.delete(&path(&top1)).await.expect_error(403, "NOT_OWNER");
        assert_eq!(bora.delete(&path(&top1)).await.status, StatusCode::NO_CONTENT);
        assert_eq!(chul.delete(&path(&top2)).await.status, StatusCode::NO_CONTENT);
        let listed = comments(dami, &post).await;
        assert_eq!(ids(&listed), [top1.clone(), reply.clone(), nested.clone()], "{backend:?}");
        let placeholder = &listed[0];
        assert_eq!(
            (placeholder["deleted"].as_bool(), placeholder["content"].as_str()),
            (Some(true), Some("삭제된 댓글입니다"))
        );
        assert_eq!(placeholder["author"]["displayName"], "");
        assert_eq!(placeholder["likedByMe"], false);
        assert_eq!(counts(&read_post(alice, &post).await).1, 2, "only live comments count");
        bora.delete(&path(&top1)).await.expect_error(404, "NOT_FOUND");
        like_comment(chul, &top1).await.expect_error(404, "NOT_FOUND");
        comment(chul, &post, "답글", false, Some(&top1)).await.expect_error(404, "NOT_FOUND");

        // Comment likes: not your own, once each.
        like_comment(chul, &reply).await.expect_error(400, "CANNOT_LIKE_OWN_COMMENT");
        let liked = like_comment(bora, &reply).await.ok();
        assert_eq!((liked["likeCount"].as_i64(), liked["likedByMe"].as_bool()), (Some(1), Some(true)));
        assert_eq!(commenter(&liked).0, "익명2", "the number survives a like");
        like_comment(bora, &reply).await.expect_error(409, "ALREADY_LIKED");
        like_comment(alice, &reply).await.ok();
        let for_bora = comments(bora, &post).await;
        assert_eq!(
            (for_bora[1]["likeCount"].as_i64(), for_bora[1]["likedByMe"].as_bool()),
            (Some(2), Some(true))
        );
        assert_eq!(comments(dami, &post).await[1]["likedByMe"], false);

        // With its last reply gone the placeholder goes too.
        assert_eq!(chul.delete(&path(&reply)).await.status, StatusCode::NO_CONTENT);
        assert_eq!(dami.delete(&path(&nested)).await.status, StatusCode::NO_CONTENT);
        assert!(comments(alice, &post).await.is_empty(), "{backend:?}");
        assert_eq!(counts(&read_post(alice, &post).await).1, 0);
        // A returning commenter keeps the number they had.
        assert_eq!(commenter(&write_comment(bora, &post, true, None).await).0, "익명1");
        sys.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// reports

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_count_once_per_user_and_five_hide_the_item_from_lists() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("alice01", School::Hanbit).await;
        let reporters = crowd(&sys, "reporter", 5, School::Hanbit).await;
        let free = sys.board(&alice, "자유게시판").await;
        let spam = id(&write_post(&alice, &free, "광고 spam", false).await);
        let kept = id(&write_post(&alice, &free, "정상 spam", false).await);
        for r in &reporters[..HOT as usize] {
            like(r, &spam).await.ok();
        }
        write_comment(&reporters[0], &spam, false, None).await;
        scrap(&reporters[0], &spam).await.ok();
        let report = |user: &User, reason: &str| {
            let client = user.client.clone();
            let (path, body) = (format!("/v1/posts/{spam}:report"), json!({"reason": reason}));
            async move { client.post(&path, body).await }
        };

        report(&alice, "광고").await.expect_error(400, "CANNOT_REPORT_OWN_POST");
        let empty = report(&reporters[0], " ").await;
        empty.expect_error(400, "INVALID_ARGUMENT");
        assert_eq!(empty.violations(), ["reason"]);
        report(&reporters[0], &"x".repeat(201)).await.expect_error(400, "INVALID_ARGUMENT");
        for r in &reporters[..4] {
            let reply = report(r, "광고").await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");
        }
        report(&reporters[0], "또 광고").await.expect_error(409, "ALREADY_REPORTED");
        assert_eq!(
            ids(&board_posts(&reporters[0], &free).await),
            [kept.clone(), spam.clone()],
            "four keep it listed"
        );
        assert_eq!(hot(&reporters[0]).await, [spam.as_str()]);

        assert_eq!(report(&reporters[4], "광고").await.status, StatusCode::NO_CONTENT);
        let viewer = &reporters[0];
        assert_eq!(ids(&board_posts(viewer, &free).await), [kept.as_str()], "{backend:?}");
        assert!(hot(viewer).await.is_empty());
        assert_eq!(search(viewer, "spam").await, [kept.as_str()]);
        assert!(list(&viewer.get("/v1/me/scraps").await.ok(), "posts").is_empty());
        assert!(list(&viewer.get("/v1/me/commented-posts").await.ok(), "posts").is_empty());
        assert_eq!(ids(&list(&alice.get("/v1/me/posts").await.ok(), "posts")), [kept.as_str()]);
        // Hidden from lists, not deleted: a link to it still opens.
        assert_eq!(read_post(viewer, &spam).await["title"], "광고 spam");

        // Comments the same way.
        let bad = id(&write_comment(&reporters[1], &kept, true, None).await);
        let good = id(&write_comment(&reporters[2], &kept, true, None).await);
        let report_comment = |user: &User, reason: &str| {
            let client = user.client.clone();
            let (path, body) = (format!("/v1/comments/{bad}:report"), json!({"reason": reason}));
            async move { client.post(&path, body).await }
        };
        report_comment(&reporters[1], "욕설").await.expect_error(400, "CANNOT_REPORT_OWN_COMMENT");
        let others = [&alice, &reporters[0], &reporters[2], &reporters[3], &reporters[4]];
        for user in &others[..4] {
            assert_eq!(report_comment(user, "욕설").await.status, StatusCode::NO_CONTENT);
        }
        report_comment(&alice, "욕설").await.expect_error(409, "ALREADY_REPORTED");
        assert_eq!(ids(&comments(&alice, &kept).await), [bad.clone(), good.clone()]);
        assert_eq!(report_comment(others[4], "욕설").await.status, StatusCode::NO_CONTENT);
        assert_eq!(ids(&comments(&alice, &kept).await), [good.as_str()], "{backend:?}");
        sys.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// photos

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_go_up_as_raw_bytes_and_come_back_with_their_type() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let (alice, bora, sam) = futures::join!(
            sys.user("alice01", School::Hanbit),
            sys.user("bora01", School::Hanbit),
            sys.user("sam001", School::Saesol),
        );
        let free = sys.board(&alice, "자유게시판").await;
        let post = id(&write_post(&alice, &free, "사진 글", false).await);

        // The type comes from the bytes, whatever the request declared.
        let mut uploaded = Vec::new();
        for (declared, bytes, sniffed) in [
            ("image/png", PNG.as_slice(), "image/png"),
            ("image/jpeg", GIF.as_slice(), "image/gif"),
            ("image/jpeg", JPEG.as_slice(), "image/jpeg"),
            ("image/webp", WEBP.as_slice(), "image/webp"),
        ] {
            let photo = upload(&alice, &post, declared, bytes).await.ok();
            let photo_id = id(&photo);
            assert_eq!(photo["url"], format!("/v1/photos/{photo_id}"));
            assert_eq!(photo["contentType"], sniffed, "{backend:?}: {declared}");
            uploaded.push((photo_id, sniffed, bytes));
        }
        for (photo_id, content_type, bytes) in &uploaded {
            let served = bora.get_raw(&format!("/v1/photos/{photo_id}")).await;
            assert_eq!(served.status(), StatusCode::OK);
            assert_eq!(served.headers()["content-type"], *content_type);
            assert_eq!(&served.bytes().await.unwrap()[..], *bytes, "the bytes come back unchanged");
        }
        let seen = read_post(&bora, &post).await;
        let photos: Vec<(String, String, String)> = list(&seen, "photos")
            .iter()
            .map(|p| (id(p), p["url"].as_str().unwrap().into(), p["contentType"].as_str().unwrap().into()))
            .collect();
        let want: Vec<(String, String, String)> =
            uploaded.iter().map(|(i, t, _)| (i.clone(), format!("/v1/photos/{i}"), t.to_string())).collect();
        assert_eq!(photos, want, "in upload order");
        // A list counts the photos and names the first, without listing them.
        let listed = &board_posts(&bora, &free).await[0];
        assert_eq!(
            (&listed["photoCount"], listed["firstPhotoId"].as_str()),
            (&json!(4), Some(uploaded[0].0.as_str()))
        );
        assert_eq!(listed["photos"], json!([]));

        // Refused: not an image, nothing at all, someone else's post, another school.
        let html = upload(&alice, &post, "image/png", b"<html><script>alert(1)</script></html>").await;
        html.expect_error(400, "UNSUPPORTED_IMAGE");
        assert_eq!(html.violations(), ["photo"]);
        let svg =
            upload(&alice, &post, "image/svg+xml", b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>").await;
        svg.expect_error(400, "UNSUPPORTED_IMAGE");
        upload(&alice, &post, "image/png", b"").await.expect_error(400, "UNSUPPORTED_IMAGE");
        upload(&bora, &post, "image/png", &PNG).await.expect_error(403, "NOT_OWNER");
        upload(&sam, &post, "image/png", &PNG).await.expect_error(404, "NOT_FOUND");
        assert_eq!(
            list(&read_post(&alice, &post).await, "photos").len(),
            4,
            "{backend:?}: nothing half-stored"
        );

        let first = &uploaded[0].0;
        let outsider = sam.get(&format!("/v1/photos/{first}")).await;
        outsider.expect_error(404, "NOT_FOUND");
        bora.get("/v1/photos/987654321").await.expect_error(404, "NOT_FOUND");
        let anonymous = sys.anonymous().get(&format!("/v1/photos/{first}")).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{anonymous:?}");

        // A deleted post takes its photos with it.
        assert_eq!(alice.delete(&format!("/v1/posts/{post}")).await.status, StatusCode::NO_CONTENT);
        bora.get(&format!("/v1/photos/{first}")).await.expect_error(404, "NOT_FOUND");
        sys.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_are_limited_in_size_and_count() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("alice01", School::Hanbit).await;
        let free = sys.board(&alice, "자유게시판").await;
        let post = id(&write_post(&alice, &free, "큰 사진", false).await);

        // Exactly 10 MiB is allowed (what follows the image's end is not kept); one byte more
        // is refused by the board; far more is stopped at the gateway before it reaches anyone.
        let mut big = PNG.to_vec();
        big.resize(10 * MIB, 7);
        let largest = id(&upload(&alice, &post, "image/png", &big).await.ok());
        big.push(0);
        let over = upload(&alice, &post, "image/png", &big).await;
        over.expect_error(400, "PHOTO_TOO_LARGE");
        assert_eq!(over.violations(), ["photo"]);
        let token = alice.token.clone().unwrap();
        let path = format!("/v1/posts/{post}/photos");
        let huge = declare_upload(sys.system.gateway_addr, &path, &token, 12 * MIB).await;
        assert!(huge.starts_with("HTTP/1.1 413 "), "{backend:?}: refused from the headers alone: {huge}");
        assert_eq!(list(&read_post(&alice, &post).await, "photos").len(), 1);
        let served = alice.get_raw(&format!("/v1/photos/{largest}")).await;
        assert_eq!(served.headers()["content-type"], "image/png");
        assert!(served.bytes().await.unwrap() == PNG.as_slice(), "stored without the padding");

        // At most 20 photos on a post.
        for _ in 1..20 {
            upload(&alice, &post, "image/png", &PNG).await.ok();
        }
        upload(&alice, &post, "image/png", &PNG).await.expect_error(400, "TOO_MANY_PHOTOS");
        assert_eq!(list(&read_post(&alice, &post).await, "photos").len(), 20, "{backend:?}");
        // The limit is per post.
        let other = id(&write_post(&alice, &free, "다른 사진", false).await);
        upload(&alice, &other, "image/gif", &GIF).await.ok();
        sys.stop().await;
    }
}

/// Declares an upload of `length` bytes and sends none of them; returns the answer's status line
/// and headers. The gateway refuses an oversized body from its declared length alone. (A client
/// that pushes the whole body may instead see its connection closed mid-write.)
async fn declare_upload(addr: std::net::SocketAddr, path: &str, token: &str, length: usize) -> String {
    let request = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {token}\r\n\
         content-type: image/png\r\ncontent-length: {length}\r\n\r\n"
    );
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).expect("gateway listens");
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30))).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        let mut chunk = [0; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut chunk).expect("an answer") {
                0 => break,
                n => answer.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    })
    .await
    .unwrap()
}

// ---------------------------------------------------------------------------------------------
// isolation and the internal RPC

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_schools_boards_posts_comments_and_photos_are_not_found() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let people = users(&sys, "hanbit", 3, School::Hanbit).await;
        let [alice, bora, chul] = &people[..] else { unreachable!() };
        let sam = sys.user("sam001", School::Saesol).await;
        let free = sys.board(alice, "자유게시판").await;
        let post = id(&write_post(alice, &free, "우리 학교 이야기", false).await);
        let reply_to = id(&write_comment(bora, &post, true, None).await);
        let photo = id(&upload(alice, &post, "image/png", &PNG).await.ok());
        like(bora, &post).await.ok();
        like(chul, &post).await.ok();

        let not_found: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/v1/boards/{free}"), None),
            (Method::GET, format!("/v1/boards/{free}/posts"), None),
            (
                Method::POST,
                format!("/v1/boards/{free}/posts"),
                Some(json!({"title": "침입", "content": "본문"})),
            ),
            (Method::PUT, format!("/v1/me/pinned-boards/{free}"), None),
            (Method::DELETE, format!("/v1/me/pinned-boards/{free}"), None),
            (Method::GET, format!("/v1/posts/{post}"), None),
            (Method::PATCH, format!("/v1/posts/{post}"), Some(json!({"title": "바꿈"}))),
            (Method::DELETE, format!("/v1/posts/{post}"), None),
            (Method::POST, format!("/v1/posts/{post}:like"), Some(json!({}))),
            (Method::PUT, format!("/v1/posts/{post}/scrap"), None),
            (Method::DELETE, format!("/v1/posts/{post}/scrap"), None),
            (Method::POST, format!("/v1/posts/{post}:report"), Some(json!({"reason": "신고"}))),
            (Method::GET, format!("/v1/posts/{post}/comments"), None),
            (
                Method::POST,
                format!("/v1/posts/{post}/comments"),
                Some(json!({"content": "댓글", "anonymous": true})),
            ),
            (
                Method::POST,
                format!("/v1/posts/{post}/comments"),
                Some(json!({"content": "답글", "anonymous": true, "parentId": reply_to})),
            ),
            (Method::DELETE, format!("/v1/comments/{reply_to}"), None),
            (Method::POST, format!("/v1/comments/{reply_to}:like"), Some(json!({}))),
            (Method::POST, format!("/v1/comments/{reply_to}:report"), Some(json!({"reason": "신고"}))),
            (Method::GET, format!("/v1/photos/{photo}"), None),
        ];
        for (method, path, body) in not_found {
            let reply = sam.send(method.clone(), &path, body).await;
            assert_eq!(reply.reason(), Some("NOT_FOUND"), "{backend:?}: {method} {path}: {reply:?}");
            reply.expect_error(404, "NOT_FOUND");
        }
        upload(&sam, &post, "image/png", &PNG).await.expect_error(404, "NOT_FOUND");
        assert!(search(&sam, "우리 학교").await.is_empty());
        assert!(hot(&sam).await.is_empty());
        // And the other way round.
        let theirs = sys.board(&sam, "자유게시판").await;
        alice.get(&format!("/v1/boards/{theirs}")).await.expect_error(404, "NOT_FOUND");

        // Nothing the outsider tried was written.
        let seen = read_post(alice, &post).await;
        assert_eq!(
            (seen["title"].as_str(), counts(&seen)),
            (Some("우리 학교 이야기"), (2, 1, 0)),
            "{backend:?}"
        );
        assert_eq!(list(&seen, "photos").len(), 1);
        let thread = comments(alice, &post).await;
        assert_eq!((ids(&thread), thread[0]["likeCount"].as_i64()), (vec![reply_to.clone()], Some(0)));
        assert_eq!(ids(&board_posts(alice, &free).await), [post.as_str()]);
        assert!(list(&sam.get("/v1/me/pinned-boards").await.ok(), "boards").is_empty());
        assert!(list(&sam.get("/v1/me/scraps").await.ok(), "posts").is_empty());
        sys.stop().await;
    }
}

const INTERNAL_LOOKUP: &str = "campus.board.v1.BoardInternalService/GetContentAuthor";

/// A gRPC request carrying a user's access token.
fn grpc_request<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_internal_author_lookup_is_never_served_by_the_gateway() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("alice01", School::Hanbit).await;
        let free = sys.board(&alice, "자유게시판").await;
        let post = write_post(&alice, &free, "익명 글", true).await;
        let post_id: i64 = id(&post).parse().unwrap();
        let token = alice.token.clone().unwrap();
        let lookup = pb::GetContentAuthorRequest { target: Some(Target::PostId(post_id)) };

        // Over gRPC the gateway port serves the public board service...
        let gateway = campus_testkit::channel(sys.system.gateway_addr);
        let read = BoardServiceClient::new(gateway.clone())
            .get_post(grpc_request(&token, pb::GetPostRequest { id: post_id }))
            .await
            .expect("BoardService through the gateway");
        assert_eq!(read.into_inner().title, "익명 글");
        // ...but not the internal one, even with a service-credential header attached.
        let mut request = grpc_request(&token, lookup);
        request.metadata_mut().insert("x-campus-service-token", "guessed-credential".parse().unwrap());
        let refused = BoardInternalServiceClient::new(gateway).get_content_author(request).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unimplemented, "{backend:?}: {refused:?}");
        assert!(!refused.message().contains(&alice.id), "{refused:?}");

        // The same over gRPC-web, as a browser would try.
        let public: pb::Post = alice
            .grpc_web("campus.board.v1.BoardService/GetPost", &pb::GetPostRequest { id: post_id })
            .await
            .unwrap();
        assert_eq!(public.author.unwrap().display_name, "익명");
        let refused = alice.grpc_web::<_, pb::GetContentAuthorResponse>(INTERNAL_LOOKUP, &lookup).await;
        let refused = refused.expect_err("the internal lookup is not served over gRPC-web");
        assert_eq!(refused.code, tonic::Code::Unimplemented, "{backend:?}: {refused:?}");

        // No HTTP route leads to it.
        for path in [
            "/campus.board.v1.BoardInternalService/GetContentAuthor".to_string(),
            format!("/v1/posts/{post_id}/author"),
            format!("/v1/posts/{post_id}:author"),
        ] {
            let reply = alice.post(&path, json!({"postId": post_id.to_string()})).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {reply:?}");
            assert!(!serde_json::to_string(&reply.body).unwrap().contains(&alice.id));
        }

        // Behind the gateway, the board service itself wants the service credential too.
        let direct = BoardInternalServiceClient::new(campus_testkit::channel(sys.system.board_addr))
            .get_content_author(grpc_request(&token, lookup))
            .await
            .unwrap_err();
        assert_eq!(direct.code(), tonic::Code::PermissionDenied, "{direct:?}");
        sys.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// concurrency

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_and_anonymous_numbers_stay_exact_under_concurrency() {
    const FANS: usize = 16;
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("alice01", School::Hanbit).await;
        let fans = crowd(&sys, "fan", FANS, School::Hanbit).await;
        let free = sys.board(&alice, "자유게시판").await;
        let post = id(&write_post(&alice, &free, "인기 익명글", true).await);

        // Every fan likes and comments anonymously at the same moment.
        let (likes, said) = futures::join!(
            join_all(fans.iter().map(|f| like(f, &post))),
            join_all(fans.iter().map(|f| comment(f, &post, "동시에 댓글", true, None))),
        );
        assert!(likes.iter().all(|r| r.status == StatusCode::OK), "{backend:?}: {likes:?}");
        assert!(said.iter().all(|r| r.status == StatusCode::CREATED), "{backend:?}: {said:?}");
        let names: Vec<String> = said.iter().map(|r| commenter(&r.body).0).collect();
        let unique: HashSet<&String> = names.iter().collect();
        let expected: HashSet<String> = (1..=FANS).map(|n| format!("익명{n}")).collect();
        assert_eq!(unique.len(), FANS, "{backend:?}: one number each: {names:?}");
        assert!(unique.iter().all(|n| expected.contains(*n)), "numbers 1..={FANS}: {names:?}");
        let seen = read_post(&alice, &post).await;
        assert_eq!(counts(&seen), (FANS as i64, FANS as i64, 0), "{backend:?}");
        assert!(seen["isHot"] == true && seen["isBest"] == true);
        assert_eq!(comments(&alice, &post).await.len(), FANS);

        // Again at once: second likes are refused, numbers stay, scraps count exactly.
        let (likes, said, scraps) = futures::join!(
            join_all(fans.iter().map(|f| like(f, &post))),
            join_all(fans.iter().map(|f| comment(f, &post, "또 댓글", true, None))),
            join_all(fans.iter().map(|f| scrap(f, &post))),
        );
        for reply in &likes {
            reply.expect_error(409, "ALREADY_LIKED");
        }
        let again: Vec<String> = said.iter().map(|r| commenter(&r.body).0).collect();
        assert_eq!(again, names, "{backend:?}: every commenter keeps their number");
        assert!(scraps.iter().all(|r| r.status == StatusCode::OK), "{scraps:?}");
        assert_eq!(counts(&read_post(&alice, &post).await), (FANS as i64, 2 * FANS as i64, FANS as i64));

        // Half remove their scrap, each twice at once: one decrement per scrap.
        let half = &fans[..FANS / 2];
        let removed = join_all(half.iter().chain(half.iter()).map(|f| unscrap(f, &post))).await;
        assert!(removed.iter().all(|r| r.status == StatusCode::OK), "{removed:?}");
        let listed = comments(&alice, &post).await;
        let by_number: HashMap<String, usize> = listed.iter().fold(HashMap::new(), |mut m, c| {
            *m.entry(commenter(c).0).or_default() += 1;
            m
        });
        assert!(by_number.values().all(|n| *n == 2) && by_number.len() == FANS, "{by_number:?}");
        assert_eq!(
            counts(&read_post(&alice, &post).await),
            (FANS as i64, 2 * FANS as i64, (FANS - FANS / 2) as i64),
            "{backend:?}"
        );
        sys.stop().await;
    }
}
