//! The SQL of search and of its index.
//!
//! The index: PostgreSQL's table `post_terms` (each live post's terms, coded as integers by
//! `search::term_code`, GIN-indexed) and
//! SQLite's FTS5 table `post_search`. Neither is written by the request that changes a post:
//! that request's own transaction puts the post in `post_search_pending` ([`enqueue`]; a new
//! post's own INSERT does, see `PostWriter`), and
//! the indexer ([`index_pending`]) rewrites the index entries of queued posts in batches,
//! taking them off the queue in the same transaction. Every search reads the queued posts as
//! well as the index's candidates, and checks each with the exact `LIKE` against the post as
//! it is now, so the answers are the plain scan's whether the indexer has caught up or not: a
//! stale entry can only add a candidate the check drops, and a post whose entry is missing or
//! stale is in the queue. A batch costs the database far less per post than one post at a
//! time (GIN merges a batch's entries sorted, key by key; FTS5 writes one segment per batch),
//! and a write request waits for none of it.
//!
//! The two indexes differ in one way that shapes the reads: FTS5 can walk its candidates newest
//! first, so SQLite takes them in growing batches until the page is full, asking only for
//! the query's narrowest terms (by how many posts hold each, from FTS5's vocabulary); when
//! those are held by few posts, it reads them all, with the queue and the rows, in one
//! statement; when they are held by so many that a window of the newest posts fills the page,
//! it reads those first, as PostgreSQL does with a common word. GIN
//! yields its candidates unordered, all at once: cheap for a rare query, ruinous for a common word held
//! by a third of the posts (read, checked and sorted to keep twenty). So PostgreSQL chooses
//! per query from the index's own statistics (the most common terms and their shares, which
//! `ANALYZE` keeps): a query whose rarest terms leave few posts goes to the index first, with
//! only those terms (a term in every post narrows nothing and costs its whole posting list);
//! a common one reads the newest posts with the `LIKE` and stops at a full page, turning to
//! the index only for what lies below a bounded window.

use campus_shared::error::Result;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use campus_shared::db::{Backend, DatabaseConfig, Db};
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe};

use super::PostRow;
use crate::domain::search::{self, SearchLimits, SearchQuery};

/// Connections searches run on at most (PostgreSQL), and half as many more for the statement
/// planned for its values ([`Searches::planned_per_run`]).
const SEARCH_CONNECTIONS: u32 = 8;

/// Where searches run and how they are bounded. On PostgreSQL searches have pools of their
/// own, of at most [`SEARCH_CONNECTIONS`]: a burst of searches waits for one of those
/// instead of taking the connections every other call needs, and their sessions carry the
/// statement timeout, so a search is its statements alone (no `BEGIN`, `set_config` and
/// `COMMIT` around them). SQLite searches use the service's pool.
#[derive(Debug)]
pub(crate) struct Searches {
    /// Where searches run. On PostgreSQL its sessions plan a statement once, at its first
    /// run, and reuse the plan (`plan_cache_mode=force_generic_plan`): the service, not the
    /// planner, chooses between the index and the newest posts (`plan`), and the statements
    /// of either way have one best plan whatever their values. Planned again on every run, a
    /// rare phrase's statement took 0.33 ms to plan and 0.06 ms to run.
    db: Db,
    /// PostgreSQL: sessions that plan each statement for its values, for the one statement
    /// whose best plan depends on them: the index's candidates below a window of the newest
    /// posts, where the planner weighs reading them all against walking further down the
    /// posts. SQLite: `db`.
    planned_per_run: Db,
    pub(crate) limits: SearchLimits,
    pub(crate) statistics: Arc<TermStatistics>,
}

