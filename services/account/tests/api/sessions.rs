use std::time::Duration;

use campus_proto::account::v1::*;
use campus_testkit::backends;
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::helpers::*;
use campus_testkit::status::*;

#[tokio::test]
async fn unknown_ids_and_wrong_passwords_fail_alike() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, _) = app.school_with_two().await;
        assert_eq!(app.login("ALICE", PASSWORD).await.unwrap(), alice, "login ids are case-insensitive");
        let wrong = assert_error(
            app.login("alice", "wrong password 1").await,
            Code::Unauthenticated,
            "INVALID_CREDENTIALS",
        );
        let unknown =
            assert_error(app.login("nobody", PASSWORD).await, Code::Unauthenticated, "INVALID_CREDENTIALS");
        let malformed =
            assert_error(app.login("?", PASSWORD).await, Code::Unauthenticated, "INVALID_CREDENTIALS");
        assert_eq!(wrong.message(), unknown.message());
        assert_eq!(wrong.message(), malformed.message());
        assert_eq!(wrong.details(), unknown.details());
    }
}

#[tokio::test]
async fn the_sixth_attempt_after_five_failures_is_refused_and_success_resets() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let _ = app.school_with_two().await;
        // Four failures, then a success: the count starts over.
        for _ in 0..4 {
            assert_error(
                app.login("alice", "wrong password 1").await,
                Code::Unauthenticated,
                "INVALID_CREDENTIALS",
            );
        }
        app.login("alice", PASSWORD).await.expect("four failures are free");
        for _ in 0..5 {
            assert_error(
                app.login("alice", "wrong password 1").await,
                Code::Unauthenticated,
                "INVALID_CREDENTIALS",
            );
        }
        // Refused without looking at the password, even the right one.
        assert_error(app.login("alice", PASSWORD).await, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
        // Bob is not affected; an unknown id is throttled exactly like a real one.
        app.login("bob_1", PASSWORD).await.expect("other accounts are unaffected");
        for _ in 0..5 {
            assert_error(app.login("ghost", PASSWORD).await, Code::Unauthenticated, "INVALID_CREDENTIALS");
        }
        assert_error(app.login("ghost", PASSWORD).await, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
    }
}

#[tokio::test]
async fn the_back_off_is_bounded() {
    for backend in backends() {
        let base = Duration::from_millis(600);
        let cap = Duration::from_millis(1000);
        let app = spawn_app_with(backend, |c| {
            c.throttle.base = base;
            c.throttle.cap = cap;
        })
        .await;
        let _ = app.school_with_two().await;
        for _ in 0..5 {
            app.login("alice", "wrong password 1").await.unwrap_err();
        }
        // Every further failure doubles the window, but never past the cap: after waiting
        // out the cap the password is checked again, however many failures came before.
        for _ in 0..3 {
            assert_error(app.login("alice", PASSWORD).await, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
            tokio::time::sleep(cap + Duration::from_millis(50)).await;
            assert_error(
                app.login("alice", "wrong password 1").await,
                Code::Unauthenticated,
                "INVALID_CREDENTIALS",
            );
        }
        tokio::time::sleep(cap + Duration::from_millis(50)).await;
        app.login("alice", PASSWORD).await.expect("the user gets in after the capped window");
        app.login("alice", "wrong password 1").await.unwrap_err();
        app.login("alice", PASSWORD).await.expect("the success reset the count");
    }
}

#[tokio::test]
async fn refresh_tokens_are_stored_only_as_hashes() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, _) = app.school_with_two().await;
        let created = app.new_session(&alice).await;
        assert_eq!(created.user.as_ref(), Some(&alice));
        assert!(created.refresh_token.len() >= 43, "256 bits, base64url");
        let rotated = app.rotate(&created.refresh_token).await.unwrap();
        for token in [&created.refresh_token, &rotated.refresh_token] {
            let rows: Vec<(String, i64)> = sqlx::query_as("SELECT token_hash, family_id FROM refresh_token")
                .fetch_all(&app.pool)
                .await
                .unwrap();
            assert!(rows.iter().all(|(hash, _)| !hash.contains(token.as_str())));
            let expected: String =
                Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
            assert!(rows.iter().any(|(hash, _)| *hash == expected), "the SHA-256 is what is stored");
        }
        let families: Vec<(i64, i64, i64)> =
            sqlx::query_as("SELECT id, user_id, expires_at FROM session_family")
                .fetch_all(&app.pool)
                .await
                .unwrap();
        assert_eq!(families.len(), 1);
    }
}

