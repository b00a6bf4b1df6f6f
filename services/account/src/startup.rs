//! Builds the account service (database, migrations, bootstrap admin, gRPC server) and runs it.

use std::future::Future;
use std::net::SocketAddr;

use campus_proto::account::v1::account_internal_service_server::AccountInternalServiceServer;
use campus_proto::account::v1::account_service_server::AccountServiceServer;
use campus_proto::account::v1::account_verification_internal_service_server::AccountVerificationInternalServiceServer;
use campus_proto::events::v1::event_feed_internal_service_server::EventFeedInternalServiceServer;
use campus_shared::config::{ConfigError, EnvVar, ServiceConfig, parse_or, seconds_or, var};
use campus_shared::db::{self, Db, Migrations};
use campus_shared::events::{Feed, FeedConfig, Outbox};
use campus_shared::identity::{AuthInterceptor, ServiceInterceptor, TokenVerifier};
use campus_shared::server::GrpcServer;
use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::Migrator;

use crate::domain::{self, LoginId, Passwords, Throttle};
use crate::grpc::{ApiRules, CodeRules};
use crate::mail::{MailConfig, MailTransport, MailWorker, Mailer, SmtpConfig};
use crate::signin::SignIns;
use crate::store;

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

/// How long a stopping service waits for queued mail.
const MAIL_DRAIN: std::time::Duration = std::time::Duration::from_secs(3);

/// The account service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceConfig,
    /// `CAMPUS_BOOTSTRAP_ADMIN=loginId:password`: an admin created at start if missing.
    pub bootstrap_admin: Option<(String, SecretString)>,
    /// The sign-in throttle (defaults: per address 5 free failures, then 30 s doubling to
    /// 15 min; per account 20 attempts per 15 min from addresses it has not signed in from).
    pub throttle: Throttle,
    /// The account event feed: its polling, retention and stream lifetime.
    pub feed: FeedConfig,
    /// Where mail goes: SMTP with `CAMPUS_SMTP_URL`, else `$CAMPUS_DATA_DIR/outbox`.
    pub mail: MailConfig,
    /// Email codes: validity, the interval between two, quotas.
    pub codes: CodeRules,
    /// A nickname changes at most once per this long (30 days).
    pub nickname_cooldown: std::time::Duration,
}

/// SQL naming the users deleted since `$1`, whose tokens every replica refuses.
const DELETED_SINCE: &str = "SELECT id FROM user_account WHERE deleted_at >= $1";

