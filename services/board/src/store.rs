//! Every SQL statement of the board service.
//!
//! Reads take any executor (the pool or a transaction); writes take the caller's
//! transaction, so one RPC is one transaction. Counters change in the same transaction as the
//! rows they count, guarded by an INSERT into a unique index, so they never drift. Lists are
//! keyset-paginated and fetch one row more than asked to know whether a next page exists.

use sqlx::{Any, AnyConnection, Executor, FromRow};

use crate::domain::REPORTS_TO_HIDE;

/// Converts an INSERT's unique violation into `on_duplicate`, anything else into a database
/// error.
fn unique_or(err: sqlx::Error, on_duplicate: campus_shared::Error) -> campus_shared::Error {
    if campus_shared::error::is_unique_violation(&err) { on_duplicate } else { err.into() }
}

// ---------------------------------------------------------------------------------------------
// boards

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

pub(crate) async fn insert_board(tx: &mut AnyConnection, b: &NewBoardRow<'_>) -> campus_shared::Result<()> {
    sqlx::query(
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
    .await
    .map_err(|e| {
        unique_or(
            e,
            campus_shared::Error::already_exists(
                crate::domain::reason::BOARD_NAME_TAKEN,
                "a board with this name already exists in your school",
            ),
        )
    })?;
    Ok(())
}

pub(crate) async fn get_board<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
    id: i64,
) -> sqlx::Result<Option<BoardRow>> {
    sqlx::query_as(concat!(board_select!(), " WHERE b.id = $2 AND b.school_id = $3"))
        .bind(viewer)
        .bind(id)
        .bind(school_id)
        .fetch_optional(e)
        .await
}

pub(crate) async fn list_boards<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<BoardRow>> {
    sqlx::query_as(concat!(board_select!(), " WHERE b.school_id = $2 AND b.id > $3 ORDER BY b.id LIMIT $4"))
        .bind(viewer)
        .bind(school_id)
        .bind(after)
        .bind(limit)
        .fetch_all(e)
        .await
}

pub(crate) async fn list_pinned_boards<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
) -> sqlx::Result<Vec<BoardRow>> {
    sqlx::query_as(concat!(
        board_select!(),
        " JOIN pinned_board p ON p.board_id = b.id AND p.user_id = $1 WHERE b.school_id = $2 ORDER BY p.created_at, b.id"
    ))
    .bind(viewer)
    .bind(school_id)
    .fetch_all(e)
    .await
}

/// Pins a board; pinning twice is a no-op.
pub(crate) async fn pin_board(
    tx: &mut AnyConnection,
    user_id: i64,
    board_id: i64,
    now: i64,
) -> sqlx::Result<()> {
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

pub(crate) async fn unpin_board(tx: &mut AnyConnection, user_id: i64, board_id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM pinned_board WHERE user_id = $1 AND board_id = $2")
        .bind(user_id)
        .bind(board_id)
        .execute(tx)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// posts: reads

/// A post as the viewer sees it; `liked` and `scrapped` are the viewer's.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct PostRow {
    pub(crate) id: i64,
    pub(crate) board_id: i64,
    pub(crate) author_id: i64,
    pub(crate) author_nickname: String,
    pub(crate) anonymous: i64,
    pub(crate) title: String,
    pub(crate) content: String,
    pub(crate) like_count: i64,
    pub(crate) comment_count: i64,
    pub(crate) scrap_count: i64,
    pub(crate) photo_count: i64,
    pub(crate) hot_at: Option<i64>,
    pub(crate) best_at: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) liked: i64,
    pub(crate) scrapped: i64,
    /// Only set by the scrap list, whose order is the scrap's.
    #[sqlx(default)]
    pub(crate) scrap_id: i64,
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

/// The SQL of a ListPosts page (the benchmark runs it through `reference`).
pub(crate) const LIST_BOARD_POSTS_SQL: &str = concat!(
    post_select!(),
    " WHERE p.board_id = $2",
    listed!(),
    " AND p.id < $3 ORDER BY p.id DESC LIMIT $4"
);

pub(crate) async fn get_post<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
    id: i64,
) -> sqlx::Result<Option<PostRow>> {
    sqlx::query_as(concat!(post_select!(), " WHERE p.id = $2 AND p.school_id = $3 AND p.deleted_at IS NULL"))
        .bind(viewer)
        .bind(id)
        .bind(school_id)
        .fetch_optional(e)
        .await
}

