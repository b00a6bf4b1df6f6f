//! What board keeps of a deleted account, changed when the account feed says so.

use campus_shared::error::Result;
use sqlx::AnyConnection;

/// How a deleted account's named posts and comments are shown (DESIGN §7).
pub(crate) const UNKNOWN_AUTHOR: &str = "(알 수 없음)";

/// A deleted account: its named posts and comments show [`UNKNOWN_AUTHOR`] (anonymous ones
/// stay 익명), its pins go, and its scraps go with their counts. Applying it twice changes
/// nothing more.
pub(crate) async fn forget_account(tx: &mut AnyConnection, user_id: i64) -> Result<()> {
    for sql in [
        "UPDATE post SET author_nickname = $2 WHERE author_id = $1 AND anonymous = 0",
        "UPDATE comment SET author_nickname = $2 WHERE author_id = $1 AND anonymous = 0",
    ] {
        sqlx::query(sql).bind(user_id).bind(UNKNOWN_AUTHOR).execute(&mut *tx).await?;
    }
    sqlx::query("DELETE FROM pinned_board WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    // Counts change with the rows they count, in the same transaction.
    sqlx::query(
        "UPDATE post SET scrap_count = scrap_count - 1 \
         WHERE id IN (SELECT post_id FROM post_scrap WHERE user_id = $1)",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM post_scrap WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    Ok(())
}
