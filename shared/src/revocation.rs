//! Refusing the access tokens of deleted accounts (DESIGN §7): a token lives 15 minutes and
//! is checked without asking anyone, so every replica of every service keeps the set of
//! users deleted within a token's lifetime, read from its own database every two seconds.
//! Each replica learns independently, whether or not it holds the event-feed lease.

use std::collections::HashSet;
use std::time::Duration;

use campus_proto::account::v1::AccountDeleted;

use crate::db::{Db, now_micros};
use crate::events::consumer::BoxError;
use crate::identity::{ACCESS_TOKEN_TTL, CLOCK_SKEW_SECS, TokenVerifier};

/// How often the set is read again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// The users deleted since `since`, by `query` (one `$1` parameter: microseconds since the
/// epoch; one BIGINT column: user ids).
pub async fn deleted_since(db: &Db, query: &'static str, since: i64) -> Result<HashSet<i64>, sqlx::Error> {
    let ids: Vec<i64> = sqlx::query_scalar(query).bind(since).fetch_all(&db.pool).await?;
    Ok(ids.into_iter().collect())
}

/// Keeps `verifier` refusing every user `query` names as deleted within a token's lifetime
/// (plus a minute and the clock skew), for as long as the service runs.
pub async fn refuse_deleted_forever(db: Db, verifier: TokenVerifier, query: &'static str) {
    let window = (ACCESS_TOKEN_TTL.as_secs() as i64 + 60 + CLOCK_SKEW_SECS) * 1_000_000;
    let mut tick = tokio::time::interval(REFRESH_EVERY);
    loop {
        tick.tick().await;
        match deleted_since(&db, query, now_micros() - window).await {
            Ok(users) => verifier.refuse_users(users),
            Err(error) => tracing::warn!(%error, "reading deleted accounts failed; retrying"),
        }
    }
}

/// For consumers of the account feed: the SQL naming accounts deleted since `$1`, from the
/// `deleted_account` table each keeps.
pub const DELETED_ACCOUNTS_SINCE: &str = "SELECT user_id FROM deleted_account WHERE deleted_at >= $1";

/// Records a deleted account in a consumer's `deleted_account` (again is a no-op).
pub async fn record_deleted_account(
    tx: &mut sqlx::AnyConnection,
    user_id: i64,
    deleted_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO deleted_account (user_id, deleted_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(user_id)
        .bind(deleted_at)
        .execute(tx)
        .await?;
    Ok(())
}

/// For the handlers of the account feed: when `event` is an `AccountDeleted`, records it in
/// `deleted_account` (so the user's tokens are refused) and returns the user, whose data the
/// service then forgets in the same transaction; `None` for events of other types.
pub async fn record_if_account_deleted(
    tx: &mut sqlx::AnyConnection,
    event: &crate::events::Event,
) -> Result<Option<i64>, BoxError> {
    let Some(deleted) = crate::events::payload::<AccountDeleted>(event) else {
        return Ok(None);
    };
    let deleted = deleted?;
    record_deleted_account(tx, deleted.user_id, crate::db::micros(deleted.deleted_at.as_ref())).await?;
    Ok(Some(deleted.user_id))
}

/// A consumer of the account feed running in the background: the event loop (on whichever
/// replica holds the lease) and, on every replica, the refusal of deleted accounts' tokens.
#[derive(Debug)]
pub struct AccountFeedTasks {
    consumer: crate::events::Consumer,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl AccountFeedTasks {
    /// Starts both; they run until [`AccountFeedTasks::stop`].
    pub fn start(db: Db, consumer: crate::events::Consumer, verifier: TokenVerifier) -> Self {
        let tasks = vec![
            tokio::spawn(consumer.clone().run_forever()),
            tokio::spawn(refuse_deleted_forever(db, verifier, DELETED_ACCOUNTS_SINCE)),
        ];
        Self { consumer, tasks }
    }

    /// Stops both and gives the lease up, so another replica takes over at once.
    pub async fn stop(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
        self.consumer.release().await;
    }
}
