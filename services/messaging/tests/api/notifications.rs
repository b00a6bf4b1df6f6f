//! NotificationService fed by synthetic board events (the fake board's feed): who is
//! notified of what, idempotency, removals, paging, marking read, validation and streams.
//!
//! The feed is applied in order, so "nothing happened" is shown by publishing a later event
//! that does notify and checking, once it arrived, that the earlier one left nothing.

use campus_proto::board::v1::{
    CommentCreated, CommentRemoved, PostPromoted, PostRemoved, Promotion, Removal,
};
use campus_proto::messaging::v1::{
    ListNotificationsRequest, Notification, NotificationKind, StreamNotificationsRequest,
};
use campus_shared::db::Backend;
use campus_testkit::backends;
use campus_testkit::status::*;
use tonic::Code;

use crate::helpers::*;

const BOARD: i64 = 7;
const BOARD_NAME: &str = "자유게시판";

/// Board's event of a new comment (a reply when `parent` names the comment and its author).
pub fn comment(
    comment_id: i64,
    post_id: i64,
    writer: i64,
    post_author: i64,
    parent: Option<(i64, i64)>,
) -> CommentCreated {
    CommentCreated {
        comment_id,
        post_id,
        board_id: BOARD,
        board_name: BOARD_NAME.into(),
        school_id: SCHOOL,
        author_id: writer,
        post_author_id: post_author,
        parent_comment_id: parent.map(|(id, _)| id),
        parent_author_id: parent.map(|(_, author)| author),
        preview: format!("댓글 {comment_id}"),
        created_at: None,
    }
}

fn promoted(post_id: i64, author_id: i64, promotion: Promotion) -> PostPromoted {
    PostPromoted {
        post_id,
        board_id: BOARD,
        board_name: BOARD_NAME.into(),
        school_id: SCHOOL,
        author_id,
        promotion: promotion as i32,
        preview: format!("글 {post_id}의 제목"),
        promoted_at: None,
    }
}

fn kinds(list: &[Notification]) -> Vec<(i64, Option<i64>, NotificationKind)> {
    list.iter().map(|n| (n.post_id, n.comment_id, n.kind())).collect()
}

#[tokio::test]
async fn a_comment_notifies_the_post_author_and_nobody_hears_of_their_own() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        // Bob comments on his own post: nobody is notified.
        app.dir.publish_board_event(&comment(500, BOB_POST, BOB, BOB, None));
        app.dir.publish_board_event(&comment(501, BOB_POST, CAROL, BOB, None));
        let list = app.notified(BOB, BOB_POST, 501).await;
        assert_eq!(kinds(&list), [(BOB_POST, Some(501), NotificationKind::Comment)], "{backend:?}");
        let n = &list[0];
        assert_eq!((n.board_id, n.board_name.as_str(), n.preview.as_str()), (BOARD, BOARD_NAME, "댓글 501"));
        assert!(!n.read && n.created_at.is_some());
        let (carol, _) = app.notifications(CAROL).await;
        assert!(carol.is_empty(), "{backend:?}: the writer hears nothing: {carol:?}");
        assert_eq!(app.notifications(BOB).await.1, 1);
    }
}

