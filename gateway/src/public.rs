//! What the public sees of the gateway, read by every layer that handles a call (the HTTP
//! transcoder, the gRPC dispatcher, idempotency keys): the services and methods it exposes,
//! those callable without a token, and the facts about a caller that travel with the call.
//! It depends on no other module of the gateway, so those layers need not depend on each
//! other for it.

use http::HeaderValue;

/// The gateway's own gRPC service, answered in process.
pub(crate) const AUTH_SERVICE: &str = "campus.auth.v1.AuthService";

/// The upstream services the public may call, with the package of the upstream owning each.
/// Internal services (`AccountInternalService`, …) are absent on purpose: their RPCs trust
/// the service credential, which only the gateway's own calls carry.
pub(crate) const PUBLIC_SERVICES: &[(&str, &str)] = &[
    ("campus.account.v1", "campus.account.v1.AccountService"),
    ("campus.board.v1", "campus.board.v1.BoardService"),
    ("campus.messaging.v1", "campus.messaging.v1.MessagingService"),
    ("campus.messaging.v1", "campus.messaging.v1.NotificationService"),
    ("campus.timetable.v1", "campus.timetable.v1.TimetableService"),
];

/// Services the gateway serves itself; health and reflection need no token.
pub(crate) const LOCAL_PUBLIC_SERVICES: &[&str] = &[
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Methods callable without an access token. Logout is public because its credential is the
/// refresh token (cookie or body): a browser whose access token expired must still be able
/// to end its session, and requiring a fresh access token first would only add a refresh.
pub(crate) const PUBLIC_METHODS: &[&str] = &[
    "/campus.auth.v1.AuthService/SignUp",
    "/campus.auth.v1.AuthService/Login",
    "/campus.auth.v1.AuthService/Refresh",
    "/campus.auth.v1.AuthService/Logout",
    "/campus.auth.v1.AuthService/SendEmailVerification",
    "/campus.auth.v1.AuthService/StartPasswordReset",
    "/campus.auth.v1.AuthService/ConfirmPasswordReset",
    "/campus.account.v1.AccountService/ListSchools",
];

/// Whether `/<service>/<method>` may be called without an access token.
pub(crate) fn is_public(path: &str) -> bool {
    PUBLIC_METHODS.contains(&path)
        || split_path(path).is_some_and(|(service, _)| LOCAL_PUBLIC_SERVICES.contains(&service))
}

/// `/pkg.Service/Method` → (`pkg.Service`, `Method`).
pub(crate) fn split_path(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    (!service.is_empty() && !method.is_empty() && !method.contains('/')).then_some((service, method))
}

/// The caller's `user-agent`, carried past tonic's client (which replaces that header) so
/// the dispatcher can restore it for the services.
#[derive(Debug, Clone)]
pub(crate) struct ClientUserAgent(pub(crate) HeaderValue);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_paths_split() {
        assert_eq!(
            split_path("/campus.board.v1.BoardService/GetPost"),
            Some(("campus.board.v1.BoardService", "GetPost"))
        );
        assert_eq!(split_path("/x"), None);
        assert_eq!(split_path("/a/b/c"), None);
    }

    #[test]
    fn only_the_listed_methods_and_local_services_are_public() {
        assert!(is_public("/campus.auth.v1.AuthService/Login"));
        assert!(is_public("/grpc.health.v1.Health/Check"));
        assert!(!is_public("/campus.board.v1.BoardService/GetPost"));
        assert!(!is_public("/campus.auth.v1.AuthService/Login/x"));
    }
}
