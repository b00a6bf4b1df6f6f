//! The refresh cookie and the rules around it: where a refresh token comes from (body or
//! cookie), how the cookie is written and cleared, and the Origin allow-list that guards
//! cookie-authenticated requests against cross-site request forgery.

use std::fmt::Write as _;

/// The cookie name when the cookie is `Secure`: browsers only accept a `__Secure-` cookie
/// that is set over HTTPS with `Secure`, so a network attacker cannot plant one over HTTP.
pub(crate) const SECURE_NAME: &str = "__Secure-refresh_token";
/// The cookie name for plain-HTTP local development, where `Secure` cookies would be dropped.
pub(crate) const PLAIN_NAME: &str = "refresh_token";
/// The cookie is only sent to the auth routes, never to the resource API.
pub(crate) const PATH: &str = "/v1/auth";

/// Refresh tokens are 256-bit base64url strings (43 characters); anything much longer or
/// with other characters is refused without asking the account service.
const MAX_TOKEN_LEN: usize = 128;

/// Where a refresh token came from: the body answers in the body, the cookie needs the
/// Origin check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Body,
    Cookie,
}

/// How the refresh cookie is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CookieStyle {
    pub(crate) secure: bool,
}

impl CookieStyle {
    pub(crate) fn name(self) -> &'static str {
        if self.secure { SECURE_NAME } else { PLAIN_NAME }
    }

    /// `Set-Cookie` value carrying `token` for `max_age` seconds.
    pub(crate) fn set(self, token: &str, max_age: i64) -> String {
        let mut value = format!("{}={token}; HttpOnly", self.name());
        if self.secure {
            value.push_str("; Secure");
        }
        // Writing to a String cannot fail.
        let _ = write!(value, "; SameSite=Strict; Path={PATH}; Max-Age={}", max_age.max(0));
        value
    }

    /// `Set-Cookie` value that makes the browser forget the cookie.
    pub(crate) fn clear(self) -> String {
        self.set("", 0)
    }

    /// The refresh token of a request: the body's when it has one, else the value of the
    /// cookie this style writes. `None` when there is none.
    ///
    /// Only that one name counts: in Secure mode an unprefixed `refresh_token` could have
    /// been planted over plain HTTP or by a sibling subdomain (login CSRF, session fixation);
    /// a `__Secure-` cookie can only have been set over HTTPS with `Secure`.
    pub(crate) fn token_from<'a>(
        self,
        body: &'a str,
        cookie_headers: impl IntoIterator<Item = &'a str>,
    ) -> Option<(&'a str, Source)> {
        let body = body.trim();
        if !body.is_empty() {
            return Some((body, Source::Body));
        }
        let wanted = self.name();
        cookie_headers
            .into_iter()
            .flat_map(|header| header.split(';'))
            .filter_map(|pair| pair.split_once('='))
            .filter(|(name, _)| name.trim() == wanted)
            .map(|(_, value)| value.trim().trim_matches('"'))
            .find(|value| !value.is_empty())
            .map(|value| (value, Source::Cookie))
    }
}

