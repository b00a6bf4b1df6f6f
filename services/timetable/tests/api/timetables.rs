//! Timetables: names, primary, ownership, adding lectures and custom entries with conflict
//! checks, limits and concurrency.

use std::collections::HashMap;

use campus_proto::timetable::v1::{
    AddCustomEntryRequest, AddTimetableLectureRequest, DayOfWeek, DeleteTimetableRequest,
    GetTimetableRequest, ListTimetablesRequest, RemoveCustomEntryRequest, RemoveTimetableLectureRequest,
    TimeSlot, Timetable, UpdateTimetableRequest,
};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::helpers::*;
use campus_testkit::status::*;

const ALICE: i64 = 11;
const BOB: i64 = 12;

async fn add(app: &TestApp, user: i64, timetable_id: i64, lecture_id: i64) -> Result<Timetable, Status> {
    let request = AddTimetableLectureRequest { timetable_id, lecture_id };
    app.client().add_timetable_lecture(app.req(request, user)).await.map(|r| r.into_inner())
}

async fn get(app: &TestApp, user: i64, id: i64) -> Result<Timetable, Status> {
    app.client().get_timetable(app.req(GetTimetableRequest { id }, user)).await.map(|r| r.into_inner())
}

async fn list(app: &TestApp, user: i64) -> Vec<Timetable> {
    let request = ListTimetablesRequest { year: YEAR, semester: FALL };
    app.client().list_timetables(app.req(request, user)).await.unwrap().into_inner().timetables
}

fn slot(day: DayOfWeek, start: i32, end: i32) -> TimeSlot {
    TimeSlot { day: day as i32, start_minute: start, end_minute: end, room: String::new() }
}

#[tokio::test]
async fn default_names_primary_rename_and_delete() {
    each_backend(|app| async move {
        let first = app.create_timetable(ALICE, YEAR, FALL, "").await;
        let second = app.create_timetable(ALICE, YEAR, FALL, "").await;
        let named = app.create_timetable(ALICE, YEAR, FALL, "  Plan B  ").await;
        assert_eq!((first.name.as_str(), first.primary), ("시간표 1", true));
        assert_eq!((second.name.as_str(), second.primary), ("시간표 2", false));
        assert_eq!((named.name.as_str(), named.primary), ("Plan B", false));
        // Another semester starts again at 1, with its own primary.
        let spring = app.create_timetable(ALICE, YEAR, SPRING, "").await;
        assert_eq!((spring.name.as_str(), spring.primary), ("시간표 1", true));

        // Make the third primary: exactly one primary remains.
        let request = UpdateTimetableRequest { id: named.id, name: None, primary: Some(true) };
        let updated = app.client().update_timetable(app.req(request, ALICE)).await.unwrap().into_inner();
        assert!(updated.primary);
        let primaries: Vec<i64> =
            list(&app, ALICE).await.iter().filter(|t| t.primary).map(|t| t.id).collect();
        assert_eq!(primaries, [named.id]);

        // Rename (1-20 characters).
        let request =
            UpdateTimetableRequest { id: second.id, name: Some("월수금 시간표".into()), primary: None };
        let renamed = app.client().update_timetable(app.req(request, ALICE)).await.unwrap().into_inner();
        assert_eq!(renamed.name, "월수금 시간표");
        for bad in ["", "   ", &"가".repeat(21)] {
            let request =
                UpdateTimetableRequest { id: second.id, name: Some(bad.to_string()), primary: None };
            let err = app.client().update_timetable(app.req(request, ALICE)).await.unwrap_err();
            assert_eq!(violated_fields(&err), ["name"]);
        }
        let request = UpdateTimetableRequest { id: second.id, name: None, primary: Some(false) };
        let err = app.client().update_timetable(app.req(request, ALICE)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["primary"]);

        // "시간표 2" was renamed, so the next default name reuses 2.
        let next = app.create_timetable(ALICE, YEAR, FALL, "").await;
        assert_eq!(next.name, "시간표 2");

        // Deleting the primary promotes the oldest remaining timetable.
        app.client().delete_timetable(app.req(DeleteTimetableRequest { id: named.id }, ALICE)).await.unwrap();
        let remaining = list(&app, ALICE).await;
        assert_eq!(remaining.iter().map(|t| t.id).collect::<Vec<_>>(), [first.id, second.id, next.id]);
        assert_eq!(remaining.iter().filter(|t| t.primary).map(|t| t.id).collect::<Vec<_>>(), [first.id]);
        let err = get(&app, ALICE, named.id).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);

        // Deleting a non-primary one leaves the primary alone.
        app.client().delete_timetable(app.req(DeleteTimetableRequest { id: next.id }, ALICE)).await.unwrap();
        assert!(get(&app, ALICE, first.id).await.unwrap().primary);
    })
    .await;
}

