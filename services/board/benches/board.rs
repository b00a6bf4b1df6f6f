//! Load benchmark of the board service over real gRPC at 64 calls in flight, on SQLite and
//! (when `CAMPUS_BENCH_PG_URL` or `CAMPUS_TEST_PG_URL` names a server) PostgreSQL:
//!
//! - ListPosts, 20 per page, on a board of 100,000 posts: the first page, and deep pages
//!   (random page tokens from the older half of the board, gathered by walking the list);
//! - CreatePost.
//!
//! On PostgreSQL pgbench runs the SQL that ListPosts issues (`-M prepared`, 64 clients) in the
//! same run, for the first and for deep pages, and the table shows the ratio.
//!
//! `cargo bench -p campus-board`; `CAMPUS_BENCH_SECS` sets the measured seconds (default 10).

use std::sync::Arc;
use std::time::{Duration, Instant};

use campus_board::domain::Thresholds;
use campus_board::{Application, Config};
use campus_proto::board::v1::board_service_client::BoardServiceClient;
use campus_proto::board::v1::{BoardCategory, CreateBoardRequest, CreatePostRequest, ListPostsRequest};
use campus_shared::config::{DatabaseConfig, ServerLimits, ServiceConfig, var};
use campus_shared::db::Backend;
use campus_testkit::bench::{Report, pg_create_database, pg_drop_database, pgbench, pgbench_sql, run};
use campus_testkit::{TestDatabase, TestIdentity, channel};
use sqlx::Connection;
use tonic::transport::Channel;

const POSTS: i64 = 100_000;
const PAGE: i32 = 20;
const IN_FLIGHT: usize = 64;
const SCHOOL: i64 = 1;
const USERS: i64 = 1_000;
/// Connections the load generator spreads its calls over (HTTP/2 multiplexes the rest).
const CHANNELS: usize = 8;

/// Pre-signed access tokens of the benchmark's users.
struct Users {
    bearers: Vec<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl Users {
    /// A request from user `n` (any number; wraps around the users).
    fn request<T>(&self, message: T, n: i64) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let bearer = self.bearers[n.rem_euclid(USERS) as usize].clone();
        request.metadata_mut().insert("authorization", bearer);
        request
    }
}

/// One line of the final table.
struct Row {
    backend: &'static str,
    report: Report,
    pgbench: Option<f64>,
}

#[tokio::main]
async fn main() {
    let secs: u64 = campus_testkit::bench::measured_secs(10);
    let duration = Duration::from_secs(secs);
    let mut rows = Vec::new();

    let sqlite = TestDatabase::new(Backend::Sqlite).await;
    rows.extend(bench_backend("sqlite", sqlite.config(), None, duration).await);

    if let Some(base) = var("CAMPUS_BENCH_PG_URL").or_else(|| var("CAMPUS_TEST_PG_URL")) {
        let name = format!("campus_bench_board_{}", std::process::id());
        let url = pg_create_database(&base, &name, true).await.expect("create the bench database");
        rows.extend(bench_backend("postgres", DatabaseConfig::new(url.clone()), Some(&url), duration).await);
        let _ = pg_drop_database(&base, &name).await;
    }

    println!("\n| workload | backend | req/s | p50 ms | p99 ms | errors | pgbench tps (same SQL) | ratio |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let r = &row.report;
        let (tps, ratio) = match row.pgbench {
            Some(tps) => (format!("{tps:.0}"), format!("{:.2}×", r.per_second() / tps)),
            None => ("–".into(), "–".into()),
        };
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} | {} |",
            r.name,
            row.backend,
            r.per_second(),
            r.p50.as_secs_f64() * 1000.0,
            r.p99.as_secs_f64() * 1000.0,
            r.errors,
            tps,
            ratio
        );
    }
}

