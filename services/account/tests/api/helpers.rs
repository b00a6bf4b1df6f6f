//! Starting the service and the small steps every test repeats.

use campus_account::{Application, CodeRules, Config, MailConfig};
use campus_proto::account::v1::account_internal_service_client::AccountInternalServiceClient;
use campus_proto::account::v1::account_service_client::AccountServiceClient;
use campus_proto::account::v1::account_verification_internal_service_client::AccountVerificationInternalServiceClient;
use campus_proto::account::v1::*;
use campus_shared::db::Backend;
use campus_shared::{Caller, Role};
use campus_testkit::{Outbox, mail_code};
use campus_testkit::{TestDatabase, TestIdentity, channel};
use tonic::transport::Channel;
use tonic::{Request, Status};

/// The password every test user signs up with.
pub(crate) const PASSWORD: &str = "correct horse 1";

pub(crate) struct TestApp {
    pub(crate) identity: TestIdentity,
    pub(crate) db: TestDatabase,
    pub(crate) public: AccountServiceClient<Channel>,
    pub(crate) internal: AccountInternalServiceClient<Channel>,
    pub(crate) verification: AccountVerificationInternalServiceClient<Channel>,
    pub(crate) pool: sqlx::AnyPool,
    /// Where the service writes its mail.
    pub(crate) outbox: Outbox,
}

/// Code rules for tests that sign up the same address more than once: no interval, no quota.
/// Tests of those rules set their own.
pub(crate) fn lenient_codes() -> CodeRules {
    CodeRules {
        interval: std::time::Duration::ZERO,
        per_client_per_hour: 1000,
        per_address_per_day: 1000,
        ..CodeRules::default()
    }
}

pub(crate) async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts the service with a tweaked configuration.
pub(crate) async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDatabase::new(backend).await;
    let identity = TestIdentity::new();
    let outbox = Outbox::new();
    let mut config = Config::new(identity.service_config(&db));
    config.mail = MailConfig::outbox(outbox.path());
    config.codes = lenient_codes();
    tweak(&mut config);
    let app = Application::build(config).await.expect("build the account service");
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("connect to the test database");
    TestApp {
        public: AccountServiceClient::new(channel(addr)),
        internal: AccountInternalServiceClient::new(channel(addr)),
        verification: AccountVerificationInternalServiceClient::new(channel(addr)),
        identity,
        db,
        pool,
        outbox,
    }
}

impl TestApp {
    /// A request with the service credential.
    pub(crate) fn svc<T>(&self, message: T) -> Request<T> {
        self.identity.service_request(message, None)
    }

    /// A request with a user's access token.
    pub(crate) fn as_user<T>(&self, message: T, user: &User) -> Request<T> {
        self.identity.request(message, user.id, user.school_id)
    }

    pub(crate) fn as_admin<T>(&self, message: T) -> Request<T> {
        let caller = Caller { user_id: 1, school_id: 0, role: Role::Admin, nickname: "admin".into() };
        self.identity.request_as(message, &caller)
    }

    pub(crate) async fn create_school(&self, name: &str, domain: &str) -> School {
        let request = CreateSchoolRequest { name: name.into(), email_domain: domain.into() };
        self.public.clone().create_school(self.as_admin(request)).await.expect("create school").into_inner()
    }

    /// Signs up `login` at `school` with [`PASSWORD`], nickname = login id.
    pub(crate) async fn signup(&self, school: &School, login: &str) -> User {
        self.try_signup(signup_request(school, login)).await.expect("sign up")
    }

    /// Signs up through the real flow: unless the request carries a code, one is requested
    /// for its address and read from the outbox. Where none can be had (a malformed address,
    /// one with an account already), a well-formed wrong code goes along instead.
    pub(crate) async fn try_signup(&self, mut request: CreateUserRequest) -> Result<User, Status> {
        if request.email_code.is_empty() {
            request.email_code =
                self.mailed_code(&request.email, EmailCodePurpose::SignUp, request.school_id).await;
        }
        self.internal.clone().create_user(self.svc(request)).await.map(|r| r.into_inner())
    }

    pub(crate) async fn send_code(
        &self,
        email: &str,
        purpose: EmailCodePurpose,
        school_id: i64,
        client: &str,
    ) -> Result<SendEmailCodeResponse, Status> {
        let request = SendEmailCodeRequest {
            email: email.into(),
            purpose: purpose as i32,
            school_id,
            client_address: client.into(),
        };
        self.verification.clone().send_email_code(self.svc(request)).await.map(|r| r.into_inner())
    }

    /// Asks for a code and reads it from the outbox; "000000" when no code could be had.
    pub(crate) async fn mailed_code(&self, email: &str, purpose: EmailCodePurpose, school_id: i64) -> String {
        if self.send_code(email, purpose, school_id, "").await.is_err() {
            return "000000".into();
        }
        let mail = self.outbox.next_mail(email).await;
        mail_code(&mail).unwrap_or_else(|| "000000".into())
    }

    pub(crate) async fn login(&self, login: &str, password: &str) -> Result<User, Status> {
        self.login_from("", login, password).await
    }

    /// A sign-in from `address`, as the gateway reports the client's.
    pub(crate) async fn login_from(
        &self,
        address: &str,
        login: &str,
        password: &str,
    ) -> Result<User, Status> {
        let request = VerifyPasswordRequest {
            login_id: login.into(),
            password: password.into(),
            client_address: address.into(),
        };
        let response = self.internal.clone().verify_password(self.svc(request)).await?;
        Ok(response.into_inner().user.expect("user"))
    }

    /// A new session of `user`, as a login makes one.
    pub(crate) async fn new_session(&self, user: &User) -> CreateSessionResponse {
        let request = CreateSessionRequest { user_id: user.id };
        self.internal.clone().create_session(self.svc(request)).await.expect("create session").into_inner()
    }

    /// The refresh token of a new session of `user`.
    pub(crate) async fn session(&self, user: &User) -> String {
        self.new_session(user).await.refresh_token
    }

    pub(crate) async fn rotate(&self, token: &str) -> Result<RotateSessionResponse, Status> {
        let request = RotateSessionRequest { refresh_token: token.into() };
        self.internal.clone().rotate_session(self.svc(request)).await.map(|r| r.into_inner())
    }

    pub(crate) async fn are_friends(&self, a: &User, b: &User) -> bool {
        let request = AreFriendsRequest { user_id: a.id, other_user_id: b.id };
        self.internal.clone().are_friends(self.svc(request)).await.unwrap().into_inner().friends
    }

    /// One school with two students, `alice` and `bob`.
    pub(crate) async fn school_with_two(&self) -> (School, User, User) {
        let school = self.create_school("Yonsei University", "yonsei.ac.kr").await;
        let alice = self.signup(&school, "alice").await;
        let bob = self.signup(&school, "bob_1").await;
        (school, alice, bob)
    }
}

pub(crate) fn signup_request(school: &School, login: &str) -> CreateUserRequest {
    CreateUserRequest {
        login_id: login.into(),
        password: PASSWORD.into(),
        nickname: login.into(),
        email: format!("{login}@{}", school.email_domain),
        school_id: school.id,
        email_code: String::new(),
    }
}
