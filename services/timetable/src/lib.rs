//! The timetable service: the lecture catalog and its CSV import, timetables with conflict
//! checks, friends' timetables, lecture reviews and the GPA calculator.
//!
//! Reading order: [`startup`] builds and runs the server, [`grpc`] has one method per RPC,
//! [`domain`] holds the rules (no I/O) and [`store`] every SQL statement.

pub mod domain;
pub mod grpc;
pub mod startup;
pub mod store;

pub use startup::{Application, Config};
