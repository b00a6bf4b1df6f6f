//! Login and refresh through the real gateway and account service over HTTP, 64 requests in
//! flight, on SQLite (and PostgreSQL when `CAMPUS_TEST_PG_URL` is set).
//!
//! `cargo bench -p campus --bench auth`. Login is bound by argon2id (by design: it is
//! the password hash's cost); refresh is a token hash, an indexed lookup and one write.
//! `CAMPUS_BENCH_SECS` sets the measured seconds per workload (default 10).

#[path = "../tests/gateway/support.rs"]
mod support;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use campus_testkit::bench::{Report, run};
use reqwest::StatusCode;
use serde_json::json;
use support::{PASSWORD, TestApp};

const IN_FLIGHT: usize = 64;
/// More accounts than workers, so no account sees back-to-back logins.
const ACCOUNTS: usize = 128;
/// More token chains than workers, so a worker never waits for a free one.
const CHAINS: usize = 2 * IN_FLIGHT;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let seconds = campus_testkit::bench::measured_secs(10);
        let duration = Duration::from_secs(seconds);
        println!("{}", Report::MARKDOWN_HEADER);
        for backend in campus_testkit::backends() {
            let app = Arc::new(support::spawn_app(backend).await);
            let logins: Vec<String> = (0..ACCOUNTS).map(|i| format!("bench{i}")).collect();
            for login in &logins {
                app.signup(login).await;
            }
            let label = format!("{backend:?}").to_lowercase();
            println!("{}", login(&app, &logins, &label, duration).await.markdown_row());
            println!("{}", refresh(&app, &logins, &label, duration).await.markdown_row());
        }
    });
}

async fn login(app: &Arc<TestApp>, logins: &[String], label: &str, duration: Duration) -> Report {
    let (app, logins) = (app.clone(), Arc::new(logins.to_vec()));
    run(&format!("login ({label})"), IN_FLIGHT, Duration::from_secs(2), duration, move |i| {
        let (app, logins) = (app.clone(), logins.clone());
        async move {
            let login = &logins[i as usize % logins.len()];
            app.login(login, PASSWORD, true).await.status == StatusCode::OK
        }
    })
    .await
}

async fn refresh(app: &Arc<TestApp>, logins: &[String], label: &str, duration: Duration) -> Report {
    // Each chain's token is used by one worker at a time: take it, rotate it, put the
    // successor back. Sharing a token would be a replay and kill the family.
    let mut tokens = VecDeque::with_capacity(CHAINS);
    for i in 0..CHAINS {
        tokens.push_back(app.login(&logins[i % logins.len()], PASSWORD, true).await.refresh_token());
    }
    let pool = Arc::new(Mutex::new(tokens));
    let app = app.clone();
    run(&format!("refresh ({label})"), IN_FLIGHT, Duration::from_secs(2), duration, move |_| {
        let (app, pool) = (app.clone(), pool.clone());
        async move {
            let Some(token) = pool.lock().expect("pool").pop_front() else { return false };
            let answer = app.post("/v1/auth/refresh", json!({"refreshToken": token}), &[]).await;
            if answer.status != StatusCode::OK {
                return false;
            }
            pool.lock().expect("pool").push_back(answer.refresh_token());
            true
        }
    })
    .await
}
