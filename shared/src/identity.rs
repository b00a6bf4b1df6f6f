//! Caller identity: access tokens (EdDSA JWTs signed by the gateway, verified by every
//! service with the public key) and the service credential of internal RPCs.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, spki::der::pem::LineEnding};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tonic::metadata::MetadataMap;
use tonic::{Request, Status};

use crate::env::{ConfigError, data_dir, load_or_create, var};

/// The one algorithm campus signs and accepts.
pub const ALGORITHM: Algorithm = Algorithm::EdDSA;
/// Lifetime of an access token; services refuse one that claims to live longer.
pub const ACCESS_TOKEN_TTL: Duration = Duration::from_secs(15 * 60);
/// How far the clocks of the gateway and a service may disagree (seconds): the slack on
/// `exp`, `nbf` and a future `iat`.
pub const CLOCK_SKEW_SECS: i64 = 5;
/// Metadata key of the service credential.
pub const SERVICE_TOKEN_HEADER: &str = "x-campus-service-token";

/// 256 random bits, base64url: refresh tokens, service credentials.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// A user's role, as carried in the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

/// Who is calling: put in the request extensions by [`AuthInterceptor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user_id: i64,
    pub school_id: i64,
    pub role: Role,
    /// The nickname when the token was issued (at most 15 minutes old); services snapshot it
    /// on named posts and messages instead of asking the account service on every write.
    pub nickname: String,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The authenticated caller of a request, or UNAUTHENTICATED.
    pub fn of<T>(request: &Request<T>) -> Result<Caller, Status> {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| crate::Error::unauthenticated("an access token is required").into())
    }

    /// The caller, or PERMISSION_DENIED unless an admin.
    pub fn admin_of<T>(request: &Request<T>) -> Result<Caller, Status> {
        let caller = Self::of(request)?;
        if caller.is_admin() {
            Ok(caller)
        } else {
            Err(crate::Error::permission_denied("ADMIN_ONLY", "only administrators may do this").into())
        }
    }
}

/// The claims of a campus access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id, as a decimal string.
    pub sub: String,
    pub school_id: i64,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub iss: String,
    pub aud: String,
    /// campus's one extra claim, see [`Caller::nickname`].
    #[serde(default)]
    pub nickname: String,
}

impl Claims {
    pub fn caller(self) -> Option<Caller> {
        Some(Caller {
            user_id: self.sub.parse().ok()?,
            school_id: self.school_id,
            role: self.role,
            nickname: self.nickname,
        })
    }
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// An Ed25519 key pair in PKCS#8 PEM form.
#[derive(Clone)]
pub struct SigningKey {
    private_pem: SecretString,
    public_pem: String,
    public_raw: [u8; 32],
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey(kid={})", self.key_id())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not an Ed25519 PKCS#8 private key: {0}")]
    Parse(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl SigningKey {
    pub fn generate() -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(&rand::random::<[u8; 32]>());
        Self::from_dalek(&key)
    }

    fn from_dalek(key: &ed25519_dalek::SigningKey) -> Self {
        let private_pem = key.to_pkcs8_pem(LineEnding::LF).expect("encode key").to_string();
        let verifying = key.verifying_key();
        let public_pem = verifying.to_public_key_pem(LineEnding::LF).expect("encode key");
        Self { private_pem: private_pem.into(), public_pem, public_raw: verifying.to_bytes() }
    }

    pub fn from_private_pem(pem: &str) -> Result<Self, KeyError> {
        let key =
            ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Parse(e.to_string()))?;
        Ok(Self::from_dalek(&key))
    }

    /// The key pair kept in `dir/jwt-private.pem`, made on first use (for local runs).
    pub fn load_or_generate(dir: &Path) -> Result<Self, KeyError> {
        let pem = load_or_create(&dir.join("jwt-private.pem"), || {
            Self::generate().private_pem.expose_secret().to_string()
        })?;
        Self::from_private_pem(&pem)
    }

    pub fn public_key_pem(&self) -> String {
        self.public_pem.clone()
    }

    /// A stable key id: the first 16 characters of the base64url SHA-256 of the public key.
    pub fn key_id(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.public_raw))[..16].to_string()
    }

    /// The public key as a JSON Web Key Set (RFC 8037 OKP key).
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(self.public_raw),
                "kid": self.key_id(),
                "alg": "EdDSA",
                "use": "sig",
            }]
        })
    }
}

