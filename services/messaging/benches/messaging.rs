//! Messaging benchmarks, on SQLite and (when `CAMPUS_TEST_PG_URL` is set) PostgreSQL:
//! SendMessage and ListConversations at 64 calls in flight, and stream fan-out: the time from
//! starting a SendMessage to its receipt on the recipient's stream while 1,000 streams are
//! open. `cargo bench -p campus-messaging`; `CAMPUS_BENCH_SECS` sets the measured seconds (default 10).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use campus_messaging::{Application, Config};
use campus_proto::messaging::v1::create_conversation_request::Target;
use campus_proto::messaging::v1::messaging_service_client::MessagingServiceClient;
use campus_proto::messaging::v1::{
    CreateConversationRequest, ListConversationsRequest, SendMessageRequest, StreamMessagesRequest,
};
use campus_shared::db::Backend;
use campus_shared::{Caller, Role};
use campus_testkit::bench::{Report, run};
use campus_testkit::fakes::{self, Directory};
use campus_testkit::{TestDatabase, TestIdentity, backends, channel};
use futures::StreamExt;
use tonic::Request;
use tonic::transport::Channel;

const SCHOOL: i64 = 1;
const SENDER: i64 = 1;
/// Conversations of the sender that SendMessage spreads over (one per in-flight worker).
const SEND_CONVERSATIONS: i64 = 64;
const IN_FLIGHT: usize = 64;
const STREAMS: i64 = 1000;
const FANOUT_MESSAGES: usize = 2000;
const FANOUT_IN_FLIGHT: usize = 16;
/// Connections the clients spread over (HTTP/2 allows ~200 concurrent streams on each).
const CONNECTIONS: usize = 16;

struct Bench {
    clients: Vec<MessagingServiceClient<Channel>>,
    tokens: Vec<String>,
}

impl Bench {
    fn client(&self, i: u64) -> MessagingServiceClient<Channel> {
        self.clients[i as usize % self.clients.len()].clone()
    }

    fn req<T>(&self, user: i64, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.metadata_mut().insert("authorization", self.tokens[user as usize].parse().expect("ascii"));
        request
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let seconds = campus_testkit::bench::measured_secs(10);
        println!("{}", Report::MARKDOWN_HEADER);
        for backend in backends() {
            bench_backend(backend, Duration::from_secs(seconds)).await;
        }
    });
}

