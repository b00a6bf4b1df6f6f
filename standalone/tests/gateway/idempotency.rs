//! `Idempotency-Key` on POST, end to end: the real gateway (two replicas sharing one gateway
//! database) in front of the real account service, on each database backend. Every create is
//! read back through the API, so "created once" is what a client would see.

use std::time::Duration;

use campus_gateway::{Config, Upstreams};
use campus_shared::db::Backend;
use campus_testkit::{Outbox, TestDatabase, TestIdentity, backends};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestGateway, closed_port, spawn_gateway_with_identity};
use crate::support::{admin_bearer, spawn_account};

const DOMAIN: &str = "yonsei.ac.kr";
const PASSWORD: &str = "correct-horse-battery-42";

/// The account service on `db`, on a given port (0 picks one), writing mail to `outbox`;
/// returns its URL.
async fn spawn_account_on(identity: &TestIdentity, db: &TestDatabase, port: u16, outbox: &Outbox) -> String {
    let addr = spawn_account(identity, db, std::future::pending(), |c| {
        c.service.listen_addr.set_port(port);
        c.mail = campus_account::MailConfig::outbox(outbox.path());
    })
    .await;
    format!("http://{addr}")
}

/// Two gateway replicas in front of one account service, sharing one gateway database.
struct Stack {
    replicas: [TestGateway; 2],
    identity: TestIdentity,
    admin: String,
    outbox: Outbox,
    _account_db: TestDatabase,
    gateway_db: TestDatabase,
}

/// What a test looks at in an answer.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    replayed: bool,
    content_type: String,
    body: Value,
}

impl Answer {
    fn reason(&self) -> Option<&str> {
        campus_testkit::status::json::reason(&self.body)
    }

    fn violation_fields(&self) -> Vec<String> {
        campus_testkit::status::json::violated_fields(&self.body)
    }
}

async fn spawn_stack_with(backend: Backend, tweak: impl Fn(&mut Config)) -> Stack {
    let identity = TestIdentity::new();
    let account_db = TestDatabase::new(backend).await;
    let gateway_db = TestDatabase::new(backend).await;
    let outbox = Outbox::new();
    let account = spawn_account_on(&identity, &account_db, 0, &outbox).await;
    let down = format!("http://{}", closed_port().await);
    let upstreams =
        Upstreams { account, board: down.clone(), messaging: down.clone(), timetable: down.clone() };
    let replica = || {
        spawn_gateway_with_identity(identity.clone(), upstreams.clone(), |c: &mut Config| {
            c.database = gateway_db.config();
            c.auth_rate_per_minute = 0;
            tweak(c);
        })
    };
    let replicas = [replica().await, replica().await];
    let admin = admin_bearer(&identity);
    Stack { replicas, identity, admin, outbox, _account_db: account_db, gateway_db }
}

async fn spawn_stack(backend: Backend) -> Stack {
    spawn_stack_with(backend, |_| {}).await
}

