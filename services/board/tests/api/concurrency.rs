use std::collections::{HashMap, HashSet};
use std::time::Duration;

use campus_proto::board::v1 as pb;
use campus_shared::db::Backend;
use futures::future::join_all;
use sqlx::AnyPool;
use tonic::Code;

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

/// Posts created together are written together (`store::PostWriter`). A post the database
/// refuses (here by a trigger the test installs, as a full disk or a broken row would) fails
/// alone: each post of its group is written on its own, the others are written once, listed
/// and found by search, and nothing of the refused one is left.
#[tokio::test]
async fn posts_created_together_are_each_written_once_and_a_refused_one_fails_alone() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let pool = AnyPool::connect(app.db_url()).await.unwrap();
        let refuse = match app.backend {
            Backend::Sqlite => vec![
                "CREATE TRIGGER refuse_post BEFORE INSERT ON post WHEN NEW.title LIKE '거부%' \
                 BEGIN SELECT RAISE(ABORT, 'refused'); END",
            ],
            Backend::Postgres => vec![
                "CREATE FUNCTION refuse_post() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.title LIKE '거부%' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$",
                "CREATE TRIGGER refuse_post BEFORE INSERT ON post FOR EACH ROW EXECUTE FUNCTION refuse_post()",
            ],
        };
        for sql in refuse {
            sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        }

        let app = &app;
        let created = join_all((0..64).map(|i| async move {
            let title = if i % 16 == 5 { format!("거부 {i}") } else { format!("동시글 {i}") };
            let request = pb::CreatePostRequest { board_id: board.id, title, content: "본문".into(), anonymous: false };
            (i, app.client().create_post(app.req(request, 100 + i)).await)
        }))
        .await;

        let mut written = HashSet::new();
        for (i, result) in created {
            match result {
                Ok(post) if i % 16 != 5 => {
                    let post = post.into_inner();
                    assert_eq!(post.title, format!("동시글 {i}"), "{:?}: each caller gets its own post", app.backend);
                    assert!(written.insert(post.id));
                }
                Err(status) if i % 16 == 5 => assert_eq!(status.code(), Code::Internal, "{:?}", app.backend),
                other => panic!("{:?}: post {i}: {other:?}", app.backend),
            }
        }
        assert_eq!(written.len(), 60);
        let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM post").fetch_one(&pool).await.unwrap();
        assert_eq!(rows, 60, "{:?}: refused posts leave no row", app.backend);
        let listed: HashSet<i64> = app.board_posts(1, board.id, "").await.into_iter().map(|p| p.id).collect();
        let found: HashSet<i64> = app.board_posts(1, board.id, "동시").await.into_iter().map(|p| p.id).collect();
        assert_eq!((&listed, &found), (&written, &written), "{:?}", app.backend);
        assert!(app.board_posts(1, board.id, "거부").await.is_empty());
    })
    .await;
}

/// A CreatePost whose caller went away while its post waited behind another group's statement
/// writes nothing: its client saw a failure, and a retry must not find the post there already.
/// The test holds the post table (an SQLite write transaction; PostgreSQL's SHARE lock) so that
/// a first post waits inside its statement, a second one's group inside its own, and a third
/// in the writer's queue, whose caller then gives up.
#[tokio::test]
async fn a_post_whose_caller_left_while_it_waited_is_not_written() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let pool = AnyPool::connect(app.db_url()).await.unwrap();
        let mut blocker = pool.acquire().await.unwrap();
        let hold = match app.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN; LOCK TABLE post IN SHARE MODE",
        };
        sqlx::raw_sql(hold).execute(&mut *blocker).await.unwrap();

        let create = |title: &str| {
            let request = pb::CreatePostRequest {
                board_id: board.id,
                title: title.into(),
                content: "본문".into(),
                anonymous: false,
            };
            let (mut client, request) = (app.client(), app.req(request, 7));
            async move { client.create_post(request).await }
        };
        let first = tokio::spawn(create("첫째"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let second = tokio::spawn(create("둘째"));
        tokio::time::sleep(Duration::from_millis(200)).await;
        let gave_up = tokio::time::timeout(Duration::from_millis(300), create("떠난 글")).await;
        assert!(gave_up.is_err(), "{:?}: the third post waited", app.backend);

        sqlx::raw_sql("COMMIT").execute(&mut *blocker).await.unwrap();
        for created in [first, second] {
            created.await.unwrap().expect("the posts whose callers stayed are written");
        }
        // After a statement for the third post would have run.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let titles: Vec<(String,)> =
            sqlx::query_as("SELECT title FROM post ORDER BY id").fetch_all(&pool).await.unwrap();
        let titles: Vec<&str> = titles.iter().map(|(t,)| t.as_str()).collect();
        assert_eq!(titles, ["첫째", "둘째"], "{:?}", app.backend);
    })
    .await;
}
