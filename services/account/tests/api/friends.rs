use campus_proto::account::v1::*;
use campus_testkit::backends;
use tonic::Code;

use crate::helpers::*;
use campus_testkit::status::*;

fn by_login(login: &str) -> CreateFriendRequestRequest {
    CreateFriendRequestRequest { login_id: login.into() }
}

#[tokio::test]
async fn request_accept_list_and_remove() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, bob) = app.school_with_two().await;
        let mut client = app.public.clone();
        let request =
            client.create_friend_request(app.as_user(by_login("BOB_1"), &alice)).await.unwrap().into_inner();
        assert_eq!(request.state, FriendRequestState::Pending as i32);
        assert_eq!(request.requester.as_ref().map(|p| p.id), Some(alice.id));
        assert_eq!(request.recipient.as_ref().map(|p| p.id), Some(bob.id));
        for user in [&alice, &bob] {
            let listed = client
                .list_friend_requests(app.as_user(ListFriendRequestsRequest::default(), user))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(listed.friend_requests, std::slice::from_ref(&request), "{backend:?}");
        }
        assert!(!app.are_friends(&alice, &bob).await);

        let accepted = client
            .accept_friend_request(app.as_user(AcceptFriendRequestRequest { id: request.id }, &bob))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(accepted.state, FriendRequestState::Accepted as i32);
        assert!(app.are_friends(&alice, &bob).await && app.are_friends(&bob, &alice).await);
        let friends = client
            .list_friends(app.as_user(ListFriendsRequest::default(), &alice))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(friends.friends.len(), 1);
        assert_eq!(friends.friends[0].user.as_ref().map(|u| u.id), Some(bob.id));
        let pending = client
            .list_friend_requests(app.as_user(ListFriendRequestsRequest::default(), &alice))
            .await
            .unwrap()
            .into_inner();
        assert!(pending.friend_requests.is_empty());

        client.delete_friend(app.as_user(DeleteFriendRequest { user_id: alice.id }, &bob)).await.unwrap();
        assert!(!app.are_friends(&alice, &bob).await && !app.are_friends(&bob, &alice).await);
        let again = client.delete_friend(app.as_user(DeleteFriendRequest { user_id: alice.id }, &bob)).await;
        assert_error(again, Code::NotFound, "NOT_FOUND");
        client
            .create_friend_request(app.as_user(by_login("alice"), &bob))
            .await
            .expect("they can befriend again");
    }
}

#[tokio::test]
async fn friend_request_rules() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (school, alice, bob) = app.school_with_two().await;
        let carol = app.signup(&school, "carol").await;
        let korea = app.create_school("Korea", "korea.ac.kr").await;
        app.signup(&korea, "dave").await;
        let mut client = app.public.clone();

        let me = client.create_friend_request(app.as_user(by_login("alice"), &alice)).await;
        assert_error(me, Code::FailedPrecondition, "CANNOT_BEFRIEND_SELF");
        let elsewhere = client.create_friend_request(app.as_user(by_login("dave"), &alice)).await;
        assert_error(elsewhere, Code::NotFound, "NOT_FOUND");
        let nobody = client.create_friend_request(app.as_user(by_login("nobody"), &alice)).await;
        assert_error(nobody, Code::NotFound, "NOT_FOUND");

        let request =
            client.create_friend_request(app.as_user(by_login("bob_1"), &alice)).await.unwrap().into_inner();
        for (from, to) in [(&alice, "bob_1"), (&bob, "alice")] {
            let dup = client.create_friend_request(app.as_user(by_login(to), from)).await;
            assert_error(dup, Code::AlreadyExists, "FRIEND_REQUEST_PENDING");
        }
        // Only the recipient answers; to anyone else the request does not exist.
        for outsider in [&alice, &carol] {
            let accept = client
                .accept_friend_request(app.as_user(AcceptFriendRequestRequest { id: request.id }, outsider))
                .await;
            assert_error(accept, Code::NotFound, "NOT_FOUND");
        }
        let declined = client
            .decline_friend_request(app.as_user(DeclineFriendRequestRequest { id: request.id }, &bob))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(declined.state, FriendRequestState::Declined as i32);
        let late = client
            .accept_friend_request(app.as_user(AcceptFriendRequestRequest { id: request.id }, &bob))
            .await;
        assert_error(late, Code::FailedPrecondition, "FRIEND_REQUEST_NOT_PENDING");
        assert!(!app.are_friends(&alice, &bob).await);

        let retry =
            client.create_friend_request(app.as_user(by_login("bob_1"), &alice)).await.unwrap().into_inner();
        client
            .accept_friend_request(app.as_user(AcceptFriendRequestRequest { id: retry.id }, &bob))
            .await
            .unwrap();
        let dup = client.create_friend_request(app.as_user(by_login("alice"), &bob)).await;
        assert_error(dup, Code::AlreadyExists, "ALREADY_FRIENDS");
    }
}

#[tokio::test]
async fn friends_are_listed_page_by_page() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (school, alice, _) = app.school_with_two().await;
        let mut client = app.public.clone();
        let mut expected = Vec::new();
        for login in ["bob_1", "carol", "dave", "erin"] {
            let friend = if login == "bob_1" {
                app.login("bob_1", PASSWORD).await.unwrap()
            } else {
                app.signup(&school, login).await
            };
            let request = client
                .create_friend_request(app.as_user(by_login(login), &alice))
                .await
                .unwrap()
                .into_inner();
            client
                .accept_friend_request(app.as_user(AcceptFriendRequestRequest { id: request.id }, &friend))
                .await
                .unwrap();
            expected.push(friend.id);
        }
        expected.reverse();
        let mut seen = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = client
                .list_friends(app.as_user(ListFriendsRequest { page_size: 3, page_token }, &alice))
                .await
                .unwrap()
                .into_inner();
            seen.extend(page.friends.iter().map(|f| f.user.as_ref().unwrap().id));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(seen, expected, "newest friendship first, each once");
    }
}

#[tokio::test]
async fn get_users_returns_live_profiles() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, bob) = app.school_with_two().await;
        let mut internal = app.internal.clone();
        let users = internal
            .get_users(app.svc(GetUsersRequest { ids: vec![bob.id, alice.id, bob.id, 999] }))
            .await
            .unwrap()
            .into_inner()
            .users;
        let mut ids: Vec<_> = users.iter().map(|u| u.id).collect();
        ids.sort_unstable();
        let mut expected = vec![alice.id, bob.id];
        expected.sort_unstable();
        assert_eq!(ids, expected);
        assert!(users.iter().all(|u| u.school_id == alice.school_id));
        let empty = internal.get_users(app.svc(GetUsersRequest { ids: vec![] })).await.unwrap().into_inner();
        assert!(empty.users.is_empty());
    }
}