impl Config {
    pub const VARS: &'static [EnvVar] = &[
        EnvVar { name: "ACCOUNT_LISTEN_ADDR", default: "127.0.0.1:50051", help: "gRPC listen address" },
        EnvVar {
            name: "ACCOUNT_DATABASE_URL",
            default: "sqlite://./data/account.db",
            help: "sqlite:// or postgres:// URL",
        },
        EnvVar {
            name: "CAMPUS_BOOTSTRAP_ADMIN",
            default: "",
            help: "loginId:password of an admin to create at start if it does not exist",
        },
        EnvVar {
            name: "ACCOUNT_SIGNIN_FREE_FAILURES",
            default: "5",
            help: "failed sign-ins per login id and address before the back-off starts",
        },
        EnvVar {
            name: "ACCOUNT_SIGNIN_BACKOFF_SECS",
            default: "30",
            help: "first back-off window after the free failures; each failure doubles it",
        },
        EnvVar { name: "ACCOUNT_SIGNIN_BACKOFF_CAP_SECS", default: "900", help: "longest back-off window" },
        EnvVar {
            name: "ACCOUNT_SIGNIN_BUDGET",
            default: "20",
            help: "sign-in attempts per login id from unfamiliar addresses per budget window",
        },
        EnvVar {
            name: "ACCOUNT_SIGNIN_BUDGET_WINDOW_SECS",
            default: "900",
            help: "the window of ACCOUNT_SIGNIN_BUDGET",
        },
        EnvVar {
            name: "ACCOUNT_SIGNIN_FAMILIAR_SECS",
            default: "2592000",
            help: "how long after a successful sign-in its address stays familiar (30 days)",
        },
        FeedConfig::RETENTION_VAR,
        EnvVar {
            name: "CAMPUS_SMTP_URL",
            default: "",
            help: "smtps://[user:pass@]host[:465] or smtp://...[:587] (STARTTLS required); unset: mail goes to $CAMPUS_DATA_DIR/outbox as .eml files",
        },
        EnvVar { name: "CAMPUS_SMTP_USERNAME_FILE", default: "", help: "file holding the SMTP user name" },
        EnvVar { name: "CAMPUS_SMTP_PASSWORD_FILE", default: "", help: "file holding the SMTP password" },
        EnvVar {
            name: "CAMPUS_SMTP_CA_FILE",
            default: "",
            help: "PEM roots to trust for the SMTP relay, besides the system's",
        },
        EnvVar { name: "CAMPUS_SMTP_TIMEOUT_SECS", default: "30", help: "deadline of one SMTP delivery" },
        EnvVar {
            name: "CAMPUS_MAIL_FROM",
            default: MailConfig::DEFAULT_FROM,
            help: "the From: of mail sent",
        },
        EnvVar {
            name: "ACCOUNT_EMAIL_CODE_TTL_SECS",
            default: "600",
            help: "how long an email code is accepted",
        },
        EnvVar {
            name: "ACCOUNT_EMAIL_CODE_INTERVAL_SECS",
            default: "60",
            help: "one new email code per address and purpose per this many seconds",
        },
        EnvVar {
            name: "ACCOUNT_EMAIL_CODES_PER_CLIENT_PER_HOUR",
            default: "5",
            help: "email codes per address and client address per hour",
        },
        EnvVar {
            name: "ACCOUNT_EMAIL_CODES_PER_ADDRESS_PER_DAY",
            default: "20",
            help: "email codes per address per day, from all clients",
        },
        EnvVar {
            name: "ACCOUNT_NICKNAME_COOLDOWN_SECS",
            default: "2592000",
            help: "a nickname changes at most once per this many seconds (30 days)",
        },
    ];

    /// A configuration with no bootstrap admin, the default throttle and code rules, and
    /// mail written to `$CAMPUS_DATA_DIR/outbox`.
    pub fn new(service: ServiceConfig) -> Self {
        Self {
            service,
            bootstrap_admin: None,
            throttle: Throttle::default(),
            feed: FeedConfig::default(),
            mail: MailConfig::outbox(campus_shared::config::data_dir().join("outbox")),
            codes: CodeRules::default(),
            nickname_cooldown: std::time::Duration::from_secs(30 * 24 * 3600),
        }
    }

    pub fn from_env() -> anyhow::Result<Self> {
        let mut config = Self::new(ServiceConfig::from_env("ACCOUNT", "account", 50051)?);
        config.bootstrap_admin = bootstrap_admin_from_env()?;
        config.throttle = throttle_from_env(config.throttle)?;
        config.feed = FeedConfig::from_env()?;
        config.mail = mail_from_env()?;
        config.codes = codes_from_env(config.codes)?;
        config.nickname_cooldown =
            seconds_or("ACCOUNT_NICKNAME_COOLDOWN_SECS", config.nickname_cooldown.as_secs())?;
        Ok(config)
    }
}

/// The `ACCOUNT_EMAIL_CODE*` variables over `defaults`.
fn codes_from_env(defaults: CodeRules) -> Result<CodeRules, ConfigError> {
    let codes = CodeRules {
        ttl: seconds_or("ACCOUNT_EMAIL_CODE_TTL_SECS", defaults.ttl.as_secs())?,
        interval: seconds_or("ACCOUNT_EMAIL_CODE_INTERVAL_SECS", defaults.interval.as_secs())?,
        per_client_per_hour: parse_or(
            "ACCOUNT_EMAIL_CODES_PER_CLIENT_PER_HOUR",
            defaults.per_client_per_hour,
        )?,
        per_address_per_day: parse_or(
            "ACCOUNT_EMAIL_CODES_PER_ADDRESS_PER_DAY",
            defaults.per_address_per_day,
        )?,
    };
    if codes.ttl.is_zero() {
        return Err(ConfigError {
            name: "ACCOUNT_EMAIL_CODE_TTL_SECS".into(),
            problem: "must be at least 1".into(),
        });
    }
    Ok(codes)
}

