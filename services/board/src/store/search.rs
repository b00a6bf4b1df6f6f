//! The SQL of search and of its index.
//!
//! PostgreSQL: a GIN index on `board_search_terms(title, content)` (migrations), which the
//! database keeps current itself. SQLite: the FTS5 table `post_search`, written here in the
//! post's transaction. Every candidate the index yields is checked with the exact `LIKE`, so
//! the answers are the plain scan's.
//!
//! The two indexes differ in one way that shapes the reads: FTS5 walks its candidates newest
//! first, so SQLite takes them in growing batches until the page is full. GIN yields its
//! candidates unordered, all at once: cheap for a rare query, ruinous for a common word held
//! by a third of the posts (read, checked and sorted to keep twenty). So PostgreSQL chooses
//! per query from the index's own statistics (the most common terms and their shares, which
//! `ANALYZE` keeps): a query whose rarest terms leave few posts goes to the index first, with
//! only those terms (a term in every post narrows nothing and costs its whole posting list);
//! a common one reads the newest posts with the `LIKE` and stops at a full page, turning to
//! the index only for what lies below a bounded window.

use campus_shared::error::Result;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

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

    /// The FTS5 token a search of the scope looks up with its terms, as every post's document
    /// holds it (`document`). A board's narrows the candidates to its posts. A school's is in
    /// nearly every post, and with a rare match FTS5 walks that whole list newest first (a rare
    /// phrase on a million posts: 11.8 ms with the school's token, 5.5 ms without): a school
    /// is left to the rows' scope check.
    fn token(self) -> Option<String> {
        match self {
            Scope::School(_) => None,
            Scope::Board(id) => Some(format!("board{id}")),
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

/// Index terms a PostgreSQL search looks up at most: the rarest few narrow as well as all
/// of them, and each further one costs its posting list.
const MOST_TERMS: usize = 3;

/// How long the index's statistics are used before they are read again.
const STATISTICS_TTL: Duration = Duration::from_secs(600);

/// The share of the live posts holding each of the index's most common terms, as PostgreSQL's
/// `ANALYZE` last counted them (`pg_stats.most_common_elems` of the index expression).
#[derive(Debug)]
struct Frequencies {
    read_at: Instant,
    /// Empty when the index has no statistics yet (never analyzed: a new, small table).
    shares: HashMap<String, f64>,
    /// The share assumed for a term outside the list: below every listed one.
    rest: f64,
    /// Live posts, by the index's own count.
    posts: f64,
}

/// The index's statistics, read now and then by whichever search finds them stale.
#[derive(Debug, Default)]
pub(crate) struct TermStatistics {
    current: RwLock<Option<Arc<Frequencies>>>,
    /// Held by the search that reads them.
    reading: tokio::sync::Mutex<()>,
}

impl TermStatistics {
    fn current(&self) -> Option<Arc<Frequencies>> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// The statistics, read first when stale. Stale ones serve while one search reads them
    /// again; before the first read every search waits for it: without statistics a search
    /// goes to the index first, which for a common word reads a third of the posts, and the
    /// searches that reach a freshly started service at once would take the whole pool so.
    async fn get(&self, pool: &AnyPool) -> Option<Arc<Frequencies>> {
        let stale =
            |c: &Option<Arc<Frequencies>>| c.as_ref().is_none_or(|f| f.read_at.elapsed() > STATISTICS_TTL);
        let current = self.current();
        if !stale(&current) {
            return current;
        }
        let _reading = match (&current, self.reading.try_lock()) {
            (_, Ok(guard)) => guard,
            (Some(_), Err(_)) => return current,
            (None, Err(_)) => self.reading.lock().await,
        };
        let current = self.current();
        if !stale(&current) {
            return current;
        }
        let read = read_frequencies(pool).await;
        match read {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                if let Ok(mut c) = self.current.write() {
                    *c = Some(fresh.clone());
                }
                Some(fresh)
            }
            Err(error) => {
                tracing::warn!(%error, "could not read the search index's statistics");
                current
            }
        }
    }
}

async fn read_frequencies(pool: &AnyPool) -> sqlx::Result<Frequencies> {
    let shares: Vec<(String, f64)> = sqlx::query_as(
        "SELECT u.term, CAST(u.share AS DOUBLE PRECISION) FROM pg_stats s, \
         unnest(CAST(CAST(s.most_common_elems AS TEXT) AS TEXT[]), s.most_common_elem_freqs) AS u(term, share) \
         WHERE s.schemaname = current_schema() AND s.tablename = 'post_search' \
         AND s.attname = 'board_search_terms' AND u.term IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    let (posts,): (f64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(max(reltuples), -1) AS DOUBLE PRECISION) FROM pg_class \
         WHERE oid = to_regclass('post_search')",
    )
    .fetch_one(pool)
    .await?;
    // PostgreSQL's own guess for an element missing from the list: half the rarest listed.
    let rest = shares.iter().map(|(_, f)| *f).fold(1.0, f64::min) / 2.0;
    Ok(Frequencies { read_at: Instant::now(), shares: shares.into_iter().collect(), rest, posts })
}

/// How a PostgreSQL search reads: the index terms it looks up, and whether it goes to the
/// index first.
fn plan(
    query: &SearchQuery,
    frequencies: Option<&Frequencies>,
    limits: &SearchLimits,
) -> (Vec<String>, bool) {
    match frequencies.filter(|f| !f.shares.is_empty() && f.posts > 0.0) {
        Some(f) => {
            let share = |t: &str| f.shares.get(t).copied().unwrap_or(f.rest);
            let (terms, left) = query.narrowest_terms(MOST_TERMS, share);
            (terms, left * f.posts <= limits.index_first_rows)
        }
        // No statistics yet: a table never analyzed is new and small, and the index bounded.
        None => (query.terms.clone(), limits.index_first_rows >= 0.0),
    }
}

/// Up to `limit` posts of `scope` matching `query` below the id `before`, newest first.
/// On PostgreSQL each statement runs under a statement timeout; past it the answer is
/// DEADLINE_EXCEEDED SEARCH_TIMEOUT. SQLite reads index candidates batch by batch until the
/// page is full or the timeout has passed, then answers a short page with a token to go on.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn search_posts(
    db: &Db,
    statistics: &TermStatistics,
    viewer: i64,
    scope: Scope,
    query: &SearchQuery,
    before: i64,
    limit: i64,
    limits: &SearchLimits,
) -> Result<Found> {
    let ask = Ask { viewer, scope, pattern: &query.pattern, limit };
    let found = match db.backend {
        Backend::Postgres => {
            let frequencies = statistics.get(&db.pool).await;
            let (terms, index_first) = plan(query, frequencies.as_deref(), limits);
            let mut tx = db.pool.begin().await?;
            // A generic plan would not know how rare the terms are, nor that the LIKE is.
            sqlx::query(
                "SELECT set_config('statement_timeout', $1, true), \
                 set_config('plan_cache_mode', 'force_custom_plan', true)",
            )
            .bind(limits.statement_timeout.as_millis().to_string())
            .execute(&mut *tx)
            .await?;
            let found = postgres(&mut tx, &ask, &terms, index_first, before, limits.window).await;
            let found = found.map_err(timed_out)?;
            tx.commit().await?;
            found
        }
        Backend::Sqlite => {
            let mut conn = db.pool.acquire().await?;
            sqlite(&mut conn, &ask, &query.terms, before, limits).await?
        }
    };
    Ok(found)
}