/// Signs access tokens (the gateway only).
#[derive(Clone)]
pub struct TokenIssuer {
    key: Arc<EncodingKey>,
    kid: String,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenIssuer(kid={}, iss={})", self.kid, self.issuer)
    }
}

impl TokenIssuer {
    pub fn new(key: &SigningKey, issuer: &str, audience: &str) -> Result<Self, KeyError> {
        let encoding = EncodingKey::from_ed_pem(key.private_pem.expose_secret().as_bytes())
            .map_err(|e| KeyError::Parse(e.to_string()))?;
        Ok(Self {
            key: Arc::new(encoding),
            kid: key.key_id(),
            issuer: issuer.into(),
            audience: audience.into(),
        })
    }

    /// A signed access token for the caller, valid for [`ACCESS_TOKEN_TTL`].
    pub fn issue(&self, caller: &Caller) -> Result<String, jsonwebtoken::errors::Error> {
        self.issue_with(caller, unix_now(), ACCESS_TOKEN_TTL)
    }

    pub fn issue_with(
        &self,
        caller: &Caller,
        iat: i64,
        ttl: Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            sub: caller.user_id.to_string(),
            school_id: caller.school_id,
            role: caller.role,
            iat,
            exp: iat + ttl.as_secs() as i64,
            jti: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            nickname: caller.nickname.clone(),
        };
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}

/// Past this many distinct live tokens the verified-token cache starts over rather than grow
/// (about 7 MB at its fullest): room for every user active within a token's 15 minutes.
const VERIFIED_CACHE_ENTRIES: usize = 50_000;

/// A verified token's cache key: its SHA-256, so an entry is small whatever the token's size,
/// and only the very same token (bit for bit) finds it.
type TokenDigest = [u8; 32];

/// The SHA-256 of a token's text: the verified-token cache's key, and what the service
/// credential is compared by.
fn token_digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// Why an access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Past its `exp`: routine, clients refresh and retry.
    Expired,
    /// Valid, but its user deleted their account since it was issued.
    AccountDeleted,
    /// Anything else: a bad signature, the wrong algorithm, issuer or audience, a token not
    /// yet valid (`nbf`, an `iat` in the future), one living longer than tokens are issued
    /// for, or text that is no token at all. Nobody holding a real token sends one of these.
    Invalid(&'static str),
}

/// Verifies access tokens with the gateway's public key.
///
/// An Ed25519 signature check costs more than the rest of serving a small call, and a client
/// sends the same token for up to 15 minutes. So a verified token is remembered, by the
/// SHA-256 of its full text, until its own `exp` and never longer. Clones share the cache.
#[derive(Clone)]
pub struct TokenVerifier {
    key: Arc<DecodingKey>,
    validation: Arc<Validation>,
    max_lifetime: i64,
    verified: Arc<Mutex<HashMap<TokenDigest, (Caller, i64)>>>,
    /// Users whose tokens are refused although valid: accounts deleted within a token's
    /// lifetime (see [`TokenVerifier::refuse_users`]).
    refused: Arc<RwLock<Arc<HashSet<i64>>>>,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenVerifier(..)")
    }
}

impl TokenVerifier {
    pub fn new(public_key_pem: &str, issuer: &str, audience: &str) -> Result<Self, KeyError> {
        let key = DecodingKey::from_ed_pem(public_key_pem.as_bytes())
            .map_err(|e| KeyError::Parse(e.to_string()))?;
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = CLOCK_SKEW_SECS as u64;
        Ok(Self {
            key: Arc::new(key),
            validation: Arc::new(validation),
            max_lifetime: ACCESS_TOKEN_TTL.as_secs() as i64,
            verified: Arc::default(),
            refused: Arc::default(),
        })
    }

