//! Configuration from the environment, with defaults that run locally.
//!
//! Every variable has a default that works on a laptop: SQLite files and keys under
//! `CAMPUS_DATA_DIR` (./data). Containers set the variables instead.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;

use crate::db::Backend;

/// A misconfigured variable: which one and why.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    pub name: String,
    pub problem: String,
}

/// The value of `name`, when set and not empty.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Parses `name`, or returns `default` when it is unset.
pub fn parse_or<T: FromStr>(name: &str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => {
            raw.parse().map_err(|e: T::Err| ConfigError { name: name.into(), problem: e.to_string() })
        }
    }
}

/// Seconds from `name` as a duration.
pub fn seconds_or(name: &str, default_secs: u64) -> Result<Duration, ConfigError> {
    parse_or(name, default_secs).map(Duration::from_secs)
}

/// Where the standalone run keeps its SQLite files, keys and photos.
pub fn data_dir() -> PathBuf {
    var("CAMPUS_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("data"))
}

/// Creates `dir` and its missing parents, each readable by its owner only (0700): the data
/// directory holds the keys, the service credential, the databases and the photos.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Takes group and other permissions away from an existing file or directory (a data
/// directory or database made by an older version, or by a process with a loose umask).
pub fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The data directory made ready: created, or made private if it already was there.
pub fn prepare_data_dir(dir: &Path) -> std::io::Result<()> {
    create_private_dir(dir)?;
    restrict_to_owner(dir)
}

/// Reads a secret file, creating it with `make()` the first time.
pub fn load_or_create(path: &Path, make: impl FnOnce() -> String) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                create_private_dir(parent)?;
            }
            let value = make();
            write_private(path, &value)?;
            Ok(value)
        }
        Err(e) => Err(e),
    }
}

fn write_private(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(value.as_bytes())
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

/// What a service needs to check callers: the gateway's public key and the service credential.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    /// PEM of the Ed25519 public key that verifies access tokens.
    pub jwt_public_key_pem: String,
    pub issuer: String,
    pub audience: String,
    /// The credential internal RPCs require (`x-campus-service-token`).
    pub service_token: SecretString,
}

pub const DEFAULT_ISSUER: &str = "campus-gateway";
pub const DEFAULT_AUDIENCE: &str = "campus";

impl IdentityConfig {
    /// `CAMPUS_JWT_PUBLIC_KEY` (PEM) or `CAMPUS_JWT_PUBLIC_KEY_FILE`, else the key pair in the
    /// data dir (made on first use); `CAMPUS_SERVICE_TOKEN`, else a secret in the data dir.
    pub fn from_env() -> Result<Self, ConfigError> {
        let jwt_public_key_pem = match (var("CAMPUS_JWT_PUBLIC_KEY"), var("CAMPUS_JWT_PUBLIC_KEY_FILE")) {
            (Some(pem), _) => pem,
            (None, Some(file)) => std::fs::read_to_string(&file).map_err(|e| ConfigError {
                name: "CAMPUS_JWT_PUBLIC_KEY_FILE".into(),
                problem: e.to_string(),
            })?,
            (None, None) => crate::identity::SigningKey::load_or_generate(&data_dir())
                .map_err(|e| ConfigError { name: "CAMPUS_DATA_DIR".into(), problem: e.to_string() })?
                .public_key_pem(),
        };
        Ok(Self {
            jwt_public_key_pem,
            issuer: var("CAMPUS_JWT_ISSUER").unwrap_or_else(|| DEFAULT_ISSUER.into()),
            audience: var("CAMPUS_JWT_AUDIENCE").unwrap_or_else(|| DEFAULT_AUDIENCE.into()),
            service_token: service_token_from_env()?,
        })
    }
}

/// `CAMPUS_SERVICE_TOKEN`, or a random secret kept in the data dir for local runs.
pub fn service_token_from_env() -> Result<SecretString, ConfigError> {
    let token = match var("CAMPUS_SERVICE_TOKEN") {
        Some(t) => t,
        None => load_or_create(&data_dir().join("service-token"), crate::identity::random_token)
            .map_err(|e| ConfigError { name: "CAMPUS_DATA_DIR".into(), problem: e.to_string() })?,
    };
    Ok(SecretString::from(token.trim().to_string()))
}

/// Limits of a gRPC server.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// Per-request deadline enforced by the server (answers CANCELLED past it).
    pub request_timeout: Duration,
    /// Requests in flight at once; more are shed with RESOURCE_EXHAUSTED at once.
    pub concurrency_limit: usize,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            concurrency_limit: 1024,
            shutdown_timeout: Duration::from_secs(8),
        }
    }
}

impl ServerLimits {
    pub fn from_env() -> Result<Self, ConfigError> {
        let d = Self::default();
        Ok(Self {
            request_timeout: seconds_or("CAMPUS_REQUEST_TIMEOUT_SECS", d.request_timeout.as_secs())?,
            concurrency_limit: parse_or("CAMPUS_CONCURRENCY_LIMIT", d.concurrency_limit)?,
            shutdown_timeout: seconds_or("CAMPUS_SHUTDOWN_TIMEOUT_SECS", d.shutdown_timeout.as_secs())?,
        })
    }
}

/// The settings every domain service has.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub listen_addr: SocketAddr,
    pub database: DatabaseConfig,
    pub identity: IdentityConfig,
    pub limits: ServerLimits,
    /// Serve TLS (`<PREFIX>_TLS_CERT_FILE`, `<PREFIX>_TLS_KEY_FILE`); plain when `None`.
    pub tls: Option<crate::tls::ServerTls>,
    /// Trust for `https://` upstream addresses, for services that call others.
    pub client_tls: crate::tls::ClientTls,
}

