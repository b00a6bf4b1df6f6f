//! Likes of posts (which make them HOT and BEST) and of comments, and scraps.

use campus_proto::board::v1 as pb;
use campus_shared::db::now_micros;
use campus_shared::error::{Error, Result};
use campus_shared::identity::Caller;

use super::{BoardApi, comment_proto};
use crate::domain::{self, reason};
use crate::events::publish;
use crate::store;

impl BoardApi {
    pub(super) async fn like_post(&self, caller: &Caller, req: pb::LikePostRequest) -> Result<pb::Post> {
        let meta = self.post_meta(caller, req.id).await?;
        if meta.author_id == caller.user_id {
            return Err(Error::failed_precondition(
                reason::CANNOT_LIKE_OWN_POST,
                "you cannot like your own post",
            ));
        }
        let now = now_micros();
        let mut tx = self.db().begin_write().await?;
        if !store::insert_post_like(&mut tx, meta.id, caller.user_id, now).await? {
            return Err(domain::already_liked());
        }
        let liked = store::count_post_like(&mut tx, meta.id).await?;
        let promotions = self.inner.thresholds.promotions(domain::Liked {
            likes: liked.like_count,
            hot_allowed: meta.hot_disabled == 0,
            already_hot: liked.hot_at.is_some(),
            already_best: liked.best_at.is_some(),
        });
        if promotions.any() {
            store::stamp_promotions(&mut tx, meta.id, promotions, now).await?;
            publish::post_promoted(&mut tx, meta.id, promotions, now).await?;
        }
        self.commit_events(tx).await?;
        self.inner.first_pages.forget_post(meta.id);
        self.read_post(caller, meta.id).await
    }

    pub(super) async fn scrap_post(&self, caller: &Caller, req: pb::ScrapPostRequest) -> Result<pb::Post> {
        let meta = self.post_meta(caller, req.id).await?;
        if meta.author_id == caller.user_id {
            return Err(Error::failed_precondition(
                reason::CANNOT_SCRAP_OWN_POST,
                "you cannot scrap your own post",
            ));
        }
        let mut tx = self.db().begin_write().await?;
        if !store::insert_scrap(&mut tx, meta.id, caller.user_id, now_micros()).await? {
            return Err(domain::already_scrapped());
        }
        tx.commit().await?;
        self.inner.first_pages.forget_post(meta.id);
        self.read_post(caller, meta.id).await
    }

    /// Idempotent, like the HTTP DELETE it backs: removing a scrap that is not there succeeds.
    pub(super) async fn unscrap_post(
        &self,
        caller: &Caller,
        req: pb::UnscrapPostRequest,
    ) -> Result<pb::Post> {
        let meta = self.post_meta(caller, req.id).await?;
        let mut tx = self.db().begin_write().await?;
        store::delete_scrap(&mut tx, meta.id, caller.user_id).await?;
        tx.commit().await?;
        self.inner.first_pages.forget_post(meta.id);
        self.read_post(caller, meta.id).await
    }

    pub(super) async fn like_comment(
        &self,
        caller: &Caller,
        req: pb::LikeCommentRequest,
    ) -> Result<pb::Comment> {
        let id = domain::id("id", req.id)?;
        let comment = self.comment(caller, id).await?;
        if comment.author_id == caller.user_id {
            return Err(Error::failed_precondition(
                reason::CANNOT_LIKE_OWN_COMMENT,
                "you cannot like your own comment",
            ));
        }
        let mut tx = self.db().begin_write().await?;
        if !store::like_comment(&mut tx, id, caller.user_id, now_micros()).await? {
            return Err(domain::already_liked());
        }
        tx.commit().await?;
        let post = self.post_meta(caller, comment.post_id).await?;
        let comment = self.comment(caller, id).await?;
        Ok(comment_proto(comment, post.author_id, post.anonymous != 0, caller.user_id))
    }
}
