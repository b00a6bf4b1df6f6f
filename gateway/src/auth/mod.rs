//! The gateway's identity service, `campus.auth.v1.AuthService`: sign-up, login, refresh and
//! logout. Passwords and refresh-token families live in the account service; this module
//! asks it over its internal RPCs, signs the access token and handles the refresh cookie.
//!
//! The service is protocol-neutral so gRPC, gRPC-web and the HTTP/JSON routes share it: it
//! reads the `cookie` and `origin` request metadata and answers with `set-cookie` (and
//! `x-http-code` for the 201 of SignUp) in the response metadata, which the transcoder copies
//! onto the HTTP response.
//!
//! Cookie: `__Secure-refresh_token=…; HttpOnly; Secure; SameSite=Strict; Path=/v1/auth;
//! Max-Age=<seconds to the family's expiry>`. With `secure_cookie: false` (plain-HTTP local
//! development, where browsers drop `Secure` cookies) it is `refresh_token=…` without `Secure`.
//! Only the name the gateway writes is accepted on input.
//!
//! A refresh token is returned in a body only when it arrived in one (or, at login, when the
//! client asked): a cookie-authenticated refresh never hands the HttpOnly token to a script.

mod cookie;

use std::time::{SystemTime, UNIX_EPOCH};

use campus_proto::account::v1 as account;
use campus_proto::account::v1::account_internal_service_client::AccountInternalServiceClient;
use campus_proto::account::v1::account_verification_internal_service_client::AccountVerificationInternalServiceClient;
use campus_proto::auth::v1::auth_service_server::AuthService;
use campus_proto::auth::v1::{
    ConfirmPasswordResetRequest, EmailVerification, LoginRequest, LogoutRequest, PasswordReset,
    RefreshRequest, SendEmailVerificationRequest, Session, SignUpRequest, SignUpResponse,
    StartPasswordResetRequest,
};
use campus_shared::Error;
use campus_shared::identity::{self, ACCESS_TOKEN_TTL, Caller, Role, TokenIssuer};
use secrecy::SecretString;
use tonic::metadata::{MetadataMap, MetadataValue};
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use self::cookie::{CookieStyle, Source};

/// The path of the refresh cookie: browsers send it to the auth routes only.
pub(crate) const COOKIE_PATH: &str = cookie::PATH;

/// The reason of a cookie-authenticated request from an origin outside the allow-list.
pub(crate) const ORIGIN_NOT_ALLOWED: &str = "ORIGIN_NOT_ALLOWED";

/// Whether a call to the auth service may proceed given its `Origin` header: none (not a
/// browser, or a browser that sends none on same-origin requests) or an allowed one. Checked
/// by the front door on every auth call, login and sign-up included, before the body is read,
/// so a cross-site form cannot sign a victim into the attacker's account (login CSRF).
pub(crate) fn origin_allowed(origin: Option<&http::HeaderValue>, allowed: &[String]) -> bool {
    let allowed: Vec<String> = allowed.iter().map(|o| cookie::normalize_origin(o)).collect();
    // A value that is not visible ASCII is no origin at all, so it is refused.
    cookie::origin_allowed(origin.map(|v| v.to_str().unwrap_or("null")), &allowed)
}

/// Used for Max-Age when the account service names no expiry (it always should).
const DEFAULT_FAMILY_LIFETIME_SECS: i64 = 14 * 24 * 60 * 60;

/// Settings of the refresh cookie and its CSRF defence.
#[derive(Debug, Clone)]
pub(crate) struct AuthConfig {
    /// Origins (`https://campus.example`) that may refresh or log out with the cookie.
    pub(crate) allowed_origins: Vec<String>,
    /// `false` only for plain-HTTP local development: drops `Secure` and the `__Secure-` prefix.
    pub(crate) secure_cookie: bool,
}

/// `campus.auth.v1.AuthService`, backed by the account service's internal RPCs.
#[derive(Debug, Clone)]
pub(crate) struct AuthApi {
    account: AccountInternalServiceClient<Channel>,
    verification: AccountVerificationInternalServiceClient<Channel>,
    issuer: TokenIssuer,
    service_token: SecretString,
    allowed_origins: Vec<String>,
    cookie: CookieStyle,
}