#[tokio::test]
async fn timetables_are_owner_only() {
    each_backend(|app| async move {
        app.import(SCHOOL, YEAR, FALL, CATALOG).await.unwrap();
        let ds = app.lecture("CSE2010").await;
        let mine = app.create_timetable(ALICE, YEAR, FALL, "").await;
        assert_status(&get(&app, BOB, mine.id).await.unwrap_err(), Code::NotFound, "NOT_FOUND");
        assert_eq!(add(&app, BOB, mine.id, ds.id).await.unwrap_err().code(), Code::NotFound);
        let rename = UpdateTimetableRequest { id: mine.id, name: Some("hacked".into()), primary: None };
        assert_eq!(
            app.client().update_timetable(app.req(rename, BOB)).await.unwrap_err().code(),
            Code::NotFound
        );
        let delete = DeleteTimetableRequest { id: mine.id };
        assert_eq!(
            app.client().delete_timetable(app.req(delete, BOB)).await.unwrap_err().code(),
            Code::NotFound
        );
        assert!(list(&app, BOB).await.is_empty());
        let still = get(&app, ALICE, mine.id).await.unwrap();
        assert_eq!((still.name.as_str(), still.lectures.len()), ("시간표 1", 0));
    })
    .await;
}

#[tokio::test]
async fn adding_lectures_checks_conflicts_and_counts_credits() {
    each_backend(|app| async move {
        app.import(SCHOOL, YEAR, FALL, CATALOG).await.unwrap();
        let ds = app.lecture("CSE2010").await;
        let algo = app.lecture("CSE3010").await;
        let os = app.lecture("CSE3020").await;
        let db = app.lecture("CSE3030").await;
        let t = app.create_timetable(ALICE, YEAR, FALL, "").await;

        let after = add(&app, ALICE, t.id, ds.id).await.unwrap();
        assert_eq!((after.lectures.len(), after.total_credits), (1, 3));
        // 10:15 end and 10:15 start only touch.
        let after = add(&app, ALICE, t.id, algo.id).await.unwrap();
        assert_eq!(after.total_credits, 6);

        // OS (Mon 10:00-11:00) overlaps Data Structures first.
        let err = add(&app, ALICE, t.id, os.id).await.unwrap_err();
        assert_status(&err, Code::FailedPrecondition, "TIME_CONFLICT");
        assert!(err.message().contains("Data Structures"), "{}", err.message());
        let info = err.get_error_details().error_info().cloned().unwrap();
        assert_eq!(info.metadata.get("conflictingId"), Some(&ds.id.to_string()));
        assert_eq!(info.metadata.get("conflictingName").map(String::as_str), Some("Data Structures"));
        assert_eq!(info.metadata.get("conflictingKind").map(String::as_str), Some("lecture"));

        // The same lecture twice.
        let err = add(&app, ALICE, t.id, ds.id).await.unwrap_err();
        assert_status(&err, Code::AlreadyExists, "LECTURE_ALREADY_ADDED");

        let after = add(&app, ALICE, t.id, db.id).await.unwrap();
        assert_eq!(after.total_credits, 8);
        let fetched = get(&app, ALICE, t.id).await.unwrap();
        assert_eq!(fetched.lectures.iter().map(|l| l.id).collect::<Vec<_>>(), [ds.id, algo.id, db.id]);
        assert_eq!(fetched.total_credits, 8);

        // Removing Data Structures frees its slot for OS... which still collides with Algorithms.
        let request = RemoveTimetableLectureRequest { timetable_id: t.id, lecture_id: ds.id };
        let after =
            app.client().remove_timetable_lecture(app.req(request, ALICE)).await.unwrap().into_inner();
        assert_eq!(after.total_credits, 5);
        let err = add(&app, ALICE, t.id, os.id).await.unwrap_err();
        assert!(err.message().contains("Algorithms"), "{}", err.message());
        let request = RemoveTimetableLectureRequest { timetable_id: t.id, lecture_id: algo.id };
        app.client().remove_timetable_lecture(app.req(request, ALICE)).await.unwrap();
        assert_eq!(add(&app, ALICE, t.id, os.id).await.unwrap().total_credits, 5);

        // Removing what is not there.
        let request = RemoveTimetableLectureRequest { timetable_id: t.id, lecture_id: ds.id };
        let err = app.client().remove_timetable_lecture(app.req(request, ALICE)).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
    })
    .await;
}

