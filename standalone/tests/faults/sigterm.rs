//! SIGTERM the board service under load: its health flips to NOT_SERVING at once, requests
//! already in flight finish (one is held open across the signal to prove it), the process
//! exits within 10 s, and every create that got a 2xx is readable after a restart.

use std::time::{Duration, Instant};

use bytes::Bytes;
use campus_proto::board::v1::{CreatePostRequest, Post};
use campus_shared::db::Backend;
use campus_testkit::backends;
use tokio_stream::StreamExt as _;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::deployment::{Deployment, Options, Proc};
use crate::load::{self, Load, Outcome, Sample};
use crate::{
    CLIENT_TIMEOUT, User, accepted_posts, assert_unavailable_bodies, create_posts, lost_posts, read_grades,
    read_post, serial, unexpected,
};

/// The contract: a terminated process is gone within this.
const EXIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_exits_in_time_and_loses_no_accepted_write() {
    let _serial = serial().await;
    for backend in backends() {
        let mut deployment = Deployment::start(backend, Options::default()).await;
        let http = deployment.http.clone();
        let (author, reader) = (User::new(&deployment, 301), User::new(&deployment, 302));
        let board = author.create_board(&http).await;
        let post = author.create_post(&http, &board, "종료 전 글").await;
        let context = format!("{backend:?}");

        // Board's own health, watched over a connection opened before the signal.
        let mut health = HealthWatch::open(format!("http://{}", deployment.addr(Proc::Board))).await;
        assert_eq!(
            health.next().await,
            Some(ServingStatus::Serving as i32),
            "board serves before the signal"
        );

        let load = Load::start(
            vec![create_posts(&author, &board, "term"), read_post(&reader, &post), read_grades(&reader)],
            CLIENT_TIMEOUT,
        );
        tokio::time::sleep(Duration::from_millis(500)).await;

        // A CreatePost whose headers reach board before the signal and whose message only
        // after it: an in-flight request in the strictest sense.
        let held = HeldCall::open(&deployment, &author.token, "/campus.board.v1.BoardService/CreatePost");
        tokio::time::sleep(Duration::from_millis(1000)).await;

        let terminated_at = load.now();
        let signalled = Instant::now();
        deployment.terminate(Proc::Board);
        let flipped = health.reaches(ServingStatus::NotServing, Duration::from_secs(3)).await;
        let not_serving = signalled.elapsed();
        assert!(flipped, "board's health did not flip to NOT_SERVING ({context})");
        drop(health);

        let request = CreatePostRequest {
            board_id: board.parse().expect("numeric id"),
            title: "신호 중에 보낸 글".into(),
            content: "in flight across SIGTERM".into(),
            anonymous: false,
        };
        let held_post: Post = held.finish(&request).await.unwrap_or_else(|e| {
            panic!(
                "the in-flight request finished ({context}): {e}\nboard log:\n{}",
                deployment.log_tail(Proc::Board)
            )
        });
        assert_eq!(held_post.title, "신호 중에 보낸 글");

        let exit = deployment.wait_exit(Proc::Board, EXIT).await;
        let exited_after = signalled.elapsed();
        let status = exit.unwrap_or_else(|| {
            panic!(
                "board still running {EXIT:?} after SIGTERM ({context}):\n{}",
                deployment.log_tail(Proc::Board)
            )
        });
        assert!(status.success(), "board exits cleanly on SIGTERM ({context}): {status}");

        // Down for a moment under load, then back on the same port and database.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let restarted_at = load.now();
        deployment.spawn(Proc::Board);
        deployment.wait_serving(Proc::Board).await;
        let back = load.wait_for("board:create", restarted_at, Duration::from_secs(5), |s| s.ok()).await;
        assert!(back.is_some(), "board accepts writes again after the restart ({context})");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let samples = load.stop().await;

        let bad = unexpected(&samples, &[503]);
        assert!(bad.is_empty(), "only 2xx and 503 around a SIGTERM, no 500, no hang ({context}): {bad:?}");
        assert_unavailable_bodies(&samples);
        let timetable: Vec<_> = samples.iter().filter(|s| s.route == "timetable:read").collect();
        assert!(
            timetable.iter().all(|s| s.ok()),
            "timetable unaffected ({context}): {}",
            load::tally(timetable)
        );
        let around: Vec<_> = samples
            .iter()
            .filter(|s| s.route.starts_with("board:") && s.at < terminated_at && s.ended() > terminated_at)
            .collect();

        // Nothing accepted was lost: the held post and every 2xx create are readable.
        let mut accepted = accepted_posts(&samples);
        accepted.push((held_post.id.to_string(), held_post.title.clone()));
        let lost = lost_posts(&reader, &http, &accepted).await;
        assert!(lost.is_empty(), "accepted posts lost ({context}): {lost:?}");

        println!(
            "FAULT sigterm-board [{backend:?}]: requests {} ({}); NOT_SERVING {:?} after SIGTERM; \
             in flight at the signal {} ({}) + 1 held open across it (finished 200); exited {:?} after \
             SIGTERM with {status}; creates accepted {} (incl. the held one), lost {}",
            samples.len(),
            load::tally(&samples),
            not_serving,
            around.len(),
            load::tally(around.iter().copied()),
            exited_after,
            accepted.len(),
            lost.len(),
        );
    }
}