impl Searches {
    pub(crate) async fn open(db: &Db, config: &DatabaseConfig, limits: SearchLimits) -> sqlx::Result<Self> {
        let statistics = Arc::default();
        if db.backend == Backend::Sqlite {
            return Ok(Self { db: db.clone(), planned_per_run: db.clone(), limits, statistics });
        }
        let sessions = |plan_cache_mode: &str, connections: u32| {
            let separator = if config.url.contains('?') { '&' } else { '?' };
            DatabaseConfig {
                url: format!(
                    "{}{separator}options[statement_timeout]={}&options[plan_cache_mode]={plan_cache_mode}",
                    config.url,
                    limits.statement_timeout.as_millis()
                ),
                max_connections: connections.min(config.max_connections),
                acquire_timeout: config.acquire_timeout,
            }
        };
        Ok(Self {
            db: campus_shared::db::open(&sessions("force_generic_plan", SEARCH_CONNECTIONS)).await?,
            planned_per_run: campus_shared::db::open(&sessions("force_custom_plan", SEARCH_CONNECTIONS / 2))
                .await?,
            limits,
            statistics,
        })
    }
}

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

/// The conditions of a match, `$5` being the `LIKE` pattern; the caller adds the scope and
/// cursor conditions.
const MATCHES: &str = " AND p.deleted_at IS NULL AND p.report_count < 5 \
     AND (lower(p.title) LIKE $5 ESCAPE '\\' OR lower(p.content) LIKE $5 ESCAPE '\\')";

/// [`MATCHES`] for a query without letters of case (`SearchQuery::caseless`): the text is
/// read as it is, not lowered first.
const MATCHES_CASELESS: &str = " AND p.deleted_at IS NULL AND p.report_count < 5 \
     AND (p.title LIKE $5 ESCAPE '\\' OR p.content LIKE $5 ESCAPE '\\')";

const _: () = assert!(crate::domain::REPORTS_TO_HIDE == 5, "MATCHES spells the report limit");

/// The queued posts, as a subquery of ids.
const QUEUED: &str = "SELECT post_id FROM post_search_pending";

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
    /// By term code; empty when the index has no statistics yet (never analyzed: a new, small
    /// table).
    shares: HashMap<i64, f64>,
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
    /// SQLite: how many posts hold each FTS5 token asked about so far.
    counted: Mutex<Counts>,
    /// Whether every post's entry has the digit four-grams: set when the backfill that
    /// migration 0017 started (or any later one) has finished. Until then searches leave them
    /// out of their terms, as posts indexed before it lack them.
    four_digit_terms: AtomicBool,
}

/// Posts per FTS5 token, as SQLite's index counts them (`post_search_vocab`), each read the
/// first time a search needs it; all forgotten together after [`STATISTICS_TTL`].
#[derive(Debug, Default)]
struct Counts {
    since: Option<Instant>,
    posts: HashMap<String, f64>,
}

/// Tokens whose counts are kept at most; past it they are all read again.
const MOST_COUNTED: usize = 50_000;

impl TermStatistics {
    /// Every post's entry is current: the backfill has finished.
    pub(crate) fn backfilled(&self) {
        self.four_digit_terms.store(true, Ordering::Release);
    }

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

    /// How many posts hold each of `tokens` (SQLite), from the counts kept or read now.
    async fn sqlite_counts(&self, conn: &mut AnyConnection, tokens: &[String]) -> sqlx::Result<Vec<f64>> {
        let mut found: Vec<Option<f64>> = {
            let mut counts = self.counted.lock().unwrap_or_else(|e| e.into_inner());
            let stale = counts.since.is_none_or(|t| t.elapsed() > STATISTICS_TTL);
            if stale || counts.posts.len() > MOST_COUNTED {
                *counts = Counts { since: Some(Instant::now()), posts: HashMap::new() };
            }
            tokens.iter().map(|t| counts.posts.get(t).copied()).collect()
        };
        for (token, count) in tokens.iter().zip(found.iter_mut()) {
            if count.is_some() {
                continue;
            }
            let read: Option<(i64,)> = sqlx::query_as("SELECT doc FROM post_search_vocab WHERE term = $1")
                .bind(token)
                .fetch_optional(&mut *conn)
                .await?;
            let posts = read.map_or(0.0, |(n,)| n as f64);
            *count = Some(posts);
            self.counted.lock().unwrap_or_else(|e| e.into_inner()).posts.insert(token.clone(), posts);
        }
        Ok(found.into_iter().map(|c| c.unwrap_or(0.0)).collect())
    }

