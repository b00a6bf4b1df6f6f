//! Board and the domain-event feeds (DESIGN §8).
//!
//! - [`consume`]: board as a consumer of the account feed (deleted accounts).
//! - [`publish`]: board as a producer: the events of `campus.board.v1` (`board_events.proto`),
//!   appended to board's own outbox in the transaction of the change they describe, and
//!   served as `campus.events.v1.EventFeedInternalService/WatchEvents` on board's port.
//!
//! An account's deletion removes none of its posts or comments (DESIGN §7: they stay, shown as
//! "(알 수 없음)" or 익명), so it announces no removal: notifications about them stay true.

pub(crate) mod consume;
pub(crate) mod publish;
