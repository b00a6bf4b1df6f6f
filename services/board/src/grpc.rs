//! The gRPC surface: one method per RPC, each parsing its request, applying the rules in
//! [`crate::domain`] with the SQL in [`crate::store`], and mapping rows to protobuf.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use campus_proto::board::v1 as pb;
use campus_proto::board::v1::board_internal_service_server::BoardInternalService;
use campus_proto::board::v1::board_service_server::BoardService;
use campus_proto::board::v1::get_content_author_request::Target;
use campus_proto::google::api::HttpBody;
use campus_shared::db::{Backend, Db, now_micros, timestamp};
use campus_shared::error::{Error, Result};
use campus_shared::events::Outbox;
use campus_shared::id::next_id;
use campus_shared::identity::Caller;
use campus_shared::page::{PageTokens, page_size};
use tokio::sync::Semaphore;
use tonic::{Request, Response, Status};

use crate::blob::Blobs;
use crate::domain::search::{SearchLimits, SearchQuery, SearchRate};
use crate::domain::{self, Thresholds, photo, reason};
use crate::events::publish;
use crate::store::{self, PostRow, Ranking, Reported};

/// Boards never change after creation (no update or delete RPC), so which school each belongs
/// to is cached per process; this keeps ListPosts at one SQL statement. The cap only
/// bounds memory against id probing.
const BOARD_CACHE_CAP: usize = 100_000;

/// The response headers of a served photo (the gateway copies them onto the HTTP answer).
const PHOTO_HEADERS: &[(&str, &str)] = &[
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", "sandbox"),
    ("content-disposition", "inline"),
];

/// The board service's state, shared by both gRPC services.
#[derive(Debug, Clone)]
pub struct BoardApi {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Db,
    tokens: PageTokens,
    thresholds: Thresholds,
    blobs: Blobs,
    /// Board's event feed: appended to in the transactions of the changes, woken after commit.
    outbox: Outbox,
    boards: RwLock<HashMap<i64, BoardInfo>>,
    /// Each user's searches: a search reads far more than any other request.
    search_rate: Mutex<SearchRate>,
    search_limits: SearchLimits,
    /// The search index's statistics (PostgreSQL), which choose how each search reads.
    search_statistics: store::search::TermStatistics,
    /// Photos being decoded at once: one per core, so a burst of uploads queues instead of
    /// taking every core and [`photo::MAX_DECODE_BYTES`] of memory each.
    decoding: Semaphore,
}

#[derive(Debug, Clone, Copy)]
struct BoardInfo {
    school_id: i64,
}