/// PostgreSQL's "canceling statement due to statement timeout" as the search's own error.
fn timed_out(err: sqlx::Error) -> campus_shared::Error {
    match &err {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("57014") => search::timed_out(),
        _ => err.into(),
    }
}

/// What every step of one search binds: `$1` the viewer, `$2` the scope, `$4` how many rows
/// at most and `$5` the pattern.
struct Ask<'a> {
    viewer: i64,
    scope: Scope,
    pattern: &'a str,
    limit: i64,
}

impl Ask<'_> {
    /// Runs `sql` (a post select with this search's `$1`, `$2`, `$4`, `$5`) with `$3` and
    /// `$6` bound to `below` and `extra`, keeping at most `limit` rows.
    async fn rows<T>(
        &self,
        conn: &mut AnyConnection,
        sql: String,
        below: i64,
        limit: i64,
        extra: T,
    ) -> sqlx::Result<Vec<PostRow>>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
    {
        sqlx::query_as(AssertSqlSafe(sql))
            .bind(self.viewer)
            .bind(self.scope.id())
            .bind(below)
            .bind(limit)
            .bind(self.pattern)
            .bind(extra)
            .fetch_all(conn)
            .await
    }

    /// The matches among the newest `window` live posts of the scope below `before`; the
    /// scan stops as soon as the page is full.
    async fn newest(&self, conn: &mut AnyConnection, before: i64, window: i64) -> sqlx::Result<Vec<PostRow>> {
        let sql = format!(
            "SELECT {} FROM (SELECT * FROM post WHERE {} = $2 AND id < $3 AND deleted_at IS NULL \
             ORDER BY id DESC LIMIT $6) p WHERE TRUE{MATCHES} ORDER BY p.id DESC LIMIT $4",
            post_columns!(),
            self.scope.column()
        );
        self.rows(conn, sql, before, self.limit, window).await
    }

    /// Reads the newest `window` posts below `before`; when that leaves the page short, the
    /// lowest id it read, where the search goes on (None: it read down to the first post).
    async fn window(
        &self,
        conn: &mut AnyConnection,
        before: i64,
        window: i64,
    ) -> sqlx::Result<(Vec<PostRow>, Option<i64>)> {
        let rows = self.newest(&mut *conn, before, window).await?;
        if rows.len() as i64 >= self.limit {
            return Ok((rows, None));
        }
        let sql = format!(
            "SELECT id FROM post WHERE {} = $1 AND deleted_at IS NULL AND id < $2 ORDER BY id DESC LIMIT 1 OFFSET $3",
            self.scope.column()
        );
        let bottom: Option<(i64,)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(self.scope.id())
            .bind(before)
            .bind(window - 1)
            .fetch_optional(conn)
            .await?;
        Ok((rows, bottom.map(|(id,)| id)))
    }
}

