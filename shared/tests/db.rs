//! SQLite: one process's writers take turns in the order they came, and its WAL is checkpointed
//! beside them.

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

/// SQLite's WAL reaches the database file through the checkpointer beside the writers, not
/// only when a writer's commit takes it past SQLite's mark (1,000 pages by default, the
/// backstop's 10,000 here): a write of a few hundred pages, below either, is in the file
/// moments after its commit.
#[tokio::test]
async fn sqlite_wal_is_checkpointed_beside_the_writers() {
    let test_db = TestDatabase::new(Backend::Sqlite).await;
    let db = db::open(&test_db.config()).await.unwrap();
    let file = test_db.url.trim_start_matches("sqlite://").split('?').next().unwrap().to_string();
    let mut tx = db.begin_write().await.unwrap();
    sqlx::query("CREATE TABLE filler (bytes BLOB NOT NULL)").execute(&mut *tx).await.unwrap();
    // 500 rows of 2,000 bytes: about 1 MB, some 300 pages.
    sqlx::query(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) \
         INSERT INTO filler (bytes) SELECT randomblob(2000) FROM n",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let size = std::fs::metadata(&file).unwrap().len();
        if size >= 1_000_000 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the database file holds {size} bytes, the WAL the rest"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM filler").fetch_one(&db.pool).await.unwrap();
    assert_eq!(rows, 500);
}

/// The bundled SQLite plans a statement once, whatever is bound to it (`.cargo/config.toml`):
/// without the guarantee, each statement with a `LIMIT $n` was compiled again on every run.
#[tokio::test]
async fn sqlite_keeps_a_statements_plan_whatever_its_values() {
    let test_db = TestDatabase::new(Backend::Sqlite).await;
    let db = db::open(&test_db.config()).await.unwrap();
    let options: Vec<(String,)> = sqlx::query_as("SELECT compile_options FROM pragma_compile_options")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let options: Vec<&str> = options.iter().map(|(o,)| o.as_str()).collect();
    for wanted in ["ENABLE_QPSG", "DEFAULT_MEMSTATUS=0"] {
        assert!(options.contains(&wanted), "SQLite is built without {wanted}: {options:?}");
    }
}
