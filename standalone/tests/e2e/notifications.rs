//! Notifications (issue 20, DESIGN §9) as a client sees them, against the real system: board
//! writes the events, messaging applies them from board's feed. Over HTTP/JSON: comments and
//! replies notify the right people once, nobody hears of their own action, an anonymous
//! writer is never named, deletion and report-hiding take notifications away, HOT and BEST,
//! marking read and bad input. Over gRPC-web: the same list and mark-read, and live delivery
//! on StreamNotifications (gRPC-web and NDJSON).

use std::time::{Duration, Instant};

use campus_proto::messaging::v1 as pb;
use campus_testkit::backends;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::messaging::{JsonLines, create_comment, create_post, id, id_of, names_nobody};
use crate::support::{Client, School, TestSystem, User, WebError};

/// DESIGN §8: an event reaches its consumers within 1 s at p99; tests allow 10 s.
const WITHIN: Duration = Duration::from_secs(10);
const SERVICE: &str = "campus.messaging.v1.NotificationService";

/// The caller's notifications (first page of 100) and unread count.
async fn notifications(user: &Client) -> (Vec<Value>, i64) {
    let page = user.get("/v1/notifications?pageSize=100").await.ok();
    let list = page["notifications"].as_array().expect("notifications").clone();
    (list, page["unreadCount"].as_i64().unwrap_or_default())
}

