//! Board as a consumer of the account event feed (DESIGN §8): a deleted account's named
//! writing shows "(알 수 없음)", its pins and scraps go; its posts and comments stay.

use campus_shared::events::consumer::BoxError;
use campus_shared::events::{Event, Handler};
use campus_shared::revocation;
use sqlx::AnyConnection;

/// Applies account events to board's database.
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
