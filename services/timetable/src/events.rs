//! Timetable as a consumer of the account event feed (DESIGN §8).

use campus_shared::events::consumer::BoxError;
use campus_shared::events::{Event, Handler};
use campus_shared::revocation;
use sqlx::AnyConnection;

/// Applies account events to timetable's database.
#[derive(Debug)]
pub(crate) struct AccountEvents;

#[tonic::async_trait]
impl Handler for AccountEvents {
    async fn apply(&self, tx: &mut AnyConnection, event: &Event) -> Result<(), BoxError> {
        if let Some(user_id) = revocation::record_if_account_deleted(tx, event).await? {
            crate::store::accounts::forget_account(tx, user_id).await?;
        }
        Ok(())
    }
}
