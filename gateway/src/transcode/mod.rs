//! HTTP/JSON ↔ gRPC transcoding driven by the route table: the request message is built
//! from the path variables, the query string and the body (proto3 JSON mapping via
//! prost-reflect), sent through the [`Dispatcher`] like any gRPC call, and the answer is
//! kept as its wire bytes and written as JSON by [`JsonWriter`] — or raw bytes for
//! `google.api.HttpBody`, 204 for `Empty`, and newline-delimited JSON for server streams.

use std::convert::Infallible;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use bytes::BytesMut;
use futures::StreamExt;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody};
use prost_reflect::{DynamicMessage, Kind, MessageDescriptor};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tonic::{Code, Status};

use crate::Body;
use crate::errors::{error_json, gateway_error, status_response};
use crate::idempotency::{self, Idempotency};
use crate::limits::{BodyBudget, BodyReservation, ClientIp, InFlight, RateLimiter};
use crate::proxy::Dispatcher;
use crate::public::{AUTH_SERVICE, ClientUserAgent, is_public};
use crate::routes::{BodyRule, Match, RouteTable, Rpc};
use crate::wire_json::{self, JsonWriter};

mod request;

use request::{build_message, invalid_argument, violation};

const HTTP_BODY: &str = "google.api.HttpBody";
const EMPTY: &str = "google.protobuf.Empty";

/// Request headers passed to the services as gRPC metadata (the in-process AuthApi reads
/// the cookie, origin and client address; everyone gets the token and trace context).
const FORWARDED_HEADERS: &[&str] =
    &["authorization", "cookie", "origin", "x-forwarded-for", "x-request-id", "traceparent", "tracestate"];

/// A body larger than this is decoded on the blocking pool, not on a runtime worker.
const BLOCKING_DECODE_BYTES: usize = 256 * 1024;

/// What bounds the transcoder's work per request.
#[derive(Debug, Clone)]
pub(crate) struct TranscodeLimits {
    /// Largest request body.
    pub(crate) max_body: usize,
    /// The deadline of a call.
    pub(crate) timeout: Duration,
    /// A body must be complete this long after the head.
    pub(crate) body_timeout: Duration,
    /// Buffered body bytes across all requests.
    pub(crate) budget: BodyBudget,
    /// Calls in flight; a permit is taken once the body is read.
    pub(crate) in_flight: InFlight,
    /// The auth routes' per-address rate (the dispatcher takes the tokens; here it is only
    /// looked at, so a limited client's body is never read).
    pub(crate) auth_rate: RateLimiter,
}

/// The transcoder: the route table, the JSON plans of its answers and the dispatcher it
/// sends calls through.
#[derive(Debug, Clone)]
pub(crate) struct Transcoder {
    table: Arc<RouteTable>,
    json: Arc<JsonWriter>,
    dispatcher: Dispatcher,
    idempotency: Idempotency,
    limits: Arc<TranscodeLimits>,
}

/// Why a body could not be read.
enum BodyFault {
    TooLarge,
    OverBudget,
    TimedOut,
    Unreadable,
}

impl Transcoder {
    pub(crate) fn new(
        table: Arc<RouteTable>,
        dispatcher: Dispatcher,
        idempotency: Idempotency,
        limits: TranscodeLimits,
    ) -> Self {
        let json = Arc::new(JsonWriter::new(table.outputs()));
        Self { table, json, dispatcher, idempotency, limits: Arc::new(limits) }
    }

    /// The idempotency store (its owner runs the purge of expired records).
    pub(crate) fn idempotency(&self) -> &Idempotency {
        &self.idempotency
    }

    /// True when some route serves `path` (with any method).
    pub(crate) fn has_path(&self, path: &str) -> bool {
        !matches!(self.table.find(&http::Method::GET, path), Match::NotFound)
    }

