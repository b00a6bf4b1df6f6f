//! What the whole-system benchmark (`campus-bench`) may take from this crate, and nothing
//! else: the SQL its R2 reference runs under pgbench, statement for statement what ListPosts,
//! CreatePost and CreateComment (with its event) issue, and the search-index backfill its
//! seeding needs on SQLite. Everything else the benchmark measures over the wire.
//!
//! Placeholders are the store's (`$1`, …), in the order each statement binds them.

use campus_shared::db::{Backend, Db};
use sqlx::AnyPool;

/// ListPosts' page: `$1` viewer, `$2` board, `$3` id to page below, `$4` rows (page + 1). A
/// first page of up to 20 posts is read once per board per time to live instead (its posts,
/// and who liked and scrapped them), and a call runs no SQL unless the page's posts have too
/// many likes and scraps to keep; then it runs [`VIEWER_FLAGS_SQL`].
pub const LIST_BOARD_POSTS_SQL: &str = crate::store::LIST_BOARD_POSTS_SQL;

/// ListPosts' first page when its likes and scraps are too many to keep: which of the shared
/// page's posts the viewer liked or scrapped. `$1` viewer, `$2`…`$22` the page's 21 post ids
/// (0 for none).
pub const VIEWER_FLAGS_SQL: &str = crate::store::VIEWER_FLAGS_SQL;

/// CreatePost's INSERT: id, school, board, author, nickname, anonymous, title, content, now,
/// preview (the content's first 100 characters). Posts created at the same moment are
/// written by one statement with a row of these values each.
pub const INSERT_POST_SQL: &str = crate::store::INSERT_POST_SQL;

/// The preview CreatePost stores with a post's content.
pub use crate::domain::content_preview;

/// CreateComment's counter update, which locks the post row: `$1` post, `$2` school.
pub const COUNT_NEW_COMMENT_SQL: &str = crate::store::COUNT_NEW_COMMENT_SQL;

/// CreateComment's INSERT: id, post, parent, thread, author, nickname, anonymous, number,
/// content, now.
pub const INSERT_COMMENT_SQL: &str = crate::store::INSERT_COMMENT_SQL;

/// CreateComment's read, after the INSERT, of what its `CommentCreated` event says about the
/// post (its board's name, its author): `$1` post.
pub const POST_FACTS_SQL: &str = crate::store::events::POST_FACTS_SQL;

/// CreateComment's event goes to board's outbox in the comment's transaction, in the two
/// statements of `campus_shared::events::Outbox::append`: this one takes the next position
/// (and holds the feed's head row until commit) and returns it.
pub const NEXT_EVENT_POSITION_SQL: &str = campus_shared::events::outbox::NEXT_POSITION_SQL;

/// The outbox row: `$1` position, `$2` event id, `$3` event type, `$4` payload, `$5` now.
pub const APPEND_EVENT_SQL: &str = campus_shared::events::outbox::APPEND_SQL;

/// The type and payload of the `CommentCreated` event CreateComment appends for a named,
/// top-level comment with `content` (ids as large as real ones, so the size is the real one).
pub fn comment_created_event(content: &str) -> (String, Vec<u8>) {
    use campus_proto::board::v1::CommentCreated;
    use prost::{Message, Name};
    let id = campus_shared::id::next_id();
    let event = CommentCreated {
        comment_id: id,
        post_id: id,
        board_id: id,
        board_name: "자유게시판".into(),
        school_id: id,
        author_id: id,
        post_author_id: id,
        parent_comment_id: None,
        parent_author_id: None,
        preview: crate::domain::preview(content),
        created_at: Some(campus_shared::db::timestamp(campus_shared::db::now_micros())),
    };
    (CommentCreated::full_name(), event.encode_to_vec())
}

/// Indexes every post below the backfill mark for search (what the service does at start);
/// returns how many it indexed.
pub async fn backfill_search(pool: &AnyPool, backend: Backend) -> campus_shared::error::Result<u64> {
    crate::store::search::backfill(&Db::new(pool.clone(), backend)).await
}

/// Indexes every post in the search indexer's queue (what the running service does batch by
/// batch); returns how many it took.
pub async fn index_queued_posts(pool: &AnyPool, backend: Backend) -> campus_shared::error::Result<u64> {
    crate::store::search::index_all_pending(&Db::new(pool.clone(), backend)).await
}
