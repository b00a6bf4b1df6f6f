//! A database migrated under messaging's first migration names (timestamp versions) starts
//! under today's (`0001_`, `0010_`, `0011_`) with its data, and starts again after that.

use std::path::Path;

use campus_proto::messaging::v1::NotificationKind;
use campus_shared::db::Backend;
use campus_testkit::{TestDatabase, backends};
use sqlx::AnyPool;
use sqlx::migrate::Migrator;

use crate::helpers::*;

/// Each migration's file as named now, and as it was first named.
const FIRST_NAMES: [(&str, &str); 3] = [
    ("0001_messaging.sql", "20240101000000_messaging.sql"),
    ("0010_account_events.sql", "20261203000000_account_events.sql"),
    ("0011_notifications.sql", "20261204000000_notifications.sql"),
];

const CONVERSATION: i64 = 900;
const MESSAGE: i64 = 901;
const NOTIFICATION: i64 = 902;

/// Migrates `db` as a release before the rename did: today's SQL under the first names,
/// through sqlx's migrator reading them from a folder, as `sqlx::migrate!` read them then.
/// Then writes a conversation between Alice and Bob and a notification of Bob's.
async fn migrate_under_first_names(db: &TestDatabase) {
    let backend = match db.backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let current = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(backend);
    let first = tempfile::tempdir().expect("temp dir");
    for (now, then) in FIRST_NAMES {
        std::fs::copy(current.join(now), first.path().join(then)).expect("copy a migration");
    }
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(&db.url).await.expect("connect");
    Migrator::new(first.path()).await.expect("read the migrations").run(&pool).await.expect("migrate");
    for sql in [
        "INSERT INTO conversation (id, school_id, user_low, user_high, starter_id, recipient_id, \
         origin_kind, origin_id, origin_post_id, anon_key, starter_anonymous, recipient_anonymous, \
         starter_nickname, recipient_nickname, blocked_by, last_message_id, created_at, updated_at) \
         VALUES (900, 1, 1, 2, 1, 2, 0, 0, 0, 0, 0, 0, 'alice', 'bob', 0, 901, 5, 5)",
        "INSERT INTO participant (conversation_id, user_id, updated_at, unread_count, cleared_through, hidden) \
         VALUES (900, 1, 5, 0, 0, 0)",
        "INSERT INTO participant (conversation_id, user_id, updated_at, unread_count, cleared_through, hidden) \
         VALUES (900, 2, 5, 1, 0, 0)",
        "INSERT INTO message (id, conversation_id, sender_id, content, created_at) \
         VALUES (901, 900, 1, 'from before the rename', 5)",
        "INSERT INTO notification (id, user_id, kind, post_id, comment_id, board_id, board_name, preview, \
         is_read, created_at) VALUES (902, 2, 1, 100, 500, 7, '자유게시판', 'hi', 0, 5)",
    ] {
        sqlx::query(sql).execute(&pool).await.expect("write data");
    }
    pool.close().await;
}

async fn recorded_versions(db: &TestDatabase) -> Vec<i64> {
    let pool = AnyPool::connect(&db.url).await.expect("connect");
    let versions = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&pool)
        .await
        .expect("read the record");
    pool.close().await;
    versions
}

#[tokio::test]
async fn a_database_migrated_under_the_first_names_starts_with_its_data() {
    for backend in backends() {
        let db = TestDatabase::new(backend).await;
        migrate_under_first_names(&db).await;
        let mut app = spawn_app_on(db).await;
        assert_eq!(recorded_versions(&app.db).await, [1, 10, 11], "{backend:?}");

        let inbox = app.inbox(BOB).await;
        assert_eq!(inbox.len(), 1, "{backend:?}: {inbox:?}");
        assert_eq!((inbox[0].id, inbox[0].unread_count), (CONVERSATION, 1));
        let last = inbox[0].last_message.as_ref().expect("the last message");
        assert_eq!((last.id, last.content.as_str()), (MESSAGE, "from before the rename"));
        let (notifications, unread) = app.notifications(BOB).await;
        assert_eq!(notifications.len(), 1, "{backend:?}: {notifications:?}");
        assert_eq!(
            (notifications[0].id, notifications[0].kind(), unread),
            (NOTIFICATION, NotificationKind::Comment, 1)
        );

        // The new schema works on it, and a restart finds nothing left to renumber.
        let sent = app.send(BOB, CONVERSATION, "after the rename").await.expect("send");
        app.stop().await;
        let again = app.replica().await;
        assert_eq!(recorded_versions(&again.db).await, [1, 10, 11], "{backend:?}");
        let page = again.messages(ALICE, CONVERSATION, 10, "").await.expect("messages");
        let ids: Vec<i64> = page.messages.iter().map(|m| m.id).collect();
        assert_eq!(ids, [sent.id, MESSAGE], "{backend:?}");
    }
}