    /// The few terms of `query` an SQLite search looks up: FTS5 reads every term's whole
    /// posting list, and one in every post (" #" of the seeded titles) costs more than the
    /// candidates it spares. Shares are of the school's posts (its token is in each).
    /// With them, how many posts hold them all at most (as many as hold the rarest, as last
    /// counted), and how many the school has.
    async fn sqlite_terms(
        &self,
        conn: &mut AnyConnection,
        school: i64,
        query: &SearchQuery,
    ) -> sqlx::Result<(Vec<String>, f64, f64)> {
        let mut tokens = vec![format!("school{school}")];
        tokens.extend(query.terms.iter().map(|t| hex(t)));
        let counts = self.sqlite_counts(conn, &tokens).await?;
        let posts: HashMap<&str, f64> =
            query.terms.iter().map(String::as_str).zip(counts[1..].iter().copied()).collect();
        let school_posts = counts[0].max(1.0);
        let held_by = |t: &str| posts.get(t).copied().unwrap_or(school_posts);
        let (terms, _) = query.narrowest_terms(MOST_TERMS, |t| held_by(t) / school_posts);
        let at_most = terms.iter().map(|t| held_by(t)).fold(school_posts, f64::min);
        Ok((terms, at_most, school_posts))
    }
}

async fn read_frequencies(pool: &AnyPool) -> sqlx::Result<Frequencies> {
    let shares: Vec<(String, f64)> = sqlx::query_as(
        "SELECT u.term, CAST(u.share AS DOUBLE PRECISION) FROM pg_stats s, \
         unnest(CAST(CAST(s.most_common_elems AS TEXT) AS TEXT[]), s.most_common_elem_freqs) AS u(term, share) \
         WHERE s.schemaname = current_schema() AND s.tablename = 'post_terms' \
         AND s.attname = 'terms' AND u.term IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    let (posts,): (f64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(max(reltuples), -1) AS DOUBLE PRECISION) FROM pg_class \
         WHERE oid = to_regclass('post_terms')",
    )
    .fetch_one(pool)
    .await?;
    // PostgreSQL's own guess for an element missing from the list: half the rarest listed.
    let rest = shares.iter().map(|(_, f)| *f).fold(1.0, f64::min) / 2.0;
    let shares = shares.into_iter().filter_map(|(code, f)| Some((code.parse().ok()?, f))).collect();
    Ok(Frequencies { read_at: Instant::now(), shares, rest, posts })
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
            let share = |t: &str| f.shares.get(&search::term_code(t)).copied().unwrap_or(f.rest);
            let (terms, left) = query.narrowest_terms(MOST_TERMS, share);
            (terms, left * f.posts <= limits.index_first_rows)
        }
        // No statistics yet: a table never analyzed is new and small, and the index bounded.
        None => (query.terms.clone(), limits.index_first_rows >= 0.0),
    }
}

