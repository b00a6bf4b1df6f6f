//! SIGKILL the board service under load: its routes answer 503 within a second, other routes
//! carry on, and once board is back on its port the gateway uses it again by itself.

use std::time::Duration;

use campus_testkit::backends;

use crate::deployment::{Deployment, Options, Proc};
use crate::load::{self, Load};
use crate::{
    CLIENT_TIMEOUT, User, accepted_posts, assert_unavailable_bodies, create_posts, lost_posts, read_grades,
    read_post, serial, unexpected,
};

/// How long the gateway may keep answering a dead service's routes with anything but 503.
const DETECT: Duration = Duration::from_secs(1);
/// How long after board serves again the gateway may take to route to it.
const RECOVER: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_service_answers_503_within_a_second_and_the_gateway_recovers_by_itself() {
    let _serial = serial().await;
    for backend in backends() {
        let mut deployment = Deployment::start(backend, Options::default()).await;
        let http = deployment.http.clone();
        let (author, reader) = (User::new(&deployment, 101), User::new(&deployment, 102));
        let board = author.create_board(&http).await;
        let post = author.create_post(&http, &board, "살아남을 글").await;

        let load = Load::start(
            vec![
                create_posts(&author, &board, "kill"),
                read_post(&reader, &post),
                read_grades(&reader),
                read_grades(&author),
            ],
            CLIENT_TIMEOUT,
        );
        tokio::time::sleep(Duration::from_millis(800)).await;

        let killed_at = load.now();
        deployment.kill(Proc::Board);
        // While board is down: /readyz names it, and its routes fail fast.
        let first_503 =
            load.wait_for("board:read", killed_at, Duration::from_secs(3), |s| s.status() == Some(503)).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (ready_status, readiness) = reader.call(http.get(format!("{}/readyz", deployment.base))).await;

        let restarted_at = load.now();
        deployment.spawn(Proc::Board);
        deployment.wait_serving(Proc::Board).await;
        let serving_at = load.now();
        let recovered_at =
            load.wait_for("board:read", serving_at, RECOVER + Duration::from_secs(1), |s| s.ok()).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let samples = load.stop().await;

        let context = format!("{backend:?}, board killed at {killed_at:?}, restarted at {restarted_at:?}");
        assert!(
            samples.iter().all(|s| s.status().is_some()),
            "no hangs ({context}): {:?}",
            unexpected(&samples, &[])
        );
        // Other services are unaffected: every timetable call succeeded, and quickly.
        let timetable: Vec<_> = samples.iter().filter(|s| s.route == "timetable:read").collect();
        assert!(timetable.len() > 20, "the timetable load ran ({context})");
        let failed = unexpected(timetable.iter().copied(), &[]);
        assert!(failed.is_empty(), "timetable routes are unaffected ({context}): {failed:?}");
        // Nothing queues behind the dead upstream (generous: the machine may be busy).
        let slowest = timetable.iter().map(|s| s.took).max().unwrap_or_default();
        assert!(slowest < 2 * DETECT, "timetable stays fast while board is down ({context}): {slowest:?}");

        // Board's routes: 2xx before, 503 (UNAVAILABLE) while down, never anything else.
        let board_samples: Vec<_> =
            samples.iter().filter(|s| s.route.starts_with("board:")).cloned().collect();
        let bad = unexpected(&board_samples, &[503]);
        assert!(bad.is_empty(), "board routes answer 2xx or 503 only ({context}): {bad:?}");
        assert_unavailable_bodies(&board_samples);
        let before: Vec<_> = board_samples.iter().filter(|s| s.ended() < killed_at).collect();
        assert!(
            before.len() > 5 && before.iter().all(|s| s.ok()),
            "board served before the kill ({context})"
        );
        let first_503 = first_503.unwrap_or_else(|| panic!("no 503 after the kill ({context})"));
        assert!(
            first_503 - killed_at < DETECT,
            "503 within {DETECT:?} of the kill ({context}): {first_503:?}"
        );
        let down: Vec<_> =
            board_samples.iter().filter(|s| s.at >= killed_at + DETECT && s.ended() < restarted_at).collect();
        assert!(
            down.len() > 5,
            "board was tried while down ({context}): {}",
            load::tally(down.iter().copied())
        );
        assert!(
            down.iter().all(|s| s.status() == Some(503) && s.took < DETECT),
            "every board call while it is down is a quick 503 ({context}): {}",
            load::tally(down.iter().copied())
        );
        assert_eq!(ready_status, 503, "/readyz reports the dead upstream ({context}): {readiness}");
        assert_ne!(readiness["upstreams"]["board"], "SERVING", "{readiness}");
        assert_eq!(readiness["upstreams"]["timetable"], "SERVING", "{readiness}");

        // Recovery needs nobody: the gateway reconnects on its own.
        let recovered_at = recovered_at.unwrap_or_else(|| {
            panic!("the gateway did not route to board again within {RECOVER:?} ({context})")
        });
        let after: Vec<_> = board_samples.iter().filter(|s| s.at > recovered_at).collect();
        assert!(
            !after.is_empty() && after.iter().all(|s| s.ok()),
            "board routes succeed again after recovery ({context}): {}",
            load::tally(after.iter().copied())
        );

        // Nothing accepted was lost: every post whose create got a 2xx is there.
        let accepted = accepted_posts(&samples);
        let lost = lost_posts(&reader, &http, &accepted).await;
        assert!(lost.is_empty(), "accepted posts lost ({context}): {lost:?}");

        println!(
            "FAULT kill-board [{backend:?}]: requests {}, board {} | timetable {}; \
             first 503 {:?} after kill; board calls while down {} (slowest {:?}); recovered {:?} after board served again; \
             creates accepted {}, lost {}",
            samples.len(),
            load::tally(&board_samples),
            load::tally(timetable.iter().copied()),
            first_503 - killed_at,
            down.len(),
            down.iter().map(|s| s.took).max().unwrap_or_default(),
            recovered_at.saturating_sub(serving_at),
            accepted.len(),
            lost.len(),
        );
    }
}
