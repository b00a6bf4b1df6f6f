//! The catalog: CSV import (atomic, line/column errors, upsert) and search.

use campus_proto::google::api::HttpBody;
use campus_proto::timetable::v1::{DayOfWeek, GetLectureRequest, ImportLecturesRequest, ListLecturesRequest};
use tonic::{Code, Request};

use crate::helpers::*;
use campus_testkit::status::*;

fn search(query: &str) -> ListLecturesRequest {
    ListLecturesRequest { year: YEAR, semester: FALL, query: query.into(), ..Default::default() }
}

async fn codes(app: &TestApp, request: ListLecturesRequest) -> Vec<String> {
    let page = app.client().list_lectures(app.req(request, 1)).await.expect("search").into_inner();
    page.lectures.into_iter().map(|l| format!("{}-{}", l.code, l.section)).collect()
}

#[tokio::test]
async fn import_then_search_by_every_filter() {
    each_backend(|app| async move {
        assert_eq!(app.import(SCHOOL, YEAR, FALL, CATALOG).await.unwrap(), 7);

        let all = app.all_lectures(SCHOOL, YEAR, FALL).await;
        assert_eq!(all.len(), 7);
        let db = all.iter().find(|l| l.code == "CSE3030").unwrap();
        assert_eq!(db.name, "Databases, Intro", "quoted field with a comma");
        assert_eq!((db.credits, db.school_id, db.semester), (2, SCHOOL, FALL));
        let ds = all.iter().find(|l| l.code == "CSE2010" && l.section == "01").unwrap();
        assert_eq!(ds.times.len(), 2);
        assert_eq!((ds.times[0].day, ds.times[0].start_minute, ds.times[0].end_minute), (1, 540, 615));
        assert_eq!(ds.times[0].room, "R101");
        assert_eq!(ds.category, "major");

        // Text matches name or code, case-insensitively; Korean works too.
        assert_eq!(codes(&app, search("data")).await, ["CSE2010-01", "CSE2010-02", "CSE3030-01"]);
        assert_eq!(codes(&app, search("cse30")).await, ["CSE3010-01", "CSE3020-01", "CSE3030-01"]);
        assert_eq!(codes(&app, search("미술")).await, ["ART1000-01"]);
        assert_eq!(codes(&app, search("%")).await, Vec::<String>::new(), "wildcards are literal");

        let by_prof = ListLecturesRequest { professor: "kim".into(), ..search("") };
        assert_eq!(codes(&app, by_prof).await, ["CSE2010-01", "CSE3030-01"]);

        let tuesday = ListLecturesRequest { day: DayOfWeek::Tuesday as i32, ..search("") };
        assert_eq!(codes(&app, tuesday).await, ["CSE2010-02", "CSE3030-01"]);

        // Every slot inside [09:00, 11:00]: DS01 (09:00-10:15 twice) and OS (10:00-11:00).
        let morning = ListLecturesRequest { time_from: Some(540), time_to: Some(660), ..search("") };
        assert_eq!(codes(&app, morning).await, ["CSE2010-01", "CSE3020-01"]);
        let evening = ListLecturesRequest { time_from: Some(17 * 60), ..search("") };
        assert_eq!(codes(&app, evening).await, ["ENG1010-01"]);

        let two_credits = ListLecturesRequest { credits: Some(2), ..search("") };
        assert_eq!(codes(&app, two_credits).await, ["ART1000-01", "CSE3030-01"]);

        let combined =
            ListLecturesRequest { credits: Some(3), day: DayOfWeek::Monday as i32, ..search("cse") };
        assert_eq!(codes(&app, combined).await, ["CSE2010-01", "CSE3010-01", "CSE3020-01"]);

        // Another semester of the same school is empty.
        let spring = ListLecturesRequest { semester: SPRING, ..search("") };
        assert!(codes(&app, spring).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn search_is_keyset_paginated() {
    each_backend(|app| async move {
        app.import(SCHOOL, YEAR, FALL, CATALOG).await.unwrap();
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let request = ListLecturesRequest { page_size: 3, page_token: token, ..search("") };
            let page = app.client().list_lectures(app.req(request, 1)).await.unwrap().into_inner();
            assert!(page.lectures.len() <= 3);
            seen.extend(page.lectures.into_iter().map(|l| l.id));
            pages += 1;
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(pages, 3);
        let all: Vec<i64> = app.all_lectures(SCHOOL, YEAR, FALL).await.into_iter().map(|l| l.id).collect();
        assert_eq!(seen, all);

        // A token is bound to its search: reusing it with other filters is refused.
        let first = app
            .client()
            .list_lectures(app.req(ListLecturesRequest { page_size: 2, ..search("") }, 1))
            .await
            .unwrap()
            .into_inner();
        let other = ListLecturesRequest { page_size: 2, page_token: first.next_page_token, ..search("data") };
        let err = app.client().list_lectures(app.req(other, 1)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["pageToken"]);
    })
    .await;
}

#[tokio::test]
async fn search_needs_year_and_semester_and_valid_filters() {
    each_backend(|app| async move {
        let err = app.client().list_lectures(app.req(ListLecturesRequest::default(), 1)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["year", "semester"]);
        let bad = ListLecturesRequest { time_from: Some(700), time_to: Some(600), day: 9, ..search("") };
        let err = app.client().list_lectures(app.req(bad, 1)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["day", "timeTo"]);
        let err = app.client().list_lectures(Request::new(search(""))).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    })
    .await;
}

#[tokio::test]
async fn another_schools_lectures_are_invisible() {
    each_backend(|app| async move {
        app.import(OTHER_SCHOOL, YEAR, FALL, CATALOG).await.unwrap();
        assert!(app.all_lectures(SCHOOL, YEAR, FALL).await.is_empty());
        let theirs = app.all_lectures(OTHER_SCHOOL, YEAR, FALL).await;
        assert_eq!(theirs.len(), 7);
        let err =
            app.client().get_lecture(app.req(GetLectureRequest { id: theirs[0].id }, 1)).await.unwrap_err();
        assert_status(&err, Code::NotFound, "NOT_FOUND");
        let own = app
            .client()
            .get_lecture(app.req_in(GetLectureRequest { id: theirs[0].id }, 1, OTHER_SCHOOL))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(own, theirs[0]);
    })
    .await;
}

#[tokio::test]
async fn malformed_files_name_line_and_column_and_keep_nothing() {
    each_backend(|app| async move {
        let header = "code,name,professor,credits,times,section,category\n";
        let good = "A100,Alpha,P,3,Mon 09:00-10:00,01,x\n";
        let cases = [
            ("code,name,credits,professor,times\n".to_string() + good, "line 1: the header must start with"),
            (
                format!("{header}{good}B200,Beta,P,3,Mnd 09:00-10:00,01,x\n"),
                "line 3, column times: bad day \"Mnd\"",
            ),
            (
                format!("{header}{good}B200,Beta,P,3,Tue 23:00-25:00,01,x\n"),
                "line 3, column times: bad time \"25:00\"",
            ),
            (format!("{header}{good}B200,Beta,P,3,Tue 11:00-10:00,01,x\n"), "line 3, column times"),
            (format!("{header}{good}B200,Beta,P,3,Tue 10:00-10:03,01,x\n"), "5-minute units"),
            (format!("{header}{good}A100,Again,P,3,Fri 09:00-10:00,01,x\n"), "line 3, column section"),
            (format!("{header}{good}B200,Beta,P,-3,Tue 10:00-11:00,01,x\n"), "line 3, column credits"),
        ];
        for (csv, expected) in cases {
            let err = app.import(SCHOOL, YEAR, FALL, &csv).await.unwrap_err();
            let v = violations(&err);
            assert_eq!(v[0].0, "csv");
            assert!(v[0].1.starts_with(expected) || v[0].1.contains(expected), "{expected}: {v:?}");
        }
        // The good line of every refused file was not kept.
        assert!(app.all_lectures(SCHOOL, YEAR, FALL).await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn reimport_upserts_by_code_and_section() {
    each_backend(|app| async move {
        app.import(SCHOOL, YEAR, FALL, CATALOG).await.unwrap();
        let before = app.lecture("CSE3010").await;
        let update = "code,name,professor,credits,times,section\n\
                      CSE3010,Algorithms II,New Prof,2,Thu 09:00-10:00,01\n\
                      NEW1000,Brand New,X,1,Fri 09:00-10:00,01\n";
        assert_eq!(app.import(SCHOOL, YEAR, FALL, update).await.unwrap(), 2);
        let after = app.lecture("CSE3010").await;
        assert_eq!(after.id, before.id, "same code and section keeps its id");
        assert_eq!(
            (after.name.as_str(), after.professor.as_str(), after.credits),
            ("Algorithms II", "New Prof", 2)
        );
        assert_eq!((after.times.len(), after.times[0].day), (1, 4));
        // The slot rows follow: the lecture is now found on Thursday and not on Monday.
        let thursday = ListLecturesRequest { day: DayOfWeek::Thursday as i32, ..search("algo") };
        assert_eq!(codes(&app, thursday).await, ["CSE3010-01"]);
        let monday = ListLecturesRequest { day: DayOfWeek::Monday as i32, ..search("algo") };
        assert!(codes(&app, monday).await.is_empty());
        // Lectures missing from the new file stay.
        assert_eq!(app.all_lectures(SCHOOL, YEAR, FALL).await.len(), 8);
    })
    .await;
}

#[tokio::test]
async fn import_is_for_admins_with_a_csv_body() {
    each_backend(|app| async move {
        let body = HttpBody {
            content_type: "text/csv".into(),
            data: CATALOG.as_bytes().to_vec(),
            extensions: vec![],
        };
        let request =
            ImportLecturesRequest { school_id: SCHOOL, year: YEAR, semester: FALL, csv: Some(body.clone()) };
        let err = app.client().import_lectures(app.req(request.clone(), 1)).await.unwrap_err();
        assert_status(&err, Code::PermissionDenied, "ADMIN_ONLY");

        let json = HttpBody { content_type: "application/json".into(), ..body.clone() };
        let wrong = ImportLecturesRequest { csv: Some(json), ..request.clone() };
        let err = app.client().import_lectures(app.admin_req(wrong)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["csv.contentType"]);

        let missing = ImportLecturesRequest { school_id: 0, year: 0, semester: 0, csv: Some(body) };
        let err = app.client().import_lectures(app.admin_req(missing)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["schoolId", "year", "semester"]);

        let charset = HttpBody {
            content_type: "text/csv; charset=utf-8".into(),
            data: CATALOG.into(),
            extensions: vec![],
        };
        let ok = ImportLecturesRequest { csv: Some(charset), ..request };
        assert_eq!(app.client().import_lectures(app.admin_req(ok)).await.unwrap().into_inner().imported, 7);
    })
    .await;
}
