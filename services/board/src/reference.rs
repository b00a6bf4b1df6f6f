//! What the whole-system benchmark (`campus-bench`) may take from this crate, and nothing
//! else: the SQL its R2 reference runs under pgbench, statement for statement what ListPosts,
//! CreatePost and CreateComment issue, and the search-index backfill its seeding needs on
//! SQLite. Everything else the benchmark measures over the wire.
//!
//! Placeholders are the store's (`$1`, …), in the order each statement binds them.

use campus_shared::db::Backend;
use sqlx::AnyPool;

/// ListPosts' page: `$1` viewer, `$2` board, `$3` id to page below, `$4` rows (page + 1).
pub const LIST_BOARD_POSTS_SQL: &str = crate::store::LIST_BOARD_POSTS_SQL;

/// CreatePost's INSERT: id, school, board, author, nickname, anonymous, title, content, now.
pub const INSERT_POST_SQL: &str = crate::store::INSERT_POST_SQL;

/// CreateComment's counter update, which locks the post row: `$1` post, `$2` school.
pub const COUNT_NEW_COMMENT_SQL: &str = crate::store::COUNT_NEW_COMMENT_SQL;

/// CreateComment's INSERT: id, post, parent, thread, author, nickname, anonymous, number,
/// content, now.
pub const INSERT_COMMENT_SQL: &str = crate::store::INSERT_COMMENT_SQL;

/// Indexes every post below the backfill mark for search (what the service does at start);
/// returns how many it indexed.
pub async fn backfill_search(pool: &AnyPool, backend: Backend) -> campus_shared::error::Result<u64> {
    crate::store::search::backfill(pool, backend).await
}
