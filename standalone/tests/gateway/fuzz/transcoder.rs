//! Fuzz target `transcoder`: HTTP/JSON requests against the real route table.
//!
//! Cases come from the corpus (`METHOD /path?query`, header lines, a blank line, the body;
//! `$USER` and `$ADMIN` stand for access tokens), mutated, and from a generator that fills
//! every annotated route's template with odd segments, query parameters named after real
//! fields and JSON bodies built from real field names and odd values.
//!
//! Every answer must be well-formed: a status the gateway may give (never a 500, and no 5xx
//! but 501: every upstream is up), `x-request-id`, and for errors the `{code, message, details}` body
//! whose code maps to that status; JSON answers parse.

use std::collections::BTreeSet;

use campus_gateway::http_status;
use campus_proto::google::api::HttpRule;
use campus_proto::google::api::http_rule::Pattern;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use prost::Message as _;
use prost_reflect::{Kind, MessageDescriptor, Value as Reflected};
use serde_json::{Map, Value};

use super::support::{Target, inputs};
use super::{Stack, no_panic, pool, stack};

const TARGET: Target = Target { name: "transcoder", crate_dir: env!("CARGO_MANIFEST_DIR"), cases: 1500 };

const DICTIONARY: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"1e999",
    b"-0",
    b"9223372036854775808",
    b"\"\\u0000\"",
    b"\\ud800",
    b"%",
    b"%00",
    b"%ZZ",
    b"%2F",
    b"/",
    b"//",
    b"?",
    b"&",
    b"=",
    b"+",
    b":like",
    b"{id}",
    b"\n\n",
    b"\xff",
    b"\xc3\xa9",
    b"pageSize",
    b"pageToken",
    b"SEMESTER_FALL",
    b"\"2026-01-01T00:00:00Z\"",
    b"content-type: application/json\n",
    b"content-type: text/csv\n",
    b"idempotency-key: k\n",
];

