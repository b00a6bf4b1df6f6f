//! Reports of posts and comments; the report that reaches the limit hides the item and
//! announces it.

use campus_proto::board::v1 as pb;
use campus_shared::db::now_micros;
use campus_shared::error::{Error, Result};
use campus_shared::identity::Caller;

use super::BoardApi;
use crate::domain::{self, reason};
use crate::events::publish;
use crate::store::{self, Reported};

impl BoardApi {
    pub(super) async fn report(
        &self,
        caller: &Caller,
        kind: Reported,
        id: i64,
        reason_text: &str,
    ) -> Result<()> {
        let reason_text = domain::report_reason(reason_text)?;
        // The author, and what holds the item (a post's board, a comment's post).
        let (author, holder) = match kind {
            Reported::Post => {
                let meta = self.post_meta(caller, id).await?;
                (meta.author_id, meta.board_id)
            }
            Reported::Comment => {
                let comment = self.comment(caller, domain::id("id", id)?).await?;
                (comment.author_id, comment.post_id)
            }
        };
        if author == caller.user_id {
            let why = match kind {
                Reported::Post => reason::CANNOT_REPORT_OWN_POST,
                Reported::Comment => reason::CANNOT_REPORT_OWN_COMMENT,
            };
            return Err(Error::failed_precondition(why, "you cannot report your own writing"));
        }
        let now = now_micros();
        let mut tx = self.db().begin_write().await?;
        let count = store::insert_report(&mut tx, kind, id, caller.user_id, &reason_text, now)
            .await?
            .ok_or_else(domain::already_reported)?;
        if !domain::hidden_by(count.report_count) || count.deleted != 0 {
            tx.commit().await?;
            return Ok(());
        }
        let hidden = pb::Removal::Hidden;
        match kind {
            Reported::Post => publish::post_removed(&mut tx, id, holder, hidden, now).await?,
            Reported::Comment => publish::comment_removed(&mut tx, id, holder, hidden, now).await?,
        }
        self.commit_events(tx).await?;
        if kind == Reported::Post {
            // The post leaves its board's list.
            self.inner.first_pages.forget_post(id);
        }
        Ok(())
    }
}
