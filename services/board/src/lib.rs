//! campus board service.
