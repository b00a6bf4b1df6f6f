//! The GPA calculator: per-semester course lists, GPA and major GPA on the 4.5 scale.

use campus_proto::timetable::v1::{Course, GetGradesRequest, Grades, SetSemesterGradesRequest};
use tonic::Status;

use crate::helpers::*;
use campus_testkit::status::*;

const ALICE: i64 = 31;

fn course(name: &str, credits: i32, grade: &str, major: bool) -> Course {
    Course { name: name.into(), credits, grade: grade.into(), major }
}

async fn set(
    app: &TestApp,
    user: i64,
    year: i32,
    semester: i32,
    courses: Vec<Course>,
) -> Result<Grades, Status> {
    let request = SetSemesterGradesRequest { year, semester, courses };
    app.client().set_semester_grades(app.req(request, user)).await.map(|r| r.into_inner())
}

async fn get(app: &TestApp, user: i64) -> Grades {
    app.client().get_grades(app.req(GetGradesRequest {}, user)).await.unwrap().into_inner()
}

#[tokio::test]
async fn gpa_overall_major_and_per_semester() {
    each_backend(|app| async move {
        assert_eq!(get(&app, ALICE).await, Grades::default());
        let fall = vec![
            course("자료구조", 3, "A+", true),
            course("글쓰기", 2, "B0", false),
            course("체육", 1, "P", false),
            course("채플", 1, "NP", false),
        ];
        let grades = set(&app, ALICE, YEAR, FALL, fall).await.unwrap();
        // (13.5 + 6) / 5 = 3.9; major 4.5; earned 3 + 2 + 1 (P) = 6.
        assert_eq!((grades.gpa, grades.major_gpa, grades.total_credits), (3.9, 4.5, 6));
        assert_eq!(grades.semesters.len(), 1);
        assert_eq!(grades.semesters[0].courses.len(), 4);
        assert_eq!(grades.semesters[0].courses[2].grade, "P");

        let spring = vec![course("운영체제", 3, "C+", true), course("미술", 2, "F", false)];
        let grades = set(&app, ALICE, YEAR, SPRING, spring).await.unwrap();
        let s = &grades.semesters;
        assert_eq!(
            s.iter().map(|s| (s.year, s.semester)).collect::<Vec<_>>(),
            [(YEAR, SPRING), (YEAR, FALL)]
        );
        // Spring: (7.5 + 0) / 5 = 1.5; F counts in the GPA but earns nothing.
        assert_eq!((s[0].gpa, s[0].major_gpa, s[0].credits), (1.5, 2.5, 3));
        assert_eq!((s[1].gpa, s[1].major_gpa, s[1].credits), (3.9, 4.5, 6));
        // Overall: (13.5 + 6 + 7.5 + 0) / 10 = 2.7; major (13.5 + 7.5) / 6 = 3.5.
        assert_eq!((grades.gpa, grades.major_gpa, grades.total_credits), (2.7, 3.5, 9));
        assert_eq!(get(&app, ALICE).await, grades);

        // Other users have their own grades.
        assert_eq!(get(&app, ALICE + 1).await, Grades::default());
    })
    .await;
}

#[tokio::test]
async fn setting_a_semester_replaces_it() {
    each_backend(|app| async move {
        set(&app, ALICE, YEAR, FALL, vec![course("A", 3, "A0", false), course("B", 3, "B0", false)])
            .await
            .unwrap();
        let grades = set(&app, ALICE, YEAR, FALL, vec![course("C", 2, "A+", false)]).await.unwrap();
        assert_eq!(grades.semesters[0].courses, [course("C", 2, "A+", false)]);
        assert_eq!((grades.gpa, grades.total_credits), (4.5, 2));
        // Rounded to two decimals: (4.5 + 4.0*2) / 3 = 4.1666…
        let grades =
            set(&app, ALICE, YEAR, FALL, vec![course("A", 1, "A+", false), course("B", 2, "A0", false)])
                .await
                .unwrap();
        assert_eq!(grades.gpa, 4.17);
        // An empty list removes the semester.
        let grades = set(&app, ALICE, YEAR, FALL, vec![]).await.unwrap();
        assert!(grades.semesters.is_empty());
    })
    .await;
}

#[tokio::test]
async fn bad_courses_are_refused_and_nothing_is_written() {
    each_backend(|app| async move {
        set(&app, ALICE, YEAR, FALL, vec![course("Kept", 3, "B+", false)]).await.unwrap();
        let bad = vec![
            course("Fine", 3, "A+", false),
            course("Negative", -1, "A0", false),
            course("Unknown", 3, "E", false),
            course("", 7, "a+", false),
        ];
        let err = set(&app, ALICE, YEAR, FALL, bad).await.unwrap_err();
        assert_eq!(
            violated_fields(&err),
            [
                "courses[1].credits",
                "courses[2].grade",
                "courses[3].name",
                "courses[3].credits",
                "courses[3].grade"
            ]
        );
        let grades = get(&app, ALICE).await;
        assert_eq!(grades.semesters[0].courses, [course("Kept", 3, "B+", false)]);
        let err = set(&app, ALICE, 0, 0, vec![]).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["year", "semester"]);
    })
    .await;
}
