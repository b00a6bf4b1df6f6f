//! Test and benchmark support for every campus crate. It is a dev-dependency only (the
//! benchmark command, itself a test tool, is the one crate that links it normally), so
//! nothing here ships in a server binary.
//!
//! - [`db`]: fresh databases on each backend ([`each_backend`], [`TestDatabase`]);
//! - [`identity`]: a key pair, token issuer and service credential ([`TestIdentity`]);
//! - [`net`]: channels to local servers, serving a fake, an address nobody listens on;
//! - [`mail`]: the mail the account service writes without SMTP, and the codes in it ([`Outbox`]);
//! - [`status`]: assertions on gRPC statuses and on the gateway's JSON error bodies;
//! - [`fakes`]: test doubles of upstream services;
//! - [`timetable`]: a semester's whole lecture catalog, read page by page;
//! - [`bench`]: the closed-loop load generator, pgbench, gRPC-web framing and fixtures.

pub mod bench;
pub mod db;
pub mod fakes;
pub mod identity;
pub mod mail;
pub mod net;
pub mod status;
pub mod timetable;

pub use db::{PG_URL_VAR, TestDatabase, backends, each_backend};
pub use identity::TestIdentity;
pub use mail::{Outbox, mail_code};
pub use net::{channel, dead_url, unused_port};
