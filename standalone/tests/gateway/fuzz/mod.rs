//! Fuzz targets of the gateway, through a real gateway on loopback:
//! - `transcoder` (transcoder.rs): arbitrary methods, paths, query strings, headers and JSON
//!   bodies against the real routes;
//! - `grpc_web` (grpc_web.rs): random, truncated and mislabelled gRPC-web frames, binary and
//!   base64 text.
//!
//! Behind the gateway run the real account service and, for the other packages, a strict
//! upstream that decodes every request message with its real type (so a message the
//! transcoder builds wrong fails loudly) and answers with an empty message. A panic on the
//! servers' threads (a gateway task included) fails the case, as does a hang or a 500.
//!
//! Runner and corpus layout: shared/tests/fuzz/support.rs.

#[path = "../../../../shared/tests/fuzz/support.rs"]
mod support;

mod grpc_web;
mod transcoder;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use campus_gateway::{Application, Config, Upstreams};
use campus_shared::db::Backend;
use campus_testkit::{TestDatabase, TestIdentity};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use tokio::net::TcpListener;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Request, Response, Status};

use crate::support::{admin_bearer, spawn_account};

/// Set by the panic hook when a server thread panics; checked after every case.
static PANICKED: AtomicBool = AtomicBool::new(false);

/// Fails the case if anything panicked since the last look.
fn no_panic() -> Result<(), proptest::test_runner::TestCaseError> {
    if PANICKED.swap(false, Ordering::SeqCst) {
        return Err(proptest::test_runner::TestCaseError::fail("something panicked (see the output above)"));
    }
    Ok(())
}

fn install_panic_hook() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The servers run on the runtime's workers; a panic of a test thread itself is
            // the test runner's business (proptest catches and reports it).
            if std::thread::current().name() == Some(WORKER_NAME) {
                PANICKED.store(true, Ordering::SeqCst);
            }
            default(info);
        }));
    });
}

const WORKER_NAME: &str = "campus-fuzz-server";

pub(crate) fn pool() -> DescriptorPool {
    DescriptorPool::decode(campus_proto::FILE_DESCRIPTOR_SET).expect("the descriptor set decodes")
}

/// A running gateway and what the targets need to call it.
pub(crate) struct Stack {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) url: String,
    pub(crate) http: reqwest::Client,
    /// `Bearer …` of a user (who does not exist in account) and of an admin.
    pub(crate) user: String,
    pub(crate) admin: String,
    _dbs: Vec<TestDatabase>,
}

/// The largest request body of the fuzzed gateway: small, so the 413 path is reached.
pub(crate) const MAX_BODY: usize = 16 * 1024;

pub(crate) fn stack() -> Stack {
    install_panic_hook();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(WORKER_NAME)
        .enable_all()
        .build()
        .expect("a runtime");
    let identity = TestIdentity::new();
    let (url, dbs) = runtime.block_on(async {
        let account_db = TestDatabase::new(Backend::Sqlite).await;
        let gateway_db = TestDatabase::new(Backend::Sqlite).await;
        // Mail the fuzzed requests cause goes to the temp directory's outbox.
        let account = spawn_account(&identity, &account_db, std::future::pending(), |_| {}).await;
        let account_url = format!("http://{account}");
        let strict = format!("http://{}", spawn_strict_upstream().await);

        let mut config = Config::new(identity.key.clone(), identity.service_token.clone());
        config.listen_addr = ([127, 0, 0, 1], 0).into();
        config.upstreams = Upstreams {
            account: account_url,
            board: strict.clone(),
            messaging: strict.clone(),
            timetable: strict,
        };
        config.database = gateway_db.config();
        config.auth_rate_per_minute = 0;
        config.max_body_bytes = MAX_BODY;
        config.upstream_timeout = Duration::from_secs(5);
        let gateway = Application::build(config).await.expect("the gateway builds");
        let url = format!("http://{}", gateway.local_addr());
        tokio::spawn(gateway.run_until_stopped(std::future::pending()));
        (url, vec![account_db, gateway_db])
    });
    let http = reqwest::Client::builder()
        .http1_only()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client");
    let admin = admin_bearer(&identity);
    Stack { runtime, url, http, user: identity.bearer(42, 1), admin, _dbs: dbs }
}

/// An upstream for every method of the board, messaging and timetable packages: it decodes
/// the request as the method's input type (INTERNAL "undecodable" if it does not) and answers
/// with an empty message, which is the default value of any output type.
async fn spawn_strict_upstream() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("an address");
    let router = axum::Router::new().fallback(|request: http::Request<axum::body::Body>| async move {
        let path = request.uri().path().to_string();
        let method = path.strip_prefix('/').and_then(|p| p.split_once('/')).and_then(|(service, method)| {
            pool().get_service_by_name(service)?.methods().find(|m| m.name() == method)
        });
        let Some(method) = method else {
            return Status::unimplemented(format!("strict upstream: no method {path}")).into_http();
        };
        let codec = StrictCodec { input: method.input() };
        let mut grpc = tonic::server::Grpc::new(codec);
        if method.is_server_streaming() {
            let service = tower::service_fn(|_: Request<DynamicMessage>| async {
                Ok::<_, Status>(Response::new(tokio_stream::iter([Ok::<(), Status>(())])))
            });
            grpc.server_streaming(service, request).await
        } else {
            let service = tower::service_fn(|_: Request<DynamicMessage>| async { Ok(Response::new(())) });
            grpc.unary(service, request).await
        }
    });
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_routes(tonic::service::Routes::from(router))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    addr
}

#[derive(Debug, Clone)]
struct StrictCodec {
    input: MessageDescriptor,
}

#[derive(Debug)]
struct EmptyEncoder;

#[derive(Debug)]
struct StrictDecoder(MessageDescriptor);

impl Codec for StrictCodec {
    type Encode = ();
    type Decode = DynamicMessage;
    type Encoder = EmptyEncoder;
    type Decoder = StrictDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        EmptyEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        StrictDecoder(self.input.clone())
    }
}

impl Encoder for EmptyEncoder {
    type Item = ();
    type Error = Status;

    fn encode(&mut self, _: (), _: &mut EncodeBuf<'_>) -> Result<(), Status> {
        Ok(())
    }
}

impl Decoder for StrictDecoder {
    type Item = DynamicMessage;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<DynamicMessage>, Status> {
        DynamicMessage::decode(self.0.clone(), src).map(Some).map_err(|e| {
            Status::internal(format!("strict upstream: undecodable {}: {e}", self.0.full_name()))
        })
    }
}
