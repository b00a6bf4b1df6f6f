//! The account service: schools, users, refresh-token sessions and friends.
//!
//! Reading order: [`startup`] builds and runs the server, [`grpc`] has one method per RPC,
//! [`domain`] holds the rules, `signin` reserves and settles sign-in attempts, and [`store`]
//! has every SQL statement.

mod deletion;
pub mod domain;
pub mod grpc;
pub mod mail;
pub mod reference;
mod signin;
pub mod startup;
pub mod store;

pub use grpc::CodeRules;
pub use mail::{MailConfig, MailTransport, SmtpConfig};
pub use startup::{Application, Config};
