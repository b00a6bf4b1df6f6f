//! The whole system on one backend for the hostile tests, clients that connect from a chosen
//! loopback address (so the gateway sees different clients), and a look into the account
//! database to count what the throttle let through.

use std::net::{IpAddr, Ipv4Addr};

use campus::{Databases, System, SystemConfig};
use campus_shared::db::Backend;
use campus_testkit::status::json::HttpAnswer;
use campus_testkit::{Outbox, TestDatabase};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A password that passes the strength rule.
pub(crate) const PASSWORD: &str = "quiet-river-campus-42";

pub(crate) struct Hostile {
    pub(crate) system: System,
    account_url: String,
    /// The account service's mail: where sign-up codes arrive.
    pub(crate) outbox: Outbox,
    _dir: tempfile::TempDir,
    _databases: Vec<TestDatabase>,
}

/// What came back.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) bytes: Vec<u8>,
}

impl HttpAnswer for Answer {
    fn status_code(&self) -> u16 {
        self.status.as_u16()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn body_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// An HTTP client of the gateway connecting from `from` (any 127.0.0.0/8 address).
#[derive(Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    pub(crate) token: Option<String>,
}

impl Client {
    pub(crate) async fn send(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        self.send_with(method, path, &[], content_type, body).await
    }

    /// [`Client::send`] with extra request headers.
    pub(crate) async fn send_with(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if !body.is_empty() || content_type == "application/json" {
            request = request.header("content-type", content_type).body(body);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the gateway answers");
        let (status, headers) = (response.status(), response.headers().clone());
        Answer { status, headers, bytes: response.bytes().await.expect("a body").to_vec() }
    }

    pub(crate) async fn json(&self, method: Method, path: &str, body: Value) -> Answer {
        self.send(method, path, "application/json", serde_json::to_vec(&body).unwrap()).await
    }

    pub(crate) async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, "", Vec::new()).await
    }

    pub(crate) async fn login(&self, login_id: &str, password: &str) -> Answer {
        self.json(Method::POST, "/v1/auth/login", json!({"loginId": login_id, "password": password})).await
    }

    /// This client with `login_id`'s access token, after signing in with [`PASSWORD`].
    pub(crate) async fn signed_in(&self, login_id: &str) -> Client {
        let session = self.login(login_id, PASSWORD).await;
        assert_eq!(session.status, StatusCode::OK, "{session:?}");
        let token = session.json()["accessToken"].as_str().unwrap().to_string();
        Client { token: Some(token), ..self.clone() }
    }
}

impl Hostile {
    pub(crate) async fn start(backend: Backend) -> Self {
        Self::start_with(backend, |_| {}).await
    }

    /// [`Hostile::start`] with the configuration changed by `configure` first.
    pub(crate) async fn start_with(backend: Backend, configure: impl FnOnce(&mut SystemConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = SystemConfig::ephemeral(dir.path().to_path_buf());
        config.gateway.secure_cookie = false;
        configure(&mut config);
        let mut databases = Vec::new();
        let account_url = if backend == Backend::Postgres {
            for _ in 0..5 {
                databases.push(TestDatabase::new(backend).await);
            }
            let [account, board, messaging, timetable, gateway] =
                [0, 1, 2, 3, 4].map(|i| databases[i].config());
            config.set_databases(Databases { account, board, messaging, timetable, gateway });
            databases[0].url.clone()
        } else {
            Databases::sqlite_in(dir.path()).account.url
        };
        let system = System::start(config).await.expect("the system starts");
        let outbox = Outbox::at(dir.path().join("outbox"));
        Self { system, account_url, outbox, _dir: dir, _databases: databases }
    }

    /// A client whose connections come from 127.0.0.`host`.
    pub(crate) fn client(&self, host: u8) -> Client {
        let http = reqwest::Client::builder()
            .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)))
            .build()
            .expect("a client");
        Client { http, base: format!("http://{}", self.system.gateway_addr), token: None }
    }

    /// Signs `login_id` up at the first demo school (from 127.0.0.`host`).
    pub(crate) async fn sign_up(&self, host: u8, login_id: &str) {
        let client = self.client(host);
        let schools = client.get("/v1/schools").await.json();
        let school = &schools["schools"][0];
        let domain = school["emailDomain"].as_str().unwrap();
        let email = format!("{login_id}@{domain}");
        let asked = client
            .json(
                Method::POST,
                "/v1/auth/email-verifications",
                json!({"email": email, "schoolId": school["id"]}),
            )
            .await;
        assert_eq!(asked.status, StatusCode::OK, "{asked:?}");
        let code = self.outbox.code_for(&email).await;
        let body = json!({"loginId": login_id, "password": PASSWORD, "nickname": format!("닉{login_id}"),
                          "email": email, "schoolId": school["id"], "emailCode": code});
        let created = client.json(Method::POST, "/v1/auth/signup", body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    }

    /// One number from the account database.
    pub(crate) async fn account_number(&self, sql: &str, login_id: &str) -> i64 {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.account_url).await.expect("the account database");
        let row: Option<(i64,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
            .bind(login_id)
            .fetch_optional(&pool)
            .await
            .expect("query");
        pool.close().await;
        row.map_or(0, |(n,)| n)
    }

    pub(crate) async fn stop(mut self) {
        self.system.stop().await;
    }
}
