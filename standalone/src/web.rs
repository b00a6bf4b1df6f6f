//! The web client (`web/`), embedded at compile time from its committed build (`web/dist`, see
//! `build.rs`) and served by the gateway for the GET requests that are not API calls.
//!
//! Hashed files under `/assets/` never change, so browsers keep them for a year; everything
//! else is revalidated. A path that names no file and has no extension is a client-side route
//! (`/boards/123`) and gets `index.html`.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::Response;

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// The router the gateway falls through to (`campus_gateway::Config::web`).
pub fn router() -> axum::Router {
    axum::Router::new().fallback(serve)
}

/// Whether the binary carries a built client (it does unless web/dist was missing at build).
pub fn embedded() -> bool {
    asset("/index.html").is_some()
}

fn asset(path: &str) -> Option<&'static [u8]> {
    ASSETS.iter().find(|(p, _)| *p == path).map(|(_, bytes)| *bytes)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        Some("gif") => "image/gif",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The page may load only its own scripts and styles and talk only to its own origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; \
     script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

async fn serve(uri: Uri) -> Response {
    let path = uri.path();
    let (path, bytes) = match asset(path) {
        Some(bytes) if path != "/index.html" => (path, bytes),
        _ => {
            let last = path.rsplit('/').next().unwrap_or_default();
            if path.starts_with("/assets/") || last.contains('.') && path != "/index.html" {
                return not_found();
            }
            match asset("/index.html") {
                Some(bytes) => ("/index.html", bytes),
                None => return not_found(),
            }
        }
    };
    let mut response = Response::new(Body::from(Bytes::from_static(bytes)));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let cache = if path.starts_with("/assets/") { "public, max-age=31536000, immutable" } else { "no-cache" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if path == "/index.html" {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

fn not_found() -> Response {
    let mut response = Response::new(Body::from("not found"));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(path: &str) -> (StatusCode, String, String, Vec<u8>) {
        let response = serve(path.parse().unwrap()).await;
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .map(|v: &HeaderValue| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let (content_type, cache) = (header(header::CONTENT_TYPE), header(header::CACHE_CONTROL));
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec();
        (status, content_type, cache, body)
    }

    #[tokio::test]
    async fn client_routes_get_the_page_and_hashed_assets_are_cached_for_good() {
        assert!(embedded(), "web/dist is committed and embedded");
        let (status, content_type, cache, page) = get("/boards/123").await;
        assert_eq!(
            (status, content_type.as_str(), cache.as_str()),
            (StatusCode::OK, "text/html; charset=utf-8", "no-cache")
        );
        let page = String::from_utf8(page).unwrap();
        assert!(page.contains("<div id=\"app\">"), "{page}");
        assert_eq!(get("/").await.3, page.as_bytes());

        // Every script and stylesheet the page names is served with its type and for a year.
        let assets: Vec<&str> = page.split('"').filter(|s| s.starts_with("/assets/")).collect();
        assert!(
            assets.iter().any(|a| a.ends_with(".js")) && assets.iter().any(|a| a.ends_with(".css")),
            "{assets:?}"
        );
        for path in assets {
            let (status, content_type, cache, body) = get(path).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            let expected = if path.ends_with(".js") {
                "text/javascript; charset=utf-8"
            } else {
                "text/css; charset=utf-8"
            };
            assert_eq!(content_type, expected, "{path}");
            assert_eq!(cache, "public, max-age=31536000, immutable");
            assert!(!body.is_empty());
        }
    }

    #[tokio::test]
    async fn missing_files_are_404_not_the_page() {
        for path in ["/assets/gone-123.js", "/favicon.ico", "/robots.txt"] {
            let (status, _, _, body) = get(path).await;
            assert_eq!((status, body.as_slice()), (StatusCode::NOT_FOUND, b"not found".as_slice()), "{path}");
        }
    }
}