impl Stack {
    /// POSTs through replica `replica` with the given headers.
    async fn post_via(&self, replica: usize, path: &str, headers: &[(&str, &str)], body: &Value) -> Answer {
        let app = &self.replicas[replica];
        let mut request = app.http.post(format!("{}{path}", app.url)).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.send().await.expect("the gateway answers")).await
    }

    async fn post(&self, path: &str, headers: &[(&str, &str)], body: &Value) -> Answer {
        self.post_via(0, path, headers, body).await
    }

    async fn get(&self, path: &str, bearer: &str) -> Value {
        let app = &self.replicas[1];
        let response = app.http.get(format!("{}{path}", app.url)).header("authorization", bearer).send();
        let answer = answer(response.await.expect("the gateway answers")).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {answer:?}");
        answer.body
    }

    /// The names of every school, read back.
    async fn school_names(&self) -> Vec<String> {
        let body = self.get("/v1/schools", &self.admin).await;
        body["schools"].as_array().into_iter().flatten().map(|s| s["name"].as_str().unwrap().into()).collect()
    }

    async fn create_school(&self) -> i64 {
        let answer = self
            .post(
                "/v1/schools",
                &[("authorization", &self.admin)],
                &json!({"name": "연세대학교", "emailDomain": DOMAIN}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
        answer.body["id"].as_str().unwrap().parse().unwrap()
    }

    /// A sign-up body for `login`, with the code mailed to its address.
    async fn signup(&self, school_id: i64, login: &str) -> Value {
        let email = format!("{login}@{DOMAIN}");
        let body = json!({"email": email, "schoolId": school_id.to_string()});
        let answer = self.post("/v1/auth/email-verifications", &[], &body).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        let code = self.outbox.code_for(&email).await;
        json!({
            "loginId": login,
            "password": PASSWORD,
            "nickname": login,
            "email": email,
            "schoolId": school_id.to_string(),
            "emailCode": code,
        })
    }

    /// A user signed up without a key; returns `Bearer <token>` for them.
    async fn user(&self, school_id: i64, login: &str) -> String {
        let answer = self.post("/v1/auth/signup", &[], &self.signup(school_id, login).await).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{answer:?}");
        let id: i64 = answer.body["user"]["id"].as_str().unwrap().parse().unwrap();
        self.identity.bearer(id, school_id)
    }
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let header = |name: &str| {
        response.headers().get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    };
    let replayed = match header("idempotent-replayed").as_str() {
        "" => false,
        "true" => true,
        other => panic!("Idempotent-Replayed: {other}"),
    };
    let content_type = header("content-type");
    let bytes = response.bytes().await.expect("a body");
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON") };
    Answer { status, replayed, content_type, body }
}

#[tokio::test]
async fn a_repeat_gets_the_first_answer_and_creates_nothing() {
    for backend in backends() {
        let stack = spawn_stack(backend).await;
        let admin = [("authorization", stack.admin.as_str()), ("idempotency-key", "school-1")];
        let school = json!({"name": "연세대학교", "emailDomain": DOMAIN});

        let first = stack.post("/v1/schools", &admin, &school).await;
        assert_eq!(first.status, StatusCode::CREATED, "{backend:?} {first:?}");
        assert!(!first.replayed);
        // The repeat goes to the other replica: the record is in the shared database.
        let again = stack.post_via(1, "/v1/schools", &admin, &school).await;
        assert_eq!(again.status, StatusCode::CREATED, "{again:?}");
        assert!(again.replayed);
        assert_eq!(again.body, first.body, "the same school, same id");
        assert_eq!(again.content_type, "application/json");
        assert_eq!(stack.school_names().await, ["연세대학교"]);
        // Without the key the same request really runs again, and the service refuses it.
        let unkeyed = stack.post("/v1/schools", &admin[..1], &school).await;
        assert_eq!(unkeyed.status, StatusCode::CONFLICT, "{unkeyed:?}");
        let school_id: i64 = first.body["id"].as_str().unwrap().parse().unwrap();

        // A public route, scoped to the client address.
        let body = stack.signup(school_id, "alice01").await;
        let key = [("idempotency-key", "signup-alice")];
        let first = stack.post("/v1/auth/signup", &key, &body).await;
        assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
        let again = stack.post_via(1, "/v1/auth/signup", &key, &body).await;
        assert_eq!((again.status, again.replayed), (StatusCode::CREATED, true), "{again:?}");
        assert_eq!(again.body["user"]["id"], first.body["user"]["id"]);

        // A final client error is kept too: the request to an unknown user stays a 404 for
        // this key even after that user exists; a new request (no key) then succeeds.
        let alice =
            stack.identity.bearer(first.body["user"]["id"].as_str().unwrap().parse().unwrap(), school_id);
        let to_bob = json!({"loginId": "bob01"});
        let headers = [("authorization", alice.as_str()), ("idempotency-key", "invite-bob")];
        let early = stack.post("/v1/friend-requests", &headers, &to_bob).await;
        assert_eq!(early.status, StatusCode::NOT_FOUND, "{early:?}");
        stack.user(school_id, "bob01").await;
        let late = stack.post("/v1/friend-requests", &headers, &to_bob).await;
        assert_eq!((late.status, late.replayed), (StatusCode::NOT_FOUND, true), "{late:?}");
        assert_eq!(late.body, early.body);
        let fresh = stack.post("/v1/friend-requests", &headers[..1], &to_bob).await;
        assert_eq!(fresh.status, StatusCode::CREATED, "{fresh:?}");
    }
}

#[tokio::test]
async fn the_same_key_on_another_request_is_refused_with_422() {
    for backend in backends() {
        let stack = spawn_stack(backend).await;
        let headers = [("authorization", stack.admin.as_str()), ("idempotency-key", "k-1")];
        let first =
            stack.post("/v1/schools", &headers, &json!({"name": "연세대학교", "emailDomain": DOMAIN})).await;
        assert_eq!(first.status, StatusCode::CREATED, "{backend:?} {first:?}");

        let other_body = json!({"name": "고려대학교", "emailDomain": "korea.ac.kr"});
        for replica in [0, 1] {
            let refused = stack.post_via(replica, "/v1/schools", &headers, &other_body).await;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{refused:?}");
            assert_eq!(refused.reason(), Some("IDEMPOTENCY_KEY_REUSED"), "{refused:?}");
            assert_eq!(refused.body["code"], 3, "{refused:?}");
            assert!(refused.body["message"].as_str().unwrap().contains("Idempotency-Key"));
        }
        // The same key on another route is another request as well.
        let refused = stack.post("/v1/friend-requests", &headers, &json!({"loginId": "x"})).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{refused:?}");
        assert_eq!(refused.reason(), Some("IDEMPOTENCY_KEY_REUSED"));
        // Nothing of the refused requests was created; the first answer still replays.
        assert_eq!(stack.school_names().await, ["연세대학교"]);
        let again =
            stack.post("/v1/schools", &headers, &json!({"name": "연세대학교", "emailDomain": DOMAIN})).await;
        assert_eq!((again.status, again.replayed, &again.body), (StatusCode::CREATED, true, &first.body));
    }
}

#[tokio::test]
async fn sixteen_concurrent_duplicates_create_exactly_one() {
    for backend in backends() {
        let stack = spawn_stack(backend).await;

        // Schools: a quick create.
        let school = json!({"name": "연세대학교", "emailDomain": DOMAIN});
        let headers = [("authorization", stack.admin.as_str()), ("idempotency-key", "same-school")];
        let answers = futures::future::join_all(
            (0..16).map(|i| stack.post_via(i % 2, "/v1/schools", &headers, &school)),
        )
        .await;
        assert!(answers.iter().all(|a| a.status == StatusCode::CREATED), "{backend:?} {answers:#?}");
        assert!(answers.iter().all(|a| a.body == answers[0].body), "{answers:#?}");
        assert_eq!(answers.iter().filter(|a| !a.replayed).count(), 1, "{answers:#?}");
        assert_eq!(stack.school_names().await, ["연세대학교"]);
        let school_id: i64 = answers[0].body["id"].as_str().unwrap().parse().unwrap();

        // Sign-up: a slow create (argon2), so the duplicates really wait for the first.
        let body = stack.signup(school_id, "carol01").await;
        let key = [("idempotency-key", "signup-carol")];
        let answers =
            futures::future::join_all((0..16).map(|i| stack.post_via(i % 2, "/v1/auth/signup", &key, &body)))
                .await;
        assert!(answers.iter().all(|a| a.status == StatusCode::CREATED), "{answers:#?}");
        assert!(answers.iter().all(|a| a.body == answers[0].body), "{answers:#?}");
        assert_eq!(answers.iter().filter(|a| !a.replayed).count(), 1, "{answers:#?}");
        // The one user exists and can sign in.
        let login =
            stack.post("/v1/auth/login", &[], &json!({"loginId": "carol01", "password": PASSWORD})).await;
        assert_eq!(login.status, StatusCode::OK, "{login:?}");
        assert_eq!(login.body["user"]["id"], answers[0].body["user"]["id"]);
    }
}

#[tokio::test]
async fn keys_are_scoped_to_the_caller() {
    for backend in backends() {
        let stack =
            spawn_stack_with(backend, |c| c.trusted_proxies = "127.0.0.1/32".parse().expect("a CIDR")).await;
        let school_id = stack.create_school().await;
        let alice = stack.user(school_id, "alice01").await;
        let bob = stack.user(school_id, "bob01").await;
        let carol = stack.user(school_id, "carol01").await;

        // Alice and Bob send the same request with the same key: two requests, two answers.
        let to_carol = json!({"loginId": "carol01"});
        let from_alice = stack
            .post("/v1/friend-requests", &[("authorization", &alice), ("idempotency-key", "k")], &to_carol)
            .await;
        let from_bob = stack
            .post("/v1/friend-requests", &[("authorization", &bob), ("idempotency-key", "k")], &to_carol)
            .await;
        assert_eq!(from_alice.status, StatusCode::CREATED, "{backend:?} {from_alice:?}");
        assert_eq!(from_bob.status, StatusCode::CREATED, "{from_bob:?}");
        assert!(!from_bob.replayed, "Bob must never get Alice's stored answer");
        assert_ne!(from_alice.body["id"], from_bob.body["id"]);
        assert_eq!(from_bob.body["requester"]["nickname"], "bob01");
        let incoming = stack.get("/v1/friend-requests", &carol).await;
        let mut requesters: Vec<&str> = incoming["friendRequests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["requester"]["nickname"].as_str().unwrap())
            .collect();
        requesters.sort();
        assert_eq!(requesters, ["alice01", "bob01"]);

        // On a public route the scope is the client address: another address with the same key
        // and body runs its own request (here refused: the login id is taken).
        let body = stack.signup(school_id, "dave01").await;
        let from = |ip: &'static str| [("idempotency-key", "signup"), ("x-forwarded-for", ip)];
        let first = stack.post("/v1/auth/signup", &from("10.0.0.1"), &body).await;
        assert_eq!(first.status, StatusCode::CREATED, "{first:?}");
        let other = stack.post("/v1/auth/signup", &from("10.0.0.2"), &body).await;
        assert_eq!((other.status, other.replayed), (StatusCode::CONFLICT, false), "{other:?}");
        let same = stack.post("/v1/auth/signup", &from("10.0.0.1"), &body).await;
        assert_eq!((same.status, same.replayed, &same.body), (StatusCode::CREATED, true, &first.body));
    }
}

#[tokio::test]
async fn malformed_keys_are_refused_with_400() {
    for backend in backends() {
        let stack = spawn_stack(backend).await;
        let school = json!({"name": "연세대학교", "emailDomain": DOMAIN});
        let too_long = "k".repeat(256);
        for key in ["", " ", "has space", "tab\there", too_long.as_str()] {
            let headers = [("authorization", stack.admin.as_str()), ("idempotency-key", key)];
            let refused = stack.post("/v1/schools", &headers, &school).await;
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{backend:?} {key:?}: {refused:?}");
            assert_eq!(refused.violation_fields(), ["Idempotency-Key"], "{refused:?}");
            assert_eq!(refused.reason(), Some("INVALID_ARGUMENT"));
        }
        // Non-ASCII bytes, and the header twice.
        let app = &stack.replicas[0];
        let request = || {
            app.http
                .post(format!("{}/v1/schools", app.url))
                .header("authorization", &stack.admin)
                .json(&school)
        };
        let utf8 = reqwest::header::HeaderValue::from_bytes("키".as_bytes()).unwrap();
        let refused = answer(request().header("idempotency-key", utf8).send().await.unwrap()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused:?}");
        assert_eq!(refused.violation_fields(), ["Idempotency-Key"]);
        let twice = request().header("idempotency-key", "a").header("idempotency-key", "b");
        let twice = answer(twice.send().await.unwrap()).await;
        assert_eq!(twice.status, StatusCode::BAD_REQUEST, "{twice:?}");
        assert_eq!(twice.violation_fields(), ["Idempotency-Key"]);
        assert!(stack.school_names().await.is_empty(), "a refused request creates nothing");

        // 255 visible characters is the longest key.
        let longest = "~".repeat(255);
        let headers = [("authorization", stack.admin.as_str()), ("idempotency-key", longest.as_str())];
        assert_eq!(stack.post("/v1/schools", &headers, &school).await.status, StatusCode::CREATED);
    }
}

#[tokio::test]
async fn a_failed_call_frees_the_key_for_a_retry() {
    for backend in backends() {
        // The account service is down at first, then comes up on the port the gateway uses.
        let identity = TestIdentity::new();
        let account_db = TestDatabase::new(backend).await;
        let gateway_db = TestDatabase::new(backend).await;
        let account_addr = closed_port().await;
        let url = format!("http://{account_addr}");
        let upstreams =
            Upstreams { account: url.clone(), board: url.clone(), messaging: url.clone(), timetable: url };
        let app = spawn_gateway_with_identity(identity.clone(), upstreams, |c| {
            c.database = gateway_db.config();
        })
        .await;
        let admin = admin_bearer(&identity);
        let (app, admin) = (&app, &admin);
        let send = move || async move {
            let response = app
                .http
                .post(format!("{}/v1/schools", app.url))
                .header("authorization", admin)
                .header("idempotency-key", "retry-me")
                .json(&json!({"name": "연세대학교", "emailDomain": DOMAIN}))
                .send()
                .await
                .unwrap();
            answer(response).await
        };

        let down = send().await;
        assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE, "{backend:?} {down:?}");
        assert!(!down.replayed);
        spawn_account_on(&identity, &account_db, account_addr.port(), &Outbox::new()).await;
        let retried = send().await;
        assert_eq!((retried.status, retried.replayed), (StatusCode::CREATED, false), "{retried:?}");
        let again = send().await;
        assert_eq!((again.status, again.replayed, &again.body), (StatusCode::CREATED, true, &retried.body));
    }
}

#[tokio::test]
async fn a_key_is_free_again_once_its_record_expires() {
    for backend in backends() {
        let stack = spawn_stack_with(backend, |c| c.idempotency_ttl = Duration::from_secs(1)).await;
        let headers = [("authorization", stack.admin.as_str()), ("idempotency-key", "short-lived")];
        let first =
            stack.post("/v1/schools", &headers, &json!({"name": "연세대학교", "emailDomain": DOMAIN})).await;
        assert_eq!(first.status, StatusCode::CREATED, "{backend:?} {first:?}");
        let other = json!({"name": "고려대학교", "emailDomain": "korea.ac.kr"});
        let refused = stack.post("/v1/schools", &headers, &other).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{refused:?}");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let reused = stack.post("/v1/schools", &headers, &other).await;
        assert_eq!((reused.status, reused.replayed), (StatusCode::CREATED, false), "{reused:?}");
        let mut names = stack.school_names().await;
        names.sort();
        assert_eq!(names, ["고려대학교", "연세대학교"]);
    }
}

#[tokio::test]
async fn an_unfinished_claim_holds_duplicates_off_until_its_lease_runs_out() {
    for backend in backends() {
        // A duplicate waits at most the upstream timeout for the first request to finish.
        let stack = spawn_stack_with(backend, |c| c.upstream_timeout = Duration::from_secs(1)).await;
        let headers = [("authorization", stack.admin.as_str()), ("idempotency-key", "k")];
        let school = json!({"name": "연세대학교", "emailDomain": DOMAIN});
        let first = stack.post("/v1/schools", &headers, &school).await;
        assert_eq!(first.status, StatusCode::CREATED, "{backend:?} {first:?}");

        // Make the record look like a request still running on a gateway that then died.
        sqlx::any::install_default_drivers();
        let db = sqlx::AnyPool::connect(&stack.gateway_db.url).await.unwrap();
        let far = campus_shared::db::now_micros() + 3_600_000_000;
        let running = "UPDATE idempotency_record SET status = NULL, body = NULL, lease_until = $1";
        sqlx::query(running).bind(far).execute(&db).await.unwrap();
        let started = std::time::Instant::now();
        let waited = stack.post("/v1/schools", &headers, &school).await;
        assert_eq!(waited.status, StatusCode::CONFLICT, "{waited:?}");
        assert_eq!(waited.reason(), Some("IDEMPOTENCY_REQUEST_IN_PROGRESS"), "{waited:?}");
        assert!(started.elapsed() >= Duration::from_millis(900), "it waited for the first request");

        // Once the lease has run out the claim is taken over and the request runs again (the
        // service now refuses it: the school exists), and that answer is kept.
        let past = campus_shared::db::now_micros() - 1;
        sqlx::query("UPDATE idempotency_record SET lease_until = $1").bind(past).execute(&db).await.unwrap();
        let retried = stack.post("/v1/schools", &headers, &school).await;
        assert_eq!((retried.status, retried.replayed), (StatusCode::CONFLICT, false), "{retried:?}");
        assert_ne!(retried.reason(), Some("IDEMPOTENCY_REQUEST_IN_PROGRESS"));
        let again = stack.post("/v1/schools", &headers, &school).await;
        assert_eq!((again.status, again.replayed, &again.body), (StatusCode::CONFLICT, true, &retried.body));
        assert_eq!(stack.school_names().await, ["연세대학교"]);
        db.close().await;
    }
}