async fn postgres(
    conn: &mut AnyConnection,
    ask: &Ask<'_>,
    terms: &[String],
    index_first: bool,
    before: i64,
    window: i64,
) -> sqlx::Result<Found> {
    let (mut rows, below) = if index_first && !terms.is_empty() {
        (Vec::new(), before)
    } else {
        match ask.window(&mut *conn, before, window).await? {
            (rows, Some(bottom)) if !terms.is_empty() => (rows, bottom),
            // Nothing to look up: the next page goes on scanning.
            (rows, bottom) => return Ok(Found { rows, resume_below: bottom }),
        }
    };
    // Index first, the candidates are sorted (`p.id + 0`), never found by walking the primary
    // key backwards and testing each post: PostgreSQL's guess for a term missing from its
    // statistics (an absent word's) makes that walk look cheap, and then it reads every post.
    // Below a window the planner chooses: the word is common enough that the walk may be.
    let order = if index_first { "p.id + 0" } else { "p.id" };
    let sql = format!(
        "SELECT {} FROM post p WHERE board_search_terms(p.title, p.content) @> CAST($6 AS TEXT[]) \
         AND p.{} = $2 AND p.id < $3{MATCHES} ORDER BY {order} DESC LIMIT $4",
        post_columns!(),
        ask.scope.column()
    );
    let more = ask.rows(conn, sql, below, ask.limit - rows.len() as i64, array_literal(terms)).await?;
    rows.extend(more);
    Ok(Found { rows, resume_below: None })
}

