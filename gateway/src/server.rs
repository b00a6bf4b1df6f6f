//! The gateway's front door: one service per connection that tags each request (request id,
//! client IP), sheds load when full and dispatches by content type — gRPC, gRPC-web, or
//! HTTP (probes, JWKS, the JSON API, and the web client's fallback).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyStream, Full, Limited, StreamBody};
use hyper::body::Incoming;
use serde_json::json;
use tonic::Code;
use tower::{Layer, Service, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::Body;
use crate::client_address::{FORWARDED_FOR, TrustedProxies, client_address};
use crate::errors::{OVERLOADED, gateway_error, grpc_error, json_response, status_with_reason};
use crate::health::Readiness;
use crate::limits::{ClientIp, InFlight};
use crate::proxy::Dispatcher;
use crate::public::AUTH_SERVICE;
use crate::transcode::Transcoder;

/// Everything a request may need, shared by all connections.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) dispatcher: Dispatcher,
    pub(crate) transcoder: Transcoder,
    pub(crate) readiness: Arc<Readiness>,
    /// Calls in flight over gRPC and gRPC-web (the transcoder counts HTTP calls).
    pub(crate) in_flight: InFlight,
    pub(crate) jwks: Bytes,
    pub(crate) max_body: usize,
    pub(crate) trusted_proxies: TrustedProxies,
    pub(crate) allowed_origins: Vec<String>,
    pub(crate) web: Option<axum::Router>,
}

/// The service of one connection (it knows the peer address).
#[derive(Debug, Clone)]
pub(crate) struct GatewayService {
    state: Arc<State>,
    peer: SocketAddr,
}

impl GatewayService {
    pub(crate) fn new(state: Arc<State>, peer: SocketAddr) -> Self {
        Self { state, peer }
    }
}

impl Service<Request<Incoming>> for GatewayService {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let state = self.state.clone();
        let peer = self.peer;
        Box::pin(async move { Ok(handle(state, peer, request).await) })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Grpc,
    GrpcWeb,
    Http,
}

fn protocol<B>(request: &Request<B>) -> Protocol {
    let content_type = request.headers().get(header::CONTENT_TYPE).map(|v| v.as_bytes()).unwrap_or_default();
    if content_type.starts_with(b"application/grpc-web") {
        Protocol::GrpcWeb
    } else if content_type.starts_with(b"application/grpc") {
        Protocol::Grpc
    } else {
        Protocol::Http
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The caller's request id when it is a sane token, else a fresh one.
fn request_id<B>(request: &Request<B>) -> HeaderValue {
    request
        .headers()
        .get(&REQUEST_ID)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.as_bytes().iter().all(|b| b.is_ascii_graphic()))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&campus_shared::identity::random_token()[..22])
                .unwrap_or(HeaderValue::from_static("unknown"))
        })
}