/// A board's posts, newest first, below `before` (searching a board is [`search`]'s).
pub(crate) async fn list_board_posts<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    board_id: i64,
    before: i64,
    limit: i64,
) -> sqlx::Result<Vec<PostRow>> {
    sqlx::query_as(LIST_BOARD_POSTS_SQL)
        .bind(viewer)
        .bind(board_id)
        .bind(before)
        .bind(limit)
        .fetch_all(e)
        .await
}

/// Which school-wide ranking to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ranking {
    Hot,
    Best,
}

/// HOT or BEST posts of a school, by when they reached the threshold (latest first), below
/// the cursor `(at, id)`.
pub(crate) async fn list_ranked<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
    ranking: Ranking,
    cursor: (i64, i64),
    limit: i64,
) -> sqlx::Result<Vec<PostRow>> {
    let sql = match ranking {
        Ranking::Hot => concat!(
            post_select!(),
            " WHERE p.school_id = $2 AND p.hot_at IS NOT NULL",
            listed!(),
            " AND (p.hot_at < $3 OR (p.hot_at = $3 AND p.id < $4)) ORDER BY p.hot_at DESC, p.id DESC LIMIT $5"
        ),
        Ranking::Best => concat!(
            post_select!(),
            " WHERE p.school_id = $2 AND p.best_at IS NOT NULL",
            listed!(),
            " AND (p.best_at < $3 OR (p.best_at = $3 AND p.id < $4)) ORDER BY p.best_at DESC, p.id DESC LIMIT $5"
        ),
    };
    sqlx::query_as(sql)
        .bind(viewer)
        .bind(school_id)
        .bind(cursor.0)
        .bind(cursor.1)
        .bind(limit)
        .fetch_all(e)
        .await
}

/// The viewer's own posts, newest first.
pub(crate) async fn list_my_posts<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
    before: i64,
    limit: i64,
) -> sqlx::Result<Vec<PostRow>> {
    sqlx::query_as(concat!(
        post_select!(),
        " WHERE p.author_id = $1 AND p.school_id = $2",
        listed!(),
        " AND p.id < $3 ORDER BY p.id DESC LIMIT $4"
    ))
    .bind(viewer)
    .bind(school_id)
    .bind(before)
    .bind(limit)
    .fetch_all(e)
    .await
}

/// Posts the viewer has a live comment on, newest post first.
pub(crate) async fn list_commented_posts<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
    before: i64,
    limit: i64,
) -> sqlx::Result<Vec<PostRow>> {
    sqlx::query_as(concat!(
        post_select!(),
        " WHERE p.id IN (SELECT c.post_id FROM comment c WHERE c.author_id = $1 AND c.deleted_at IS NULL) \
         AND p.school_id = $2",
        listed!(),
        " AND p.id < $3 ORDER BY p.id DESC LIMIT $4"
    ))
    .bind(viewer)
    .bind(school_id)
    .bind(before)
    .bind(limit)
    .fetch_all(e)
    .await
}

/// The viewer's scraps, latest scrap first, below the scrap id `before`.
pub(crate) async fn list_scraps<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
    before: i64,
    limit: i64,
) -> sqlx::Result<Vec<PostRow>> {
    sqlx::query_as(concat!(
        "SELECT ",
        post_columns!(),
        ", ms.id AS scrap_id FROM post_scrap ms JOIN post p ON p.id = ms.post_id \
         WHERE ms.user_id = $1 AND p.school_id = $2",
        listed!(),
        " AND ms.id < $3 ORDER BY ms.id DESC LIMIT $4"
    ))
    .bind(viewer)
    .bind(school_id)
    .bind(before)
    .bind(limit)
    .fetch_all(e)
    .await
}

