//! Assertions on errors: gRPC statuses (their `ErrorInfo` reason and `BadRequest` field
//! violations) and the gateway's JSON error bodies, which carry the same details.

use serde_json::Value;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The `ErrorInfo.reason` of a status; empty when it has none.
pub fn reason(status: &Status) -> String {
    status.get_error_details().error_info().map(|i| i.reason.clone()).unwrap_or_default()
}

/// Asserts a status's code and `ErrorInfo.reason`.
#[track_caller]
pub fn assert_status(status: &Status, code: Code, expected_reason: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(status), expected_reason, "{status:?}");
}

/// Asserts that a call failed with this code and `ErrorInfo.reason`; returns the status.
#[track_caller]
pub fn assert_error<T: std::fmt::Debug>(
    result: Result<T, Status>,
    code: Code,
    expected_reason: &str,
) -> Status {
    let status = assert_code(result, code);
    assert_eq!(reason(&status), expected_reason, "{status:?}");
    status
}

/// Asserts that a call failed with this code, whatever its reason; returns the status.
#[track_caller]
pub fn assert_code<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(value) => panic!("expected {code:?}, got {value:?}"),
        Err(status) => {
            assert_eq!(status.code(), code, "{status:?}");
            status
        }
    }
}

/// The field names of a status's `BadRequest` violations; empty when it has none.
pub fn bad_fields(status: &Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// The field violations of an INVALID_ARGUMENT status, as (field, description).
#[track_caller]
pub fn violations(status: &Status) -> Vec<(String, String)> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let bad = details.bad_request().expect("bad request details");
    bad.field_violations.iter().map(|v| (v.field.clone(), v.description.clone())).collect()
}

/// The fields named by an INVALID_ARGUMENT status.
#[track_caller]
pub fn violated_fields(status: &Status) -> Vec<String> {
    violations(status).into_iter().map(|(field, _)| field).collect()
}

/// The gateway's JSON error bodies (`{"code", "message", "details": [{"@type", ...}]}`).
pub mod json {
    use super::Value;

    const ERROR_INFO: &str = "type.googleapis.com/google.rpc.ErrorInfo";
    const BAD_REQUEST: &str = "type.googleapis.com/google.rpc.BadRequest";

    /// The detail of a body with this `@type`.
    pub fn detail<'a>(body: &'a Value, type_url: &str) -> Option<&'a Value> {
        body["details"].as_array()?.iter().find(|d| d["@type"] == type_url)
    }

    /// The `ErrorInfo.reason` of an error body.
    pub fn reason(body: &Value) -> Option<&str> {
        detail(body, ERROR_INFO).and_then(|d| d["reason"].as_str())
    }

    /// The fields of an error body's `BadRequest` violations; empty when it has none.
    pub fn violated_fields(body: &Value) -> Vec<String> {
        detail(body, BAD_REQUEST)
            .and_then(|d| d["fieldViolations"].as_array())
            .map(|v| v.iter().filter_map(|f| f["field"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    /// The largest error answer the gateway may give.
    pub const MAX_ERROR_BYTES: usize = 16 * 1024;

    /// An HTTP answer as a test's client holds it (a raw socket's or an HTTP library's): the
    /// client tells its status, headers and body, and gets the checks on error bodies.
    pub trait HttpAnswer: std::fmt::Debug {
        fn status_code(&self) -> u16;

        /// A header's value, when it is there and visible ASCII.
        fn header(&self, name: &str) -> Option<&str>;

        fn body_bytes(&self) -> &[u8];

        /// The body as JSON; `null` when it is not JSON.
        fn json(&self) -> Value {
            serde_json::from_slice(self.body_bytes()).unwrap_or(Value::Null)
        }

        /// The `ErrorInfo.reason` of the body; empty when it has none.
        fn reason(&self) -> String {
            reason(&self.json()).unwrap_or_default().to_string()
        }

        /// The fields of the body's `BadRequest` violations.
        fn fields(&self) -> Vec<String> {
            violated_fields(&self.json())
        }

        /// A small error answer with this status and reason that set no cookie.
        #[track_caller]
        fn refused(&self, status: u16, reason: &str) {
            assert_eq!((self.status_code(), self.reason().as_str()), (status, reason), "{self:?}");
            let size = self.body_bytes().len();
            assert!(size <= MAX_ERROR_BYTES, "error body of {size} bytes");
            assert!(self.header("set-cookie").is_none(), "an error set a cookie");
        }
    }
}
