//! A board's first page is read once and shared by its viewers (`store::first_pages`): each
//! viewer still sees their own flags, every change this process commits shows at once, and what
//! another replica commits shows within the time to live.

use std::time::Duration;

use campus_proto::board::v1 as pb;
use campus_proto::board::v1::board_service_client::BoardServiceClient;
use campus_proto::google::api::HttpBody;
use sqlx::AnyPool;
use tonic::transport::Channel;

use crate::helpers::*;
use crate::images::png;

/// The first page of a board as `user` sees it through `client`.
async fn first_page(
    app: &TestApp,
    client: &mut BoardServiceClient<Channel>,
    user: i64,
    board_id: i64,
    page_size: i32,
) -> pb::ListPostsResponse {
    let request = pb::ListPostsRequest { board_id, page_size, ..Default::default() };
    client.list_posts(app.req(request, user)).await.expect("list posts").into_inner()
}

/// The post `id` on the board's default first page as `user` sees it, if it is there.
async fn listed(app: &TestApp, user: i64, board_id: i64, id: i64) -> Option<pb::Post> {
    let page = first_page(app, &mut app.client(), user, board_id, 0).await;
    page.posts.into_iter().find(|p| p.id == id)
}

#[tokio::test]
async fn a_first_page_shows_each_viewer_their_flags_and_every_change_at_once() {
    each_backend(|app| async move {
        let board = app.board(1, "자유게시판").await;
        let mut ids = Vec::new();
        for n in 0..25 {
            ids.push(app.post(1, board.id, &format!("글 {n}"), false).await.id);
        }
        let newest: Vec<i64> = ids.iter().rev().copied().collect();
        let page = first_page(&app, &mut app.client(), 2, board.id, 0).await;
        assert_eq!(page.posts.iter().map(|p| p.id).collect::<Vec<_>>(), newest[..20]);
        assert!(!page.next_page_token.is_empty());
        // Smaller first pages come from the same rows; the next page follows either one.
        let small = first_page(&app, &mut app.client(), 3, board.id, 5).await;
        assert_eq!(small.posts.iter().map(|p| p.id).collect::<Vec<_>>(), newest[..5]);
        let request = pb::ListPostsRequest {
            board_id: board.id,
            page_size: 30,
            page_token: small.next_page_token,
            ..Default::default()
        };
        let rest = app.client().list_posts(app.req(request, 3)).await.unwrap().into_inner();
        assert_eq!(rest.posts.iter().map(|p| p.id).collect::<Vec<_>>(), newest[5..]);
        assert!(rest.next_page_token.is_empty());
        assert_eq!(app.board_posts(4, board.id, "").await.len(), 25);

        // A like: the count for everyone, the flag for the one who liked.
        let top = newest[0];
        app.like(2, top).await.unwrap();
        let (mine, theirs) =
            (listed(&app, 2, board.id, top).await.unwrap(), listed(&app, 3, board.id, top).await.unwrap());
        assert_eq!((mine.like_count, mine.liked_by_me), (1, true));
        assert_eq!((theirs.like_count, theirs.liked_by_me), (1, false));
        // A scrap, likewise.
        app.client().scrap_post(app.req(pb::ScrapPostRequest { id: newest[1] }, 3)).await.unwrap();
        let (mine, theirs) = (
            listed(&app, 3, board.id, newest[1]).await.unwrap(),
            listed(&app, 2, board.id, newest[1]).await.unwrap(),
        );
        assert_eq!((mine.scrap_count, mine.scrapped_by_me, theirs.scrapped_by_me), (1, true, false));
        app.client().unscrap_post(app.req(pb::UnscrapPostRequest { id: newest[1] }, 3)).await.unwrap();
        let unscrapped = listed(&app, 3, board.id, newest[1]).await.unwrap();
        assert_eq!((unscrapped.scrap_count, unscrapped.scrapped_by_me), (0, false));
        // A comment, and its deletion.
        let comment = app.comment(4, newest[2], true, None).await.unwrap();
        assert_eq!(listed(&app, 2, board.id, newest[2]).await.unwrap().comment_count, 1);
        let request = pb::DeleteCommentRequest { id: comment.id };
        app.client().delete_comment(app.req(request, 4)).await.unwrap();
        assert_eq!(listed(&app, 2, board.id, newest[2]).await.unwrap().comment_count, 0);
        // An edit.
        let request =
            pb::UpdatePostRequest { id: newest[3], title: Some("고친 제목".into()), content: None };
        app.client().update_post(app.req(request, 1)).await.unwrap();
        assert_eq!(listed(&app, 2, board.id, newest[3]).await.unwrap().title, "고친 제목");
        // A photo.
        let photo = HttpBody { content_type: "image/png".into(), data: png(), extensions: Vec::new() };
        let request = pb::UploadPhotoRequest { post_id: newest[4], photo: Some(photo) };
        let photo = app.client().upload_photo(app.req(request, 1)).await.unwrap().into_inner();
        let with_photo = listed(&app, 2, board.id, newest[4]).await.unwrap();
        assert_eq!((with_photo.photo_count, with_photo.first_photo_id), (1, photo.id));
        // A new post tops the page; a deleted one leaves it, and the next one moves up.
        let new = app.post(5, board.id, "새 글", true).await;
        let page = first_page(&app, &mut app.client(), 2, board.id, 0).await;
        assert_eq!(page.posts[0].id, new.id);
        app.client().delete_post(app.req(pb::DeletePostRequest { id: new.id }, 5)).await.unwrap();
        let page = first_page(&app, &mut app.client(), 2, board.id, 0).await;
        assert_eq!(page.posts.iter().map(|p| p.id).collect::<Vec<_>>(), newest[..20]);
        // Enough reports hide a post.
        for user in 10..15 {
            let request = pb::ReportPostRequest { id: top, reason: "spam".into() };
            app.client().report_post(app.req(request, user)).await.unwrap();
        }
        assert!(listed(&app, 2, board.id, top).await.is_none());
        let page = first_page(&app, &mut app.client(), 2, board.id, 0).await;
        assert_eq!(page.posts.iter().map(|p| p.id).collect::<Vec<_>>(), newest[1..21]);
    })
    .await;
}

