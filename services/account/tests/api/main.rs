//! Integration tests: the real account service on port 0, once per backend, over a socket.

mod friends;
mod helpers;
mod mail;
mod schools;
mod sessions;
mod throttle;
mod users;
