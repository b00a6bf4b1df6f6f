//! The first page of each board, shared by every viewer.
//!
//! Most list calls ask for a board's first page, and every viewer sees the same posts on it;
//! only their own likes and scraps differ. So a board's first page is read once and kept for
//! up to a time to live: its posts, and who liked or scrapped them ([`PAGE_REACTIONS_SQL`]),
//! from which each viewer's flags are found in memory. A call then runs no SQL at all. A page
//! whose posts have more than [`KEPT_REACTIONS`] likes and scraps keeps its posts only, and
//! each call reads the viewer's flags ([`VIEWER_FLAGS_SQL`]: one statement of index probes
//! instead of the page query with its two sub-queries per row).
//!
//! Freshness: this process forgets a board's page as soon as it has committed a change to a
//! post the page could show (a new post, an edit, a like or scrap, a comment, a report, …), so
//! its own writes show at once; a page being read while the change committed is forgotten too.
//! What other replicas commit (their users' likes included) shows within the time to live.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use campus_shared::error::{Error, Result};
use campus_shared::page::DEFAULT_PAGE_SIZE;
use sqlx::AnyPool;
use tokio::sync::OnceCell;

use super::PostRow;

/// Rows kept per board: a default page and the row that says another page follows.
pub(crate) const FIRST_PAGE_ROWS: i64 = DEFAULT_PAGE_SIZE + 1;

/// Boards kept at once: past it the pages past their time go, then all of them. With
/// [`KEPT_REACTIONS`] this bounds the memory: ~10 KB of posts and up to 12 KB of reactions a
/// board.
const CAPACITY: usize = 1024;

/// The most likes and scraps kept with a page.
const KEPT_REACTIONS: i64 = 512;

/// The first [`FIRST_PAGE_ROWS`] posts of a board, as every viewer sees them.
const FIRST_PAGE_SQL: &str = concat!(
    "SELECT ",
    post_fields!(),
    ", CAST(0 AS BIGINT) AS liked, CAST(0 AS BIGINT) AS scrapped FROM post p WHERE p.board_id = $1",
    listed!(),
    " ORDER BY p.id DESC LIMIT $2"
);

/// Who liked (kind 1) or scrapped (kind 2) which of up to [`FIRST_PAGE_ROWS`] posts (`$1`…`$21`,
/// unused ones 0), at most `$22` of them.
const PAGE_REACTIONS_SQL: &str = "\
    SELECT user_id, post_id, CAST(1 AS BIGINT) AS kind FROM post_like \
    WHERE post_id IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
    UNION ALL \
    SELECT user_id, post_id, CAST(2 AS BIGINT) FROM post_scrap \
    WHERE post_id IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) \
    LIMIT $22";

/// Which of up to [`FIRST_PAGE_ROWS`] posts (`$2`…`$22`, unused ones 0) the viewer (`$1`)
/// liked (kind 1) or scrapped (kind 2): probes of the two tables' `(post_id, user_id)` keys.
pub(crate) const VIEWER_FLAGS_SQL: &str = "\
    SELECT post_id, CAST(1 AS BIGINT) AS kind FROM post_like \
    WHERE user_id = $1 AND post_id IN ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) \
    UNION ALL \
    SELECT post_id, CAST(2 AS BIGINT) FROM post_scrap \
    WHERE user_id = $1 AND post_id IN ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)";

const _: () = assert!(FIRST_PAGE_ROWS == 21, "`PAGE_REACTIONS_SQL` and `VIEWER_FLAGS_SQL` spell 21 post ids");

/// Each board's first page, read at most once per time to live (see the module's text).
#[derive(Debug)]
pub(crate) struct FirstPages {
    ttl: Duration,
    pages: Mutex<HashMap<i64, Arc<Page>>>,
}

#[derive(Debug)]
struct Page {
    /// When the page is read again: a time to live after it was first asked for, less up to a
    /// quarter at random, so that pages read together (at start, say) do not all expire in
    /// the same instant and make every board's next call wait on the database at once.
    expires: Instant,
    /// Filled once by the first caller; the others wait for that read instead of repeating it.
    shared: OnceCell<Shared>,
}

/// What every viewer of a page shares.
#[derive(Debug)]
struct Shared {
    rows: Vec<PostRow>,
    /// `(user, post, kind)` of every like and scrap of the rows, in order; `None` when there
    /// are more than [`KEPT_REACTIONS`].
    reactions: Option<Vec<(i64, i64, i64)>>,
}

impl FirstPages {
    /// Pages kept for `ttl`; zero keeps none (every call reads the page).
    pub(crate) fn new(ttl: Duration) -> Self {
        Self { ttl, pages: Mutex::default() }
    }

