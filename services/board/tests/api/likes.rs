use campus_proto::board::v1 as pb;
use tonic::Code;

use crate::helpers::*;
use campus_testkit::status::*;

async fn hot(app: &TestApp, user: i64) -> Vec<i64> {
    let page = app.client().list_hot_posts(app.req(pb::ListHotPostsRequest::default(), user)).await.unwrap();
    page.into_inner().posts.into_iter().map(|p| p.id).collect()
}

async fn best(app: &TestApp, user: i64) -> Vec<i64> {
    let page =
        app.client().list_best_posts(app.req(pb::ListBestPostsRequest::default(), user)).await.unwrap();
    page.into_inner().posts.into_iter().map(|p| p.id).collect()
}

#[tokio::test]
async fn likes_are_once_never_on_your_own_and_return_the_post() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "글", true).await;
        assert_error(app.like(1, post.id).await, Code::FailedPrecondition, "CANNOT_LIKE_OWN_POST");
        let liked = app.like(2, post.id).await.unwrap();
        assert_eq!((liked.like_count, liked.liked_by_me, liked.is_mine), (1, true, false));
        assert_eq!(liked.author.unwrap().display_name, "익명");
        assert_error(app.like(2, post.id).await, Code::AlreadyExists, "ALREADY_LIKED");
        let seen = app.get_post(3, post.id).await.unwrap();
        assert_eq!((seen.like_count, seen.liked_by_me), (1, false));
        assert_error(app.like(2, 1234567).await, Code::NotFound, "NOT_FOUND");
    })
    .await;
}

#[tokio::test]
async fn hot_and_best_follow_the_configured_thresholds() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let quiet = app.board_in(1, SCHOOL, "조용한 게시판", true).await;
        let first = app.post(1, board.id, "first", false).await;
        let second = app.post(1, board.id, "second", false).await;
        let opted_out = app.post(1, quiet.id, "no hot here", false).await;
        app.board_in(1, OTHER_SCHOOL, "X", false).await;

        for user in 2..2 + HOT - 1 {
            app.like(user, first.id).await.unwrap();
        }
        assert!(!app.get_post(1, first.id).await.unwrap().is_hot);
        assert!(hot(&app, 1).await.is_empty());
        let crossed = app.like(99, first.id).await.unwrap();
        assert!(crossed.is_hot && !crossed.is_best);
        for user in 2..2 + HOT {
            app.like(user, second.id).await.unwrap();
            app.like(user, opted_out.id).await.unwrap();
        }
        // Latest to become HOT first; a board that opted out never promotes.
        assert_eq!(hot(&app, 1).await, [second.id, first.id]);
        assert!(!app.get_post(1, opted_out.id).await.unwrap().is_hot);
        assert!(hot(&app, 1).await.iter().all(|id| *id != opted_out.id));
        let outsider = app
            .client()
            .list_hot_posts(app.req_in(pb::ListHotPostsRequest::default(), 5, OTHER_SCHOOL))
            .await;
        assert!(outsider.unwrap().into_inner().posts.is_empty());

        for user in 100..100 + BEST - HOT {
            app.like(user, first.id).await.unwrap();
            app.like(user, opted_out.id).await.unwrap();
        }
        let top = app.get_post(1, first.id).await.unwrap();
        assert_eq!((top.like_count, top.is_hot, top.is_best), (BEST as i32, true, true));
        assert_eq!(best(&app, 1).await, [opted_out.id, first.id], "BEST ignores the HOT opt-out");

        // Keyset pages of the HOT list.
        let request = pb::ListHotPostsRequest { page_size: 1, page_token: String::new() };
        let page1 = app.client().list_hot_posts(app.req(request, 1)).await.unwrap().into_inner();
        let request = pb::ListHotPostsRequest { page_size: 1, page_token: page1.next_page_token };
        let page2 = app.client().list_hot_posts(app.req(request, 1)).await.unwrap().into_inner();
        assert_eq!((page1.posts[0].id, page2.posts[0].id), (second.id, first.id));
        assert!(page2.next_page_token.is_empty());
    })
    .await;
}