/// A photo's listing on a post.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct PhotoRow {
    pub(crate) id: i64,
    pub(crate) post_id: i64,
    pub(crate) content_type: String,
}

/// The photos of several posts in one query.
pub(crate) async fn photos_of<'c, E: Executor<'c, Database = Any>>(
    e: E,
    post_ids: &[i64],
) -> sqlx::Result<Vec<PhotoRow>> {
    if post_ids.is_empty() {
        return Ok(Vec::new());
    }
    // Only numbered placeholders are spliced in; the ids themselves are bound.
    let placeholders: Vec<String> = (1..=post_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, post_id, content_type FROM photo WHERE post_id IN ({}) ORDER BY post_id, id",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for id in post_ids {
        query = query.bind(*id);
    }
    query.fetch_all(e).await
}

// ---------------------------------------------------------------------------------------------
// posts: writes

/// What the write paths need to know about a live post of a school.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct PostMeta {
    pub(crate) id: i64,
    pub(crate) board_id: i64,
    pub(crate) author_id: i64,
    pub(crate) anonymous: i64,
    pub(crate) hot_disabled: i64,
    pub(crate) photo_count: i64,
}

pub(crate) async fn post_meta<'c, E: Executor<'c, Database = Any>>(
    e: E,
    school_id: i64,
    id: i64,
) -> sqlx::Result<Option<PostMeta>> {
    sqlx::query_as(
        "SELECT p.id, p.board_id, p.author_id, p.anonymous, b.hot_disabled, p.photo_count FROM post p \
         JOIN board b ON b.id = p.board_id \
         WHERE p.id = $1 AND p.school_id = $2 AND p.deleted_at IS NULL",
    )
    .bind(id)
    .bind(school_id)
    .fetch_optional(e)
    .await
}

/// The fields of a new post.
#[derive(Debug)]
pub(crate) struct NewPostRow<'a> {
    pub(crate) id: i64,
    pub(crate) school_id: i64,
    pub(crate) board_id: i64,
    pub(crate) author_id: i64,
    pub(crate) author_nickname: &'a str,
    pub(crate) anonymous: bool,
    pub(crate) title: &'a str,
    pub(crate) content: &'a str,
    pub(crate) now: i64,
}

/// The SQL of CreatePost's one statement (the benchmark runs it through `reference`).
pub(crate) const INSERT_POST_SQL: &str = "INSERT INTO post (id, school_id, board_id, author_id, author_nickname, anonymous, \
     title, content, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)";

pub(crate) async fn insert_post<'c, E: Executor<'c, Database = Any>>(
    e: E,
    p: &NewPostRow<'_>,
) -> sqlx::Result<()> {
    sqlx::query(INSERT_POST_SQL)
        .bind(p.id)
        .bind(p.school_id)
        .bind(p.board_id)
        .bind(p.author_id)
        .bind(p.author_nickname)
        .bind(i64::from(p.anonymous))
        .bind(p.title)
        .bind(p.content)
        .bind(p.now)
        .execute(e)
        .await?;
    Ok(())
}

pub(crate) async fn update_post(
    tx: &mut AnyConnection,
    id: i64,
    title: Option<&str>,
    content: Option<&str>,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE post SET title = COALESCE($2, title), content = COALESCE($3, content), updated_at = $4 \
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(title)
    .bind(content)
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

pub(crate) async fn delete_post(tx: &mut AnyConnection, id: i64, now: i64) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE post SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a like; a second one is ALREADY_LIKED.
pub(crate) async fn insert_post_like(
    tx: &mut AnyConnection,
    post_id: i64,
    user_id: i64,
    now: i64,
) -> campus_shared::Result<()> {
    sqlx::query("INSERT INTO post_like (post_id, user_id, created_at) VALUES ($1, $2, $3)")
        .bind(post_id)
        .bind(user_id)
        .bind(now)
        .execute(tx)
        .await
        .map_err(|e| {
            unique_or(
                e,
                campus_shared::Error::already_exists(
                    crate::domain::reason::ALREADY_LIKED,
                    "you already liked this",
                ),
            )
        })?;
    Ok(())
}

/// A post right after a like was counted.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct LikedRow {
    pub(crate) like_count: i64,
    pub(crate) hot_at: Option<i64>,
    pub(crate) best_at: Option<i64>,
}