    /// From now on, refuses the tokens of exactly these users (replacing the previous set):
    /// accounts deleted recently enough that tokens issued before may still be unexpired.
    pub fn refuse_users(&self, users: HashSet<i64>) {
        *self.refused.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(users);
    }

    /// Adds users to the refused set at once (the refresh replaces the set later).
    pub fn refuse_user(&self, user_id: i64) {
        let mut refused = self.refused.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut next = HashSet::clone(&refused);
        next.insert(user_id);
        *refused = Arc::new(next);
    }

    fn is_refused(&self, user_id: i64) -> bool {
        let refused = self.refused.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        !refused.is_empty() && refused.contains(&user_id)
    }

    pub fn from_config(config: &IdentityConfig) -> Result<Self, KeyError> {
        Self::new(&config.jwt_public_key_pem, &config.issuer, &config.audience)
    }

    /// The caller named by a valid token; `None` for anything forged, expired or malformed.
    /// A token refused for any reason but its age is logged as a security event.
    pub fn verify(&self, token: &str) -> Option<Caller> {
        match self.verify_at(token, unix_now()) {
            Ok(caller) => Some(caller),
            Err(Rejection::Expired) => None,
            Err(Rejection::AccountDeleted) => {
                tracing::info!("access token of a deleted account refused");
                None
            }
            Err(Rejection::Invalid(why)) => {
                tracing::warn!(security_event = "access_token_invalid", reason = why, "access token refused");
                None
            }
        }
    }

    fn verify_at(&self, token: &str, now: i64) -> Result<Caller, Rejection> {
        let caller = self.verify_signed_at(token, now)?;
        if self.is_refused(caller.user_id) {
            return Err(Rejection::AccountDeleted);
        }
        Ok(caller)
    }

    fn verify_signed_at(&self, token: &str, now: i64) -> Result<Caller, Rejection> {
        let digest = token_digest(token);
        if let Some((caller, exp)) = self.cached().get(&digest)
            && *exp > now
        {
            return Ok(caller.clone());
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|e| rejection(e.kind()))?
            .claims;
        // jsonwebtoken checks `exp` and `nbf` against its own clock; `iat` and the lifetime
        // are campus's rules: a token from the future, or one minted to outlive the 15
        // minutes the gateway issues, was not made by the gateway's issuer.
        if claims.iat > now + CLOCK_SKEW_SECS {
            return Err(Rejection::Invalid("issued in the future"));
        }
        if claims.exp.saturating_sub(claims.iat) > self.max_lifetime {
            return Err(Rejection::Invalid("lifetime longer than issued"));
        }
        let exp = claims.exp;
        let caller = claims.caller().ok_or(Rejection::Invalid("subject is not a user id"))?;
        let mut verified = self.cached();
        if verified.len() >= VERIFIED_CACHE_ENTRIES {
            verified.retain(|_, (_, exp)| *exp > now);
            if verified.len() >= VERIFIED_CACHE_ENTRIES {
                verified.clear();
            }
        }
        verified.insert(digest, (caller.clone(), exp));
        Ok(caller)
    }

    fn cached(&self) -> std::sync::MutexGuard<'_, HashMap<TokenDigest, (Caller, i64)>> {
        self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn rejection(kind: &jsonwebtoken::errors::ErrorKind) -> Rejection {
    use jsonwebtoken::errors::ErrorKind;
    Rejection::Invalid(match kind {
        ErrorKind::ExpiredSignature => return Rejection::Expired,
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => "wrong algorithm",
        ErrorKind::ImmatureSignature => "not valid yet (nbf)",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::MissingRequiredClaim(_) | ErrorKind::InvalidClaimFormat(_) => {
            "missing or malformed claims"
        }
        _ => "malformed",
    })
}

/// The bearer token of a request's `authorization` metadata, if any.
pub fn bearer_token(metadata: &MetadataMap) -> Option<&str> {
    let value = metadata.get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).map(str::trim)
}

