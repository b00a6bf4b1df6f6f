use campus_proto::board::v1 as pb;
use tonic::Code;

use crate::helpers::*;
use campus_testkit::status::*;

#[tokio::test]
async fn posts_show_their_author_by_nickname_or_anonymously() {
    each_backend(|app| async move {
        let board = app.board(1, "자유게시판").await;
        let named = app.post(10, board.id, "안녕하세요", false).await;
        let author = named.author.clone().unwrap();
        assert_eq!(
            (author.display_name.as_str(), author.is_anonymous, author.is_me),
            ("user10", false, true)
        );
        assert!(named.is_mine);
        assert_eq!((named.like_count, named.comment_count, named.scrap_count), (0, 0, 0));
        assert!(named.created_at.is_some());

        let anonymous = app.post(10, board.id, "비밀", true).await;
        let seen = app.get_post(11, anonymous.id).await.unwrap();
        let author = seen.author.unwrap();
        assert_eq!((author.display_name.as_str(), author.is_anonymous, author.is_me), ("익명", true, false));
        assert!(!seen.is_mine);
        assert_eq!(seen.title, "비밀");
        assert_eq!(seen.content, "비밀 body");
    })
    .await;
}

#[tokio::test]
async fn titles_and_contents_are_measured_in_characters() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let ok = pb::CreatePostRequest {
            board_id: board.id,
            title: "가".repeat(100),
            content: "나".repeat(10_000),
            anonymous: true,
        };
        app.client().create_post(app.req(ok, 1)).await.expect("limits are inclusive");
        for (title, content, field) in [
            ("가".repeat(101), "x".to_string(), "title"),
            (" ".into(), "x".into(), "title"),
            ("t".into(), "나".repeat(10_001), "content"),
            ("t".into(), String::new(), "content"),
        ] {
            let request = pb::CreatePostRequest { board_id: board.id, title, content, anonymous: false };
            let status = app.client().create_post(app.req(request, 1)).await.unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument);
            assert_eq!(bad_fields(&status), [field]);
        }
        let unknown = pb::CreatePostRequest {
            board_id: 424242,
            title: "t".into(),
            content: "c".into(),
            anonymous: false,
        };
        assert_error(app.client().create_post(app.req(unknown, 1)).await, Code::NotFound, "NOT_FOUND");
        assert_eq!(app.board_posts(1, board.id, "").await.len(), 1, "refused posts leave nothing behind");
    })
    .await;
}

#[tokio::test]
async fn only_the_author_updates_or_deletes_and_deleted_posts_are_gone() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "원래 제목", false).await;

        let edit = pb::UpdatePostRequest { id: post.id, title: Some("새 제목".into()), content: None };
        assert_error(
            app.client().update_post(app.req(edit.clone(), 2)).await,
            Code::PermissionDenied,
            "NOT_OWNER",
        );
        let updated = app.client().update_post(app.req(edit, 1)).await.unwrap().into_inner();
        assert_eq!((updated.title.as_str(), updated.content.as_str()), ("새 제목", "원래 제목 body"));
        let nothing = pb::UpdatePostRequest { id: post.id, title: None, content: None };
        assert_eq!(
            app.client().update_post(app.req(nothing, 1)).await.unwrap_err().code(),
            Code::InvalidArgument
        );
        let too_long = pb::UpdatePostRequest { id: post.id, title: None, content: Some("x".repeat(10_001)) };
        assert_eq!(
            app.client().update_post(app.req(too_long, 1)).await.unwrap_err().code(),
            Code::InvalidArgument
        );

        let delete = pb::DeletePostRequest { id: post.id };
        assert_error(app.client().delete_post(app.req(delete, 2)).await, Code::PermissionDenied, "NOT_OWNER");
        app.client().delete_post(app.req(delete, 1)).await.unwrap();
        assert_error(app.get_post(1, post.id).await, Code::NotFound, "NOT_FOUND");
        assert!(app.board_posts(1, board.id, "").await.is_empty());
        assert_error(app.like(2, post.id).await, Code::NotFound, "NOT_FOUND");
        assert_error(app.comment(2, post.id, true, None).await, Code::NotFound, "NOT_FOUND");
        assert_error(app.client().delete_post(app.req(delete, 1)).await, Code::NotFound, "NOT_FOUND");
        let mine = app
            .client()
            .list_my_posts(app.req(pb::ListMyPostsRequest::default(), 1))
            .await
            .unwrap()
            .into_inner();
        assert!(mine.posts.is_empty());
    })
    .await;
}

