//! Account deletion (탈퇴, DESIGN §7) end to end: the password is checked, and once deleted
//! every service learns of it from the account event feed (§8): named posts and comments show
//! "(알 수 없음)" and anonymous ones stay 익명, pins and scraps go, the counterpart's
//! conversations show "(알 수 없음)", timetables, grades and reviews' authorship go, friends
//! and sessions go, the login id and email are free again, and every service refuses the
//! user's still-unexpired access token.

use std::future::Future;
use std::time::{Duration, Instant};

use campus_testkit::backends;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Client, PASSWORD, Reply, School, TestSystem, User};

/// How long the services may take to learn of a deletion (DESIGN §8: tests allow 10 s).
const LEARN_WITHIN: Duration = Duration::from_secs(10);

const UNKNOWN: &str = "(알 수 없음)";

async fn delete_account(user: &Client, password: Option<&str>) -> Reply {
    let body = password.map(|p| json!({ "password": p })).unwrap_or(json!({}));
    user.send(Method::DELETE, "/v1/users/me", Some(body)).await
}

/// Waits until `check` holds, or fails naming `what` after [`LEARN_WITHIN`].
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + LEARN_WITHIN;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {LEARN_WITHIN:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn post_author(viewer: &Client, post: &str) -> Value {
    viewer.get(&format!("/v1/posts/{post}")).await.ok()["author"].clone()
}

async fn comment_authors(viewer: &Client, post: &str) -> Vec<Value> {
    let comments = viewer.get(&format!("/v1/posts/{post}/comments")).await.ok();
    comments["comments"].as_array().unwrap().iter().map(|c| c["author"]["displayName"].clone()).collect()
}

/// One number of a row count query on a service's database.
async fn count(url: &str, sql: &str, user_id: i64) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.expect("connect");
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(user_id)
        .fetch_one(&pool)
        .await
        .expect("count");
    pool.close().await;
    n
}

/// Everything the deleted user had, seen by others and in each service's data.
struct Footprint {
    named_post: String,
    anonymous_post: String,
    bobs_post: String,
    conversation: String,
    lecture: String,
}

