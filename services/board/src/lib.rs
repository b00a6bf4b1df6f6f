//! The board service: boards, pinned boards, posts, photos, anonymous comments, likes,
//! scraps, reports, HOT/BEST lists and search, always within the caller's school.
//!
//! Reading order: [`startup`] builds and runs the server, [`grpc`] has one method per RPC,
//! [`domain`] holds the rules, [`store`] every SQL statement and [`blob`] the photo bytes.

pub mod blob;
pub mod domain;
pub mod grpc;
pub mod startup;
pub mod store;

pub use startup::{Application, Config};
