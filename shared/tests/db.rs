//! Write transactions on SQLite: one process's writers take turns in the order they came.

use campus_shared::db::{self, Backend, Db};
use campus_testkit::TestDatabase;

/// Writers of one process, as many as the pool has connections and more, each waiting
/// behind the one before.
const WRITERS: i64 = 12;

async fn insert(db: &Db, n: i64) {
    let mut tx = db.begin_write().await.unwrap();
    sqlx::query("INSERT INTO turn (n) VALUES ($1)").bind(n).execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn sqlite_writers_commit_in_the_order_they_asked_and_a_dropped_one_passes_its_turn() {
    let test_db = TestDatabase::new(Backend::Sqlite).await;
    let db = db::open(&test_db.config()).await.unwrap();
    sqlx::query("CREATE TABLE turn (seq INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
        .execute(&db.pool)
        .await
        .unwrap();

    let mut first = db.begin_write().await.unwrap();
    sqlx::query("INSERT INTO turn (n) VALUES (-1)").execute(&mut *first).await.unwrap();
    let mut writers = Vec::new();
    for n in 0..WRITERS {
        let db = db.clone();
        writers.push(tokio::spawn(async move { insert(&db, n).await }));
        // On this one-threaded runtime, the writer just spawned runs until it waits for its
        // turn; the next one asks after it.
        tokio::task::yield_now().await;
    }
    // The first writer ends without committing: its row goes, and the turn passes on.
    drop(first);
    for writer in writers {
        writer.await.unwrap();
    }

    let order: Vec<i64> =
        sqlx::query_scalar("SELECT n FROM turn ORDER BY seq").fetch_all(&db.pool).await.unwrap();
    assert_eq!(order, (0..WRITERS).collect::<Vec<_>>());
}
