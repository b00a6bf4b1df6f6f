//! Fuzz target `grpc_web`: gRPC-web bodies the gateway must unwrap (tonic-web, behind the
//! gateway's own body limit and the unknown-length wrapper of text mode): frames with wrong
//! flags and lengths, truncated or repeated, garbage payloads, base64 text with junk in it.
//!
//! Corpus files: `<content-type> <path>`, a newline, then the raw body. Every answer must be
//! HTTP 200 with a `grpc-status` (in the headers, or in a trailer frame after well-formed
//! message frames), and a request that is valid must succeed.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use campus_proto::account::v1::{GetSchoolRequest, ListSchoolsRequest};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use prost::Message;

use super::support::{Target, inputs};
use super::{Stack, no_panic, stack};

const TARGET: Target = Target { name: "grpc_web", crate_dir: env!("CARGO_MANIFEST_DIR"), cases: 1000 };

const LIST_SCHOOLS: &str = "/campus.account.v1.AccountService/ListSchools";

const DICTIONARY: &[&[u8]] = &[
    b"\x00",
    b"\x01",
    b"\x80",
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\x00\x00\x00\x05",
    b"=",
    b"==",
    b"!",
    b"\r\n",
    b"AAAA",
    b"gAAAAA",
    b"grpc-status:0\r\n",
    b"application/grpc-web-text ",
    b"/campus.",
];

/// The four content types of the gRPC-web protocol.
const GRPC_WEB_TYPES: &[&str] = &[
    "application/grpc-web",
    "application/grpc-web+proto",
    "application/grpc-web-text",
    "application/grpc-web-text+proto",
];

const CONTENT_TYPES: &[&str] = &[
    "application/grpc-web",
    "application/grpc-web+proto",
    "application/grpc-web-text",
    "application/grpc-web-text+proto",
    "application/grpc-web+json",
    "application/grpc-web; charset=utf-8",
];

/// One gRPC-web request; `valid` ones must succeed.
#[derive(Debug, Clone)]
pub(crate) struct WebCase {
    content_type: String,
    path: String,
    body: Vec<u8>,
    valid: bool,
}

fn parse_case(bytes: &[u8]) -> WebCase {
    let (head, body) = match bytes.iter().position(|b| *b == b'\n') {
        Some(i) => (&bytes[..i], bytes[i + 1..].to_vec()),
        None => (bytes, Vec::new()),
    };
    let head = String::from_utf8_lossy(head);
    let (content_type, path) = head.split_once(' ').unwrap_or(("application/grpc-web", &head));
    WebCase { content_type: content_type.to_string(), path: path.to_string(), body, valid: false }
}

