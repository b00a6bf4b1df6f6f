//! Timetable rules (issue 7) as a web or mobile client sees them: HTTP/JSON through the
//! gateway, on every backend. The lecture CSV import (atomic, line and column in errors),
//! search, timetables with conflict checks, friends' timetables, reviews and grades; every
//! refused write is followed by a read-back showing nothing of it was kept.

use campus_testkit::backends;
use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Client, Reply, School, TestSystem, User};

/// A term the demo seed leaves empty, so each test owns its catalog.
const YEAR: i64 = 2027;
const SPRING: &str = "SEMESTER_SPRING";
const SUMMER: &str = "SEMESTER_SUMMER";
const WINTER: &str = "SEMESTER_WINTER";
/// The seeded term (standalone/seed/lectures-2026-fall.csv, the same for both schools).
const SEED_YEAR: i64 = 2026;
const FALL: &str = "SEMESTER_FALL";

/// Sorted by code: ALG201, ART100, DS101-01, DS101-02, ENG110, NET302, OS301. Chosen so that
/// ALG201 only touches DS101-01 (10:15), OS301 overlaps DS101-01 only (Mon 09:00-09:30), and
/// ART100 (Fri 13:00-14:50) is free until a custom entry takes Friday afternoon.
const CATALOG: &str = "code,name,professor,credits,times,section,category\n\
    DS101,Data Structures,Kim Minsu,3,Mon 09:00-10:15 R101; Wed 09:00-10:15 R101,01,major\n\
    DS101,Data Structures,Lee Jiyoung,3,Tue 13:30-14:45 R102; Thu 13:30-14:45 R102,02,major\n\
    ALG201,Algorithms,Park Sora,3,Mon 10:15-11:30 R201; Wed 10:15-11:30 R201,01,major\n\
    OS301,Operating Systems,Kim Taeho,3,Mon 08:00-09:30 R301,01,major\n\
    NET302,\"Networks, Intro\",Choi Yuna,2,Tue 09:00-09:50 R302; Fri 09:00-09:50 R302,01,elective\n\
    ART100,미술의 이해,한지민,2,Fri 13:00-14:50 A1,01,교양\n\
    ENG110,English Evening,Kim Minsu,1,Thu 18:00-19:40 E1,01,교양\n";

const ALL_CODES: [&str; 7] =
    ["ALG201-01", "ART100-01", "DS101-01", "DS101-02", "ENG110-01", "NET302-01", "OS301-01"];

/// Percent-encodes a query value (Korean text, `%`, spaces).
fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Imports a CSV as the admin into a school's term; the raw reply.
async fn import(sys: &TestSystem, school: School, year: i64, semester: &str, csv: &str) -> Reply {
    import_as(sys, &sys.admin(), school, year, semester, csv).await
}

async fn import_as(
    sys: &TestSystem,
    client: &Client,
    school: School,
    year: i64,
    semester: &str,
    csv: &str,
) -> Reply {
    let (school_id, _) = sys.school(school).await;
    let path = format!("/v1/lectures:import?schoolId={school_id}&year={year}&semester={semester}");
    client.send_bytes(Method::POST, &path, "text/csv", csv.as_bytes().to_vec()).await
}

/// Imports [`CATALOG`] into the school's spring 2027.
async fn import_catalog(sys: &TestSystem, school: School) {
    let imported = import(sys, school, YEAR, SPRING, CATALOG).await.ok();
    assert_eq!(imported, json!({"imported": 7}), "{:?}", sys.backend);
}

/// One search: `filters` is the query string after the term.
async fn search(user: &Client, year: i64, semester: &str, filters: &str) -> Reply {
    user.get(&format!("/v1/lectures?year={year}&semester={semester}{filters}")).await
}

/// `code-section` of each lecture of a list.
fn codes(lectures: &Value) -> Vec<String> {
    let lectures = lectures.as_array().unwrap_or_else(|| panic!("a list of lectures: {lectures}"));
    lectures
        .iter()
        .map(|l| format!("{}-{}", l["code"].as_str().unwrap(), l["section"].as_str().unwrap()))
        .collect()
}

/// The codes one search of spring 2027 finds (a single page).
async fn found(user: &Client, filters: &str) -> Vec<String> {
    let page = search(user, YEAR, SPRING, &format!("{filters}&pageSize=100")).await.ok();
    assert_eq!(page["nextPageToken"], "", "{filters}");
    codes(&page["lectures"])
}

/// A lecture of a term by code and section, as a user of its school finds it.
async fn lecture(user: &Client, year: i64, semester: &str, code: &str, section: &str) -> Value {
    let page = search(user, year, semester, &format!("&query={}", enc(code))).await.ok();
    let found =
        page["lectures"].as_array().unwrap().iter().find(|l| l["code"] == code && l["section"] == section);
    found.unwrap_or_else(|| panic!("lecture {code}-{section} in {page}")).clone()
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_else(|| panic!("an id in {value}")).to_string()
}