#[tokio::test]
async fn a_reply_notifies_the_parent_author_and_a_third_post_author_once_each() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        // Alice replies to Carol's comment on Bob's post: Carol REPLY, Bob COMMENT.
        app.dir.publish_board_event(&comment(510, BOB_POST, ALICE, BOB, Some((CAROL_COMMENT, CAROL))));
        // Alice replies to Bob's comment on Bob's post: Bob gets one REPLY, not a COMMENT too.
        app.dir.publish_board_event(&comment(511, BOB_POST, ALICE, BOB, Some((BOB_ANON_COMMENT, BOB))));
        // Carol replies to her own comment: only Bob (the post's author) hears of it.
        app.dir.publish_board_event(&comment(512, BOB_POST, CAROL, BOB, Some((CAROL_COMMENT, CAROL))));
        let bob = app.notified(BOB, BOB_POST, 512).await;
        assert_eq!(
            kinds(&bob),
            [
                (BOB_POST, Some(512), NotificationKind::Comment),
                (BOB_POST, Some(511), NotificationKind::Reply),
                (BOB_POST, Some(510), NotificationKind::Comment),
            ],
            "{backend:?}: newest first, one per action"
        );
        let (carol, unread) = app.notifications(CAROL).await;
        assert_eq!(kinds(&carol), [(BOB_POST, Some(510), NotificationKind::Reply)], "{backend:?}");
        assert_eq!(unread, 1);
        assert!(app.notifications(ALICE).await.0.is_empty());
    }
}

#[tokio::test]
async fn hot_and_best_notify_the_author_with_the_title() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        app.dir.publish_board_event(&promoted(ALICE_POST, ALICE, Promotion::Hot));
        app.dir.publish_board_event(&promoted(ALICE_POST, ALICE, Promotion::Best));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let list = loop {
            let (list, _) = app.notifications(ALICE).await;
            if list.len() == 2 {
                break list;
            }
            assert!(std::time::Instant::now() < deadline, "{backend:?}: {list:?}");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert_eq!(
            kinds(&list),
            [(ALICE_POST, None, NotificationKind::Best), (ALICE_POST, None, NotificationKind::Hot)]
        );
        assert!(list.iter().all(|n| n.preview == format!("글 {ALICE_POST}의 제목")));
    }
}

#[tokio::test]
async fn each_event_counts_once_however_often_it_comes() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let first = app.dir.publish_board_event(&comment(520, BOB_POST, CAROL, BOB, None));
        // The same event again (same id, later position), and the same fact as a new event.
        app.dir.republish_board_event(&first);
        app.dir.publish_board_event(&comment(520, BOB_POST, CAROL, BOB, None));
        app.dir.publish_board_event(&promoted(BOB_POST, BOB, Promotion::Hot));
        app.dir.publish_board_event(&promoted(BOB_POST, BOB, Promotion::Hot));
        app.dir.publish_board_event(&comment(521, BOB_POST, CAROL, BOB, None));
        let list = app.notified(BOB, BOB_POST, 521).await;
        assert_eq!(
            kinds(&list),
            [
                (BOB_POST, Some(521), NotificationKind::Comment),
                (BOB_POST, None, NotificationKind::Hot),
                (BOB_POST, Some(520), NotificationKind::Comment),
            ],
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn removing_a_comment_or_a_post_removes_its_notifications() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        app.dir.publish_board_event(&comment(530, BOB_POST, ALICE, BOB, Some((CAROL_COMMENT, CAROL))));
        app.dir.publish_board_event(&comment(531, BOB_POST, CAROL, BOB, None));
        app.dir.publish_board_event(&promoted(BOB_POST, BOB, Promotion::Hot));
        app.dir.publish_board_event(&comment(532, ALICE_POST, BOB, ALICE, None));
        app.notified(ALICE, ALICE_POST, 532).await;

        // The reply is hidden: both its notifications (Carol's REPLY, Bob's COMMENT) go.
        let hidden = CommentRemoved {
            comment_id: 530,
            post_id: BOB_POST,
            removal: Removal::Hidden as i32,
            removed_at: None,
        };
        app.dir.publish_board_event(&hidden);
        app.dir.publish_board_event(&comment(533, ALICE_POST, CAROL, ALICE, None));
        app.notified(ALICE, ALICE_POST, 533).await;
        let (bob, unread) = app.notifications(BOB).await;
        assert_eq!(
            kinds(&bob),
            [(BOB_POST, None, NotificationKind::Hot), (BOB_POST, Some(531), NotificationKind::Comment)],
            "{backend:?}"
        );
        assert_eq!(unread, 2, "the unread count follows");
        assert!(app.notifications(CAROL).await.0.is_empty());

        // The post is deleted: everything about it goes, other posts' notifications stay.
        let deleted = PostRemoved {
            post_id: BOB_POST,
            board_id: BOARD,
            removal: Removal::Deleted as i32,
            removed_at: None,
        };
        app.dir.publish_board_event(&deleted);
        app.dir.publish_board_event(&comment(534, ALICE_POST, CAROL, ALICE, None));
        let alice = app.notified(ALICE, ALICE_POST, 534).await;
        assert_eq!(alice.len(), 3, "{backend:?}");
        let (bob, unread) = app.notifications(BOB).await;
        assert!(bob.is_empty() && unread == 0, "{backend:?}: {bob:?}");
    }
}

