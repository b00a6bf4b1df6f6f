//! Configuration and start-up: builds the dispatcher, the transcoder, the in-process auth
//! service, health and reflection, binds one listener and serves HTTP/1.1 and h2c on it.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use campus_proto::auth::v1::auth_service_server::AuthServiceServer;
use campus_shared::config::{
    self, ACCOUNT_ADDR, BOARD_ADDR, ConfigError, DatabaseConfig, EnvVar, MESSAGING_ADDR, TIMETABLE_ADDR,
    parse_or, seconds_or, var,
};
use campus_shared::identity::{SigningKey, TokenIssuer, TokenVerifier};
use campus_shared::tls::ClientTls;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tonic::transport::Channel;
use tower::ServiceBuilder;

use crate::auth::{AuthApi, AuthConfig};
use crate::client_address::TrustedProxies;
use crate::door::{ConnectionLimits, Door};
use crate::health::Readiness;
use crate::idempotency::Idempotency;
use crate::limits::{BodyBudget, InFlight, RateLimiter};
use crate::proxy::{Dispatcher, Upstream};
use crate::public::{AUTH_SERVICE, PUBLIC_SERVICES};
use crate::routes::RouteTable;
use crate::server::{GatewayService, State, cors_layer};
use crate::tls::{GatewayTls, TlsFiles};
use crate::transcode::{TranscodeLimits, Transcoder};

/// Where the four domain services listen.
#[derive(Debug, Clone)]
pub struct Upstreams {
    /// `campus.account.v1` (and the auth service's account calls).
    pub account: String,
    /// `campus.board.v1`.
    pub board: String,
    /// `campus.messaging.v1`.
    pub messaging: String,
    /// `campus.timetable.v1`.
    pub timetable: String,
}

impl Default for Upstreams {
    fn default() -> Self {
        Self {
            account: ACCOUNT_ADDR.default.into(),
            board: BOARD_ADDR.default.into(),
            messaging: MESSAGING_ADDR.default.into(),
            timetable: TIMETABLE_ADDR.default.into(),
        }
    }
}

/// The gateway's configuration. Every field is public so the one-process runner and tests
/// can fill it in code; [`Config::from_env`] reads it from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen_addr: SocketAddr,
    pub upstreams: Upstreams,
    /// Signs access tokens; its public half verifies them and is published as JWKS.
    pub signing_key: SigningKey,
    pub issuer: String,
    pub audience: String,
    /// The credential of internal RPCs (the auth service uses it towards account).
    pub service_token: SecretString,
    /// Browser origins allowed by CORS and by the refresh cookie's CSRF check.
    pub allowed_origins: Vec<String>,
    /// `Secure` on the refresh cookie (turn off only for plain-HTTP development hosts).
    pub secure_cookie: bool,
    /// Largest request body (HTTP and gRPC); 11 MiB so a 10 MiB photo fits.
    pub max_body_bytes: usize,
    /// Requests in flight at once before shedding with 429 / RESOURCE_EXHAUSTED.
    pub concurrency_limit: usize,
    /// Sign-ups and logins per minute per client address (0 turns the limit off). Sized for
    /// a campus NAT shared by many students; the account service's per-account throttle
    /// does the fine work against guessing.
    pub auth_rate_per_minute: u32,
    /// The longest a call may take through the gateway (caps the client's grpc-timeout).
    pub upstream_timeout: Duration,
    /// How long to wait for an upstream's TCP connection before answering UNAVAILABLE.
    pub connect_timeout: Duration,
    /// Grace period for in-flight requests at shutdown.
    pub shutdown_timeout: Duration,
    /// Proxies whose `x-forwarded-for` is believed: behind them the client address is the
    /// right-most hop that is not one of them. Empty: the header is ignored.
    pub trusted_proxies: TrustedProxies,
    /// A request head must arrive within this (a new connection's first one too).
    pub header_timeout: Duration,
    /// A request body must be complete this long after its head.
    pub body_timeout: Duration,
    /// A keep-alive connection with nothing in flight for this long is closed.
    pub idle_timeout: Duration,
    /// Open connections per client (peer) address; 0 turns the limit off.
    pub max_connections_per_ip: usize,
    /// Bytes of request bodies buffered across all requests; past it new bodies get 503.
    pub body_budget_bytes: usize,
    /// The part of that budget one client address may hold.
    pub body_budget_per_ip_bytes: usize,
    /// Streams one HTTP/2 connection may have open at once.
    pub h2_max_concurrent_streams: u32,
    /// Largest header list of one HTTP/2 request.
    pub h2_max_header_list_bytes: u32,
    /// Serves GET requests outside the API (the web client); 404 when `None`.
    pub web: Option<axum::Router>,
    /// The gateway's own database: idempotency records, shared by every replica.
    pub database: DatabaseConfig,
    /// How long the answer to a request with an `Idempotency-Key` is replayed.
    pub idempotency_ttl: Duration,
    /// Trust (and client certificate) for `https://` upstream addresses.
    pub upstream_tls: ClientTls,
    /// Serve HTTPS with this certificate and key; plain HTTP/1.1 and h2c when `None`.
    pub tls: Option<TlsFiles>,
    /// How often the certificate files are checked for a change.
    pub tls_reload_interval: Duration,
    /// Under TLS, a plain-HTTP listener that redirects to HTTPS (308), except `/healthz`.
    pub redirect_addr: Option<SocketAddr>,
}

