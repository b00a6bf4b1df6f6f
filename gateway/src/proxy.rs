//! The gRPC dispatcher: every call — from gRPC clients, from gRPC-web clients (after
//! `tonic_web` unwraps them) and from the HTTP/JSON transcoder — passes through here.
//!
//! It routes `/<package>.<Service>/<Method>` to the owning upstream without decoding the
//! messages (so streaming and compression pass through untouched), serves the gateway's own
//! services (auth, health, reflection) in process, checks the access token, rate-limits
//! sign-up and login and attaches the call context: request id, W3C trace context and a
//! `grpc-timeout` capped by the gateway's own.
//!
//! Only the methods of [`PUBLIC_SERVICES`](crate::public::PUBLIC_SERVICES) are forwarded, each matched by its exact path.
//! Anything else — an internal service, an unknown name, a percent-encoded or otherwise odd
//! spelling of a real one — is UNIMPLEMENTED here and never reaches an upstream, so an
//! upstream's own path handling is not part of the public surface.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use campus_shared::Caller;
use campus_shared::identity::{SERVICE_TOKEN_HEADER, TokenVerifier};
use http::{HeaderMap, HeaderValue, Request, Response, header};
use http_body_util::BodyExt;
use tonic::service::Routes;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tower::{Service, ServiceExt};
use tracing::Instrument;

use crate::Body;
use crate::errors::{grpc_error, status_with_reason};
use crate::limits::{ClientIp, RateLimiter};
use crate::public::{ClientUserAgent, LOCAL_PUBLIC_SERVICES, is_public, split_path};

/// The answer to a path that names no method the gateway serves. The name is not echoed: it
/// is whatever the client typed.
const NOT_ROUTED: &str = "no such method on the gateway";

/// Methods that count toward the per-address limit on public auth calls. Refresh and logout
/// do not: they need a valid refresh token already, and many students share one address
/// (campus NAT, carrier-grade NAT), so counting them would sign people out for their
/// neighbours' activity.
const RATE_LIMITED_METHODS: &[&str] = &[
    "/campus.auth.v1.AuthService/SignUp",
    "/campus.auth.v1.AuthService/Login",
    "/campus.auth.v1.AuthService/SendEmailVerification",
    "/campus.auth.v1.AuthService/StartPasswordReset",
    "/campus.auth.v1.AuthService/ConfirmPasswordReset",
];

/// Request headers that belong to one connection and must not be forwarded (h2 rejects them).
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host", "te"];

/// One upstream service: a name for logs and probes, and its lazily connected channel.
#[derive(Debug, Clone)]
pub(crate) struct Upstream {
    pub(crate) name: &'static str,
    pub(crate) channel: Channel,
}

#[derive(Debug)]
struct Inner {
    /// Exact path (`/campus.board.v1.BoardService/GetPost`) → upstream, for every method of
    /// the public services.
    routes: HashMap<String, Upstream>,
    /// Exact paths of the gateway's own auth methods.
    auth_methods: Vec<String>,
    local: Routes,
    tokens: TokenVerifier,
    auth_rate: RateLimiter,
    timeout: Duration,
}

/// The dispatcher, a cheap-to-clone `tower::Service` over gRPC requests.
#[derive(Debug, Clone)]
pub(crate) struct Dispatcher {
    inner: Arc<Inner>,
}

/// Where a call goes.
enum Target<'a> {
    Local,
    Upstream(&'a Upstream),
}

impl Dispatcher {
    /// `routes` maps each public method's path to its upstream; `auth_methods` lists the
    /// paths of the in-process auth service.
    pub(crate) fn new(
        routes: HashMap<String, Upstream>,
        auth_methods: Vec<String>,
        local: Routes,
        tokens: TokenVerifier,
        auth_rate: RateLimiter,
        timeout: Duration,
    ) -> Self {
        Self { inner: Arc::new(Inner { routes, auth_methods, local, tokens, auth_rate, timeout }) }
    }

