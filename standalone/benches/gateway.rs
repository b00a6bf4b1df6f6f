//! The same read call made four ways at 64 in flight, side by side: directly to the service
//! over gRPC, and through the gateway as gRPC, as gRPC-web (HTTP/1.1) and as HTTP/JSON.
//!
//! The call is the real account service's GetSchool (token check plus a database read).
//!
//! `cargo bench -p campus --bench gateway` (CAMPUS_BENCH_SECS sets the measured seconds per
//! workload, default 8; CAMPUS_TEST_PG_URL puts the account service on PostgreSQL).

#[path = "../tests/gateway/support.rs"]
mod support;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use campus_gateway::{Application, Config, Upstreams};
use campus_proto::account::v1::account_service_client::AccountServiceClient;
use campus_proto::account::v1::{GetSchoolRequest, School};
use campus_shared::db::Backend;
use campus_testkit::bench::{Report, grpc_web, run};
use campus_testkit::{TestDatabase, TestIdentity};
use tonic::Request;

const IN_FLIGHT: usize = 64;

/// The real account service on a fresh database (SQLite, or PostgreSQL when
/// `CAMPUS_TEST_PG_URL` is set) with one school; returns its address and the school's id.
async fn spawn_account(identity: &TestIdentity) -> (SocketAddr, i64, TestDatabase) {
    let backend = if campus_shared::config::var(campus_testkit::PG_URL_VAR).is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let db = TestDatabase::new(backend).await;
    let addr = support::spawn_account(identity, &db, std::future::pending(), |_| {}).await;
    let school_id = support::create_school(identity, addr).await;
    (addr, school_id, db)
}

async fn spawn_gateway(identity: &TestIdentity, upstream: SocketAddr, db: &TestDatabase) -> SocketAddr {
    let url = format!("http://{upstream}");
    let mut config = Config::new(identity.key.clone(), identity.service_token.clone());
    config.listen_addr = ([127, 0, 0, 1], 0).into();
    config.database = db.config();
    config.upstreams =
        Upstreams { account: url.clone(), board: url.clone(), messaging: url.clone(), timetable: url };
    let app = Application::build(config).await.unwrap();
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    addr
}

type Call = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// Rounds of every workload, interleaved, so background load on a shared machine weighs
/// on all four alike; throughput is over all rounds, latency percentiles the median round's.
fn combine(name: &str, rounds: &[Report]) -> Report {
    let median = |f: fn(&Report) -> Duration| {
        let mut values: Vec<Duration> = rounds.iter().map(f).collect();
        values.sort_unstable();
        values[values.len() / 2]
    };
    Report {
        name: name.to_string(),
        requests: rounds.iter().map(|r| r.requests).sum(),
        errors: rounds.iter().map(|r| r.errors).sum(),
        elapsed: rounds.iter().map(|r| r.elapsed).sum(),
        p50: median(|r| r.p50),
        p90: median(|r| r.p90),
        p99: median(|r| r.p99),
    }
}

#[tokio::main]
async fn main() {
    let seconds: u64 = campus_testkit::bench::measured_secs(8);
    let rounds: u32 = 4;
    let round = Duration::from_secs(seconds) / rounds;
    let identity = TestIdentity::new();
    let (upstream, school_id, _db) = spawn_account(&identity).await;
    let gateway_db = TestDatabase::new(Backend::Sqlite).await;
    let gateway = spawn_gateway(&identity, upstream, &gateway_db).await;
    let bearer = identity.bearer(42, 1);

    let mut workloads: Vec<(&str, Call)> = Vec::new();
    for (name, addr) in [("gRPC direct to the service", upstream), ("gRPC through the gateway", gateway)] {
        let client = AccountServiceClient::new(campus_testkit::channel(addr));
        let bearer = bearer.clone();
        let call: Call = Arc::new(move || {
            let mut client = client.clone();
            let mut request = Request::new(GetSchoolRequest { id: school_id });
            request.metadata_mut().insert("authorization", bearer.parse().unwrap());
            Box::pin(
                async move { client.get_school(request).await.is_ok_and(|r| r.get_ref().id == school_id) },
            )
        });
        workloads.push((name, call));
    }

    let http = reqwest::Client::builder().http1_only().pool_max_idle_per_host(IN_FLIGHT).build().unwrap();
    {
        let http = http.clone();
        let url = format!("http://{gateway}/campus.account.v1.AccountService/GetSchool");
        let body = grpc_web::frame(&GetSchoolRequest { id: school_id });
        let bearer = bearer.clone();
        let call: Call = Arc::new(move || {
            let request = http
                .post(&url)
                .header("content-type", "application/grpc-web+proto")
                .header("x-grpc-web", "1")
                .header("authorization", &bearer)
                .body(body.clone());
            Box::pin(async move {
                match request.send().await {
                    Ok(response) => response
                        .bytes()
                        .await
                        .is_ok_and(|b| grpc_web::unframe::<School>(&b).is_ok_and(|s| s.id == school_id)),
                    Err(_) => false,
                }
            })
        });
        workloads.push(("gRPC-web (HTTP/1.1) through the gateway", call));
    }
    {
        let url = format!("http://{gateway}/v1/schools/{school_id}");
        let id = school_id.to_string();
        let call: Call = Arc::new(move || {
            let request = http.get(&url).header("authorization", &bearer);
            let id = id.clone();
            Box::pin(async move {
                match request.send().await {
                    Ok(response) if response.status() == 200 => response
                        .json::<serde_json::Value>()
                        .await
                        .is_ok_and(|v| v["id"] == id.as_str() && v["name"] == "연세대학교"),
                    _ => false,
                }
            })
        });
        workloads.push(("HTTP/JSON through the gateway", call));
    }

    let mut results: Vec<Vec<Report>> = vec![Vec::new(); workloads.len()];
    for r in 0..rounds {
        let warmup = if r == 0 { Duration::from_secs(1) } else { Duration::from_millis(200) };
        for (i, (name, call)) in workloads.iter().enumerate() {
            let call = call.clone();
            results[i].push(run(name, IN_FLIGHT, warmup, round, move |_| call()).await);
        }
    }
    let reports: Vec<Report> =
        workloads.iter().zip(&results).map(|((name, _), rounds)| combine(name, rounds)).collect();

    println!(
        "\nAccountService/GetSchool (real account service), {IN_FLIGHT} in flight, {seconds} s each in {rounds} interleaved rounds\n"
    );
    println!("{}", Report::MARKDOWN_HEADER);
    for report in &reports {
        println!("{}", report.markdown_row());
    }
    let rate = |i: usize| reports[i].per_second();
    println!(
        "\nHTTP/JSON vs direct gRPC: {:.2}x (target >= 0.6)\ngRPC-web vs gRPC through the gateway: {:.2}x (target >= 0.9)",
        rate(3) / rate(0),
        rate(2) / rate(1)
    );
}