#[tokio::test]
async fn board_lists_page_newest_first_without_gaps_and_filter_by_query() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let other = app.board(1, "B").await;
        let mut ids = Vec::new();
        for i in 0..25 {
            let title = if i % 5 == 0 { format!("Apple {i}") } else { format!("banana {i}") };
            ids.push(app.post(1 + i % 3, board.id, &title, i % 2 == 0).await.id);
        }
        app.post(1, other.id, "apple elsewhere", false).await;
        ids.reverse();
        let listed: Vec<i64> = app.board_posts(5, board.id, "").await.into_iter().map(|p| p.id).collect();
        assert_eq!(listed, ids, "{:?}", app.backend);

        let apples = app.board_posts(5, board.id, "APPLE").await;
        assert_eq!(apples.len(), 5);
        assert!(apples.iter().all(|p| p.title.starts_with("Apple")));
    })
    .await;
}

#[tokio::test]
async fn search_spans_the_schools_boards_case_insensitively_and_literally() {
    each_backend(|app| async move {
        let a = app.board(1, "A").await;
        let b = app.board(1, "B").await;
        let theirs = app.board_in(9, OTHER_SCHOOL, "C", false).await;
        let hit1 = app.post(1, a.id, "Rust 스터디 모집", false).await;
        let hit2 = app.post(2, b.id, "다들 rust 하나요", true).await;
        app.post(1, a.id, "파이썬", false).await;
        let percent = app.post(1, a.id, "100% 환불", false).await;
        app.post(1, a.id, "1000 환불", false).await;
        let other = pb::CreatePostRequest {
            board_id: theirs.id,
            title: "rust too".into(),
            content: "x".into(),
            anonymous: false,
        };
        app.client().create_post(app.req_in(other, 9, OTHER_SCHOOL)).await.unwrap();

        let search = |query: &str| {
            let request =
                pb::SearchPostsRequest { query: query.into(), page_size: 1, page_token: String::new() };
            (request, app.client())
        };
        let mut found = Vec::new();
        let (mut request, mut client) = search("RUST");
        loop {
            let page = client.search_posts(app.req(request.clone(), 3)).await.unwrap().into_inner();
            found.extend(page.posts.into_iter().map(|p| p.id));
            if page.next_page_token.is_empty() {
                break;
            }
            request.page_token = page.next_page_token;
        }
        assert_eq!(found, [hit2.id, hit1.id]);

        let (request, mut client) = search("100%");
        let page = client.search_posts(app.req(request, 3)).await.unwrap().into_inner();
        assert_eq!(page.posts.iter().map(|p| p.id).collect::<Vec<_>>(), [percent.id], "% matches literally");
        let (request, mut client) = search("");
        assert_eq!(client.search_posts(app.req(request, 3)).await.unwrap_err().code(), Code::InvalidArgument);
    })
    .await;
}