impl Searches {
    /// Up to `limit` posts of `scope` (in `school`) matching `query` below the id `before`,
    /// newest first.
    /// On PostgreSQL each statement runs under a statement timeout; past it the answer is
    /// DEADLINE_EXCEEDED SEARCH_TIMEOUT. SQLite reads all the index's candidates at once when
    /// its terms are held by at most a window's worth of posts; otherwise batch by batch until
    /// the page is full or the timeout has passed, then answers a short page with a token to go
    /// on.
    pub(crate) async fn search_posts(
        &self,
        viewer: i64,
        school: i64,
        scope: Scope,
        query: &SearchQuery,
        before: i64,
        limit: i64,
    ) -> Result<Found> {
        let (statistics, limits) = (&self.statistics, &self.limits);
        let query = if statistics.four_digit_terms.load(Ordering::Acquire) {
            Cow::Borrowed(query)
        } else {
            Cow::Owned(query.without_four_digit_terms())
        };
        let query = query.as_ref();
        let (pattern, caseless) = (&query.pattern, query.caseless);
        let ask = Ask { backend: self.db.backend, viewer, scope, pattern, caseless, limit };
        let found = match self.db.backend {
            Backend::Postgres => {
                let frequencies = statistics.get(&self.db.pool).await;
                let (terms, index_first) = plan(query, frequencies.as_deref(), limits);
                self.postgres(&ask, &terms, index_first, before).await.map_err(timed_out)?
            }
            Backend::Sqlite => {
                let mut conn = self.db.pool.acquire().await?;
                let (terms, at_most, school_posts) = if query.terms.is_empty() {
                    (Vec::new(), f64::INFINITY, 1.0)
                } else {
                    statistics.sqlite_terms(&mut conn, school, query).await?
                };
                // A word that fills a page twice over in a window of the newest posts, by its
                // share: read them first, one statement that stops at a full page (a word in 8%
                // to 77% of a million posts: 0.14–0.46 ms, where the index's newest candidates
                // and their rows took 0.55–0.58 ms), and the index only below them.
                let common = at_most * limits.window as f64 >= 2.0 * limit as f64 * school_posts;
                if terms.is_empty() || common {
                    match ask.window(&mut conn, before, limits.window).await? {
                        (mut rows, Some(bottom)) if !terms.is_empty() => {
                            let rest = Ask { limit: limit - rows.len() as i64, ..ask };
                            let below = sqlite(&mut conn, &rest, &terms, bottom, limits).await?;
                            rows.extend(below.rows);
                            Found { rows, resume_below: below.resume_below }
                        }
                        // Nothing to look up: the next page goes on scanning.
                        (rows, bottom) => Found { rows, resume_below: bottom },
                    }
                } else if at_most <= limits.window as f64 {
                    sqlite_few(&mut conn, &ask, &terms, before).await?
                } else {
                    sqlite(&mut conn, &ask, &terms, before, limits).await?
                }
            }
        };
        Ok(found)
    }

    /// PostgreSQL: the index's candidates first (`index_first`), or a window of the newest
    /// posts and then the index's candidates below it.
    async fn postgres(
        &self,
        ask: &Ask<'_>,
        terms: &[String],
        index_first: bool,
        before: i64,
    ) -> sqlx::Result<Found> {
        let (mut rows, below) = if index_first && !terms.is_empty() {
            (Vec::new(), before)
        } else {
            let mut conn = self.db.pool.acquire().await?;
            match ask.window(&mut conn, before, self.limits.window).await? {
                (rows, Some(bottom)) if !terms.is_empty() => (rows, bottom),
                // Nothing to look up: the next page goes on scanning.
                (rows, bottom) => return Ok(Found { rows, resume_below: bottom }),
            }
        };
        // Index first, the candidates are sorted (`p.id + 0`), never found by walking the
        // primary key backwards and testing each post: PostgreSQL's guess for a term missing
        // from its statistics (an absent word's) makes that walk look cheap, and then it reads
        // every post. Below a window the planner chooses, from the terms' values: the word is
        // common enough that the walk may be.
        let (order, sessions) =
            if index_first { ("p.id + 0", &self.db) } else { ("p.id", &self.planned_per_run) };
        let matches = ask.matches();
        let sql = format!(
            "SELECT {} FROM post p WHERE p.id IN (SELECT post_id FROM post_terms WHERE terms @> CAST($6 AS BIGINT[]) \
             UNION ALL {QUEUED}) AND p.{} = $2 AND p.id < $3{matches} ORDER BY {order} DESC LIMIT $4",
            post_columns!(),
            ask.scope.column()
        );
        let mut conn = sessions.pool.acquire().await?;
        let more =
            ask.rows(&mut conn, sql, below, ask.limit - rows.len() as i64, codes_literal(terms)).await?;
        rows.extend(more);
        Ok(Found { rows, resume_below: None })
    }
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
    backend: Backend,
    viewer: i64,
    scope: Scope,
    pattern: &'a str,
    caseless: bool,
    limit: i64,
}

