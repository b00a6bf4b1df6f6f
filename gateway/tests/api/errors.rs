//! gRPC → HTTP error mapping, code by code, plus timeouts and unreachable upstreams.

use std::time::{Duration, Instant};

use campus_gateway::Upstreams;
use campus_proto::account::v1::GetSchoolRequest;
use campus_proto::account::v1::account_service_client::AccountServiceClient;
use serde_json::Value;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{closed_port, spawn_app, spawn_app_with, spawn_gateway, spawn_upstream};

/// DESIGN §4, and CANCELLED (tonic's server-side timeout) as a gateway timeout.
const TABLE: &[(Code, u16)] = &[
    (Code::Cancelled, 504),
    (Code::Unknown, 500),
    (Code::InvalidArgument, 400),
    (Code::DeadlineExceeded, 504),
    (Code::NotFound, 404),
    (Code::AlreadyExists, 409),
    (Code::PermissionDenied, 403),
    (Code::ResourceExhausted, 429),
    (Code::FailedPrecondition, 400),
    (Code::Aborted, 409),
    (Code::OutOfRange, 400),
    (Code::Unimplemented, 501),
    (Code::Internal, 500),
    (Code::Unavailable, 503),
    (Code::DataLoss, 500),
    (Code::Unauthenticated, 401),
];

#[tokio::test]
async fn every_grpc_code_maps_to_its_http_status_with_details() {
    let app = spawn_app().await;
    for (code, http) in TABLE {
        let number = *code as i32;
        let response = app
            .http
            .get(format!("{}/v1/schools/{number}", app.url))
            .header("authorization", app.bearer())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), *http, "{code:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], number, "{code:?}");
        let details = body["details"].as_array().unwrap();
        if *code == Code::InvalidArgument {
            assert_eq!(body["message"], "invalid request: name: must not be empty");
            assert_eq!(details[0]["@type"], "type.googleapis.com/google.rpc.BadRequest");
            assert_eq!(details[0]["fieldViolations"][0]["field"], "name");
            assert_eq!(details[0]["fieldViolations"][0]["description"], "must not be empty");
        } else {
            assert_eq!(body["message"], format!("failed with {code:?}"));
            assert_eq!(details[0]["@type"], "type.googleapis.com/google.rpc.ErrorInfo");
            assert_eq!(details[0]["reason"], format!("REASON_{number}"));
            assert_eq!(details[0]["domain"], "campus");
        }
    }
}

#[tokio::test]
async fn grpc_clients_get_codes_and_details_unchanged() {
    let app = spawn_app().await;
    let mut client = AccountServiceClient::new(app.channel());
    for (code, _) in TABLE {
        let status = client.get_school(app.request(GetSchoolRequest { id: *code as i64 })).await.unwrap_err();
        assert_eq!(status.code(), *code);
        let details = status.get_error_details();
        if *code == Code::InvalidArgument {
            assert_eq!(details.bad_request().unwrap().field_violations[0].field, "name");
        } else {
            assert_eq!(details.error_info().unwrap().reason, format!("REASON_{}", *code as i32));
        }
    }
}

#[tokio::test]
async fn a_server_side_timeout_is_504() {
    // The upstream gives up after 300 ms (CANCELLED); the gateway would wait 30 s.
    let app = spawn_app().await;
    let started = Instant::now();
    let response = app
        .http
        .get(format!("{}/v1/schools/1000", app.url))
        .header("authorization", app.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], Code::Cancelled as i32);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn the_gateways_own_deadline_is_504_too() {
    let app = spawn_app_with(|c| c.upstream_timeout = Duration::from_millis(100)).await;
    let started = Instant::now();
    let response = app
        .http
        .get(format!("{}/v1/schools/1000", app.url))
        .header("authorization", app.bearer())
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.json::<Value>().await.unwrap();
    assert_eq!(status, 504, "{body}");
    let code = body["code"].as_i64().unwrap();
    assert!(code == Code::DeadlineExceeded as i64 || code == Code::Cancelled as i64, "{code}");
    assert!(started.elapsed() < Duration::from_millis(280), "{:?}", started.elapsed());
    // The deadline travels upstream as grpc-timeout.
    assert_eq!(app.seen().last().unwrap()["grpc-timeout"], "100m");
}

#[tokio::test]
async fn a_client_deadline_is_forwarded_and_capped() {
    let app = spawn_app().await;
    let mut client = AccountServiceClient::new(app.channel());
    let mut request = app.request(GetSchoolRequest { id: 1000 });
    request.set_timeout(Duration::from_millis(150));
    let started = Instant::now();
    let status = client.get_school(request).await.unwrap_err();
    assert!(matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled), "{status:?}");
    assert!(started.elapsed() < Duration::from_millis(290));
    let timeout = app.seen().last().unwrap()["grpc-timeout"].to_str().unwrap().to_string();
    let millis: u64 = timeout.trim_end_matches('m').parse().unwrap();
    assert!(millis <= 150, "{timeout}");

    let mut request = app.request(GetSchoolRequest { id: 20 });
    request.set_timeout(Duration::from_secs(3600));
    client.get_school(request).await.unwrap();
    assert_eq!(app.seen().last().unwrap()["grpc-timeout"], "30000m", "capped by the gateway");
}

#[tokio::test]
async fn a_down_upstream_is_503_quickly() {
    let upstream = spawn_upstream(Duration::from_secs(1)).await;
    let up = format!("http://{}", upstream.addr);
    let down = format!("http://{}", closed_port().await);
    let app = spawn_gateway(
        Upstreams { account: up.clone(), board: down, messaging: up.clone(), timetable: up },
        Some(upstream),
        |_| {},
    )
    .await;
    let started = Instant::now();
    let response = app
        .http
        .get(format!("{}/v1/posts/1", app.url))
        .header("authorization", app.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], Code::Unavailable as i32);
    assert_eq!(body["message"], "board service unavailable");
    assert_eq!(body["details"][0]["reason"], "UNAVAILABLE", "{body}");
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    // the others still work
    let response = app
        .http
        .get(format!("{}/v1/schools/20", app.url))
        .header("authorization", app.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_unroutable_upstream_host_fails_within_the_connect_timeout() {
    // 10.255.255.1 is not routed: the SYN goes nowhere, only the connect timeout ends it.
    let app = spawn_gateway(
        Upstreams {
            account: "http://10.255.255.1:50051".into(),
            board: "http://10.255.255.1:50052".into(),
            messaging: "http://10.255.255.1:50053".into(),
            timetable: "http://10.255.255.1:50054".into(),
        },
        None,
        |c| c.connect_timeout = Duration::from_millis(300),
    )
    .await;
    let started = Instant::now();
    let response = app
        .http
        .get(format!("{}/v1/schools/1", app.url))
        .header("authorization", app.bearer())
        .send()
        .await
        .unwrap();
    assert!(matches!(response.status().as_u16(), 503 | 504), "{}", response.status());
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}
