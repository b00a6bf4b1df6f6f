//! Every SQL statement of the timetable service, one module per resource.
//!
//! Functions here run statements on the connection or transaction they are given and answer
//! rows or the shared [`Result`]; they decide nothing. The gRPC layer opens the transaction
//! ([`campus_shared::db::Db::begin_write`]) and commits it, and the rules live in
//! [`crate::domain`]. Timetable changes lock the timetable row first (see
//! [`timetables::lock_timetable`]) so that concurrent adds to one timetable run one after
//! another and the conflict check always sees the latest state.

pub(crate) mod accounts;
pub(crate) mod grades;
pub(crate) mod lectures;
pub(crate) mod reviews;
pub(crate) mod timetables;

use campus_shared::error::{Error, Result};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::schedule::Slot;

pub(crate) use grades::CourseRow;
pub(crate) use lectures::{LectureFilter, LectureRow};
pub(crate) use reviews::ReviewRow;
pub(crate) use timetables::{EntryRow, TimetableRow, TimetableView};

/// The columns [`lecture_from`] reads, in its order (a macro so it can be `concat!`ed into
/// constant SQL).
macro_rules! lecture_columns {
    () => {
        "l.id, l.school_id, l.year, l.semester, l.code, l.section, l.name, l.professor, l.credits, \
         l.category, l.times"
    };
}
pub(crate) use lecture_columns;

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
