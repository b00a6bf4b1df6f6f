//! Configuration from the environment, with defaults that run locally.
//!
//! Every variable has a default that works on a laptop: SQLite files and keys under
//! `CAMPUS_DATA_DIR` (./data). Containers set the variables instead. The settings of one
//! concern live beside it ([`DatabaseConfig`] in `db`, [`IdentityConfig`] in `identity`, TLS
//! in `tls`) and are gathered here; reading variables and the data directory is `env`.

use std::net::SocketAddr;
use std::time::Duration;

pub use crate::db::DatabaseConfig;
pub use crate::env::{
    ConfigError, EnvVar, create_private_dir, data_dir, load_or_create, parse_or, prepare_data_dir,
    restrict_to_owner, seconds_or, var,
};
pub use crate::identity::{DEFAULT_AUDIENCE, DEFAULT_ISSUER, IdentityConfig, service_token_from_env};
use crate::tls::{ClientTls, ServerTls};

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
    pub tls: Option<ServerTls>,
    /// Trust for `https://` upstream addresses, for services that call others.
    pub client_tls: ClientTls,
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
            tls: ServerTls::from_env(prefix)?,
            client_tls: ClientTls::from_env()?,
        })
    }
}

/// The variable naming a domain service's URL, for the services that call it and the gateway.
#[derive(Debug, Clone, Copy)]
pub struct UpstreamVar {
    pub name: &'static str,
    /// Where the service listens by default.
    pub default: &'static str,
}

pub const ACCOUNT_ADDR: UpstreamVar = UpstreamVar { name: "ACCOUNT_ADDR", default: "http://127.0.0.1:50051" };
pub const BOARD_ADDR: UpstreamVar = UpstreamVar { name: "BOARD_ADDR", default: "http://127.0.0.1:50052" };
pub const MESSAGING_ADDR: UpstreamVar =
    UpstreamVar { name: "MESSAGING_ADDR", default: "http://127.0.0.1:50053" };
pub const TIMETABLE_ADDR: UpstreamVar =
    UpstreamVar { name: "TIMETABLE_ADDR", default: "http://127.0.0.1:50054" };

impl UpstreamVar {
    /// The URL: the variable, or the default.
    pub fn read(self) -> String {
        var(self.name).unwrap_or_else(|| self.default.into())
    }

    /// Its `--help` entry, saying what the reader uses the service for.
    pub const fn documented(self, help: &'static str) -> EnvVar {
        EnvVar { name: self.name, default: self.default, help }
    }
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