#[tokio::test]
async fn another_schools_posts_are_not_found() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "우리 학교", false).await;
        let outsider = |m| app.req_in(m, 50, OTHER_SCHOOL);
        assert_error(
            app.client().get_post(outsider(pb::GetPostRequest { id: post.id })).await,
            Code::NotFound,
            "NOT_FOUND",
        );
        let list = pb::ListPostsRequest { board_id: board.id, ..Default::default() };
        assert_error(
            app.client().list_posts(app.req_in(list, 50, OTHER_SCHOOL)).await,
            Code::NotFound,
            "NOT_FOUND",
        );
        let like = pb::LikePostRequest { id: post.id };
        assert_error(
            app.client().like_post(app.req_in(like, 50, OTHER_SCHOOL)).await,
            Code::NotFound,
            "NOT_FOUND",
        );
        let comment = pb::CreateCommentRequest {
            post_id: post.id,
            content: "hi".into(),
            anonymous: true,
            parent_id: None,
        };
        assert_error(
            app.client().create_comment(app.req_in(comment, 50, OTHER_SCHOOL)).await,
            Code::NotFound,
            "NOT_FOUND",
        );
        let comments = pb::ListCommentsRequest { post_id: post.id, ..Default::default() };
        assert_error(
            app.client().list_comments(app.req_in(comments, 50, OTHER_SCHOOL)).await,
            Code::NotFound,
            "NOT_FOUND",
        );
        let create = pb::CreatePostRequest {
            board_id: board.id,
            title: "t".into(),
            content: "c".into(),
            anonymous: false,
        };
        assert_error(
            app.client().create_post(app.req_in(create, 50, OTHER_SCHOOL)).await,
            Code::NotFound,
            "NOT_FOUND",
        );
        let search = pb::SearchPostsRequest { query: "우리".into(), ..Default::default() };
        let found =
            app.client().search_posts(app.req_in(search, 50, OTHER_SCHOOL)).await.unwrap().into_inner();
        assert!(found.posts.is_empty());
    })
    .await;
}

#[tokio::test]
async fn my_posts_and_my_commented_posts() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let mine1 = app.post(7, board.id, "내 글 1", true).await;
        let theirs1 = app.post(8, board.id, "남의 글 1", false).await;
        let mine2 = app.post(7, board.id, "내 글 2", false).await;
        let theirs2 = app.post(8, board.id, "남의 글 2", false).await;
        app.post(8, board.id, "댓글 없는 글", false).await;

        let posts = app
            .client()
            .list_my_posts(app.req(pb::ListMyPostsRequest::default(), 7))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(posts.posts.iter().map(|p| p.id).collect::<Vec<_>>(), [mine2.id, mine1.id]);
        assert!(posts.posts.iter().all(|p| p.is_mine));

        app.comment(7, theirs1.id, true, None).await.unwrap();
        app.comment(7, theirs1.id, false, None).await.unwrap();
        let gone = app.comment(7, theirs2.id, true, None).await.unwrap();
        app.comment(7, mine1.id, true, None).await.unwrap();
        app.client().delete_comment(app.req(pb::DeleteCommentRequest { id: gone.id }, 7)).await.unwrap();

        let request = pb::ListMyCommentedPostsRequest { page_size: 1, page_token: String::new() };
        let first = app.client().list_my_commented_posts(app.req(request, 7)).await.unwrap().into_inner();
        assert_eq!(first.posts.iter().map(|p| p.id).collect::<Vec<_>>(), [theirs1.id]);
        let request = pb::ListMyCommentedPostsRequest { page_size: 1, page_token: first.next_page_token };
        let second = app.client().list_my_commented_posts(app.req(request, 7)).await.unwrap().into_inner();
        assert_eq!(second.posts.iter().map(|p| p.id).collect::<Vec<_>>(), [mine1.id]);
        assert!(second.next_page_token.is_empty());
    })
    .await;
}

#[tokio::test]
async fn control_characters_are_refused_by_field_and_nothing_is_written() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let nul = pb::CreatePostRequest {
            board_id: board.id,
            title: "제목\0".into(),
            content: "본문\u{1b}[2J".into(),
            anonymous: false,
        };
        let refused = app.client().create_post(app.req(nul, 1)).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(bad_fields(&refused), ["title", "content"]);
        let post = app.post(1, board.id, "멀쩡한 글", false).await;
        let comment =
            pb::CreateCommentRequest { post_id: post.id, content: "a\0".into(), ..Default::default() };
        let refused = app.client().create_comment(app.req(comment, 2)).await.unwrap_err();
        assert_eq!(bad_fields(&refused), ["content"]);
        let search = pb::ListPostsRequest { board_id: board.id, query: "\0".into(), ..Default::default() };
        let refused = app.client().list_posts(app.req(search, 2)).await.unwrap_err();
        assert_eq!(bad_fields(&refused), ["query"]);
        assert_eq!(app.board_posts(2, board.id, "").await.len(), 1, "only the clean post exists");
    })
    .await;
}
