//! Liveness, readiness and the published keys.

use campus_gateway::Upstreams;
use serde_json::Value;

use crate::helpers::{closed_port, spawn_app, spawn_gateway, spawn_upstream};

#[tokio::test]
async fn healthz_and_readyz_when_everything_is_up() {
    let app = spawn_app().await;
    let response = app.http.get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = app.http.get(format!("{}/readyz", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["upstreams"]["board"], "SERVING");
}

#[tokio::test]
async fn readyz_names_the_upstream_that_is_down() {
    let upstream = spawn_upstream(std::time::Duration::from_secs(1)).await;
    let up = format!("http://{}", upstream.addr);
    let down = format!("http://{}", closed_port().await);
    let app = spawn_gateway(
        Upstreams { account: up.clone(), board: up.clone(), messaging: down, timetable: up },
        Some(upstream),
        |_| {},
    )
    .await;
    let response = app.http.get(format!("{}/readyz", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["upstreams"]["account"], "SERVING");
    assert_ne!(body["upstreams"]["messaging"], "SERVING");
    // still alive
    assert_eq!(app.http.get(format!("{}/healthz", app.url)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn jwks_publishes_the_verification_key() {
    let app = spawn_app().await;
    let response = app.http.get(format!("{}/.well-known/jwks.json", app.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, app.identity.key.jwks());
    assert_eq!(body["keys"][0]["alg"], "EdDSA");
}