/// The gateway too drains on SIGTERM: a call in flight through it finishes, it exits within
/// 10 s, and no write it answered with a 2xx is lost. (Its clients see the listener close,
/// which they retry; nothing half-processed answers them with a 5xx.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_on_the_gateway_finishes_in_flight_calls_and_exits_in_time() {
    let _serial = serial().await;
    // The gateway keeps no data of its own: one backend is enough.
    let mut deployment = Deployment::start(Backend::Sqlite, Options::default()).await;
    let http = deployment.http.clone();
    let (author, reader) = (User::new(&deployment, 311), User::new(&deployment, 312));
    let board = author.create_board(&http).await;
    let post = author.create_post(&http, &board, "게이트웨이 종료 전 글").await;

    // The gateway's own health, watched over a connection opened before the signal. It
    // reports SERVING once its upstream watcher (every 2 s) has seen them all serving.
    let mut health = HealthWatch::open(deployment.base.clone()).await;
    assert!(
        health.reaches(ServingStatus::Serving, Duration::from_secs(5)).await,
        "the gateway's health reports SERVING before the signal"
    );

    let load =
        Load::start(vec![create_posts(&author, &board, "gw"), read_post(&reader, &post)], CLIENT_TIMEOUT);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = HeldCall::open(&deployment, &author.token, "/campus.board.v1.BoardService/CreatePost");
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let terminated_at = load.now();
    let signalled = Instant::now();
    deployment.terminate(Proc::Gateway);
    let flipped = health.reaches(ServingStatus::NotServing, Duration::from_secs(3)).await;
    let not_serving = signalled.elapsed();
    assert!(flipped, "the gateway's health flips to NOT_SERVING on SIGTERM");
    drop(health);
    let request = CreatePostRequest {
        board_id: board.parse().expect("numeric id"),
        title: "게이트웨이 종료 중에 보낸 글".into(),
        content: "in flight through the gateway across SIGTERM".into(),
        anonymous: false,
    };
    let held_post: Post = held.finish(&request).await.unwrap_or_else(|e| {
        panic!("the call in flight finished: {e}\ngateway log:\n{}", deployment.log_tail(Proc::Gateway))
    });
    let exit = deployment.wait_exit(Proc::Gateway, EXIT).await;
    let exited_after = signalled.elapsed();
    let status = exit.unwrap_or_else(|| {
        panic!("gateway still running {EXIT:?} after SIGTERM:\n{}", deployment.log_tail(Proc::Gateway))
    });
    assert!(status.success(), "the gateway exits cleanly on SIGTERM: {status}");
    let samples = load.stop().await;

    // Before the signal everything succeeded; after it a client either got its answer or
    // could not reach the gateway at all — never a 5xx, never a hang.
    let before: Vec<&Sample> = samples.iter().filter(|s| s.ended() < terminated_at).collect();
    assert!(before.len() > 5 && before.iter().all(|s| s.ok()), "served before: {}", load::tally(before));
    let bad: Vec<&Sample> =
        samples.iter().filter(|s| !s.ok() && !matches!(s.outcome, Outcome::Transport(_))).collect();
    assert!(bad.is_empty(), "no 5xx and no hang around the gateway's SIGTERM: {bad:?}");

    deployment.spawn(Proc::Gateway);
    deployment.wait_serving(Proc::Gateway).await;
    let mut accepted = accepted_posts(&samples);
    accepted.push((held_post.id.to_string(), held_post.title.clone()));
    let lost = lost_posts(&reader, &http, &accepted).await;
    assert!(lost.is_empty(), "accepted posts lost: {lost:?}");

    println!(
        "FAULT sigterm-gateway: requests {} ({}); NOT_SERVING {:?} after SIGTERM; 1 call held open \
         across SIGTERM (finished 200); exited {:?} after SIGTERM with {status}; creates accepted {} \
         (incl. the held one), lost {}",
        samples.len(),
        load::tally(&samples),
        not_serving,
        exited_after,
        accepted.len(),
        lost.len(),
    );
}

