//! HTTPS at the gateway (DESIGN.md §11) with real sockets and a CA made in the test: HTTP/JSON,
//! gRPC and gRPC-web over TLS, ALPN, HSTS, a certificate swapped on disk, the redirect listener.

use std::sync::Arc;
use std::time::Duration;

use campus_proto::account::v1::account_service_client::AccountServiceClient;
use campus_proto::account::v1::{GetSchoolRequest, School};
use campus_shared::tls::ClientTls;
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, crypto::ring};

use crate::helpers::{TestGateway, grpc_web_frame, parse_grpc_web, spawn_app_with};
use crate::pki::Pki;

struct TlsGateway {
    app: TestGateway,
    pki: Pki,
    dir: tempfile::TempDir,
    https: reqwest::Client,
}

impl TlsGateway {
    fn url(&self) -> String {
        format!("https://localhost:{}", self.app.addr.port())
    }
}

/// The gateway (before a fake upstream) serving TLS with a certificate from a fresh CA,
/// and an HTTP/1.1 client that trusts that CA only.
async fn spawn_tls(tweak: impl FnOnce(&mut campus_gateway::Config) + Send + 'static) -> TlsGateway {
    let pki = Pki::new("campus test CA");
    let dir = tempfile::tempdir().unwrap();
    let files = pki.server().write(dir.path(), "gateway");
    let app = spawn_app_with(move |c| {
        c.tls = Some(files);
        tweak(c);
    })
    .await;
    let https = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .http1_only()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TlsGateway { app, pki, dir, https }
}

/// A raw TLS connection offering `alpn`; returns it with the server's end-entity certificate.
async fn connect(
    port: u16,
    ca_pem: &str,
    alpn: &[&[u8]],
) -> (tokio_rustls::client::TlsStream<TcpStream>, Vec<u8>) {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap()).unwrap();
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let stream = TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let cert = stream.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    (stream, cert)
}

/// `GET /healthz` as HTTP/1.1 on an open connection: the status line.
async fn healthz_over(stream: &mut tokio_rustls::client::TlsStream<TcpStream>) -> String {
    stream.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\n\r\n").await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).lines().next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn http_json_over_tls_with_hsts() {
    let gw = spawn_tls(|_| {}).await;
    let response = gw
        .https
        .get(format!("{}/v1/schools/31", gw.url()))
        .header("authorization", gw.app.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["strict-transport-security"], "max-age=31536000");
    let school: serde_json::Value = response.json().await.unwrap();
    assert_eq!(school["name"], "school 31");

    // A client that does not trust the CA gets no answer at all.
    let stranger = Pki::new("another CA");
    let untrusting = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(stranger.ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    assert!(untrusting.get(format!("{}/healthz", gw.url())).send().await.is_err());
    // Plain HTTP on the TLS port is not served either.
    assert!(
        gw.app.http.get(format!("http://127.0.0.1:{}/healthz", gw.app.addr.port())).send().await.is_err()
    );
}

#[tokio::test]
async fn grpc_over_tls_is_negotiated_as_h2() {
    let gw = spawn_tls(|_| {}).await;
    let channel = ClientTls { ca: Some(gw.pki.ca_pem.clone().into_bytes()), identity: None }
        .endpoint(&gw.url())
        .unwrap()
        .connect()
        .await
        .expect("tonic connects over TLS (it requires ALPN h2)");
    let school = AccountServiceClient::new(channel)
        .get_school(gw.app.request(GetSchoolRequest { id: 33 }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(school.name, "school 33");

    let port = gw.app.addr.port();
    let (h2, _) = connect(port, &gw.pki.ca_pem, &[b"h2", b"http/1.1"]).await;
    assert_eq!(h2.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut h1, _) = connect(port, &gw.pki.ca_pem, &[b"http/1.1"]).await;
    assert_eq!(h1.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(healthz_over(&mut h1).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn grpc_web_over_tls() {
    let gw = spawn_tls(|_| {}).await;
    let response = gw
        .https
        .post(format!("{}/campus.account.v1.AccountService/GetSchool", gw.url()))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .header("authorization", gw.app.bearer())
        .body(grpc_web_frame(&GetSchoolRequest { id: 34 }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.status(), 200);
    let reply = parse_grpc_web(&response.bytes().await.unwrap());
    assert_eq!(reply.trailer("grpc-status"), Some("0"));
    assert_eq!(School::decode(reply.messages[0].as_slice()).unwrap().name, "school 34");
}

#[tokio::test]
async fn a_certificate_replaced_on_disk_is_served_to_the_next_connection() {
    let gw = spawn_tls(|c| c.tls_reload_interval = Duration::from_millis(100)).await;
    let port = gw.app.addr.port();
    let (mut before, first) = connect(port, &gw.pki.ca_pem, &[b"http/1.1"]).await;

    // Replaced by rename, as a deploy tool (or a Kubernetes secret mount) does it.
    let renewed = gw.pki.server();
    let staged = renewed.write(gw.dir.path(), "staged");
    std::fs::rename(&staged.key, gw.dir.path().join("gateway.key")).unwrap();
    std::fs::rename(&staged.cert, gw.dir.path().join("gateway.crt")).unwrap();
    assert_ne!(first, renewed.der);

    // Within the 10 s DESIGN.md allows, a new connection gets the new certificate.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, served) = connect(port, &gw.pki.ca_pem, &[b"http/1.1"]).await;
        if served == renewed.der {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the renewed certificate was never served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The connection made before the swap still works, on the certificate it began with.
    assert_eq!(before.get_ref().1.peer_certificates().unwrap()[0].to_vec(), first);
    assert_eq!(healthz_over(&mut before).await, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn the_redirect_listener_sends_plain_http_to_https_except_healthz() {
    let gw = spawn_tls(|c| c.redirect_addr = Some(([127, 0, 0, 1], 0).into())).await;
    let redirect = gw.app.redirect_addr.expect("the redirect listener is bound");
    let plain = &gw.app.http;

    let response = plain
        .get(format!("http://localhost:{}/v1/schools/35?fields=name&x=%2F", redirect.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 308);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, format!("{}/v1/schools/35?fields=name&x=%2F", gw.url()));
    // Followed, the redirect reaches the API over TLS.
    let bare = plain.get(format!("http://localhost:{}/v1/schools/35", redirect.port())).send().await.unwrap();
    let location = bare.headers()["location"].to_str().unwrap().to_string();
    let followed = gw.https.get(&location).header("authorization", gw.app.bearer()).send().await.unwrap();
    assert_eq!(followed.status(), 200);
    let school: serde_json::Value = followed.json().await.unwrap();
    assert_eq!(school["name"], "school 35");

    let post =
        plain.post(format!("http://localhost:{}/v1/auth/login", redirect.port())).send().await.unwrap();
    assert_eq!(post.status(), 308, "a POST is redirected with 308, which keeps the method");

    let health = plain.get(format!("http://localhost:{}/healthz", redirect.port())).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().get("location").is_none());
}
