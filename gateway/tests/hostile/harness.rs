//! A gateway with the limits a test sets (no services behind it: every refusal here happens
//! in the gateway), and a raw HTTP/1.1 client that connects from a chosen loopback address
//! and can stop half-way through a request.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use campus_gateway::{Application, Config, Upstreams};
use campus_testkit::status::json::HttpAnswer;
use campus_testkit::{TestDatabase, TestIdentity, backends};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// How long any single read may wait before the test gives up: a bound, not an assertion.
const READ_BOUND: Duration = Duration::from_secs(20);

/// A running gateway.
pub(crate) struct Gateway {
    pub(crate) addr: SocketAddr,
    identity: TestIdentity,
    _db: TestDatabase,
}

/// Starts a gateway with `tweak` applied to its config. Its idempotency database is on
/// PostgreSQL when `CAMPUS_TEST_PG_URL` is set, else SQLite; its services are absent.
pub(crate) async fn gateway(tweak: impl FnOnce(&mut Config)) -> Gateway {
    let backend = *backends().last().expect("a backend");
    let db = TestDatabase::new(backend).await;
    let identity = TestIdentity::new();
    let mut config = Config::new(identity.key.clone(), identity.service_token.clone());
    config.listen_addr = ([127, 0, 0, 1], 0).into();
    // Nobody listens there: calls that get past the door fail UNAVAILABLE.
    let nowhere = "http://127.0.0.1:9".to_string();
    config.upstreams = Upstreams {
        account: nowhere.clone(),
        board: nowhere.clone(),
        messaging: nowhere.clone(),
        timetable: nowhere,
    };
    config.database = db.config();
    tweak(&mut config);
    let app = Application::build(config).await.expect("gateway builds");
    let addr = app.local_addr();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    Gateway { addr, identity, _db: db }
}

impl Gateway {
    /// `Authorization: Bearer …` of a valid user.
    pub(crate) fn bearer(&self) -> String {
        self.identity.bearer(42, 1)
    }

    /// A raw connection from `from` (any 127.0.0.0/8 address).
    pub(crate) async fn connect_from(&self, from: Ipv4Addr) -> Raw {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.bind((from, 0).into()).expect("bind a loopback address");
        let stream = socket.connect(self.addr).await.expect("connect");
        Raw { stream, buffer: Vec::new() }
    }

    pub(crate) async fn connect(&self) -> Raw {
        self.connect_from(Ipv4Addr::LOCALHOST).await
    }

    /// A complete request on a fresh connection, and its answer.
    pub(crate) async fn request(&self, from: Ipv4Addr, head: &str, body: &[u8]) -> Reply {
        let mut raw = self.connect_from(from).await;
        raw.send(head.as_bytes()).await;
        raw.send(body).await;
        raw.response().await.expect("an answer")
    }
}

/// The head of a request with `Content-Length: length` (and extra header lines).
pub(crate) fn head(method: &str, path: &str, length: usize, extra: &[&str]) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\nhost: campus.test\r\ncontent-length: {length}\r\n");
    for line in extra {
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head
}

/// A JSON object of `keys` keys the request messages do not have (`"k0":0,…`).
pub(crate) fn unknown_keys(keys: usize) -> Vec<u8> {
    let mut body = String::with_capacity(keys * 12);
    body.push('{');
    for i in 0..keys {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!("\"k{i}\":0"));
    }
    body.push('}');
    body.into_bytes()
}

/// A client that writes bytes as it likes.
pub(crate) struct Raw {
    stream: TcpStream,
    buffer: Vec<u8>,
}

/// One HTTP answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl HttpAnswer for Reply {
    fn status_code(&self) -> u16 {
        self.status
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn body_bytes(&self) -> &[u8] {
        &self.body
    }
}

impl Raw {
    /// Writes `bytes`; false when the server has already closed or reset the connection.
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok()
    }

    /// Reads more into the buffer; false at the end of the stream (or a reset).
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout(READ_BOUND, self.stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => false,
            Ok(Ok(n)) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                true
            }
            Err(_) => panic!("nothing happened on the connection for {READ_BOUND:?}"),
        }
    }

    /// The next answer, or `None` when the server closed the connection first.
    pub(crate) async fn response(&mut self) -> Option<Reply> {
        let end = loop {
            if let Some(i) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buffer[..end]).into_owned();
        self.buffer.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .expect("the gateway's errors carry a length");
        while self.buffer.len() < length {
            if !self.fill().await {
                break;
            }
        }
        let body = self.buffer.drain(..length.min(self.buffer.len())).collect();
        Some(Reply { status, headers, body })
    }

    /// Waits for the server to end the connection, dropping whatever else it sends; fails
    /// the test when it stays open past the read bound.
    pub(crate) async fn expect_closed(&mut self) {
        while self.fill().await {
            self.buffer.clear();
        }
    }
}
