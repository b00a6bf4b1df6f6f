//! gRPC server bootstrap: health, reflection (v1 and v1alpha), a per-request span with RED
//! metrics, a deadline, a global concurrency limit that sheds load instead of queueing, and a
//! graceful shutdown bounded by a timeout.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use opentelemetry::KeyValue;
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::config::ServerLimits;

/// A bound gRPC server that has not started serving yet.
#[derive(Debug)]
pub struct GrpcServer {
    listener: TcpListener,
    routes: Routes,
    names: Vec<&'static str>,
    limits: ServerLimits,
    tls: Option<crate::tls::ServerTls>,
}

impl GrpcServer {
    /// Binds first, so a test can read the port before anything runs (port 0 picks one).
    pub async fn bind(addr: SocketAddr, limits: ServerLimits) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        Ok(Self { listener, routes: Routes::default(), names: Vec::new(), limits, tls: None })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// Serves TLS (and, with a client CA, requires client certificates) when `tls` is set.
    pub fn with_tls(mut self, tls: Option<crate::tls::ServerTls>) -> Self {
        self.tls = tls;
        self
    }

    /// Adds a service; its health is reported under its full name. Intercepted services
    /// (`XServer::with_interceptor`) answer with their own body type; it is adapted here.
    pub fn add_service<S, B>(mut self, service: S) -> Self
    where
        S: Service<http::Request<Body>, Response = http::Response<B>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.names.push(S::NAME);
        self.routes = self.routes.add_service(PlainBody(service));
        self
    }

    /// Serves until `shutdown` resolves, then reports NOT_SERVING, stops accepting, and gives
    /// in-flight requests `limits.shutdown_timeout` to finish.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), tonic::transport::Error> {
        let (reporter, health) = tonic_health::server::health_reporter();
        for name in &self.names {
            reporter.set_service_status(*name, ServingStatus::Serving).await;
        }
        reporter.set_service_status("", ServingStatus::Serving).await;

        // Advertise only what this server serves; the descriptor set holds every campus proto.
        let advertised = || {
            self.names
                .iter()
                .chain(&[
                    "grpc.health.v1.Health",
                    "grpc.reflection.v1.ServerReflection",
                    "grpc.reflection.v1alpha.ServerReflection",
                ])
                .fold(reflection_builder(), |builder, name| builder.with_service_name(*name))
        };
        let reflection_v1 = advertised().build_v1().expect("descriptor set is valid");
        let reflection_v1alpha = advertised().build_v1alpha().expect("descriptor set is valid");
        let routes =
            self.routes.add_service(health).add_service(reflection_v1).add_service(reflection_v1alpha);

        let limits = self.limits.clone();
        let names = self.names.clone();
        let (drain_tx, drain_rx) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            shutdown.await;
            for name in &names {
                reporter.set_service_status(*name, ServingStatus::NotServing).await;
            }
            reporter.set_service_status("", ServingStatus::NotServing).await;
            let _ = drain_tx.send(());
        };

        let incoming = TcpIncoming::from(self.listener).with_nodelay(Some(true));
        let mut builder = tonic::transport::Server::builder();
        if let Some(tls) = &self.tls {
            builder = builder.tls_config(tls.config())?;
        }
        let serve = builder
            .timeout(limits.request_timeout)
            .layer(RpcLayer)
            .layer(tower::load_shed::LoadShedLayer::new())
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(limits.concurrency_limit))
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, signal);

        tokio::pin!(serve);
        tokio::select! {
            result = &mut serve => result,
            _ = async {
                let _ = drain_rx.await;
                tokio::time::sleep(limits.shutdown_timeout).await;
            } => {
                tracing::warn!("shutdown timeout reached with requests still in flight");
                Ok(())
            }
        }
    }
}

/// Turns any response body into tonic's, which the router takes.
#[derive(Debug, Clone)]
struct PlainBody<S>(S);

impl<S: NamedService> NamedService for PlainBody<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> Service<http::Request<Body>> for PlainBody<S>
where
    S: Service<http::Request<Body>, Response = http::Response<B>, Error = Infallible>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let response = self.0.call(request);
        Box::pin(async move { response.await.map(|r| r.map(Body::new)) })
    }
}

/// Reflection over every campus proto plus health, so `grpcurl list` shows everything.
pub fn reflection_builder() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(campus_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received");
}

/// Wraps every request in a span named after the RPC (parented on the caller's
/// `traceparent`) and records RED metrics: count, errors and duration per method.
#[derive(Debug, Clone, Copy)]
pub struct RpcLayer;

impl<S> Layer<S> for RpcLayer {
    type Service = RpcService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcService { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RpcService<S> {
    inner: S,
}

fn metrics() -> &'static (opentelemetry::metrics::Histogram<f64>, opentelemetry::metrics::Counter<u64>) {
    static METRICS: std::sync::OnceLock<(
        opentelemetry::metrics::Histogram<f64>,
        opentelemetry::metrics::Counter<u64>,
    )> = std::sync::OnceLock::new();
    METRICS.get_or_init(|| {
        let meter = opentelemetry::global::meter("campus");
        (
            meter.f64_histogram("rpc.server.duration").with_unit("ms").build(),
            meter.u64_counter("rpc.server.requests").build(),
        )
    })
}

impl<S, B, R> Service<http::Request<B>> for RpcService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
    S::Error: Send,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = request.uri().path().to_string();
        let request_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let span = tracing::info_span!(
            "rpc",
            otel.name = %method,
            otel.kind = "server",
            rpc.method = %method,
            request_id = %request_id,
            user_id = tracing::field::Empty,
            grpc.status = tracing::field::Empty,
        );
        crate::telemetry::set_parent_from_headers(&span, request.headers());
        let start = Instant::now();
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        Box::pin(
            async move {
                let result = future.await;
                // Errors from handlers travel as trailers-only responses, with grpc-status in
                // the headers; a missing header means the call succeeded or is streaming.
                let status = match &result {
                    Ok(response) => response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("0")
                        .to_string(),
                    Err(_) => "2".to_string(),
                };
                tracing::Span::current().record("grpc.status", status.as_str());
                let (duration, count) = metrics();
                let attrs =
                    [KeyValue::new("rpc.method", method), KeyValue::new("rpc.grpc.status_code", status)];
                duration.record(start.elapsed().as_secs_f64() * 1000.0, &attrs);
                count.add(1, &attrs);
                result
            }
            .instrument(span),
        )
    }
}