    /// Answers one HTTP request.
    pub(crate) async fn handle<B>(&self, request: Request<B>) -> Response<Body>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        let (rpc, bindings) = match self.table.find(&parts.method, parts.uri.path()) {
            Match::Found(rpc, bindings) => (rpc.clone(), bindings),
            Match::MethodNotAllowed(allowed) => {
                let mut response = gateway_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    Code::Unimplemented,
                    "METHOD_NOT_ALLOWED",
                    "method not allowed",
                );
                let allow: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
                if let Ok(value) = HeaderValue::from_str(&allow.join(", ")) {
                    response.headers_mut().insert(header::ALLOW, value);
                }
                return response;
            }
            Match::NotFound => {
                return gateway_error(StatusCode::NOT_FOUND, Code::NotFound, "NO_ROUTE", "no such route");
            }
        };

        // Who may call, how often, and in what format is settled before a byte of the body
        // is read: a refused client costs no memory and no parsing.
        if let Some(mut refused) = self.refuse_before_body(&rpc, &parts, body.is_end_stream()) {
            if !body.is_end_stream() {
                // The body stays unread: this connection cannot carry another request.
                refused.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            return refused;
        }
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let client = parts.extensions.get::<ClientIp>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0);
        let (bytes, _reserved) = match self.read_body(body, declared, client).await {
            Ok(read) => read,
            Err(fault) => return body_fault(fault),
        };
        // Only now does the call count as in flight: a slow body holds no permit.
        let Some(_permit) = self.limits.in_flight.try_acquire() else {
            return gateway_error(
                StatusCode::TOO_MANY_REQUESTS,
                Code::ResourceExhausted,
                crate::errors::OVERLOADED,
                "the gateway is at capacity, retry later",
            );
        };

        let streaming = rpc.method.is_server_streaming();
        let caller = || self.dispatcher.caller(&parts.headers);
        let keyed = match idempotency::keyed(&parts, &rpc.grpc_path, streaming, &bytes, caller) {
            Ok(keyed) => keyed,
            Err(bad_key) => return status_response(&bad_key),
        };
        let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let built = if bytes.len() > BLOCKING_DECODE_BYTES {
            // Decoding megabytes takes milliseconds of CPU: not on a worker other requests wait for.
            let (rpc, query, content_type) =
                (rpc.clone(), parts.uri.query().map(str::to_string), content_type.map(str::to_string));
            tokio::task::spawn_blocking(move || {
                build_message(&rpc, bindings, query.as_deref(), content_type.as_deref(), bytes)
            })
            .await
            .unwrap_or_else(|_| Err(vec![violation("body", "could not be decoded")]))
        } else {
            build_message(&rpc, bindings, parts.uri.query(), content_type, bytes)
        };
        let message = match built {
            Ok(message) => message,
            Err(violations) => return status_response(&invalid_argument(violations)),
        };

        let mut call = tonic::Request::new(message);
        copy_metadata(&parts.headers, call.metadata_mut());
        call.set_timeout(self.limits.timeout);
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            call.extensions_mut().insert(*ip);
        }
        if let Some(agent) = parts.headers.get(header::USER_AGENT) {
            call.extensions_mut().insert(ClientUserAgent(agent.clone()));
        }
        let send = self.clone().send(rpc, call);
        match keyed {
            Some(keyed) => self.idempotency.run(keyed, send).await,
            None => send.await,
        }
    }

    /// The answer to a request refused on its head alone: no or a bad token on a route that
    /// needs one, an auth route whose client is out of tokens, a JSON body without a JSON
    /// content type, a declared length over the limit.
    fn refuse_before_body(
        &self,
        rpc: &Rpc,
        parts: &http::request::Parts,
        no_body: bool,
    ) -> Option<Response<Body>> {
        if !is_public(&rpc.grpc_path) && self.dispatcher.caller(&parts.headers).is_none() {
            let message = if parts.headers.contains_key(header::AUTHORIZATION) {
                "invalid or expired access token"
            } else {
                "an access token is required"
            };
            return Some(status_response(&campus_shared::Error::unauthenticated(message).into()));
        }
        if counts_toward_auth_rate(&rpc.grpc_path)
            && let Some(ClientIp(ip)) = parts.extensions.get::<ClientIp>()
            && !self.limits.auth_rate.has_token(*ip)
        {
            return Some(status_response(
                &campus_shared::Error::resource_exhausted(
                    "RATE_LIMITED",
                    "too many sign-in attempts from this address, retry later",
                )
                .into(),
            ));
        }
        let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if takes_json(&rpc.body) && !no_body && !is_json(content_type) {
            return Some(gateway_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Code::InvalidArgument,
                "UNSUPPORTED_MEDIA_TYPE",
                "a JSON body needs Content-Type: application/json",
            ));
        }
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.limits.max_body as u64) {
            return Some(body_fault(BodyFault::TooLarge));
        }
        None
    }

    /// Reads the body into a reservation of the body budget (the declared length at once,
    /// a body of unknown length as it arrives), within the body timeout.
    async fn read_body<B>(
        &self,
        body: B,
        declared: Option<u64>,
        client: IpAddr,
    ) -> Result<(Bytes, BodyReservation), BodyFault>
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let limits = &self.limits;
        let expected = declared.map_or(0, |n| n as usize);
        let mut reserved = limits.budget.reserve(client, expected).ok_or(BodyFault::OverBudget)?;
        let read = async {
            let mut body = std::pin::pin!(body);
            let mut buffer = BytesMut::with_capacity(expected);
            while let Some(frame) = body.frame().await {
                let Ok(data) = frame.map_err(|_| BodyFault::Unreadable)?.into_data() else { continue };
                let total = buffer.len() + data.len();
                if total > limits.max_body {
                    return Err(BodyFault::TooLarge);
                }
                if total > reserved.bytes() && !reserved.grow(&limits.budget, total - reserved.bytes()) {
                    return Err(BodyFault::OverBudget);
                }
                buffer.extend_from_slice(&data);
            }
            Ok(buffer.freeze())
        };
        match tokio::time::timeout(limits.body_timeout, read).await {
            Ok(Ok(bytes)) => Ok((bytes, reserved)),
            Ok(Err(fault)) => Err(fault),
            Err(_) => Err(BodyFault::TimedOut),
        }
    }

    /// Makes the gRPC call of a route and renders its answer.
    async fn send(self, rpc: Arc<Rpc>, call: tonic::Request<DynamicMessage>) -> Response<Body> {
        let Ok(path) = PathAndQuery::from_str(&rpc.grpc_path) else {
            return status_response(&Status::internal("bad route"));
        };
        let limit = self.limits.max_body + 64 * 1024;
        let mut grpc = tonic::client::Grpc::new(self.dispatcher.clone())
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit);
        if grpc.ready().await.is_err() {
            return status_response(&Status::unavailable("gateway not ready"));
        }
        if rpc.method.is_server_streaming() {
            match grpc.server_streaming(call, path, WireCodec).await {
                Ok(response) => self.stream_response(&rpc, response),
                Err(status) => status_response(&status),
            }
        } else {
            match grpc.unary(call, path, WireCodec).await {
                Ok(response) => self.unary_response(&rpc, response),
                Err(status) => status_response(&status),
            }
        }
    }

    /// The JSON of an answer: straight from its bytes, or through prost-reflect for what
    /// the plans do not read (groups).
    fn to_json(&self, output: &MessageDescriptor, wire: &Bytes) -> Result<Vec<u8>, Status> {
        if let Some(Ok(json)) = self.json.write(output, wire) {
            return Ok(json);
        }
        let mut out = Vec::with_capacity(256);
        wire_json::reflect(&mut out, output, &[wire])
            .map_err(|_| Status::internal("could not encode the response"))?;
        Ok(out)
    }

    fn unary_response(&self, rpc: &Rpc, response: tonic::Response<Bytes>) -> Response<Body> {
        let (metadata, wire, _) = response.into_parts();
        let output = rpc.method.output();
        let default_status = if rpc.created { StatusCode::CREATED } else { StatusCode::OK };
        let status = metadata
            .get("x-http-code")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u16>().ok())
            .and_then(|code| StatusCode::from_u16(code).ok())
            .filter(|code| code.is_success())
            .unwrap_or(default_status);

        let mut response = if output.full_name() == EMPTY {
            let mut response = Response::new(Body::empty());
            *response.status_mut() = StatusCode::NO_CONTENT;
            response
        } else if output.full_name() == HTTP_BODY {
            match DynamicMessage::decode(output, wire) {
                Ok(message) => http_body_response(&message),
                Err(_) => return status_response(&Status::internal("could not decode the response")),
            }
        } else {
            let json = match &rpc.response_body {
                Some(field) => self.to_json(&output, &wire).and_then(|bytes| {
                    let mut object: serde_json::Value = serde_json::from_slice(&bytes)
                        .map_err(|_| Status::internal("could not encode the response"))?;
                    serde_json::to_vec(&object[field.json_name()].take())
                        .map_err(|_| Status::internal("could not encode the response"))
                }),
                None => self.to_json(&output, &wire),
            };
            match json {
                Ok(bytes) => {
                    let mut response = Response::new(Body::new(Full::new(Bytes::from(bytes))));
                    response
                        .headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    response
                }
                Err(status) => return status_response(&status),
            }
        };
        if response.status() != StatusCode::NO_CONTENT {
            *response.status_mut() = status;
        }
        // The auth service sets its cookie (and `no-store` on sessions) as response metadata,
        // and the board service how a photo may be shown.
        for name in [
            header::SET_COOKIE,
            header::CACHE_CONTROL,
            header::X_CONTENT_TYPE_OPTIONS,
            header::CONTENT_SECURITY_POLICY,
            header::CONTENT_DISPOSITION,
        ] {
            for value in metadata.get_all(name.as_str()) {
                if let Ok(value) = HeaderValue::from_bytes(value.as_encoded_bytes()) {
                    response.headers_mut().append(name.clone(), value);
                }
            }
        }
        response
    }

    /// A server stream as newline-delimited JSON; an error after the first message arrives
    /// as a last line `{"error": {code, message, details}}` (the status line is already sent).
    fn stream_response(
        &self,
        rpc: &Rpc,
        response: tonic::Response<tonic::Streaming<Bytes>>,
    ) -> Response<Body> {
        let (this, output) = (self.clone(), rpc.method.output());
        let stream = response.into_inner().map(move |item| {
            let mut line = match item {
                Ok(wire) => this.to_json(&output, &wire).unwrap_or_else(|status| error_line(&status)),
                Err(status) => error_line(&status),
            };
            line.push(b'\n');
            Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(line)))
        });
        let mut response = Response::new(Body::new(StreamBody::new(stream)));
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
        response
    }
}

