//! Sign-in attempts against the throttle ([`crate::domain::Throttle`]): each is reserved in
//! the database before its password is checked and settled after, so parallel guesses are
//! counted exactly like serial ones. Failed, throttled and refused attempts are logged as
//! security events (never with the password).

use std::time::Duration;

use campus_shared::Error;
use campus_shared::db::{Db, duration_micros, now_micros};

use crate::domain::{Throttle, client_key};
use crate::store;

type Result<T> = campus_shared::Result<T>;

/// How often stale throttle rows are swept away.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);
/// An address row that has been idle this long (and is neither blocked nor familiar) goes.
const IDLE_FOR: Duration = Duration::from_secs(24 * 3600);

fn too_many_attempts() -> Error {
    Error::resource_exhausted("TOO_MANY_ATTEMPTS", "too many failed attempts; wait a moment and try again")
}

/// The throttle over the account database.
#[derive(Debug, Clone)]
pub(crate) struct SignIns {
    db: Db,
    throttle: Throttle,
}

/// A reserved attempt, to settle once the password has been checked.
#[derive(Debug)]
pub(crate) struct Attempt {
    login_id: String,
    client: String,
    /// The address signed in to this account lately, so the attempt took nothing from the
    /// account's budget for unfamiliar addresses.
    familiar: bool,
}

impl SignIns {
    pub(crate) fn new(db: Db, throttle: Throttle) -> Self {
        Self { db, throttle }
    }

    /// Reserves an attempt for a normalised login id from `address` (as the gateway gave
    /// it), or refuses it with RESOURCE_EXHAUSTED (TOO_MANY_ATTEMPTS) while that address is
    /// backing off or, from an unfamiliar address, while the account's budget is spent.
    pub(crate) async fn reserve(&self, login_id: &str, address: &str) -> Result<Attempt> {
        let client = client_key(address);
        let now = now_micros();
        let mut tx = self.db.begin_write().await?;
        let Some((failures, succeeded_at)) = store::reserve_attempt(&mut tx, login_id, &client, now).await?
        else {
            tracing::warn!(
                security_event = "login_throttled",
                scope = "address",
                login_id,
                client,
                "sign-in refused"
            );
            return Err(too_many_attempts());
        };
        let window = self.throttle.window_after(failures);
        if !window.is_zero() {
            store::block_client_until(
                &mut tx,
                login_id,
                &client,
                now.saturating_add(duration_micros(window)),
            )
            .await?;
        }
        let familiar = succeeded_at > now.saturating_sub(duration_micros(self.throttle.familiar_for));
        if !familiar {
            let window = duration_micros(self.throttle.budget_window);
            if !store::spend_budget(&mut tx, login_id, now, window, self.throttle.budget).await? {
                // Dropping the transaction takes back this address's reservation too.
                tracing::warn!(
                    security_event = "login_throttled",
                    scope = "account",
                    login_id,
                    client,
                    "sign-in refused"
                );
                return Err(too_many_attempts());
            }
        }
        tx.commit().await?;
        Ok(Attempt { login_id: login_id.to_owned(), client, familiar })
    }

    /// The password was right: the address's failures are forgiven, it becomes familiar, and
    /// the attempt goes back into the account's budget.
    pub(crate) async fn succeeded(&self, attempt: Attempt) -> Result<()> {
        let mut tx = self.db.begin_write().await?;
        store::record_success(&mut tx, &attempt.login_id, &attempt.client, now_micros()).await?;
        if !attempt.familiar {
            store::refund_budget(&mut tx, &attempt.login_id).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The password was wrong; the reservation already counted it.
    pub(crate) fn failed(&self, attempt: &Attempt, event: &'static str) {
        tracing::warn!(
            security_event = event,
            login_id = attempt.login_id,
            client = attempt.client,
            familiar = attempt.familiar,
            "wrong password"
        );
    }

    /// Sweeps stale rows every hour, for as long as the service runs.
    pub(crate) async fn forget_stale_forever(self) {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        loop {
            every.tick().await;
            let now = now_micros();
            let swept = async {
                let mut conn = self.db.pool.acquire().await?;
                store::forget_stale_attempts(
                    &mut conn,
                    now,
                    now - duration_micros(IDLE_FOR),
                    now - duration_micros(self.throttle.familiar_for),
                    now - duration_micros(self.throttle.budget_window),
                )
                .await
            };
            match swept.await {
                Ok(n) if n > 0 => tracing::debug!(rows = n, "forgot stale sign-in throttle rows"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not sweep the sign-in throttle"),
            }
        }
    }
}
