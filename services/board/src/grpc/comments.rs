//! Comments: a post's thread-ordered list, writing (replies one level deep, anonymous
//! numbers) and deleting.

use campus_proto::board::v1 as pb;
use campus_shared::db::now_micros;
use campus_shared::error::{Error, Result};
use campus_shared::id::next_id;
use campus_shared::identity::Caller;
use campus_shared::page::page_size;

use super::{BoardApi, comment_proto};
use crate::domain::{self, reason};
use crate::events::publish;
use crate::store;

impl BoardApi {
    pub(super) async fn list_comments(
        &self,
        caller: &Caller,
        req: pb::ListCommentsRequest,
    ) -> Result<pb::ListCommentsResponse> {
        let size = page_size(req.page_size)?;
        let post = self.post_meta(caller, req.post_id).await?;
        let pool = &self.db().pool;
        let (rows, next_page_token) = self
            .page(
                &format!("comments:{}", post.id),
                size,
                &req.page_token,
                (0, 0),
                |after, limit| store::list_comments(pool, caller.user_id, post.id, after, limit),
                |c| (c.thread_id, c.id),
            )
            .await?;
        let comments = rows
            .into_iter()
            .map(|c| comment_proto(c, post.author_id, post.anonymous != 0, caller.user_id))
            .collect();
        Ok(pb::ListCommentsResponse { comments, next_page_token })
    }

    /// A live comment of the caller's school, or NOT_FOUND.
    pub(super) async fn comment(&self, caller: &Caller, id: i64) -> Result<store::CommentRow> {
        store::get_comment(&self.db().pool, caller.user_id, caller.school_id, id)
            .await?
            .ok_or(Error::NotFound("comment"))
    }

    pub(super) async fn create_comment(
        &self,
        caller: &Caller,
        req: pb::CreateCommentRequest,
    ) -> Result<pb::Comment> {
        let post_id = domain::id("postId", req.post_id)?;
        let content = domain::comment_content(&req.content)?;
        let parent = req.parent_id.map(|p| domain::id("parentId", p)).transpose()?;
        let now = now_micros();
        let id = next_id();
        let mut tx = self.db().begin_write().await?;
        let (post_author, post_anonymous) = store::count_new_comment(&mut tx, post_id, caller.school_id)
            .await?
            .ok_or(Error::NotFound("post"))?;
        let (parent_id, thread_id, parent_author) = match parent {
            None => (0, id, None),
            Some(parent_id) => {
                let parent = store::comment_parent(&mut tx, caller.school_id, parent_id)
                    .await?
                    .ok_or(Error::NotFound("comment"))?;
                if parent.post_id != post_id {
                    return Err(Error::invalid_because(
                        reason::PARENT_NOT_IN_POST,
                        "parentId",
                        "the comment replied to is on another post",
                    ));
                }
                if parent.deleted != 0 {
                    return Err(Error::NotFound("comment"));
                }
                // Replies are one level deep: a reply to a reply joins the top comment.
                let top = if parent.parent_id == 0 { parent.id } else { parent.parent_id };
                store::add_replies(&mut tx, top, 1).await?;
                (top, top, Some((top, parent.top_author_id)))
            }
        };
        let anon_number = if domain::needs_anon_number(req.anonymous, caller.user_id, post_author) {
            store::anon_number(&mut tx, post_id, caller.user_id).await?
        } else {
            0
        };
        let row = store::NewCommentRow {
            id,
            post_id,
            parent_id,
            thread_id,
            author_id: caller.user_id,
            author_nickname: &caller.nickname,
            anonymous: req.anonymous,
            anon_number,
            content: &content,
            now,
        };
        store::insert_comment(&mut tx, &row).await?;
        let event = publish::NewComment {
            comment_id: id,
            post_id,
            author_id: caller.user_id,
            parent: parent_author,
            content: &content,
            now,
        };
        publish::comment_created(&mut tx, &event).await?;
        self.commit_events(tx).await?;
        self.inner.first_pages.forget_post(post_id);
        let shown = store::CommentRow {
            id,
            post_id,
            parent_id,
            thread_id,
            author_id: caller.user_id,
            author_nickname: caller.nickname.clone(),
            anonymous: i64::from(req.anonymous),
            anon_number,
            content,
            like_count: 0,
            created_at: now,
            deleted: 0,
            liked: 0,
        };
        Ok(comment_proto(shown, post_author, post_anonymous != 0, caller.user_id))
    }

    pub(super) async fn delete_comment(&self, caller: &Caller, req: pb::DeleteCommentRequest) -> Result<()> {
        let id = domain::id("id", req.id)?;
        let comment = self.comment(caller, id).await?;
        if comment.author_id != caller.user_id {
            return Err(Error::permission_denied(reason::NOT_OWNER, "only the author may do this"));
        }
        let now = now_micros();
        let mut tx = self.db().begin_write().await?;
        if !store::delete_comment(&mut tx, &comment, now).await? {
            return Err(Error::NotFound("comment"));
        }
        publish::comment_removed(&mut tx, comment.id, comment.post_id, pb::Removal::Deleted, now).await?;
        self.commit_events(tx).await?;
        self.inner.first_pages.forget_post(comment.post_id);
        Ok(())
    }
}