#[tokio::test]
async fn scraps_are_once_not_on_your_own_and_removable() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let first = app.post(1, board.id, "first", false).await;
        let second = app.post(1, board.id, "second", true).await;
        let scrap = |id| pb::ScrapPostRequest { id };
        assert_error(
            app.client().scrap_post(app.req(scrap(first.id), 1)).await,
            Code::FailedPrecondition,
            "CANNOT_SCRAP_OWN_POST",
        );
        let scrapped = app.client().scrap_post(app.req(scrap(second.id), 2)).await.unwrap().into_inner();
        assert_eq!((scrapped.scrap_count, scrapped.scrapped_by_me), (1, true));
        app.client().scrap_post(app.req(scrap(first.id), 2)).await.unwrap();
        app.client().scrap_post(app.req(scrap(first.id), 3)).await.unwrap();
        assert_error(
            app.client().scrap_post(app.req(scrap(first.id), 2)).await,
            Code::AlreadyExists,
            "ALREADY_SCRAPPED",
        );

        // Latest scrap first.
        let mine = app
            .client()
            .list_scraps(app.req(pb::ListScrapsRequest::default(), 2))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(mine.posts.iter().map(|p| p.id).collect::<Vec<_>>(), [first.id, second.id]);
        assert!(mine.posts.iter().all(|p| p.scrapped_by_me));

        let unscrap = |id| pb::UnscrapPostRequest { id };
        let after = app.client().unscrap_post(app.req(unscrap(first.id), 2)).await.unwrap().into_inner();
        assert_eq!((after.scrap_count, after.scrapped_by_me), (1, false));
        // Removing a scrap that is not there is a no-op, not a second decrement.
        let again = app.client().unscrap_post(app.req(unscrap(first.id), 2)).await.unwrap().into_inner();
        assert_eq!(again.scrap_count, 1);
        let mine = app
            .client()
            .list_scraps(app.req(pb::ListScrapsRequest::default(), 2))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(mine.posts.iter().map(|p| p.id).collect::<Vec<_>>(), [second.id]);
    })
    .await;
}

#[tokio::test]
async fn five_reports_hide_a_post_from_every_list() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "광고 spam", false).await;
        let kept = app.post(1, board.id, "정상 spam", false).await;
        for user in 2..2 + HOT {
            app.like(user, post.id).await.unwrap();
        }
        app.comment(2, post.id, false, None).await.unwrap();
        app.client().scrap_post(app.req(pb::ScrapPostRequest { id: post.id }, 2)).await.unwrap();
        let report = |reason: &str| pb::ReportPostRequest { id: post.id, reason: reason.into() };
        assert_error(
            app.client().report_post(app.req(report("광고"), 1)).await,
            Code::FailedPrecondition,
            "CANNOT_REPORT_OWN_POST",
        );
        let status = app.client().report_post(app.req(report(""), 2)).await.unwrap_err();
        assert_eq!(bad_fields(&status), ["reason"]);
        let status = app.client().report_post(app.req(report(&"x".repeat(201)), 2)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        for user in 2..6 {
            app.client().report_post(app.req(report("광고"), user)).await.unwrap();
        }
        assert_error(
            app.client().report_post(app.req(report("광고"), 2)).await,
            Code::AlreadyExists,
            "ALREADY_REPORTED",
        );
        assert_eq!(app.board_posts(9, board.id, "").await.len(), 2, "four reports keep it listed");
        app.client().report_post(app.req(report("광고"), 6)).await.unwrap();

        let listed: Vec<i64> = app.board_posts(9, board.id, "").await.iter().map(|p| p.id).collect();
        assert_eq!(listed, [kept.id]);
        assert!(hot(&app, 9).await.is_empty());
        let search = pb::SearchPostsRequest { query: "spam".into(), ..Default::default() };
        let found = app.client().search_posts(app.req(search, 9)).await.unwrap().into_inner();
        assert_eq!(found.posts.iter().map(|p| p.id).collect::<Vec<_>>(), [kept.id]);
        let scraps = app
            .client()
            .list_scraps(app.req(pb::ListScrapsRequest::default(), 2))
            .await
            .unwrap()
            .into_inner();
        assert!(scraps.posts.is_empty());
        let commented = app
            .client()
            .list_my_commented_posts(app.req(pb::ListMyCommentedPostsRequest::default(), 2))
            .await
            .unwrap();
        assert!(commented.into_inner().posts.is_empty());
        // Still reachable by id (e.g. from a notification).
        assert_eq!(app.get_post(9, post.id).await.unwrap().id, post.id);
    })
    .await;
}

#[tokio::test]
async fn five_reports_hide_a_comment() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "글", false).await;
        let bad = app.comment(2, post.id, true, None).await.unwrap();
        let good = app.comment(3, post.id, true, None).await.unwrap();
        let report = |reason: &str| pb::ReportCommentRequest { id: bad.id, reason: reason.into() };
        assert_error(
            app.client().report_comment(app.req(report("욕설"), 2)).await,
            Code::FailedPrecondition,
            "CANNOT_REPORT_OWN_COMMENT",
        );
        for user in 10..15 {
            app.client().report_comment(app.req(report("욕설"), user)).await.unwrap();
        }
        assert_error(
            app.client().report_comment(app.req(report("욕설"), 10)).await,
            Code::AlreadyExists,
            "ALREADY_REPORTED",
        );
        let listed: Vec<i64> = app.comments(1, post.id).await.iter().map(|c| c.id).collect();
        assert_eq!(listed, [good.id]);
    })
    .await;
}