async fn leave_a_footprint(sys: &TestSystem, alice: &User, bob: &User, carol: &User) -> Footprint {
    let board = sys.board(alice, "자유게시판").await;
    let posts = format!("/v1/boards/{board}/posts");
    let create = |user: &User, title: &str, anonymous: bool| {
        let body = json!({"title": title, "content": "본문", "anonymous": anonymous});
        let (user, posts) = (user.client.clone(), posts.clone());
        async move { user.post(&posts, body).await.ok()["id"].as_str().unwrap().to_string() }
    };
    let named_post = create(alice, "이름 글", false).await;
    let anonymous_post = create(alice, "익명 글", true).await;
    let bobs_post = create(bob, "밥의 글", false).await;
    for anonymous in [false, true] {
        let comment = json!({"content": "댓글", "anonymous": anonymous});
        alice.post(&format!("/v1/posts/{bobs_post}/comments"), comment).await.ok();
    }
    alice.send(Method::PUT, &format!("/v1/me/pinned-boards/{board}"), None).await.ok();
    alice.send(Method::PUT, &format!("/v1/posts/{bobs_post}/scrap"), None).await.ok();
    assert_eq!(bob.get(&format!("/v1/posts/{bobs_post}")).await.ok()["scrapCount"], 1);

    // A named conversation alice started with bob from his post.
    let started = alice
        .post("/v1/conversations", json!({"postId": bobs_post, "anonymous": false, "content": "안녕"}))
        .await
        .ok();
    let conversation = started["id"].as_str().unwrap().to_string();

    // Friends, a timetable, grades and a review.
    let sent = carol.post("/v1/friend-requests", json!({"loginId": alice.login_id})).await.ok();
    alice.post(&format!("/v1/friend-requests/{}:accept", sent["id"].as_str().unwrap()), json!({})).await.ok();
    let lectures = alice.get("/v1/lectures?year=2026&semester=SEMESTER_FALL&pageSize=1").await.ok();
    let lecture = lectures["lectures"][0]["id"].as_str().unwrap().to_string();
    let timetable =
        alice.post("/v1/timetables", json!({"year": 2026, "semester": "SEMESTER_FALL"})).await.ok();
    let timetable = timetable["id"].as_str().unwrap();
    alice.post(&format!("/v1/timetables/{timetable}/lectures"), json!({"lectureId": lecture})).await.ok();
    let courses = json!({"courses": [{"name": "자료구조", "credits": 3, "grade": "A+", "major": true}]});
    alice.put("/v1/me/grades/2026/SEMESTER_FALL", courses).await.ok();
    let review = json!({"rating": 5, "content": "좋아요", "assignments": "AMOUNT_NONE",
        "teamProjects": "AMOUNT_NONE", "grading": "GRADING_GENEROUS", "attendance": "ATTENDANCE_NONE", "exams": 1});
    alice.post(&format!("/v1/lectures/{lecture}/reviews"), review).await.ok();
    Footprint { named_post, anonymous_post, bobs_post, conversation, lecture }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_deletes_nothing() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("quitter0", School::Hanbit).await;
        delete_account(&alice, Some("not-the-password-1")).await.expect_error(403, "WRONG_PASSWORD");
        let missing = delete_account(&alice, None).await;
        assert_eq!(missing.status, StatusCode::BAD_REQUEST, "{missing:?}");
        assert_eq!(missing.violations(), ["password"], "{missing:?}");
        // Still there: the account answers, the login works, and no event went out.
        assert_eq!(alice.get("/v1/users/me").await.ok()["loginId"], "quitter0");
        let login = json!({"loginId": "quitter0", "password": PASSWORD});
        sys.anonymous().post("/v1/auth/login", login).await.ok();
        let events =
            count(&sys.databases.account.url, "SELECT COUNT(*) FROM event_outbox WHERE position > $1", 0)
                .await;
        assert_eq!(events, 0, "{backend:?}");
        sys.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_reaches_every_service_through_the_feed() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("quitter1", School::Hanbit).await;
        let bob = sys.user("quitter2", School::Hanbit).await;
        let carol = sys.user("quitter3", School::Hanbit).await;
        let alice_id: i64 = alice.id.parse().unwrap();
        let footprint = leave_a_footprint(&sys, &alice, &bob, &carol).await;
        assert_eq!(post_author(&bob, &footprint.named_post).await["displayName"], alice.nickname.as_str());

        assert_eq!(
            delete_account(&alice, Some(PASSWORD)).await.status,
            StatusCode::NO_CONTENT,
            "{backend:?}"
        );

        // Every service refuses alice's token, although it expires in 15 minutes.
        let (old, viewer) = (&alice.client, &bob.client);
        for path in ["/v1/users/me", "/v1/me/pinned-boards", "/v1/conversations", "/v1/me/grades"] {
            eventually(&format!("{path} refuses the token ({backend:?})"), move || async move {
                old.get(path).await.status == StatusCode::UNAUTHORIZED
            })
            .await;
        }

        // board: named → (알 수 없음), anonymous stays 익명; the scrap and its count go.
        let named = footprint.named_post.as_str();
        eventually(&format!("board shows the named post as unknown ({backend:?})"), move || async move {
            post_author(viewer, named).await["displayName"] == UNKNOWN
        })
        .await;
        let anonymous = post_author(&bob, &footprint.anonymous_post).await;
        assert_eq!((&anonymous["displayName"], &anonymous["isAnonymous"]), (&json!("익명"), &json!(true)));
        let commenters = comment_authors(&bob, &footprint.bobs_post).await;
        assert_eq!(commenters.len(), 2, "{commenters:?}");
        assert_eq!(commenters[0], UNKNOWN, "{commenters:?}");
        assert!(commenters[1].as_str().unwrap().starts_with("익명"), "{commenters:?}");
        assert_eq!(bob.get(&format!("/v1/posts/{}", footprint.bobs_post)).await.ok()["scrapCount"], 0);
        let board_url = &sys.databases.board.url;
        let board_left = count(
            board_url,
            "SELECT (SELECT COUNT(*) FROM pinned_board WHERE user_id = $1) + \
             (SELECT COUNT(*) FROM post_scrap WHERE user_id = $1)",
            alice_id,
        )
        .await;
        assert_eq!(board_left, 0, "pins and scraps go ({backend:?})");

        // messaging: bob's conversation stays, with alice as (알 수 없음).
        let conversation = footprint.conversation.as_str();
        eventually(
            &format!("messaging shows the counterpart as unknown ({backend:?})"),
            move || async move {
                let inbox = viewer.get("/v1/conversations").await.ok();
                let listed = inbox["conversations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["id"] == conversation)
                    .cloned();
                listed.is_some_and(|c| c["counterpart"]["displayName"] == UNKNOWN)
            },
        )
        .await;
        let messages = bob.get(&format!("/v1/conversations/{}/messages", footprint.conversation)).await.ok();
        assert_eq!(messages["messages"][0]["content"], "안녕", "the messages stay");

        // timetable: timetables and grades go; the review stays in the rating without author.
        let timetable_url = sys.databases.timetable.url.clone();
        eventually(&format!("timetable forgets the account ({backend:?})"), || {
            let url = timetable_url.clone();
            async move {
                count(
                    &url,
                    "SELECT (SELECT COUNT(*) FROM timetable WHERE user_id = $1) + \
                     (SELECT COUNT(*) FROM grade_course WHERE user_id = $1) + \
                     (SELECT COUNT(*) FROM review WHERE user_id = $1)",
                    alice_id,
                )
                .await
                    == 0
            }
        })
        .await;
        let rating = bob.get(&format!("/v1/lectures/{}/rating", footprint.lecture)).await.ok();
        assert_eq!(rating["count"], 1, "the review still counts ({backend:?}): {rating}");

        // account: friends and sessions go; the login id and email are free again.
        assert_eq!(carol.get("/v1/friends").await.ok()["friends"], json!([]));
        let login = json!({"loginId": "quitter1", "password": PASSWORD});
        assert_eq!(sys.anonymous().post("/v1/auth/login", login).await.status, StatusCode::UNAUTHORIZED);
        let again = sys.user("quitter1", School::Hanbit).await;
        assert_ne!(again.id, alice.id);
        assert_eq!(
            again.get("/v1/users/me").await.ok()["email"],
            json!(format!("quitter1@{}", sys.school(School::Hanbit).await.1))
        );
        // The deleted account's posts are not the new account's.
        assert_eq!(post_author(&again, &footprint.named_post).await["isMe"], false);

        // Deleting twice: the token is refused before anything else.
        assert_eq!(delete_account(&alice, Some(PASSWORD)).await.status, StatusCode::UNAUTHORIZED);
        sys.stop().await;
    }
}
