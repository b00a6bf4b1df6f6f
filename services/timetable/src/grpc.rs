//! The gRPC surface: one method per RPC, each parsing its request, calling the store and
//! mapping the answer to protobuf.

use std::collections::HashMap;
use std::time::Duration;

use campus_proto::account::v1::AreFriendsRequest;
use campus_proto::account::v1::account_internal_service_client::AccountInternalServiceClient;
use campus_proto::timetable::v1::timetable_service_server::TimetableService;
use campus_proto::timetable::v1::{
    AddCustomEntryRequest, AddTimetableLectureRequest, Amount, Attendance, Course,
    CreateLectureReviewRequest, CreateTimetableRequest, CustomEntry, DeleteLectureReviewRequest,
    DeleteTimetableRequest, GetFriendTimetableRequest, GetGradesRequest, GetLectureRatingRequest,
    GetLectureRequest, GetTimetableRequest, Grades, Grading, ImportLecturesRequest, ImportLecturesResponse,
    Lecture, LectureRating, ListLectureReviewsRequest, ListLectureReviewsResponse, ListLecturesRequest,
    ListLecturesResponse, ListTimetablesRequest, ListTimetablesResponse, RemoveCustomEntryRequest,
    RemoveTimetableLectureRequest, Review, SemesterGrades, SetSemesterGradesRequest, TimeSlot, Timetable,
    UpdateLectureReviewRequest, UpdateTimetableRequest,
};
use campus_shared::db::{Db, timestamp};
use campus_shared::error::{ERROR_DOMAIN, Error, Violations};
use campus_shared::identity::forward_metadata;
use campus_shared::page::{PageTokens, page_size};
use campus_shared::{Caller, Result};
use secrecy::{ExposeSecret, SecretString};
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::grades::{Grade, GradedCourse, LETTERS, Tally};
use crate::domain::review::{Attributes, MAX_CONTENT_CHARS, MAX_EXAMS};
use crate::domain::schedule::{self, Conflict, Slot};
use crate::domain::{self, Text, import};
use crate::store::{self, LectureFilter, LectureRow, ReviewRow, TimetableView};

/// How long a friendship check may take before the account service counts as unavailable.
const ACCOUNT_TIMEOUT: Duration = Duration::from_secs(3);

/// The state every RPC shares.
#[derive(Debug, Clone)]
pub struct TimetableApi {
    db: Db,
    tokens: PageTokens,
    account: AccountInternalServiceClient<Channel>,
    service_token: SecretString,
}

impl TimetableApi {
    /// `account_addr` is the account service's URL (it answers AreFriends).
    pub fn new(
        db: Db,
        account_addr: &str,
        service_token: SecretString,
        tls: &campus_shared::tls::ClientTls,
    ) -> anyhow::Result<Self> {
        let channel = tls
            .endpoint(account_addr)?
            .connect_timeout(ACCOUNT_TIMEOUT)
            .timeout(ACCOUNT_TIMEOUT)
            .connect_lazy();
        Ok(Self {
            db,
            tokens: PageTokens::new(service_token.expose_secret().as_bytes()),
            account: AccountInternalServiceClient::new(channel),
            service_token,
        })
    }

