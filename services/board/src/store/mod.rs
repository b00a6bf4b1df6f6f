//! Every SQL statement of the board service.
//!
//! Reads take any executor (the pool or a transaction); writes take the caller's
//! transaction, so one RPC is one transaction. Counters change in the same transaction as the
//! rows they count, guarded by an INSERT into a unique index, so they never drift. Lists are
//! keyset-paginated and fetch one row more than asked to know whether a next page exists.

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

/// `$1` is the viewer. The per-viewer flags are index lookups inside the one query, so a page
/// costs one round trip however long it is (counts, not EXISTS: see `board_select!`).
macro_rules! post_columns {
    () => {
        "p.id, p.board_id, p.author_id, p.author_nickname, p.anonymous, p.title, p.content, \
         p.like_count, p.comment_count, p.scrap_count, p.photo_count, p.hot_at, p.best_at, \
         p.created_at, p.updated_at, \
         (SELECT count(*) FROM post_like l WHERE l.post_id = p.id AND l.user_id = $1) AS liked, \
         (SELECT count(*) FROM post_scrap s WHERE s.post_id = p.id AND s.user_id = $1) AS scrapped"
    };
}

macro_rules! post_select {
    () => {
        concat!("SELECT ", post_columns!(), " FROM post p")
    };
}

/// Posts with 5+ reports drop out of every list.
macro_rules! listed {
    () => {
        " AND p.deleted_at IS NULL AND p.report_count < 5"
    };
}

const _: () = assert!(REPORTS_TO_HIDE == 5, "the `listed!` filter spells the report limit");

mod boards;
mod comments;
mod photos;
mod posts;
mod reactions;
mod reports;

pub(crate) mod accounts;
pub(crate) mod events;
pub(crate) mod search;

pub(crate) use boards::*;
pub(crate) use comments::*;
pub(crate) use photos::*;
pub(crate) use posts::*;
pub(crate) use reactions::*;
pub(crate) use reports::*;