/// Counts a like and returns the new count with the HOT/BEST stamps as they were. The
/// UPDATE holds the post row (PostgreSQL) or the write lock (SQLite) until commit, so the
/// stamps read here cannot change before [`stamp_promotions`] runs in the same transaction.
pub(crate) async fn count_post_like(tx: &mut AnyConnection, post_id: i64) -> sqlx::Result<LikedRow> {
    sqlx::query_as(
        "UPDATE post SET like_count = like_count + 1 WHERE id = $1 RETURNING like_count, hot_at, best_at",
    )
    .bind(post_id)
    .fetch_one(tx)
    .await
}

/// Stamps `hot_at` / `best_at` (each only if unset) with `now`.
pub(crate) async fn stamp_promotions(
    tx: &mut AnyConnection,
    post_id: i64,
    promotions: crate::domain::Promotions,
    now: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE post SET hot_at = CASE WHEN $2 = 1 AND hot_at IS NULL THEN $4 ELSE hot_at END, \
         best_at = CASE WHEN $3 = 1 AND best_at IS NULL THEN $4 ELSE best_at END WHERE id = $1",
    )
    .bind(post_id)
    .bind(i64::from(promotions.hot))
    .bind(i64::from(promotions.best))
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

/// Records a scrap; a second one is ALREADY_SCRAPPED.
pub(crate) async fn insert_scrap(
    tx: &mut AnyConnection,
    post_id: i64,
    user_id: i64,
    now: i64,
) -> campus_shared::Result<()> {
    sqlx::query("INSERT INTO post_scrap (id, post_id, user_id, created_at) VALUES ($1, $2, $3, $4)")
        .bind(campus_shared::id::next_id())
        .bind(post_id)
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            unique_or(
                e,
                campus_shared::Error::already_exists(
                    crate::domain::reason::ALREADY_SCRAPPED,
                    "you already scrapped this post",
                ),
            )
        })?;
    sqlx::query("UPDATE post SET scrap_count = scrap_count + 1 WHERE id = $1")
        .bind(post_id)
        .execute(tx)
        .await?;
    Ok(())
}

/// Removes a scrap if there is one.
pub(crate) async fn delete_scrap(tx: &mut AnyConnection, post_id: i64, user_id: i64) -> sqlx::Result<()> {
    let done = sqlx::query("DELETE FROM post_scrap WHERE post_id = $1 AND user_id = $2")
        .bind(post_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    if done.rows_affected() > 0 {
        sqlx::query("UPDATE post SET scrap_count = scrap_count - 1 WHERE id = $1")
            .bind(post_id)
            .execute(tx)
            .await?;
    }
    Ok(())
}

/// Which kind of content a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reported {
    Post,
    Comment,
}

/// An item's reports right after one was counted, and whether it is already deleted.
#[derive(Debug, Clone, Copy, FromRow)]
pub(crate) struct ReportCount {
    pub(crate) report_count: i64,
    pub(crate) deleted: i64,
}

/// Records a report and counts it; a second report by the same user is ALREADY_REPORTED.
pub(crate) async fn insert_report(
    tx: &mut AnyConnection,
    kind: Reported,
    id: i64,
    user_id: i64,
    reason: &str,
    now: i64,
) -> campus_shared::Result<ReportCount> {
    let (insert, count) = match kind {
        Reported::Post => (
            "INSERT INTO post_report (post_id, user_id, reason, created_at) VALUES ($1, $2, $3, $4)",
            "UPDATE post SET report_count = report_count + 1 WHERE id = $1 RETURNING report_count, \
             CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END AS deleted",
        ),
        Reported::Comment => (
            "INSERT INTO comment_report (comment_id, user_id, reason, created_at) VALUES ($1, $2, $3, $4)",
            "UPDATE comment SET report_count = report_count + 1 WHERE id = $1 RETURNING report_count, \
             CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END AS deleted",
        ),
    };
    sqlx::query(insert).bind(id).bind(user_id).bind(reason).bind(now).execute(&mut *tx).await.map_err(
        |e| {
            unique_or(
                e,
                campus_shared::Error::already_exists(
                    crate::domain::reason::ALREADY_REPORTED,
                    "you already reported this",
                ),
            )
        },
    )?;
    Ok(sqlx::query_as(count).bind(id).fetch_one(tx).await?)
}

