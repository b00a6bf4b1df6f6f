//! What may join a timetable, and what a new timetable is called: the decisions
//! CreateTimetable, AddTimetableLecture and AddCustomEntry take once the timetable is loaded.

use campus_shared::error::{Error, Result};

use super::schedule::{Item, ItemKind, Schedule, find_conflict};
use super::{MAX_ENTRIES_PER_TIMETABLE, MAX_LECTURES_PER_TIMETABLE, default_timetable_name};

/// A lecture that would join a timetable, as far as the rules care.
#[derive(Debug, Clone)]
pub struct LectureCandidate<'a> {
    pub code: &'a str,
    /// (year, semester)
    pub term: (i64, i64),
    pub item: Item,
}

/// May `lecture` join a timetable of `term` whose grid is `schedule`? It must be of the
/// same semester (SEMESTER_MISMATCH), not there yet (LECTURE_ALREADY_ADDED), fit under the
/// limit (TOO_MANY_LECTURES) and collide with nothing (TIME_CONFLICT), checked in that order.
pub fn admit_lecture(term: (i64, i64), schedule: &Schedule, lecture: &LectureCandidate<'_>) -> Result<()> {
    if lecture.term != term {
        let (year, semester) = lecture.term;
        return Err(Error::failed_precondition(
            "SEMESTER_MISMATCH",
            format!(
                "lecture {} is from {year} {}, the timetable is for {} {}",
                lecture.code,
                semester_name(semester),
                term.0,
                semester_name(term.1)
            ),
        ));
    }
    let lectures = schedule.items().iter().filter(|i| i.kind == ItemKind::Lecture);
    if lectures.clone().any(|i| i.id == lecture.item.id) {
        return Err(Error::already_exists(
            "LECTURE_ALREADY_ADDED",
            "the lecture is already in this timetable",
        ));
    }
    if lectures.count() as i64 >= MAX_LECTURES_PER_TIMETABLE {
        return Err(Error::failed_precondition(
            "TOO_MANY_LECTURES",
            format!("a timetable holds at most {MAX_LECTURES_PER_TIMETABLE} lectures"),
        ));
    }
    fits(schedule, &lecture.item)
}

/// May the custom entry `entry` join a timetable whose grid is `schedule`? It must fit under
/// the limit (TOO_MANY_ENTRIES) and collide with nothing (TIME_CONFLICT).
pub fn admit_entry(schedule: &Schedule, entry: &Item) -> Result<()> {
    let entries = schedule.items().iter().filter(|i| i.kind == ItemKind::CustomEntry).count();
    if entries as i64 >= MAX_ENTRIES_PER_TIMETABLE {
        return Err(Error::failed_precondition(
            "TOO_MANY_ENTRIES",
            format!("a timetable holds at most {MAX_ENTRIES_PER_TIMETABLE} custom entries"),
        ));
    }
    fits(schedule, entry)
}

fn fits(schedule: &Schedule, item: &Item) -> Result<()> {
    match find_conflict(&item.slots, schedule.items()) {
        Some(conflict) => Err(conflict.into()),
        None => Ok(()),
    }
}

/// The name and primary flag of a new timetable beside its semester's `existing` ones (name,
/// primary): the name asked for or "시간표 N"; primary when the semester has no primary yet.
pub fn new_timetable<'a>(
    name: Option<&str>,
    existing: impl Iterator<Item = (&'a str, bool)> + Clone,
) -> (String, bool) {
    let primary = !existing.clone().any(|(_, primary)| primary);
    let name = match name {
        Some(name) => name.to_string(),
        None => default_timetable_name(existing.map(|(name, _)| name)),
    };
    (name, primary)
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

#[cfg(test)]
mod tests {
    use tonic::Status;
    use tonic_types::StatusExt;

    use super::*;
    use crate::domain::schedule::Slot;

    fn item(kind: ItemKind, id: i64, day: i32) -> Item {
        Item {
            kind,
            id,
            name: format!("#{id}"),
            slots: vec![Slot { day, start: 540, end: 600, room: String::new() }],
        }
    }

    fn reason(result: Result<()>) -> String {
        let status: Status = result.unwrap_err().into();
        status.get_error_details().error_info().map(|i| i.reason.clone()).unwrap_or_default()
    }

    fn candidate(id: i64, day: i32, term: (i64, i64)) -> LectureCandidate<'static> {
        LectureCandidate { code: "CS101", term, item: item(ItemKind::Lecture, id, day) }
    }

    #[test]
    fn a_lecture_joins_in_its_semester_once_and_where_it_fits() {
        let schedule = Schedule::new(vec![item(ItemKind::Lecture, 1, 1), item(ItemKind::CustomEntry, 2, 2)]);
        assert!(admit_lecture((2026, 1), &schedule, &candidate(3, 3, (2026, 1))).is_ok());
        assert_eq!(
            reason(admit_lecture((2026, 1), &schedule, &candidate(3, 3, (2026, 3)))),
            "SEMESTER_MISMATCH"
        );
        assert_eq!(
            reason(admit_lecture((2026, 1), &schedule, &candidate(1, 3, (2026, 1)))),
            "LECTURE_ALREADY_ADDED"
        );
        let status: Status =
            admit_lecture((2026, 1), &schedule, &candidate(3, 2, (2026, 1))).unwrap_err().into();
        let info = status.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.reason, "TIME_CONFLICT");
        assert_eq!(info.metadata["conflictingKind"], "customEntry");
        assert_eq!(info.metadata["conflictingId"], "2");
    }

    #[test]
    fn limits_count_their_own_kind() {
        let full: Vec<Item> = (0..MAX_LECTURES_PER_TIMETABLE)
            .map(|id| Item { slots: vec![], ..item(ItemKind::Lecture, id, 1) })
            .collect();
        let schedule = Schedule::new(full);
        assert_eq!(
            reason(admit_lecture((2026, 1), &schedule, &candidate(99, 3, (2026, 1)))),
            "TOO_MANY_LECTURES"
        );
        assert!(admit_entry(&schedule, &item(ItemKind::CustomEntry, 99, 3)).is_ok());
    }

    #[test]
    fn the_first_timetable_of_a_semester_is_primary() {
        assert_eq!(new_timetable(None, [].into_iter()), ("시간표 1".to_string(), true));
        let existing = [("시간표 1", true)];
        assert_eq!(new_timetable(Some("plan B"), existing.into_iter()), ("plan B".to_string(), false));
    }
}
