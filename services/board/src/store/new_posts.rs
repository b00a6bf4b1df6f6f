//! New posts, written in groups. CreatePost hands its post to the [`PostWriter`], whose task
//! writes every post waiting at that moment in one statement, each with its place in the
//! search indexer's queue, and answers each CreatePost when that statement has committed.
//!
//! Why: a post's own statement cost more than its row. On PostgreSQL each statement is a
//! round trip, a transaction and a commit record; on SQLite each takes the one write turn,
//! passes to the connection's thread and back, and commits. With posts arriving together
//! (64 CreatePosts in flight), one statement for all of them pays that once. Nothing waits
//! for a group to fill: a post arriving while no other is being written is written at once,
//! alone, by its own request; those arriving while others are go together in the next
//! statement (a power of two of them at a time, see [`write_forever`]).
//!
//! A statement is atomic, so a group is written whole or not at all. When a group's statement
//! fails, each of its posts is written again on its own, so a post that cannot be written
//! fails alone and the others are written. The task, not a request, runs a group's
//! statement: a caller that goes away does not take the others' posts with it, and its own
//! post is left out if its group's statement has not started.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use campus_shared::db::{Backend, Db};
use campus_shared::error::{Error, Result};
use sqlx::AssertSqlSafe;
use tokio::sync::{mpsc, oneshot};

/// The fields of a new post.
#[derive(Debug)]
pub(crate) struct NewPostRow {
    pub(crate) id: i64,
    pub(crate) school_id: i64,
    pub(crate) board_id: i64,
    pub(crate) author_id: i64,
    pub(crate) author_nickname: String,
    pub(crate) anonymous: bool,
    pub(crate) title: String,
    pub(crate) content: String,
    /// What lists show of the content (`domain::content_preview`).
    pub(crate) content_preview: String,
    pub(crate) now: i64,
}

/// The INSERT of new posts, up to its rows.
macro_rules! insert_post {
    () => {
        "INSERT INTO post (id, school_id, board_id, author_id, author_nickname, anonymous, \
         title, content, created_at, updated_at, content_preview) VALUES "
    };
}

/// The SQL of CreatePost's INSERT of one post (the benchmark runs it through `reference`); a
/// group's statement has one such row per post ([`insert_sql`]).
pub(crate) const INSERT_POST_SQL: &str =
    concat!(insert_post!(), "($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)");

/// Values each post binds in [`insert_sql`].
const VALUES_PER_POST: usize = 10;

/// Posts one statement writes at most: 640 values, within both databases' bounds on a
/// statement's parameters.
const MOST_PER_STATEMENT: usize = 64;
const _: () = assert!(MOST_PER_STATEMENT.is_power_of_two(), "a group is a power of two of posts");

/// The statement writing `posts` posts, each bound as [`insert_posts`] binds it, and putting
/// them in the search indexer's queue (`search::enqueue`): on PostgreSQL by a data-modifying
/// `WITH`, on SQLite by the trigger `post_search_queue_new`.
fn insert_sql(backend: Backend, posts: usize) -> String {
    let rows: Vec<String> = (0..posts)
        .map(|i| {
            let [id, school, board, author, nickname, anonymous, title, content, now, preview] =
                std::array::from_fn::<usize, VALUES_PER_POST, _>(|k| i * VALUES_PER_POST + k + 1);
            format!("(${id}, ${school}, ${board}, ${author}, ${nickname}, ${anonymous}, ${title}, ${content}, ${now}, ${now}, ${preview})")
        })
        .collect();
    let insert = format!(concat!(insert_post!(), "{}"), rows.join(", "));
    match backend {
        Backend::Postgres => {
            let queued: Vec<String> = (0..posts).map(|i| format!("(${})", i * VALUES_PER_POST + 1)).collect();
            format!(
                "WITH queued AS (INSERT INTO post_search_pending (post_id) VALUES {}) {insert}",
                queued.join(", ")
            )
        }
        Backend::Sqlite => insert,
    }
}

/// Writes `posts` and queues them for the search index, in one statement: atomic on its own,
/// with no transaction around it. On SQLite the caller holds the write turn.
async fn insert_posts(db: &Db, posts: &[&NewPostRow]) -> Result<()> {
    let sql = insert_sql(db.backend, posts.len());
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for p in posts {
        query = query
            .bind(p.id)
            .bind(p.school_id)
            .bind(p.board_id)
            .bind(p.author_id)
            .bind(p.author_nickname.as_str())
            .bind(i64::from(p.anonymous))
            .bind(p.title.as_str())
            .bind(p.content.as_str())
            .bind(p.now)
            .bind(p.content_preview.as_str());
    }
    query.execute(&db.pool).await?;
    Ok(())
}

/// A post waiting for its group's statement, and where its outcome goes.
struct Waiting {
    post: NewPostRow,
    written: oneshot::Sender<Result<NewPostRow>>,
}

