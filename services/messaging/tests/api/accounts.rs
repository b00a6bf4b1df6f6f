//! Account's feed (the fake account's): what a deleted account leaves behind in messaging.

use std::time::{Duration, Instant};

use campus_messaging::domain::UNKNOWN_USER;
use campus_proto::account::v1::AccountDeleted;
use campus_proto::messaging::v1::NotificationKind;
use campus_proto::messaging::v1::create_conversation_request::Target;
use campus_shared::db::{now_micros, timestamp};
use campus_testkit::backends;

use crate::helpers::*;
use crate::notifications::comment;

/// A day, in microseconds.
const DAY: i64 = 86_400 * 1_000_000;

#[tokio::test]
async fn a_deleted_account_loses_its_notifications_and_gets_no_new_ones() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let conversation = app.start(ALICE, Target::UserId(BOB), false, "hi").await.unwrap();
        app.dir.publish_board_event(&comment(520, BOB_POST, CAROL, BOB, None));
        app.dir.publish_board_event(&comment(521, BOB_POST, ALICE, BOB, None));
        app.dir.publish_board_event(&comment(522, ALICE_POST, CAROL, ALICE, None));
        assert_eq!(app.notified(BOB, BOB_POST, 521).await.len(), 2, "{backend:?}");
        app.notified(ALICE, ALICE_POST, 522).await;

        // The deletion is a day old, so Bob's tokens are no longer refused (a real one would
        // have expired long since) and the test can still read Bob's list as Bob. Messaging
        // applies the event alike whatever its age.
        let deleted_at = Some(timestamp(now_micros() - DAY));
        app.dir.publish_account_event(&AccountDeleted { user_id: BOB, school_id: SCHOOL, deleted_at });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (bob, unread) = app.notifications(BOB).await;
            if bob.is_empty() {
                assert_eq!(unread, 0, "{backend:?}");
                break;
            }
            assert!(Instant::now() < deadline, "{backend:?}: Bob's notifications stayed: {bob:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // Alice's notification stays, and her side of the conversation shows Bob as unknown.
        let (alice, _) = app.notifications(ALICE).await;
        assert_eq!(alice.len(), 1, "{backend:?}: {alice:?}");
        assert_eq!((alice[0].comment_id, alice[0].kind()), (Some(522), NotificationKind::Comment));
        let inbox = app.inbox(ALICE).await;
        assert_eq!(inbox[0].id, conversation.id);
        assert_eq!(inbox[0].counterpart.as_ref().unwrap().display_name, UNKNOWN_USER, "{backend:?}");

        // A later comment on Bob's post notifies nobody: once the comment after it has
        // notified Alice, it was applied too.
        app.dir.publish_board_event(&comment(523, BOB_POST, CAROL, BOB, None));
        app.dir.publish_board_event(&comment(524, ALICE_POST, CAROL, ALICE, None));
        assert_eq!(app.notified(ALICE, ALICE_POST, 524).await.len(), 2, "{backend:?}");
        assert!(app.notifications(BOB).await.0.is_empty(), "{backend:?}");
    }
}
