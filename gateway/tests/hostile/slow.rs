//! Clients that send slowly or not at all: each connection is closed by the gateway.

use std::time::Duration;

use campus_testkit::status::json::HttpAnswer;

use crate::harness::{gateway, head};

fn short(c: &mut campus_gateway::Config) {
    c.header_timeout = Duration::from_secs(1);
    c.body_timeout = Duration::from_secs(1);
    c.idle_timeout = Duration::from_secs(1);
}

#[tokio::test]
async fn half_a_request_head_is_closed() {
    let gw = gateway(short).await;
    let mut raw = gw.connect().await;
    raw.send(b"POST /v1/auth/login HTTP/1.1\r\nhost: campus.test\r\ncontent-le").await;
    raw.expect_closed().await;

    // Nothing at all, and the start of an HTTP/2 preface (the protocol is not known yet).
    let mut silent = gw.connect().await;
    silent.expect_closed().await;
    let mut preface = gw.connect().await;
    preface.send(b"PRI * HTTP/2.0\r\n").await;
    preface.expect_closed().await;
}

#[tokio::test]
async fn an_http2_connection_that_never_asks_is_closed() {
    let gw = gateway(short).await;
    let mut raw = gw.connect().await;
    // The whole preface and an empty SETTINGS frame, then nothing.
    raw.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00").await;
    raw.expect_closed().await;
}

#[tokio::test]
async fn a_slow_body_is_answered_408_and_closed() {
    let gw = gateway(short).await;
    let bearer = format!("authorization: {}", gw.bearer());
    let mut raw = gw.connect().await;
    raw.send(
        head("POST", "/v1/boards/1/posts", 1000, &["content-type: application/json", &bearer]).as_bytes(),
    )
    .await;
    raw.send(b"{").await;
    let reply = raw.response().await.expect("an answer");
    reply.refused(408, "BODY_TIMEOUT");
    assert_eq!(reply.header("connection"), Some("close"));
    raw.expect_closed().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let gw = gateway(short).await;
    let mut raw = gw.connect().await;
    for _ in 0..2 {
        raw.send(b"GET /healthz HTTP/1.1\r\nhost: campus.test\r\n\r\n").await;
        let reply = raw.response().await.expect("an answer");
        assert_eq!(reply.status, 200, "kept alive between requests: {reply:?}");
    }
    raw.expect_closed().await;
}
