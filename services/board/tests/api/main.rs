//! Integration tests: the real board server on port 0, a fresh database per test on every
//! backend of `campus_testkit::backends()`, and the generated gRPC clients over a socket.

mod boards;
mod comments;
mod concurrency;
mod events;
mod first_pages;
mod helpers;
#[path = "../fixtures/images.rs"]
#[allow(dead_code)]
mod images;
mod internal;
mod likes;
mod photos;
mod posts;
mod previews;
mod search;