#[tokio::test]
async fn rotation_issues_a_successor_with_the_same_absolute_expiry() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, _) = app.school_with_two().await;
        let created = app.new_session(&alice).await;
        let expires = created.expires_at.unwrap();
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        assert!((expires.seconds - now - 14 * 24 * 3600).abs() < 60, "14 days from login");
        let first = app.rotate(&created.refresh_token).await.unwrap();
        assert_ne!(first.refresh_token, created.refresh_token);
        assert_eq!(first.expires_at, Some(expires), "rotation does not extend the family");
        assert_eq!(first.user.as_ref().map(|u| u.id), Some(alice.id));
        let second = app.rotate(&first.refresh_token).await.unwrap();
        assert_eq!(second.expires_at, Some(expires));

        assert_error(app.rotate("").await, Code::Unauthenticated, "INVALID_REFRESH_TOKEN");
        assert_error(app.rotate("made-up").await, Code::Unauthenticated, "INVALID_REFRESH_TOKEN");

        // A family past its absolute expiry is dead.
        sqlx::query("UPDATE session_family SET expires_at = 1").execute(&app.pool).await.unwrap();
        assert_error(app.rotate(&second.refresh_token).await, Code::Unauthenticated, "INVALID_REFRESH_TOKEN");
    }
}

#[tokio::test]
async fn reusing_a_rotated_token_kills_the_family() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, _) = app.school_with_two().await;
        let other_family = app.session(&alice).await;
        let stolen = app.session(&alice).await;
        let successor = app.rotate(&stolen).await.unwrap().refresh_token;
        assert_error(app.rotate(&stolen).await, Code::Unauthenticated, "REFRESH_TOKEN_REUSED");
        assert_error(app.rotate(&successor).await, Code::Unauthenticated, "INVALID_REFRESH_TOKEN");
        assert_error(app.rotate(&stolen).await, Code::Unauthenticated, "INVALID_REFRESH_TOKEN");
        app.rotate(&other_family).await.expect("another login's family lives on");
    }
}

#[tokio::test]
async fn concurrent_rotations_of_one_token_yield_at_most_one_successor() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, _) = app.school_with_two().await;
        let token = app.session(&alice).await;
        let attempts = (0..20).map(|_| app.rotate(&token));
        let results = futures::future::join_all(attempts).await;
        let successes: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert!(successes.len() <= 1, "{backend:?}: {} successes", successes.len());
        for failure in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(failure.code(), Code::Unauthenticated, "{failure:?}");
        }
        let (live,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM refresh_token t JOIN session_family f ON f.id = t.family_id
             WHERE t.used_at IS NULL AND f.revoked_at IS NULL",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert!(live <= 1, "{live} live successors");
    }
}

#[tokio::test]
async fn revoking_is_idempotent() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, _) = app.school_with_two().await;
        let token = app.session(&alice).await;
        let successor = app.rotate(&token).await.unwrap().refresh_token;
        let mut internal = app.internal.clone();
        for t in [&token, &token, &"never issued".to_string()] {
            internal
                .revoke_session(app.svc(RevokeSessionRequest { refresh_token: t.clone() }))
                .await
                .unwrap();
        }
        assert_error(app.rotate(&successor).await, Code::Unauthenticated, "INVALID_REFRESH_TOKEN");
    }
}

#[tokio::test]
async fn a_password_change_revokes_every_family() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, bob) = app.school_with_two().await;
        let phone = app.session(&alice).await;
        let laptop = app.rotate(&app.session(&alice).await).await.unwrap().refresh_token;
        let bobs = app.session(&bob).await;
        let mut client = app.public.clone();

        let wrong = ChangePasswordRequest {
            current_password: "wrong password 1".into(),
            new_password: "new password 2".into(),
        };
        let status = client.change_password(app.as_user(wrong, &alice)).await.unwrap_err();
        assert_eq!(bad_fields(&status), ["currentPassword"]);
        let weak = ChangePasswordRequest { current_password: PASSWORD.into(), new_password: "weak".into() };
        assert_eq!(
            bad_fields(&client.change_password(app.as_user(weak, &alice)).await.unwrap_err()),
            ["newPassword"]
        );
        app.rotate(&phone).await.map(|_| ()).expect("failed changes revoke nothing");
        let phone = app.session(&alice).await;

        let change = ChangePasswordRequest {
            current_password: PASSWORD.into(),
            new_password: "new password 2".into(),
        };
        client.change_password(app.as_user(change, &alice)).await.unwrap();
        assert_error(app.rotate(&phone).await, Code::Unauthenticated, "INVALID_REFRESH_TOKEN");
        assert_error(app.rotate(&laptop).await, Code::Unauthenticated, "INVALID_REFRESH_TOKEN");
        app.rotate(&bobs).await.expect("other users keep their sessions");
        assert_error(app.login("alice", PASSWORD).await, Code::Unauthenticated, "INVALID_CREDENTIALS");
        app.login("alice", "new password 2").await.expect("the new password works");
    }
}
