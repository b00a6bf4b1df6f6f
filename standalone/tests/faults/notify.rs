//! Notifications (DESIGN §9) under faults, with real processes: board writes `CommentCreated`
//! in each comment's transaction, messaging applies board's feed into notifications.
//!
//! - messaging is down while 200 comments are written: after its restart every notification
//!   is there, exactly once;
//! - `kill -9` of messaging, then of board, during a burst of comments: every accepted comment
//!   has exactly one notification, none is doubled;
//! - two messaging replicas on one PostgreSQL database: each notification is stored once and
//!   streamed to the user's streams on both replicas, and when the lease holder is killed the
//!   other replica takes over.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use campus_proto::messaging::v1::notification_service_client::NotificationServiceClient;
use campus_proto::messaging::v1::{StreamNotificationsRequest, StreamNotificationsResponse};
use campus_shared::db::Backend;
use campus_testkit::backends;
use serde_json::json;

use crate::deployment::{Deployment, Options, Proc};
use crate::{User, pool, serial};

/// A restarted or replaced consumer: start-up plus a lease's expiry (10 s) plus the backlog.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(60);
const POST_AUTHOR: i64 = 7001;
const COMMENTER: i64 = 7002;

/// The post author's notifications in messaging's database: (rows, distinct comments).
async fn stored(messaging: &sqlx::AnyPool) -> (i64, i64) {
    let row: (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT comment_id) FROM notification WHERE user_id = $1")
            .bind(POST_AUTHOR)
            .fetch_one(messaging)
            .await
            .expect("count notifications");
    row
}

/// Every notification of `user` through the gateway, all pages: the comment ids, in order.
async fn listed(deployment: &Deployment, user: &User) -> Vec<String> {
    let mut comments = Vec::new();
    let mut token = String::new();
    loop {
        let path = format!("/v1/notifications?pageSize=100&pageToken={token}");
        let (status, page) = user.call(user.get(&deployment.http, &path)).await;
        assert_eq!(status, 200, "{page}");
        for n in page["notifications"].as_array().expect("notifications") {
            comments.push(n["commentId"].as_str().expect("a comment's notification").to_string());
        }
        token = page["nextPageToken"].as_str().unwrap_or_default().to_string();
        if token.is_empty() {
            return comments;
        }
    }
}