#[tokio::test]
async fn a_replica_shares_its_first_page_and_forgets_it_on_its_own_writes() {
    each_backend(|app| async move {
        let board = app.board(1, "자유게시판").await;
        let post = app.post(1, board.id, "글", false).await;
        // A replica that keeps pages for a minute: longer than the test.
        let mut replica = app.replica(Duration::from_secs(60)).await;
        let kept = first_page(&app, &mut replica, 2, board.id, 0).await;
        assert_eq!(kept.posts[0].like_count, 0);

        // A like through the first replica, then a title changed behind both: the second
        // replica serves the page it read, likes included...
        app.like(3, post.id).await.unwrap();
        let pool = AnyPool::connect(app.db_url()).await.unwrap();
        sqlx::query("UPDATE post SET title = 'behind' WHERE id = $1")
            .bind(post.id)
            .execute(&pool)
            .await
            .unwrap();
        let shared = first_page(&app, &mut replica, 3, board.id, 0).await;
        assert_eq!((shared.posts[0].title.as_str(), shared.posts[0].like_count), ("글", 0));
        assert!(!shared.posts[0].liked_by_me);

        // ...until it commits a change to a post on it.
        let request = pb::CreateCommentRequest {
            post_id: post.id,
            content: "댓글".into(),
            anonymous: true,
            parent_id: None,
        };
        replica.create_comment(app.req(request, 4)).await.unwrap();
        let fresh = first_page(&app, &mut replica, 2, board.id, 0).await;
        let seen = &fresh.posts[0];
        assert_eq!((seen.title.as_str(), seen.like_count, seen.comment_count), ("behind", 1, 1));
        assert!(!seen.liked_by_me);
        assert!(first_page(&app, &mut replica, 3, board.id, 0).await.posts[0].liked_by_me);
    })
    .await;
}

#[tokio::test]
async fn a_page_with_more_likes_than_are_kept_reads_each_viewer_flags() {
    each_backend(|app| async move {
        let board = app.board(1, "자유게시판").await;
        let quiet = app.post(1, board.id, "조용한 글", false).await;
        let popular = app.post(1, board.id, "인기 글", false).await;
        // More likes than a page keeps (512), written straight into the table.
        let pool = AnyPool::connect(app.db_url()).await.unwrap();
        for user in 1000..1600_i64 {
            sqlx::query("INSERT INTO post_like (post_id, user_id, created_at) VALUES ($1, $2, 1)")
                .bind(popular.id)
                .bind(user)
                .execute(&pool)
                .await
                .unwrap();
        }
        app.like(7, quiet.id).await.unwrap();
        for (user, liked) in
            [(1000, [true, false]), (1599, [true, false]), (7, [false, true]), (2, [false, false])]
        {
            let page = first_page(&app, &mut app.client(), user, board.id, 0).await;
            let flags: Vec<bool> = page.posts.iter().map(|p| p.liked_by_me).collect();
            assert_eq!(flags, liked, "user {user}");
        }
        app.like(2, popular.id).await.unwrap();
        assert!(first_page(&app, &mut app.client(), 2, board.id, 0).await.posts[0].liked_by_me);
    })
    .await;
}

#[tokio::test]
async fn what_another_replica_commits_shows_within_the_time_to_live() {
    each_backend(|app| async move {
        let board = app.board(1, "자유게시판").await;
        let post = app.post(1, board.id, "글", false).await;
        let ttl = Duration::from_millis(300);
        let mut replica = app.replica(ttl).await;
        assert_eq!(first_page(&app, &mut replica, 2, board.id, 0).await.posts.len(), 1);
        app.like(3, post.id).await.unwrap();
        let newer = app.post(1, board.id, "새 글", false).await;
        // Every page the replica read before these commits is older than `ttl` by now.
        tokio::time::sleep(ttl).await;
        let page = first_page(&app, &mut replica, 2, board.id, 0).await;
        assert_eq!(page.posts.iter().map(|p| p.id).collect::<Vec<_>>(), [newer.id, post.id]);
        assert_eq!(page.posts[1].like_count, 1);
    })
    .await;
}
