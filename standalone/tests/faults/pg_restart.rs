//! Restart PostgreSQL under load: board, timetable and messaging keep their data in a private
//! cluster that the test restarts twice while requests flow — a clean restart, then a crash.
//! Clients only ever see 503 (UNAVAILABLE) — never a 500, never a hang — and errors stop
//! within 10 s of the database being back. Every create that got a 2xx is still there, and a
//! live message stream opened before the restarts carries new messages again once messaging's
//! LISTEN connection is back.

use std::time::Duration;

use campus_shared::db::Backend;
use campus_testkit::PG_URL_VAR;
use serde_json::json;

use crate::deployment::{Deployment, Options, Proc};
use crate::load::{self, Load, Sample};
use crate::pg_cluster::PgCluster;
use crate::{
    CLIENT_TIMEOUT, User, accepted_posts, assert_unavailable_bodies, create_posts, lost_posts, read_post,
    serial, unexpected,
};

/// How long the database stays down: longer than the services' pool acquire timeout (3 s),
/// so some requests wait it out and get 503 while others wait and succeed once it is back.
const DOWN: Duration = Duration::from_secs(4);
/// Errors must stop this soon after the database accepts connections again.
const SETTLE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_under_load_is_only_503_and_loses_nothing() {
    if campus_shared::config::var(PG_URL_VAR).is_none() {
        eprintln!("skipped: {PG_URL_VAR} is not set");
        return;
    }
    let _serial = serial().await;
    let cluster = PgCluster::start();
    let mut options = Options::default();
    options.database_urls.insert(Proc::Board, cluster.create_database("board"));
    options.database_urls.insert(Proc::Timetable, cluster.create_database("timetable"));
    options.database_urls.insert(Proc::Messaging, cluster.create_database("messaging"));
    // Account stays on SQLite: only the cluster under test restarts.
    let deployment = Deployment::start(Backend::Sqlite, options).await;
    let http = deployment.http.clone();
    let (author, reader) = (User::new(&deployment, 201), User::new(&deployment, 202));
    let board = author.create_board(&http).await;
    let post = author.create_post(&http, &board, "재시작 전 글").await;
    // Messaging needs real users (it asks account for their profiles): two, in a new school.
    let ((sender, _), (recipient, recipient_id)) = pen_pals(&deployment, &http).await;
    let conversation = sender
        .call(sender.post(&http, "/v1/conversations", json!({"userId": recipient_id, "content": "첫 쪽지"})))
        .await;
    assert_eq!(conversation.0, 201, "start a conversation: {}", conversation.1);
    let conversation = conversation.1["id"].as_str().expect("conversation id").to_string();
    let stream = LiveStream::open(&recipient).await;
    let path = format!("/v1/conversations/{conversation}/messages");
    let (status, _) = sender.call(sender.post(&http, &path, json!({"content": "재시작 전 쪽지"}))).await;
    assert!(
        status == 200 && stream.saw("재시작 전 쪽지", Duration::from_secs(5)).await,
        "the stream delivers"
    );

    let timetables = {
        let user = reader.clone();
        load::worker("timetable:create", move |http, n| {
            user.post(
                http,
                "/v1/timetables",
                json!({"year": 2026, "semester": "SEMESTER_FALL", "name": format!("pg-{n}")}),
            )
        })
    };
    let messages = {
        let (user, path) = (sender.clone(), format!("/v1/conversations/{conversation}/messages"));
        load::worker("messaging:send", move |http, n| {
            user.post(http, &path, json!({"content": format!("pg-{n}")}))
        })
    };
    let load = Load::start(
        vec![
            create_posts(&author, &board, "pg"),
            create_posts(&reader, &board, "pg"),
            read_post(&reader, &post),
            timetables,
            messages,
        ],
        CLIENT_TIMEOUT,
    );
    tokio::time::sleep(Duration::from_millis(800)).await;

    // A clean restart, then a crash; after each, wait for writes to succeed again and check
    // that the live stream opened before both delivers again.
    let mut restarts = Vec::new();
    for crash in [false, true] {
        let stopped_at = load.now();
        cluster.restart(DOWN, crash);
        let back_at = load.now();
        let first_write = load
            .wait_for("board:create", back_at, SETTLE, |s| s.ok())
            .await
            .unwrap_or_else(|| panic!("board never wrote again within {SETTLE:?} of PostgreSQL being back"));
        let resumed = delivered_again(&sender, &http, &conversation, &stream).await.unwrap_or_else(|| {
            panic!(
                "the live stream opened before the restart got no new message within {SETTLE:?} \
                 (crash: {crash})\nmessaging log:\n{}",
                deployment.log_tail(Proc::Messaging)
            )
        });
        restarts.push(Restart { crash, stopped_at, back_at, first_write, resumed });
        // Before the next fault (or the end), the load runs clean again for a while.
        let calm = load.wait_until_calm(stopped_at, 20, SETTLE).await;
        assert!(
            calm,
            "requests kept failing {SETTLE:?} after PostgreSQL was back: {}",
            load::tally(&load.snapshot())
        );
    }
    let samples = load.stop().await;

    let context = format!("{restarts:?}");
    let bad = unexpected(&samples, &[503]);
    assert!(
        bad.is_empty(),
        "only 2xx and 503 while PostgreSQL restarts, no 500 and no hang ({context}): {bad:?}\n\
         board log:\n{}\ntimetable log:\n{}",
        deployment.log_tail(Proc::Board),
        deployment.log_tail(Proc::Timetable)
    );
    assert_unavailable_bodies(&samples);
    for sample in samples.iter().filter(|s| s.status() == Some(503)) {
        let reason = sample.body()["details"].as_array().and_then(|details| {
            details.iter().find_map(|d| {
                d["reason"].as_str().filter(|_| d["@type"].as_str().is_some_and(|t| t.ends_with("ErrorInfo")))
            })
        });
        assert_eq!(reason, Some("UNAVAILABLE"), "the service says its database is unavailable: {sample:?}");
    }
    let mut summary = Vec::new();
    for (i, restart) in restarts.iter().enumerate() {
        let until = restarts.get(i + 1).map_or(Duration::MAX, |next| next.stopped_at);
        // A call that started before the next fault but failed during it belongs to that fault.
        let errors: Vec<&Sample> = samples
            .iter()
            .filter(|s| !s.ok() && s.ended() > restart.stopped_at && s.ended() < until)
            .collect();
        assert!(
            !errors.is_empty(),
            "the restart was felt (some 503s) — otherwise this test tested nothing ({restart:?}): {}",
            load::tally(&samples)
        );
        let last_error = errors.iter().map(|s| s.ended()).max().unwrap_or_default();
        assert!(
            last_error < restart.back_at + SETTLE,
            "errors stopped within {SETTLE:?} of PostgreSQL being back ({restart:?}); the last ended at {last_error:?}"
        );
        let after: Vec<&Sample> = samples.iter().filter(|s| s.at > last_error && s.ended() < until).collect();
        assert!(
            after.len() > 5 && after.iter().all(|s| s.ok()),
            "requests succeed after the last error ({restart:?}): {}",
            load::tally(after.iter().copied())
        );
        let during: Vec<&Sample> =
            samples.iter().filter(|s| s.ended() > restart.stopped_at && s.at < restart.back_at).collect();
        summary.push(format!(
            "{}: down {:?}, calls during it {} ({}, slowest {:?}), last error {:?} after it was back, \
             first write {:?} after, live stream again after {} retries",
            if restart.crash { "crash (-m immediate)" } else { "restart (-m fast)" },
            restart.back_at - restart.stopped_at,
            during.len(),
            load::tally(during.iter().copied()),
            during.iter().map(|s| s.took).max().unwrap_or_default(),
            last_error.saturating_sub(restart.back_at),
            restart.first_write.saturating_sub(restart.back_at),
            restart.resumed,
        ));
    }

    // Nothing accepted was lost: posts and timetables whose create got a 2xx are all there.
    let accepted = accepted_posts(&samples);
    let lost = lost_posts(&reader, &http, &accepted).await;
    assert!(lost.is_empty(), "accepted posts lost ({context}): {lost:?}");
    let created_timetables: Vec<(String, String)> = samples
        .iter()
        .filter(|s| s.route == "timetable:create" && s.ok())
        .map(|s| {
            (
                s.body()["id"].as_str().expect("id").to_string(),
                s.body()["name"].as_str().expect("name").to_string(),
            )
        })
        .collect();
    let mut lost_timetables = Vec::new();
    for (id, name) in &created_timetables {
        let (status, timetable) = reader.call(reader.get(&http, &format!("/v1/timetables/{id}"))).await;
        if status != 200 || timetable["name"].as_str() != Some(name.as_str()) {
            lost_timetables.push(format!("{id} {name}: {status} {timetable}"));
        }
    }
    assert!(lost_timetables.is_empty(), "accepted timetables lost ({context}): {lost_timetables:?}");
    let sent: Vec<String> = samples
        .iter()
        .filter(|s| s.route == "messaging:send" && s.ok())
        .map(|s| s.body()["content"].as_str().expect("content").to_string())
        .collect();
    let stored = all_messages(&sender, &http, &conversation).await;
    let lost_messages: Vec<&String> = sent.iter().filter(|m| !stored.contains(*m)).collect();
    assert!(lost_messages.is_empty(), "accepted messages lost ({context}): {lost_messages:?}");

    println!(
        "FAULT restart-postgres: requests {} ({}), hangs 0; {}; creates accepted {} posts + {} timetables \
         + {} messages, lost {}",
        samples.len(),
        load::tally(&samples),
        summary.join("; "),
        accepted.len(),
        created_timetables.len(),
        sent.len(),
        lost.len() + lost_timetables.len() + lost_messages.len(),
    );
}

