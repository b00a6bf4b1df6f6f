//! The authorization matrix (`matrix.json`) as tests. One test checks the table against the
//! descriptor set: every RPC of the public packages is listed, internal services are marked
//! internal, and each route is the one its `google.api.http` annotation gives. The other
//! boots the whole system, seeds user B's posts, comments, photo, conversation, friends,
//! timetable, review and grades, and calls every public RPC through the gateway as user A of
//! B's school, as user C of the other school and without a token: each answer must have the
//! status the table says, no answer may carry B's data beyond what the caller may see, and
//! afterwards every one of B's resources is still there, unchanged. Internal RPCs are tried
//! through the gateway too, and refused.

#[path = "../../../services/board/tests/fixtures/images.rs"]
#[allow(dead_code)]
mod images;
#[path = "../e2e/support.rs"]
#[allow(dead_code, unreachable_pub)]
mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use campus_proto::google::api::HttpRule;
use campus_proto::google::api::http_rule::Pattern;
use campus_testkit::backends;
use prost::Message as _;
use reqwest::Method;
use serde_json::{Value, json};
use support::{PASSWORD, School, TestSystem};

const MATRIX: &str = include_str!("matrix.json");

/// The packages the gateway exposes; every service in them is in the table.
const PACKAGES: &[&str] =
    &["campus.auth.v1", "campus.account.v1", "campus.board.v1", "campus.messaging.v1", "campus.timetable.v1"];

const WHO: &[&str] =
    &["anonymous", "any_user", "self", "same_school", "owner", "participant", "friend", "admin", "internal"];

const CSV: &str = "code,name,professor,credits,times\nHACK101,끼워넣은 강의,아무개,3,Mon 09:00-10:15 R101\n";

/// One row of the table.
#[derive(Debug, Clone)]
struct Row {
    rpc: String,
    who: String,
    /// Method and path (with placeholders and maybe a query string); `None` for internal RPCs.
    http: Option<(Method, String)>,
    body: Option<Value>,
    raw: Option<String>,
    stream: bool,
    last: bool,
    as_a: u16,
    other_school: u16,
    anonymous: u16,
    a_sees: Vec<Class>,
    /// The ErrorInfo reason of a refusal, where the status alone does not say it.
    reason: Option<String>,
}

