//! Talking to and serving on local sockets.

use std::net::SocketAddr;

use campus_shared::server::GrpcServer;

/// A lazily connected plain-HTTP/2 channel to a local server.
pub fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}")).expect("valid uri").connect_lazy()
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
