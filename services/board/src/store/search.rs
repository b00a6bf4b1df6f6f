//! The SQL of search and of its index.
//!
//! PostgreSQL: a GIN index on `board_search_terms(title, content)` (migrations), which the
//! database keeps current itself. SQLite: the FTS5 table `post_search`, written here in the
//! post's transaction. A search reads in two bounded steps: first the newest
//! `window` posts of the scope with the exact `LIKE` (a common word fills its page
//! there), then, for the rest, only the posts the index says hold every term of the query,
//! checked with the same `LIKE`. So a rare or absent word costs an index lookup, never a scan.

use campus_shared::db::{Backend, Db};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe};

use super::PostRow;
use crate::domain::search::{self, SearchLimits, SearchQuery};

/// Where a search looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    School(i64),
    Board(i64),
}

impl Scope {
    fn column(self) -> &'static str {
        match self {
            Scope::School(_) => "school_id",
            Scope::Board(_) => "board_id",
        }
    }

    fn id(self) -> i64 {
        match self {
            Scope::School(id) | Scope::Board(id) => id,
        }
    }

    /// The FTS5 token that stands for the scope in every post's document.
    fn token(self) -> String {
        match self {
            Scope::School(id) => format!("school{id}"),
            Scope::Board(id) => format!("board{id}"),
        }
    }
}

/// A page of matches, newest first (one more than the page when there are more), and where
/// to go on when the page came back short only because a step reached its bound.
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) rows: Vec<PostRow>,
    pub(crate) resume_below: Option<i64>,
}

/// `$5` is the `LIKE` pattern; the caller adds the scope and cursor conditions.
const MATCHES: &str = " AND p.deleted_at IS NULL AND p.report_count < 5 \
     AND (lower(p.title) LIKE $5 ESCAPE '\\' OR lower(p.content) LIKE $5 ESCAPE '\\')";

const _: () = assert!(crate::domain::REPORTS_TO_HIDE == 5, "MATCHES spells the report limit");

/// Up to `limit` posts of `scope` matching `query` below the id `before`, newest first.
/// On PostgreSQL the whole search runs under a statement timeout; past it the answer is
/// DEADLINE_EXCEEDED SEARCH_TIMEOUT. SQLite's steps are each bounded by `window`.
pub(crate) async fn search_posts(
    db: &Db,
    viewer: i64,
    scope: Scope,
    query: &SearchQuery,
    before: i64,
    limit: i64,
    limits: &SearchLimits,
) -> campus_shared::Result<Found> {
    let found = match db.backend {
        Backend::Postgres => {
            let mut tx = db.pool.begin().await?;
            let timeout = format!("SET LOCAL statement_timeout = {}", limits.statement_timeout.as_millis());
            sqlx::query(AssertSqlSafe(timeout)).execute(&mut *tx).await?;
            let found = postgres(&mut tx, viewer, scope, query, before, limit, limits.window).await;
            let found = found.map_err(timed_out)?;
            tx.commit().await?;
            found
        }
        Backend::Sqlite => {
            let mut conn = db.pool.acquire().await?;
            sqlite(&mut conn, viewer, scope, query, before, limit, limits.window).await?
        }
    };
    Ok(found)
}

/// PostgreSQL's "canceling statement due to statement timeout" as the search's own error.
fn timed_out(err: sqlx::Error) -> campus_shared::Error {
    match &err {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("57014") => {
            campus_shared::Error::Upstream(crate::domain::with_reason(
                tonic::Code::DeadlineExceeded,
                search::reason::SEARCH_TIMEOUT,
                "the search took too long; try a longer or more specific query",
            ))
        }
        _ => err.into(),
    }
}