impl ServiceConfig {
    /// `<PREFIX>_LISTEN_ADDR` (default 127.0.0.1:`default_port`), `<PREFIX>_DATABASE_URL`, and
    /// the shared identity and limit variables.
    pub fn from_env(prefix: &str, service: &str, default_port: u16) -> Result<Self, ConfigError> {
        Ok(Self {
            listen_addr: parse_or(
                &format!("{prefix}_LISTEN_ADDR"),
                SocketAddr::from(([127, 0, 0, 1], default_port)),
            )?,
            database: DatabaseConfig::from_env(prefix, service)?,
            identity: IdentityConfig::from_env()?,
            limits: ServerLimits::from_env()?,
            tls: crate::tls::ServerTls::from_env(prefix)?,
            client_tls: crate::tls::ClientTls::from_env()?,
        })
    }
}

/// One documented environment variable, for `--help`.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

/// The variables every service reads, besides its own.
pub const COMMON_VARS: &[EnvVar] = &[
    EnvVar {
        name: "CAMPUS_DATA_DIR",
        default: "./data",
        help: "where local SQLite files, keys and photos live",
    },
    EnvVar {
        name: "CAMPUS_JWT_PUBLIC_KEY",
        default: "(key pair in the data dir)",
        help: "PEM of the Ed25519 key that verifies access tokens",
    },
    EnvVar {
        name: "CAMPUS_JWT_PUBLIC_KEY_FILE",
        default: "",
        help: "file holding that PEM, instead of the variable",
    },
    EnvVar { name: "CAMPUS_JWT_ISSUER", default: DEFAULT_ISSUER, help: "required `iss` of access tokens" },
    EnvVar {
        name: "CAMPUS_JWT_AUDIENCE",
        default: DEFAULT_AUDIENCE,
        help: "required `aud` of access tokens",
    },
    EnvVar {
        name: "CAMPUS_SERVICE_TOKEN",
        default: "(secret in the data dir)",
        help: "credential for internal service-to-service RPCs",
    },
    EnvVar {
        name: "CAMPUS_DB_MAX_CONNECTIONS",
        default: "16 (PostgreSQL), 8 (SQLite)",
        help: "database pool size (SQLite writes are serialised anyway)",
    },
    EnvVar {
        name: "CAMPUS_DB_ACQUIRE_TIMEOUT_SECS",
        default: "3",
        help: "wait for a pooled connection before UNAVAILABLE",
    },
    EnvVar { name: "CAMPUS_REQUEST_TIMEOUT_SECS", default: "30", help: "server-side deadline of a request" },
    EnvVar {
        name: "CAMPUS_CONCURRENCY_LIMIT",
        default: "1024",
        help: "requests in flight before shedding load",
    },
    EnvVar {
        name: "CAMPUS_SHUTDOWN_TIMEOUT_SECS",
        default: "8",
        help: "grace period for in-flight requests on SIGTERM",
    },
    EnvVar {
        name: "<SERVICE>_TLS_CERT_FILE",
        default: "(plain)",
        help: "PEM certificate chain: serve TLS (with <SERVICE>_TLS_KEY_FILE)",
    },
    EnvVar { name: "<SERVICE>_TLS_KEY_FILE", default: "", help: "PEM private key of that certificate" },
    EnvVar {
        name: "CAMPUS_TLS_CA_FILE",
        default: "",
        help: "PEM CA that https:// upstreams (and, under mTLS, callers) must be signed by",
    },
    EnvVar {
        name: "CAMPUS_TLS_CLIENT_AUTH",
        default: "none",
        help: "require: accept only callers with a client certificate from that CA (mTLS)",
    },
    EnvVar {
        name: "CAMPUS_TLS_CLIENT_CERT_FILE",
        default: "",
        help: "PEM client certificate presented to https:// upstreams (with _KEY_FILE)",
    },
    EnvVar { name: "CAMPUS_TLS_CLIENT_KEY_FILE", default: "", help: "PEM private key of that certificate" },
    EnvVar {
        name: "OTEL_EXPORTER_OTLP_ENDPOINT",
        default: "(off)",
        help: "OTLP/gRPC endpoint for traces and metrics",
    },
    EnvVar { name: "RUST_LOG", default: "info", help: "log filter" },
];

/// Prints `--help` and returns true when the process was asked for it.
pub fn print_help_if_asked(binary: &str, about: &str, own: &[EnvVar]) -> bool {
    if !std::env::args().any(|a| a == "--help" || a == "-h") {
        return false;
    }
    println!("{binary}: {about}\n\nConfigured by environment variables:\n");
    for v in own.iter().chain(COMMON_VARS) {
        println!("  {:<34} {}\n  {:<34} default: {}", v.name, v.help, "", v.default);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[cfg(unix)]
    #[test]
    fn data_dirs_and_secrets_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("a/data");
        let secret = data.join("keys/service-token");
        load_or_create(&secret, || "s3cret".into()).unwrap();
        assert_eq!((mode(&root.path().join("a")), mode(&data), mode(&secret)), (0o700, 0o700, 0o600));

        let old = root.path().join("old");
        std::fs::create_dir(&old).unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
        prepare_data_dir(&old).unwrap();
        assert_eq!(mode(&old), 0o700);
    }

    #[test]
    fn sqlite_pools_are_smaller_than_postgres_pools() {
        assert_eq!(DatabaseConfig::new("sqlite://data/board.db?mode=rwc").max_connections, 8);
        assert_eq!(DatabaseConfig::new("postgres://postgres@127.0.0.1/board").max_connections, 16);
    }
}
