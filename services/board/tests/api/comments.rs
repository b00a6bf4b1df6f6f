use campus_proto::board::v1 as pb;
use tonic::Code;

use crate::helpers::*;
use campus_testkit::status::*;

fn shown(c: &pb::Comment) -> (String, bool, bool) {
    let a = c.author.clone().unwrap();
    (a.display_name, a.is_anonymous, a.is_post_author)
}

#[tokio::test]
async fn anonymous_commenters_are_numbered_in_order_of_first_comment() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "질문", true).await;
        let b1 = app.comment(2, post.id, true, None).await.unwrap();
        let c1 = app.comment(3, post.id, true, None).await.unwrap();
        let b2 = app.comment(2, post.id, true, None).await.unwrap();
        let author = app.comment(1, post.id, true, None).await.unwrap();
        let named = app.comment(4, post.id, false, None).await.unwrap();
        let author_named = app.comment(1, post.id, false, None).await.unwrap();
        let d1 = app.comment(5, post.id, true, None).await.unwrap();

        assert_eq!(shown(&b1), ("익명1".into(), true, false));
        assert_eq!(shown(&c1), ("익명2".into(), true, false));
        assert_eq!(shown(&b2), ("익명1".into(), true, false), "a commenter keeps their number");
        assert_eq!(shown(&author), ("익명(글쓴이)".into(), true, true));
        assert_eq!(shown(&named), ("user4".into(), false, false));
        // Naming the author of an anonymous post as such would unmask the post.
        assert_eq!(shown(&author_named), ("user1".into(), false, false));
        assert_eq!(shown(&d1), ("익명3".into(), true, false), "the author and named comments take no number");

        // Reads show the same names, and `isMe` only to the writer.
        let listed = app.comments(3, post.id).await;
        let names: Vec<String> = listed.iter().map(|c| shown(c).0).collect();
        assert_eq!(names, ["익명1", "익명2", "익명1", "익명(글쓴이)", "user4", "user1", "익명3"]);
        let me: Vec<bool> = listed.iter().map(|c| c.author.as_ref().unwrap().is_me).collect();
        assert_eq!(me, [false, true, false, false, false, false, false]);
        assert_eq!(app.get_post(1, post.id).await.unwrap().comment_count, 7);
    })
    .await;
}

#[tokio::test]
async fn replies_are_one_level_deep_and_follow_their_parent() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "글", false).await;
        let top1 = app.comment(2, post.id, false, None).await.unwrap();
        let top2 = app.comment(3, post.id, false, None).await.unwrap();
        let reply = app.comment(4, post.id, true, Some(top1.id)).await.unwrap();
        assert_eq!(reply.parent_id, top1.id);
        let reply_to_reply = app.comment(5, post.id, true, Some(reply.id)).await.unwrap();
        assert_eq!(reply_to_reply.parent_id, top1.id, "a reply to a reply joins the top comment");

        let order: Vec<(i64, i64)> =
            app.comments(1, post.id).await.iter().map(|c| (c.id, c.parent_id)).collect();
        assert_eq!(order, [(top1.id, 0), (reply.id, top1.id), (reply_to_reply.id, top1.id), (top2.id, 0)]);

        // A parent on another post is refused, and nothing is written.
        let other = app.post(1, board.id, "다른 글", false).await;
        let foreign = app.comment(2, other.id, false, None).await.unwrap();
        assert_error(
            app.comment(2, post.id, true, Some(foreign.id)).await,
            Code::InvalidArgument,
            "PARENT_NOT_IN_POST",
        );
        assert_error(app.comment(2, post.id, true, Some(987654321)).await, Code::NotFound, "NOT_FOUND");
        assert_eq!(app.get_post(1, post.id).await.unwrap().comment_count, 4);
        assert_eq!(app.comments(1, post.id).await.len(), 4);
    })
    .await;
}

