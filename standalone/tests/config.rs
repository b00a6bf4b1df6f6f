//! The standalone binary honours the documented variables (README "Configuration"): it is run
//! as a child process with its environment set (variables are process-global, so not in this
//! process), and each variable is seen to take effect over HTTP and gRPC, or, where an effect
//! cannot be seen from outside in a test (timeouts, pool sizes), to be read: a malformed value
//! stops the binary with an error naming the variable.

use std::collections::HashMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use campus_proto::account::v1::GetUsersRequest;
use campus_proto::account::v1::account_internal_service_client::AccountInternalServiceClient;
use campus_shared::identity::{Caller, Role, SERVICE_TOKEN_HEADER, SigningKey, TokenIssuer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[path = "../../services/board/tests/fixtures/images.rs"]
#[allow(dead_code)]
mod images;

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Variables whose effect the running system shows (in `the_documented_variables_take_effect`).
const OBSERVED: &[&str] = &[
    "CAMPUS_DATA_DIR",
    "ACCOUNT_DATABASE_URL",
    "BOARD_DATABASE_URL",
    "MESSAGING_DATABASE_URL",
    "TIMETABLE_DATABASE_URL",
    "GATEWAY_DATABASE_URL",
    "ACCOUNT_LISTEN_ADDR",
    "BOARD_LISTEN_ADDR",
    "MESSAGING_LISTEN_ADDR",
    "TIMETABLE_LISTEN_ADDR",
    "GATEWAY_LISTEN_ADDR",
    "CAMPUS_JWT_PRIVATE_KEY",
    "CAMPUS_JWT_ISSUER",
    "CAMPUS_JWT_AUDIENCE",
    "CAMPUS_SERVICE_TOKEN",
    "CAMPUS_ALLOWED_ORIGINS",
    "CAMPUS_BOOTSTRAP_ADMIN",
    "CAMPUS_SEED_DEMO",
    "BOARD_HOT_THRESHOLD",
    "BOARD_BEST_THRESHOLD",
    "BOARD_BLOB_URL",
    "GATEWAY_SECURE_COOKIE",
    "GATEWAY_MAX_BODY_BYTES",
    "GATEWAY_AUTH_RATE_PER_MINUTE",
    "GATEWAY_TRUSTED_PROXIES",
];

/// Variables shown to be read by refusing a malformed value.
const MALFORMED: &[(&str, &str)] = &[
    ("GATEWAY_LISTEN_ADDR", "here"),
    ("ACCOUNT_LISTEN_ADDR", "here"),
    ("BOARD_LISTEN_ADDR", "here"),
    ("MESSAGING_LISTEN_ADDR", "here"),
    ("TIMETABLE_LISTEN_ADDR", "here"),
    ("CAMPUS_JWT_PRIVATE_KEY", "not a key"),
    ("CAMPUS_JWT_PRIVATE_KEY_FILE", "/nonexistent/campus-key.pem"),
    ("CAMPUS_BOOTSTRAP_ADMIN", "no-password"),
    ("CAMPUS_SEED_DEMO", "maybe"),
    ("CAMPUS_SEED_ACTIVITY", "maybe"),
    ("CAMPUS_DB_MAX_CONNECTIONS", "many"),
    ("CAMPUS_DB_ACQUIRE_TIMEOUT_SECS", "soon"),
    ("CAMPUS_REQUEST_TIMEOUT_SECS", "soon"),
    ("CAMPUS_CONCURRENCY_LIMIT", "many"),
    ("CAMPUS_SHUTDOWN_TIMEOUT_SECS", "soon"),
    ("BOARD_HOT_THRESHOLD", "some"),
    ("BOARD_BEST_THRESHOLD", "some"),
    ("GATEWAY_SECURE_COOKIE", "maybe"),
    ("GATEWAY_MAX_BODY_BYTES", "big"),
    ("GATEWAY_CONCURRENCY_LIMIT", "many"),
    ("GATEWAY_AUTH_RATE_PER_MINUTE", "some"),
    ("GATEWAY_UPSTREAM_TIMEOUT_SECS", "soon"),
    ("GATEWAY_CONNECT_TIMEOUT_MS", "soon"),
    ("GATEWAY_TRUSTED_PROXIES", "the ingress"),
    ("GATEWAY_IDEMPOTENCY_TTL_SECS", "long"),
    ("GATEWAY_HEADER_TIMEOUT_SECS", "soon"),
    ("GATEWAY_BODY_TIMEOUT_SECS", "soon"),
    ("GATEWAY_IDLE_TIMEOUT_SECS", "soon"),
    ("GATEWAY_MAX_CONNECTIONS_PER_IP", "many"),
    ("GATEWAY_BODY_BUDGET_BYTES", "big"),
    ("GATEWAY_BODY_BUDGET_PER_IP_BYTES", "big"),
    ("GATEWAY_H2_MAX_CONCURRENT_STREAMS", "many"),
    ("GATEWAY_H2_MAX_HEADER_LIST_BYTES", "big"),
    ("MESSAGING_MAX_STREAMS_PER_USER", "many"),
    ("BOARD_SEARCH_BURST", "some"),
    ("BOARD_SEARCH_PER_SECOND", "some"),
    ("BOARD_SEARCH_TIMEOUT_MS", "soon"),
    ("BOARD_FIRST_PAGE_TTL_MS", "soon"),
    ("ACCOUNT_SIGNIN_FREE_FAILURES", "some"),
    ("ACCOUNT_SIGNIN_BACKOFF_SECS", "soon"),
    ("ACCOUNT_SIGNIN_BACKOFF_CAP_SECS", "soon"),
    ("ACCOUNT_SIGNIN_BUDGET", "some"),
    ("ACCOUNT_SIGNIN_BUDGET_WINDOW_SECS", "soon"),
    ("ACCOUNT_SIGNIN_FAMILIAR_SECS", "long"),
    ("CAMPUS_EVENT_RETENTION_SECS", "long"),
    ("ACCOUNT_EMAIL_CODE_TTL_SECS", "soon"),
    ("ACCOUNT_EMAIL_CODE_INTERVAL_SECS", "soon"),
    ("ACCOUNT_EMAIL_CODES_PER_CLIENT_PER_HOUR", "some"),
    ("ACCOUNT_EMAIL_CODES_PER_ADDRESS_PER_DAY", "some"),
    ("ACCOUNT_NICKNAME_COOLDOWN_SECS", "long"),
    ("CAMPUS_SMTP_URL", "ftp://mail.example"),
    ("CAMPUS_SMTP_USERNAME_FILE", "/nonexistent/smtp-user"),
    ("CAMPUS_SMTP_PASSWORD_FILE", "/nonexistent/smtp-password"),
    ("CAMPUS_SMTP_CA_FILE", "/nonexistent/smtp-ca.pem"),
    ("CAMPUS_SMTP_TIMEOUT_SECS", "soon"),
    ("CAMPUS_MAIL_FROM", "not a mailbox"),
    ("CAMPUS_TLS", "maybe"),
    ("GATEWAY_TLS_CERT_FILE", "/nonexistent/campus-cert.pem"),
    ("GATEWAY_TLS_KEY_FILE", "/nonexistent/campus-key.pem"),
    ("GATEWAY_HTTP_REDIRECT_ADDR", "here"),
    ("CAMPUS_TLS_CA_FILE", "/nonexistent/campus-ca.pem"),
    ("CAMPUS_TLS_CLIENT_CERT_FILE", "/nonexistent/campus-client.pem"),
    ("CAMPUS_TLS_CLIENT_KEY_FILE", "/nonexistent/campus-client-key.pem"),
];

/// Documented variables the one-process run does not take from the environment, and why.
const NOT_READ: &[(&str, &str)] = &[
    ("CAMPUS_JWT_PUBLIC_KEY", "the services in the process verify with the gateway's own key"),
    ("CAMPUS_JWT_PUBLIC_KEY_FILE", "the services in the process verify with the gateway's own key"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT", "read by telemetry start-up, the same code in every binary"),
    ("RUST_LOG", "read by telemetry start-up, the same code in every binary"),
    ("<SERVICE>_TLS_CERT_FILE", "in one process the services talk over loopback; TLS is the gateway's"),
    ("<SERVICE>_TLS_KEY_FILE", "in one process the services talk over loopback; TLS is the gateway's"),
    ("CAMPUS_TLS_CLIENT_AUTH", "only services serving TLS read it, and in one process none does"),
    ("CAMPUS_BENCH_SECS", "read by the crates' `cargo bench` targets (campus-testkit), never by a server"),
];

fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_campus"));
    command.env_clear().env("RUST_LOG", "warn").stdin(Stdio::null());
    command
}

#[test]
fn every_documented_variable_is_covered_here() {
    let covered = |name: &str| {
        OBSERVED.contains(&name)
            || MALFORMED.iter().any(|(n, _)| *n == name)
            || NOT_READ.iter().any(|(n, _)| *n == name)
    };
    let documented =
        campus::documented_vars().into_iter().chain(campus_shared::config::COMMON_VARS.iter().copied());
    let missing: Vec<&str> = documented.map(|v| v.name).filter(|n| !covered(n)).collect();
    assert!(missing.is_empty(), "documented but not tested here: {missing:?}");
}

#[test]
fn a_malformed_variable_stops_the_binary_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, value) in MALFORMED {
        let mut child = binary()
            .env("CAMPUS_DATA_DIR", dir.path().join("data"))
            .envs(
                ["GATEWAY", "ACCOUNT", "BOARD", "MESSAGING", "TIMETABLE"]
                    .map(|p| (format!("{p}_LISTEN_ADDR"), "127.0.0.1:0")),
            )
            .env(name, value)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the binary");
        // A variable that is not read lets the binary start and serve: it is stopped then.
        let deadline = Instant::now() + START_TIMEOUT;
        while child.try_wait().expect("try_wait").is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if child.try_wait().expect("try_wait").is_none() {
            child.kill().expect("kill");
            panic!("{name}={value}: the binary started anyway, so it does not read {name}");
        }
        let output = child.wait_with_output().expect("output");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{name}={value}: exit {:?}", output.status);
        assert!(stderr.contains(name), "{name}={value}: the error does not name it:\n{stderr}");
    }
}