impl Config {
    /// Environment variables the gateway reads besides the common ones.
    pub const VARS: &'static [EnvVar] = &[
        EnvVar {
            name: "GATEWAY_LISTEN_ADDR",
            default: "127.0.0.1:8080",
            help: "HTTP, gRPC-web and gRPC listen address",
        },
        ACCOUNT_ADDR.documented("account service URL"),
        BOARD_ADDR.documented("board service URL"),
        MESSAGING_ADDR.documented("messaging service URL"),
        TIMETABLE_ADDR.documented("timetable service URL"),
        EnvVar {
            name: "CAMPUS_JWT_PRIVATE_KEY",
            default: "(key pair in the data dir)",
            help: "PKCS#8 PEM of the Ed25519 key that signs access tokens",
        },
        EnvVar { name: "CAMPUS_JWT_PRIVATE_KEY_FILE", default: "", help: "file holding that PEM" },
        EnvVar {
            name: "CAMPUS_ALLOWED_ORIGINS",
            default: "http://127.0.0.1:8080,http://localhost:8080",
            help: "comma-separated browser origins (CORS and cookie CSRF check)",
        },
        EnvVar { name: "GATEWAY_SECURE_COOKIE", default: "true", help: "mark the refresh cookie Secure" },
        EnvVar { name: "GATEWAY_MAX_BODY_BYTES", default: "11534336", help: "largest request body" },
        EnvVar {
            name: "GATEWAY_CONCURRENCY_LIMIT",
            default: "2048",
            help: "requests in flight before shedding",
        },
        EnvVar {
            name: "GATEWAY_AUTH_RATE_PER_MINUTE",
            default: "300",
            help: "sign-ups and logins per minute per client address (0: no limit)",
        },
        EnvVar {
            name: "GATEWAY_UPSTREAM_TIMEOUT_SECS",
            default: "30",
            help: "deadline of a call through the gateway",
        },
        EnvVar { name: "GATEWAY_CONNECT_TIMEOUT_MS", default: "1000", help: "upstream connect timeout" },
        EnvVar {
            name: "GATEWAY_TRUSTED_PROXIES",
            default: "",
            help: "comma-separated CIDRs of proxies whose x-forwarded-for is believed",
        },
        EnvVar {
            name: "GATEWAY_HEADER_TIMEOUT_SECS",
            default: "10",
            help: "a request head must arrive within this, or the connection is closed",
        },
        EnvVar {
            name: "GATEWAY_BODY_TIMEOUT_SECS",
            default: "30",
            help: "a request body must be complete this long after its head (408 and close)",
        },
        EnvVar {
            name: "GATEWAY_IDLE_TIMEOUT_SECS",
            default: "60",
            help: "a keep-alive connection idle this long is closed",
        },
        EnvVar {
            name: "GATEWAY_MAX_CONNECTIONS_PER_IP",
            default: "256",
            help: "open connections per client address (0: no limit)",
        },
        EnvVar {
            name: "GATEWAY_BODY_BUDGET_BYTES",
            default: "67108864",
            help: "request body bytes buffered across all requests (503 OVERLOADED past it)",
        },
        EnvVar {
            name: "GATEWAY_BODY_BUDGET_PER_IP_BYTES",
            default: "25165824",
            help: "the part of the body budget one client address may hold (503 OVERLOADED past it)",
        },
        EnvVar {
            name: "GATEWAY_H2_MAX_CONCURRENT_STREAMS",
            default: "256",
            help: "streams one HTTP/2 connection may have open",
        },
        EnvVar {
            name: "GATEWAY_H2_MAX_HEADER_LIST_BYTES",
            default: "65536",
            help: "largest header list of one HTTP/2 request",
        },
        EnvVar {
            name: "GATEWAY_DATABASE_URL",
            default: "sqlite://$CAMPUS_DATA_DIR/gateway.db",
            help: "idempotency records (sqlite:// or postgres://; shared by all replicas)",
        },
        EnvVar {
            name: "GATEWAY_IDEMPOTENCY_TTL_SECS",
            default: "86400",
            help: "how long an Idempotency-Key's answer is replayed",
        },
        EnvVar {
            name: "GATEWAY_TLS_CERT_FILE",
            default: "(plain HTTP)",
            help: "PEM certificate chain: serve HTTPS (h2 and http/1.1); reloaded when it changes",
        },
        EnvVar { name: "GATEWAY_TLS_KEY_FILE", default: "", help: "PEM private key of that certificate" },
        EnvVar {
            name: "CAMPUS_TLS",
            default: "off",
            help: "self-signed: HTTPS with a certificate for localhost made in the data dir",
        },
        EnvVar {
            name: "GATEWAY_HTTP_REDIRECT_ADDR",
            default: "(none)",
            help: "under TLS, plain-HTTP listener answering 308 to https (except /healthz)",
        },
    ];

    /// Defaults that run locally, around a given key and service credential.
    pub fn new(signing_key: SigningKey, service_token: SecretString) -> Self {
        Self {
            listen_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            upstreams: Upstreams::default(),
            signing_key,
            issuer: config::DEFAULT_ISSUER.into(),
            audience: config::DEFAULT_AUDIENCE.into(),
            service_token,
            allowed_origins: vec!["http://127.0.0.1:8080".into(), "http://localhost:8080".into()],
            secure_cookie: true,
            max_body_bytes: 11 * 1024 * 1024,
            concurrency_limit: 2048,
            auth_rate_per_minute: 300,
            upstream_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(8),
            trusted_proxies: TrustedProxies::none(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections_per_ip: 256,
            body_budget_bytes: 64 * 1024 * 1024,
            body_budget_per_ip_bytes: 24 * 1024 * 1024,
            h2_max_concurrent_streams: 256,
            h2_max_header_list_bytes: 64 * 1024,
            web: None,
            database: DatabaseConfig::new(format!(
                "sqlite://{}?mode=rwc",
                config::data_dir().join("gateway.db").display()
            )),
            idempotency_ttl: Duration::from_secs(24 * 60 * 60),
            upstream_tls: ClientTls::default(),
            tls: None,
            tls_reload_interval: crate::tls::RELOAD_INTERVAL,
            redirect_addr: None,
        }
    }

    /// Reads [`Config::VARS`] and the shared identity variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        let key_error = |name: &str| {
            let name = name.to_string();
            move |e: campus_shared::identity::KeyError| ConfigError {
                name: name.clone(),
                problem: e.to_string(),
            }
        };
        let signing_key = match (var("CAMPUS_JWT_PRIVATE_KEY"), var("CAMPUS_JWT_PRIVATE_KEY_FILE")) {
            (Some(pem), _) => {
                SigningKey::from_private_pem(&pem).map_err(key_error("CAMPUS_JWT_PRIVATE_KEY"))?
            }
            (None, Some(file)) => {
                let pem = std::fs::read_to_string(&file).map_err(|e| ConfigError {
                    name: "CAMPUS_JWT_PRIVATE_KEY_FILE".into(),
                    problem: e.to_string(),
                })?;
                SigningKey::from_private_pem(&pem).map_err(key_error("CAMPUS_JWT_PRIVATE_KEY_FILE"))?
            }
            (None, None) => {
                SigningKey::load_or_generate(&config::data_dir()).map_err(key_error("CAMPUS_DATA_DIR"))?
            }
        };
        let mut config = Self::new(signing_key, config::service_token_from_env()?);
        config.listen_addr = parse_or("GATEWAY_LISTEN_ADDR", config.listen_addr)?;
        config.upstreams = Upstreams {
            account: ACCOUNT_ADDR.read(),
            board: BOARD_ADDR.read(),
            messaging: MESSAGING_ADDR.read(),
            timetable: TIMETABLE_ADDR.read(),
        };
        config.issuer = var("CAMPUS_JWT_ISSUER").unwrap_or(config.issuer);
        config.audience = var("CAMPUS_JWT_AUDIENCE").unwrap_or(config.audience);
        if let Some(origins) = var("CAMPUS_ALLOWED_ORIGINS") {
            config.allowed_origins = origins
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect();
        }
        config.secure_cookie = parse_or("GATEWAY_SECURE_COOKIE", config.secure_cookie)?;
        config.max_body_bytes = parse_or("GATEWAY_MAX_BODY_BYTES", config.max_body_bytes)?;
        config.concurrency_limit = parse_or("GATEWAY_CONCURRENCY_LIMIT", config.concurrency_limit)?;
        config.auth_rate_per_minute = parse_or("GATEWAY_AUTH_RATE_PER_MINUTE", config.auth_rate_per_minute)?;
        config.upstream_timeout =
            seconds_or("GATEWAY_UPSTREAM_TIMEOUT_SECS", config.upstream_timeout.as_secs())?;
        config.connect_timeout = Duration::from_millis(parse_or("GATEWAY_CONNECT_TIMEOUT_MS", 1000u64)?);
        config.shutdown_timeout =
            seconds_or("CAMPUS_SHUTDOWN_TIMEOUT_SECS", config.shutdown_timeout.as_secs())?;
        config.trusted_proxies = parse_or("GATEWAY_TRUSTED_PROXIES", config.trusted_proxies)?;
        config.header_timeout = seconds_or("GATEWAY_HEADER_TIMEOUT_SECS", config.header_timeout.as_secs())?;
        config.body_timeout = seconds_or("GATEWAY_BODY_TIMEOUT_SECS", config.body_timeout.as_secs())?;
        config.idle_timeout = seconds_or("GATEWAY_IDLE_TIMEOUT_SECS", config.idle_timeout.as_secs())?;
        config.max_connections_per_ip =
            parse_or("GATEWAY_MAX_CONNECTIONS_PER_IP", config.max_connections_per_ip)?;
        config.body_budget_bytes = parse_or("GATEWAY_BODY_BUDGET_BYTES", config.body_budget_bytes)?;
        config.body_budget_per_ip_bytes =
            parse_or("GATEWAY_BODY_BUDGET_PER_IP_BYTES", config.body_budget_per_ip_bytes)?;
        config.h2_max_concurrent_streams =
            parse_or("GATEWAY_H2_MAX_CONCURRENT_STREAMS", config.h2_max_concurrent_streams)?;
        config.h2_max_header_list_bytes =
            parse_or("GATEWAY_H2_MAX_HEADER_LIST_BYTES", config.h2_max_header_list_bytes)?;
        config.database = DatabaseConfig::from_env("GATEWAY", "gateway")?;
        config.idempotency_ttl =
            seconds_or("GATEWAY_IDEMPOTENCY_TTL_SECS", config.idempotency_ttl.as_secs())?;
        config.upstream_tls = ClientTls::from_env()?;
        config.tls = tls_from_env()?;
        config.redirect_addr = redirect_addr_from_env()?;
        if config.redirect_addr.is_some() && config.tls.is_none() {
            return Err(ConfigError {
                name: "GATEWAY_HTTP_REDIRECT_ADDR".into(),
                problem: "redirects to HTTPS: set GATEWAY_TLS_CERT_FILE/_KEY_FILE or CAMPUS_TLS=self-signed"
                    .into(),
            });
        }
        Ok(config)
    }
}

