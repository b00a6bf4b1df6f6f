//! Hostile clients against the gateway's front door (DESIGN §10): real sockets on loopback to
//! a real gateway, each test bounded in time and connections, asserting what the attacker
//! ends up with (a closed connection, a small refusal with its reason), never how long it took.

mod bodies;
mod budget;
mod connections;
mod harness;
mod slow;