fn matrix() -> Vec<Row> {
    let table: Value = serde_json::from_str(MATRIX).expect("matrix.json is JSON");
    let status = |row: &Value, key: &str| row[key].as_u64().map(|s| s as u16).unwrap_or(0);
    table["rpcs"]
        .as_array()
        .expect("an rpcs list")
        .iter()
        .map(|row| Row {
            rpc: row["rpc"].as_str().expect("rpc").to_string(),
            who: row["who"].as_str().expect("who").to_string(),
            http: row["http"].as_str().map(|http| {
                let (method, path) = http.split_once(' ').expect("METHOD /path");
                (method.parse().expect("an HTTP method"), path.to_string())
            }),
            body: row.get("body").cloned(),
            raw: row["raw"].as_str().map(str::to_string),
            reason: row["reason"].as_str().map(str::to_string),
            stream: row["stream"].as_bool().unwrap_or(false),
            last: row["last"].as_bool().unwrap_or(false),
            as_a: status(row, "as_a"),
            other_school: status(row, "other_school"),
            anonymous: status(row, "anonymous"),
            a_sees: row["a_sees"]
                .as_array()
                .map(|classes| {
                    classes
                        .iter()
                        .map(|c| match c.as_str() {
                            Some("school") => Class::School,
                            Some("profile") => Class::Profile,
                            other => panic!("{}: unknown a_sees class {other:?}", row["rpc"]),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// Every RPC of the public packages (`pkg.Service/Method`, whether its service is internal)
/// and the route of each annotated one: `(method, path template)`, from the descriptor set.
type Annotations = (BTreeSet<(String, bool)>, HashMap<String, (Method, String)>);

fn annotations() -> Annotations {
    let pool =
        prost_reflect::DescriptorPool::decode(campus_proto::FILE_DESCRIPTOR_SET).expect("descriptor set");
    let extension = pool.get_extension_by_name("google.api.http").expect("google.api.http is declared");
    let mut rpcs = BTreeSet::new();
    let mut routes = HashMap::new();
    for service in pool.services().filter(|s| PACKAGES.contains(&s.package_name())) {
        let internal = service.name().ends_with("InternalService");
        for method in service.methods() {
            let name = format!("{}/{}", service.full_name(), method.name());
            rpcs.insert((name.clone(), internal));
            let options = method.options();
            if !options.has_extension(&extension) {
                continue;
            }
            let prost_reflect::Value::Message(rule) = options.get_extension(&extension).into_owned() else {
                continue;
            };
            let rule = HttpRule::decode(rule.encode_to_vec().as_slice()).expect("an HttpRule");
            let route = match rule.pattern {
                Some(Pattern::Get(p)) => (Method::GET, p),
                Some(Pattern::Put(p)) => (Method::PUT, p),
                Some(Pattern::Post(p)) => (Method::POST, p),
                Some(Pattern::Delete(p)) => (Method::DELETE, p),
                Some(Pattern::Patch(p)) => (Method::PATCH, p),
                Some(Pattern::Custom(c)) => (c.kind.parse().expect("custom method"), c.path),
                None => continue,
            };
            routes.insert(name, route);
        }
    }
    (rpcs, routes)
}

/// Whether a concrete path (`/v1/posts/{post}:like`, `/v1/me/grades/2026/SEMESTER_FALL`)
/// fits an annotation's template (`/v1/posts/{id}:like`, `/v1/me/grades/{year}/{semester}`).
fn fits(path: &str, template: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    let (path_segments, template_segments): (Vec<&str>, Vec<&str>) =
        (path.split('/').collect(), template.split('/').collect());
    path_segments.len() == template_segments.len()
        && path_segments.iter().zip(&template_segments).all(|(p, t)| {
            if t.starts_with('{') {
                // A variable, perhaps with a custom verb after it: `{id}:like`.
                let verb = t.split_once('}').map(|(_, rest)| rest).unwrap_or_default();
                !p.is_empty() && p.ends_with(verb)
            } else {
                p == t
            }
        })
}

#[test]
fn the_matrix_lists_every_rpc_once_with_its_annotated_route_and_consistent_answers() {
    let rows = matrix();
    let (rpcs, routes) = annotations();
    let listed: Vec<&str> = rows.iter().map(|r| r.rpc.as_str()).collect();
    let unique: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(unique.len(), listed.len(), "an RPC is listed twice");
    let missing: Vec<&String> =
        rpcs.iter().map(|(n, _)| n).filter(|n| !unique.contains(n.as_str())).collect();
    assert!(missing.is_empty(), "RPCs missing from matrix.json: {missing:?}");
    let known: BTreeSet<&str> = rpcs.iter().map(|(n, _)| n.as_str()).collect();
    let stale: Vec<&&str> = unique.iter().filter(|n| !known.contains(*n)).collect();
    assert!(stale.is_empty(), "matrix.json lists RPCs the protos do not have: {stale:?}");

    for (name, internal) in &rpcs {
        let row = rows.iter().find(|r| &r.rpc == name).expect("listed");
        assert!(WHO.contains(&row.who.as_str()), "{name}: unknown who {:?}", row.who);
        if *internal {
            assert_eq!(row.who, "internal", "{name} belongs to an internal service");
            assert!(row.http.is_none() && !routes.contains_key(name), "{name}: internal RPCs have no route");
            continue;
        }
        assert_ne!(row.who, "internal", "{name} is public");
        let (method, path) = row.http.as_ref().unwrap_or_else(|| panic!("{name}: no http in matrix.json"));
        let (annotated_method, template) =
            routes.get(name).unwrap_or_else(|| panic!("{name}: no google.api.http annotation"));
        assert_eq!(method, annotated_method, "{name}: method differs from the annotation");
        assert!(fits(path, template), "{name}: {path} does not fit the annotated {template}");

        for (case, status) in
            [("as_a", row.as_a), ("other_school", row.other_school), ("anonymous", row.anonymous)]
        {
            assert!((200..600).contains(&status), "{name}: no {case} status");
        }
        // The rules the table states must hold in its answers.
        if row.who != "anonymous" {
            assert_eq!(row.anonymous, 401, "{name}: only public RPCs answer without a token");
        }
        if ["same_school", "owner", "participant", "friend"].contains(&row.who.as_str()) {
            assert_eq!(row.other_school, 404, "{name}: another school's resources are NOT_FOUND");
        }
        if row.who == "admin" {
            assert_eq!((row.as_a, row.other_school), (403, 403), "{name}: admins only");
        }
        if ["owner", "participant", "friend"].contains(&row.who.as_str()) {
            assert!([403, 404].contains(&row.as_a), "{name}: someone else's {} resource is refused", row.who);
        }
        if !row.a_sees.is_empty() {
            assert!((200..300).contains(&row.as_a), "{name}: a_sees only applies to an answer");
        }
    }
}

// ---- the matrix against a running system

/// Kinds of B's data, by who may see them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Only B: login id, email, timetable, grades, conversations, friends.
    Private,
    /// B's nickname and user id: B's school may see B's profile, never on anonymous content.
    Profile,
    /// What B wrote for the school: posts, comments, reviews, boards.
    School,
}

const B_LOGIN: &str = "bora_authz";
const B_NICKNAME: &str = "보라닉네임";
const D_NICKNAME: &str = "다나닉네임";
const F_NICKNAME: &str = "프레드닉네임";
const POST_TITLE: &str = "B게시글제목";
const POST_CONTENT: &str = "B게시글본문입니다";
const COMMENT: &str = "B댓글내용";
const REVIEW: &str = "B강의평내용입니다";
const BOARD_NAME: &str = "B가만든게시판";
const TIMETABLE_NAME: &str = "B비밀시간표";
const ENTRY_TITLE: &str = "B비밀알바";
const COURSE: &str = "B비밀과목";
const MESSAGE_FROM_D: &str = "B와D의비밀대화";
const MESSAGE_FROM_B: &str = "B의비밀답장";

/// A signed-up user: id and access token.
#[derive(Debug, Clone)]
struct Person {
    id: String,
    token: String,
}

/// The client side of the test: the gateway's address and one HTTP client.
struct Gateway {
    base: String,
    http: reqwest::Client,
}

/// What an HTTP call got: status and body text.
#[derive(Debug)]
struct Answer {
    status: u16,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    #[track_caller]
    fn ok(&self) -> Value {
        assert!((200..300).contains(&self.status), "expected success, got {self:?}");
        self.json()
    }
}

impl Gateway {
    async fn send(
        &self,
        token: Option<&str>,
        method: Method,
        path: &str,
        body: Option<&Value>,
        raw: Option<(&str, Vec<u8>)>,
        stream: bool,
    ) -> Answer {
        let mut request =
            self.http.request(method, format!("{}{path}", self.base)).timeout(Duration::from_secs(10));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some((content_type, bytes)) = raw {
            request = request.header("content-type", content_type).body(bytes);
        }
        let mut response =
            request.send().await.unwrap_or_else(|e| panic!("{path}: the gateway answers: {e}"));
        let status = response.status().as_u16();
        let text = if stream && status == 200 {
            // A live stream never ends: read what arrives in a moment, then hang up.
            let mut seen = Vec::new();
            while let Ok(Ok(Some(chunk))) =
                tokio::time::timeout(Duration::from_millis(300), response.chunk()).await
            {
                seen.extend_from_slice(&chunk);
            }
            String::from_utf8_lossy(&seen).into_owned()
        } else {
            let bytes = response.bytes().await.expect("body");
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Answer { status, text }
    }

    async fn get(&self, who: &Person, path: &str) -> Answer {
        self.send(Some(&who.token), Method::GET, path, None, None, false).await
    }

    /// A GET with B's placeholders filled in.
    async fn read(&self, world: &World, who: &Person, path: &str) -> Answer {
        self.get(who, &world.fill(path)).await
    }

    async fn post(&self, who: &Person, path: &str, body: Value) -> Answer {
        self.send(Some(&who.token), Method::POST, path, Some(&body), None, false).await
    }

    async fn put(&self, who: &Person, path: &str, body: Value) -> Answer {
        self.send(Some(&who.token), Method::PUT, path, Some(&body), None, false).await
    }

    async fn sign_up(&self, sys: &TestSystem, login_id: &str, nickname: &str, school: School) -> Person {
        let (school_id, domain) = sys.school(school).await;
        let email = format!("{login_id}@{domain}");
        let ask = json!({"email": email, "schoolId": school_id});
        let asked =
            self.send(None, Method::POST, "/v1/auth/email-verifications", Some(&ask), None, false).await;
        assert_eq!(asked.status, 200, "code for {login_id}: {asked:?}");
        let code = sys.outbox.code_for(&email).await;
        let body = json!({"loginId": login_id, "password": PASSWORD, "nickname": nickname,
                          "email": email, "schoolId": school_id, "emailCode": code});
        let signed_up = self.send(None, Method::POST, "/v1/auth/signup", Some(&body), None, false).await;
        assert_eq!(signed_up.status, 201, "sign up {login_id}: {signed_up:?}");
        let user = signed_up.json();
        let body = json!({"loginId": login_id, "password": PASSWORD, "refreshTokenInBody": true});
        let session = self.send(None, Method::POST, "/v1/auth/login", Some(&body), None, false).await.ok();
        Person {
            id: user["user"]["id"]
                .as_str()
                .or(user["id"].as_str())
                .unwrap_or_else(|| panic!("a user id: {user}"))
                .to_string(),
            token: session["accessToken"].as_str().expect("token").to_string(),
        }
    }

    /// A unary gRPC-web call with an empty message; the grpc-status it ends with.
    async fn grpc_web_status(&self, token: Option<&str>, rpc: &str) -> Option<String> {
        let mut request = self
            .http
            .post(format!("{}/{rpc}", self.base))
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            // The gateway must not honour a service credential a client sends.
            .header(campus_shared::identity::SERVICE_TOKEN_HEADER, "guessed-service-token")
            .body(vec![0u8, 0, 0, 0, 0])
            .timeout(Duration::from_secs(10));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("the gateway answers");
        if let Some(status) = response.headers().get("grpc-status") {
            return status.to_str().ok().map(str::to_string);
        }
        let body = response.bytes().await.expect("body");
        let mut rest = &body[..];
        while rest.len() >= 5 {
            let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            let payload = rest.get(5..5 + len)?;
            if rest[0] & 0x80 != 0 {
                let text = String::from_utf8_lossy(payload).to_ascii_lowercase();
                return text
                    .lines()
                    .find_map(|l| l.strip_prefix("grpc-status:"))
                    .map(|s| s.trim().to_string());
            }
            rest = &rest[5 + len..];
        }
        None
    }
}

/// The ErrorInfo reason a refusal carries: the row's own where the table gives one (for
/// the callers with a token, and for public RPCs), else the one the status implies.
fn expected_reason<'a>(row: &'a Row, case: &str, status: u16) -> &'a str {
    if let Some(reason) = &row.reason
        && (case != "anonymous" || row.who == "anonymous")
    {
        return reason;
    }
    match status {
        401 => "UNAUTHENTICATED",
        403 if row.who == "admin" => "ADMIN_ONLY",
        403 => "NOT_OWNER",
        404 => "NOT_FOUND",
        _ => "(the table must give this refusal's reason)",
    }
}

/// B's resources, by placeholder name, and B's data with who may see it.
struct World {
    ids: HashMap<&'static str, String>,
    markers: Vec<(Class, String)>,
}

impl World {
    fn fill(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (name, value) in &self.ids {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        assert!(!out.contains('{'), "an unknown placeholder in {text}");
        out
    }

    fn fill_json(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.fill(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.fill_json(v)).collect()),
            Value::Object(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), self.fill_json(v))).collect())
            }
            other => other.clone(),
        }
    }

    /// B's data in `text` that a caller allowed to see `allowed` must not get. Data the caller
    /// put in the request itself is not a leak.
    fn leaks(&self, text: &str, request: &str, allowed: &[Class]) -> Vec<String> {
        self.markers
            .iter()
            .filter(|(class, marker)| {
                !allowed.contains(class)
                    && !request.contains(marker.as_str())
                    && text.contains(marker.as_str())
            })
            .map(|(class, marker)| format!("{class:?} {marker}"))
            .collect()
    }
}

