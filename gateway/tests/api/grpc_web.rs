//! gRPC-web over HTTP/1.1, binary and text, unary and server streaming; and CORS.

use base64::Engine;
use campus_proto::account::v1::{GetSchoolRequest, School};
use campus_proto::messaging::v1::{StreamMessagesRequest, StreamMessagesResponse};
use prost::Message;

use crate::helpers::{decode_web_text, grpc_web_frame, parse_grpc_web, spawn_app, spawn_app_with};

#[tokio::test]
async fn binary_unary_over_http1() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(format!("{}/campus.account.v1.AccountService/GetSchool", app.url))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("authorization", app.bearer())
        .body(grpc_web_frame(&GetSchoolRequest { id: 31 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/grpc-web"));
    let reply = parse_grpc_web(&response.bytes().await.unwrap());
    assert_eq!(reply.trailer("grpc-status"), Some("0"));
    let school = School::decode(reply.messages[0].as_slice()).unwrap();
    assert_eq!(school.name, "school 31");
}

#[tokio::test]
async fn text_mode_unary() {
    let app = spawn_app().await;
    let body = base64::engine::general_purpose::STANDARD.encode(grpc_web_frame(&GetSchoolRequest { id: 32 }));
    let response = app
        .http
        .post(format!("{}/campus.account.v1.AccountService/GetSchool", app.url))
        .header("content-type", "application/grpc-web-text")
        .header("accept", "application/grpc-web-text")
        .header("authorization", app.bearer())
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/grpc-web-text"));
    let raw = response.bytes().await.unwrap();
    let reply = parse_grpc_web(&decode_web_text(&raw));
    assert_eq!(reply.trailer("grpc-status"), Some("0"), "{reply:?}");
    assert_eq!(School::decode(reply.messages[0].as_slice()).unwrap().name, "school 32");
}

#[tokio::test]
async fn server_streaming_over_grpc_web() {
    let app = spawn_app().await;
    for text in [false, true] {
        let frame = grpc_web_frame(&StreamMessagesRequest {});
        let (content_type, body) = if text {
            (
                "application/grpc-web-text",
                base64::engine::general_purpose::STANDARD.encode(frame).into_bytes(),
            )
        } else {
            ("application/grpc-web+proto", frame)
        };
        let response = app
            .http
            .post(format!("{}/campus.messaging.v1.MessagingService/StreamMessages", app.url))
            .header("content-type", content_type)
            .header("accept", content_type)
            .header("authorization", app.bearer())
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with(content_type));
        let bytes = response.bytes().await.unwrap();
        let bytes = if text { decode_web_text(&bytes) } else { bytes.to_vec() };
        let reply = parse_grpc_web(&bytes);
        assert_eq!(reply.messages.len(), 3, "text={text}");
        assert_eq!(reply.trailer("grpc-status"), Some("0"));
        let last = StreamMessagesResponse::decode(reply.messages[2].as_slice()).unwrap();
        assert_eq!(last.message.unwrap().content, "message 3");
    }
}

#[tokio::test]
async fn errors_carry_status_and_details() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(format!("{}/campus.account.v1.AccountService/GetSchool", app.url))
        .header("content-type", "application/grpc-web+proto")
        .header("authorization", app.bearer())
        .body(grpc_web_frame(&GetSchoolRequest { id: 9 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    let reply = parse_grpc_web(&response.bytes().await.unwrap());
    let status = headers
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_string())
        .or_else(|| reply.trailer("grpc-status").map(str::to_string));
    assert_eq!(status.as_deref(), Some("9"));
    let details = headers.get("grpc-status-details-bin").is_some()
        || reply.trailer("grpc-status-details-bin").is_some();
    assert!(details, "details travel to the browser");

    // No token: refused at the gateway.
    let response = app
        .http
        .post(format!("{}/campus.account.v1.AccountService/GetSchool", app.url))
        .header("content-type", "application/grpc-web+proto")
        .body(grpc_web_frame(&GetSchoolRequest { id: 20 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["grpc-status"], "16");
}

#[tokio::test]
async fn cors_preflight_and_exposed_headers() {
    let app = spawn_app().await;
    let response = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/campus.account.v1.AccountService/GetSchool", app.url))
        .header("origin", "http://localhost:8080")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type,x-grpc-web,authorization,grpc-timeout")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], "http://localhost:8080");
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let allowed = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed.contains("x-grpc-web") && allowed.contains("authorization"), "{allowed}");

    let response = app
        .http
        .post(format!("{}/campus.account.v1.AccountService/GetSchool", app.url))
        .header("origin", "http://localhost:8080")
        .header("content-type", "application/grpc-web+proto")
        .header("authorization", app.bearer())
        .body(grpc_web_frame(&GetSchoolRequest { id: 20 }))
        .send()
        .await
        .unwrap();
    let exposed = response.headers()["access-control-expose-headers"].to_str().unwrap();
    for name in ["grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id"] {
        assert!(exposed.contains(name), "{name} not in {exposed}");
    }

    let response = app
        .http
        .request(reqwest::Method::OPTIONS, format!("{}/v1/schools", app.url))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(response.headers().get("access-control-allow-origin").is_none());
}

/// Browsers send the refresh cookie (Path=/v1/auth) only under /v1/auth, so gRPC-web clients
/// reach the auth service there; nothing else is reachable under that prefix.
#[tokio::test]
async fn the_auth_service_answers_grpc_web_under_the_cookie_path() {
    use campus_proto::auth::v1::{LoginRequest, RefreshRequest, Session};

    let app = spawn_app_with(|c| c.auth_rate_per_minute = 100).await;
    let call = |path: &str, body: Vec<u8>, headers: &[(&str, &str)]| {
        let mut request = app
            .http
            .post(format!("{}{path}", app.url))
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let login =
        LoginRequest { login_id: "alice".into(), password: "correct horse".into(), ..Default::default() };
    let response = call(
        "/v1/auth/campus.auth.v1.AuthService/Login",
        grpc_web_frame(&login),
        &[("origin", "http://localhost:8080")],
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("__Secure-refresh_token=") && cookie.contains("Path=/v1/auth"), "{cookie}");
    let reply = parse_grpc_web(&response.bytes().await.unwrap());
    assert_eq!(reply.trailer("grpc-status"), Some("0"), "{reply:?}");
    let session = Session::decode(reply.messages[0].as_slice()).unwrap();
    assert_eq!(session.user.unwrap().id, 5);
    assert!(session.refresh_token.is_empty(), "a browser session keeps the token in the cookie only");

    // The cookie reaches the auth service through the prefixed path: from a foreign origin
    // it is refused by the CSRF check, which only a cookie-carrying request meets.
    let token = cookie.split(';').next().unwrap();
    let refresh = grpc_web_frame(&RefreshRequest::default());
    let response = call(
        "/v1/auth/campus.auth.v1.AuthService/Refresh",
        refresh.clone(),
        &[("cookie", token), ("origin", "https://evil.example")],
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["grpc-status"], "7", "PERMISSION_DENIED");
    assert!(response.headers().get("set-cookie").is_none());

    // Other services are not reachable under the cookie path.
    let response = call(
        "/v1/auth/campus.account.v1.AccountService/GetSchool",
        grpc_web_frame(&GetSchoolRequest { id: 20 }),
        &[("authorization", &app.bearer())],
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["grpc-status"], "12", "UNIMPLEMENTED");
}
