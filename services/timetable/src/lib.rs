//! campus timetable service.
