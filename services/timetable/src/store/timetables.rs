//! Timetables, their lectures and custom entries, and the locks that serialise changes of
//! one timetable.

use campus_shared::db::{Backend, now_micros};
use campus_shared::error::{Error, Result};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{LectureRow, lecture_columns, lecture_from, slots_from_json, slots_to_json};
use crate::domain::schedule::{Item, ItemKind, Schedule, Slot};

/// A timetable's own row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TimetableRow {
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
pub(crate) struct EntryRow {
    pub id: i64,
    pub title: String,
    pub times: Vec<Slot>,
}

impl EntryRow {
    /// The entry as it occupies a timetable's grid.
    pub(crate) fn item(&self) -> Item {
        Item { kind: ItemKind::CustomEntry, id: self.id, name: self.title.clone(), slots: self.times.clone() }
    }
}

/// A timetable with its lectures (in the order added) and custom entries.
#[derive(Debug, Clone)]
pub(crate) struct TimetableView {
    pub timetable: TimetableRow,
    pub lectures: Vec<LectureRow>,
    pub entries: Vec<EntryRow>,
}

impl TimetableView {
    pub(crate) fn total_credits(&self) -> i64 {
        self.lectures.iter().map(|l| l.credits).sum()
    }

    /// The timetable's (year, semester).
    pub(crate) fn term(&self) -> (i64, i64) {
        (self.timetable.year, self.timetable.semester)
    }

