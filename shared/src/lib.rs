//! What every campus server shares: configuration, telemetry, the database bootstrap,
//! caller identity, the error type, ids, page tokens and the gRPC server bootstrap.

pub mod bench;
pub mod config;
pub mod db;
pub mod error;
pub mod id;
pub mod identity;
pub mod page;
pub mod server;
pub mod telemetry;
pub mod testing;

pub use error::{Error, Result};
pub use identity::{Caller, Role};
