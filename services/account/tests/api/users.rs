use argon2::{Algorithm, Params, PasswordHash};
use campus_proto::account::v1::*;
use campus_shared::Caller;
use campus_testkit::backends;
use tonic::{Code, Request};
use tonic_types::StatusExt;

use crate::helpers::*;
use campus_testkit::status::*;

#[tokio::test]
async fn signup_reports_every_bad_field_at_once() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let school = app.create_school("Yonsei", "yonsei.ac.kr").await;
        let request = CreateUserRequest {
            login_id: "ab".into(),
            password: "short".into(),
            nickname: " padded".into(),
            email: "not-an-email".into(),
            school_id: school.id,
            email_code: String::new(),
        };
        let status = assert_error(app.try_signup(request).await, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(bad_fields(&status), ["loginId", "password", "nickname", "email"], "{backend:?}");

        let too_long = CreateUserRequest {
            login_id: "a".repeat(21),
            password: format!("a1{}", "b".repeat(63)),
            nickname: "가".repeat(21),
            ..signup_request(&school, "carol")
        };
        let status = assert_error(app.try_signup(too_long).await, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(bad_fields(&status), ["loginId", "password", "nickname"]);

        let letters_only =
            CreateUserRequest { password: "onlyletters".into(), ..signup_request(&school, "carol") };
        assert_eq!(bad_fields(&app.try_signup(letters_only).await.unwrap_err()), ["password"]);

        // Weak passwords are refused with a reason a person can act on.
        for (weak, says) in [("password1", "most common passwords"), ("carol2024a", "too easy to guess")] {
            let request = CreateUserRequest { password: weak.into(), ..signup_request(&school, "carol") };
            let status = app.try_signup(request).await.unwrap_err();
            let violations = status.get_error_details().bad_request().unwrap().field_violations.clone();
            assert_eq!(violations[0].field, "password", "{weak}");
            assert!(violations[0].description.contains(says), "{weak}: {violations:?}");
        }

        // NUL and other control characters are refused by field, not stored (PostgreSQL
        // would fail on NUL with a 500).
        let nul = CreateUserRequest { nickname: "ca\0rol".into(), ..signup_request(&school, "carol") };
        assert_eq!(bad_fields(&app.try_signup(nul).await.unwrap_err()), ["nickname"], "{backend:?}");

        let wrong_domain =
            CreateUserRequest { email: "carol@korea.ac.kr".into(), ..signup_request(&school, "carol") };
        let status =
            assert_error(app.try_signup(wrong_domain).await, Code::InvalidArgument, "INVALID_ARGUMENT");
        assert_eq!(bad_fields(&status), ["email"]);
        assert!(status.message().contains("yonsei.ac.kr"), "{status:?}");

        let no_school = CreateUserRequest { school_id: school.id + 1, ..signup_request(&school, "carol") };
        assert_eq!(bad_fields(&app.try_signup(no_school).await.unwrap_err()), ["schoolId"]);

        let count: (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM user_account").fetch_one(&app.pool).await.unwrap();
        assert_eq!(count.0, 0, "nothing was written");
    }
}

#[tokio::test]
async fn login_ids_emails_and_nicknames_are_unique() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let school = app.create_school("Yonsei", "yonsei.ac.kr").await;
        let alice = app.signup(&school, "Alice").await;
        assert_eq!(alice.login_id, "alice", "login ids are lower-cased");
        assert_eq!(alice.role, Role::User as i32);
        assert_eq!(alice.school_id, school.id);

        let same_login = CreateUserRequest {
            login_id: "ALICE".into(),
            nickname: "other".into(),
            email: "other@yonsei.ac.kr".into(),
            ..signup_request(&school, "x")
        };
        assert_error(app.try_signup(same_login).await, Code::AlreadyExists, "LOGIN_ID_TAKEN");
        // The address's owner got "you already have an account" instead of a code, so the
        // sign-up fails on the code: whether an address has an account is not told here.
        let same_email =
            CreateUserRequest { email: "ALICE@yonsei.ac.kr".into(), ..signup_request(&school, "carol") };
        assert_error(app.try_signup(same_email).await, Code::FailedPrecondition, "EMAIL_CODE_INVALID");
        let same_nickname =
            CreateUserRequest { nickname: "Alice".into(), ..signup_request(&school, "carol") };
        assert_error(app.try_signup(same_nickname).await, Code::AlreadyExists, "NICKNAME_TAKEN");
    }
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_at_or_above_the_owasp_floor() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, _) = app.school_with_two().await;
        let (stored,): (String,) = sqlx::query_as("SELECT password_hash FROM user_account WHERE id = $1")
            .bind(alice.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert!(!stored.contains(PASSWORD));
        let hash = PasswordHash::new(&stored).expect("a PHC string");
        assert_eq!(Algorithm::try_from(hash.algorithm.as_str()).unwrap(), Algorithm::Argon2id);
        let params = Params::try_from(&hash).unwrap();
        assert!(params.m_cost() >= 19456 && params.t_cost() >= 2 && params.p_cost() >= 1, "{stored}");
    }
}