fn frame(flag: u8, declared: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![flag];
    out.extend_from_slice(&declared.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Every method of the descriptor set, and a few paths that are none.
fn paths() -> Vec<String> {
    let mut paths: Vec<String> = super::pool()
        .services()
        .flat_map(|s| s.methods().map(|m| format!("/{}/{}", s.full_name(), m.name())).collect::<Vec<_>>())
        .collect();
    paths.extend(["/", "/x", "/campus.account.v1.AccountService/", "/a/b/c"].map(String::from));
    paths.push(format!("/v1/auth{LIST_SCHOOLS}"));
    paths.push("/v1/auth/campus.auth.v1.AuthService/Refresh".into());
    paths
}

#[derive(Debug, Clone)]
struct Frame {
    flag: u8,
    /// Added to the true length (wrapping), so most frames are right and some lie.
    skew: i64,
    payload: Vec<u8>,
}

fn frames() -> impl Strategy<Value = Vec<Frame>> {
    let flag = prop_oneof![6 => Just(0u8), 1 => Just(1u8), 1 => Just(0x80u8), 1 => any::<u8>()];
    let skew = prop_oneof![6 => Just(0i64), 1 => -8i64..8, 1 => Just(i64::from(u32::MAX)), 1 => any::<u32>().prop_map(i64::from)];
    let payload = prop_oneof![
        Just(Vec::new()),
        any::<i64>().prop_map(|id| GetSchoolRequest { id }.encode_to_vec()),
        (0i32..200, "\\PC{0,10}").prop_map(|(page_size, page_token)| ListSchoolsRequest {
            page_size,
            page_token
        }
        .encode_to_vec()),
        prop::collection::vec(any::<u8>(), 0..48),
    ];
    let frame = (flag, skew, payload).prop_map(|(flag, skew, payload)| Frame { flag, skew, payload });
    prop::collection::vec(frame, 0..4)
}

/// Text mode as browsers send it: each frame base64'd on its own (so padding may sit in the
/// middle), sometimes with junk inserted.
fn encode_text(frames: &[Vec<u8>], junk: &[(usize, char)]) -> Vec<u8> {
    let mut text: String = frames.iter().map(|f| STANDARD.encode(f)).collect();
    for (at, c) in junk {
        let mut i = at % (text.len() + 1);
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        text.insert(i, *c);
    }
    text.into_bytes()
}

/// Requests built frame by frame.
fn generated() -> impl Strategy<Value = WebCase> {
    let path = prop_oneof![3 => Just(LIST_SCHOOLS.to_string()), 2 => proptest::sample::select(paths())];
    let junk = prop::collection::vec(
        (any::<usize>(), proptest::sample::select(&['!', '=', '\n', '-', '_', '%', '\0'][..])),
        0..3,
    );
    let truncate = prop_oneof![4 => Just(None), 1 => any::<proptest::sample::Index>().prop_map(Some)];
    (path, proptest::sample::select(CONTENT_TYPES), frames(), junk, truncate).prop_map(
        |(path, content_type, frames, junk, truncate)| {
            let mut encoded: Vec<Vec<u8>> = frames
                .iter()
                .map(|f| {
                    let declared = (f.payload.len() as i64).wrapping_add(f.skew) as u32;
                    frame(f.flag, declared, &f.payload)
                })
                .collect();
            if let (Some(at), Some(last)) = (truncate, encoded.last_mut()) {
                let keep = at.index(last.len() + 1);
                last.truncate(keep);
            }
            let text = content_type.starts_with("application/grpc-web-text");
            let valid = path == LIST_SCHOOLS
                && GRPC_WEB_TYPES.contains(&content_type)
                && junk.is_empty()
                && truncate.is_none()
                && frames.len() == 1
                && frames[0].flag == 0
                && frames[0].skew == 0
                && ListSchoolsRequest::decode(frames[0].payload.as_slice())
                    .is_ok_and(|r| r.page_size >= 0 && r.page_token.is_empty());
            let body = if text { encode_text(&encoded, &junk) } else { encoded.concat() };
            WebCase { content_type: content_type.to_string(), path, body, valid }
        },
    )
}

/// The answer's frames: `(flag, payload)` each, or why they do not parse.
fn parse_frames(mut body: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, String> {
    let mut frames = Vec::new();
    while !body.is_empty() {
        if body.len() < 5 {
            return Err(format!("a frame header cut short: {body:?}"));
        }
        let len = u32::from_be_bytes([body[1], body[2], body[3], body[4]]) as usize;
        let payload = body.get(5..5 + len).ok_or_else(|| format!("a frame of {len} bytes cut short"))?;
        frames.push((body[0], payload.to_vec()));
        body = &body[5 + len..];
    }
    Ok(frames)
}

/// Text-mode answers are base64 per chunk: every 4 characters decode on their own.
fn decode_text(text: &[u8]) -> Result<Vec<u8>, String> {
    let clean: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    let mut out = Vec::new();
    for group in clean.chunks(4) {
        out.extend(STANDARD.decode(group).map_err(|e| format!("answer is not base64: {e}"))?);
    }
    Ok(out)
}

async fn check_answer(case: &WebCase, response: reqwest::Response) -> Result<(), TestCaseError> {
    let status = response.status();
    let header_status =
        response.headers().get("grpc-status").and_then(|v| v.to_str().ok()).map(str::to_string);
    let request_id = response.headers().contains_key("x-request-id");
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let bytes = response.bytes().await;
    prop_assert!(bytes.is_ok(), "the body broke off: {bytes:?}");
    let bytes = bytes.unwrap_or_default();
    prop_assert!(request_id, "no x-request-id");
    if !case.content_type.starts_with("application/grpc-web") {
        // Mutated into another protocol (plain HTTP or gRPC): that is the other targets' field.
        prop_assert!(status.as_u16() < 500 || status.as_u16() == 501, "{status}");
        return Ok(());
    }
    if !GRPC_WEB_TYPES.contains(&case.content_type.as_str()) {
        // Other `application/grpc-web…` types (`+json`, parameters) are refused by tonic-web
        // before any frame is read: 400 with an empty body.
        prop_assert!(status.as_u16() == 200 || (status.as_u16() == 400 && bytes.is_empty()), "{status}");
        if status.as_u16() == 400 {
            return Ok(());
        }
    }
    prop_assert_eq!(status.as_u16(), 200, "{:?}", String::from_utf8_lossy(&bytes));

    let raw = if content_type.starts_with("application/grpc-web-text") {
        decode_text(&bytes).map_err(TestCaseError::fail)?
    } else {
        bytes.to_vec()
    };
    let frames = parse_frames(&raw).map_err(TestCaseError::fail)?;
    let trailer_status = frames.iter().filter(|(flag, _)| flag & 0x80 != 0).find_map(|(_, payload)| {
        String::from_utf8_lossy(payload)
            .split("\r\n")
            .find_map(|line| line.strip_prefix("grpc-status:").map(|v| v.trim().to_string()))
    });
    let grpc_status = header_status.or(trailer_status);
    prop_assert!(grpc_status.is_some(), "no grpc-status in the headers or a trailer frame: {frames:?}");
    let code: Result<i32, _> = grpc_status.unwrap_or_default().parse();
    prop_assert!(code.as_ref().is_ok_and(|c| (0..=16).contains(c)), "grpc-status {code:?}");
    let code = code.unwrap_or_default();
    // Every upstream is up and quick: UNAVAILABLE or DEADLINE_EXCEEDED would blame them for
    // the caller's bytes (or hang).
    prop_assert!(code != 14 && code != 4, "grpc-status {code} for a bad request body: {frames:?}");
    if case.valid {
        prop_assert_eq!(code, 0, "a valid request failed");
        prop_assert!(frames.iter().any(|(flag, _)| *flag == 0), "no message frame in {frames:?}");
    }
    if code == 0 {
        prop_assert!(frames.iter().any(|(flag, _)| flag & 0x80 != 0), "OK without a trailer frame");
    }
    Ok(())
}

fn check(stack: &Stack, case: WebCase) -> Result<(), TestCaseError> {
    let result = stack.runtime.block_on(async {
        let path = if case.path.starts_with('/') { case.path.clone() } else { format!("/{}", case.path) };
        let Ok(url) = reqwest::Url::parse(&format!("{}{path}", stack.url)) else { return Ok(()) };
        let Ok(content_type) = reqwest::header::HeaderValue::from_bytes(case.content_type.as_bytes()) else {
            return Ok(());
        };
        let response = stack
            .http
            .post(url)
            .header("content-type", content_type)
            .header("x-grpc-web", "1")
            .header("authorization", &stack.user)
            .body(case.body.clone())
            .send()
            .await;
        match response {
            Ok(response) => check_answer(&case, response).await,
            Err(e) => Err(TestCaseError::fail(format!("no answer (hang or broken connection): {e}"))),
        }
    });
    result?;
    no_panic()
}

#[test]
fn grpc_web() {
    let stack = stack();
    let seeds = TARGET.seeds();
    let mut replay: Vec<WebCase> = seeds.iter().map(|s| parse_case(s)).collect();
    // The first seed is a valid ListSchools call; it must succeed as is.
    replay[0].valid = true;
    let mutated = inputs(seeds, DICTIONARY).prop_map(|bytes| parse_case(&bytes));
    let strategy = prop_oneof![1 => mutated, 2 => generated()];
    TARGET.run(replay, strategy, |case| check(&stack, case));
}
