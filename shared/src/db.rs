//! Database bootstrap: SQLite or PostgreSQL, chosen from the URL scheme, through sqlx's `Any`
//! driver; each backend runs its own migration folder.
//!
//! Portable SQL rules every service follows: `$1` placeholders; times as BIGINT microseconds
//! since the Unix epoch (UTC); ids as BIGINT from [`crate::id::next_id`]; every integer column
//! BIGINT, bound and decoded as `i64`. Booleans are BIGINT 0/1 columns (sqlx 0.9's `Any`
//! driver cannot decode SQLite's BOOLEAN), and a boolean computed in SQL is written as an
//! integer expression (`CASE WHEN … THEN 1 ELSE 0 END`) and decoded as `i64`.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::env::{ConfigError, create_private_dir, data_dir, parse_or, restrict_to_owner, seconds_or, var};

/// A pooled connection idle longer than this is pinged before it is handed out.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(10);

/// How long an SQLite writer waits for its turn, in this process's queue or (for a writer of
/// another process) on SQLite's busy handler, before its call fails.
const SQLITE_WRITE_WAIT: Duration = Duration::from_secs(10);

/// How often an SQLite database's checkpointer copies the WAL's new pages into the database
/// file (see [`checkpoint_forever`]).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Which engine is behind a pool; a few statements differ (see [`Db::begin_write`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// A service's migrations, one folder per backend.
#[derive(Debug, Clone, Copy)]
pub struct Migrations {
    pub sqlite: &'static Migrator,
    pub postgres: &'static Migrator,
}

/// A connection pool and the backend behind it.
///
/// SQLite has one writer at a time. Left to SQLite, concurrent writers poll its busy
/// handler, which sleeps between tries in steps up to 100 ms and serves whoever polls at the
/// right moment, so a long write (a batch of the search indexer, say) leaves the writers
/// behind it asleep after it ends. Instead, every write transaction of a process waits for
/// its turn here, in FIFO order, before it takes a connection ([`Db::begin_write`]). Clones
/// share the queue. PostgreSQL needs none.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    writers: Arc<Mutex<()>>,
    /// SQLite's checkpointer, stopped when the last clone is dropped.
    checkpointer: Option<Arc<Checkpointer>>,
}

/// Connects, applies the backend's pragmas and runs its migrations.
pub async fn connect(config: &DatabaseConfig, migrations: Migrations) -> Result<Db, sqlx::Error> {
    let db = open(config).await?;
    db.migrate(migrations).await?;
    Ok(db)
}

/// Connects and applies the backend's pragmas without migrating, for a service that must
/// prepare its database before [`Db::migrate`] runs.
pub async fn open(config: &DatabaseConfig) -> Result<Db, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(&config.url)
        .ok_or_else(|| sqlx::Error::Configuration("database URL must be sqlite:// or postgres://".into()))?;
    if backend == Backend::Sqlite {
        create_private_sqlite_file(&config.url)?;
    }
    let options = AnyConnectOptions::from_str(&config.url)?;
    let pool = AnyPoolOptions::new()
        .max_connections(config.max_connections.max(1))
        .acquire_timeout(config.acquire_timeout)
        // sqlx already pings a connection as it goes back to the pool; pinging it again on
        // the way out would cost every query one more round trip. Only a connection that sat
        // idle for a while (the server may have closed it since) is checked before use.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_IF_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers run beside the writer. The busy timeout (as long as
                    // SQLITE_WRITE_WAIT) makes a writer that is not in this process's queue,
                    // another process's or a lone statement's, wait instead of failing.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    // SQLite's own checkpoint, run by the writer whose commit takes the WAL past
                    // this many pages (1,000 by default), is only the backstop of the
                    // checkpointer's (`checkpoint_forever`), should it fall behind.
                    conn.execute("PRAGMA wal_autocheckpoint = 10000").await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    let mut db = Db::new(pool, backend);
    if backend == Backend::Sqlite {
        let task = tokio::spawn(checkpoint_forever(db.pool.clone()));
        db.checkpointer = Some(Arc::new(Checkpointer(task.abort_handle())));
    }
    Ok(db)
}

