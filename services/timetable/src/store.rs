//! Every SQL statement of the timetable service.
//!
//! Each write RPC is one transaction opened with [`Db::begin_write`]. Timetable changes lock
//! the timetable row first (see [`lock_timetable`]) so that concurrent adds to one timetable
//! run one after another and the conflict check always sees the latest state.

use campus_shared::db::{Backend, Db, now_micros};
use campus_shared::error::{Error, Result, is_unique_violation};
use campus_shared::id::next_id;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::domain::import::CatalogRow;
use crate::domain::review::{Attributes, RatingSummary};
use crate::domain::schedule::{Conflict, Item, ItemKind, Schedule, Slot};
use crate::domain::{self, MAX_ENTRIES_PER_TIMETABLE, MAX_LECTURES_PER_TIMETABLE};

/// A lecture of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LectureRow {
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

macro_rules! lecture_columns {
    () => {
        "l.id, l.school_id, l.year, l.semester, l.code, l.section, l.name, l.professor, l.credits, \
         l.category, l.times"
    };
}

fn slots_from_json(json: &str) -> Result<Vec<Slot>> {
    serde_json::from_str(json).map_err(|e| Error::Internal(Box::new(e)))
}

fn slots_to_json(slots: &[Slot]) -> Result<String> {
    serde_json::to_string(slots).map_err(|e| Error::Internal(Box::new(e)))
}

