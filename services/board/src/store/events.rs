//! What board's events say about a post beyond what the write path already holds.

use campus_shared::error::Result;
use sqlx::{AnyConnection, FromRow};

/// A post with its board's name: the facts `CommentCreated` and `PostPromoted` carry.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct PostFacts {
    pub(crate) board_id: i64,
    pub(crate) board_name: String,
    pub(crate) school_id: i64,
    pub(crate) author_id: i64,
    pub(crate) title: String,
}

/// The post's facts, `$1` the post (the benchmark runs it through `reference`).
pub(crate) const POST_FACTS_SQL: &str = "SELECT p.board_id, b.name AS board_name, p.school_id, p.author_id, \
     p.title FROM post p JOIN board b ON b.id = p.board_id WHERE p.id = $1";

/// Read in the transaction that writes the event, so it describes what commits with it.
pub(crate) async fn post_facts(tx: &mut AnyConnection, post_id: i64) -> Result<PostFacts> {
    Ok(sqlx::query_as(POST_FACTS_SQL).bind(post_id).fetch_one(tx).await?)
}
