//! Bodies built to cost the gateway: millions of unknown keys, a key of megabytes, a JSON
//! body sent as a form would send it.

use std::net::Ipv4Addr;

use campus_testkit::status::json::{HttpAnswer, MAX_ERROR_BYTES};

use crate::harness::{gateway, head, unknown_keys};

/// About 10 MB of unknown keys.
const HUGE_KEYS: usize = 850_000;

#[tokio::test]
async fn a_huge_body_without_a_token_is_refused_before_it_is_read() {
    // A body timeout far past the read bound: had the gateway waited for the body, the test
    // would fail on that bound instead of getting its answer.
    let gw = gateway(|c| c.body_timeout = std::time::Duration::from_secs(600)).await;
    let body = unknown_keys(HUGE_KEYS);
    for path in ["/v1/boards/1/posts", "/v1/users/me/password"] {
        let mut raw = gw.connect().await;
        raw.send(head("POST", path, body.len(), &["content-type: application/json"]).as_bytes()).await;
        // The first 64 KiB only; the rest never comes.
        raw.send(&body[..64 * 1024]).await;
        let reply = raw.response().await.expect("an answer without the rest of the body");
        reply.refused(401, "UNAUTHENTICATED");
        assert_eq!(reply.header("connection"), Some("close"), "{reply:?}");
        raw.expect_closed().await;
    }
}

#[tokio::test]
async fn a_huge_unknown_key_body_gets_a_small_answer() {
    let gw = gateway(|_| {}).await;
    let body = unknown_keys(HUGE_KEYS);
    assert!(body.len() > 10_000_000);
    let bearer = format!("authorization: {}", gw.bearer());
    // Sign-up is public, so its body is read; a post needs the token first.
    for (path, token) in [("/v1/auth/signup", ""), ("/v1/boards/1/posts", bearer.as_str())] {
        let mut lines = vec!["content-type: application/json"];
        if !token.is_empty() {
            lines.push(token);
        }
        let reply = gw.request(Ipv4Addr::LOCALHOST, &head("POST", path, body.len(), &lines), &body).await;
        reply.refused(400, "INVALID_ARGUMENT");
        let fields = reply.fields();
        assert!((1..=20).contains(&fields.len()), "{path}: {fields:?}");
        assert_eq!(fields[0], "k0", "{}", String::from_utf8_lossy(&reply.body));
    }
}

#[tokio::test]
async fn violations_are_capped_and_a_giant_key_is_cut_short() {
    let gw = gateway(|_| {}).await;
    let bearer = format!("authorization: {}", gw.bearer());
    // Small enough to be diagnosed key by key: 1,000 unknown keys give 20 violations.
    let body = unknown_keys(1000);
    let head1 = head("POST", "/v1/boards/1/posts", body.len(), &["content-type: application/json", &bearer]);
    let reply = gw.request(Ipv4Addr::LOCALHOST, &head1, &body).await;
    reply.refused(400, "INVALID_ARGUMENT");
    assert_eq!(reply.fields().len(), 20, "{:?}", reply.fields());
    assert_eq!(reply.fields()[0], "k0");

    // One key of a megabyte, small and large body paths both.
    for size in [30_000, 1_000_000] {
        let body = format!("{{\"{}\":1}}", "\\u0007k".repeat(size / 7)).into_bytes();
        let head2 =
            head("POST", "/v1/boards/1/posts", body.len(), &["content-type: application/json", &bearer]);
        let reply = gw.request(Ipv4Addr::LOCALHOST, &head2, &body).await;
        reply.refused(400, "INVALID_ARGUMENT");
        let field = &reply.fields()[0];
        assert!(field.chars().count() <= 65 && field.starts_with("?k?k"), "{field}");
        assert!(reply.body.len() < 2 * 1024, "{} bytes", reply.body.len());
    }

    // Unknown query parameters are capped too.
    let query: Vec<String> = (0..2000).map(|i| format!("q{i}=1")).collect();
    let path = format!("/v1/boards/1/posts?{}", query.join("&"));
    let reply = gw.request(Ipv4Addr::LOCALHOST, &head("GET", &path, 0, &[&bearer]), b"").await;
    reply.refused(400, "INVALID_ARGUMENT");
    assert_eq!(reply.fields().len(), 20);
    assert!(reply.body.len() <= MAX_ERROR_BYTES);
}

#[tokio::test]
async fn a_json_body_needs_a_json_content_type() {
    let gw = gateway(|_| {}).await;
    let login = br#"{"loginId": "alice", "password": "quiet-river-campus-42"}"#;
    for content_type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]
    {
        // A cross-site page's Origin is refused before this (403, tested with the auth calls);
        // the media type alone already keeps a form from posting JSON.
        let ct = format!("content-type: {content_type}");
        let reply = gw
            .request(Ipv4Addr::LOCALHOST, &head("POST", "/v1/auth/login", login.len(), &[&ct]), login)
            .await;
        reply.refused(415, "UNSUPPORTED_MEDIA_TYPE");
    }
    let reply =
        gw.request(Ipv4Addr::LOCALHOST, &head("POST", "/v1/auth/login", login.len(), &[]), login).await;
    reply.refused(415, "UNSUPPORTED_MEDIA_TYPE");

    let bearer = format!("authorization: {}", gw.bearer());
    let post = br#"{"title": "t", "content": "c"}"#;
    let reply = gw
        .request(
            Ipv4Addr::LOCALHOST,
            &head("POST", "/v1/boards/1/posts", post.len(), &["content-type: text/plain", &bearer]),
            post,
        )
        .await;
    reply.refused(415, "UNSUPPORTED_MEDIA_TYPE");

    // With a JSON type (parameters allowed) the body is read and the call made: the service
    // is absent here, so it ends UNAVAILABLE rather than 415.
    for content_type in ["application/json", "application/json; charset=utf-8", "Application/JSON"] {
        let ct = format!("content-type: {content_type}");
        let reply = gw
            .request(
                Ipv4Addr::LOCALHOST,
                &head("POST", "/v1/boards/1/posts", post.len(), &[&ct, &bearer]),
                post,
            )
            .await;
        assert_eq!(reply.status, 503, "{reply:?}");
    }
    // No body needs no type.
    let reply = gw.request(Ipv4Addr::LOCALHOST, &head("POST", "/v1/posts/1:like", 0, &[&bearer]), b"").await;
    assert_eq!(reply.status, 503, "{reply:?}");
}