async fn create_timetable(user: &Client, year: i64, semester: &str, name: Option<&str>) -> Value {
    let mut body = json!({"year": year, "semester": semester});
    if let Some(name) = name {
        body["name"] = json!(name);
    }
    let created = user.post("/v1/timetables", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    created.body
}

async fn timetable(user: &Client, id: &str) -> Value {
    user.get(&format!("/v1/timetables/{id}")).await.ok()
}

async fn add_lecture(user: &Client, timetable_id: &str, lecture_id: &str) -> Reply {
    user.post(&format!("/v1/timetables/{timetable_id}/lectures"), json!({"lectureId": lecture_id})).await
}

/// The ids of a timetable's lectures, in the order they were added.
fn lecture_ids(timetable: &Value) -> Vec<String> {
    timetable["lectures"].as_array().unwrap().iter().map(id).collect()
}

fn slot(day: &str, start: i64, end: i64) -> Value {
    json!({"day": day, "startMinute": start, "endMinute": end})
}

/// The ErrorInfo metadata of an error reply.
fn error_metadata(reply: &Reply) -> Value {
    let details = reply.body["details"].as_array().unwrap_or_else(|| panic!("details in {reply:?}"));
    let info = details.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo");
    info.unwrap_or_else(|| panic!("ErrorInfo in {reply:?}"))["metadata"].clone()
}

/// The descriptions of a BadRequest's violations of one field.
fn violation_descriptions(reply: &Reply, field: &str) -> Vec<String> {
    let details = reply.body["details"].as_array().unwrap_or_else(|| panic!("details in {reply:?}"));
    let bad = details.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest");
    let bad = bad.unwrap_or_else(|| panic!("BadRequest in {reply:?}"));
    let violations = bad["fieldViolations"].as_array().unwrap();
    violations
        .iter()
        .filter(|v| v["field"] == field)
        .map(|v| v["description"].as_str().unwrap().to_string())
        .collect()
}

/// Asserts a refused write: status, reason and the fields it names.
#[track_caller]
fn expect_invalid(reply: &Reply, fields: &[&str]) {
    reply.expect_error(400, "INVALID_ARGUMENT");
    assert_eq!(reply.violations(), fields, "{reply:?}");
}

/// Makes two users of one school friends the way the app does: a request by login id, accepted.
async fn befriend(requester: &User, recipient: &User) {
    let sent = requester.post("/v1/friend-requests", json!({"loginId": recipient.login_id})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{sent:?}");
    let pending = recipient.get("/v1/friend-requests").await.ok();
    let request =
        pending["friendRequests"].as_array().unwrap().iter().find(|r| r["requester"]["id"] == requester.id);
    let request_id = id(request.unwrap_or_else(|| panic!("the request in {pending}")));
    let accepted = recipient.post(&format!("/v1/friend-requests/{request_id}:accept"), json!({})).await.ok();
    assert_eq!(accepted["state"], "FRIEND_REQUEST_STATE_ACCEPTED");
}

// ---------------------------------------------------------------------------------------------
// The catalog

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lecture_import_is_atomic_and_reports_line_and_column() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("ttimport1", School::Hanbit).await;
        import_catalog(&sys, School::Hanbit).await;

        // What was imported reads back as written: minutes from midnight, quoted commas kept.
        let ds = lecture(&alice, YEAR, SPRING, "DS101", "01").await;
        assert_eq!(ds["name"], "Data Structures");
        assert_eq!(ds["professor"], "Kim Minsu");
        assert_eq!((ds["credits"].as_i64(), ds["category"].as_str()), (Some(3), Some("major")));
        assert_eq!((ds["year"].as_i64(), ds["semester"].as_str()), (Some(YEAR), Some(SPRING)));
        assert_eq!(ds["schoolId"].as_str(), Some(alice.school_id.as_str()));
        assert_eq!(
            ds["times"],
            json!([
                {"day": "DAY_OF_WEEK_MONDAY", "startMinute": 540, "endMinute": 615, "room": "R101"},
                {"day": "DAY_OF_WEEK_WEDNESDAY", "startMinute": 540, "endMinute": 615, "room": "R101"},
            ])
        );
        assert_eq!(lecture(&alice, YEAR, SPRING, "NET302", "01").await["name"], "Networks, Intro");
        let fetched = alice.get(&format!("/v1/lectures/{}", id(&ds))).await.ok();
        assert_eq!(fetched, ds);

        // Every bad file also carries a new lecture (line 2) and a change to DS101-01 (line 3)
        // before its bad line 4: none of that may stay.
        let header = "code,name,professor,credits,times,section,category\n";
        let good = "NEW900,New Lecture,P,3,Sat 09:00-10:00,01,x\n\
                    DS101,Renamed DS,Kim Minsu,3,Mon 09:00-10:15 R101,01,major\n";
        let cases = [
            (
                format!("code,name,credits,professor,times\n{good}"),
                "line 1: the header must start with code,name,professor,credits,times",
            ),
            (
                format!("{header}{good}BAD1,Bad,P,3,Mnd 09:00-10:00,01,x\n"),
                "line 4, column times: bad day \"Mnd\"",
            ),
            (
                format!("{header}{good}BAD1,Bad,P,3,Tue 23:00-25:00,01,x\n"),
                "line 4, column times: bad time \"25:00\"",
            ),
            (
                format!("{header}{good}BAD1,Bad,P,3,Tue 11:00-10:00,01,x\n"),
                "line 4, column times: \"Tue 11:00-10:00\": end 10:00 is not after start 11:00",
            ),
            (
                format!("{header}{good}BAD1,Bad,P,3,Tue 10:00-10:03,01,x\n"),
                "line 4, column times: \"Tue 10:00-10:03\": 10:00-10:03 is not in 5-minute units",
            ),
            (
                format!("{header}{good}NEW900,Again,Q,2,Sun 09:00-10:00,01,x\n"),
                "line 4, column section: code NEW900 section \"01\" already appears on line 2",
            ),
            (format!("{header}{good}BAD1,Bad,P,-3,Tue 10:00-11:00,01,x\n"), "line 4, column credits"),
        ];
        for (csv, expected) in &cases {
            let refused = import(&sys, School::Hanbit, YEAR, SPRING, csv).await;
            expect_invalid(&refused, &["csv"]);
            let problems = violation_descriptions(&refused, "csv");
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(
                problems[0].starts_with(expected),
                "{backend:?}: expected {expected:?}, got {problems:?}"
            );
            assert!(refused.body["message"].as_str().unwrap().contains(expected), "{refused:?}");
        }
        // Nothing of any refused file was kept.
        assert_eq!(found(&alice, "").await, ALL_CODES, "{backend:?}");
        assert_eq!(lecture(&alice, YEAR, SPRING, "DS101", "01").await, ds);

        // Only admins import, and only CSV.
        let extra = format!("{header}NEW901,Sneaky,P,3,Sat 09:00-10:00,01,x\n");
        import_as(&sys, &alice, School::Hanbit, YEAR, SPRING, &extra).await.expect_error(403, "ADMIN_ONLY");
        let (school_id, _) = sys.school(School::Hanbit).await;
        let path = format!("/v1/lectures:import?schoolId={school_id}&year={YEAR}&semester={SPRING}");
        let as_json =
            sys.admin().send_bytes(Method::POST, &path, "application/json", extra.clone().into()).await;
        expect_invalid(&as_json, &["csv.contentType"]);
        let no_term = sys
            .admin()
            .send_bytes(
                Method::POST,
                &format!("/v1/lectures:import?schoolId={school_id}"),
                "text/csv",
                extra.into(),
            )
            .await;
        expect_invalid(&no_term, &["year", "semester"]);
        assert_eq!(found(&alice, "").await, ALL_CODES);

        // A re-import updates by code and section and keeps the lecture's id.
        let update = format!("{header}DS101,Data Structures II,Kim Minsu,3,Thu 09:00-10:15,01,major\n");
        assert_eq!(import(&sys, School::Hanbit, YEAR, SPRING, &update).await.ok(), json!({"imported": 1}));
        let updated = lecture(&alice, YEAR, SPRING, "DS101", "01").await;
        assert_eq!((id(&updated), &updated["name"]), (id(&ds), &json!("Data Structures II")));
        let thursday =
            json!([{"day": "DAY_OF_WEEK_THURSDAY", "startMinute": 540, "endMinute": 615, "room": ""}]);
        assert_eq!(updated["times"], thursday);
        assert_eq!(found(&alice, "").await.len(), 7);

        // Another school's users never see this catalog, not even by id.
        let sam = sys.user("ttimport2", School::Saesol).await;
        assert!(found(&sam, "").await.is_empty());
        sam.get(&format!("/v1/lectures/{}", id(&ds))).await.expect_error(404, "NOT_FOUND");
        sys.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lecture_search_filters_and_keyset_pagination() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("ttsearch1", School::Hanbit).await;
        import_catalog(&sys, School::Hanbit).await;

        assert_eq!(found(&alice, "").await, ALL_CODES, "{backend:?}");
        // Text matches the name or the code, case-insensitively; wildcards are literal.
        assert_eq!(found(&alice, "&query=data").await, ["DS101-01", "DS101-02"]);
        assert_eq!(found(&alice, "&query=os3").await, ["OS301-01"], "by code");
        assert_eq!(found(&alice, &format!("&query={}", enc("미술"))).await, ["ART100-01"]);
        assert_eq!(found(&alice, &format!("&query={}", enc("%"))).await, Vec::<String>::new());
        assert_eq!(found(&alice, "&professor=kim").await, ["DS101-01", "ENG110-01", "OS301-01"]);
        assert_eq!(found(&alice, "&day=DAY_OF_WEEK_TUESDAY").await, ["DS101-02", "NET302-01"]);
        // Every slot within [09:00, 11:00]; from 17:00 on.
        assert_eq!(found(&alice, "&timeFrom=540&timeTo=660").await, ["DS101-01", "NET302-01"]);
        assert_eq!(found(&alice, "&timeFrom=1020").await, ["ENG110-01"]);
        assert_eq!(found(&alice, "&credits=2").await, ["ART100-01", "NET302-01"]);
        assert_eq!(found(&alice, "&query=data&day=DAY_OF_WEEK_THURSDAY").await, ["DS101-02"]);
        assert_eq!(found(&alice, "&professor=kim&credits=3").await, ["DS101-01", "OS301-01"]);
        // Another term of the same school is empty.
        let autumn = search(&alice, YEAR, FALL, "").await.ok();
        assert_eq!(autumn["lectures"], json!([]));

        // Keyset pages of 3: 3 + 3 + 1, in order, each lecture once.
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page =
                search(&alice, YEAR, SPRING, &format!("&pageSize=3&pageToken={}", enc(&token))).await.ok();
            pages += 1;
            seen.extend(codes(&page["lectures"]));
            token = page["nextPageToken"].as_str().unwrap().to_string();
            if token.is_empty() {
                break;
            }
            assert_eq!(page["lectures"].as_array().unwrap().len(), 3);
        }
        assert_eq!((pages, seen.as_slice()), (3, ALL_CODES.map(String::from).as_slice()), "{backend:?}");
        // A page token belongs to its search.
        let first = search(&alice, YEAR, SPRING, "&pageSize=2").await.ok();
        let token = first["nextPageToken"].as_str().unwrap();
        assert!(!token.is_empty());
        let next = search(&alice, YEAR, SPRING, &format!("&pageSize=2&pageToken={}", enc(token))).await.ok();
        assert_eq!(codes(&next["lectures"]), ["DS101-01", "DS101-02"]);
        let mixed =
            search(&alice, YEAR, SPRING, &format!("&query=data&pageSize=2&pageToken={}", enc(token))).await;
        expect_invalid(&mixed, &["pageToken"]);

        // Bad filters name their fields.
        expect_invalid(&alice.get("/v1/lectures").await, &["year", "semester"]);
        expect_invalid(&search(&alice, YEAR, SPRING, "&timeFrom=700&timeTo=600").await, &["timeTo"]);
        expect_invalid(&search(&alice, YEAR, SPRING, "&credits=7").await, &["credits"]);
        let bad_day = search(&alice, YEAR, SPRING, "&day=DAY_OF_WEEK_FUNDAY").await;
        assert_eq!(bad_day.status, StatusCode::BAD_REQUEST, "{bad_day:?}");
        assert_eq!(bad_day.violations(), ["day"]);
        sys.anonymous()
            .get(&format!("/v1/lectures?year={YEAR}&semester={SPRING}"))
            .await
            .expect_error(401, "UNAUTHENTICATED");
        sys.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Timetables

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timetables_default_names_primary_rename_and_delete() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("ttplan1", School::Hanbit).await;
        let bob = sys.user("ttplan2", School::Hanbit).await;
        let list = |user: &User| {
            let client = user.client.clone();
            async move {
                let listed = client.get(&format!("/v1/timetables?year={YEAR}&semester={SPRING}")).await.ok();
                listed["timetables"].as_array().unwrap().clone()
            }
        };
        let summary = |all: &[Value]| -> Vec<(String, bool)> {
            all.iter()
                .map(|t| (t["name"].as_str().unwrap().to_string(), t["primary"].as_bool().unwrap()))
                .collect()
        };

        let first = create_timetable(&alice, YEAR, SPRING, None).await;
        let second = create_timetable(&alice, YEAR, SPRING, None).await;
        let named = create_timetable(&alice, YEAR, SPRING, Some("  Plan B  ")).await;
        assert_eq!((&first["name"], &first["primary"]), (&json!("시간표 1"), &json!(true)), "{backend:?}");
        assert_eq!((&second["name"], &second["primary"]), (&json!("시간표 2"), &json!(false)));
        assert_eq!((&named["name"], &named["primary"]), (&json!("Plan B"), &json!(false)));
        assert_eq!((&first["year"], &first["semester"]), (&json!(YEAR), &json!(SPRING)));
        assert_eq!(
            (&first["lectures"], &first["customEntries"], &first["totalCredits"]),
            (&json!([]), &json!([]), &json!(0))
        );
        // Another semester has its own first, primary "시간표 1".
        let summer = create_timetable(&alice, YEAR, SUMMER, None).await;
        assert_eq!((&summer["name"], &summer["primary"]), (&json!("시간표 1"), &json!(true)));
        assert_eq!(
            summary(&list(&alice).await),
            [("시간표 1".into(), true), ("시간표 2".into(), false), ("Plan B".into(), false)]
        );

        // Make "Plan B" primary: exactly one primary remains.
        let patched =
            alice.patch(&format!("/v1/timetables/{}", id(&named)), json!({"primary": true})).await.ok();
        assert_eq!(patched["primary"], true);
        assert_eq!(
            summary(&list(&alice).await),
            [("시간표 1".into(), false), ("시간표 2".into(), false), ("Plan B".into(), true)]
        );
        // Rename.
        let renamed =
            alice.patch(&format!("/v1/timetables/{}", id(&second)), json!({"name": "월수금"})).await.ok();
        assert_eq!((&renamed["name"], &renamed["primary"]), (&json!("월수금"), &json!(false)));
        assert_eq!(timetable(&alice, &id(&second)).await["name"], "월수금");
        // Bad updates are refused and change nothing.
        let path = format!("/v1/timetables/{}", id(&second));
        expect_invalid(&alice.patch(&path, json!({"name": "   "})).await, &["name"]);
        expect_invalid(&alice.patch(&path, json!({"name": "가".repeat(21)})).await, &["name"]);
        expect_invalid(&alice.patch(&path, json!({"primary": false})).await, &["primary"]);
        expect_invalid(
            &alice.post("/v1/timetables", json!({"year": 0, "semester": "SEMESTER_UNSPECIFIED"})).await,
            &["year", "semester"],
        );
        assert_eq!(
            summary(&list(&alice).await),
            [("시간표 1".into(), false), ("월수금".into(), false), ("Plan B".into(), true)]
        );
        // "시간표 2" is free again, so the next default name takes it.
        let next = create_timetable(&alice, YEAR, SPRING, None).await;
        assert_eq!((&next["name"], &next["primary"]), (&json!("시간표 2"), &json!(false)));

        // Someone else's timetable does not exist for them.
        let alices = format!("/v1/timetables/{}", id(&named));
        bob.get(&alices).await.expect_error(404, "NOT_FOUND");
        bob.patch(&alices, json!({"name": "hacked"})).await.expect_error(404, "NOT_FOUND");
        bob.delete(&alices).await.expect_error(404, "NOT_FOUND");
        assert!(list(&bob).await.is_empty());
        sys.anonymous().get(&alices).await.expect_error(401, "UNAUTHENTICATED");
        assert_eq!(timetable(&alice, &id(&named)).await["name"], "Plan B");

        // Deleting the primary promotes the oldest remaining one.
        let deleted = alice.delete(&alices).await;
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");
        alice.get(&alices).await.expect_error(404, "NOT_FOUND");
        assert_eq!(
            summary(&list(&alice).await),
            [("시간표 1".into(), true), ("월수금".into(), false), ("시간표 2".into(), false)]
        );
        // Deleting another leaves the primary alone; the other semester was never touched.
        assert_eq!(
            alice.delete(&format!("/v1/timetables/{}", id(&next))).await.status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(summary(&list(&alice).await), [("시간표 1".into(), true), ("월수금".into(), false)]);
        assert_eq!(timetable(&alice, &id(&summer)).await["primary"], true);
        sys.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_lectures_checks_conflicts_duplicates_and_credits() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("ttgrid1", School::Hanbit).await;
        import_catalog(&sys, School::Hanbit).await;
        let ds = id(&lecture(&alice, YEAR, SPRING, "DS101", "01").await);
        let alg = id(&lecture(&alice, YEAR, SPRING, "ALG201", "01").await);
        let os = id(&lecture(&alice, YEAR, SPRING, "OS301", "01").await);
        let net = id(&lecture(&alice, YEAR, SPRING, "NET302", "01").await);
        let art = id(&lecture(&alice, YEAR, SPRING, "ART100", "01").await);
        let t = id(&create_timetable(&alice, YEAR, SPRING, None).await);

        let after = add_lecture(&alice, &t, &ds).await.ok();
        assert_eq!(
            (lecture_ids(&after), &after["totalCredits"]),
            (vec![ds.clone()], &json!(3)),
            "{backend:?}"
        );
        assert_eq!(after["lectures"][0]["name"], "Data Structures");
        // Algorithms starts at 10:15, when Data Structures ends: touching is allowed.
        let after = add_lecture(&alice, &t, &alg).await.ok();
        assert_eq!(after["totalCredits"], 6);

        // Operating Systems (Mon 08:00-09:30) overlaps Data Structures (Mon 09:00-10:15).
        let refused = add_lecture(&alice, &t, &os).await;
        refused.expect_error(400, "TIME_CONFLICT");
        assert_eq!(refused.body["code"], 9, "FAILED_PRECONDITION");
        assert!(refused.body["message"].as_str().unwrap().contains("Data Structures"), "{refused:?}");
        assert_eq!(
            error_metadata(&refused),
            json!({"conflictingKind": "lecture", "conflictingId": ds, "conflictingName": "Data Structures",
                   "day": "1", "startMinute": "540", "endMinute": "615"})
        );
        // The same lecture twice.
        add_lecture(&alice, &t, &ds).await.expect_error(409, "LECTURE_ALREADY_ADDED");
        let read = timetable(&alice, &t).await;
        assert_eq!((lecture_ids(&read), &read["totalCredits"]), (vec![ds.clone(), alg.clone()], &json!(6)));

        // Custom entries collide like lectures, both ways.
        let entries = format!("/v1/timetables/{t}/custom-entries");
        let club = alice
            .post(&entries, json!({"title": "동아리", "times": [slot("DAY_OF_WEEK_WEDNESDAY", 480, 555)]}))
            .await;
        club.expect_error(400, "TIME_CONFLICT");
        assert_eq!(error_metadata(&club)["conflictingName"], "Data Structures");
        assert_eq!(error_metadata(&club)["conflictingId"], json!(ds));
        assert_eq!(timetable(&alice, &t).await["customEntries"], json!([]));
        // Fri 13:30-15:00, and Mon 11:30-12:00 right after Algorithms.
        let job_times = json!([slot("DAY_OF_WEEK_FRIDAY", 810, 900), slot("DAY_OF_WEEK_MONDAY", 690, 720)]);
        let after = alice.post(&entries, json!({"title": "알바", "times": job_times})).await.ok();
        let job = after["customEntries"][0].clone();
        assert_eq!(after["customEntries"].as_array().unwrap().len(), 1);
        assert_eq!(job["title"], "알바");
        assert_eq!(job["times"].as_array().unwrap().len(), 2);
        assert_eq!(after["totalCredits"], 6, "entries carry no credits");
        // Art (Fri 13:00-14:50) now collides with the entry, which the error names.
        let refused = add_lecture(&alice, &t, &art).await;
        refused.expect_error(400, "TIME_CONFLICT");
        assert!(refused.body["message"].as_str().unwrap().contains("알바"), "{refused:?}");
        let metadata = error_metadata(&refused);
        assert_eq!(
            (&metadata["conflictingKind"], &metadata["conflictingName"]),
            (&json!("customEntry"), &json!("알바"))
        );
        assert_eq!(metadata["conflictingId"], job["id"]);
        // Slots of an entry are in 5-minute units too.
        let odd = alice
            .post(&entries, json!({"title": "x", "times": [slot("DAY_OF_WEEK_SUNDAY", 601, 660)]}))
            .await;
        expect_invalid(&odd, &["times[0].startMinute"]);

        let after = add_lecture(&alice, &t, &net).await.ok();
        assert_eq!(after["totalCredits"], 8);
        // Removing the entry frees Friday afternoon.
        let after = alice.delete(&format!("{entries}/{}", id(&job))).await.ok();
        assert_eq!(after["customEntries"], json!([]));
        alice.delete(&format!("{entries}/{}", id(&job))).await.expect_error(404, "NOT_FOUND");
        assert_eq!(add_lecture(&alice, &t, &art).await.ok()["totalCredits"], 10);
        // Removing Data Structures frees Monday morning for Operating Systems.
        let after = alice.delete(&format!("/v1/timetables/{t}/lectures/{ds}")).await.ok();
        assert_eq!(after["totalCredits"], 7);
        alice.delete(&format!("/v1/timetables/{t}/lectures/{ds}")).await.expect_error(404, "NOT_FOUND");
        assert_eq!(add_lecture(&alice, &t, &os).await.ok()["totalCredits"], 10);
        let read = timetable(&alice, &t).await;
        assert_eq!(lecture_ids(&read), [alg, net, art, os]);
        assert_eq!(read["totalCredits"], 10);

        // Another user cannot add to it.
        let bob = sys.user("ttgrid2", School::Hanbit).await;
        add_lecture(&bob, &t, &ds).await.expect_error(404, "NOT_FOUND");
        assert_eq!(lecture_ids(&timetable(&alice, &t).await).len(), 4);
        sys.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_lectures_at_most_and_concurrent_adds_never_collide() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("ttcap1", School::Hanbit).await;

        // 31 one-credit lectures, each in its own half hour of the week.
        let mut csv = String::from("code,name,professor,credits,times\n");
        for i in 0..31 {
            let day = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i % 7];
            let hour = 8 + i / 7;
            csv.push_str(&format!("L{i:03},Lecture {i},P,1,{day} {hour:02}:00-{hour:02}:30\n"));
        }
        assert_eq!(import(&sys, School::Hanbit, YEAR, SUMMER, &csv).await.ok(), json!({"imported": 31}));
        let page = search(&alice, YEAR, SUMMER, "&pageSize=100").await.ok();
        let lectures: Vec<String> = page["lectures"].as_array().unwrap().iter().map(id).collect();
        assert_eq!(lectures.len(), 31);
        let t = id(&create_timetable(&alice, YEAR, SUMMER, None).await);
        for lecture in &lectures[..30] {
            add_lecture(&alice, &t, lecture).await.ok();
        }
        add_lecture(&alice, &t, &lectures[30]).await.expect_error(400, "TOO_MANY_LECTURES");
        let read = timetable(&alice, &t).await;
        assert_eq!((lecture_ids(&read).len(), &read["totalCredits"]), (30, &json!(30)), "{backend:?}");

        // 64 Monday lectures of 30 minutes starting every 5 minutes, added all at once.
        let mut csv = String::from("code,name,professor,credits,times\n");
        for i in 0..64 {
            let (start, end) = (8 * 60 + 5 * i, 8 * 60 + 5 * i + 30);
            let clock = |m: i32| format!("{:02}:{:02}", m / 60, m % 60);
            csv.push_str(&format!("C{i:03},Course {i},P,1,Mon {}-{}\n", clock(start), clock(end)));
        }
        import(&sys, School::Hanbit, YEAR, WINTER, &csv).await.ok();
        let page = search(&alice, YEAR, WINTER, "&pageSize=100").await.ok();
        let lectures = page["lectures"].as_array().unwrap().clone();
        assert_eq!(lectures.len(), 64);
        let t = id(&create_timetable(&alice, YEAR, WINTER, None).await);
        let adds = lectures.iter().map(|l| add_lecture(&alice, &t, l["id"].as_str().unwrap()));
        let results = join_all(adds).await;
        let mut added = 0;
        for reply in &results {
            if reply.status.is_success() {
                added += 1;
            } else {
                reply.expect_error(400, "TIME_CONFLICT");
            }
        }
        let read = timetable(&alice, &t).await;
        let kept = read["lectures"].as_array().unwrap();
        assert_eq!(kept.len(), added, "{backend:?}");
        assert!(added >= 2, "{backend:?}: some lectures fit together");
        let span = |l: &Value| {
            (l["times"][0]["startMinute"].as_i64().unwrap(), l["times"][0]["endMinute"].as_i64().unwrap())
        };
        for (i, a) in kept.iter().enumerate() {
            for b in &kept[i + 1..] {
                let ((s1, e1), (s2, e2)) = (span(a), span(b));
                assert!(s1 >= e2 || s2 >= e1, "{backend:?}: {} collides with {}", a["code"], b["code"]);
            }
        }
        // Every refused lecture really collides with a kept one.
        for l in lectures.iter().filter(|l| !kept.iter().any(|k| k["id"] == l["id"])) {
            let (s, e) = span(l);
            assert!(
                kept.iter().any(|k| {
                    let (ks, ke) = span(k);
                    s < ke && ks < e
                }),
                "{} refused",
                l["code"]
            );
        }
        sys.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Friends' timetables

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friends_see_the_primary_timetable_and_nobody_else_does() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("ttfriend1", School::Hanbit).await;
        let bob = sys.user("ttfriend2", School::Hanbit).await;
        let eve = sys.user("ttfriend3", School::Hanbit).await;
        let sam = sys.user("ttfriend4", School::Saesol).await;
        let ds = lecture(&alice, SEED_YEAR, FALL, "CSE2010", "01").await;
        let primary = id(&create_timetable(&alice, SEED_YEAR, FALL, None).await);
        let secret = id(&create_timetable(&alice, SEED_YEAR, FALL, Some("비밀 계획")).await);
        add_lecture(&alice, &primary, &id(&ds)).await.ok();
        let alices = format!("/v1/users/{}/timetable?year={SEED_YEAR}&semester={FALL}", alice.id);

        // A pending request is not a friendship.
        let sent = bob.post("/v1/friend-requests", json!({"loginId": alice.login_id})).await;
        assert_eq!(sent.status, StatusCode::CREATED, "{sent:?}");
        bob.get(&alices).await.expect_error(404, "NOT_FOUND");
        let pending = alice.get("/v1/friend-requests").await.ok();
        let request_id = id(&pending["friendRequests"][0]);
        alice.post(&format!("/v1/friend-requests/{request_id}:accept"), json!({})).await.ok();

        let seen = bob.get(&alices).await.ok();
        assert_eq!(
            (id(&seen), &seen["primary"], &seen["name"]),
            (primary.clone(), &json!(true), &json!("시간표 1")),
            "{backend:?}"
        );
        assert_eq!(lecture_ids(&seen), [id(&ds)]);
        assert_eq!(seen["lectures"][0]["name"], "자료구조");
        assert_eq!(seen["totalCredits"], 3);

        // A schoolmate who is not a friend, and another school's user, learn nothing.
        eve.get(&alices).await.expect_error(404, "NOT_FOUND");
        sam.get(&alices).await.expect_error(404, "NOT_FOUND");
        // Nor can the other school's user become a friend: the login id is not found there.
        sam.post("/v1/friend-requests", json!({"loginId": alice.login_id}))
            .await
            .expect_error(404, "NOT_FOUND");
        sam.get(&alices).await.expect_error(404, "NOT_FOUND");

        // Friends follow the primary when it changes, and see only that one.
        alice.patch(&format!("/v1/timetables/{secret}"), json!({"primary": true})).await.ok();
        let seen = bob.get(&alices).await.ok();
        assert_eq!(
            (id(&seen), &seen["name"], &seen["lectures"]),
            (secret.clone(), &json!("비밀 계획"), &json!([]))
        );
        // A semester without a timetable, and a request without a term.
        let spring = format!("/v1/users/{}/timetable?year={SEED_YEAR}&semester={SPRING}", alice.id);
        bob.get(&spring).await.expect_error(404, "NOT_FOUND");
        expect_invalid(&bob.get(&format!("/v1/users/{}/timetable", alice.id)).await, &["year", "semester"]);

        // The friendship works both ways once accepted, and ends for both when removed.
        let bobs = format!("/v1/users/{}/timetable?year={SEED_YEAR}&semester={FALL}", bob.id);
        let bob_primary = id(&create_timetable(&bob, SEED_YEAR, FALL, None).await);
        assert_eq!(id(&alice.get(&bobs).await.ok()), bob_primary);
        let removed = bob.delete(&format!("/v1/friends/{}", alice.id)).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{removed:?}");
        bob.get(&alices).await.expect_error(404, "NOT_FOUND");
        alice.get(&bobs).await.expect_error(404, "NOT_FOUND");

        // Friends again through the same routes: visible again.
        befriend(&alice, &bob).await;
        assert_eq!(id(&bob.get(&alices).await.ok()), secret);
        sys.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Reviews

fn review(rating: i64, assignments: &str, team: &str, grading: &str, attendance: &str, exams: i64) -> Value {
    json!({
        "rating": rating,
        "content": "수업 좋아요",
        "assignments": format!("AMOUNT_{assignments}"),
        "teamProjects": format!("AMOUNT_{team}"),
        "grading": format!("GRADING_{grading}"),
        "attendance": format!("ATTENDANCE_{attendance}"),
        "exams": exams,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_one_per_user_own_edits_paginated_and_an_exact_summary() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("ttreview1", School::Hanbit).await;
        let bob = sys.user("ttreview2", School::Hanbit).await;
        let carol = sys.user("ttreview3", School::Hanbit).await;
        let dave = sys.user("ttreview4", School::Hanbit).await;
        let sam = sys.user("ttreview5", School::Saesol).await;
        let lecture = id(&lecture(&alice, SEED_YEAR, FALL, "CSE4010", "01").await);
        let reviews = format!("/v1/lectures/{lecture}/reviews");
        let rating_path = format!("/v1/lectures/{lecture}/rating");

        let empty = alice.get(&rating_path).await.ok();
        assert_eq!((&empty["count"], &empty["average"]), (&json!(0), &json!(0.0)), "{backend:?}");

        // Four users review at once.
        let bodies = [
            review(5, "MANY", "NONE", "GENEROUS", "ELECTRONIC", 2),
            review(4, "NORMAL", "NONE", "GENEROUS", "ROLL_CALL", 2),
            review(2, "MANY", "MANY", "STRICT", "ROLL_CALL", 4),
            review(3, "NONE", "NORMAL", "NORMAL", "NONE", 0),
        ];
        let users = [&alice, &bob, &carol, &dave];
        let created = join_all(users.iter().zip(&bodies).map(|(u, b)| u.post(&reviews, b.clone()))).await;
        let mut ids = Vec::new();
        for (reply, body) in created.iter().zip(&bodies) {
            assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
            for field in
                ["rating", "content", "assignments", "teamProjects", "grading", "attendance", "exams"]
            {
                assert_eq!(reply.body[field], body[field], "{field}");
            }
            assert_eq!((&reply.body["isMine"], &reply.body["lectureId"]), (&json!(true), &json!(lecture)));
            ids.push(id(&reply.body));
        }
        let summary = alice.get(&rating_path).await.ok();
        assert_eq!(
            summary,
            json!({
                "lectureId": lecture, "average": 3.5, "count": 4,
                "assignments": {"AMOUNT_MANY": 2, "AMOUNT_NORMAL": 1, "AMOUNT_NONE": 1},
                "teamProjects": {"AMOUNT_NONE": 2, "AMOUNT_MANY": 1, "AMOUNT_NORMAL": 1},
                "grading": {"GRADING_GENEROUS": 2, "GRADING_STRICT": 1, "GRADING_NORMAL": 1},
                "attendance": {"ATTENDANCE_ELECTRONIC": 1, "ATTENDANCE_ROLL_CALL": 2, "ATTENDANCE_NONE": 1},
                "exams": {"2": 2, "4": 1, "0": 1},
            }),
            "{backend:?}"
        );

        // One per user and lecture.
        alice.post(&reviews, bodies[0].clone()).await.expect_error(409, "REVIEW_EXISTS");
        assert_eq!(alice.get(&rating_path).await.ok()["count"], 4);

        // Listing: newest first, pages of 3, only your own marked as yours.
        let mut listed = Vec::new();
        let mut token = String::new();
        loop {
            let page = bob.get(&format!("{reviews}?pageSize=3&pageToken={}", enc(&token))).await.ok();
            for r in page["reviews"].as_array().unwrap() {
                listed.push((id(r), r["isMine"].as_bool().unwrap()));
            }
            token = page["nextPageToken"].as_str().unwrap().to_string();
            if token.is_empty() {
                break;
            }
        }
        let mut newest_first = ids.clone();
        newest_first.sort_by_key(|i| std::cmp::Reverse(i.parse::<i64>().unwrap()));
        assert_eq!(listed.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>(), newest_first);
        assert_eq!(
            listed.iter().filter(|(_, mine)| *mine).map(|(i, _)| i.clone()).collect::<Vec<_>>(),
            [ids[1].clone()]
        );

        // Edit your own: only the given fields change.
        let alices = format!("/v1/reviews/{}", ids[0]);
        let edited = alice.patch(&alices, json!({"rating": 1, "content": "다시 생각해보니 별로"})).await.ok();
        assert_eq!((&edited["rating"], &edited["content"]), (&json!(1), &json!("다시 생각해보니 별로")));
        assert_eq!((&edited["grading"], &edited["exams"]), (&json!("GRADING_GENEROUS"), &json!(2)));
        // Someone else's review is not yours to edit or delete.
        bob.patch(&alices, json!({"rating": 5})).await.expect_error(404, "NOT_FOUND");
        bob.delete(&alices).await.expect_error(404, "NOT_FOUND");
        // Bad ratings are refused whole.
        expect_invalid(
            &bob.patch(&format!("/v1/reviews/{}", ids[1]), json!({"rating": 6, "content": "x"})).await,
            &["rating"],
        );
        let page = carol.get(&reviews).await.ok();
        let rating_of = |i: &str| {
            page["reviews"].as_array().unwrap().iter().find(|r| r["id"] == i).unwrap()["rating"].clone()
        };
        assert_eq!((rating_of(&ids[0]), rating_of(&ids[1])), (json!(1), json!(4)));
        // Delete your own.
        assert_eq!(dave.delete(&format!("/v1/reviews/{}", ids[3])).await.status, StatusCode::NO_CONTENT);

        // (1 + 4 + 2) / 3 = 2.33
        let summary = alice.get(&rating_path).await.ok();
        assert_eq!(
            summary,
            json!({
                "lectureId": lecture, "average": 2.33, "count": 3,
                "assignments": {"AMOUNT_MANY": 2, "AMOUNT_NORMAL": 1},
                "teamProjects": {"AMOUNT_NONE": 2, "AMOUNT_MANY": 1},
                "grading": {"GRADING_GENEROUS": 2, "GRADING_STRICT": 1},
                "attendance": {"ATTENDANCE_ELECTRONIC": 1, "ATTENDANCE_ROLL_CALL": 2},
                "exams": {"2": 2, "4": 1},
            }),
            "{backend:?}"
        );

        // Another school's user sees neither the lecture nor its reviews.
        sam.post(&reviews, bodies[0].clone()).await.expect_error(404, "NOT_FOUND");
        sam.get(&reviews).await.expect_error(404, "NOT_FOUND");
        sam.get(&rating_path).await.expect_error(404, "NOT_FOUND");
        sys.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Grades

fn course(name: &str, credits: i64, grade: &str, major: bool) -> Value {
    json!({"name": name, "credits": credits, "grade": grade, "major": major})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grades_per_semester_with_gpa_and_major_gpa_on_the_four_five_scale() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("ttgrade1", School::Hanbit).await;
        let bob = sys.user("ttgrade2", School::Hanbit).await;
        let none = json!({"gpa": 0.0, "majorGpa": 0.0, "totalCredits": 0, "semesters": []});
        assert_eq!(alice.get("/v1/me/grades").await.ok(), none, "{backend:?}");

        // (4.5*3 + 3.0*2) / 5 = 3.9; major 4.5; P earns its credit, NP does not, neither counts.
        let spring = json!([
            course("자료구조", 3, "A+", true),
            course("글쓰기", 2, "B0", false),
            course("체육", 1, "P", false),
            course("채플", 1, "NP", false),
        ]);
        let grades = alice.put("/v1/me/grades/2026/SEMESTER_SPRING", json!({"courses": spring})).await.ok();
        assert_eq!(
            (&grades["gpa"], &grades["majorGpa"], &grades["totalCredits"]),
            (&json!(3.9), &json!(4.5), &json!(6))
        );

        // (2.5*3 + 0*2 + 3.5*3) / 8 = 2.25; major (7.5 + 10.5) / 6 = 3.0; F earns nothing.
        let fall = json!([
            course("운영체제", 3, "C+", true),
            course("미술", 2, "F", false),
            course("알고리즘", 3, "B+", true),
        ]);
        alice.put("/v1/me/grades/2026/SEMESTER_FALL", json!({"courses": fall})).await.ok();
        // (4.0*3 + 2.0*2 + 1.5 + 1.0) / 7 = 2.642… → 2.64; major 4.0.
        let earlier = json!([
            course("선형대수", 3, "A0", true),
            course("경제학", 2, "C0", false),
            course("테니스", 1, "D+", false),
            course("요가", 1, "D0", false),
        ]);
        let grades = alice.put("/v1/me/grades/2025/SEMESTER_FALL", json!({"courses": earlier})).await.ok();
        // Overall: (19.5 + 18 + 18.5) / 20 = 2.8; major (13.5 + 18 + 12) / 12 = 3.625 → 3.63.
        let expected = json!({
            "gpa": 2.8, "majorGpa": 3.63, "totalCredits": 19,
            "semesters": [
                {"year": 2025, "semester": "SEMESTER_FALL", "gpa": 2.64, "majorGpa": 4.0, "credits": 7,
                 "courses": earlier},
                {"year": 2026, "semester": "SEMESTER_SPRING", "gpa": 3.9, "majorGpa": 4.5, "credits": 6,
                 "courses": spring},
                {"year": 2026, "semester": "SEMESTER_FALL", "gpa": 2.25, "majorGpa": 3.0, "credits": 6,
                 "courses": fall},
            ],
        });
        assert_eq!(grades, expected, "{backend:?}");
        assert_eq!(alice.get("/v1/me/grades").await.ok(), expected);
        // Each user has their own.
        assert_eq!(bob.get("/v1/me/grades").await.ok(), none);

        // A semester's list is replaced whole; an empty list removes the semester.
        let retake = json!([course("운영체제", 3, "A+", true)]);
        let grades = alice.put("/v1/me/grades/2026/SEMESTER_FALL", json!({"courses": retake})).await.ok();
        assert_eq!(grades["semesters"][2]["courses"], retake);
        // (19.5 + 13.5 + 18.5) / 15 = 3.433… → 3.43; major (13.5 + 13.5 + 12) / 9 = 4.33.
        assert_eq!(
            (&grades["gpa"], &grades["majorGpa"], &grades["totalCredits"]),
            (&json!(3.43), &json!(4.33), &json!(16))
        );
        let grades = alice.put("/v1/me/grades/2025/SEMESTER_FALL", json!({"courses": []})).await.ok();
        assert_eq!(grades["semesters"].as_array().unwrap().len(), 2);
        // (19.5 + 13.5) / 8 = 4.125 → 4.13 (half up); major 4.5.
        assert_eq!(
            (&grades["gpa"], &grades["majorGpa"], &grades["totalCredits"]),
            (&json!(4.13), &json!(4.5), &json!(9))
        );
        sys.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_nothing_partial_is_written() {
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let alice = sys.user("ttbad1", School::Hanbit).await;
        let sam = sys.user("ttbad2", School::Saesol).await;
        import_catalog(&sys, School::Hanbit).await;
        let saesol = "code,name,professor,credits,times\nSAE100,새솔 전용,P,3,Sat 09:00-10:00\n";
        assert_eq!(import(&sys, School::Saesol, YEAR, SPRING, saesol).await.ok(), json!({"imported": 1}));
        let ds = id(&lecture(&alice, YEAR, SPRING, "DS101", "01").await);
        let foreign = id(&lecture(&sam, YEAR, SPRING, "SAE100", "").await);
        let last_fall = id(&lecture(&alice, SEED_YEAR, FALL, "CSE2010", "01").await);
        let t = id(&create_timetable(&alice, YEAR, SPRING, None).await);
        add_lecture(&alice, &t, &ds).await.ok();
        let before = timetable(&alice, &t).await;

        // An unknown lecture, another school's, and one from another semester.
        add_lecture(&alice, &t, "999999999").await.expect_error(404, "NOT_FOUND");
        add_lecture(&alice, &t, &foreign).await.expect_error(404, "NOT_FOUND");
        let mismatch = add_lecture(&alice, &t, &last_fall).await;
        mismatch.expect_error(400, "SEMESTER_MISMATCH");
        assert!(mismatch.body["message"].as_str().unwrap().contains("CSE2010"), "{mismatch:?}");
        add_lecture(&alice, "424242", &ds).await.expect_error(404, "NOT_FOUND");
        let not_a_number = add_lecture(&alice, &t, "abc").await;
        assert_eq!(
            (not_a_number.status, not_a_number.violations()),
            (StatusCode::BAD_REQUEST, vec!["lectureId".to_string()])
        );
        let after = timetable(&alice, &t).await;
        assert_eq!(
            (lecture_ids(&after), &after["totalCredits"]),
            (vec![ds.clone()], &json!(3)),
            "{backend:?}"
        );
        assert_eq!(after["updatedAt"], before["updatedAt"], "a refused add does not touch the timetable");

        // A rating outside 1–5; the lecture keeps no review.
        let reviews = format!("/v1/lectures/{ds}/reviews");
        for rating in [0, 6, -1] {
            let body = review(rating, "MANY", "NONE", "GENEROUS", "ELECTRONIC", 1);
            expect_invalid(&alice.post(&reviews, body).await, &["rating"]);
        }
        let bad = json!({"rating": 3, "content": "", "assignments": "AMOUNT_UNSPECIFIED",
                         "teamProjects": "AMOUNT_MANY", "grading": "GRADING_NORMAL",
                         "attendance": "ATTENDANCE_NONE", "exams": 5});
        expect_invalid(&alice.post(&reviews, bad).await, &["content", "assignments", "exams"]);
        let unknown_lecture = review(3, "MANY", "NONE", "GENEROUS", "ELECTRONIC", 1);
        alice
            .post("/v1/lectures/999999999/reviews", unknown_lecture.clone())
            .await
            .expect_error(404, "NOT_FOUND");
        alice
            .post(&format!("/v1/lectures/{foreign}/reviews"), unknown_lecture)
            .await
            .expect_error(404, "NOT_FOUND");
        let listed = alice.get(&reviews).await.ok();
        assert_eq!((&listed["reviews"], &listed["nextPageToken"]), (&json!([]), &json!("")));
        assert_eq!(alice.get(&format!("/v1/lectures/{ds}/rating")).await.ok()["count"], 0);

        // An unknown grade letter and negative credits refuse the whole list; the stored one stays.
        let kept = json!([course("자료구조", 3, "B+", true)]);
        alice.put("/v1/me/grades/2026/SEMESTER_FALL", json!({"courses": kept})).await.ok();
        let before = alice.get("/v1/me/grades").await.ok();
        let bad = json!([
            course("Fine", 3, "A+", false),
            course("Negative", -1, "A0", false),
            course("Unknown", 3, "E", false),
            course("Lowercase", 3, "a+", false),
        ]);
        let refused = alice.put("/v1/me/grades/2026/SEMESTER_FALL", json!({"courses": bad})).await;
        expect_invalid(&refused, &["courses[1].credits", "courses[2].grade", "courses[3].grade"]);
        assert_eq!(violation_descriptions(&refused, "courses[1].credits"), ["must not be negative"]);
        let new_semester =
            json!({"courses": [course("Fine", 3, "A+", false), course("Unknown", 3, "S", false)]});
        expect_invalid(
            &alice.put("/v1/me/grades/2026/SEMESTER_SPRING", new_semester).await,
            &["courses[1].grade"],
        );
        let after = alice.get("/v1/me/grades").await.ok();
        assert_eq!(after, before, "{backend:?}");
        assert_eq!((&after["gpa"], &after["totalCredits"]), (&json!(3.5), &json!(3)));
        sys.stop().await;
    }
}