/// Seeds user B's world: a board, an anonymous post with a photo and an anonymous comment
/// (made HOT by D's and F's likes), a conversation with D, D's pending friend request, F as
/// a friend, a timetable with a lecture and a custom entry, a review and grades.
async fn seed(gateway: &Gateway, b: &Person, d: &Person, f: &Person, school_id: &str) -> World {
    let board = gateway
        .post(
            b,
            "/v1/boards",
            json!({"name": BOARD_NAME, "description": "B의 게시판", "category": "BOARD_CATEGORY_GENERAL"}),
        )
        .await
        .ok();
    let board = board["id"].as_str().expect("board id").to_string();
    gateway.put(b, &format!("/v1/me/pinned-boards/{board}"), json!({})).await.ok();
    let post = gateway
        .post(
            b,
            &format!("/v1/boards/{board}/posts"),
            json!({"title": POST_TITLE, "content": POST_CONTENT, "anonymous": true}),
        )
        .await
        .ok();
    let post = post["id"].as_str().expect("post id").to_string();
    let photo = gateway
        .send(
            Some(&b.token),
            Method::POST,
            &format!("/v1/posts/{post}/photos"),
            None,
            Some(("image/png", images::png())),
            false,
        )
        .await
        .ok();
    let photo = photo["id"].as_str().expect("photo id").to_string();
    let comment = gateway
        .post(b, &format!("/v1/posts/{post}/comments"), json!({"content": COMMENT, "anonymous": true}))
        .await
        .ok();
    let comment = comment["id"].as_str().expect("comment id").to_string();
    for liker in [d, f] {
        gateway.post(liker, &format!("/v1/posts/{post}:like"), json!({})).await.ok();
    }

    let conversation = gateway
        .post(d, "/v1/conversations", json!({"userId": b.id, "anonymous": false, "content": MESSAGE_FROM_D}))
        .await
        .ok();
    let conversation = conversation["id"].as_str().expect("conversation id").to_string();
    gateway
        .post(b, &format!("/v1/conversations/{conversation}/messages"), json!({"content": MESSAGE_FROM_B}))
        .await
        .ok();

    let friend_request = gateway.post(d, "/v1/friend-requests", json!({"loginId": B_LOGIN})).await.ok();
    let friend_request = friend_request["id"].as_str().expect("request id").to_string();
    let from_f = gateway.post(f, "/v1/friend-requests", json!({"loginId": B_LOGIN})).await.ok();
    gateway
        .post(b, &format!("/v1/friend-requests/{}:accept", from_f["id"].as_str().expect("id")), json!({}))
        .await
        .ok();

    let timetable = gateway
        .post(b, "/v1/timetables", json!({"year": 2026, "semester": "SEMESTER_FALL", "name": TIMETABLE_NAME}))
        .await
        .ok();
    let timetable = timetable["id"].as_str().expect("timetable id").to_string();
    let lectures = gateway.get(b, "/v1/lectures?year=2026&semester=SEMESTER_FALL&pageSize=100").await.ok();
    let lectures = lectures["lectures"].as_array().expect("lectures").clone();
    let lecture = &lectures[0];
    let free_lecture = lectures[1..]
        .iter()
        .find(|other| !overlaps(lecture, other))
        .expect("a lecture that fits beside the first");
    let lecture_id = lecture["id"].as_str().expect("id").to_string();
    gateway
        .post(b, &format!("/v1/timetables/{timetable}/lectures"), json!({"lectureId": lecture_id}))
        .await
        .ok();
    let sunday_morning =
        json!({"day": "DAY_OF_WEEK_SUNDAY", "startMinute": 600, "endMinute": 720, "room": ""});
    let with_entry = gateway
        .post(
            b,
            &format!("/v1/timetables/{timetable}/custom-entries"),
            json!({"title": ENTRY_TITLE, "times": [sunday_morning]}),
        )
        .await
        .ok();
    let entry = with_entry["customEntries"][0]["id"].as_str().expect("entry id").to_string();
    let review = gateway
        .post(
            b,
            &format!("/v1/lectures/{lecture_id}/reviews"),
            json!({"rating": 5, "content": REVIEW, "assignments": "AMOUNT_NONE", "teamProjects": "AMOUNT_NONE",
                   "grading": "GRADING_GENEROUS", "attendance": "ATTENDANCE_NONE", "exams": 1}),
        )
        .await
        .ok();
    let review = review["id"].as_str().expect("review id").to_string();
    gateway
        .put(
            b,
            "/v1/me/grades/2026/SEMESTER_FALL",
            json!({"courses": [{"name": COURSE, "credits": 3, "grade": "A+", "major": true}]}),
        )
        .await
        .ok();

    let ids = HashMap::from([
        ("school", school_id.to_string()),
        ("b_user", b.id.clone()),
        ("b_login", B_LOGIN.to_string()),
        ("b_nickname", B_NICKNAME.to_string()),
        ("board", board),
        ("post", post),
        ("comment", comment),
        ("photo", photo),
        ("conversation", conversation),
        ("friend_request", friend_request),
        ("lecture", lecture_id),
        ("free_lecture", free_lecture["id"].as_str().expect("id").to_string()),
        ("timetable", timetable),
        ("entry", entry),
        ("review", review),
        ("word", "B게시글".to_string()),
    ]);
    let markers = vec![
        (Class::Private, B_LOGIN.to_string()),
        (Class::Private, format!("{B_LOGIN}@hanbit.ac.kr")),
        (Class::Private, TIMETABLE_NAME.to_string()),
        (Class::Private, ENTRY_TITLE.to_string()),
        (Class::Private, COURSE.to_string()),
        (Class::Private, MESSAGE_FROM_D.to_string()),
        (Class::Private, MESSAGE_FROM_B.to_string()),
        (Class::Private, D_NICKNAME.to_string()),
        (Class::Private, F_NICKNAME.to_string()),
        (Class::Profile, B_NICKNAME.to_string()),
        (Class::Profile, b.id.clone()),
        (Class::School, POST_TITLE.to_string()),
        (Class::School, POST_CONTENT.to_string()),
        (Class::School, COMMENT.to_string()),
        (Class::School, REVIEW.to_string()),
        (Class::School, BOARD_NAME.to_string()),
    ];
    World { ids, markers }
}

