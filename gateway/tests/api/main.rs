//! End-to-end tests of the gateway: a real gateway on port 0 in front of a real (fake-data)
//! tonic upstream, driven with plain HTTP, a gRPC client and a hand-framed gRPC-web client.

mod auth;
mod errors;
mod grpc;
mod grpc_web;
mod helpers;
mod limits;
mod pki;
mod probes;
mod tls;
mod transcoding;
