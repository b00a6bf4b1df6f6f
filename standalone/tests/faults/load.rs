//! A closed-loop load generator: workers that each send one request after another through
//! the gateway, every request bounded by a client timeout, and a record of what came back
//! and when.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What one request got.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// An HTTP answer: the status and the body (JSON, or Null).
    Answer(u16, Value),
    /// No answer within the client timeout.
    Hang,
    /// The connection to the gateway failed (the gateway itself is never the one killed).
    Transport(String),
}

/// One request of the run: when it started (since the run began), how long it took, on which
/// route, and what it got.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub(crate) route: &'static str,
    pub(crate) at: Duration,
    pub(crate) took: Duration,
    pub(crate) outcome: Outcome,
}

impl Sample {
    pub(crate) fn status(&self) -> Option<u16> {
        match self.outcome {
            Outcome::Answer(status, _) => Some(status),
            _ => None,
        }
    }

    pub(crate) fn ok(&self) -> bool {
        self.status().is_some_and(|s| (200..300).contains(&s))
    }

    pub(crate) fn ended(&self) -> Duration {
        self.at + self.took
    }

    pub(crate) fn body(&self) -> &Value {
        match &self.outcome {
            Outcome::Answer(_, body) => body,
            _ => &Value::Null,
        }
    }
}

/// Builds the `n`th request of a worker.
pub(crate) type MakeRequest = Arc<dyn Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync>;

/// A worker: a route name and how to make its requests.
pub(crate) struct Worker {
    pub(crate) route: &'static str,
    pub(crate) make: MakeRequest,
}

pub(crate) fn worker(
    route: &'static str,
    make: impl Fn(&reqwest::Client, u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> Worker {
    Worker { route, make: Arc::new(make) }
}

/// A running load; [`Load::stop`] ends it and hands back every sample.
pub(crate) struct Load {
    start: Instant,
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Starts every worker; each request gives up after `timeout` and counts as a hang.
    pub(crate) fn start(workers: Vec<Worker>, timeout: Duration) -> Self {
        let start = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let sequence = Arc::new(AtomicU64::new(0));
        let tasks = workers
            .into_iter()
            .map(|worker| {
                let (stop, samples, sequence) = (stop.clone(), samples.clone(), sequence.clone());
                // One connection pool per worker, as separate clients would have.
                let http = reqwest::Client::builder().timeout(timeout).build().expect("HTTP client");
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let n = sequence.fetch_add(1, Ordering::Relaxed);
                        let at = start.elapsed();
                        let sent = Instant::now();
                        let outcome = match (worker.make)(&http, n).send().await {
                            Ok(response) => {
                                let status = response.status().as_u16();
                                match response.text().await {
                                    Ok(text) => Outcome::Answer(status, parse(&text)),
                                    Err(e) if e.is_timeout() => Outcome::Hang,
                                    Err(e) => Outcome::Transport(e.to_string()),
                                }
                            }
                            Err(e) if e.is_timeout() => Outcome::Hang,
                            Err(e) => Outcome::Transport(format!("{e:?}")),
                        };
                        let sample = Sample { route: worker.route, at, took: sent.elapsed(), outcome };
                        samples.lock().unwrap_or_else(|e| e.into_inner()).push(sample);
                    }
                })
            })
            .collect();
        Self { start, stop, samples, tasks }
    }

    /// Time since the load started, on the samples' clock.
    pub(crate) fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The samples so far.
    pub(crate) fn snapshot(&self) -> Vec<Sample> {
        self.samples.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until a sample of `route` started after `since` satisfies `done`, up to `limit`;
    /// returns when that sample started.
    pub(crate) async fn wait_for(
        &self,
        route: &str,
        since: Duration,
        limit: Duration,
        done: impl Fn(&Sample) -> bool,
    ) -> Option<Duration> {
        let deadline = Instant::now() + limit;
        loop {
            let found = self
                .snapshot()
                .iter()
                .filter(|s| s.route == route && s.at >= since && done(s))
                .map(|s| s.at)
                .min();
            if found.is_some() || Instant::now() >= deadline {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `streak` requests started after the last failure (of those started since
    /// `since`) have all succeeded; `false` if that takes longer than `limit`.
    pub(crate) async fn wait_until_calm(&self, since: Duration, streak: usize, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            let samples: Vec<Sample> = self.snapshot().into_iter().filter(|s| s.at >= since).collect();
            let last_error = samples.iter().filter(|s| !s.ok()).map(|s| s.ended()).max().unwrap_or(since);
            if samples.iter().filter(|s| s.at > last_error).count() >= streak {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the workers (each finishes its request in flight) and returns every sample.
    pub(crate) async fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.expect("load worker");
        }
        let mut samples = std::mem::take(&mut *self.samples.lock().unwrap_or_else(|e| e.into_inner()));
        samples.sort_by_key(|s| s.at);
        samples
    }
}

fn parse(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
    }
}

/// The `q`th quantile (0..=1) of some durations.
pub(crate) fn quantile(durations: &[Duration], q: f64) -> Duration {
    if durations.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = durations.to_vec();
    sorted.sort();
    let index = ((sorted.len() as f64 - 1.0) * q).ceil() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Counts of each outcome, for messages and the summary table: `200×52 503×7 hang×0`.
pub(crate) fn tally<'a>(samples: impl IntoIterator<Item = &'a Sample>) -> String {
    let mut counts = std::collections::BTreeMap::new();
    for sample in samples {
        let key = match &sample.outcome {
            Outcome::Answer(status, _) => status.to_string(),
            Outcome::Hang => "hang".to_string(),
            Outcome::Transport(_) => "transport".to_string(),
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    if counts.is_empty() {
        return "none".into();
    }
    counts.iter().map(|(k, n)| format!("{k}×{n}")).collect::<Vec<_>>().join(" ")
}
