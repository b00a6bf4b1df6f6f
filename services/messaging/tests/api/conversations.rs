//! CreateConversation: targets, anonymity both ways, reuse, and every refusal.

use campus_proto::messaging::v1::create_conversation_request::Target;
use campus_testkit::backends;
use tonic::Code;

use crate::helpers::*;
use campus_testkit::status::*;

#[tokio::test]
async fn a_named_conversation_from_a_post_shows_nicknames_both_ways() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let c =
            app.start(ALICE, Target::PostId(BOB_POST), false, "is the book still for sale?").await.unwrap();
        let counterpart = c.counterpart.clone().unwrap();
        assert_eq!((counterpart.display_name.as_str(), counterpart.is_anonymous), ("bob", false));
        assert_eq!(c.origin.unwrap().post_id, Some(BOB_POST));
        assert_eq!(c.origin.unwrap().comment_id, None);
        let last = c.last_message.clone().unwrap();
        assert_eq!(
            (last.content.as_str(), last.is_mine, last.conversation_id),
            ("is the book still for sale?", true, c.id)
        );
        assert_eq!((c.unread_count, c.blocked), (0, false));

        let bob_inbox = app.inbox(BOB).await;
        assert_eq!(bob_inbox.len(), 1, "{backend:?}");
        let seen = &bob_inbox[0];
        assert_eq!(seen.id, c.id);
        assert_eq!(seen.counterpart.clone().unwrap().display_name, "alice");
        assert_eq!(seen.unread_count, 1);
        assert!(!seen.last_message.clone().unwrap().is_mine);
    }
}

#[tokio::test]
async fn the_recipient_of_an_anonymous_start_sees_only_익명() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let c = app.start(ALICE, Target::PostId(BOB_POST), true, "hello").await.unwrap();
        assert_eq!(c.counterpart.unwrap().display_name, "bob", "the starter still sees a named author");

        let bob_view = app.inbox(BOB).await;
        let counterpart = bob_view[0].counterpart.clone().unwrap();
        assert_eq!((counterpart.display_name.as_str(), counterpart.is_anonymous), ("익명", true));
        // Nothing Bob receives names Alice: not her nickname, not her id.
        let messages = app.messages(BOB, c.id, 20, "").await.unwrap();
        let everything = format!("{bob_view:?}{messages:?}");
        assert!(!everything.contains("alice"), "{everything}");
        let read = app.read(BOB, c.id).await.unwrap();
        assert_eq!(read.counterpart.unwrap().display_name, "익명");
    }
}

#[tokio::test]
async fn the_starter_sees_the_author_of_anonymous_content_as_익명() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let from_post = app.start(ALICE, Target::PostId(BOB_ANON_POST), false, "hi").await.unwrap();
        let counterpart = from_post.counterpart.clone().unwrap();
        assert_eq!((counterpart.display_name.as_str(), counterpart.is_anonymous), ("익명", true));
        assert!(!format!("{from_post:?}").contains("bob"));

        let from_comment = app.start(ALICE, Target::CommentId(BOB_ANON_COMMENT), false, "hi").await.unwrap();
        assert_eq!(from_comment.counterpart.clone().unwrap().display_name, "익명");
        let origin = from_comment.origin.unwrap();
        assert_eq!((origin.post_id, origin.comment_id), (Some(BOB_POST), Some(BOB_ANON_COMMENT)));
        assert_ne!(from_post.id, from_comment.id, "another origin is another conversation");

        // Alice was named, so Bob knows who wrote to him.
        let bob_view = app.inbox(BOB).await;
        assert!(bob_view.iter().all(|c| c.counterpart.clone().unwrap().display_name == "alice"));
        assert!(!format!("{:?}", app.inbox(ALICE).await).contains("bob"));
    }
}

#[tokio::test]
async fn a_named_comment_names_its_author() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let c = app.start(ALICE, Target::CommentId(CAROL_COMMENT), false, "hi").await.unwrap();
        assert_eq!(c.counterpart.unwrap().display_name, "carol");
        assert_eq!(app.inbox(CAROL).await[0].counterpart.clone().unwrap().display_name, "alice");
        assert!(app.inbox(BOB).await.is_empty(), "the post's author is not part of it");
    }
}

