//! The account event feed (DESIGN §8) with real processes: a deletion made while board is
//! down reaches it when it returns; a consumer killed (SIGKILL) in the middle of a backlog of
//! 1,000 events applies each exactly once after its restart; two board replicas on one
//! PostgreSQL database apply every event once, and both refuse deleted users' tokens.
//!
//! The backlogs are written into the account database's outbox with the producer's own
//! library call ([`Outbox::append`], one transaction per event, as account's deletion does):
//! 1,000 real deletions would cost 1,000 password hashes and show nothing more about the feed.

use std::process::Child;
use std::time::{Duration, Instant};

use campus_proto::account::v1::AccountDeleted;
use campus_proto::board::v1::ListBoardsRequest;
use campus_proto::board::v1::board_service_client::BoardServiceClient;
use campus_shared::db::{Backend, Db, now_micros, timestamp};
use campus_shared::events::Outbox;
use campus_testkit::backends;
use serde_json::json;

use crate::deployment::{Deployment, Options, Proc};
use crate::{SCHOOL, User, pool, serial};

/// DESIGN §8: a committed event reaches its consumers within 1 s at p99; tests allow 10 s.
const LEARN_WITHIN: Duration = Duration::from_secs(10);
/// A restarted or replaced consumer: start-up plus a lease's expiry (10 s) plus the backlog.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(60);
const BACKLOG: i64 = 1000;
/// Deleted users of the backlogs: ids no real account has.
const FIRST_USER: i64 = 5_000_000;

/// Appends one AccountDeleted per user, each in its own transaction, as account does.
async fn write_deletions(url: &str, users: std::ops::Range<i64>) {
    let backend = Backend::of_url(url).expect("backend");
    let db = Db::new(pool(url).await, backend);
    for user_id in users {
        let mut tx = db.begin_write().await.expect("begin");
        let now = now_micros();
        let event = AccountDeleted { user_id, school_id: SCHOOL, deleted_at: Some(timestamp(now)) };
        Outbox::append(&mut tx, &event, now).await.expect("append");
        tx.commit().await.expect("commit");
    }
    db.pool.close().await;
}

/// What board has applied of the account feed: (applied records, distinct event ids,
/// deleted accounts recorded, cursor), read in one statement, so from one snapshot: read one
/// by one while board applies a backlog, the cursor could show all of it applied and the
/// count, read before, only part.
async fn applied(board: &sqlx::AnyPool) -> (i64, i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM event_applied WHERE feed = 'account'), \
         (SELECT COUNT(DISTINCT event_id) FROM event_applied WHERE feed = 'account'), \
         (SELECT COUNT(*) FROM deleted_account), \
         (SELECT COALESCE(MAX(position), 0) FROM event_cursor WHERE feed = 'account')",
    )
    .fetch_one(board)
    .await
    .expect("what board applied")
}