async fn postgres(
    conn: &mut AnyConnection,
    viewer: i64,
    scope: Scope,
    query: &SearchQuery,
    before: i64,
    limit: i64,
    window_size: i64,
) -> sqlx::Result<Found> {
    let bottom = window_bottom(&mut *conn, scope, before, window_size).await?;
    let mut rows =
        window(&mut *conn, viewer, scope, &query.pattern, before, bottom.unwrap_or(0), limit).await?;
    let Some(bottom) = bottom.filter(|_| (rows.len() as i64) < limit) else {
        return Ok(Found { rows, resume_below: None });
    };
    if query.terms.is_empty() {
        // Nothing to look up: go on scanning on the next page.
        return Ok(Found { rows, resume_below: Some(bottom) });
    }
    let sql = format!(
        "SELECT {} FROM post p WHERE board_search_terms(p.title, p.content) @> CAST($6 AS TEXT[]) \
         AND p.{} = $2 AND p.id < $3{MATCHES} ORDER BY p.id DESC LIMIT $4",
        post_columns!(),
        scope.column()
    );
    let more: Vec<PostRow> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(viewer)
        .bind(scope.id())
        .bind(bottom)
        .bind(limit - rows.len() as i64)
        .bind(&query.pattern)
        .bind(array_literal(&query.terms))
        .fetch_all(&mut *conn)
        .await?;
    rows.extend(more);
    Ok(Found { rows, resume_below: None })
}

async fn sqlite(
    conn: &mut AnyConnection,
    viewer: i64,
    scope: Scope,
    query: &SearchQuery,
    before: i64,
    limit: i64,
    window_size: i64,
) -> sqlx::Result<Found> {
    if query.terms.is_empty() {
        let bottom = window_bottom(&mut *conn, scope, before, window_size).await?;
        let rows =
            window(&mut *conn, viewer, scope, &query.pattern, before, bottom.unwrap_or(0), limit).await?;
        let resume_below = bottom.filter(|_| (rows.len() as i64) < limit);
        return Ok(Found { rows, resume_below });
    }
    let mut terms = vec![format!("\"{}\"", scope.token())];
    terms.extend(query.terms.iter().map(|t| format!("\"{}\"", hex(t))));
    let candidates: Vec<(i64,)> = sqlx::query_as(
        "SELECT rowid FROM post_search WHERE post_search MATCH $1 AND rowid < $2 ORDER BY rowid DESC LIMIT $3",
    )
    .bind(terms.join(" "))
    .bind(before)
    .bind(window_size)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<String> = candidates.iter().map(|(id,)| id.to_string()).collect();
    let sql = format!(
        "SELECT {} FROM post p WHERE p.id IN (SELECT value FROM json_each($6)) AND p.{} = $2 AND p.id < $3{MATCHES} \
         ORDER BY p.id DESC LIMIT $4",
        post_columns!(),
        scope.column()
    );
    let rows: Vec<PostRow> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(viewer)
        .bind(scope.id())
        .bind(before)
        .bind(limit)
        .bind(&query.pattern)
        .bind(format!("[{}]", ids.join(",")))
        .fetch_all(&mut *conn)
        .await?;
    let full = candidates.len() as i64 == window_size;
    let resume_below = candidates.last().map(|(id,)| *id).filter(|_| full && (rows.len() as i64) < limit);
    Ok(Found { rows, resume_below })
}

/// The lowest id among the `window` newest live posts of the scope below `before`, or
/// None when there are fewer (the window then reaches the first post).
async fn window_bottom(
    conn: &mut AnyConnection,
    scope: Scope,
    before: i64,
    window_size: i64,
) -> sqlx::Result<Option<i64>> {
    let sql = format!(
        "SELECT id FROM post WHERE {} = $1 AND deleted_at IS NULL AND id < $2 ORDER BY id DESC LIMIT 1 OFFSET $3",
        scope.column()
    );
    let row: Option<(i64,)> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(scope.id())
        .bind(before)
        .bind(window_size - 1)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|(id,)| id))
}

/// The matches among the scope's posts with `bottom <= id < before`, by the plain `LIKE`.
async fn window(
    conn: &mut AnyConnection,
    viewer: i64,
    scope: Scope,
    pattern: &str,
    before: i64,
    bottom: i64,
    limit: i64,
) -> sqlx::Result<Vec<PostRow>> {
    let sql = format!(
        "SELECT {} FROM post p WHERE p.{} = $2 AND p.id < $3 AND p.id >= $6{MATCHES} ORDER BY p.id DESC LIMIT $4",
        post_columns!(),
        scope.column()
    );
    sqlx::query_as(AssertSqlSafe(sql))
        .bind(viewer)
        .bind(scope.id())
        .bind(before)
        .bind(limit)
        .bind(pattern)
        .bind(bottom)
        .fetch_all(conn)
        .await
}

