//! Fuzz target `page_tokens`: arbitrary strings, and issued tokens with their text or their
//! decoded bytes changed, given to `PageTokens::decode`. It must never panic, and only a
//! token `encode` issued for that very list decodes, to the cursor it was issued for.
//! (Runner and corpus layout: `support.rs`.)

mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use campus_shared::page::PageTokens;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Value, json};

use support::{Target, inputs};

const TARGET: Target = Target { name: "page_tokens", crate_dir: env!("CARGO_MANIFEST_DIR"), cases: 20_000 };

/// Lists as the services scope them.
const SCOPES: &[&str] = &["posts:board=1", "lectures:2026:3:q=", "messages:9"];

/// The corpus seeds are tokens of this key, so they stay valid across runs.
fn tokens() -> PageTokens {
    PageTokens::new(b"campus fuzz corpus key")
}

/// Cursors as the services write them: ids, (time, id) pairs, (text, id) pairs.
fn cursors() -> Vec<Value> {
    vec![json!(42), json!([1_700_000_000_000_000i64, 7]), json!(["CSE101", 3]), json!(i64::MIN), json!(0)]
}

/// Every token issued for the fuzz lists, with its scope and cursor.
fn issued() -> Vec<(String, &'static str, Value)> {
    let t = tokens();
    let mut all = Vec::new();
    for &scope in SCOPES {
        for cursor in cursors() {
            all.push((t.encode(scope, &cursor), scope, cursor));
        }
    }
    all
}

const DICTIONARY: &[&[u8]] = &[
    b"=",
    b"==",
    b"+",
    b"/",
    b"-",
    b"_",
    b"%3D",
    b" ",
    b"\n",
    b"\0",
    b"eyJ",
    b"AAAA",
    b"____",
    b"\xff",
    b"\xc3\xa9",
    b"9223372036854775808",
];

/// One case: a token text, and the scope it is presented to.
#[derive(Debug, Clone)]
struct Case {
    text: String,
    scope: &'static str,
}

fn check(case: Case, issued: &[(String, &'static str, Value)]) -> Result<(), TestCaseError> {
    let t = tokens();
    let expected = issued.iter().find(|(token, scope, _)| *token == case.text && *scope == case.scope);
    match t.decode::<Value>(case.scope, &case.text) {
        Ok(None) => prop_assert!(case.text.is_empty(), "only the empty token is the first page"),
        Ok(Some(cursor)) => {
            let issued_cursor = expected.map(|(_, _, cursor)| cursor);
            prop_assert_eq!(Some(&cursor), issued_cursor, "decoded a token nobody issued for this list");
        }
        Err(e) => {
            prop_assert!(expected.is_none(), "an issued token was refused: {e}");
            let status = tonic::Status::from(e);
            prop_assert_eq!(status.code(), tonic::Code::InvalidArgument);
        }
    }
    // A cursor of another shape must not panic either (services decode their own type).
    let _ = t.decode::<(i64, i64)>(case.scope, &case.text);
    Ok(())
}

#[test]
fn page_tokens() {
    let issued = issued();
    let seeds: Vec<Vec<u8>> = TARGET.seeds();
    let replay: Vec<Case> = seeds
        .iter()
        .flat_map(|seed| {
            let text = String::from_utf8_lossy(seed).trim_end_matches('\n').to_string();
            SCOPES.iter().map(move |&scope| Case { text: text.clone(), scope })
        })
        .chain(issued.iter().map(|(text, scope, _)| Case { text: text.clone(), scope }))
        .collect();

    // Changed text, changed bytes under the base64, and tokens shown to another list.
    let texts = inputs(seeds, DICTIONARY).prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    let issued_texts: Vec<String> = issued.iter().map(|(text, ..)| text.clone()).collect();
    let raw_changed = (any::<Index>(), any::<Index>(), 0u8..8, any::<bool>()).prop_map(
        move |(token, byte, bit, truncate)| {
            let mut raw = URL_SAFE_NO_PAD.decode(token.get(&issued_texts)).expect("issued tokens are base64");
            let i = byte.index(raw.len());
            if truncate {
                raw.truncate(i);
            } else {
                raw[i] ^= 1 << bit;
            }
            URL_SAFE_NO_PAD.encode(raw)
        },
    );
    let issued_texts: Vec<String> = issued.iter().map(|(text, ..)| text.clone()).collect();
    let moved = any::<Index>().prop_map(move |token| token.get(&issued_texts).clone());
    let text = prop_oneof![3 => texts, 2 => raw_changed, 1 => moved];
    let strategy = (text, proptest::sample::select(SCOPES)).prop_map(|(text, scope)| Case { text, scope });

    TARGET.run(replay, strategy, |case| check(case, &issued));
}