impl AuthApi {
    /// An auth service talking to the account service on `account` and signing with `issuer`.
    pub(crate) fn new(
        account: Channel,
        issuer: TokenIssuer,
        service_token: SecretString,
        config: AuthConfig,
    ) -> Self {
        Self {
            verification: AccountVerificationInternalServiceClient::new(account.clone()),
            account: AccountInternalServiceClient::new(account),
            issuer,
            service_token,
            allowed_origins: config.allowed_origins.iter().map(|o| cookie::normalize_origin(o)).collect(),
            cookie: CookieStyle { secure: config.secure_cookie },
        }
    }

    /// An outgoing request to the account service with the service credential only: these
    /// calls are the gateway's own, not made on behalf of a signed-in user.
    fn internal<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        *request.metadata_mut() = identity::forward_metadata(None, &self.service_token);
        request
    }

    /// Has the account service mail a code for `purpose` to `email` (of `school_id` for a
    /// sign-up, 0 otherwise); answers when the code expires.
    async fn send_code(
        &self,
        email: String,
        purpose: account::EmailCodePurpose,
        school_id: i64,
        client_address: String,
    ) -> Result<Option<prost_types::Timestamp>, Status> {
        let send =
            account::SendEmailCodeRequest { email, purpose: purpose as i32, school_id, client_address };
        let sent = self.verification.clone().send_email_code(self.internal(send)).await.map_err(upstream)?;
        Ok(sent.into_inner().expires_at)
    }

    /// The refresh token of a Refresh or Logout request, after the Origin check.
    fn refresh_token_of<'a>(
        &self,
        metadata: &'a MetadataMap,
        body: &'a str,
    ) -> Result<(&'a str, Source), Status> {
        let cookies = metadata.get_all("cookie").iter().filter_map(|v| v.to_str().ok());
        let Some((token, source)) = self.cookie.token_from(body, cookies) else {
            return Err(Error::unauthenticated("a refresh token is required").into());
        };
        if source == Source::Cookie {
            // A value that is not visible ASCII is no origin at all, so it is refused too.
            let origin = metadata.get("origin").map(|v| v.to_str().unwrap_or("null"));
            if !cookie::origin_allowed(origin, &self.allowed_origins) {
                tracing::warn!(origin = origin.unwrap_or_default(), "cookie request from a foreign origin");
                return Err(Error::permission_denied(
                    ORIGIN_NOT_ALLOWED,
                    "this origin may not use the refresh cookie",
                )
                .into());
            }
        }
        if !cookie::plausible_token(token) {
            return Err(Error::unauthenticated("invalid refresh token").into());
        }
        Ok((token, source))
    }

    /// A session answer: the access token, the user, the refresh token in the body when asked
    /// for, and always the cookie.
    fn session(
        &self,
        user: Option<account::User>,
        refresh_token: String,
        expires_at: Option<prost_types::Timestamp>,
        token_in_body: bool,
    ) -> Result<Response<Session>, Status> {
        let user = user.ok_or_else(|| Error::internal("account service answered without a user"))?;
        let caller = Caller {
            user_id: user.id,
            school_id: user.school_id,
            role: if user.role == account::Role::Admin as i32 { Role::Admin } else { Role::User },
            nickname: user.nickname.clone(),
        };
        tracing::Span::current().record("user_id", user.id);
        let access_token = self.issuer.issue(&caller).map_err(|e| Error::Internal(Box::new(e)))?;
        let max_age = expires_at.map_or(DEFAULT_FAMILY_LIFETIME_SECS, |t| t.seconds - unix_now());
        let set_cookie = self.cookie.set(&refresh_token, max_age);
        let session = Session {
            access_token,
            expires_in: ACCESS_TOKEN_TTL.as_secs() as i32,
            user: Some(user),
            refresh_token: if token_in_body { refresh_token } else { String::new() },
        };
        let mut response = Response::new(session);
        insert(response.metadata_mut(), "set-cookie", set_cookie)?;
        insert(response.metadata_mut(), "cache-control", "no-store".into())?;
        Ok(response)
    }
}