#[tokio::test]
async fn unknown_foreign_and_other_semester_lectures_are_refused() {
    each_backend(|app| async move {
        app.import(SCHOOL, YEAR, FALL, CATALOG).await.unwrap();
        app.import(OTHER_SCHOOL, YEAR, FALL, CATALOG).await.unwrap();
        app.import(
            SCHOOL,
            YEAR,
            SPRING,
            "code,name,professor,credits,times\nSPR1,Spring Only,P,3,Mon 09:00-10:00\n",
        )
        .await
        .unwrap();
        let foreign = app.all_lectures(OTHER_SCHOOL, YEAR, FALL).await.remove(0);
        let spring = app.all_lectures(SCHOOL, YEAR, SPRING).await.remove(0);
        let t = app.create_timetable(ALICE, YEAR, FALL, "").await;

        assert_status(&add(&app, ALICE, t.id, 424242).await.unwrap_err(), Code::NotFound, "NOT_FOUND");
        assert_status(&add(&app, ALICE, t.id, foreign.id).await.unwrap_err(), Code::NotFound, "NOT_FOUND");
        let err = add(&app, ALICE, t.id, spring.id).await.unwrap_err();
        assert_status(&err, Code::FailedPrecondition, "SEMESTER_MISMATCH");
        assert_status(&add(&app, ALICE, 777, spring.id).await.unwrap_err(), Code::NotFound, "NOT_FOUND");
        assert!(get(&app, ALICE, t.id).await.unwrap().lectures.is_empty());
    })
    .await;
}

#[tokio::test]
async fn at_most_thirty_lectures() {
    each_backend(|app| async move {
        // 31 lectures, each in its own 30-minute slot of the week.
        let mut csv = String::from("code,name,professor,credits,times\n");
        for i in 0..31 {
            let day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i % 7];
            let hour = 8 + i / 7;
            csv.push_str(&format!("L{i:03},Lecture {i},P,1,{day} {hour:02}:00-{hour:02}:30\n"));
        }
        assert_eq!(app.import(SCHOOL, YEAR, FALL, &csv).await.unwrap(), 31);
        let lectures = app.all_lectures(SCHOOL, YEAR, FALL).await;
        let t = app.create_timetable(ALICE, YEAR, FALL, "").await;
        for l in &lectures[..30] {
            add(&app, ALICE, t.id, l.id).await.unwrap();
        }
        let err = add(&app, ALICE, t.id, lectures[30].id).await.unwrap_err();
        assert_status(&err, Code::FailedPrecondition, "TOO_MANY_LECTURES");
        assert_eq!(get(&app, ALICE, t.id).await.unwrap().total_credits, 30);
    })
    .await;
}

