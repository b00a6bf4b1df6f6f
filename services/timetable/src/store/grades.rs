//! The GPA calculator's courses.

use campus_shared::error::Result;
use sqlx::{AnyConnection, Row};

/// One course of the GPA calculator, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CourseRow {
    pub year: i64,
    pub semester: i64,
    pub name: String,
    pub credits: i64,
    pub grade: String,
    pub major: bool,
}

/// Replaces one semester's courses (an empty list removes the semester).
pub(crate) async fn set_semester_grades(
    tx: &mut AnyConnection,
    user_id: i64,
    year: i64,
    semester: i64,
    courses: &[CourseRow],
) -> Result<()> {
    let now = campus_shared::db::now_micros();
    // Upserting the semester row first takes its row lock on PostgreSQL, so two concurrent
    // replacements of one semester run one after the other instead of mixing their courses.
    sqlx::query(
        "INSERT INTO grade_semester (user_id, year, semester, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, year, semester) DO UPDATE SET updated_at = excluded.updated_at",
    )
    .bind(user_id)
    .bind(year)
    .bind(semester)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM grade_course WHERE user_id = $1 AND year = $2 AND semester = $3")
        .bind(user_id)
        .bind(year)
        .bind(semester)
        .execute(&mut *tx)
        .await?;
    for (position, course) in courses.iter().enumerate() {
        sqlx::query(
            "INSERT INTO grade_course (user_id, year, semester, position, name, credits, grade, major) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(user_id)
        .bind(year)
        .bind(semester)
        .bind(position as i64)
        .bind(&course.name)
        .bind(course.credits)
        .bind(&course.grade)
        .bind(i64::from(course.major))
        .execute(&mut *tx)
        .await?;
    }
    if courses.is_empty() {
        sqlx::query("DELETE FROM grade_semester WHERE user_id = $1 AND year = $2 AND semester = $3")
            .bind(user_id)
            .bind(year)
            .bind(semester)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Every course of a user, by semester and then in the order entered.
pub(crate) async fn courses(conn: &mut AnyConnection, user_id: i64) -> Result<Vec<CourseRow>> {
    let rows = sqlx::query(
        "SELECT year, semester, name, credits, grade, major FROM grade_course WHERE user_id = $1 \
         ORDER BY year, semester, position",
    )
    .bind(user_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(CourseRow {
                year: r.try_get(0)?,
                semester: r.try_get(1)?,
                name: r.try_get(2)?,
                credits: r.try_get(3)?,
                grade: r.try_get(4)?,
                major: r.try_get::<i64, _>(5)? == 1,
            })
        })
        .collect()
}
