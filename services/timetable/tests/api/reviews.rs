//! Lecture reviews: validation, one per user, own edits, pagination, the rating summary.

use campus_proto::timetable::v1::{
    Amount, Attendance, CreateLectureReviewRequest, DeleteLectureReviewRequest, GetLectureRatingRequest,
    Grading, ListLectureReviewsRequest, Review, UpdateLectureReviewRequest,
};
use tonic::{Code, Status};

use crate::helpers::*;
use campus_testkit::status::*;

fn review(lecture_id: i64, rating: i32, exams: i32) -> CreateLectureReviewRequest {
    CreateLectureReviewRequest {
        lecture_id,
        rating,
        content: "좋은 강의입니다".into(),
        assignments: Amount::Many as i32,
        team_projects: Amount::None as i32,
        grading: Grading::Generous as i32,
        attendance: Attendance::Electronic as i32,
        exams,
    }
}

async fn create(app: &TestApp, user: i64, request: CreateLectureReviewRequest) -> Result<Review, Status> {
    app.client().create_lecture_review(app.req(request, user)).await.map(|r| r.into_inner())
}

async fn lecture_id(app: &TestApp) -> i64 {
    app.import(SCHOOL, YEAR, FALL, CATALOG).await.unwrap();
    app.lecture("CSE2010").await.id
}

#[tokio::test]
async fn one_review_per_user_editable_by_its_author_only() {
    each_backend(|app| async move {
        let lecture = lecture_id(&app).await;
        let mine = create(&app, 1, review(lecture, 5, 2)).await.unwrap();
        assert!(mine.is_mine);
        assert_eq!((mine.rating, mine.exams, mine.lecture_id), (5, 2, lecture));
        let err = create(&app, 1, review(lecture, 4, 2)).await.unwrap_err();
        assert_status(&err, Code::AlreadyExists, "REVIEW_EXISTS");

        // Edit: only the given fields change.
        let edit = UpdateLectureReviewRequest {
            id: mine.id,
            rating: Some(3),
            content: Some("다시 생각해보니 보통".into()),
            grading: Some(Grading::Strict as i32),
            ..Default::default()
        };
        let edited = app.client().update_lecture_review(app.req(edit.clone(), 1)).await.unwrap().into_inner();
        assert_eq!((edited.rating, edited.content.as_str()), (3, "다시 생각해보니 보통"));
        assert_eq!(
            (edited.grading, edited.assignments, edited.exams),
            (Grading::Strict as i32, Amount::Many as i32, 2)
        );

        // Someone else's review looks like no review at all.
        let err = app.client().update_lecture_review(app.req(edit, 2)).await.unwrap_err();
        assert_status(&err, Code::NotFound, "NOT_FOUND");
        let delete = DeleteLectureReviewRequest { id: mine.id };
        let err = app.client().delete_lecture_review(app.req(delete, 2)).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);

        let listed = app
            .client()
            .list_lecture_reviews(
                app.req(ListLectureReviewsRequest { lecture_id: lecture, ..Default::default() }, 2),
            )
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.reviews.len(), 1);
        assert!(!listed.reviews[0].is_mine);
        assert_eq!(listed.reviews[0].rating, 3);

        app.client().delete_lecture_review(app.req(delete, 1)).await.unwrap();
        // Deleted: a new review may be written.
        create(&app, 1, review(lecture, 4, 1)).await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn bad_reviews_are_refused() {
    each_backend(|app| async move {
        let lecture = lecture_id(&app).await;
        let bad = CreateLectureReviewRequest {
            lecture_id: lecture,
            rating: 6,
            content: "   ".into(),
            assignments: 0,
            team_projects: 4,
            grading: 0,
            attendance: 6,
            exams: 5,
        };
        let err = create(&app, 1, bad).await.unwrap_err();
        assert_eq!(
            violated_fields(&err),
            ["rating", "content", "assignments", "teamProjects", "grading", "attendance", "exams"]
        );
        let err = create(&app, 1, CreateLectureReviewRequest { rating: 0, ..review(lecture, 0, 0) })
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["rating"]);
        let long = CreateLectureReviewRequest { content: "가".repeat(1001), ..review(lecture, 3, 0) };
        assert_eq!(violated_fields(&create(&app, 1, long).await.unwrap_err()), ["content"]);
        let mine = create(&app, 1, review(lecture, 3, 0)).await.unwrap();
        let edit = UpdateLectureReviewRequest {
            id: mine.id,
            rating: Some(0),
            exams: Some(-1),
            ..Default::default()
        };
        let err = app.client().update_lecture_review(app.req(edit, 1)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["rating", "exams"]);

        // Unknown lecture, or another school's.
        assert_eq!(create(&app, 1, review(987654, 3, 0)).await.unwrap_err().code(), Code::NotFound);
        let err = app
            .client()
            .create_lecture_review(app.req_in(review(lecture, 3, 0), 5, OTHER_SCHOOL))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        let rating = GetLectureRatingRequest { lecture_id: lecture };
        let err = app.client().get_lecture_rating(app.req_in(rating, 5, OTHER_SCHOOL)).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
    })
    .await;
}