fn count(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn board_proto(row: store::BoardRow) -> pb::Board {
    pb::Board {
        id: row.id,
        school_id: row.school_id,
        name: row.name,
        description: row.description,
        category: i32::try_from(row.category).unwrap_or_default(),
        hot_disabled: row.hot_disabled != 0,
        pinned: row.pinned != 0,
        created_at: Some(timestamp(row.created_at)),
    }
}

fn photo_proto(row: store::PhotoRow) -> pb::Photo {
    pb::Photo { id: row.id, url: format!("/v1/photos/{}", row.id), content_type: row.content_type }
}

fn post_proto(row: PostRow, viewer: i64, photos: Vec<pb::Photo>) -> pb::Post {
    pb::Post {
        id: row.id,
        board_id: row.board_id,
        author: Some(domain::post_author(row.author_id, &row.author_nickname, row.anonymous != 0, viewer)),
        title: row.title,
        content: row.content,
        like_count: count(row.like_count),
        comment_count: count(row.comment_count),
        scrap_count: count(row.scrap_count),
        photos,
        is_hot: row.hot_at.is_some(),
        is_best: row.best_at.is_some(),
        liked_by_me: row.liked != 0,
        scrapped_by_me: row.scrapped != 0,
        is_mine: row.author_id == viewer,
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
    }
}

fn comment_proto(
    row: store::CommentRow,
    post_author_id: i64,
    post_anonymous: bool,
    viewer: i64,
) -> pb::Comment {
    let deleted = row.deleted != 0;
    let author = if deleted {
        domain::deleted_author()
    } else {
        domain::comment_author(
            domain::CommentAuthor {
                author_id: row.author_id,
                nickname: &row.author_nickname,
                anonymous: row.anonymous != 0,
                anon_number: row.anon_number,
                post_author_id,
                post_anonymous,
            },
            viewer,
        )
    };
    pb::Comment {
        id: row.id,
        post_id: row.post_id,
        parent_id: row.parent_id,
        author: Some(author),
        content: if deleted { domain::DELETED_COMMENT.into() } else { row.content },
        like_count: count(row.like_count),
        deleted,
        liked_by_me: !deleted && row.liked != 0,
        created_at: Some(timestamp(row.created_at)),
    }
}

impl BoardApi {
    pub fn new(
        db: Db,
        tokens: PageTokens,
        thresholds: Thresholds,
        blobs: Blobs,
        search_limits: SearchLimits,
        outbox: Outbox,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let decoding = Semaphore::new(cores);
        let search_rate = Mutex::new(SearchRate::new(search_limits.per_second, search_limits.burst));
        Self {
            inner: Arc::new(Inner {
                db,
                tokens,
                thresholds,
                blobs,
                outbox,
                boards: RwLock::default(),
                search_rate,
                search_limits,
                search_statistics: Default::default(),
                decoding,
            }),
        }
    }

    fn db(&self) -> &Db {
        &self.inner.db
    }

    fn tokens(&self) -> &PageTokens {
        &self.inner.tokens
    }

    /// Commits a transaction that appended events and wakes the feed's streams.
    async fn commit_events(&self, tx: sqlx::Transaction<'static, sqlx::Any>) -> Result<()> {
        tx.commit().await?;
        self.inner.outbox.committed();
        Ok(())
    }

    /// A board of the caller's school, or NOT_FOUND.
    async fn board_info(&self, school_id: i64, board_id: i64) -> Result<BoardInfo> {
        let cached = self.inner.boards.read().ok().and_then(|m| m.get(&board_id).copied());
        let info = match cached {
            Some(info) => info,
            None => {
                let row = store::get_board(&self.db().pool, 0, school_id, board_id)
                    .await?
                    .ok_or(Error::NotFound("board"))?;
                let info = BoardInfo { school_id: row.school_id };
                if let Ok(mut m) = self.inner.boards.write() {
                    if m.len() >= BOARD_CACHE_CAP {
                        m.clear();
                    }
                    m.insert(board_id, info);
                }
                info
            }
        };
        if info.school_id == school_id { Ok(info) } else { Err(Error::NotFound("board")) }
    }

    /// Turns a page of rows into posts, with every post's photos from one query.
    async fn posts(&self, rows: Vec<PostRow>, viewer: i64) -> Result<Vec<pb::Post>> {
        let with_photos: Vec<i64> = rows.iter().filter(|r| r.photo_count > 0).map(|r| r.id).collect();
        let mut photos: HashMap<i64, Vec<pb::Photo>> = HashMap::new();
        for photo in store::photos_of(&self.db().pool, &with_photos).await? {
            photos.entry(photo.post_id).or_default().push(photo_proto(photo));
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let p = photos.remove(&row.id).unwrap_or_default();
                post_proto(row, viewer, p)
            })
            .collect())
    }

    /// A page of posts and the token of the next one.
    async fn post_page<C: serde::Serialize>(
        &self,
        mut rows: Vec<PostRow>,
        viewer: i64,
        size: i64,
        scope: &str,
        cursor: impl Fn(&PostRow) -> C,
    ) -> Result<(Vec<pb::Post>, String)> {
        let next = self.tokens().next(scope, &mut rows, size, cursor);
        Ok((self.posts(rows, viewer).await?, next))
    }

    /// One page of a search (school-wide or one board's), with the token of the next one.
    async fn search(
        &self,
        caller: &Caller,
        scope: store::search::Scope,
        query: &SearchQuery,
        size: i64,
        token: &str,
    ) -> Result<(Vec<pb::Post>, String)> {
        let scope_key = match scope {
            store::search::Scope::School(id) => format!("search:{id}:{}", query.pattern),
            store::search::Scope::Board(id) => format!("posts:{id}:{}", query.pattern),
        };
        let before = self.tokens().decode::<i64>(&scope_key, token)?.unwrap_or(i64::MAX);
        self.inner
            .search_rate
            .lock()
            .map_err(|_| Error::internal("search rate lock poisoned"))?
            .take(caller.user_id, std::time::Instant::now())?;
        let found = store::search::search_posts(
            self.db(),
            &self.inner.search_statistics,
            caller.user_id,
            scope,
            query,
            before,
            size + 1,
            &self.inner.search_limits,
        )
        .await?;
        let (posts, mut next) =
            self.post_page(found.rows, caller.user_id, size, &scope_key, |r| r.id).await?;
        if let (true, Some(below)) = (next.is_empty(), found.resume_below) {
            next = self.tokens().encode(&scope_key, &below);
        }
        Ok((posts, next))
    }

    async fn read_post(&self, caller: &Caller, id: i64) -> Result<pb::Post> {
        let row = store::get_post(&self.db().pool, caller.user_id, caller.school_id, id)
            .await?
            .ok_or(Error::NotFound("post"))?;
        Ok(self.posts(vec![row], caller.user_id).await?.remove(0))
    }

    async fn post_meta(&self, caller: &Caller, id: i64) -> Result<store::PostMeta> {
        let id = domain::id("id", id)?;
        store::post_meta(&self.db().pool, caller.school_id, id).await?.ok_or(Error::NotFound("post"))
    }

    /// A post the caller wrote, or NOT_FOUND / PERMISSION_DENIED NOT_OWNER.
    async fn own_post(&self, caller: &Caller, id: i64) -> Result<store::PostMeta> {
        let meta = self.post_meta(caller, id).await?;
        if meta.author_id != caller.user_id {
            return Err(Error::permission_denied(reason::NOT_OWNER, "only the author may do this"));
        }
        Ok(meta)
    }

    async fn ranked(
        &self,
        caller: &Caller,
        ranking: Ranking,
        size: i32,
        token: &str,
    ) -> Result<(Vec<pb::Post>, String)> {
        let size = page_size(size)?;
        let scope = format!("{ranking:?}:{}", caller.school_id);
        let cursor = self.tokens().decode::<(i64, i64)>(&scope, token)?.unwrap_or((i64::MAX, i64::MAX));
        let rows =
            store::list_ranked(&self.db().pool, caller.user_id, caller.school_id, ranking, cursor, size + 1)
                .await?;
        self.post_page(rows, caller.user_id, size, &scope, |r| {
            let at = match ranking {
                Ranking::Hot => r.hot_at,
                Ranking::Best => r.best_at,
            };
            (at.unwrap_or_default(), r.id)
        })
        .await
    }

    async fn report(&self, caller: &Caller, kind: Reported, id: i64, reason_text: &str) -> Result<()> {
        let reason_text = domain::report_reason(reason_text)?;
        // The author, and what holds the item (a post's board, a comment's post).
        let (author, holder) = match kind {
            Reported::Post => {
                let meta = self.post_meta(caller, id).await?;
                (meta.author_id, meta.board_id)
            }
            Reported::Comment => {
                let comment = store::get_comment(
                    &self.db().pool,
                    caller.user_id,
                    caller.school_id,
                    domain::id("id", id)?,
                )
                .await?
                .ok_or(Error::NotFound("comment"))?;
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
        let count = store::insert_report(&mut tx, kind, id, caller.user_id, &reason_text, now).await?;
        if !domain::hidden_by(count.report_count) || count.deleted != 0 {
            tx.commit().await?;
            return Ok(());
        }
        let hidden = pb::Removal::Hidden;
        match kind {
            Reported::Post => publish::post_removed(&mut tx, id, holder, hidden, now).await?,
            Reported::Comment => publish::comment_removed(&mut tx, id, holder, hidden, now).await?,
        }
        self.commit_events(tx).await
    }

    async fn create_comment_impl(
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
                    return Err(domain::invalid_with_reason(
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

    async fn upload_photo_impl(&self, caller: &Caller, req: pb::UploadPhotoRequest) -> Result<pb::Photo> {
        let meta = self.own_post(caller, req.post_id).await?;
        let upload = req.photo.unwrap_or_default().data;
        let photo = {
            let _permit = self.inner.decoding.acquire().await.map_err(|e| Error::internal(e.to_string()))?;
            tokio::task::spawn_blocking(move || photo::prepare(upload))
                .await
                .map_err(|e| Error::internal(format!("photo task: {e}")))??
        };
        let content_type = photo.content_type;
        let too_many = || {
            Error::failed_precondition(
                reason::TOO_MANY_PHOTOS,
                format!("a post may have at most {} photos", domain::MAX_PHOTOS_PER_POST),
            )
        };
        if meta.photo_count >= domain::MAX_PHOTOS_PER_POST {
            return Err(too_many());
        }
        let id = next_id();
        let size = photo.bytes.len() as i64;
        // The bytes go first so a committed row always has its bytes; a failed transaction
        // removes them again.
        self.inner.blobs.put(id, photo.bytes).await.map_err(|e| Error::Internal(Box::new(e)))?;
        let saved = async {
            let mut tx = self.db().begin_write().await?;
            if !store::count_photo(&mut tx, meta.id, domain::MAX_PHOTOS_PER_POST).await? {
                return Err(too_many());
            }
            let row = store::NewPhotoRow {
                id,
                post_id: meta.id,
                owner_id: caller.user_id,
                content_type,
                size_bytes: size,
                now: now_micros(),
            };
            store::insert_photo(&mut tx, &row).await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if let Err(e) = saved {
            if let Err(cleanup) = self.inner.blobs.delete(id).await {
                tracing::warn!(error = %cleanup, photo_id = id, "could not remove the bytes of a refused photo");
            }
            return Err(e);
        }
        Ok(pb::Photo { id, url: format!("/v1/photos/{id}"), content_type: content_type.into() })
    }
}

#[tonic::async_trait]
impl BoardService for BoardApi {
    async fn list_boards(
        &self,
        request: Request<pb::ListBoardsRequest>,
    ) -> Result<Response<pb::ListBoardsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let size = page_size(req.page_size)?;
        let scope = format!("boards:{}", caller.school_id);
        let after = self.tokens().decode::<i64>(&scope, &req.page_token)?.unwrap_or(0);
        let mut rows = store::list_boards(&self.db().pool, caller.user_id, caller.school_id, after, size + 1)
            .await
            .map_err(Error::from)?;
        let next_page_token = self.tokens().next(&scope, &mut rows, size, |b| b.id);
        Ok(Response::new(pb::ListBoardsResponse {
            boards: rows.into_iter().map(board_proto).collect(),
            next_page_token,
        }))
    }

    async fn create_board(
        &self,
        request: Request<pb::CreateBoardRequest>,
    ) -> Result<Response<pb::Board>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let board = domain::NewBoard::parse(&req.name, &req.description, req.category, req.hot_disabled)?;
        let row = store::NewBoardRow {
            id: next_id(),
            school_id: caller.school_id,
            name: &board.name,
            description: &board.description,
            category: i64::from(board.category as i32),
            hot_disabled: board.hot_disabled,
            created_by: caller.user_id,
            created_at: now_micros(),
        };
        let mut tx = self.db().begin_write().await.map_err(Error::from)?;
        store::insert_board(&mut tx, &row).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(Response::new(pb::Board {
            id: row.id,
            school_id: row.school_id,
            name: board.name.clone(),
            description: board.description.clone(),
            category: board.category as i32,
            hot_disabled: board.hot_disabled,
            pinned: false,
            created_at: Some(timestamp(row.created_at)),
        }))
    }

    async fn get_board(&self, request: Request<pb::GetBoardRequest>) -> Result<Response<pb::Board>, Status> {
        let caller = Caller::of(&request)?;
        let id = domain::id("id", request.get_ref().id)?;
        let row = store::get_board(&self.db().pool, caller.user_id, caller.school_id, id)
            .await
            .map_err(Error::from)?
            .ok_or(Error::NotFound("board"))?;
        Ok(Response::new(board_proto(row)))
    }

    async fn list_pinned_boards(
        &self,
        request: Request<pb::ListPinnedBoardsRequest>,
    ) -> Result<Response<pb::ListPinnedBoardsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let rows = store::list_pinned_boards(&self.db().pool, caller.user_id, caller.school_id)
            .await
            .map_err(Error::from)?;
        Ok(Response::new(pb::ListPinnedBoardsResponse {
            boards: rows.into_iter().map(board_proto).collect(),
        }))
    }

    async fn pin_board(&self, request: Request<pb::PinBoardRequest>) -> Result<Response<pb::Board>, Status> {
        let caller = Caller::of(&request)?;
        let id = domain::id("boardId", request.get_ref().board_id)?;
        self.board_info(caller.school_id, id).await?;
        let mut tx = self.db().begin_write().await.map_err(Error::from)?;
        store::pin_board(&mut tx, caller.user_id, id, now_micros()).await.map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        let row = store::get_board(&self.db().pool, caller.user_id, caller.school_id, id)
            .await
            .map_err(Error::from)?
            .ok_or(Error::NotFound("board"))?;
        Ok(Response::new(board_proto(row)))
    }

    async fn unpin_board(&self, request: Request<pb::UnpinBoardRequest>) -> Result<Response<()>, Status> {
        let caller = Caller::of(&request)?;
        let id = domain::id("boardId", request.get_ref().board_id)?;
        self.board_info(caller.school_id, id).await?;
        let mut tx = self.db().begin_write().await.map_err(Error::from)?;
        store::unpin_board(&mut tx, caller.user_id, id).await.map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        Ok(Response::new(()))
    }

    async fn list_posts(
        &self,
        request: Request<pb::ListPostsRequest>,
    ) -> Result<Response<pb::ListPostsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let board_id = domain::id("boardId", req.board_id)?;
        let size = page_size(req.page_size)?;
        self.board_info(caller.school_id, board_id).await?;
        if !req.query.trim().is_empty() {
            let query = SearchQuery::parse("query", &req.query)?;
            let scope = store::search::Scope::Board(board_id);
            let (posts, next_page_token) = self.search(&caller, scope, &query, size, &req.page_token).await?;
            return Ok(Response::new(pb::ListPostsResponse { posts, next_page_token }));
        }
        let scope = format!("posts:{board_id}:");
        let before = self.tokens().decode::<i64>(&scope, &req.page_token)?.unwrap_or(i64::MAX);
        let rows = store::list_board_posts(&self.db().pool, caller.user_id, board_id, before, size + 1)
            .await
            .map_err(Error::from)?;
        let (posts, next_page_token) = self.post_page(rows, caller.user_id, size, &scope, |r| r.id).await?;
        Ok(Response::new(pb::ListPostsResponse { posts, next_page_token }))
    }

    async fn create_post(
        &self,
        request: Request<pb::CreatePostRequest>,
    ) -> Result<Response<pb::Post>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let board_id = domain::id("boardId", req.board_id)?;
        let text = domain::PostText::parse(&req.title, &req.content)?;
        self.board_info(caller.school_id, board_id).await?;
        let row = store::NewPostRow {
            id: next_id(),
            school_id: caller.school_id,
            board_id,
            author_id: caller.user_id,
            author_nickname: &caller.nickname,
            anonymous: req.anonymous,
            title: &text.title,
            content: &text.content,
            now: now_micros(),
        };
        match self.db().backend {
            // One statement is atomic on its own: no BEGIN and COMMIT round trips around it
            // (the search index is an index of the table, written by the same statement).
            Backend::Postgres => store::insert_post(&self.db().pool, &row).await.map_err(Error::from)?,
            Backend::Sqlite => {
                let mut tx = self.db().begin_write().await.map_err(Error::from)?;
                store::insert_post(&mut *tx, &row).await.map_err(Error::from)?;
                store::search::index_new_post(&mut tx, &row).await.map_err(Error::from)?;
                tx.commit().await.map_err(Error::from)?;
            }
        }
        let created = PostRow {
            id: row.id,
            board_id,
            author_id: caller.user_id,
            author_nickname: caller.nickname.clone(),
            anonymous: i64::from(req.anonymous),
            title: text.title.clone(),
            content: text.content.clone(),
            like_count: 0,
            comment_count: 0,
            scrap_count: 0,
            photo_count: 0,
            hot_at: None,
            best_at: None,
            created_at: row.now,
            updated_at: row.now,
            liked: 0,
            scrapped: 0,
            scrap_id: 0,
        };
        Ok(Response::new(post_proto(created, caller.user_id, Vec::new())))
    }

    async fn get_post(&self, request: Request<pb::GetPostRequest>) -> Result<Response<pb::Post>, Status> {
        let caller = Caller::of(&request)?;
        let id = domain::id("id", request.get_ref().id)?;
        Ok(Response::new(self.read_post(&caller, id).await?))
    }

    async fn update_post(
        &self,
        request: Request<pb::UpdatePostRequest>,
    ) -> Result<Response<pb::Post>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let edit = domain::PostEdit::parse(req.title.as_deref(), req.content.as_deref())?;
        let meta = self.own_post(&caller, req.id).await?;
        let mut tx = self.db().begin_write().await.map_err(Error::from)?;
        store::update_post(&mut tx, meta.id, edit.title.as_deref(), edit.content.as_deref(), now_micros())
            .await
            .map_err(Error::from)?;
        store::search::reindex_post(&mut tx, self.db().backend, meta.id).await.map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        Ok(Response::new(self.read_post(&caller, meta.id).await?))
    }

    async fn delete_post(&self, request: Request<pb::DeletePostRequest>) -> Result<Response<()>, Status> {
        let caller = Caller::of(&request)?;
        let meta = self.own_post(&caller, request.get_ref().id).await?;
        let now = now_micros();
        let mut tx = self.db().begin_write().await.map_err(Error::from)?;
        if !store::delete_post(&mut tx, meta.id, now).await.map_err(Error::from)? {
            return Err(Error::NotFound("post").into());
        }
        store::search::unindex_post(&mut tx, self.db().backend, meta.id).await.map_err(Error::from)?;
        publish::post_removed(&mut tx, meta.id, meta.board_id, pb::Removal::Deleted, now)
            .await
            .map_err(Error::from)?;
        self.commit_events(tx).await?;
        Ok(Response::new(()))
    }

    async fn like_post(&self, request: Request<pb::LikePostRequest>) -> Result<Response<pb::Post>, Status> {
        let caller = Caller::of(&request)?;
        let meta = self.post_meta(&caller, request.get_ref().id).await?;
        if meta.author_id == caller.user_id {
            return Err(Error::failed_precondition(
                reason::CANNOT_LIKE_OWN_POST,
                "you cannot like your own post",
            )
            .into());
        }
        let now = now_micros();
        let mut tx = self.db().begin_write().await.map_err(Error::from)?;
        store::insert_post_like(&mut tx, meta.id, caller.user_id, now).await?;
        let liked = store::count_post_like(&mut tx, meta.id).await.map_err(Error::from)?;
        let promotions = self.inner.thresholds.promotions(domain::Liked {
            likes: liked.like_count,
            hot_allowed: meta.hot_disabled == 0,
            already_hot: liked.hot_at.is_some(),
            already_best: liked.best_at.is_some(),
        });
        if promotions.any() {
            store::stamp_promotions(&mut tx, meta.id, promotions, now).await.map_err(Error::from)?;
            publish::post_promoted(&mut tx, meta.id, promotions, now).await.map_err(Error::from)?;
        }
        self.commit_events(tx).await?;
        Ok(Response::new(self.read_post(&caller, meta.id).await?))
    }

    async fn scrap_post(&self, request: Request<pb::ScrapPostRequest>) -> Result<Response<pb::Post>, Status> {
        let caller = Caller::of(&request)?;
        let meta = self.post_meta(&caller, request.get_ref().id).await?;
        if meta.author_id == caller.user_id {
            return Err(Error::failed_precondition(
                reason::CANNOT_SCRAP_OWN_POST,
                "you cannot scrap your own post",
            )
            .into());
        }
        let mut tx = self.db().begin_write().await.map_err(Error::from)?;
        store::insert_scrap(&mut tx, meta.id, caller.user_id, now_micros()).await?;
        tx.commit().await.map_err(Error::from)?;
        Ok(Response::new(self.read_post(&caller, meta.id).await?))
    }

    /// Idempotent, like the HTTP DELETE it backs: removing a scrap that is not there succeeds.
    async fn unscrap_post(
        &self,
        request: Request<pb::UnscrapPostRequest>,
    ) -> Result<Response<pb::Post>, Status> {
        let caller = Caller::of(&request)?;
        let meta = self.post_meta(&caller, request.get_ref().id).await?;
        let mut tx = self.db().begin_write().await.map_err(Error::from)?;
        store::delete_scrap(&mut tx, meta.id, caller.user_id).await.map_err(Error::from)?;
        tx.commit().await.map_err(Error::from)?;
        Ok(Response::new(self.read_post(&caller, meta.id).await?))
    }

    async fn list_scraps(
        &self,
        request: Request<pb::ListScrapsRequest>,
    ) -> Result<Response<pb::ListScrapsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let size = page_size(req.page_size)?;
        let scope = format!("scraps:{}", caller.user_id);
        let before = self.tokens().decode::<i64>(&scope, &req.page_token)?.unwrap_or(i64::MAX);
        let rows = store::list_scraps(&self.db().pool, caller.user_id, caller.school_id, before, size + 1)
            .await
            .map_err(Error::from)?;
        let (posts, next_page_token) =
            self.post_page(rows, caller.user_id, size, &scope, |r| r.scrap_id).await?;
        Ok(Response::new(pb::ListScrapsResponse { posts, next_page_token }))
    }

    async fn list_hot_posts(
        &self,
        request: Request<pb::ListHotPostsRequest>,
    ) -> Result<Response<pb::ListHotPostsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let (posts, next_page_token) =
            self.ranked(&caller, Ranking::Hot, req.page_size, &req.page_token).await?;
        Ok(Response::new(pb::ListHotPostsResponse { posts, next_page_token }))
    }

    async fn list_best_posts(
        &self,
        request: Request<pb::ListBestPostsRequest>,
    ) -> Result<Response<pb::ListBestPostsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let (posts, next_page_token) =
            self.ranked(&caller, Ranking::Best, req.page_size, &req.page_token).await?;
        Ok(Response::new(pb::ListBestPostsResponse { posts, next_page_token }))
    }

    async fn search_posts(
        &self,
        request: Request<pb::SearchPostsRequest>,
    ) -> Result<Response<pb::SearchPostsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let size = page_size(req.page_size)?;
        let query = SearchQuery::parse("query", &req.query)?;
        let scope = store::search::Scope::School(caller.school_id);
        let (posts, next_page_token) = self.search(&caller, scope, &query, size, &req.page_token).await?;
        Ok(Response::new(pb::SearchPostsResponse { posts, next_page_token }))
    }

    async fn report_post(&self, request: Request<pb::ReportPostRequest>) -> Result<Response<()>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        self.report(&caller, Reported::Post, req.id, &req.reason).await?;
        Ok(Response::new(()))
    }

    async fn list_my_posts(
        &self,
        request: Request<pb::ListMyPostsRequest>,
    ) -> Result<Response<pb::ListMyPostsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let size = page_size(req.page_size)?;
        let scope = format!("my-posts:{}", caller.user_id);
        let before = self.tokens().decode::<i64>(&scope, &req.page_token)?.unwrap_or(i64::MAX);
        let rows = store::list_my_posts(&self.db().pool, caller.user_id, caller.school_id, before, size + 1)
            .await
            .map_err(Error::from)?;
        let (posts, next_page_token) = self.post_page(rows, caller.user_id, size, &scope, |r| r.id).await?;
        Ok(Response::new(pb::ListMyPostsResponse { posts, next_page_token }))
    }

    async fn list_my_commented_posts(
        &self,
        request: Request<pb::ListMyCommentedPostsRequest>,
    ) -> Result<Response<pb::ListMyCommentedPostsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let size = page_size(req.page_size)?;
        let scope = format!("commented:{}", caller.user_id);
        let before = self.tokens().decode::<i64>(&scope, &req.page_token)?.unwrap_or(i64::MAX);
        let rows =
            store::list_commented_posts(&self.db().pool, caller.user_id, caller.school_id, before, size + 1)
                .await
                .map_err(Error::from)?;
        let (posts, next_page_token) = self.post_page(rows, caller.user_id, size, &scope, |r| r.id).await?;
        Ok(Response::new(pb::ListMyCommentedPostsResponse { posts, next_page_token }))
    }

    async fn list_comments(
        &self,
        request: Request<pb::ListCommentsRequest>,
    ) -> Result<Response<pb::ListCommentsResponse>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        let size = page_size(req.page_size)?;
        let post = self.post_meta(&caller, req.post_id).await?;
        let scope = format!("comments:{}", post.id);
        let after = self.tokens().decode::<(i64, i64)>(&scope, &req.page_token)?.unwrap_or((0, 0));
        let mut rows = store::list_comments(&self.db().pool, caller.user_id, post.id, after, size + 1)
            .await
            .map_err(Error::from)?;
        let next_page_token = self.tokens().next(&scope, &mut rows, size, |c| (c.thread_id, c.id));
        let comments = rows
            .into_iter()
            .map(|c| comment_proto(c, post.author_id, post.anonymous != 0, caller.user_id))
            .collect();
        Ok(Response::new(pb::ListCommentsResponse { comments, next_page_token }))
    }

    async fn create_comment(
        &self,
        request: Request<pb::CreateCommentRequest>,
    ) -> Result<Response<pb::Comment>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(self.create_comment_impl(&caller, request.into_inner()).await?))
    }

    async fn delete_comment(
        &self,
        request: Request<pb::DeleteCommentRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = Caller::of(&request)?;
        let id = domain::id("id", request.get_ref().id)?;
        let comment = store::get_comment(&self.db().pool, caller.user_id, caller.school_id, id)
            .await
            .map_err(Error::from)?
            .ok_or(Error::NotFound("comment"))?;
        if comment.author_id != caller.user_id {
            return Err(Error::permission_denied(reason::NOT_OWNER, "only the author may do this").into());
        }
        let now = now_micros();
        let mut tx = self.db().begin_write().await.map_err(Error::from)?;
        if !store::delete_comment(&mut tx, &comment, now).await.map_err(Error::from)? {
            return Err(Error::NotFound("comment").into());
        }
        publish::comment_removed(&mut tx, comment.id, comment.post_id, pb::Removal::Deleted, now)
            .await
            .map_err(Error::from)?;
        self.commit_events(tx).await?;
        Ok(Response::new(()))
    }

    async fn like_comment(
        &self,
        request: Request<pb::LikeCommentRequest>,
    ) -> Result<Response<pb::Comment>, Status> {
        let caller = Caller::of(&request)?;
        let id = domain::id("id", request.get_ref().id)?;
        let pool = &self.db().pool;
        let comment = store::get_comment(pool, caller.user_id, caller.school_id, id)
            .await
            .map_err(Error::from)?
            .ok_or(Error::NotFound("comment"))?;
        if comment.author_id == caller.user_id {
            return Err(Error::failed_precondition(
                reason::CANNOT_LIKE_OWN_COMMENT,
                "you cannot like your own comment",
            )
            .into());
        }
        let mut tx = self.db().begin_write().await.map_err(Error::from)?;
        store::like_comment(&mut tx, id, caller.user_id, now_micros()).await?;
        tx.commit().await.map_err(Error::from)?;
        let post = self.post_meta(&caller, comment.post_id).await?;
        let comment = store::get_comment(pool, caller.user_id, caller.school_id, id)
            .await
            .map_err(Error::from)?
            .ok_or(Error::NotFound("comment"))?;
        Ok(Response::new(comment_proto(comment, post.author_id, post.anonymous != 0, caller.user_id)))
    }

    async fn report_comment(
        &self,
        request: Request<pb::ReportCommentRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        self.report(&caller, Reported::Comment, req.id, &req.reason).await?;
        Ok(Response::new(()))
    }

    async fn upload_photo(
        &self,
        request: Request<pb::UploadPhotoRequest>,
    ) -> Result<Response<pb::Photo>, Status> {
        let caller = Caller::of(&request)?;
        Ok(Response::new(self.upload_photo_impl(&caller, request.into_inner()).await?))
    }

    async fn get_photo(&self, request: Request<pb::GetPhotoRequest>) -> Result<Response<HttpBody>, Status> {
        let caller = Caller::of(&request)?;
        let id = domain::id("id", request.get_ref().id)?;
        let content_type = store::photo_type(&self.db().pool, caller.school_id, id)
            .await
            .map_err(Error::from)?
            .ok_or(Error::NotFound("photo"))?;
        let data = self.inner.blobs.get(id).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => Error::NotFound("photo"),
            e => Error::Internal(Box::new(e)),
        })?;
        let mut response = Response::new(HttpBody { content_type, data, extensions: Vec::new() });
        // Served as a picture and nothing else: no sniffing it into HTML, no scripts or
        // same-origin rights even if a browser renders it as a document.
        for (name, value) in PHOTO_HEADERS {
            response.metadata_mut().insert(*name, tonic::metadata::MetadataValue::from_static(value));
        }
        Ok(response)
    }
}

#[tonic::async_trait]
impl BoardInternalService for BoardApi {
    /// Only for the forwarded caller's school; deleted content is NOT_FOUND.
    async fn get_content_author(
        &self,
        request: Request<pb::GetContentAuthorRequest>,
    ) -> Result<Response<pb::GetContentAuthorResponse>, Status> {
        let caller = Caller::of(&request)?;
        let (post_id, comment_id, what) = match request.get_ref().target {
            Some(Target::PostId(id)) => (Some(domain::id("postId", id)?), None, "post"),
            Some(Target::CommentId(id)) => (None, Some(domain::id("commentId", id)?), "comment"),
            None => return Err(Error::invalid("target", "set postId or commentId").into()),
        };
        let (author_id, school_id, post_id, anonymous) =
            store::content_author(&self.db().pool, caller.school_id, post_id, comment_id)
                .await
                .map_err(Error::from)?
                .ok_or(Error::NotFound(what))?;
        Ok(Response::new(pb::GetContentAuthorResponse {
            author_id,
            school_id,
            post_id,
            anonymous: anonymous != 0,
        }))
    }
}