/// A secret read from the file a `_FILE` variable names, without its trailing newline.
fn secret_file(name: &str) -> Result<Option<SecretString>, ConfigError> {
    let Some(path) = var(name) else { return Ok(None) };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| ConfigError { name: name.into(), problem: format!("cannot read {path}: {e}") })?;
    Ok(Some(SecretString::from(text.trim_end_matches(['\r', '\n']).to_owned())))
}

/// `CAMPUS_SMTP_*` and `CAMPUS_MAIL_FROM`; the outbox under the data directory without a URL.
/// Every variable that is set is read (a bad one stops the start) even when it goes unused.
fn mail_from_env() -> Result<MailConfig, ConfigError> {
    let username = secret_file("CAMPUS_SMTP_USERNAME_FILE")?;
    let password = secret_file("CAMPUS_SMTP_PASSWORD_FILE")?;
    let ca_file = var("CAMPUS_SMTP_CA_FILE").map(std::path::PathBuf::from);
    if let Some(file) = ca_file.as_ref().filter(|f| !f.is_file()) {
        return Err(ConfigError {
            name: "CAMPUS_SMTP_CA_FILE".into(),
            problem: format!("{} is not a file", file.display()),
        });
    }
    let timeout = seconds_or("CAMPUS_SMTP_TIMEOUT_SECS", 30)?;
    if timeout.is_zero() {
        return Err(ConfigError {
            name: "CAMPUS_SMTP_TIMEOUT_SECS".into(),
            problem: "must be at least 1".into(),
        });
    }
    let transport = match var("CAMPUS_SMTP_URL") {
        None => MailTransport::Outbox(campus_shared::config::data_dir().join("outbox")),
        Some(url) => MailTransport::Smtp(SmtpConfig {
            url: SecretString::from(url),
            username,
            password,
            ca_file,
            timeout,
        }),
    };
    let from = var("CAMPUS_MAIL_FROM").unwrap_or_else(|| MailConfig::DEFAULT_FROM.to_owned());
    Ok(MailConfig { transport, from })
}

/// The sign-in throttle's `ACCOUNT_SIGNIN_*` variables over `defaults`.
fn throttle_from_env(defaults: Throttle) -> Result<Throttle, ConfigError> {
    Ok(Throttle {
        free_failures: parse_or("ACCOUNT_SIGNIN_FREE_FAILURES", defaults.free_failures)?,
        base: seconds_or("ACCOUNT_SIGNIN_BACKOFF_SECS", defaults.base.as_secs())?,
        cap: seconds_or("ACCOUNT_SIGNIN_BACKOFF_CAP_SECS", defaults.cap.as_secs())?,
        budget: parse_or("ACCOUNT_SIGNIN_BUDGET", defaults.budget)?,
        budget_window: seconds_or("ACCOUNT_SIGNIN_BUDGET_WINDOW_SECS", defaults.budget_window.as_secs())?,
        familiar_for: seconds_or("ACCOUNT_SIGNIN_FAMILIAR_SECS", defaults.familiar_for.as_secs())?,
    })
}

/// `CAMPUS_BOOTSTRAP_ADMIN`, split at its first colon (passwords may contain colons).
pub(crate) fn bootstrap_admin_from_env() -> Result<Option<(String, SecretString)>, ConfigError> {
    let Some(value) = var("CAMPUS_BOOTSTRAP_ADMIN") else {
        return Ok(None);
    };
    match value.split_once(':') {
        Some((login, password)) if !login.is_empty() && !password.is_empty() => {
            Ok(Some((login.to_owned(), SecretString::from(password.to_owned()))))
        }
        _ => Err(ConfigError {
            name: "CAMPUS_BOOTSTRAP_ADMIN".into(),
            problem: "must be loginId:password".into(),
        }),
    }
}

