//! The GPA calculator: a user's grades and the replacement of one semester's courses.

use campus_proto::timetable::v1::{Course, Grades, SemesterGrades, SetSemesterGradesRequest};
use campus_shared::error::Violations;
use campus_shared::{Caller, Result};

use super::TimetableApi;
use crate::domain::grades::{Grade, GradedCourse, LETTERS, Tally};
use crate::domain::{self, Text};
use crate::store::CourseRow;
use crate::store::grades as store;

fn grades_proto(courses: Vec<CourseRow>) -> Grades {
    let mut semesters: Vec<(SemesterGrades, Tally)> = Vec::new();
    let mut overall = Tally::default();
    for course in courses {
        let same = semesters.last().is_some_and(|(s, _)| {
            (i64::from(s.year), i64::from(s.semester)) == (course.year, course.semester)
        });
        if !same {
            let empty = SemesterGrades {
                year: course.year as i32,
                semester: course.semester as i32,
                ..Default::default()
            };
            semesters.push((empty, Tally::default()));
        }
        let Some((semester, _)) = semesters.last_mut() else { continue };
        semester.courses.push(Course {
            name: course.name,
            credits: course.credits as i32,
            grade: course.grade,
            major: course.major,
        });
    }
    for (semester, tally) in &mut semesters {
        // Stored grades were validated on the way in; an unknown letter would be skipped.
        let graded: Vec<GradedCourse> = semester
            .courses
            .iter()
            .filter_map(|c| {
                Grade::parse(&c.grade).map(|grade| GradedCourse {
                    credits: i64::from(c.credits),
                    grade,
                    major: c.major,
                })
            })
            .collect();
        *tally = Tally::of(&graded);
        semester.gpa = tally.gpa();
        semester.major_gpa = tally.major_gpa();
        semester.credits = tally.earned_credits as i32;
        overall.merge(tally);
    }
    Grades {
        gpa: overall.gpa(),
        major_gpa: overall.major_gpa(),
        total_credits: overall.earned_credits as i32,
        semesters: semesters.into_iter().map(|(s, _)| s).collect(),
    }
}

impl TimetableApi {
    pub(super) async fn grades(&self, caller: &Caller) -> Result<Grades> {
        Ok(grades_proto(store::courses(&mut *self.conn().await?, caller.user_id).await?))
    }

    pub(super) async fn set_semester_grades(
        &self,
        caller: &Caller,
        req: SetSemesterGradesRequest,
    ) -> Result<Grades> {
        let mut v = Violations::new();
        domain::check_term(req.year, req.semester, &mut v);
        v.check(
            req.courses.len() <= domain::MAX_COURSES_PER_SEMESTER,
            "courses",
            format!("at most {} courses", domain::MAX_COURSES_PER_SEMESTER),
        );
        let mut rows = Vec::with_capacity(req.courses.len());
        for (i, course) in req.courses.iter().enumerate() {
            let name = course.name.trim();
            domain::check_chars(
                name,
                1,
                domain::MAX_COURSE_NAME_CHARS,
                &format!("courses[{i}].name"),
                Text::Line,
                &mut v,
            );
            if course.credits < 0 {
                v.add(format!("courses[{i}].credits"), "must not be negative");
            } else if course.credits > domain::MAX_COURSE_CREDITS {
                v.add(
                    format!("courses[{i}].credits"),
                    format!("must be at most {}", domain::MAX_COURSE_CREDITS),
                );
            }
            let grade = Grade::parse(&course.grade);
            if grade.is_none() {
                v.add(format!("courses[{i}].grade"), format!("must be one of {LETTERS}"));
            }
            rows.push(CourseRow {
                year: i64::from(req.year),
                semester: i64::from(req.semester),
                name: name.to_string(),
                credits: i64::from(course.credits),
                grade: grade.map(Grade::letter).unwrap_or_default().to_string(),
                major: course.major,
            });
        }
        v.finish()?;
        let mut tx = self.db.begin_write().await?;
        let (year, semester) = (i64::from(req.year), i64::from(req.semester));
        store::set_semester_grades(&mut tx, caller.user_id, year, semester, &rows).await?;
        tx.commit().await?;
        Ok(grades_proto(store::courses(&mut *self.conn().await?, caller.user_id).await?))
    }
}