// ---------------------------------------------------------------------------------------------
// comments

/// A comment with what is needed to show its author.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct CommentRow {
    pub(crate) id: i64,
    pub(crate) post_id: i64,
    pub(crate) parent_id: i64,
    pub(crate) thread_id: i64,
    pub(crate) author_id: i64,
    pub(crate) author_nickname: String,
    pub(crate) anonymous: i64,
    pub(crate) anon_number: i64,
    pub(crate) content: String,
    pub(crate) like_count: i64,
    pub(crate) created_at: i64,
    pub(crate) deleted: i64,
    pub(crate) liked: i64,
}

/// `$1` is the viewer (counts, not EXISTS: see `board_select!`).
macro_rules! comment_select {
    () => {
        "SELECT c.id, c.post_id, c.parent_id, c.thread_id, c.author_id, c.author_nickname, c.anonymous, \
         c.anon_number, c.content, c.like_count, c.created_at, \
         CASE WHEN c.deleted_at IS NULL THEN 0 ELSE 1 END AS deleted, \
         (SELECT count(*) FROM comment_like l WHERE l.comment_id = c.id AND l.user_id = $1) AS liked \
         FROM comment c"
    };
}

/// A post's comments in thread order (each top-level comment followed by its replies), after
/// the cursor `(thread_id, id)`. Deleted comments show only while they have live replies.
pub(crate) async fn list_comments<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    post_id: i64,
    after: (i64, i64),
    limit: i64,
) -> sqlx::Result<Vec<CommentRow>> {
    sqlx::query_as(concat!(
        comment_select!(),
        " WHERE c.post_id = $2 AND (c.deleted_at IS NULL OR c.reply_count > 0) AND c.report_count < 5 \
         AND (c.thread_id > $3 OR (c.thread_id = $3 AND c.id > $4)) ORDER BY c.thread_id, c.id LIMIT $5"
    ))
    .bind(viewer)
    .bind(post_id)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(e)
    .await
}

/// A live comment of a live post of the school.
pub(crate) async fn get_comment<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
    id: i64,
) -> sqlx::Result<Option<CommentRow>> {
    sqlx::query_as(concat!(
        comment_select!(),
        " JOIN post p ON p.id = c.post_id \
         WHERE c.id = $2 AND p.school_id = $3 AND c.deleted_at IS NULL AND p.deleted_at IS NULL"
    ))
    .bind(viewer)
    .bind(id)
    .bind(school_id)
    .fetch_optional(e)
    .await
}

/// The first statement of CreateComment (the benchmark runs it through `reference`).
pub(crate) const COUNT_NEW_COMMENT_SQL: &str = "UPDATE post SET comment_count = comment_count + 1 \
     WHERE id = $1 AND school_id = $2 AND deleted_at IS NULL RETURNING author_id, anonymous";

/// Counts a new comment on a live post of the school and returns the post's author and
/// whether the post is anonymous. On PostgreSQL this also locks the post row, which
/// serialises the commenters of one post for the anonymous-number allocation that follows.
pub(crate) async fn count_new_comment(
    tx: &mut AnyConnection,
    post_id: i64,
    school_id: i64,
) -> sqlx::Result<Option<(i64, i64)>> {
    sqlx::query_as(COUNT_NEW_COMMENT_SQL).bind(post_id).bind(school_id).fetch_optional(tx).await
}

