//! Lecture reviews: the attribute rules and the rating summary.

use std::collections::BTreeMap;

/// Review text: required, at most this many characters.
pub const MAX_CONTENT_CHARS: usize = 1000;
/// "4" means four or more exams.
pub const MAX_EXAMS: i64 = 4;

/// The attributes of one review, as stored (enum numbers of the proto).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Attributes {
    pub rating: i64,
    pub assignments: i32,
    pub team_projects: i32,
    pub grading: i32,
    pub attendance: i32,
    pub exams: i64,
}

/// A rating summary: average, count and the distribution of every attribute.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RatingSummary {
    pub count: i64,
    /// Rounded to two decimals; 0 without reviews.
    pub average: f64,
    pub assignments: BTreeMap<i32, i64>,
    pub team_projects: BTreeMap<i32, i64>,
    pub grading: BTreeMap<i32, i64>,
    pub attendance: BTreeMap<i32, i64>,
    pub exams: BTreeMap<i64, i64>,
}

impl RatingSummary {
    /// Sums `(attributes, how many reviews have exactly them)` groups, as a `GROUP BY` over
    /// every attribute returns them: exact, and bounded by the number of combinations.
    pub fn from_groups(groups: impl IntoIterator<Item = (Attributes, i64)>) -> Self {
        let mut summary = Self::default();
        let mut rating_sum = 0;
        for (a, n) in groups {
            summary.count += n;
            rating_sum += a.rating * n;
            *summary.assignments.entry(a.assignments).or_default() += n;
            *summary.team_projects.entry(a.team_projects).or_default() += n;
            *summary.grading.entry(a.grading).or_default() += n;
            *summary.attendance.entry(a.attendance).or_default() += n;
            *summary.exams.entry(a.exams).or_default() += n;
        }
        if summary.count > 0 {
            // Half-up to hundredths in integers: sum * 100 / count.
            let hundredths = (rating_sum * 200 + summary.count) / (2 * summary.count);
            summary.average = hundredths as f64 / 100.0;
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(rating: i64, exams: i64) -> Attributes {
        Attributes { rating, assignments: 1, team_projects: 2, grading: 3, attendance: 4, exams }
    }

    #[test]
    fn summarises_groups() {
        let s = RatingSummary::from_groups([(a(5, 2), 2), (a(4, 2), 1), (a(1, 4), 3)]);
        assert_eq!(s.count, 6);
        // (10 + 4 + 3) / 6 = 2.8333 → 2.83
        assert_eq!(s.average, 2.83);
        assert_eq!(s.exams.get(&2), Some(&3));
        assert_eq!(s.exams.get(&4), Some(&3));
        assert_eq!(s.assignments.get(&1), Some(&6));
    }

    #[test]
    fn empty_is_zero() {
        let s = RatingSummary::from_groups([]);
        assert_eq!((s.count, s.average), (0, 0.0));
        assert!(s.grading.is_empty());
    }
}
