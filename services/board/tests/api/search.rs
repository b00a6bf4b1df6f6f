//! Search through the index answers exactly what a plain `LIKE` scan of the posts answers,
//! on both routes (SearchPosts and ListPosts with `query`), and its safety nets hold.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};

use campus_board::domain::search::{self, SearchLimits, SearchQuery};
use campus_proto::board::v1 as pb;
use campus_shared::db::Backend;
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, TestCaseError, TestRunner};
use sqlx::AnyPool;
use tonic::Code;

use crate::helpers::{OTHER_SCHOOL, SCHOOL, TestApp, each_backend, spawn_app_with};
use campus_testkit::status::assert_error;

/// Windows of three posts, so pages cross them and the index step runs on a few posts.
fn small_windows() -> SearchLimits {
    SearchLimits { window: 3, ..SearchLimits::default() }
}

/// A post of a generated case and what happens to it after it is written.
#[derive(Debug, Clone)]
struct Spec {
    title: String,
    content: String,
    edit: Option<String>,
    deleted: bool,
    hidden: bool,
}

/// Few characters, so queries often match; `%`, `_` and `\` to check they are literal, both
/// cases of a Latin letter, Hangul, spaces and (in contents) line breaks.
fn text(pattern: &'static str) -> impl Strategy<Value = String> {
    pattern.prop_filter("not blank", |s| !s.trim().is_empty())
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        text("[가나다aAbB%_\\\\ ]{1,8}"),
        text("[가나다aAbB%_\\\\ \n]{1,16}"),
        proptest::option::weighted(0.2, text("[가나다aAbB%_ ]{1,12}")),
        proptest::bool::weighted(0.15),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(title, content, edit, deleted, hidden)| Spec {
            title,
            content,
            edit,
            deleted,
            hidden,
        })
}

/// The ids a plain scan finds, newest first: the search as it was before the index.
async fn scan(pool: &AnyPool, column: &str, scope: i64, pattern: &str) -> Vec<i64> {
    let sql = format!(
        "SELECT id FROM post WHERE {column} = $1 AND deleted_at IS NULL AND report_count < 5 \
         AND (lower(title) LIKE $2 ESCAPE '\\' OR lower(content) LIKE $2 ESCAPE '\\') ORDER BY id DESC"
    );
    let rows: Vec<(i64,)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(scope).bind(pattern).fetch_all(pool).await.unwrap();
    rows.into_iter().map(|(id,)| id).collect()
}

/// Every user makes few searches here, so the rate limit never gets in the way.
static NEXT_USER: AtomicI64 = AtomicI64::new(10_000);

fn user() -> i64 {
    NEXT_USER.fetch_add(1, Ordering::Relaxed)
}

