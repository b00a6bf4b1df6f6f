//! Seeding the data set with set-based SQL into the schemas the services' own migrations made,
//! the marker that lets later runs reuse it, and the restore that puts it back to the seeded
//! state before a run (deleting what earlier runs wrote).

use std::time::Instant;

use anyhow::{Context, bail};
use campus_shared::db::Backend;
use sqlx::{AnyConnection, Connection};

use crate::layout::{HOT_LIKES, Layout, MAX_COMMENTS};

pub(crate) const TITLES: &str = "오늘 학식 뭐 나와요 중간고사 범위 아시는 분 도서관 자리 있나요 수강신청 망했어요 \
                      동아리 신입 모집합니다 기숙사 택배 어디서 받아요 과제 마감 연장됐대요";
const BODIES: &str = "오늘 2학식 메뉴가 돈까스라던데 혹시 가보신 분 계신가요? 줄이 너무 길면 그냥 편의점 \
                      가려고요. 그리고 다음 주 중간고사 범위가 어디까지인지 아시는 분 있으면 알려주세요. \
                      교수님이 수업 시간에 말씀하셨다는데 제가 그날 결석해서 못 들었어요. 도서관 3층 열람실은 \
                      요즘 아침 8시만 돼도 자리가 없더라고요. 다들 몇 시에 가세요? 수강신청 기간에 서버가 \
                      또 터져서 전공 하나도 못 잡았습니다. 정정 기간에 빈자리 나오길 기도하는 중이에요. \
                      동아리 박람회는 이번 주 금요일 학생회관 앞에서 열린다고 합니다.";
const REPLIES: &str = "저도 궁금해요 감사합니다 헐 진짜요? 그거 지난주에 공지 올라왔어요 저는 어제 갔는데 \
                       괜찮았어요 ㅋㅋㅋ 동의합니다 정보 감사해요 쪽지 드려도 될까요 힘내세요";

/// The content seeded for post `n`: the `substr` of BODIES that `seed_board` writes (characters,
/// from `n % 97`, 30 to 270 long).
pub(crate) fn seeded_content(n: i64) -> String {
    BODIES.chars().skip((n % 97) as usize).take((30 + (n % 9) * 30) as usize).collect()
}

/// The table that records which data set a database holds.
const MARKER_TABLE: &str = "campus_bench_seed";

/// A connection for seeding: `synchronous_commit` off and room for index builds on
/// PostgreSQL, no fsync on SQLite (a crash only means seeding again).
pub(crate) async fn connect(url: &str) -> anyhow::Result<AnyConnection> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(url).await.with_context(|| format!("connect to {url}"))?;
    let settings: &[&str] = match backend(url)? {
        Backend::Postgres => &["SET synchronous_commit = off", "SET maintenance_work_mem = '1GB'"],
        Backend::Sqlite => &["PRAGMA synchronous = OFF", "PRAGMA cache_size = -262144"],
    };
    for s in settings {
        sqlx::raw_sql(sqlx::AssertSqlSafe(*s)).execute(&mut conn).await?;
    }
    Ok(conn)
}

pub(crate) fn backend(url: &str) -> anyhow::Result<Backend> {
    Backend::of_url(url).with_context(|| format!("not a sqlite:// or postgres:// URL: {url}"))
}

/// The data set a database holds: its fingerprint and anchor, when seeded completely.
pub(crate) async fn marker(url: &str) -> Option<(String, i64)> {
    let mut conn = connect(url).await.ok()?;
    let sql = format!("SELECT fingerprint, anchor_ms FROM {MARKER_TABLE}");
    let row: Option<(String, i64)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_optional(&mut conn).await.ok().flatten();
    let _ = conn.close().await;
    row
}

/// Records that the database holds `layout`'s data set. Written last, so a seed that stopped
/// half way is seeded again.
pub(crate) async fn write_marker(url: &str, layout: &Layout) -> anyhow::Result<()> {
    let mut conn = connect(url).await?;
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (fingerprint TEXT NOT NULL, anchor_ms BIGINT NOT NULL)"
    );
    sqlx::query(sqlx::AssertSqlSafe(create)).execute(&mut conn).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {MARKER_TABLE}"))).execute(&mut conn).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {MARKER_TABLE} (fingerprint, anchor_ms) VALUES ($1, $2)"
    )))
    .bind(layout.fingerprint())
    .bind(layout.anchor_ms)
    .execute(&mut conn)
    .await?;
    let _ = conn.close().await;
    Ok(())
}