#[tokio::test]
async fn the_same_two_people_and_origin_reuse_one_conversation() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let first = app.start(ALICE, Target::PostId(BOB_POST), false, "one").await.unwrap();
        let again = app.start(ALICE, Target::PostId(BOB_POST), false, "two").await.unwrap();
        assert_eq!(first.id, again.id);
        assert_eq!(again.last_message.unwrap().content, "two");
        let messages = app.messages(BOB, first.id, 20, "").await.unwrap().messages;
        let texts: Vec<_> = messages.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(texts, ["two", "one"]);
        assert_eq!(app.inbox(BOB).await[0].unread_count, 2);

        // A user origin is its own conversation, shared whichever side starts it.
        let by_user = app.start(ALICE, Target::UserId(BOB), false, "direct").await.unwrap();
        assert_ne!(by_user.id, first.id);
        assert_eq!(by_user.origin.unwrap(), Default::default());
        let back = app.start(BOB, Target::UserId(ALICE), false, "direct back").await.unwrap();
        assert_eq!(back.id, by_user.id);
        assert_eq!(back.counterpart.unwrap().display_name, "alice");
        assert_eq!(app.inbox(ALICE).await.len(), 2, "{backend:?}");
    }
}

#[tokio::test]
async fn anonymity_is_part_of_the_conversation_key() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let named = app.start(ALICE, Target::PostId(BOB_POST), false, "named").await.unwrap();
        let anonymous = app.start(ALICE, Target::PostId(BOB_POST), true, "anonymous").await.unwrap();
        let anonymous_again = app.start(ALICE, Target::PostId(BOB_POST), true, "anonymous 2").await.unwrap();
        assert_ne!(named.id, anonymous.id);
        assert_eq!(anonymous.id, anonymous_again.id);

        // Bob writing back to Alice anonymously by user id must not land in a room that
        // would tell him who she is, nor she in his.
        let alice_anon = app.start(ALICE, Target::UserId(BOB), true, "guess who").await.unwrap();
        let bob_anon = app.start(BOB, Target::UserId(ALICE), true, "and you?").await.unwrap();
        assert_ne!(alice_anon.id, bob_anon.id);
        let bob_inbox = app.inbox(BOB).await;
        let alice_room = bob_inbox.iter().find(|c| c.id == alice_anon.id).unwrap();
        assert_eq!(alice_room.counterpart.clone().unwrap().display_name, "익명");
    }
}

#[tokio::test]
async fn concurrent_starts_make_one_conversation() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let app = std::sync::Arc::new(app);
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let app = app.clone();
                tokio::spawn(async move {
                    let target = Target::PostId(BOB_POST);
                    app.start(ALICE, target, false, &format!("racing {i}")).await.unwrap().id
                })
            })
            .collect();
        let mut ids = Vec::new();
        for t in tasks {
            ids.push(t.await.unwrap());
        }
        ids.dedup();
        assert_eq!(ids.len(), 1, "{backend:?}: {ids:?}");
        let bob_inbox = app.inbox(BOB).await;
        assert_eq!(bob_inbox.len(), 1);
        assert_eq!(bob_inbox[0].unread_count, 8);
        assert_eq!(app.messages(ALICE, ids[0], 100, "").await.unwrap().messages.len(), 8);
    }
}

#[tokio::test]
async fn nobody_can_message_themselves() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let own_post = app.start(ALICE, Target::PostId(ALICE_POST), false, "me").await;
        assert_error(own_post, Code::FailedPrecondition, "CANNOT_MESSAGE_SELF");
        let own_comment = app.start(BOB, Target::CommentId(BOB_ANON_COMMENT), true, "me").await;
        assert_error(own_comment, Code::FailedPrecondition, "CANNOT_MESSAGE_SELF");
        let own_id = app.start(ALICE, Target::UserId(ALICE), false, "me").await;
        assert_error(own_id, Code::FailedPrecondition, "CANNOT_MESSAGE_SELF");
        assert!(app.inbox(ALICE).await.is_empty());
    }
}

#[tokio::test]
async fn another_schools_people_and_posts_are_not_found() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        assert_code(app.start(ALICE, Target::PostId(DAVE_POST), false, "hi").await, Code::NotFound);
        assert_code(app.start(ALICE, Target::UserId(DAVE), false, "hi").await, Code::NotFound);
        assert_code(app.start(DAVE, Target::UserId(ALICE), false, "hi").await, Code::NotFound);
        assert!(app.inbox(ALICE).await.is_empty());
    }
}

