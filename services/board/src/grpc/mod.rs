//! The gRPC surface. Each RPC is a handler on [`BoardApi`] in the file of its resource
//! (`boards`, `posts`, `comments`, `reactions`, `reports`, `photos`, `lists`): it maps the
//! request to the domain, applies the rules in [`crate::domain`], owns the transaction the SQL in
//! [`crate::store`] runs in, and maps rows back to protobuf. The trait impls below only find the
//! caller and turn the handler's result into the answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};

use campus_proto::board::v1 as pb;
use campus_proto::board::v1::board_internal_service_server::BoardInternalService;
use campus_proto::board::v1::board_service_server::BoardService;
use campus_proto::google::api::HttpBody;
use campus_shared::db::{Db, WriteTx, timestamp};
use campus_shared::error::{Error, Reply, Result, reply};
use campus_shared::events::Outbox;
use campus_shared::identity::Caller;
use campus_shared::page::PageTokens;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::Semaphore;
use tonic::Request;

use crate::blob::Blobs;
use crate::domain::search::SearchRate;
use crate::domain::{self, Thresholds};
use crate::store::{self, PostRow};

mod boards;
mod comments;
mod lists;
mod photos;
mod posts;
mod reactions;
mod reports;

/// Boards never change after creation (no update or delete RPC), so which school each belongs
/// to is cached per process; ListPosts need not ask the database for it. The cap only
/// bounds memory against id probing.
const BOARD_CACHE_CAP: usize = 100_000;