/// The answer to a body that could not be read. The rest of it is never read, so the
/// connection cannot carry another request: say so, or a pooled client would reuse it.
fn body_fault(fault: BodyFault) -> Response<Body> {
    let (status, code, reason, message) = match fault {
        BodyFault::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::ResourceExhausted,
            "BODY_TOO_LARGE",
            "request body too large",
        ),
        BodyFault::OverBudget => (
            StatusCode::SERVICE_UNAVAILABLE,
            Code::Unavailable,
            crate::errors::OVERLOADED,
            "the gateway is buffering too many request bodies, retry later",
        ),
        BodyFault::TimedOut => (
            StatusCode::REQUEST_TIMEOUT,
            Code::DeadlineExceeded,
            "BODY_TIMEOUT",
            "the request body did not arrive in time",
        ),
        BodyFault::Unreadable => {
            (StatusCode::BAD_REQUEST, Code::InvalidArgument, "UNREADABLE_BODY", "could not read the body")
        }
    };
    let mut response = gateway_error(status, code, reason, message);
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Auth calls that spend the per-address sign-in rate (refresh and logout need a valid
/// refresh token and do not, DESIGN §10).
fn counts_toward_auth_rate(grpc_path: &str) -> bool {
    grpc_path
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(AUTH_SERVICE))
        .and_then(|p| p.strip_prefix('/'))
        .is_some_and(|method| !matches!(method, "Refresh" | "Logout"))
}