/// The address the front door attributed a request to; the account service limits codes
/// and throttles sign-ins by it.
fn client_address<T>(request: &Request<T>) -> String {
    request.extensions().get::<crate::limits::ClientIp>().map(|ip| ip.0.to_string()).unwrap_or_default()
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

fn insert(metadata: &mut MetadataMap, key: &'static str, value: String) -> Result<(), Status> {
    let value: MetadataValue<_> =
        value.parse().map_err(|_| Error::internal(format!("{key} value is not valid metadata")))?;
    metadata.insert(key, value);
    Ok(())
}

/// An account-service failure as the client should see it, by the one upstream rule
/// ([`Error::from_upstream`]): its refusals (field violations, ALREADY_EXISTS, UNAUTHENTICATED
/// for a bad password or a reused token) pass unchanged, no answer is UNAVAILABLE, and the
/// rest (a refused service credential among it) is INTERNAL.
fn upstream(status: Status) -> Status {
    Error::from_upstream(status, "account").into()
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    #[tracing::instrument(skip_all, fields(user_id))]
    async fn sign_up(&self, request: Request<SignUpRequest>) -> Result<Response<SignUpResponse>, Status> {
        let SignUpRequest { login_id, password, nickname, email, school_id, email_code } =
            request.into_inner();
        let create =
            account::CreateUserRequest { login_id, password, nickname, email, school_id, email_code };
        let user =
            self.account.clone().create_user(self.internal(create)).await.map_err(upstream)?.into_inner();
        tracing::Span::current().record("user_id", user.id);
        let mut response = Response::new(SignUpResponse { user: Some(user) });
        insert(response.metadata_mut(), "x-http-code", "201".into())?;
        Ok(response)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn login(&self, request: Request<LoginRequest>) -> Result<Response<Session>, Status> {
        // The address the front door decided on; the account service throttles by it.
        let client_address = client_address(&request);
        let LoginRequest { login_id, password, refresh_token_in_body } = request.into_inner();
        let mut client = self.account.clone();
        let verify = account::VerifyPasswordRequest { login_id, password, client_address };
        let verified = client.verify_password(self.internal(verify)).await.map_err(upstream)?.into_inner();
        let user = verified.user.ok_or_else(|| Error::internal("verified without a user"))?;
        let created = client
            .create_session(self.internal(account::CreateSessionRequest { user_id: user.id }))
            .await
            .map_err(upstream)?
            .into_inner();
        // The session's copy of the user is the fresher one; the verified one is as good.
        let user = created.user.unwrap_or(user);
        self.session(Some(user), created.refresh_token, created.expires_at, refresh_token_in_body)
    }

    #[tracing::instrument(skip_all, fields(user_id))]
    async fn refresh(&self, request: Request<RefreshRequest>) -> Result<Response<Session>, Status> {
        let (token, source) = self.refresh_token_of(request.metadata(), &request.get_ref().refresh_token)?;
        let rotate = account::RotateSessionRequest { refresh_token: token.to_owned() };
        let rotated =
            self.account.clone().rotate_session(self.internal(rotate)).await.map_err(upstream)?.into_inner();
        // `refresh_token_in_body` is not consulted: asking for it must not turn the HttpOnly
        // cookie into a token a script can read.
        self.session(rotated.user, rotated.refresh_token, rotated.expires_at, source == Source::Body)
    }

    #[tracing::instrument(skip_all)]
    async fn logout(&self, request: Request<LogoutRequest>) -> Result<Response<()>, Status> {
        let (token, _) = self.refresh_token_of(request.metadata(), &request.get_ref().refresh_token)?;
        let revoke = account::RevokeSessionRequest { refresh_token: token.to_owned() };
        self.account.clone().revoke_session(self.internal(revoke)).await.map_err(upstream)?;
        let mut response = Response::new(());
        insert(response.metadata_mut(), "set-cookie", self.cookie.clear())?;
        Ok(response)
    }

    #[tracing::instrument(skip_all)]
    async fn send_email_verification(
        &self,
        request: Request<SendEmailVerificationRequest>,
    ) -> Result<Response<EmailVerification>, Status> {
        let client_address = client_address(&request);
        let SendEmailVerificationRequest { email, school_id } = request.into_inner();
        let purpose = account::EmailCodePurpose::SignUp;
        let expires_at = self.send_code(email, purpose, school_id, client_address).await?;
        Ok(Response::new(EmailVerification { expires_at }))
    }

    #[tracing::instrument(skip_all)]
    async fn start_password_reset(
        &self,
        request: Request<StartPasswordResetRequest>,
    ) -> Result<Response<PasswordReset>, Status> {
        let client_address = client_address(&request);
        let email = request.into_inner().email;
        let purpose = account::EmailCodePurpose::PasswordReset;
        let expires_at = self.send_code(email, purpose, 0, client_address).await?;
        Ok(Response::new(PasswordReset { expires_at }))
    }

    #[tracing::instrument(skip_all)]
    async fn confirm_password_reset(
        &self,
        request: Request<ConfirmPasswordResetRequest>,
    ) -> Result<Response<()>, Status> {
        let ConfirmPasswordResetRequest { email, code, new_password } = request.into_inner();
        let reset = account::ResetPasswordRequest { email, code, new_password };
        self.verification.clone().reset_password(self.internal(reset)).await.map_err(upstream)?;
        Ok(Response::new(()))
    }
}

#[cfg(test)]
mod tests {
    use campus_testkit::TestIdentity;
    use tonic::Code;
    use tonic_types::StatusExt;

    use super::*;

    /// An AuthApi whose account service does not exist: any call to it fails UNAVAILABLE, so
    /// an answer other than that proves the request was decided before calling it.
    fn unreachable_api() -> AuthApi {
        unreachable_api_for(&TestIdentity::new())
    }

    fn unreachable_api_for(identity: &TestIdentity) -> AuthApi {
        // Port 9 (discard) on loopback is closed on any test machine.
        let channel = campus_testkit::channel(([127, 0, 0, 1], 9).into());
        let config =
            AuthConfig { allowed_origins: vec!["https://campus.example/".into()], secure_cookie: true };
        AuthApi::new(channel, identity.issuer.clone(), identity.service_token.clone(), config)
    }

    fn refresh_with(headers: &[(&'static str, &str)], body_token: &str) -> Request<RefreshRequest> {
        let mut request =
            Request::new(RefreshRequest { refresh_token: body_token.into(), refresh_token_in_body: false });
        for (key, value) in headers {
            request.metadata_mut().append(*key, value.parse().unwrap());
        }
        request
    }

    const TOKEN: &str = "__Secure-refresh_token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[tokio::test]
    async fn a_cookie_from_a_foreign_origin_is_refused_before_the_account_service() {
        let api = unreachable_api();
        let status = api
            .refresh(refresh_with(&[("cookie", TOKEN), ("origin", "https://evil.example")], ""))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied);
        assert_eq!(status.get_error_details().error_info().unwrap().reason, ORIGIN_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn logout_needs_a_token_and_checks_the_origin_too() {
        let api = unreachable_api();
        let status = api.logout(Request::new(LogoutRequest::default())).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        let mut request = Request::new(LogoutRequest::default());
        request.metadata_mut().insert("cookie", TOKEN.parse().unwrap());
        request.metadata_mut().insert("origin", "null".parse().unwrap());
        assert_eq!(api.logout(request).await.unwrap_err().code(), Code::PermissionDenied);
    }

    #[tokio::test]
    async fn allowed_origins_and_body_tokens_reach_the_account_service() {
        let api = unreachable_api();
        for request in [
            refresh_with(&[("cookie", TOKEN), ("origin", "https://campus.example")], ""),
            refresh_with(&[("cookie", TOKEN)], ""),
            // A body token is not a browser credential, so a foreign Origin does not matter here
            // (the front door refuses foreign origins on every auth call before this).
            refresh_with(&[("origin", "https://evil.example")], "AAAAAAAAAAAAAAAAAAAAAA"),
        ] {
            let status = api.refresh(request).await.unwrap_err();
            assert_eq!(status.code(), Code::Unavailable, "{status:?}");
            assert!(!status.message().contains("127.0.0.1"), "transport details leak: {status:?}");
        }
    }

    #[tokio::test]
    async fn an_unprefixed_cookie_is_no_token_in_secure_mode() {
        let api = unreachable_api();
        let request = refresh_with(&[("cookie", "refresh_token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")], "");
        assert_eq!(api.refresh(request).await.unwrap_err().code(), Code::Unauthenticated);
    }

    #[test]
    fn origins_at_the_front_door() {
        let allowed = vec!["https://campus.example/".to_string()];
        let value = |s: &'static str| http::HeaderValue::from_static(s);
        assert!(origin_allowed(None, &allowed));
        assert!(origin_allowed(Some(&value("https://Campus.example")), &allowed));
        assert!(!origin_allowed(Some(&value("https://evil.example")), &allowed));
        assert!(!origin_allowed(Some(&value("null")), &allowed));
        let opaque = http::HeaderValue::from_bytes(b"https://caf\xc3\xa9.example").unwrap();
        assert!(!origin_allowed(Some(&opaque), &allowed));
    }

    #[tokio::test]
    async fn missing_or_malformed_tokens_are_unauthenticated() {
        let api = unreachable_api();
        for request in [
            refresh_with(&[], ""),
            refresh_with(&[("cookie", "refresh_token=")], ""),
            refresh_with(&[("cookie", "session=abc")], ""),
            refresh_with(&[], "not a token; at all"),
        ] {
            assert_eq!(api.refresh(request).await.unwrap_err().code(), Code::Unauthenticated);
        }
    }

    #[test]
    fn upstream_errors_pass_unchanged_but_scrubbed() {
        let violation: Status = Error::invalid("email", "must be in the school's domain").into();
        let passed = upstream(violation);
        assert_eq!(passed.code(), Code::InvalidArgument);
        assert_eq!(passed.get_error_details().bad_request().unwrap().field_violations[0].field, "email");
        let misconfigured: Status =
            Error::permission_denied(campus_shared::error::SERVICE_ONLY, "internal RPC").into();
        assert_eq!(upstream(misconfigured).code(), Code::Internal);
        assert_eq!(upstream(Status::internal("SELECT * FROM session")).message(), "internal error");
    }

    #[tokio::test]
    async fn sessions_carry_a_verifiable_token_and_the_cookie() {
        let identity = TestIdentity::new();
        let api = unreachable_api_for(&identity);
        let user = account::User {
            id: 7,
            school_id: 3,
            nickname: "neo".into(),
            role: account::Role::Admin as i32,
            ..Default::default()
        };
        let expires = prost_types::Timestamp { seconds: unix_now() + 100, nanos: 0 };
        let response = api.session(Some(user), "tok".into(), Some(expires), false).unwrap();
        let cookie = response.metadata().get("set-cookie").unwrap().to_str().unwrap().to_owned();
        assert!(cookie.starts_with(
            "__Secure-refresh_token=tok; HttpOnly; Secure; SameSite=Strict; Path=/v1/auth; Max-Age="
        ));
        let max_age: i64 = cookie.rsplit('=').next().unwrap().parse().unwrap();
        assert!((98..=100).contains(&max_age), "{cookie}");
        let session = response.into_inner();
        assert_eq!((session.expires_in, session.refresh_token.as_str()), (900, ""));
        let verifier = campus_shared::identity::TokenVerifier::from_config(&identity.config()).unwrap();
        let caller = verifier.verify(&session.access_token).expect("a valid access token");
        assert_eq!(
            (caller.user_id, caller.school_id, caller.role, caller.nickname.as_str()),
            (7, 3, Role::Admin, "neo")
        );
    }
}
