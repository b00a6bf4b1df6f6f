//! Load benchmark of the timetable service over real gRPC, on SQLite and (when
//! `CAMPUS_TEST_PG_URL` is set) PostgreSQL: a 5,000-lecture catalog, then at 64 in flight
//!
//! - AddTimetableLecture where half the attempts conflict: each worker owns a user and a
//!   timetable holding one "anchor" lecture; it alternates a lecture that collides with the
//!   anchor (answered TIME_CONFLICT) and one that fits (answered OK, then removed again with an
//!   unmeasured RemoveTimetableLecture so the timetable never reaches 30 lectures);
//! - ListLectures searches (text, professor, day, time window and credits, 20 per page).
//!
//! `cargo bench -p campus-timetable`; `BENCH_SECS` sets the measured seconds (default 10).

use std::sync::Arc;
use std::time::{Duration, Instant};

use campus_proto::google::api::HttpBody;
use campus_proto::timetable::v1::timetable_service_client::TimetableServiceClient;
use campus_proto::timetable::v1::{
    AddTimetableLectureRequest, CreateTimetableRequest, ImportLecturesRequest, Lecture, ListLecturesRequest,
    RemoveTimetableLectureRequest,
};
use campus_shared::bench::{Report, run};
use campus_shared::db::Backend;
use campus_shared::identity::{Caller, Role};
use campus_shared::testing::{TestDatabase, TestIdentity, backends, channel};
use campus_timetable::{Application, Config};
use tonic::transport::Channel;
use tonic::{Code, Request};

const LECTURES: usize = 5_000;
const IN_FLIGHT: usize = 64;
const SCHOOL: i64 = 1;
const YEAR: i32 = 2026;
const FALL: i32 = 3;
const PROFESSORS: [&str; 10] =
    ["김민수", "이지원", "박서연", "최현우", "정아라", "강동훈", "윤하늘", "장미정", "임태호", "한소희"];
const SUBJECTS: [&str; 8] = [
    "Data Structures",
    "Algorithms",
    "Operating Systems",
    "Databases",
    "Networks",
    "Compilers",
    "Linear Algebra",
    "Statistics",
];

#[tokio::main]
async fn main() {
    let secs: u64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let mut rows = Vec::new();
    for backend in backends() {
        rows.extend(bench_backend(backend, Duration::from_secs(secs)).await);
    }
    println!("\n{}", Report::MARKDOWN_HEADER);
    for row in rows {
        println!("{row}");
    }
}

/// Lecture `i`: two 75-minute slots a week on a 30-minute grid, Monday to Friday 09:00-18:00.
fn catalog() -> String {
    let mut csv = String::from("code,name,professor,credits,times,section,category\n");
    for i in 0..LECTURES {
        let day = i % 5;
        let start = 9 * 60 + ((i / 5) % 16) * 30;
        let end = start + 75;
        let days = ["Mon", "Tue", "Wed", "Thu", "Fri"];
        let clock = |m: usize| format!("{:02}:{:02}", m / 60, m % 60);
        csv.push_str(&format!(
            "C{i:04},{} {},{},{},{} {}-{} R{}; {} {}-{} R{},01,major\n",
            SUBJECTS[i % SUBJECTS.len()],
            i / SUBJECTS.len(),
            PROFESSORS[i % PROFESSORS.len()],
            1 + i % 3,
            days[day],
            clock(start),
            clock(end),
            100 + i % 400,
            days[(day + 2) % 5],
            clock(start),
            clock(end),
            100 + i % 400,
        ));
    }
    csv
}

fn authorized<T>(identity: &TestIdentity, message: T, caller: &Caller) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", identity.bearer_for(caller).parse().expect("ascii"));
    request
}

fn user(user_id: i64) -> Caller {
    Caller { user_id, school_id: SCHOOL, role: Role::User, nickname: format!("user{user_id}") }
}

fn overlaps(a: &Lecture, b: &Lecture) -> bool {
    a.times.iter().any(|x| {
        b.times
            .iter()
            .any(|y| x.day == y.day && x.start_minute < y.end_minute && y.start_minute < x.end_minute)
    })
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
    let body = HttpBody { content_type: "text/csv".into(), data: catalog().into_bytes(), extensions: vec![] };
    let started = Instant::now();
    let request = ImportLecturesRequest { school_id: SCHOOL, year: YEAR, semester: FALL, csv: Some(body) };
    let imported =
        client.clone().import_lectures(authorized(&identity, request, &admin)).await.expect("import");
    eprintln!("{label}: imported {} lectures in {:.2?}", imported.into_inner().imported, started.elapsed());

    let lectures = all_lectures(&client, &identity).await;
    assert_eq!(lectures.len(), LECTURES);
    let anchor = lectures[0].clone();
    let conflicting: Vec<i64> = lectures[1..].iter().filter(|l| overlaps(l, &anchor)).map(|l| l.id).collect();
    let fitting: Vec<i64> = lectures.iter().filter(|l| !overlaps(l, &anchor)).map(|l| l.id).collect();
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
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = ListLecturesRequest {
            year: YEAR,
            semester: FALL,
            page_size: 100,
            page_token,
            ..Default::default()
        };
        let page = client
            .clone()
            .list_lectures(authorized(identity, request, &user(1)))
            .await
            .expect("list")
            .into_inner();
        all.extend(page.lectures);
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

/// A closed loop per worker (each needs its own timetable, which `bench::run` cannot give):
/// only the AddTimetableLecture calls are timed.
async fn add_workload(
    client: &TimetableServiceClient<Channel>,
    identity: &TestIdentity,
    timetables: &[(Caller, i64)],
    conflicting: &[i64],
    fitting: &[i64],
    duration: Duration,
) -> Report {
    let warmup = Duration::from_secs(2);
    let measure_from = Instant::now() + warmup;
    let end = measure_from + duration;
    let mut workers = Vec::new();
    for (worker, (caller, timetable_id)) in timetables.iter().cloned().enumerate() {
        let client = client.clone();
        let identity = identity.clone();
        let conflicting = conflicting.to_vec();
        let fitting = fitting.to_vec();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut n = worker * 7919;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                n += 1;
                let conflict = n % 2 == 0;
                let lecture_id = if conflict {
                    conflicting[n % conflicting.len()]
                } else {
                    fitting[(n * 31) % fitting.len()]
                };
                let add = AddTimetableLectureRequest { timetable_id, lecture_id };
                let result = client.clone().add_timetable_lecture(authorized(&identity, add, &caller)).await;
                let elapsed = t0.elapsed();
                let ok = match (&result, conflict) {
                    (Err(status), true) => status.code() == Code::FailedPrecondition,
                    (Ok(_), false) => true,
                    _ => false,
                };
                if result.is_ok() {
                    let remove = RemoveTimetableLectureRequest { timetable_id, lecture_id };
                    let _ =
                        client.clone().remove_timetable_lecture(authorized(&identity, remove, &caller)).await;
                }
                if t0 >= measure_from {
                    latencies.push(elapsed);
                    errors += u64::from(!ok);
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        if let Ok((l, e)) = worker.await {
            latencies.extend(l);
            errors += e;
        }
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Report {
        name: String::new(),
        requests: latencies.len() as u64,
        errors,
        elapsed: duration,
        p50: pct(0.50),
        p90: pct(0.90),
        p99: pct(0.99),
    }
}
