//! Posts: reads, lists, writes, and who wrote a post or comment (the internal service).

use campus_shared::error::Result;
use sqlx::{Any, AnyConnection, Executor, FromRow};

use super::{viewer_page, viewer_row};

/// A post as the viewer sees it in a list (without its content); `liked` and `scrapped` are
/// the viewer's.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct PostRow {
    pub(crate) id: i64,
    pub(crate) board_id: i64,
    pub(crate) author_id: i64,
    pub(crate) author_nickname: String,
    pub(crate) anonymous: i64,
    pub(crate) title: String,
    pub(crate) content_preview: String,
    pub(crate) like_count: i64,
    pub(crate) comment_count: i64,
    pub(crate) scrap_count: i64,
    pub(crate) photo_count: i64,
    pub(crate) first_photo_id: Option<i64>,
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

/// A post as the viewer sees it on its own: what lists show, and its whole content.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct PostDetailRow {
    #[sqlx(flatten)]
    pub(crate) post: PostRow,
    pub(crate) content: String,
}

/// The SQL of a ListPosts page (the benchmark runs it through `reference`).
pub(crate) const LIST_BOARD_POSTS_SQL: &str =
    post_list!(where "p.board_id = $2", page "p.id < $3 ORDER BY p.id DESC LIMIT $4");

pub(crate) async fn get_post<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
    id: i64,
) -> Result<Option<PostDetailRow>> {
    let sql = concat!(post_select!(), " WHERE p.id = $2 AND p.school_id = $3 AND p.deleted_at IS NULL");
    viewer_row(e, sql, viewer, id, school_id).await
}

/// A board's posts, newest first, below `before` (searching a board is [`search`]'s).
pub(crate) async fn list_board_posts<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    board_id: i64,
    before: i64,
    limit: i64,
) -> Result<Vec<PostRow>> {
    viewer_page(e, LIST_BOARD_POSTS_SQL, viewer, board_id, &[before], limit).await
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
) -> Result<Vec<PostRow>> {
    let sql = match ranking {
        Ranking::Hot => post_list!(
            where "p.school_id = $2 AND p.hot_at IS NOT NULL",
            page "(p.hot_at < $3 OR (p.hot_at = $3 AND p.id < $4)) ORDER BY p.hot_at DESC, p.id DESC LIMIT $5",
        ),
        Ranking::Best => post_list!(
            where "p.school_id = $2 AND p.best_at IS NOT NULL",
            page "(p.best_at < $3 OR (p.best_at = $3 AND p.id < $4)) ORDER BY p.best_at DESC, p.id DESC LIMIT $5",
        ),
    };
    viewer_page(e, sql, viewer, school_id, &[cursor.0, cursor.1], limit).await
}

/// The viewer's own lists of posts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MyList {
    /// The posts they wrote, newest first.
    Posts,
    /// The posts they have a live comment on, newest post first.
    Commented,
    /// Their scraps, latest scrap first, paged by the scrap's id.
    Scraps,
}

/// One page of one of the viewer's lists of their school's posts, below `before`.
pub(crate) async fn list_mine<'c, E: Executor<'c, Database = Any>>(
    e: E,
    viewer: i64,
    school_id: i64,
    list: MyList,
    before: i64,
    limit: i64,
) -> Result<Vec<PostRow>> {
    let sql = match list {
        MyList::Posts => post_list!(
            where "p.author_id = $1 AND p.school_id = $2",
            page "p.id < $3 ORDER BY p.id DESC LIMIT $4",
        ),
        MyList::Commented => post_list!(
            where "p.id IN (SELECT c.post_id FROM comment c WHERE c.author_id = $1 AND c.deleted_at IS NULL) \
                   AND p.school_id = $2",
            page "p.id < $3 ORDER BY p.id DESC LIMIT $4",
        ),
        MyList::Scraps => post_list!(
            from ", ms.id AS scrap_id FROM post_scrap ms JOIN post p ON p.id = ms.post_id",
            where "ms.user_id = $1 AND p.school_id = $2",
            page "ms.id < $3 ORDER BY ms.id DESC LIMIT $4",
        ),
    };
    viewer_page(e, sql, viewer, school_id, &[before], limit).await
}

impl PostRow {
    /// Where the row stands in `list`'s order, what the next page continues below.
    pub(crate) fn position_in(&self, list: MyList) -> i64 {
        match list {
            MyList::Scraps => self.scrap_id,
            MyList::Posts | MyList::Commented => self.id,
        }
    }
}

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
) -> Result<Option<PostMeta>> {
    Ok(sqlx::query_as(
        "SELECT p.id, p.board_id, p.author_id, p.anonymous, b.hot_disabled, p.photo_count FROM post p \
         JOIN board b ON b.id = p.board_id \
         WHERE p.id = $1 AND p.school_id = $2 AND p.deleted_at IS NULL",
    )
    .bind(id)
    .bind(school_id)
    .fetch_optional(e)
    .await?)
}

/// A post's new content with its preview (`domain::content_preview`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewContent<'a> {
    pub(crate) content: &'a str,
    pub(crate) preview: &'a str,
}

/// Changes the title, the content (and with it the preview), or both.
pub(crate) async fn update_post(
    tx: &mut AnyConnection,
    id: i64,
    title: Option<&str>,
    content: Option<NewContent<'_>>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE post SET title = COALESCE($2, title), content = COALESCE($3, content), \
         content_preview = COALESCE($4, content_preview), updated_at = $5 \
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(title)
    .bind(content.map(|c| c.content))
    .bind(content.map(|c| c.preview))
    .bind(now)
    .execute(tx)
    .await?;
    Ok(())
}

pub(crate) async fn delete_post(tx: &mut AnyConnection, id: i64, now: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE post SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Who wrote a live post or comment: `(author_id, school_id, post_id, anonymous)`.
pub(crate) async fn content_author<'c, E: Executor<'c, Database = Any>>(
    e: E,
    school_id: i64,
    post_id: Option<i64>,
    comment_id: Option<i64>,
) -> Result<Option<(i64, i64, i64, i64)>> {
    let row = match (post_id, comment_id) {
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
    };
    Ok(row?)
}
