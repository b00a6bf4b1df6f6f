//! What timetable keeps of a deleted account, changed when the account feed says so.

use sqlx::AnyConnection;

/// A deleted account (DESIGN §7): its timetables (with their lectures and custom entries)
/// and its grades go; its reviews stay in the lectures' ratings but lose their author. A
/// review's author becomes minus the review's id: no user has that id, and the one review
/// per user and lecture index still holds. Applying it twice changes nothing more.
pub(crate) async fn forget_account(tx: &mut AnyConnection, user_id: i64) -> Result<(), sqlx::Error> {
    for sql in [
        "DELETE FROM timetable_lecture WHERE timetable_id IN (SELECT id FROM timetable WHERE user_id = $1)",
        "DELETE FROM custom_entry WHERE timetable_id IN (SELECT id FROM timetable WHERE user_id = $1)",
        "DELETE FROM timetable WHERE user_id = $1",
        "DELETE FROM grade_course WHERE user_id = $1",
        "DELETE FROM grade_semester WHERE user_id = $1",
        "UPDATE review SET user_id = 0 - id WHERE user_id = $1",
    ] {
        sqlx::query(sql).bind(user_id).execute(&mut *tx).await?;
    }
    Ok(())
}
