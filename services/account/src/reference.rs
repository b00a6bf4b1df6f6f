//! What the whole-system benchmark (`campus-bench`) may take from this crate, and nothing
//! else: a password hash made exactly as sign-up makes it, so users it seeds straight into
//! the database can sign in. Everything else the benchmark measures over the wire.

/// The stored form of `password` (argon2id at the service's parameters).
pub async fn password_hash(password: &str) -> Result<String, campus_shared::Error> {
    crate::domain::Passwords::new().await?.hash(password.to_string()).await
}
