//! HTTP/JSON transcoding driven by the annotations.

use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn a_path_variable_reaches_the_service_and_json_comes_back() {
    let app = spawn_app().await;
    let bearer = app.bearer();
    let response = app
        .http
        .get(format!("{}/v1/schools/42", app.url))
        .header("authorization", &bearer)
        .header("x-request-id", "req-123")
        .header("x-campus-service-token", "forged")
        .header("cookie", "refresh_token=secret")
        .header("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-123");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"id": "42", "name": "school 42", "emailDomain": "uni.ac.kr"}));

    let seen = app.seen();
    let headers = seen.last().unwrap();
    assert_eq!(headers["authorization"], bearer.as_str());
    assert_eq!(headers["x-request-id"], "req-123");
    assert!(headers.get("x-campus-service-token").is_none(), "the service credential is stripped");
    assert!(headers.get("cookie").is_none(), "cookies stay at the gateway");
    let traceparent = headers["traceparent"].to_str().unwrap();
    assert!(traceparent.starts_with("00-0af7651916cd43dd8448eb211c80319c-"), "same trace: {traceparent}");
    let timeout = headers["grpc-timeout"].to_str().unwrap();
    assert!(timeout.ends_with('m') && timeout.trim_end_matches('m').parse::<u64>().unwrap() <= 30_000);
}

#[tokio::test]
async fn a_request_id_is_made_when_missing() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!("{}/v1/schools/42", app.url))
        .header("authorization", app.bearer())
        .send()
        .await
        .unwrap();
    let id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(id.len() >= 16);
    assert_eq!(app.seen().last().unwrap()["x-request-id"], id.as_str());
}

#[tokio::test]
async fn public_methods_need_no_token_and_ignore_a_stale_one() {
    let app = spawn_app().await;
    for auth in [None, Some("Bearer not-a-jwt")] {
        let mut request = app.http.get(format!("{}/v1/schools", app.url));
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["schools"].as_array().unwrap().len(), 2);
        assert_eq!(body["nextPageToken"], "", "defaults are written out");
    }
    assert!(app.seen().iter().all(|h| h.get("authorization").is_none()));
}

#[tokio::test]
async fn everything_else_needs_a_valid_token() {
    let app = spawn_app().await;
    let forged = campus_testkit::TestIdentity::new().bearer(42, 1);
    for auth in [None, Some("Bearer nope".to_string()), Some(forged)] {
        let mut request = app.http.get(format!("{}/v1/schools/42", app.url));
        if let Some(auth) = &auth {
            request = request.header("authorization", auth);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], 16);
    }
    assert!(app.seen().is_empty(), "refused before reaching the service");
}

