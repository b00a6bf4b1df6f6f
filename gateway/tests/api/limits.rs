//! Load shedding.

use std::time::{Duration, Instant};

use campus_proto::account::v1::GetSchoolRequest;
use campus_proto::account::v1::account_service_client::AccountServiceClient;
use serde_json::Value;
use tonic::Code;

use crate::helpers::spawn_app_with;

#[tokio::test]
async fn a_full_gateway_sheds_load_instead_of_queueing() {
    let app = spawn_app_with(|c| c.concurrency_limit = 1).await;
    // One slow call (the upstream cancels it after 300 ms) holds the only slot.
    let slow = {
        let http = app.http.clone();
        let url = format!("{}/v1/schools/1000", app.url);
        let bearer = app.bearer();
        tokio::spawn(
            async move { http.get(url).header("authorization", bearer).send().await.unwrap().status() },
        )
    };
    let deadline = Instant::now() + Duration::from_secs(2);
    while app.seen().is_empty() {
        assert!(Instant::now() < deadline, "slow call never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let response = app
        .http
        .get(format!("{}/v1/schools/20", app.url))
        .header("authorization", app.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let body = response.json::<Value>().await.unwrap();
    assert_eq!(body["code"], Code::ResourceExhausted as i32);
    assert_eq!(body["details"][0]["reason"], "OVERLOADED", "{body}");
    assert!(started.elapsed() < Duration::from_millis(200), "answered at once");

    let status = AccountServiceClient::new(app.channel())
        .get_school(app.request(GetSchoolRequest { id: 20 }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);

    // Probes are never shed.
    assert_eq!(app.http.get(format!("{}/healthz", app.url)).send().await.unwrap().status(), 200);
    assert_eq!(slow.await.unwrap(), 504);
    let response = app
        .http
        .get(format!("{}/v1/schools/20", app.url))
        .header("authorization", app.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "capacity is back");
}