/// Hands new posts to the task that writes them in groups; the task ends when the writer is
/// dropped, once it has written the posts handed to it.
#[derive(Debug)]
pub(crate) struct PostWriter {
    db: Db,
    waiting: mpsc::Sender<Waiting>,
    /// CreatePosts between handing over their post and their answer. One that finds none
    /// writes its post itself, in its own request: alone, it would wait for the task to wake
    /// and then for itself to be woken (0.82 ms against 0.70 ms at one CreatePost at a time on
    /// PostgreSQL).
    unanswered: Arc<AtomicUsize>,
}

impl PostWriter {
    /// Starts the writing task on `db`.
    pub(crate) fn start(db: Db) -> Self {
        let (waiting, arrivals) = mpsc::channel(4 * MOST_PER_STATEMENT);
        tokio::spawn(write_forever(db.clone(), arrivals));
        Self { db, waiting, unanswered: Arc::default() }
    }

    /// Writes `post` and queues it for the search index; the post back once it has
    /// committed.
    pub(crate) async fn insert(&self, post: NewPostRow) -> Result<NewPostRow> {
        let unanswered = Unanswered::count(&self.unanswered);
        if unanswered.alone {
            let _turn = self.db.write_turn().await?;
            insert_posts(&self.db, &[&post]).await?;
            return Ok(post);
        }
        let (written, outcome) = oneshot::channel();
        self.waiting.send(Waiting { post, written }).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// One CreatePost counted in [`PostWriter::unanswered`] until it is dropped, answered or gone.
struct Unanswered<'a> {
    count: &'a AtomicUsize,
    /// No other CreatePost was unanswered when this one was counted.
    alone: bool,
}

impl<'a> Unanswered<'a> {
    fn count(count: &'a AtomicUsize) -> Self {
        Self { count, alone: count.fetch_add(1, Ordering::AcqRel) == 0 }
    }
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::AcqRel);
    }
}

fn stopped() -> Error {
    Error::internal("the post writer has stopped")
}

/// Writes the posts that arrive, those waiting in one statement, until every writer is
/// dropped. A group is the largest power of two of the posts waiting (those left over go
/// first in the next): each connection then caches seven forms of the statement, not 64,
/// which would push the service's other statements out of its cache of 100.
async fn write_forever(db: Db, mut arrivals: mpsc::Receiver<Waiting>) {
    let mut waiting = Vec::with_capacity(MOST_PER_STATEMENT);
    loop {
        if waiting.is_empty() && arrivals.recv_many(&mut waiting, MOST_PER_STATEMENT).await == 0 {
            return;
        }
        while waiting.len() < MOST_PER_STATEMENT {
            match arrivals.try_recv() {
                Ok(post) => waiting.push(post),
                Err(_) => break,
            }
        }
        let rest = waiting.split_off(1 << waiting.len().ilog2());
        write_group(&db, std::mem::replace(&mut waiting, rest)).await;
    }
}

/// Writes `group` in one statement and answers each of its posts.
async fn write_group(db: &Db, mut group: Vec<Waiting>) {
    let Ok(_turn) = db.write_turn().await else {
        // The turn fails only by waiting past its bound, as each caller's own would have.
        for Waiting { written, .. } in group {
            let _ = written.send(Err(sqlx::Error::PoolTimedOut.into()));
        }
        return;
    };
    // A caller that went away while its post waited (its deadline passed, its client left)
    // has been answered with an error, so its post is not written, and a retry does not find
    // it there already (before groups, a CreatePost cancelled before its statement wrote
    // nothing either).
    group.retain(|w| !w.written.is_closed());
    if group.is_empty() {
        return;
    }
    let posts: Vec<&NewPostRow> = group.iter().map(|w| &w.post).collect();
    match insert_posts(db, &posts).await {
        Ok(()) => {
            for Waiting { post, written } in group {
                let _ = written.send(Ok(post));
            }
        }
        Err(error) if group.len() == 1 => {
            let Waiting { written, .. } = group.remove(0);
            let _ = written.send(Err(error));
        }
        Err(error) => {
            // Nothing of the group was written: each post alone, so that only a post that
            // cannot be written fails.
            tracing::warn!(%error, posts = group.len(), "a group of new posts failed; writing each alone");
            for Waiting { post, written } in group {
                let outcome = insert_posts(db, &[&post]).await.map(|()| post);
                let _ = written.send(outcome);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_groups_statement_binds_each_post_in_its_own_placeholders() {
        let sqlite = insert_sql(Backend::Sqlite, 2);
        assert!(sqlite.ends_with(
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10), \
             ($11, $12, $13, $14, $15, $16, $17, $18, $19, $19, $20)"
        ));
        let one = insert_sql(Backend::Sqlite, 1);
        assert_eq!(
            one.split_whitespace().collect::<Vec<_>>(),
            INSERT_POST_SQL.split_whitespace().collect::<Vec<_>>()
        );
        let postgres = insert_sql(Backend::Postgres, 2);
        assert!(postgres.starts_with(
            "WITH queued AS (INSERT INTO post_search_pending (post_id) VALUES ($1), ($11)) INSERT INTO post"
        ));
        assert!(postgres.ends_with(&sqlite));
    }
}