/// An INSERT … SELECT over integer series: `series` are `(name, from, to)`, each usable as
/// `name.n` in `select` (the select list and anything after FROM's list, e.g. a WHERE).
fn insert_series(
    backend: Backend,
    into: &str,
    series: &[(&str, i64, i64)],
    select: &str,
    rest: &str,
) -> String {
    match backend {
        Backend::Postgres => {
            let from: Vec<String> = series
                .iter()
                .map(|(name, a, b)| {
                    format!("generate_series(CAST({a} AS BIGINT), CAST({b} AS BIGINT)) AS {name}(n)")
                })
                .collect();
            format!("INSERT INTO {into} SELECT {select} FROM {} {rest}", from.join(", "))
        }
        Backend::Sqlite => {
            let ctes: Vec<String> = series
                .iter()
                .map(|(name, a, b)| {
                    format!("{name}(n) AS (SELECT {a} UNION ALL SELECT n + 1 FROM {name} WHERE n < {b})")
                })
                .collect();
            let names: Vec<&str> = series.iter().map(|(name, _, _)| *name).collect();
            format!(
                "WITH RECURSIVE {} INSERT INTO {into} SELECT {select} FROM {} {rest}",
                ctes.join(", "),
                names.join(", ")
            )
        }
    }
}

async fn exec(conn: &mut AnyConnection, sql: String) -> anyhow::Result<u64> {
    let started = Instant::now();
    let head: String = sql.chars().take(60).collect();
    let done =
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut *conn).await.with_context(|| head.clone())?;
    if started.elapsed().as_secs() >= 2 {
        eprintln!("  {head}… {} rows in {:.1}s", done.rows_affected(), started.elapsed().as_secs_f64());
    }
    Ok(done.rows_affected())
}

/// The definitions of a table's secondary indexes (not the primary key's).
async fn secondary_indexes(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT CAST(indexname AS TEXT), indexdef FROM pg_indexes WHERE schemaname = 'public' \
             AND tablename = $1 AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype = 'p')"
        }
        Backend::Sqlite => {
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL"
        }
    };
    Ok(sqlx::query_as(sql).bind(table).fetch_all(&mut *conn).await?)
}

/// The `ALTER INDEX` statements that give an index's columns back the statistics targets the
/// migrations set (PostgreSQL; they are not part of an index's definition).
async fn statistics_targets(
    conn: &mut AnyConnection,
    backend: Backend,
    index: &str,
) -> anyhow::Result<Vec<String>> {
    if backend != Backend::Postgres {
        return Ok(Vec::new());
    }
    let targets: Vec<(i32, i32)> = sqlx::query_as(
        "SELECT CAST(attnum AS INTEGER), CAST(attstattarget AS INTEGER) FROM pg_attribute \
         WHERE attrelid = to_regclass($1) AND attnum > 0 AND attstattarget >= 0",
    )
    .bind(index)
    .fetch_all(&mut *conn)
    .await?;
    Ok(targets
        .into_iter()
        .map(|(column, target)| format!("ALTER INDEX {index} ALTER COLUMN {column} SET STATISTICS {target}"))
        .collect())
}

/// Runs `inserts` into `table` with its secondary indexes dropped, then builds them again
/// from their own definitions (and statistics targets): one sort per index instead of
/// millions of random inserts.
async fn bulk_insert(
    conn: &mut AnyConnection,
    backend: Backend,
    table: &str,
    inserts: Vec<String>,
) -> anyhow::Result<u64> {
    let mut indexes = Vec::new();
    for (name, definition) in secondary_indexes(conn, backend, table).await? {
        let targets = statistics_targets(conn, backend, &name).await?;
        indexes.push((name, definition, targets));
    }
    for (name, _, _) in &indexes {
        exec(conn, format!("DROP INDEX {name}")).await?;
    }
    let mut rows = 0;
    for sql in inserts {
        rows += exec(conn, sql).await?;
    }
    for (_, definition, targets) in indexes {
        exec(conn, definition).await?;
        for sql in targets {
            exec(conn, sql).await?;
        }
    }
    Ok(rows)
}

