//! The campus gateway: the only public door. One listener serves HTTP/JSON (transcoded from
//! the `google.api.http` annotations), gRPC-web and gRPC; it verifies access tokens, serves
//! the auth service in process and forwards everything else to the owning service.
//!
//! Reading order: [`startup`] (config, build, serve) → `door` (connections, their limits and timeouts) → `server` (per-request dispatch by
//! content type) → `proxy` (gRPC forwarding) → `transcode` and `routes` (HTTP/JSON, with
//! `idempotency` keys on POST; `wire_json` writes the answers) → [`errors`] (gRPC → HTTP);
//! `public` (the exposed services, which need no token) is read by all of them.

pub mod auth;
pub mod client_address;
mod door;
pub mod errors;
mod health;
mod idempotency;
mod limits;
mod proxy;
mod public;
pub mod redirect;
mod routes;
mod server;
pub mod startup;
pub mod tls;
mod transcode;
mod wire_json;

pub use client_address::TrustedProxies;
pub use routes::RouteError;
pub use startup::{Application, Config, Upstreams};

/// The one body type inside the gateway (tonic's boxed body).
pub(crate) type Body = tonic::body::Body;
