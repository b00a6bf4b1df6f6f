//! What every campus server shares: configuration, telemetry, the database bootstrap,
//! caller identity, the error type, ids, page tokens, the gRPC server bootstrap and the rules
//! of user text.

pub mod config;
pub mod db;
pub mod env;
pub mod error;
pub mod id;
pub mod identity;
pub mod page;
pub mod server;
pub mod telemetry;
pub mod text;
pub mod tls;

pub use error::{Error, Result};
pub use identity::{Caller, Role};
