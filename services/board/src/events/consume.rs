//! Board as a consumer of the account event feed (DESIGN §8): a deleted account's named
//! writing shows "(알 수 없음)", its pins and scraps go; its posts and comments stay.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use campus_shared::events::consumer::BoxError;
use campus_shared::events::{Event, Handler};
use campus_shared::revocation;
use sqlx::AnyConnection;

use crate::store::FirstPages;

/// Applies account events to board's database.
#[derive(Debug)]
pub(crate) struct AccountEvents {
    /// Shared first pages show names and scrap counts, which a deleted account changes.
    first_pages: Arc<FirstPages>,
    /// Whether the batch being applied forgot an account.
    forgot: AtomicBool,
}

impl AccountEvents {
    pub(crate) fn new(first_pages: Arc<FirstPages>) -> Self {
        Self { first_pages, forgot: AtomicBool::new(false) }
    }
}

#[tonic::async_trait]
impl Handler for AccountEvents {
    async fn apply(&self, tx: &mut AnyConnection, event: &Event) -> Result<(), BoxError> {
        if let Some(user_id) = revocation::record_if_account_deleted(tx, event).await? {
            crate::store::accounts::forget_account(tx, user_id).await?;
            self.forgot.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    fn batch_ended(&self, committed: bool) {
        if self.forgot.swap(false, Ordering::Relaxed) && committed {
            self.first_pages.forget_all();
        }
    }
}
