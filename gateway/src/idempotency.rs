//! Idempotency keys on the HTTP/JSON API: a POST carrying `Idempotency-Key: <key>` runs at
//! most once per caller and key. A repeat with the same request gets the first answer back
//! (marked `Idempotent-Replayed: true`); the same key on another request is refused with 422
//! `IDEMPOTENCY_KEY_REUSED`.
//!
//! The records live in the gateway's own database, so every replica sees them:
//! - a request **claims** `(scope, key)` with an INSERT that conflicts on that primary key;
//!   the one that inserts calls the service, the others find its row;
//! - a duplicate that finds the claim **still running** polls until the answer is stored
//!   (at most the upstream timeout; past it, 409 `IDEMPOTENCY_REQUEST_IN_PROGRESS`);
//! - 2xx and final 4xx answers are **stored** (24 h by default); a 5xx, a timeout or a
//!   retryable 4xx (401, 408, 429) **releases** the claim so the client can try again;
//! - the service call runs in its own task, so a client that hangs up cannot leave a claim
//!   half done; a claim whose gateway died is taken over once its lease has run out.
//!
//! The scope is the access token's user (`user:<sub>`), or the client address on public
//! routes (`ip:<addr>`), so nobody can read another caller's stored answer. Sign-in, refresh
//! and logout take no key: their answers carry session secrets bound to a cookie, not to the
//! body, and a replay would hand them to whoever shares the address.

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use campus_shared::Caller;
use campus_shared::db::{self, Db, Migrations, duration_micros};
use http::{HeaderName, HeaderValue, Method, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use tonic::{Code, Status};

use crate::Body;
use crate::errors::{error_json, json_response, status_response, status_with_reason};
use crate::limits::ClientIp;

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// The request header.
pub(crate) const HEADER: HeaderName = HeaderName::from_static("idempotency-key");
/// Marks an answer that was stored earlier rather than made for this request.
pub(crate) const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// The reason of a key sent again with another request.
pub(crate) const KEY_REUSED: &str = "IDEMPOTENCY_KEY_REUSED";
/// The reason of a duplicate whose first request did not finish in time.
pub(crate) const IN_PROGRESS: &str = "IDEMPOTENCY_REQUEST_IN_PROGRESS";

const MAX_KEY_LEN: usize = 255;
/// Response headers replayed with a stored answer (the rest belong to one exchange).
const STORED_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::CACHE_CONTROL, header::LOCATION];
/// Methods whose answers carry session secrets; they ignore the header (see the module docs).
const SESSION_METHODS: &[&str] = &[
    "/campus.auth.v1.AuthService/Login",
    "/campus.auth.v1.AuthService/Refresh",
    "/campus.auth.v1.AuthService/Logout",
];
/// How long after the upstream timeout an unfinished claim is presumed abandoned.
const LEASE_MARGIN: Duration = Duration::from_secs(10);
/// The longest pause between two looks at a running claim.
const MAX_POLL: Duration = Duration::from_millis(100);

/// The idempotency store.
#[derive(Debug, Clone)]
pub(crate) struct Idempotency {
    db: Db,
    /// How long a stored answer is replayed.
    ttl: Duration,
    /// How long a duplicate waits for the first request (the upstream timeout).
    wait: Duration,
}

/// A keyed request: who asked, with which key, and a fingerprint of what was asked.
#[derive(Debug, Clone)]
pub(crate) struct Keyed {
    scope: String,
    key: String,
    fingerprint: String,
}

/// What a look at `(scope, key)` found.
#[derive(Debug)]
enum Claim {
    /// This request holds the claim and makes the call.
    Won,
    /// Another request with this key is running (or just released its claim).
    Running,
    /// The key belongs to a different request.
    OtherRequest,
    Done(Stored),
}

#[derive(Debug)]
struct Stored {
    status: i64,
    headers: Option<String>,
    body: Option<Vec<u8>>,
}

/// A record as read back.
#[derive(Debug, sqlx::FromRow)]
struct Record {
    fingerprint: String,
    status: Option<i64>,
    headers: Option<String>,
    body: Option<Vec<u8>>,
}