/// `GATEWAY_TLS_CERT_FILE` and `GATEWAY_TLS_KEY_FILE`, or with `CAMPUS_TLS=self-signed` a
/// certificate for localhost made (once) in the data directory.
pub(crate) fn tls_from_env() -> Result<Option<TlsFiles>, ConfigError> {
    let problem = |name: &str, problem: String| ConfigError { name: name.into(), problem };
    match (var("GATEWAY_TLS_CERT_FILE"), var("GATEWAY_TLS_KEY_FILE"), var("CAMPUS_TLS").as_deref()) {
        (Some(cert), Some(key), _) => Ok(Some(TlsFiles { cert: cert.into(), key: key.into() })),
        (Some(_), None, _) => {
            Err(problem("GATEWAY_TLS_KEY_FILE", "needed with GATEWAY_TLS_CERT_FILE".into()))
        }
        (None, Some(_), _) => {
            Err(problem("GATEWAY_TLS_CERT_FILE", "needed with GATEWAY_TLS_KEY_FILE".into()))
        }
        (None, None, Some("self-signed")) => {
            let dir = config::data_dir();
            config::prepare_data_dir(&dir).map_err(|e| problem("CAMPUS_DATA_DIR", e.to_string()))?;
            TlsFiles::self_signed_in(&dir).map(Some).map_err(|e| problem("CAMPUS_TLS", e.to_string()))
        }
        (None, None, None | Some("off")) => Ok(None),
        (None, None, Some(other)) => {
            Err(problem("CAMPUS_TLS", format!("{other:?}: must be self-signed or off")))
        }
    }
}

