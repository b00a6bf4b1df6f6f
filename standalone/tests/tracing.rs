//! One request through gateway → messaging → board shows up as one trace: an in-process OTLP
//! receiver collects what the system exports, and the test follows the parent links across
//! the two network hops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use campus::{System, SystemConfig};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Value, json};

/// An in-process OTLP collector: keeps every span and the names of every metric it receives.
#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Span>>>, Arc<Mutex<Vec<String>>>);

#[tonic::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let mut names = self.1.lock().unwrap();
        for resource in request.into_inner().resource_metrics {
            for scope in resource.scope_metrics {
                names.extend(scope.metrics.into_iter().map(|m| m.name));
            }
        }
        Ok(tonic::Response::new(ExportMetricsServiceResponse { partial_success: None }))
    }
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

async fn call(http: &reqwest::Client, base: &str, token: Option<&str>, path: &str, body: Value) -> Value {
    let mut request = http.post(format!("{base}{path}")).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

// Multi-threaded: flushing the exporter blocks one thread while its channel's worker runs on
// another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_from_a_post_is_one_trace_across_three_servers_with_red_metrics() {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = listener.local_addr().unwrap();
    let server = receiver.clone();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(server.clone()))
            .add_service(MetricsServiceServer::new(server))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
    });
    let telemetry =
        campus_shared::telemetry::init_with_endpoint("campus-trace-test", Some(format!("http://{otlp}")));

    let dir = tempfile::tempdir().unwrap();
    let mut config = SystemConfig::ephemeral(dir.path().to_path_buf());
    config.gateway.secure_cookie = false;
    let mut system = System::start(config).await.unwrap();
    let base = format!("http://{}", system.gateway_addr);
    let http = reqwest::Client::new();

    let schools = http.get(format!("{base}/v1/schools")).send().await.unwrap().json::<Value>().await.unwrap();
    let school = &schools["schools"][0];
    let domain = school["emailDomain"].as_str().unwrap();
    let mut tokens = Vec::new();
    let outbox = campus_testkit::Outbox::at(dir.path().join("outbox"));
    for login in ["tracer1", "tracer2"] {
        let email = format!("{login}@{domain}");
        call(
            &http,
            &base,
            None,
            "/v1/auth/email-verifications",
            json!({"email": email, "schoolId": school["id"]}),
        )
        .await;
        let code = outbox.code_for(&email).await;
        call(
            &http,
            &base,
            None,
            "/v1/auth/signup",
            json!({"loginId": login, "password": "correct-horse-42",
            "nickname": login, "email": email, "schoolId": school["id"], "emailCode": code}),
        )
        .await;
        let session = call(
            &http,
            &base,
            None,
            "/v1/auth/login",
            json!({"loginId": login, "password": "correct-horse-42", "refreshTokenInBody": true}),
        )
        .await;
        tokens.push(session["accessToken"].as_str().unwrap().to_string());
    }
    let boards = http
        .get(format!("{base}/v1/boards"))
        .bearer_auth(&tokens[0])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let board = boards["boards"][0]["id"].as_str().unwrap().to_string();
    let post = call(
        &http,
        &base,
        Some(&tokens[0]),
        &format!("/v1/boards/{board}/posts"),
        json!({"title": "trace me", "content": "hello", "anonymous": true}),
    )
    .await;
    call(
        &http,
        &base,
        Some(&tokens[1]),
        "/v1/conversations",
        json!({"postId": post["id"], "anonymous": false, "content": "hi"}),
    )
    .await;

    system.stop().await;
    drop(telemetry); // flushes the batch exporter

    let spans = receiver.0.lock().unwrap().clone();
    let by_id: HashMap<Vec<u8>, &Span> = spans.iter().map(|s| (s.span_id.clone(), s)).collect();
    let named = |needle: &str| {
        spans.iter().find(|s| s.name.contains(needle)).unwrap_or_else(|| {
            panic!("no span named like {needle}; got {:?}", spans.iter().map(|s| &s.name).collect::<Vec<_>>())
        })
    };
    // The gateway's span and messaging's server span carry the same RPC name; the gateway's is
    // the one the other names as its parent.
    let conversation = "/campus.messaging.v1.MessagingService/CreateConversation";
    let (gateway, messaging) = spans
        .iter()
        .filter(|s| s.name == conversation)
        .find_map(|child| {
            by_id.get(&child.parent_span_id).filter(|p| p.name == conversation).map(|p| (*p, child))
        })
        .unwrap_or_else(|| {
            panic!(
                "no gateway → messaging parent link among {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    let board_span = named("/campus.board.v1.BoardInternalService/GetContentAuthor");

    let mut ancestors = Vec::new();
    let mut parent = board_span.parent_span_id.clone();
    while let Some(p) = by_id.get(&parent) {
        ancestors.push(p.span_id.clone());
        parent = p.parent_span_id.clone();
    }
    assert!(ancestors.contains(&messaging.span_id), "board's span descends from messaging's server span");
    assert!(ancestors.contains(&gateway.span_id), "and from the gateway's span");
    assert_eq!(board_span.trace_id, gateway.trace_id, "one trace across the three servers");
    assert_eq!(messaging.trace_id, gateway.trace_id);

    let metrics = receiver.1.lock().unwrap().clone();
    assert!(metrics.iter().any(|m| m == "rpc.server.duration"), "RED duration exported: {metrics:?}");
    assert!(metrics.iter().any(|m| m == "rpc.server.requests"), "RED count exported: {metrics:?}");
}
