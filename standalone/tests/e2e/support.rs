//! The harness: the whole system (four services and the gateway) on one backend, with every
//! service on its own database, and HTTP and gRPC-web clients that see what a user sees.

use bytes::{Buf, Bytes, BytesMut};
use campus::{Databases, System, SystemConfig};
use campus_shared::db::Backend;
use campus_shared::identity::{Caller, Role};
use campus_testkit::{Outbox, TestDatabase};
use futures::StreamExt;
use prost::Message;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

pub(crate) const PASSWORD: &str = "correct-horse-42";

/// Likes that make a post HOT and BEST in these tests.
pub(crate) const HOT: i64 = 2;
pub(crate) const BEST: i64 = 3;

/// The two demo schools the system seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum School {
    Hanbit,
    Saesol,
}

/// A running system on one backend; it stops when the test ends.
pub(crate) struct TestSystem {
    pub(crate) backend: Backend,
    pub(crate) system: System,
    pub(crate) base: String,
    /// Where each service keeps its data (tests that look past the API read them).
    pub(crate) databases: Databases,
    /// The account service's mail (`<data dir>/outbox`): where sign-up and reset codes arrive.
    pub(crate) outbox: Outbox,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    _databases: Vec<TestDatabase>,
}

impl TestSystem {
    pub(crate) async fn start(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = SystemConfig::ephemeral(dir.path().to_path_buf());
        config.gateway.secure_cookie = false;
        config.board.thresholds = campus_board::domain::Thresholds { hot: HOT, best: BEST };
        // A user here may ask for a second code for one address at once (re-joining after
        // leaving); the 60 s interval itself is tested in tests/gateway/verification.rs.
        config.account.codes.interval = std::time::Duration::ZERO;
        let mut databases = Vec::new();
        let mut configs = Databases::sqlite_in(dir.path());
        if backend == Backend::Postgres {
            for _ in 0..5 {
                databases.push(TestDatabase::new(backend).await);
            }
            configs = Databases {
                account: databases[0].config(),
                board: databases[1].config(),
                messaging: databases[2].config(),
                timetable: databases[3].config(),
                gateway: databases[4].config(),
            };
            config.set_databases(configs.clone());
        }
        let system = System::start(config).await.expect("the system starts");
        let base = format!("http://{}", system.gateway_addr);
        let outbox = Outbox::at(dir.path().join("outbox"));
        Self {
            backend,
            system,
            base,
            databases: configs,
            outbox,
            http: reqwest::Client::new(),
            _dir: dir,
            _databases: databases,
        }
    }

    pub(crate) fn anonymous(&self) -> Client {
        Client { http: self.http.clone(), base: self.base.clone(), token: None }
    }

    /// A client holding an administrator's token, as CAMPUS_BOOTSTRAP_ADMIN's login would give.
    pub(crate) fn admin(&self) -> Client {
        let caller = Caller { user_id: 1, school_id: 0, role: Role::Admin, nickname: "관리자".into() };
        let token = self.system.issuer.issue(&caller).expect("token");
        Client { token: Some(token), ..self.anonymous() }
    }

    /// The id of a seeded school.
    pub(crate) async fn school(&self, school: School) -> (String, String) {
        let name = match school {
            School::Hanbit => "한빛대학교",
            School::Saesol => "새솔대학교",
        };
        let schools = self.anonymous().get("/v1/schools").await.ok();
        let found = schools["schools"].as_array().unwrap().iter().find(|s| s["name"] == name).unwrap();
        (found["id"].as_str().unwrap().to_string(), found["emailDomain"].as_str().unwrap().to_string())
    }

    /// Signs a user up over HTTP and logs them in; the returned client carries their token.
    pub(crate) async fn user(&self, login_id: &str, school: School) -> User {
        let (school_id, domain) = self.school(school).await;
        let anonymous = self.anonymous();
        let nickname = format!("닉{login_id}");
        let email = format!("{login_id}@{domain}");
        let asked = anonymous
            .post("/v1/auth/email-verifications", json!({"email": email, "schoolId": school_id}))
            .await;
        assert_eq!(asked.status, StatusCode::OK, "code for {login_id}: {asked:?}");
        let code = self.outbox.code_for(&email).await;
        let signed_up = anonymous
            .post(
                "/v1/auth/signup",
                json!({"loginId": login_id, "password": PASSWORD, "nickname": nickname,
                       "email": email, "schoolId": school_id, "emailCode": code}),
            )
            .await;
        assert_eq!(signed_up.status, StatusCode::CREATED, "sign up {login_id}: {signed_up:?}");
        let session = anonymous
            .post(
                "/v1/auth/login",
                json!({"loginId": login_id, "password": PASSWORD, "refreshTokenInBody": true}),
            )
            .await
            .ok();
        let token = session["accessToken"].as_str().unwrap().to_string();
        User {
            id: signed_up.body["user"]["id"].as_str().unwrap().to_string(),
            login_id: login_id.to_string(),
            nickname,
            school_id,
            client: Client { token: Some(token), ..anonymous },
        }
    }