/// Reads the key of a request, when the route takes one.
///
/// `Ok(None)`: no key, a route without idempotency, or a caller the dispatcher will refuse
/// anyway (a protected route without a valid token: nothing to scope the key to, and a 401 is
/// not an answer worth keeping). `Err`: a malformed key (INVALID_ARGUMENT, 400).
pub(crate) fn keyed(
    request: &http::request::Parts,
    grpc_path: &str,
    server_streaming: bool,
    body: &[u8],
    caller: impl FnOnce() -> Option<Caller>,
) -> Result<Option<Keyed>, Status> {
    let mut values = request.headers.get_all(&HEADER).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if request.method != Method::POST || server_streaming || SESSION_METHODS.contains(&grpc_path) {
        return Ok(None);
    }
    let key = value.as_bytes();
    let valid = !key.is_empty() && key.len() <= MAX_KEY_LEN && key.iter().all(u8::is_ascii_graphic);
    if !valid || values.next().is_some() {
        let description = if valid {
            "must be sent once".to_string()
        } else {
            format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters")
        };
        return Err(campus_shared::Error::invalid("Idempotency-Key", description).into());
    }
    let ip = request.extensions.get::<ClientIp>().map(|c| c.0);
    let scope = match (caller(), ip) {
        (Some(caller), _) => format!("user:{}", caller.user_id),
        (None, Some(ip)) if crate::public::is_public(grpc_path) => format!("ip:{ip}"),
        _ => return Ok(None),
    };
    let uri = &request.uri;
    let mut hash = Sha256::new();
    for part in [
        request.method.as_str().as_bytes(),
        uri.path().as_bytes(),
        uri.query().unwrap_or_default().as_bytes(),
        request.headers.get(header::CONTENT_TYPE).map(HeaderValue::as_bytes).unwrap_or_default(),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.update(body);
    Ok(Some(Keyed {
        scope,
        key: String::from_utf8_lossy(key).into_owned(),
        fingerprint: format!("{:x}", hash.finalize()),
    }))
}

impl Idempotency {
    /// Connects to the gateway's database and migrates it.
    pub(crate) async fn connect(
        config: &campus_shared::config::DatabaseConfig,
        ttl: Duration,
        wait: Duration,
    ) -> Result<Self, sqlx::Error> {
        let db = db::connect(config, Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
        Ok(Self { db, ttl, wait })
    }

    /// Answers a keyed request: the stored answer, a refusal, or `call`'s answer (made once).
    pub(crate) async fn run<F>(&self, keyed: Keyed, call: F) -> Response<Body>
    where
        F: Future<Output = Response<Body>> + Send + 'static,
    {
        let owner = match self.acquire(&keyed).await {
            Ok(owner) => owner,
            Err(answer) => return answer,
        };
        let this = self.clone();
        let task = tokio::spawn(async move {
            let response = call.await;
            this.finish(&keyed, &owner, response).await
        });
        task.await.unwrap_or_else(|e| {
            tracing::error!(error = %e, "idempotent call failed");
            status_response(&Status::internal("internal error"))
        })
    }

    /// Claims the key, or waits for the request that holds it; `Err` is the answer to give.
    async fn acquire(&self, keyed: &Keyed) -> Result<String, Response<Body>> {
        let owner = campus_shared::identity::random_token();
        let deadline = Instant::now() + self.wait;
        let mut pause = Duration::from_millis(5);
        loop {
            let claim = self.claim(keyed, &owner).await.map_err(|e| {
                status_response(&campus_shared::Error::Unavailable(format!("idempotency store: {e}")).into())
            })?;
            match claim {
                Claim::Won => return Ok(owner),
                Claim::Done(stored) => return Err(stored.replay()),
                Claim::OtherRequest => return Err(key_reused()),
                Claim::Running if Instant::now() + pause >= deadline => return Err(in_progress()),
                Claim::Running => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_POLL);
                }
            }
        }
    }

    async fn claim(&self, k: &Keyed, owner: &str) -> Result<Claim, sqlx::Error> {
        let now = db::now_micros();
        let lease_until = now.saturating_add(duration_micros(self.wait + LEASE_MARGIN));
        let expires_at = now.saturating_add(duration_micros(self.ttl));
        // Both ways of taking the record write the same claim, bound in the same order.
        let write_claim = |sql: &'static str| {
            sqlx::query(sql)
                .bind(&k.scope)
                .bind(&k.key)
                .bind(&k.fingerprint)
                .bind(owner)
                .bind(lease_until)
                .bind(now)
                .bind(expires_at)
                .execute(&self.db.pool)
        };
        let inserted = write_claim(
            "INSERT INTO idempotency_record \
             (scope, idempotency_key, fingerprint, owner, lease_until, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scope, idempotency_key) DO NOTHING",
        )
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::Won);
        }
        // An expired record is free again; an unfinished claim past its lease was abandoned
        // and goes to the next request for the same thing.
        let taken = write_claim(
            "UPDATE idempotency_record SET fingerprint = $3, owner = $4, lease_until = $5, \
             status = NULL, headers = NULL, body = NULL, created_at = $6, expires_at = $7 \
             WHERE scope = $1 AND idempotency_key = $2 \
             AND (expires_at <= $6 OR (status IS NULL AND lease_until <= $6 AND fingerprint = $3))",
        )
        .await?;
        if taken.rows_affected() == 1 {
            return Ok(Claim::Won);
        }
        let record: Option<Record> = sqlx::query_as(
            "SELECT fingerprint, status, headers, body FROM idempotency_record \
             WHERE scope = $1 AND idempotency_key = $2",
        )
        .bind(&k.scope)
        .bind(&k.key)
        .fetch_optional(&self.db.pool)
        .await?;
        Ok(match record {
            // Released between our insert and this read: look again.
            None => Claim::Running,
            Some(r) if r.fingerprint != k.fingerprint => Claim::OtherRequest,
            Some(Record { status: None, .. }) => Claim::Running,
            Some(Record { status: Some(status), headers, body, .. }) => {
                Claim::Done(Stored { status, headers, body })
            }
        })
    }

    /// Stores a final answer or releases the claim, and passes the answer on.
    async fn finish(&self, k: &Keyed, owner: &str, response: Response<Body>) -> Response<Body> {
        let (parts, body) = response.into_parts();
        let Ok(collected) = body.collect().await else {
            self.release(k, owner).await;
            return status_response(&campus_shared::Error::Unavailable("answer body broke".into()).into());
        };
        let bytes = collected.to_bytes();
        if is_final(parts.status) {
            let headers: Vec<(&str, &str)> = STORED_HEADERS
                .iter()
                .filter_map(|name| Some((name.as_str(), parts.headers.get(name)?.to_str().ok()?)))
                .collect();
            let stored = sqlx::query(
                "UPDATE idempotency_record SET status = $4, headers = $5, body = $6 \
                 WHERE scope = $1 AND idempotency_key = $2 AND owner = $3",
            )
            .bind(&k.scope)
            .bind(&k.key)
            .bind(owner)
            .bind(i64::from(parts.status.as_u16()))
            .bind(serde_json::to_string(&headers).unwrap_or_default())
            .bind(bytes.to_vec())
            .execute(&self.db.pool)
            .await;
            if let Err(e) = stored {
                // The answer stands; a retry waits out the lease, then runs again.
                tracing::warn!(error = %e, "could not store an idempotent answer");
            }
        } else {
            self.release(k, owner).await;
        }
        Response::from_parts(parts, Body::new(Full::new(bytes)))
    }

    async fn release(&self, k: &Keyed, owner: &str) {
        let released = sqlx::query(
            "DELETE FROM idempotency_record \
             WHERE scope = $1 AND idempotency_key = $2 AND owner = $3 AND status IS NULL",
        )
        .bind(&k.scope)
        .bind(&k.key)
        .bind(owner)
        .execute(&self.db.pool)
        .await;
        if let Err(e) = released {
            tracing::warn!(error = %e, "could not release an idempotency key; it frees when its lease ends");
        }
    }

    /// Deletes expired records every `period` (expired ones are already ignored; this only
    /// keeps the table small).
    pub(crate) async fn purge_expired(self, period: Duration) {
        let mut interval = tokio::time::interval(period);
        loop {
            interval.tick().await;
            let purged = sqlx::query("DELETE FROM idempotency_record WHERE expires_at <= $1")
                .bind(db::now_micros())
                .execute(&self.db.pool)
                .await;
            match purged {
                Ok(done) if done.rows_affected() > 0 => {
                    tracing::debug!(purged = done.rows_affected(), "expired idempotency records deleted");
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not purge idempotency records"),
            }
        }
    }
}