/// School and users into the account service's database. Every user has the same password
/// (`hash` is its argon2id PHC string, computed once).
pub(crate) async fn seed_account(url: &str, layout: &Layout, hash: &str) -> anyhow::Result<()> {
    let backend = backend(url)?;
    let mut conn = connect(url).await?;
    let school_us = ((layout.school_id() >> 22) + 1_704_067_200_000) * 1000;
    let mut tx = conn.begin().await?;
    sqlx::query("INSERT INTO school (id, name, email_domain, created_at) VALUES ($1, $2, $3, $4)")
        .bind(layout.school_id())
        .bind("벤치대학교")
        .bind("bench.ac.kr")
        .bind(school_us)
        .execute(&mut *tx)
        .await?;
    let user_ms = format!("(({} >> 22) + 1704067200000)", layout.sql_user_id("u.n"));
    let sql = insert_series(
        backend,
        "user_account (id, school_id, login_id, email, nickname, password_hash, role, created_at, updated_at)",
        &[("u", 0, layout.users - 1)],
        &format!(
            "{id}, {school}, 'bench' || u.n, 'bench' || u.n || '@bench.ac.kr', '벤치' || u.n, $1, 'user', \
             {user_ms} * 1000, {user_ms} * 1000",
            id = layout.sql_user_id("u.n"),
            school = layout.school_id(),
        ),
        "",
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).bind(hash).execute(&mut *tx).await?;
    tx.commit().await?;
    finish(&mut conn, backend, &["school", "user_account"]).await?;
    let _ = conn.close().await;
    Ok(())
}