    /// A board of the user's school by name.
    pub(crate) async fn board(&self, user: &User, name: &str) -> String {
        let boards = user.get("/v1/boards").await.ok();
        let board = boards["boards"].as_array().unwrap().iter().find(|b| b["name"] == name);
        board.unwrap_or_else(|| panic!("no board {name}: {boards}"))["id"].as_str().unwrap().to_string()
    }

    pub(crate) async fn stop(mut self) {
        self.system.stop().await;
    }
}

/// A signed-up, logged-in user.
pub(crate) struct User {
    pub(crate) id: String,
    pub(crate) login_id: String,
    pub(crate) nickname: String,
    pub(crate) school_id: String,
    pub(crate) client: Client,
}

impl std::ops::Deref for User {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

/// An HTTP client of the gateway, with or without a token.
#[derive(Clone)]
pub(crate) struct Client {
    http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) token: Option<String>,
}

/// What came back: the status, the JSON body (Null when empty) and the headers.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) body: Value,
    pub(crate) headers: reqwest::header::HeaderMap,
}

impl Reply {
    /// The body of a 2xx reply; panics with the error otherwise.
    #[track_caller]
    pub(crate) fn ok(self) -> Value {
        assert!(self.status.is_success(), "expected success, got {self:?}");
        self.body
    }

    /// Asserts the status and the ErrorInfo reason of an error reply.
    #[track_caller]
    pub(crate) fn expect_error(&self, status: u16, reason: &str) {
        assert_eq!(self.status.as_u16(), status, "{self:?}");
        assert_eq!(self.reason(), Some(reason), "{self:?}");
        assert!(!self.body["message"].as_str().unwrap_or_default().is_empty(), "a message: {self:?}");
    }

    pub(crate) fn reason(&self) -> Option<&str> {
        campus_testkit::status::json::reason(&self.body)
    }

    /// The fields a BadRequest detail names.
    pub(crate) fn violations(&self) -> Vec<String> {
        campus_testkit::status::json::violated_fields(&self.body)
    }
}

impl Client {
    pub(crate) async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        self.finish(request).await
    }

    /// A raw body with its content type (CSV import, photo upload).
    pub(crate) async fn send_bytes(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        self.finish(request).await
    }

    /// The raw response of a GET (photo download).
    pub(crate) async fn get_raw(&self, path: &str) -> reqwest::Response {
        self.authorize(self.http.get(format!("{}{path}", self.base))).send().await.expect("gateway answers")
    }

    fn authorize(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    async fn finish(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = self.authorize(request).send().await.expect("gateway answers");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body, got {status}: {text}"))
        };
        Reply { status, body, headers }
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    pub(crate) async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub(crate) async fn put(&self, path: &str, body: Value) -> Reply {
        self.send(Method::PUT, path, Some(body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, None).await
    }

    /// A unary gRPC-web call (binary mode over HTTP/1.1) through the gateway, as a browser
    /// makes it. Errors keep their details, read from the trailer frame or, for a
    /// trailers-only answer, from the headers.
    pub(crate) async fn grpc_web<Req: prost::Message, Res: prost::Message + Default>(
        &self,
        method: &str,
        message: &Req,
    ) -> Result<Res, WebError> {
        let response = self.grpc_web_request(method, message).await;
        assert_eq!(response.status(), StatusCode::OK, "gRPC-web answers errors in trailers: {response:?}");
        let mut trailers = response.headers().clone();
        let mut reader = GrpcWebReader::default();
        reader.push(&response.bytes().await.expect("body"));
        assert!(reader.buffer.is_empty(), "a truncated frame: {reader:?}");
        for (name, value) in &reader.trailers {
            trailers.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("trailer name"),
                value.parse().expect("trailer value"),
            );
        }
        let status = tonic::Status::from_header_map(&trailers).expect("a grpc-status");
        if status.code() == tonic::Code::Ok {
            let message = reader.messages.first().expect("a message");
            return Ok(Res::decode(message.as_ref()).expect("decodes"));
        }
        Err(WebError::from_status(&status))
    }

    /// Opens a server-streaming gRPC-web call; read it with [`GrpcWebStream::next`].
    pub(crate) async fn grpc_web_stream<Req: prost::Message>(
        &self,
        method: &str,
        message: &Req,
    ) -> GrpcWebStream {
        let response = self.grpc_web_request(method, message).await;
        assert_eq!(response.status(), StatusCode::OK);
        GrpcWebStream { body: Box::pin(response.bytes_stream()), reader: GrpcWebReader::default() }
    }

    async fn grpc_web_request<Req: prost::Message>(&self, method: &str, message: &Req) -> reqwest::Response {
        let frame = campus_testkit::bench::grpc_web::frame(message);
        let request = self
            .http
            .post(format!("{}/{method}", self.base))
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .body(frame);
        self.authorize(request).send().await.expect("gateway answers")
    }
}