/// Copies the WAL's new pages into the database file now and then, off the write turn.
///
/// Left to SQLite, the checkpoint is run by the writer whose commit takes the WAL past 1,000
/// pages, inside that commit: it writes up to 4 MB into the database file and syncs it while
/// holding the write turn, and every writer queued behind it waits. A `PASSIVE` checkpoint
/// takes no lock a writer or a reader needs, so here it runs beside them; the WAL starts over
/// from its beginning at the first write after a checkpoint has copied all of it.
async fn checkpoint_forever(pool: AnyPool) {
    loop {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        if pool.is_closed() {
            return;
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            tracing::warn!(%error, "could not checkpoint the SQLite WAL");
        }
    }
}

/// Stops [`checkpoint_forever`] when dropped (it stops on its own when the pool is closed).
#[derive(Debug)]
struct Checkpointer(tokio::task::AbortHandle);

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Makes the database file of a `sqlite://` URL readable by its owner only (0600) before
/// SQLite opens it, creating it and its missing directories (0700) when new. SQLite gives
/// the `-wal` and `-shm` files it makes the database file's permissions; ones left by an
/// older run are tightened too.
fn create_private_sqlite_file(url: &str) -> Result<(), sqlx::Error> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    let path = std::path::Path::new(path);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match restrict_to_owner(std::path::Path::new(&file)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other?,
        }
    }
    Ok(())
}

impl Db {
    /// A pool with a write queue of its own: two `Db`s over one SQLite file queue their
    /// writers apart, and meet only on SQLite's busy handler.
    pub fn new(pool: AnyPool, backend: Backend) -> Self {
        Self { pool, backend, writers: Arc::new(Mutex::new(())), checkpointer: None }
    }

    /// Runs the backend's migrations.
    pub async fn migrate(&self, migrations: Migrations) -> Result<(), sqlx::Error> {
        let migrator = match self.backend {
            Backend::Sqlite => migrations.sqlite,
            Backend::Postgres => migrations.postgres,
        };
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// A transaction that will write. On SQLite it waits for this process's write turn
    /// ([`Db::write_turn`]) and then takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so two writers never deadlock trying to upgrade read locks; the
    /// turn passes on when the transaction ends. On PostgreSQL it is a plain `BEGIN`.
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let turn = self.write_turn().await?;
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(WriteTx { tx, _turn: turn })
    }

    /// This process's SQLite write turn (see [`Db`]), waited for at most
    /// [`SQLITE_WRITE_WAIT`], for a write of one statement on the pool, atomic on its own
    /// without `BEGIN` and `COMMIT` round trips: hold it until the statement is done. None on
    /// PostgreSQL.
    pub async fn write_turn(&self) -> Result<Option<WriteTurn>, sqlx::Error> {
        if self.backend == Backend::Postgres {
            return Ok(None);
        }
        let turn = tokio::time::timeout(SQLITE_WRITE_WAIT, self.writers.clone().lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?;
        Ok(Some(WriteTurn { _turn: turn }))
    }
}

/// An SQLite write turn of [`Db::write_turn`]; the next writer's comes when it is dropped.
#[derive(Debug)]
pub struct WriteTurn {
    _turn: OwnedMutexGuard<()>,
}

/// A write transaction of [`Db::begin_write`]. It derefs to the transaction's connection, so
/// statements take it as `&mut *tx`, as they take a `Transaction`. Dropped without
/// [`WriteTx::commit`], it rolls back.
#[derive(Debug)]
pub struct WriteTx {
    // Declared first, so that a dropped transaction has started its rollback before the turn
    // passes on. (Only started: the next writer may wait for its end on the busy handler.)
    tx: Transaction<'static, Any>,
    _turn: Option<WriteTurn>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let WriteTx { tx, _turn } = self;
        tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        let WriteTx { tx, _turn } = self;
        tx.rollback().await
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// Connection settings of one service's database.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// `sqlite://path?mode=rwc` or `postgres://user@host/db`.
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl DatabaseConfig {
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        let max_connections = default_pool_size(&url);
        Self { url, max_connections, acquire_timeout: Duration::from_secs(3) }
    }

