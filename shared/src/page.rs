//! Keyset pagination: page sizes and opaque, tamper-proof page tokens.
//!
//! A token is `base64url(cursor JSON || HMAC-SHA256(scope || cursor)[..16])`. The scope names
//! the list and its filters, so a token from one list (or one query) is refused by another.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::Sha256;

use crate::error::{Error, Result};

pub const DEFAULT_PAGE_SIZE: i64 = 20;
pub const MAX_PAGE_SIZE: i64 = 100;
const MAC_LEN: usize = 16;

/// The page size to use: 20 when unset, at most 100 (larger requests are coerced, as AIP-158
/// says), and INVALID_ARGUMENT when negative.
pub fn page_size(requested: i32) -> Result<i64> {
    match requested {
        n if n < 0 => Err(Error::invalid("pageSize", "must not be negative")),
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok((n as i64).min(MAX_PAGE_SIZE)),
    }
}

/// Signs and checks page tokens with a key shared by every replica of a service.
#[derive(Clone)]
pub struct PageTokens {
    key: [u8; 32],
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens(..)")
    }
}

impl PageTokens {
    /// Derives the signing key from a secret (the service credential in practice).
    pub fn new(secret: &[u8]) -> Self {
        use sha2::Digest;
        let mut hasher = Sha256::new();
        hasher.update(b"campus page token v1");
        hasher.update(secret);
        Self { key: hasher.finalize().into() }
    }

    fn mac(&self, scope: &str, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length");
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }

    pub fn encode<T: Serialize>(&self, scope: &str, cursor: &T) -> String {
        let mut bytes = serde_json::to_vec(cursor).expect("cursors serialize");
        let tag = self.mac(scope, &bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// `None` for an empty token (the first page); INVALID_ARGUMENT for anything not made by
    /// `encode` with the same scope.
    pub fn decode<T: DeserializeOwned>(&self, scope: &str, token: &str) -> Result<Option<T>> {
        if token.is_empty() {
            return Ok(None);
        }
        let bad = || Error::invalid("pageToken", "is not a page token of this list");
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        if bytes.len() <= MAC_LEN {
            return Err(bad());
        }
        let (payload, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        self.mac(scope, payload).verify_truncated_left(tag).map_err(|_| bad())?;
        serde_json::from_slice(payload).map(Some).map_err(|_| bad())
    }

    /// The token for the page after `items`, or "" when `items` was the last page. Callers
    /// fetch `size + 1` rows; the extra row only tells that there is more.
    pub fn next<R, T: Serialize>(
        &self,
        scope: &str,
        items: &mut Vec<R>,
        size: i64,
        cursor: impl Fn(&R) -> T,
    ) -> String {
        if items.len() as i64 > size {
            items.truncate(size as usize);
            items.last().map(|last| self.encode(scope, &cursor(last))).unwrap_or_default()
        } else {
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tokens() -> PageTokens {
        PageTokens::new(b"test secret")
    }

    #[test]
    fn page_sizes_default_and_clamp() {
        assert_eq!(page_size(0).unwrap(), 20);
        assert_eq!(page_size(7).unwrap(), 7);
        assert_eq!(page_size(1000).unwrap(), 100);
        assert!(page_size(-1).is_err());
    }

    #[test]
    fn empty_token_is_the_first_page() {
        assert_eq!(tokens().decode::<i64>("posts", "").unwrap(), None);
    }

    #[test]
    fn garbage_is_rejected() {
        for junk in ["x", "!!!!", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", "eyJhIjoxfQ"] {
            let err = tokens().decode::<i64>("posts", junk).unwrap_err();
            assert!(matches!(err, Error::InvalidArgument(_)), "{junk}");
        }
    }

    #[test]
    fn another_scope_or_key_is_rejected() {
        let token = tokens().encode("posts:1", &42i64);
        assert!(tokens().decode::<i64>("posts:2", &token).is_err());
        assert!(PageTokens::new(b"other").decode::<i64>("posts:1", &token).is_err());
    }

    proptest! {
        #[test]
        fn tokens_round_trip(cursor in any::<(i64, i64)>(), scope in "[a-z:0-9]{0,20}") {
            let t = tokens();
            let token = t.encode(&scope, &cursor);
            prop_assert_eq!(t.decode::<(i64, i64)>(&scope, &token).unwrap(), Some(cursor));
        }

        #[test]
        fn any_flipped_bit_is_rejected(cursor in any::<i64>(), byte in 0usize..64, bit in 0u8..8) {
            let t = tokens();
            let token = t.encode("s", &cursor);
            let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
            let i = byte % raw.len();
            raw[i] ^= 1 << bit;
            let tampered = URL_SAFE_NO_PAD.encode(raw);
            prop_assert!(t.decode::<i64>("s", &tampered).is_err());
        }
    }
}