/// A PostgreSQL array literal of `items`, each quoted.
fn array_literal(items: &[String]) -> String {
    let quoted: Vec<String> =
        items.iter().map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))).collect();
    format!("{{{}}}", quoted.join(","))
}

/// A term as an FTS5 token: the hex of its UTF-8, which the `ascii` tokenizer keeps whole.
fn hex(term: &str) -> String {
    term.bytes().map(|b| format!("{b:02x}")).collect()
}

/// The FTS5 document of a post.
fn document(school_id: i64, board_id: i64, title: &str, content: &str) -> String {
    let mut doc = format!("school{school_id} board{board_id}");
    for term in search::post_terms(title, content) {
        doc.push(' ');
        doc.push_str(&hex(&term));
    }
    doc
}

/// What indexing needs to know of a post.
#[derive(Debug, sqlx::FromRow)]
struct Indexed {
    id: i64,
    school_id: i64,
    board_id: i64,
    title: String,
    content: String,
}

/// (Re)indexes live posts on SQLite; PostgreSQL's index follows the rows by itself.
async fn index(conn: &mut AnyConnection, posts: &[Indexed]) -> sqlx::Result<()> {
    for p in posts {
        sqlx::query("DELETE FROM post_search WHERE rowid = $1").bind(p.id).execute(&mut *conn).await?;
        sqlx::query("INSERT INTO post_search (rowid, terms) VALUES ($1, $2)")
            .bind(p.id)
            .bind(document(p.school_id, p.board_id, &p.title, &p.content))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Indexes a post just created in `tx` (SQLite; PostgreSQL's index follows the row).
pub(crate) async fn index_new_post(tx: &mut AnyConnection, p: &super::NewPostRow<'_>) -> sqlx::Result<()> {
    let post = Indexed {
        id: p.id,
        school_id: p.school_id,
        board_id: p.board_id,
        title: p.title.to_string(),
        content: p.content.to_string(),
    };
    index(tx, &[post]).await
}

/// Brings the index up to date with a post just edited in `tx`.
pub(crate) async fn reindex_post(tx: &mut AnyConnection, backend: Backend, id: i64) -> sqlx::Result<()> {
    if backend == Backend::Postgres {
        return Ok(());
    }
    let posts: Vec<Indexed> = sqlx::query_as(
        "SELECT id, school_id, board_id, title, content FROM post WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .fetch_all(&mut *tx)
    .await?;
    index(tx, &posts).await
}

/// Drops a deleted post from the index, in the deleting transaction.
pub(crate) async fn unindex_post(tx: &mut AnyConnection, backend: Backend, id: i64) -> sqlx::Result<()> {
    if backend == Backend::Sqlite {
        sqlx::query("DELETE FROM post_search WHERE rowid = $1").bind(id).execute(tx).await?;
    }
    Ok(())
}

/// Posts one backfill batch indexes.
const BACKFILL_BATCH: i64 = 500;

/// Indexes the next batch of posts written before the index existed (SQLite), newest first;
/// the number indexed, 0 when none are left. Each batch is its own short transaction and
/// records how far it got, so the backfill resumes where it stopped and writers wait for at
/// most one batch.
pub async fn backfill_batch(pool: &AnyPool, backend: Backend) -> sqlx::Result<u64> {
    if backend == Backend::Postgres {
        return Ok(0);
    }
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let (below,): (i64,) =
        sqlx::query_as("SELECT below FROM post_search_backfill").fetch_one(&mut *tx).await?;
    if below <= 0 {
        return Ok(0);
    }
    let posts: Vec<Indexed> = sqlx::query_as(
        "SELECT id, school_id, board_id, title, content FROM post WHERE id < $1 AND deleted_at IS NULL \
         ORDER BY id DESC LIMIT $2",
    )
    .bind(below)
    .bind(BACKFILL_BATCH)
    .fetch_all(&mut *tx)
    .await?;
    index(&mut tx, &posts).await?;
    let next = if (posts.len() as i64) < BACKFILL_BATCH { 0 } else { posts.last().map_or(0, |p| p.id) };
    sqlx::query("UPDATE post_search_backfill SET below = $1").bind(next).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(posts.len() as u64)
}

/// Runs [`backfill_batch`] until nothing is left.
pub async fn backfill(pool: &AnyPool, backend: Backend) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let n = backfill_batch(pool, backend).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}
