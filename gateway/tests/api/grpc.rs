//! gRPC through the gateway: forwarding, streaming, internal services, health, reflection.

use std::time::{Duration, Instant};

use campus_proto::account::v1::account_internal_service_client::AccountInternalServiceClient;
use campus_proto::account::v1::account_service_client::AccountServiceClient;
use campus_proto::account::v1::{GetSchoolRequest, GetUsersRequest, ListSchoolsRequest};
use campus_proto::messaging::v1::StreamMessagesRequest;
use campus_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use futures::StreamExt;
use secrecy::ExposeSecret;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::helpers::{closed_port, spawn_app, spawn_gateway};

#[tokio::test]
async fn unary_calls_are_forwarded_with_context() {
    let app = spawn_app().await;
    let mut client = AccountServiceClient::new(app.channel());
    let mut request = app.request(GetSchoolRequest { id: 20 });
    let bearer = request.metadata().get("authorization").unwrap().clone();
    request.metadata_mut().insert("x-campus-service-token", "forged".parse().unwrap());
    request
        .metadata_mut()
        .insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
    let response = client.get_school(request).await.unwrap();
    assert!(response.metadata().get("x-request-id").is_some());
    assert_eq!(response.into_inner().name, "school 20");
    let seen = app.seen();
    let headers = seen.last().unwrap();
    assert!(headers.get("x-campus-service-token").is_none());
    // Without an OpenTelemetry exporter the gateway's span has no context of its own, so
    // the caller's trace context passes through unchanged.
    let traceparent = headers["traceparent"].to_str().unwrap();
    assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{traceparent}");
    assert!(headers.get("x-request-id").is_some());
    assert_eq!(headers["authorization"], bearer.to_str().unwrap());
}

#[tokio::test]
async fn tokens_are_checked_at_the_gateway() {
    let app = spawn_app().await;
    let mut client = AccountServiceClient::new(app.channel());
    let status = client.get_school(GetSchoolRequest { id: 20 }).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let schools = client.list_schools(ListSchoolsRequest::default()).await.unwrap().into_inner();
    assert_eq!(schools.schools.len(), 2, "ListSchools is public");
}

#[tokio::test]
async fn internal_services_are_never_routed() {
    let app = spawn_app().await;
    let mut client = AccountInternalServiceClient::new(app.channel());
    let request = app.identity.service_request(GetUsersRequest::default(), Some((42, 1)));
    assert!(request.metadata().get("x-campus-service-token").is_some());
    let status = client.get_users(request).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(app.seen().is_empty());
    // not over HTTP either
    let response = app
        .http
        .post(format!("{}/campus.account.v1.AccountInternalService/GetUsers", app.url))
        .header("x-campus-service-token", app.identity.service_token.expose_secret())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn server_streams_pass_through() {
    let app = spawn_app().await;
    let mut client = MessagingServiceClient::new(app.channel());
    let stream = client.stream_messages(app.request(StreamMessagesRequest {})).await.unwrap().into_inner();
    let items: Vec<_> = stream.collect().await;
    assert_eq!(items.len(), 3);
    assert_eq!(items[1].as_ref().unwrap().message.as_ref().unwrap().content, "message 2");
}

async fn overall_health(app: &crate::helpers::TestGateway, want: ServingStatus) {
    let mut client = HealthClient::new(app.channel());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = client
            .check(HealthCheckRequest { service: String::new() })
            .await
            .map(|r| r.into_inner().status)
            .unwrap_or_default();
        if status == want as i32 {
            return;
        }
        assert!(Instant::now() < deadline, "health stayed {status}, wanted {want:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn health_follows_the_upstreams() {
    let app = spawn_app().await;
    overall_health(&app, ServingStatus::Serving).await;
    let mut client = HealthClient::new(app.channel());
    let board = client
        .check(HealthCheckRequest { service: "campus.board.v1.BoardService".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(board.status, ServingStatus::Serving as i32);
    let auth = client
        .check(HealthCheckRequest { service: "campus.auth.v1.AuthService".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(auth.status, ServingStatus::Serving as i32);

    let down = format!("http://{}", closed_port().await);
    let app = spawn_gateway(
        campus_gateway::Upstreams {
            account: down.clone(),
            board: down.clone(),
            messaging: down.clone(),
            timetable: down,
        },
        None,
        |_| {},
    )
    .await;
    overall_health(&app, ServingStatus::NotServing).await;
}

#[tokio::test]
async fn reflection_lists_every_campus_service() {
    let app = spawn_app().await;
    let mut client = ServerReflectionClient::new(app.channel());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies =
        client.server_reflection_info(futures::stream::iter([request])).await.unwrap().into_inner();
    let reply = replies.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
        panic!("unexpected reply {reply:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for service in [
        "campus.auth.v1.AuthService",
        "campus.account.v1.AccountService",
        "campus.board.v1.BoardService",
        "campus.messaging.v1.MessagingService",
        "campus.timetable.v1.TimetableService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == service), "{service} missing from {names:?}");
    }
}