/// Answers worth replaying: successes and client errors that a retry cannot change. A 401
/// (token to refresh), 408 and 429 (try later) and every 5xx leave the key free.
fn is_final(status: StatusCode) -> bool {
    status.is_success()
        || (status.is_client_error()
            && !matches!(
                status,
                StatusCode::UNAUTHORIZED | StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
            ))
}

impl Stored {
    fn replay(self) -> Response<Body> {
        let mut response = Response::new(Body::new(Full::new(Bytes::from(self.body.unwrap_or_default()))));
        *response.status_mut() =
            u16::try_from(self.status).ok().and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or_default();
        let headers: Vec<(String, String)> =
            self.headers.and_then(|h| serde_json::from_str(&h).ok()).unwrap_or_default();
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
                response.headers_mut().append(name, value);
            }
        }
        response.headers_mut().insert(REPLAYED, HeaderValue::from_static("true"));
        response
    }
}

/// 422: the key was first used for another request (other body, path, query or route).
fn key_reused() -> Response<Body> {
    let status = status_with_reason(
        Code::InvalidArgument,
        "this Idempotency-Key was used for a different request; use a new key for a new request",
        KEY_REUSED,
    );
    json_response(StatusCode::UNPROCESSABLE_ENTITY, &error_json(&status))
}

