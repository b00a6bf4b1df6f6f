//! Spawns the real account service and the real gateway in front of it, on port 0, against
//! a fresh database, and talks to the gateway over HTTP. Shared by the tests of this folder
//! and by `benches/auth.rs` and `benches/gateway.rs`.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;

use campus_proto::account::v1::CreateSchoolRequest;
use campus_proto::account::v1::account_service_client::AccountServiceClient;
use campus_shared::db::Backend;
use campus_shared::identity::{Caller, Role};
use campus_testkit::{Outbox, TestDatabase, TestIdentity};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// An origin the gateway under test allows for cookie requests.
pub(crate) const ALLOWED_ORIGIN: &str = "https://campus.example";
/// The school's email domain.
pub(crate) const DOMAIN: &str = "yonsei.ac.kr";
/// A password every rule accepts.
pub(crate) const PASSWORD: &str = "correct-horse-battery-42";

/// A running account service and gateway. Dropping it stops both.
#[derive(Debug)]
pub(crate) struct TestApp {
    /// `http://127.0.0.1:<port>` of the gateway.
    pub(crate) base: String,
    pub(crate) gateway_addr: SocketAddr,
    pub(crate) account_addr: SocketAddr,
    pub(crate) http: reqwest::Client,
    /// The key the gateway signs with and the account service verifies with.
    pub(crate) identity: TestIdentity,
    pub(crate) school_id: i64,
    pub(crate) backend: Backend,
    /// Where the account service writes its mail (the codes).
    pub(crate) outbox: Outbox,
    /// The account service's database.
    pub(crate) db: TestDatabase,
    _gateway_db: TestDatabase,
    _stop: Vec<oneshot::Sender<()>>,
}

/// A response as the tests look at it.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) set_cookie: Vec<String>,
    pub(crate) body: Value,
}

impl Answer {
    /// The `name=value` part of the single `Set-Cookie`, as a browser would send it back.
    pub(crate) fn cookie_pair(&self) -> String {
        assert_eq!(self.set_cookie.len(), 1, "one Set-Cookie: {self:?}");
        self.set_cookie[0].split(';').next().unwrap_or_default().to_string()
    }

    /// The refresh token the cookie carries.
    pub(crate) fn cookie_token(&self) -> String {
        self.cookie_pair().split_once('=').map(|(_, v)| v.to_string()).unwrap_or_default()
    }

    pub(crate) fn access_token(&self) -> String {
        self.body["accessToken"].as_str().expect("an access token").to_string()
    }

    pub(crate) fn refresh_token(&self) -> String {
        self.body["refreshToken"].as_str().expect("a refresh token in the body").to_string()
    }

    /// Every `fieldViolations[].field` of the error details.
    pub(crate) fn violations(&self) -> Vec<String> {
        campus_testkit::status::json::violated_fields(&self.body)
    }

    /// The `ErrorInfo.reason` of the error details.
    pub(crate) fn reason(&self) -> Option<String> {
        campus_testkit::status::json::reason(&self.body).map(str::to_string)
    }
}

/// Starts the real account service on `db`, trusting `identity`'s tokens, with `tweak` applied
/// to its configuration, and serves it until `stop` completes; returns its address. Its mail
/// goes to a folder of the system's temp directory unless the tweak names an outbox to read.
pub(crate) async fn spawn_account(
    identity: &TestIdentity,
    db: &TestDatabase,
    stop: impl Future<Output = ()> + Send + 'static,
    tweak: impl FnOnce(&mut campus_account::Config),
) -> SocketAddr {
    let mut config = campus_account::Config::new(identity.service_config(db));
    config.mail = campus_account::MailConfig::outbox(
        std::env::temp_dir().join(format!("campus-outbox-{}", std::process::id())),
    );
    tweak(&mut config);
    let app = campus_account::Application::build(config).await.expect("build the account service");
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped(stop));
    addr
}

/// `Authorization: Bearer …` of an admin (user 1, of no school).
pub(crate) fn admin_bearer(identity: &TestIdentity) -> String {
    identity.bearer_for(&Caller { user_id: 1, school_id: 0, role: Role::Admin, nickname: "admin".into() })
}

/// Creates the school of [`DOMAIN`] on the account service at `account`, as an admin; returns
/// its id.
pub(crate) async fn create_school(identity: &TestIdentity, account: SocketAddr) -> i64 {
    let mut request = tonic::Request::new(CreateSchoolRequest {
        name: "연세대학교".into(),
        email_domain: DOMAIN.into(),
    });
    request.metadata_mut().insert("authorization", admin_bearer(identity).parse().expect("ascii"));
    let school = AccountServiceClient::new(campus_testkit::channel(account)).create_school(request).await;
    school.expect("create a school").into_inner().id
}

