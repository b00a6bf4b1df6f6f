//! Hostile clients against the real system: every request goes through the gateway over
//! real sockets on loopback, and each test asserts what an attacker ends up with, not how
//! long anything took.

mod addresses;
mod harness;
#[path = "../../../services/board/tests/fixtures/images.rs"]
#[allow(dead_code)]
mod images;
mod photos;
mod routing;
mod sessions;
mod text;
mod throttle;
mod tokens;
