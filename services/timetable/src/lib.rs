//! The timetable service: the lecture catalog and its CSV import, timetables with conflict
//! checks, friends' timetables, lecture reviews and the GPA calculator.
//!
//! Reading order: `startup` builds and runs the server; `grpc` maps protobuf to domain values
//! and back and owns each RPC's transaction; [`domain`] decides (the rules, no I/O); `store`
//! runs the SQL and answers the shared result type. One module per resource in each layer.
//!
//! Choices where the contract leaves room:
//! - **Re-import** upserts by (school, year, semester, code, section): a lecture keeps its id
//!   (so timetables and reviews keep pointing at it) and takes the new name, professor,
//!   credits, category and times; lectures missing from the new file stay. A file without a
//!   `section` column imports every lecture with section "".
//! - **Default names** are "시간표 N" with the smallest N not used in that semester.
//! - **Primary**: the semester's first timetable; `primary: true` moves it; `primary: false`
//!   is refused (a semester always has one); deleting it promotes the oldest remaining one.
//! - **Serialising writers** of one timetable: PostgreSQL takes `SELECT … FOR UPDATE` on the
//!   timetable row (or on all of a semester's rows, in id order, when the primary changes);
//!   SQLite needs no row lock because `BEGIN IMMEDIATE` already runs writers one at a time.
//! - **Reviews**: text 1–1,000 characters; someone else's review is NOT_FOUND for update and
//!   delete (reviews are anonymous, so whether an id is someone's is not revealed). The rating
//!   summary is computed by one grouped read of the reviews, so it is always exact.
//! - **Grades**: F counts in the GPA but earns no credits; P and NP stay out of the GPA, P
//!   earns its credits and NP does not. `totalCredits` and a semester's `credits` are earned
//!   credits. GPAs are rounded half up to two decimals.
//! - **Friends**: the account service's `AreFriends` decides; not friends and "no primary
//!   timetable that semester" both answer NOT_FOUND; account unreachable is UNAVAILABLE.

pub mod domain;
mod events;
mod grpc;
pub mod reference;
mod startup;
mod store;

pub use startup::{Application, Config};
