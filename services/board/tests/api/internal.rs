use campus_proto::board::v1 as pb;
use campus_proto::board::v1::get_content_author_request::Target;
use tonic::Code;

use crate::helpers::*;
use campus_testkit::status::*;

fn target(t: Target) -> pb::GetContentAuthorRequest {
    pb::GetContentAuthorRequest { target: Some(t) }
}

#[tokio::test]
async fn content_authors_resolve_for_services_only_and_within_the_school() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(7, board.id, "익명 글", true).await;
        let comment = app.comment(8, post.id, false, None).await.unwrap();
        let mut internal = app.internal.clone();

        let on_behalf = |t| app.identity.service_request(target(t), Some((9, SCHOOL)));
        let author =
            internal.get_content_author(on_behalf(Target::PostId(post.id))).await.unwrap().into_inner();
        assert_eq!(
            (author.author_id, author.school_id, author.post_id, author.anonymous),
            (7, SCHOOL, post.id, true)
        );
        let author =
            internal.get_content_author(on_behalf(Target::CommentId(comment.id))).await.unwrap().into_inner();
        assert_eq!((author.author_id, author.post_id, author.anonymous), (8, post.id, false));

        // A user's token alone is not enough.
        let user_only = app.req(target(Target::PostId(post.id)), 9);
        let status = internal.get_content_author(user_only).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);

        let outsider = app.identity.service_request(target(Target::PostId(post.id)), Some((9, OTHER_SCHOOL)));
        assert_error(internal.get_content_author(outsider).await, Code::NotFound, "NOT_FOUND");
        let empty =
            app.identity.service_request(pb::GetContentAuthorRequest { target: None }, Some((9, SCHOOL)));
        assert_eq!(internal.get_content_author(empty).await.unwrap_err().code(), Code::InvalidArgument);

        // Deleted content is refused, so no conversation can start from it.
        app.client().delete_comment(app.req(pb::DeleteCommentRequest { id: comment.id }, 8)).await.unwrap();
        assert_error(
            internal.get_content_author(on_behalf(Target::CommentId(comment.id))).await,
            Code::NotFound,
            "NOT_FOUND",
        );
        app.client().delete_post(app.req(pb::DeletePostRequest { id: post.id }, 7)).await.unwrap();
        assert_error(
            internal.get_content_author(on_behalf(Target::PostId(post.id))).await,
            Code::NotFound,
            "NOT_FOUND",
        );
    })
    .await;
}
