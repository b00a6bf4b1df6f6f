//! `GATEWAY_HTTP_REDIRECT_ADDR`: a plain-HTTP listener beside the TLS one. Every request is
//! answered `308 Permanent Redirect` to the same host, path and query over HTTPS on the TLS
//! listener's port (308, unlike 301, keeps a POST a POST), except `/healthz`, which answers
//! itself so a load balancer or probe on the plain port keeps working.

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use http::uri::Authority;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

/// A slow client may not hold the connection open longer than this before its headers arrive.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The host of a `Host` header (or an HTTP/2 authority) without its port, when it is a valid
/// authority: nothing else may be echoed into `Location`.
fn host_without_port(authority: &str) -> Option<String> {
    let authority = Authority::from_str(authority).ok()?;
    if authority.as_str().contains('@') {
        return None;
    }
    Some(authority.host().to_string())
}

/// The answer of the redirect listener to `request`.
pub(crate) fn answer<B>(request: &Request<B>, https_port: u16) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    if path == "/healthz" {
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(br#"{"status":"ok"}"#)))
            .expect("static response");
    }
    let authority = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    let Some(host) = authority.and_then(host_without_port) else {
        return Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body(Full::new(Bytes::from_static(b"a Host header is required")))
            .expect("static response");
    };
    let port = if https_port == 443 { String::new() } else { format!(":{https_port}") };
    let path_and_query = request.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let location = format!("https://{host}{port}{path_and_query}");
    Response::builder()
        .status(StatusCode::PERMANENT_REDIRECT)
        .header(header::LOCATION, location)
        .header(header::CONTENT_LENGTH, "0")
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|_| {
            let mut response = Response::new(Full::new(Bytes::new()));
            *response.status_mut() = StatusCode::BAD_REQUEST;
            response
        })
}

/// Serves redirects on `listener` until `shutdown` resolves.
pub(crate) async fn serve(listener: TcpListener, https_port: u16, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| async move {
                    Ok::<_, std::convert::Infallible>(answer(&request, https_port))
                });
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_READ_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            _ = &mut shutdown => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(uri: &str, host: Option<&str>) -> Response<Full<Bytes>> {
        let mut builder = Request::builder().uri(uri);
        if let Some(host) = host {
            builder = builder.header(header::HOST, host);
        }
        answer(&builder.body(()).unwrap(), 8443)
    }

    fn location(response: &Response<Full<Bytes>>) -> &str {
        response.headers()[header::LOCATION].to_str().unwrap()
    }

    #[test]
    fn redirects_to_the_tls_port_keeping_path_and_query() {
        let response = get("/v1/boards/3/posts?page_size=5&x=%20", Some("campus.test:8080"));
        assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(location(&response), "https://campus.test:8443/v1/boards/3/posts?page_size=5&x=%20");
        assert_eq!(location(&get("/", Some("[::1]:80"))), "https://[::1]:8443/");
        assert_eq!(location(&get("/a", Some("127.0.0.1"))), "https://127.0.0.1:8443/a");
    }

    #[test]
    fn port_443_is_left_out() {
        let request = Request::builder().uri("/x?y=1").header(header::HOST, "campus.test").body(()).unwrap();
        assert_eq!(location(&answer(&request, 443)), "https://campus.test/x?y=1");
    }

    #[test]
    fn healthz_answers_on_the_plain_port() {
        let response = get("/healthz", Some("campus.test"));
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key(header::LOCATION));
        // Only exactly /healthz: /readyz and the API still move to HTTPS.
        assert_eq!(get("/readyz", Some("campus.test")).status(), StatusCode::PERMANENT_REDIRECT);
    }

    #[test]
    fn a_missing_or_hostile_host_is_refused_rather_than_echoed() {
        assert_eq!(get("/", None).status(), StatusCode::BAD_REQUEST);
        assert_eq!(get("/", Some("evil.test/path")).status(), StatusCode::BAD_REQUEST);
        assert_eq!(get("/", Some("user@evil.test")).status(), StatusCode::BAD_REQUEST);
        assert_eq!(get("/", Some("a b")).status(), StatusCode::BAD_REQUEST);
    }
}
