//! The domain-event feed between services (DESIGN §8), without domain knowledge.
//!
//! - [`outbox`]: a producer writes each event into its own database **in the same
//!   transaction** as the change it describes ([`Outbox::append`]); positions are handed out
//!   under a row lock, so they commit in order and without gaps.
//! - [`feed`]: the producer's internal `WatchEvents(after, consumer)` stream (backlog, then
//!   live: woken by local commits, polling for other replicas'), the consumers'
//!   acknowledgements, and the purge of events every known consumer has passed.
//! - [`consumer`]: the consumer's loop: one replica at a time (a lease row), a cursor in its
//!   own database, each event applied once (keyed by its id, recorded in the same
//!   transaction as the effect), reconnecting with back-off.
//!
//! The SQL each side needs is in every service's own migrations (`event_outbox`,
//! `event_feed_head`, `event_consumer` for producers; `event_cursor`, `event_applied`,
//! `event_lease` for consumers).

pub mod consumer;
pub mod feed;
pub mod outbox;

pub use campus_proto::events::v1::Event;
pub use consumer::{Consumer, ConsumerConfig, Handler};
pub use feed::{Feed, FeedConfig};
pub use outbox::Outbox;

/// Decodes an event's payload as `M`; `None` when the event is of another type. Types are
/// compared by full name (the part of the type URL after its last `/`), whatever the URL's
/// domain.
pub fn payload<M: prost::Name + Default>(event: &Event) -> Option<Result<M, prost::DecodeError>> {
    let any = event.payload.as_ref()?;
    let name = any.type_url.rsplit('/').next().unwrap_or_default();
    (name == M::full_name()).then(|| M::decode(any.value.as_slice()))
}

#[cfg(test)]
mod payload_tests {
    use campus_proto::account::v1::AccountDeleted;

    use super::*;

    #[test]
    fn payloads_decode_by_their_full_name_only() {
        let deleted = AccountDeleted { user_id: 7, school_id: 1, deleted_at: None };
        let event = |type_url: &str| Event {
            payload: Some(prost_types::Any {
                type_url: type_url.into(),
                value: prost::Message::encode_to_vec(&deleted),
            }),
            ..Event::default()
        };
        for url in
            ["type.googleapis.com/campus.account.v1.AccountDeleted", "/campus.account.v1.AccountDeleted"]
        {
            assert_eq!(payload::<AccountDeleted>(&event(url)).unwrap().unwrap(), deleted, "{url}");
        }
        assert!(payload::<AccountDeleted>(&event("type.googleapis.com/campus.account.v1.Other")).is_none());
        assert!(
            payload::<prost_types::Timestamp>(&event("type.googleapis.com/campus.account.v1.AccountDeleted"))
                .is_none()
        );
    }
}