/// True when `token` could be a refresh token at all (length and alphabet).
pub(crate) fn plausible_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Normalises an origin for comparison: ASCII case and a trailing slash do not matter.
pub(crate) fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// The Origin rule: a request without an `Origin` header (not a browser, or a same-origin
/// navigation by an older browser) passes; one with an Origin must name an allowed origin.
/// `Origin: null` (sandboxed frames, redirects) is never allowed.
pub(crate) fn origin_allowed(origin: Option<&str>, allowed: &[String]) -> bool {
    match origin {
        None => true,
        Some(origin) => {
            let origin = normalize_origin(origin);
            origin != "null" && allowed.contains(&origin)
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const SECURE: CookieStyle = CookieStyle { secure: true };
    const PLAIN: CookieStyle = CookieStyle { secure: false };

    #[test]
    fn the_secure_cookie_has_every_flag() {
        assert_eq!(
            SECURE.set("abc", 1_209_600),
            "__Secure-refresh_token=abc; HttpOnly; Secure; SameSite=Strict; Path=/v1/auth; Max-Age=1209600"
        );
    }

    #[test]
    fn the_plain_cookie_drops_secure_and_the_prefix() {
        assert_eq!(
            PLAIN.set("abc", 60),
            "refresh_token=abc; HttpOnly; SameSite=Strict; Path=/v1/auth; Max-Age=60"
        );
    }

    #[test]
    fn clearing_empties_the_value_and_expires_it_now() {
        assert_eq!(
            SECURE.clear(),
            "__Secure-refresh_token=; HttpOnly; Secure; SameSite=Strict; Path=/v1/auth; Max-Age=0"
        );
        assert!(SECURE.set("x", -5).ends_with("Max-Age=0"));
    }

    #[test]
    fn the_body_wins_over_the_cookie() {
        assert_eq!(PLAIN.token_from("body", ["refresh_token=cookie"]), Some(("body", Source::Body)));
    }

    #[test]
    fn only_the_written_cookie_name_is_accepted() {
        assert_eq!(SECURE.token_from("", ["__Secure-refresh_token=sec; b=2"]), Some(("sec", Source::Cookie)));
        assert_eq!(
            SECURE.token_from("", ["refresh_token=plain", "__Secure-refresh_token=sec"]),
            Some(("sec", Source::Cookie))
        );
        assert_eq!(SECURE.token_from("", ["a=1; refresh_token=plain"]), None, "unprefixed in Secure mode");
        assert_eq!(PLAIN.token_from("", ["a=1; refresh_token=plain"]), Some(("plain", Source::Cookie)));
        assert_eq!(PLAIN.token_from("", ["__Secure-refresh_token=sec"]), None);
    }

    #[test]
    fn no_token_or_empty_cookies_are_none() {
        assert_eq!(PLAIN.token_from("  ", ["refresh_token=; other=x", "junk"]), None);
        assert_eq!(PLAIN.token_from("", std::iter::empty()), None);
        assert_eq!(PLAIN.token_from("", ["xrefresh_token=a"]), None);
        assert_eq!(SECURE.token_from("", ["x__Secure-refresh_token=a"]), None);
    }

    #[test]
    fn only_listed_origins_pass() {
        let allowed = vec!["https://campus.example".to_string()];
        assert!(origin_allowed(None, &allowed));
        assert!(origin_allowed(Some("https://campus.example"), &allowed));
        assert!(origin_allowed(Some("HTTPS://Campus.Example/"), &allowed));
        assert!(!origin_allowed(Some("https://evil.example"), &allowed));
        assert!(!origin_allowed(Some("https://campus.example.evil.example"), &allowed));
        assert!(!origin_allowed(Some("http://campus.example"), &allowed));
        assert!(!origin_allowed(Some("null"), &allowed));
        assert!(!origin_allowed(Some("null"), &["null".to_string()]));
    }

    #[test]
    fn plausible_tokens_are_base64url() {
        assert!(plausible_token(&campus_shared::identity::random_token()));
        assert!(!plausible_token(""));
        assert!(!plausible_token("a b"));
        assert!(!plausible_token("a;b"));
        assert!(!plausible_token(&"a".repeat(129)));
    }

    proptest! {
        #[test]
        fn a_written_cookie_reads_back(token in "[A-Za-z0-9_-]{1,64}", secure: bool, max_age in 0i64..2_000_000) {
            let style = CookieStyle { secure };
            let header = style.set(&token, max_age);
            // A browser sends back only the name=value pair, before the first attribute.
            let sent = header.split(';').next().unwrap_or_default();
            prop_assert_eq!(style.token_from("", [sent]), Some((token.as_str(), Source::Cookie)));
        }

        #[test]
        fn other_cookies_never_yield_a_token(name in "[a-z_]{1,20}", value in "[A-Za-z0-9]{1,20}") {
            prop_assume!(name != PLAIN_NAME);
            let header = format!("{name}={value}");
            prop_assert_eq!(PLAIN.token_from("", [header.as_str()]), None);
            prop_assert_eq!(SECURE.token_from("", [header.as_str()]), None);
        }
    }
}