/// Whether two lectures share a moment of the week.
fn overlaps(a: &Value, b: &Value) -> bool {
    let slots = |l: &Value| l["times"].as_array().cloned().unwrap_or_default();
    slots(a).iter().any(|x| {
        slots(b).iter().any(|y| {
            x["day"] == y["day"]
                && x["startMinute"].as_i64() < y["endMinute"].as_i64()
                && y["startMinute"].as_i64() < x["endMinute"].as_i64()
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_public_rpc_refuses_others_as_the_matrix_says_and_never_shows_bs_data() {
    let rows = matrix();
    for backend in backends() {
        let sys = TestSystem::start(backend).await;
        let gateway = Gateway { base: sys.base.clone(), http: reqwest::Client::new() };
        let a = gateway.sign_up(&sys, "alice_authz", "앨리스닉네임", School::Hanbit).await;
        let b = gateway.sign_up(&sys, B_LOGIN, B_NICKNAME, School::Hanbit).await;
        let c = gateway.sign_up(&sys, "chul_authz", "철수닉네임", School::Saesol).await;
        let d = gateway.sign_up(&sys, "dana_authz", D_NICKNAME, School::Hanbit).await;
        let f = gateway.sign_up(&sys, "fred_authz", F_NICKNAME, School::Hanbit).await;
        let (hanbit, _) = sys.school(School::Hanbit).await;
        let world = seed(&gateway, &b, &d, &f, &hanbit).await;

        let mut failures = Vec::new();
        let mut calls = 0;
        let order = rows.iter().filter(|r| !r.last).chain(rows.iter().filter(|r| r.last));
        for row in order {
            let callers = [
                ("as_a", Some(&a), row.as_a),
                ("other_school", Some(&c), row.other_school),
                ("anonymous", None, row.anonymous),
            ];
            let Some((method, path)) = &row.http else {
                // Internal: the gateway refuses it by name, whoever asks and whatever they send.
                for (case, caller, _) in callers {
                    let status = gateway.grpc_web_status(caller.map(|p| p.token.as_str()), &row.rpc).await;
                    calls += 1;
                    if status.as_deref() != Some("12") {
                        let rpc = &row.rpc;
                        failures
                            .push(format!("{rpc} {case}: grpc-status {status:?}, want 12 (UNIMPLEMENTED)"));
                    }
                }
                continue;
            };
            let path = world.fill(path);
            let body = row.body.as_ref().map(|b| world.fill_json(b));
            let raw = match row.raw.as_deref() {
                Some("png") => Some(("image/png", images::png())),
                Some("csv") => Some(("text/csv", CSV.as_bytes().to_vec())),
                Some(other) => panic!("{}: unknown raw body {other}", row.rpc),
                None => None,
            };
            let request = format!("{path} {}", body.as_ref().map(Value::to_string).unwrap_or_default());
            for (case, caller, want) in callers {
                let answer = gateway
                    .send(
                        caller.map(|p| p.token.as_str()),
                        method.clone(),
                        &path,
                        body.as_ref(),
                        raw.clone(),
                        row.stream,
                    )
                    .await;
                calls += 1;
                if answer.status != want {
                    failures.push(format!(
                        "{} {case}: {method} {path} answered {} (want {want}): {}",
                        row.rpc, answer.status, answer.text
                    ));
                }
                let allowed: &[Class] = if case == "as_a" { &row.a_sees } else { &[] };
                let leaks = world.leaks(&answer.text, &request, allowed);
                if !leaks.is_empty() {
                    failures.push(format!(
                        "{} {case}: B's data in the answer {leaks:?}: {}",
                        row.rpc, answer.text
                    ));
                }
                if answer.status == want && !(200..300).contains(&want) {
                    let error = answer.json();
                    let reason = expected_reason(row, case, want);
                    let details = error["details"].as_array().cloned().unwrap_or_default();
                    let got =
                        details.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo");
                    if error["code"].as_i64().is_none()
                        || error["message"].as_str().is_none_or(str::is_empty)
                        || got.map(|info| &info["reason"]) != Some(&Value::from(reason))
                    {
                        failures.push(format!("{} {case}: want reason {reason}: {}", row.rpc, answer.text));
                    }
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{backend:?}: {} of {calls} calls went wrong:\n{}",
            failures.len(),
            failures.join("\n")
        );

        // The leak check can see B's data: A does see B's post (anonymously) and B's profile.
        // A's token is refused from the deletion on, although it has not expired.
        let gone = gateway.get(&a, "/v1/users/me").await;
        assert_eq!(gone.status, 401, "{backend:?}: DeleteMe as A deleted A (and only A): {gone:?}");
        let d_reads = gateway.get(&d, &world.fill("/v1/posts/{post}")).await;
        assert!(
            d_reads.text.contains(POST_TITLE) && !d_reads.text.contains(B_NICKNAME),
            "{backend:?}: {d_reads:?}"
        );
        let profile = gateway.get(&d, &world.fill("/v1/users/{b_user}")).await;
        assert!(profile.text.contains(B_NICKNAME), "{backend:?}: {profile:?}");

        assert_b_is_intact(&gateway, &world, &b, &f, backend).await;
        println!(
            "AUTHZ [{backend:?}]: {} RPCs, {calls} calls as A, as C and without a token: as the matrix says",
            rows.len()
        );
        sys.stop().await;
    }
}

/// After everything A, C and anonymous callers tried, each of B's resources is as B left it.
async fn assert_b_is_intact(
    gateway: &Gateway,
    world: &World,
    b: &Person,
    f: &Person,
    backend: campus_shared::db::Backend,
) {
    let me = gateway.read(world, b, "/v1/users/me").await.ok();
    assert_eq!(
        (me["nickname"].as_str(), me["loginId"].as_str()),
        (Some(B_NICKNAME), Some(B_LOGIN)),
        "{backend:?}"
    );
    let login = json!({"loginId": B_LOGIN, "password": PASSWORD});
    gateway.send(None, Method::POST, "/v1/auth/login", Some(&login), None, false).await.ok();

    let post = gateway.read(world, b, "/v1/posts/{post}").await.ok();
    assert_eq!(post["title"], POST_TITLE, "{backend:?}: {post}");
    assert_eq!(post["photos"].as_array().map(Vec::len), Some(1), "{backend:?}: no photo added: {post}");
    let comments = gateway.read(world, b, "/v1/posts/{post}/comments").await.ok();
    let mine = comments["comments"].as_array().expect("comments").iter().find(|c| c["content"] == COMMENT);
    assert!(mine.is_some_and(|c| c["deleted"] == false), "{backend:?}: B's comment stands: {comments}");
    assert_eq!(gateway.read(world, b, "/v1/photos/{photo}").await.status, 200, "{backend:?}");
    let pinned = gateway.read(world, b, "/v1/me/pinned-boards").await.ok();
    assert!(pinned.to_string().contains(BOARD_NAME), "{backend:?}: B's pin stands: {pinned}");

    let messages = gateway.read(world, b, "/v1/conversations/{conversation}/messages").await.ok();
    let texts: BTreeSet<&str> = messages["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["content"].as_str())
        .collect();
    assert_eq!(
        texts,
        BTreeSet::from([MESSAGE_FROM_D, MESSAGE_FROM_B]),
        "{backend:?}: nobody else wrote in it"
    );
    let conversations = gateway.read(world, b, "/v1/conversations").await.ok();
    let ours = conversations["conversations"]
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["id"] == world.ids["conversation"].as_str());
    assert!(
        ours.is_some_and(|c| c["blocked"] == false),
        "{backend:?}: not blocked, not hidden: {conversations}"
    );

    let requests = gateway.read(world, b, "/v1/friend-requests").await.ok();
    let from_d = requests["friendRequests"]
        .as_array()
        .expect("requests")
        .iter()
        .find(|r| r["id"] == world.ids["friend_request"].as_str());
    assert!(
        from_d.is_some_and(|r| r["state"] == "FRIEND_REQUEST_STATE_PENDING"),
        "{backend:?}: D's request is still B's to answer: {requests}"
    );
    let friends = gateway.read(world, b, "/v1/friends").await.ok();
    assert!(friends.to_string().contains(F_NICKNAME), "{backend:?}: B and F are still friends: {friends}");

    let timetable = gateway.read(world, b, "/v1/timetables/{timetable}").await.ok();
    assert_eq!(timetable["name"], TIMETABLE_NAME, "{backend:?}");
    let lectures: Vec<&str> =
        timetable["lectures"].as_array().expect("lectures").iter().filter_map(|l| l["id"].as_str()).collect();
    assert_eq!(lectures, vec![world.ids["lecture"].as_str()], "{backend:?}: {timetable}");
    assert_eq!(timetable["customEntries"][0]["title"], ENTRY_TITLE, "{backend:?}: {timetable}");
    let shown_to_friend =
        gateway.read(world, f, "/v1/users/{b_user}/timetable?year=2026&semester=SEMESTER_FALL").await.ok();
    assert_eq!(shown_to_friend["name"], TIMETABLE_NAME, "{backend:?}: a friend sees it");
    let reviews = gateway.read(world, b, "/v1/lectures/{lecture}/reviews").await.ok();
    let review = reviews["reviews"]
        .as_array()
        .expect("reviews")
        .iter()
        .find(|r| r["id"] == world.ids["review"].as_str());
    assert!(review.is_some_and(|r| r["content"] == REVIEW), "{backend:?}: {reviews}");
    let grades = gateway.read(world, b, "/v1/me/grades").await.ok();
    assert_eq!(grades["semesters"][0]["courses"][0]["name"], COURSE, "{backend:?}: {grades}");
}
