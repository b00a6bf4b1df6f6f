//! Access tokens the gateway never issued (DESIGN §10): signed with the real key, but
//! issued in the future or living longer than the gateway's 15 minutes, they are refused.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use campus_shared::identity::{ACCESS_TOKEN_TTL, Caller, Role};
use campus_testkit::backends;
use reqwest::StatusCode;

use crate::harness::Hostile;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_from_the_future_or_for_too_long_are_refused() {
    for backend in backends() {
        let sys = Hostile::start(backend).await;
        let caller = Caller { user_id: 1, school_id: 1, role: Role::Admin, nickname: "관리자".into() };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
        let issuer = &sys.system.issuer;
        let mut client = sys.client(2);
        let cases = [
            (issuer.issue_with(&caller, now, ACCESS_TOKEN_TTL).unwrap(), StatusCode::OK),
            (
                issuer.issue_with(&caller, now + 3600, Duration::from_secs(60)).unwrap(),
                StatusCode::UNAUTHORIZED,
            ),
            (
                issuer.issue_with(&caller, now, Duration::from_secs(30 * 24 * 3600)).unwrap(),
                StatusCode::UNAUTHORIZED,
            ),
        ];
        for (token, expected) in cases {
            client.token = Some(token);
            let answer = client.get("/v1/boards").await;
            assert_eq!(answer.status, expected, "{backend:?}: {answer:?}");
        }
        sys.stop().await;
    }
}
