//! One error type for every service, mapped to `tonic::Status` with google.rpc details:
//! `BadRequest` field violations for bad input and `ErrorInfo` with a stable reason and, where
//! a client needs more than the reason, key/value metadata.
//!
//! Nothing outside this file builds `ErrorInfo`: a service says what went wrong as an [`Error`]
//! and the conversion to `Status` renders it. The reasons are part of the API (DESIGN §4):
//! clients branch on them, so they never change.

use std::collections::BTreeMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every campus error.
pub const ERROR_DOMAIN: &str = "campus";

/// The reason of bad input that has no more specific one.
pub const INVALID_ARGUMENT: &str = "INVALID_ARGUMENT";
/// The reason of a missing or bad access token that has no more specific one.
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
/// The reason of a service (or its database) that could not answer; clients retry.
pub const UNAVAILABLE: &str = "UNAVAILABLE";
/// The reason an internal RPC gives a caller without the service credential.
pub const SERVICE_ONLY: &str = "SERVICE_ONLY";

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a tonic service method answers.
pub type Reply<T> = std::result::Result<tonic::Response<T>, Status>;

/// A handler's shared [`Result`] as a service method's answer: every service's trait methods
/// are one line, `reply(self.handler(&caller, request.into_inner()).await)`.
pub fn reply<T>(result: Result<T>) -> Reply<T> {
    result.map(tonic::Response::new).map_err(Status::from)
}

/// A bad request field: its JSON path (`title`, `times[1].startMinute`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// Collects every problem of a request before answering, so a client fixes them all at once.
/// The reason is INVALID_ARGUMENT unless [`Violations::because`] names a more specific one.
#[derive(Debug, Clone)]
pub struct Violations {
    list: Vec<FieldViolation>,
    reason: &'static str,
}

impl Default for Violations {
    fn default() -> Self {
        Self { list: Vec::new(), reason: INVALID_ARGUMENT }
    }
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// The same violations under a more specific reason (e.g. `PHOTO_TOO_LARGE`).
    pub fn because(mut self, reason: &'static str) -> Self {
        self.reason = reason;
        self
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.list.push(FieldViolation { field: field.into(), description: description.into() });
    }