#[tokio::test]
async fn the_caller_reads_and_updates_their_profile() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, bob) = app.school_with_two().await;
        let mut client = app.public.clone();
        let me = client.get_me(app.as_user(GetMeRequest {}, &alice)).await.unwrap().into_inner();
        assert_eq!(me, alice);

        // Refused changes do not count toward the 30-day cooldown.
        let taken =
            client.update_me(app.as_user(UpdateMeRequest { nickname: bob.nickname.clone() }, &alice)).await;
        assert_error(taken, Code::AlreadyExists, "NICKNAME_TAKEN");
        let bad = client.update_me(app.as_user(UpdateMeRequest { nickname: "x".into() }, &alice)).await;
        assert_eq!(bad_fields(&bad.unwrap_err()), ["nickname"]);

        // The sign-up nickname does not count either: the first change is allowed.
        let renamed = client
            .update_me(app.as_user(UpdateMeRequest { nickname: "새내기".into() }, &alice))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(renamed.nickname, "새내기");
        assert_eq!(
            client.get_me(app.as_user(GetMeRequest {}, &alice)).await.unwrap().into_inner().nickname,
            "새내기"
        );
        let again =
            client.update_me(app.as_user(UpdateMeRequest { nickname: "헌내기".into() }, &alice)).await;
        assert_error(again, Code::FailedPrecondition, "NICKNAME_CHANGE_TOO_SOON");
        // Bob, who never changed his, still may.
        client.update_me(app.as_user(UpdateMeRequest { nickname: "복학생".into() }, &bob)).await.unwrap();
    }
}

#[tokio::test]
async fn the_nickname_cooldown_is_configurable() {
    for backend in backends() {
        let app = spawn_app_with(backend, |c| c.nickname_cooldown = std::time::Duration::ZERO).await;
        let (_, alice, _) = app.school_with_two().await;
        let mut client = app.public.clone();
        for nickname in ["새내기", "헌내기", "복학생"] {
            let renamed =
                client.update_me(app.as_user(UpdateMeRequest { nickname: nickname.into() }, &alice)).await;
            assert_eq!(renamed.unwrap().into_inner().nickname, nickname, "{backend:?}");
        }
    }
}

#[tokio::test]
async fn profiles_are_visible_within_a_school_only() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, bob) = app.school_with_two().await;
        let korea = app.create_school("Korea", "korea.ac.kr").await;
        let carol = app.signup(&korea, "carol").await;
        let mut client = app.public.clone();
        let profile =
            client.get_user(app.as_user(GetUserRequest { id: bob.id }, &alice)).await.unwrap().into_inner();
        assert_eq!(
            profile,
            UserProfile { id: bob.id, nickname: bob.nickname.clone(), school_id: bob.school_id }
        );
        let other_school = client.get_user(app.as_user(GetUserRequest { id: carol.id }, &alice)).await;
        assert_error(other_school, Code::NotFound, "NOT_FOUND");
        let unknown = client.get_user(app.as_user(GetUserRequest { id: 12345 }, &alice)).await;
        assert_error(unknown, Code::NotFound, "NOT_FOUND");
    }
}

#[tokio::test]
async fn a_deleted_account_is_gone_and_frees_its_names() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (school, alice, bob) = app.school_with_two().await;
        let token = app.session(&alice).await;
        let mut client = app.public.clone();
        let request = CreateFriendRequestRequest { login_id: bob.login_id.clone() };
        client.create_friend_request(app.as_user(request, &alice)).await.unwrap();

        let wrong = DeleteMeRequest { password: "not the password 1".into() };
        assert_error(
            client.delete_me(app.as_user(wrong, &alice)).await,
            Code::PermissionDenied,
            "WRONG_PASSWORD",
        );
        client.get_me(app.as_user(GetMeRequest {}, &alice)).await.expect("a wrong password deletes nothing");
        let right = DeleteMeRequest { password: PASSWORD.into() };
        client.delete_me(app.as_user(right, &alice)).await.unwrap();

        assert_error(app.login("alice", PASSWORD).await, Code::Unauthenticated, "INVALID_CREDENTIALS");
        assert_error(app.rotate(&token).await, Code::Unauthenticated, "INVALID_REFRESH_TOKEN");
        // The deleted account's tokens are refused from now on, although not expired.
        let refused = client.get_me(app.as_user(GetMeRequest {}, &alice)).await;
        assert_eq!(refused.unwrap_err().code(), Code::Unauthenticated);
        let profile = client.get_user(app.as_user(GetUserRequest { id: alice.id }, &bob)).await;
        assert_error(profile, Code::NotFound, "NOT_FOUND");
        let requests = client
            .list_friend_requests(app.as_user(ListFriendRequestsRequest::default(), &bob))
            .await
            .unwrap()
            .into_inner();
        assert!(requests.friend_requests.is_empty(), "pending requests are removed");
        let users =
            app.internal.clone().get_users(app.svc(GetUsersRequest { ids: vec![alice.id, bob.id] })).await;
        assert_eq!(users.unwrap().into_inner().users.len(), 1);

        let again = app.signup(&school, "alice").await;
        assert_ne!(again.id, alice.id);
        assert_eq!(app.login("alice", PASSWORD).await.unwrap().id, again.id);
        let twice =
            client.delete_me(app.as_user(DeleteMeRequest { password: PASSWORD.into() }, &alice)).await;
        assert_eq!(twice.unwrap_err().code(), Code::Unauthenticated);
    }
}