/// `GATEWAY_HTTP_REDIRECT_ADDR`, when set.
pub(crate) fn redirect_addr_from_env() -> Result<Option<SocketAddr>, ConfigError> {
    var("GATEWAY_HTTP_REDIRECT_ADDR")
        .map(|addr| {
            addr.parse().map_err(|e: std::net::AddrParseError| ConfigError {
                name: "GATEWAY_HTTP_REDIRECT_ADDR".into(),
                problem: e.to_string(),
            })
        })
        .transpose()
}

/// How often expired idempotency records are deleted.
const PURGE_PERIOD: Duration = Duration::from_secs(600);

/// A bound gateway, ready to serve.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    state: Arc<State>,
    readiness: Arc<Readiness>,
    health: tonic_health::server::HealthReporter,
    health_names: Vec<(&'static str, String)>,
    shutdown_timeout: Duration,
    door: Door,
    tls: Option<GatewayTls>,
    tls_reload_interval: Duration,
    redirect: Option<TcpListener>,
}

fn channel(url: &str, connect_timeout: Duration, tls: &ClientTls) -> anyhow::Result<Channel> {
    Ok(tls.endpoint(url)?.connect_timeout(connect_timeout).tcp_nodelay(true).connect_lazy())
}

impl Application {
    /// Binds the listener first (port 0 picks one), then builds everything else.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.listen_addr).await?;
        // The certificate must load now: a gateway that cannot serve HTTPS does not start.
        let tls = match &config.tls {
            Some(files) => {
                Some(GatewayTls::new(files.clone())?.with_handshake_timeout(config.header_timeout))
            }
            None => None,
        };
        let redirect = match config.redirect_addr {
            Some(addr) if tls.is_some() => Some(TcpListener::bind(addr).await?),
            Some(_) => anyhow::bail!("GATEWAY_HTTP_REDIRECT_ADDR needs TLS on the main listener"),
            None => None,
        };