    /// The first `limit` (at most [`FIRST_PAGE_ROWS`]) posts of a board's list, newest first,
    /// with `viewer`'s flags.
    pub(crate) async fn read(
        &self,
        pool: &AnyPool,
        viewer: i64,
        board_id: i64,
        limit: i64,
    ) -> Result<Vec<PostRow>> {
        debug_assert!(limit <= FIRST_PAGE_ROWS);
        let page = self.page(board_id)?;
        let shared = page.shared.get_or_try_init(|| read_page(pool, board_id)).await?;
        let mut rows: Vec<PostRow> = shared.rows.iter().take(limit as usize).cloned().collect();
        match &shared.reactions {
            Some(reactions) => {
                let from = reactions.partition_point(|r| r.0 < viewer);
                for &(_, post_id, kind) in reactions[from..].iter().take_while(|r| r.0 == viewer) {
                    mark(&mut rows, post_id, kind);
                }
            }
            None => read_viewer_flags(pool, viewer, &mut rows).await?,
        }
        Ok(rows)
    }

    /// The board's page as kept, or a new one to read when there is none or it is too old.
    fn page(&self, board_id: i64) -> Result<Arc<Page>> {
        let mut pages = self.pages.lock().map_err(|_| Error::internal("first pages lock poisoned"))?;
        let now = Instant::now();
        if let Some(page) = pages.get(&board_id).filter(|p| p.expires > now) {
            return Ok(page.clone());
        }
        if pages.len() >= CAPACITY {
            pages.retain(|_, p| p.expires > now);
            if pages.len() >= CAPACITY {
                pages.clear();
            }
        }
        // `RandomState` is seeded anew for each page.
        let quarter = RandomState::new().hash_one(board_id) % 1024;
        let expires = now + self.ttl - self.ttl / 4 * quarter as u32 / 1024;
        let page = Arc::new(Page { expires, shared: OnceCell::new() });
        pages.insert(board_id, page.clone());
        Ok(page)
    }

    /// After a committed change to the board's list as a whole (a new post).
    pub(crate) fn forget_board(&self, board_id: i64) {
        if let Ok(mut pages) = self.pages.lock() {
            pages.remove(&board_id);
        }
    }

    /// After a committed change to one post (its likes and scraps included): the pages that
    /// show it go, and so do the pages still being read, which may have read it before.
    pub(crate) fn forget_post(&self, post_id: i64) {
        if let Ok(mut pages) = self.pages.lock() {
            pages.retain(|_, page| page.shared.get().is_some_and(|s| s.rows.iter().all(|r| r.id != post_id)));
        }
    }

    /// After a change to posts of many boards (a deleted account's name and scraps).
    pub(crate) fn forget_all(&self) {
        if let Ok(mut pages) = self.pages.lock() {
            pages.clear();
        }
    }
}

/// A board's first page and, when there are not too many, who liked and scrapped its posts.
async fn read_page(pool: &AnyPool, board_id: i64) -> Result<Shared> {
    let rows: Vec<PostRow> =
        sqlx::query_as(FIRST_PAGE_SQL).bind(board_id).bind(FIRST_PAGE_ROWS).fetch_all(pool).await?;
    if rows.is_empty() {
        return Ok(Shared { rows, reactions: Some(Vec::new()) });
    }
    let mut query = sqlx::query_as::<_, (i64, i64, i64)>(PAGE_REACTIONS_SQL);
    for id in page_ids(&rows) {
        query = query.bind(id);
    }
    let mut reactions = query.bind(KEPT_REACTIONS + 1).fetch_all(pool).await?;
    reactions.sort_unstable();
    let reactions = (reactions.len() as i64 <= KEPT_REACTIONS).then_some(reactions);
    Ok(Shared { rows, reactions })
}

/// Sets each row's `liked` and `scrapped` to the viewer's, in one statement.
async fn read_viewer_flags(pool: &AnyPool, viewer: i64, rows: &mut [PostRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut query = sqlx::query_as::<_, (i64, i64)>(VIEWER_FLAGS_SQL).bind(viewer);
    for id in page_ids(rows) {
        query = query.bind(id);
    }
    for (post_id, kind) in query.fetch_all(pool).await? {
        mark(rows, post_id, kind);
    }
    Ok(())
}

/// The ids the two statements' 21 id placeholders take: the rows', then 0 (no post) for the
/// rest.
fn page_ids(rows: &[PostRow]) -> impl Iterator<Item = i64> + '_ {
    (0..FIRST_PAGE_ROWS as usize).map(|i| rows.get(i).map_or(0, |r| r.id))
}

/// Sets the flag of `kind` (1 liked, 2 scrapped) on the row of `post_id`, if it is there.
fn mark(rows: &mut [PostRow], post_id: i64, kind: i64) {
    if let Some(row) = rows.iter_mut().find(|r| r.id == post_id) {
        match kind {
            1 => row.liked = 1,
            _ => row.scrapped = 1,
        }
    }
}
