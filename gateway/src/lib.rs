//! campus gateway.