async fn bench_backend(
    backend: &'static str,
    database: DatabaseConfig,
    pg_url: Option<&str>,
    duration: Duration,
) -> Vec<Row> {
    let identity = TestIdentity::new();
    let photos = tempfile::tempdir().expect("photo dir");
    let config = Config {
        service: ServiceConfig {
            listen_addr: ([127, 0, 0, 1], 0).into(),
            database: database.clone(),
            identity: identity.config(),
            limits: ServerLimits::default(),
            tls: None,
            client_tls: Default::default(),
        },
        thresholds: Thresholds::default(),
        blob_url: photos.path().display().to_string(),
        account_addr: String::new(),
        feed: Default::default(),
        first_page_ttl: campus_board::Config::FIRST_PAGE_TTL,
    };
    let app = Application::build(config).await.expect("build board service");
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let clients: Vec<BoardServiceClient<Channel>> =
        (0..CHANNELS).map(|_| BoardServiceClient::new(channel(addr))).collect();
    // Signing a token per call would bill the load generator's CPU to the service: sign once.
    let bearers: Vec<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> =
        (1..=USERS).map(|u| identity.bearer(u, SCHOOL).parse().expect("ascii token")).collect();
    let identity = Arc::new(Users { bearers });

    let board = {
        let request = CreateBoardRequest {
            name: "자유게시판".into(),
            description: "bench".into(),
            category: BoardCategory::General as i32,
            hot_disabled: false,
        };
        clients[0].clone().create_board(identity.request(request, 1)).await.expect("board").into_inner()
    };
    let started = Instant::now();
    seed(&database.url, board.id).await;
    eprintln!("{backend}: seeded {POSTS} posts in {:.1}s", started.elapsed().as_secs_f64());

    // Walk the whole board once through the public API, keeping the token of every page
    // (100 posts apart) from the older half: the deep pages the benchmark asks for.
    let started = Instant::now();
    let mut deep = Vec::new();
    let mut page_token = String::new();
    let mut seen = 0i64;
    let mut deep_ids = (i64::MAX, 0i64);
    loop {
        let request =
            ListPostsRequest { board_id: board.id, page_size: 100, page_token, query: String::new() };
        let page =
            clients[0].clone().list_posts(identity.request(request, 2)).await.expect("walk").into_inner();
        seen += page.posts.len() as i64;
        if page.next_page_token.is_empty() {
            break;
        }
        if (POSTS / 2..POSTS - 100).contains(&seen) {
            deep.push(page.next_page_token.clone());
            let last = page.posts.last().map(|p| p.id).unwrap_or_default();
            deep_ids = (deep_ids.0.min(last), deep_ids.1.max(last));
        }
        page_token = page.next_page_token;
    }
    assert_eq!(seen, POSTS, "the walk sees every post once");
    eprintln!("{backend}: walked {seen} posts in {:.1}s", started.elapsed().as_secs_f64());
    let deep = Arc::new(deep);
    let warmup = Duration::from_secs(2);
    let mut rows = Vec::new();

    let (c, id) = (clients.clone(), identity.clone());
    let first = run("ListPosts first page", IN_FLIGHT, warmup, duration, move |i| {
        let mut client = c[i as usize % CHANNELS].clone();
        let request = ListPostsRequest { board_id: board.id, page_size: PAGE, ..Default::default() };
        let request = id.request(request, i as i64);
        async move { client.list_posts(request).await.is_ok_and(|r| r.get_ref().posts.len() == PAGE as usize) }
    })
    .await;
    let pg_first = pg_url.and_then(|url| pgbench_list(url, board.id, None, duration));
    rows.push(Row { backend, report: first, pgbench: pg_first });

    let (c, id, tokens) = (clients.clone(), identity.clone(), deep.clone());
    let deep_report = run("ListPosts deep pages (50k–100k)", IN_FLIGHT, warmup, duration, move |i| {
        let mut client = c[i as usize % CHANNELS].clone();
        let page_token = tokens[(i as usize).wrapping_mul(7919) % tokens.len()].clone();
        let request = ListPostsRequest { board_id: board.id, page_size: PAGE, page_token, query: String::new() };
        let request = id.request(request, i as i64);
        async move { client.list_posts(request).await.is_ok_and(|r| r.get_ref().posts.len() == PAGE as usize) }
    })
    .await;
    let pg_deep = pg_url.and_then(|url| pgbench_list(url, board.id, Some(deep_ids), duration));
    rows.push(Row { backend, report: deep_report, pgbench: pg_deep });

    let (c, id) = (clients.clone(), identity.clone());
    let create = run("CreatePost", IN_FLIGHT, warmup, duration, move |i| {
        let mut client = c[i as usize % CHANNELS].clone();
        let request = CreatePostRequest {
            board_id: board.id,
            title: format!("벤치마크 글 {i}"),
            content: "오늘 학식 뭐 나와요? ".repeat(8),
            anonymous: i % 2 == 0,
        };
        let request = id.request(request, i as i64);
        async move { client.create_post(request).await.is_ok() }
    })
    .await;
    rows.push(Row { backend, report: create, pgbench: None });
    rows
}

/// Inserts the posts with multi-row INSERTs, oldest first, as `next_id` would have numbered them.
async fn seed(url: &str, board_id: i64) {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect for seeding");
    const BATCH: i64 = 500;
    let now = campus_shared::db::now_micros();
    let mut tx = conn.begin().await.expect("begin");
    for start in (0..POSTS).step_by(BATCH as usize) {
        let mut sql = String::from(
            "INSERT INTO post (id, school_id, board_id, author_id, author_nickname, anonymous, title, content, \
             created_at, updated_at) VALUES ",
        );
        for n in start..start + BATCH {
            let id = campus_shared::id::next_id();
            let author = 1 + n % USERS;
            let created = now - (POSTS - n) * 1_000_000;
            if n > start {
                sql.push(',');
            }
            sql.push_str(&format!(
                "({id}, {SCHOOL}, {board_id}, {author}, 'user{author}', {}, '글 {n}', '본문 {n}: 오늘 학식 뭐 나와요? 시험 범위 아시는 분', {created}, {created})",
                n % 2
            ));
        }
        // Every value above is a number this function made; nothing comes from outside.
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await.expect("seed posts");
    }
    tx.commit().await.expect("commit seed");
    if url.starts_with("postgres") {
        sqlx::query("ANALYZE").execute(&mut conn).await.expect("analyze");
    }
    let _ = conn.close().await;
}

/// pgbench on the SQL of a ListPosts page: the first page, or a page below a random id from
/// `deep` (min, max).
fn pgbench_list(url: &str, board_id: i64, deep: Option<(i64, i64)>, duration: Duration) -> Option<f64> {
    let sql =
        pgbench_sql(campus_board::reference::LIST_BOARD_POSTS_SQL, &["viewer", "board", "before", "page"]);
    let before = match deep {
        Some((lo, hi)) => format!("\\set before random({lo}, {hi})\n"),
        None => format!("\\set before {}\n", i64::MAX),
    };
    let script = format!("\\set viewer random(1, {USERS})\n{before}{sql};\n");
    let defines = [("board", board_id.to_string()), ("page", (PAGE + 1).to_string())];
    let tps = pgbench(url, &script, IN_FLIGHT, duration.as_secs(), &defines);
    if tps.is_none() {
        eprintln!("pgbench did not run (is it installed?)");
    }
    tps
}
