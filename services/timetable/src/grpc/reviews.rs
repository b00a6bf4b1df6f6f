//! Lecture reviews and a lecture's rating summary.

use std::collections::HashMap;

use campus_proto::timetable::v1::{
    Amount, Attendance, CreateLectureReviewRequest, Grading, LectureRating, ListLectureReviewsRequest,
    ListLectureReviewsResponse, Review, UpdateLectureReviewRequest,
};
use campus_shared::db::{now_micros, timestamp};
use campus_shared::error::Violations;
use campus_shared::id::next_id;
use campus_shared::page::page_size;
use campus_shared::{Caller, Result};

use super::TimetableApi;
use crate::domain::review::{Attributes, MAX_CONTENT_CHARS, MAX_EXAMS};
use crate::domain::{self, Text};
use crate::store::ReviewRow;
use crate::store::lectures::lecture_in_school;
use crate::store::reviews as store;

fn enum_in(value: i32, max: i32, field: &str, names: &str, v: &mut Violations) {
    v.check((1..=max).contains(&value), field, format!("must be one of {names}"));
}

const AMOUNTS: &str = "MANY, NORMAL, NONE";
const GRADINGS: &str = "GENEROUS, NORMAL, STRICT";
const ATTENDANCES: &str = "MIXED, ROLL_CALL, ASSIGNED_SEATS, ELECTRONIC, NONE";

fn review_proto(r: &ReviewRow, caller: &Caller) -> Review {
    let a = r.attributes;
    Review {
        id: r.id,
        lecture_id: r.lecture_id,
        rating: a.rating as i32,
        content: r.content.clone(),
        assignments: a.assignments,
        team_projects: a.team_projects,
        grading: a.grading,
        attendance: a.attendance,
        exams: a.exams as i32,
        is_mine: r.user_id == caller.user_id,
        created_at: Some(timestamp(r.created_at)),
        updated_at: Some(timestamp(r.updated_at)),
    }
}

fn enum_counts(
    counts: &std::collections::BTreeMap<i32, i64>,
    name: impl Fn(i32) -> Option<&'static str>,
) -> HashMap<String, i32> {
    counts.iter().filter_map(|(k, n)| name(*k).map(|name| (name.to_string(), *n as i32))).collect()
}

impl TimetableApi {
    pub(super) async fn list_reviews(
        &self,
        caller: &Caller,
        req: ListLectureReviewsRequest,
    ) -> Result<ListLectureReviewsResponse> {
        let size = page_size(req.page_size)?;
        let scope = format!("reviews:{}", req.lecture_id);
        let before: Option<i64> = self.tokens.decode(&scope, &req.page_token)?;
        let mut conn = self.conn().await?;
        lecture_in_school(&mut conn, caller.school_id, req.lecture_id).await?;
        let mut rows = store::list_reviews(&mut conn, req.lecture_id, before, size + 1).await?;
        let next_page_token = self.tokens.next(&scope, &mut rows, size, |r| r.id);
        Ok(ListLectureReviewsResponse {
            reviews: rows.iter().map(|r| review_proto(r, caller)).collect(),
            next_page_token,
        })
    }

