//! The refresh token and the auth calls under cross-site attack (DESIGN §3, §10): a page on
//! another origin cannot sign a browser in or refresh its session, a cookie-authenticated
//! refresh never puts the HttpOnly token where a script can read it, and in Secure mode only
//! the `__Secure-` cookie counts.

use campus_proto::auth::v1::LoginRequest;
use campus_proto::auth::v1::auth_service_client::AuthServiceClient;
use campus_testkit::backends;
use campus_testkit::status::json::HttpAnswer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::{Answer, Client, Hostile, PASSWORD};

const ALLOWED: &str = "https://campus.example";

/// The `name=value` pair of the answer's Set-Cookie.
fn cookie_pair(answer: &Answer) -> String {
    let header = answer.headers.get("set-cookie").expect("a Set-Cookie").to_str().expect("ASCII");
    header.split(';').next().expect("a pair").to_string()
}

async fn post(client: &Client, path: &str, headers: &[(&str, &str)], body: Value) -> Answer {
    let body = serde_json::to_vec(&body).expect("JSON");
    client.send_with(Method::POST, path, headers, "application/json", body).await
}

#[tokio::test]
async fn a_cookie_refresh_never_returns_the_token_in_the_body() {
    for backend in backends() {
        let sys = Hostile::start(backend).await;
        sys.sign_up(2, "minji01").await;
        let client = sys.client(2);
        let login = client.login("minji01", PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{login:?}");
        let cookie = cookie_pair(&login);
        assert!(cookie.starts_with("refresh_token="), "{cookie}");

        // A script asks for the token in the body while the browser sends the cookie.
        let refreshed =
            post(&client, "/v1/auth/refresh", &[("cookie", &cookie)], json!({"refreshTokenInBody": true}))
                .await;
        assert_eq!(refreshed.status, StatusCode::OK, "{backend:?}: {refreshed:?}");
        let body = refreshed.json();
        assert!(body["accessToken"].as_str().is_some_and(|t| !t.is_empty()), "{body}");
        assert!(body["refreshToken"].as_str().unwrap_or_default().is_empty(), "{backend:?}: leaked {body}");
        let rotated = cookie_pair(&refreshed);
        assert_ne!(rotated, cookie, "the cookie is rotated");

        // A client that sent its token in the body gets the next one there.
        let login = post(
            &client,
            "/v1/auth/login",
            &[],
            json!({"loginId": "minji01", "password": PASSWORD, "refreshTokenInBody": true}),
        )
        .await;
        let token = login.json()["refreshToken"].as_str().expect("asked for at login").to_string();
        let refreshed = post(&client, "/v1/auth/refresh", &[], json!({"refreshToken": token})).await;
        assert_eq!(refreshed.status, StatusCode::OK, "{refreshed:?}");
        assert!(refreshed.json()["refreshToken"].as_str().is_some_and(|t| !t.is_empty() && t != token));
        sys.stop().await;
    }
}

#[tokio::test]
async fn auth_calls_from_a_foreign_origin_are_refused_before_the_body() {
    for backend in backends() {
        let sys = Hostile::start_with(backend, |c| c.gateway.allowed_origins = vec![ALLOWED.into()]).await;
        sys.sign_up(2, "minji01").await;
        let client = sys.client(2);
        let credentials = serde_json::to_vec(&json!({"loginId": "minji01", "password": PASSWORD})).unwrap();
        for origin in ["https://evil.example", "null", "https://campus.example.evil.example"] {
            let headers = [("origin", origin)];
            // What a cross-site form can send: text/plain, no preflight.
            let form = client
                .send_with(Method::POST, "/v1/auth/login", &headers, "text/plain", credentials.clone())
                .await;
            form.refused(403, "ORIGIN_NOT_ALLOWED");
            let json = client
                .send_with(Method::POST, "/v1/auth/login", &headers, "application/json", credentials.clone())
                .await;
            json.refused(403, "ORIGIN_NOT_ALLOWED");
            // Sign-up and refresh too, and a body that is no JSON at all is not even read.
            for path in ["/v1/auth/signup", "/v1/auth/refresh", "/v1/auth/logout"] {
                let answer =
                    client.send_with(Method::POST, path, &headers, "application/json", b"{{{".to_vec()).await;
                answer.refused(403, "ORIGIN_NOT_ALLOWED");
            }
        }
        // Over gRPC (and so gRPC-web) the same: PERMISSION_DENIED, no cookie.
        let mut auth = AuthServiceClient::new(campus_testkit::channel(sys.system.gateway_addr));
        let mut request = tonic::Request::new(LoginRequest {
            login_id: "minji01".into(),
            password: PASSWORD.into(),
            refresh_token_in_body: true,
        });
        request.metadata_mut().insert("origin", "https://evil.example".parse().unwrap());
        let status = auth.login(request).await.expect_err("a foreign origin");
        assert_eq!(status.code(), tonic::Code::PermissionDenied, "{backend:?}: {status:?}");
        assert!(status.metadata().get("set-cookie").is_none());
        // The allowed origin, and a client that sends no Origin (not a browser), sign in.
        for headers in [&[("origin", ALLOWED)][..], &[]] {
            let login = client
                .send_with(Method::POST, "/v1/auth/login", headers, "application/json", credentials.clone())
                .await;
            assert_eq!(login.status, StatusCode::OK, "{backend:?}: {login:?}");
            assert!(login.headers.get("set-cookie").is_some());
        }
        sys.stop().await;
    }
}

#[tokio::test]
async fn in_secure_mode_only_the_prefixed_cookie_counts() {
    for backend in backends() {
        let sys = Hostile::start_with(backend, |c| c.gateway.secure_cookie = true).await;
        sys.sign_up(2, "minji01").await;
        let client = sys.client(2);
        let login = client.login("minji01", PASSWORD).await;
        let cookie = cookie_pair(&login);
        let token = cookie.strip_prefix("__Secure-refresh_token=").expect("the prefixed cookie").to_string();

        // The same token under the name an attacker on plain HTTP or a sibling domain can set.
        let planted = format!("refresh_token={token}");
        let answer = post(&client, "/v1/auth/refresh", &[("cookie", &planted)], json!({})).await;
        answer.refused(401, "UNAUTHENTICATED");
        let answer = post(&client, "/v1/auth/logout", &[("cookie", &planted)], json!({})).await;
        answer.refused(401, "UNAUTHENTICATED");

        // The token is untouched by that and still works under its own name.
        let refreshed = post(&client, "/v1/auth/refresh", &[("cookie", &cookie)], json!({})).await;
        assert_eq!(refreshed.status, StatusCode::OK, "{backend:?}: {refreshed:?}");
        assert!(cookie_pair(&refreshed).starts_with("__Secure-refresh_token="));
        sys.stop().await;
    }
}

#[tokio::test]
async fn refresh_and_logout_do_not_count_toward_the_per_address_limit() {
    for backend in backends() {
        // Three public auth calls a minute: the code request, the sign-up and the login below
        // spend them.
        let sys = Hostile::start_with(backend, |c| c.gateway.auth_rate_per_minute = 3).await;
        sys.sign_up(2, "minji01").await;
        let client = sys.client(2);
        let login = client.login("minji01", PASSWORD).await;
        assert_eq!(login.status, StatusCode::OK, "{login:?}");
        let mut cookie = cookie_pair(&login);
        // A browser on a shared address keeps refreshing its session all day.
        for _ in 0..6 {
            let refreshed = post(&client, "/v1/auth/refresh", &[("cookie", &cookie)], json!({})).await;
            assert_eq!(refreshed.status, StatusCode::OK, "{backend:?}: {refreshed:?}");
            cookie = cookie_pair(&refreshed);
        }
        let logout = post(&client, "/v1/auth/logout", &[("cookie", &cookie)], json!({})).await;
        assert_eq!(logout.status, StatusCode::NO_CONTENT, "{backend:?}: {logout:?}");
        // Logins do count: the budget is spent.
        client.login("minji01", PASSWORD).await.refused(429, "RATE_LIMITED");
        sys.stop().await;
    }
}
