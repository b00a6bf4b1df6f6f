//! The campus gateway: the only public door. One listener serves HTTP/JSON (transcoded from
//! the `google.api.http` annotations), gRPC-web and gRPC; it verifies access tokens, serves
//! the auth service in process and forwards everything else to the owning service.
//!
//! Reading order: `startup` (config, build, serve) → `door` (connections, their limits and
//! timeouts; `tls` when the gateway terminates TLS, `redirect` on the plain-HTTP port) →
//! `server` (per-request dispatch by content type; `auth` is the auth service in process,
//! `health` the probes) → `proxy` (gRPC forwarding) → `transcode` and `routes` (HTTP/JSON,
//! with `idempotency` keys on POST; `wire_json` writes the answers) → `errors` (gRPC → HTTP);
//! `public` (the exposed services, which need no token) is read by all of them, `limits` and
//! `client_address` (whom a request counts against) by several.
//!
//! Every module is private: the binaries and tests build an [`Application`] from a
//! [`Config`] and name only the few items re-exported here.

mod auth;
mod client_address;
mod door;
mod errors;
mod health;
mod idempotency;
mod limits;
mod proxy;
mod public;
mod redirect;
mod routes;
mod server;
mod startup;
mod tls;
mod transcode;
mod wire_json;

pub use client_address::TrustedProxies;
pub use errors::http_status;
pub use startup::{Application, Config, Upstreams};
pub use tls::TlsFiles;

/// The one body type inside the gateway (tonic's boxed body).
pub(crate) type Body = tonic::body::Body;
