//! Sending, listing, unread counts, leaving, blocking and who may touch a conversation.

use campus_proto::messaging::v1::create_conversation_request::Target;
use campus_testkit::backends;
use tonic::Code;

use crate::helpers::*;
use campus_testkit::status::*;

#[tokio::test]
async fn messages_are_listed_newest_first_in_pages() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let c = app.start(ALICE, Target::UserId(BOB), false, "m0").await.unwrap();
        for i in 1..25 {
            let sender = if i % 2 == 0 { ALICE } else { BOB };
            let sent = app.send(sender, c.id, &format!("m{i}")).await.unwrap();
            assert_eq!((sent.conversation_id, sent.is_mine), (c.id, true));
        }
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = app.messages(ALICE, c.id, 10, &token).await.unwrap();
            pages += 1;
            for m in &page.messages {
                let n: usize = m.content[1..].parse().unwrap();
                assert_eq!(m.is_mine, n.is_multiple_of(2), "isMine is relative to the caller");
                seen.push(n);
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, (0..25).rev().collect::<Vec<_>>(), "{backend:?}");
        // A page token is bound to its list and caller.
        let page = app.messages(ALICE, c.id, 10, "").await.unwrap();
        assert_code(app.messages(BOB, c.id, 10, &page.next_page_token).await, Code::InvalidArgument);
    }
}

#[tokio::test]
async fn bad_messages_are_refused() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let c = app.start(ALICE, Target::UserId(BOB), false, "hi").await.unwrap();
        assert_eq!(violated_fields(&app.send(ALICE, c.id, "").await.unwrap_err()), ["content"]);
        assert_eq!(violated_fields(&app.send(ALICE, c.id, "\n").await.unwrap_err()), ["content"]);
        assert_eq!(
            violated_fields(&app.send(ALICE, c.id, &"x".repeat(1001)).await.unwrap_err()),
            ["content"]
        );
        app.send(ALICE, c.id, &"😀".repeat(1000)).await.expect("1,000 characters, 4,000 bytes");
        assert_eq!(app.messages(BOB, c.id, 100, "").await.unwrap().messages.len(), 2);
    }
}

#[tokio::test]
async fn outsiders_get_not_found_for_everything() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let c = app.start(ALICE, Target::PostId(BOB_POST), false, "private").await.unwrap();
        for id in [c.id, 424242] {
            assert_code(app.send(CAROL, id, "let me in").await, Code::NotFound);
            assert_code(app.messages(CAROL, id, 10, "").await, Code::NotFound);
            assert_code(app.read(CAROL, id).await, Code::NotFound);
            assert_code(app.leave(CAROL, id).await, Code::NotFound);
            assert_code(app.block(CAROL, id).await, Code::NotFound);
            assert_code(app.send(DAVE, id, "other school").await, Code::NotFound);
        }
        let after = app.read(ALICE, c.id).await.unwrap();
        assert!(!after.blocked, "a stranger's block did nothing");
        assert_eq!(app.messages(BOB, c.id, 10, "").await.unwrap().messages.len(), 1);
        assert!(app.inbox(CAROL).await.is_empty());
    }
}

#[tokio::test]
async fn unread_counts_follow_messages_and_reads() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let c = app.start(ALICE, Target::UserId(BOB), false, "1").await.unwrap();
        app.send(ALICE, c.id, "2").await.unwrap();
        app.send(ALICE, c.id, "3").await.unwrap();
        assert_eq!(app.inbox(BOB).await[0].unread_count, 3);
        assert_eq!(app.inbox(ALICE).await[0].unread_count, 0, "your own messages are read");

        let read = app.read(BOB, c.id).await.unwrap();
        assert_eq!((read.id, read.unread_count), (c.id, 0));
        assert_eq!(read.last_message.unwrap().content, "3");
        assert_eq!(app.inbox(BOB).await[0].unread_count, 0);

        app.send(BOB, c.id, "reply").await.unwrap();
        assert_eq!(app.inbox(ALICE).await[0].unread_count, 1);
        assert_eq!(app.inbox(BOB).await[0].unread_count, 0);
    }
}

#[tokio::test]
async fn concurrent_messages_count_exactly() {
    for backend in backends() {
        let app = std::sync::Arc::new(spawn_app(backend).await);
        let c = app.start(ALICE, Target::UserId(BOB), false, "0").await.unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let app = app.clone();
                tokio::spawn(async move { app.send(ALICE, c.id, &format!("{i}")).await.unwrap() })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(app.inbox(BOB).await[0].unread_count, 21, "{backend:?}");
    }
}