fn lecture_from(row: &AnyRow) -> Result<LectureRow> {
    Ok(LectureRow {
        id: row.try_get(0)?,
        school_id: row.try_get(1)?,
        year: row.try_get(2)?,
        semester: row.try_get(3)?,
        code: row.try_get(4)?,
        section: row.try_get(5)?,
        name: row.try_get(6)?,
        professor: row.try_get(7)?,
        credits: row.try_get(8)?,
        category: row.try_get(9)?,
        times: slots_from_json(&row.try_get::<String, _>(10)?)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Lectures

/// Imports a parsed catalog into one school's semester in a single transaction, upserting
/// by (school, year, semester, code, section); answers how many rows were written.
pub async fn import_lectures(
    db: &Db,
    school_id: i64,
    year: i64,
    semester: i64,
    rows: &[CatalogRow],
) -> Result<i64> {
    let mut tx = db.begin_write().await?;
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
    tx.commit().await?;
    Ok(rows.len() as i64)
}

/// A lecture of the caller's school.
pub async fn get_lecture(db: &Db, school_id: i64, id: i64) -> Result<LectureRow> {
    let mut conn = db.pool.acquire().await?;
    lecture_in_school(&mut conn, school_id, id).await
}

/// AddTimetableLecture's read of the lecture (the benchmark runs it through `reference`).
pub(crate) const LECTURE_IN_SCHOOL_SQL: &str =
    concat!("SELECT ", lecture_columns!(), " FROM lecture l WHERE l.id = $1 AND l.school_id = $2");

async fn lecture_in_school(conn: &mut AnyConnection, school_id: i64, id: i64) -> Result<LectureRow> {
    let row = sqlx::query(LECTURE_IN_SCHOOL_SQL).bind(id).bind(school_id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(lecture_from).transpose()?.ok_or(Error::NotFound("lecture"))
}

/// The filters of a lecture search, already validated.
#[derive(Debug, Clone, Default)]
pub struct LectureFilter {
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
pub async fn search_lectures(
    db: &Db,
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
    let rows = query.fetch_all(&db.pool).await?;
    rows.iter().map(lecture_from).collect()
}

// ---------------------------------------------------------------------------------------------
// Timetables

/// A timetable's own row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimetableRow {
    pub id: i64,
    pub user_id: i64,
    pub year: i64,
    pub semester: i64,
    pub name: String,
    pub primary: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A custom entry of a timetable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRow {
    pub id: i64,
    pub title: String,
    pub times: Vec<Slot>,
}

/// A timetable with its lectures (in the order added) and custom entries.
#[derive(Debug, Clone)]
pub struct TimetableView {
    pub timetable: TimetableRow,
    pub lectures: Vec<LectureRow>,
    pub entries: Vec<EntryRow>,
}

impl TimetableView {
    pub fn total_credits(&self) -> i64 {
        self.lectures.iter().map(|l| l.credits).sum()
    }

    /// The grid the conflict check works on.
    fn schedule(&self) -> Schedule {
        let lectures = self.lectures.iter().map(|l| Item {
            kind: ItemKind::Lecture,
            id: l.id,
            name: l.name.clone(),
            slots: l.times.clone(),
        });
        let entries = self.entries.iter().map(|e| Item {
            kind: ItemKind::CustomEntry,
            id: e.id,
            name: e.title.clone(),
            slots: e.times.clone(),
        });
        Schedule::new(lectures.chain(entries).collect())
    }
}

fn timetable_from(row: &AnyRow) -> Result<TimetableRow> {
    Ok(TimetableRow {
        id: row.try_get(0)?,
        user_id: row.try_get(1)?,
        year: row.try_get(2)?,
        semester: row.try_get(3)?,
        name: row.try_get(4)?,
        primary: row.try_get::<i64, _>(5)? == 1,
        created_at: row.try_get(6)?,
        updated_at: row.try_get(7)?,
    })
}

/// The caller's timetable, locked for the rest of the transaction on PostgreSQL
/// (`FOR UPDATE`). SQLite has no row locks and needs none: `BEGIN IMMEDIATE` already runs
/// writers one at a time. Someone else's timetable is NOT_FOUND.
/// Every change of a timetable starts with this on PostgreSQL (the benchmark runs it through
/// `reference`).
pub(crate) const LOCK_TIMETABLE_PG_SQL: &str = "SELECT id, user_id, year, semester, name, is_primary, created_at, \
     updated_at FROM timetable WHERE id = $1 AND user_id = $2 FOR UPDATE";

async fn lock_timetable(
    conn: &mut AnyConnection,
    backend: Backend,
    user_id: i64,
    id: i64,
) -> Result<TimetableRow> {
    let sql = match backend {
        Backend::Postgres => LOCK_TIMETABLE_PG_SQL,
        Backend::Sqlite => {
            "SELECT id, user_id, year, semester, name, is_primary, created_at, updated_at \
             FROM timetable WHERE id = $1 AND user_id = $2"
        }
    };
    let row = sqlx::query(sql).bind(id).bind(user_id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(timetable_from).transpose()?.ok_or(Error::NotFound("timetable"))
}

/// Locks every timetable of a user's semester (PostgreSQL), so changes of which one is
/// primary never race each other into the one-primary unique index.
async fn lock_semester(
    conn: &mut AnyConnection,
    backend: Backend,
    user_id: i64,
    year: i64,
    semester: i64,
) -> Result<Vec<TimetableRow>> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT id, user_id, year, semester, name, is_primary, created_at, updated_at FROM timetable \
             WHERE user_id = $1 AND year = $2 AND semester = $3 ORDER BY id FOR UPDATE"
        }
        Backend::Sqlite => {
            "SELECT id, user_id, year, semester, name, is_primary, created_at, updated_at FROM timetable \
             WHERE user_id = $1 AND year = $2 AND semester = $3 ORDER BY id"
        }
    };
    let rows = sqlx::query(sql).bind(user_id).bind(year).bind(semester).fetch_all(&mut *conn).await?;
    rows.iter().map(timetable_from).collect()
}

/// One of the caller's timetables and all of its semester's, locked together in id order
/// (PostgreSQL). Every change of which timetable is primary goes through here, and locking
/// the whole semester in one order (never one row first, then the rest) cannot deadlock.
async fn lock_in_semester(
    conn: &mut AnyConnection,
    backend: Backend,
    user_id: i64,
    id: i64,
) -> Result<(TimetableRow, Vec<TimetableRow>)> {
    let term: Option<(i64, i64)> =
        sqlx::query_as("SELECT year, semester FROM timetable WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?;
    let (year, semester) = term.ok_or(Error::NotFound("timetable"))?;
    let siblings = lock_semester(conn, backend, user_id, year, semester).await?;
    // Gone if it was deleted between the two reads.
    let timetable = siblings.iter().find(|t| t.id == id).cloned().ok_or(Error::NotFound("timetable"))?;
    Ok((timetable, siblings))
}

/// The lectures of a timetable, as every read and change of one loads them (the benchmark
/// runs it through `reference`).
pub(crate) const VIEW_LECTURES_SQL: &str = concat!(
    "SELECT ",
    lecture_columns!(),
    " FROM timetable_lecture tl JOIN lecture l ON l.id = tl.lecture_id \
     WHERE tl.timetable_id = $1 ORDER BY tl.added_at, l.id"
);

/// The custom entries of a timetable, loaded after [`VIEW_LECTURES_SQL`].
pub(crate) const VIEW_ENTRIES_SQL: &str =
    "SELECT id, title, times FROM custom_entry WHERE timetable_id = $1 ORDER BY id";

async fn load_view(conn: &mut AnyConnection, timetable: TimetableRow) -> Result<TimetableView> {
    let rows = sqlx::query(VIEW_LECTURES_SQL).bind(timetable.id).fetch_all(&mut *conn).await?;
    let lectures = rows.iter().map(lecture_from).collect::<Result<Vec<_>>>()?;
    let rows = sqlx::query(VIEW_ENTRIES_SQL).bind(timetable.id).fetch_all(&mut *conn).await?;
    let entries = rows
        .iter()
        .map(|r| {
            Ok(EntryRow {
                id: r.try_get(0)?,
                title: r.try_get(1)?,
                times: slots_from_json(&r.try_get::<String, _>(2)?)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(TimetableView { timetable, lectures, entries })
}

/// One of the caller's timetables.
pub async fn get_timetable(db: &Db, user_id: i64, id: i64) -> Result<TimetableView> {
    let mut conn = db.pool.acquire().await?;
    let row = sqlx::query(
        "SELECT id, user_id, year, semester, name, is_primary, created_at, updated_at \
         FROM timetable WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let timetable = row.as_ref().map(timetable_from).transpose()?.ok_or(Error::NotFound("timetable"))?;
    load_view(&mut conn, timetable).await
}

/// A user's primary timetable of a semester.
pub async fn primary_timetable(db: &Db, user_id: i64, year: i64, semester: i64) -> Result<TimetableView> {
    let mut conn = db.pool.acquire().await?;
    let row = sqlx::query(
        "SELECT id, user_id, year, semester, name, is_primary, created_at, updated_at FROM timetable \
         WHERE user_id = $1 AND year = $2 AND semester = $3 AND is_primary = 1",
    )
    .bind(user_id)
    .bind(year)
    .bind(semester)
    .fetch_optional(&mut *conn)
    .await?;
    let timetable = row.as_ref().map(timetable_from).transpose()?.ok_or(Error::NotFound("timetable"))?;
    load_view(&mut conn, timetable).await
}

/// The caller's timetables, of one semester or of all, oldest first.
pub async fn list_timetables(db: &Db, user_id: i64, term: Option<(i64, i64)>) -> Result<Vec<TimetableView>> {
    let mut conn = db.pool.acquire().await?;
    let rows =
        match term {
            Some((year, semester)) => sqlx::query(
                "SELECT id, user_id, year, semester, name, is_primary, created_at, updated_at FROM timetable \
                 WHERE user_id = $1 AND year = $2 AND semester = $3 ORDER BY id",
            )
            .bind(user_id)
            .bind(year)
            .bind(semester)
            .fetch_all(&mut *conn)
            .await?,
            None => sqlx::query(
                "SELECT id, user_id, year, semester, name, is_primary, created_at, updated_at FROM timetable \
                 WHERE user_id = $1 ORDER BY year, semester, id",
            )
            .bind(user_id)
            .fetch_all(&mut *conn)
            .await?,
        };
    let mut views = Vec::with_capacity(rows.len());
    for row in &rows {
        views.push(load_view(&mut conn, timetable_from(row)?).await?);
    }
    Ok(views)
}

/// Creates a timetable; the semester's first one is primary. `name` `None` picks "시간표 N".
pub async fn create_timetable(
    db: &Db,
    user_id: i64,
    school_id: i64,
    year: i64,
    semester: i64,
    name: Option<&str>,
) -> Result<TimetableView> {
    // Two concurrent "first" timetables of one semester both try to be primary on
    // PostgreSQL (there is no row to lock yet); the loser retries and sees the winner.
    let mut attempts = 0;
    loop {
        attempts += 1;
        match try_create_timetable(db, user_id, school_id, year, semester, name).await {
            Err(Error::Database(e)) if is_unique_violation(&e) && attempts < 3 => continue,
            other => return other,
        }
    }
}

async fn try_create_timetable(
    db: &Db,
    user_id: i64,
    school_id: i64,
    year: i64,
    semester: i64,
    name: Option<&str>,
) -> Result<TimetableView> {
    let mut tx = db.begin_write().await?;
    let existing = lock_semester(&mut tx, db.backend, user_id, year, semester).await?;
    let name = match name {
        Some(name) => name.to_string(),
        None => domain::default_timetable_name(existing.iter().map(|t| t.name.as_str())),
    };
    let primary = !existing.iter().any(|t| t.primary);
    let now = now_micros();
    let timetable = TimetableRow {
        id: next_id(),
        user_id,
        year,
        semester,
        name,
        primary,
        created_at: now,
        updated_at: now,
    };
    sqlx::query(
        "INSERT INTO timetable (id, user_id, school_id, year, semester, name, is_primary, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(timetable.id)
    .bind(user_id)
    .bind(school_id)
    .bind(year)
    .bind(semester)
    .bind(&timetable.name)
    .bind(i64::from(primary))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(TimetableView { timetable, lectures: Vec::new(), entries: Vec::new() })
}

/// Renames a timetable and/or makes it its semester's primary.
pub async fn update_timetable(
    db: &Db,
    user_id: i64,
    id: i64,
    name: Option<&str>,
    make_primary: bool,
) -> Result<TimetableView> {
    let mut tx = db.begin_write().await?;
    let (timetable, _) = lock_in_semester(&mut tx, db.backend, user_id, id).await?;
    let now = now_micros();
    if make_primary && !timetable.primary {
        sqlx::query(
            "UPDATE timetable SET is_primary = 0, updated_at = $4 \
             WHERE user_id = $1 AND year = $2 AND semester = $3 AND is_primary = 1",
        )
        .bind(user_id)
        .bind(timetable.year)
        .bind(timetable.semester)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE timetable SET is_primary = 1 WHERE id = $1").bind(id).execute(&mut *tx).await?;
    }
    if let Some(name) = name {
        sqlx::query("UPDATE timetable SET name = $2 WHERE id = $1")
            .bind(id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("UPDATE timetable SET updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let timetable = lock_timetable(&mut tx, db.backend, user_id, id).await?;
    let view = load_view(&mut tx, timetable).await?;
    tx.commit().await?;
    Ok(view)
}

/// Deletes a timetable; when it was primary, the semester's oldest remaining one becomes
/// primary.
pub async fn delete_timetable(db: &Db, user_id: i64, id: i64) -> Result<()> {
    let mut tx = db.begin_write().await?;
    let (timetable, siblings) = lock_in_semester(&mut tx, db.backend, user_id, id).await?;
    sqlx::query("DELETE FROM timetable_lecture WHERE timetable_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM custom_entry WHERE timetable_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM timetable WHERE id = $1").bind(id).execute(&mut *tx).await?;
    if timetable.primary
        && let Some(next) = siblings.iter().find(|t| t.id != id)
    {
        sqlx::query("UPDATE timetable SET is_primary = 1, updated_at = $2 WHERE id = $1")
            .bind(next.id)
            .bind(now_micros())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The outcome of adding to a timetable: the updated timetable, or the item it collides with.
pub type Added = std::result::Result<TimetableView, Conflict>;

/// AddTimetableLecture's write once the lecture fits (the benchmark runs it through `reference`).
pub(crate) const INSERT_TIMETABLE_LECTURE_SQL: &str =
    "INSERT INTO timetable_lecture (timetable_id, lecture_id, added_at) VALUES ($1, $2, $3)";

/// RemoveTimetableLecture's delete (the benchmark runs it through `reference`).
pub(crate) const DELETE_TIMETABLE_LECTURE_SQL: &str =
    "DELETE FROM timetable_lecture WHERE lecture_id = $1 AND timetable_id = $2";

/// Adds a lecture of the caller's school to one of the caller's timetables.
pub async fn add_lecture(
    db: &Db,
    user_id: i64,
    school_id: i64,
    timetable_id: i64,
    lecture_id: i64,
) -> Result<Added> {
    let mut tx = db.begin_write().await?;
    let timetable = lock_timetable(&mut tx, db.backend, user_id, timetable_id).await?;
    let lecture = lecture_in_school(&mut tx, school_id, lecture_id).await?;
    if (lecture.year, lecture.semester) != (timetable.year, timetable.semester) {
        return Err(Error::failed_precondition(
            "SEMESTER_MISMATCH",
            format!(
                "lecture {} is from {} {}, the timetable is for {} {}",
                lecture.code,
                lecture.year,
                semester_name(lecture.semester),
                timetable.year,
                semester_name(timetable.semester)
            ),
        ));
    }
    let view = load_view(&mut tx, timetable).await?;
    if view.lectures.iter().any(|l| l.id == lecture_id) {
        return Err(Error::already_exists(
            "LECTURE_ALREADY_ADDED",
            "the lecture is already in this timetable",
        ));
    }
    if view.lectures.len() as i64 >= MAX_LECTURES_PER_TIMETABLE {
        return Err(Error::failed_precondition(
            "TOO_MANY_LECTURES",
            format!("a timetable holds at most {MAX_LECTURES_PER_TIMETABLE} lectures"),
        ));
    }
    let mut schedule = view.schedule();
    let item = Item {
        kind: ItemKind::Lecture,
        id: lecture.id,
        name: lecture.name.clone(),
        slots: lecture.times.clone(),
    };
    if let Err(conflict) = schedule.try_add(item) {
        return Ok(Err(conflict));
    }
    let now = now_micros();
    sqlx::query(INSERT_TIMETABLE_LECTURE_SQL)
        .bind(timetable_id)
        .bind(lecture_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    touch(&mut tx, timetable_id, now).await?;
    let mut view = view;
    view.lectures.push(lecture);
    view.timetable.updated_at = now;
    tx.commit().await?;
    Ok(Ok(view))
}

/// Removes a lecture from one of the caller's timetables.
pub async fn remove_lecture(
    db: &Db,
    user_id: i64,
    timetable_id: i64,
    lecture_id: i64,
) -> Result<TimetableView> {
    let delete = DELETE_TIMETABLE_LECTURE_SQL;
    remove_item(db, user_id, timetable_id, delete, lecture_id, "lecture in this timetable").await
}

/// Adds a custom entry (already validated) to one of the caller's timetables.
pub async fn add_entry(
    db: &Db,
    user_id: i64,
    timetable_id: i64,
    title: &str,
    times: &[Slot],
) -> Result<Added> {
    let mut tx = db.begin_write().await?;
    let timetable = lock_timetable(&mut tx, db.backend, user_id, timetable_id).await?;
    let mut view = load_view(&mut tx, timetable).await?;
    if view.entries.len() as i64 >= MAX_ENTRIES_PER_TIMETABLE {
        return Err(Error::failed_precondition(
            "TOO_MANY_ENTRIES",
            format!("a timetable holds at most {MAX_ENTRIES_PER_TIMETABLE} custom entries"),
        ));
    }
    let id = next_id();
    let item = Item { kind: ItemKind::CustomEntry, id, name: title.to_string(), slots: times.to_vec() };
    if let Err(conflict) = view.schedule().try_add(item) {
        return Ok(Err(conflict));
    }
    let now = now_micros();
    sqlx::query(
        "INSERT INTO custom_entry (id, timetable_id, title, times, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(timetable_id)
    .bind(title)
    .bind(slots_to_json(times)?)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    touch(&mut tx, timetable_id, now).await?;
    view.entries.push(EntryRow { id, title: title.to_string(), times: times.to_vec() });
    view.timetable.updated_at = now;
    tx.commit().await?;
    Ok(Ok(view))
}

/// Removes a custom entry from one of the caller's timetables.
pub async fn remove_entry(db: &Db, user_id: i64, timetable_id: i64, entry_id: i64) -> Result<TimetableView> {
    let delete = "DELETE FROM custom_entry WHERE id = $1 AND timetable_id = $2";
    remove_item(db, user_id, timetable_id, delete, entry_id, "custom entry").await
}

/// Runs `delete` (binding the item id, then the timetable id) under the timetable's lock,
/// marks the timetable updated and answers its new view; NOT_FOUND names `what` when nothing
/// was deleted.
async fn remove_item(
    db: &Db,
    user_id: i64,
    timetable_id: i64,
    delete: &'static str,
    item_id: i64,
    what: &'static str,
) -> Result<TimetableView> {
    let mut tx = db.begin_write().await?;
    lock_timetable(&mut tx, db.backend, user_id, timetable_id).await?;
    let removed =
        sqlx::query(delete).bind(item_id).bind(timetable_id).execute(&mut *tx).await?.rows_affected();
    if removed == 0 {
        return Err(Error::NotFound(what));
    }
    touch(&mut tx, timetable_id, now_micros()).await?;
    let timetable = lock_timetable(&mut tx, db.backend, user_id, timetable_id).await?;
    let view = load_view(&mut tx, timetable).await?;
    tx.commit().await?;
    Ok(view)
}

/// Every change of a timetable ends with this (the benchmark runs it through `reference`).
pub(crate) const TOUCH_TIMETABLE_SQL: &str = "UPDATE timetable SET updated_at = $2 WHERE id = $1";

async fn touch(conn: &mut AnyConnection, timetable_id: i64, now: i64) -> Result<()> {
    sqlx::query(TOUCH_TIMETABLE_SQL).bind(timetable_id).bind(now).execute(conn).await?;
    Ok(())
}

fn semester_name(semester: i64) -> &'static str {
    match semester {
        1 => "spring",
        2 => "summer",
        3 => "fall",
        4 => "winter",
        _ => "?",
    }
}

// ---------------------------------------------------------------------------------------------
// Reviews

/// A stored review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRow {
    pub id: i64,
    pub lecture_id: i64,
    pub user_id: i64,
    pub content: String,
    pub attributes: Attributes,
    pub created_at: i64,
    pub updated_at: i64,
}

fn review_from(row: &AnyRow) -> Result<ReviewRow> {
    Ok(ReviewRow {
        id: row.try_get(0)?,
        lecture_id: row.try_get(1)?,
        user_id: row.try_get(2)?,
        content: row.try_get(4)?,
        attributes: Attributes {
            rating: row.try_get(3)?,
            assignments: row.try_get::<i64, _>(5)? as i32,
            team_projects: row.try_get::<i64, _>(6)? as i32,
            grading: row.try_get::<i64, _>(7)? as i32,
            attendance: row.try_get::<i64, _>(8)? as i32,
            exams: row.try_get(9)?,
        },
        created_at: row.try_get(10)?,
        updated_at: row.try_get(11)?,
    })
}

/// Writes a review of a lecture of the caller's school; one per user and lecture.
pub async fn create_review(
    db: &Db,
    user_id: i64,
    school_id: i64,
    lecture_id: i64,
    content: &str,
    a: Attributes,
) -> Result<ReviewRow> {
    let mut tx = db.begin_write().await?;
    lecture_in_school(&mut tx, school_id, lecture_id).await?;
    let now = now_micros();
    let review = ReviewRow {
        id: next_id(),
        lecture_id,
        user_id,
        content: content.to_string(),
        attributes: a,
        created_at: now,
        updated_at: now,
    };
    let inserted = sqlx::query(
        "INSERT INTO review (id, lecture_id, user_id, rating, content, assignments, team_projects, grading, \
         attendance, exams, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(review.id)
    .bind(lecture_id)
    .bind(user_id)
    .bind(a.rating)
    .bind(content)
    .bind(i64::from(a.assignments))
    .bind(i64::from(a.team_projects))
    .bind(i64::from(a.grading))
    .bind(i64::from(a.attendance))
    .bind(a.exams)
    .bind(now)
    .execute(&mut *tx)
    .await;
    match inserted {
        Err(e) if is_unique_violation(&e) => {
            return Err(Error::already_exists(
                "REVIEW_EXISTS",
                "you already reviewed this lecture; edit that review",
            ));
        }
        other => other?,
    };
    tx.commit().await?;
    Ok(review)
}

/// The caller's own review (others' reviews are NOT_FOUND), locked for an update.
async fn own_review(conn: &mut AnyConnection, backend: Backend, user_id: i64, id: i64) -> Result<ReviewRow> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT id, lecture_id, user_id, rating, content, assignments, team_projects, grading, \
                              attendance, exams, created_at, updated_at FROM review WHERE id = $1 AND user_id = $2 FOR UPDATE"
        }
        Backend::Sqlite => {
            "SELECT id, lecture_id, user_id, rating, content, assignments, team_projects, grading, \
                            attendance, exams, created_at, updated_at FROM review WHERE id = $1 AND user_id = $2"
        }
    };
    let row = sqlx::query(sql).bind(id).bind(user_id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(review_from).transpose()?.ok_or(Error::NotFound("review"))
}

/// Replaces the caller's review with `edit(review)`.
pub async fn update_review(
    db: &Db,
    user_id: i64,
    id: i64,
    edit: impl FnOnce(&mut ReviewRow),
) -> Result<ReviewRow> {
    let mut tx = db.begin_write().await?;
    let mut review = own_review(&mut tx, db.backend, user_id, id).await?;
    edit(&mut review);
    review.updated_at = now_micros();
    let a = review.attributes;
    sqlx::query(
        "UPDATE review SET rating = $2, content = $3, assignments = $4, team_projects = $5, grading = $6, \
         attendance = $7, exams = $8, updated_at = $9 WHERE id = $1",
    )
    .bind(id)
    .bind(a.rating)
    .bind(&review.content)
    .bind(i64::from(a.assignments))
    .bind(i64::from(a.team_projects))
    .bind(i64::from(a.grading))
    .bind(i64::from(a.attendance))
    .bind(a.exams)
    .bind(review.updated_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(review)
}

/// Deletes the caller's review.
pub async fn delete_review(db: &Db, user_id: i64, id: i64) -> Result<()> {
    let mut tx = db.begin_write().await?;
    let deleted = sqlx::query("DELETE FROM review WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(Error::NotFound("review"));
    }
    tx.commit().await?;
    Ok(())
}

/// A page of a lecture's reviews, newest first, before the `before` id.
pub async fn list_reviews(
    db: &Db,
    school_id: i64,
    lecture_id: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ReviewRow>> {
    let mut conn = db.pool.acquire().await?;
    lecture_in_school(&mut conn, school_id, lecture_id).await?;
    let rows = sqlx::query(
        "SELECT id, lecture_id, user_id, rating, content, assignments, team_projects, grading, attendance, exams, \
         created_at, updated_at FROM review WHERE lecture_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    )
    .bind(lecture_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(review_from).collect()
}

/// A lecture's rating summary, computed from its reviews in one grouped read (a single
/// statement, so it is exact however many writers run beside it).
pub async fn rating(db: &Db, school_id: i64, lecture_id: i64) -> Result<RatingSummary> {
    let mut conn = db.pool.acquire().await?;
    lecture_in_school(&mut conn, school_id, lecture_id).await?;
    let rows = sqlx::query(
        "SELECT rating, assignments, team_projects, grading, attendance, exams, count(*) FROM review \
         WHERE lecture_id = $1 GROUP BY rating, assignments, team_projects, grading, attendance, exams",
    )
    .bind(lecture_id)
    .fetch_all(&mut *conn)
    .await?;
    let groups = rows
        .iter()
        .map(|r| {
            Ok((
                Attributes {
                    rating: r.try_get(0)?,
                    assignments: r.try_get::<i64, _>(1)? as i32,
                    team_projects: r.try_get::<i64, _>(2)? as i32,
                    grading: r.try_get::<i64, _>(3)? as i32,
                    attendance: r.try_get::<i64, _>(4)? as i32,
                    exams: r.try_get(5)?,
                },
                r.try_get::<i64, _>(6)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RatingSummary::from_groups(groups))
}

// ---------------------------------------------------------------------------------------------
// Grades

/// One course of the GPA calculator, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CourseRow {
    pub year: i64,
    pub semester: i64,
    pub name: String,
    pub credits: i64,
    pub grade: String,
    pub major: bool,
}

/// Replaces one semester's courses (an empty list removes the semester).
pub async fn set_semester_grades(
    db: &Db,
    user_id: i64,
    year: i64,
    semester: i64,
    courses: &[CourseRow],
) -> Result<()> {
    let mut tx = db.begin_write().await?;
    let now = now_micros();
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
    tx.commit().await?;
    Ok(())
}

/// Every course of a user, by semester and then in the order entered.
pub async fn courses(db: &Db, user_id: i64) -> Result<Vec<CourseRow>> {
    let rows = sqlx::query(
        "SELECT year, semester, name, credits, grade, major FROM grade_course WHERE user_id = $1 \
         ORDER BY year, semester, position",
    )
    .bind(user_id)
    .fetch_all(&db.pool)
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
pub mod accounts;
