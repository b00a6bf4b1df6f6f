//! Talking to and serving on local sockets.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicU16, Ordering};

use campus_shared::server::GrpcServer;

/// A lazily connected plain-HTTP/2 channel to a local server.
pub fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("valid uri").connect_lazy()
}

/// The ports [`unused_port`] hands out: below Linux's ephemeral range (32768–60999 by
/// default), so no outgoing connection and no `bind(0)` of another test can take a port
/// between the moment it is chosen and the moment a child process binds it.
const PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A loopback port nobody listens on, for a process the test starts and that binds it a
/// moment later. Each test process walks the range from its own offset, so tests running
/// side by side (and test binaries run one after another) do not pick the same port.
pub fn unused_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let span = PORTS.end - PORTS.start;
    let offset = (std::process::id() % u32::from(span)) as u16;
    loop {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = PORTS.start + (offset + step % span) % span;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A URL where nothing listens: bind a port, then free it.
pub async fn dead_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    format!("http://{addr}")
}

/// A server on a free loopback port with what `add` puts on it (a fake upstream), serving
/// until the test ends; returns its address.
pub async fn serve(add: impl FnOnce(GrpcServer) -> GrpcServer) -> SocketAddr {
    let server = GrpcServer::bind(([127, 0, 0, 1], 0).into(), Default::default()).await.expect("bind");
    let server = add(server);
    let addr = server.local_addr();
    tokio::spawn(server.serve(std::future::pending()));
    addr
}
