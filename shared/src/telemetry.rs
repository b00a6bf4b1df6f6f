//! Tracing set-up and trace-context propagation.
//!
//! Logs go to stderr (`RUST_LOG`). When `OTEL_EXPORTER_OTLP_ENDPOINT` is set, spans and RED
//! metrics (requests, errors, duration per RPC) are exported over OTLP/gRPC as well, and W3C
//! `traceparent` headers tie the gateway's and each service's spans into one trace.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes exporters when dropped; keep it alive for the life of the process.
#[derive(Debug, Default)]
pub struct Telemetry {
    tracer: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    meter: Option<opentelemetry_sdk::metrics::SdkMeterProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(t) = self.tracer.take() {
            let _ = t.shutdown();
        }
        if let Some(m) = self.meter.take() {
            let _ = m.shutdown();
        }
    }
}

/// Installs the global subscriber once; later calls (tests, the one-process runner) do nothing.
/// Exports over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
pub fn init(service_name: &str) -> Telemetry {
    init_with_endpoint(service_name, crate::env::var("OTEL_EXPORTER_OTLP_ENDPOINT"))
}

/// [`init`] with the OTLP endpoint given explicitly (`None` turns export off).
pub fn init_with_endpoint(service_name: &str, otlp_endpoint: Option<String>) -> Telemetry {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);

    let mut telemetry = Telemetry::default();
    let otel_layer = if let Some(endpoint) = otlp_endpoint {
        match build_providers(service_name, &endpoint) {
            Ok((tracer, meter)) => {
                let layer =
                    tracing_opentelemetry::layer().with_tracer(tracer.tracer(service_name.to_string()));
                opentelemetry::global::set_tracer_provider(tracer.clone());
                opentelemetry::global::set_meter_provider(meter.clone());
                telemetry.tracer = Some(tracer);
                telemetry.meter = Some(meter);
                Some(layer)
            }
            Err(e) => {
                eprintln!("OpenTelemetry export disabled: {e}");
                None
            }
        }
    } else {
        None
    };
    // One filter for both outputs, so exported traces carry campus's spans and not every
    // h2 frame at trace level.
    let _ = tracing_subscriber::registry().with(fmt.and_then(otel_layer).with_filter(filter)).try_init();
    telemetry
}

fn build_providers(
    service_name: &str,
    endpoint: &str,
) -> Result<
    (opentelemetry_sdk::trace::SdkTracerProvider, opentelemetry_sdk::metrics::SdkMeterProvider),
    Box<dyn std::error::Error>,
> {
    use opentelemetry_otlp::WithExportConfig;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service_name.to_string()).build();
    let spans = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_protocol(opentelemetry_otlp::Protocol::Grpc)
        .with_endpoint(endpoint)
        .build()?;
    let tracer = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(spans)
        .with_resource(resource.clone())
        .build();
    let metrics =
        opentelemetry_otlp::MetricExporter::builder().with_tonic().with_endpoint(endpoint).build()?;
    let meter = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_periodic_exporter(metrics)
        .with_resource(resource)
        .build();
    Ok((tracer, meter))
}

struct MetadataInjector<'a>(&'a mut MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) =
            (MetadataKey::from_bytes(key.as_bytes()), MetadataValue::try_from(value.as_str()))
        {
            self.0.insert(k, v);
        }
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) =
            (http::HeaderName::from_bytes(key.as_bytes()), http::HeaderValue::from_str(&value))
        {
            self.0.insert(k, v);
        }
    }
}

/// Writes the current span's context into outgoing gRPC metadata.
pub fn inject_context(metadata: &mut MetadataMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut MetadataInjector(metadata));
}

/// Writes the current span's context into outgoing HTTP headers.
pub fn inject_headers(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

/// Makes `span` a child of the trace named by the request's `traceparent`, if any.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    if headers.contains_key("traceparent") {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        let _ = span.set_parent(parent);
    }
}
