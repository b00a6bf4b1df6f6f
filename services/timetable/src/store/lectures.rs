//! The lecture catalog: its import, one lecture, and the search.

use campus_shared::db::now_micros;
use campus_shared::error::{Error, Result};
use campus_shared::id::next_id;
use sqlx::AnyConnection;

use super::{lecture_columns, lecture_from, slots_to_json};
use crate::domain::import::CatalogRow;
use crate::domain::schedule::{Item, ItemKind, Slot};
use crate::domain::{self, LectureCandidate};

/// A lecture of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LectureRow {
    pub id: i64,
    pub school_id: i64,
    pub year: i64,
    pub semester: i64,
    pub code: String,
    pub section: String,
    pub name: String,
    pub professor: String,
    pub credits: i64,
    pub category: String,
    pub times: Vec<Slot>,
}

impl LectureRow {
    /// The lecture as the rules of adding one to a timetable see it.
    pub(crate) fn candidate(&self) -> LectureCandidate<'_> {
        LectureCandidate {
            code: &self.code,
            term: (self.year, self.semester),
            item: Item {
                kind: ItemKind::Lecture,
                id: self.id,
                name: self.name.clone(),
                slots: self.times.clone(),
            },
        }
    }
}

/// Upserts a parsed catalog into one school's semester by (school, year, semester, code,
/// section); answers how many rows were written.
pub(crate) async fn import_lectures(
    tx: &mut AnyConnection,
    school_id: i64,
    year: i64,
    semester: i64,
    rows: &[CatalogRow],
) -> Result<i64> {
    let now = now_micros();
    for row in rows {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO lecture (id, school_id, year, semester, code, section, name, professor, credits, \
             category, times, code_folded, name_folded, professor_folded, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) \
             ON CONFLICT (school_id, year, semester, code, section) DO UPDATE SET \
             name = excluded.name, professor = excluded.professor, credits = excluded.credits, \
             category = excluded.category, times = excluded.times, name_folded = excluded.name_folded, \
             professor_folded = excluded.professor_folded, updated_at = excluded.updated_at \
             RETURNING id",
        )
        .bind(next_id())
        .bind(school_id)
        .bind(year)
        .bind(semester)
        .bind(&row.code)
        .bind(&row.section)
        .bind(&row.name)
        .bind(&row.professor)
        .bind(row.credits)
        .bind(&row.category)
        .bind(slots_to_json(&row.times)?)
        .bind(domain::fold(&row.code))
        .bind(domain::fold(&row.name))
        .bind(domain::fold(&row.professor))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM lecture_slot WHERE lecture_id = $1").bind(id).execute(&mut *tx).await?;
        for (position, slot) in row.times.iter().enumerate() {
            sqlx::query(
                "INSERT INTO lecture_slot (lecture_id, position, day, start_minute, end_minute) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(position as i64)
            .bind(i64::from(slot.day))
            .bind(i64::from(slot.start))
            .bind(i64::from(slot.end))
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(rows.len() as i64)
}

/// AddTimetableLecture's read of the lecture (the benchmark runs it through `reference`).
pub(crate) const LECTURE_IN_SCHOOL_SQL: &str =
    concat!("SELECT ", lecture_columns!(), " FROM lecture l WHERE l.id = $1 AND l.school_id = $2");

/// A lecture of the caller's school; any other is NOT_FOUND.
pub(crate) async fn lecture_in_school(
    conn: &mut AnyConnection,
    school_id: i64,
    id: i64,
) -> Result<LectureRow> {
    let row = sqlx::query(LECTURE_IN_SCHOOL_SQL).bind(id).bind(school_id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(lecture_from).transpose()?.ok_or(Error::NotFound("lecture"))
}

/// The filters of a lecture search, already validated.
#[derive(Debug, Clone, Default)]
pub(crate) struct LectureFilter {
    pub school_id: i64,
    pub year: i64,
    pub semester: i64,
    pub query: Option<String>,
    pub professor: Option<String>,
    pub day: Option<i64>,
    pub time_from: Option<i64>,
    pub time_to: Option<i64>,
    pub credits: Option<i64>,
}

enum Bind {
    Int(i64),
    Text(String),
}

/// One page of lectures ordered by (code, id), after the `after` cursor.
pub(crate) async fn search_lectures(
    conn: &mut AnyConnection,
    filter: &LectureFilter,
    after: Option<(String, i64)>,
    limit: i64,
) -> Result<Vec<LectureRow>> {
    let mut sql = String::from(concat!(
        "SELECT ",
        lecture_columns!(),
        " FROM lecture l WHERE l.school_id = $1 AND l.year = $2 AND l.semester = $3"
    ));
    let mut binds = vec![Bind::Int(filter.school_id), Bind::Int(filter.year), Bind::Int(filter.semester)];
    // Each placeholder is bound once (SQLite numbers `$n` by name, so reuse is avoided).
    let mut push = |sql: &mut String, template: &str, values: Vec<Bind>| {
        let mut fragment = template.to_string();
        for value in values {
            binds.push(value);
            fragment = fragment.replacen("{}", &format!("${}", binds.len()), 1);
        }
        sql.push_str(&fragment);
    };
    if let Some(query) = &filter.query {
        let pattern = domain::contains_pattern(query);
        push(
            &mut sql,
            " AND (l.code_folded LIKE {} ESCAPE '\\' OR l.name_folded LIKE {} ESCAPE '\\')",
            vec![Bind::Text(pattern.clone()), Bind::Text(pattern)],
        );
    }
    if let Some(professor) = &filter.professor {
        push(
            &mut sql,
            " AND l.professor_folded LIKE {} ESCAPE '\\'",
            vec![Bind::Text(domain::contains_pattern(professor))],
        );
    }
    if let Some(credits) = filter.credits {
        push(&mut sql, " AND l.credits = {}", vec![Bind::Int(credits)]);
    }
    if let Some(day) = filter.day {
        push(
            &mut sql,
            " AND EXISTS (SELECT 1 FROM lecture_slot s WHERE s.lecture_id = l.id AND s.day = {})",
            vec![Bind::Int(day)],
        );
    }
    if filter.time_from.is_some() || filter.time_to.is_some() {
        push(
            &mut sql,
            " AND NOT EXISTS (SELECT 1 FROM lecture_slot s WHERE s.lecture_id = l.id \
             AND (s.start_minute < {} OR s.end_minute > {}))",
            vec![
                Bind::Int(filter.time_from.unwrap_or(0)),
                Bind::Int(filter.time_to.unwrap_or(domain::schedule::MINUTES_PER_DAY)),
            ],
        );
    }
    if let Some((code, id)) = after {
        push(
            &mut sql,
            " AND (l.code > {} OR (l.code = {} AND l.id > {}))",
            vec![Bind::Text(code.clone()), Bind::Text(code), Bind::Int(id)],
        );
    }
    push(&mut sql, " ORDER BY l.code, l.id LIMIT {}", vec![Bind::Int(limit)]);

    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for bind in binds {
        query = match bind {
            Bind::Int(v) => query.bind(v),
            Bind::Text(v) => query.bind(v),
        };
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter().map(lecture_from).collect()
}
