//! The in-process AuthService through the gateway: status codes, cookies, rate limit.

use campus_proto::auth::v1::LoginRequest;
use campus_proto::auth::v1::auth_service_client::AuthServiceClient;
use serde_json::{Value, json};
use tonic::Code;

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn signup_is_201_and_login_sets_the_cookie() {
    let app = spawn_app_with(|c| c.auth_rate_per_minute = 100).await;
    let response = app
        .http
        .post(format!("{}/v1/auth/signup", app.url))
        .json(&json!({"loginId": "alice", "password": "correct horse", "nickname": "앨리스",
                      "email": "alice@uni.ac.kr", "schoolId": "1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["loginId"], "alice");
    assert_eq!(body["user"]["role"], "ROLE_USER");
    assert_eq!(body["user"]["createdAt"], "2023-11-14T22:13:20Z");

    let response = app
        .http
        .post(format!("{}/v1/auth/login", app.url))
        .header("origin", "http://localhost:8080")
        .json(&json!({"loginId": "alice", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("Path=/v1/auth"), "{cookie}");
    let body: Value = response.json().await.unwrap();
    let token = body["accessToken"].as_str().unwrap();
    // The token the gateway issued opens the other routes.
    let response = app
        .http
        .get(format!("{}/v1/schools/20", app.url))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let response = app
        .http
        .post(format!("{}/v1/auth/login", app.url))
        .json(&json!({"loginId": "alice", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn auth_calls_are_rate_limited_per_ip() {
    let app = spawn_app_with(|c| c.auth_rate_per_minute = 3).await;
    for _ in 0..3 {
        let response = app
            .http
            .post(format!("{}/v1/auth/login", app.url))
            .json(&json!({"loginId": "alice", "password": "wrong"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let response = app
        .http
        .post(format!("{}/v1/auth/login", app.url))
        .json(&json!({"loginId": "alice", "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["details"][0]["reason"], "RATE_LIMITED");
    // gRPC shares the bucket
    let status = AuthServiceClient::new(app.channel())
        .login(LoginRequest {
            login_id: "alice".into(),
            password: "correct horse".into(),
            refresh_token_in_body: true,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    // other routes are not limited
    let response = app
        .http
        .get(format!("{}/v1/schools/20", app.url))
        .header("authorization", app.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
