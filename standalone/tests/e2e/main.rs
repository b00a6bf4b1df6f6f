//! End-to-end tests of every domain rule as a client sees it: the whole system on each
//! backend (SQLite always, PostgreSQL when `CAMPUS_TEST_PG_URL` is set), one database per
//! service, driven over HTTP/JSON and gRPC-web through the gateway.

mod board;
mod deletion;
#[path = "../../../services/board/tests/fixtures/images.rs"]
#[allow(dead_code)]
mod images;
mod messaging;
mod notifications;
mod support;
mod timetable;
