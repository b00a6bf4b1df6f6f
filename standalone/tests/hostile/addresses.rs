//! The client address (DESIGN §10): a client cannot pick the address the per-address limit on
//! sign-up and login counts by writing `X-Forwarded-For`, with or without trusted proxies.

use campus_testkit::backends;
use campus_testkit::status::json::HttpAnswer;
use reqwest::Method;

use crate::harness::{Answer, Client, Hostile};

/// Sign-ups and logins per minute per address in these tests: one token every 12 s, so the
/// few seconds a test takes refill at most one.
const LIMIT: u32 = 5;
const ATTEMPTS: usize = 10;

/// A sign-up with an empty body: counted by the limit, then refused by the account service
/// without any password hashing.
async fn sign_up(client: &Client, forwarded_for: &str) -> Answer {
    let headers = [("x-forwarded-for", forwarded_for)];
    client.send_with(Method::POST, "/v1/auth/signup", &headers, "application/json", b"{}".to_vec()).await
}

/// How many of `answers` the per-address limit refused (each a proper 429 RATE_LIMITED).
fn rate_limited(answers: &[Answer]) -> usize {
    let limited: Vec<&Answer> = answers.iter().filter(|a| a.status.as_u16() == 429).collect();
    for answer in &limited {
        answer.refused(429, "RATE_LIMITED");
    }
    for answer in answers.iter().filter(|a| a.status.as_u16() != 429) {
        assert_eq!(answer.status.as_u16(), 400, "an empty sign-up is a field error: {answer:?}");
    }
    limited.len()
}

/// Sends [`ATTEMPTS`] sign-ups from `client`, the i-th with `forwarded_for(i)`.
async fn burst(client: &Client, forwarded_for: impl Fn(usize) -> String) -> Vec<Answer> {
    let mut answers = Vec::new();
    for i in 0..ATTEMPTS {
        answers.push(sign_up(client, &forwarded_for(i)).await);
    }
    answers
}

#[tokio::test]
async fn without_trusted_proxies_a_rotated_forwarded_for_is_ignored() {
    for backend in backends() {
        let sys = Hostile::start_with(backend, |c| c.gateway.auth_rate_per_minute = LIMIT).await;
        let attacker = sys.client(2);
        let answers = burst(&attacker, |i| format!("203.0.113.{i}")).await;
        let limited = rate_limited(&answers);
        assert!(limited >= ATTEMPTS - LIMIT as usize - 1, "{backend:?}: only {limited} refused");
        // The limit is the attacker's address's, not everybody's.
        let neighbour = sys.client(3);
        assert_eq!(rate_limited(&[sign_up(&neighbour, "203.0.113.1").await]), 0, "{backend:?}");
        sys.stop().await;
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_only_the_hop_it_appended_counts() {
    for backend in backends() {
        let sys = Hostile::start_with(backend, |c| {
            c.gateway.auth_rate_per_minute = LIMIT;
            c.gateway.trusted_proxies = "127.0.0.1/32".parse().expect("a CIDR");
        })
        .await;
        // The proxy (127.0.0.1) appends the address it saw; the client wrote the rest.
        let proxy = sys.client(1);
        let answers = burst(&proxy, |i| format!("203.0.113.{i}, 10.9.{i}.1, 198.51.100.7")).await;
        let limited = rate_limited(&answers);
        assert!(limited >= ATTEMPTS - LIMIT as usize - 1, "{backend:?}: only {limited} refused");
        // Another client behind the same proxy has its own budget...
        assert_eq!(rate_limited(&[sign_up(&proxy, "198.51.100.8").await]), 0, "{backend:?}");
        // ...and a peer that is no trusted proxy is counted by its own address, whatever it
        // writes in the header.
        let direct = sys.client(4);
        let answers = burst(&direct, |i| format!("198.51.100.{}", 100 + i)).await;
        let limited = rate_limited(&answers);
        assert!(limited >= ATTEMPTS - LIMIT as usize - 1, "{backend:?}: only {limited} refused");
        sys.stop().await;
    }
}