#[tokio::test]
async fn deleting_a_comment_with_replies_leaves_a_placeholder() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "글", false).await;
        let parent = app.comment(2, post.id, true, None).await.unwrap();
        let reply = app.comment(3, post.id, true, Some(parent.id)).await.unwrap();
        let lonely = app.comment(2, post.id, false, None).await.unwrap();

        let delete = |id| pb::DeleteCommentRequest { id };
        assert_error(
            app.client().delete_comment(app.req(delete(parent.id), 3)).await,
            Code::PermissionDenied,
            "NOT_OWNER",
        );
        app.client().delete_comment(app.req(delete(parent.id), 2)).await.unwrap();
        app.client().delete_comment(app.req(delete(lonely.id), 2)).await.unwrap();

        let listed = app.comments(1, post.id).await;
        assert_eq!(
            listed.iter().map(|c| c.id).collect::<Vec<_>>(),
            [parent.id, reply.id],
            "the lonely one disappears"
        );
        let placeholder = &listed[0];
        assert!(placeholder.deleted);
        assert_eq!(placeholder.content, "삭제된 댓글입니다");
        assert_eq!(placeholder.author.as_ref().unwrap().display_name, "");
        assert_eq!(app.get_post(1, post.id).await.unwrap().comment_count, 1, "live comments only");

        // Deleted comments are gone for every other purpose.
        assert_error(
            app.client().delete_comment(app.req(delete(parent.id), 2)).await,
            Code::NotFound,
            "NOT_FOUND",
        );
        let like = pb::LikeCommentRequest { id: parent.id };
        assert_error(app.client().like_comment(app.req(like, 4)).await, Code::NotFound, "NOT_FOUND");
        assert_error(app.comment(4, post.id, false, Some(parent.id)).await, Code::NotFound, "NOT_FOUND");

        // With its last reply gone the placeholder goes too.
        app.client().delete_comment(app.req(delete(reply.id), 3)).await.unwrap();
        assert!(app.comments(1, post.id).await.is_empty());
        assert_eq!(app.get_post(1, post.id).await.unwrap().comment_count, 0);
    })
    .await;
}

#[tokio::test]
async fn comments_are_liked_once_and_never_by_their_author() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "글", false).await;
        let comment = app.comment(2, post.id, true, None).await.unwrap();
        let like = pb::LikeCommentRequest { id: comment.id };
        assert_error(
            app.client().like_comment(app.req(like, 2)).await,
            Code::FailedPrecondition,
            "CANNOT_LIKE_OWN_COMMENT",
        );
        let liked = app.client().like_comment(app.req(like, 3)).await.unwrap().into_inner();
        assert_eq!((liked.like_count, liked.liked_by_me), (1, true));
        assert_eq!(shown(&liked).0, "익명1");
        assert_error(app.client().like_comment(app.req(like, 3)).await, Code::AlreadyExists, "ALREADY_LIKED");
        app.client().like_comment(app.req(like, 4)).await.unwrap();
        let listed = app.comments(3, post.id).await;
        assert_eq!((listed[0].like_count, listed[0].liked_by_me), (2, true));
        assert!(!app.comments(5, post.id).await[0].liked_by_me);
    })
    .await;
}

#[tokio::test]
async fn comment_text_is_checked() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "글", false).await;
        for content in ["".to_string(), "   ".into(), "가".repeat(301)] {
            let request =
                pb::CreateCommentRequest { post_id: post.id, content, anonymous: true, parent_id: None };
            let status = app.client().create_comment(app.req(request, 2)).await.unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument);
            assert_eq!(bad_fields(&status), ["content"]);
        }
        let request = pb::CreateCommentRequest {
            post_id: post.id,
            content: "가".repeat(300),
            anonymous: true,
            parent_id: None,
        };
        app.client().create_comment(app.req(request, 2)).await.unwrap();
        assert_eq!(app.get_post(1, post.id).await.unwrap().comment_count, 1);
    })
    .await;
}