    /// Asks the account service whether two users are friends.
    async fn are_friends<T>(&self, request: &Request<T>, user_id: i64, other_user_id: i64) -> Result<bool> {
        let mut call = Request::new(AreFriendsRequest { user_id, other_user_id });
        *call.metadata_mut() = forward_metadata(Some(request.metadata()), &self.service_token);
        match self.account.clone().are_friends(call).await {
            Ok(response) => Ok(response.into_inner().friends),
            Err(status)
                if matches!(status.code(), Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled) =>
            {
                Err(Error::Unavailable(format!("account service: {}", status.message())))
            }
            Err(status) => Err(Error::internal(format!("account AreFriends failed: {status:?}"))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Request parsing

/// Year and semester of a request, validated.
fn term(year: i32, semester: i32) -> Result<(i64, i64)> {
    let mut v = Violations::new();
    domain::check_term(year, semester, &mut v);
    v.finish()?;
    Ok((i64::from(year), i64::from(semester)))
}

/// Slots of a request, each checked under `times[i].<field>`.
fn parse_slots(times: &[TimeSlot], v: &mut Violations) -> Vec<Slot> {
    if times.is_empty() {
        v.add("times", "at least one slot is required");
    }
    if times.len() > import::MAX_SLOTS {
        v.add("times", format!("at most {} slots", import::MAX_SLOTS));
    }
    let before = v.iter().count();
    let mut slots = Vec::with_capacity(times.len());
    for (i, t) in times.iter().enumerate() {
        let field = |name: &str| format!("times[{i}].{name}");
        let minutes = schedule::MINUTES_PER_DAY as i32;
        let step = schedule::GRANULARITY as i32;
        v.check((1..=7).contains(&t.day), &field("day"), "must be MONDAY to SUNDAY");
        v.check(
            (0..minutes).contains(&t.start_minute) && t.start_minute % step == 0,
            &field("startMinute"),
            "must be 0 to 1435 in 5-minute units",
        );
        v.check(
            (step..=minutes).contains(&t.end_minute) && t.end_minute % step == 0,
            &field("endMinute"),
            "must be 5 to 1440 in 5-minute units",
        );
        v.check(t.end_minute > t.start_minute, &field("endMinute"), "must be after startMinute");
        let room = t.room.trim().to_string();
        domain::check_chars(&room, 0, schedule::MAX_ROOM_CHARS, &field("room"), Text::Line, v);
        slots.push(Slot { day: t.day, start: t.start_minute, end: t.end_minute, room });
    }
    if v.iter().count() == before
        && let Some((a, b)) = schedule::self_overlap(&slots)
    {
        v.add(format!("times[{b}]"), format!("overlaps times[{a}]"));
    }
    slots
}

fn enum_in(value: i32, max: i32, field: &str, names: &str, v: &mut Violations) {
    v.check((1..=max).contains(&value), field, format!("must be one of {names}"));
}

const AMOUNTS: &str = "MANY, NORMAL, NONE";
const GRADINGS: &str = "GENEROUS, NORMAL, STRICT";
const ATTENDANCES: &str = "MIXED, ROLL_CALL, ASSIGNED_SEATS, ELECTRONIC, NONE";

// ---------------------------------------------------------------------------------------------
// Mapping to protobuf

fn slot_proto(slot: &Slot) -> TimeSlot {
    TimeSlot { day: slot.day, start_minute: slot.start, end_minute: slot.end, room: slot.room.clone() }
}

fn lecture_proto(l: &LectureRow) -> Lecture {
    Lecture {
        id: l.id,
        school_id: l.school_id,
        year: l.year as i32,
        semester: l.semester as i32,
        code: l.code.clone(),
        section: l.section.clone(),
        name: l.name.clone(),
        professor: l.professor.clone(),
        credits: l.credits as i32,
        category: l.category.clone(),
        times: l.times.iter().map(slot_proto).collect(),
    }
}

fn timetable_proto(v: &TimetableView) -> Timetable {
    let t = &v.timetable;
    Timetable {
        id: t.id,
        year: t.year as i32,
        semester: t.semester as i32,
        name: t.name.clone(),
        primary: t.primary,
        lectures: v.lectures.iter().map(lecture_proto).collect(),
        custom_entries: v
            .entries
            .iter()
            .map(|e| CustomEntry {
                id: e.id,
                title: e.title.clone(),
                times: e.times.iter().map(slot_proto).collect(),
            })
            .collect(),
        total_credits: v.total_credits() as i32,
        created_at: Some(timestamp(t.created_at)),
        updated_at: Some(timestamp(t.updated_at)),
    }
}

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

/// FAILED_PRECONDITION / TIME_CONFLICT naming the item collided with, in the message and in
/// the ErrorInfo metadata (`conflictingKind`, `conflictingId`, `conflictingName`, `day`,
/// `startMinute`, `endMinute`), so a client can highlight it.
fn conflict_status(conflict: &Conflict) -> Status {
    let metadata = HashMap::from([
        ("conflictingKind".to_string(), conflict.kind.as_str().to_string()),
        ("conflictingId".to_string(), conflict.id.to_string()),
        ("conflictingName".to_string(), conflict.name.clone()),
        ("day".to_string(), conflict.slot.day.to_string()),
        ("startMinute".to_string(), conflict.slot.start.to_string()),
        ("endMinute".to_string(), conflict.slot.end.to_string()),
    ]);
    let details = ErrorDetails::with_error_info("TIME_CONFLICT", ERROR_DOMAIN, metadata);
    Status::with_error_details(Code::FailedPrecondition, conflict.message(), details)
}

fn added(outcome: store::Added) -> std::result::Result<Response<Timetable>, Status> {
    match outcome {
        Ok(view) => Ok(Response::new(timetable_proto(&view))),
        Err(conflict) => Err(conflict_status(&conflict)),
    }
}

fn grades_proto(courses: Vec<store::CourseRow>) -> Grades {
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

fn enum_counts(
    counts: &std::collections::BTreeMap<i32, i64>,
    name: impl Fn(i32) -> Option<&'static str>,
) -> HashMap<String, i32> {
    counts.iter().filter_map(|(k, n)| name(*k).map(|name| (name.to_string(), *n as i32))).collect()
}

// ---------------------------------------------------------------------------------------------
// RPCs

type Reply<T> = std::result::Result<Response<T>, Status>;

#[tonic::async_trait]
impl TimetableService for TimetableApi {
    async fn list_lectures(&self, request: Request<ListLecturesRequest>) -> Reply<ListLecturesResponse> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        domain::check_term(req.year, req.semester, &mut v);
        let query = req.query.trim().to_string();
        let professor = req.professor.trim().to_string();
        domain::check_chars(&query, 0, domain::MAX_SEARCH_CHARS, "query", Text::Line, &mut v);
        domain::check_chars(&professor, 0, domain::MAX_SEARCH_CHARS, "professor", Text::Line, &mut v);
        v.check((0..=7).contains(&req.day), "day", "must be MONDAY to SUNDAY, or unset");
        let minutes = schedule::MINUTES_PER_DAY as i32;
        for (value, field) in [(req.time_from, "timeFrom"), (req.time_to, "timeTo")] {
            v.check(value.is_none_or(|m| (0..=minutes).contains(&m)), field, "must be 0 to 1440");
        }
        if let (Some(from), Some(to)) = (req.time_from, req.time_to) {
            v.check(from < to, "timeTo", "must be after timeFrom");
        }
        v.check(
            req.credits.is_none_or(|c| (0..=import::MAX_CREDITS as i32).contains(&c)),
            "credits",
            "must be 0 to 6",
        );
        let size = page_size(req.page_size)?;
        v.finish()?;

        let filter = LectureFilter {
            school_id: caller.school_id,
            year: i64::from(req.year),
            semester: i64::from(req.semester),
            query: Some(query).filter(|q| !q.is_empty()),
            professor: Some(professor).filter(|p| !p.is_empty()),
            day: Some(i64::from(req.day)).filter(|d| *d != 0),
            time_from: req.time_from.map(i64::from),
            time_to: req.time_to.map(i64::from),
            credits: req.credits.map(i64::from),
        };
        // The scope binds a token to this exact search.
        let scope = format!("lectures:{filter:?}");
        let after: Option<(String, i64)> = self.tokens.decode(&scope, &req.page_token)?;
        let mut rows = store::search_lectures(&self.db, &filter, after, size + 1).await?;
        let next_page_token = self.tokens.next(&scope, &mut rows, size, |l| (l.code.clone(), l.id));
        Ok(Response::new(ListLecturesResponse {
            lectures: rows.iter().map(lecture_proto).collect(),
            next_page_token,
        }))
    }

    async fn get_lecture(&self, request: Request<GetLectureRequest>) -> Reply<Lecture> {
        let caller = Caller::of(&request)?;
        let lecture = store::get_lecture(&self.db, caller.school_id, request.get_ref().id).await?;
        Ok(Response::new(lecture_proto(&lecture)))
    }

    async fn import_lectures(
        &self,
        request: Request<ImportLecturesRequest>,
    ) -> Reply<ImportLecturesResponse> {
        let admin = Caller::admin_of(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        v.check(req.school_id > 0, "schoolId", "is required");
        domain::check_term(req.year, req.semester, &mut v);
        let body = req.csv.unwrap_or_default();
        let content_type =
            body.content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        v.check(content_type == "text/csv", "csv.contentType", "must be text/csv");
        let text = match String::from_utf8(body.data) {
            Ok(text) => text,
            Err(_) => {
                v.add("csv", "must be UTF-8 text");
                String::new()
            }
        };
        v.finish()?;
        let rows = import::parse_catalog(&text).map_err(|problems| {
            let mut v = Violations::new();
            for problem in problems {
                v.add("csv", problem);
            }
            Error::InvalidArgument(v)
        })?;
        let imported = store::import_lectures(
            &self.db,
            req.school_id,
            i64::from(req.year),
            i64::from(req.semester),
            &rows,
        )
        .await?;
        tracing::info!(admin = admin.user_id, school_id = req.school_id, imported, "lectures imported");
        Ok(Response::new(ImportLecturesResponse { imported: imported as i32 }))
    }

    async fn list_timetables(
        &self,
        request: Request<ListTimetablesRequest>,
    ) -> Reply<ListTimetablesResponse> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        // Both unset lists every semester's timetables.
        let filter =
            if req.year == 0 && req.semester == 0 { None } else { Some(term(req.year, req.semester)?) };
        let views = store::list_timetables(&self.db, caller.user_id, filter).await?;
        Ok(Response::new(ListTimetablesResponse { timetables: views.iter().map(timetable_proto).collect() }))
    }

    async fn create_timetable(&self, request: Request<CreateTimetableRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        domain::check_term(req.year, req.semester, &mut v);
        let name = req.name.trim();
        if !name.is_empty() {
            domain::check_chars(name, 1, domain::MAX_TIMETABLE_NAME_CHARS, "name", Text::Line, &mut v);
        }
        v.finish()?;
        let view = store::create_timetable(
            &self.db,
            caller.user_id,
            caller.school_id,
            i64::from(req.year),
            i64::from(req.semester),
            Some(name).filter(|n| !n.is_empty()),
        )
        .await?;
        Ok(Response::new(timetable_proto(&view)))
    }

    async fn get_timetable(&self, request: Request<GetTimetableRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        let view = store::get_timetable(&self.db, caller.user_id, request.get_ref().id).await?;
        Ok(Response::new(timetable_proto(&view)))
    }

    async fn update_timetable(&self, request: Request<UpdateTimetableRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let name = req.name.as_deref().map(str::trim);
        if let Some(name) = name {
            domain::check_chars(name, 1, domain::MAX_TIMETABLE_NAME_CHARS, "name", Text::Line, &mut v);
        }
        // A semester always has a primary timetable: another one is made primary instead.
        v.check(
            req.primary != Some(false),
            "primary",
            "only true is accepted; make another timetable primary",
        );
        v.finish()?;
        let view = store::update_timetable(&self.db, caller.user_id, req.id, name, req.primary == Some(true))
            .await?;
        Ok(Response::new(timetable_proto(&view)))
    }

    async fn delete_timetable(&self, request: Request<DeleteTimetableRequest>) -> Reply<()> {
        let caller = Caller::of(&request)?;
        store::delete_timetable(&self.db, caller.user_id, request.get_ref().id).await?;
        Ok(Response::new(()))
    }

    async fn add_timetable_lecture(&self, request: Request<AddTimetableLectureRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        added(
            store::add_lecture(&self.db, caller.user_id, caller.school_id, req.timetable_id, req.lecture_id)
                .await?,
        )
    }

    async fn remove_timetable_lecture(
        &self,
        request: Request<RemoveTimetableLectureRequest>,
    ) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let view = store::remove_lecture(&self.db, caller.user_id, req.timetable_id, req.lecture_id).await?;
        Ok(Response::new(timetable_proto(&view)))
    }

    async fn add_custom_entry(&self, request: Request<AddCustomEntryRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let mut v = Violations::new();
        let title = req.title.trim();
        domain::check_chars(title, 1, domain::MAX_ENTRY_TITLE_CHARS, "title", Text::Line, &mut v);
        let slots = parse_slots(&req.times, &mut v);
        v.finish()?;
        added(store::add_entry(&self.db, caller.user_id, req.timetable_id, title, &slots).await?)
    }

    async fn remove_custom_entry(&self, request: Request<RemoveCustomEntryRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let view = store::remove_entry(&self.db, caller.user_id, req.timetable_id, req.entry_id).await?;
        Ok(Response::new(timetable_proto(&view)))
    }

    async fn get_friend_timetable(&self, request: Request<GetFriendTimetableRequest>) -> Reply<Timetable> {
        let caller = Caller::of(&request)?;
        let req = request.get_ref();
        let (year, semester) = term(req.year, req.semester)?;
        let user_id = req.user_id;
        // Not friends looks exactly like "no timetable": nothing about the user leaks.
        if user_id != caller.user_id && !self.are_friends(&request, caller.user_id, user_id).await? {
            return Err(Error::NotFound("timetable").into());
        }
        let view = store::primary_timetable(&self.db, user_id, year, semester).await?;
        Ok(Response::new(timetable_proto(&view)))
    }

    async fn list_lecture_reviews(
        &self,
        request: Request<ListLectureReviewsRequest>,
    ) -> Reply<ListLectureReviewsResponse> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let size = page_size(req.page_size)?;
        let scope = format!("reviews:{}", req.lecture_id);
        let before: Option<i64> = self.tokens.decode(&scope, &req.page_token)?;
        let mut rows =
            store::list_reviews(&self.db, caller.school_id, req.lecture_id, before, size + 1).await?;
        let next_page_token = self.tokens.next(&scope, &mut rows, size, |r| r.id);
        Ok(Response::new(ListLectureReviewsResponse {
            reviews: rows.iter().map(|r| review_proto(r, &caller)).collect(),
            next_page_token,
        }))
    }

    async fn create_lecture_review(&self, request: Request<CreateLectureReviewRequest>) -> Reply<Review> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
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
        let review = store::create_review(
            &self.db,
            caller.user_id,
            caller.school_id,
            req.lecture_id,
            content,
            attributes,
        )
        .await?;
        Ok(Response::new(review_proto(&review, &caller)))
    }

    async fn update_lecture_review(&self, request: Request<UpdateLectureReviewRequest>) -> Reply<Review> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
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
        let review = store::update_review(&self.db, caller.user_id, req.id, |r| {
            let a = &mut r.attributes;
            if let Some(rating) = req.rating {
                a.rating = i64::from(rating);
            }
            if let Some(content) = content {
                r.content = content.to_string();
            }
            a.assignments = req.assignments.unwrap_or(a.assignments);
            a.team_projects = req.team_projects.unwrap_or(a.team_projects);
            a.grading = req.grading.unwrap_or(a.grading);
            a.attendance = req.attendance.unwrap_or(a.attendance);
            if let Some(exams) = req.exams {
                a.exams = i64::from(exams);
            }
        })
        .await?;
        Ok(Response::new(review_proto(&review, &caller)))
    }