/// Waits until the caller's list satisfies `done`; returns it.
async fn wait_for(user: &Client, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + WITHIN;
    loop {
        let (list, _) = notifications(user).await;
        if done(&list) {
            return list;
        }
        assert!(Instant::now() < deadline, "{what} within {WITHIN:?}; the list is {list:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the caller has a notification of `comment`; returns the list.
async fn notified_of(user: &Client, comment: &str) -> Vec<Value> {
    wait_for(user, &format!("a notification of comment {comment}"), |list| {
        list.iter().any(|n| n["commentId"] == comment)
    })
    .await
}

/// (kind without its prefix, commentId) of each notification, newest first.
fn kinds(list: &[Value]) -> Vec<(String, String)> {
    list.iter()
        .map(|n| {
            let kind = n["kind"].as_str().unwrap().trim_start_matches("NOTIFICATION_KIND_").to_string();
            (kind, n["commentId"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

fn pair(kind: &str, comment: &str) -> (String, String) {
    (kind.to_string(), comment.to_string())
}

async fn reply(author: &User, post: &str, parent: &str, content: &str, anonymous: bool) -> String {
    let body = json!({"content": content, "anonymous": anonymous, "parentId": parent});
    id(&author.post(&format!("/v1/posts/{post}/comments"), body).await.ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_replies_removals_and_hot_notify_the_right_people_over_http() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let (alice, bob, carol) = tokio::join!(
            sys.user("nalice01", School::Hanbit),
            sys.user("nbob02", School::Hanbit),
            sys.user("ncarol03", School::Hanbit),
        );
        let board = sys.board(&alice, "자유게시판").await;
        let post = create_post(&alice, &board, "알림 받을 글", false).await;

        // Alice comments on her own post: nobody is notified. Bob then comments anonymously:
        // Alice gets one COMMENT, which never names him.
        let own = create_comment(&alice, &post, "제 글에 제 댓글", false).await;
        let text = "익명 댓글입니다. 이 문장은 육십 자를 넘도록 길게 길게 이어서 쓰는 중이고 미리보기는 앞부분만 보여야 합니다";
        let anonymous = create_comment(&bob, &post, text, true).await;
        let list = notified_of(&alice, &anonymous).await;
        assert_eq!(kinds(&list), [pair("COMMENT", &anonymous)], "{backend:?}: not of her own comment {own}");
        let n = &list[0];
        assert_eq!(
            (&n["postId"], &n["boardId"], &n["boardName"]),
            (&json!(post), &json!(board), &json!("자유게시판"))
        );
        assert_eq!(n["preview"], text.chars().take(60).collect::<String>());
        assert_eq!(n["read"], false);
        assert!(n["createdAt"].is_string() && n["id"].is_string());
        let page = alice.get("/v1/notifications").await.ok();
        names_nobody(&page.to_string(), &bob, "a notification of an anonymous comment");
        assert_eq!(page["unreadCount"], 1);
        assert!(notifications(&bob).await.0.is_empty(), "{backend:?}: the writer hears nothing");

        // Carol replies to Bob's comment: Bob gets a REPLY, Alice a COMMENT.
        let carols = reply(&carol, &post, &anonymous, "답글이에요", false).await;
        let bobs = notified_of(&bob, &carols).await;
        assert_eq!(kinds(&bobs), [pair("REPLY", &carols)], "{backend:?}");
        let alices = notified_of(&alice, &carols).await;
        assert_eq!(kinds(&alices), [pair("COMMENT", &carols), pair("COMMENT", &anonymous)]);
        // Bob replies to Alice's own comment on her post: one REPLY, not a COMMENT too.
        let to_own = reply(&bob, &post, &own, "작성자님 댓글에 답글", true).await;
        let alices = notified_of(&alice, &to_own).await;
        assert_eq!(
            kinds(&alices),
            [pair("REPLY", &to_own), pair("COMMENT", &carols), pair("COMMENT", &anonymous)],
            "{backend:?}: one action, one notification"
        );
        names_nobody(&format!("{alices:?}"), &bob, "a reply's notification");

        // Marking read: some ids, then all; bad ids are refused with their field.
        let first = alices[0]["id"].as_str().unwrap().to_string();
        let marked = alice.post("/v1/notifications:markRead", json!({"ids": [first]})).await.ok();
        assert_eq!(marked["unreadCount"], 2, "{backend:?}");
        // Someone else's id is ignored.
        let marked = bob.post("/v1/notifications:markRead", json!({"ids": [alices[1]["id"]]})).await.ok();
        assert_eq!(marked["unreadCount"], 1);
        assert_eq!(notifications(&alice).await.1, 2);
        let bad = alice.post("/v1/notifications:markRead", json!({"ids": ["0"]})).await;
        bad.expect_error(400, "INVALID_ARGUMENT");
        assert_eq!(bad.violations(), ["ids[0]"]);
        let none = alice.post("/v1/notifications:markRead", json!({})).await;
        none.expect_error(400, "INVALID_ARGUMENT");
        assert_eq!(none.violations(), ["ids"]);
        let all = alice.post("/v1/notifications:markRead", json!({"all": true})).await.ok();
        assert_eq!(all["unreadCount"], 0);
        let (list, unread) = notifications(&alice).await;
        assert!(unread == 0 && list.iter().all(|n| n["read"] == true), "{backend:?}: {list:?}");

        // Deleting a comment takes its notifications away (Alice's COMMENT and Bob's REPLY).
        assert_eq!(carol.delete(&format!("/v1/comments/{carols}")).await.status, StatusCode::NO_CONTENT);
        wait_for(&alice, "the deleted reply's notification gone", |l| {
            l.iter().all(|n| n["commentId"] != carols)
        })
        .await;
        wait_for(&bob, "Bob's REPLY gone", |l| l.is_empty()).await;

        // A comment hidden by reports goes too.
        let hidden = create_comment(&carol, &post, "신고될 댓글", false).await;
        notified_of(&alice, &hidden).await;
        let reporters = [
            sys.user("nrep1", School::Hanbit).await,
            sys.user("nrep2", School::Hanbit).await,
            sys.user("nrep3", School::Hanbit).await,
            sys.user("nrep4", School::Hanbit).await,
            sys.user("nrep5", School::Hanbit).await,
        ];
        for reporter in &reporters {
            reporter.post(&format!("/v1/comments/{hidden}:report"), json!({"reason": "욕설"})).await.ok();
        }
        wait_for(&alice, "the hidden comment's notification gone", |l| {
            l.iter().all(|n| n["commentId"] != hidden)
        })
        .await;

        // HOT and BEST (2 and 3 likes here) notify the author, with the title.
        for liker in [&bob, &carol, &reporters[0]] {
            liker.post(&format!("/v1/posts/{post}:like"), json!({})).await.ok();
        }
        let list = wait_for(&alice, "HOT and BEST", |l| {
            l.iter()
                .filter(|n| n["kind"] == "NOTIFICATION_KIND_BEST" || n["kind"] == "NOTIFICATION_KIND_HOT")
                .count()
                == 2
        })
        .await;
        assert_eq!(&kinds(&list)[..2], [pair("BEST", ""), pair("HOT", "")], "{backend:?}");
        assert!(list[..2].iter().all(|n| n["preview"] == "알림 받을 글" && n.get("commentId").is_none()));

        // Deleting the post takes everything about it away.
        assert_eq!(alice.delete(&format!("/v1/posts/{post}")).await.status, StatusCode::NO_CONTENT);
        wait_for(&alice, "every notification of the deleted post gone", |l| l.is_empty()).await;
        sys.stop().await;
    }
}

async fn web<Req: prost::Message, Res: prost::Message + Default>(
    client: &Client,
    method: &str,
    message: &Req,
) -> Result<Res, WebError> {
    client.grpc_web(&format!("{SERVICE}/{method}"), message).await
}

/// The next notification of a gRPC-web stream, within [`WITHIN`].
async fn next_web(stream: &mut crate::support::GrpcWebStream) -> pb::Notification {
    let next = tokio::time::timeout(WITHIN, stream.next::<pb::StreamNotificationsResponse>())
        .await
        .unwrap_or_else(|_| panic!("a notification within {WITHIN:?}"))
        .unwrap_or_else(|| panic!("stream still open, ended with {:?}", stream.trailers()));
    next.notification.expect("notification set")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_web_lists_and_streams_notifications_live() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let (alice, bob) =
            tokio::join!(sys.user("walice01", School::Hanbit), sys.user("wbob02", School::Hanbit));
        let board = sys.board(&alice, "자유게시판").await;
        let post = create_post(&alice, &board, "스트림 받을 글", false).await;

        let request = pb::StreamNotificationsRequest {};
        let mut web_stream = alice.grpc_web_stream(&format!("{SERVICE}/StreamNotifications"), &request).await;
        let mut bob_stream = bob.grpc_web_stream(&format!("{SERVICE}/StreamNotifications"), &request).await;
        let http = alice.get_raw("/v1/notifications:stream").await;
        assert_eq!(http.status(), StatusCode::OK);
        assert_eq!(http.headers()["content-type"], "application/x-ndjson");
        let mut lines = JsonLines { body: Box::pin(http.bytes_stream()), buffer: Vec::new() };

        let comment = create_comment(&bob, &post, "실시간 익명 댓글", true).await;
        let live = next_web(&mut web_stream).await;
        assert_eq!(
            (live.kind(), live.comment_id, live.post_id, live.preview.as_str()),
            (pb::NotificationKind::Comment, Some(id_of(&comment)), id_of(&post), "실시간 익명 댓글"),
            "{backend:?}"
        );
        let line = tokio::time::timeout(WITHIN, lines.next_line()).await.expect("an NDJSON line");
        let streamed = &line["notification"];
        assert_eq!(
            (&streamed["commentId"], &streamed["kind"]),
            (&json!(comment), &json!("NOTIFICATION_KIND_COMMENT"))
        );
        names_nobody(&format!("{live:?}{line}"), &bob, "a streamed notification of an anonymous comment");
        // The protobuf has no field that could carry him: its bytes hold neither his id nor name.
        let bytes = prost::Message::encode_to_vec(&live);
        for secret in [id_of(&bob.id).to_le_bytes().to_vec(), bob.nickname.as_bytes().to_vec()] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_slice()), "{backend:?}");
        }

        // Listing and marking read over gRPC-web.
        let page: pb::ListNotificationsResponse = web(
            &alice,
            "ListNotifications",
            &pb::ListNotificationsRequest { page_size: 10, page_token: String::new() },
        )
        .await
        .unwrap();
        assert_eq!((page.notifications.len(), page.unread_count), (1, 1), "{backend:?}");
        assert_eq!(page.notifications[0], live, "the listed notification is the streamed one");
        let marked: pb::MarkNotificationsReadResponse = web(
            &alice,
            "MarkNotificationsRead",
            &pb::MarkNotificationsReadRequest { ids: vec![live.id], all: false },
        )
        .await
        .unwrap();
        assert_eq!(marked.unread_count, 0);
        let too_many = pb::MarkNotificationsReadRequest { ids: (1..=101).collect(), all: false };
        let refused = web::<_, pb::MarkNotificationsReadResponse>(&alice, "MarkNotificationsRead", &too_many)
            .await
            .unwrap_err();
        refused.expect(tonic::Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(refused.fields, ["ids"]);

        // Bob's stream heard nothing of Alice's: its first notification is his own.
        let answer = reply(&alice, &post, &comment, "답글 드려요", false).await;
        let his = next_web(&mut bob_stream).await;
        assert_eq!(
            (his.kind(), his.comment_id),
            (pb::NotificationKind::Reply, Some(id_of(&answer))),
            "{backend:?}"
        );

        let nobody = sys.anonymous();
        let denied = web::<_, pb::ListNotificationsResponse>(
            &nobody,
            "ListNotifications",
            &pb::ListNotificationsRequest::default(),
        )
        .await;
        denied.unwrap_err().expect(tonic::Code::Unauthenticated, "UNAUTHENTICATED");
        sys.stop().await;
    }
}
