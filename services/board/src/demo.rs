//! For the standalone demo seed only. The seed writes a school's week of posts through the
//! board API, so every rule holds, but it does so in a second; [`spread_over_past`] then moves
//! the school's post and comment times back over the past `span`, oldest id first, so a new demo
//! campus reads like one that has been in use. Only times move: ids, and so every list's order,
//! stay as they were; a post's comments and HOT/BEST times stay after the post.

use campus_shared::config::DatabaseConfig;
use campus_shared::db::{self, Migrations};

use crate::startup::{POSTGRES, SQLITE};

/// Spreads the school's posts (and their comments, HOT and BEST times) evenly over the `span`
/// (microseconds) before their creation: the first post moves back the whole span, the last
/// one a span/n. Comments and HOT/BEST times move back four fifths as far as their post.
pub async fn spread_over_past(database: &DatabaseConfig, school_id: i64, span: i64) -> anyhow::Result<()> {
    let db = db::connect(database, Migrations { sqlite: &SQLITE, postgres: &POSTGRES }).await?;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM post WHERE school_id = $1 ORDER BY id")
        .bind(school_id)
        .fetch_all(&db.pool)
        .await?;
    let n = i64::try_from(ids.len())?.max(1);
    let mut tx = db.begin_write().await?;
    for (i, id) in (0_i64..).zip(&ids) {
        let back = span / n * (n - i);
        let later = back / 5 * 4;
        sqlx::query(
            "UPDATE post SET created_at = created_at - $2, updated_at = updated_at - $2, \
             hot_at = hot_at - $3, best_at = best_at - $3 WHERE id = $1",
        )
        .bind(*id)
        .bind(back)
        .bind(later)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE comment SET created_at = created_at - $2 WHERE post_id = $1")
            .bind(*id)
            .bind(later)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    db.pool.close().await;
    Ok(())
}