        let pool = prost_reflect::DescriptorPool::decode(campus_proto::FILE_DESCRIPTOR_SET)?;
        let table = Arc::new(RouteTable::from_pool(&pool)?);
        tracing::debug!(routes = table.len(), "HTTP routes from the google.api.http annotations");

        let named = [
            ("account", "campus.account.v1", &config.upstreams.account),
            ("board", "campus.board.v1", &config.upstreams.board),
            ("messaging", "campus.messaging.v1", &config.upstreams.messaging),
            ("timetable", "campus.timetable.v1", &config.upstreams.timetable),
        ];
        let mut upstreams = HashMap::new();
        for (name, package, url) in named {
            upstreams.insert(
                package,
                Upstream { name, channel: channel(url, config.connect_timeout, &config.upstream_tls)? },
            );
        }
        let mut routes = HashMap::new();
        let mut health_names = Vec::new();
        for (package, service) in PUBLIC_SERVICES {
            let upstream = &upstreams[package];
            let descriptor = pool
                .get_service_by_name(service)
                .ok_or_else(|| anyhow::anyhow!("{service} is not in the descriptor set"))?;
            for method in descriptor.methods() {
                routes.insert(format!("/{service}/{}", method.name()), upstream.clone());
            }
            health_names.push((upstream.name, service.to_string()));
        }
        let auth_methods = pool
            .get_service_by_name(AUTH_SERVICE)
            .map(|s| s.methods().map(|m| format!("/{AUTH_SERVICE}/{}", m.name())).collect())
            .unwrap_or_default();
        let readiness = Arc::new(Readiness::new(upstreams.values().cloned().collect()));