impl Ask<'_> {
    /// The conditions of a match for this search's pattern.
    fn matches(&self) -> &'static str {
        if self.caseless { MATCHES_CASELESS } else { MATCHES }
    }

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

    /// The condition that the scope's post is below the id `$below`, its scope being `$scope`.
    /// On PostgreSQL a row comparison, which only the scope's index (`(school_id, id)` or
    /// `(board_id, id)`) takes as its condition: written `id < $below`, PostgreSQL walked the
    /// primary key backwards for a school's window, testing every school's posts (50 schools
    /// evenly: 99,994 posts read for a window of 2,000, 20 ms against 2 ms). SQLite's planner
    /// takes the scope's index either way, but a row comparison only as far as its first
    /// column: it would read the scope's posts from its newest down to the cursor.
    fn below(&self, scope: &str, below: &str) -> String {
        let column = self.scope.column();
        match self.backend {
            Backend::Postgres => format!("({column}, id) < ({scope}, {below})"),
            Backend::Sqlite => format!("id < {below}"),
        }
    }

    /// The matches among the newest `window` live posts of the scope below `before`; the
    /// scan stops as soon as the page is full.
    async fn newest(&self, conn: &mut AnyConnection, before: i64, window: i64) -> sqlx::Result<Vec<PostRow>> {
        let matches = self.matches();
        let sql = format!(
            "SELECT {} FROM (SELECT * FROM post WHERE {} = $2 AND {} AND deleted_at IS NULL \
             ORDER BY id DESC LIMIT $6) p WHERE TRUE{matches} ORDER BY p.id DESC LIMIT $4",
            post_columns!(),
            self.scope.column(),
            self.below("$2", "$3")
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
            "SELECT id FROM post WHERE {} = $1 AND {} AND deleted_at IS NULL ORDER BY id DESC LIMIT 1 OFFSET $3",
            self.scope.column(),
            self.below("$1", "$2")
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

async fn sqlite(
    conn: &mut AnyConnection,
    ask: &Ask<'_>,
    terms: &[String],
    before: i64,
    limits: &SearchLimits,
) -> sqlx::Result<Found> {
    // The queued posts first: they may be missing from the index or indexed as they were
    // before an edit. A post only ever leaves the queue for the index, in one commit, so one
    // the queue's read missed is in the index when the index is read after it. (Read the
    // other way round, a post the indexer moved in between would be in neither read.)
    let matches = ask.matches();
    let sql = format!(
        "SELECT {} FROM post p WHERE p.id IN ({QUEUED} WHERE post_id >= $6) AND p.{} = $2 AND p.id < $3{matches} \
         ORDER BY p.id DESC LIMIT $4",
        post_columns!(),
        ask.scope.column()
    );
    // `$6` 0: every queued post below the cursor; those below the page are dropped after.
    let queued = ask.rows(&mut *conn, sql, before, ask.limit, 0_i64).await?;
    let Found { mut rows, mut resume_below } = sqlite_indexed(conn, ask, terms, before, limits).await?;
    // Those down to where the index's part of the page stops.
    let below_page = |r: &PostRow| resume_below.is_some_and(|bottom| r.id < bottom);
    let queued: Vec<PostRow> = queued.into_iter().filter(|r| !below_page(r)).collect();
    if !queued.is_empty() {
        rows.extend(queued);
        rows.sort_unstable_by_key(|r| std::cmp::Reverse(r.id));
        rows.dedup_by_key(|r| r.id);
        rows.truncate(ask.limit as usize);
        if rows.len() as i64 >= ask.limit {
            resume_below = None;
        }
    }
    Ok(Found { rows, resume_below })
}

/// A search whose terms are held by few posts (at most a window's worth, as last counted):
/// one statement over all the index's candidates and the queue's, where the batched walk
/// takes three or more (FTS5 reads the same posting lists either way). A statement reads one
/// snapshot, in which a post is in the queue or in the index.
async fn sqlite_few(
    conn: &mut AnyConnection,
    ask: &Ask<'_>,
    terms: &[String],
    before: i64,
) -> sqlx::Result<Found> {
    let matches = ask.matches();
    let sql = format!(
        "SELECT {} FROM post p WHERE p.id IN (SELECT rowid FROM post_search WHERE post_search MATCH $6 \
         AND rowid < $3 UNION ALL {QUEUED}) AND p.{} = $2 AND p.id < $3{matches} ORDER BY p.id DESC LIMIT $4",
        post_columns!(),
        ask.scope.column()
    );
    let rows = ask.rows(conn, sql, before, ask.limit, fts_query(ask.scope, terms)).await?;
    Ok(Found { rows, resume_below: None })
}

/// The FTS5 query for posts of `scope` holding every one of `terms`.
fn fts_query(scope: Scope, terms: &[String]) -> String {
    let tokens: Vec<String> =
        scope.token().into_iter().chain(terms.iter().map(|t| hex(t))).map(|t| format!("\"{t}\"")).collect();
    tokens.join(" ")
}

/// The matches among the FTS5 index's candidates, walked newest first in growing batches
/// until the page is full, the candidates end or the timeout has passed.
async fn sqlite_indexed(
    conn: &mut AnyConnection,
    ask: &Ask<'_>,
    terms: &[String],
    before: i64,
    limits: &SearchLimits,
) -> sqlx::Result<Found> {
    let deadline = Instant::now() + limits.statement_timeout;
    let matching = fts_query(ask.scope, terms);
    let matches = ask.matches();
    let sql = format!(
        "SELECT {} FROM post p WHERE p.id IN (SELECT value FROM json_each($6)) AND p.{} = $2 AND p.id < $3{matches} \
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

/// A PostgreSQL array literal of the codes of `terms` (`search::term_code`). (The indexer
/// writes one for every post, with a hundred terms or more: into one string.)
fn codes_literal<'a>(terms: impl IntoIterator<Item = &'a String>) -> String {
    let mut literal = String::from("{");
    for term in terms {
        if literal.len() > 1 {
            literal.push(',');
        }
        let _ = write!(literal, "{}", search::term_code(term));
    }
    literal.push('}');
    literal
}

/// A term as an FTS5 token: the hex of its UTF-8, which the `ascii` tokenizer keeps whole.
fn hex(term: &str) -> String {
    let mut token = String::with_capacity(term.len() * 2);
    push_hex(&mut token, term);
    token
}

fn push_hex(out: &mut String, term: &str) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in term.bytes() {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
}

/// The FTS5 document of a post: its school's and board's tokens (`Scope::token`) and its terms.
fn document(post: &Indexed) -> String {
    let mut doc = format!("school{} board{}", post.school_id, post.board_id);
    for term in search::post_terms(&post.title, &post.content) {
        doc.push(' ');
        push_hex(&mut doc, &term);
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

/// A subquery of the ids in the parameter `$n`, bound as [`json_ids`].
fn ids_in(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Postgres => {
            format!("SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(${n} AS JSON))")
        }
        Backend::Sqlite => format!("SELECT value FROM json_each(${n})"),
    }
}

/// Ids as the JSON array [`ids_in`] reads.
fn json_ids(ids: impl IntoIterator<Item = i64>) -> String {
    let ids: Vec<String> = ids.into_iter().map(|id| id.to_string()).collect();
    format!("[{}]", ids.join(","))
}

/// Replaces what the index holds for the posts `ids` (as [`json_ids`] writes them) with the
/// entries of `live`, those of them not deleted: one statement drops the old entries, one
/// writes the new.
async fn index(conn: &mut AnyConnection, backend: Backend, ids: &str, live: &[Indexed]) -> Result<()> {
    let drop = match backend {
        Backend::Postgres => format!("DELETE FROM post_terms WHERE post_id IN ({})", ids_in(backend, 1)),
        Backend::Sqlite => format!("DELETE FROM post_search WHERE rowid IN ({})", ids_in(backend, 1)),
    };
    sqlx::query(AssertSqlSafe(drop)).bind(ids).execute(&mut *conn).await?;
    if live.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (1..=live.len())
        .map(|i| match backend {
            Backend::Postgres => format!("(${}, CAST(${} AS BIGINT[]))", 2 * i - 1, 2 * i),
            Backend::Sqlite => format!("(${}, ${})", 2 * i - 1, 2 * i),
        })
        .collect();
    let table = match backend {
        Backend::Postgres => "post_terms (post_id, terms)",
        Backend::Sqlite => "post_search (rowid, terms)",
    };
    let mut insert = sqlx::query(AssertSqlSafe(format!("INSERT INTO {table} VALUES {}", rows.join(", "))));
    for post in live {
        let entry = match backend {
            Backend::Postgres => codes_literal(&search::post_terms(&post.title, &post.content)),
            Backend::Sqlite => document(post),
        };
        insert = insert.bind(post.id).bind(entry);
    }
    insert.execute(conn).await?;
    Ok(())
}

/// Puts a post that the transaction `tx` edits or deletes in the indexer's queue.
/// When the post is queued already, the upsert still writes its row, so that an indexer batch
/// (which skips rows a transaction holds) cannot read the post before `tx` commits and then
/// take it off the queue.
pub(crate) async fn enqueue(tx: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO post_search_pending (post_id) VALUES ($1) \
         ON CONFLICT (post_id) DO UPDATE SET post_id = excluded.post_id",
    )
    .bind(id)
    .execute(tx)
    .await?;
    Ok(())
}

/// Posts one indexer batch takes at most. An SQLite batch holds the one write turn, so every
/// write waits for it: smaller batches keep that wait short.
pub(crate) fn index_batch(backend: Backend) -> i64 {
    match backend {
        Backend::Postgres => 512,
        Backend::Sqlite => 64,
    }
}

/// Indexes the next batch of queued posts, oldest first: rewrites the entries of those still
/// live, drops those of deleted ones, and takes them all off the queue, in one transaction.
/// Returns how many it took (0: the queue is empty). On PostgreSQL the batch's GIN entries,
/// which go to GIN's pending list first, are merged into the index before the transaction
/// commits, so searches never read them from that unsorted list; queue rows a writing
/// transaction holds are skipped and taken by a later batch, and replicas share the queue.
pub(crate) async fn index_pending(db: &Db) -> Result<u64> {
    let backend = db.backend;
    let take = match backend {
        Backend::Postgres => {
            "SELECT post_id FROM post_search_pending ORDER BY post_id LIMIT $1 FOR UPDATE SKIP LOCKED"
        }
        Backend::Sqlite => "SELECT post_id FROM post_search_pending ORDER BY post_id LIMIT $1",
    };
    let mut tx = db.begin_write().await?;
    let ids: Vec<i64> = sqlx::query_as(take)
        .bind(index_batch(backend))
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(id,): (i64,)| id)
        .collect();
    if ids.is_empty() {
        // Ended before the write turn passes on: dropped, it would only start its rollback.
        tx.rollback().await?;
        return Ok(0);
    }
    let taken = json_ids(ids.iter().copied());
    let live: Vec<Indexed> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT id, school_id, board_id, title, content FROM post WHERE id IN ({}) AND deleted_at IS NULL",
        ids_in(backend, 1)
    )))
    .bind(&taken)
    .fetch_all(&mut *tx)
    .await?;
    index(&mut tx, backend, &taken, &live).await?;
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM post_search_pending WHERE post_id IN ({})",
        ids_in(backend, 1)
    )))
    .bind(&taken)
    .execute(&mut *tx)
    .await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT gin_clean_pending_list('post_terms_search')").execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(ids.len() as u64)
}