async fn sqlite(
    conn: &mut AnyConnection,
    ask: &Ask<'_>,
    terms: &[String],
    before: i64,
    limits: &SearchLimits,
) -> sqlx::Result<Found> {
    if terms.is_empty() {
        let (rows, bottom) = ask.window(&mut *conn, before, limits.window).await?;
        return Ok(Found { rows, resume_below: bottom });
    }
    let deadline = Instant::now() + limits.statement_timeout;
    let tokens: Vec<String> = ask
        .scope
        .token()
        .into_iter()
        .chain(terms.iter().map(|t| hex(t)))
        .map(|t| format!("\"{t}\""))
        .collect();
    let matching = tokens.join(" ");
    let sql = format!(
        "SELECT {} FROM post p WHERE p.id IN (SELECT value FROM json_each($6)) AND p.{} = $2 AND p.id < $3{MATCHES} \
         ORDER BY p.id DESC LIMIT $4",
        post_columns!(),
        ask.scope.column()
    );
    let (mut rows, mut below) = (Vec::new(), before);
    // Small first, as a common word fills its page from the newest candidates.
    let mut batch = (ask.limit * 2).clamp(1, limits.window.max(1));
    loop {
        let candidates: Vec<(i64,)> = sqlx::query_as(
            "SELECT rowid FROM post_search WHERE post_search MATCH $1 AND rowid < $2 ORDER BY rowid DESC LIMIT $3",
        )
        .bind(&matching)
        .bind(below)
        .bind(batch)
        .fetch_all(&mut *conn)
        .await?;
        let ids: Vec<String> = candidates.iter().map(|(id,)| id.to_string()).collect();
        let wanted = ask.limit - rows.len() as i64;
        let more = ask.rows(&mut *conn, sql.clone(), below, wanted, format!("[{}]", ids.join(","))).await?;
        rows.extend(more);
        let last = candidates.last().map(|(id,)| *id);
        match last {
            Some(last) if (candidates.len() as i64) == batch && (rows.len() as i64) < ask.limit => {
                below = last;
                if Instant::now() >= deadline {
                    return Ok(Found { rows, resume_below: Some(below) });
                }
                batch = (batch * 4).min(limits.window.max(1));
            }
            _ => return Ok(Found { rows, resume_below: None }),
        }
    }
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

/// (Re)indexes live posts on SQLite (PostgreSQL's index follows the rows by itself): one
/// statement drops whatever the index held for them, one writes them all.
async fn index(conn: &mut AnyConnection, posts: &[Indexed]) -> Result<()> {
    if posts.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = posts.iter().map(|p| p.id.to_string()).collect();
    sqlx::query("DELETE FROM post_search WHERE rowid IN (SELECT value FROM json_each($1))")
        .bind(format!("[{}]", ids.join(",")))
        .execute(&mut *conn)
        .await?;
    let rows: Vec<String> = (0..posts.len()).map(|i| format!("(${}, ${})", 2 * i + 1, 2 * i + 2)).collect();
    let sql = format!("INSERT INTO post_search (rowid, terms) VALUES {}", rows.join(", "));
    let mut insert = sqlx::query(AssertSqlSafe(sql));
    for p in posts {
        insert = insert.bind(p.id).bind(document(p.school_id, p.board_id, &p.title, &p.content));
    }
    insert.execute(conn).await?;
    Ok(())
}

/// Indexes a post just created in `tx` (SQLite; PostgreSQL's index follows the row).
pub(crate) async fn index_new_post(tx: &mut AnyConnection, p: &super::NewPostRow<'_>) -> Result<()> {
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
pub(crate) async fn reindex_post(tx: &mut AnyConnection, backend: Backend, id: i64) -> Result<()> {
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
pub(crate) async fn unindex_post(tx: &mut AnyConnection, backend: Backend, id: i64) -> Result<()> {
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
pub(crate) async fn backfill_batch(pool: &AnyPool, backend: Backend) -> Result<u64> {
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
pub(crate) async fn backfill(pool: &AnyPool, backend: Backend) -> Result<u64> {
    let mut total = 0;
    loop {
        let n = backfill_batch(pool, backend).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}