/// The running binary, killed when dropped.
struct Running {
    child: Child,
    log: std::path::PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn start(env: &HashMap<&str, String>, log: &Path) -> Self {
        let out = File::create(log).expect("log file");
        let child = binary()
            .envs(env)
            .stdout(out.try_clone().expect("log file"))
            .stderr(out)
            .spawn()
            .expect("start the binary");
        Self { child, log: log.to_path_buf() }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls the gateway's /readyz (a child process has no bind-then-spawn) until it is ready.
    async fn wait_ready(&mut self, http: &reqwest::Client, base: &str) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!("the binary exited with {status}:\n{}", self.log());
            }
            let probe = http.get(format!("{base}/readyz")).timeout(Duration::from_secs(2)).send().await;
            if matches!(probe, Ok(r) if r.status() == StatusCode::OK) {
                return;
            }
            assert!(Instant::now() < deadline, "not ready within {START_TIMEOUT:?}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn serving(addr: SocketAddr) -> Option<ServingStatus> {
    let mut client = HealthClient::new(campus_testkit::channel(addr));
    let answer = client.check(HealthCheckRequest { service: String::new() }).await.ok()?;
    ServingStatus::try_from(answer.into_inner().status).ok()
}

/// An HTTP call through the gateway, as a client that the trusted proxy (127.0.0.1) saw at
/// `client_address`.
struct Call<'a> {
    http: &'a reqwest::Client,
    base: &'a str,
}

