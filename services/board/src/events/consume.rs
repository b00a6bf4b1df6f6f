//! Board as a consumer of the account event feed (DESIGN §8): a deleted account's named
//! writing shows "(알 수 없음)", its pins and scraps go; its posts and comments stay.

use campus_proto::account::v1::AccountDeleted;
use campus_shared::events::consumer::BoxError;
use campus_shared::events::{self, Event, Handler};
use campus_shared::revocation;
use sqlx::AnyConnection;

/// Applies account events to board's database.
#[derive(Debug)]
pub(crate) struct AccountEvents;

#[tonic::async_trait]
impl Handler for AccountEvents {
    async fn apply(&self, tx: &mut AnyConnection, event: &Event) -> Result<(), BoxError> {
        let Some(deleted) = events::payload::<AccountDeleted>(event) else {
            return Ok(());
        };
        let deleted = deleted?;
        let at = campus_shared::db::micros(deleted.deleted_at.as_ref());
        revocation::record_deleted_account(tx, deleted.user_id, at).await?;
        crate::store::accounts::forget_account(tx, deleted.user_id).await?;
        Ok(())
    }
}
