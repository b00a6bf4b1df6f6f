//! Lists show each post's preview (its content's first 100 characters, line breaks kept),
//! photo count and first photo, never its content or photos; GetPost and the writes show
//! everything.

use campus_proto::board::v1 as pb;
use sqlx::AnyPool;

use crate::helpers::*;

/// A content of 4 + 96 + 50 characters and its preview, which ends at the last "가".
fn long_content() -> (String, String) {
    let preview = format!("첫 줄\n{}", "가".repeat(96));
    (format!("{preview}{}", "나".repeat(50)), preview)
}

/// `list` holds the post `id` with `preview`, and neither its content nor its photos.
fn assert_listed(list: &[pb::Post], id: i64, preview: &str, what: &str) {
    let post = list.iter().find(|p| p.id == id).unwrap_or_else(|| panic!("{what} lists the post"));
    assert_eq!(post.content_preview, preview, "{what}");
    assert_eq!(post.content, "", "{what} leaves the content out");
    assert!(post.photos.is_empty(), "{what} leaves the photos out");
}

async fn create(app: &TestApp, user_id: i64, board_id: i64, title: &str, content: &str) -> pb::Post {
    let request =
        pb::CreatePostRequest { board_id, title: title.into(), content: content.into(), anonymous: false };
    app.client().create_post(app.req(request, user_id)).await.expect("create post").into_inner()
}

#[tokio::test]
async fn every_list_shows_the_preview_and_get_post_the_whole_content() {
    each_backend(|app| async move {
        let board = app.board(1, "자유").await;
        let (content, preview) = long_content();
        let post = create(&app, 1, board.id, "학식 후기", &content).await;
        assert_eq!(
            (post.content.as_str(), post.content_preview.as_str()),
            (content.as_str(), preview.as_str())
        );
        // HOT and BEST, scrapped and commented on by user 2.
        for user in 2..2 + BEST {
            app.like(user, post.id).await.unwrap();
        }
        app.client().scrap_post(app.req(pb::ScrapPostRequest { id: post.id }, 2)).await.unwrap();
        app.comment(2, post.id, false, None).await.unwrap();

        let mut client = app.client();
        assert_listed(&app.board_posts(2, board.id, "").await, post.id, &preview, "ListPosts");
        assert_listed(&app.board_posts(2, board.id, "학식").await, post.id, &preview, "ListPosts' search");
        let search = pb::SearchPostsRequest { query: "학식".into(), ..Default::default() };
        let found = client.search_posts(app.req(search, 2)).await.unwrap().into_inner().posts;
        assert_listed(&found, post.id, &preview, "SearchPosts");
        let hot = client
            .list_hot_posts(app.req(pb::ListHotPostsRequest::default(), 2))
            .await
            .unwrap()
            .into_inner()
            .posts;
        assert_listed(&hot, post.id, &preview, "ListHotPosts");
        let best = client
            .list_best_posts(app.req(pb::ListBestPostsRequest::default(), 2))
            .await
            .unwrap()
            .into_inner()
            .posts;
        assert_listed(&best, post.id, &preview, "ListBestPosts");
        let mine = client
            .list_my_posts(app.req(pb::ListMyPostsRequest::default(), 1))
            .await
            .unwrap()
            .into_inner()
            .posts;
        assert_listed(&mine, post.id, &preview, "ListMyPosts");
        let commented = client
            .list_my_commented_posts(app.req(pb::ListMyCommentedPostsRequest::default(), 2))
            .await
            .unwrap()
            .into_inner()
            .posts;
        assert_listed(&commented, post.id, &preview, "ListMyCommentedPosts");
        let scraps = client
            .list_scraps(app.req(pb::ListScrapsRequest::default(), 2))
            .await
            .unwrap()
            .into_inner()
            .posts;
        assert_listed(&scraps, post.id, &preview, "ListScraps");

        let seen = app.get_post(2, post.id).await.unwrap();
        assert_eq!((seen.content, seen.content_preview), (content, preview));
    })
    .await;
}