async fn handle(state: Arc<State>, peer: SocketAddr, mut request: Request<Incoming>) -> Response<Body> {
    let id = request_id(&request);
    let ip = client_address(peer.ip(), request.headers(), &state.trusted_proxies);
    let headers = request.headers_mut();
    headers.insert(REQUEST_ID, id.clone());
    // The gateway is the trust boundary: services see the address it decided on, not one
    // the client typed.
    if let Ok(value) = HeaderValue::from_str(&ip.to_string()) {
        headers.insert(HeaderName::from_static(FORWARDED_FOR), value);
    }
    request.extensions_mut().insert(ClientIp(ip));

    let kind = protocol(&request);
    if kind != Protocol::Http {
        strip_cookie_path(&mut request);
    }
    // HTTP calls take their permit in the transcoder once the body is read, so a slow body
    // holds none; gRPC bodies stream to the service as they come.
    let counted = kind != Protocol::Http;
    let permit = if counted { state.in_flight.try_acquire() } else { None };
    let mut response = if counted && permit.is_none() {
        overloaded(kind)
    } else if is_auth_call(kind, request.uri().path())
        && !crate::auth::origin_allowed(request.headers().get(header::ORIGIN), &state.allowed_origins)
    {
        foreign_origin(kind, ip)
    } else {
        match kind {
            Protocol::Grpc => {
                let request = request.map(|b| Body::new(Limited::new(b, state.max_body)));
                state.dispatcher.clone().oneshot(request).await.unwrap_or_else(|e| match e {})
            }
            Protocol::GrpcWeb => {
                let service = tonic_web::GrpcWebLayer::new().layer(state.dispatcher.clone());
                let text = request
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc-web-text"));
                let request = request.map(|b| {
                    let limited = Limited::new(b, state.max_body);
                    // tonic-web passes the request's size hint through its base64 decoder, so
                    // the upstream would be promised the length of the base64 text and reset
                    // the stream; an unknown length avoids that.
                    if text {
                        Body::new(StreamBody::new(BodyStream::new(limited)))
                    } else {
                        Body::new(limited)
                    }
                });
                service.oneshot(request).await.unwrap_or_else(|e| match e {})
            }
            Protocol::Http => http(&state, request).await,
        }
    };
    drop(permit);
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// Browsers send the refresh cookie (`Path=/v1/auth`) only to paths under `/v1/auth`, and a
/// gRPC path (`/campus.auth.v1.AuthService/Refresh`) is not one. So gRPC-web clients call the
/// auth service under that prefix, `/v1/auth/campus.auth.v1.AuthService/<Method>`; the prefix is
/// dropped here. Only the auth service is reachable this way, so the cookie goes nowhere else.
fn strip_cookie_path<B>(request: &mut Request<B>) {
    let Some(rest) = request.uri().path().strip_prefix(crate::auth::COOKIE_PATH) else {
        return;
    };
    let is_auth_call =
        rest.strip_prefix('/').and_then(|r| r.strip_prefix(AUTH_SERVICE)).is_some_and(|r| r.starts_with('/'));
    if !is_auth_call {
        return;
    }
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = rest.parse().ok();
    if let Ok(uri) = http::Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
}

/// A call to the auth service: `/v1/auth/...` over HTTP, the service's gRPC path otherwise
/// (after [`strip_cookie_path`]).
fn is_auth_call(kind: Protocol, path: &str) -> bool {
    match kind {
        Protocol::Http => {
            path.starts_with(crate::auth::COOKIE_PATH)
                && path[crate::auth::COOKIE_PATH.len()..].starts_with('/')
        }
        Protocol::Grpc | Protocol::GrpcWeb => path
            .strip_prefix('/')
            .and_then(|p| p.strip_prefix(AUTH_SERVICE))
            .is_some_and(|r| r.starts_with('/')),
    }
}

/// The answer to an auth call from a browser page outside the allow-list (login CSRF).
fn foreign_origin(kind: Protocol, client: std::net::IpAddr) -> Response<Body> {
    let message = "this origin may not call the auth service";
    let reason = crate::auth::ORIGIN_NOT_ALLOWED;
    tracing::warn!(security_event = "origin_refused", client_address = %client, "auth call from a foreign origin");
    match kind {
        Protocol::Http => gateway_error(StatusCode::FORBIDDEN, Code::PermissionDenied, reason, message),
        Protocol::Grpc | Protocol::GrpcWeb => {
            grpc_error(status_with_reason(Code::PermissionDenied, message, reason))
        }
    }
}

fn overloaded(kind: Protocol) -> Response<Body> {
    let message = "the gateway is at capacity, retry later";
    match kind {
        Protocol::Http => {
            gateway_error(StatusCode::TOO_MANY_REQUESTS, Code::ResourceExhausted, OVERLOADED, message)
        }
        Protocol::Grpc | Protocol::GrpcWeb => {
            grpc_error(status_with_reason(Code::ResourceExhausted, message, OVERLOADED))
        }
    }
}

async fn http(state: &State, request: Request<Incoming>) -> Response<Body> {
    let path = request.uri().path();
    let get = matches!(*request.method(), Method::GET | Method::HEAD);
    match path {
        "/healthz" if get => json_response(StatusCode::OK, &json!({"status": "ok"})),
        "/readyz" if get => {
            let (ready, body) = state.readiness.report().await;
            let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            json_response(status, &body)
        }
        "/.well-known/jwks.json" if get => {
            let mut response = Response::new(Body::new(Full::new(state.jwks.clone())));
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            response
        }
        _ if path.starts_with("/v1/") || state.transcoder.has_path(path) => {
            state.transcoder.handle(request).await
        }
        _ => match &state.web {
            Some(web) if get => match web.clone().oneshot(request).await {
                Ok(response) => response.map(Body::new),
                Err(e) => match e {},
            },
            _ => gateway_error(StatusCode::NOT_FOUND, Code::NotFound, "NO_ROUTE", "not found"),
        },
    }
}

/// CORS for the configured origins, with credentials (the refresh cookie) and the headers
/// gRPC-web needs both ways.
pub(crate) fn cors_layer(origins: &[String]) -> CorsLayer {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
    let request_headers = [
        "authorization",
        "content-type",
        "x-grpc-web",
        "x-user-agent",
        "grpc-timeout",
        "x-request-id",
        "traceparent",
        "tracestate",
    ];
    let exposed = ["grpc-status", "grpc-message", "grpc-status-details-bin", "x-request-id"];
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers(request_headers.map(HeaderName::from_static))
        .expose_headers(exposed.map(HeaderName::from_static))
        .max_age(Duration::from_secs(600))
}
