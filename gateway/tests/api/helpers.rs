//! Test harness: a fake upstream (one real tonic server answering a few RPCs of every
//! package, with health) and the real gateway in front of it, both on port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use campus_gateway::{Application, Config, Upstreams};
use campus_proto::account::v1 as account;
use campus_proto::board::v1 as board;
use campus_proto::google::api::HttpBody;
use campus_proto::messaging::v1 as messaging;
use campus_proto::timetable::v1 as timetable;
use campus_shared::db::Backend;
use campus_testkit::{TestDatabase, TestIdentity};
use prost_types::Timestamp;
use tokio::net::TcpListener;
use tonic::transport::Channel;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Every request's headers as the upstream saw them.
pub(crate) type Seen = Arc<Mutex<Vec<http::HeaderMap>>>;

/// An axum route answering one unary RPC with `f`.
fn unary<Req, Resp, F, Fut>(seen: &Seen, f: F) -> axum::routing::MethodRouter
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Send + 'static,
    F: Fn(Request<Req>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
{
    let seen = seen.clone();
    axum::routing::post(move |request: http::Request<axum::body::Body>| {
        let f = f.clone();
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(request.headers().clone());
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<Resp, Req>::default());
            grpc.unary(tower::service_fn(f), request).await
        }
    })
}

/// A status with the given code, carrying details like campus services do.
pub(crate) fn status_for(code: i32) -> Status {
    let code = Code::from_i32(code);
    match code {
        Code::InvalidArgument => {
            let mut details = ErrorDetails::new();
            details.add_bad_request_violation("name", "must not be empty");
            Status::with_error_details(code, "invalid request: name: must not be empty", details)
        }
        _ => {
            let details = ErrorDetails::with_error_info(
                format!("REASON_{}", code as i32),
                "campus",
                std::collections::HashMap::<String, String>::new(),
            );
            Status::with_error_details(code, format!("failed with {code:?}"), details)
        }
    }
}

fn school(id: i64) -> account::School {
    account::School { id, name: format!("school {id}"), email_domain: "uni.ac.kr".into() }
}

fn user(id: i64) -> account::User {
    account::User {
        id,
        login_id: "alice".into(),
        nickname: "앨리스".into(),
        email: "alice@uni.ac.kr".into(),
        school_id: 1,
        role: account::Role::User as i32,
        created_at: Some(Timestamp { seconds: 1_700_000_000, nanos: 0 }),
    }
}

