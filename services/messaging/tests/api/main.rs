//! Integration tests: the real server on port 0, a fresh database per test on every backend
//! of `campus_testkit::backends()`, fake board and account upstreams, and the generated client.

// Test helpers are shared across the test modules with plain `pub`, as zero2prod does.
#![allow(unreachable_pub)]

mod accounts;
mod conversations;
mod helpers;
mod messages;
mod migrations;
mod notifications;
mod streaming;
