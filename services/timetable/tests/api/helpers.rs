//! Starts the real timetable server on port 0 against a fresh database, plus a test double of
//! the account service's internal API as its upstream.

use campus_proto::google::api::HttpBody;
use campus_proto::timetable::v1::timetable_service_client::TimetableServiceClient;
use campus_proto::timetable::v1::{CreateTimetableRequest, ImportLecturesRequest, Lecture, Timetable};
use campus_shared::db::Backend;
use campus_shared::{Caller, Role};
use campus_testkit::fakes::Directory;
use campus_testkit::{TestDatabase, TestIdentity, channel};
use campus_timetable::{Application, Config};
use tonic::transport::Channel;
use tonic::{Request, Status};

/// The school most tests' users belong to.
pub(crate) const SCHOOL: i64 = 1;
/// Another school, whose lectures the first school's users must never see.
pub(crate) const OTHER_SCHOOL: i64 = 2;
pub(crate) const YEAR: i32 = 2026;
pub(crate) const FALL: i32 = 3;
pub(crate) const SPRING: i32 = 1;
pub(crate) const ADMIN: i64 = 9_000;

/// A running timetable service and what tests need to talk to it.
#[derive(Debug)]
pub(crate) struct TestApp {
    pub(crate) client: TimetableServiceClient<Channel>,
    pub(crate) identity: TestIdentity,
    pub(crate) backend: Backend,
    /// What the account service's test double knows (friendships).
    pub(crate) friends: Directory,
    _db: TestDatabase,
}

/// Runs `test` once per backend of `campus_testkit::backends()` against a fresh app.
pub(crate) async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    campus_testkit::each_backend(spawn_app, test).await
}

pub(crate) async fn spawn_app(backend: Backend) -> TestApp {
    let identity = TestIdentity::new();
    let friends = Directory::default();
    let account_addr = campus_testkit::fakes::spawn_account(friends.clone(), &identity).await;
    spawn_app_with(backend, identity, friends, format!("http://{account_addr}")).await
}

/// An app whose account upstream is `account_url` (e.g. a port nobody listens on).
pub(crate) async fn spawn_app_with(
    backend: Backend,
    identity: TestIdentity,
    friends: Directory,
    account_url: String,
) -> TestApp {
    let db = TestDatabase::new(backend).await;
    let config = Config { service: identity.service_config(&db), account_addr: account_url };
    let app = Application::build(config).await.expect("build app");
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp { client: TimetableServiceClient::new(channel(addr)), identity, backend, friends, _db: db }
}

impl TestApp {
    /// A request from a user of [`SCHOOL`].
    pub(crate) fn req<T>(&self, message: T, user_id: i64) -> Request<T> {
        self.identity.request(message, user_id, SCHOOL)
    }

    /// A request from a user of another school.
    pub(crate) fn req_in<T>(&self, message: T, user_id: i64, school_id: i64) -> Request<T> {
        self.identity.request(message, user_id, school_id)
    }

    pub(crate) fn admin_req<T>(&self, message: T) -> Request<T> {
        let admin = Caller { user_id: ADMIN, school_id: SCHOOL, role: Role::Admin, nickname: "admin".into() };
        self.identity.request_as(message, &admin)
    }

    pub(crate) fn client(&self) -> TimetableServiceClient<Channel> {
        self.client.clone()
    }

    /// Imports a CSV as the admin.
    pub(crate) async fn import(
        &self,
        school_id: i64,
        year: i32,
        semester: i32,
        csv: &str,
    ) -> Result<i32, Status> {
        let body =
            HttpBody { content_type: "text/csv".into(), data: csv.as_bytes().to_vec(), extensions: vec![] };
        let request = ImportLecturesRequest { school_id, year, semester, csv: Some(body) };
        Ok(self.client().import_lectures(self.admin_req(request)).await?.into_inner().imported)
    }

    /// Every lecture of a semester that a user of `school_id` can see, in search order.
    pub(crate) async fn all_lectures(&self, school_id: i64, year: i32, semester: i32) -> Vec<Lecture> {
        let authorize = |request| self.req_in(request, 1, school_id);
        campus_testkit::timetable::all_lectures(&self.client(), year, semester, authorize)
            .await
            .expect("list")
    }

    /// The lecture with this code (section "01" unless the catalog had none).
    pub(crate) async fn lecture(&self, code: &str) -> Lecture {
        self.all_lectures(SCHOOL, YEAR, FALL)
            .await
            .into_iter()
            .find(|l| l.code == code)
            .unwrap_or_else(|| panic!("lecture {code} imported"))
    }

    pub(crate) async fn create_timetable(
        &self,
        user_id: i64,
        year: i32,
        semester: i32,
        name: &str,
    ) -> Timetable {
        let request = CreateTimetableRequest { year, semester, name: name.into() };
        self.client()
            .create_timetable(self.req(request, user_id))
            .await
            .expect("create timetable")
            .into_inner()
    }

    pub(crate) fn befriend(&self, a: i64, b: i64) {
        self.friends.befriend(a, b);
    }
}

/// A small catalog for school [`SCHOOL`], fall 2026. Times chosen so that:
/// DS01 Mon/Wed 09:00-10:15, ALGO Mon 10:15-11:30 (touches DS01), OS Mon 10:00-11:00 (overlaps
/// DS01 and ALGO), DB Tue 13:00-14:15, ENG Fri 18:00-19:00 (evening), ART Sat 10:00-12:00.
pub(crate) const CATALOG: &str = "code,name,professor,credits,times,section,category\n\
CSE2010,Data Structures,Kim Minsu,3,Mon 09:00-10:15 R101; Wed 09:00-10:15 R101,01,major\n\
CSE2010,Data Structures,Lee Jiwon,3,Tue 15:00-16:15 R102; Thu 15:00-16:15 R102,02,major\n\
CSE3010,Algorithms,Park Seoyeon,3,Mon 10:15-11:30 R201,01,major\n\
CSE3020,Operating Systems,Choi Hyun,3,Mon 10:00-11:00 R301,01,major\n\
CSE3030,\"Databases, Intro\",Kim Minsu,2,Tue 13:00-14:15,01,major\n\
ENG1010,English Writing,Jung Ara,1,Fri 18:00-19:00 L1,01,general\n\
ART1000,자유 미술,홍길동,2,Sat 10:00-12:00 예술관101,01,교양\n";