async fn wait_applied(
    board: &sqlx::AnyPool,
    last: i64,
    within: Duration,
    context: &str,
) -> (i64, i64, i64, i64) {
    let deadline = Instant::now() + within;
    loop {
        let now = applied(board).await;
        if now.3 >= last {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "board reached {now:?}, not position {last}, within {within:?} ({context})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A real account (sign-up and login over HTTP) in a new school: its id, its school's and
/// its access token.
async fn real_user(deployment: &Deployment, login_id: &str) -> (i64, i64, String) {
    let http = &deployment.http;
    let base = &deployment.base;
    let domain = format!("{login_id}.ac.kr");
    let school = http
        .post(format!("{base}/v1/schools"))
        .bearer_auth(deployment.admin_token())
        .json(&json!({"name": format!("{login_id} 대학교"), "emailDomain": domain}))
        .send()
        .await
        .expect("create school");
    assert_eq!(school.status(), 201);
    let school: serde_json::Value = school.json().await.expect("school");
    let password = "feed-test-password-42";
    let email = format!("{login_id}@{domain}");
    let ask = json!({"email": email, "schoolId": school["id"]});
    let asked = http.post(format!("{base}/v1/auth/email-verifications")).json(&ask).send().await;
    assert_eq!(asked.expect("ask for a code").status(), 200);
    let code = deployment.outbox().code_for(&email).await;
    let signup = json!({"loginId": login_id, "password": password, "nickname": format!("닉{login_id}"),
        "email": email, "schoolId": school["id"], "emailCode": code});
    let created = http.post(format!("{base}/v1/auth/signup")).json(&signup).send().await.expect("sign up");
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.expect("user");
    let login = json!({"loginId": login_id, "password": password});
    let session: serde_json::Value = http
        .post(format!("{base}/v1/auth/login"))
        .json(&login)
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("session");
    let id = |v: &serde_json::Value| v.as_str().expect("id").parse::<i64>().expect("numeric id");
    (
        id(&created["user"]["id"]),
        id(&school["id"]),
        session["accessToken"].as_str().expect("token").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_made_while_board_is_down_is_applied_when_it_returns() {
    let _serial = serial().await;
    for backend in backends() {
        let mut deployment = Deployment::start(backend, Options::default()).await;
        let http = deployment.http.clone();
        let (user_id, school_id, token) = real_user(&deployment, "feeddown").await;
        let alice = User { base: deployment.base.clone(), token };
        let board_id = alice.create_board(&http).await;
        let post = alice.create_post(&http, &board_id, "남을 글").await;
        let reader = User { base: deployment.base.clone(), token: deployment.token(777, school_id) };

        deployment.kill(Proc::Board);
        let password = json!({"password": "feed-test-password-42"});
        let (status, body) =
            alice.call(alice.request(&http, reqwest::Method::DELETE, "/v1/users/me").json(&password)).await;
        assert_eq!(status, 204, "{backend:?}: {body}");
        deployment.spawn(Proc::Board);
        deployment.wait_serving(Proc::Board).await;

        // Board's lease outlives its SIGKILL by up to its 10 s expiry.
        let deadline = Instant::now() + CATCH_UP_WITHIN;
        loop {
            let (_, shown) = reader.call(reader.get(&http, &format!("/v1/posts/{post}"))).await;
            let (refused, _) = alice.call(alice.get(&http, "/v1/me/pinned-boards")).await;
            if shown["author"]["displayName"] == "(알 수 없음)" && refused == 401 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{backend:?}: board did not apply the deletion: {shown} {refused}\n{}",
                deployment.log_tail(Proc::Board)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let board = pool(&deployment.database_url(Proc::Board)).await;
        let recorded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deleted_account WHERE user_id = $1")
            .bind(user_id)
            .fetch_one(&board)
            .await
            .expect("count");
        assert_eq!(recorded, 1, "{backend:?}");
        println!("feed, board down during a deletion ({backend:?}): applied after restart");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_killed_in_the_middle_of_a_backlog_applies_each_event_once() {
    let _serial = serial().await;
    for backend in backends() {
        let mut deployment = Deployment::start(backend, Options::default()).await;
        let http = deployment.http.clone();
        // Some of the users about to be deleted have named posts and scraps.
        let author = User::new(&deployment, FIRST_USER);
        let board_id = author.create_board(&http).await;
        let post = author.create_post(&http, &board_id, "스크랩될 글").await;
        let scrapper = User::new(&deployment, 1);
        let scrappers: Vec<User> = (1..=20).map(|i| User::new(&deployment, FIRST_USER + i)).collect();
        for user in &scrappers {
            let (status, body) = user
                .call(user.request(&http, reqwest::Method::PUT, &format!("/v1/posts/{post}/scrap")))
                .await;
            assert_eq!(status, 200, "{body}");
        }
        let board = pool(&deployment.database_url(Proc::Board)).await;
        let before = applied(&board).await;

        deployment.kill(Proc::Board);
        write_deletions(&deployment.database_url(Proc::Account), FIRST_USER..FIRST_USER + BACKLOG).await;
        let last = before.3 + BACKLOG;
        deployment.spawn(Proc::Board);
        // SIGKILL as soon as some of the backlog is applied.
        let deadline = Instant::now() + CATCH_UP_WITHIN;
        while applied(&board).await.0 == before.0 {
            assert!(
                Instant::now() < deadline,
                "board applied nothing ({backend:?})\n{}",
                deployment.log_tail(Proc::Board)
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        deployment.kill(Proc::Board);
        let at_kill = applied(&board).await;
        assert!(
            at_kill.0 - before.0 < BACKLOG,
            "the kill came after the whole backlog was applied ({backend:?}): {at_kill:?}"
        );

        deployment.spawn(Proc::Board);
        deployment.wait_serving(Proc::Board).await;
        let after = wait_applied(&board, last, CATCH_UP_WITHIN, &format!("{backend:?}")).await;
        assert_eq!(after.0 - before.0, BACKLOG, "{backend:?}: every event applied: {after:?}");
        assert_eq!(after.0, after.1, "{backend:?}: no event applied twice: {after:?}");
        assert_eq!(after.2 - before.2, BACKLOG, "{backend:?}: every deletion recorded once: {after:?}");
        assert_eq!(after.3, last);
        let (_, shown) = scrapper.call(scrapper.get(&http, &format!("/v1/posts/{post}"))).await;
        assert_eq!(shown["scrapCount"], 0, "{backend:?}: each scrap removed once: {shown}");
        assert_eq!(shown["author"]["displayName"], "(알 수 없음)", "{backend:?}");
        println!(
            "feed, consumer killed mid-backlog ({backend:?}): {} of {BACKLOG} applied at the kill, {} after restart, no duplicates",
            at_kill.0 - before.0,
            after.0 - before.0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_board_replicas_on_postgresql_apply_each_event_once() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let _serial = serial().await;
    let mut deployment = Deployment::start(Backend::Postgres, Options::default()).await;
    let (mut replica, replica_addr): (Child, _) = deployment.spawn_replica(Proc::Board).await;
    let board = pool(&deployment.database_url(Proc::Board)).await;
    let before = applied(&board).await;

    let half = BACKLOG / 2;
    write_deletions(&deployment.database_url(Proc::Account), FIRST_USER..FIRST_USER + half).await;
    let last = before.3 + half;
    wait_applied(&board, last, CATCH_UP_WITHIN, "first half").await;

    // Both replicas refuse a deleted user's token, whichever holds the lease.
    let deleted = User::new(&deployment, FIRST_USER);
    let deadline = Instant::now() + LEARN_WITHIN;
    loop {
        let (via_gateway, _) = deleted.call(deleted.get(&deployment.http, "/v1/me/pinned-boards")).await;
        let mut direct = BoardServiceClient::new(campus_testkit::channel(replica_addr));
        let mut request = tonic::Request::new(ListBoardsRequest::default());
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {}", deleted.token).parse().expect("header"));
        let replica_refuses =
            direct.list_boards(request).await.is_err_and(|s| s.code() == tonic::Code::Unauthenticated);
        if via_gateway == 401 && replica_refuses {
            break;
        }
        assert!(Instant::now() < deadline, "both replicas refuse the token: {via_gateway} {replica_refuses}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The second half while the first replica dies (SIGKILL) part-way: the other takes over.
    let url = deployment.database_url(Proc::Account);
    let writer =
        tokio::spawn(async move { write_deletions(&url, FIRST_USER + half..FIRST_USER + BACKLOG).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    deployment.kill(Proc::Board);
    writer.await.expect("writer");
    let after = wait_applied(&board, before.3 + BACKLOG, CATCH_UP_WITHIN, "second half").await;
    let _ = replica.kill();
    let _ = replica.wait();
    assert_eq!(after.0 - before.0, BACKLOG, "every event applied: {after:?}");
    assert_eq!(after.0, after.1, "no event applied twice: {after:?}");
    assert_eq!(after.2 - before.2, BACKLOG, "every deletion recorded once: {after:?}");
    println!("feed, two board replicas on PostgreSQL: {BACKLOG} events applied once each");
}