#[tokio::test]
async fn custom_entries_collide_like_lectures() {
    each_backend(|app| async move {
        app.import(SCHOOL, YEAR, FALL, CATALOG).await.unwrap();
        let ds = app.lecture("CSE2010").await;
        let os = app.lecture("CSE3020").await;
        let t = app.create_timetable(ALICE, YEAR, FALL, "").await;
        add(&app, ALICE, t.id, ds.id).await.unwrap();

        let entry = |title: &str, times: Vec<TimeSlot>| AddCustomEntryRequest {
            timetable_id: t.id,
            title: title.into(),
            times,
        };
        // Overlaps Data Structures on Wednesday.
        let request = entry("동아리", vec![slot(DayOfWeek::Wednesday, 600, 660)]);
        let err = app.client().add_custom_entry(app.req(request, ALICE)).await.unwrap_err();
        assert_status(&err, Code::FailedPrecondition, "TIME_CONFLICT");
        assert!(err.message().contains("Data Structures"));

        // Touching is fine: Mon 10:15-11:00 right after Data Structures.
        let request =
            entry("알바", vec![slot(DayOfWeek::Monday, 615, 660), slot(DayOfWeek::Friday, 1080, 1320)]);
        let after = app.client().add_custom_entry(app.req(request, ALICE)).await.unwrap().into_inner();
        assert_eq!(after.custom_entries.len(), 1);
        let job = after.custom_entries[0].clone();
        assert_eq!((job.title.as_str(), job.times.len()), ("알바", 2));
        assert_eq!(after.total_credits, 3, "entries carry no credits");

        // A lecture now collides with the entry, named in the error.
        let err = add(&app, ALICE, t.id, os.id).await.unwrap_err();
        assert_status(&err, Code::FailedPrecondition, "TIME_CONFLICT");
        let info = err.get_error_details().error_info().cloned().unwrap();
        let metadata: HashMap<String, String> = info.metadata;
        assert!(
            metadata.get("conflictingName").is_some_and(|n| n == "Data Structures" || n == "알바"),
            "{metadata:?}"
        );

        // Bad entries: every problem is reported by field.
        let request = entry(
            &"x".repeat(31),
            vec![TimeSlot { day: 0, start_minute: 601, end_minute: 1500, room: String::new() }],
        );
        let err = app.client().add_custom_entry(app.req(request, ALICE)).await.unwrap_err();
        assert_eq!(
            violated_fields(&err),
            ["title", "times[0].day", "times[0].startMinute", "times[0].endMinute"]
        );
        let request = entry("x", vec![slot(DayOfWeek::Sunday, 600, 600)]);
        let err = app.client().add_custom_entry(app.req(request, ALICE)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["times[0].endMinute"]);
        let request = entry("x", vec![]);
        let err = app.client().add_custom_entry(app.req(request, ALICE)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["times"]);
        let request = entry("x", vec![slot(DayOfWeek::Sunday, 600, 700), slot(DayOfWeek::Sunday, 650, 720)]);
        let err = app.client().add_custom_entry(app.req(request, ALICE)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["times[1]"]);

        // Remove the entry; then OS still collides with Data Structures only.
        let request = RemoveCustomEntryRequest { timetable_id: t.id, entry_id: job.id };
        let after = app.client().remove_custom_entry(app.req(request, ALICE)).await.unwrap().into_inner();
        assert!(after.custom_entries.is_empty());
        let err = app.client().remove_custom_entry(app.req(request, ALICE)).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);
        let request = RemoveCustomEntryRequest { timetable_id: t.id, entry_id: job.id };
        assert_eq!(
            app.client().remove_custom_entry(app.req(request, BOB)).await.unwrap_err().code(),
            Code::NotFound
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_adds_never_leave_colliding_lectures() {
    each_backend(|app| async move {
        // 64 lectures on Monday morning, pairwise overlapping in chains: lecture i starts at
        // 08:00 + 5*i minutes and lasts 30 minutes, so many pairs collide.
        let mut csv = String::from("code,name,professor,credits,times\n");
        for i in 0..64 {
            let start = 8 * 60 + 5 * i;
            let end = start + 30;
            csv.push_str(&format!(
                "C{i:03},Course {i},P,1,Mon {:02}:{:02}-{:02}:{:02}\n",
                start / 60,
                start % 60,
                end / 60,
                end % 60
            ));
        }
        app.import(SCHOOL, YEAR, FALL, &csv).await.unwrap();
        let lectures = app.all_lectures(SCHOOL, YEAR, FALL).await;
        assert_eq!(lectures.len(), 64);
        let t = app.create_timetable(ALICE, YEAR, FALL, "").await;

        let attempts = lectures.iter().map(|l| {
            let app = &app;
            let (tid, lid) = (t.id, l.id);
            async move { add(app, ALICE, tid, lid).await }
        });
        let results = futures::future::join_all(attempts).await;
        let mut ok = 0;
        for result in &results {
            match result {
                Ok(_) => ok += 1,
                Err(status) => assert_status(status, Code::FailedPrecondition, "TIME_CONFLICT"),
            }
        }
        let final_state = get(&app, ALICE, t.id).await.unwrap();
        assert_eq!(final_state.lectures.len(), ok);
        let overlap = |a: &TimeSlot, b: &TimeSlot| {
            a.day == b.day && a.start_minute < b.end_minute && b.start_minute < a.end_minute
        };
        let slots: Vec<&TimeSlot> = final_state.lectures.iter().flat_map(|l| &l.times).collect();
        for (i, a) in slots.iter().enumerate() {
            for b in &slots[i + 1..] {
                assert!(!overlap(a, b), "{a:?} collides with {b:?} ({:?})", app.backend);
            }
        }
        // And every refused lecture really collides with one that was kept.
        let kept: Vec<i64> = final_state.lectures.iter().map(|l| l.id).collect();
        for l in lectures.iter().filter(|l| !kept.contains(&l.id)) {
            assert!(
                slots.iter().any(|s| overlap(s, &l.times[0])),
                "{} was refused without a conflict",
                l.code
            );
        }
    })
    .await;
}

#[tokio::test]
async fn timetable_requests_are_validated() {
    each_backend(|app| async move {
        let request = campus_proto::timetable::v1::CreateTimetableRequest {
            year: 0,
            semester: 9,
            name: "x".repeat(21),
        };
        let err = app.client().create_timetable(app.req(request, ALICE)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["year", "semester", "name"]);
        let request = ListTimetablesRequest { year: YEAR, semester: 0 };
        let err = app.client().list_timetables(app.req(request, ALICE)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["semester"]);
        // Without a filter, every semester's timetables.
        app.create_timetable(ALICE, YEAR, FALL, "").await;
        app.create_timetable(ALICE, YEAR, SPRING, "").await;
        let request = ListTimetablesRequest { year: 0, semester: 0 };
        let all =
            app.client().list_timetables(app.req(request, ALICE)).await.unwrap().into_inner().timetables;
        assert_eq!(all.iter().map(|t| t.semester).collect::<Vec<_>>(), [SPRING, FALL]);
    })
    .await;
}

#[tokio::test]
async fn concurrent_primary_changes_keep_exactly_one_primary() {
    each_backend(|app| async move {
        // Eight "first" timetables at once: exactly one becomes primary.
        let creates = (0..8).map(|_| app.create_timetable(ALICE, YEAR, FALL, ""));
        let created = futures::future::join_all(creates).await;
        let primaries = |all: &[Timetable]| all.iter().filter(|t| t.primary).count();
        assert_eq!(primaries(&created), 1, "{:?}", app.backend);

        // Everyone asks to be primary at once, while two others are deleted.
        let updates = created.iter().skip(2).map(|t| {
            let request = UpdateTimetableRequest { id: t.id, name: None, primary: Some(true) };
            let app = &app;
            async move { app.client().update_timetable(app.req(request, ALICE)).await.map(|_| ()) }
        });
        let deletes = created.iter().take(2).map(|t| {
            let app = &app;
            let request = DeleteTimetableRequest { id: t.id };
            async move { app.client().delete_timetable(app.req(request, ALICE)).await.map(|_| ()) }
        });
        let (updated, deleted) =
            futures::future::join(futures::future::join_all(updates), futures::future::join_all(deletes))
                .await;
        for result in updated.into_iter().chain(deleted) {
            result.unwrap_or_else(|e| panic!("{:?}: {e:?}", app.backend));
        }
        let remaining = list(&app, ALICE).await;
        assert_eq!(remaining.len(), 6);
        assert_eq!(primaries(&remaining), 1);
    })
    .await;
}

#[tokio::test]
async fn timetables_need_a_token() {
    each_backend(|app| async move {
        let err =
            app.client().get_timetable(tonic::Request::new(GetTimetableRequest { id: 1 })).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        let mut forged = tonic::Request::new(ListTimetablesRequest { year: YEAR, semester: FALL });
        forged.metadata_mut().insert("authorization", "Bearer not.a.token".parse().unwrap());
        assert_eq!(app.client().list_timetables(forged).await.unwrap_err().code(), Code::Unauthenticated);
    })
    .await;
}