/// Reclaims the rows indexer batches deleted from the queue (PostgreSQL): every search reads
/// the whole queue, dead rows included, and autovacuum comes by once a minute at best, when
/// a write-heavy minute leaves hundreds of pages (a search that found nothing took 1 ms
/// instead of 0.06 ms, reading 416 pages of them).
pub(crate) async fn vacuum_queue(db: &Db) -> Result<()> {
    if db.backend == Backend::Postgres {
        sqlx::raw_sql("VACUUM post_search_pending").execute(&db.pool).await?;
    }
    Ok(())
}

/// Leaf pages one [`merge_step`] writes at most: measured on a million posts' index, a step
/// took 4.5 ms at the median and 81 ms at most (a term in every post is written whole).
const MERGE_STEP_PAGES: i64 = 16;

/// One bounded step of FTS5's own merging of its segments (SQLite), taken while the queue is
/// empty. FTS5 merges as it is written, in work proportional to the writes, and marks an
/// edited or deleted post's old entry with a tombstone in its segment; every search reads
/// the tombstones of the segments holding its terms (with 8% of the posts tombstoned, a rare
/// phrase's lookup took 2.5 ms instead of 0.15 ms), until a merge rewrites the segment
/// without them. Migration 0016 has FTS5 merge a segment once 2% of it is tombstoned; these
/// steps carry that out while the service has no posts to index, one at a time under the
/// write turn, instead of waiting for writes to drive it.
pub(crate) async fn merge_step(db: &Db) -> Result<()> {
    if db.backend != Backend::Sqlite {
        return Ok(());
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO post_search (post_search, rank) VALUES ('merge', $1)")
        .bind(MERGE_STEP_PAGES)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Runs [`index_pending`] until the queue is empty; the number of posts indexed.
pub(crate) async fn index_all_pending(db: &Db) -> Result<u64> {
    until_none_left(|| index_pending(db)).await
}

/// Posts one backfill batch indexes.
const BACKFILL_BATCH: i64 = 500;

/// Indexes the next batch of posts written before the index existed, newest first; the
/// number indexed, 0 when none are left. Each batch is its own short transaction and records
/// how far it got, so the backfill resumes where it stopped and writers wait for at most one
/// batch. (PostgreSQL's migration indexed the posts it found itself and left none.)
pub(crate) async fn backfill_batch(db: &Db) -> Result<u64> {
    let mut tx = db.begin_write().await?;
    let (below,): (i64,) =
        sqlx::query_as("SELECT below FROM post_search_backfill").fetch_one(&mut *tx).await?;
    if below <= 0 {
        tx.rollback().await?;
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
    index(&mut tx, db.backend, &json_ids(posts.iter().map(|p| p.id)), &posts).await?;
    let next = if (posts.len() as i64) < BACKFILL_BATCH { 0 } else { posts.last().map_or(0, |p| p.id) };
    sqlx::query("UPDATE post_search_backfill SET below = $1").bind(next).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(posts.len() as u64)
}

/// Runs [`backfill_batch`] until nothing is left.
pub(crate) async fn backfill(db: &Db) -> Result<u64> {
    until_none_left(|| backfill_batch(db)).await
}

/// Runs `batch` until it takes no posts; how many it took in all.
async fn until_none_left<F: Future<Output = Result<u64>>>(mut batch: impl FnMut() -> F) -> Result<u64> {
    let mut total = 0;
    loop {
        match batch().await? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}