/// Boards, posts, likes, comments (a third of them replies, half of them anonymous) and the
/// anonymous numbers into a board service database, counters matching the rows.
pub(crate) async fn seed_board(url: &str, layout: &Layout) -> anyhow::Result<()> {
    let backend = backend(url)?;
    let mut conn = connect(url).await?;
    let l = layout;
    let school = l.school_id();
    let started = Instant::now();

    let board_ms = |b: &str| format!("((({} >> 22) + 1704067200000))", l.sql_board_id(b));
    exec(
        &mut conn,
        insert_series(
            backend,
            "board (id, school_id, name, description, category, hot_disabled, created_by, created_at)",
            &[("b", 0, l.boards - 1)],
            &format!(
                "{id}, {school}, '게시판 ' || b.n, '벤치마크 게시판 ' || b.n, 1, 0, {admin}, {ms} * 1000",
                id = l.sql_board_id("b.n"),
                admin = l.user_id(0),
                ms = board_ms("b.n"),
            ),
            "",
        ),
    )
    .await?;

    let n = "p.n";
    let likes = l.sql_post_likes(n);
    let author = l.sql_post_author(n);
    let post_ms = l.sql_post_ms(n);
    let posts = insert_series(
        backend,
        "post (id, school_id, board_id, author_id, author_nickname, anonymous, title, content, content_preview, \
         like_count, comment_count, scrap_count, report_count, photo_count, anon_counter, hot_at, best_at, \
         created_at, updated_at)",
        &[("p", 1, l.posts)],
        &format!(
            "{id}, {school}, {board}, {author_id}, '벤치' || {author}, CASE WHEN {n} % 3 = 0 THEN 0 ELSE 1 END, \
             substr('{TITLES}', CAST(1 + {n} % 40 AS INTEGER), CAST(6 + {n} % 17 AS INTEGER)) || ' #' || {n}, \
             {content}, substr({content}, 1, 100), \
             {likes}, {n} % 11, 0, 0, 0, ({n} % 11 + 1) / 2, \
             CASE WHEN {likes} >= 10 THEN ({post_ms} + 3600000) * 1000 END, \
             CASE WHEN {likes} >= 100 THEN ({post_ms} + 7200000) * 1000 END, \
             {post_ms} * 1000, {post_ms} * 1000",
            id = l.sql_post_id(n),
            content = format!(
                "substr('{BODIES}', CAST(1 + {n} % 97 AS INTEGER), CAST(30 + ({n} % 9) * 30 AS INTEGER))"
            ),
            board = l.sql_board_id(&l.sql_post_board(n)),
            author_id = l.sql_user_id(&author),
        ),
        "",
    );
    // SQLite's trigger queues every new post for the indexer, which the board service under
    // test runs while the seed does: with both it and the backfill below indexing them, every
    // post the indexer reached first was indexed twice, and its first entry stayed behind as
    // an FTS5 tombstone that every search holding its terms then reads. Set aside while the
    // seeded posts go in, as the backfill indexes them all.
    let queue_trigger = match backend {
        Backend::Sqlite => {
            let (sql,): (String,) = sqlx::query_as(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'post_search_queue_new'",
            )
            .fetch_one(&mut conn)
            .await
            .context("the search queue's trigger")?;
            exec(&mut conn, "DROP TRIGGER post_search_queue_new".into()).await?;
            Some(sql)
        }
        Backend::Postgres => None,
    };
    let rows = bulk_insert(&mut conn, backend, "post", vec![posts]).await?;
    if let Some(sql) = queue_trigger {
        exec(&mut conn, sql).await?;
    }
    eprintln!("  {rows} posts");
    let t = Instant::now();
    if backend == Backend::Postgres {
        // What the search index's migration does for the posts it finds, with the GIN index
        // built after the rows, as for the other tables.
        let terms = "INSERT INTO post_terms (post_id, terms) \
                     SELECT id, board_search_terms(title, content) FROM post WHERE deleted_at IS NULL";
        let indexed = bulk_insert(&mut conn, backend, "post_terms", vec![terms.into()]).await?;
        eprintln!("  {indexed} posts indexed for search in {:.0}s", t.elapsed().as_secs_f64());
    } else {
        // SQLite's index is the board service's own backfill, pointed at the seeded posts.
        exec(
            &mut conn,
            "UPDATE post_search_backfill SET below = (SELECT COALESCE(max(id), 0) + 1 FROM post)".into(),
        )
        .await?;
        let pool = sqlx::AnyPool::connect(url).await?;
        let indexed = campus_board::reference::backfill_search(&pool, backend).await?;
        pool.close().await;
        eprintln!("  {indexed} posts indexed for search in {:.0}s", t.elapsed().as_secs_f64());
    }

    // Every tenth post has 1-7 likes, the hot ones HOT_LIKES; likers follow the author.
    let tenth = "(m.n * 10)";
    let some = insert_series(
        backend,
        "post_like (post_id, user_id, created_at)",
        &[("m", 1, l.posts / 10), ("j", 1, 7)],
        &format!(
            "{post}, {liker}, {ms} * 1000 + j.n * 1000000",
            post = l.sql_post_id(tenth),
            liker = l.sql_user_id(&format!("({} + j.n) % {}", l.sql_post_author(tenth), l.users)),
            ms = l.sql_post_ms(tenth),
        ),
        &format!("WHERE j.n <= 1 + m.n % 7 AND m.n * 10 <= {}", l.posts - crate::layout::HOT_POSTS),
    );
    let hot = insert_series(
        backend,
        "post_like (post_id, user_id, created_at)",
        &[("h", l.posts - crate::layout::HOT_POSTS + 1, l.posts), ("j", 1, HOT_LIKES)],
        &format!(
            "{post}, {liker}, {ms} * 1000 + j.n * 1000000",
            post = l.sql_post_id("h.n"),
            liker = l.sql_user_id(&format!("({} + j.n) % {}", l.sql_post_author("h.n"), l.users)),
            ms = l.sql_post_ms("h.n"),
        ),
        "",
    );
    let rows = bulk_insert(&mut conn, backend, "post_like", vec![some, hot]).await?;
    eprintln!("  {rows} likes");

    // Comment k of post n: a reply to comment k-1 when k % 3 == 0, anonymous when k is odd.
    let (k, cid, commenter) = ("k.n", l.sql_comment_id(n, "k.n"), l.sql_commenter(n, "k.n"));
    let parent = l.sql_comment_id(n, "k.n - 1");
    let comments = insert_series(
        backend,
        "comment (id, post_id, parent_id, thread_id, author_id, author_nickname, anonymous, anon_number, \
         content, like_count, report_count, reply_count, created_at)",
        &[("p", 1, l.posts), ("k", 1, MAX_COMMENTS)],
        &format!(
            "{cid}, {post}, CASE WHEN {k} % 3 = 0 THEN {parent} ELSE 0 END, \
             CASE WHEN {k} % 3 = 0 THEN {parent} ELSE {cid} END, {user}, '벤치' || {commenter}, {k} % 2, \
             CASE WHEN {k} % 2 = 1 THEN ({k} + 1) / 2 ELSE 0 END, \
             substr('{REPLIES}', CAST(1 + ({n} + {k}) % 50 AS INTEGER), CAST(6 + ({k} * 7) % 40 AS INTEGER)), 0, 0, \
             CASE WHEN {k} % 3 = 2 AND {k} + 1 <= {n} % 11 THEN 1 ELSE 0 END, \
             ({post_ms} + {k} * 60000) * 1000",
            post = l.sql_post_id(n),
            user = l.sql_user_id(&commenter),
        ),
        &format!("WHERE {k} <= {n} % 11"),
    );
    let rows = bulk_insert(&mut conn, backend, "comment", vec![comments]).await?;
    eprintln!("  {rows} comments");
    let anon = insert_series(
        backend,
        "comment_anon (post_id, user_id, number)",
        &[("p", 1, l.posts), ("k", 1, MAX_COMMENTS)],
        &format!("{}, {}, ({k} + 1) / 2", l.sql_post_id(n), l.sql_user_id(&commenter)),
        &format!("WHERE {k} <= {n} % 11 AND {k} % 2 = 1"),
    );
    let rows = bulk_insert(&mut conn, backend, "comment_anon", vec![anon]).await?;
    eprintln!("  {rows} anonymous numbers");

    check_counters(&mut conn).await?;
    finish(&mut conn, backend, &["board", "post", "post_terms", "post_like", "comment", "comment_anon"])
        .await?;
    eprintln!("  board data seeded in {:.0}s", started.elapsed().as_secs_f64());
    let _ = conn.close().await;
    Ok(())
}

