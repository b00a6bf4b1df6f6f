//! The gateway in front of the real account service, both in this process on port 0: the
//! tests of the gateway that need account's real behaviour (sign-up with mailed codes, login,
//! refresh rotation, password rules, verification, idempotent creates, service TLS), and the
//! fuzz targets, whose requests reach real services. Every test runs on SQLite and, when
//! `CAMPUS_TEST_PG_URL` is set, PostgreSQL.
//!
//! The gateway's own tests (`gateway/tests/`) put fakes behind it; the fake upstream and the
//! gateway harness of `gateway/tests/api/helpers.rs` serve here too, as does its test CA.

mod auth;
mod e2e;
mod fuzz;
#[path = "../../../gateway/tests/api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
mod idempotency;
#[path = "../../../gateway/tests/api/pki.rs"]
mod pki;
mod service_tls;
mod support;
mod verification;
