//! Sign-in throttling (DESIGN §10): a parallel burst of wrong guesses gets no more password
//! checks than a serial one, and the owner still signs in from their own address.

use campus_testkit::backends;
use campus_testkit::status::json::HttpAnswer;
use futures::future::join_all;
use reqwest::StatusCode;

use crate::harness::{Hostile, PASSWORD};

const OWNER: u8 = 2;
const ATTACKER: u8 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_guesses_checks_at_most_five_passwords_and_the_owner_still_gets_in() {
    for backend in backends() {
        let sys = Hostile::start(backend).await;
        sys.sign_up(OWNER, "minji01").await;
        let owner = sys.client(OWNER);
        owner.signed_in("minji01").await;

        let attacker = sys.client(ATTACKER);
        let burst = join_all((0..120).map(|i| {
            let attacker = attacker.clone();
            async move { attacker.login("minji01", &format!("guess-{i}-password")).await }
        }))
        .await;
        let wrong = burst.iter().filter(|a| a.status == StatusCode::UNAUTHORIZED).count();
        let mut throttled = 0;
        for answer in burst.iter().filter(|a| a.status != StatusCode::UNAUTHORIZED) {
            // Refused before any password check: by the account's throttle, or by the
            // gateway's per-address limit on sign-in calls (300 a minute by default).
            let reason = answer.reason();
            answer.refused(429, if reason == "RATE_LIMITED" { "RATE_LIMITED" } else { "TOO_MANY_ATTEMPTS" });
            throttled += usize::from(reason == "TOO_MANY_ATTEMPTS");
        }
        assert!(throttled > 0, "{backend:?}: the account's throttle refused some of the burst itself");
        // Every password check was reserved in the account's database first: the count
        // there is the number of checks, and no more than the five free failures.
        let counted = sys
            .account_number(
                "SELECT failures FROM login_throttle WHERE login_id = $1 AND client = '127.0.0.3'",
                "minji01",
            )
            .await;
        assert!((1..=5).contains(&wrong), "{backend:?}: {wrong} passwords were checked");
        assert_eq!(counted, wrong as i64, "{backend:?}: checks counted in the database");

        // Even the right password is refused from the attacker's address now (by the
        // gateway's limit, spent by the burst, if not by the throttle)...
        let again = attacker.login("minji01", PASSWORD).await;
        assert_eq!(again.status, StatusCode::TOO_MANY_REQUESTS, "{backend:?}: {again:?}");
        // ...while the owner, from their own address, signs in as always.
        let session = owner.login("minji01", PASSWORD).await;
        assert_eq!(session.status, StatusCode::OK, "{backend:?}: {session:?}");
        assert!(session.json()["accessToken"].as_str().is_some_and(|t| !t.is_empty()));
        sys.stop().await;
    }
}
