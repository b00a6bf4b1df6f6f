//! Board's event feed (DESIGN §8, §9): every comment, HOT/BEST promotion and removal is
//! written in the transaction of its change and read back here over the real
//! `EventFeedInternalService/WatchEvents`, with the service credential. A write that fails
//! leaves no event: the next event read is always the next successful write's.

use campus_proto::board::v1::{self as pb, CommentCreated, CommentRemoved, PostPromoted, PostRemoved};
use campus_proto::events::v1::{Event, WatchEventsRequest};
use campus_shared::events::payload;
use tonic::Code;

use crate::helpers::*;
use campus_testkit::status::*;

/// The payload of `event`, which must be an `M`.
fn decoded<M: prost::Name + Default>(event: &Event) -> M {
    assert_eq!(event.r#type, M::full_name(), "event at {}", event.position);
    payload::<M>(event).expect("the type matches").expect("the payload decodes")
}

async fn write(
    app: &TestApp,
    user: i64,
    post_id: i64,
    content: &str,
    anonymous: bool,
    parent_id: Option<i64>,
) -> Result<pb::Comment, tonic::Status> {
    let request = pb::CreateCommentRequest { post_id, content: content.into(), anonymous, parent_id };
    Ok(app.client().create_comment(app.req(request, user)).await?.into_inner())
}

async fn report_post(app: &TestApp, user: i64, id: i64) -> Result<(), tonic::Status> {
    let request = pb::ReportPostRequest { id, reason: "spam".into() };
    app.client().report_post(app.req(request, user)).await.map(|_| ())
}

async fn report_comment(app: &TestApp, user: i64, id: i64) -> Result<(), tonic::Status> {
    let request = pb::ReportCommentRequest { id, reason: "spam".into() };
    app.client().report_comment(app.req(request, user)).await.map(|_| ())
}

#[tokio::test]
async fn comments_and_replies_carry_whom_to_notify_anonymous_or_not() {
    each_backend(|app| async move {
        let board = app.board(1, "자유게시판").await;
        let post = app.post(7, board.id, "익명 글", true).await;
        let long = "가나다라마바사아자차카타파하".repeat(5); // 70 characters, 210 bytes
        let top = write(&app, 8, post.id, &long, false, None).await.unwrap();
        let reply = write(&app, 9, post.id, "답글", true, Some(top.id)).await.unwrap();
        // A reply to a reply joins the top comment: that is the parent it names.
        let nested = write(&app, 10, post.id, "답글의 답글", false, Some(reply.id)).await.unwrap();
        let by_author = write(&app, 7, post.id, "글쓴이 댓글", true, None).await.unwrap();

        let events = app.events_after(0, 4).await;
        assert_eq!(events.iter().map(|e| e.position).collect::<Vec<_>>(), [1, 2, 3, 4]);
        let created: Vec<CommentCreated> = events.iter().map(decoded::<CommentCreated>).collect();
        let first = &created[0];
        assert_eq!(
            (first.comment_id, first.post_id, first.board_id, first.board_name.as_str(), first.school_id),
            (top.id, post.id, board.id, "자유게시판", SCHOOL)
        );
        assert_eq!((first.author_id, first.post_author_id), (8, 7));
        assert_eq!((first.parent_comment_id, first.parent_author_id), (None, None));
        assert_eq!(first.preview, long.chars().take(60).collect::<String>());
        assert_eq!(first.created_at, top.created_at);
        assert_eq!(events[0].occurred_at, top.created_at);

        // The anonymous reply's writer is named to the consumer (never to a client).
        assert_eq!((created[1].comment_id, created[1].author_id), (reply.id, 9));
        assert_eq!((created[1].parent_comment_id, created[1].parent_author_id), (Some(top.id), Some(8)));
        assert_eq!(created[1].preview, "답글");
        assert_eq!((created[2].comment_id, created[2].author_id), (nested.id, 10));
        assert_eq!((created[2].parent_comment_id, created[2].parent_author_id), (Some(top.id), Some(8)));
        assert_eq!(
            (created[3].comment_id, created[3].author_id, created[3].post_author_id),
            (by_author.id, 7, 7)
        );
        assert!(events.windows(2).all(|w| w[0].id != w[1].id), "each event has its own id");

        // Failing writes leave nothing: invalid text, a missing post, a parent on another post
        // (refused after the post's counter was taken: the transaction rolls back).
        let other = app.post(7, board.id, "다른 글", false).await;
        assert_code(write(&app, 8, post.id, "   ", false, None).await, Code::InvalidArgument);
        assert_code(write(&app, 8, post.id, &"x".repeat(301), false, None).await, Code::InvalidArgument);
        assert_error(write(&app, 8, 987_654_321, "hi", false, None).await, Code::NotFound, "NOT_FOUND");
        assert_error(
            write(&app, 8, other.id, "hi", false, Some(top.id)).await,
            Code::InvalidArgument,
            "PARENT_NOT_IN_POST",
        );
        app.client().delete_post(app.req(pb::DeletePostRequest { id: other.id }, 7)).await.unwrap();
        assert_error(write(&app, 8, other.id, "hi", false, None).await, Code::NotFound, "NOT_FOUND");
        let after = write(&app, 11, post.id, "다음", false, None).await.unwrap();

        let events = app.events_after(4, 2).await;
        assert_eq!(events.iter().map(|e| e.position).collect::<Vec<_>>(), [5, 6]);
        let removed: PostRemoved = decoded(&events[0]);
        assert_eq!(
            (removed.post_id, removed.board_id, removed.removal()),
            (other.id, board.id, pb::Removal::Deleted)
        );
        assert_eq!(decoded::<CommentCreated>(&events[1]).comment_id, after.id);
    })
    .await;
}

#[tokio::test]
async fn a_post_is_promoted_to_hot_and_to_best_once_each() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let quiet = app.board_in(1, SCHOOL, "조용한 게시판", true).await;
        let title = "제목".repeat(35); // 70 characters
        let post = app.post(2, board.id, &title, true).await;
        for user in 10..10 + HOT {
            app.like(user, post.id).await.unwrap();
        }
        let events = app.events_after(0, 1).await;
        let hot: PostPromoted = decoded(&events[0]);
        assert_eq!(
            (hot.post_id, hot.board_id, hot.board_name.as_str(), hot.school_id, hot.author_id),
            (post.id, board.id, "A", SCHOOL, 2)
        );
        assert_eq!((hot.promotion(), hot.preview.chars().count()), (pb::Promotion::Hot, 60));
        assert_eq!(hot.preview, title.chars().take(60).collect::<String>());
        let shown = app.get_post(3, post.id).await.unwrap();
        assert!(shown.is_hot && !shown.is_best);

        // Refused likes (again, your own) count nothing and announce nothing; BEST comes once.
        assert_error(app.like(10, post.id).await, Code::AlreadyExists, "ALREADY_LIKED");
        assert_error(app.like(2, post.id).await, Code::FailedPrecondition, "CANNOT_LIKE_OWN_POST");
        for user in 10 + HOT..10 + BEST + 2 {
            app.like(user, post.id).await.unwrap();
        }
        // On a board without HOT, BEST still comes.
        let calm = app.post(2, quiet.id, "조용한 글", false).await;
        for user in 10..10 + BEST {
            app.like(user, calm.id).await.unwrap();
        }
        let events = app.events_after(1, 2).await;
        let best: PostPromoted = decoded(&events[0]);
        assert_eq!(
            (best.post_id, best.promotion(), best.preview.as_str()),
            (post.id, pb::Promotion::Best, hot.preview.as_str())
        );
        let at = |t: Option<prost_types::Timestamp>| t.map(|t| (t.seconds, t.nanos)).expect("a time");
        assert!(at(best.promoted_at) >= at(hot.promoted_at));
        let shown = app.get_post(3, post.id).await.unwrap();
        let calm_best: PostPromoted = decoded(&events[1]);
        assert_eq!(
            (calm_best.post_id, calm_best.board_name.as_str(), calm_best.promotion()),
            (calm.id, "조용한 게시판", pb::Promotion::Best)
        );
        assert!(shown.is_hot && shown.is_best);
        assert_eq!(shown.like_count as i64, BEST + 2);
        // Nothing came after them but the next change.
        app.client().delete_post(app.req(pb::DeletePostRequest { id: calm.id }, 2)).await.unwrap();
        let next = app.events_after(3, 1).await;
        assert_eq!((next[0].position, decoded::<PostRemoved>(&next[0]).post_id), (4, calm.id));
    })
    .await;
}

