//! Timetables: listing, creating, renaming and deleting them, adding and removing lectures
//! and custom entries, and a friend's primary timetable.

use campus_proto::timetable::v1::{
    AddCustomEntryRequest, AddTimetableLectureRequest, CreateTimetableRequest, CustomEntry,
    GetFriendTimetableRequest, ListTimetablesRequest, ListTimetablesResponse, RemoveCustomEntryRequest,
    RemoveTimetableLectureRequest, TimeSlot, Timetable, UpdateTimetableRequest,
};
use campus_shared::db::{now_micros, timestamp};
use campus_shared::error::{Error, Violations, is_unique_violation};
use campus_shared::id::next_id;
use campus_shared::{Caller, Result};
use tonic::Request;

use super::lectures::{lecture_proto, slot_proto};
use super::{TimetableApi, term};
use crate::domain::schedule::{self, Slot};
use crate::domain::{self, Text, import};
use crate::store::timetables as store;
use crate::store::{EntryRow, TimetableRow, TimetableView};

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

pub(super) fn timetable_proto(v: &TimetableView) -> Timetable {
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

impl TimetableApi {
    pub(super) async fn list_timetables(
        &self,
        caller: &Caller,
        req: ListTimetablesRequest,
    ) -> Result<ListTimetablesResponse> {
        // Both unset lists every semester's timetables.
        let filter =
            if req.year == 0 && req.semester == 0 { None } else { Some(term(req.year, req.semester)?) };
        let views = store::list_timetables(&mut *self.conn().await?, caller.user_id, filter).await?;
        Ok(ListTimetablesResponse { timetables: views.iter().map(timetable_proto).collect() })
    }

    pub(super) async fn create_timetable(
        &self,
        caller: &Caller,
        req: CreateTimetableRequest,
    ) -> Result<Timetable> {
        let mut v = Violations::new();
        domain::check_term(req.year, req.semester, &mut v);
        let name = req.name.trim();
        if !name.is_empty() {
            domain::check_chars(name, 1, domain::MAX_TIMETABLE_NAME_CHARS, "name", Text::Line, &mut v);
        }
        v.finish()?;
        let (year, semester) = (i64::from(req.year), i64::from(req.semester));
        let name = Some(name).filter(|n| !n.is_empty());
        // Two concurrent "first" timetables of one semester both try to be primary on
        // PostgreSQL (there is no row to lock yet); the loser retries and sees the winner.
        let mut attempts = 0;
        let view = loop {
            attempts += 1;
            match self.try_create_timetable(caller, year, semester, name).await {
                Err(Error::Database(e)) if is_unique_violation(&e) && attempts < 3 => continue,
                other => break other?,
            }
        };
        Ok(timetable_proto(&view))
    }

    async fn try_create_timetable(
        &self,
        caller: &Caller,
        year: i64,
        semester: i64,
        name: Option<&str>,
    ) -> Result<TimetableView> {
        let mut tx = self.db.begin_write().await?;
        let existing = store::lock_semester(&mut tx, self.db.backend, caller.user_id, year, semester).await?;
        let (name, primary) =
            domain::timetable::new_timetable(name, existing.iter().map(|t| (t.name.as_str(), t.primary)));
        let now = now_micros();
        let timetable = TimetableRow {
            id: next_id(),
            user_id: caller.user_id,
            year,
            semester,
            name,
            primary,
            created_at: now,
            updated_at: now,
        };
        store::insert_timetable(&mut tx, caller.school_id, &timetable).await?;
        tx.commit().await?;
        Ok(TimetableView { timetable, lectures: Vec::new(), entries: Vec::new() })
    }

    pub(super) async fn get_timetable(&self, caller: &Caller, id: i64) -> Result<Timetable> {
        let view = store::get_timetable(&mut *self.conn().await?, caller.user_id, id).await?;
        Ok(timetable_proto(&view))
    }

    pub(super) async fn update_timetable(
        &self,
        caller: &Caller,
        req: UpdateTimetableRequest,
    ) -> Result<Timetable> {
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
        let backend = self.db.backend;
        let mut tx = self.db.begin_write().await?;
        let (timetable, _) = store::lock_in_semester(&mut tx, backend, caller.user_id, req.id).await?;
        let now = now_micros();
        if req.primary == Some(true) && !timetable.primary {
            store::make_primary(&mut tx, &timetable, now).await?;
        }
        if let Some(name) = name {
            store::rename_timetable(&mut tx, req.id, name).await?;
        }
        store::touch(&mut tx, req.id, now).await?;
        let view = store::locked_view(&mut tx, backend, caller.user_id, req.id).await?;
        tx.commit().await?;
        Ok(timetable_proto(&view))
    }

    /// Deletes a timetable; when it was primary, the semester's oldest remaining one becomes
    /// primary.
    pub(super) async fn delete_timetable(&self, caller: &Caller, id: i64) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        let (timetable, siblings) =
            store::lock_in_semester(&mut tx, self.db.backend, caller.user_id, id).await?;
        store::delete_timetable(&mut tx, id).await?;
        if timetable.primary
            && let Some(next) = siblings.iter().find(|t| t.id != id)
        {
            store::promote(&mut tx, next.id, now_micros()).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds a lecture of the caller's school to one of the caller's timetables: the
    /// timetable's lock first (with what it holds), then the lecture, then the rules, then the
    /// write.
    pub(super) async fn add_lecture(
        &self,
        caller: &Caller,
        req: AddTimetableLectureRequest,
    ) -> Result<Timetable> {
        let mut tx = self.db.begin_write().await?;
        let mut view = store::locked_view(&mut tx, self.db.backend, caller.user_id, req.timetable_id).await?;
        let lecture =
            crate::store::lectures::lecture_in_school(&mut tx, caller.school_id, req.lecture_id).await?;
        domain::timetable::admit_lecture(view.term(), &view.schedule(), &lecture.candidate())?;
        let now = now_micros();
        store::insert_lecture(&mut tx, req.timetable_id, lecture.id, now).await?;
        tx.commit().await?;
        view.lectures.push(lecture);
        view.timetable.updated_at = now;
        Ok(timetable_proto(&view))
    }

    pub(super) async fn remove_lecture(
        &self,
        caller: &Caller,
        req: RemoveTimetableLectureRequest,
    ) -> Result<Timetable> {
        let mut tx = self.db.begin_write().await?;
        let view =
            store::remove_lecture(&mut tx, self.db.backend, caller.user_id, req.timetable_id, req.lecture_id)
                .await?;
        tx.commit().await?;
        Ok(timetable_proto(&view))
    }

    pub(super) async fn add_entry(&self, caller: &Caller, req: AddCustomEntryRequest) -> Result<Timetable> {
        let mut v = Violations::new();
        let title = req.title.trim();
        domain::check_chars(title, 1, domain::MAX_ENTRY_TITLE_CHARS, "title", Text::Line, &mut v);
        let slots = parse_slots(&req.times, &mut v);
        v.finish()?;
        let entry = EntryRow { id: next_id(), title: title.to_string(), times: slots };
        let mut tx = self.db.begin_write().await?;
        let mut view = store::locked_view(&mut tx, self.db.backend, caller.user_id, req.timetable_id).await?;
        domain::timetable::admit_entry(&view.schedule(), &entry.item())?;
        let now = now_micros();
        store::insert_entry(&mut tx, req.timetable_id, &entry, now).await?;
        tx.commit().await?;
        view.entries.push(entry);
        view.timetable.updated_at = now;
        Ok(timetable_proto(&view))
    }

    pub(super) async fn remove_entry(
        &self,
        caller: &Caller,
        req: RemoveCustomEntryRequest,
    ) -> Result<Timetable> {
        let mut tx = self.db.begin_write().await?;
        let view =
            store::remove_entry(&mut tx, self.db.backend, caller.user_id, req.timetable_id, req.entry_id)
                .await?;
        tx.commit().await?;
        Ok(timetable_proto(&view))
    }

    pub(super) async fn friend_timetable(
        &self,
        caller: &Caller,
        request: &Request<GetFriendTimetableRequest>,
    ) -> Result<Timetable> {
        let req = request.get_ref();
        let (year, semester) = term(req.year, req.semester)?;
        let user_id = req.user_id;
        // Not friends looks exactly like "no timetable": nothing about the user leaks.
        if user_id != caller.user_id && !self.are_friends(request, caller.user_id, user_id).await? {
            return Err(Error::NotFound("timetable"));
        }
        let view = store::primary_timetable(&mut *self.conn().await?, user_id, year, semester).await?;
        Ok(timetable_proto(&view))
    }
}
