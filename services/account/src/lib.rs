//! The account service: schools, users, refresh-token sessions and friends.
//!
//! Reading order: `startup` builds and runs the server; `grpc` maps protobuf to domain values
//! and back and owns each RPC's transaction; `domain` decides (the rules, no I/O); `signin`
//! reserves and settles sign-in attempts; `store` runs the SQL and answers the shared result
//! type. One module per resource in `grpc` and `store`.

mod deletion;
mod domain;
mod grpc;
mod mail;
pub mod reference;
mod signin;
mod startup;
mod store;

pub use grpc::CodeRules;
pub use mail::{MailConfig, MailTransport, SmtpConfig};
pub use startup::{Application, Config};
