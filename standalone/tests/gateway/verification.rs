//! Email codes, sign-up with a code, password reset and the nickname cooldown (DESIGN §7),
//! end to end over HTTP: the real gateway in front of the real account service, on SQLite
//! and, when `CAMPUS_TEST_PG_URL` is set, PostgreSQL. Codes are read from the outbox the
//! account service writes mail to.

use std::time::Duration;

use campus_testkit::{backends, mail_code};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Answer, DOMAIN, PASSWORD, TestApp, spawn_app, spawn_app_with};

const NEW_PASSWORD: &str = "another-quiet-river-7";

impl TestApp {
    async fn ask_code(&self, email: &str) -> Answer {
        let body = json!({"email": email, "schoolId": self.school_id.to_string()});
        self.post("/v1/auth/email-verifications", body, &[]).await
    }

    async fn ask_reset(&self, email: &str) -> Answer {
        self.post("/v1/auth/password-resets", json!({"email": email}), &[]).await
    }

    async fn confirm_reset(&self, email: &str, code: &str, new_password: &str) -> Answer {
        let body = json!({"email": email, "code": code, "newPassword": new_password});
        self.post("/v1/auth/password-resets:confirm", body, &[]).await
    }

    async fn sign_up_with(&self, login: &str, email: &str, code: &str) -> Answer {
        let mut body = self.signup_body(login);
        body["email"] = json!(email);
        body["emailCode"] = json!(code);
        self.post("/v1/auth/signup", body, &[]).await
    }

    /// Users in the account database, deleted or not.
    async fn user_count(&self) -> i64 {
        self.account_number("SELECT COUNT(*) FROM user_account").await
    }

    async fn account_number(&self, sql: &str) -> i64 {
        let pool = sqlx::AnyPool::connect(&self.db.url).await.expect("the account database");
        let (n,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&pool).await.expect("query");
        pool.close().await;
        n
    }
}

#[track_caller]
fn refused(answer: &Answer, status: StatusCode, reason: &str) {
    assert_eq!((answer.status, answer.reason().as_deref()), (status, Some(reason)), "{answer:?}");
}

