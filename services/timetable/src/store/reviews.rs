//! Lecture reviews and the rating summary computed from them.

use campus_shared::db::Backend;
use campus_shared::error::{Error, Result, is_unique_violation};
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row};

use crate::domain::review::{Attributes, RatingSummary};

/// A stored review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReviewRow {
    pub id: i64,
    pub lecture_id: i64,
    pub user_id: i64,
    pub content: String,
    pub attributes: Attributes,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A review's columns, as [`review_from`] reads them: its attributes from 4 on.
macro_rules! review_select {
    () => {
        "SELECT id, lecture_id, user_id, content, rating, assignments, team_projects, grading, attendance, \
         exams, created_at, updated_at FROM review"
    };
}

fn review_from(row: &AnyRow) -> Result<ReviewRow> {
    Ok(ReviewRow {
        id: row.try_get(0)?,
        lecture_id: row.try_get(1)?,
        user_id: row.try_get(2)?,
        content: row.try_get(3)?,
        attributes: attributes_from(row, 4)?,
        created_at: row.try_get(10)?,
        updated_at: row.try_get(11)?,
    })
}

/// The six attribute columns (rating first, exams last) from the column `first` on.
fn attributes_from(row: &AnyRow, first: usize) -> Result<Attributes> {
    Ok(Attributes {
        rating: row.try_get(first)?,
        assignments: row.try_get::<i64, _>(first + 1)? as i32,
        team_projects: row.try_get::<i64, _>(first + 2)? as i32,
        grading: row.try_get::<i64, _>(first + 3)? as i32,
        attendance: row.try_get::<i64, _>(first + 4)? as i32,
        exams: row.try_get(first + 5)?,
    })
}

/// Writes a review (its lecture already checked); a second review of one lecture by one user
/// is ALREADY_EXISTS / REVIEW_EXISTS.
pub(crate) async fn insert_review(tx: &mut AnyConnection, review: &ReviewRow) -> Result<()> {
    let insert = sqlx::query(
        "INSERT INTO review (id, lecture_id, user_id, rating, content, assignments, team_projects, grading, \
         attendance, exams, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(review.id)
    .bind(review.lecture_id)
    .bind(review.user_id);
    let inserted = bind_written(insert, review).bind(review.created_at).execute(&mut *tx).await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            Err(Error::already_exists("REVIEW_EXISTS", "you already reviewed this lecture; edit that review"))
        }
        other => other.map(|_| ()).map_err(Error::from),
    }
}

/// The caller's own review (others' reviews are NOT_FOUND), locked for an update.
pub(crate) async fn own_review(
    conn: &mut AnyConnection,
    backend: Backend,
    user_id: i64,
    id: i64,
) -> Result<ReviewRow> {
    let sql = match backend {
        Backend::Postgres => concat!(review_select!(), " WHERE id = $1 AND user_id = $2 FOR UPDATE"),
        Backend::Sqlite => concat!(review_select!(), " WHERE id = $1 AND user_id = $2"),
    };
    let row = sqlx::query(sql).bind(id).bind(user_id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(review_from).transpose()?.ok_or(Error::NotFound("review"))
}

/// Saves an edited review.
pub(crate) async fn save_review(tx: &mut AnyConnection, review: &ReviewRow) -> Result<()> {
    let update = sqlx::query(
        "UPDATE review SET rating = $2, content = $3, assignments = $4, team_projects = $5, grading = $6, \
         attendance = $7, exams = $8, updated_at = $9 WHERE id = $1",
    )
    .bind(review.id);
    bind_written(update, review).bind(review.updated_at).execute(&mut *tx).await?;
    Ok(())
}

/// Binds what a writer of the review says, in the order the INSERT and the UPDATE both take
/// it: rating, content, assignments, team projects, grading, attendance, exams.
fn bind_written<'q>(
    query: Query<'q, Any, AnyArguments>,
    review: &'q ReviewRow,
) -> Query<'q, Any, AnyArguments> {
    let a = review.attributes;
    query
        .bind(a.rating)
        .bind(&review.content)
        .bind(i64::from(a.assignments))
        .bind(i64::from(a.team_projects))
        .bind(i64::from(a.grading))
        .bind(i64::from(a.attendance))
        .bind(a.exams)
}

/// Deletes the caller's review.
pub(crate) async fn delete_review(tx: &mut AnyConnection, user_id: i64, id: i64) -> Result<()> {
    let deleted = sqlx::query("DELETE FROM review WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(Error::NotFound("review"));
    }
    Ok(())
}

/// A page of a lecture's reviews, newest first, before the `before` id (the lecture already
/// checked).
pub(crate) async fn list_reviews(
    conn: &mut AnyConnection,
    lecture_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ReviewRow>> {
    let rows = sqlx::query(concat!(
        review_select!(),
        " WHERE lecture_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
    ))
    .bind(lecture_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(review_from).collect()
}

/// A lecture's rating summary, computed from its reviews in one grouped read (a single
/// statement, so it is exact however many writers run beside it); the lecture already checked.
pub(crate) async fn rating(conn: &mut AnyConnection, lecture_id: i64) -> Result<RatingSummary> {
    let rows = sqlx::query(
        "SELECT rating, assignments, team_projects, grading, attendance, exams, count(*) FROM review \
         WHERE lecture_id = $1 GROUP BY rating, assignments, team_projects, grading, attendance, exams",
    )
    .bind(lecture_id)
    .fetch_all(&mut *conn)
    .await?;
    let groups = rows
        .iter()
        .map(|r| Ok((attributes_from(r, 0)?, r.try_get::<i64, _>(6)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(RatingSummary::from_groups(groups))
}
