//! The global budget of buffered body bytes: past it new bodies get 503 OVERLOADED, and
//! bodies that are still arriving hold no in-flight permit.

use std::net::Ipv4Addr;
use std::time::Duration;

use campus_testkit::status::json::HttpAnswer;

use crate::harness::{Gateway, Raw, Reply, gateway, head};

/// A request with a body of `length` bytes that is no valid post: admitted, it is a 400.
async fn probe(gw: &Gateway, length: usize) -> Reply {
    probe_from(gw, Ipv4Addr::LOCALHOST, length).await
}

/// A probe like [`probe`], from another address.
async fn probe_from(gw: &Gateway, from: Ipv4Addr, length: usize) -> Reply {
    let bearer = format!("authorization: {}", gw.bearer());
    let body = format!("{{\"bogus\": \"{}\"}}", "x".repeat(length - 13));
    assert_eq!(body.len(), length);
    let head = head("POST", "/v1/boards/1/posts", length, &["content-type: application/json", &bearer]);
    gw.request(from, &head, body.as_bytes()).await
}

/// A post whose body of `length` bytes starts and then stalls.
async fn stalled(gw: &Gateway, from: Ipv4Addr, length: usize) -> Raw {
    let bearer = format!("authorization: {}", gw.bearer());
    let mut raw = gw.connect_from(from).await;
    let head = head("POST", "/v1/boards/1/posts", length, &["content-type: application/json", &bearer]);
    raw.send(head.as_bytes()).await;
    raw.send(b"{\"title\": \"").await;
    raw
}

/// Probes until the answer is (or is no longer) an overload, within a bound.
async fn until(gw: &Gateway, length: usize, overloaded: bool) -> Reply {
    for _ in 0..200 {
        let reply = probe(gw, length).await;
        if (reply.reason() == "OVERLOADED") == overloaded {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the budget never became {}", if overloaded { "exhausted" } else { "free" });
}

#[tokio::test]
async fn past_the_body_budget_new_bodies_get_503_overloaded() {
    let gw = gateway(|c| {
        c.body_budget_bytes = 64 * 1024;
        c.body_timeout = Duration::from_secs(60);
        // Bodies that are still arriving must not fill the in-flight limit.
        c.concurrency_limit = 2;
    })
    .await;
    let free = probe(&gw, 8000).await;
    free.refused(400, "INVALID_ARGUMENT");

    // Six stalled bodies of 10,000 bytes hold 60,000 of the 65,536.
    let mut holders = Vec::new();
    for i in 0..6 {
        holders.push(stalled(&gw, Ipv4Addr::new(127, 0, 1, i + 1), 10_000).await);
    }
    let refused = until(&gw, 8000, true).await;
    refused.refused(503, "OVERLOADED");
    assert_eq!(refused.json()["code"], 14, "UNAVAILABLE: {refused:?}");

    // A body that fits the rest is served, although six calls are open and only two may be
    // in flight: their bodies have not arrived, so they hold no permit.
    probe(&gw, 4000).await.refused(400, "INVALID_ARGUMENT");

    drop(holders);
    until(&gw, 8000, false).await.refused(400, "INVALID_ARGUMENT");
}

#[tokio::test]
async fn one_clients_stalled_bodies_leave_the_budget_to_the_others() {
    let gw = gateway(|c| {
        c.body_budget_bytes = 64 * 1024;
        c.body_budget_per_ip_bytes = 24 * 1024;
        c.body_timeout = Duration::from_secs(60);
    })
    .await;
    let greedy = Ipv4Addr::new(127, 0, 2, 1);

    // Two stalled 10,000-byte bodies fill most of the greedy address's share; its third
    // is refused, although the global budget has room for four more.
    let holders = vec![stalled(&gw, greedy, 10_000).await, stalled(&gw, greedy, 10_000).await];
    let mut refused = None;
    for _ in 0..200 {
        let reply = probe_from(&gw, greedy, 8000).await;
        if reply.reason() == "OVERLOADED" {
            refused = Some(reply);
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    refused.expect("the greedy address's share is spent").refused(503, "OVERLOADED");

    // Everyone else still gets their bodies read.
    probe(&gw, 8000).await.refused(400, "INVALID_ARGUMENT");
    probe_from(&gw, Ipv4Addr::new(127, 0, 2, 2), 8000).await.refused(400, "INVALID_ARGUMENT");
    drop(holders);
}