/// One restart of the cluster, on the load's clock.
#[derive(Debug)]
struct Restart {
    crash: bool,
    stopped_at: Duration,
    back_at: Duration,
    first_write: Duration,
    /// Messages sent before one reached the live stream.
    resumed: u32,
}

/// Live delivery resumes: keeps sending until a message reaches the stream opened before the
/// restart (messages sent while messaging's LISTEN connection was down are not replayed on
/// it, by design: clients catch up with ListMessages). The number of misses, or `None` if
/// nothing arrived within [`SETTLE`].
async fn delivered_again(
    sender: &User,
    http: &reqwest::Client,
    conversation: &str,
    stream: &LiveStream,
) -> Option<u32> {
    let path = format!("/v1/conversations/{conversation}/messages");
    let attempts = async {
        for n in 0.. {
            let content = format!("재시작 후 쪽지 {n}");
            let (status, _) = sender.call(sender.post(http, &path, json!({"content": content}))).await;
            if status == 200 && stream.saw(&content, Duration::from_millis(1500)).await {
                return n;
            }
        }
        unreachable!("an endless loop ends only by returning")
    };
    tokio::time::timeout(SETTLE, attempts).await.ok()
}

/// Two users of a new school, signed up and logged in through the gateway: their session
/// and id.
async fn pen_pals(deployment: &Deployment, http: &reqwest::Client) -> ((User, String), (User, String)) {
    let admin = User { base: deployment.base.clone(), token: deployment.admin_token() };
    let school = json!({"name": "재시작대학교", "emailDomain": "restart.ac.kr"});
    let (status, school) = admin.call(admin.post(http, "/v1/schools", school)).await;
    assert_eq!(status, 201, "create a school: {school}");
    let mut users = Vec::new();
    let outbox = deployment.outbox();
    for login in ["minji_pg", "junho_pg"] {
        let anonymous = User { base: deployment.base.clone(), token: String::new() };
        let email = format!("{login}@restart.ac.kr");
        let ask = json!({"email": email, "schoolId": school["id"]});
        let (status, asked) = anonymous
            .call(http.post(format!("{}/v1/auth/email-verifications", deployment.base)).json(&ask))
            .await;
        assert_eq!(status, 200, "code for {login}: {asked}");
        let code = outbox.code_for(&email).await;
        let signup = json!({"loginId": login, "password": "correct-horse-42", "nickname": format!("닉{login}"),
                            "email": email, "schoolId": school["id"], "emailCode": code});
        let (status, user) =
            anonymous.call(http.post(format!("{}/v1/auth/signup", deployment.base)).json(&signup)).await;
        assert_eq!(status, 201, "sign up {login}: {user}");
        let id = user["id"].as_str().or(user["user"]["id"].as_str()).expect("user id").to_string();
        let login = json!({"loginId": login, "password": "correct-horse-42", "refreshTokenInBody": true});
        let (status, session) =
            anonymous.call(http.post(format!("{}/v1/auth/login", deployment.base)).json(&login)).await;
        assert_eq!(status, 200, "log in: {session}");
        let token = session["accessToken"].as_str().expect("access token").to_string();
        users.push((User { base: deployment.base.clone(), token }, id));
    }
    let recipient = users.pop().expect("two users");
    (users.pop().expect("two users"), recipient)
}