/// 409: the first request with this key is still running.
fn in_progress() -> Response<Body> {
    status_response(&status_with_reason(
        Code::Aborted,
        "a request with this Idempotency-Key is still in progress; retry later",
        IN_PROGRESS,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(value: &str, method: Method, path: &str, body: &[u8]) -> Result<Option<Keyed>, StatusCode> {
        let (mut parts, ()) = http::Request::builder()
            .method(method)
            .uri("/v1/boards/1/posts")
            .header(HEADER, value)
            .body(())
            .unwrap()
            .into_parts();
        parts.extensions.insert(ClientIp([10, 0, 0, 1].into()));
        let caller =
            Caller { user_id: 7, school_id: 1, role: campus_shared::Role::User, nickname: "u".into() };
        let public = "/campus.auth.v1.AuthService/SignUp";
        let who = if path == public { None } else { Some(caller) };
        keyed(&parts, path, false, body, || who).map_err(|s| crate::errors::http_status(s.code()))
    }

    #[test]
    fn keys_are_checked_and_scoped() {
        let create = "/campus.board.v1.BoardService/CreatePost";
        let k = key("abc-123", Method::POST, create, b"{}").unwrap().unwrap();
        assert_eq!((k.scope.as_str(), k.key.as_str()), ("user:7", "abc-123"));
        assert_eq!(key("with space", Method::POST, create, b"{}").unwrap_err(), StatusCode::BAD_REQUEST);
        let long = "k".repeat(256);
        assert_eq!(key(&long, Method::POST, create, b"{}").unwrap_err(), StatusCode::BAD_REQUEST);
        assert!(key(&long[..255], Method::POST, create, b"{}").unwrap().is_some());
        // Other methods and the session routes ignore the header.
        assert!(key("abc", Method::PATCH, create, b"{}").unwrap().is_none());
        assert!(key("abc", Method::POST, "/campus.auth.v1.AuthService/Login", b"{}").unwrap().is_none());
        // Public routes are scoped to the client address.
        let signup = key("abc", Method::POST, "/campus.auth.v1.AuthService/SignUp", b"{}").unwrap().unwrap();
        assert_eq!(signup.scope, "ip:10.0.0.1");
    }

    #[test]
    fn the_fingerprint_covers_the_body() {
        let create = "/campus.board.v1.BoardService/CreatePost";
        let a = key("k", Method::POST, create, b"{\"a\":1}").unwrap().unwrap();
        let b = key("k", Method::POST, create, b"{\"a\":2}").unwrap().unwrap();
        let a2 = key("k", Method::POST, create, b"{\"a\":1}").unwrap().unwrap();
        assert_ne!(a.fingerprint, b.fingerprint);
        assert_eq!(a.fingerprint, a2.fingerprint);
    }

    #[test]
    fn only_final_answers_are_kept() {
        for (status, kept) in [(200, true), (201, true), (204, true), (400, true), (404, true), (409, true)] {
            assert_eq!(is_final(StatusCode::from_u16(status).unwrap()), kept, "{status}");
        }
        for status in [401, 408, 429, 500, 502, 503, 504] {
            assert!(!is_final(StatusCode::from_u16(status).unwrap()), "{status}");
        }
    }
}
