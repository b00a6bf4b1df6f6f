//! The search indexer (board) killed with SIGKILL in the middle of a backlog: the posts it had
//! not indexed stay queued, the restarted service indexes every one of them once, and a search
//! finds them all along.
//!
//! The backlog is written straight into the board database while board is down, the way a
//! burst of writes leaves the queue (each post and its queue row; `store::search::enqueue`).
//!
//! And board killed while it writes posts in groups (`store::PostWriter`): every accepted post
//! is there, every post there has its queue row, and each is indexed once.

use std::time::{Duration, Instant};

use campus_shared::db::Backend;
use campus_testkit::backends;

use serde_json::json;

use crate::deployment::{Deployment, Options, Proc};
use crate::load::{self, Load};
use crate::{CLIENT_TIMEOUT, SCHOOL, User, accepted_posts, lost_posts, pool, serial};

const BACKLOG: i64 = 3000;
/// Start-up plus the backlog, on a loaded machine.
const INDEXED_WITHIN: Duration = Duration::from_secs(60);

async fn queued(board: &sqlx::AnyPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM post_search_pending").fetch_one(board).await.expect("count")
}

async fn posts(board: &sqlx::AnyPool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM post").fetch_one(board).await.expect("count")
}

/// Waits until the indexer has emptied its queue.
async fn drained(board: &sqlx::AnyPool, backend: Backend) {
    let deadline = Instant::now() + INDEXED_WITHIN;
    while queued(board).await > 0 {
        assert!(Instant::now() < deadline, "the queue did not drain ({backend:?})");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Posts 1..=BACKLOG of the board, each content "기숙사 통금 <n> 끝", and their queue rows.
async fn write_backlog(board: &sqlx::AnyPool, backend: Backend, board_id: i64) {
    let series = match backend {
        Backend::Postgres => format!("SELECT n FROM generate_series(1, {BACKLOG}) AS s(n)"),
        Backend::Sqlite => {
            format!(
                "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {BACKLOG}) SELECT n FROM s"
            )
        }
    };
    let posts = format!(
        "INSERT INTO post (id, school_id, board_id, author_id, author_nickname, anonymous, title, content, \
         created_at, updated_at) SELECT n, {SCHOOL}, {board_id}, 1, 'x', 1, '글 ' || n, '기숙사 통금 ' || n || ' 끝', n, n \
         FROM ({series}) AS posts"
    );
    let mut tx = board.begin().await.expect("begin");
    sqlx::query(sqlx::AssertSqlSafe(posts)).execute(&mut *tx).await.expect("posts");
    // On SQLite the posts' trigger has queued them already.
    let queue = format!(
        "INSERT INTO post_search_pending (post_id) SELECT id FROM post WHERE id <= {BACKLOG} ON CONFLICT DO NOTHING"
    );
    sqlx::query(sqlx::AssertSqlSafe(queue)).execute(&mut *tx).await.expect("queue");
    tx.commit().await.expect("commit");
}

/// How many of the backlog's posts the index holds "통금" for.
async fn indexed(board: &sqlx::AnyPool, backend: Backend) -> i64 {
    let sql = match backend {
        Backend::Postgres => format!(
            "SELECT COUNT(*) FROM post_terms WHERE post_id <= {BACKLOG} AND terms @> CAST('{{{}}}' AS BIGINT[])",
            campus_board::domain::search::term_code("통금")
        ),
        Backend::Sqlite => {
            let token: String = "통금".bytes().map(|b| format!("{b:02x}")).collect();
            format!(
                "SELECT COUNT(*) FROM post_search WHERE post_search MATCH '\"{token}\"' AND rowid <= {BACKLOG}"
            )
        }
    };
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(board).await.expect("indexed")
}

/// The ids a school-wide search for the n-th post's phrase finds.
async fn found(user: &User, http: &reqwest::Client, n: i64) -> Vec<String> {
    let path = format!("/v1/posts:search?query=%ED%86%B5%EA%B8%88%20{n}%20%EB%81%9D");
    let (status, page) = user.call(user.get(http, &path)).await;
    assert_eq!(status, 200, "{page}");
    page["posts"].as_array().map_or(Vec::new(), |posts| {
        posts.iter().map(|p| p["id"].as_str().unwrap_or_default().to_string()).collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_indexer_killed_in_the_middle_of_a_backlog_indexes_every_post_once() {
    let _serial = serial().await;
    for backend in backends() {
        let mut deployment = Deployment::start(backend, Options::default()).await;
        let http = deployment.http.clone();
        let user = User::new(&deployment, 1);
        let board_id: i64 = user.create_board(&http).await.parse().expect("board id");
        let board = pool(&deployment.database_url(Proc::Board)).await;

        deployment.kill(Proc::Board);
        write_backlog(&board, backend, board_id).await;
        deployment.spawn(Proc::Board);
        // SIGKILL as soon as the indexer has taken a batch.
        let deadline = Instant::now() + INDEXED_WITHIN;
        while queued(&board).await == BACKLOG {
            assert!(
                Instant::now() < deadline,
                "board indexed nothing ({backend:?})\n{}",
                deployment.log_tail(Proc::Board)
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        deployment.kill(Proc::Board);
        let at_kill = (queued(&board).await, indexed(&board, backend).await);
        assert!(at_kill.0 > 0, "the kill came after the whole backlog was indexed ({backend:?})");
        assert_eq!(at_kill.0 + at_kill.1, BACKLOG, "{backend:?}: each post queued or indexed at the kill");

        deployment.spawn(Proc::Board);
        deployment.wait_serving(Proc::Board).await;
        // Found while queued or indexed, whichever it is at the moment.
        assert_eq!(found(&user, &http, BACKLOG).await, [BACKLOG.to_string()], "{backend:?}");
        drained(&board, backend).await;
        assert_eq!(indexed(&board, backend).await, BACKLOG, "{backend:?}: every post indexed once");
        for n in [1, at_kill.1.max(1), BACKLOG] {
            assert_eq!(found(&user, &http, n).await, [n.to_string()], "{backend:?}: post {n}");
        }
        println!(
            "search indexer killed mid-backlog ({backend:?}): {} of {BACKLOG} indexed at the kill, all after restart, none twice",
            at_kill.1
        );
        board.close().await;
    }
}

/// Concurrent writers, so that board writes their posts in groups (`store::PostWriter`).
const WRITERS: i64 = 16;

/// Posts of the database that are neither queued nor in the index.
async fn neither_queued_nor_indexed(board: &sqlx::AnyPool, backend: Backend) -> i64 {
    let entry = match backend {
        Backend::Postgres => "SELECT 1 FROM post_terms t WHERE t.post_id = p.id",
        Backend::Sqlite => "SELECT 1 FROM post_search s WHERE s.rowid = p.id",
    };
    let sql = format!(
        "SELECT COUNT(*) FROM post p WHERE NOT EXISTS (SELECT 1 FROM post_search_pending q WHERE q.post_id = p.id) \
         AND NOT EXISTS ({entry})"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(board).await.expect("unindexed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_written_together_when_board_is_killed_are_each_whole_or_absent() {
    let _serial = serial().await;
    for backend in backends() {
        let mut deployment = Deployment::start(backend, Options::default()).await;
        let http = deployment.http.clone();
        let reader = User::new(&deployment, 1);
        let board_id = reader.create_board(&http).await;
        let board = pool(&deployment.database_url(Proc::Board)).await;
        let writers = (0..WRITERS)
            .map(|w| {
                let (user, path) = (User::new(&deployment, 300 + w), format!("/v1/boards/{board_id}/posts"));
                load::worker("board:create", move |http, n| {
                    user.post(http, &path, json!({"title": format!("동시 {n}"), "content": format!("기숙사 통금 {n} 끝"), "anonymous": false}))
                })
            })
            .collect();
        let load = Load::start(writers, CLIENT_TIMEOUT);
        // SIGKILL while groups are being written.
        let deadline = Instant::now() + INDEXED_WITHIN;
        loop {
            let written = posts(&board).await;
            if written >= 200 {
                break;
            }
            assert!(Instant::now() < deadline, "board wrote {written} posts ({backend:?})");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        deployment.kill(Proc::Board);
        let samples = load.stop().await;
        let accepted = accepted_posts(&samples);
        let posts = posts(&board).await;
        assert!(posts >= accepted.len() as i64, "{backend:?}: {posts} posts, {} accepted", accepted.len());
        assert_eq!(
            neither_queued_nor_indexed(&board, backend).await,
            0,
            "{backend:?}: a post without its queue row"
        );

        deployment.spawn(Proc::Board);
        deployment.wait_serving(Proc::Board).await;
        let lost = lost_posts(&reader, &http, &accepted).await;
        assert!(lost.is_empty(), "{backend:?}: accepted posts lost: {lost:?}");
        drained(&board, backend).await;
        let index = match backend {
            Backend::Postgres => "SELECT COUNT(*) FROM post_terms",
            Backend::Sqlite => "SELECT COUNT(*) FROM post_search",
        };
        let indexed: i64 = sqlx::query_scalar(index).fetch_one(&board).await.expect("indexed");
        assert_eq!(indexed, posts, "{backend:?}: every post indexed once");
        for (id, title) in [accepted.first(), accepted.last()].into_iter().flatten() {
            let n: i64 = title.trim_start_matches("동시 ").parse().expect("the title's number");
            assert_eq!(found(&reader, &http, n).await, [id.as_str()], "{backend:?}: {title}");
        }
        println!(
            "board killed while writing posts in groups ({backend:?}): {posts} posts written, {} accepted, none lost, every one indexed once",
            accepted.len()
        );
        board.close().await;
    }
}