#[tokio::test]
async fn lists_page_newest_first_with_tokens() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        for id in 1..=25 {
            app.dir.publish_board_event(&comment(600 + id, BOB_POST, CAROL, BOB, None));
        }
        app.notified(BOB, BOB_POST, 625).await;
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = Vec::new();
        loop {
            let page = app.list_notifications(BOB, 10, &token).await.unwrap();
            assert_eq!(page.unread_count, 25, "every page carries the unread count");
            pages.push(page.notifications.len());
            seen.extend(page.notifications.iter().map(|n| n.comment_id.unwrap()));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(pages, [10, 10, 5], "{backend:?}");
        assert_eq!(seen, (601..=625).rev().collect::<Vec<_>>());
        // Default page size is 20.
        assert_eq!(app.list_notifications(BOB, 0, "").await.unwrap().notifications.len(), 20);

        let negative = app.list_notifications(BOB, -1, "").await;
        assert_eq!(bad_fields(&assert_code(negative, Code::InvalidArgument)), ["pageSize"]);
        let forged = app.list_notifications(BOB, 10, "not-a-token").await;
        assert_code(forged, Code::InvalidArgument);
        // A token is its user's: Carol cannot page with Bob's.
        let bobs = app.list_notifications(BOB, 10, "").await.unwrap().next_page_token;
        assert_code(app.list_notifications(CAROL, 10, &bobs).await, Code::InvalidArgument);
    }
}

#[tokio::test]
async fn marking_read_touches_only_the_callers_and_answers_the_unread_count() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        for id in 1..=3 {
            app.dir.publish_board_event(&comment(700 + id, BOB_POST, CAROL, BOB, None));
        }
        app.dir.publish_board_event(&comment(710, ALICE_POST, CAROL, ALICE, None));
        app.notified(ALICE, ALICE_POST, 710).await;
        let bob = app.notified(BOB, BOB_POST, 703).await;
        let alices = app.notifications(ALICE).await.0[0].id;

        // One of Bob's, twice, and Alice's (ignored: not his).
        let answer =
            app.mark_notifications_read(BOB, vec![bob[0].id, bob[0].id, alices], false).await.unwrap();
        assert_eq!(answer.unread_count, 2, "{backend:?}");
        let (list, unread) = app.notifications(BOB).await;
        assert_eq!(unread, 2);
        assert!(list[0].read && !list[1].read && !list[2].read);
        let (alice, unread) = app.notifications(ALICE).await;
        assert!(!alice[0].read && unread == 1, "{backend:?}: Alice's notification is untouched");

        assert_eq!(app.mark_notifications_read(BOB, vec![], true).await.unwrap().unread_count, 0);
        assert!(app.notifications(BOB).await.0.iter().all(|n| n.read));
        assert_eq!(app.notifications(ALICE).await.1, 1);
    }
}