#[tokio::test]
async fn previews_end_at_100_characters_and_follow_edits() {
    each_backend(|app| async move {
        let board = app.board(1, "자유").await;
        let exactly = format!("줄\n{}", "가".repeat(98));
        let post = create(&app, 1, board.id, "제목", &exactly).await;
        assert_eq!(post.content_preview, exactly, "a content of 100 characters is its own preview");
        assert_listed(&app.board_posts(2, board.id, "").await, post.id, &exactly, "100 characters");

        let one_more = format!("{exactly}나");
        let edit = pb::UpdatePostRequest { id: post.id, title: None, content: Some(one_more.clone()) };
        let edited = app.client().update_post(app.req(edit, 1)).await.unwrap().into_inner();
        assert_eq!((edited.content, edited.content_preview.as_str()), (one_more, exactly.as_str()));

        let (content, preview) = long_content();
        let edit = pb::UpdatePostRequest { id: post.id, title: None, content: Some(content) };
        app.client().update_post(app.req(edit, 1)).await.unwrap();
        assert_listed(&app.board_posts(2, board.id, "").await, post.id, &preview, "after an edit");
        let retitled = pb::UpdatePostRequest { id: post.id, title: Some("새 제목".into()), content: None };
        let retitled = app.client().update_post(app.req(retitled, 1)).await.unwrap().into_inner();
        assert_eq!(retitled.content_preview, preview, "a new title keeps the preview");
        assert_listed(&app.board_posts(2, board.id, "").await, post.id, &preview, "after a new title");
    })
    .await;
}

#[tokio::test]
async fn a_post_stored_without_a_preview_shows_one_computed_from_its_content() {
    each_backend(|app| async move {
        let board = app.board(1, "자유").await;
        let pool = AnyPool::connect(app.db_url()).await.unwrap();
        let preview = format!("옛 글\n{}", "다".repeat(96));
        let content = format!("{preview}{}", "라".repeat(30));
        // As written before previews were stored: NULL preview.
        sqlx::query(
            "INSERT INTO post (id, school_id, board_id, author_id, author_nickname, anonymous, title, content, \
             created_at, updated_at) VALUES (1, $1, $2, 1, 'user1', 0, '옛 글', $3, 1, 1)",
        )
        .bind(SCHOOL)
        .bind(board.id)
        .bind(&content)
        .execute(&pool)
        .await
        .unwrap();
        let stored: (Option<String>,) =
            sqlx::query_as("SELECT content_preview FROM post WHERE id = 1").fetch_one(&pool).await.unwrap();
        assert_eq!(stored.0, None);
        pool.close().await;

        assert_listed(&app.board_posts(2, board.id, "").await, 1, &preview, "a post without a stored preview");
        let seen = app.get_post(2, 1).await.unwrap();
        assert_eq!((seen.content, seen.content_preview), (content, preview));
    })
    .await;
}

#[tokio::test]
async fn a_page_flags_just_the_posts_the_viewer_liked_and_scrapped() {
    each_backend(|app| async move {
        let board = app.board(1, "자유").await;
        let mut ids = Vec::new();
        for n in 0..6 {
            ids.push(app.post(1, board.id, &format!("글 {n}"), false).await.id);
        }
        let (liked, scrapped) = ([ids[0], ids[3], ids[4]], [ids[1], ids[4]]);
        for id in liked {
            app.like(2, id).await.unwrap();
        }
        for id in scrapped {
            app.client().scrap_post(app.req(pb::ScrapPostRequest { id }, 2)).await.unwrap();
        }
        // Someone else's likes and scraps are not the viewer's.
        app.like(3, ids[2]).await.unwrap();
        app.client().scrap_post(app.req(pb::ScrapPostRequest { id: ids[5] }, 3)).await.unwrap();

        let page = app.board_posts(2, board.id, "").await;
        assert_eq!(page.len(), ids.len());
        for post in &page {
            assert_eq!(post.liked_by_me, liked.contains(&post.id), "liked_by_me of {}", post.title);
            assert_eq!(post.scrapped_by_me, scrapped.contains(&post.id), "scrapped_by_me of {}", post.title);
        }
        let others = app.board_posts(3, board.id, "").await;
        let flagged: Vec<(bool, bool)> = others
            .iter()
            .filter(|p| p.liked_by_me || p.scrapped_by_me)
            .map(|p| (p.liked_by_me, p.scrapped_by_me))
            .collect();
        assert_eq!(flagged, [(false, true), (true, false)], "user 3's own like and scrap, newest first");
    })
    .await;
}