/// The board service's state, shared by both gRPC services.
#[derive(Debug, Clone)]
pub(crate) struct BoardApi {
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
    /// Where searches run (their own connections on PostgreSQL) and how they are bounded.
    searches: store::search::Searches,
    /// Each board's first page, shared by its viewers; forgotten by the changes below.
    first_pages: Arc<store::FirstPages>,
    /// Writes new posts, those arriving together in one statement.
    new_posts: store::PostWriter,
    /// Photos being decoded at once: one per core, so a burst of uploads queues instead of
    /// taking every core and [`domain::photo::MAX_DECODE_BYTES`] of memory each.
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

/// A post as lists show it: its preview and first photo, neither its content nor its photos
/// (GetPost and the writes add those).
fn post_proto(row: PostRow, viewer: i64) -> pb::Post {
    pb::Post {
        id: row.id,
        board_id: row.board_id,
        author: Some(domain::post_author(row.author_id, &row.author_nickname, row.anonymous != 0, viewer)),
        title: row.title,
        content: String::new(),
        content_preview: row.content_preview,
        like_count: count(row.like_count),
        comment_count: count(row.comment_count),
        scrap_count: count(row.scrap_count),
        photo_count: count(row.photo_count),
        first_photo_id: row.first_photo_id.unwrap_or_default(),
        photos: Vec::new(),
        is_hot: row.hot_at.is_some(),
        is_best: row.best_at.is_some(),
        liked_by_me: row.liked != 0,
        scrapped_by_me: row.scrapped != 0,
        is_mine: row.author_id == viewer,
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
    }
}

/// A page of a list as the viewer sees it.
fn posts(rows: Vec<PostRow>, viewer: i64) -> Vec<pb::Post> {
    rows.into_iter().map(|row| post_proto(row, viewer)).collect()
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
    pub(crate) fn new(
        db: Db,
        tokens: PageTokens,
        thresholds: Thresholds,
        blobs: Blobs,
        searches: store::search::Searches,
        outbox: Outbox,
        first_pages: Arc<store::FirstPages>,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let decoding = Semaphore::new(cores);
        let search_rate = Mutex::new(SearchRate::new(searches.limits.per_second, searches.limits.burst));
        let new_posts = store::PostWriter::start(db.clone());
        Self {
            inner: Arc::new(Inner {
                db,
                tokens,
                thresholds,
                blobs,
                outbox,
                boards: RwLock::default(),
                search_rate,
                searches,
                first_pages,
                new_posts,
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
    async fn commit_events(&self, tx: WriteTx) -> Result<()> {
        tx.commit().await?;
        self.inner.outbox.committed();
        Ok(())
    }

    /// One page of a keyset list, the way every list pages: the cursor comes from the page
    /// token (`first` without one; a token of another list is INVALID_ARGUMENT), `fetch` reads
    /// `size + 1` rows below or after it, and the extra row, if there, only says that another
    /// page follows: its token holds the `cursor` of the page's last row.
    async fn page<C, R, K, F, Fut>(
        &self,
        scope: &str,
        size: i64,
        token: &str,
        first: C,
        fetch: F,
        cursor: impl Fn(&R) -> K,
    ) -> Result<(Vec<R>, String)>
    where
        C: DeserializeOwned,
        K: Serialize,
        F: FnOnce(C, i64) -> Fut,
        Fut: Future<Output = Result<Vec<R>>>,
    {
        let from = self.tokens().decode::<C>(scope, token)?.unwrap_or(first);
        let mut rows = fetch(from, size + 1).await?;
        let next = self.tokens().next(scope, &mut rows, size, cursor);
        Ok((rows, next))
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
}

/// Each method finds the caller and answers with its handler's result.
#[tonic::async_trait]
impl BoardService for BoardApi {
    async fn list_boards(&self, request: Request<pb::ListBoardsRequest>) -> Reply<pb::ListBoardsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_boards(&caller, request.into_inner()).await)
    }

    async fn create_board(&self, request: Request<pb::CreateBoardRequest>) -> Reply<pb::Board> {
        let caller = Caller::of(&request)?;
        reply(self.create_board(&caller, request.into_inner()).await)
    }

    async fn get_board(&self, request: Request<pb::GetBoardRequest>) -> Reply<pb::Board> {
        let caller = Caller::of(&request)?;
        reply(self.get_board(&caller, request.into_inner()).await)
    }

    async fn list_pinned_boards(
        &self,
        request: Request<pb::ListPinnedBoardsRequest>,
    ) -> Reply<pb::ListPinnedBoardsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_pinned_boards(&caller).await)
    }

    async fn pin_board(&self, request: Request<pb::PinBoardRequest>) -> Reply<pb::Board> {
        let caller = Caller::of(&request)?;
        reply(self.pin_board(&caller, request.into_inner()).await)
    }

    async fn unpin_board(&self, request: Request<pb::UnpinBoardRequest>) -> Reply<()> {
        let caller = Caller::of(&request)?;
        reply(self.unpin_board(&caller, request.into_inner()).await)
    }

    async fn list_posts(&self, request: Request<pb::ListPostsRequest>) -> Reply<pb::ListPostsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_posts(&caller, request.into_inner()).await)
    }

    async fn create_post(&self, request: Request<pb::CreatePostRequest>) -> Reply<pb::Post> {
        let caller = Caller::of(&request)?;
        reply(self.create_post(&caller, request.into_inner()).await)
    }

    async fn get_post(&self, request: Request<pb::GetPostRequest>) -> Reply<pb::Post> {
        let caller = Caller::of(&request)?;
        reply(self.get_post(&caller, request.into_inner()).await)
    }

    async fn update_post(&self, request: Request<pb::UpdatePostRequest>) -> Reply<pb::Post> {
        let caller = Caller::of(&request)?;
        reply(self.update_post(&caller, request.into_inner()).await)
    }

    async fn delete_post(&self, request: Request<pb::DeletePostRequest>) -> Reply<()> {
        let caller = Caller::of(&request)?;
        reply(self.delete_post(&caller, request.into_inner()).await)
    }

    async fn like_post(&self, request: Request<pb::LikePostRequest>) -> Reply<pb::Post> {
        let caller = Caller::of(&request)?;
        reply(self.like_post(&caller, request.into_inner()).await)
    }

    async fn scrap_post(&self, request: Request<pb::ScrapPostRequest>) -> Reply<pb::Post> {
        let caller = Caller::of(&request)?;
        reply(self.scrap_post(&caller, request.into_inner()).await)
    }

