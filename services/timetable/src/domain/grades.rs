//! The GPA calculator on the 4.5 scale.
//!
//! Rules (Everytime's): letter grades count in the GPA weighted by credits, F included as 0;
//! P and NP are left out of the GPA. Earned credits (`credits`, `total_credits`) are the
//! credits of passed courses: letter grades D0 and up, and P. F and NP earn nothing. GPAs are
//! rounded half up to two decimals, computed in integers so no float error creeps in.

/// A grade letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grade {
    APlus,
    AZero,
    BPlus,
    BZero,
    CPlus,
    CZero,
    DPlus,
    DZero,
    F,
    Pass,
    NonPass,
}

/// The accepted letters, for error messages.
pub const LETTERS: &str = "A+, A0, B+, B0, C+, C0, D+, D0, F, P, NP";

impl Grade {
    pub fn parse(letter: &str) -> Option<Self> {
        let grade = match letter.trim() {
            "A+" => Self::APlus,
            "A0" => Self::AZero,
            "B+" => Self::BPlus,
            "B0" => Self::BZero,
            "C+" => Self::CPlus,
            "C0" => Self::CZero,
            "D+" => Self::DPlus,
            "D0" => Self::DZero,
            "F" => Self::F,
            "P" => Self::Pass,
            "NP" => Self::NonPass,
            _ => return None,
        };
        Some(grade)
    }

    pub fn letter(self) -> &'static str {
        match self {
            Self::APlus => "A+",
            Self::AZero => "A0",
            Self::BPlus => "B+",
            Self::BZero => "B0",
            Self::CPlus => "C+",
            Self::CZero => "C0",
            Self::DPlus => "D+",
            Self::DZero => "D0",
            Self::F => "F",
            Self::Pass => "P",
            Self::NonPass => "NP",
        }
    }

    /// Grade points in tenths (A+ = 45); `None` for P/NP, which stay out of the GPA.
    fn tenths(self) -> Option<i64> {
        match self {
            Self::APlus => Some(45),
            Self::AZero => Some(40),
            Self::BPlus => Some(35),
            Self::BZero => Some(30),
            Self::CPlus => Some(25),
            Self::CZero => Some(20),
            Self::DPlus => Some(15),
            Self::DZero => Some(10),
            Self::F => Some(0),
            Self::Pass | Self::NonPass => None,
        }
    }

    fn earns_credits(self) -> bool {
        !matches!(self, Self::F | Self::NonPass)
    }
}

/// One course as the calculator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradedCourse {
    pub credits: i64,
    pub grade: Grade,
    pub major: bool,
}

/// The sums a GPA is made of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    points_tenths: i64,
    gpa_credits: i64,
    major_points_tenths: i64,
    major_gpa_credits: i64,
    /// Credits of passed courses.
    pub earned_credits: i64,
}

impl Tally {
    pub fn of<'a>(courses: impl IntoIterator<Item = &'a GradedCourse>) -> Self {
        let mut tally = Self::default();
        for course in courses {
            tally.add(course);
        }
        tally
    }

    fn add(&mut self, course: &GradedCourse) {
        if let Some(tenths) = course.grade.tenths() {
            self.points_tenths += tenths * course.credits;
            self.gpa_credits += course.credits;
            if course.major {
                self.major_points_tenths += tenths * course.credits;
                self.major_gpa_credits += course.credits;
            }
        }
        if course.grade.earns_credits() {
            self.earned_credits += course.credits;
        }
    }

    /// Adds another tally (a semester into the overall one).
    pub fn merge(&mut self, other: &Tally) {
        self.points_tenths += other.points_tenths;
        self.gpa_credits += other.gpa_credits;
        self.major_points_tenths += other.major_points_tenths;
        self.major_gpa_credits += other.major_gpa_credits;
        self.earned_credits += other.earned_credits;
    }

    pub fn gpa(&self) -> f64 {
        rounded(self.points_tenths, self.gpa_credits)
    }

    pub fn major_gpa(&self) -> f64 {
        rounded(self.major_points_tenths, self.major_gpa_credits)
    }
}

/// `points_tenths / 10 / credits`, rounded half up to two decimals; 0 without credits.
fn rounded(points_tenths: i64, credits: i64) -> f64 {
    if credits <= 0 {
        return 0.0;
    }
    // hundredths = points_tenths * 10 / credits, rounded half up.
    let hundredths = (points_tenths * 20 + credits) / (2 * credits);
    hundredths as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(credits: i64, letter: &str, major: bool) -> GradedCourse {
        GradedCourse { credits, grade: Grade::parse(letter).unwrap(), major }
    }

    #[test]
    fn letters_round_trip_and_unknown_ones_are_refused() {
        for letter in LETTERS.split(", ") {
            assert_eq!(Grade::parse(letter).unwrap().letter(), letter);
        }
        for bad in ["A", "a+", "E", "B-", "", "PASS"] {
            assert_eq!(Grade::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn weighted_by_credits() {
        let t = Tally::of(&[c(3, "A+", true), c(2, "B0", false), c(1, "F", false)]);
        // (13.5 + 6 + 0) / 6 = 3.25
        assert_eq!(t.gpa(), 3.25);
        assert_eq!(t.major_gpa(), 4.5);
        assert_eq!(t.earned_credits, 5);
    }

    #[test]
    fn pass_fail_stays_out_of_the_gpa_but_p_earns_credits() {
        let t = Tally::of(&[c(3, "A0", false), c(2, "P", false), c(1, "NP", false)]);
        assert_eq!(t.gpa(), 4.0);
        assert_eq!(t.earned_credits, 5);
    }

    #[test]
    fn rounds_half_up_to_two_decimals() {
        // (4.5*1 + 4.0*2) / 3 = 4.1666… → 4.17
        assert_eq!(Tally::of(&[c(1, "A+", false), c(2, "A0", false)]).gpa(), 4.17);
        // (4.5*3 + 3.0*5) / 8 = 3.5625 → 3.56
        assert_eq!(Tally::of(&[c(3, "A+", false), c(5, "B0", false)]).gpa(), 3.56);
        // (1.5*1 + 1.0*7) / 8 = 1.0625 → 1.06
        assert_eq!(Tally::of(&[c(1, "D+", false), c(7, "D0", false)]).gpa(), 1.06);
        // (4.5*3 + 4.0*1 + 0*4) / 8 = 2.1875 → 2.19 (half up)
        assert_eq!(Tally::of(&[c(3, "A+", false), c(1, "A0", false), c(4, "F", false)]).gpa(), 2.19);
    }

    #[test]
    fn no_graded_credits_is_zero() {
        assert_eq!(Tally::default().gpa(), 0.0);
        assert_eq!(Tally::of(&[c(3, "P", true)]).major_gpa(), 0.0);
        assert_eq!(Tally::of(&[c(0, "A+", false)]).gpa(), 0.0);
    }

    #[test]
    fn merging_semesters_equals_one_tally() {
        let a = [c(3, "A+", true), c(2, "C+", false)];
        let b = [c(3, "B+", true), c(1, "P", false)];
        let mut merged = Tally::of(&a);
        merged.merge(&Tally::of(&b));
        assert_eq!(merged, Tally::of(a.iter().chain(&b)));
    }
}