/// Verifies the access token of every request: a valid one puts the [`Caller`] in the
/// extensions, a present but invalid one is refused with UNAUTHENTICATED, and a missing one
/// passes without a caller (public RPCs accept it; the rest refuse via [`Caller::of`]).
#[derive(Clone, Debug)]
pub struct AuthInterceptor {
    verifier: TokenVerifier,
}

impl AuthInterceptor {
    pub fn new(verifier: TokenVerifier) -> Self {
        Self { verifier }
    }
}

impl tonic::service::Interceptor for AuthInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let Some(token) = bearer_token(request.metadata()) else {
            return Ok(request);
        };
        match self.verifier.verify(token) {
            Some(caller) => {
                tracing::Span::current().record("user_id", caller.user_id);
                request.extensions_mut().insert(caller);
                Ok(request)
            }
            None => Err(crate::Error::unauthenticated("invalid or expired access token").into()),
        }
    }
}

/// Guards internal services: the service credential must be present (compared in constant
/// time). A user token, if forwarded, is verified too so the handler knows on whose behalf.
#[derive(Clone)]
pub struct ServiceInterceptor {
    expected: Arc<TokenDigest>,
    user: AuthInterceptor,
}

impl std::fmt::Debug for ServiceInterceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceInterceptor(..)")
    }
}

impl ServiceInterceptor {
    pub fn new(service_token: &SecretString, verifier: TokenVerifier) -> Self {
        Self {
            expected: Arc::new(token_digest(service_token.expose_secret())),
            user: AuthInterceptor::new(verifier),
        }
    }
}

impl tonic::service::Interceptor for ServiceInterceptor {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let presented = request.metadata().get(SERVICE_TOKEN_HEADER).and_then(|v| v.to_str().ok());
        let ok = presented.is_some_and(|p| {
            // Comparing digests keeps the comparison's time independent of the secret.
            let digest = token_digest(p);
            digest.iter().zip(self.expected.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
        });
        if !ok {
            tracing::warn!(
                security_event = "service_credential_invalid",
                presented = presented.is_some(),
                "internal RPC without the service credential"
            );
            return Err(crate::Error::permission_denied(crate::error::SERVICE_ONLY, "internal RPC").into());
        }
        self.user.call(request)
    }
}

