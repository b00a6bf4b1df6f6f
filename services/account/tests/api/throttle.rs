//! The sign-in throttle under attack: parallel bursts, many addresses, and the owner.

use campus_proto::account::v1::*;
use campus_testkit::backends;
use futures::future::join_all;
use tonic::Code;

use crate::helpers::*;
use campus_testkit::status::*;

const ATTACKER: &str = "203.0.113.66";
const OWNER: &str = "198.51.100.7";

/// Attempts counted for `login` at `client` (each reserved before its password check).
async fn failures(app: &TestApp, login: &str, client: &str) -> i64 {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT failures FROM login_throttle WHERE login_id = $1 AND client = $2")
            .bind(login)
            .bind(client)
            .fetch_optional(&app.pool)
            .await
            .unwrap();
    row.map_or(0, |(n,)| n)
}

#[tokio::test]
async fn a_parallel_burst_gets_no_more_checks_than_a_serial_one() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let _ = app.school_with_two().await;
        let burst = (0..120).map(|_| app.login_from(ATTACKER, "alice", "guess 12345"));
        let answers = join_all(burst).await;
        let code =
            |c: Code| answers.iter().filter(|a| a.as_ref().err().is_some_and(|s| s.code() == c)).count();
        let (checked, refused) = (code(Code::Unauthenticated), code(Code::ResourceExhausted));
        assert_eq!(checked + refused, 120, "{backend:?}: {answers:?}");
        // Five free failures, then the address waits 30 s: no more than five passwords were
        // checked, and the database counted exactly the reserved ones.
        assert!((1..=5).contains(&checked), "{backend:?}: {checked} passwords checked");
        assert_eq!(failures(&app, "alice", ATTACKER).await, checked as i64, "{backend:?}");
        assert_error(
            app.login_from(ATTACKER, "alice", PASSWORD).await,
            Code::ResourceExhausted,
            "TOO_MANY_ATTEMPTS",
        );
    }
}

#[tokio::test]
async fn the_owner_gets_in_from_their_own_address_while_others_guess() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, _) = app.school_with_two().await;
        app.login_from(OWNER, "alice", PASSWORD).await.expect("the owner signs in as usual");
        // One attacker address is blocked; guessers spread over five more spend the
        // account's budget for unfamiliar addresses (20 per 15 minutes).
        for i in 0..6 {
            let address = format!("203.0.113.{}", 10 + i);
            for _ in 0..5 {
                let _ = app.login_from(&address, "alice", "guess 12345").await;
            }
        }
        let spent: (i64,) = sqlx::query_as("SELECT attempts FROM login_budget WHERE login_id = 'alice'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(spent.0, 20, "{backend:?}: the budget caps what all addresses together may try");
        // A new address is refused even with the right password while the budget is spent...
        assert_error(
            app.login_from("192.0.2.1", "alice", PASSWORD).await,
            Code::ResourceExhausted,
            "TOO_MANY_ATTEMPTS",
        );
        // ...but the owner's familiar address is not: the guessers cannot keep them out.
        assert_eq!(app.login_from(OWNER, "alice", PASSWORD).await.unwrap(), alice, "{backend:?}");
        // A wrong guess from the owner's address counts there, not against the owner elsewhere.
        assert_error(
            app.login_from(OWNER, "alice", "typo 12345").await,
            Code::Unauthenticated,
            "INVALID_CREDENTIALS",
        );
        assert_eq!(app.login_from(OWNER, "alice", PASSWORD).await.unwrap(), alice);
    }
}

#[tokio::test]
async fn ipv6_guessers_share_one_counter_per_64() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let _ = app.school_with_two().await;
        for i in 0..5 {
            let _ = app.login_from(&format!("2001:db8:7:7::{i:x}"), "alice", "guess 12345").await;
        }
        assert_error(
            app.login_from("2001:db8:7:7:ffff::1", "alice", PASSWORD).await,
            Code::ResourceExhausted,
            "TOO_MANY_ATTEMPTS",
        );
        assert_eq!(failures(&app, "alice", "2001:db8:7:7::/64").await, 5);
    }
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled_like_a_login() {
    for backend in backends() {
        let app = spawn_app(backend).await;
        let (_, alice, _) = app.school_with_two().await;
        let change = |current: &str, from: &str| {
            let mut request = app.as_user(
                ChangePasswordRequest {
                    current_password: current.into(),
                    new_password: "a-brand-new-passphrase-7".into(),
                },
                &alice,
            );
            request.metadata_mut().insert("x-forwarded-for", from.parse().unwrap());
            let mut client = app.public.clone();
            async move { client.change_password(request).await }
        };
        let guesses = join_all((0..20).map(|_| change("guess 12345", ATTACKER))).await;
        let checked = guesses
            .iter()
            .filter(|r| r.as_ref().err().is_some_and(|s| s.code() == Code::InvalidArgument))
            .count();
        assert!(checked <= 5, "{backend:?}: {checked} current-password guesses were checked");
        assert_error(change(PASSWORD, ATTACKER).await, Code::ResourceExhausted, "TOO_MANY_ATTEMPTS");
        change(PASSWORD, OWNER).await.expect("the owner's own address is not blocked");
        app.login_from(OWNER, "alice", "a-brand-new-passphrase-7").await.expect("the new password works");
    }
}
