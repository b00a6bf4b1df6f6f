//! "W4 notify": the comment workload with notifications on, beside W4 with them off, in one
//! run (DESIGN §9).
//!
//! - **Off** ("W4"): the messaging service is frozen (`SIGSTOP`) while W4 runs. Board writes
//!   its events as always (they are part of every comment's transaction), but nothing
//!   consumes them: no notification is made, stored or streamed.
//! - **On** ("W4 notify"): messaging runs, consumes board's feed and streams. Before the
//!   workload starts, every hot post's author opens `StreamNotifications` through the
//!   gateway over gRPC, and the workload's comments are the same as W4's.
//!
//! Between the two, messaging works off the backlog "off" left in board's feed; the bench
//! waits for its cursor to reach board's feed head, so neither run pays for the other.
//!
//! Lag, per comment that notifies someone (the writer is not the post's author): from the
//! moment its `201 Created` reaches the writer to the moment its notification reaches the
//! author's stream, both on this process's clock. A comment whose notification has not
//! arrived 10 s after the workload counts as lost.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use campus_proto::messaging::v1::notification_service_client::NotificationServiceClient;
use campus_proto::messaging::v1::{NotificationKind, StreamNotificationsRequest};
use campus_testkit::bench::{ms, percentile};

use crate::layout::Layout;
use crate::measure::Driver;
use crate::plan::{Finish, Planned, Prepared, Section};
use crate::report::Target;
use crate::workloads::{self, Deliveries, TokenSource, Tokens};

/// "W4": CreateComment on the hot posts with notifications off, messaging (`messaging_pid`)
/// frozen while it runs.
pub(crate) fn comments_unnotified(gateway: SocketAddr, tokens: TokenSource, messaging_pid: u32) -> Planned {
    let name = "CreateComment on 10 hot posts, HTTP/JSON through the gateway (notifications off)";
    Planned::prepared("W4", name, move || {
        let call = workloads::create_comment(gateway, tokens.layout, tokens.fresh(), None);
        Box::pin(async move {
            freeze(messaging_pid, true)?;
            let finish: Finish = Box::new(move || {
                Box::pin(async move {
                    freeze(messaging_pid, false)?;
                    Ok(None)
                })
            });
            Ok(Prepared { driver: Driver::Calls(call), finish: Some(finish) })
        })
    })
}

/// "W4 notify": the same comments with notifications on, once messaging has caught up with
/// board's feed (board's database `board_db`, messaging's `messaging_db`), the hot posts'
/// authors listening; the lag is a section of the report.
pub(crate) fn comments_notified(
    gateway: SocketAddr,
    tokens: TokenSource,
    board_db: String,
    messaging_db: String,
) -> Planned {
    let name = "W4 with notifications on: the hot posts' authors on StreamNotifications";
    Planned::prepared("W4 notify", name, move || {
        let (tokens, board_db, messaging_db) = (tokens.clone(), board_db.clone(), messaging_db.clone());
        Box::pin(async move {
            let caught_up = wait_caught_up(&board_db, &messaging_db).await?;
            eprintln!("messaging caught up with board's feed in {:.1}s", caught_up.as_secs_f64());
            let (layout, tokens) = (tokens.layout, tokens.fresh());
            let listeners = Listeners::open(gateway, &layout, &tokens).await?;
            let deliveries = Some(listeners.deliveries.clone());
            let driver = Driver::Calls(workloads::create_comment(gateway, layout, tokens, deliveries));
            let finish: Finish = Box::new(move || {
                Box::pin(async move { Ok(Some(Box::new(listeners.finish().await) as Box<dyn Section>)) })
            });
            Ok(Prepared { driver, finish: Some(finish) })
        })
    })
}

/// The open streams of the hot posts' authors, recording what arrives.
#[derive(Debug)]
pub(crate) struct Listeners {
    pub(crate) deliveries: Arc<Deliveries>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Notifications that were not a COMMENT on a hot post (there should be none).
    unexpected: Arc<std::sync::atomic::AtomicU64>,
}