/// The fake upstream's routes: a few RPCs of each package, enough to exercise every path
/// of the gateway. `GetSchool` is the test bench: ids 1..=16 fail with that gRPC code, 1000
/// sleeps past every deadline, anything else succeeds.
fn routes(seen: &Seen) -> axum::Router {
    let a = "/campus.account.v1.AccountService";
    let ai = "/campus.account.v1.AccountInternalService";
    axum::Router::new()
        .route(
            &format!("{a}/ListSchools"),
            unary(seen, |_: Request<account::ListSchoolsRequest>| async {
                Ok(Response::new(account::ListSchoolsResponse {
                    schools: vec![school(1), school(2)],
                    next_page_token: String::new(),
                }))
            }),
        )
        .route(
            &format!("{a}/GetSchool"),
            unary(seen, |r: Request<account::GetSchoolRequest>| async move {
                let id = r.get_ref().id;
                match id {
                    1..=16 => Err(status_for(id as i32)),
                    1000 => {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        Ok(Response::new(school(id)))
                    }
                    _ => Ok(Response::new(school(id))),
                }
            }),
        )
        .route(
            &format!("{a}/CreateSchool"),
            unary(seen, |r: Request<account::CreateSchoolRequest>| async move {
                let r = r.into_inner();
                Ok(Response::new(account::School { id: 77, name: r.name, email_domain: r.email_domain }))
            }),
        )
        .route(
            &format!("{a}/DeleteMe"),
            unary(seen, |_: Request<account::DeleteMeRequest>| async { Ok(Response::new(())) }),
        )
        .route(
            &format!("{ai}/GetUsers"),
            unary(seen, |_: Request<account::GetUsersRequest>| async {
                Ok(Response::new(account::GetUsersResponse::default()))
            }),
        )
        .route(
            &format!("{ai}/CreateUser"),
            unary(seen, |_: Request<account::CreateUserRequest>| async { Ok(Response::new(user(5))) }),
        )
        .route(
            &format!("{ai}/VerifyPassword"),
            unary(seen, |r: Request<account::VerifyPasswordRequest>| async move {
                if r.get_ref().password == "correct horse" {
                    Ok(Response::new(account::VerifyPasswordResponse { user: Some(user(5)) }))
                } else {
                    Err(Status::unauthenticated("wrong login id or password"))
                }
            }),
        )
        .route(
            &format!("{ai}/CreateSession"),
            unary(seen, |_: Request<account::CreateSessionRequest>| async {
                Ok(Response::new(account::CreateSessionResponse {
                    refresh_token: campus_shared::identity::random_token(),
                    expires_at: Some(Timestamp { seconds: 4_000_000_000, nanos: 0 }),
                    user: Some(user(5)),
                }))
            }),
        )
        .route(
            "/campus.board.v1.BoardService/UploadPhoto",
            unary(seen, |r: Request<board::UploadPhotoRequest>| async move {
                let r = r.into_inner();
                let photo = r.photo.unwrap_or_default();
                Ok(Response::new(board::Photo {
                    id: photo.data.len() as i64,
                    url: format!("/v1/photos/{}", r.post_id),
                    content_type: photo.content_type,
                }))
            }),
        )
        .route(
            "/campus.board.v1.BoardService/GetPhoto",
            unary(seen, |r: Request<board::GetPhotoRequest>| async move {
                Ok(Response::new(HttpBody {
                    content_type: "image/png".into(),
                    data: format!("png bytes of {}", r.get_ref().id).into_bytes(),
                    extensions: vec![],
                }))
            }),
        )
        .route(
            "/campus.timetable.v1.TimetableService/ImportLectures",
            unary(seen, |r: Request<timetable::ImportLecturesRequest>| async move {
                let r = r.into_inner();
                let csv = r.csv.unwrap_or_default();
                let ok = r.school_id == 1
                    && r.year == 2025
                    && r.semester == timetable::Semester::Fall as i32
                    && csv.content_type == "text/csv";
                let lines = String::from_utf8_lossy(&csv.data).lines().skip(1).count() as i32;
                Ok(Response::new(timetable::ImportLecturesResponse { imported: if ok { lines } else { -1 } }))
            }),
        )
        .route(
            "/campus.timetable.v1.TimetableService/ListLectures",
            unary(seen, |r: Request<timetable::ListLecturesRequest>| async move {
                let r = r.into_inner();
                let echo = format!(
                    "{}/{}/{}/{}/{:?}/{}",
                    r.year, r.semester, r.day, r.page_size, r.credits, r.query
                );
                Ok(Response::new(timetable::ListLecturesResponse { lectures: vec![], next_page_token: echo }))
            }),
        )
        .route(
            "/campus.messaging.v1.MessagingService/StreamMessages",
            axum::routing::post({
                let seen = seen.clone();
                move |request: http::Request<axum::body::Body>| {
                    let seen = seen.clone();
                    async move {
                        seen.lock().unwrap().push(request.headers().clone());
                        let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<
                            messaging::StreamMessagesResponse,
                            messaging::StreamMessagesRequest,
                        >::default());
                        let service =
                            tower::service_fn(|_: Request<messaging::StreamMessagesRequest>| async {
                                let items = (1..=3).map(|i| {
                                    Ok(messaging::StreamMessagesResponse {
                                        message: Some(messaging::Message {
                                            id: i,
                                            conversation_id: 9,
                                            content: format!("message {i}"),
                                            is_mine: false,
                                            created_at: None,
                                        }),
                                    })
                                });
                                Ok::<_, Status>(Response::new(tokio_stream::iter(items)))
                            });
                        grpc.server_streaming(service, request).await
                    }
                }
            }),
        )
}

/// A running fake upstream.
#[derive(Debug)]
pub(crate) struct FakeUpstream {
    pub(crate) addr: SocketAddr,
    pub(crate) seen: Seen,
}

/// Starts the fake upstream; its server-side request timeout is `timeout` (tonic answers
/// CANCELLED past it, as every campus service does).
pub(crate) async fn spawn_upstream(timeout: Duration) -> FakeUpstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Seen::default();
    let (_reporter, health) = tonic_health::server::health_reporter();
    let routes = tonic::service::Routes::from(routes(&seen)).add_service(health);
    tokio::spawn(
        tonic::transport::Server::builder()
            .timeout(timeout)
            .add_routes(routes)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    FakeUpstream { addr, seen }
}

