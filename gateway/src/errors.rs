//! gRPC status → HTTP: the canonical code mapping of DESIGN §4 and the JSON error body
//! `{"code", "message", "details"}` with `google.rpc.BadRequest` and `google.rpc.ErrorInfo`
//! decoded from `grpc-status-details-bin`.

use http::{HeaderValue, Response, StatusCode, header};
use serde_json::{Value, json};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::Body;

/// The reason of a request shed because the gateway is at its concurrency limit or its
/// body budget.
pub(crate) const OVERLOADED: &str = "OVERLOADED";

/// The HTTP status for a gRPC code.
///
/// CANCELLED is 504 rather than the usual 499: over HTTP nobody is left to read the answer
/// to a call the client cancelled, so the only CANCELLED an HTTP client ever sees is tonic's
/// server-side timeout ("Timeout expired").
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DeadlineExceeded | Code::Cancelled => StatusCode::GATEWAY_TIMEOUT,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON error body of a status.
pub(crate) fn error_json(status: &Status) -> Value {
    let details = status.get_error_details();
    let mut rendered = Vec::new();
    if let Some(bad) = details.bad_request() {
        let violations: Vec<Value> = bad
            .field_violations
            .iter()
            .map(|v| json!({"field": v.field, "description": v.description}))
            .collect();
        rendered.push(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": violations,
        }));
    }
    if let Some(info) = details.error_info() {
        rendered.push(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": info.reason,
            "domain": info.domain,
            "metadata": info.metadata,
        }));
    }
    json!({"code": status.code() as i32, "message": status.message(), "details": rendered})
}

/// A JSON response with the given status and body.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Body::new(http_body_util::Full::new(bytes::Bytes::from(bytes))));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The HTTP response for a failed call.
pub(crate) fn status_response(status: &Status) -> Response<Body> {
    let code = http_status(status.code());
    let mut response = json_response(code, &error_json(status));
    if code == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// A status carrying `google.rpc.ErrorInfo` with a stable reason, like the services' errors.
pub(crate) fn status_with_reason(code: Code, message: impl Into<String>, reason: &'static str) -> Status {
    campus_shared::Error::refused(code, reason, message).into()
}

/// An HTTP error the gateway answers itself (no route, wrong method, body too large,
/// overload), in the same JSON shape and with a stable reason like upstream errors.
pub(crate) fn gateway_error(
    http: StatusCode,
    code: Code,
    reason: &'static str,
    message: &str,
) -> Response<Body> {
    json_response(http, &error_json(&status_with_reason(code, message, reason)))
}

/// A gRPC trailers-only error response (for gRPC and gRPC-web callers).
pub(crate) fn grpc_error(status: Status) -> Response<Body> {
    status.into_http()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_mapping() {
        let table = [
            (Code::InvalidArgument, 400),
            (Code::FailedPrecondition, 400),
            (Code::OutOfRange, 400),
            (Code::Unauthenticated, 401),
            (Code::PermissionDenied, 403),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::Aborted, 409),
            (Code::ResourceExhausted, 429),
            (Code::Unimplemented, 501),
            (Code::Unavailable, 503),
            (Code::DeadlineExceeded, 504),
            (Code::Cancelled, 504),
            (Code::Internal, 500),
            (Code::Unknown, 500),
            (Code::DataLoss, 500),
        ];
        for (code, http) in table {
            assert_eq!(http_status(code).as_u16(), http, "{code:?}");
        }
    }

    #[test]
    fn details_are_rendered() {
        let status: Status = campus_shared::Error::invalid("title", "too long").into();
        let body = error_json(&status);
        assert_eq!(body["code"], 3);
        assert_eq!(body["details"][0]["@type"], "type.googleapis.com/google.rpc.BadRequest");
        assert_eq!(body["details"][0]["fieldViolations"][0]["field"], "title");
        assert_eq!(body["details"][1]["reason"], "INVALID_ARGUMENT");
        assert_eq!(body["details"][1]["domain"], "campus");
    }
}
