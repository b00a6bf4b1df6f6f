//! Posts: create, read, edit, delete, a board's list, and who wrote a post or comment (the
//! internal service).

use campus_proto::board::v1 as pb;
use campus_proto::board::v1::get_content_author_request::Target;
use campus_shared::db::now_micros;
use campus_shared::error::{Error, Result};
use campus_shared::id::next_id;
use campus_shared::identity::Caller;
use campus_shared::page::page_size;

use super::{BoardApi, photo_proto, post_proto, posts};
use crate::domain::search::SearchQuery;
use crate::domain::{self, reason};
use crate::events::publish;
use crate::store::{self, PostRow};

impl BoardApi {
    pub(super) async fn read_post(&self, caller: &Caller, id: i64) -> Result<pb::Post> {
        let pool = &self.db().pool;
        let row = store::get_post(pool, caller.user_id, caller.school_id, id)
            .await?
            .ok_or(Error::NotFound("post"))?;
        let photos = if row.post.photo_count > 0 { store::photos_of(pool, id).await? } else { Vec::new() };
        Ok(pb::Post {
            content: row.content,
            photos: photos.into_iter().map(photo_proto).collect(),
            ..post_proto(row.post, caller.user_id)
        })
    }

    pub(super) async fn post_meta(&self, caller: &Caller, id: i64) -> Result<store::PostMeta> {
        let id = domain::id("id", id)?;
        store::post_meta(&self.db().pool, caller.school_id, id).await?.ok_or(Error::NotFound("post"))
    }

    /// A post the caller wrote, or NOT_FOUND / PERMISSION_DENIED NOT_OWNER.
    pub(super) async fn own_post(&self, caller: &Caller, id: i64) -> Result<store::PostMeta> {
        let meta = self.post_meta(caller, id).await?;
        if meta.author_id != caller.user_id {
            return Err(Error::permission_denied(reason::NOT_OWNER, "only the author may do this"));
        }
        Ok(meta)
    }

    pub(super) async fn list_posts(
        &self,
        caller: &Caller,
        req: pb::ListPostsRequest,
    ) -> Result<pb::ListPostsResponse> {
        let board_id = domain::id("boardId", req.board_id)?;
        let size = page_size(req.page_size)?;
        self.board_info(caller.school_id, board_id).await?;
        if !req.query.trim().is_empty() {
            let query = SearchQuery::parse("query", &req.query)?;
            let scope = store::search::Scope::Board(board_id);
            let (posts, next_page_token) = self.search(caller, scope, &query, size, &req.page_token).await?;
            return Ok(pb::ListPostsResponse { posts, next_page_token });
        }
        let pool = &self.db().pool;
        let scope = format!("posts:{board_id}:");
        if req.page_token.is_empty() && size < store::FIRST_PAGE_ROWS {
            let mut rows = self.inner.first_pages.read(pool, caller.user_id, board_id, size + 1).await?;
            let next_page_token = self.tokens().next(&scope, &mut rows, size, |r| r.id);
            return Ok(pb::ListPostsResponse { posts: posts(rows, caller.user_id), next_page_token });
        }
        let (rows, next_page_token) = self
            .page(
                &scope,
                size,
                &req.page_token,
                i64::MAX,
                |before, limit| store::list_board_posts(pool, caller.user_id, board_id, before, limit),
                |r| r.id,
            )
            .await?;
        Ok(pb::ListPostsResponse { posts: posts(rows, caller.user_id), next_page_token })
    }

    pub(super) async fn create_post(&self, caller: &Caller, req: pb::CreatePostRequest) -> Result<pb::Post> {
        let board_id = domain::id("boardId", req.board_id)?;
        let text = domain::PostText::parse(&req.title, &req.content)?;
        self.board_info(caller.school_id, board_id).await?;
        let preview = domain::content_preview(&text.content);
        let row = store::NewPostRow {
            id: next_id(),
            school_id: caller.school_id,
            board_id,
            author_id: caller.user_id,
            author_nickname: caller.nickname.clone(),
            anonymous: req.anonymous,
            title: text.title,
            content: text.content,
            content_preview: preview,
            now: now_micros(),
        };
        // Written with the posts arriving alongside it, in one statement that queues them for
        // the search index too (`store::PostWriter`).
        let row = self.inner.new_posts.insert(row).await?;
        self.inner.first_pages.forget_board(board_id);
        let created = PostRow {
            id: row.id,
            board_id,
            author_id: caller.user_id,
            author_nickname: row.author_nickname,
            anonymous: i64::from(row.anonymous),
            title: row.title,
            content_preview: row.content_preview,
            like_count: 0,
            comment_count: 0,
            scrap_count: 0,
            photo_count: 0,
            first_photo_id: None,
            hot_at: None,
            best_at: None,
            created_at: row.now,
            updated_at: row.now,
            liked: 0,
            scrapped: 0,
            scrap_id: 0,
        };
        Ok(pb::Post { content: row.content, ..post_proto(created, caller.user_id) })
    }

    pub(super) async fn get_post(&self, caller: &Caller, req: pb::GetPostRequest) -> Result<pb::Post> {
        let id = domain::id("id", req.id)?;
        self.read_post(caller, id).await
    }

    pub(super) async fn update_post(&self, caller: &Caller, req: pb::UpdatePostRequest) -> Result<pb::Post> {
        let edit = domain::PostEdit::parse(req.title.as_deref(), req.content.as_deref())?;
        let meta = self.own_post(caller, req.id).await?;
        let preview = edit.content.as_deref().map(domain::content_preview);
        let content = edit
            .content
            .as_deref()
            .zip(preview.as_deref())
            .map(|(content, preview)| store::NewContent { content, preview });
        let mut tx = self.db().begin_write().await?;
        store::update_post(&mut tx, meta.id, edit.title.as_deref(), content, now_micros()).await?;
        store::search::enqueue(&mut tx, meta.id).await?;
        tx.commit().await?;
        self.inner.first_pages.forget_post(meta.id);
        self.read_post(caller, meta.id).await
    }

    pub(super) async fn delete_post(&self, caller: &Caller, req: pb::DeletePostRequest) -> Result<()> {
        let meta = self.own_post(caller, req.id).await?;
        let now = now_micros();
        let mut tx = self.db().begin_write().await?;
        if !store::delete_post(&mut tx, meta.id, now).await? {
            return Err(Error::NotFound("post"));
        }
        store::search::enqueue(&mut tx, meta.id).await?;
        publish::post_removed(&mut tx, meta.id, meta.board_id, pb::Removal::Deleted, now).await?;
        self.commit_events(tx).await?;
        self.inner.first_pages.forget_post(meta.id);
        Ok(())
    }

    pub(super) async fn get_content_author(
        &self,
        caller: &Caller,
        req: pb::GetContentAuthorRequest,
    ) -> Result<pb::GetContentAuthorResponse> {
        let (post_id, comment_id, what) = match req.target {
            Some(Target::PostId(id)) => (Some(domain::id("postId", id)?), None, "post"),
            Some(Target::CommentId(id)) => (None, Some(domain::id("commentId", id)?), "comment"),
            None => return Err(Error::invalid("target", "set postId or commentId")),
        };
        let (author_id, school_id, post_id, anonymous) =
            store::content_author(&self.db().pool, caller.school_id, post_id, comment_id)
                .await?
                .ok_or(Error::NotFound(what))?;
        Ok(pb::GetContentAuthorResponse { author_id, school_id, post_id, anonymous: anonymous != 0 })
    }
}
