//! Starts the real timetable server on port 0 against a fresh database, plus a test double of
//! the account service's internal API as its upstream.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use campus_proto::account::v1 as account;
use campus_proto::account::v1::account_internal_service_server::{
    AccountInternalService, AccountInternalServiceServer,
};
use campus_proto::google::api::HttpBody;
use campus_proto::timetable::v1::timetable_service_client::TimetableServiceClient;
use campus_proto::timetable::v1::{
    CreateTimetableRequest, ImportLecturesRequest, Lecture, ListLecturesRequest, Timetable,
};
use campus_shared::db::Backend;
use campus_shared::identity::{Caller, Role, ServiceInterceptor, TokenVerifier};
use campus_shared::server::GrpcServer;
use campus_shared::testing::{TestDatabase, TestIdentity, channel};
use campus_timetable::{Application, Config};
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};
use tonic_types::StatusExt;

/// The school most tests' users belong to.
pub(crate) const SCHOOL: i64 = 1;
/// Another school, whose lectures the first school's users must never see.
pub(crate) const OTHER_SCHOOL: i64 = 2;
pub(crate) const YEAR: i32 = 2026;
pub(crate) const FALL: i32 = 3;
pub(crate) const SPRING: i32 = 1;
pub(crate) const ADMIN: i64 = 9_000;

/// Pairs of friends, as the test double of the account service knows them.
pub(crate) type Friends = Arc<Mutex<HashSet<(i64, i64)>>>;

/// A running timetable service and what tests need to talk to it.
#[derive(Debug)]
pub(crate) struct TestApp {
    pub(crate) client: TimetableServiceClient<Channel>,
    pub(crate) identity: TestIdentity,
    pub(crate) backend: Backend,
    pub(crate) friends: Friends,
    _db: TestDatabase,
}

/// Runs `test` once per backend in `testing::backends()` against a fresh app.
pub(crate) async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for backend in campus_shared::testing::backends() {
        test(spawn_app(backend).await).await;
    }
}

pub(crate) async fn spawn_app(backend: Backend) -> TestApp {
    let identity = TestIdentity::new();
    let friends = Friends::default();
    let account_addr = spawn_fake_account(&identity, friends.clone()).await;
    spawn_app_with(backend, identity, friends, format!("http://{account_addr}")).await
}

/// An app whose account upstream is `account_url` (e.g. a port nobody listens on).
pub(crate) async fn spawn_app_with(
    backend: Backend,
    identity: TestIdentity,
    friends: Friends,
    account_url: String,
) -> TestApp {
    let db = TestDatabase::new(backend).await;
    let config = Config { service: identity.service_config(&db), account_addr: account_url };
    let app = Application::build(config).await.expect("build app");
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    TestApp { client: TimetableServiceClient::new(channel(addr)), identity, backend, friends, _db: db }
}

/// A URL where nothing listens: bind a port, then free it.
pub(crate) async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
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
        let mut request = Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.identity.bearer_for(&admin).parse().expect("ascii"));
        request
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
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let request =
                ListLecturesRequest { year, semester, page_size: 100, page_token, ..Default::default() };
            let page = self
                .client()
                .list_lectures(self.req_in(request, 1, school_id))
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
        self.friends.lock().expect("lock").insert((a.min(b), a.max(b)));
    }
}

/// Asserts a status's code and ErrorInfo reason.
#[track_caller]
pub(crate) fn assert_reason(status: &Status, code: Code, reason: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    let info = status.get_error_details().error_info().cloned();
    assert_eq!(info.map(|i| i.reason).as_deref(), Some(reason), "{status:?}");
}

/// The field violations of an INVALID_ARGUMENT status, as (field, description).
#[track_caller]
pub(crate) fn violations(status: &Status) -> Vec<(String, String)> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let bad = details.bad_request().expect("bad request details");
    bad.field_violations.iter().map(|v| (v.field.clone(), v.description.clone())).collect()
}

/// The fields named by an INVALID_ARGUMENT status.
#[track_caller]
pub(crate) fn violated_fields(status: &Status) -> Vec<String> {
    violations(status).into_iter().map(|(f, _)| f).collect()
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

/// Starts the account service's test double: only AreFriends answers, from `friends`. It sits
/// behind the real ServiceInterceptor, so a call without the service credential fails, and it
/// refuses a call whose forwarded user token does not belong to `user_id`.
async fn spawn_fake_account(identity: &TestIdentity, friends: Friends) -> SocketAddr {
    let verifier = TokenVerifier::from_config(&identity.config()).expect("verifier");
    let service = AccountInternalServiceServer::with_interceptor(
        FakeAccount { friends },
        ServiceInterceptor::new(&identity.service_token, verifier),
    );
    let server = GrpcServer::bind(([127, 0, 0, 1], 0).into(), Default::default())
        .await
        .expect("bind")
        .add_service(service);
    let addr = server.local_addr();
    tokio::spawn(server.serve(std::future::pending()));
    addr
}

/// Test double of `campus.account.v1.AccountInternalService`.
#[derive(Debug, Clone)]
struct FakeAccount {
    friends: Friends,
}

#[tonic::async_trait]
impl AccountInternalService for FakeAccount {
    async fn are_friends(
        &self,
        request: Request<account::AreFriendsRequest>,
    ) -> Result<Response<account::AreFriendsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        if caller.user_id != req.user_id {
            return Err(Status::permission_denied("asked on behalf of someone else"));
        }
        let key = (req.user_id.min(req.other_user_id), req.user_id.max(req.other_user_id));
        let friends = self.friends.lock().expect("lock").contains(&key);
        Ok(Response::new(account::AreFriendsResponse { friends }))
    }

    async fn create_user(
        &self,
        _: Request<account::CreateUserRequest>,
    ) -> Result<Response<account::User>, Status> {
        Err(Status::unimplemented("test double"))
    }

    async fn verify_password(
        &self,
        _: Request<account::VerifyPasswordRequest>,
    ) -> Result<Response<account::VerifyPasswordResponse>, Status> {
        Err(Status::unimplemented("test double"))
    }

    async fn create_session(
        &self,
        _: Request<account::CreateSessionRequest>,
    ) -> Result<Response<account::CreateSessionResponse>, Status> {
        Err(Status::unimplemented("test double"))
    }

    async fn rotate_session(
        &self,
        _: Request<account::RotateSessionRequest>,
    ) -> Result<Response<account::RotateSessionResponse>, Status> {
        Err(Status::unimplemented("test double"))
    }

    async fn revoke_session(
        &self,
        _: Request<account::RevokeSessionRequest>,
    ) -> Result<Response<()>, Status> {
        Err(Status::unimplemented("test double"))
    }

    async fn get_users(
        &self,
        _: Request<account::GetUsersRequest>,
    ) -> Result<Response<account::GetUsersResponse>, Status> {
        Err(Status::unimplemented("test double"))
    }
}
