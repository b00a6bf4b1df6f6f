//! The caller's and the school's lists of posts: scraps, my posts, commented posts, HOT, BEST
//! and search.

use campus_proto::board::v1 as pb;
use campus_shared::error::{Error, Result};
use campus_shared::identity::Caller;
use campus_shared::page::page_size;

use super::{BoardApi, posts};
use crate::domain::search::SearchQuery;
use crate::store::{self, MyList, Ranking};

impl BoardApi {
    /// One page of a search (school-wide or one board's), with the token of the next one.
    pub(super) async fn search(
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
        let mut found = self
            .inner
            .searches
            .search_posts(caller.user_id, caller.school_id, scope, query, before, size + 1)
            .await?;
        let mut next = self.tokens().next(&scope_key, &mut found.rows, size, |r| r.id);
        if let (true, Some(below)) = (next.is_empty(), found.resume_below) {
            next = self.tokens().encode(&scope_key, &below);
        }
        Ok((posts(found.rows, caller.user_id), next))
    }

    pub(super) async fn search_posts(
        &self,
        caller: &Caller,
        req: pb::SearchPostsRequest,
    ) -> Result<pb::SearchPostsResponse> {
        let size = page_size(req.page_size)?;
        let query = SearchQuery::parse("query", &req.query)?;
        let scope = store::search::Scope::School(caller.school_id);
        let (posts, next_page_token) = self.search(caller, scope, &query, size, &req.page_token).await?;
        Ok(pb::SearchPostsResponse { posts, next_page_token })
    }

    async fn ranked(
        &self,
        caller: &Caller,
        ranking: Ranking,
        size: i32,
        token: &str,
    ) -> Result<(Vec<pb::Post>, String)> {
        let size = page_size(size)?;
        let pool = &self.db().pool;
        let (rows, next) = self
            .page(
                &format!("{ranking:?}:{}", caller.school_id),
                size,
                token,
                (i64::MAX, i64::MAX),
                |cursor, limit| {
                    store::list_ranked(pool, caller.user_id, caller.school_id, ranking, cursor, limit)
                },
                |r| {
                    let at = match ranking {
                        Ranking::Hot => r.hot_at,
                        Ranking::Best => r.best_at,
                    };
                    (at.unwrap_or_default(), r.id)
                },
            )
            .await?;
        Ok((posts(rows, caller.user_id), next))
    }

    pub(super) async fn list_hot_posts(
        &self,
        caller: &Caller,
        req: pb::ListHotPostsRequest,
    ) -> Result<pb::ListHotPostsResponse> {
        let (posts, next_page_token) =
            self.ranked(caller, Ranking::Hot, req.page_size, &req.page_token).await?;
        Ok(pb::ListHotPostsResponse { posts, next_page_token })
    }

    pub(super) async fn list_best_posts(
        &self,
        caller: &Caller,
        req: pb::ListBestPostsRequest,
    ) -> Result<pb::ListBestPostsResponse> {
        let (posts, next_page_token) =
            self.ranked(caller, Ranking::Best, req.page_size, &req.page_token).await?;
        Ok(pb::ListBestPostsResponse { posts, next_page_token })
    }

    /// One page of one of the caller's own lists.
    async fn mine(
        &self,
        caller: &Caller,
        list: MyList,
        size: i32,
        token: &str,
    ) -> Result<(Vec<pb::Post>, String)> {
        let size = page_size(size)?;
        let name = match list {
            MyList::Posts => "my-posts",
            MyList::Commented => "commented",
            MyList::Scraps => "scraps",
        };
        let pool = &self.db().pool;
        let (rows, next) = self
            .page(
                &format!("{name}:{}", caller.user_id),
                size,
                token,
                i64::MAX,
                |before, limit| store::list_mine(pool, caller.user_id, caller.school_id, list, before, limit),
                |r| r.position_in(list),
            )
            .await?;
        Ok((posts(rows, caller.user_id), next))
    }

    pub(super) async fn list_scraps(
        &self,
        caller: &Caller,
        req: pb::ListScrapsRequest,
    ) -> Result<pb::ListScrapsResponse> {
        let (posts, next_page_token) =
            self.mine(caller, MyList::Scraps, req.page_size, &req.page_token).await?;
        Ok(pb::ListScrapsResponse { posts, next_page_token })
    }

    pub(super) async fn list_my_posts(
        &self,
        caller: &Caller,
        req: pb::ListMyPostsRequest,
    ) -> Result<pb::ListMyPostsResponse> {
        let (posts, next_page_token) =
            self.mine(caller, MyList::Posts, req.page_size, &req.page_token).await?;
        Ok(pb::ListMyPostsResponse { posts, next_page_token })
    }

    pub(super) async fn list_my_commented_posts(
        &self,
        caller: &Caller,
        req: pb::ListMyCommentedPostsRequest,
    ) -> Result<pb::ListMyCommentedPostsResponse> {
        let (posts, next_page_token) =
            self.mine(caller, MyList::Commented, req.page_size, &req.page_token).await?;
        Ok(pb::ListMyCommentedPostsResponse { posts, next_page_token })
    }
}