    /// `<PREFIX>_DATABASE_URL` (default: a SQLite file in the data dir), and the shared pool
    /// settings `CAMPUS_DB_MAX_CONNECTIONS` and `CAMPUS_DB_ACQUIRE_TIMEOUT_SECS`.
    pub fn from_env(prefix: &str, service: &str) -> Result<Self, ConfigError> {
        let url = var(&format!("{prefix}_DATABASE_URL")).unwrap_or_else(|| {
            format!("sqlite://{}?mode=rwc", data_dir().join(format!("{service}.db")).display())
        });
        Ok(Self {
            max_connections: parse_or("CAMPUS_DB_MAX_CONNECTIONS", default_pool_size(&url))?,
            acquire_timeout: seconds_or("CAMPUS_DB_ACQUIRE_TIMEOUT_SECS", 3)?,
            url,
        })
    }
}

/// The pool size unless `CAMPUS_DB_MAX_CONNECTIONS` says otherwise. Each SQLite connection
/// is a thread with its own page cache, and SQLite writes one at a time: 8 keep two cores
/// busy and a service well inside its memory budget. PostgreSQL gets 16.
fn default_pool_size(url: &str) -> u32 {
    match Backend::of_url(url) {
        Some(Backend::Sqlite) => 8,
        _ => 16,
    }
}

/// Now, in microseconds since the Unix epoch.
pub fn now_micros() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

/// A duration in the microseconds the databases store times in; saturates rather than wraps.
pub fn duration_micros(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The stored time (microseconds) of a protobuf timestamp; 0 when absent.
pub fn micros(at: Option<&prost_types::Timestamp>) -> i64 {
    at.map_or(0, |t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000)
}

/// A stored time as a protobuf timestamp.
pub fn timestamp(micros: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1000) as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_come_from_the_scheme() {
        assert_eq!(Backend::of_url("sqlite://x.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::of_url("postgres://u@h/db"), Some(Backend::Postgres));
        assert_eq!(Backend::of_url("mysql://u@h/db"), None);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn sqlite_files_are_readable_by_their_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        static MIGRATIONS: Migrator = sqlx::migrate!("tests/migrations");
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("new/board.db");
        let config = DatabaseConfig::new(format!("sqlite://{}?mode=rwc", file.display()));
        let db = connect(&config, Migrations { sqlite: &MIGRATIONS, postgres: &MIGRATIONS }).await.unwrap();
        sqlx::query("INSERT INTO probe (id, label, flag, created_at) VALUES (1, 'x', 0, 0)")
            .execute(&db.pool)
            .await
            .unwrap();
        let mode = |suffix: &str| {
            let path = format!("{}{suffix}", file.display());
            std::fs::metadata(path).unwrap().permissions().mode() & 0o777
        };
        assert_eq!((mode(""), mode("-wal"), mode("-shm")), (0o600, 0o600, 0o600));
        let dir = std::fs::metadata(root.path().join("new")).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir, 0o700);
        db.pool.close().await;

        // A database an older version left world-readable is tightened on the next start.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let db = connect(&config, Migrations { sqlite: &MIGRATIONS, postgres: &MIGRATIONS }).await.unwrap();
        assert_eq!(mode(""), 0o600);
        db.pool.close().await;
    }

    #[test]
    fn sqlite_pools_are_smaller_than_postgres_pools() {
        assert_eq!(DatabaseConfig::new("sqlite://data/board.db?mode=rwc").max_connections, 8);
        assert_eq!(DatabaseConfig::new("postgres://postgres@127.0.0.1/board").max_connections, 16);
    }

    #[test]
    fn timestamps_convert() {
        let ts = timestamp(1_700_000_000_123_456);
        assert_eq!(ts.seconds, 1_700_000_000);
        assert_eq!(ts.nanos, 123_456_000);
    }
}
