use campus_proto::board::v1 as pb;
use tonic::Code;

use crate::helpers::*;
use campus_testkit::status::*;

#[tokio::test]
async fn boards_are_created_listed_and_read_within_the_school() {
    each_backend(|app| async move {
        let free = app.board(1, "자유게시판").await;
        assert_eq!((free.school_id, free.name.as_str()), (SCHOOL, "자유게시판"));
        assert_eq!(free.category, pb::BoardCategory::General as i32);
        let market = app.board(2, "장터").await;
        app.board_in(3, OTHER_SCHOOL, "다른 학교", false).await;

        let got = app
            .client()
            .get_board(app.req(pb::GetBoardRequest { id: free.id }, 2))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.name, "자유게시판");

        // Paging through one board at a time sees this school's boards only, in order.
        let mut names = Vec::new();
        let mut page_token = String::new();
        loop {
            let request = pb::ListBoardsRequest { page_size: 1, page_token };
            let page = app.client().list_boards(app.req(request, 1)).await.unwrap().into_inner();
            names.extend(page.boards.into_iter().map(|b| b.id));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(names, vec![free.id, market.id], "{:?}", app.backend);

        let other =
            app.client().get_board(app.req_in(pb::GetBoardRequest { id: free.id }, 3, OTHER_SCHOOL)).await;
        assert_error(other, Code::NotFound, "NOT_FOUND");
    })
    .await;
}

#[tokio::test]
async fn board_names_are_unique_per_school_and_fields_are_checked() {
    each_backend(|app| async move {
        app.board(1, "자유게시판").await;
        let again = pb::CreateBoardRequest {
            name: "자유게시판".into(),
            category: pb::BoardCategory::Secret as i32,
            ..Default::default()
        };
        assert_error(
            app.client().create_board(app.req(again.clone(), 2)).await,
            Code::AlreadyExists,
            "BOARD_NAME_TAKEN",
        );
        // Another school may use the same name.
        app.client().create_board(app.req_in(again, 3, OTHER_SCHOOL)).await.expect("other school");

        let bad = pb::CreateBoardRequest {
            name: "가".repeat(31),
            description: "d".repeat(201),
            category: 0,
            hot_disabled: false,
        };
        let status = app.client().create_board(app.req(bad, 1)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(bad_fields(&status), ["name", "description", "category"]);
        let listed = app
            .client()
            .list_boards(app.req(pb::ListBoardsRequest::default(), 1))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(listed.boards.len(), 1, "nothing half-written");
    })
    .await;
}

#[tokio::test]
async fn pinned_boards_are_per_user_and_marked_everywhere() {
    each_backend(|app| async move {
        let a = app.board(1, "A").await;
        let b = app.board(1, "B").await;
        let pinned = app
            .client()
            .pin_board(app.req(pb::PinBoardRequest { board_id: b.id }, 7))
            .await
            .unwrap()
            .into_inner();
        assert!(pinned.pinned);
        // Pinning twice is harmless.
        app.client().pin_board(app.req(pb::PinBoardRequest { board_id: b.id }, 7)).await.unwrap();

        let mine = pinned_ids(&app, 7).await;
        assert_eq!(mine, [b.id]);
        let theirs = pinned_ids(&app, 8).await;
        assert!(theirs.is_empty());

        let listed = app
            .client()
            .list_boards(app.req(pb::ListBoardsRequest::default(), 7))
            .await
            .unwrap()
            .into_inner();
        let flags: Vec<(i64, bool)> = listed.boards.iter().map(|b| (b.id, b.pinned)).collect();
        assert_eq!(flags, [(a.id, false), (b.id, true)]);
        let got =
            app.client().get_board(app.req(pb::GetBoardRequest { id: b.id }, 7)).await.unwrap().into_inner();
        assert!(got.pinned);
        let got =
            app.client().get_board(app.req(pb::GetBoardRequest { id: b.id }, 8)).await.unwrap().into_inner();
        assert!(!got.pinned);

        app.client().unpin_board(app.req(pb::UnpinBoardRequest { board_id: b.id }, 7)).await.unwrap();
        let mine = pinned_ids(&app, 7).await;
        assert!(mine.is_empty());

        let other =
            app.client().pin_board(app.req_in(pb::PinBoardRequest { board_id: a.id }, 9, OTHER_SCHOOL)).await;
        assert_error(other, Code::NotFound, "NOT_FOUND");
    })
    .await;
}

#[tokio::test]
async fn calls_without_a_token_are_unauthenticated() {
    each_backend(|app| async move {
        let status = app.client().list_boards(pb::ListBoardsRequest::default()).await.unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
        let mut forged = tonic::Request::new(pb::ListBoardsRequest::default());
        forged.metadata_mut().insert("authorization", "Bearer not.a.token".parse().unwrap());
        assert_eq!(app.client().list_boards(forged).await.unwrap_err().code(), Code::Unauthenticated);
    })
    .await;
}

#[tokio::test]
async fn bad_page_tokens_are_refused() {
    each_backend(|app| async move {
        let board = app.board(1, "A").await;
        let other = app.board(1, "B").await;
        for i in 0..3 {
            app.post(1, board.id, &format!("p{i}"), false).await;
        }
        let request = pb::ListBoardsRequest { page_size: 1, page_token: "garbage".into() };
        let status = app.client().list_boards(app.req(request, 1)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(bad_fields(&status), ["pageToken"]);

        // A token of one board's list is not valid for another board.
        let first = pb::ListPostsRequest { board_id: board.id, page_size: 1, ..Default::default() };
        let token = app.client().list_posts(app.req(first, 1)).await.unwrap().into_inner().next_page_token;
        assert!(!token.is_empty());
        let request = pb::ListPostsRequest {
            board_id: other.id,
            page_size: 1,
            page_token: token,
            ..Default::default()
        };
        let status = app.client().list_posts(app.req(request, 1)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let request = pb::ListPostsRequest { board_id: board.id, page_size: -1, ..Default::default() };
        assert_eq!(
            app.client().list_posts(app.req(request, 1)).await.unwrap_err().code(),
            Code::InvalidArgument
        );
    })
    .await;
}

/// The ids of the boards `user_id` pinned, in the order listed.
async fn pinned_ids(app: &TestApp, user_id: i64) -> Vec<i64> {
    let request = app.req(pb::ListPinnedBoardsRequest {}, user_id);
    let page = app.client().list_pinned_boards(request).await.unwrap().into_inner();
    page.boards.iter().map(|b| b.id).collect()
}
