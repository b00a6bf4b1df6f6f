//! The board service: boards, pinned boards, posts, photos, anonymous comments, likes,
//! scraps, reports, HOT/BEST lists and search, always within the caller's school.
//!
//! Reading order: `startup` builds and runs the server; `grpc/` maps protobuf to the domain
//! and back and owns each RPC's transaction; [`domain`] decides (the rules, no I/O); `store/`
//! runs every SQL statement and returns the shared `Result`; `blob` keeps the photo bytes.
//!
//! Choices where the contract is silent:
//! - UnscrapPost is idempotent (the HTTP DELETE it backs): no scrap, no change, no error.
//! - A reply's parent on another post of the school is INVALID_ARGUMENT `PARENT_NOT_IN_POST`;
//!   a parent that does not exist, is deleted or belongs to another school is NOT_FOUND.
//! - A deleted comment kept for its replies reads "삭제된 댓글입니다" with `deleted` set and
//!   an empty author; its text is wiped from the database.
//! - A named comment by the author of an anonymous post is not flagged `isPostAuthor`, which
//!   would unmask the post; an anonymous one shows "익명(글쓴이)".
//! - Posts and comments with 5+ reports leave every list (including "my" lists) but stay
//!   readable by id. A board that opted out of HOT never stamps `hot_at`; BEST ignores it.
//! - A board's first page is read once and shared by its viewers (`store::first_pages`): what
//!   this replica commits shows at once, what another replica commits within
//!   `BOARD_FIRST_PAGE_TTL_MS` (1 s).

// Public: what the binary, the standalone build and the tests use. The benchmark may take
// only `reference` (and build the service through `Application` and `Config`).
pub mod demo;
pub mod domain;
pub mod reference;

mod blob;
mod events;
mod grpc;
mod startup;
mod store;

pub use startup::{Application, Config};