/// Follows the page tokens of both routes to the end.
async fn search_all(app: &TestApp, board_id: i64, query: &str, page_size: i32) -> (Vec<i64>, Vec<i64>) {
    let mut school = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::SearchPostsRequest { query: query.into(), page_size, page_token };
        let page = app.client().search_posts(app.req(request, user())).await.unwrap().into_inner();
        assert!(page.posts.len() <= page_size as usize);
        school.extend(page.posts.into_iter().map(|p| p.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let mut board = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = pb::ListPostsRequest { board_id, query: query.into(), page_size, page_token };
        let page = app.client().list_posts(app.req(request, user())).await.unwrap().into_inner();
        board.extend(page.posts.into_iter().map(|p| p.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    (school, board)
}

async fn check_case(
    app: &TestApp,
    pool: &AnyPool,
    posts: Vec<Spec>,
    queries: Vec<String>,
    page_size: i32,
) -> Result<(), TestCaseError> {
    let board = app.board(1, &format!("b{}", user())).await;
    let theirs = app.board_in(1, OTHER_SCHOOL, &format!("b{}", user()), false).await;
    for (i, p) in posts.iter().enumerate() {
        let author = 100 + i as i64;
        let create = pb::CreatePostRequest {
            board_id: board.id,
            title: p.title.clone(),
            content: p.content.clone(),
            anonymous: i % 2 == 0,
        };
        let id = app.client().create_post(app.req(create.clone(), author)).await.unwrap().into_inner().id;
        // The same text in another school, which no search here may find.
        let elsewhere = pb::CreatePostRequest { board_id: theirs.id, ..create };
        app.client().create_post(app.req_in(elsewhere, author, OTHER_SCHOOL)).await.unwrap();
        if i % 2 == 0 {
            // Indexed before its edit or deletion, so the index holds an entry that is stale
            // until the indexer takes the post again (the service's own indexer takes posts
            // when it will: any post may be queued or indexed when the searches run).
            index_queued(app, pool).await;
        }
        if let Some(content) = &p.edit {
            let edit = pb::UpdatePostRequest { id, title: None, content: Some(content.clone()) };
            app.client().update_post(app.req(edit, author)).await.unwrap();
        }
        if p.hidden {
            for reporter in 0..5 {
                let report = pb::ReportPostRequest { id, reason: "광고".into() };
                app.client().report_post(app.req(report, 50 + reporter)).await.unwrap();
            }
        }
        if p.deleted {
            app.client().delete_post(app.req(pb::DeletePostRequest { id }, author)).await.unwrap();
        }
    }
    check_queries(app, pool, board.id, &queries, page_size).await?;
    // Then with every post indexed as it is now, and none queued.
    index_queued(app, pool).await;
    check_queries(app, pool, board.id, &queries, page_size).await
}

/// Posts in the search indexer's queue.
async fn queued(pool: &AnyPool) -> i64 {
    let (n,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM post_search_pending").fetch_one(pool).await.unwrap();
    n
}

/// Takes every queued post into the index now.
async fn index_queued(app: &TestApp, pool: &AnyPool) {
    // The service's own indexer may hold some of them (PostgreSQL's batches skip the rows
    // another has locked): the queue is empty once the batch that took them has committed.
    for _ in 0..1_000 {
        campus_board::reference::index_queued_posts(pool, app.backend).await.unwrap();
        if queued(pool).await == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the search queue did not empty in 10 s");
}

/// Both routes answer each query as the plain scan does.
async fn check_queries(
    app: &TestApp,
    pool: &AnyPool,
    board_id: i64,
    queries: &[String],
    page_size: i32,
) -> Result<(), TestCaseError> {
    for q in queries {
        let Ok(parsed) = SearchQuery::parse("query", q) else {
            let request = pb::SearchPostsRequest { query: q.clone(), ..Default::default() };
            let refused = app.client().search_posts(app.req(request, user())).await.unwrap_err();
            prop_assert_eq!(refused.code(), Code::InvalidArgument);
            continue;
        };
        let (school, in_board) = search_all(app, board_id, q, page_size).await;
        let expected_school = scan(pool, "school_id", SCHOOL, &parsed.pattern).await;
        let expected_board = scan(pool, "board_id", board_id, &parsed.pattern).await;
        prop_assert_eq!(&school, &expected_school, "school-wide {:?} on {:?}", q, app.backend);
        prop_assert_eq!(&in_board, &expected_board, "in the board {:?} on {:?}", q, app.backend);
    }
    Ok(())
}

/// The property: on random posts (edited, deleted, hidden, in two schools) and random
/// queries, both search routes page through exactly the posts a plain scan finds, in order.
#[test]
fn search_answers_what_a_plain_scan_answers() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for backend in campus_testkit::backends() {
        // PostgreSQL reads the newest posts first or goes to the index first: both ways here.
        for limits in [small_windows(), SearchLimits { index_first_rows: -1.0, ..small_windows() }] {
            let app = rt.block_on(spawn_app_with(backend, limits));
            let pool = rt.block_on(AnyPool::connect(app.db_url())).unwrap();
            let mut runner =
                TestRunner::new(PropConfig { cases: 16, failure_persistence: None, ..PropConfig::default() });
            let strategy = (
                proptest::collection::vec(spec(), 1..10),
                proptest::collection::vec("[가나다aAbB%_\\\\ ]{1,4}", 1..5),
                1i32..5,
            );
            let result = runner.run(&strategy, |(posts, queries, page_size)| {
                rt.block_on(check_case(&app, &pool, posts, queries, page_size))
            });
            if let Err(e) = result {
                panic!("{backend:?} {limits:?}: {e}");
            }
        }
    }
}

/// Pages through a search on both routes as `user` of `school`: (school-wide, in `board_id`).
async fn pages(
    app: &TestApp,
    school: i64,
    board_id: i64,
    query: &str,
    page_size: i32,
) -> (Vec<String>, Vec<String>) {
    let mut titles = (Vec::new(), Vec::new());
    let mut token = String::new();
    loop {
        let request = pb::SearchPostsRequest { query: query.into(), page_size, page_token: token };
        let page = app.client().search_posts(app.req_in(request, user(), school)).await.unwrap().into_inner();
        titles.0.extend(page.posts.into_iter().map(|p| p.title));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    loop {
        let request = pb::ListPostsRequest { board_id, query: query.into(), page_size, page_token: token };
        let page = app.client().list_posts(app.req_in(request, user(), school)).await.unwrap().into_inner();
        titles.1.extend(page.posts.into_iter().map(|p| p.title));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    titles
}

/// What search promises, spelled out on fixed posts, for both routes, on both backends, each
/// way PostgreSQL may read (newest posts first, index first without statistics, and index
/// first as the statistics choose): Latin case-insensitive, `%` and `_` literal, newest first
/// across pages, deleted and hidden posts left out, only the caller's school.
#[tokio::test]
async fn search_keeps_the_like_semantics() {
    let ways = [
        SearchLimits { window: 2, index_first_rows: -1.0, ..SearchLimits::default() },
        SearchLimits::default(),
        SearchLimits { index_first_rows: 1e9, ..SearchLimits::default() },
    ];
    for backend in campus_testkit::backends() {
        for (way, limits) in ways.into_iter().enumerate() {
            let app = spawn_app_with(backend, limits).await;
            let a = app.board(1, "자유").await;
            let b = app.board(1, "질문").await;
            let theirs = app.board_in(1, OTHER_SCHOOL, "자유", false).await;
            let post = |board_id: i64, title: &str, content: &str, school: i64| {
                let request = pb::CreatePostRequest {
                    board_id,
                    title: title.into(),
                    content: content.into(),
                    anonymous: false,
                };
                let call = app.req_in(request, 7, school);
                let mut client = app.client();
                async move { client.create_post(call).await.unwrap().into_inner().id }
            };
            post(a.id, "Rust 스터디 모집", "매주 화요일 저녁", SCHOOL).await;
            post(b.id, "러스트 질문", "rust 50% 할인 받는 법", SCHOOL).await;
            post(a.id, "RUST 책 팝니다", "a_b 테스트", SCHOOL).await;
            let deleted = post(a.id, "Rust 지운 글", "50% a_b", SCHOOL).await;
            let hidden = post(a.id, "Rust 숨긴 글", "50% a_b", SCHOOL).await;
            post(a.id, "rust 후기", "500 할인, axb", SCHOOL).await;
            post(theirs.id, "Rust 다른 학교", "50% a_b", OTHER_SCHOOL).await;
            post(a.id, "rUsTy 무늬", "나중 글", SCHOOL).await;
            app.client().delete_post(app.req(pb::DeletePostRequest { id: deleted }, 7)).await.unwrap();
            for reporter in 0..5 {
                let report = pb::ReportPostRequest { id: hidden, reason: "광고".into() };
                app.client().report_post(app.req(report, 50 + reporter)).await.unwrap();
            }
            if backend == Backend::Postgres && way == 2 {
                // The statistics the index-first choice reads (none until ANALYZE).
                let pool = AnyPool::connect(app.db_url()).await.unwrap();
                sqlx::query("ANALYZE post").execute(&pool).await.unwrap();
            }
            let case = format!("{backend:?}, way {way}");
            for (query, page_size) in [("rust", 2), ("RUST", 20), ("  Rust ", 1)] {
                let (school, board) = pages(&app, SCHOOL, a.id, query, page_size).await;
                let all = ["rUsTy 무늬", "rust 후기", "RUST 책 팝니다", "러스트 질문", "Rust 스터디 모집"];
                assert_eq!(school, all, "{query:?}, {case}");
                assert_eq!(
                    board,
                    ["rUsTy 무늬", "rust 후기", "RUST 책 팝니다", "Rust 스터디 모집"],
                    "{case}"
                );
            }
            assert_eq!(
                pages(&app, SCHOOL, b.id, "50%", 1).await,
                (vec!["러스트 질문".into()], vec!["러스트 질문".into()]),
                "{case}"
            );
            assert_eq!(
                pages(&app, SCHOOL, a.id, "a_b", 1).await,
                (vec!["RUST 책 팝니다".into()], vec!["RUST 책 팝니다".into()]),
                "{case}"
            );
            assert_eq!(pages(&app, SCHOOL, a.id, "없는 말", 5).await, (vec![], vec![]), "{case}");
            let (elsewhere, _) = pages(&app, OTHER_SCHOOL, theirs.id, "rust", 5).await;
            assert_eq!(elsewhere, ["Rust 다른 학교"], "{case}");
        }
    }
}

#[tokio::test]
async fn one_syllable_finds_and_one_letter_is_too_short() {
    each_backend(|app| async move {
        let board = app.board(1, "자유").await;
        let rice = app.post(1, board.id, "오늘 밥 뭐 먹지", false).await;
        app.post(1, board.id, "Rust 스터디", false).await;
        let search = |query: &str| pb::SearchPostsRequest { query: query.into(), ..Default::default() };
        let found = app.client().search_posts(app.req(search("밥"), 2)).await.unwrap().into_inner();
        assert_eq!(found.posts.iter().map(|p| p.id).collect::<Vec<_>>(), [rice.id], "{:?}", app.backend);
        let refused = app.client().search_posts(app.req(search(" r "), 2)).await;
        assert_error(refused, Code::InvalidArgument, "QUERY_TOO_SHORT");
        let listed = pb::ListPostsRequest { board_id: board.id, query: "r".into(), ..Default::default() };
        assert_error(
            app.client().list_posts(app.req(listed, 2)).await,
            Code::InvalidArgument,
            "QUERY_TOO_SHORT",
        );
        let found = app.client().search_posts(app.req(search("ru"), 2)).await.unwrap().into_inner();
        assert_eq!(found.posts.len(), 1);
    })
    .await;
}

#[tokio::test]
async fn each_user_has_a_search_rate() {
    for backend in campus_testkit::backends() {
        let limits = SearchLimits { burst: 2.0, per_second: 0.001, ..SearchLimits::default() };
        let app = spawn_app_with(backend, limits).await;
        let board = app.board(1, "자유").await;
        let search = || pb::SearchPostsRequest { query: "학식".into(), ..Default::default() };
        let listed =
            || pb::ListPostsRequest { board_id: board.id, query: "학식".into(), ..Default::default() };
        app.client().search_posts(app.req(search(), 2)).await.unwrap();
        app.client().list_posts(app.req(listed(), 2)).await.unwrap();
        assert_error(
            app.client().search_posts(app.req(search(), 2)).await,
            Code::ResourceExhausted,
            "SEARCH_RATE_LIMITED",
        );
        assert_error(
            app.client().list_posts(app.req(listed(), 2)).await,
            Code::ResourceExhausted,
            "SEARCH_RATE_LIMITED",
        );
        // Someone else, and plain listing, are not affected.
        app.client().search_posts(app.req(search(), 3)).await.unwrap();
        let plain = pb::ListPostsRequest { board_id: board.id, ..Default::default() };
        app.client().list_posts(app.req(plain, 2)).await.unwrap();
    }
}

/// Posts that were in the database before the index are found once the backfill has run.
/// (PostgreSQL's migration indexes the posts it finds itself; rows written behind the
/// service's back, as here, are found by the backfill on both backends.)
#[tokio::test]
async fn posts_written_before_the_index_are_backfilled() {
    each_backend(|app| async move {
        let board = app.board(1, "자유").await;
        let pool = AnyPool::connect(app.db_url()).await.unwrap();
        // Straight into the table, as rows written by a version without the index (nor
        // previews) were.
        for id in 1..=7_i64 {
            sqlx::query(campus_board::reference::INSERT_POST_SQL)
                .bind(id)
                .bind(SCHOOL)
                .bind(board.id)
                .bind(1_i64)
                .bind("old")
                .bind(0_i64)
                .bind(format!("예전 글 {id}"))
                .bind(if id % 2 == 0 { "기숙사 통금 몇 시예요" } else { "학식 메뉴" })
                .bind(id)
                .bind(None::<String>)
                .execute(&pool)
                .await
                .unwrap();
        }
        sqlx::query("UPDATE post_search_backfill SET below = 8").execute(&pool).await.unwrap();
        let indexed = campus_board::reference::backfill_search(&pool, app.backend).await.unwrap();
        assert_eq!(indexed, 7, "{:?}", app.backend);
        let request = pb::SearchPostsRequest { query: "기숙사 통금".into(), ..Default::default() };
        let found = app.client().search_posts(app.req(request, 2)).await.unwrap().into_inner();
        assert_eq!(found.posts.iter().map(|p| p.id).collect::<Vec<_>>(), [6, 4, 2], "{:?}", app.backend);
    })
    .await;
}

/// PostgreSQL's migration indexed the posts it found with the SQL function
/// `board_search_terms`; the indexer computes `domain::search::post_terms`: the same terms.
#[tokio::test]
async fn the_migrations_terms_are_the_indexers() {
    if !campus_testkit::backends().contains(&Backend::Postgres) {
        return;
    }
    let app = spawn_app_with(Backend::Postgres, SearchLimits::default()).await;
    let pool = AnyPool::connect(app.db_url()).await.unwrap();
    let texts = [
        ("학식 메뉴 #48213", "Wi-Fi 비번은 0101-2345, 방 번호 302호\n"),
        ("MT 공지", "12 123 1234 x9y9z 50%_OFF"),
        ("가", "É 톡 9"),
    ];
    for (title, content) in texts {
        let rows: Vec<(i64,)> = sqlx::query_as("SELECT term FROM unnest(board_search_terms($1, $2)) AS term")
            .bind(title)
            .bind(content)
            .fetch_all(&pool)
            .await
            .unwrap();
        let sql: BTreeSet<i64> = rows.into_iter().map(|(t,)| t).collect();
        let rust: BTreeSet<i64> =
            search::post_terms(title, content).iter().map(|t| search::term_code(t)).collect();
        assert_eq!(sql, rust, "{title:?} {content:?}");
        assert_eq!(sql.len(), search::post_terms(title, content).len(), "one code per term");
    }
}

/// Whether the index holds `term` for the post `id`.
async fn indexed(app: &TestApp, pool: &AnyPool, id: i64, term: &str) -> bool {
    let (sql, term) = match app.backend {
        Backend::Postgres => (
            "SELECT count(*) FROM post_terms WHERE post_id = $1 AND terms @> CAST($2 AS BIGINT[])",
            format!("{{{}}}", search::term_code(term)),
        ),
        Backend::Sqlite => (
            "SELECT count(*) FROM post_search WHERE rowid = $1 AND post_search MATCH $2",
            format!("\"{}\"", term.bytes().map(|b| format!("{b:02x}")).collect::<String>()),
        ),
    };
    let (n,): (i64,) = sqlx::query_as(sql).bind(id).bind(term).fetch_one(pool).await.unwrap();
    n == 1
}

/// Numbers are found by their digits' trigrams and four-grams: each query answers what a
/// plain scan answers, from the queue and then from the index, which holds the four-grams.
#[tokio::test]
async fn numbers_are_found_as_a_plain_scan_finds_them() {
    each_backend(|app| async move {
        let board = app.board(1, "자유").await;
        let pool = AnyPool::connect(app.db_url()).await.unwrap();
        let texts = [
            ("방 1234호", "문의 010-1234-5678"),
            ("학번 20231234", "12345"),
            ("123", "0123 4567"),
            ("2023", "학식 9999원"),
        ];
        let mut ids = Vec::new();
        for (title, content) in texts {
            let create = pb::CreatePostRequest {
                board_id: board.id,
                title: title.into(),
                content: content.into(),
                anonymous: false,
            };
            ids.push(app.client().create_post(app.req(create, 7)).await.unwrap().into_inner().id);
        }
        let queries = [
            "1234", "12345", "2345", "0123", "123", "234", "20231234", "1234호", "010-1234", "9999원",
            "5678", "4321",
        ]
        .map(String::from);
        check_queries(&app, &pool, board.id, &queries, 2).await.unwrap();
        index_queued(&app, &pool).await;
        assert!(indexed(&app, &pool, ids[1], "2023").await && indexed(&app, &pool, ids[1], "3123").await);
        assert!(!indexed(&app, &pool, ids[2], "1234").await, "{:?}", app.backend);
        check_queries(&app, &pool, board.id, &queries, 2).await.unwrap();
    })
    .await;
}

/// A word most posts hold is looked for in a window of the newest posts first, then in the
/// index below it (SQLite, when the word fills the page twice over in the window; PostgreSQL
/// by its statistics): here one of the eight newest posts holds it, so a page comes from both.
#[tokio::test]
async fn a_common_word_reads_the_newest_posts_then_the_index_below() {
    for backend in campus_testkit::backends() {
        let app = spawn_app_with(backend, SearchLimits { window: 8, ..SearchLimits::default() }).await;
        let board = app.board(1, "자유").await;
        let pool = AnyPool::connect(app.db_url()).await.unwrap();
        for i in 0..40 {
            let common = i < 29 || i == 32;
            let content = if common { format!("오늘 학식 {i}") } else { format!("도서관 {i}") };
            let create =
                pb::CreatePostRequest { board_id: board.id, title: "글".into(), content, anonymous: true };
            app.client().create_post(app.req(create, 7)).await.unwrap();
        }
        index_queued(&app, &pool).await;
        let queries = ["학식", "도서관", "오늘 학식 1"].map(String::from);
        for page_size in [2, 3, 7] {
            check_queries(&app, &pool, board.id, &queries, page_size).await.unwrap();
        }
    }
}

/// The indexer keeps the index from the queue that each write fills in its own transaction:
/// a new post gets its entry, an edited one a new entry, a deleted one none, and the queue
/// is empty after each batch. The searches find what the post holds now at every step.
#[tokio::test]
async fn the_indexer_keeps_the_index_from_the_queue() {
    each_backend(|app| async move {
        let board = app.board(1, "자유").await;
        let pool = AnyPool::connect(app.db_url()).await.unwrap();
        let found = |query: &'static str| {
            let app = &app;
            async move {
                let request = pb::SearchPostsRequest { query: query.into(), ..Default::default() };
                let page = app.client().search_posts(app.req(request, user())).await.unwrap().into_inner();
                page.posts.iter().map(|p| p.id).collect::<Vec<_>>()
            }
        };
        let create = pb::CreatePostRequest {
            board_id: board.id,
            title: "기숙사".into(),
            content: "통금 몇 시예요".into(),
            anonymous: true,
        };
        let id = app.client().create_post(app.req(create, 7)).await.unwrap().into_inner().id;
        assert_eq!(found("통금").await, [id]);
        index_queued(&app, &pool).await;
        assert_eq!((queued(&pool).await, indexed(&app, &pool, id, "통금").await), (0, true));
        assert_eq!(found("통금").await, [id]);

        let edit = pb::UpdatePostRequest { id, title: None, content: Some("학식 메뉴".into()) };
        app.client().update_post(app.req(edit, 7)).await.unwrap();
        assert_eq!((found("통금").await, found("학식").await), (vec![], vec![id]));
        index_queued(&app, &pool).await;
        assert!(!indexed(&app, &pool, id, "통금").await && indexed(&app, &pool, id, "학식").await);
        assert_eq!((found("통금").await, found("학식").await), (vec![], vec![id]));

        app.client().delete_post(app.req(pb::DeletePostRequest { id }, 7)).await.unwrap();
        assert_eq!(found("학식").await, Vec::<i64>::new());
        index_queued(&app, &pool).await;
        assert_eq!(
            (queued(&pool).await, indexed(&app, &pool, id, "학식").await),
            (0, false),
            "{:?}",
            app.backend
        );
    })
    .await;
}

/// A search that runs past the statement timeout is cancelled and answered as
/// DEADLINE_EXCEEDED SEARCH_TIMEOUT (PostgreSQL; SQLite's steps are bounded instead). The
/// posts make every step read tens of thousands of rows, far beyond a millisecond.
#[tokio::test]
async fn a_search_past_the_timeout_is_deadline_exceeded() {
    if !campus_testkit::backends().contains(&Backend::Postgres) {
        return;
    }
    let limits =
        SearchLimits { statement_timeout: std::time::Duration::from_millis(1), ..SearchLimits::default() };
    let app = spawn_app_with(Backend::Postgres, limits).await;
    let board = app.board(1, "자유").await;
    let pool = AnyPool::connect(app.db_url()).await.unwrap();
    sqlx::query(
        "INSERT INTO post (id, school_id, board_id, author_id, author_nickname, anonymous, title, content, \
         created_at, updated_at) SELECT n, $1, $2, 1, 'x', 0, '학식 메뉴 ' || n, '오늘 학식 돈까스 메뉴 ' || n, n, n \
         FROM generate_series(1, 50000) AS n",
    )
    .bind(SCHOOL)
    .bind(board.id)
    .execute(&pool)
    .await
    .unwrap();
    // Indexed at once, as the index's migration indexes the posts it finds.
    sqlx::query(
        "INSERT INTO post_terms (post_id, terms) SELECT id, board_search_terms(title, content) FROM post",
    )
    .execute(&pool)
    .await
    .unwrap();
    // Every term is in every post; the phrase is in none.
    let request = pb::SearchPostsRequest { query: "메뉴 학식 돈까스".into(), ..Default::default() };
    let answer = app.client().search_posts(app.req(request.clone(), 2)).await;
    assert_error(answer, Code::DeadlineExceeded, "SEARCH_TIMEOUT");
    // Eight times as many at once as searches have connections (8): each gives its connection
    // back at the timeout, so every one of them is a timeout too, none a wait for the pool
    // (UNAVAILABLE after 3 s), and so is a board's search through ListPosts.
    let calls = (0..64).map(|i| {
        let mut client = app.client();
        let call = app.req(request.clone(), 1_000 + i);
        async move { client.search_posts(call).await }
    });
    for answer in futures::future::join_all(calls).await {
        assert_error(answer, Code::DeadlineExceeded, "SEARCH_TIMEOUT");
    }
    let listed =
        pb::ListPostsRequest { board_id: board.id, query: request.query.clone(), ..Default::default() };
    assert_error(app.client().list_posts(app.req(listed, 3)).await, Code::DeadlineExceeded, "SEARCH_TIMEOUT");
    // The connection went back to the pool usable: plain reads still work.
    let plain = pb::ListPostsRequest { board_id: board.id, ..Default::default() };
    assert_eq!(app.client().list_posts(app.req(plain, 2)).await.unwrap().into_inner().posts.len(), 20);
}

/// A deleted post's old FTS5 entry leaves a tombstone in its segment, which every search
/// holding the post's terms reads until a merge rewrites the segment (SQLite). An index whose
/// tombstones built up under FTS5's default (a level is merged at 10%, as before migration
/// 0016) is rewritten by the indexer's steps between batches once the threshold is 2%, with
/// no new posts to drive FTS5's own merging: afterwards every level holds fewer than 2%.
#[tokio::test]
async fn the_indexer_merges_deleted_posts_out_of_the_index() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let board = app.board(1, "자유").await;
    let pool = AnyPool::connect(app.db_url()).await.unwrap();
    let (threshold,): (i64,) = sqlx::query_as("SELECT v FROM post_search_config WHERE k = 'deletemerge'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(threshold, 2, "migration 0016");
    // Queued by their INSERT's trigger and indexed by the service, 64 at a time: enough posts
    // for segments that FTS5 marks with tombstones rather than rewrites.
    sqlx::query(
        "INSERT INTO post (id, school_id, board_id, author_id, author_nickname, anonymous, title, content, \
         created_at, updated_at) WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 20000) \
         SELECT n, $1, $2, 1, 'x', 0, '학식 메뉴 ' || n, '오늘 돈까스 ' || n, n, n FROM s",
    )
    .bind(SCHOOL)
    .bind(board.id)
    .execute(&pool)
    .await
    .unwrap();
    let settled = || async {
        for _ in 0..600 {
            if queued(&pool).await == 0 {
                // A few indexer turns more, for its merge steps.
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("posts still queued after 60 s");
    };
    settled().await;
    let deletemerge = |percent: i64| {
        let pool = &pool;
        async move {
            sqlx::query("INSERT INTO post_search (post_search, rank) VALUES ('deletemerge', $1)")
                .bind(percent)
                .execute(pool)
                .await
                .unwrap();
        }
    };
    // Every twelfth post deleted under FTS5's default threshold, as DeletePost does: marked,
    // and queued to leave the index.
    deletemerge(10).await;
    sqlx::query("UPDATE post SET deleted_at = 1 WHERE id % 12 = 0").execute(&pool).await.unwrap();
    sqlx::query("INSERT INTO post_search_pending (post_id) SELECT id FROM post WHERE id % 12 = 0")
        .execute(&pool)
        .await
        .unwrap();
    settled().await;
    let before = tombstones_by_level(&pool).await;
    assert!(before.iter().any(|&(tombstones, entries)| tombstones * 50 >= entries.max(1)), "{before:?}");
    // Migration 0016's threshold.
    deletemerge(2).await;
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let levels = tombstones_by_level(&pool).await;
    assert!(levels.iter().all(|&(tombstones, entries)| tombstones * 50 < entries.max(1)), "{levels:?}");
    let request = pb::SearchPostsRequest { query: "돈까스 19992".into(), ..Default::default() };
    let page = app.client().search_posts(app.req(request, user())).await.unwrap().into_inner();
    assert!(page.posts.is_empty(), "a deleted post was found");
}

/// (tombstones, entries) of each level of the FTS5 index, from its structure record (row 10
/// of `post_search_data`, as FTS5's `fts5StructureDecode` reads it: a 4-byte cookie, the
/// 4-byte mark of the form that counts tombstones, then varints).
async fn tombstones_by_level(pool: &AnyPool) -> Vec<(u64, u64)> {
    let (record,): (Vec<u8>,) =
        sqlx::query_as("SELECT block FROM post_search_data WHERE id = 10").fetch_one(pool).await.unwrap();
    assert_eq!(record[4..8], [0xff, 0, 0, 1], "the structure counts tombstones");
    let mut at = 8;
    let mut varint = || {
        let mut value = 0u64;
        for i in 0..9 {
            let byte = record[at];
            at += 1;
            if i == 8 {
                return (value << 8) | u64::from(byte);
            }
            value = (value << 7) | u64::from(byte & 0x7f);
            if byte & 0x80 == 0 {
                break;
            }
        }
        value
    };
    let (levels, _segments, _writes) = (varint(), varint(), varint());
    (0..levels)
        .map(|_| {
            let (_merging, segments) = (varint(), varint());
            let (mut tombstones, mut entries) = (0, 0);
            for _ in 0..segments {
                // id, first and last page, origins, tombstone pages, tombstones, entries
                let fields: Vec<u64> = (0..8).map(|_| varint()).collect();
                tombstones += fields[6];
                entries += fields[7];
            }
            (tombstones, entries)
        })
        .collect()
}
