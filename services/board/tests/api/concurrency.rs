use std::collections::{HashMap, HashSet};

use futures::future::join_all;

use crate::helpers::*;

#[tokio::test]
async fn counters_stay_exact_under_64_concurrent_likes_and_comments() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "인기글", false).await;
        let likes = join_all((100..164).map(|user| {
            let app = &app;
            async move { app.like(user, post.id).await }
        }));
        let comments = join_all((200..264).map(|user| {
            let app = &app;
            async move { app.comment(user, post.id, user % 2 == 0, None).await }
        }));
        let (likes, comments) = futures::join!(likes, comments);
        assert!(
            likes.iter().all(Result::is_ok),
            "{:?}: {:?}",
            app.backend,
            likes.iter().find(|r| r.is_err())
        );
        assert!(comments.iter().all(Result::is_ok), "{:?}", comments.iter().find(|r| r.is_err()));

        let seen = app.get_post(1, post.id).await.unwrap();
        assert_eq!((seen.like_count, seen.comment_count), (64, 64), "{:?}", app.backend);
        assert!(seen.is_hot && seen.is_best);
        assert_eq!(app.comments(1, post.id).await.len(), 64);

        // A second round of the same likes changes nothing.
        let again = join_all((100..116).map(|user| {
            let app = &app;
            async move { app.like(user, post.id).await }
        }))
        .await;
        assert!(again.iter().all(Result::is_err));
        assert_eq!(app.get_post(1, post.id).await.unwrap().like_count, 64);
    })
    .await;
}

#[tokio::test]
async fn anonymous_numbers_are_unique_and_stable_under_32_concurrent_commenters() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let post = app.post(1, board.id, "익명 질문", true).await;
        let app = &app;
        let round = || {
            join_all((300..332).map(|user| async move {
                (user, app.comment(user, post.id, true, None).await.expect("comment"))
            }))
        };
        let first: HashMap<i64, String> =
            round().await.into_iter().map(|(u, c)| (u, c.author.unwrap().display_name)).collect();
        let names: HashSet<&String> = first.values().collect();
        let expected: HashSet<String> = (1..=32).map(|n| format!("익명{n}")).collect();
        assert_eq!(names.len(), 32, "{:?}: numbers are unique", app.backend);
        assert!(names.iter().all(|n| expected.contains(*n)), "numbers are 1..=32: {names:?}");

        let second = round().await;
        for (user, comment) in second {
            assert_eq!(comment.author.unwrap().display_name, first[&user], "user {user} keeps their number");
        }
        assert_eq!(app.get_post(1, post.id).await.unwrap().comment_count, 64);
    })
    .await;
}