/// A bound, migrated account service, ready to serve.
#[derive(Debug)]
pub struct Application {
    server: GrpcServer,
    sign_ins: SignIns,
    feed: Feed,
    db: Db,
    verifier: TokenVerifier,
    mail: MailWorker,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let db = db::connect(&config.service.database, Migrations { sqlite: &SQLITE, postgres: &POSTGRES })
            .await?;
        let verifier = TokenVerifier::from_config(&config.service.identity)?;
        let passwords = Passwords::new().await?;
        if let Some((login_id, password)) = &config.bootstrap_admin {
            ensure_admin(&db, &passwords, login_id, password).await?;
        }
        let sign_ins = SignIns::new(db.clone(), config.throttle);
        let outbox = Outbox::new();
        let feed = Feed::new(db.clone(), outbox.clone(), config.feed.clone());
        let (mailer, mail) = Mailer::new(&config.mail)?;
        let rules = ApiRules {
            throttle: config.throttle,
            codes: config.codes,
            nickname_cooldown: config.nickname_cooldown,
        };
        let state = crate::grpc::AccountApi::new(
            db.clone(),
            passwords,
            &config.service.identity.service_token,
            rules,
            mailer,
            outbox,
            verifier.clone(),
        );
        let server = GrpcServer::bind(config.service.listen_addr, config.service.limits.clone())
            .await?
            .with_tls(config.service.tls.clone())
            .add_service(AccountServiceServer::with_interceptor(
                state.clone(),
                AuthInterceptor::new(verifier.clone()),
            ))
            .add_service(AccountInternalServiceServer::with_interceptor(
                state.clone(),
                ServiceInterceptor::new(&config.service.identity.service_token, verifier.clone()),
            ))
            .add_service(AccountVerificationInternalServiceServer::with_interceptor(
                state,
                ServiceInterceptor::new(&config.service.identity.service_token, verifier.clone()),
            ))
            .add_service(EventFeedInternalServiceServer::with_interceptor(
                feed.clone(),
                ServiceInterceptor::new(&config.service.identity.service_token, verifier.clone()),
            ));
        Ok(Self { server, sign_ins, feed, db, verifier, mail })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let sweeper = tokio::spawn(self.sign_ins.forget_stale_forever());
        let purge = tokio::spawn(self.feed.purge_forever());
        let refuse = tokio::spawn(campus_shared::revocation::refuse_deleted_forever(
            self.db.clone(),
            self.verifier,
            DELETED_SINCE,
        ));
        let code_sweeper = tokio::spawn(crate::grpc::forget_stale_codes_forever(self.db));
        let mail = tokio::spawn(self.mail.run());
        let served = self.server.serve(shutdown).await;
        sweeper.abort();
        purge.abort();
        refuse.abort();
        code_sweeper.abort();
        // The server (and so every sender) is gone: letters already queued still go out.
        if tokio::time::timeout(MAIL_DRAIN, mail).await.is_err() {
            tracing::warn!("queued mail not delivered before shutdown");
        }
        served?;
        Ok(())
    }
}

/// Creates the bootstrap admin unless a live user already has its login id. A second replica
/// starting at the same moment hits the unique index, which means the admin exists: fine.
async fn ensure_admin(
    db: &Db,
    passwords: &Passwords,
    login_id: &str,
    password: &SecretString,
) -> anyhow::Result<()> {
    let login_id =
        LoginId::parse(login_id).map_err(|e| anyhow::anyhow!("CAMPUS_BOOTSTRAP_ADMIN login id {e}"))?;
    domain::check_password(password.expose_secret(), &[login_id.as_str()])
        .map_err(|e| anyhow::anyhow!("CAMPUS_BOOTSTRAP_ADMIN password {e}"))?;
    let mut conn = db.pool.acquire().await?;
    if store::live_user_by_login(&mut conn, login_id.as_str()).await?.is_some() {
        return Ok(());
    }
    drop(conn);
    let hash = passwords.hash(password.expose_secret().to_owned()).await?;
    let email = domain::admin_email(&login_id);
    let mut tx = db.begin_write().await?;
    let user = store::NewUser {
        id: campus_shared::id::next_id(),
        school_id: domain::NO_SCHOOL,
        login_id: login_id.as_str(),
        email: &email,
        nickname: login_id.as_str(),
        password_hash: &hash,
        role: "admin",
        now: db::now_micros(),
    };
    match store::insert_user(&mut tx, &user).await {
        Ok(()) => {
            tx.commit().await?;
            tracing::info!(login_id = login_id.as_str(), "bootstrap admin created");
        }
        Err(campus_shared::Error::Database(e)) if campus_shared::error::is_unique_violation(&e) => {
            tracing::warn!(
                login_id = login_id.as_str(),
                "bootstrap admin not created: its login id, email or nickname is taken"
            );
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
