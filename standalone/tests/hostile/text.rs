//! Text with NUL and other control characters (DESIGN §10): INVALID_ARGUMENT naming the
//! field in every service, not an error from PostgreSQL, which cannot store NUL.

use campus_testkit::backends;
use campus_testkit::status::json::HttpAnswer;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::Hostile;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_are_a_400_naming_the_field_in_every_service() {
    for backend in backends() {
        let sys = Hostile::start(backend).await;
        sys.sign_up(2, "sora01").await;
        let sora = sys.client(2).signed_in("sora01").await;
        let board = sora.get("/v1/boards").await.json()["boards"][0]["id"].as_str().unwrap().to_string();

        let post = json!({"title": "제목\u{0}", "content": "본문", "anonymous": false});
        let refused = sora.json(Method::POST, &format!("/v1/boards/{board}/posts"), post).await;
        refused.refused(400, "INVALID_ARGUMENT");
        assert_eq!(refused.fields(), ["title"], "{backend:?}");

        let nickname = sora.json(Method::PATCH, "/v1/users/me", json!({"nickname": "소라\u{1b}[2J"})).await;
        nickname.refused(400, "INVALID_ARGUMENT");
        assert_eq!(nickname.fields(), ["nickname"]);

        let timetable = json!({"year": 2026, "semester": "SEMESTER_FALL", "name": "시간표\u{0}"});
        let refused = sora.json(Method::POST, "/v1/timetables", timetable).await;
        refused.refused(400, "INVALID_ARGUMENT");
        assert_eq!(refused.fields(), ["name"]);

        let post = json!({"title": "멀쩡한 글", "content": "본문", "anonymous": true});
        let post = sora.json(Method::POST, &format!("/v1/boards/{board}/posts"), post).await;
        assert_eq!(post.status, StatusCode::CREATED, "{post:?}");
        let comment = json!({"content": "댓글\u{0}", "anonymous": true});
        let post_id = post.json()["id"].as_str().unwrap().to_string();
        let refused = sora.json(Method::POST, &format!("/v1/posts/{post_id}/comments"), comment).await;
        refused.refused(400, "INVALID_ARGUMENT");
        assert_eq!(refused.fields(), ["content"]);

        sys.sign_up(4, "hana01").await;
        let hana = sys.client(4).signed_in("hana01").await;
        let message = json!({"postId": post_id, "anonymous": true, "content": "안녕\u{0}"});
        let refused = hana.json(Method::POST, "/v1/conversations", message).await;
        refused.refused(400, "INVALID_ARGUMENT");
        assert_eq!(refused.fields(), ["content"]);
        sys.stop().await;
    }
}
