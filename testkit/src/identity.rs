//! A test identity: a key pair, a token issuer and a service credential. Services under test
//! verify with it, and tests mint tokens for any caller.

use campus_shared::config::{DEFAULT_AUDIENCE, DEFAULT_ISSUER, IdentityConfig, ServerLimits, ServiceConfig};
use campus_shared::identity::{SERVICE_TOKEN_HEADER, SigningKey, TokenIssuer, random_token};
use campus_shared::{Caller, Role};
use secrecy::{ExposeSecret, SecretString};

use crate::db::TestDatabase;

/// A key pair, issuer and service credential for tests.
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
        let issuer = TokenIssuer::new(&key, DEFAULT_ISSUER, DEFAULT_AUDIENCE).expect("issuer");
        Self { key, issuer, service_token: SecretString::from(random_token()) }
    }

    pub fn config(&self) -> IdentityConfig {
        IdentityConfig {
            jwt_public_key_pem: self.key.public_key_pem(),
            issuer: DEFAULT_ISSUER.into(),
            audience: DEFAULT_AUDIENCE.into(),
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

    /// A tonic request carrying the token of any caller (an admin, a named user).
    pub fn request_as<T>(&self, message: T, caller: &Caller) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        request.metadata_mut().insert("authorization", self.bearer_for(caller).parse().expect("ascii"));
        request
    }

    /// A tonic request carrying the service credential (and optionally a user's token).
    pub fn service_request<T>(&self, message: T, on_behalf_of: Option<(i64, i64)>) -> tonic::Request<T> {
        let mut request = match on_behalf_of {
            Some((user, school)) => self.request(message, user, school),
            None => tonic::Request::new(message),
        };
        request
            .metadata_mut()
            .insert(SERVICE_TOKEN_HEADER, self.service_token.expose_secret().parse().expect("ascii"));
        request
    }
}
