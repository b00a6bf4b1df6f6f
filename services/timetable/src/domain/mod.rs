//! The timetable service's rules, free of I/O: slots and conflicts, the catalog CSV, GPA,
//! reviews, what may join a timetable, and the small field rules shared by the RPCs.

pub mod grades;
pub mod import;
pub mod review;
pub mod schedule;
pub mod timetable;

use campus_shared::error::Violations;
pub use campus_shared::text::Text;
pub use timetable::LectureCandidate;

/// Years a semester may belong to.
pub const YEARS: std::ops::RangeInclusive<i32> = 1950..=2100;
/// Timetable names: 1 to 20 characters.
pub const MAX_TIMETABLE_NAME_CHARS: usize = 20;
/// Custom entry titles: 1 to 30 characters.
pub const MAX_ENTRY_TITLE_CHARS: usize = 30;
/// At most this many lectures in one timetable.
pub const MAX_LECTURES_PER_TIMETABLE: i64 = 30;
/// At most this many custom entries in one timetable.
pub const MAX_ENTRIES_PER_TIMETABLE: i64 = 30;
/// Grade course names: 1 to 50 characters.
pub const MAX_COURSE_NAME_CHARS: usize = 50;
/// Course credits in the GPA calculator: 0 to 6.
pub const MAX_COURSE_CREDITS: i32 = 6;
/// At most this many courses in one semester's grades.
pub const MAX_COURSES_PER_SEMESTER: usize = 30;
/// Search text (query, professor): at most this many characters.
pub const MAX_SEARCH_CHARS: usize = 100;

/// Checks a year and a semester enum value (1..=4), recording problems under `year` and
/// `semester`.
pub fn check_term(year: i32, semester: i32, v: &mut Violations) {
    v.check(YEARS.contains(&year), "year", format!("must be {} to {}", YEARS.start(), YEARS.end()));
    v.check((1..=4).contains(&semester), "semester", "must be SPRING, SUMMER, FALL or WINTER");
}

/// Checks that a trimmed text has `min..=max` characters, all of which `kind` allows.
pub fn check_chars(value: &str, min: usize, max: usize, field: &str, kind: Text, v: &mut Violations) {
    let n = value.chars().count();
    if (min..=max).contains(&n) {
        campus_shared::text::check(v, field, value, kind);
    } else {
        let rule =
            if min == 0 { format!("at most {max} characters") } else { format!("{min} to {max} characters") };
        v.add(field, format!("must be {rule}"));
    }
}

/// The prefix of default timetable names.
pub const DEFAULT_NAME_PREFIX: &str = "시간표 ";

/// The name of a new unnamed timetable: "시간표 N" with the smallest N ≥ 1 that none of the
/// semester's timetables uses, so deleting "시간표 2" frees that name for the next one.
pub fn default_timetable_name<'a>(existing: impl IntoIterator<Item = &'a str>) -> String {
    let taken: std::collections::HashSet<u64> = existing
        .into_iter()
        .filter_map(|name| name.strip_prefix(DEFAULT_NAME_PREFIX)?.parse().ok())
        .collect();
    let n = (1..).find(|n| !taken.contains(n)).unwrap_or(1);
    format!("{DEFAULT_NAME_PREFIX}{n}")
}

/// Lower-cases text for case-insensitive search (Unicode-aware, unlike SQLite's `lower`).
pub fn fold(text: &str) -> String {
    text.to_lowercase()
}

/// A `LIKE` pattern matching `needle` anywhere, with `%`, `_` and `\` escaped (`ESCAPE '\'`).
pub fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in fold(needle).chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_names_fill_the_smallest_gap() {
        assert_eq!(default_timetable_name([]), "시간표 1");
        assert_eq!(default_timetable_name(["시간표 1", "시간표 3"]), "시간표 2");
        assert_eq!(default_timetable_name(["시간표 1", "my plan", "시간표 2"]), "시간표 3");
        assert_eq!(default_timetable_name(["시간표 x", "시간표 2"]), "시간표 1");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("Data"), "%data%");
        assert_eq!(contains_pattern("100%_a\\"), "%100\\%\\_a\\\\%");
    }

    #[test]
    fn terms_and_lengths() {
        let mut v = Violations::new();
        check_term(2026, 3, &mut v);
        check_chars("시간표", 1, 20, "name", Text::Line, &mut v);
        assert!(v.is_empty());
        check_term(0, 0, &mut v);
        check_chars("", 1, 20, "name", Text::Line, &mut v);
        check_chars("a\0", 1, 20, "title", Text::Line, &mut v);
        check_chars("good\nreview", 1, 20, "content", Text::Multiline, &mut v);
        let fields: Vec<&str> = v.iter().map(|x| x.field.as_str()).collect();
        assert_eq!(fields, ["year", "semester", "name", "title"]);
    }
}