    /// Records a violation when `ok` is false.
    pub fn check(&mut self, ok: bool, field: &str, description: impl Into<String>) {
        if !ok {
            self.add(field, description);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// `Ok(())` when nothing was recorded, otherwise an INVALID_ARGUMENT error.
    pub fn finish(self) -> Result<()> {
        if self.list.is_empty() { Ok(()) } else { Err(Error::InvalidArgument(self)) }
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldViolation> {
        self.list.iter()
    }

    /// The reason the violations are answered with.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl std::fmt::Display for Violations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> =
            self.list.iter().map(|v| format!("{}: {}", v.field, v.description)).collect();
        write!(f, "invalid request: {}", parts.join("; "))
    }
}

/// A refusal with any code: its stable reason, the message, and ErrorInfo metadata a client
/// can act on (e.g. which item a TIME_CONFLICT collided with). For the codes the other
/// [`Error`] variants do not name (ABORTED, DEADLINE_EXCEEDED, a gateway's own NOT_FOUND
/// reason), and for any refusal that carries metadata.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub code: Code,
    pub reason: &'static str,
    pub message: String,
    pub metadata: BTreeMap<String, String>,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every failure a campus RPC can answer with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidArgument(Violations),
    /// The request is well-formed but the state forbids it (e.g. TIME_CONFLICT).
    #[error("{message}")]
    FailedPrecondition { reason: &'static str, message: String },
    /// Deliberately vague: also used for things that exist but the caller may not see.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    AlreadyExists { reason: &'static str, message: String },
    #[error("{message}")]
    PermissionDenied { reason: &'static str, message: String },
    #[error("{message}")]
    Unauthenticated { reason: &'static str, message: String },
    #[error("{message}")]
    ResourceExhausted { reason: &'static str, message: String },
    /// Any other code with a stable reason, or any refusal with ErrorInfo metadata.
    #[error("{0}")]
    Refused(Box<Refusal>),
    /// Something this service needs could not answer (logged; the client is told to retry).
    #[error("{0}")]
    Unavailable(String),
    /// A status answered as it is (a streamed call's own status).
    #[error("upstream: {0}")]
    Upstream(Status),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// INVALID_ARGUMENT with a single field violation.
    pub fn invalid(field: &str, description: impl Into<String>) -> Self {
        let mut v = Violations::new();
        v.add(field, description);
        Self::InvalidArgument(v)
    }

    /// INVALID_ARGUMENT with a single field violation and a more specific reason.
    pub fn invalid_because(reason: &'static str, field: &str, description: impl Into<String>) -> Self {
        let mut v = Violations::new().because(reason);
        v.add(field, description);
        Self::InvalidArgument(v)
    }

    pub fn failed_precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Self::FailedPrecondition { reason, message: message.into() }
    }

    pub fn already_exists(reason: &'static str, message: impl Into<String>) -> Self {
        Self::AlreadyExists { reason, message: message.into() }
    }

    pub fn permission_denied(reason: &'static str, message: impl Into<String>) -> Self {
        Self::PermissionDenied { reason, message: message.into() }
    }

    /// UNAUTHENTICATED with the reason UNAUTHENTICATED: no token, or a bad one.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::unauthenticated_because(UNAUTHENTICATED, message)
    }

    /// UNAUTHENTICATED with a more specific reason (e.g. INVALID_CREDENTIALS).
    pub fn unauthenticated_because(reason: &'static str, message: impl Into<String>) -> Self {
        Self::Unauthenticated { reason, message: message.into() }
    }

    pub fn resource_exhausted(reason: &'static str, message: impl Into<String>) -> Self {
        Self::ResourceExhausted { reason, message: message.into() }
    }

    /// Any code with a stable reason.
    pub fn refused(code: Code, reason: &'static str, message: impl Into<String>) -> Self {
        Self::Refused(Box::new(Refusal { code, reason, message: message.into(), metadata: BTreeMap::new() }))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into().into())
    }

    /// The same refusal with one more ErrorInfo metadata entry. Errors that carry no reason
    /// (database, internal, pass-through) and bad input (whose details are the violations)
    /// are returned unchanged.
    pub fn with_metadata(self, key: impl Into<String>, value: impl ToString) -> Self {
        let (code, reason, message) = match self {
            Error::Refused(mut refusal) => {
                refusal.metadata.insert(key.into(), value.to_string());
                return Error::Refused(refusal);
            }
            Error::FailedPrecondition { reason, message } => (Code::FailedPrecondition, reason, message),
            Error::AlreadyExists { reason, message } => (Code::AlreadyExists, reason, message),
            Error::PermissionDenied { reason, message } => (Code::PermissionDenied, reason, message),
            Error::Unauthenticated { reason, message } => (Code::Unauthenticated, reason, message),
            Error::ResourceExhausted { reason, message } => (Code::ResourceExhausted, reason, message),
            other => return other,
        };
        Error::refused(code, reason, message).with_metadata(key, value)
    }

    /// A failed call to another service (`service` names it in logs), as this service's
    /// answer. One rule for every caller — the gateway's auth facade, timetable asking
    /// account, messaging asking board and account:
    ///
    /// - **Refusals a client can act on pass unchanged** (code, message and details, not the
    ///   upstream's response metadata): INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS,
    ///   FAILED_PRECONDITION, UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED, ABORTED,
    ///   OUT_OF_RANGE. The upstream judged the client's request or the client's rights; saying
    ///   it again in other words would only lose the reason.
    /// - **No answer is UNAVAILABLE** (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED): the upstream
    ///   is down, slow or restarting; the client retries later. The upstream's message, which
    ///   may describe our network, is logged, not sent.
    /// - **Everything else is INTERNAL** (INTERNAL, UNKNOWN, DATA_LOSS, UNIMPLEMENTED, and
    ///   PERMISSION_DENIED/SERVICE_ONLY, which means our own service credential was refused):
    ///   ours to fix, logged, scrubbed.
    pub fn from_upstream(status: Status, service: &str) -> Self {
        let reason = status.get_error_details().error_info().map(|info| info.reason.clone());
        match status.code() {
            Code::PermissionDenied if reason.as_deref() == Some(SERVICE_ONLY) => {
                Error::internal(format!("the {service} service refused our service credential"))
            }
            Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::FailedPrecondition
            | Code::Unauthenticated
            | Code::PermissionDenied
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::OutOfRange => Error::Upstream(Status::with_details(
                status.code(),
                status.message().to_owned(),
                status.details().to_vec().into(),
            )),
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
                tracing::warn!(service, code = ?status.code(), error = %status.message(), "upstream unavailable");
                Error::refused(
                    Code::Unavailable,
                    UNAVAILABLE,
                    format!("{service} service unavailable, retry later"),
                )
            }
            code => Error::internal(format!("{service} service answered {code:?}: {}", status.message())),
        }
    }
}

/// True when the database refused a row because of a unique constraint or index, on either
/// backend. Callers turn this into ALREADY_EXISTS with their own reason.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.is_unique_violation() || db.code().is_some_and(|c| c == "23505" || c == "2067" || c == "1555")
        }
        _ => false,
    }
}