/// One HTTP request.
#[derive(Debug, Clone)]
pub(crate) struct HttpCase {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Headers a case may set; the client owns the rest (length, host, connection).
const ALLOWED_HEADERS: &[&str] = &[
    "authorization",
    "content-type",
    "idempotency-key",
    "accept",
    "cookie",
    "origin",
    "x-request-id",
    "x-forwarded-for",
    "grpc-timeout",
    "user-agent",
    "traceparent",
];

/// `METHOD TARGET`, header lines, a blank line, the body; leniently, since mutated.
fn parse_case(bytes: &[u8]) -> HttpCase {
    let split = bytes.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match split {
        Some(i) => (&bytes[..i], bytes[i + 2..].to_vec()),
        None => (bytes, Vec::new()),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let first = lines.next().unwrap_or_default();
    let (method, target) = first.split_once(' ').unwrap_or(("GET", first));
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    HttpCase { method: method.to_string(), target: target.to_string(), headers, body }
}

/// Every annotated route as (method, path template).
fn routes() -> Vec<(String, String)> {
    let pool = pool();
    let Some(extension) = pool.get_extension_by_name("google.api.http") else { return Vec::new() };
    let mut routes = Vec::new();
    for service in pool.services() {
        for method in service.methods() {
            let options = method.options();
            if !options.has_extension(&extension) {
                continue;
            }
            let Reflected::Message(rule) = options.get_extension(&extension).into_owned() else { continue };
            let Ok(rule) = HttpRule::decode(rule.encode_to_vec().as_slice()) else { continue };
            let mut rules = vec![rule.clone()];
            rules.extend(rule.additional_bindings);
            for rule in rules {
                let route = match rule.pattern {
                    Some(Pattern::Get(p)) => ("GET".to_string(), p),
                    Some(Pattern::Put(p)) => ("PUT".to_string(), p),
                    Some(Pattern::Post(p)) => ("POST".to_string(), p),
                    Some(Pattern::Delete(p)) => ("DELETE".to_string(), p),
                    Some(Pattern::Patch(p)) => ("PATCH".to_string(), p),
                    Some(Pattern::Custom(c)) => (c.kind, c.path),
                    None => continue,
                };
                routes.push(route);
            }
        }
    }
    assert!(routes.len() > 40, "the route table has {} routes", routes.len());
    routes
}

/// The JSON names of every field of every routed request message (and the messages in them).
fn field_names() -> Vec<String> {
    fn walk(message: &MessageDescriptor, seen: &mut BTreeSet<String>, names: &mut BTreeSet<String>) {
        if !seen.insert(message.full_name().to_string()) {
            return;
        }
        for field in message.fields() {
            names.insert(field.json_name().to_string());
            names.insert(field.name().to_string());
            if let Kind::Message(m) = field.kind() {
                walk(&m, seen, names);
            }
        }
    }
    let (mut seen, mut names) = (BTreeSet::new(), BTreeSet::new());
    for service in pool().services().filter(|s| s.full_name().starts_with("campus.")) {
        for method in service.methods() {
            walk(&method.input(), &mut seen, &mut names);
        }
    }
    names.into_iter().collect()
}

const SEGMENTS: &[&str] = &[
    "1",
    "42",
    "0",
    "-1",
    "me",
    "abc",
    "",
    "9223372036854775807",
    "9223372036854775808",
    "1.5",
    "1e3",
    "%00",
    "%ZZ",
    "%2F",
    "%ED%95%9C",
    "..",
    "%20",
    "2026",
    "SEMESTER_FALL",
    "1:like",
    "x:y",
];

const VALUES: &[&str] = &[
    "",
    "0",
    "1",
    "-1",
    "101",
    "2026",
    "3",
    "true",
    "false",
    "yes",
    "SEMESTER_FALL",
    "DAY_OF_WEEK_MONDAY",
    "BOARD_CATEGORY_GENERAL",
    "A+",
    "B0",
    "2026-01-01T00:00:00Z",
    "not-a-date",
    "aGVsbG8=",
    "%%",
    "%ED%95%9C",
    "9223372036854775808",
    "1e999",
    "NaN",
    "%00",
    "a+b",
    "x&y=z",
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const CONTENT_TYPES: &[&str] =
    &["application/json", "", "text/csv", "image/png", "application/json; charset=utf-8", "x/y"];
const AUTHS: &[&str] = &["$USER", "$USER", "$ADMIN", "", "Bearer not.a.token"];
const KEYS: &[&str] = &["", "", "", "k-1", "k-1", "bad key", "\u{d0a4}"];

/// A path from a route template, each `{variable}` replaced by an odd segment.
fn path(template: &str, fills: &[String]) -> String {
    let mut out = String::new();
    let mut rest = template;
    let mut fills = fills.iter().cycle();
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push_str(fills.next().map(String::as_str).unwrap_or("1"));
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

fn json_value(keys: Vec<String>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        proptest::sample::select(VALUES).prop_map(Value::from),
        "\\PC{0,24}".prop_map(Value::from),
    ];
    let key = prop_oneof![4 => proptest::sample::select(keys), 1 => "\\PC{0,8}"];
    leaf.prop_recursive(3, 32, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Requests built from the route table.
fn generated() -> impl Strategy<Value = HttpCase> {
    let names = field_names();
    let route = proptest::sample::select(routes());
    let method = prop_oneof![4 => Just(None), 1 => proptest::sample::select(METHODS).prop_map(Some)];
    let segment = prop_oneof![3 => proptest::sample::select(SEGMENTS).prop_map(String::from), 1 => "[0-9a-z%:./-]{0,12}"];
    let fills = prop::collection::vec(segment, 1..4);
    let query_key = prop_oneof![5 => proptest::sample::select(names.clone()), 1 => "[a-zA-Z_.%]{0,10}".prop_map(String::from)];
    let query_value =
        prop_oneof![3 => proptest::sample::select(VALUES).prop_map(String::from), 1 => "\\PC{0,12}"];
    let query = prop::collection::vec((query_key, query_value), 0..4);
    let body = prop_oneof![
        1 => Just(Vec::new()),
        6 => json_value(names).prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ];
    let content_type = proptest::sample::select(CONTENT_TYPES);
    let auth = proptest::sample::select(AUTHS);
    let key = proptest::sample::select(KEYS);
    (route, method, fills, query, body, content_type, auth, key).prop_map(
        |((route_method, template), method, fills, query, body, content_type, auth, key)| {
            let mut target = path(&template, &fills);
            if !query.is_empty() {
                let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                target = format!("{target}?{}", pairs.join("&"));
            }
            let mut headers = Vec::new();
            for (name, value) in
                [("content-type", content_type), ("authorization", auth), ("idempotency-key", key)]
            {
                if !value.is_empty() {
                    headers.push((name.to_string(), value.to_string()));
                }
            }
            HttpCase { method: method.map_or(route_method, str::to_string), target, headers, body }
        },
    )
}

/// Sends a case; `None` when it is no valid HTTP request at all (the client refuses it).
async fn send(stack: &Stack, case: &HttpCase) -> Option<Result<reqwest::Response, reqwest::Error>> {
    let method = reqwest::Method::from_bytes(case.method.as_bytes()).ok()?;
    let target = if case.target.starts_with('/') { case.target.clone() } else { format!("/{}", case.target) };
    let url = reqwest::Url::parse(&format!("{}{target}", stack.url)).ok()?;
    let mut request = stack.http.request(method, url).body(case.body.clone());
    for (name, value) in &case.headers {
        if !ALLOWED_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let value = value.replace("$USER", &stack.user).replace("$ADMIN", &stack.admin);
        let Ok(value) = reqwest::header::HeaderValue::from_bytes(value.as_bytes()) else { continue };
        request = request.header(name.as_str(), value);
    }
    Some(request.send().await)
}

/// What every answer of the gateway looks like.
async fn check_answer(response: reqwest::Response, method: &str) -> Result<(), TestCaseError> {
    let status = response.status();
    // CORS answers preflights (OPTIONS) before the gateway's own service sees them.
    let preflight = method.eq_ignore_ascii_case("OPTIONS");
    prop_assert!(preflight || response.headers().contains_key("x-request-id"), "no x-request-id on {status}");
    // Every upstream is up and quick, so a 503 or 504 would blame them for the caller's request.
    prop_assert!(
        status.as_u16() < 500 || status.as_u16() == 501,
        "status {status}: {:?}",
        response.text().await
    );
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let bytes = response.bytes().await;
    prop_assert!(bytes.is_ok(), "the body broke off: {bytes:?}");
    let bytes = bytes.unwrap_or_default();
    if method.eq_ignore_ascii_case("HEAD") || preflight || status == reqwest::StatusCode::NO_CONTENT {
        return Ok(());
    }
    if !status.is_success() {
        let body: Result<Value, _> = serde_json::from_slice(&bytes);
        prop_assert!(body.is_ok(), "{status}: not JSON: {:?}", String::from_utf8_lossy(&bytes));
        let body = body.unwrap_or_default();
        let code = body["code"].as_i64();
        prop_assert!(code.is_some_and(|c| (1..=16).contains(&c)), "{status}: {body}");
        prop_assert!(body["message"].is_string() && body["details"].is_array(), "{status}: {body}");
        let code = tonic::Code::from_i32(code.unwrap_or_default() as i32);
        let expected = match (status.as_u16(), code) {
            (405, tonic::Code::Unimplemented) | (413, tonic::Code::ResourceExhausted) => true,
            (422, tonic::Code::InvalidArgument) => body["details"][0]["reason"] == "IDEMPOTENCY_KEY_REUSED",
            // A JSON body sent without a JSON content type (DESIGN §10).
            (415, tonic::Code::InvalidArgument) => body["details"][0]["reason"] == "UNSUPPORTED_MEDIA_TYPE",
            _ => http_status(code).as_u16() == status.as_u16(),
        };
        prop_assert!(expected, "{status} with {code:?}: {body}");
    } else if content_type.starts_with("application/json") {
        let body: Result<Value, _> = serde_json::from_slice(&bytes);
        prop_assert!(
            body.is_ok(),
            "{status}: JSON answer does not parse: {:?}",
            String::from_utf8_lossy(&bytes)
        );
    } else if content_type.starts_with("application/x-ndjson") {
        for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            prop_assert!(serde_json::from_slice::<Value>(line).is_ok(), "bad NDJSON line {line:?}");
        }
    }
    Ok(())
}

fn check(stack: &Stack, case: HttpCase) -> Result<(), TestCaseError> {
    let result = stack.runtime.block_on(async {
        match send(stack, &case).await {
            None => Ok(()),
            Some(Err(e)) => Err(TestCaseError::fail(format!("no answer (hang or broken connection): {e}"))),
            Some(Ok(response)) => check_answer(response, &case.method).await,
        }
    });
    result?;
    no_panic()
}

#[test]
fn transcoder() {
    let stack = stack();
    let seeds = TARGET.seeds();
    let replay = seeds.iter().map(|s| parse_case(s)).collect();
    let mutated = inputs(seeds, DICTIONARY).prop_map(|bytes| parse_case(&bytes));
    let strategy = prop_oneof![1 => mutated, 1 => generated()];
    TARGET.run(replay, strategy, |case| check(&stack, case));
}