impl Call<'_> {
    async fn send(
        &self,
        method: Method,
        path: &str,
        client_address: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("x-forwarded-for", client_address);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body);
        }
        let response = request.send().await.expect("the gateway answers");
        let (status, headers) = (response.status(), response.headers().clone());
        let bytes = response.bytes().await.expect("a body");
        (status, headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn login(
        &self,
        credentials: &Value,
        origin: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let body = serde_json::to_vec(credentials).expect("JSON");
        self.send(Method::POST, "/v1/auth/login", "198.51.100.1", &[("origin", origin)], Some(body)).await
    }

    async fn json(&self, method: Method, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        let bearer = format!("Bearer {token}");
        let body = serde_json::to_vec(&body).expect("JSON");
        let (status, _, value) =
            self.send(method, path, "198.51.100.200", &[("authorization", &bearer)], Some(body)).await;
        (status, value)
    }
}

#[tokio::test]
async fn the_documented_variables_take_effect() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("a directory");
    let blobs = dir.path().join("blobs");
    SigningKey::load_or_generate(&dir.path().join("key")).expect("a key pair");
    let pem = std::fs::read_to_string(dir.path().join("key/jwt-private.pem")).expect("the PEM");
    let key = SigningKey::from_private_pem(&pem).expect("the key");
    let [gateway, account, board, messaging, timetable] = [(); 5].map(|_| campus_testkit::unused_port());
    let sqlite = |name: &str| format!("sqlite://{}?mode=rwc", elsewhere.join(format!("{name}.db")).display());
    let service_token = "a-service-token-for-this-test-only";
    let env: HashMap<&str, String> = HashMap::from([
        ("CAMPUS_DATA_DIR", data.display().to_string()),
        ("ACCOUNT_DATABASE_URL", sqlite("account")),
        ("BOARD_DATABASE_URL", sqlite("board")),
        ("GATEWAY_DATABASE_URL", sqlite("gateway")),
        ("GATEWAY_LISTEN_ADDR", format!("127.0.0.1:{gateway}")),
        ("ACCOUNT_LISTEN_ADDR", format!("127.0.0.1:{account}")),
        ("BOARD_LISTEN_ADDR", format!("127.0.0.1:{board}")),
        ("MESSAGING_LISTEN_ADDR", format!("127.0.0.1:{messaging}")),
        ("TIMETABLE_LISTEN_ADDR", format!("127.0.0.1:{timetable}")),
        ("CAMPUS_JWT_PRIVATE_KEY", pem),
        ("CAMPUS_JWT_ISSUER", "issuer-of-this-test".into()),
        ("CAMPUS_JWT_AUDIENCE", "audience-of-this-test".into()),
        ("CAMPUS_SERVICE_TOKEN", service_token.into()),
        ("CAMPUS_ALLOWED_ORIGINS", "https://campus.example".into()),
        ("CAMPUS_BOOTSTRAP_ADMIN", "rootadmin:bright-harbor-lantern-58".into()),
        ("CAMPUS_SEED_DEMO", "false".into()),
        ("BOARD_HOT_THRESHOLD", "1".into()),
        ("BOARD_BEST_THRESHOLD", "1".into()),
        ("BOARD_BLOB_URL", blobs.display().to_string()),
        ("GATEWAY_SECURE_COOKIE", "false".into()),
        ("GATEWAY_MAX_BODY_BYTES", "65536".into()),
        ("GATEWAY_AUTH_RATE_PER_MINUTE", "3".into()),
        ("GATEWAY_TRUSTED_PROXIES", "127.0.0.1/32".into()),
    ]);
    let mut running = Running::start(&env, &dir.path().join("campus.log"));
    let http = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, 1]))
        .build()
        .expect("a client");
    let base = format!("http://127.0.0.1:{gateway}");
    running.wait_ready(&http, &base).await;
    let call = Call { http: &http, base: &base };

    // Listen addresses: every service on its own port; the credential opens internal RPCs.
    for port in [board, messaging, timetable] {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        assert_eq!(serving(addr).await, Some(ServingStatus::Serving), "port {port}");
    }
    let mut internal = AccountInternalServiceClient::new(campus_testkit::channel(SocketAddr::from((
        [127, 0, 0, 1],
        account,
    ))));
    for (credential, ok) in [(service_token, true), ("a-guess", false)] {
        let mut request = tonic::Request::new(GetUsersRequest::default());
        request.metadata_mut().insert(SERVICE_TOKEN_HEADER, credential.parse().expect("ASCII"));
        assert_eq!(internal.get_users(request).await.is_ok(), ok, "service token {credential}");
    }

    // The key, issuer and audience: published, and the only ones the services accept.
    let (status, _, jwks) =
        call.send(Method::GET, "/.well-known/jwks.json", "198.51.100.200", &[], None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jwks["keys"][0]["kid"], key.key_id(), "{jwks}");
    let user =
        |id: i64| Caller { user_id: id, school_id: 1, role: Role::User, nickname: format!("user{id}") };
    let issuer = TokenIssuer::new(&key, "issuer-of-this-test", "audience-of-this-test").expect("issuer");
    let (alice, bob) = (issuer.issue(&user(101)).expect("token"), issuer.issue(&user(102)).expect("token"));
    let default_issuer = TokenIssuer::new(&key, "campus-gateway", "campus").expect("issuer");
    let stranger = default_issuer.issue(&user(103)).expect("token");
    let (status, _) = call.json(Method::GET, "/v1/boards", &alice, Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call.json(Method::GET, "/v1/boards", &stranger, Value::Null).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a token for the default issuer and audience");

    // No demo data; the bootstrap admin signs in (the gateway's credential works towards
    // account), the cookie is not Secure, and only the configured origin may sign in.
    let (status, _, schools) = call.send(Method::GET, "/v1/schools", "198.51.100.200", &[], None).await;
    assert_eq!((status, schools["schools"].as_array().map_or(0, Vec::len)), (StatusCode::OK, 0), "{schools}");
    let credentials = json!({"loginId": "rootadmin", "password": "bright-harbor-lantern-58"});
    let (status, headers, session) = call.login(&credentials, "https://campus.example").await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert!(session["user"]["role"].as_str().is_some_and(|r| r.contains("ADMIN")), "{session}");
    let cookie = headers.get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert!(cookie.starts_with("refresh_token=") && !cookie.contains("Secure"), "{cookie}");
    let (status, _, refused) = call.login(&credentials, &format!("http://127.0.0.1:{gateway}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only CAMPUS_ALLOWED_ORIGINS: {refused}");

    // The per-address limit, counted by the hop the trusted proxy appended.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (status, _, _) = call
            .send(Method::POST, "/v1/auth/signup", "203.0.113.9, 198.51.100.50", &[], Some(b"{}".to_vec()))
            .await;
        statuses.push(status.as_u16());
    }
    assert_eq!(statuses, [400, 400, 400, 429], "three sign-ups a minute per address");
    let (status, _, _) =
        call.send(Method::POST, "/v1/auth/signup", "198.51.100.51", &[], Some(b"{}".to_vec())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "another address behind the proxy has its own budget");

    // The body limit.
    let big = json!({"name": "big", "description": "x".repeat(70_000), "category": "BOARD_CATEGORY_GENERAL"});
    let (status, _) = call.json(Method::POST, "/v1/boards", &alice, big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // One like makes a post HOT and BEST; its photo lands in the blob store.
    let (status, board) = call
        .json(
            Method::POST,
            "/v1/boards",
            &alice,
            json!({"name": "자유게시판", "description": "", "category": "BOARD_CATEGORY_GENERAL"}),
        )
        .await;
    assert!(status.is_success(), "{board}");
    let board_id = board["id"].as_str().expect("an id");
    let (status, post) = call
        .json(
            Method::POST,
            &format!("/v1/boards/{board_id}/posts"),
            &alice,
            json!({"title": "제목", "content": "내용", "anonymous": true}),
        )
        .await;
    assert!(status.is_success(), "{post}");
    let post_id = post["id"].as_str().expect("an id");
    let (status, liked) =
        call.json(Method::POST, &format!("/v1/posts/{post_id}:like"), &bob, json!({})).await;
    assert_eq!((status, &liked["isHot"]), (StatusCode::OK, &Value::Bool(true)), "{liked}");
    let (_, best) = call.json(Method::GET, "/v1/best-posts", &bob, Value::Null).await;
    assert!(best["posts"].as_array().is_some_and(|p| p.iter().any(|p| p["id"] == post_id)), "{best}");
    let photo = call
        .http
        .post(format!("{base}/v1/posts/{post_id}/photos"))
        .header("x-forwarded-for", "198.51.100.200")
        .header("authorization", format!("Bearer {alice}"))
        .header("content-type", "image/png")
        .body(images::png())
        .send()
        .await
        .expect("an answer");
    assert!(photo.status().is_success(), "{:?}", photo.text().await);
    assert!(count_files(&blobs) > 0, "the photo is in BOARD_BLOB_URL");

    // Each database where its variable put it; the others in the data directory.
    for name in ["account", "board", "gateway"] {
        assert!(elsewhere.join(format!("{name}.db")).exists(), "{name}.db in its URL's place");
        assert!(!data.join(format!("{name}.db")).exists(), "{name}.db not in the data dir");
    }
    for name in ["messaging", "timetable"] {
        assert!(data.join(format!("{name}.db")).exists(), "{name}.db in CAMPUS_DATA_DIR");
    }
    drop(running);
}

fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.filter_map(Result::ok).map(|e| if e.path().is_dir() { count_files(&e.path()) } else { 1 }).sum()
}