#[tokio::test]
async fn conversations_are_listed_by_latest_activity_in_pages() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let a = app.start(ALICE, Target::PostId(BOB_POST), false, "a").await.unwrap();
        let b = app.start(ALICE, Target::CommentId(CAROL_COMMENT), false, "b").await.unwrap();
        let c = app.start(ALICE, Target::UserId(BOB), false, "c").await.unwrap();
        let d = app.start(CAROL, Target::UserId(ALICE), false, "d").await.unwrap();
        let e = app.start(ALICE, Target::PostId(BOB_ANON_POST), true, "e").await.unwrap();
        // The oldest comes back to the top when a message arrives in it.
        app.send(BOB, a.id, "bump").await.unwrap();

        let mut order = Vec::new();
        let mut token = String::new();
        loop {
            let page = app.conversations(ALICE, 2, &token).await.unwrap();
            assert!(page.conversations.len() <= 2);
            order.extend(page.conversations.iter().map(|c| c.id));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(order, [a.id, e.id, d.id, c.id, b.id], "{backend:?}");
        let top = &app.inbox(ALICE).await[0];
        let last = top.last_message.clone().unwrap();
        assert_eq!((last.content.as_str(), last.is_mine, top.unread_count), ("bump", false, 1));

        let first = app.conversations(ALICE, 2, "").await.unwrap();
        assert_code(app.conversations(BOB, 2, &first.next_page_token).await, Code::InvalidArgument);
        assert_code(app.conversations(ALICE, -1, "").await, Code::InvalidArgument);
    }
}

#[tokio::test]
async fn leaving_hides_a_conversation_until_a_new_message_arrives() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let c = app.start(ALICE, Target::UserId(BOB), false, "old 1").await.unwrap();
        app.send(BOB, c.id, "old 2").await.unwrap();
        app.leave(ALICE, c.id).await.unwrap();
        assert!(app.inbox(ALICE).await.is_empty());
        assert!(
            app.messages(ALICE, c.id, 10, "").await.unwrap().messages.is_empty(),
            "left messages are cleared"
        );
        assert_eq!(app.inbox(BOB).await.len(), 1, "the other side keeps it");
        assert_eq!(app.messages(BOB, c.id, 10, "").await.unwrap().messages.len(), 2);

        app.send(BOB, c.id, "new").await.unwrap();
        let inbox = app.inbox(ALICE).await;
        assert_eq!(inbox.len(), 1, "{backend:?}");
        assert_eq!((inbox[0].id, inbox[0].unread_count), (c.id, 1));
        let texts: Vec<_> = app
            .messages(ALICE, c.id, 10, "")
            .await
            .unwrap()
            .messages
            .into_iter()
            .map(|m| m.content)
            .collect();
        assert_eq!(texts, ["new"]);

        // Starting it again from the same origin also brings it back.
        app.leave(ALICE, c.id).await.unwrap();
        let again = app.start(ALICE, Target::UserId(BOB), false, "back").await.unwrap();
        assert_eq!(again.id, c.id);
        assert_eq!(app.inbox(ALICE).await.len(), 1);
    }
}

#[tokio::test]
async fn blocking_stops_messages_both_ways() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let c = app.start(ALICE, Target::PostId(BOB_POST), true, "hi").await.unwrap();
        let blocked = app.block(BOB, c.id).await.unwrap();
        assert!(blocked.blocked);
        assert_eq!(blocked.counterpart.unwrap().display_name, "익명");

        assert_error(app.send(ALICE, c.id, "hello?").await, Code::FailedPrecondition, "CONVERSATION_BLOCKED");
        assert_error(app.send(BOB, c.id, "bye").await, Code::FailedPrecondition, "CONVERSATION_BLOCKED");
        let restart = app.start(ALICE, Target::PostId(BOB_POST), true, "again").await;
        assert_error(restart, Code::FailedPrecondition, "CONVERSATION_BLOCKED");
        assert!(app.inbox(ALICE).await[0].blocked);
        assert_eq!(app.messages(BOB, c.id, 10, "").await.unwrap().messages.len(), 1, "nothing slipped in");
        assert_eq!(app.inbox(BOB).await[0].unread_count, 1);

        // Blocking twice, or from the other side, keeps it blocked.
        assert!(app.block(ALICE, c.id).await.unwrap().blocked);
        assert!(app.block(BOB, c.id).await.unwrap().blocked);

        // The starter may block too.
        let d = app.start(CAROL, Target::UserId(BOB), false, "hey").await.unwrap();
        app.block(CAROL, d.id).await.unwrap();
        assert_error(app.send(BOB, d.id, "hey back").await, Code::FailedPrecondition, "CONVERSATION_BLOCKED");
    }
}
