//! Load benchmark of the timetable service over real gRPC, on SQLite and (when
//! `CAMPUS_TEST_PG_URL` is set) PostgreSQL: a 5,000-lecture catalog, then at 64 in flight
//!
//! - AddTimetableLecture where half the attempts conflict: each worker owns a user and a
//!   timetable holding one "anchor" lecture; it alternates a lecture that collides with the
//!   anchor (answered TIME_CONFLICT) and one that fits (answered OK, then removed again with an
//!   unmeasured RemoveTimetableLecture so the timetable never reaches 30 lectures);
//! - ListLectures searches (text, professor, day, time window and credits, 20 per page).
//!
//! `cargo bench -p campus-timetable`; `CAMPUS_BENCH_SECS` sets the measured seconds (default 10).

use std::sync::Arc;
use std::time::{Duration, Instant};

use campus_proto::google::api::HttpBody;
use campus_proto::timetable::v1::timetable_service_client::TimetableServiceClient;
use campus_proto::timetable::v1::{
    AddTimetableLectureRequest, CreateTimetableRequest, ImportLecturesRequest, Lecture, ListLecturesRequest,
    RemoveTimetableLectureRequest,
};
use campus_shared::db::Backend;
use campus_shared::identity::{Caller, Role};
use campus_testkit::bench::lectures::{PROFESSORS, SUBJECTS, around_anchor, catalog};
use campus_testkit::bench::{Report, Timed, run, run_timed};
use campus_testkit::{TestDatabase, TestIdentity, backends, channel};
use campus_timetable::{Application, Config};
use tonic::transport::Channel;
use tonic::{Code, Request};

const LECTURES: usize = 5_000;
const IN_FLIGHT: usize = 64;
const SCHOOL: i64 = 1;
const YEAR: i32 = 2026;
const FALL: i32 = 3;

#[tokio::main]
async fn main() {
    let secs: u64 = campus_testkit::bench::measured_secs(10);
    let mut rows = Vec::new();
    for backend in backends() {
        rows.extend(bench_backend(backend, Duration::from_secs(secs)).await);
    }
    println!("\n{}", Report::MARKDOWN_HEADER);
    for row in rows {
        println!("{row}");
    }
}

fn authorized<T>(identity: &TestIdentity, message: T, caller: &Caller) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", identity.bearer_for(caller).parse().expect("ascii"));
    request
}

fn user(user_id: i64) -> Caller {
    Caller { user_id, school_id: SCHOOL, role: Role::User, nickname: format!("user{user_id}") }
}

