//! Reports of posts and comments, counted with the row that records them.

use campus_shared::error::Result;
use sqlx::{AnyConnection, FromRow};

use super::inserted;

/// Which kind of content a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reported {
    Post,
    Comment,
}

/// An item's reports right after one was counted, and whether it is already deleted.
#[derive(Debug, Clone, Copy, FromRow)]
pub(crate) struct ReportCount {
    pub(crate) report_count: i64,
    pub(crate) deleted: i64,
}

/// Records a report and counts it; `None` when the user already reported the item.
pub(crate) async fn insert_report(
    tx: &mut AnyConnection,
    kind: Reported,
    id: i64,
    user_id: i64,
    reason: &str,
    now: i64,
) -> Result<Option<ReportCount>> {
    let (insert, count) = match kind {
        Reported::Post => (
            "INSERT INTO post_report (post_id, user_id, reason, created_at) VALUES ($1, $2, $3, $4)",
            "UPDATE post SET report_count = report_count + 1 WHERE id = $1 RETURNING report_count, \
             CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END AS deleted",
        ),
        Reported::Comment => (
            "INSERT INTO comment_report (comment_id, user_id, reason, created_at) VALUES ($1, $2, $3, $4)",
            "UPDATE comment SET report_count = report_count + 1 WHERE id = $1 RETURNING report_count, \
             CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END AS deleted",
        ),
    };
    let done = sqlx::query(insert).bind(id).bind(user_id).bind(reason).bind(now).execute(&mut *tx).await;
    if !inserted(done)? {
        return Ok(None);
    }
    Ok(Some(sqlx::query_as(count).bind(id).fetch_one(tx).await?))
}