/// True for database failures that are about reaching the database, not about the query:
/// these become UNAVAILABLE so clients retry instead of seeing a 500.
fn is_transient(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now,
            // 08xxx connection exceptions; SQLite 5/6 busy and locked.
            code.starts_with("08")
                || code.starts_with("57P")
                || code == "40001"
                || code == "40P01"
                || code == "5"
                || code == "6"
                || code == "517"
        }
        _ => false,
    }
}

/// The one place a status with `ErrorInfo` is built.
fn refusal_status(code: Code, message: String, reason: &str, metadata: BTreeMap<String, String>) -> Status {
    let details = ErrorDetails::with_error_info(
        reason,
        ERROR_DOMAIN,
        metadata.into_iter().collect::<std::collections::HashMap<_, _>>(),
    );
    Status::with_error_details(code, message, details)
}

impl From<Refusal> for Status {
    fn from(refusal: Refusal) -> Self {
        refusal_status(refusal.code, refusal.message, refusal.reason, refusal.metadata)
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        let plain = |code, message, reason| refusal_status(code, message, reason, BTreeMap::new());
        match err {
            Error::InvalidArgument(violations) => {
                let mut details = ErrorDetails::new();
                for v in violations.iter() {
                    details.add_bad_request_violation(v.field.clone(), v.description.clone());
                }
                details.set_error_info(
                    violations.reason,
                    ERROR_DOMAIN,
                    std::collections::HashMap::<String, String>::new(),
                );
                Status::with_error_details(Code::InvalidArgument, violations.to_string(), details)
            }
            Error::FailedPrecondition { reason, message } => plain(Code::FailedPrecondition, message, reason),
            Error::NotFound(what) => plain(Code::NotFound, format!("{what} not found"), "NOT_FOUND"),
            Error::AlreadyExists { reason, message } => plain(Code::AlreadyExists, message, reason),
            Error::PermissionDenied { reason, message } => plain(Code::PermissionDenied, message, reason),
            Error::Unauthenticated { reason, message } => plain(Code::Unauthenticated, message, reason),
            Error::ResourceExhausted { reason, message } => plain(Code::ResourceExhausted, message, reason),
            Error::Refused(refusal) => (*refusal).into(),
            Error::Unavailable(message) => {
                tracing::warn!(%message, "unavailable");
                plain(Code::Unavailable, "service unavailable, retry later".into(), UNAVAILABLE)
            }
            Error::Upstream(status) => status,
            Error::Database(ref db) if is_transient(db) => {
                tracing::warn!(error = %db, "database unavailable");
                plain(Code::Unavailable, "database unavailable, retry later".into(), UNAVAILABLE)
            }
            Error::Database(db) => {
                tracing::error!(error = ?db, "database error");
                Status::internal("internal error")
            }
            Error::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                Status::internal("internal error")
            }
        }
    }
}