async fn bench_backend(backend: Backend, duration: Duration) -> Vec<String> {
    let label = match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    let db = TestDatabase::new(backend).await;
    let identity = TestIdentity::new();
    // Friends' timetables are not exercised, so the account upstream may be absent.
    let config = Config { service: identity.service_config(&db), account_addr: "http://127.0.0.1:9".into() };
    let app = Application::build(config).await.expect("build app");
    let client = TimetableServiceClient::new(channel(app.local_addr()));
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let admin = Caller { role: Role::Admin, ..user(0) };
    let body = HttpBody {
        content_type: "text/csv".into(),
        data: catalog(LECTURES).into_bytes(),
        extensions: vec![],
    };
    let started = Instant::now();
    let request = ImportLecturesRequest { school_id: SCHOOL, year: YEAR, semester: FALL, csv: Some(body) };
    let imported =
        client.clone().import_lectures(authorized(&identity, request, &admin)).await.expect("import");
    eprintln!("{label}: imported {} lectures in {:.2?}", imported.into_inner().imported, started.elapsed());

    let lectures = all_lectures(&client, &identity).await;
    assert_eq!(lectures.len(), LECTURES);
    let (anchor, conflicting, fitting) = around_anchor(&lectures).expect("lectures");
    eprintln!("{label}: {} lectures collide with the anchor, {} fit", conflicting.len(), fitting.len());

    // One user and timetable per worker, each holding the anchor lecture.
    let mut timetables = Vec::with_capacity(IN_FLIGHT);
    for worker in 0..IN_FLIGHT as i64 {
        let caller = user(1000 + worker);
        let create = CreateTimetableRequest { year: YEAR, semester: FALL, name: String::new() };
        let t =
            client.clone().create_timetable(authorized(&identity, create, &caller)).await.expect("create");
        let id = t.into_inner().id;
        let add = AddTimetableLectureRequest { timetable_id: id, lecture_id: anchor.id };
        client.clone().add_timetable_lecture(authorized(&identity, add, &caller)).await.expect("anchor");
        timetables.push((caller, id));
    }

    let add = add_workload(&client, &identity, &timetables, &conflicting, &fitting, duration).await;
    let add = Report { name: format!("{label}: AddTimetableLecture, 50% TIME_CONFLICT"), ..add };

    let shared = Arc::new((client.clone(), identity.clone()));
    let search = run(
        &format!("{label}: ListLectures search"),
        IN_FLIGHT,
        Duration::from_secs(2),
        duration,
        move |i| {
            let shared = shared.clone();
            async move {
                let (client, identity) = &*shared;
                let base =
                    ListLecturesRequest { year: YEAR, semester: FALL, page_size: 20, ..Default::default() };
                let request = match i % 4 {
                    0 => ListLecturesRequest {
                        query: SUBJECTS[(i / 4) as usize % SUBJECTS.len()].to_lowercase(),
                        ..base
                    },
                    1 => ListLecturesRequest {
                        professor: PROFESSORS[(i / 4) as usize % PROFESSORS.len()].into(),
                        ..base
                    },
                    2 => ListLecturesRequest { day: 1 + (i / 4 % 5) as i32, credits: Some(2), ..base },
                    _ => ListLecturesRequest {
                        time_from: Some(13 * 60),
                        time_to: Some(18 * 60),
                        query: "c1".into(),
                        ..base
                    },
                };
                match client.clone().list_lectures(authorized(identity, request, &user(7))).await {
                    Ok(page) => !page.into_inner().lectures.is_empty(),
                    Err(_) => false,
                }
            }
        },
    )
    .await;
    vec![add.markdown_row(), search.markdown_row()]
}

async fn all_lectures(client: &TimetableServiceClient<Channel>, identity: &TestIdentity) -> Vec<Lecture> {
    let authorize = |request| authorized(identity, request, &user(1));
    campus_testkit::timetable::all_lectures(client, YEAR, FALL, authorize).await.expect("list")
}

/// Each worker owns a timetable; only the AddTimetableLecture calls are timed, the removal
/// that undoes a successful add is not.
async fn add_workload(
    client: &TimetableServiceClient<Channel>,
    identity: &TestIdentity,
    timetables: &[(Caller, i64)],
    conflicting: &[i64],
    fitting: &[i64],
    duration: Duration,
) -> Report {
    let shared = Arc::new((
        client.clone(),
        identity.clone(),
        timetables.to_vec(),
        conflicting.to_vec(),
        fitting.to_vec(),
    ));
    run_timed("", timetables.len(), Duration::from_secs(2), duration, move |worker, i| {
        let shared = shared.clone();
        async move {
            let (client, identity, timetables, conflicting, fitting) = &*shared;
            let (caller, timetable_id) = &timetables[worker];
            let n = i as usize;
            let conflict = n.is_multiple_of(2);
            let lecture_id = if conflict {
                conflicting[n / 2 % conflicting.len()]
            } else {
                fitting[n * 31 % fitting.len()]
            };
            let add = AddTimetableLectureRequest { timetable_id: *timetable_id, lecture_id };
            let t0 = Instant::now();
            let result = client.clone().add_timetable_lecture(authorized(identity, add, caller)).await;
            let latency = t0.elapsed();
            let ok = match (&result, conflict) {
                (Err(status), true) => status.code() == Code::FailedPrecondition,
                (Ok(_), false) => true,
                _ => false,
            };
            if result.is_ok() {
                let remove = RemoveTimetableLectureRequest { timetable_id: *timetable_id, lecture_id };
                let _ = client.clone().remove_timetable_lecture(authorized(identity, remove, caller)).await;
            }
            Timed { ok, latency }
        }
    })
    .await
}