/// Outgoing metadata for a call made on behalf of the current request: the user's token
/// (when there is one), the service credential and the trace context.
pub fn forward_metadata(incoming: Option<&MetadataMap>, service_token: &SecretString) -> MetadataMap {
    let mut out = MetadataMap::new();
    if let Some(auth) = incoming.and_then(|m| m.get("authorization")) {
        out.insert("authorization", auth.clone());
    }
    if let Ok(value) = service_token.expose_secret().parse() {
        out.insert(SERVICE_TOKEN_HEADER, value);
    }
    if let Some(request_id) = incoming.and_then(|m| m.get("x-request-id")) {
        out.insert("x-request-id", request_id.clone());
    }
    crate::telemetry::inject_context(&mut out);
    out
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
            (None, None) => SigningKey::load_or_generate(&data_dir())
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
        None => load_or_create(&data_dir().join("service-token"), random_token)
            .map_err(|e| ConfigError { name: "CAMPUS_DATA_DIR".into(), problem: e.to_string() })?,
    };
    Ok(SecretString::from(token.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (TokenIssuer, TokenVerifier, SigningKey) {
        let key = SigningKey::generate();
        let issuer = TokenIssuer::new(&key, "iss", "aud").unwrap();
        let verifier = TokenVerifier::new(&key.public_key_pem(), "iss", "aud").unwrap();
        (issuer, verifier, key)
    }

    fn alice() -> Caller {
        Caller { user_id: 42, school_id: 7, role: Role::User, nickname: "alice".into() }
    }

    fn b64(value: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
    }

    fn good_claims() -> serde_json::Value {
        serde_json::json!({"sub": "42", "school_id": 7, "role": "user", "iat": unix_now(),
            "exp": unix_now() + 600, "jti": "x", "iss": "iss", "aud": "aud"})
    }

    #[test]
    fn round_trip() {
        let (issuer, verifier, _) = pair();
        let token = issuer.issue(&alice()).unwrap();
        assert_eq!(verifier.verify(&token), Some(alice()));
    }

    #[test]
    fn alg_none_is_rejected() {
        let (_, verifier, _) = pair();
        let token =
            format!("{}.{}.", b64(&serde_json::json!({"alg": "none", "typ": "JWT"})), b64(&good_claims()));
        assert_eq!(verifier.verify(&token), None);
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_rejected() {
        let (_, verifier, key) = pair();
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &good_claims(),
            &EncodingKey::from_secret(key.public_key_pem().as_bytes()),
        )
        .unwrap();
        assert_eq!(verifier.verify(&forged), None);
    }

    #[test]
    fn cached_tokens_are_used_until_their_exp_only() {
        let (issuer, verifier, _) = pair();
        let now = unix_now();
        let token = issuer.issue_with(&alice(), now, Duration::from_secs(60)).unwrap();
        assert_eq!(verifier.verify_at(&token, now), Ok(alice()));
        let digest = token_digest(&token);
        assert_eq!(verifier.cached().get(&digest).map(|(_, exp)| *exp), Some(now + 60));

        // A marked entry shows whether the cache answered or the signature was checked again.
        let mallory = Caller { user_id: 666, ..alice() };
        verifier.cached().insert(digest, (mallory.clone(), now + 60));
        assert_eq!(verifier.verify_at(&token, now + 59), Ok(mallory.clone()), "live entry answers");
        verifier.cached().insert(digest, (mallory, now));
        assert_eq!(verifier.verify_at(&token, now), Ok(alice()), "an entry at its exp is checked anew");
    }

    #[test]
    fn clones_share_the_cache_and_bad_tokens_stay_out() {
        let (issuer, verifier, _) = pair();
        let token = issuer.issue(&alice()).unwrap();
        let clone = verifier.clone();
        assert_eq!(clone.verify(&token), Some(alice()));
        assert!(verifier.cached().contains_key(&token_digest(&token)));
        let tampered = format!("{token}x");
        assert_eq!(verifier.verify(&tampered), None);
        assert_eq!(verifier.verify("garbage"), None);
        assert_eq!(verifier.cached().len(), 1);
    }

    #[test]
    fn tokens_of_refused_users_are_rejected_even_when_cached() {
        let (issuer, verifier, _) = pair();
        let token = issuer.issue(&alice()).unwrap();
        assert_eq!(verifier.verify(&token), Some(alice()));
        verifier.clone().refuse_user(42);
        assert_eq!(verifier.verify_at(&token, unix_now()), Err(Rejection::AccountDeleted));
        verifier.refuse_users(HashSet::from([7]));
        assert_eq!(verifier.verify(&token), Some(alice()));
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let (issuer, verifier, _) = pair();
        let token = issuer.issue_with(&alice(), unix_now() - 3600, Duration::from_secs(60)).unwrap();
        assert_eq!(verifier.verify(&token), None);
    }

    /// A token with `claims`, signed with the real key.
    fn signed(key: &SigningKey, claims: &serde_json::Value) -> String {
        let encoding = EncodingKey::from_ed_pem(key.private_pem.expose_secret().as_bytes()).unwrap();
        jsonwebtoken::encode(&Header::new(ALGORITHM), claims, &encoding).unwrap()
    }

    #[test]
    fn expiry_is_routine_but_forgeries_are_invalid() {
        let (issuer, verifier, _) = pair();
        let now = unix_now();
        let old = issuer.issue_with(&alice(), now - 3600, Duration::from_secs(60)).unwrap();
        assert_eq!(verifier.verify_at(&old, now), Err(Rejection::Expired));
        let (other, _, _) = pair();
        let forged = other.issue(&alice()).unwrap();
        assert_eq!(verifier.verify_at(&forged, now), Err(Rejection::Invalid("bad signature")));
    }

    #[test]
    fn tokens_not_valid_yet_are_rejected() {
        let (_, verifier, key) = pair();
        let now = unix_now();
        let mut claims = good_claims();
        claims["nbf"] = serde_json::json!(now + 60);
        assert_eq!(
            verifier.verify_at(&signed(&key, &claims), now),
            Err(Rejection::Invalid("not valid yet (nbf)"))
        );
        claims["nbf"] = serde_json::json!(now - 1);
        assert_eq!(verifier.verify_at(&signed(&key, &claims), now).map(|c| c.user_id), Ok(42));
    }

    #[test]
    fn an_iat_in_the_future_is_rejected_beyond_the_clock_skew() {
        let (issuer, verifier, _) = pair();
        let now = unix_now();
        let ahead = issuer.issue_with(&alice(), now + CLOCK_SKEW_SECS + 60, Duration::from_secs(60)).unwrap();
        assert_eq!(verifier.verify_at(&ahead, now), Err(Rejection::Invalid("issued in the future")));
        let skewed = issuer.issue_with(&alice(), now + CLOCK_SKEW_SECS, Duration::from_secs(60)).unwrap();
        assert_eq!(verifier.verify_at(&skewed, now), Ok(alice()));
    }

    #[test]
    fn a_lifetime_longer_than_issued_is_rejected() {
        let (issuer, verifier, key) = pair();
        let now = unix_now();
        let long = issuer.issue_with(&alice(), now, ACCESS_TOKEN_TTL + Duration::from_secs(1)).unwrap();
        assert_eq!(verifier.verify_at(&long, now), Err(Rejection::Invalid("lifetime longer than issued")));
        let exact = issuer.issue_with(&alice(), now, ACCESS_TOKEN_TTL).unwrap();
        assert_eq!(verifier.verify_at(&exact, now), Ok(alice()));
        // A forged long life cannot hide behind a missing iat either: the claim is required.
        let mut claims = good_claims();
        claims.as_object_mut().unwrap().remove("iat");
        assert!(verifier.verify_at(&signed(&key, &claims), now).is_err());
    }

    #[test]
    fn wrong_audience_or_issuer_is_rejected() {
        let key = SigningKey::generate();
        let verifier = TokenVerifier::new(&key.public_key_pem(), "iss", "aud").unwrap();
        for (iss, aud) in [("iss", "other"), ("other", "aud")] {
            let token = TokenIssuer::new(&key, iss, aud).unwrap().issue(&alice()).unwrap();
            assert_eq!(verifier.verify(&token), None, "iss={iss} aud={aud}");
        }
    }

    #[test]
    fn exp_as_a_string_is_rejected() {
        let (_, verifier, key) = pair();
        let mut claims = good_claims();
        claims["exp"] = serde_json::json!((unix_now() + 600).to_string());
        assert_eq!(verifier.verify(&signed(&key, &claims)), None);
    }

    #[test]
    fn another_key_is_rejected() {
        let (_, verifier, _) = pair();
        let (other, _, _) = pair();
        assert_eq!(verifier.verify(&other.issue(&alice()).unwrap()), None);
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let (issuer, verifier, _) = pair();
        let token = issuer.issue(&alice()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims = good_claims();
        claims["role"] = serde_json::json!("admin");
        let forged = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
        assert_eq!(verifier.verify(&forged), None);
    }

    #[test]
    fn keys_persist_in_the_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let a = SigningKey::load_or_generate(dir.path()).unwrap();
        let b = SigningKey::load_or_generate(dir.path()).unwrap();
        assert_eq!(a.public_key_pem(), b.public_key_pem());
        assert_eq!(a.jwks()["keys"][0]["kty"], "OKP");
    }
}
