//! End-to-end tests of the identity flow: the real gateway in front of the real account
//! service, over HTTP (and gRPC), on SQLite and, when `CAMPUS_TEST_PG_URL` is set, PostgreSQL.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use campus_proto::account::v1::GetMeRequest;
use campus_proto::account::v1::account_service_client::AccountServiceClient;
use campus_proto::auth::v1::auth_service_client::AuthServiceClient;
use campus_proto::auth::v1::{LoginRequest, RefreshRequest, SignUpRequest};
use campus_shared::identity::{Caller, Role};
use campus_testkit::{TestIdentity, backends};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{ALLOWED_ORIGIN, DOMAIN, PASSWORD, TestApp, spawn_app};

const COOKIE_FLAGS: &str = "; HttpOnly; Secure; SameSite=Strict; Path=/v1/auth; Max-Age=";
const FOURTEEN_DAYS: i64 = 14 * 24 * 60 * 60;

/// Asserts the exact shape of a refresh cookie and returns its Max-Age.
fn assert_refresh_cookie(set_cookie: &str) -> i64 {
    let (pair, rest) = set_cookie.split_once(';').expect("attributes");
    let (name, value) = pair.split_once('=').expect("name=value");
    assert_eq!(name, "__Secure-refresh_token");
    assert!(value.len() >= 43, "a 256-bit token: {set_cookie}");
    let rest = format!(";{rest}");
    let max_age = rest.strip_prefix(COOKIE_FLAGS).unwrap_or_else(|| panic!("exact flags: {set_cookie}"));
    max_age.parse().expect("Max-Age is a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_enforces_the_rules() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let user = app.signup("alice").await;
        assert_eq!(user["loginId"], "alice");
        assert_eq!(user["email"], format!("alice@{DOMAIN}"));
        assert_eq!(user["schoolId"], app.school_id.to_string(), "int64 is a JSON string");
        assert!(user.get("password").is_none() && user.get("passwordHash").is_none());

        let mut wrong_domain = app.signup_body("bobby");
        wrong_domain["email"] = json!("bobby@gmail.com");
        let answer = app.post("/v1/auth/signup", wrong_domain, &[]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
        assert_eq!(answer.violations(), ["email"], "{answer:?}");

        let answer = app.post("/v1/auth/signup", app.signup_body("alice"), &[]).await;
        assert_eq!(answer.status, StatusCode::CONFLICT, "duplicate login id: {answer:?}");
        // alice's address has an account: its mail says so instead of carrying a code, so a
        // sign-up with it fails on the code and tells nobody the address is taken.
        let mut same_email = app.signup_body("alice2");
        same_email["email"] = json!(format!("alice@{DOMAIN}"));
        let answer = app.post("/v1/auth/signup", same_email, &[]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "duplicate email: {answer:?}");
        assert_eq!(answer.reason().as_deref(), Some("EMAIL_CODE_INVALID"), "{answer:?}");

        for (field, value) in [
            ("password", json!("abc1")),
            ("password", json!("onlyletters")),
            ("password", json!("x".repeat(2000))),
            ("nickname", json!("n".repeat(200))),
            ("loginId", json!("l".repeat(200))),
            ("loginId", json!("has space")),
        ] {
            let mut body = app.signup_body("carol");
            body[field] = value;
            let answer = app.post("/v1/auth/signup", body, &[]).await;
            assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{field}: {answer:?}");
            assert!(answer.violations().iter().any(|f| f == field), "{field}: {answer:?}");
        }

        let empty = json!({"loginId": "", "password": "", "nickname": "", "email": "", "schoolId": app.school_id.to_string()});
        let answer = app.post("/v1/auth/signup", empty, &[]).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{answer:?}");
        let fields = answer.violations();
        for field in ["loginId", "password", "nickname", "email"] {
            assert!(fields.iter().any(|f| f == field), "{field} missing from {fields:?}");
        }

        let mut unknown_school = app.signup_body("dave");
        unknown_school["schoolId"] = json!("999999");
        let answer = app.post("/v1/auth/signup", unknown_school, &[]).await;
        assert!(answer.status.is_client_error(), "{answer:?}");

        // Nothing of the refused attempts was kept: carol can still sign up.
        app.signup("carol").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_sets_the_cookie_and_the_token_opens_the_api() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let user = app.signup("alice").await;

        let login = app.login("alice", PASSWORD, false).await;
        assert_eq!(login.status, StatusCode::OK, "{login:?}");
        assert_eq!(login.body["expiresIn"], 900);
        assert_eq!(login.body["user"]["id"], user["id"]);
        assert_eq!(
            login.body["refreshToken"].as_str().unwrap_or_default(),
            "",
            "browsers get the token only in the cookie"
        );
        let max_age = assert_refresh_cookie(&login.set_cookie[0]);
        assert!((FOURTEEN_DAYS - 60..=FOURTEEN_DAYS).contains(&max_age), "Max-Age {max_age}");

        let me = app.me(&login.access_token()).await;
        assert_eq!(me.status, StatusCode::OK, "{me:?}");
        assert_eq!(me.body["loginId"], "alice");
        assert_eq!(me.body["id"], user["id"]);

        let anonymous = app.http.get(format!("{}/v1/users/me", app.base)).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

        let body_login = app.login("alice", PASSWORD, true).await;
        assert_eq!(body_login.status, StatusCode::OK);
        assert_eq!(body_login.refresh_token(), body_login.cookie_token());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_login_id_and_a_wrong_password_look_the_same() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        app.signup("alice").await;
        let wrong_password = app.login("alice", "not-the-password-1", false).await;
        let unknown_id = app.login("nobody", "not-the-password-1", false).await;
        assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED, "{wrong_password:?}");
        assert_eq!(wrong_password.status, unknown_id.status);
        assert_eq!(wrong_password.body, unknown_id.body);
        assert!(wrong_password.set_cookie.is_empty() && unknown_id.set_cookie.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_and_a_replayed_token_kills_the_family() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let user = app.signup("alice").await;
        let first = app.login("alice", PASSWORD, true).await.refresh_token();

        let rotated = app.refresh_body(&first).await;
        assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
        let second = rotated.refresh_token();
        assert_ne!(second, first, "every refresh rotates the token");
        assert_eq!(rotated.cookie_token(), second);
        assert_eq!(rotated.body["user"]["id"], user["id"]);
        assert_eq!(app.me(&rotated.access_token()).await.status, StatusCode::OK);

        let third = app.refresh_body(&second).await;
        assert_eq!(third.status, StatusCode::OK, "{third:?}");
        let third = third.refresh_token();

        // `first` was rotated away: presenting it again is theft or a bug, so the family dies.
        let replay = app.refresh_body(&first).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{replay:?}");
        let live = app.refresh_body(&third).await;
        assert_eq!(live.status, StatusCode::UNAUTHORIZED, "the newest token died with its family: {live:?}");

        // Another login is another family and is unaffected.
        let other = app.login("alice", PASSWORD, true).await.refresh_token();
        assert_eq!(app.refresh_body(&other).await.status, StatusCode::OK);

        let garbage = app.refresh_body("bm90LWEtcmVhbC10b2tlbi1hdC1hbGwtYXQtYWxsLWF0LWFsbA").await;
        assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
        let none = app.post("/v1/auth/refresh", json!({}), &[]).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_refresh_checks_the_origin_without_consuming_the_token() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        app.signup("alice").await;
        let login = app.login("alice", PASSWORD, false).await;
        let cookie = login.cookie_pair();

        for origin in ["https://evil.example", "null", "https://campus.example.evil.example"] {
            let forged = app.refresh_cookie(&cookie, Some(origin)).await;
            assert_eq!(forged.status, StatusCode::FORBIDDEN, "{origin}: {forged:?}");
            assert_eq!(forged.reason().as_deref(), Some("ORIGIN_NOT_ALLOWED"));
            assert!(forged.set_cookie.is_empty());
        }
        let forged_logout = app
            .post("/v1/auth/logout", json!({}), &[("cookie", &cookie), ("origin", "https://evil.example")])
            .await;
        assert_eq!(forged_logout.status, StatusCode::FORBIDDEN, "{forged_logout:?}");

        // The refused requests did not touch the family: the same cookie still rotates.
        let rotated = app.refresh_cookie(&cookie, Some(ALLOWED_ORIGIN)).await;
        assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
        assert_eq!(
            rotated.body["refreshToken"].as_str().unwrap_or_default(),
            "",
            "a cookie refresh answers in the cookie"
        );
        assert_refresh_cookie(&rotated.set_cookie[0]);
        assert_ne!(rotated.cookie_pair(), cookie);

        // No Origin at all (not a browser) is allowed too.
        let again = app.refresh_cookie(&rotated.cookie_pair(), None).await;
        assert_eq!(again.status, StatusCode::OK, "{again:?}");

        // A page on a foreign origin may not call the auth service at all, even with a body
        // token (DESIGN §10: every public auth call checks the Origin before the body); a
        // client that sends no Origin is no browser and uses its body token as before.
        let body_token = app.login("alice", PASSWORD, true).await.refresh_token();
        let answer = app
            .post(
                "/v1/auth/refresh",
                json!({"refreshToken": body_token}),
                &[("origin", "https://evil.example")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{answer:?}");
        let answer = app.post("/v1/auth/refresh", json!({"refreshToken": body_token}), &[]).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_clears_the_cookie_and_kills_the_token() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        app.signup("alice").await;
        let login = app.login("alice", PASSWORD, false).await;
        let cookie = login.cookie_pair();

        let logout =
            app.post("/v1/auth/logout", json!({}), &[("cookie", &cookie), ("origin", ALLOWED_ORIGIN)]).await;
        assert_eq!(logout.status, StatusCode::NO_CONTENT, "{logout:?}");
        assert_eq!(logout.body, serde_json::Value::Null);
        assert_eq!(
            logout.set_cookie,
            ["__Secure-refresh_token=; HttpOnly; Secure; SameSite=Strict; Path=/v1/auth; Max-Age=0"]
        );
        let after = app.refresh_cookie(&cookie, Some(ALLOWED_ORIGIN)).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{after:?}");

        // Body tokens log out the same way.
        let token = app.login("alice", PASSWORD, true).await.refresh_token();
        let logout = app.post("/v1/auth/logout", json!({"refreshToken": token}), &[]).await;
        assert_eq!(logout.status, StatusCode::NO_CONTENT, "{logout:?}");
        assert_eq!(app.refresh_body(&token).await.status, StatusCode::UNAUTHORIZED);

        let nothing = app.post("/v1/auth/logout", json!({}), &[]).await;
        assert_eq!(nothing.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_revokes_the_other_sessions() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        app.signup("alice").await;
        let laptop = app.login("alice", PASSWORD, true).await;
        let phone = app.login("alice", PASSWORD, true).await.refresh_token();

        let new_password = "a-brand-new-passphrase-7";
        let change = app
            .call(
                Method::POST,
                "/v1/users/me/password",
                &laptop.access_token(),
                Some(json!({"currentPassword": PASSWORD, "newPassword": new_password})),
            )
            .await;
        assert!(change.status.is_success(), "{change:?}");

        assert_eq!(app.refresh_body(&phone).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.refresh_body(&laptop.refresh_token()).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.login("alice", PASSWORD, false).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.login("alice", new_password, false).await.status, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_cannot_log_in_and_frees_its_login_id() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let user = app.signup("alice").await;
        let login = app.login("alice", PASSWORD, true).await;

        let password = json!({"password": PASSWORD});
        let delete = app.call(Method::DELETE, "/v1/users/me", &login.access_token(), Some(password)).await;
        assert!(delete.status.is_success(), "{delete:?}");

        assert_eq!(app.login("alice", PASSWORD, false).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(app.refresh_body(&login.refresh_token()).await.status, StatusCode::UNAUTHORIZED);

        let again = app.signup("alice").await;
        assert_ne!(again["id"], user["id"], "a new account, not the old one revived");
        let login = app.login("alice", PASSWORD, false).await;
        assert_eq!(login.status, StatusCode::OK);
        assert_eq!(login.body["user"]["id"], again["id"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_refreshes_with_one_token_yield_at_most_one_session() {
    for backend in backends() {
        let app = std::sync::Arc::new(spawn_app(backend).await);
        app.signup("alice").await;
        let token = app.login("alice", PASSWORD, true).await.refresh_token();

        let attempts = (0..20).map(|_| {
            let (app, token) = (app.clone(), token.clone());
            tokio::spawn(async move { app.refresh_body(&token).await })
        });
        let answers: Vec<_> =
            futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
        let successes: Vec<_> = answers.iter().filter(|a| a.status == StatusCode::OK).collect();
        assert!(successes.len() <= 1, "{} refreshes succeeded with one token", successes.len());
        for failed in answers.iter().filter(|a| a.status != StatusCode::OK) {
            assert_eq!(failed.status, StatusCode::UNAUTHORIZED, "{failed:?}");
        }
        // Whatever won, the family was replayed, so nothing it handed out works any more.
        for success in successes {
            assert_eq!(app.refresh_body(&success.refresh_token()).await.status, StatusCode::UNAUTHORIZED);
        }
    }
}

fn b64_json(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// Tokens that must not pass anywhere, each named, all for a real user.
fn forged_tokens(app: &TestApp, caller: &Caller) -> Vec<(&'static str, String)> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let claims = json!({
        "sub": caller.user_id.to_string(), "school_id": caller.school_id, "role": "admin",
        "iat": now, "exp": now + 600, "jti": "forged", "iss": "campus-gateway", "aud": "campus",
        "nickname": caller.nickname,
    });
    let valid = app.identity.issuer.issue(caller).unwrap();
    let parts: Vec<&str> = valid.split('.').collect();
    let expired =
        app.identity.issuer.issue_with(caller, now - 7200, std::time::Duration::from_secs(900)).unwrap();
    let mut flipped = parts[2].as_bytes().to_vec();
    flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
    vec![
        ("alg none", format!("{}.{}.", b64_json(&json!({"alg": "none", "typ": "JWT"})), b64_json(&claims))),
        ("tampered payload", format!("{}.{}.{}", parts[0], b64_json(&claims), parts[2])),
        ("tampered signature", format!("{}.{}.{}", parts[0], parts[1], String::from_utf8(flipped).unwrap())),
        ("expired", expired),
        ("wrong key", TestIdentity::new().issuer.issue(caller).unwrap()),
        ("garbage", "not.a.jwt".into()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_refused_by_the_gateway_and_by_the_service() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let user = app.signup("alice").await;
        let caller = Caller {
            user_id: user["id"].as_str().unwrap().parse().unwrap(),
            school_id: app.school_id,
            role: Role::User,
            nickname: "alice".into(),
        };
        let mut account = AccountServiceClient::new(campus_testkit::channel(app.account_addr));
        let get_me = |token: &str| {
            let mut request = tonic::Request::new(GetMeRequest {});
            request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
            request
        };

        // The control: a genuine token passes both doors.
        let genuine = app.login("alice", PASSWORD, false).await.access_token();
        assert_eq!(app.me(&genuine).await.status, StatusCode::OK);
        account.get_me(get_me(&genuine)).await.expect("a genuine token works on account");

        for (name, token) in forged_tokens(&app, &caller) {
            let answer = app.me(&token).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "gateway, {name}: {answer:?}");
            let status = account.get_me(get_me(&token)).await.expect_err(name);
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "account, {name}: {status:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_clients_reach_the_same_auth_service() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let mut auth = AuthServiceClient::new(campus_testkit::channel(app.gateway_addr));
        let user = auth
            .sign_up(SignUpRequest {
                login_id: "alice".into(),
                password: PASSWORD.into(),
                nickname: "alice".into(),
                email: format!("alice@{DOMAIN}"),
                school_id: app.school_id,
                email_code: app.email_code(&format!("alice@{DOMAIN}")).await,
            })
            .await
            .expect("sign up over gRPC")
            .into_inner()
            .user
            .expect("a user");
        assert_eq!(user.login_id, "alice");

        let login = auth
            .login(LoginRequest {
                login_id: "alice".into(),
                password: PASSWORD.into(),
                refresh_token_in_body: true,
            })
            .await
            .expect("log in over gRPC");
        let set_cookie =
            login.metadata().get("set-cookie").expect("the cookie").to_str().unwrap().to_string();
        assert_refresh_cookie(&set_cookie);
        let session = login.into_inner();
        assert_eq!(session.user.map(|u| u.id), Some(user.id));

        let rotated = auth
            .refresh(RefreshRequest {
                refresh_token: session.refresh_token.clone(),
                refresh_token_in_body: true,
            })
            .await
            .expect("refresh over gRPC")
            .into_inner();
        assert_ne!(rotated.refresh_token, session.refresh_token);
        assert_eq!(app.me(&rotated.access_token).await.status, StatusCode::OK);

        let wrong = auth
            .login(LoginRequest {
                login_id: "alice".into(),
                password: "wrong-password-1".into(),
                refresh_token_in_body: false,
            })
            .await
            .expect_err("a wrong password");
        assert_eq!(wrong.code(), tonic::Code::Unauthenticated);
    }
}