fn email(local: &str) -> String {
    format!("{local}@{DOMAIN}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_is_mailed_stored_hashed_and_used_once() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let asked = app.ask_code("Minji@YONSEI.ac.kr").await;
        assert_eq!(asked.status, StatusCode::OK, "{asked:?}");
        let expires: String = asked.body["expiresAt"].as_str().expect("expiresAt").into();
        assert_eq!(asked.body.as_object().unwrap().len(), 1, "only expiresAt: {asked:?}");

        // Addresses compare case-insensitively: the mail goes to the lower-cased address.
        let mail = app.outbox.next_mail(&email("minji")).await;
        let code = mail_code(&mail).expect("a code in the mail");
        assert!(mail.contains("회원가입 이메일 인증번호"), "{mail}");
        assert!(mail.contains("\r\nDate: ") && mail.contains("\r\nMessage-ID: <"), "{mail}");
        assert!(mail.contains("charset=utf-8"), "{mail}");
        assert!(!expires.is_empty());

        // Stored as a MAC, never the code.
        let pool = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
        let (stored,): (String,) =
            sqlx::query_as("SELECT code_mac FROM email_code").fetch_one(&pool).await.unwrap();
        pool.close().await;
        assert_eq!(stored.len(), 64, "hex HMAC-SHA256");
        assert!(!stored.contains(&code));

        let created = app.sign_up_with("minji", "MINJI@yonsei.ac.kr", &code).await;
        assert_eq!(created.status, StatusCode::CREATED, "{backend:?} {created:?}");
        assert_eq!(created.body["user"]["email"], email("minji"));

        // Replayed: the code is spent.
        let replayed = app.sign_up_with("minji2", &email("minji"), &code).await;
        refused(&replayed, StatusCode::BAD_REQUEST, "EMAIL_CODE_INVALID");
        assert_eq!(app.user_count().await, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_needs_the_right_code_for_that_address_and_purpose() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        app.signup("alice").await;

        let mut no_code = app.signup_body("kimsu");
        no_code.as_object_mut().unwrap().remove("emailCode");
        let answer = app.post("/v1/auth/signup", no_code, &[]).await;
        assert_eq!(
            (answer.status, answer.violations()),
            (StatusCode::BAD_REQUEST, vec!["emailCode".to_string()])
        );
        let answer = app.sign_up_with("kimsu", &email("kimsu"), "12345a").await;
        assert_eq!(answer.violations(), ["emailCode"], "{answer:?}");

        // No code was asked for yet.
        refused(
            &app.sign_up_with("kimsu", &email("kimsu"), "123456").await,
            StatusCode::BAD_REQUEST,
            "EMAIL_CODE_INVALID",
        );

        assert_eq!(app.ask_code(&email("kimsu")).await.status, StatusCode::OK);
        let kims = app.outbox.code_for(&email("kimsu")).await;
        let wrong = if kims == "000001" { "000002" } else { "000001" };
        refused(
            &app.sign_up_with("kimsu", &email("kimsu"), wrong).await,
            StatusCode::BAD_REQUEST,
            "EMAIL_CODE_INVALID",
        );
        // Kim's code proves Kim's address only.
        refused(
            &app.sign_up_with("leeso", &email("leeso"), &kims).await,
            StatusCode::BAD_REQUEST,
            "EMAIL_CODE_INVALID",
        );
        // ... and for signing up only: no password reset with it.
        refused(
            &app.confirm_reset(&email("kimsu"), &kims, NEW_PASSWORD).await,
            StatusCode::BAD_REQUEST,
            "EMAIL_CODE_INVALID",
        );

        // A reset code does not sign anyone up either.
        assert_eq!(app.ask_reset(&email("alice")).await.status, StatusCode::OK);
        let reset = app.outbox.code_for(&email("alice")).await;
        refused(
            &app.sign_up_with("parkjh", &email("parkjh"), &reset).await,
            StatusCode::BAD_REQUEST,
            "EMAIL_CODE_INVALID",
        );

        // The school's exact domain only.
        for outside in ["kimsu@gmail.com", "kimsu@mail.yonsei.ac.kr", "kimsu@yonsei.ac.kr.evil.com"] {
            let answer = app.ask_code(outside).await;
            assert_eq!(
                (answer.status, answer.violations()),
                (StatusCode::BAD_REQUEST, vec!["email".to_string()]),
                "{outside}"
            );
        }

        assert_eq!(app.user_count().await, 1, "nothing created by the refusals");
        // The refusals spent tries but left the code good: Kim signs up with it.
        assert_eq!(app.sign_up_with("kimsu", &email("kimsu"), &kims).await.status, StatusCode::CREATED);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_tries_burn_the_code() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        app.ask_code(&email("kimsu")).await;
        let code = app.outbox.code_for(&email("kimsu")).await;
        let wrong = if code == "999999" { "999998" } else { "999999" };
        for _ in 0..5 {
            refused(
                &app.sign_up_with("kimsu", &email("kimsu"), wrong).await,
                StatusCode::BAD_REQUEST,
                "EMAIL_CODE_INVALID",
            );
        }
        let right = app.sign_up_with("kimsu", &email("kimsu"), &code).await;
        refused(&right, StatusCode::BAD_REQUEST, "EMAIL_CODE_TOO_MANY_TRIES");
        assert_eq!(app.user_count().await, 0);
        // A new code works.
        app.ask_code(&email("kimsu")).await;
        let code = app.outbox.code_for(&email("kimsu")).await;
        assert_eq!(
            app.sign_up_with("kimsu", &email("kimsu"), &code).await.status,
            StatusCode::CREATED,
            "{backend:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_code_is_refused() {
    for backend in backends() {
        // Codes that expire as they are made.
        let app = spawn_app_with(backend, |c| c.codes.ttl = Duration::ZERO).await;
        app.ask_code(&email("kimsu")).await;
        let code = app.outbox.code_for(&email("kimsu")).await;
        refused(
            &app.sign_up_with("kimsu", &email("kimsu"), &code).await,
            StatusCode::BAD_REQUEST,
            "EMAIL_CODE_EXPIRED",
        );
        assert_eq!(app.user_count().await, 0, "{backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_code_per_address_and_purpose_per_interval() {
    for backend in backends() {
        let app = spawn_app_with(backend, |c| c.codes = campus_account::CodeRules::default()).await;
        app.signup("alice").await;
        assert_eq!(app.ask_code(&email("kimsu")).await.status, StatusCode::OK);
        let again = app.ask_code(&email("KIMSU")).await;
        refused(&again, StatusCode::TOO_MANY_REQUESTS, "EMAIL_CODE_TOO_SOON");
        // The first code is still the one that counts.
        let code = app.outbox.code_for(&email("kimsu")).await;
        // Another address and another purpose have their own interval.
        assert_eq!(app.ask_code(&email("leeso")).await.status, StatusCode::OK);
        assert_eq!(app.ask_reset(&email("alice")).await.status, StatusCode::OK);
        refused(&app.ask_reset(&email("alice")).await, StatusCode::TOO_MANY_REQUESTS, "EMAIL_CODE_TOO_SOON");
        // Unknown addresses are held to the same rule, so it tells nothing.
        assert_eq!(app.ask_reset(&email("nobody")).await.status, StatusCode::OK);
        refused(&app.ask_reset(&email("nobody")).await, StatusCode::TOO_MANY_REQUESTS, "EMAIL_CODE_TOO_SOON");
        assert_eq!(
            app.sign_up_with("kimsu", &email("kimsu"), &code).await.status,
            StatusCode::CREATED,
            "{backend:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_requests_do_not_tell_who_has_an_account() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        app.signup("alice").await;

        // Sign-up codes: the same answer for a taken and a free address; the owner of the
        // taken one is told by mail instead of getting a code.
        let taken = app.ask_code(&email("alice")).await;
        let free = app.ask_code(&email("newbie")).await;
        assert_eq!((taken.status, free.status), (StatusCode::OK, StatusCode::OK));
        assert_eq!(keys(&taken.body), keys(&free.body));
        let mail = app.outbox.next_mail(&email("alice")).await;
        assert!(mail.contains("이미 가입된 계정이 있습니다"), "{mail}");
        assert_eq!(mail_code(&mail), None, "no code for a taken address: {mail}");
        assert!(mail_code(&app.outbox.next_mail(&email("newbie")).await).is_some());

        // Resets: the same answer for a known and an unknown address; only the known one
        // gets a mail.
        let known = app.ask_reset(&email("alice")).await;
        let unknown = app.ask_reset(&email("nobody")).await;
        assert_eq!((known.status, unknown.status), (StatusCode::OK, StatusCode::OK), "{backend:?}");
        assert_eq!(keys(&known.body), keys(&unknown.body));
        let reset = app.outbox.next_mail(&email("alice")).await;
        assert!(reset.contains("비밀번호 재설정") && mail_code(&reset).is_some(), "{reset}");
        // Confirming looks the same for both too.
        let known = app.confirm_reset(&email("alice"), "000000", NEW_PASSWORD).await;
        let unknown = app.confirm_reset(&email("nobody"), "000000", NEW_PASSWORD).await;
        let code = mail_code(&reset).unwrap();
        if code != "000000" {
            refused(&known, StatusCode::BAD_REQUEST, "EMAIL_CODE_INVALID");
        }
        refused(&unknown, StatusCode::BAD_REQUEST, "EMAIL_CODE_INVALID");
        assert_eq!(known.body, unknown.body);
        // Nobody else was mailed: alice's sign-up code, "already registered", her reset code,
        // and newbie's code.
        let mails = std::fs::read_dir(app.outbox.path()).unwrap().count();
        assert_eq!(mails, 4);
    }
}

fn keys(body: &Value) -> Vec<String> {
    body.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_reset_revokes_every_session() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        app.signup("alice").await;
        let phone = app.login("alice", PASSWORD, true).await;
        let laptop = app.login("alice", PASSWORD, true).await;

        assert_eq!(app.ask_reset("Alice@Yonsei.ac.kr").await.status, StatusCode::OK);
        let code = app.outbox.code_for(&email("alice")).await;
        // The new password follows the sign-up rules; the code survives a refused password.
        let weak = app.confirm_reset(&email("alice"), &code, "alice1234").await;
        assert_eq!(
            (weak.status, weak.violations()),
            (StatusCode::BAD_REQUEST, vec!["newPassword".to_string()])
        );
        let done = app.confirm_reset(&email("alice"), &format!(" {code} "), NEW_PASSWORD).await;
        assert_eq!(done.status, StatusCode::NO_CONTENT, "{backend:?} {done:?}");

        for session in [&phone, &laptop] {
            let refreshed = app.refresh_body(&session.refresh_token()).await;
            assert_eq!(refreshed.status, StatusCode::UNAUTHORIZED, "{refreshed:?}");
        }
        assert_eq!(app.login("alice", PASSWORD, false).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.login("alice", NEW_PASSWORD, false).await.status, StatusCode::OK);
        // Single use.
        let replayed = app.confirm_reset(&email("alice"), &code, "yet-another-river-8").await;
        refused(&replayed, StatusCode::BAD_REQUEST, "EMAIL_CODE_INVALID");
        assert_eq!(app.login("alice", NEW_PASSWORD, false).await.status, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nickname_changes_once_per_cooldown() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        app.signup("alice").await;
        let token = app.login("alice", PASSWORD, false).await.access_token();
        let patch = |nickname: &str| {
            app.call(Method::PATCH, "/v1/users/me", &token, Some(json!({"nickname": nickname})))
        };
        // The sign-up nickname does not count: the first change is allowed.
        let changed = patch("새내기").await;
        assert_eq!(
            (changed.status, changed.body["nickname"].as_str()),
            (StatusCode::OK, Some("새내기")),
            "{changed:?}"
        );
        // Setting the same nickname again changes nothing and is fine.
        assert_eq!(patch("새내기").await.status, StatusCode::OK);
        let again = patch("헌내기").await;
        refused(&again, StatusCode::BAD_REQUEST, "NICKNAME_CHANGE_TOO_SOON");
        assert_eq!(app.me(&token).await.body["nickname"], "새내기", "{backend:?}");
    }
}