    /// The grid the conflict check works on.
    pub(crate) fn schedule(&self) -> Schedule {
        let lectures = self.lectures.iter().map(|l| l.candidate().item);
        Schedule::new(lectures.chain(self.entries.iter().map(EntryRow::item)).collect())
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

pub(crate) async fn lock_timetable(
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
pub(crate) async fn lock_semester(
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
pub(crate) async fn lock_in_semester(
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

/// One of the user's timetables with what it holds, under its lock ([`lock_timetable`]).
pub(crate) async fn locked_view(
    conn: &mut AnyConnection,
    backend: Backend,
    user_id: i64,
    id: i64,
) -> Result<TimetableView> {
    let timetable = lock_timetable(conn, backend, user_id, id).await?;
    load_view(conn, timetable).await
}

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
pub(crate) async fn get_timetable(conn: &mut AnyConnection, user_id: i64, id: i64) -> Result<TimetableView> {
    let row = sqlx::query(
        "SELECT id, user_id, year, semester, name, is_primary, created_at, updated_at \
         FROM timetable WHERE id = $1 AND user_id = $2",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let timetable = row.as_ref().map(timetable_from).transpose()?.ok_or(Error::NotFound("timetable"))?;
    load_view(conn, timetable).await
}

/// A user's primary timetable of a semester.
pub(crate) async fn primary_timetable(
    conn: &mut AnyConnection,
    user_id: i64,
    year: i64,
    semester: i64,
) -> Result<TimetableView> {
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
    load_view(conn, timetable).await
}

/// The caller's timetables, of one semester or of all, oldest first.
pub(crate) async fn list_timetables(
    conn: &mut AnyConnection,
    user_id: i64,
    term: Option<(i64, i64)>,
) -> Result<Vec<TimetableView>> {
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
        views.push(load_view(conn, timetable_from(row)?).await?);
    }
    Ok(views)
}

/// Inserts a new timetable of `school_id`.
pub(crate) async fn insert_timetable(
    tx: &mut AnyConnection,
    school_id: i64,
    timetable: &TimetableRow,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO timetable (id, user_id, school_id, year, semester, name, is_primary, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(timetable.id)
    .bind(timetable.user_id)
    .bind(school_id)
    .bind(timetable.year)
    .bind(timetable.semester)
    .bind(&timetable.name)
    .bind(i64::from(timetable.primary))
    .bind(timetable.created_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Makes `timetable` its semester's primary in place of the current one.
pub(crate) async fn make_primary(tx: &mut AnyConnection, timetable: &TimetableRow, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE timetable SET is_primary = 0, updated_at = $4 \
         WHERE user_id = $1 AND year = $2 AND semester = $3 AND is_primary = 1",
    )
    .bind(timetable.user_id)
    .bind(timetable.year)
    .bind(timetable.semester)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE timetable SET is_primary = 1 WHERE id = $1")
        .bind(timetable.id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub(crate) async fn rename_timetable(tx: &mut AnyConnection, id: i64, name: &str) -> Result<()> {
    sqlx::query("UPDATE timetable SET name = $2 WHERE id = $1").bind(id).bind(name).execute(&mut *tx).await?;
    Ok(())
}

/// Deletes a timetable with its lectures and custom entries.
pub(crate) async fn delete_timetable(tx: &mut AnyConnection, id: i64) -> Result<()> {
    sqlx::query("DELETE FROM timetable_lecture WHERE timetable_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM custom_entry WHERE timetable_id = $1").bind(id).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM timetable WHERE id = $1").bind(id).execute(&mut *tx).await?;
    Ok(())
}

/// Makes a timetable primary where its semester has none (after the primary was deleted).
pub(crate) async fn promote(tx: &mut AnyConnection, id: i64, now: i64) -> Result<()> {
    sqlx::query("UPDATE timetable SET is_primary = 1, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// AddTimetableLecture's write once the lecture fits (the benchmark runs it through `reference`).
pub(crate) const INSERT_TIMETABLE_LECTURE_SQL: &str =
    "INSERT INTO timetable_lecture (timetable_id, lecture_id, added_at) VALUES ($1, $2, $3)";

/// RemoveTimetableLecture's delete (the benchmark runs it through `reference`).
pub(crate) const DELETE_TIMETABLE_LECTURE_SQL: &str =
    "DELETE FROM timetable_lecture WHERE lecture_id = $1 AND timetable_id = $2";

/// Puts a lecture into a timetable and marks the timetable updated.
pub(crate) async fn insert_lecture(
    tx: &mut AnyConnection,
    timetable_id: i64,
    lecture_id: i64,
    now: i64,
) -> Result<()> {
    sqlx::query(INSERT_TIMETABLE_LECTURE_SQL)
        .bind(timetable_id)
        .bind(lecture_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    touch(tx, timetable_id, now).await
}

/// Removes a lecture from one of the caller's timetables; answers the timetable after.
pub(crate) async fn remove_lecture(
    tx: &mut AnyConnection,
    backend: Backend,
    user_id: i64,
    timetable_id: i64,
    lecture_id: i64,
) -> Result<TimetableView> {
    let delete = DELETE_TIMETABLE_LECTURE_SQL;
    remove_item(tx, backend, user_id, timetable_id, delete, lecture_id, "lecture in this timetable").await
}

/// Writes a custom entry into a timetable and marks the timetable updated.
pub(crate) async fn insert_entry(
    tx: &mut AnyConnection,
    timetable_id: i64,
    entry: &EntryRow,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO custom_entry (id, timetable_id, title, times, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(entry.id)
    .bind(timetable_id)
    .bind(&entry.title)
    .bind(slots_to_json(&entry.times)?)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    touch(tx, timetable_id, now).await
}

/// Removes a custom entry from one of the caller's timetables; answers the timetable after.
pub(crate) async fn remove_entry(
    tx: &mut AnyConnection,
    backend: Backend,
    user_id: i64,
    timetable_id: i64,
    entry_id: i64,
) -> Result<TimetableView> {
    let delete = "DELETE FROM custom_entry WHERE id = $1 AND timetable_id = $2";
    remove_item(tx, backend, user_id, timetable_id, delete, entry_id, "custom entry").await
}

/// Runs `delete` (binding the item id, then the timetable id) under the timetable's lock,
/// marks the timetable updated and answers its new view; NOT_FOUND names `what` when nothing
/// was deleted.
async fn remove_item(
    tx: &mut AnyConnection,
    backend: Backend,
    user_id: i64,
    timetable_id: i64,
    delete: &'static str,
    item_id: i64,
    what: &'static str,
) -> Result<TimetableView> {
    lock_timetable(tx, backend, user_id, timetable_id).await?;
    let removed =
        sqlx::query(delete).bind(item_id).bind(timetable_id).execute(&mut *tx).await?.rows_affected();
    if removed == 0 {
        return Err(Error::NotFound(what));
    }
    touch(tx, timetable_id, now_micros()).await?;
    locked_view(tx, backend, user_id, timetable_id).await
}

/// Every change of a timetable ends with this (the benchmark runs it through `reference`).
pub(crate) const TOUCH_TIMETABLE_SQL: &str = "UPDATE timetable SET updated_at = $2 WHERE id = $1";

/// Marks a timetable updated at `now`.
pub(crate) async fn touch(tx: &mut AnyConnection, timetable_id: i64, now: i64) -> Result<()> {
    sqlx::query(TOUCH_TIMETABLE_SQL).bind(timetable_id).bind(now).execute(&mut *tx).await?;
    Ok(())
}
