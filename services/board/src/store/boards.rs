//! Boards and the pins of them.

use campus_shared::error::Result;
use sqlx::{Any, AnyConnection, Executor, FromRow};

use super::{inserted, viewer_page, viewer_row};

/// A board as the caller sees it (`pinned` is per caller).
#[derive(Debug, Clone, FromRow)]
pub(crate) struct BoardRow {
    pub(crate) id: i64,
    pub(crate) school_id: i64,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) category: i64,
    pub(crate) hot_disabled: i64,
    pub(crate) created_at: i64,
    pub(crate) pinned: i64,
}

/// `$1` is the viewer. Per-viewer flags are counts over a unique key (0 or 1), not EXISTS:
/// PostgreSQL may turn a correlated EXISTS into a hashed subplan that reads every row of the
/// viewer's side of the table (for post_like, a sequential scan of the whole table, since no
/// index leads with user_id) before the first row; a count stays one index probe per row.
macro_rules! board_select {
    () => {
        "SELECT b.id, b.school_id, b.name, b.description, b.category, b.hot_disabled, b.created_at, \
         (SELECT count(*) FROM pinned_board pb WHERE pb.board_id = b.id AND pb.user_id = $1) AS pinned \
         FROM board b"
    };
}

/// The fields of a new board.
#[derive(Debug)]
pub(crate) struct NewBoardRow<'a> {
    pub(crate) id: i64,
    pub(crate) school_id: i64,
    pub(crate) name: &'a str,
    pub(crate) description: &'a str,
    pub(crate) category: i64,
    pub(crate) hot_disabled: bool,
    pub(crate) created_by: i64,
    pub(crate) created_at: i64,
}

/// Inserts a board; false when the school already has a board of this name.
pub(crate) async fn insert_board(tx: &mut AnyConnection, b: &NewBoardRow<'_>) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO board (id, school_id, name, description, category, hot_disabled, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(b.id)
    .bind(b.school_id)
    .bind(b.name)
    .bind(b.description)
    .bind(b.category)
    .bind(i64::from(b.hot_disabled))
    .bind(b.created_by)
    .bind(b.created_at)
    .execute(tx)
    .await;
    inserted(done)
}

pub(crate) async fn get_board<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
    id: i64,
) -> Result<Option<BoardRow>> {
    viewer_row(e, concat!(board_select!(), " WHERE b.id = $2 AND b.school_id = $3"), viewer, id, school_id)
        .await
}

pub(crate) async fn list_boards<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<BoardRow>> {
    let sql = concat!(board_select!(), " WHERE b.school_id = $2 AND b.id > $3 ORDER BY b.id LIMIT $4");
    viewer_page(e, sql, viewer, school_id, &[after], limit).await
}

pub(crate) async fn list_pinned_boards<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
) -> Result<Vec<BoardRow>> {
    Ok(sqlx::query_as(concat!(
        board_select!(),
        " JOIN pinned_board p ON p.board_id = b.id AND p.user_id = $1 WHERE b.school_id = $2 ORDER BY p.created_at, b.id"
    ))
    .bind(viewer)
    .bind(school_id)
    .fetch_all(e)
    .await?)
}

/// Pins a board; pinning twice is a no-op.
pub(crate) async fn pin_board(tx: &mut AnyConnection, user_id: i64, board_id: i64, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO pinned_board (user_id, board_id, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, board_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(board_id)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

pub(crate) async fn unpin_board(tx: &mut AnyConnection, user_id: i64, board_id: i64) -> Result<()> {
    sqlx::query("DELETE FROM pinned_board WHERE user_id = $1 AND board_id = $2")
        .bind(user_id)
        .bind(board_id)
        .execute(tx)
        .await?;
    Ok(())
}
