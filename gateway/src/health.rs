//! Readiness: the gateway is ready when every upstream answers its grpc.health.v1 Check with
//! SERVING. Results are cached for a second so probes and the health watcher cannot turn
//! into a load of their own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tokio::sync::Mutex;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus as Wire;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::server::HealthReporter;

use crate::proxy::Upstream;

const CHECK_TIMEOUT: Duration = Duration::from_millis(500);
const CACHE_FOR: Duration = Duration::from_secs(1);

/// One upstream's state: `Ok` when SERVING, else why not.
pub(crate) type UpstreamState = (&'static str, Result<(), String>);

/// Checks (and caches) every upstream's health.
#[derive(Debug)]
pub(crate) struct Readiness {
    upstreams: Vec<Upstream>,
    cache: Mutex<Option<(Instant, Arc<Vec<UpstreamState>>)>>,
    /// Set once shutdown has begun: nothing new should be routed here.
    draining: AtomicBool,
}

impl Readiness {
    pub(crate) fn new(upstreams: Vec<Upstream>) -> Self {
        Self { upstreams, cache: Mutex::new(None), draining: AtomicBool::new(false) }
    }

    /// Every upstream's state, at most a second old.
    pub(crate) async fn check(&self) -> Arc<Vec<UpstreamState>> {
        // Holding the lock while checking makes concurrent probes share one round of checks.
        let mut cache = self.cache.lock().await;
        if let Some((at, states)) = cache.as_ref()
            && at.elapsed() < CACHE_FOR
        {
            return states.clone();
        }
        let checks = self.upstreams.iter().map(|u| async move { (u.name, check_one(u).await) });
        let states = Arc::new(futures::future::join_all(checks).await);
        *cache = Some((Instant::now(), states.clone()));
        states
    }

    /// `(ready, body)` for `/readyz`.
    pub(crate) async fn report(&self) -> (bool, Value) {
        if self.draining.load(Ordering::Relaxed) {
            return (false, json!({"status": "draining"}));
        }
        let states = self.check().await;
        let ready = states.iter().all(|(_, s)| s.is_ok());
        let mut upstreams = Map::new();
        for (name, state) in states.iter() {
            let text = match state {
                Ok(()) => "SERVING".to_string(),
                Err(why) => why.clone(),
            };
            upstreams.insert((*name).to_string(), Value::String(text));
        }
        (ready, json!({"status": if ready { "ready" } else { "unavailable" }, "upstreams": upstreams}))
    }

    /// Keeps the gateway's own grpc.health.v1 status in step with its upstreams: the overall
    /// ("") status is SERVING only when all are, and each campus service's name reports its
    /// upstream.
    pub(crate) async fn watch(
        self: Arc<Self>,
        reporter: HealthReporter,
        services: Vec<(&'static str, String)>,
    ) {
        loop {
            let states = self.check().await;
            let all = states.iter().all(|(_, s)| s.is_ok());
            reporter.set_service_status("", serving(all)).await;
            for (upstream, service) in &services {
                let ok = states.iter().any(|(name, s)| name == upstream && s.is_ok());
                reporter.set_service_status(service, serving(ok)).await;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

impl Readiness {
    /// Shutdown has begun: `/readyz` and every grpc.health.v1 name report NOT_SERVING while
    /// the requests in flight finish. Call after stopping [`Readiness::watch`].
    pub(crate) async fn drain(&self, reporter: &HealthReporter, services: &[(&'static str, String)]) {
        self.draining.store(true, Ordering::Relaxed);
        reporter.set_service_status("", ServingStatus::NotServing).await;
        for (_, service) in services {
            reporter.set_service_status(service, ServingStatus::NotServing).await;
        }
    }
}

fn serving(ok: bool) -> ServingStatus {
    if ok { ServingStatus::Serving } else { ServingStatus::NotServing }
}

async fn check_one(upstream: &Upstream) -> Result<(), String> {
    let mut client = HealthClient::new(upstream.channel.clone());
    let call = client.check(HealthCheckRequest { service: String::new() });
    match tokio::time::timeout(CHECK_TIMEOUT, call).await {
        Err(_) => Err("health check timed out".into()),
        Ok(Err(status)) => Err(format!("unavailable ({:?})", status.code())),
        Ok(Ok(response)) => match Wire::try_from(response.into_inner().status) {
            Ok(Wire::Serving) => Ok(()),
            Ok(other) => Err(other.as_str_name().to_string()),
            Err(_) => Err("unknown health status".into()),
        },
    }
}