/// Whether a route's body is JSON (not raw bytes into a `google.api.HttpBody`).
fn takes_json(rule: &BodyRule) -> bool {
    match rule {
        BodyRule::None => false,
        BodyRule::Whole => true,
        BodyRule::Field(field) => !matches!(field.kind(), Kind::Message(m) if m.full_name() == HTTP_BODY),
    }
}

/// `application/json`, with parameters (`; charset=utf-8`) or without.
fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

fn copy_metadata(headers: &HeaderMap, metadata: &mut MetadataMap) {
    for name in FORWARDED_HEADERS {
        for value in headers.get_all(*name) {
            if let (Ok(key), Ok(value)) =
                (MetadataKey::from_bytes(name.as_bytes()), MetadataValue::try_from(value.as_bytes()))
            {
                metadata.append(key, value);
            }
        }
    }
}

/// A `google.api.HttpBody` answer goes out as its bytes with its content type.
fn http_body_response(message: &DynamicMessage) -> Response<Body> {
    let content_type = message
        .get_field_by_name("content_type")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let data = message.get_field_by_name("data").and_then(|v| v.as_bytes().cloned()).unwrap_or_default();
    let mut response = Response::new(Body::new(Full::new(data)));
    let content_type = HeaderValue::from_str(&content_type)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    response
}