async fn bench_backend(backend: Backend, duration: Duration) {
    let label = format!("{backend:?}").to_lowercase();
    let identity = TestIdentity::new();
    let dir = Directory::default();
    let users = 1 + SEND_CONVERSATIONS + STREAMS;
    let mut tokens = vec![String::new()];
    for user in 1..=users {
        let nickname = format!("user{user}");
        dir.add_user(user, SCHOOL, &nickname);
        tokens.push(identity.bearer_for(&Caller {
            user_id: user,
            school_id: SCHOOL,
            role: Role::User,
            nickname,
        }));
    }
    let board_addr = format!("http://{}", fakes::spawn_board(dir.clone(), &identity).await);
    let account_addr = format!("http://{}", fakes::spawn_account(dir, &identity).await);
    let db = TestDatabase::new(backend).await;
    let mut service = identity.service_config(&db);
    // Streams are held open across the run; keep the pool as configured in production.
    service.limits.concurrency_limit = 4096;
    let app = Application::build(Config {
        service,
        board_addr,
        account_addr,
        max_streams_per_user: Config::DEFAULT_MAX_STREAMS_PER_USER,
    })
    .await
    .expect("build");
    let addr = app.local_addr();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stop_rx.await;
    }));
    let clients = (0..CONNECTIONS).map(|_| MessagingServiceClient::new(channel(addr))).collect();
    let bench = Arc::new(Bench { clients, tokens });

    // The sender talks with everyone: 64 conversations for SendMessage, 1,000 more whose
    // recipients hold the streams. Set up 32 at a time.
    let created: Vec<(i64, i64)> = futures::stream::iter(2..=users)
        .map(|user| {
            let bench = bench.clone();
            async move {
                let body = CreateConversationRequest {
                    target: Some(Target::UserId(user)),
                    anonymous: false,
                    content: "hello".into(),
                };
                let c = bench.client(user as u64).create_conversation(bench.req(SENDER, body)).await;
                (user, c.expect("create conversation").into_inner().id)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut conversations = vec![0i64; users as usize + 1];
    for (user, id) in created {
        conversations[user as usize] = id;
    }
    let conversations = Arc::new(conversations);
    // Fresh statistics, as autovacuum (or SQLite's `PRAGMA optimize`) would have in steady
    // state; right after a bulk load the planners would still think the tables are empty.
    {
        use sqlx::Connection;
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.expect("connect for ANALYZE");
        sqlx::query("ANALYZE").execute(&mut conn).await.expect("ANALYZE");
        let _ = conn.close().await;
    }

    let send =
        run(&format!("{label} SendMessage x{IN_FLIGHT}"), IN_FLIGHT, Duration::from_secs(2), duration, {
            let (bench, conversations) = (bench.clone(), conversations.clone());
            move |i: u64| {
                let bench = bench.clone();
                let peer = 2 + (i as i64 % SEND_CONVERSATIONS);
                let id = conversations[peer as usize];
                // Both sides write, so both inbox rows and counters move.
                let sender = if i.is_multiple_of(2) { SENDER } else { peer };
                async move {
                    let body = SendMessageRequest { conversation_id: id, content: format!("message {i}") };
                    bench.client(i).send_message(bench.req(sender, body)).await.is_ok()
                }
            }
        })
        .await;
    println!("{}", send.markdown_row());

    let list = run(
        &format!("{label} ListConversations x{IN_FLIGHT} (page 20 of 1,064)"),
        IN_FLIGHT,
        Duration::from_secs(2),
        duration,
        {
            let bench = bench.clone();
            move |i| {
                let bench = bench.clone();
                async move {
                    let body = ListConversationsRequest { page_size: 20, page_token: String::new() };
                    match bench.client(i).list_conversations(bench.req(SENDER, body)).await {
                        Ok(r) => r.into_inner().conversations.len() == 20,
                        Err(_) => false,
                    }
                }
            }
        },
    )
    .await;
    println!("{}", list.markdown_row());

    fanout(&bench, &label, &conversations, 1, 500).await;
    fanout(&bench, &label, &conversations, FANOUT_IN_FLIGHT, FANOUT_MESSAGES).await;
    let _ = stop_tx.send(());
    let _ = server.await;
}

/// Opens a stream for each of 1,000 recipients, sends them messages from `senders_in_flight`
/// workers, and
/// measures from the start of each SendMessage to its arrival on the recipient's stream.
async fn fanout(
    bench: &Arc<Bench>,
    label: &str,
    conversations: &[i64],
    senders_in_flight: usize,
    messages: usize,
) {
    let first = 2 + SEND_CONVERSATIONS;
    let epoch = Instant::now();
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(messages)));
    let mut readers = Vec::new();
    for user in first..first + STREAMS {
        let mut stream = bench
            .client(user as u64)
            .stream_messages(bench.req(user, StreamMessagesRequest {}))
            .await
            .expect("open stream")
            .into_inner();
        let latencies = latencies.clone();
        readers.push(tokio::spawn(async move {
            while let Ok(Some(item)) = stream.message().await {
                let Some(message) = item.message else { continue };
                if let Ok(sent_at) = message.content.parse::<u64>() {
                    let lag = epoch.elapsed().saturating_sub(Duration::from_micros(sent_at));
                    latencies.lock().expect("lock").push(lag);
                }
            }
        }));
    }

    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut senders = Vec::new();
    for _ in 0..senders_in_flight {
        let (bench, next, conversations) = (bench.clone(), next.clone(), conversations.to_vec());
        senders.push(tokio::spawn(async move {
            let mut errors = 0;
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= messages {
                    break errors;
                }
                let user = first + (n as i64 % STREAMS);
                let sent_at = epoch.elapsed().as_micros() as u64;
                let body = SendMessageRequest {
                    conversation_id: conversations[user as usize],
                    content: sent_at.to_string(),
                };
                if bench.client(n as u64).send_message(bench.req(SENDER, body)).await.is_err() {
                    errors += 1;
                }
            }
        }));
    }
    let mut errors = 0;
    for s in senders {
        errors += s.await.unwrap_or(1);
    }
    let sending = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(10);
    while latencies.lock().expect("lock").len() < messages - errors && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for r in readers {
        r.abort();
    }
    let mut all = latencies.lock().expect("lock").clone();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    let report = Report {
        name: format!("{label} fan-out: send→stream, {STREAMS} streams open, {senders_in_flight} senders"),
        requests: all.len() as u64,
        errors: (messages - all.len()) as u64,
        elapsed: sending,
        p50: pct(0.50),
        p90: pct(0.90),
        p99: pct(0.99),
    };
    println!("{}", report.markdown_row());
}