/// An address nothing listens on.
pub(crate) async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// The gateway under test and clients for it.
#[derive(Debug)]
pub(crate) struct TestGateway {
    pub(crate) addr: SocketAddr,
    pub(crate) url: String,
    pub(crate) identity: TestIdentity,
    /// HTTP/1.1 client (no cookies kept, no redirects).
    pub(crate) http: reqwest::Client,
    pub(crate) upstream: Option<FakeUpstream>,
    /// The plain-HTTP redirect listener, when the config asked for one.
    pub(crate) redirect_addr: Option<SocketAddr>,
    /// The gateway's own database (idempotency records), removed with the gateway.
    _db: TestDatabase,
}

impl TestGateway {
    /// A user's `Authorization` value.
    pub(crate) fn bearer(&self) -> String {
        self.identity.bearer(42, 1)
    }

    /// An h2c channel to the gateway for generated gRPC clients.
    pub(crate) fn channel(&self) -> Channel {
        campus_testkit::channel(self.addr)
    }

    /// A tonic request carrying the user's token.
    pub(crate) fn request<T>(&self, message: T) -> Request<T> {
        self.identity.request(message, 42, 1)
    }

    pub(crate) fn seen(&self) -> Vec<http::HeaderMap> {
        self.upstream.as_ref().map(|u| u.seen.lock().unwrap().clone()).unwrap_or_default()
    }
}

/// The default test set-up: a fake upstream (timeout 300 ms) behind the gateway.
pub(crate) async fn spawn_app() -> TestGateway {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with a chance to change the gateway's config.
pub(crate) async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestGateway {
    let upstream = spawn_upstream(Duration::from_millis(300)).await;
    let url = format!("http://{}", upstream.addr);
    spawn_gateway(
        Upstreams { account: url.clone(), board: url.clone(), messaging: url.clone(), timetable: url },
        Some(upstream),
        tweak,
    )
    .await
}

/// The gateway in front of the given upstreams.
pub(crate) async fn spawn_gateway(
    upstreams: Upstreams,
    upstream: Option<FakeUpstream>,
    tweak: impl FnOnce(&mut Config),
) -> TestGateway {
    let mut app = spawn_gateway_with_identity(TestIdentity::new(), upstreams, tweak).await;
    app.upstream = upstream;
    app
}

/// The gateway signing with a given identity (services that verify its tokens share it).
pub(crate) async fn spawn_gateway_with_identity(
    identity: TestIdentity,
    upstreams: Upstreams,
    tweak: impl FnOnce(&mut Config),
) -> TestGateway {
    let db = TestDatabase::new(Backend::Sqlite).await;
    let mut config = Config::new(identity.key.clone(), identity.service_token.clone());
    config.listen_addr = ([127, 0, 0, 1], 0).into();
    config.upstreams = upstreams;
    config.database = db.config();
    tweak(&mut config);
    let app = Application::build(config).await.expect("gateway builds");
    let addr = app.local_addr();
    let redirect_addr = app.redirect_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let http =
        reqwest::Client::builder().http1_only().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    TestGateway {
        addr,
        url: format!("http://{addr}"),
        identity,
        http,
        upstream: None,
        redirect_addr,
        _db: db,
    }
}

/// A gRPC-web frame: flag byte, big-endian length, payload.
pub(crate) fn grpc_web_frame(message: &impl prost::Message) -> Vec<u8> {
    campus_testkit::bench::grpc_web::frame(message).to_vec()
}

/// A gRPC-web response body split into its messages and its trailers.
#[derive(Debug, Default)]
pub(crate) struct GrpcWebReply {
    pub(crate) messages: Vec<Vec<u8>>,
    pub(crate) trailers: Vec<(String, String)>,
}

impl GrpcWebReply {
    pub(crate) fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

pub(crate) fn parse_grpc_web(mut body: &[u8]) -> GrpcWebReply {
    let mut reply = GrpcWebReply::default();
    while body.len() >= 5 {
        let flag = body[0];
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let payload = &body[5..5 + len];
        if flag & 0x80 != 0 {
            for line in String::from_utf8_lossy(payload).split("\r\n").filter(|l| !l.is_empty()) {
                if let Some((k, v)) = line.split_once(':') {
                    reply.trailers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
        } else {
            reply.messages.push(payload.to_vec());
        }
        body = &body[5 + len..];
    }
    reply
}

/// Decodes grpc-web-text, where each frame may be base64'd (and padded) on its own: every
/// 4-character group decodes independently.
pub(crate) fn decode_web_text(text: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let clean: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    clean
        .chunks(4)
        .flat_map(|group| base64::engine::general_purpose::STANDARD.decode(group).expect("base64 group"))
        .collect()
}
