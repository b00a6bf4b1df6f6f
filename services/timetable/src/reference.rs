//! What the whole-system benchmark (`campus-bench`) may take from this crate, and nothing
//! else: the SQL its R2 reference runs under pgbench, statement for statement what
//! AddTimetableLecture and RemoveTimetableLecture issue on PostgreSQL. Everything else the
//! benchmark measures over the wire.
//!
//! Placeholders are the store's (`$1`, …), in the order each statement binds them.

/// Locks the caller's timetable row first: `$1` timetable, `$2` owner.
pub const LOCK_TIMETABLE_PG_SQL: &str = crate::store::timetables::LOCK_TIMETABLE_PG_SQL;

/// The lecture to add, within the caller's school: `$1` lecture, `$2` school.
pub const LECTURE_IN_SCHOOL_SQL: &str = crate::store::lectures::LECTURE_IN_SCHOOL_SQL;

/// The lectures already in the timetable: `$1` timetable.
pub const VIEW_LECTURES_SQL: &str = crate::store::timetables::VIEW_LECTURES_SQL;

/// The custom entries of the timetable: `$1` timetable.
pub const VIEW_ENTRIES_SQL: &str = crate::store::timetables::VIEW_ENTRIES_SQL;

/// The write once the lecture fits: `$1` timetable, `$2` lecture, `$3` now.
pub const INSERT_TIMETABLE_LECTURE_SQL: &str = crate::store::timetables::INSERT_TIMETABLE_LECTURE_SQL;

/// RemoveTimetableLecture's delete: `$1` lecture, `$2` timetable.
pub const DELETE_TIMETABLE_LECTURE_SQL: &str = crate::store::timetables::DELETE_TIMETABLE_LECTURE_SQL;

/// Every change ends by touching the timetable: `$1` timetable, `$2` now.
pub const TOUCH_TIMETABLE_SQL: &str = crate::store::timetables::TOUCH_TIMETABLE_SQL;