#[tokio::test]
async fn deleting_or_hiding_by_reports_announces_a_removal_once() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(2, board.id, "글", false).await;
        let doomed = write(&app, 3, post.id, "지울 댓글", false, None).await.unwrap();
        let reported = write(&app, 3, post.id, "신고될 댓글", true, None).await.unwrap();
        let _ = app.events_after(0, 2).await;

        app.client().delete_comment(app.req(pb::DeleteCommentRequest { id: doomed.id }, 3)).await.unwrap();
        // Refused: someone else's comment, your own report, a report twice.
        assert_error(
            app.client().delete_comment(app.req(pb::DeleteCommentRequest { id: reported.id }, 4)).await,
            Code::PermissionDenied,
            "NOT_OWNER",
        );
        assert_error(
            report_comment(&app, 3, reported.id).await,
            Code::FailedPrecondition,
            "CANNOT_REPORT_OWN_COMMENT",
        );
        for user in 10..15 {
            report_comment(&app, user, reported.id).await.unwrap();
        }
        assert_error(report_comment(&app, 10, reported.id).await, Code::AlreadyExists, "ALREADY_REPORTED");
        // A sixth report hides nothing more.
        report_comment(&app, 15, reported.id).await.unwrap();
        for user in 10..16 {
            report_post(&app, user, post.id).await.unwrap();
        }
        // Deleting the hidden post is its own removal.
        app.client().delete_post(app.req(pb::DeletePostRequest { id: post.id }, 2)).await.unwrap();
        assert_error(
            app.client().delete_post(app.req(pb::DeletePostRequest { id: post.id }, 2)).await,
            Code::NotFound,
            "NOT_FOUND",
        );
        let sentinel = app.post(2, board.id, "다음 글", false).await;
        write(&app, 3, sentinel.id, "다음", false, None).await.unwrap();

        let events = app.events_after(2, 5).await;
        assert_eq!(events.iter().map(|e| e.position).collect::<Vec<_>>(), [3, 4, 5, 6, 7]);
        let deleted: CommentRemoved = decoded(&events[0]);
        assert_eq!(
            (deleted.comment_id, deleted.post_id, deleted.removal()),
            (doomed.id, post.id, pb::Removal::Deleted)
        );
        assert!(deleted.removed_at.is_some());
        let hidden: CommentRemoved = decoded(&events[1]);
        assert_eq!(
            (hidden.comment_id, hidden.post_id, hidden.removal()),
            (reported.id, post.id, pb::Removal::Hidden)
        );
        let hidden: PostRemoved = decoded(&events[2]);
        assert_eq!(
            (hidden.post_id, hidden.board_id, hidden.removal()),
            (post.id, board.id, pb::Removal::Hidden)
        );
        let deleted: PostRemoved = decoded(&events[3]);
        assert_eq!((deleted.post_id, deleted.removal()), (post.id, pb::Removal::Deleted));
        assert_eq!(decoded::<CommentCreated>(&events[4]).post_id, sentinel.id);
    })
    .await;
}