/// The commenter's anonymous number on a post: the one they already have, or the next one.
/// Callers hold the post row (see [`count_new_comment`]), so the read-then-insert is safe; the
/// unique indexes would refuse a duplicate anyway.
pub(crate) async fn anon_number(tx: &mut AnyConnection, post_id: i64, user_id: i64) -> sqlx::Result<i64> {
    let existing: Option<(i64,)> =
        sqlx::query_as("SELECT number FROM comment_anon WHERE post_id = $1 AND user_id = $2")
            .bind(post_id)
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?;
    if let Some((n,)) = existing {
        return Ok(n);
    }
    let (n,): (i64,) = sqlx::query_as(
        "UPDATE post SET anon_counter = anon_counter + 1 WHERE id = $1 RETURNING anon_counter",
    )
    .bind(post_id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO comment_anon (post_id, user_id, number) VALUES ($1, $2, $3)")
        .bind(post_id)
        .bind(user_id)
        .bind(n)
        .execute(tx)
        .await?;
    Ok(n)
}

/// A comment a reply would attach to: its post, its own parent, whether it is deleted, and
/// the author of the top comment the reply joins (its own author when it is the top).
#[derive(Debug, Clone, FromRow)]
pub(crate) struct ParentRow {
    pub(crate) id: i64,
    pub(crate) post_id: i64,
    pub(crate) parent_id: i64,
    pub(crate) deleted: i64,
    pub(crate) top_author_id: i64,
}

pub(crate) async fn comment_parent(
    tx: &mut AnyConnection,
    school_id: i64,
    id: i64,
) -> sqlx::Result<Option<ParentRow>> {
    sqlx::query_as(
        "SELECT c.id, c.post_id, c.parent_id, CASE WHEN c.deleted_at IS NULL THEN 0 ELSE 1 END AS deleted, \
         COALESCE(t.author_id, c.author_id) AS top_author_id \
         FROM comment c JOIN post p ON p.id = c.post_id LEFT JOIN comment t ON t.id = c.parent_id \
         WHERE c.id = $1 AND p.school_id = $2",
    )
    .bind(id)
    .bind(school_id)
    .fetch_optional(tx)
    .await
}

/// Changes a comment's count of live replies by `delta`.
pub(crate) async fn add_replies(tx: &mut AnyConnection, id: i64, delta: i64) -> sqlx::Result<()> {
    sqlx::query("UPDATE comment SET reply_count = reply_count + $2 WHERE id = $1")
        .bind(id)
        .bind(delta)
        .execute(tx)
        .await?;
    Ok(())
}

/// The fields of a new comment.
#[derive(Debug)]
pub(crate) struct NewCommentRow<'a> {
    pub(crate) id: i64,
    pub(crate) post_id: i64,
    pub(crate) parent_id: i64,
    pub(crate) thread_id: i64,
    pub(crate) author_id: i64,
    pub(crate) author_nickname: &'a str,
    pub(crate) anonymous: bool,
    pub(crate) anon_number: i64,
    pub(crate) content: &'a str,
    pub(crate) now: i64,
}

/// The last statement of CreateComment (the benchmark runs it through `reference`).
pub(crate) const INSERT_COMMENT_SQL: &str = "INSERT INTO comment (id, post_id, parent_id, thread_id, author_id, \
     author_nickname, anonymous, anon_number, content, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

pub(crate) async fn insert_comment(tx: &mut AnyConnection, c: &NewCommentRow<'_>) -> sqlx::Result<()> {
    sqlx::query(INSERT_COMMENT_SQL)
        .bind(c.id)
        .bind(c.post_id)
        .bind(c.parent_id)
        .bind(c.thread_id)
        .bind(c.author_id)
        .bind(c.author_nickname)
        .bind(i64::from(c.anonymous))
        .bind(c.anon_number)
        .bind(c.content)
        .bind(c.now)
        .execute(tx)
        .await?;
    Ok(())
}