fn error_line(status: &Status) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"error": error_json(status)})).unwrap_or_default()
}

/// A tonic codec that sends a request built at run time and keeps the answer as its wire
/// bytes, for [`JsonWriter`].
#[derive(Debug, Clone, Copy)]
struct WireCodec;

impl Codec for WireCodec {
    type Encode = DynamicMessage;
    type Decode = Bytes;
    type Encoder = WireCodec;
    type Decoder = WireCodec;

    fn encoder(&mut self) -> Self::Encoder {
        WireCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        WireCodec
    }
}

impl Encoder for WireCodec {
    type Item = DynamicMessage;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        prost::Message::encode(&item, dst).map_err(|_| Status::internal("could not encode the request"))
    }
}

impl Decoder for WireCodec {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        Ok(Some(bytes::Buf::copy_to_bytes(src, bytes::Buf::remaining(src))))
    }
}

#[cfg(test)]
mod tests {
    use super::request::*;
    use super::*;
    use crate::routes::Binding;
    use crate::routes::RouteTable;
    use prost_reflect::DescriptorPool;

    fn rpc(method: http::Method, path: &str) -> (Arc<Rpc>, Vec<Binding>) {
        let pool = DescriptorPool::decode(campus_proto::FILE_DESCRIPTOR_SET).unwrap();
        let table = RouteTable::from_pool(&pool).unwrap();
        match table.find(&method, path) {
            Match::Found(rpc, bindings) => (rpc.clone(), bindings),
            other => panic!("{other:?}"),
        }
    }

    fn build(
        method: http::Method,
        path: &str,
        query: Option<&str>,
        body: &str,
    ) -> Result<serde_json::Value, Vec<Violation>> {
        let (rpc, bindings) = rpc(method, path);
        let message =
            build_message(&rpc, bindings, query, Some("application/json"), Bytes::from(body.to_string()))?;
        Ok(message
            .serialize_with_options(serde_json::value::Serializer, &wire_json::serialize_options())
            .unwrap())
    }

