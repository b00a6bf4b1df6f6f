//! ListLectures, GetLecture and ImportLectures: the catalog.

use campus_proto::timetable::v1::{
    ImportLecturesRequest, ImportLecturesResponse, Lecture, ListLecturesRequest, ListLecturesResponse,
    TimeSlot,
};
use campus_shared::error::{Error, Violations};
use campus_shared::page::page_size;
use campus_shared::{Caller, Result};

use super::TimetableApi;
use crate::domain::schedule::{self, Slot};
use crate::domain::{self, Text, import};
use crate::store::{self, LectureFilter, LectureRow};

pub(super) fn slot_proto(slot: &Slot) -> TimeSlot {
    TimeSlot { day: slot.day, start_minute: slot.start, end_minute: slot.end, room: slot.room.clone() }
}

pub(super) fn lecture_proto(l: &LectureRow) -> Lecture {
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

impl TimetableApi {
    pub(super) async fn list_lectures(
        &self,
        caller: &Caller,
        req: ListLecturesRequest,
    ) -> Result<ListLecturesResponse> {
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
        let mut rows =
            store::lectures::search_lectures(&mut *self.conn().await?, &filter, after, size + 1).await?;
        let next_page_token = self.tokens.next(&scope, &mut rows, size, |l| (l.code.clone(), l.id));
        Ok(ListLecturesResponse { lectures: rows.iter().map(lecture_proto).collect(), next_page_token })
    }

    pub(super) async fn get_lecture(&self, caller: &Caller, id: i64) -> Result<Lecture> {
        let lecture =
            store::lectures::lecture_in_school(&mut *self.conn().await?, caller.school_id, id).await?;
        Ok(lecture_proto(&lecture))
    }

    pub(super) async fn import_lectures(
        &self,
        admin: &Caller,
        req: ImportLecturesRequest,
    ) -> Result<ImportLecturesResponse> {
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
        let mut tx = self.db.begin_write().await?;
        let (year, semester) = (i64::from(req.year), i64::from(req.semester));
        let imported =
            store::lectures::import_lectures(&mut tx, req.school_id, year, semester, &rows).await?;
        tx.commit().await?;
        tracing::info!(admin = admin.user_id, school_id = req.school_id, imported, "lectures imported");
        Ok(ImportLecturesResponse { imported: imported as i32 })
    }
}
