//! Password hashing with argon2id, off the async runtime and bounded in parallelism.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use campus_shared::Error;
use tokio::sync::Semaphore;

/// argon2id memory (KiB), iterations and lanes: OWASP's floor (19 MiB, t=2, p=1).
const HASH_PARAMS: (u32, u32, u32) = (19 * 1024, 2, 1);

fn argon2() -> Result<Argon2<'static>, Error> {
    let (m, t, p) = HASH_PARAMS;
    let params = Params::new(m, t, p, None).map_err(|e| Error::internal(format!("argon2 params: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_now(password: &[u8]) -> Result<String, Error> {
    let hash = argon2()?.hash_password(password).map_err(|e| Error::internal(format!("argon2 hash: {e}")))?;
    Ok(hash.to_string())
}

/// Hashes and verifies passwords. Each argon2 run takes 19 MiB and tens of milliseconds of
/// CPU, so runs go to the blocking pool and at most one per core runs at a time: a burst of
/// logins queues instead of exhausting memory.
#[derive(Clone)]
pub(crate) struct Passwords {
    /// A hash of a password nobody knows, verified for unknown login ids so that their
    /// answers take as long as a wrong password's.
    dummy: Arc<str>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Passwords(permits={})", self.permits.available_permits())
    }
}

impl Passwords {
    /// Prepares the hasher; computes the dummy hash once.
    pub(crate) async fn new() -> Result<Self, Error> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let permits = Arc::new(Semaphore::new(cores));
        let secret = campus_shared::identity::random_token();
        let this = Self { dummy: Arc::from(""), permits };
        let dummy = this.blocking(move || hash_now(secret.as_bytes())).await?;
        Ok(Self { dummy: dummy.into(), ..this })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let permit =
            self.permits.clone().acquire_owned().await.map_err(|e| Error::internal(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(|e| Error::internal(format!("password task: {e}")))?
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of a new password.
    pub(crate) async fn hash(&self, password: String) -> Result<String, Error> {
        self.blocking(move || hash_now(password.as_bytes())).await
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown or deleted login id)
    /// the dummy hash is verified instead, so the answer takes the same time and is `false`.
    pub(crate) async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, Error> {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy.to_string());
        let matches = self
            .blocking(move || {
                // A stored hash names its own parameters, so older hashes keep verifying.
                Ok(argon2()?.verify_password(password.as_bytes(), hash.as_str()).is_ok())
            })
            .await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_unknown_users_never_match() {
        let passwords = Passwords::new().await.unwrap();
        let hash = passwords.hash("hunter22".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(passwords.verify("hunter22".into(), Some(hash.clone())).await.unwrap());
        assert!(!passwords.verify("hunter23".into(), Some(hash)).await.unwrap());
        assert!(!passwords.verify(String::new(), None).await.unwrap());
    }
}
