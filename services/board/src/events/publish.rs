//! The events board publishes. Each function appends to the outbox in the caller's
//! transaction (the one of the change); the caller wakes the feed after its commit.
//!
//! The events carry user ids even of anonymous writers: they travel only between services
//! (the gateway never routes the feed), and consumers use them to decide whom to notify, never
//! to name anyone.

use campus_proto::board::v1::{
    CommentCreated, CommentRemoved, PostPromoted, PostRemoved, Promotion, Removal,
};
use campus_shared::db::timestamp;
use campus_shared::events::Outbox;
use sqlx::AnyConnection;

use crate::domain::{self, Promotions};
use crate::store::events::post_facts;

/// A comment just written, as its transaction knows it.
#[derive(Debug)]
pub(crate) struct NewComment<'a> {
    pub(crate) comment_id: i64,
    pub(crate) post_id: i64,
    /// The writer.
    pub(crate) author_id: i64,
    /// For a reply: the comment it attaches to (the top of its thread) and that one's author.
    pub(crate) parent: Option<(i64, i64)>,
    pub(crate) content: &'a str,
    pub(crate) now: i64,
}

/// `CommentCreated`, for every comment and reply, anonymous or not.
pub(crate) async fn comment_created(
    tx: &mut AnyConnection,
    c: &NewComment<'_>,
) -> campus_shared::error::Result<()> {
    let post = post_facts(tx, c.post_id).await?;
    let event = CommentCreated {
        comment_id: c.comment_id,
        post_id: c.post_id,
        board_id: post.board_id,
        board_name: post.board_name,
        school_id: post.school_id,
        author_id: c.author_id,
        post_author_id: post.author_id,
        parent_comment_id: c.parent.map(|(id, _)| id),
        parent_author_id: c.parent.map(|(_, author)| author),
        preview: domain::preview(c.content),
        created_at: Some(timestamp(c.now)),
    };
    Outbox::append(tx, &event, c.now).await?;
    Ok(())
}

/// One `PostPromoted` per stamp a like set (HOT before BEST when one like sets both).
pub(crate) async fn post_promoted(
    tx: &mut AnyConnection,
    post_id: i64,
    promotions: Promotions,
    now: i64,
) -> campus_shared::error::Result<()> {
    if !promotions.any() {
        return Ok(());
    }
    let post = post_facts(tx, post_id).await?;
    for (due, promotion) in [(promotions.hot, Promotion::Hot), (promotions.best, Promotion::Best)] {
        if !due {
            continue;
        }
        let event = PostPromoted {
            post_id,
            board_id: post.board_id,
            board_name: post.board_name.clone(),
            school_id: post.school_id,
            author_id: post.author_id,
            promotion: promotion as i32,
            preview: domain::preview(&post.title),
            promoted_at: Some(timestamp(now)),
        };
        Outbox::append(tx, &event, now).await?;
    }
    Ok(())
}

/// `PostRemoved`: deleted by its author, or hidden by the report that reached the limit.
pub(crate) async fn post_removed(
    tx: &mut AnyConnection,
    post_id: i64,
    board_id: i64,
    removal: Removal,
    now: i64,
) -> campus_shared::error::Result<()> {
    let event = PostRemoved { post_id, board_id, removal: removal as i32, removed_at: Some(timestamp(now)) };
    Outbox::append(tx, &event, now).await?;
    Ok(())
}

/// `CommentRemoved`: deleted by its author, or hidden by the report that reached the limit.
pub(crate) async fn comment_removed(
    tx: &mut AnyConnection,
    comment_id: i64,
    post_id: i64,
    removal: Removal,
    now: i64,
) -> campus_shared::error::Result<()> {
    let event =
        CommentRemoved { comment_id, post_id, removal: removal as i32, removed_at: Some(timestamp(now)) };
    Outbox::append(tx, &event, now).await?;
    Ok(())
}
