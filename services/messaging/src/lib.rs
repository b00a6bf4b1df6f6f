//! The messaging service: conversations started from a post, a comment or a user, anonymous
//! or named, their messages, blocking, and live delivery over StreamMessages; and each
//! user's notifications (NotificationService), learnt from board's event feed.
//!
//! Reading order: [`startup`] builds and runs the server, `grpc` has one handler per RPC
//! (it owns the transaction), `events` applies the account and board feeds, [`domain`] holds
//! the rules, `store` every SQL statement, `upstream` the calls to board and account, and
//! `fanout` the live streams.
//!
//! Decisions where the contract leaves room:
//!
//! - **Reuse key.** One conversation per unordered pair, origin (post, comment or none) and
//!   anonymity owner: `anon_key` is the starter's id for an anonymous start and 0 for a named
//!   one (see [`domain::ConversationKey`]). A unique index over the key makes concurrent starts
//!   end in one conversation.
//! - **Names.** Each side is stored as a nickname snapshot plus an anonymous flag. The
//!   starter's anonymity hides them from the recipient; the origin's anonymity (an anonymous
//!   post or comment) hides its author from the starter. Snapshots come from the account
//!   service when a conversation is started (or restarted) and from the sender's token when
//!   they send, so a rename shows once its owner writes again. Responses only ever carry
//!   `{displayName, isAnonymous}`, never the other side's id.
//! - **Leaving** (DeleteConversation) hides the conversation from the caller's list and clears
//!   the messages so far from their view (ListMessages shows only later ones) and their unread
//!   count. A new message from either side, or starting it again, brings it back. The other
//!   participant keeps everything.
//! - **Blocking** is per conversation, by either participant, final (there is no unblock RPC),
//!   and stops SendMessage and CreateConversation into it in both directions with
//!   FAILED_PRECONDITION `CONVERSATION_BLOCKED`. A different origin is a different
//!   conversation.
//! - **Streams.** Per-user in-process fan-out; on PostgreSQL every replica LISTENs on
//!   `campus_messaging` and the writing transaction NOTIFYs it (message id, participants and,
//!   when it fits in the 8,000-byte payload, the content), so delivery works across replicas.
//!   A stream more than 256 messages behind is closed (the client reconnects and catches up
//!   with ListMessages); streams end on shutdown before the server drains. One user holds at
//!   most `MESSAGING_MAX_STREAMS_PER_USER` (8) streams of both kinds on each replica; the next
//!   is RESOURCE_EXHAUSTED `TOO_MANY_STREAMS`.
//! - **Notifications** come from board's feed (`events::BoardEvents`, in the consumer's
//!   transaction, so each event's effect commits once with its applied record); the rules are
//!   in [`domain::notifications`]. No server-side grouping: one notification per comment and
//!   person, so a deleted or hidden comment takes exactly its notifications with it; clients
//!   may group for display. The table has no actor column at all. StreamNotifications uses
//!   the same fan-out as StreamMessages (its own hub, the same listener on a second channel).

pub mod domain;
mod events;
mod fanout;
mod grpc;
pub mod startup;
mod store;
mod upstream;

pub use startup::{Application, Config, StreamStats};