impl From<Status> for Error {
    fn from(status: Status) -> Self {
        Error::Upstream(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(status: &Status) -> tonic_types::ErrorInfo {
        status.get_error_details().error_info().cloned().expect("error info")
    }

    #[test]
    fn violations_become_bad_request_details() {
        let mut v = Violations::new();
        v.add("title", "must be 1 to 100 characters");
        v.add("content", "must not be empty");
        let status: Status = v.finish().unwrap_err().into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        assert_eq!(bad.field_violations.len(), 2);
        assert_eq!(bad.field_violations[0].field, "title");
        assert_eq!(info(&status).reason, INVALID_ARGUMENT);
    }

    #[test]
    fn bad_input_and_missing_tokens_can_name_a_specific_reason() {
        let status: Status = Error::invalid_because("PHOTO_TOO_LARGE", "photos[0]", "too large").into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(info(&status).reason, "PHOTO_TOO_LARGE");
        assert_eq!(status.message(), "invalid request: photos[0]: too large");
        assert_eq!(status.get_error_details().bad_request().unwrap().field_violations[0].field, "photos[0]");

        let status: Status = Error::unauthenticated_because("INVALID_CREDENTIALS", "bad password").into();
        assert_eq!(status.code(), Code::Unauthenticated);
        assert_eq!(info(&status).reason, "INVALID_CREDENTIALS");
        let status: Status = Error::unauthenticated("no token").into();
        assert_eq!(info(&status).reason, UNAUTHENTICATED);
    }

    #[test]
    fn reasons_are_carried_in_error_info() {
        let status: Status = Error::failed_precondition("TIME_CONFLICT", "collides").into();
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(info(&status).reason, "TIME_CONFLICT");
        assert_eq!(info(&status).domain, ERROR_DOMAIN);
    }

    #[test]
    fn metadata_rides_along_with_the_code_and_reason() {
        let status: Status =
            Error::failed_precondition("TIME_CONFLICT", "collides").with_metadata("day", 2).into();
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(status.message(), "collides");
        assert_eq!(info(&status).reason, "TIME_CONFLICT");
        assert_eq!(info(&status).metadata["day"], "2");

        let status: Status = Error::refused(Code::Aborted, "IN_PROGRESS", "wait").into();
        assert_eq!((status.code(), info(&status).reason.as_str()), (Code::Aborted, "IN_PROGRESS"));
    }

    #[test]
    fn internal_errors_are_scrubbed() {
        let status: Status = Error::internal("SELECT secret FROM users failed").into();
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }

    #[test]
    fn upstream_refusals_pass_and_failures_are_ours() {
        let mut refused = Violations::new();
        refused.add("email", "taken");
        let upstream: Status = refused.finish().unwrap_err().into();
        let passed: Status = Error::from_upstream(upstream, "account").into();
        assert_eq!(passed.code(), Code::InvalidArgument);
        assert_eq!(passed.get_error_details().bad_request().unwrap().field_violations[0].field, "email");

        let denied: Status = Error::permission_denied("NOT_FRIENDS", "no").into();
        assert_eq!(Status::from(Error::from_upstream(denied, "account")).code(), Code::PermissionDenied);
        let misconfigured: Status = Error::permission_denied(SERVICE_ONLY, "internal only").into();
        assert_eq!(Status::from(Error::from_upstream(misconfigured, "account")).code(), Code::Internal);

        for code in [Code::Unavailable, Code::DeadlineExceeded, Code::Cancelled] {
            let status: Status = Error::from_upstream(Status::new(code, "10.0.0.7 refused"), "board").into();
            assert_eq!(status.code(), Code::Unavailable, "{code:?}");
            assert_eq!(status.message(), "board service unavailable, retry later");
            assert_eq!(info(&status).reason, UNAVAILABLE);
        }
        for code in [Code::Internal, Code::Unknown, Code::DataLoss, Code::Unimplemented] {
            let status: Status =
                Error::from_upstream(Status::new(code, "SELECT * FROM session"), "board").into();
            assert_eq!((status.code(), status.message()), (Code::Internal, "internal error"), "{code:?}");
        }
    }
}
