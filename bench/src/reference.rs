//! R2: pgbench scripts that run exactly the SQL a workload's RPC issues (the statements are
//! the services' own, taken from their `reference` modules, the only thing this crate takes
//! from a service besides its binary; placeholders turned into pgbench variables), in the
//! same transactions, on the same rows, at the same concurrency.

use campus_board::reference::{
    APPEND_EVENT_SQL, COUNT_NEW_COMMENT_SQL, INSERT_COMMENT_SQL, INSERT_POST_SQL, LIST_BOARD_POSTS_SQL,
    NEXT_EVENT_POSITION_SQL, POST_FACTS_SQL, VIEWER_FLAGS_SQL, comment_created_event, content_preview,
};
use campus_testkit::bench::pgbench_sql;
use campus_timetable::reference::{
    DELETE_TIMETABLE_LECTURE_SQL, INSERT_TIMETABLE_LECTURE_SQL, LECTURE_IN_SCHOOL_SQL, LOCK_TIMETABLE_PG_SQL,
    TOUCH_TIMETABLE_SQL, VIEW_ENTRIES_SQL, VIEW_LECTURES_SQL,
};

use crate::layout::Layout;
use crate::workloads::{IN_FLIGHT, PAGE, Timetables, comment_text, post_text};

/// A pgbench script and the constants it reads (`-D name=value`).
#[derive(Debug, Clone)]
pub(crate) struct Script {
    pub(crate) text: String,
    pub(crate) defines: Vec<(&'static str, String)>,
}

/// `\set user …` and friends: a random seeded user and board as ids, by the layout's formulas.
fn random_user_and_board(l: &Layout) -> String {
    format!(
        "\\set u random(0, {})\n\\set b random(0, {})\n\\set user {}\n\\set board {}\n",
        l.users - 1,
        l.boards - 1,
        l.sql_user_id(":u"),
        l.sql_board_id(":b"),
    )
}

/// Ids for rows the script inserts: random in a 2^50 range above anything seeded or made by
/// the services so far (a collision among a run's inserts is about one in 10^5).
fn random_id() -> String {
    let low = campus_shared::id::next_id() + (1 << 40);
    format!("\\set id random({low}, {})\n", low + (1 << 50))
}

/// ListPosts' page query as it was before lists carried previews (e546691): whole contents,
/// and each row's likedByMe and scrappedByMe as two correlated sub-queries. Kept verbatim as
/// the baseline "R2 list base" runs on the same rows, so the new SQL is measured against it.
const LIST_BOARD_POSTS_SQL_BEFORE_PREVIEWS: &str = "SELECT p.id, p.board_id, p.author_id, p.author_nickname, \
     p.anonymous, p.title, p.content, p.like_count, p.comment_count, p.scrap_count, p.photo_count, p.hot_at, \
     p.best_at, p.created_at, p.updated_at, \
     (SELECT count(*) FROM post_like l WHERE l.post_id = p.id AND l.user_id = $1) AS liked, \
     (SELECT count(*) FROM post_scrap s WHERE s.post_id = p.id AND s.user_id = $1) AS scrapped \
     FROM post p WHERE p.board_id = $2 AND p.deleted_at IS NULL AND p.report_count < 5 \
     AND p.id < $3 ORDER BY p.id DESC LIMIT $4";

/// ListPosts, first page of a random board as a random user: the statement a call runs when
/// the page's likes and scraps are too many for the service to keep with the page (otherwise
/// a call runs none; the page is read once per board per time to live): the viewer's flags for
/// the page's 21 posts (the board's newest seeded ones).
pub(crate) fn list_posts(l: &Layout) -> Script {
    let names: Vec<String> =
        std::iter::once("user".to_string()).chain((0..21).map(|k| format!("p{k}"))).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let sql = pgbench_sql(VIEWER_FLAGS_SQL, &names);
    // Post number n is on board number (n - 1) % boards.
    let mut text = random_user_and_board(l);
    text +=
        &format!("\\set top {posts} - (({posts} - 1 - :b) % {boards})\n", posts = l.posts, boards = l.boards);
    for k in 0..21 {
        let n = format!(":top - {k} * {}", l.boards);
        text += &format!("\\set p{k} {}\n", l.sql_post_id(&n));
    }
    Script { text: format!("{text}{sql};\n"), defines: Vec::new() }
}

/// "R2 list page": the page query with the viewer's flags, as pages after the first run it.
pub(crate) fn list_posts_page(l: &Layout) -> Script {
    list_posts_with(l, LIST_BOARD_POSTS_SQL)
}

/// "R2 list base": [`list_posts_page`] with the page query from before previews.
pub(crate) fn list_posts_before_previews(l: &Layout) -> Script {
    list_posts_with(l, LIST_BOARD_POSTS_SQL_BEFORE_PREVIEWS)
}

fn list_posts_with(l: &Layout, page_sql: &str) -> Script {
    let sql = pgbench_sql(page_sql, &["user", "board", "before", "page"]);
    Script {
        text: format!("{}{sql};\n", random_user_and_board(l)),
        // The service fetches one row more than the page to know whether another follows.
        defines: vec![("before", i64::MAX.to_string()), ("page", (PAGE + 1).to_string())],
    }
}

/// CreatePost: its one INSERT, a transaction by itself as the service runs it.
pub(crate) fn create_post(l: &Layout) -> Script {
    let sql = pgbench_sql(
        INSERT_POST_SQL,
        &["id", "school", "board", "user", "nickname", "anonymous", "title", "content", "now", "preview"],
    );
    let (title, content) = post_text();
    let preview = content_preview(content);
    Script {
        text: format!("{}{}\\set anonymous random(0, 1)\n{sql};\n", random_user_and_board(l), random_id()),
        defines: vec![
            ("school", l.school_id().to_string()),
            ("nickname", Layout::nickname(0)),
            ("title", title.into()),
            ("content", content.into()),
            ("now", campus_shared::db::now_micros().to_string()),
            ("preview", preview),
        ],
    }
}

/// CreateComment (named, top-level) on a random hot post: the counter update that locks the
/// post row, the INSERT, then its `CommentCreated` event: the post's facts, the feed's next
/// position (which holds the feed's head row until commit) and the outbox row.
pub(crate) fn create_comment(l: &Layout) -> Script {
    let count = pgbench_sql(COUNT_NEW_COMMENT_SQL, &["post", "school"]);
    let insert = pgbench_sql(
        INSERT_COMMENT_SQL,
        &["id", "post", "zero", "id", "user", "nickname", "zero", "zero", "content", "now"],
    );
    let facts = pgbench_sql(POST_FACTS_SQL, &["post"]);
    // `\gset` keeps the returned position in `:position` for the outbox row.
    let position = pgbench_sql(NEXT_EVENT_POSITION_SQL, &[]);
    // The event's id: the comment's (ids are unique per table, and the run's ids do not repeat).
    let append = pgbench_sql(APPEND_EVENT_SQL, &["position", "id", "event_type", "payload", "now"]);
    let (event_type, payload) = comment_created_event(comment_text());
    let hot = l.hot_posts();
    Script {
        text: format!(
            "{}{}\\set h random({}, {})\n\\set post {}\nBEGIN;\n{count};\n{insert};\n{facts};\n\
             {position} \\gset\n{append};\nCOMMIT;\n",
            random_user_and_board(l),
            random_id(),
            hot.start(),
            hot.end(),
            l.sql_post_id(":h"),
        ),
        defines: vec![
            ("school", l.school_id().to_string()),
            ("zero", "0".into()),
            ("nickname", Layout::nickname(0)),
            ("content", comment_text().into()),
            ("now", campus_shared::db::now_micros().to_string()),
            ("event_type", event_type),
            // bytea's hex input form, bound as the statement's parameter (`-M prepared`).
            ("payload", format!("\\x{}", hex(&payload))),
        ],
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `CASE WHEN :var = 0 THEN values[0] … END` (pgbench has no arrays).
fn pick(var: &str, values: &[i64]) -> String {
    let arms: Vec<String> =
        values.iter().enumerate().map(|(i, v)| format!("WHEN :{var} = {i} THEN {v}")).collect();
    format!("CASE {} ELSE {} END", arms.join(" "), values[0])
}

/// AddTimetableLecture as W5 runs it: each client owns a worker's timetable; half the
/// attempts collide (the reads, then ROLLBACK), half fit (the reads, INSERT and touch, then
/// RemoveTimetableLecture's transaction to undo it).
pub(crate) fn add_lecture(l: &Layout, fixture: &Timetables) -> Script {
    let lock = pgbench_sql(LOCK_TIMETABLE_PG_SQL, &["timetable", "owner"]);
    let lecture = pgbench_sql(LECTURE_IN_SCHOOL_SQL, &["lecture", "school"]);
    let view = pgbench_sql(VIEW_LECTURES_SQL, &["timetable"]);
    let entries = pgbench_sql(VIEW_ENTRIES_SQL, &["timetable"]);
    let insert = pgbench_sql(INSERT_TIMETABLE_LECTURE_SQL, &["timetable", "lecture", "now"]);
    let touch = pgbench_sql(TOUCH_TIMETABLE_SQL, &["timetable", "now"]);
    let delete = pgbench_sql(DELETE_TIMETABLE_LECTURE_SQL, &["lecture", "timetable"]);
    let owners: Vec<i64> = fixture.owned.iter().map(|(u, _)| l.user_id(*u)).collect();
    let timetables: Vec<i64> = fixture.owned.iter().map(|(_, t)| *t).collect();
    let conflicting: Vec<i64> = fixture.conflicting.iter().take(32).copied().collect();
    let fitting: Vec<i64> = fixture.fitting.iter().take(32).copied().collect();
    let reads = format!("BEGIN;\n{lock};\n{lecture};\n{view};\n{entries};\n");
    let text = format!(
        "\\set w :client_id % {workers}\n\\set owner {owner}\n\\set timetable {timetable}\n\
         \\set r random(0, 31)\n\\set conflict random(0, 1)\n\
         \\if :conflict\n\\set lecture {c}\n{reads}ROLLBACK;\n\
         \\else\n\\set lecture {f}\n{reads}{insert};\n{touch};\nCOMMIT;\n\
         BEGIN;\n{lock};\n{delete};\n{touch};\n{lock};\n{view};\n{entries};\nCOMMIT;\n\\endif\n",
        workers = fixture.owned.len().min(IN_FLIGHT),
        owner = pick("w", &owners),
        timetable = pick("w", &timetables),
        c = pick("r", &conflicting.iter().cycle().take(32).copied().collect::<Vec<_>>()),
        f = pick("r", &fitting.iter().cycle().take(32).copied().collect::<Vec<_>>()),
    );
    Script {
        text,
        defines: vec![
            ("school", l.school_id().to_string()),
            ("now", campus_shared::db::now_micros().to_string()),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use campus_shared::db::Backend;
    use campus_testkit::bench::pgbench_report;
    use campus_testkit::{TestDatabase, TestIdentity, backends};

    async fn count(conn: &mut sqlx::AnyConnection, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(conn).await.unwrap()
    }

    /// The CreateComment script runs under pgbench on a database the board service migrated,
    /// and each transaction writes what the service's does: a comment, its event in the outbox,
    /// and the feed's head moved along with it.
    /// A board database the board service migrated, seeded at a tiny scale.
    async fn seeded_board_database() -> (TestDatabase, Layout) {
        let db = TestDatabase::new(Backend::Postgres).await;
        let identity = TestIdentity::new();
        let photos = tempfile::tempdir().unwrap();
        let app = campus_board::Application::build(campus_board::Config {
            service: identity.service_config(&db),
            thresholds: Default::default(),
            blob_url: photos.path().display().to_string(),
            account_addr: String::new(),
            feed: Default::default(),
            first_page_ttl: campus_board::Config::FIRST_PAGE_TTL,
        })
        .await
        .unwrap();
        drop(app);
        let layout = Layout { posts: 1_100, ..Layout::new(0.0001, campus_shared::db::now_micros() / 1000) };
        crate::seed::seed_board(&db.url, &layout).await.unwrap();
        (db, layout)
    }

    #[tokio::test]
    async fn the_create_comment_script_runs_on_a_board_database() {
        if !backends().contains(&Backend::Postgres) {
            return;
        }
        let (db, layout) = seeded_board_database().await;
        let mut conn = crate::seed::connect(&db.url).await.unwrap();
        let comments_before = count(&mut conn, "SELECT count(*) FROM comment").await;

        let script = create_comment(&layout);
        let report = pgbench_report(
            "R2 comment",
            &db.url,
            &script.text,
            2,
            std::time::Duration::from_secs(1),
            &script.defines.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>(),
        )
        .unwrap();
        assert_eq!(report.errors, 0);
        assert!(report.requests > 0);

        let comments = count(&mut conn, "SELECT count(*) FROM comment").await - comments_before;
        let events = count(&mut conn, "SELECT count(*) FROM event_outbox").await;
        let head = count(&mut conn, "SELECT position FROM event_feed_head WHERE id = 1").await;
        let typed = count(
            &mut conn,
            "SELECT count(*) FROM event_outbox WHERE event_type = 'campus.board.v1.CommentCreated'",
        )
        .await;
        assert!(comments >= report.requests as i64, "{comments} comments, {report:?}");
        assert_eq!(events, comments);
        assert_eq!(typed, events);
        assert_eq!(head, events);
    }

    /// The ListPosts script asks for the flags of each board's first page: its `\set` lines,
    /// evaluated as SQL, name the board's 21 newest posts.
    #[tokio::test]
    async fn the_list_posts_script_names_a_board_first_page() {
        if !backends().contains(&Backend::Postgres) {
            return;
        }
        let (db, layout) = seeded_board_database().await;
        let mut conn = crate::seed::connect(&db.url).await.unwrap();
        let script = list_posts(&layout);
        for b in [0, 3, layout.boards - 1] {
            let sql = |expression: &str| {
                let top = script.text.lines().find_map(|l| l.strip_prefix("\\set top ")).unwrap();
                let top = top.replace(":b", &format!("({b})"));
                // pgbench computes in 64 bits; PostgreSQL would take the small numbers as int4.
                format!("SELECT {}", expression.replace(":top", &format!("CAST({top} AS BIGINT)")))
            };
            let mut named = Vec::new();
            for k in 0..21 {
                let line = format!("\\set p{k} ");
                let expression = script.text.lines().find_map(|l| l.strip_prefix(line.as_str())).unwrap();
                named.push(count(&mut conn, &sql(expression)).await);
            }
            let newest: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM post WHERE board_id = $1 AND deleted_at IS NULL ORDER BY id DESC LIMIT 21",
            )
            .bind(layout.board_id(b))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            assert_eq!(named, newest, "board {b}");
        }
        let report =
            pgbench_report("R2 list", &db.url, &script.text, 2, std::time::Duration::from_secs(1), &[])
                .unwrap();
        assert_eq!(report.errors, 0);
        assert!(report.requests > 0);
    }
}
