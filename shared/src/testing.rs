//! Test support shared by every crate: fresh databases on each backend and a test identity
//! (a key pair, a token issuer and a service credential).
//!
//! Storage tests loop over [`backends`]: SQLite always, PostgreSQL too when
//! `CAMPUS_TEST_PG_URL` names a server (CI sets it). Each test gets its own database.

use secrecy::SecretString;

use crate::config::{DatabaseConfig, IdentityConfig, ServerLimits, ServiceConfig};
use crate::db::Backend;
use crate::identity::{Caller, Role, SigningKey, TokenIssuer};

/// The environment variable naming a PostgreSQL server for tests.
pub const PG_URL_VAR: &str = "CAMPUS_TEST_PG_URL";

/// The backends to run storage tests on.
pub fn backends() -> Vec<Backend> {
    let mut all = vec![Backend::Sqlite];
    if crate::config::var(PG_URL_VAR).is_some() {
        all.push(Backend::Postgres);
    }
    all
}

/// A database that exists for one test. SQLite files are removed when it drops; PostgreSQL
/// databases are named `campus_test_<unix time>_<random>` and dropped by a later run once
/// they are an hour old.
#[derive(Debug)]
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Self { url, backend, _dir: Some(dir) }
            }
            Backend::Postgres => {
                let base = crate::config::var(PG_URL_VAR).expect("CAMPUS_TEST_PG_URL is set");
                let url = create_pg_database(&base).await;
                Self { url, backend, _dir: None }
            }
        }
    }

    pub fn config(&self) -> DatabaseConfig {
        DatabaseConfig::new(self.url.clone())
    }
}

async fn create_pg_database(base: &str) -> String {
    use sqlx::Connection;
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
    replace_database(base, &name)
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
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut *admin)
                .await;
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

/// A key pair, issuer and service credential for tests: services under test verify with it,
/// and tests mint tokens for any caller.
#[derive(Debug, Clone)]
pub struct TestIdentity {
    pub key: SigningKey,
    pub issuer: TokenIssuer,
    pub service_token: SecretString,
}

impl Default for TestIdentity {
    fn default() -> Self {
        Self::new()
    }
}

impl TestIdentity {
    pub fn new() -> Self {
        let key = SigningKey::generate();
        let issuer = TokenIssuer::new(&key, crate::config::DEFAULT_ISSUER, crate::config::DEFAULT_AUDIENCE)
            .expect("issuer");
        Self { key, issuer, service_token: SecretString::from(crate::identity::random_token()) }
    }

    pub fn config(&self) -> IdentityConfig {
        IdentityConfig {
            jwt_public_key_pem: self.key.public_key_pem(),
            issuer: crate::config::DEFAULT_ISSUER.into(),
            audience: crate::config::DEFAULT_AUDIENCE.into(),
            service_token: self.service_token.clone(),
        }
    }

    /// A service config on port 0 for a test database.
    pub fn service_config(&self, db: &TestDatabase) -> ServiceConfig {
        ServiceConfig {
            listen_addr: ([127, 0, 0, 1], 0).into(),
            database: db.config(),
            identity: self.config(),
            limits: ServerLimits::default(),
            tls: None,
            client_tls: Default::default(),
        }
    }

    /// `Bearer <token>` for a user of a school (nickname `user<id>`).
    pub fn bearer(&self, user_id: i64, school_id: i64) -> String {
        self.bearer_for(&Caller { user_id, school_id, role: Role::User, nickname: format!("user{user_id}") })
    }

    pub fn bearer_for(&self, caller: &Caller) -> String {
        format!("Bearer {}", self.issuer.issue(caller).expect("sign token"))
    }

    /// A tonic request carrying a user's token.
    pub fn request<T>(&self, message: T, user_id: i64, school_id: i64) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.bearer(user_id, school_id).parse().expect("ascii"));
        request
    }

    /// A tonic request carrying the service credential (and optionally a user's token).
    pub fn service_request<T>(&self, message: T, on_behalf_of: Option<(i64, i64)>) -> tonic::Request<T> {
        use secrecy::ExposeSecret;
        let mut request = match on_behalf_of {
            Some((user, school)) => self.request(message, user, school),
            None => tonic::Request::new(message),
        };
        request.metadata_mut().insert(
            crate::identity::SERVICE_TOKEN_HEADER,
            self.service_token.expose_secret().parse().expect("ascii"),
        );
        request
    }
}