/// Waits until messaging has stored at least `count` of the author's notifications.
async fn wait_stored(
    deployment: &Deployment,
    messaging: &sqlx::AnyPool,
    count: i64,
    context: &str,
) -> (i64, i64) {
    let deadline = Instant::now() + CATCH_UP_WITHIN;
    loop {
        let now = stored(messaging).await;
        if now.0 >= count {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{context}: {now:?} of {count} notifications within {CATCH_UP_WITHIN:?}\n{}",
            deployment.log_tail(Proc::Messaging)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Writes one comment; its id when board accepted it.
async fn comment(http: &reqwest::Client, user: &User, post: &str, n: usize) -> Option<String> {
    let body = json!({"content": format!("댓글 {n}"), "anonymous": n.is_multiple_of(2)});
    let request = user.post(http, &format!("/v1/posts/{post}/comments"), body);
    let response = request.send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body: serde_json::Value = response.json().await.ok()?;
    body["id"].as_str().map(str::to_string)
}

/// A post by [`POST_AUTHOR`] for the comments.
async fn post_for_comments(deployment: &Deployment) -> (User, User, String) {
    let http = &deployment.http;
    let author = User::new(deployment, POST_AUTHOR);
    let commenter = User::new(deployment, COMMENTER);
    let board = author.create_board(http).await;
    let post = author.create_post(http, &board, "알림이 쌓일 글").await;
    (author, commenter, post)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_written_while_messaging_is_down_are_each_notified_once_after_it_returns() {
    const COMMENTS: usize = 200;
    let _serial = serial().await;
    for backend in backends() {
        let mut deployment = Deployment::start(backend, Options::default()).await;
        let http = deployment.http.clone();
        let (author, commenter, post) = post_for_comments(&deployment).await;

        deployment.kill(Proc::Messaging);
        let mut accepted = BTreeSet::new();
        for n in 0..COMMENTS {
            let id = comment(&http, &commenter, &post, n).await.expect("board accepts comments");
            accepted.insert(id);
        }
        deployment.spawn(Proc::Messaging);
        deployment.wait_serving(Proc::Messaging).await;
        let messaging = pool(&deployment.database_url(Proc::Messaging)).await;
        let started = Instant::now();
        let after = wait_stored(&deployment, &messaging, COMMENTS as i64, &format!("{backend:?}")).await;
        let caught_up = started.elapsed();
        // A little longer, so a late duplicate would show.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let after_wait = stored(&messaging).await;
        assert_eq!(after, after_wait, "{backend:?}: nothing more arrived");
        assert_eq!(after, (COMMENTS as i64, COMMENTS as i64), "{backend:?}: each exactly once");
        let seen = listed(&deployment, &author).await;
        assert_eq!(seen.len(), COMMENTS, "{backend:?}");
        assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), accepted, "{backend:?}: the same comments");
        println!(
            "notifications, messaging down during {COMMENTS} comments ({backend:?}): all {COMMENTS} stored once, \
             caught up {caught_up:?} after it served again"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_messaging_or_board_during_a_burst_loses_and_doubles_nothing() {
    const COMMENTS: usize = 300;
    let _serial = serial().await;
    for backend in backends() {
        let mut deployment = Deployment::start(backend, Options::default()).await;
        let http = deployment.http.clone();
        let (author, commenter, post) = post_for_comments(&deployment).await;

        let written = Arc::new(AtomicUsize::new(0));
        let burst = {
            let (http, commenter, post, written) =
                (http.clone(), commenter.clone(), post.clone(), written.clone());
            tokio::spawn(async move {
                let (mut accepted, mut failed) = (BTreeSet::new(), 0usize);
                for n in 0..COMMENTS {
                    match comment(&http, &commenter, &post, n).await {
                        Some(id) => {
                            accepted.insert(id);
                        }
                        None => {
                            // A client tries again a little later, so the burst goes on
                            // after board is back rather than running out while it is down.
                            failed += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                    written.fetch_add(1, Ordering::SeqCst);
                }
                (accepted, failed)
            })
        };
        let wait_written = |at_least: usize| {
            let written = written.clone();
            async move {
                while written.load(Ordering::SeqCst) < at_least {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        };
        wait_written(COMMENTS / 4).await;
        deployment.kill(Proc::Messaging);
        deployment.spawn(Proc::Messaging);
        wait_written(COMMENTS / 2).await;
        deployment.kill(Proc::Board);
        deployment.spawn(Proc::Board);
        deployment.wait_serving(Proc::Board).await;
        deployment.wait_serving(Proc::Messaging).await;
        let (accepted, failed) = burst.await.expect("burst");

        let messaging = pool(&deployment.database_url(Proc::Messaging)).await;
        let context = format!("{backend:?}: {} accepted, {failed} failed", accepted.len());
        let after = wait_stored(&deployment, &messaging, accepted.len() as i64, &context).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = stored(&messaging).await;
        assert_eq!(now.0, now.1, "{context}: no notification doubled: {now:?}");
        assert!(now.0 >= after.0);
        let seen: BTreeSet<String> = listed(&deployment, &author).await.into_iter().collect();
        let missing: Vec<_> = accepted.difference(&seen).collect();
        assert!(missing.is_empty(), "{context}: accepted comments without a notification: {missing:?}");
        // A comment whose request failed may still have committed (board died after the
        // commit, before answering): at most those make the difference.
        let extra = seen.len() - accepted.len();
        assert!(extra <= failed, "{context}: {extra} notifications of comments never written");
        println!(
            "notifications, kill -9 of messaging then board during {COMMENTS} comments ({backend:?}): \
             {} accepted, {failed} refused while board was down, {} notified ({extra} of refused requests \
             that had committed), none lost, none doubled",
            accepted.len(),
            seen.len()
        );
    }
}

/// StreamNotifications straight to one messaging replica, as the post author.
async fn open_stream(
    deployment: &Deployment,
    addr: std::net::SocketAddr,
) -> tonic::Streaming<StreamNotificationsResponse> {
    let mut client = NotificationServiceClient::new(campus_testkit::channel(addr));
    let mut request = tonic::Request::new(StreamNotificationsRequest {});
    let bearer = format!("Bearer {}", deployment.token(POST_AUTHOR, crate::SCHOOL));
    request.metadata_mut().insert("authorization", bearer.parse().expect("header"));
    client.stream_notifications(request).await.expect("open stream").into_inner()
}

/// The comment ids of the next `count` notifications of a stream.
async fn receive(stream: &mut tonic::Streaming<StreamNotificationsResponse>, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    while ids.len() < count {
        let next = tokio::time::timeout(CATCH_UP_WITHIN, stream.message())
            .await
            .expect("a notification in time")
            .expect("stream ok")
            .expect("stream open");
        let n = next.notification.expect("notification");
        ids.push(n.comment_id.expect("a comment's notification").to_string());
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_messaging_replicas_on_postgresql_store_once_and_stream_on_both() {
    const FIRST: usize = 50;
    const SECOND: usize = 20;
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let _serial = serial().await;
    let mut deployment = Deployment::start(Backend::Postgres, Options::default()).await;
    let http = deployment.http.clone();
    let (_, commenter, post) = post_for_comments(&deployment).await;
    let (mut replica, replica_addr) = deployment.spawn_replica(Proc::Messaging).await;
    let messaging = pool(&deployment.database_url(Proc::Messaging)).await;

    let mut on_first = open_stream(&deployment, deployment.addr(Proc::Messaging)).await;
    let mut on_replica = open_stream(&deployment, replica_addr).await;
    let mut written = Vec::new();
    for n in 0..FIRST {
        written.push(comment(&http, &commenter, &post, n).await.expect("accepted"));
    }
    let first = receive(&mut on_first, FIRST).await;
    let second = receive(&mut on_replica, FIRST).await;
    assert_eq!(first, written, "the first replica's stream: each once, in order");
    assert_eq!(second, written, "the second replica's stream: each once, in order");
    assert_eq!(
        wait_stored(&deployment, &messaging, FIRST as i64, "first burst").await,
        (FIRST as i64, FIRST as i64)
    );
    let holders: HashMap<String, i64> =
        sqlx::query_as("SELECT holder, expires_at FROM event_lease WHERE feed = 'board'")
            .fetch_all(&messaging)
            .await
            .expect("lease")
            .into_iter()
            .collect();
    assert_eq!(holders.len(), 1, "one replica holds the board feed");

    // SIGKILL the original process (whichever holds the lease): the replica's stream still
    // gets every new notification, once, after at most the lease's expiry.
    deployment.kill(Proc::Messaging);
    let mut more = Vec::new();
    for n in FIRST..FIRST + SECOND {
        more.push(comment(&http, &commenter, &post, n).await.expect("accepted"));
    }
    let late = receive(&mut on_replica, SECOND).await;
    let _ = replica.kill();
    let _ = replica.wait();
    assert_eq!(late, more, "after the kill, the replica's stream: each once, in order");
    let total = (FIRST + SECOND) as i64;
    assert_eq!(wait_stored(&deployment, &messaging, total, "second burst").await, (total, total));
    println!(
        "notifications, two messaging replicas on PostgreSQL: {total} stored once each, every one streamed \
         on both replicas ({FIRST}) and on the survivor after a SIGKILL ({SECOND})"
    );
}