/// Fails unless every counter equals the rows it counts.
async fn check_counters(conn: &mut AnyConnection) -> anyhow::Result<()> {
    let checks = [
        (
            "comment_count",
            "SELECT count(*) FROM post p LEFT JOIN (SELECT post_id, count(*) AS c FROM comment \
             WHERE deleted_at IS NULL GROUP BY post_id) x ON x.post_id = p.id WHERE p.comment_count <> COALESCE(x.c, 0)",
        ),
        (
            "like_count",
            "SELECT count(*) FROM post p LEFT JOIN (SELECT post_id, count(*) AS c FROM post_like GROUP BY post_id) x \
             ON x.post_id = p.id WHERE p.like_count <> COALESCE(x.c, 0)",
        ),
        (
            "anon_counter",
            "SELECT count(*) FROM post p LEFT JOIN (SELECT post_id, max(number) AS c, count(*) AS d FROM comment_anon \
             GROUP BY post_id) x ON x.post_id = p.id WHERE p.anon_counter <> COALESCE(x.c, 0) \
             OR p.anon_counter <> COALESCE(x.d, 0)",
        ),
        (
            "reply_count",
            "SELECT count(*) FROM comment c LEFT JOIN (SELECT parent_id, count(*) AS r FROM comment \
             WHERE parent_id <> 0 AND deleted_at IS NULL GROUP BY parent_id) x ON x.parent_id = c.id \
             WHERE c.reply_count <> COALESCE(x.r, 0)",
        ),
    ];
    for (what, sql) in checks {
        let (wrong,): (i64,) = sqlx::query_as(sql).fetch_one(&mut *conn).await?;
        if wrong != 0 {
            bail!("seeding left {wrong} rows whose {what} does not match the rows it counts");
        }
    }
    Ok(())
}

/// Statistics (and on PostgreSQL a frozen, all-visible heap and a checkpoint, so the first
/// measured reads do not write hint bits and the seed's WAL is not flushed mid-run).
async fn finish(conn: &mut AnyConnection, backend: Backend, tables: &[&str]) -> anyhow::Result<()> {
    match backend {
        Backend::Postgres => {
            exec(conn, format!("VACUUM (FREEZE, ANALYZE) {}", tables.join(", "))).await?;
            exec(conn, "CHECKPOINT".into()).await?;
        }
        Backend::Sqlite => {
            exec(conn, "ANALYZE".into()).await?;
            exec(conn, "PRAGMA wal_checkpoint(TRUNCATE)".into()).await?;
        }
    }
    Ok(())
}