/// Soft-deletes a comment (wiping its text) and uncounts it; false when it was already gone.
pub(crate) async fn delete_comment(tx: &mut AnyConnection, c: &CommentRow, now: i64) -> sqlx::Result<bool> {
    // The post row first, as in comment creation, so concurrent writers lock in one order.
    sqlx::query("UPDATE post SET comment_count = comment_count - 1 WHERE id = $1")
        .bind(c.post_id)
        .execute(&mut *tx)
        .await?;
    let done =
        sqlx::query("UPDATE comment SET deleted_at = $2, content = '' WHERE id = $1 AND deleted_at IS NULL")
            .bind(c.id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    if c.parent_id != 0 {
        add_replies(tx, c.parent_id, -1).await?;
    }
    Ok(true)
}

/// Records and counts a comment like; a second one is ALREADY_LIKED.
pub(crate) async fn like_comment(
    tx: &mut AnyConnection,
    comment_id: i64,
    user_id: i64,
    now: i64,
) -> campus_shared::Result<()> {
    sqlx::query("INSERT INTO comment_like (comment_id, user_id, created_at) VALUES ($1, $2, $3)")
        .bind(comment_id)
        .bind(user_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            unique_or(
                e,
                campus_shared::Error::already_exists(
                    crate::domain::reason::ALREADY_LIKED,
                    "you already liked this",
                ),
            )
        })?;
    sqlx::query("UPDATE comment SET like_count = like_count + 1 WHERE id = $1")
        .bind(comment_id)
        .execute(tx)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// photos

/// Counts a photo on a post unless it already has `max`; false when full (or just deleted).
pub(crate) async fn count_photo(tx: &mut AnyConnection, post_id: i64, max: i64) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE post SET photo_count = photo_count + 1 WHERE id = $1 AND deleted_at IS NULL AND photo_count < $2",
    )
    .bind(post_id)
    .bind(max)
    .execute(tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The fields of a stored photo.
#[derive(Debug)]
pub(crate) struct NewPhotoRow<'a> {
    pub(crate) id: i64,
    pub(crate) post_id: i64,
    pub(crate) owner_id: i64,
    pub(crate) content_type: &'a str,
    pub(crate) size_bytes: i64,
    pub(crate) now: i64,
}

pub(crate) async fn insert_photo(tx: &mut AnyConnection, p: &NewPhotoRow<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO photo (id, post_id, owner_id, content_type, size_bytes, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(p.id)
    .bind(p.post_id)
    .bind(p.owner_id)
    .bind(p.content_type)
    .bind(p.size_bytes)
    .bind(p.now)
    .execute(tx)
    .await?;
    Ok(())
}

/// The content type of a photo on a live post of the school.
pub(crate) async fn photo_type<'c, E: Executor<'c, Database = Any>>(
    e: E,
    school_id: i64,
    id: i64,
) -> sqlx::Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT ph.content_type FROM photo ph JOIN post p ON p.id = ph.post_id \
         WHERE ph.id = $1 AND p.school_id = $2 AND p.deleted_at IS NULL",
    )
    .bind(id)
    .bind(school_id)
    .fetch_optional(e)
    .await?;
    Ok(row.map(|(t,)| t))
}

// ---------------------------------------------------------------------------------------------
// internal

/// Who wrote a live post or comment: `(author_id, school_id, post_id, anonymous)`.
pub(crate) async fn content_author<'c, E: Executor<'c, Database = Any>>(
    e: E,
    school_id: i64,
    post_id: Option<i64>,
    comment_id: Option<i64>,
) -> sqlx::Result<Option<(i64, i64, i64, i64)>> {
    match (post_id, comment_id) {
        (Some(id), _) => {
            sqlx::query_as(
                "SELECT author_id, school_id, id, anonymous FROM post \
                 WHERE id = $1 AND school_id = $2 AND deleted_at IS NULL",
            )
            .bind(id)
            .bind(school_id)
            .fetch_optional(e)
            .await
        }
        (None, Some(id)) => {
            sqlx::query_as(
                "SELECT c.author_id, p.school_id, p.id, c.anonymous FROM comment c JOIN post p ON p.id = c.post_id \
                 WHERE c.id = $1 AND p.school_id = $2 AND c.deleted_at IS NULL AND p.deleted_at IS NULL",
            )
            .bind(id)
            .bind(school_id)
            .fetch_optional(e)
            .await
        }
        (None, None) => Ok(None),
    }
}

// Declared last so it sees the column macros above.
pub mod accounts;
pub(crate) mod events;
pub mod search;