/// A mail outbox as the account service writes it without `CAMPUS_SMTP_URL`
/// (`<dir>/<time>-<id>.eml`): the one way tests get email codes, through the real flow.
/// Each mail is handed out once, oldest first, so a test that asks for two codes gets both.
#[derive(Debug)]
pub struct Outbox {
    dir: std::path::PathBuf,
    _temp: Option<tempfile::TempDir>,
    taken: std::sync::Mutex<std::collections::HashSet<std::ffi::OsString>>,
}

/// How long [`Outbox::next_mail`] waits for a mail (delivery is asynchronous).
const MAIL_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

impl Default for Outbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Outbox {
    /// A fresh outbox in a temporary directory, removed when dropped.
    pub fn new() -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        Self { dir: temp.path().join("outbox"), _temp: Some(temp), taken: Default::default() }
    }

    /// The outbox a running system writes to, e.g. `$CAMPUS_DATA_DIR/outbox`.
    pub fn at(dir: impl Into<std::path::PathBuf>) -> Self {
        Self { dir: dir.into(), _temp: None, taken: Default::default() }
    }

    pub fn path(&self) -> &std::path::Path {
        &self.dir
    }

    /// The oldest mail to `email` not handed out yet (the whole RFC 5322 text), waiting for it.
    pub async fn next_mail(&self, email: &str) -> String {
        let to = format!("to: {}", email.to_lowercase());
        let deadline = tokio::time::Instant::now() + MAIL_WAIT;
        loop {
            if let Some(mail) = self.take_mail(&to) {
                return mail;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no mail to {email} in {} within {MAIL_WAIT:?}",
                self.dir.display()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    fn take_mail(&self, to: &str) -> Option<String> {
        let mut names: Vec<_> = std::fs::read_dir(&self.dir)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .filter(|n| n.to_string_lossy().ends_with(".eml"))
            .collect();
        names.sort();
        let mut taken = self.taken.lock().unwrap_or_else(|e| e.into_inner());
        for name in names {
            if taken.contains(&name) {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(self.dir.join(&name)) else { continue };
            let head = text.split("\r\n\r\n").next().unwrap_or_default().to_lowercase();
            if head.lines().any(|line| line.trim_end() == to) {
                taken.insert(name);
                return Some(text);
            }
        }
        None
    }

    /// The code in the next mail to `email` (see [`Outbox::next_mail`]).
    pub async fn code_for(&self, email: &str) -> String {
        let mail = self.next_mail(email).await;
        mail_code(&mail).unwrap_or_else(|| panic!("the mail to {email} carries no code:\n{mail}"))
    }
}

/// The 6-digit code in a mail's body, if it has one.
pub fn mail_code(mail: &str) -> Option<String> {
    let body = mail.split_once("\r\n\r\n").map_or(mail, |(_, body)| body);
    let bytes = body.as_bytes();
    (0..bytes.len().saturating_sub(5)).find_map(|i| {
        let run = &bytes[i..i + 6];
        let bounded = (i == 0 || !bytes[i - 1].is_ascii_digit())
            && bytes.get(i + 6).is_none_or(|b| !b.is_ascii_digit());
        (bounded && run.iter().all(u8::is_ascii_digit)).then(|| String::from_utf8_lossy(run).into_owned())
    })
}

/// A lazily connected channel to a local server.
pub fn channel(addr: std::net::SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("valid uri").connect_lazy()
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

    static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("tests/migrations");

    #[tokio::test]
    async fn both_backends_migrate_and_answer() {
        for backend in backends() {
            let db = TestDatabase::new(backend).await;
            let migrations = crate::db::Migrations { sqlite: &MIGRATIONS, postgres: &MIGRATIONS };
            let pool = crate::db::connect(&db.config(), migrations).await.expect("connect and migrate");
            let mut tx = pool.begin_write().await.unwrap();
            let id = crate::id::next_id();
            sqlx::query("INSERT INTO probe (id, label, flag, created_at) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind("héllo 익명")
                .bind(1i64)
                .bind(crate::db::now_micros())
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