#[tokio::test]
async fn unknown_and_deleted_origins_are_not_found() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        assert_code(app.start(ALICE, Target::PostId(999), false, "hi").await, Code::NotFound);
        assert_code(app.start(ALICE, Target::CommentId(999), false, "hi").await, Code::NotFound);
        assert_code(app.start(ALICE, Target::UserId(999), false, "hi").await, Code::NotFound);

        let before = app.start(ALICE, Target::PostId(BOB_POST), false, "before").await.unwrap();
        app.dir.delete_post(BOB_POST);
        assert_code(app.start(ALICE, Target::PostId(BOB_POST), false, "after").await, Code::NotFound);
        // The conversation itself lives on: it is no longer tied to the post being there.
        app.send(ALICE, before.id, "still here").await.unwrap();
        assert!(app.inbox(CAROL).await.is_empty());
    }
}

#[tokio::test]
async fn bad_requests_name_their_fields() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let t = Target::PostId(BOB_POST);
        assert_eq!(violated_fields(&app.start(ALICE, t, false, "").await.unwrap_err()), ["content"]);
        assert_eq!(violated_fields(&app.start(ALICE, t, false, "  \n ").await.unwrap_err()), ["content"]);
        assert_eq!(
            violated_fields(&app.start(ALICE, t, false, &"가".repeat(1001)).await.unwrap_err()),
            ["content"]
        );
        assert_eq!(violated_fields(&app.start(ALICE, t, false, "a\0b").await.unwrap_err()), ["content"]);
        assert_eq!(
            violated_fields(&app.start(ALICE, Target::PostId(0), false, "").await.unwrap_err()),
            ["postId", "content"]
        );
        assert_eq!(
            violated_fields(&app.start(ALICE, Target::UserId(-5), false, "x").await.unwrap_err()),
            ["userId"]
        );
        let none = campus_proto::messaging::v1::CreateConversationRequest {
            target: None,
            anonymous: false,
            content: "x".into(),
        };
        assert_eq!(
            violated_fields(&app.client().create_conversation(app.req(ALICE, none)).await.unwrap_err()),
            ["target"]
        );
        assert!(app.inbox(ALICE).await.is_empty(), "nothing half-written");
        app.start(ALICE, t, false, &"가".repeat(1000)).await.expect("1,000 characters are fine");
    }
}

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let body = campus_proto::messaging::v1::ListConversationsRequest::default();
        let anonymous = app.client().list_conversations(tonic::Request::new(body.clone())).await;
        assert_code(anonymous, Code::Unauthenticated);
        let mut forged = tonic::Request::new(body);
        forged.metadata_mut().insert("authorization", "Bearer not.a.token".parse().unwrap());
        assert_code(app.client().list_conversations(forged).await, Code::Unauthenticated);
    }
}

#[tokio::test]
async fn unreachable_upstreams_are_unavailable() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let broken = app.with_dead_upstreams().await;
        let from_post = broken.start(ALICE, Target::PostId(BOB_POST), false, "hi").await;
        assert_error(from_post, Code::Unavailable, "UNAVAILABLE");
        let from_user = broken.start(ALICE, Target::UserId(BOB), false, "hi").await;
        assert_error(from_user, Code::Unavailable, "UNAVAILABLE");
    }
}

#[tokio::test]
async fn nicknames_are_refreshed_when_their_owner_writes() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let c = app.start(ALICE, Target::UserId(BOB), false, "hi").await.unwrap();
        // Bob renames himself; Alice keeps seeing the snapshot until Bob writes again.
        app.dir.add_user(BOB, SCHOOL, "bobby");
        assert_eq!(app.inbox(ALICE).await[0].counterpart.clone().unwrap().display_name, "bob");
        app.send(BOB, c.id, "new name").await.unwrap();
        assert_eq!(app.inbox(ALICE).await[0].counterpart.clone().unwrap().display_name, "bobby");
        // Starting again refreshes both sides from the account service.
        app.dir.add_user(ALICE, SCHOOL, "alicia");
        app.dir.add_user(BOB, SCHOOL, "robert");
        let again = app.start(ALICE, Target::UserId(BOB), false, "again").await.unwrap();
        assert_eq!(again.counterpart.unwrap().display_name, "robert");
        assert_eq!(app.inbox(BOB).await[0].counterpart.clone().unwrap().display_name, "alicia");
    }
}
