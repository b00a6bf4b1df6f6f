//! Boards: list, create, read, and the caller's pins.

use campus_proto::board::v1 as pb;
use campus_shared::db::{now_micros, timestamp};
use campus_shared::error::{Error, Result};
use campus_shared::id::next_id;
use campus_shared::identity::Caller;
use campus_shared::page::page_size;

use super::{BoardApi, board_proto};
use crate::{domain, store};

impl BoardApi {
    pub(super) async fn list_boards(
        &self,
        caller: &Caller,
        req: pb::ListBoardsRequest,
    ) -> Result<pb::ListBoardsResponse> {
        let size = page_size(req.page_size)?;
        let pool = &self.db().pool;
        let (rows, next_page_token) = self
            .page(
                &format!("boards:{}", caller.school_id),
                size,
                &req.page_token,
                0,
                |after, limit| store::list_boards(pool, caller.user_id, caller.school_id, after, limit),
                |b| b.id,
            )
            .await?;
        Ok(pb::ListBoardsResponse { boards: rows.into_iter().map(board_proto).collect(), next_page_token })
    }

    pub(super) async fn create_board(
        &self,
        caller: &Caller,
        req: pb::CreateBoardRequest,
    ) -> Result<pb::Board> {
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
        let mut tx = self.db().begin_write().await?;
        if !store::insert_board(&mut tx, &row).await? {
            return Err(domain::board_name_taken());
        }
        tx.commit().await?;
        Ok(pb::Board {
            id: row.id,
            school_id: row.school_id,
            name: board.name.clone(),
            description: board.description.clone(),
            category: board.category as i32,
            hot_disabled: board.hot_disabled,
            pinned: false,
            created_at: Some(timestamp(row.created_at)),
        })
    }

    pub(super) async fn get_board(&self, caller: &Caller, req: pb::GetBoardRequest) -> Result<pb::Board> {
        let id = domain::id("id", req.id)?;
        let row = store::get_board(&self.db().pool, caller.user_id, caller.school_id, id)
            .await?
            .ok_or(Error::NotFound("board"))?;
        Ok(board_proto(row))
    }

    pub(super) async fn list_pinned_boards(&self, caller: &Caller) -> Result<pb::ListPinnedBoardsResponse> {
        let rows = store::list_pinned_boards(&self.db().pool, caller.user_id, caller.school_id).await?;
        Ok(pb::ListPinnedBoardsResponse { boards: rows.into_iter().map(board_proto).collect() })
    }

    pub(super) async fn pin_board(&self, caller: &Caller, req: pb::PinBoardRequest) -> Result<pb::Board> {
        let id = domain::id("boardId", req.board_id)?;
        self.board_info(caller.school_id, id).await?;
        let mut tx = self.db().begin_write().await?;
        store::pin_board(&mut tx, caller.user_id, id, now_micros()).await?;
        tx.commit().await?;
        let row = store::get_board(&self.db().pool, caller.user_id, caller.school_id, id)
            .await?
            .ok_or(Error::NotFound("board"))?;
        Ok(board_proto(row))
    }

    pub(super) async fn unpin_board(&self, caller: &Caller, req: pb::UnpinBoardRequest) -> Result<()> {
        let id = domain::id("boardId", req.board_id)?;
        self.board_info(caller.school_id, id).await?;
        let mut tx = self.db().begin_write().await?;
        store::unpin_board(&mut tx, caller.user_id, id).await?;
        tx.commit().await?;
        Ok(())
    }
}
