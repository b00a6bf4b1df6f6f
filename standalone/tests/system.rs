//! The whole system in one process, driven over HTTP exactly as a web or mobile client would:
//! boot and demo data, a user's journey across account, board, messaging and timetable, and a
//! restart on the same data directory.

use campus::{System, SystemConfig};
use campus_testkit::Outbox;
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    fn new(system: &System) -> Self {
        Self { http: reqwest::Client::new(), base: format!("http://{}", system.gateway_addr), token: None }
    }

    fn with_token(&self, token: &str) -> Self {
        Self { http: self.http.clone(), base: self.base.clone(), token: Some(token.to_string()) }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("gateway answers");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") })
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
}

async fn start(dir: &tempfile::TempDir) -> System {
    let mut config = SystemConfig::ephemeral(dir.path().to_path_buf());
    config.gateway.secure_cookie = false;
    System::start(config).await.expect("system starts")
}

/// Signs a user up at the first demo school (with the code mailed to the outbox in `dir`) and
/// logs in; returns (client with token, school id).
async fn sign_up(
    anonymous: &Client,
    dir: &tempfile::TempDir,
    login_id: &str,
    nickname: &str,
) -> (Client, String) {
    let (status, schools) = anonymous.get("/v1/schools").await;
    assert_eq!(status, StatusCode::OK, "{schools}");
    let school = &schools["schools"][0];
    let domain = school["emailDomain"].as_str().unwrap();
    let email = format!("{login_id}@{domain}");
    let (status, body) = anonymous
        .post("/v1/auth/email-verifications", json!({"email": email, "schoolId": school["id"]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let code = Outbox::at(dir.path().join("outbox")).code_for(&email).await;
    let (status, body) = anonymous
        .post(
            "/v1/auth/signup",
            json!({"loginId": login_id, "password": "correct-horse-42", "nickname": nickname,
                   "email": email, "schoolId": school["id"], "emailCode": code}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, session) = anonymous
        .post(
            "/v1/auth/login",
            json!({"loginId": login_id, "password": "correct-horse-42", "refreshTokenInBody": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    (
        anonymous.with_token(session["accessToken"].as_str().unwrap()),
        school["id"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn boots_ready_with_demo_data() {
    let dir = tempfile::tempdir().unwrap();
    let mut system = start(&dir).await;
    let client = Client::new(&system);

    let (status, _) = client.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
    let (status, ready) = client.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{ready}");

    let (_, schools) = client.get("/v1/schools").await;
    let names: Vec<&str> =
        schools["schools"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{schools}");
    assert!(names.contains(&"한빛대학교") && names.contains(&"새솔대학교"));

    let (status, body) = client.get("/v1/boards").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "boards need a token: {body}");

    let (user, _) = sign_up(&client, &dir, "jiwoo", "지우").await;
    let (status, boards) = user.get("/v1/boards").await;
    assert_eq!(status, StatusCode::OK, "{boards}");
    let board_names: Vec<&str> =
        boards["boards"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    for expected in [
        "자유게시판",
        "비밀게시판",
        "졸업생게시판",
        "새내기게시판",
        "시사·이슈",
        "장터게시판",
        "정보게시판",
        "홍보게시판",
        "동아리·학회",
    ] {
        assert!(board_names.contains(&expected), "{expected} missing from {board_names:?}");
    }

    let (status, lectures) = user.get("/v1/lectures?year=2026&semester=SEMESTER_FALL&query=자료구조").await;
    assert_eq!(status, StatusCode::OK, "{lectures}");
    assert_eq!(lectures["lectures"].as_array().unwrap().len(), 2, "{lectures}");
    system.stop().await;
}

#[tokio::test]
async fn a_students_day_across_every_service() {
    let dir = tempfile::tempdir().unwrap();
    let mut system = start(&dir).await;
    let anonymous = Client::new(&system);
    let (author, _) = sign_up(&anonymous, &dir, "author1", "글쓴이").await;
    let (reader, _) = sign_up(&anonymous, &dir, "reader1", "읽는이").await;

    // An anonymous post on 자유게시판.
    let (_, boards) = author.get("/v1/boards").await;
    let free = boards["boards"].as_array().unwrap().iter().find(|b| b["name"] == "자유게시판").unwrap()["id"]
        .clone();
    let free = free.as_str().unwrap();
    let (status, post) = author
        .post(
            &format!("/v1/boards/{free}/posts"),
            json!({"title": "중간고사 끝", "content": "다들 수고했어요", "anonymous": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{post}");
    assert_eq!(post["author"]["displayName"], "익명");
    let post_id = post["id"].as_str().unwrap().to_string();

    // Anonymous comments are numbered; the author shows as 익명(글쓴이).
    let (status, comment) = reader
        .post(
            &format!("/v1/posts/{post_id}/comments"),
            json!({"content": "수고하셨습니다", "anonymous": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{comment}");
    assert_eq!(comment["author"]["displayName"], "익명1");
    let (_, reply) = author
        .post(
            &format!("/v1/posts/{post_id}/comments"),
            json!({"content": "감사해요", "anonymous": true, "parentId": comment["id"]}),
        )
        .await;
    assert_eq!(reply["author"]["displayName"], "익명(글쓴이)", "{reply}");

    // Likes: not on your own post; once from someone else.
    let (status, own) = author.post(&format!("/v1/posts/{post_id}:like"), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{own}");
    assert_eq!(
        own["details"].as_array().unwrap().iter().find(|d| d["reason"].is_string()).unwrap()["reason"],
        "CANNOT_LIKE_OWN_POST"
    );
    let (status, liked) = reader.post(&format!("/v1/posts/{post_id}:like"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{liked}");
    assert_eq!(liked["likeCount"], 1);
    assert_eq!(liked["likedByMe"], true);

    // A message from the post reaches its anonymous author, who never learns the reader's id.
    let (status, conversation) = reader
        .post(
            "/v1/conversations",
            json!({"postId": post_id, "anonymous": true, "content": "혹시 족보 있으세요?"}),
        )
        .await;
    assert!(status.is_success(), "{status} {conversation}");
    assert_eq!(conversation["counterpart"]["displayName"], "익명");
    let (status, inbox) = author.get("/v1/conversations").await;
    assert_eq!(status, StatusCode::OK, "{inbox}");
    let first = &inbox["conversations"][0];
    assert_eq!(first["counterpart"]["displayName"], "익명", "{inbox}");
    assert_eq!(first["lastMessage"]["content"], "혹시 족보 있으세요?");
    assert_eq!(first["unreadCount"], 1);
    assert!(!inbox.to_string().contains("reader1"), "the sender's identity leaked: {inbox}");

    // Timetable: two lectures that collide are refused with TIME_CONFLICT.
    let (_, timetable) =
        reader.post("/v1/timetables", json!({"year": 2026, "semester": "SEMESTER_FALL"})).await;
    let timetable_id = timetable["id"].as_str().expect("timetable id").to_string();
    assert_eq!(timetable["name"], "시간표 1");
    let (_, lectures) = reader.get("/v1/lectures?year=2026&semester=SEMESTER_FALL&pageSize=100").await;
    let lectures = lectures["lectures"].as_array().unwrap().clone();
    let (a, b) = colliding_pair(&lectures).expect("the demo catalog has overlapping lectures");
    let (status, added) =
        reader.post(&format!("/v1/timetables/{timetable_id}/lectures"), json!({"lectureId": a["id"]})).await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(added["totalCredits"], a["credits"]);
    let (status, refused) =
        reader.post(&format!("/v1/timetables/{timetable_id}/lectures"), json!({"lectureId": b["id"]})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.to_string().contains("TIME_CONFLICT"), "{refused}");

    system.stop().await;
}

fn colliding_pair(lectures: &[Value]) -> Option<(Value, Value)> {
    let slots = |l: &Value| -> Vec<(String, i64, i64)> {
        l["times"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["day"].as_str().unwrap().to_string(),
                    t["startMinute"].as_i64().unwrap(),
                    t["endMinute"].as_i64().unwrap(),
                )
            })
            .collect()
    };
    for (i, a) in lectures.iter().enumerate() {
        for b in &lectures[i + 1..] {
            let overlap = slots(a)
                .iter()
                .any(|(d1, s1, e1)| slots(b).iter().any(|(d2, s2, e2)| d1 == d2 && s1 < e2 && s2 < e1));
            if overlap {
                return Some((a.clone(), b.clone()));
            }
        }
    }
    None
}

#[tokio::test]
async fn data_survives_a_restart_without_seeding_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut system = start(&dir).await;
    let (user, _) = sign_up(&Client::new(&system), &dir, "keeper", "보관인").await;
    let (_, boards) = user.get("/v1/boards").await;
    let board = boards["boards"][0]["id"].as_str().unwrap().to_string();
    let (status, post) = user
        .post(
            &format!("/v1/boards/{board}/posts"),
            json!({"title": "남아있나요", "content": "재시작 후에도", "anonymous": false}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{post}");
    system.stop().await;

    let mut system = start(&dir).await;
    let client = Client::new(&system);
    let (_, schools) = client.get("/v1/schools").await;
    assert_eq!(schools["schools"].as_array().unwrap().len(), 2, "seeded twice: {schools}");
    let (status, session) = client
        .post(
            "/v1/auth/login",
            json!({"loginId": "keeper", "password": "correct-horse-42", "refreshTokenInBody": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let user = client.with_token(session["accessToken"].as_str().unwrap());
    let (status, again) = user.get(&format!("/v1/posts/{}", post["id"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["title"], "남아있나요");
    assert_eq!(again["author"]["displayName"], "보관인");
    system.stop().await;
}

/// Every service verifies tokens itself: forged, tampered, expired or foreign-key tokens get
/// UNAUTHENTICATED straight from each service, not only from the gateway.
#[tokio::test]
async fn every_service_refuses_forged_tokens() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use campus_shared::identity::{Caller, Role, SigningKey, TokenIssuer};

    let dir = tempfile::tempdir().unwrap();
    let mut system = start(&dir).await;
    let caller = Caller { user_id: 1, school_id: 1, role: Role::User, nickname: "mallory".into() };
    let good = system.issuer.issue(&caller).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let admin_claims = {
        let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["role"] = json!("admin");
        URL_SAFE_NO_PAD.encode(claims.to_string())
    };
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let other_key = SigningKey::generate();
    let foreign = TokenIssuer::new(
        &other_key,
        campus_shared::config::DEFAULT_ISSUER,
        campus_shared::config::DEFAULT_AUDIENCE,
    )
    .unwrap()
    .issue(&caller)
    .unwrap();
    let expired =
        system.issuer.issue_with(&caller, 1_600_000_000, std::time::Duration::from_secs(60)).unwrap();
    let forged = [
        ("alg none", format!("{none_header}.{}.", parts[1])),
        ("tampered payload", format!("{}.{admin_claims}.{}", parts[0], parts[2])),
        ("expired", expired),
        ("another key", foreign),
    ];

    for (what, token) in &forged {
        let bearer: tonic::metadata::MetadataValue<_> = format!("Bearer {token}").parse().unwrap();
        let codes = [
            campus_proto::account::v1::account_service_client::AccountServiceClient::new(
                campus_testkit::channel(system.account_addr),
            )
            .get_me(with_bearer(&bearer, Default::default()))
            .await
            .map(|_| ())
            .unwrap_err()
            .code(),
            campus_proto::board::v1::board_service_client::BoardServiceClient::new(campus_testkit::channel(
                system.board_addr,
            ))
            .list_boards(with_bearer(&bearer, Default::default()))
            .await
            .map(|_| ())
            .unwrap_err()
            .code(),
            campus_proto::messaging::v1::messaging_service_client::MessagingServiceClient::new(
                campus_testkit::channel(system.messaging_addr),
            )
            .list_conversations(with_bearer(&bearer, Default::default()))
            .await
            .map(|_| ())
            .unwrap_err()
            .code(),
            campus_proto::timetable::v1::timetable_service_client::TimetableServiceClient::new(
                campus_testkit::channel(system.timetable_addr),
            )
            .list_timetables(with_bearer(&bearer, Default::default()))
            .await
            .map(|_| ())
            .unwrap_err()
            .code(),
        ];
        assert_eq!(codes, [tonic::Code::Unauthenticated; 4], "{what}");
        let (status, _) = Client::new(&system).with_token(token).get("/v1/users/me").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "gateway, {what}");
    }
    system.stop().await;
}

fn with_bearer<T>(
    bearer: &tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
    message: T,
) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", bearer.clone());
    request
}

/// `grpcurl list` against a service shows exactly what it serves, plus health and reflection.
#[tokio::test]
async fn each_service_reflects_what_it_serves() {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let dir = tempfile::tempdir().unwrap();
    let mut system = start(&dir).await;
    let expected: [(std::net::SocketAddr, &[&str]); 4] = [
        (
            system.account_addr,
            &[
                "campus.account.v1.AccountInternalService",
                "campus.account.v1.AccountService",
                "campus.account.v1.AccountVerificationInternalService",
                "campus.events.v1.EventFeedInternalService",
            ],
        ),
        (
            system.board_addr,
            &[
                "campus.board.v1.BoardInternalService",
                "campus.board.v1.BoardService",
                "campus.events.v1.EventFeedInternalService",
            ],
        ),
        (
            system.messaging_addr,
            &["campus.messaging.v1.MessagingService", "campus.messaging.v1.NotificationService"],
        ),
        (system.timetable_addr, &["campus.timetable.v1.TimetableService"]),
    ];
    for (addr, own) in expected {
        let mut client = ServerReflectionClient::new(campus_testkit::channel(addr));
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses =
            client.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
        let Some(MessageResponse::ListServicesResponse(list)) =
            responses.next().await.unwrap().unwrap().message_response
        else {
            panic!("no service list from {addr}");
        };
        let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        names.sort();
        let mut want: Vec<String> = own
            .iter()
            .chain(&[
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            ])
            .map(|s| s.to_string())
            .collect();
        want.sort();
        assert_eq!(names, want, "{addr}");
    }
    system.stop().await;
}

/// A new campus is a living one: demo students can log in and find a week of posts, comments,
/// likes and HOT posts, all made through the services' APIs; a restart adds nothing.
#[tokio::test]
async fn a_new_campus_has_demo_students_and_their_posts() {
    for backend in campus_testkit::backends() {
        living_campus_on(backend).await;
    }
}

async fn living_campus_on(backend: campus_shared::db::Backend) {
    use campus_testkit::TestDatabase;
    let dir = tempfile::tempdir().unwrap();
    let mut databases = Vec::new();
    if backend == campus_shared::db::Backend::Postgres {
        for _ in 0..5 {
            databases.push(TestDatabase::new(backend).await);
        }
    }
    let start_living = || {
        let mut config = SystemConfig::ephemeral(dir.path().to_path_buf());
        config.gateway.secure_cookie = false;
        config.seed_activity = true;
        if let [account, board, messaging, timetable, gateway] = &databases[..] {
            config.set_databases(campus::Databases {
                account: account.config(),
                board: board.config(),
                messaging: messaging.config(),
                timetable: timetable.config(),
                gateway: gateway.config(),
            });
        }
        System::start(config)
    };
    let mut system = start_living().await.expect("system starts");
    let client = Client::new(&system);
    let (prefix, nicknames) = campus::seed::STUDENTS[0];
    let (status, session) = client
        .post(
            "/v1/auth/login",
            json!({"loginId": format!("{prefix}01"), "password": campus::seed::DEMO_PASSWORD,
                   "refreshTokenInBody": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["user"]["nickname"], nicknames[0]);
    let user = client.with_token(session["accessToken"].as_str().unwrap());

    let (_, boards) = user.get("/v1/boards").await;
    let mut total = 0;
    let mut days = std::collections::BTreeSet::new();
    for b in boards["boards"].as_array().unwrap() {
        let (status, page) =
            user.get(&format!("/v1/boards/{}/posts?pageSize=100", b["id"].as_str().unwrap())).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let posts = page["posts"].as_array().cloned().unwrap_or_default();
        assert!(!posts.is_empty(), "{} has posts", b["name"]);
        // Spread over the past week, newest first as written.
        let times: Vec<String> =
            posts.iter().map(|p| p["createdAt"].as_str().unwrap().chars().take(19).collect()).collect();
        assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
        days.extend(times.iter().map(|t| t[..10].to_string()));
        if b["name"] == "비밀게시판" {
            assert!(
                posts.iter().all(|p| p["author"]["isAnonymous"] == true),
                "the secret board is anonymous"
            );
        }
        total += posts.len();
    }
    assert!(total >= 150, "a few hundred posts, at least the first pages: {total}");
    assert!(days.len() >= 6, "a week of posts: {days:?}");
    let (_, hot) = user.get("/v1/hot-posts?pageSize=50").await;
    let hot = hot["posts"].as_array().cloned().unwrap_or_default();
    assert!(hot.len() >= 3, "some HOT posts: {}", hot.len());
    assert!(hot.iter().all(|p| p["likeCount"].as_i64().unwrap() >= 10));
    let (_, commented) = user.get("/v1/me/commented-posts?pageSize=5").await;
    assert!(!commented["posts"].as_array().cloned().unwrap_or_default().is_empty(), "{commented}");
    system.stop().await;

    let mut system = start_living().await.expect("system restarts");
    let (_, schools) = Client::new(&system).get("/v1/schools").await;
    assert_eq!(schools["schools"].as_array().unwrap().len(), 2, "seeded twice: {schools}");
    system.stop().await;
}