    #[test]
    fn path_variables_override_the_body() {
        let json =
            build(http::Method::POST, "/v1/boards/12/posts", None, r#"{"title": "t", "boardId": "99"}"#)
                .unwrap();
        assert_eq!(json["boardId"], "12");
        assert_eq!(json["title"], "t");
    }

    #[test]
    fn query_parameters_fill_the_rest_in_both_spellings() {
        let json = build(
            http::Method::GET,
            "/v1/boards/3/posts",
            Some("page_size=5&pageToken=abc&query=%ED%95%9C+x"),
            "",
        )
        .unwrap();
        assert_eq!(json["boardId"], "3");
        assert_eq!(json["pageSize"], 5);
        assert_eq!(json["pageToken"], "abc");
        assert_eq!(json["query"], "한 x");
    }

    #[test]
    fn enums_by_name_or_number() {
        let json =
            build(http::Method::GET, "/v1/lectures", Some("semester=SEMESTER_FALL&year=2025"), "").unwrap();
        assert_eq!(json["semester"], "SEMESTER_FALL");
        let json = build(http::Method::GET, "/v1/lectures", Some("semester=3"), "").unwrap();
        assert_eq!(json["semester"], "SEMESTER_FALL");
        let errors = build(http::Method::GET, "/v1/lectures", Some("semester=AUTUMN"), "").unwrap_err();
        assert_eq!(errors[0].field, "semester");
    }

    #[test]
    fn bad_path_values_and_unknown_parameters_are_violations() {
        let errors = build(http::Method::GET, "/v1/posts/abc", None, "").unwrap_err();
        assert_eq!(errors[0].field, "id");
        let errors = build(http::Method::GET, "/v1/boards/1/posts", Some("pagesize=3"), "").unwrap_err();
        assert_eq!(errors[0].field, "pagesize");
    }

    #[test]
    fn body_errors_name_the_field() {
        let errors = build(http::Method::POST, "/v1/boards/1/posts", None, r#"{"title": 5}"#).unwrap_err();
        assert_eq!(errors[0].field, "title");
        let errors = build(http::Method::POST, "/v1/boards/1/posts", None, r#"{"bogus": 1}"#).unwrap_err();
        assert_eq!(errors[0].field, "bogus");
        assert_eq!(errors[0].description, "unknown field");
        let errors = build(http::Method::POST, "/v1/boards/1/posts", None, r#"{"title": "#).unwrap_err();
        assert_eq!(errors[0].field, "body");
        let errors = build(http::Method::POST, "/v1/boards/1/posts", None, r#"[1]"#).unwrap_err();
        assert_eq!(errors[0].field, "body");
    }

    #[test]
    fn int64_accepts_strings_and_numbers() {
        for body in [r#"{"postId": "5", "content": "x"}"#, r#"{"postId": 5, "content": "x"}"#] {
            let json = build(http::Method::POST, "/v1/conversations", None, body).unwrap();
            assert_eq!(json["postId"], "5");
        }
    }

    #[test]
    fn json_content_types() {
        for yes in ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON ;x=y"] {
            assert!(is_json(Some(yes)), "{yes}");
        }
        for no in ["text/plain", "application/jsonx", "application/x-www-form-urlencoded", ""] {
            assert!(!is_json(Some(no)), "{no}");
        }
        assert!(!is_json(None));
    }

    #[test]
    fn violations_are_bounded() {
        let v = violation("\u{7}\"k".repeat(100), "d".repeat(1000));
        assert_eq!(v.field.chars().count(), MAX_FIELD_CHARS + 1);
        assert!(v.field.starts_with("??k??k"));
        assert_eq!(v.description.chars().count(), MAX_DESCRIPTION_CHARS + 1);
        let first = first_problem("unrecognized field name 'bogus' at line 1 column 9");
        assert_eq!((first.field.as_str(), first.description.as_str()), ("bogus", "unknown field"));
        assert_eq!(first_problem("expected a string").field, "body");
    }

    #[test]
    fn large_bodies_get_the_first_problem_only() {
        let mut body = String::from("{");
        for i in 0..20_000 {
            body.push_str(&format!("\"k{i}\":0,"));
        }
        body.push_str("\"title\":\"t\"}");
        assert!(body.len() > DIAGNOSE_MAX_BYTES);
        let errors = build(http::Method::POST, "/v1/boards/1/posts", None, &body).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "k0");
    }

    #[test]
    fn http_body_fields_take_the_raw_bytes() {
        let (rpc, bindings) = rpc(http::Method::POST, "/v1/posts/7/photos");
        let message =
            build_message(&rpc, bindings, None, Some("image/png"), Bytes::from_static(b"\x89PNG")).unwrap();
        let photo = message.get_field_by_name("photo").unwrap();
        let photo = photo.as_message().unwrap();
        assert_eq!(photo.get_field_by_name("content_type").unwrap().as_str(), Some("image/png"));
        assert_eq!(photo.get_field_by_name("data").unwrap().as_bytes().unwrap().as_ref(), b"\x89PNG");
    }
}
