//! One error type for every service, mapped to `tonic::Status` with google.rpc details:
//! `BadRequest` field violations for bad input and `ErrorInfo` with a stable reason.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo.domain` of every campus error.
pub const ERROR_DOMAIN: &str = "campus";

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A bad request field: its JSON path (`title`, `times[1].startMinute`) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// Collects every problem of a request before answering, so a client fixes them all at once.
#[derive(Debug, Default, Clone)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation { field: field.into(), description: description.into() });
    }

    /// Records a violation when `ok` is false.
    pub fn check(&mut self, ok: bool, field: &str, description: impl Into<String>) {
        if !ok {
            self.add(field, description);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was recorded, otherwise an INVALID_ARGUMENT error.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() { Ok(()) } else { Err(Error::InvalidArgument(self)) }
    }

    pub fn iter(&self) -> impl Iterator<Item = &FieldViolation> {
        self.0.iter()
    }
}

impl std::fmt::Display for Violations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|v| format!("{}: {}", v.field, v.description)).collect();
        write!(f, "invalid request: {}", parts.join("; "))
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
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{message}")]
    ResourceExhausted { reason: &'static str, message: String },
    #[error("{0}")]
    Unavailable(String),
    /// A call to another service failed; its status is passed on unchanged.
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

    pub fn failed_precondition(reason: &'static str, message: impl Into<String>) -> Self {
        Self::FailedPrecondition { reason, message: message.into() }
    }

    pub fn already_exists(reason: &'static str, message: impl Into<String>) -> Self {
        Self::AlreadyExists { reason, message: message.into() }
    }

    pub fn permission_denied(reason: &'static str, message: impl Into<String>) -> Self {
        Self::PermissionDenied { reason, message: message.into() }
    }

    pub fn resource_exhausted(reason: &'static str, message: impl Into<String>) -> Self {
        Self::ResourceExhausted { reason, message: message.into() }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into().into())
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

fn with_reason(code: Code, message: String, reason: &str) -> Status {
    let details = ErrorDetails::with_error_info(
        reason,
        ERROR_DOMAIN,
        std::collections::HashMap::<String, String>::new(),
    );
    Status::with_error_details(code, message, details)
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidArgument(violations) => {
                let mut details = ErrorDetails::new();
                for v in violations.iter() {
                    details.add_bad_request_violation(v.field.clone(), v.description.clone());
                }
                details.set_error_info(
                    "INVALID_ARGUMENT",
                    ERROR_DOMAIN,
                    std::collections::HashMap::<String, String>::new(),
                );
                Status::with_error_details(Code::InvalidArgument, violations.to_string(), details)
            }
            Error::FailedPrecondition { reason, message } => {
                with_reason(Code::FailedPrecondition, message, reason)
            }
            Error::NotFound(what) => with_reason(Code::NotFound, format!("{what} not found"), "NOT_FOUND"),
            Error::AlreadyExists { reason, message } => with_reason(Code::AlreadyExists, message, reason),
            Error::PermissionDenied { reason, message } => {
                with_reason(Code::PermissionDenied, message, reason)
            }
            Error::Unauthenticated(message) => {
                with_reason(Code::Unauthenticated, message.to_string(), "UNAUTHENTICATED")
            }
            Error::ResourceExhausted { reason, message } => {
                with_reason(Code::ResourceExhausted, message, reason)
            }
            Error::Unavailable(message) => {
                tracing::warn!(%message, "unavailable");
                with_reason(Code::Unavailable, "service unavailable, retry later".into(), "UNAVAILABLE")
            }
            Error::Upstream(status) => status,
            Error::Database(ref db) if is_transient(db) => {
                tracing::warn!(error = %db, "database unavailable");
                with_reason(Code::Unavailable, "database unavailable, retry later".into(), "UNAVAILABLE")
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
    }

    #[test]
    fn reasons_are_carried_in_error_info() {
        let status: Status = Error::failed_precondition("TIME_CONFLICT", "collides").into();
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(status.get_error_details().error_info().unwrap().reason, "TIME_CONFLICT");
    }

    #[test]
    fn internal_errors_are_scrubbed() {
        let status: Status = Error::internal("SELECT secret FROM users failed").into();
        assert_eq!(status.code(), Code::Internal);
        assert_eq!(status.message(), "internal error");
    }
}
