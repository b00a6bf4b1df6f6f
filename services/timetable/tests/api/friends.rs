//! Friends' timetables: the primary one, for friends only, checked through the account service.

use campus_proto::timetable::v1::{AddTimetableLectureRequest, GetFriendTimetableRequest, Timetable};
use campus_testkit::fakes::Directory;
use campus_testkit::{TestIdentity, backends, dead_url};
use tonic::{Code, Status};

use crate::helpers::*;
use campus_testkit::status::*;

const ALICE: i64 = 21;
const BOB: i64 = 22;
const EVE: i64 = 23;

fn friend_request(user_id: i64) -> GetFriendTimetableRequest {
    GetFriendTimetableRequest { user_id, year: YEAR, semester: FALL }
}

/// `owner`'s primary timetable of the fall, as `viewer` asks for it.
async fn friend_timetable(app: &TestApp, owner: i64, viewer: i64) -> Result<Timetable, Status> {
    let request = app.req(friend_request(owner), viewer);
    app.client().get_friend_timetable(request).await.map(|r| r.into_inner())
}

#[tokio::test]
async fn friends_see_the_primary_timetable_and_nobody_else_does() {
    each_backend(|app| async move {
        app.import(SCHOOL, YEAR, FALL, CATALOG).await.unwrap();
        let ds = app.lecture("CSE2010").await;
        let primary = app.create_timetable(ALICE, YEAR, FALL, "").await;
        let secret = app.create_timetable(ALICE, YEAR, FALL, "secret plan").await;
        let add = AddTimetableLectureRequest { timetable_id: primary.id, lecture_id: ds.id };
        app.client().add_timetable_lecture(app.req(add, ALICE)).await.unwrap();
        app.befriend(ALICE, BOB);

        let seen = friend_timetable(&app, ALICE, BOB).await.unwrap();
        assert_eq!(seen.id, primary.id);
        assert_eq!(seen.lectures.len(), 1);
        assert_eq!(seen.total_credits, 3);

        // A stranger learns nothing, not even that the timetable exists.
        let err = friend_timetable(&app, ALICE, EVE).await.unwrap_err();
        assert_status(&err, Code::NotFound, "NOT_FOUND");
        let err = friend_timetable(&app, 999, EVE).await.unwrap_err();
        assert_status(&err, Code::NotFound, "NOT_FOUND");

        // Friends follow the primary when it changes.
        let make_primary = campus_proto::timetable::v1::UpdateTimetableRequest {
            id: secret.id,
            name: None,
            primary: Some(true),
        };
        app.client().update_timetable(app.req(make_primary, ALICE)).await.unwrap();
        let seen = friend_timetable(&app, ALICE, BOB).await.unwrap();
        assert_eq!(seen.id, secret.id);

        // A friend without a timetable that semester.
        let spring = GetFriendTimetableRequest { semester: SPRING, ..friend_request(ALICE) };
        let err = app.client().get_friend_timetable(app.req(spring, BOB)).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound);

        // Your own primary needs no friendship.
        let own = friend_timetable(&app, ALICE, ALICE).await.unwrap();
        assert_eq!(own.id, secret.id);

        let bad = GetFriendTimetableRequest { year: 0, ..friend_request(ALICE) };
        let err = app.client().get_friend_timetable(app.req(bad, BOB)).await.unwrap_err();
        assert_eq!(violated_fields(&err), ["year"]);
    })
    .await;
}

#[tokio::test]
async fn account_service_down_is_unavailable() {
    for backend in backends() {
        let app = spawn_app_with(backend, TestIdentity::new(), Directory::default(), dead_url().await).await;
        app.create_timetable(ALICE, YEAR, FALL, "").await;
        let err = friend_timetable(&app, ALICE, BOB).await.unwrap_err();
        assert_status(&err, Code::Unavailable, "UNAVAILABLE");
    }
}