    async fn dispatch(self, mut request: Request<Body>) -> Result<Response<Body>, Status> {
        let inner = &self.inner;
        let path = request.uri().path().to_string();
        let (service, _method) = split_path(&path).ok_or_else(|| Status::unimplemented(NOT_ROUTED))?;

        let target = if let Some(upstream) = inner.routes.get(&path) {
            Target::Upstream(upstream)
        } else if inner.auth_methods.contains(&path) || LOCAL_PUBLIC_SERVICES.contains(&service) {
            Target::Local
        } else {
            return Err(Status::unimplemented(NOT_ROUTED));
        };

        let headers = request.headers_mut();
        headers.remove(SERVICE_TOKEN_HEADER);
        for name in HOP_BY_HOP {
            headers.remove(*name);
        }
        if let Some(agent) = request.extensions().get::<ClientUserAgent>().cloned() {
            request.headers_mut().insert(header::USER_AGENT, agent.0);
        }

        if RATE_LIMITED_METHODS.contains(&path.as_str()) {
            let ip = request.extensions().get::<ClientIp>().map(|c| c.0);
            if let Some(ip) = ip
                && !inner.auth_rate.allow(ip)
            {
                return Err(campus_shared::Error::resource_exhausted(
                    "RATE_LIMITED",
                    "too many sign-in attempts from this address, retry later",
                )
                .into());
            }
        }

        self.authenticate(&mut request, is_public(&path))?;

        let timeout = remaining_deadline(request.headers(), inner.timeout);
        let headers = request.headers_mut();
        headers.insert("grpc-timeout", encode_grpc_timeout(timeout));
        headers.insert(header::TE, HeaderValue::from_static("trailers"));

        let span = tracing::info_span!(
            "gateway",
            otel.name = %path,
            otel.kind = "server",
            rpc.method = %path,
            request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or(""),
        );
        campus_shared::telemetry::set_parent_from_headers(&span, request.headers());
        {
            let _entered = span.enter();
            campus_shared::telemetry::inject_headers(request.headers_mut());
        }

        match target {
            Target::Local => {
                let call = inner.local.clone().oneshot(request).instrument(span);
                match tokio::time::timeout(timeout, call).await {
                    Ok(response) => Ok(response.unwrap_or_else(|e: Infallible| match e {})),
                    Err(_) => Err(Status::deadline_exceeded("deadline exceeded")),
                }
            }
            Target::Upstream(upstream) => {
                // The refresh cookie is the gateway's business only.
                request.headers_mut().remove(header::COOKIE);
                let name = upstream.name;
                let (parts, body) = request.into_parts();
                let (body, fault) = watch_body(body);
                let request = Request::from_parts(parts, body);
                // The channel enforces the grpc-timeout set above, so no timer of our own.
                upstream.channel.clone().oneshot(request).instrument(span).await.map_err(|e| {
                    if is_timeout(&e) {
                        return Status::deadline_exceeded("deadline exceeded");
                    }
                    if let Some(message) = fault.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        return request_body_fault(&message);
                    }
                    tracing::warn!(upstream = name, error = %e, "upstream call failed");
                    status_with_reason(
                        Code::Unavailable,
                        format!("{name} service unavailable"),
                        "UNAVAILABLE",
                    )
                })
            }
        }
    }

    /// Verifies the bearer token: a valid one puts the [`campus_shared::Caller`] in the
    /// extensions (the in-process services read it); a missing or bad one is refused unless
    /// the method is public, where a stale token is dropped so it cannot make the upstream
    /// refuse a call that needs none.
    fn authenticate(&self, request: &mut Request<Body>, public: bool) -> Result<(), Status> {
        let token = bearer(request.headers());
        let caller = token.and_then(|t| self.inner.tokens.verify(t));
        match caller {
            Some(caller) => {
                request.extensions_mut().insert(caller);
                Ok(())
            }
            None if public => {
                request.headers_mut().remove(header::AUTHORIZATION);
                Ok(())
            }
            None if token.is_some() => {
                Err(campus_shared::Error::unauthenticated("invalid or expired access token").into())
            }
            None => Err(campus_shared::Error::unauthenticated("an access token is required").into()),
        }
    }

    /// The caller a request's bearer token names, when the token is valid.
    pub(crate) fn caller(&self, headers: &HeaderMap) -> Option<Caller> {
        bearer(headers).and_then(|t| self.inner.tokens.verify(t))
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

impl Service<Request<Body>> for Dispatcher {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.dispatch(request).await.unwrap_or_else(grpc_error)) })
    }
}

fn is_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(error);
    while let Some(e) = source {
        if e.is::<tonic::TimeoutExpired>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// The request body, remembering the error it failed with: when the caller's own body breaks
/// while it is forwarded (gRPC-web text that is not base64, more bytes than the body limit),
/// the h2 client only reports a reset stream, which must not come back as UNAVAILABLE (clients
/// retry that) when the fault is the caller's.
fn watch_body(body: Body) -> (Body, Arc<Mutex<Option<String>>>) {
    let fault = Arc::new(Mutex::new(None));
    let seen = fault.clone();
    let body = Body::new(body.map_err(move |status: Status| {
        *seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(status.message().to_string());
        status
    }));
    (body, fault)
}

/// The answer to a call whose request body failed with `message`.
fn request_body_fault(message: &str) -> Status {
    // `LengthLimitError`'s text: tonic-web keeps only the text of the errors it passes on.
    if message.contains("length limit exceeded") {
        campus_shared::Error::resource_exhausted("REQUEST_TOO_LARGE", "request body too large").into()
    } else {
        campus_shared::Error::invalid("body", format!("malformed request body: {message}")).into()
    }
}

/// The client's `grpc-timeout`, capped by the gateway's own limit.
fn remaining_deadline(headers: &HeaderMap, cap: Duration) -> Duration {
    headers
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
        .map_or(cap, |client| client.min(cap))
}

/// `grpc-timeout` is at most 8 digits and a unit (H, M, S, m, u, n).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let amount: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

fn encode_grpc_timeout(timeout: Duration) -> HeaderValue {
    let millis = timeout.as_millis().clamp(1, 99_999_999);
    HeaderValue::from_str(&format!("{millis}m")).unwrap_or_else(|_| HeaderValue::from_static("1m"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_and_cap() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("123456789S"), None);
        assert_eq!(parse_grpc_timeout("5x"), None);
        let mut headers = HeaderMap::new();
        headers.insert("grpc-timeout", HeaderValue::from_static("1H"));
        assert_eq!(remaining_deadline(&headers, Duration::from_secs(30)), Duration::from_secs(30));
        headers.insert("grpc-timeout", HeaderValue::from_static("100m"));
        assert_eq!(remaining_deadline(&headers, Duration::from_secs(30)), Duration::from_millis(100));
        assert_eq!(encode_grpc_timeout(Duration::from_secs(30)), "30000m");
    }
}
