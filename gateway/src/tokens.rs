//! Access-token checks with a small cache of verified tokens.
//!
//! An Ed25519 signature check costs more than the rest of forwarding a call, and a client
//! sends the same token for up to 15 minutes. A verified token is remembered (by its full
//! text, so a hash collision can only cost a lookup, never let another token in) until its
//! own `exp`, never longer.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use campus_shared::Caller;
use campus_shared::identity::TokenVerifier;

/// Past this many distinct live tokens the cache starts over rather than grow.
const MAX_ENTRIES: usize = 50_000;

/// A [`TokenVerifier`] with a cache of verified tokens.
#[derive(Debug)]
pub(crate) struct Tokens {
    verifier: TokenVerifier,
    cache: Mutex<HashMap<String, (Caller, i64)>>,
}

fn unix_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// The `exp` claim of a token whose signature was already checked.
fn expiry(token: &str) -> Option<i64> {
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: i64,
    }
    let payload = URL_SAFE_NO_PAD.decode(token.split('.').nth(1)?).ok()?;
    serde_json::from_slice::<Exp>(&payload).ok().map(|e| e.exp)
}

impl Tokens {
    pub(crate) fn new(verifier: TokenVerifier) -> Self {
        Self { verifier, cache: Mutex::new(HashMap::new()) }
    }

    /// The caller of a valid, unexpired token.
    pub(crate) fn verify(&self, token: &str) -> Option<Caller> {
        self.verify_at(token, unix_now())
    }

    fn verify_at(&self, token: &str, now: i64) -> Option<Caller> {
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((caller, exp)) = cache.get(token)
                && *exp > now
            {
                return Some(caller.clone());
            }
        }
        let caller = self.verifier.verify(token)?;
        let exp = expiry(token)?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_ENTRIES {
            cache.retain(|_, (_, exp)| *exp > now);
            if cache.len() >= MAX_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(token.to_string(), (caller.clone(), exp));
        Some(caller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use campus_shared::Role;
    use campus_shared::identity::{SigningKey, TokenIssuer};
    use std::time::Duration;

    fn setup() -> (Tokens, TokenIssuer) {
        let key = SigningKey::generate();
        let issuer = TokenIssuer::new(&key, "iss", "aud").unwrap();
        let verifier = TokenVerifier::new(&key.public_key_pem(), "iss", "aud").unwrap();
        (Tokens::new(verifier), issuer)
    }

    fn alice() -> Caller {
        Caller { user_id: 1, school_id: 2, role: Role::User, nickname: "a".into() }
    }

    #[test]
    fn cached_tokens_still_expire() {
        let (tokens, issuer) = setup();
        let now = unix_now();
        let token = issuer.issue_with(&alice(), now, Duration::from_secs(60)).unwrap();
        assert_eq!(tokens.verify_at(&token, now), Some(alice()));
        assert_eq!(tokens.verify_at(&token, now + 30), Some(alice()), "from the cache");
        // Past exp the cache does not answer, and the verifier refuses it (beyond leeway).
        assert_eq!(
            tokens.verify(&issuer.issue_with(&alice(), now - 120, Duration::from_secs(60)).unwrap()),
            None
        );
        assert!(tokens.cache.lock().unwrap().get(&token).is_some_and(|(_, exp)| *exp == now + 60));
        assert_eq!(tokens.verify_at(&token, now + 61).is_some(), tokens.verifier.verify(&token).is_some());
    }

    #[test]
    fn bad_tokens_are_not_cached() {
        let (tokens, issuer) = setup();
        let token = issuer.issue(&alice()).unwrap();
        let tampered = format!("{}x", token);
        assert_eq!(tokens.verify(&tampered), None);
        assert_eq!(tokens.verify("garbage"), None);
        assert!(tokens.cache.lock().unwrap().is_empty());
    }
}
