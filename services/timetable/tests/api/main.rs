//! Integration tests: the real server on port 0, a fresh database per test and backend, and
//! the generated gRPC client over a socket.

mod friends;
mod grades;
mod helpers;
mod lectures;
mod reviews;
mod timetables;