    /// Idempotent, like the HTTP DELETE it backs: removing a scrap that is not there succeeds.
    async fn unscrap_post(&self, request: Request<pb::UnscrapPostRequest>) -> Reply<pb::Post> {
        let caller = Caller::of(&request)?;
        reply(self.unscrap_post(&caller, request.into_inner()).await)
    }

    async fn list_scraps(&self, request: Request<pb::ListScrapsRequest>) -> Reply<pb::ListScrapsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_scraps(&caller, request.into_inner()).await)
    }

    async fn list_hot_posts(
        &self,
        request: Request<pb::ListHotPostsRequest>,
    ) -> Reply<pb::ListHotPostsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_hot_posts(&caller, request.into_inner()).await)
    }

    async fn list_best_posts(
        &self,
        request: Request<pb::ListBestPostsRequest>,
    ) -> Reply<pb::ListBestPostsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_best_posts(&caller, request.into_inner()).await)
    }

    async fn search_posts(&self, request: Request<pb::SearchPostsRequest>) -> Reply<pb::SearchPostsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.search_posts(&caller, request.into_inner()).await)
    }

    async fn report_post(&self, request: Request<pb::ReportPostRequest>) -> Reply<()> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        reply(self.report(&caller, store::Reported::Post, req.id, &req.reason).await)
    }

    async fn list_my_posts(
        &self,
        request: Request<pb::ListMyPostsRequest>,
    ) -> Reply<pb::ListMyPostsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_my_posts(&caller, request.into_inner()).await)
    }

    async fn list_my_commented_posts(
        &self,
        request: Request<pb::ListMyCommentedPostsRequest>,
    ) -> Reply<pb::ListMyCommentedPostsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_my_commented_posts(&caller, request.into_inner()).await)
    }

    async fn list_comments(
        &self,
        request: Request<pb::ListCommentsRequest>,
    ) -> Reply<pb::ListCommentsResponse> {
        let caller = Caller::of(&request)?;
        reply(self.list_comments(&caller, request.into_inner()).await)
    }

    async fn create_comment(&self, request: Request<pb::CreateCommentRequest>) -> Reply<pb::Comment> {
        let caller = Caller::of(&request)?;
        reply(self.create_comment(&caller, request.into_inner()).await)
    }

    async fn delete_comment(&self, request: Request<pb::DeleteCommentRequest>) -> Reply<()> {
        let caller = Caller::of(&request)?;
        reply(self.delete_comment(&caller, request.into_inner()).await)
    }

    async fn like_comment(&self, request: Request<pb::LikeCommentRequest>) -> Reply<pb::Comment> {
        let caller = Caller::of(&request)?;
        reply(self.like_comment(&caller, request.into_inner()).await)
    }

    async fn report_comment(&self, request: Request<pb::ReportCommentRequest>) -> Reply<()> {
        let caller = Caller::of(&request)?;
        let req = request.into_inner();
        reply(self.report(&caller, store::Reported::Comment, req.id, &req.reason).await)
    }

    async fn upload_photo(&self, request: Request<pb::UploadPhotoRequest>) -> Reply<pb::Photo> {
        let caller = Caller::of(&request)?;
        reply(self.upload_photo(&caller, request.into_inner()).await)
    }

    async fn get_photo(&self, request: Request<pb::GetPhotoRequest>) -> Reply<HttpBody> {
        let caller = Caller::of(&request)?;
        let mut response = reply(self.get_photo(&caller, request.into_inner()).await)?;
        photos::serve_as_picture(&mut response);
        Ok(response)
    }
}

#[tonic::async_trait]
impl BoardInternalService for BoardApi {
    /// Only for the forwarded caller's school; deleted content is NOT_FOUND.
    async fn get_content_author(
        &self,
        request: Request<pb::GetContentAuthorRequest>,
    ) -> Reply<pb::GetContentAuthorResponse> {
        let caller = Caller::of(&request)?;
        reply(self.get_content_author(&caller, request.into_inner()).await)
    }
}