/// Puts a seeded board database back as seeded: removes the posts, comments and likes that
/// earlier runs wrote (all newer than the anchor) and recounts the hot posts' comments.
pub(crate) async fn restore_board(url: &str, layout: &Layout) -> anyhow::Result<()> {
    let backend = backend(url)?;
    let mut conn = connect(url).await?;
    let first = layout.first_unseeded_id();
    let mut removed = 0;
    removed += exec(&mut conn, format!("DELETE FROM comment WHERE id >= {first}")).await?;
    let unindex = match backend {
        Backend::Postgres => format!("DELETE FROM post_terms WHERE post_id >= {first}"),
        Backend::Sqlite => {
            format!("DELETE FROM post_search WHERE rowid IN (SELECT id FROM post WHERE id >= {first})")
        }
    };
    exec(&mut conn, unindex).await?;
    exec(&mut conn, format!("DELETE FROM post_search_pending WHERE post_id >= {first}")).await?;
    removed += exec(&mut conn, format!("DELETE FROM post WHERE id >= {first}")).await?;
    removed +=
        exec(&mut conn, format!("DELETE FROM post_like WHERE created_at >= {}", layout.anchor_ms * 1000))
            .await?;
    let hot: Vec<String> = layout.hot_posts().map(|n| layout.post_id(n).to_string()).collect();
    exec(
        &mut conn,
        format!(
            "UPDATE post SET comment_count = (SELECT count(*) FROM comment c WHERE c.post_id = post.id \
             AND c.deleted_at IS NULL) WHERE id IN ({})",
            hot.join(", ")
        ),
    )
    .await?;
    if removed > 0 {
        eprintln!("  removed {removed} rows earlier runs wrote");
        if backend == Backend::Postgres {
            exec(&mut conn, "VACUUM (ANALYZE) post, comment, post_like".into()).await?;
        }
    }
    let _ = conn.close().await;
    Ok(())
}

/// A copy of the seeded board database as it was before the search index, for the board
/// service from before it: PostgreSQL's made from `template` (nothing may be connected to
/// it), SQLite's a copy of the file; the index, its function or backfill table and their
/// migrations' records are dropped. Returns the copy's URL.
pub(crate) async fn copy_without_search(
    admin_url: &str,
    template: &str,
    name: &str,
) -> anyhow::Result<String> {
    let url = match backend(template)? {
        Backend::Postgres => {
            let source = template.rsplit('/').next().unwrap_or_default();
            campus_testkit::bench::pg_drop_database(admin_url, name).await?;
            let mut admin = connect(admin_url).await?;
            // Both names are this program's constants.
            exec(&mut admin, format!("CREATE DATABASE {name} TEMPLATE {source} STRATEGY FILE_COPY")).await?;
            let _ = admin.close().await;
            campus_testkit::db::replace_database(admin_url, name)
        }
        Backend::Sqlite => {
            let file = template.trim_start_matches("sqlite://").split('?').next().unwrap_or_default();
            let copy = std::path::Path::new(file).with_file_name(format!("{name}.db"));
            let mut conn = connect(template).await?;
            exec(&mut conn, "PRAGMA wal_checkpoint(TRUNCATE)".into()).await?;
            let _ = conn.close().await;
            for suffix in ["-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", copy.display()));
            }
            std::fs::copy(file, &copy)?;
            format!("sqlite://{}?mode=rwc", copy.display())
        }
    };
    let mut conn = connect(&url).await?;
    let drops: &[&str] = match backend(&url)? {
        Backend::Postgres => &[
            "DROP TABLE IF EXISTS post_terms, post_search_pending, post_search_backfill",
            "DROP FUNCTION IF EXISTS board_search_terms",
        ],
        Backend::Sqlite => &[
            "DROP TRIGGER IF EXISTS post_search_queue_new",
            "DROP TABLE IF EXISTS post_search_vocab",
            "DROP TABLE IF EXISTS post_search",
            "DROP TABLE IF EXISTS post_search_backfill",
            "DROP TABLE IF EXISTS post_search_pending",
        ],
    };
    for sql in drops {
        exec(&mut conn, sql.to_string()).await?;
    }
    exec(&mut conn, "DELETE FROM _sqlx_migrations WHERE version > 1".into()).await?;
    let _ = conn.close().await;
    Ok(url)
}

/// Removes every timetable (the workloads make their own each run).
pub(crate) async fn restore_timetable(url: &str) -> anyhow::Result<()> {
    let mut conn = connect(url).await?;
    for table in ["timetable_lecture", "custom_entry", "timetable"] {
        exec(&mut conn, format!("DELETE FROM {table}")).await?;
    }
    let _ = conn.close().await;
    Ok(())
}