    pub(super) async fn create_review(
        &self,
        caller: &Caller,
        req: CreateLectureReviewRequest,
    ) -> Result<Review> {
        let mut v = Violations::new();
        v.check((1..=5).contains(&req.rating), "rating", "must be 1 to 5");
        let content = req.content.trim();
        domain::check_chars(content, 1, MAX_CONTENT_CHARS, "content", Text::Multiline, &mut v);
        enum_in(req.assignments, 3, "assignments", AMOUNTS, &mut v);
        enum_in(req.team_projects, 3, "teamProjects", AMOUNTS, &mut v);
        enum_in(req.grading, 3, "grading", GRADINGS, &mut v);
        enum_in(req.attendance, 5, "attendance", ATTENDANCES, &mut v);
        v.check(
            (0..=MAX_EXAMS as i32).contains(&req.exams),
            "exams",
            "must be 0 to 4 (4 meaning four or more)",
        );
        v.finish()?;
        let attributes = Attributes {
            rating: i64::from(req.rating),
            assignments: req.assignments,
            team_projects: req.team_projects,
            grading: req.grading,
            attendance: req.attendance,
            exams: i64::from(req.exams),
        };
        let now = now_micros();
        let review = ReviewRow {
            id: next_id(),
            lecture_id: req.lecture_id,
            user_id: caller.user_id,
            content: content.to_string(),
            attributes,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.db.begin_write().await?;
        lecture_in_school(&mut tx, caller.school_id, req.lecture_id).await?;
        store::insert_review(&mut tx, &review).await?;
        tx.commit().await?;
        Ok(review_proto(&review, caller))
    }

    pub(super) async fn update_review(
        &self,
        caller: &Caller,
        req: UpdateLectureReviewRequest,
    ) -> Result<Review> {
        let mut v = Violations::new();
        if let Some(rating) = req.rating {
            v.check((1..=5).contains(&rating), "rating", "must be 1 to 5");
        }
        let content = req.content.as_deref().map(str::trim);
        if let Some(content) = content {
            domain::check_chars(content, 1, MAX_CONTENT_CHARS, "content", Text::Multiline, &mut v);
        }
        if let Some(a) = req.assignments {
            enum_in(a, 3, "assignments", AMOUNTS, &mut v);
        }
        if let Some(a) = req.team_projects {
            enum_in(a, 3, "teamProjects", AMOUNTS, &mut v);
        }
        if let Some(g) = req.grading {
            enum_in(g, 3, "grading", GRADINGS, &mut v);
        }
        if let Some(a) = req.attendance {
            enum_in(a, 5, "attendance", ATTENDANCES, &mut v);
        }
        if let Some(exams) = req.exams {
            v.check(
                (0..=MAX_EXAMS as i32).contains(&exams),
                "exams",
                "must be 0 to 4 (4 meaning four or more)",
            );
        }
        v.finish()?;
        let mut tx = self.db.begin_write().await?;
        let mut review = store::own_review(&mut tx, self.db.backend, caller.user_id, req.id).await?;
        let a = &mut review.attributes;
        if let Some(rating) = req.rating {
            a.rating = i64::from(rating);
        }
        a.assignments = req.assignments.unwrap_or(a.assignments);
        a.team_projects = req.team_projects.unwrap_or(a.team_projects);
        a.grading = req.grading.unwrap_or(a.grading);
        a.attendance = req.attendance.unwrap_or(a.attendance);
        if let Some(exams) = req.exams {
            a.exams = i64::from(exams);
        }
        if let Some(content) = content {
            review.content = content.to_string();
        }
        review.updated_at = now_micros();
        store::save_review(&mut tx, &review).await?;
        tx.commit().await?;
        Ok(review_proto(&review, caller))
    }

    pub(super) async fn delete_review(&self, caller: &Caller, id: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        store::delete_review(&mut tx, caller.user_id, id).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn rating(&self, caller: &Caller, lecture_id: i64) -> Result<LectureRating> {
        let mut conn = self.conn().await?;
        lecture_in_school(&mut conn, caller.school_id, lecture_id).await?;
        let s = store::rating(&mut conn, lecture_id).await?;
        let amount = |k: i32| Amount::try_from(k).ok().map(|a| a.as_str_name());
        Ok(LectureRating {
            lecture_id,
            average: s.average,
            count: s.count as i32,
            assignments: enum_counts(&s.assignments, amount),
            team_projects: enum_counts(&s.team_projects, amount),
            grading: enum_counts(&s.grading, |k| Grading::try_from(k).ok().map(|g| g.as_str_name())),
            attendance: enum_counts(&s.attendance, |k| Attendance::try_from(k).ok().map(|a| a.as_str_name())),
            exams: s.exams.iter().map(|(k, n)| (*k as i32, *n as i32)).collect(),
        })
    }
}