#[tokio::test]
async fn the_feed_is_for_services_only() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(2, board.id, "글", false).await;
        write(&app, 3, post.id, "댓글", false, None).await.unwrap();
        let watch = || WatchEventsRequest { after: 0, consumer: "test".into() };

        let status = app.feed.clone().watch_events(tonic::Request::new(watch())).await.unwrap_err();
        assert_status(&status, Code::PermissionDenied, "SERVICE_ONLY");
        let status = app.feed.clone().watch_events(app.req(watch(), 3)).await.unwrap_err();
        assert_status(&status, Code::PermissionDenied, "SERVICE_ONLY");
        let mut forged = tonic::Request::new(watch());
        forged.metadata_mut().insert(campus_shared::identity::SERVICE_TOKEN_HEADER, "guess".parse().unwrap());
        assert_eq!(app.feed.clone().watch_events(forged).await.unwrap_err().code(), Code::PermissionDenied);

        // With the credential: the backlog, and a bad request is INVALID_ARGUMENT.
        assert_eq!(app.events_after(0, 1).await.len(), 1);
        let bad =
            app.identity.service_request(WatchEventsRequest { after: -1, consumer: "test".into() }, None);
        assert_eq!(app.feed.clone().watch_events(bad).await.unwrap_err().code(), Code::InvalidArgument);
    })
    .await;
}

#[tokio::test]
async fn concurrent_likes_and_reports_announce_each_change_once() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(2, board.id, "인기 글", false).await;
        let liked = futures::future::join_all((100..132).map(|user| app.like(user, post.id))).await;
        assert!(liked.iter().all(Result::is_ok));
        let comment = write(&app, 3, post.id, "신고될 댓글", false, None).await.unwrap();
        let reported =
            futures::future::join_all((200..216).map(|user| report_comment(&app, user, comment.id))).await;
        assert!(reported.iter().all(Result::is_ok));
        // A last change marks the end: everything before it is what the likes and reports made.
        app.client().delete_post(app.req(pb::DeletePostRequest { id: post.id }, 2)).await.unwrap();

        let events = app.events_after(0, 5).await;
        let types: Vec<&str> = events.iter().map(|e| e.r#type.as_str()).collect();
        assert_eq!(
            types,
            [
                "campus.board.v1.PostPromoted",
                "campus.board.v1.PostPromoted",
                "campus.board.v1.CommentCreated",
                "campus.board.v1.CommentRemoved",
                "campus.board.v1.PostRemoved",
            ]
        );
        let promotions: Vec<pb::Promotion> =
            events[..2].iter().map(|e| decoded::<PostPromoted>(e).promotion()).collect();
        assert_eq!(promotions, [pb::Promotion::Hot, pb::Promotion::Best]);
        assert_eq!(decoded::<CommentRemoved>(&events[3]).removal(), pb::Removal::Hidden);
        assert_eq!(decoded::<PostRemoved>(&events[4]).removal(), pb::Removal::Deleted);
    })
    .await;
}