/// Starts account and gateway on `backend` and creates one school.
pub(crate) async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Starts account (its configuration tweaked) and gateway on `backend`, and creates one
/// school. Codes have no interval or quota unless the tweak sets them: tests sign the same
/// address up again.
pub(crate) async fn spawn_app_with(
    backend: Backend,
    tweak: impl FnOnce(&mut campus_account::Config),
) -> TestApp {
    let db = TestDatabase::new(backend).await;
    let identity = TestIdentity::new();
    let mut stop = Vec::new();

    let outbox = Outbox::new();
    let (tx, rx) = oneshot::channel::<()>();
    let stopped = async move {
        let _ = rx.await;
    };
    let account_addr = spawn_account(&identity, &db, stopped, |account| {
        account.mail = campus_account::MailConfig::outbox(outbox.path());
        account.codes = campus_account::CodeRules {
            interval: std::time::Duration::ZERO,
            per_client_per_hour: 1000,
            per_address_per_day: 1000,
            ..Default::default()
        };
        tweak(account);
    })
    .await;
    stop.push(tx);

    let mut config = campus_gateway::Config::new(identity.key.clone(), identity.service_token.clone());
    config.listen_addr = ([127, 0, 0, 1], 0).into();
    config.upstreams.account = format!("http://{account_addr}");
    config.allowed_origins = vec![ALLOWED_ORIGIN.to_string()];
    config.secure_cookie = true;
    // The tests log in far more often than a person would; the limiter has its own tests.
    config.auth_rate_per_minute = 0;
    let gateway_db = TestDatabase::new(backend).await;
    config.database = gateway_db.config();
    let gateway = campus_gateway::Application::build(config).await.expect("build the gateway");
    let gateway_addr = gateway.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(gateway.run_until_stopped(async move {
        let _ = rx.await;
    }));
    stop.push(tx);

    let school_id = create_school(&identity, account_addr).await;

    TestApp {
        base: format!("http://{gateway_addr}"),
        gateway_addr,
        account_addr,
        http: reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("http client"),
        identity,
        school_id,
        backend,
        outbox,
        db,
        _gateway_db: gateway_db,
        _stop: stop,
    }
}

impl TestApp {
    /// POSTs JSON to a gateway path with extra headers.
    pub(crate) async fn post(&self, path: &str, body: Value, headers: &[(&str, &str)]) -> Answer {
        let mut request = self.http.post(format!("{}{path}", self.base)).json(&body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send().await.expect("gateway answers")).await
    }

    /// Sends `method path` with a bearer token.
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: &str,
        body: Option<Value>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {bearer}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("gateway answers")).await
    }

    /// A sign-up body for `login` in the test school, with a well-formed code that was never
    /// mailed (for refusals decided before the code is looked at).
    pub(crate) fn signup_body(&self, login: &str) -> Value {
        json!({
            "loginId": login,
            "password": PASSWORD,
            "nickname": login,
            "email": format!("{login}@{DOMAIN}"),
            "schoolId": self.school_id.to_string(),
            "emailCode": "000000",
        })
    }

    /// Asks for a sign-up code for `email` over HTTP and reads it from the outbox.
    pub(crate) async fn email_code(&self, email: &str) -> String {
        let body = json!({"email": email, "schoolId": self.school_id.to_string()});
        let answer = self.post("/v1/auth/email-verifications", body, &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        self.outbox.code_for(email).await
    }

    /// A sign-up body for `login` with a code mailed to its address.
    pub(crate) async fn signup_body_with_code(&self, login: &str) -> Value {
        let mut body = self.signup_body(login);
        body["emailCode"] = json!(self.email_code(&format!("{login}@{DOMAIN}")).await);
        body
    }

    /// Signs `login` up through the real flow (code by mail) and returns the user.
    pub(crate) async fn signup(&self, login: &str) -> Value {
        let body = self.signup_body_with_code(login).await;
        let answer = self.post("/v1/auth/signup", body, &[]).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
        answer.body["user"].clone()
    }

    pub(crate) async fn login(&self, login: &str, password: &str, token_in_body: bool) -> Answer {
        let body = json!({"loginId": login, "password": password, "refreshTokenInBody": token_in_body});
        self.post("/v1/auth/login", body, &[]).await
    }

    /// Refreshes with a token in the body.
    pub(crate) async fn refresh_body(&self, token: &str) -> Answer {
        self.post("/v1/auth/refresh", json!({"refreshToken": token}), &[]).await
    }

    /// Refreshes with the cookie, from `origin` when given.
    pub(crate) async fn refresh_cookie(&self, cookie_pair: &str, origin: Option<&str>) -> Answer {
        let mut headers = vec![("cookie", cookie_pair)];
        if let Some(origin) = origin {
            headers.push(("origin", origin));
        }
        self.post("/v1/auth/refresh", json!({}), &headers).await
    }

    pub(crate) async fn me(&self, access_token: &str) -> Answer {
        self.call(reqwest::Method::GET, "/v1/users/me", access_token, None).await
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let set_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("ascii cookie").to_string())
        .collect();
    let bytes = response.bytes().await.expect("a body");
    let body =
        if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("a JSON body") };
    Answer { status, set_cookie, body }
}