/// Row counts of a seeded board database, for the report.
pub(crate) async fn board_counts(url: &str) -> anyhow::Result<Vec<(String, i64)>> {
    let mut conn = connect(url).await?;
    let mut out = Vec::new();
    for (table, label) in
        [("board", "boards"), ("post", "posts"), ("comment", "comments"), ("post_like", "likes")]
    {
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&mut conn)
            .await?;
        out.push((label.to_string(), n));
    }
    let _ = conn.close().await;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use campus_testkit::{TestDatabase, TestIdentity, backends};

    /// The SQL formulas and the Rust ones agree, the counters match the rows on both backends,
    /// and the board service itself lists the seeded posts.
    #[tokio::test]
    async fn seeded_rows_are_what_the_layout_says_and_the_service_serves_them() {
        use campus_proto::board::v1::ListPostsRequest;
        use campus_proto::board::v1::board_service_client::BoardServiceClient;
        for backend in backends() {
            let db = TestDatabase::new(backend).await;
            let identity = TestIdentity::new();
            let photos = tempfile::tempdir().unwrap();
            let config = campus_board::Config {
                service: identity.service_config(&db),
                thresholds: Default::default(),
                blob_url: photos.path().display().to_string(),
                account_addr: String::new(),
                feed: Default::default(),
                first_page_ttl: campus_board::Config::FIRST_PAGE_TTL,
            };
            let app = campus_board::Application::build(config).await.unwrap();
            let addr = app.local_addr();
            tokio::spawn(app.run_until_stopped(std::future::pending()));

            let layout =
                Layout { posts: 1_100, ..Layout::new(0.0001, campus_shared::db::now_micros() / 1000) };
            seed_board(&db.url, &layout).await.unwrap();
            let counts = board_counts(&db.url).await.unwrap();
            assert_eq!(counts[0], ("boards".to_string(), layout.boards), "{backend:?}");
            assert_eq!(counts[1], ("posts".to_string(), layout.posts), "{backend:?}");
            assert_eq!(counts[2], ("comments".to_string(), layout.comments()), "{backend:?}");

            // The newest post of board 0, as the service shows it to one of the seeded users.
            let newest = (1..=layout.posts).rev().find(|n| layout.post_board(*n) == 0).unwrap();
            let viewer = 5;
            let caller = campus_shared::Caller {
                user_id: layout.user_id(viewer),
                school_id: layout.school_id(),
                role: campus_shared::Role::User,
                nickname: Layout::nickname(viewer),
            };
            let mut request = tonic::Request::new(ListPostsRequest {
                board_id: layout.board_id(0),
                page_size: 20,
                ..Default::default()
            });
            request.metadata_mut().insert("authorization", identity.bearer_for(&caller).parse().unwrap());
            let page = BoardServiceClient::new(campus_testkit::channel(addr))
                .list_posts(request)
                .await
                .unwrap()
                .into_inner();
            assert_eq!(page.posts.len(), 20, "{backend:?}");
            let top = &page.posts[0];
            assert_eq!(top.id, layout.post_id(newest), "{backend:?}");
            assert_eq!(top.comment_count as i64, newest % 11);
            assert_eq!(top.like_count as i64, layout.post_likes(newest));
            assert!(top.is_hot, "the newest posts are the hot ones");

            // A later run's rows go away on restore and the hot posts' counters come back.
            let mut conn = connect(&db.url).await.unwrap();
            let hot = layout.post_id(layout.posts);
            let new_id = campus_shared::id::next_id();
            sqlx::query(campus_board::reference::COUNT_NEW_COMMENT_SQL)
                .bind(hot)
                .bind(layout.school_id())
                .execute(&mut conn)
                .await
                .unwrap();
            sqlx::query(campus_board::reference::INSERT_COMMENT_SQL)
                .bind(new_id)
                .bind(hot)
                .bind(0i64)
                .bind(new_id)
                .bind(layout.user_id(1))
                .bind("x")
                .bind(0i64)
                .bind(0i64)
                .bind("x")
                .bind(0i64)
                .execute(&mut conn)
                .await
                .unwrap();
            restore_board(&db.url, &layout).await.unwrap();
            check_counters(&mut conn).await.unwrap();
            assert_eq!(board_counts(&db.url).await.unwrap()[2].1, layout.comments());
        }
    }
}