impl Listeners {
    /// Opens one stream per distinct author of the hot posts, through the gateway.
    pub(crate) async fn open(gateway: SocketAddr, layout: &Layout, tokens: &Tokens) -> anyhow::Result<Self> {
        let deliveries = Arc::new(Deliveries::default());
        let unexpected = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let hot: Vec<i64> = layout.hot_posts().map(|n| layout.post_id(n)).collect();
        let mut authors: Vec<i64> = layout.hot_posts().map(|n| layout.post_author(n)).collect();
        authors.sort_unstable();
        authors.dedup();
        let channel = campus_testkit::channel(gateway);
        let mut tasks = Vec::new();
        for author in authors {
            let request = tokens.grpc(StreamNotificationsRequest {}, author as u64);
            let mut stream = NotificationServiceClient::new(channel.clone())
                .stream_notifications(request)
                .await
                .context("open StreamNotifications through the gateway")?
                .into_inner();
            let (deliveries, unexpected, hot) = (deliveries.clone(), unexpected.clone(), hot.clone());
            tasks.push(tokio::spawn(async move {
                while let Ok(Some(message)) = stream.message().await {
                    let Some(n) = message.notification else { continue };
                    match n.comment_id {
                        Some(id)
                            if n.kind == NotificationKind::Comment as i32 && hot.contains(&n.post_id) =>
                        {
                            deliveries.arrived(id)
                        }
                        _ => {
                            unexpected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        Ok(Self { deliveries, tasks, unexpected })
    }

    /// Waits (up to 10 s) for every acknowledged comment's notification, closes the streams
    /// and sums up.
    pub(crate) async fn finish(self) -> Lag {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.deliveries.missing() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for task in &self.tasks {
            task.abort();
        }
        let (acknowledged, arrived) = self.deliveries.times();
        let mut lags: Vec<Duration> = acknowledged
            .iter()
            .filter_map(|(id, at)| arrived.get(id).map(|got| got.saturating_duration_since(*at)))
            .collect();
        lags.sort_unstable();
        Lag {
            comments: acknowledged.len(),
            lost: acknowledged.len() - lags.len(),
            unexpected: self.unexpected.load(std::sync::atomic::Ordering::Relaxed),
            p50: percentile(&lags, 0.50),
            p99: percentile(&lags, 0.99),
            max: lags.last().copied().unwrap_or_default(),
        }
    }
}

/// Comment-to-notification lag of one run.
#[derive(Debug, Clone)]
pub(crate) struct Lag {
    comments: usize,
    lost: usize,
    unexpected: u64,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Section for Lag {
    fn targets(&self) -> Vec<Target> {
        vec![
            Target {
                target: "W4 notify: comment-to-notification lag p99 ≤ 1 s (StreamNotifications)".into(),
                measured: format!("{:.1} ms", ms(self.p99)),
                met: Some(self.comments > 0 && self.p99 <= Duration::from_secs(1)),
            },
            Target {
                target: "W4 notify: every notification arrives once (none lost, none stray)".into(),
                measured: format!("{} lost, {} stray of {}", self.lost, self.unexpected, self.comments),
                met: Some(self.comments > 0 && self.lost == 0 && self.unexpected == 0),
            },
        ]
    }

    fn markdown(&self) -> String {
        format!(
            "\n## Notifications (W4 notify)\n\n\
             Lag from a comment's `201 Created` to its notification on the post author's \
             StreamNotifications (gRPC through the gateway), over every comment of the run that \
             notifies someone.\n\n\
             | comments | lost | stray | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n\
             | {} | {} | {} | {:.1} | {:.1} | {:.1} |\n",
            self.comments,
            self.lost,
            self.unexpected,
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// Freezes (`true`) or thaws the process `pid` (SIGSTOP / SIGCONT).
pub(crate) fn freeze(pid: u32, frozen: bool) -> anyhow::Result<()> {
    let signal = if frozen { "-STOP" } else { "-CONT" };
    let status = std::process::Command::new("kill").args([signal, &pid.to_string()]).status()?;
    if !status.success() {
        bail!("kill {signal} {pid} failed");
    }
    Ok(())
}

/// Waits until messaging's cursor on board's feed reaches the feed's head (up to 5 minutes).
pub(crate) async fn wait_caught_up(board_db: &str, messaging_db: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let board = sqlx::PgPool::connect(board_db).await?;
    let messaging = sqlx::PgPool::connect(messaging_db).await?;
    loop {
        let head: Option<i64> = sqlx::query_scalar("SELECT position FROM event_feed_head WHERE id = 1")
            .fetch_optional(&board)
            .await?;
        let cursor: Option<i64> =
            sqlx::query_scalar("SELECT position FROM event_cursor WHERE feed = 'board'")
                .fetch_optional(&messaging)
                .await?;
        if cursor.unwrap_or(0) >= head.unwrap_or(0) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!("messaging did not catch up with board's feed in 5 minutes ({cursor:?} of {head:?})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
