//! Every SQL statement of the board service.
//!
//! Reads take any executor (the pool or a transaction); writes take the caller's
//! transaction, so one RPC is one transaction. Counters change in the same transaction as the
//! rows they count, guarded by an INSERT into a unique index, so they never drift. Lists are
//! keyset-paginated and fetch one row more than asked to know whether a next page exists.

use campus_shared::error::Result;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow};

use crate::domain::REPORTS_TO_HIDE;

/// Whether an INSERT guarded by a unique index wrote its row: false when the row was already
/// there (what that means for the caller is the domain's to say), a database error otherwise.
/// On PostgreSQL the transaction is then aborted: the caller answers with its refusal.
fn inserted<T>(result: sqlx::Result<T>) -> campus_shared::error::Result<bool> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if campus_shared::error::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A post as every list shows it to every viewer, without its content: the stored preview, or
/// for a post written before previews were stored, the same 100 characters computed from the
/// content (`substr` counts characters on both backends, as `domain::content_preview` does).
macro_rules! post_fields {
    () => {
        "p.id, p.board_id, p.author_id, p.author_nickname, p.anonymous, p.title, \
         COALESCE(p.content_preview, substr(p.content, 1, 100)) AS content_preview, \
         p.like_count, p.comment_count, p.scrap_count, p.photo_count, p.first_photo_id, p.hot_at, p.best_at, \
         p.created_at, p.updated_at"
    };
}

/// [`post_fields!`] with the viewer's (`$1`) flags. They are index probes inside the one
/// query, so a page costs one round trip however long it is (counts, not EXISTS: see
/// `board_select!`). Reading the viewer's likes and scraps of the whole page in one probe
/// instead (the page as a CTE, joined to them) was measured slower on PostgreSQL, index on
/// `(user_id, post_id)` or not. A board's first page, which every viewer shares, is read
/// without them and gets them from [`first_pages::VIEWER_FLAGS_SQL`].
macro_rules! post_columns {
    () => {
        concat!(
            post_fields!(),
            ", (SELECT count(*) FROM post_like l WHERE l.post_id = p.id AND l.user_id = $1) AS liked, \
             (SELECT count(*) FROM post_scrap s WHERE s.post_id = p.id AND s.user_id = $1) AS scrapped"
        )
    };
}

const _: () =
    assert!(crate::domain::CONTENT_PREVIEW_CHARS == 100, "`post_fields!` spells the preview's length");

/// A post as GetPost shows it: what lists show, and its whole content.
macro_rules! post_select {
    () => {
        concat!("SELECT ", post_columns!(), ", p.content FROM post p")
    };
}

/// Posts with 5+ reports drop out of every list.
macro_rules! listed {
    () => {
        " AND p.deleted_at IS NULL AND p.report_count < 5"
    };
}

const _: () = assert!(REPORTS_TO_HIDE == 5, "the `listed!` filter spells the report limit");

/// The SQL of one page of a post list: the projection with the viewer's flags (`$1`), the
/// posts of the list's `where` filter (`$2` its scope) that are listed, and the list's `page`
/// (its keyset condition, order and limit). A list whose order is not the post's names its own
/// `from` (extra columns included).
macro_rules! post_list {
    (where $filter:literal, page $page:literal $(,)?) => {
        post_list!(from " FROM post p", where $filter, page $page)
    };
    (from $from:literal, where $filter:literal, page $page:literal $(,)?) => {
        concat!("SELECT ", post_columns!(), $from, " WHERE ", $filter, listed!(), " AND ", $page)
    };
}

/// One keyset page of rows as the viewer sees them, for a statement that takes `$1` the
/// viewer, `$2` the list's scope (its school, board or post), then the cursor's values, then
/// how many rows.
async fn viewer_page<'c, E, R>(
    e: E,
    sql: &'static str,
    viewer: i64,
    scope: i64,
    cursor: &[i64],
    limit: i64,
) -> Result<Vec<R>>
where
    E: Executor<'c, Database = Any>,
    R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    let mut query = sqlx::query_as(sql).bind(viewer).bind(scope);
    for value in cursor {
        query = query.bind(*value);
    }
    Ok(query.bind(limit).fetch_all(e).await?)
}

/// One row of the school as the viewer sees it, for a statement that takes `$1` the viewer,
/// `$2` the row's id and `$3` the school.
async fn viewer_row<'c, E, R>(
    e: E,
    sql: &'static str,
    viewer: i64,
    id: i64,
    school_id: i64,
) -> Result<Option<R>>
where
    E: Executor<'c, Database = Any>,
    R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    Ok(sqlx::query_as(sql).bind(viewer).bind(id).bind(school_id).fetch_optional(e).await?)
}

mod boards;
mod comments;
mod first_pages;
mod new_posts;
mod photos;
mod posts;
mod reactions;
mod reports;

pub(crate) mod accounts;
pub(crate) mod events;
pub(crate) mod search;

pub(crate) use boards::*;
pub(crate) use comments::*;
pub(crate) use first_pages::{FIRST_PAGE_ROWS, FirstPages, VIEWER_FLAGS_SQL};
pub(crate) use new_posts::{INSERT_POST_SQL, NewPostRow, PostWriter};
pub(crate) use photos::*;
pub(crate) use posts::*;
pub(crate) use reactions::*;
pub(crate) use reports::*;