#[tokio::test]
async fn reviews_are_paginated_newest_first() {
    each_backend(|app| async move {
        let lecture = lecture_id(&app).await;
        let mut ids = Vec::new();
        for user in 1..=5 {
            ids.push(create(&app, user, review(lecture, 4, 1)).await.unwrap().id);
        }
        ids.reverse();
        let mut seen = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = ListLectureReviewsRequest { lecture_id: lecture, page_size: 2, page_token };
            let page = app.client().list_lecture_reviews(app.req(request, 3)).await.unwrap().into_inner();
            seen.extend(page.reviews.iter().map(|r| (r.id, r.is_mine)));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(seen.iter().map(|(id, _)| *id).collect::<Vec<_>>(), ids);
        assert_eq!(seen.iter().filter(|(_, mine)| *mine).count(), 1);
    })
    .await;
}

#[tokio::test]
async fn rating_summary_is_exact_under_concurrent_writes() {
    each_backend(|app| async move {
        let lecture = lecture_id(&app).await;
        // 40 users review at once with ratings 1..=5 and exams 0..=4; every fourth also edits
        // and every tenth then deletes.
        let writers = (1..=40i64).map(|user| {
            let app = &app;
            async move {
                let rating = (user % 5 + 1) as i32;
                let mut request = review(lecture, rating, (user % 5) as i32);
                if user % 2 == 0 {
                    request.assignments = Amount::Normal as i32;
                }
                let created = create(app, user, request).await.unwrap();
                if user % 4 == 0 {
                    let edit =
                        UpdateLectureReviewRequest { id: created.id, rating: Some(5), ..Default::default() };
                    app.client().update_lecture_review(app.req(edit, user)).await.unwrap();
                }
                if user % 10 == 0 {
                    let delete = DeleteLectureReviewRequest { id: created.id };
                    app.client().delete_lecture_review(app.req(delete, user)).await.unwrap();
                }
            }
        });
        futures::future::join_all(writers).await;

        // The expected summary, computed the slow way.
        let live: Vec<i64> = (1..=40).filter(|u| u % 10 != 0).collect();
        let final_rating = |u: i64| if u % 4 == 0 { 5 } else { u % 5 + 1 };
        let sum: i64 = live.iter().map(|&u| final_rating(u)).sum();
        let expected_average = ((sum as f64 / live.len() as f64) * 100.0).round() / 100.0;

        let request = GetLectureRatingRequest { lecture_id: lecture };
        let rating = app.client().get_lecture_rating(app.req(request, 1)).await.unwrap().into_inner();
        assert_eq!(rating.count, live.len() as i32);
        assert_eq!(rating.average, expected_average);
        let normal = live.iter().filter(|u| *u % 2 == 0).count() as i32;
        assert_eq!(rating.assignments.get("AMOUNT_NORMAL"), Some(&normal));
        assert_eq!(rating.assignments.get("AMOUNT_MANY"), Some(&(live.len() as i32 - normal)));
        assert_eq!(rating.team_projects.get("AMOUNT_NONE"), Some(&(live.len() as i32)));
        assert_eq!(rating.grading.get("GRADING_GENEROUS"), Some(&(live.len() as i32)));
        assert_eq!(rating.attendance.get("ATTENDANCE_ELECTRONIC"), Some(&(live.len() as i32)));
        for exams in 0..=4 {
            let n = live.iter().filter(|u| *u % 5 == exams).count() as i32;
            assert_eq!(rating.exams.get(&(exams as i32)).copied().unwrap_or(0), n, "exams {exams}");
        }
    })
    .await;
}
