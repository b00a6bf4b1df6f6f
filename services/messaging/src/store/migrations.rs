//! sqlx's record of the migrations applied (`_sqlx_migrations`), for renumbering them.

use campus_shared::Result;
use campus_shared::db::Backend;
use sqlx::AnyConnection;

/// Whether the database has sqlx's record, i.e. was migrated before.
pub(crate) async fn record_exists(conn: &mut AnyConnection, backend: Backend) -> Result<bool> {
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
        }
    };
    let tables: i64 = sqlx::query_scalar(sql).fetch_one(conn).await?;
    Ok(tables > 0)
}

/// Records the applied migration `from` as version `to` (nothing when `from` is not there).
pub(crate) async fn renumber(conn: &mut AnyConnection, from: i64, to: i64) -> Result<()> {
    sqlx::query("UPDATE _sqlx_migrations SET version = $2 WHERE version = $1")
        .bind(from)
        .bind(to)
        .execute(conn)
        .await?;
    Ok(())
}