/// A process's overall grpc.health.v1 status, watched over a connection opened at once.
struct HealthWatch(tonic::Streaming<HealthCheckResponse>);

impl HealthWatch {
    async fn open(url: String) -> Self {
        let channel = tonic::transport::Endpoint::from_shared(url.clone())
            .expect("url")
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
        let updates = HealthClient::new(channel)
            .watch(HealthCheckRequest { service: String::new() })
            .await
            .expect("watch")
            .into_inner();
        Self(updates)
    }

    /// The next status reported; `None` once the stream has ended.
    async fn next(&mut self) -> Option<i32> {
        match self.0.next().await {
            Some(Ok(update)) => Some(update.status),
            _ => None,
        }
    }

    /// Whether `status` is reported within `limit`.
    async fn reaches(&mut self, status: ServingStatus, limit: Duration) -> bool {
        tokio::time::timeout(limit, async {
            while let Some(reported) = self.next().await {
                if reported == status as i32 {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false)
    }
}

/// A unary gRPC-web call through the gateway whose request message is sent only when the
/// test says so: the headers go out at once, so the upstream has the call open.
struct HeldCall {
    body: tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    response: tokio::task::JoinHandle<reqwest::Result<(reqwest::StatusCode, Bytes)>>,
}

impl HeldCall {
    fn open(deployment: &Deployment, token: &str, method: &str) -> Self {
        let (body, rx) = tokio::sync::mpsc::channel(1);
        let request = deployment
            .http
            .post(format!("{}{method}", deployment.base))
            .bearer_auth(token)
            .header("content-type", "application/grpc-web+proto")
            .header("x-grpc-web", "1")
            .body(reqwest::Body::wrap_stream(tokio_stream::wrappers::ReceiverStream::new(rx)));
        let response = tokio::spawn(async move {
            let response = request.send().await?;
            let status = response.status();
            Ok((status, response.bytes().await?))
        });
        Self { body, response }
    }

    /// Sends the message, ends the request and decodes the answer.
    async fn finish<Req: prost::Message, Res: prost::Message + Default>(
        self,
        message: &Req,
    ) -> Result<Res, String> {
        self.body
            .send(Ok(campus_testkit::bench::grpc_web::frame(message)))
            .await
            .map_err(|_| "the request body was dropped".to_string())?;
        drop(self.body);
        let (status, body) = tokio::time::timeout(Duration::from_secs(10), self.response)
            .await
            .map_err(|_| "no answer within 10 s".to_string())?
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!("HTTP {status}"));
        }
        let (messages, trailers) = grpc_web_frames(&body);
        let grpc_status = trailers.lines().find_map(|l| l.strip_prefix("grpc-status:")).map(str::trim);
        if grpc_status != Some("0") {
            return Err(format!("trailers: {trailers:?}"));
        }
        let first = messages.first().ok_or("no message")?;
        Res::decode(first.as_slice()).map_err(|e| e.to_string())
    }
}

/// gRPC-web frames: the data messages and the trailer block's text.
fn grpc_web_frames(mut body: &[u8]) -> (Vec<Vec<u8>>, String) {
    let (mut messages, mut trailers) = (Vec::new(), String::new());
    while body.len() >= 5 {
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let Some(payload) = body.get(5..5 + len) else { break };
        if body[0] & 0x80 == 0 {
            messages.push(payload.to_vec());
        } else {
            trailers.push_str(&String::from_utf8_lossy(payload).to_ascii_lowercase());
        }
        body = &body[5 + len..];
    }
    (messages, trailers)
}