    async fn delete_lecture_review(&self, request: Request<DeleteLectureReviewRequest>) -> Reply<()> {
        let caller = Caller::of(&request)?;
        store::delete_review(&self.db, caller.user_id, request.get_ref().id).await?;
        Ok(Response::new(()))
    }

    async fn get_lecture_rating(&self, request: Request<GetLectureRatingRequest>) -> Reply<LectureRating> {
        let caller = Caller::of(&request)?;
        let lecture_id = request.get_ref().lecture_id;
        let s = store::rating(&self.db, caller.school_id, lecture_id).await?;
        let amount = |k: i32| Amount::try_from(k).ok().map(|a| a.as_str_name());
        Ok(Response::new(LectureRating {
            lecture_id,
            average: s.average,
            count: s.count as i32,
            assignments: enum_counts(&s.assignments, amount),
            team_projects: enum_counts(&s.team_projects, amount),
            grading: enum_counts(&s.grading, |k| Grading::try_from(k).ok().map(|g| g.as_str_name())),
            attendance: enum_counts(&s.attendance, |k| Attendance::try_from(k).ok().map(|a| a.as_str_name())),
            exams: s.exams.iter().map(|(k, n)| (*k as i32, *n as i32)).collect(),
        }))
    }

    async fn get_grades(&self, request: Request<GetGradesRequest>) -> Reply<Grades> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(grades_proto(store::courses(&self.db, caller.user_id).await?)))
    }

    async fn set_semester_grades(&self, request: Request<SetSemesterGradesRequest>) -> Reply<Grades> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
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
            rows.push(store::CourseRow {
                year: i64::from(req.year),
                semester: i64::from(req.semester),
                name: name.to_string(),
                credits: i64::from(course.credits),
                grade: grade.map(Grade::letter).unwrap_or_default().to_string(),
                major: course.major,
            });
        }
        v.finish()?;
        store::set_semester_grades(
            &self.db,
            caller.user_id,
            i64::from(req.year),
            i64::from(req.semester),
            &rows,
        )
        .await?;
        Ok(Response::new(grades_proto(store::courses(&self.db, caller.user_id).await?)))
    }
}