/// Every message of a conversation, page by page.
async fn all_messages(user: &User, http: &reqwest::Client, conversation: &str) -> Vec<String> {
    let (mut contents, mut token) = (Vec::new(), String::new());
    loop {
        let path = format!("/v1/conversations/{conversation}/messages?pageSize=100&pageToken={token}");
        let (status, page) = user.call(user.get(http, &path)).await;
        assert_eq!(status, 200, "list messages: {page}");
        let messages = page["messages"].as_array().expect("messages");
        contents.extend(messages.iter().filter_map(|m| m["content"].as_str().map(str::to_string)));
        token = page["nextPageToken"].as_str().unwrap_or_default().to_string();
        if token.is_empty() {
            return contents;
        }
    }
}

/// A StreamMessages call over HTTP (newline-delimited JSON), read in the background.
struct LiveStream {
    text: std::sync::Arc<std::sync::Mutex<String>>,
    _reader: tokio::task::JoinHandle<()>,
}

impl LiveStream {
    async fn open(user: &User) -> Self {
        // No client timeout: the stream lives as long as the test.
        let response = user
            .get(&reqwest::Client::new(), "/v1/conversations:stream")
            .send()
            .await
            .expect("open the stream");
        assert_eq!(response.status(), 200, "the stream opens");
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = text.clone();
        let reader = tokio::spawn(async move {
            let mut response = response;
            while let Ok(Some(chunk)) = response.chunk().await {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push_str(&String::from_utf8_lossy(&chunk));
            }
        });
        Self { text, _reader: reader }
    }

    /// Whether `content` arrives on the stream within `wait`.
    async fn saw(&self, content: &str, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if self.text.lock().unwrap_or_else(|e| e.into_inner()).contains(content) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