/// gRPC-web frames parsed as they arrive: data frames, then one trailer frame.
#[derive(Debug, Default)]
pub(crate) struct GrpcWebReader {
    buffer: BytesMut,
    pub(crate) messages: Vec<Bytes>,
    pub(crate) trailers: Vec<(String, String)>,
}

impl GrpcWebReader {
    fn push(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
        while self.buffer.len() >= 5 {
            let len =
                u32::from_be_bytes([self.buffer[1], self.buffer[2], self.buffer[3], self.buffer[4]]) as usize;
            if self.buffer.len() < 5 + len {
                break;
            }
            let flag = self.buffer[0];
            self.buffer.advance(5);
            let payload = self.buffer.split_to(len).freeze();
            if flag & 0x80 == 0 {
                self.messages.push(payload);
            } else {
                for line in String::from_utf8_lossy(&payload).split("\r\n") {
                    if let Some((name, value)) = line.split_once(':') {
                        self.trailers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
                    }
                }
            }
        }
    }
}

/// A server stream read over gRPC-web, message by message.
pub(crate) struct GrpcWebStream {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<Bytes>> + Send>>,
    reader: GrpcWebReader,
}

impl GrpcWebStream {
    /// The next message, or `None` once the stream has ended (see [`GrpcWebStream::status`]).
    pub(crate) async fn next<M: prost::Message + Default>(&mut self) -> Option<M> {
        loop {
            if !self.reader.messages.is_empty() {
                let bytes = self.reader.messages.remove(0);
                return Some(M::decode(bytes.as_ref()).expect("decodes"));
            }
            match self.body.next().await {
                Some(chunk) => self.reader.push(&chunk.expect("stream chunk")),
                None => return None,
            }
        }
    }

    /// The trailers the stream ended with.
    pub(crate) fn trailers(&self) -> &[(String, String)] {
        &self.reader.trailers
    }
}

/// `google.rpc.Status`, `Any`, `ErrorInfo` and `BadRequest` as they travel in
/// `grpc-status-details-bin` (decoded here rather than pulling in tonic-types).
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<RpcAny>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RpcAny {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ErrorInfo {
    #[prost(string, tag = "1")]
    reason: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct BadRequest {
    #[prost(message, repeated, tag = "1")]
    field_violations: Vec<FieldViolation>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct FieldViolation {
    #[prost(string, tag = "1")]
    field: String,
}

/// A refused gRPC-web call: its code and message, and the ErrorInfo reason and BadRequest
/// fields it carried.
#[derive(Debug)]
pub(crate) struct WebError {
    pub(crate) code: tonic::Code,
    pub(crate) message: String,
    pub(crate) reason: String,
    pub(crate) fields: Vec<String>,
}

impl WebError {
    fn from_status(status: &tonic::Status) -> Self {
        let details = <RpcStatus as prost::Message>::decode(status.details()).unwrap_or_default();
        let mut error = WebError {
            code: status.code(),
            message: status.message().to_string(),
            reason: String::new(),
            fields: Vec::new(),
        };
        for detail in details.details {
            match detail.type_url.as_str() {
                "type.googleapis.com/google.rpc.ErrorInfo" => {
                    error.reason = ErrorInfo::decode(detail.value.as_slice()).expect("ErrorInfo").reason;
                }
                "type.googleapis.com/google.rpc.BadRequest" => {
                    let bad = BadRequest::decode(detail.value.as_slice()).expect("BadRequest");
                    error.fields = bad.field_violations.into_iter().map(|v| v.field).collect();
                }
                _ => {}
            }
        }
        error
    }

    #[track_caller]
    pub(crate) fn expect(&self, code: tonic::Code, reason: &str) {
        assert_eq!((self.code, self.reason.as_str()), (code, reason), "{self:?}");
        assert!(!self.message.is_empty(), "a message: {self:?}");
    }
}