#[tokio::test]
async fn internal_rpcs_need_the_service_credential() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (school, alice, _) = app.school_with_two().await;
        let mut internal = app.internal.clone();
        let bare = internal.create_user(Request::new(signup_request(&school, "carol"))).await;
        assert_error(bare, Code::PermissionDenied, "SERVICE_ONLY");
        let as_user = internal.create_user(app.as_user(signup_request(&school, "carol"), &alice)).await;
        assert_error(as_user, Code::PermissionDenied, "SERVICE_ONLY");
        let mut verification = app.verification.clone();
        let request = SendEmailCodeRequest {
            email: "carol@yonsei.ac.kr".into(),
            purpose: EmailCodePurpose::SignUp as i32,
            school_id: school.id,
            client_address: String::new(),
        };
        let as_user = verification.send_email_code(app.as_user(request, &alice)).await;
        assert_error(as_user, Code::PermissionDenied, "SERVICE_ONLY");
        let verified =
            verification.create_verified_user(Request::new(CreateVerifiedUserRequest::default())).await;
        assert_error(verified, Code::PermissionDenied, "SERVICE_ONLY");
        let mut wrong = Request::new(VerifyPasswordRequest {
            login_id: "alice".into(),
            password: PASSWORD.into(),
            client_address: String::new(),
        });
        wrong.metadata_mut().insert("x-campus-service-token", "guess".parse().unwrap());
        assert_error(internal.verify_password(wrong).await, Code::PermissionDenied, "SERVICE_ONLY");
    }
}

#[tokio::test]
async fn forged_or_expired_tokens_are_unauthenticated() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, _) = app.school_with_two().await;
        let caller = Caller {
            user_id: alice.id,
            school_id: alice.school_id,
            role: campus_shared::Role::User,
            nickname: "a".into(),
        };
        let stranger = campus_testkit::TestIdentity::new();
        let expired = app
            .identity
            .issuer
            .issue_with(&caller, 1_600_000_000, std::time::Duration::from_secs(60))
            .unwrap();
        let genuine = app.identity.issuer.issue(&caller).unwrap();
        let (head, rest) = genuine.split_once('.').unwrap();
        let tampered = format!("{head}.{}", rest.replacen(|c: char| c.is_ascii_alphanumeric(), "A", 1));
        for bearer in [
            stranger.bearer_for(&caller),
            format!("Bearer {expired}"),
            format!("Bearer {tampered}"),
            "Bearer not.a.token".to_string(),
        ] {
            let mut request = Request::new(GetMeRequest {});
            request.metadata_mut().insert("authorization", bearer.parse().unwrap());
            let status = app.public.clone().get_me(request).await.unwrap_err();
            assert_eq!(status.code(), Code::Unauthenticated, "{bearer}");
        }
        let anonymous = app.public.clone().get_me(Request::new(GetMeRequest {})).await;
        assert_eq!(anonymous.unwrap_err().code(), Code::Unauthenticated);
    }
}

#[tokio::test]
async fn the_bootstrap_admin_is_created_once() {
    for backend in backends() {
        let admin = Some(("Root".to_string(), secrecy::SecretString::from("admin pass 1".to_string())));
        let app = spawn_app_with(backend, |c| c.bootstrap_admin = admin.clone()).await;
        let user = app.login("root", "admin pass 1").await.expect("the admin logs in");
        assert_eq!(user.role, Role::Admin as i32);
        assert_eq!(user.school_id, 0);
        assert_eq!(user.email, "root@admin.campus.invalid");

        // A restart (or a second replica) finds the admin and leaves it alone.
        let mut config = campus_account::Config::new(app.identity.service_config(&app.db));
        config.bootstrap_admin = admin.clone();
        campus_account::Application::build(config).await.expect("a second start");
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM user_account WHERE login_id = 'root'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(count, 1);
    }
}
