//! Fresh databases on each backend.
//!
//! Storage tests loop over [`backends`]: SQLite always, PostgreSQL too when
//! `CAMPUS_TEST_PG_URL` names a server (CI sets it). Each test gets its own database.

use std::future::Future;

use campus_shared::config::{DatabaseConfig, var};
use campus_shared::db::Backend;
use sqlx::Connection;

/// The environment variable naming a PostgreSQL server for tests.
pub const PG_URL_VAR: &str = "CAMPUS_TEST_PG_URL";

/// The backends to run storage tests on.
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if var(PG_URL_VAR).is_some() {
        all.push(Backend::Postgres);
    }
    all
}

/// Runs `test` once per backend of [`backends`], each time on what `spawn` starts (a fresh
/// app on a fresh database).
pub async fn each_backend<App, Spawn, Spawned, Test, Tested>(spawn: Spawn, test: Test)
where
    Spawn: Fn(Backend) -> Spawned,
    Spawned: Future<Output = App>,
    Test: Fn(App) -> Tested,
    Tested: Future<Output = ()>,
{
    for backend in backends() {
        test(spawn(backend).await).await;
    }
}

/// A database that exists for one test, removed when it drops: the SQLite file, or the
/// PostgreSQL database (named `campus_test_<unix time>_<random>`). Databases of a test process
/// that was killed are dropped by a later run once they are an hour old.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    /// On PostgreSQL: the server's URL (`CAMPUS_TEST_PG_URL`) and the database's name.
    pg: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Self { url, backend, _dir: Some(dir), pg: None }
            }
            Backend::Postgres => {
                let base = var(PG_URL_VAR).expect("CAMPUS_TEST_PG_URL is set");
                let name = create_test_database(&base).await;
                let url = replace_database(&base, &name);
                Self { url, backend, _dir: None, pg: Some((base, name)) }
            }
        }
    }

    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig::new(self.url.clone())
    }
}

impl Drop for TestDatabase {
    /// Drops the PostgreSQL database, closing what still uses it. `drop` cannot await and
    /// often runs on a runtime's thread (at the end of a `#[tokio::test]`), where blocking on
    /// that runtime is not allowed: a thread of its own with a runtime of its own does it, and
    /// the test waits for it, so nothing is left behind when the process exits.
    fn drop(&mut self) {
        let Some((base, name)) = self.pg.take() else { return };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(pg_drop_database(&base, &name)).map_err(std::io::Error::other)?;
            Ok::<_, std::io::Error>(())
        })
        .join();
        // Never panic here (a panicking test unwinds through this): the sweep catches up.
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("test database not dropped (a later run will): {error}"),
            Err(_) => eprintln!("test database not dropped (a later run will): its thread panicked"),
        }
    }
}

/// Creates a database on the server of `base` and returns its name.
async fn create_test_database(base: &str) -> String {
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(base).await.expect("connect to CAMPUS_TEST_PG_URL");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    drop_stale_databases(&mut admin, now).await;
    let name = format!("campus_test_{now}_{:08x}", rand::random::<u32>());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("create test database");
    let _ = admin.close().await;
    name
}

async fn drop_stale_databases(admin: &mut sqlx::AnyConnection, now: u64) {
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'campus_test_%'")
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
    for (name,) in names {
        let created: Option<u64> = name.split('_').nth(2).and_then(|t| t.parse().ok());
        if created.is_some_and(|t| t + 3600 < now) {
            let _ = drop_database(admin, &name).await;
        }
    }
}

/// `postgres://user@host:port/old?x` with the database replaced by `name`.
pub fn replace_database(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (base, String::new()),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    format!("{root}/{name}{query}")
}

/// Creates the PostgreSQL database `name` on the server of `base` unless it exists (with
/// `fresh`, an existing one is dropped first) and returns its URL. The benchmarks keep
/// their seeded databases under fixed names this way.
pub async fn pg_create_database(base: &str, name: &str, fresh: bool) -> Result<String, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(base).await?;
    if fresh {
        drop_database(&mut admin, name).await?;
    }
    let exists: Option<(i64,)> =
        sqlx::query_as("SELECT CAST(1 AS BIGINT) FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(&mut admin)
            .await?;
    if exists.is_none() {
        // The name is the caller's constant, never input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await?;
    }
    let _ = admin.close().await;
    Ok(replace_database(base, name))
}

/// Drops the PostgreSQL database `name` (closing its connections), if it exists.
pub async fn pg_drop_database(base: &str, name: &str) -> Result<(), sqlx::Error> {
    sqlx::any::install_default_drivers();
    let mut admin = sqlx::AnyConnection::connect(base).await?;
    drop_database(&mut admin, name).await?;
    let _ = admin.close().await;
    Ok(())
}

async fn drop_database(admin: &mut sqlx::AnyConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        .execute(admin)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://h:5432?sslmode=disable", "x"),
            "postgres://h:5432/x?sslmode=disable"
        );
    }

    #[tokio::test]
    async fn a_database_goes_when_its_test_database_drops() {
        sqlx::any::install_default_drivers();
        for backend in backends() {
            let db = TestDatabase::new(backend).await;
            // A connection still open does not keep it.
            let mut open = sqlx::AnyConnection::connect(&db.url).await.expect("connect");
            sqlx::query("SELECT 1").execute(&mut open).await.expect("a query");
            let (file, pg) = (db._dir.as_ref().map(|d| d.path().join("test.db")), db.pg.clone());
            drop(db);
            if let Some(file) = file {
                assert!(!file.exists(), "{} is left", file.display());
            }
            if let Some((base, name)) = pg {
                let mut admin = sqlx::AnyConnection::connect(&base).await.expect("connect");
                let left: Option<(i64,)> =
                    sqlx::query_as("SELECT CAST(1 AS BIGINT) FROM pg_database WHERE datname = $1")
                        .bind(&name)
                        .fetch_optional(&mut admin)
                        .await
                        .expect("a query");
                assert!(left.is_none(), "{name} is left");
            }
        }
    }

    static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../shared/tests/migrations");

    #[tokio::test]
    async fn both_backends_migrate_and_answer() {
        for backend in backends() {
            let db = TestDatabase::new(backend).await;
            let migrations = campus_shared::db::Migrations { sqlite: &MIGRATIONS, postgres: &MIGRATIONS };
            let pool =
                campus_shared::db::connect(&db.config(), migrations).await.expect("connect and migrate");
            let mut tx = pool.begin_write().await.unwrap();
            let id = campus_shared::id::next_id();
            sqlx::query("INSERT INTO probe (id, label, flag, created_at) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind("héllo 익명")
                .bind(1i64)
                .bind(campus_shared::db::now_micros())
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            let (label, flag, computed): (String, i64, i64) = sqlx::query_as(
                "SELECT label, flag, CASE WHEN id = $1 THEN 1 ELSE 0 END FROM probe WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool.pool)
            .await
            .unwrap();
            assert_eq!((label.as_str(), flag, computed), ("héllo 익명", 1, 1), "{backend:?}");
        }
    }
}