        let issuer = TokenIssuer::new(&config.signing_key, &config.issuer, &config.audience)?;
        let verifier =
            TokenVerifier::new(&config.signing_key.public_key_pem(), &config.issuer, &config.audience)?;
        let auth = AuthApi::new(
            upstreams["campus.account.v1"].channel.clone(),
            issuer,
            config.service_token.clone(),
            AuthConfig {
                allowed_origins: config.allowed_origins.clone(),
                secure_cookie: config.secure_cookie,
            },
        );

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_service_status("", tonic_health::ServingStatus::NotServing).await;
        health.set_serving::<AuthServiceServer<AuthApi>>().await;
        let reflection = campus_shared::server::reflection_builder();
        let local = tonic::service::Routes::new(AuthServiceServer::new(auth))
            .add_service(health_service)
            .add_service(reflection.build_v1()?)
            .add_service(campus_shared::server::reflection_builder().build_v1alpha()?)
            .prepare();

        let auth_rate = RateLimiter::new(config.auth_rate_per_minute);
        let dispatcher = Dispatcher::new(
            routes,
            auth_methods,
            local,
            verifier,
            auth_rate.clone(),
            config.upstream_timeout,
        );
        let in_flight = InFlight::new(config.concurrency_limit);
        let idempotency =
            Idempotency::connect(&config.database, config.idempotency_ttl, config.upstream_timeout).await?;
        let limits = TranscodeLimits {
            max_body: config.max_body_bytes,
            timeout: config.upstream_timeout,
            body_timeout: config.body_timeout,
            budget: BodyBudget::new(config.body_budget_bytes, config.body_budget_per_ip_bytes),
            in_flight: in_flight.clone(),
            auth_rate,
        };
        let transcoder = Transcoder::new(table, dispatcher.clone(), idempotency, limits);
        let state = Arc::new(State {
            dispatcher,
            transcoder,
            readiness: readiness.clone(),
            in_flight,
            jwks: serde_json::to_vec(&config.signing_key.jwks())?.into(),
            max_body: config.max_body_bytes,
            trusted_proxies: config.trusted_proxies.clone(),
            allowed_origins: config.allowed_origins.clone(),
            web: config.web.clone(),
        });
        Ok(Self {
            listener,
            state,
            readiness,
            health,
            health_names,
            shutdown_timeout: config.shutdown_timeout,
            door: Door::new(ConnectionLimits {
                header_timeout: config.header_timeout,
                idle_timeout: config.idle_timeout,
                per_ip: config.max_connections_per_ip,
                h2_max_streams: config.h2_max_concurrent_streams,
                h2_max_header_list: config.h2_max_header_list_bytes,
            }),
            tls,
            tls_reload_interval: config.tls_reload_interval,
            redirect,
        })
    }

    /// The bound address (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// The plain-HTTP redirect listener's address, when there is one.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// Serves until `shutdown` resolves, then stops accepting and gives open connections
    /// the shutdown timeout to finish their requests.
    pub async fn run_until_stopped(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let watcher =
            tokio::spawn(self.readiness.clone().watch(self.health.clone(), self.health_names.clone()));
        let purge = tokio::spawn(self.state.transcoder.idempotency().clone().purge_expired(PURGE_PERIOD));
        let cors = cors_layer(&self.state.allowed_origins);
        let state = self.state.clone();
        let hsts = self.tls.is_some();
        let service_for = move |peer| {
            let service = ServiceBuilder::new()
                .map_response(move |mut response: http::Response<crate::Body>| {
                    if hsts {
                        response
                            .headers_mut()
                            .insert(http::header::STRICT_TRANSPORT_SECURITY, crate::tls::HSTS);
                    }
                    response
                })
                .layer(cors.clone())
                .service(GatewayService::new(state.clone(), peer));
            hyper_util::service::TowerToHyperService::new(service)
        };
        let reloader = self.tls.as_ref().map(|tls| tls.resolver().watch(self.tls_reload_interval));
        let https_port = self.local_addr().port();
        let redirect = self.redirect.take().map(|listener| {
            tokio::spawn(crate::redirect::serve(listener, https_port, std::future::pending()))
        });
        self.door.accept_until(&self.listener, service_for, self.tls.clone(), shutdown).await;
        watcher.abort();
        purge.abort();
        for task in [reloader, redirect].into_iter().flatten() {
            task.abort();
        }
        drop(self.listener);
        self.readiness.drain(&self.health, &self.health_names).await;
        self.health.set_not_serving::<AuthServiceServer<AuthApi>>().await;
        if !self.door.drain(self.shutdown_timeout).await {
            tracing::warn!("shutdown timeout reached with connections still open");
        }
        Ok(())
    }
}