#[tokio::test]
async fn create_answers_201_with_the_body_as_the_message() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(format!("{}/v1/schools", app.url))
        .header("authorization", app.bearer())
        .json(&json!({"name": "연세대학교", "emailDomain": "yonsei.ac.kr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"id": "77", "name": "연세대학교", "emailDomain": "yonsei.ac.kr"}));
    // proto field names are accepted too
    let response = app
        .http
        .post(format!("{}/v1/schools", app.url))
        .header("authorization", app.bearer())
        .json(&json!({"name": "x", "email_domain": "x.ac.kr"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

async fn violation(
    app: &crate::helpers::TestGateway,
    method: reqwest::Method,
    path: &str,
    body: &str,
) -> (u16, Value) {
    let response = app
        .http
        .request(method, format!("{}{path}", app.url))
        .header("authorization", app.bearer())
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn bad_input_is_400_with_a_field_violation() {
    let app = spawn_app().await;
    let cases = [
        (reqwest::Method::POST, "/v1/schools", r#"{"name": "x", "nope": 1}"#, "nope"),
        (reqwest::Method::POST, "/v1/schools", r#"{"name": 12}"#, "name"),
        (reqwest::Method::POST, "/v1/schools", r#"{"name": "x""#, "body"),
        (reqwest::Method::GET, "/v1/posts/abc", "", "id"),
        (reqwest::Method::GET, "/v1/schools/99999999999999999999", "", "id"),
        (reqwest::Method::GET, "/v1/lectures?semester=AUTUMN", "", "semester"),
        (reqwest::Method::GET, "/v1/lectures?year=soon", "", "year"),
    ];
    for (method, path, body, field) in cases {
        let (status, json) = violation(&app, method, path, body).await;
        assert_eq!(status, 400, "{path} {body}");
        assert_eq!(json["code"], 3);
        let details = json["details"].as_array().unwrap();
        let bad = details.iter().find(|d| d["@type"] == "type.googleapis.com/google.rpc.BadRequest").unwrap();
        assert_eq!(bad["fieldViolations"][0]["field"], field, "{path} {body}: {json}");
    }
    assert!(app.seen().is_empty());
}

#[tokio::test]
async fn query_parameters_enums_and_optional_fields() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!(
            "{}/v1/lectures?year=2025&semester=SEMESTER_SPRING&day=DAY_OF_WEEK_MONDAY&page_size=5&credits=3&query=%EC%9E%90%EB%A3%8C+%EA%B5%AC%EC%A1%B0",
            app.url
        ))
        .header("authorization", app.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["nextPageToken"], "2025/1/1/5/Some(3)/자료 구조");
    assert_eq!(body["lectures"], json!([]));
}

#[tokio::test]
async fn empty_responses_are_204() {
    let app = spawn_app().await;
    let response = app
        .http
        .delete(format!("{}/v1/users/me", app.url))
        .header("authorization", app.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn http_body_both_ways() {
    let app = spawn_app().await;
    let png = vec![0x89u8; 4096];
    let response = app
        .http
        .post(format!("{}/v1/posts/5/photos", app.url))
        .header("authorization", app.bearer())
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({"id": "4096", "url": "/v1/photos/5", "contentType": "image/png"}));

    let response = app
        .http
        .get(format!("{}/v1/photos/9", app.url))
        .header("authorization", app.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"png bytes of 9");

    let csv = "code,name,professor,credits,times\nCS101,Intro,Kim,3,Mon 09:00-10:15 R101\nCS102,DS,Lee,3,Tue 09:00-10:15 R102\n";
    let response = app
        .http
        .post(format!("{}/v1/lectures:import?schoolId=1&year=2025&semester=SEMESTER_FALL", app.url))
        .header("authorization", app.bearer())
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"imported": 2}));
}

#[tokio::test]
async fn server_streams_are_newline_delimited_json() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(format!("{}/v1/conversations:stream", app.url))
        .header("authorization", app.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["message"]["content"], "message 3");
    assert_eq!(lines[0]["message"]["conversationId"], "9");
}

#[tokio::test]
async fn unknown_routes_404_and_wrong_methods_405() {
    let app = spawn_app().await;
    let response = app.http.get(format!("{}/v1/nothing-here", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], 5);

    let response = app.http.put(format!("{}/v1/schools/1", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");

    let response = app.http.get(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 404, "no web client configured");
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let app = spawn_app_with(|c| c.max_body_bytes = 1024).await;
    let response = app
        .http
        .post(format!("{}/v1/posts/5/photos", app.url))
        .header("authorization", app.bearer())
        .header("content-type", "image/png")
        .body(vec![0u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.headers()["connection"], "close", "the unread body makes the connection unusable");
    let next = app.http.get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert_eq!(next.status(), 200, "the client's next request goes out on a fresh connection");
    // a chunked body without a length is cut off at the limit as well
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let chunk = format!("200\r\n{}\r\n", "a".repeat(0x200));
    let head = format!(
        "POST /v1/posts/5/photos HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\ncontent-type: image/png\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        app.bearer()
    );
    let request = format!("{head}{}0\r\n\r\n", chunk.repeat(8));
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await.unwrap();
    let mut reply = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut reply).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(app.seen().is_empty());
}

#[tokio::test]
async fn a_web_fallback_serves_other_get_paths() {
    let web = axum::Router::new().route("/", axum::routing::get(|| async { "campus web" }));
    let app = spawn_app_with(move |c| c.web = Some(web)).await;
    let response = app.http.get(format!("{}/", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "campus web");
    let response = app.http.get(format!("{}/v1/nothing", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 404, "API paths never fall through to the web client");
}