#[tokio::test]
async fn mark_read_validates_its_ids() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let empty = assert_code(app.mark_notifications_read(BOB, vec![], false).await, Code::InvalidArgument);
        assert_eq!(reason(&empty), "INVALID_ARGUMENT", "{backend:?}");
        assert_eq!(bad_fields(&empty), ["ids"]);
        let bad =
            assert_code(app.mark_notifications_read(BOB, vec![5, 0, -3], false).await, Code::InvalidArgument);
        assert_eq!(bad_fields(&bad), ["ids[1]", "ids[2]"]);
        let many = assert_code(
            app.mark_notifications_read(BOB, (1..=101).collect(), false).await,
            Code::InvalidArgument,
        );
        assert_eq!(bad_fields(&many), ["ids"]);
        assert_eq!(
            app.mark_notifications_read(BOB, (1..=100).collect(), false).await.unwrap().unread_count,
            0
        );
    }
}

#[tokio::test]
async fn notifications_need_a_token() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let mut client = app.notification_client();
        let list = client.list_notifications(tonic::Request::new(ListNotificationsRequest::default())).await;
        assert_code(list, Code::Unauthenticated);
        let stream = client.stream_notifications(tonic::Request::new(StreamNotificationsRequest {})).await;
        assert_code(stream.map(|_| ()), Code::Unauthenticated);
    }
}

#[tokio::test]
async fn a_stream_gets_each_new_notification_of_its_user_only() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let mut bob = app.notification_stream(BOB).await;
        let mut bob_phone = app.notification_stream(BOB).await;
        let mut carol = app.notification_stream(CAROL).await;
        app.dir.publish_board_event(&comment(800, BOB_POST, CAROL, BOB, None));
        let got = next_notification(&mut bob).await;
        assert_eq!((got.comment_id, got.kind()), (Some(800), NotificationKind::Comment), "{backend:?}");
        assert_eq!(got.preview, "댓글 800");
        assert!(!got.read);
        assert_eq!(next_notification(&mut bob_phone).await.id, got.id, "every open stream of the user");
        // The listed notification is the streamed one.
        assert_eq!(app.notifications(BOB).await.0[0], got);

        // Carol's stream heard nothing of Bob's: the first thing it gets is her own.
        app.dir.publish_board_event(&comment(801, BOB_POST, ALICE, BOB, Some((CAROL_COMMENT, CAROL))));
        let hers = next_notification(&mut carol).await;
        assert_eq!((hers.comment_id, hers.kind()), (Some(801), NotificationKind::Reply), "{backend:?}");
        // A duplicate delivery is not streamed again: Bob's next is the next new one.
        let duplicate = app.dir.publish_board_event(&comment(802, BOB_POST, CAROL, BOB, None));
        app.dir.republish_board_event(&duplicate);
        app.dir.publish_board_event(&comment(803, BOB_POST, CAROL, BOB, None));
        let ids: Vec<_> = [
            next_notification(&mut bob).await,
            next_notification(&mut bob).await,
            next_notification(&mut bob).await,
        ]
        .iter()
        .map(|n| n.comment_id.unwrap())
        .collect();
        assert_eq!(ids, [801, 802, 803], "{backend:?}");
    }
}

#[tokio::test]
async fn on_postgres_replicas_store_each_notification_once_and_stream_it_on_both() {
    if !backends().contains(&Backend::Postgres) {
        return;
    }
    let one = spawn_app(Backend::Postgres).await;
    let two = one.replica().await;
    let mut bob_on_one = one.notification_stream(BOB).await;
    let mut bob_on_two = two.notification_stream(BOB).await;
    for id in 1..=20 {
        one.dir.publish_board_event(&comment(900 + id, BOB_POST, CAROL, BOB, None));
    }
    for stream in [&mut bob_on_one, &mut bob_on_two] {
        let mut ids = Vec::new();
        for _ in 1..=20 {
            ids.push(next_notification(stream).await.comment_id.unwrap());
        }
        assert_eq!(ids, (901..=920).collect::<Vec<_>>());
    }
    let (list, unread) = two.notifications(BOB).await;
    assert_eq!((list.len(), unread), (20, 20), "each notification stored once");
}
