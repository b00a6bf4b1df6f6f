//! Overload: the gateway admits a fixed number of requests at once (GATEWAY_CONCURRENCY_LIMIT)
//! and sheds the rest at once with 429 instead of queueing them, so at four times the
//! sustainable concurrency the requests it admits stay as fast as before.

use std::time::Duration;

use campus_shared::db::Backend;

use crate::deployment::{Deployment, Options};
use crate::load::{self, Load, Sample, quantile};
use crate::{CLIENT_TIMEOUT, User, read_post, serial, unexpected};

/// The gateway's concurrency limit in this test: the sustainable concurrency.
const LIMIT: usize = 4;
/// Generous bounds: the point is that nothing queues without limit.
const ADMITTED_P99: Duration = Duration::from_secs(2);
const SHED_P99: Duration = Duration::from_millis(250);

async fn run(user: &User, post: &str, clients: usize, length: Duration) -> Vec<Sample> {
    let load = Load::start((0..clients).map(|_| read_post(user, post)).collect(), CLIENT_TIMEOUT);
    tokio::time::sleep(length).await;
    load.stop().await
}

fn durations<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> Vec<Duration> {
    samples.into_iter().map(|s| s.took).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_four_times_the_limit_the_gateway_sheds_with_429_and_admitted_latency_stays_bounded() {
    let _serial = serial().await;
    let options = Options { gateway_concurrency_limit: Some(LIMIT), ..Options::default() };
    // The gateway is under test here, not the database: SQLite is enough.
    let deployment = Deployment::start(Backend::Sqlite, options).await;
    let http = deployment.http.clone();
    let user = User::new(&deployment, 401);
    let board = user.create_board(&http).await;
    let post = user.create_post(&http, &board, "인기 글").await;

    // At the limit every request is admitted (a permit is released before the answer leaves).
    let baseline = run(&user, &post, LIMIT, Duration::from_millis(1500)).await;
    let bad = unexpected(&baseline, &[]);
    assert!(bad.is_empty(), "at the limit nothing is shed: {bad:?}");
    let baseline_p99 = quantile(&durations(&baseline), 0.99);

    let overload = run(&user, &post, 4 * LIMIT, Duration::from_secs(3)).await;
    let bad = unexpected(&overload, &[429]);
    assert!(bad.is_empty(), "over the limit: 2xx or 429 only, no hang: {bad:?}");
    let (admitted, shed): (Vec<&Sample>, Vec<&Sample>) = overload.iter().partition(|s| s.ok());
    assert!(!shed.is_empty(), "4× the limit is shed: {}", load::tally(&overload));
    assert!(
        admitted.len() >= baseline.len() / 4,
        "the gateway keeps serving while it sheds: {}",
        load::tally(&overload)
    );
    for sample in &shed {
        assert_eq!(sample.body()["code"], 8, "429 is RESOURCE_EXHAUSTED: {sample:?}");
        assert!(sample.body()["message"].as_str().is_some_and(|m| !m.is_empty()), "{sample:?}");
    }
    let admitted_p99 = quantile(&durations(admitted.iter().copied()), 0.99);
    let shed_p99 = quantile(&durations(shed.iter().copied()), 0.99);
    assert!(admitted_p99 < ADMITTED_P99, "admitted p99 {admitted_p99:?} (baseline {baseline_p99:?})");
    assert!(shed_p99 < SHED_P99, "shedding is quick: p99 {shed_p99:?}");

    println!(
        "FAULT overload: limit {LIMIT}; at {LIMIT} clients {} in 1.5 s ({}), p50 {:?} p99 {:?}; \
         at {} clients {} in 3 s: admitted {} (p50 {:?}, p99 {:?}), shed 429 {} (p99 {:?}), other 0",
        baseline.len(),
        load::tally(&baseline),
        quantile(&durations(&baseline), 0.5),
        baseline_p99,
        4 * LIMIT,
        overload.len(),
        admitted.len(),
        quantile(&durations(admitted.iter().copied()), 0.5),
        admitted_p99,
        shed.len(),
        shed_p99,
    );
}
