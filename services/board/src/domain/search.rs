//! What a search is, free of I/O: the checked query, the n-grams that index posts and
//! narrow a search, and the per-user search rate.
//!
//! A post is indexed by the character bigrams of its lower-cased title and content (those
//! within words: none with a space or line break), plus the
//! single non-ASCII characters (so a one-syllable Korean query has a term) and the trigrams and
//! four-grams of its digits (every digit bigram is in a few percent of posts that hold
//! numbers, a digit trigram in a tenth of that and a four-gram in a hundredth: a phone number,
//! student number or room number is found from two or three short posting lists, not long
//! ones). A query's terms are its own bigrams, digit trigrams and four-grams (or its one
//! character); every post containing the query holds them all, so the index yields a superset of the matches and the exact `LIKE` check that follows
//! decides. Only characters whose lower case every `lower()` agrees on (ASCII and caseless
//! characters such as Hangul) make query terms: a term is never one the index could have
//! spelled differently, so the superset holds on both backends.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use campus_shared::error::{Error, Result, Violations};
use campus_shared::text::{self, Text};

/// Stable reasons of search's own refusals.
pub mod reason {
    pub const QUERY_TOO_SHORT: &str = "QUERY_TOO_SHORT";
    pub const SEARCH_RATE_LIMITED: &str = "SEARCH_RATE_LIMITED";
    pub const SEARCH_TIMEOUT: &str = "SEARCH_TIMEOUT";
}

/// A search PostgreSQL cancelled at the statement timeout: DEADLINE_EXCEEDED SEARCH_TIMEOUT.
pub(crate) fn timed_out() -> Error {
    Error::refused(
        tonic::Code::DeadlineExceeded,
        reason::SEARCH_TIMEOUT,
        "the search took too long; try a longer or more specific query",
    )
}

/// The longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 100;
/// How searches are bounded; [`SearchLimits::default`] is what the service runs with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchLimits {
    /// How long one search may run on PostgreSQL before it is cancelled.
    pub statement_timeout: Duration,
    /// Posts a newest-first scan reads at most before it turns to the index (PostgreSQL), and
    /// the most index candidates one step takes (SQLite).
    pub window: i64,
    /// PostgreSQL goes to the index first when the query's estimated matches (from the index's
    /// statistics) are at most this many; above it, common words are found faster by reading
    /// the newest posts. Negative: always read the newest posts first.
    pub index_first_rows: f64,
    /// Searches a user may make at once, and per second after that.
    pub burst: f64,
    pub per_second: f64,
}

impl Default for SearchLimits {
    fn default() -> Self {
        Self {
            statement_timeout: Duration::from_secs(2),
            window: 2_000,
            index_first_rows: 5_000.0,
            burst: 20.0,
            per_second: 2.0,
        }
    }
}

/// How many index entries PostgreSQL reads in the time it fetches and checks one candidate
/// post (about 30 ns against 4 µs, measured on the benchmark's million posts).
const ROW_COST_IN_ENTRIES: f64 = 150.0;

/// A checked search: the `LIKE` pattern the matches must satisfy and the index terms every
/// match holds (empty when the query has none, e.g. only cased non-ASCII letters), each
/// with where it first stands in the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub pattern: String,
    /// Whether the query holds no letter with case (`is_caseless`): a post's text then holds
    /// it exactly when its lower-cased text does, and the check reads the text as it is.
    pub caseless: bool,
    pub terms: Vec<String>,
    /// `(character offset, term)` of every term, in query order.
    pub spans: Vec<(usize, String)>,
}

impl SearchQuery {
    /// A query of 1–100 characters, at least one of them non-ASCII (a Hangul syllable) or at
    /// least two ASCII ones: one Latin letter matches nearly every post and says nothing.
    pub fn parse(field: &str, query: &str) -> Result<Self> {
        let query = query.trim();
        let mut v = Violations::new();
        let chars = query.chars().count();
        if query.is_empty() {
            v.add(field, "must not be empty");
        } else if chars > MAX_QUERY_CHARS {
            v.add(field, format!("must be at most {MAX_QUERY_CHARS} characters (got {chars})"));
        } else {
            text::check(&mut v, field, query, Text::Line);
        }
        v.finish()?;
        if chars < 2 && query.is_ascii() {
            return Err(Error::invalid_because(
                reason::QUERY_TOO_SHORT,
                field,
                "must be at least 2 characters, or 1 Korean syllable",
            ));
        }
        let lowered = query.to_lowercase();
        let mut pattern = String::with_capacity(lowered.len() + 2);
        pattern.push('%');
        for c in lowered.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        let spans = query_terms(&lowered);
        let terms: BTreeSet<String> = spans.iter().map(|(_, t)| t.clone()).collect();
        let caseless = query.chars().all(is_caseless);
        Ok(Self { pattern, caseless, terms: terms.into_iter().collect(), spans })
    }

    /// The query as an index without digit four-grams serves it: one whose backfill since
    /// migration 0017 is still under way.
    pub fn without_four_digit_terms(&self) -> Self {
        let keep = |t: &String| !is_four_digit_term(t);
        Self {
            pattern: self.pattern.clone(),
            caseless: self.caseless,
            terms: self.terms.iter().filter(|t| keep(t)).cloned().collect(),
            spans: self.spans.iter().filter(|(_, t)| keep(t)).cloned().collect(),
        }
    }

    /// The few terms that narrow this query most, given each term's share of the posts
    /// (`frequency`), and the share of posts they leave by that estimate. The rarest term
    /// first, then the next rarest that adds at least two characters no chosen term covers
    /// (overlapping bigrams of one word occur together, so they narrow little; a digit trigram
    /// that shares one digit with a chosen one adds a bigram's worth) and is worth its posting list: reading
    /// an index entry costs about a [`ROW_COST_IN_ENTRIES`]th of checking a candidate post,
    /// so a term held by most posts is left out once the candidates are few. Overlapping
    /// terms worth their posting list by the same rule fill what is left, without counting in
    /// the estimate. At most `most` terms. Every match holds them all, so they still yield a
    /// superset of the matches.
    pub fn narrowest_terms(&self, most: usize, frequency: impl Fn(&str) -> f64) -> (Vec<String>, f64) {
        let mut ranked: Vec<(f64, usize, &str)> =
            self.spans.iter().map(|(at, t)| (frequency(t), *at, t.as_str())).collect();
        ranked.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        // Whether a term held by a share `f` of the posts costs less to read than the
        // candidates it would spare, `share` of the posts being left.
        let worth_reading = |f: f64, share: f64| f < ROW_COST_IN_ENTRIES * share * (1.0 - f);
        let mut terms: Vec<&str> = Vec::new();
        let mut covered: BTreeSet<usize> = BTreeSet::new();
        let mut share = 1.0;
        for &(f, at, term) in &ranked {
            let span = at..at + term.chars().count();
            let apart = !terms.contains(&term) && span.clone().filter(|i| !covered.contains(i)).count() >= 2;
            if terms.len() < most && apart && (terms.is_empty() || worth_reading(f, share)) {
                terms.push(term);
                covered.extend(span);
                share *= f.clamp(0.0, 1.0);
            }
        }
        // Then overlapping terms, by the same rule but left out of the estimate: one word's
        // bigrams mostly come together and narrow little, but where they do not (the digits
        // of a number: "48" and "82" of "#48213") a third term cuts the candidates twentyfold.
        for &(f, _, term) in &ranked {
            if terms.len() < most && !terms.contains(&term) && worth_reading(f, share) {
                terms.push(term);
            }
        }
        (terms.into_iter().map(str::to_string).collect(), share)
    }
}

/// Whether `c` is a Hangul syllable or jamo, or ASCII but no letter: no `lower()` changes it,
/// and none makes it of another character (lower case is always a letter: a Latin, Greek,
/// Cyrillic or Armenian one, or with ICU's full mapping the dot of "i̇"). So a text holds a
/// query of such characters exactly when its lower-cased text does, and reading it as it is
/// spares lowering every candidate post (PostgreSQL's `lower()` under the databases'
/// collation took three quarters of checking 2,000 posts for a Korean word).
fn is_caseless(c: char) -> bool {
    matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}')
        || (c.is_ascii() && !c.is_ascii_alphabetic())
}

/// Whether every `lower()` (SQLite's ASCII-only one, PostgreSQL's, Rust's) leaves `c` as it
/// is or maps it the same way: ASCII, and characters without case (Hangul, digits, marks).
fn same_everywhere(c: char) -> bool {
    c.is_ascii() || (!c.is_lowercase() && !c.is_uppercase() && c.to_lowercase().eq([c]))
}

/// Whether a bigram is indexed: not when it holds a space or line break. A word's edges
/// ("사 ", " 통") were 28% of a post's terms, and a query's own words narrow it as well.
fn indexed_pair(pair: &[char]) -> bool {
    !pair.iter().any(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// The index terms of an already lower-cased query, each with its character offset.
fn query_terms(lowered: &str) -> Vec<(usize, String)> {
    let chars: Vec<char> = lowered.chars().collect();
    let mut terms = Vec::new();
    if let [c] = chars[..]
        && !c.is_ascii()
        && same_everywhere(c)
    {
        terms.push((0, c.to_string()));
    }
    for (at, pair) in chars.windows(2).enumerate() {
        if pair.iter().all(|c| same_everywhere(*c)) && indexed_pair(pair) {
            terms.push((at, pair.iter().collect()));
        }
    }
    for n in [3, 4] {
        for (at, digits) in chars.windows(n).enumerate() {
            if digits.iter().all(char::is_ascii_digit) {
                terms.push((at, digits.iter().collect()));
            }
        }
    }
    terms.sort_by_key(|(at, _)| *at);
    terms
}

/// The index terms of a post: every bigram of its ASCII-lower-cased title and content (not
/// across the two) without a space or line break in it, every non-ASCII character and every
/// trigram and four-gram of ASCII digits. The
/// PostgreSQL migration that indexed the posts it found computes the same set in SQL
/// (`board_search_terms`).
pub fn post_terms(title: &str, content: &str) -> BTreeSet<String> {
    let mut terms = BTreeSet::new();
    for text in [title, content] {
        let chars: Vec<char> = text.chars().map(|c| c.to_ascii_lowercase()).collect();
        for pair in chars.windows(2).filter(|pair| indexed_pair(pair)) {
            terms.insert(pair.iter().collect());
        }
        for c in chars.iter().filter(|c| !c.is_ascii()) {
            terms.insert(c.to_string());
        }
        for n in [3, 4] {
            for digits in chars.windows(n).filter(|w| w.iter().all(char::is_ascii_digit)) {
                terms.insert(digits.iter().collect());
            }
        }
    }
    terms
}

/// A term as PostgreSQL's index holds it, one integer (SQL: `board_search_terms`): a
/// character, bigram or trigram as its code points, 21 bits apiece from bit 42 down; a digit
/// four-gram as its four ASCII codes, 7 bits apiece from bit 21 down. Exact: no character is
/// 0, so the first kind's codes are at least 2^42 and the second's below 2^28.
pub fn term_code(term: &str) -> i64 {
    let (shifts, bits): (&[i64], u32) =
        if term.len() == 4 && term.is_ascii() { (&[21, 14, 7, 0], 7) } else { (&[42, 21, 0], 21) };
    debug_assert!(term.chars().count() <= shifts.len(), "{term:?} is no index term");
    debug_assert!(term.chars().all(|c| u32::from(c) >> bits == 0));
    term.chars().zip(shifts).fold(0, |code, (c, shift)| code | (i64::from(u32::from(c)) << shift))
}

/// Whether `term` is a digit four-gram, which the index has held since migration 0017.
pub fn is_four_digit_term(term: &str) -> bool {
    term.len() == 4 && term.bytes().all(|b| b.is_ascii_digit())
}

/// One token bucket per user: `burst` searches at once, refilled at `per_second`.
#[derive(Debug)]
pub struct SearchRate {
    per_second: f64,
    burst: f64,
    buckets: std::collections::HashMap<i64, (f64, Instant)>,
}

/// Users tracked at most; beyond it, users whose bucket is full again are forgotten.
const MAX_TRACKED_USERS: usize = 100_000;

impl SearchRate {
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self { per_second, burst, buckets: std::collections::HashMap::new() }
    }

    /// Takes one search from `user`'s bucket at `now`, or says how long until one is there.
    pub fn take(&mut self, user: i64, now: Instant) -> Result<()> {
        if self.buckets.len() >= MAX_TRACKED_USERS {
            let (rate, burst) = (self.per_second, self.burst);
            self.buckets.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = self.buckets.entry(user).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / self.per_second;
            Err(Error::resource_exhausted(
                reason::SEARCH_RATE_LIMITED,
                format!("too many searches; try again in {:.1} s", wait.max(0.1)),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn patterns_escape_wildcards_and_lower_case() {
        let q = SearchQuery::parse("query", "50%_Off\\").unwrap();
        assert_eq!(q.pattern, "%50\\%\\_off\\\\%");
        assert!(q.terms.contains(&"%_".to_string()) && q.terms.contains(&"of".to_string()));
        assert!(SearchQuery::parse("query", " ").is_err());
        assert!(SearchQuery::parse("query", "a\0").is_err());
    }

    #[test]
    fn only_queries_without_letters_of_case_are_read_as_written() {
        for query in ["학식", "기숙사 통금", "#48213", "50% 할인", "ㅋㅋ", "ᄀᄁ"] {
            assert!(SearchQuery::parse("query", query).unwrap().caseless, "{query}");
        }
        for query in ["wifi", "MT", "학식A", "été", "Straße", "Σ학", "KB"] {
            assert!(!SearchQuery::parse("query", query).unwrap().caseless, "{query}");
        }
    }

    /// What `is_caseless` claims, of every character: lowering leaves it as it is, and no
    /// other character lowers to one of its kind (Rust's full lower case, as ICU's).
    #[test]
    fn no_character_lowers_to_a_caseless_one_but_itself() {
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            let lowered: Vec<char> = c.to_lowercase().collect();
            if is_caseless(c) {
                assert_eq!(lowered, [c], "{c:?}");
            }
            assert!(lowered.iter().all(|l| !is_caseless(*l) || *l == c), "{c:?} lowers to {lowered:?}");
        }
    }

    #[test]
    fn one_syllable_is_enough_but_one_latin_letter_is_not() {
        assert_eq!(SearchQuery::parse("query", "밥").unwrap().terms, ["밥"]);
        assert_eq!(SearchQuery::parse("query", "ab").unwrap().terms, ["ab"]);
        let Err(Error::InvalidArgument(v)) = SearchQuery::parse("query", " a ") else {
            panic!("expected refusal")
        };
        assert_eq!(v.reason(), reason::QUERY_TOO_SHORT);
        assert!(SearchQuery::parse("query", &"가".repeat(101)).is_err());
    }

    #[test]
    fn cased_non_ascii_letters_make_no_terms() {
        // SQLite's lower() leaves 'É' alone while Rust's does not: no term may depend on it.
        assert_eq!(SearchQuery::parse("query", "éa").unwrap().terms, Vec::<String>::new());
        assert_eq!(SearchQuery::parse("query", "학식 é").unwrap().terms, ["학식"]);
    }

    #[test]
    fn the_narrowest_terms_are_the_rarest_apart_then_the_overlapping_worth_reading() {
        let q = SearchQuery::parse("query", "요 #48213").unwrap();
        let freq = |t: &str| match t {
            "48" => 0.04,
            "82" => 0.03,
            "21" => 0.05,
            "13" => 0.045,
            "#4" => 0.1,
            _ => 0.7,
        };
        // 82 first; 48 and 21 overlap it; 13 is the next apart; then #4.
        let (terms, share) = q.narrowest_terms(3, freq);
        assert_eq!(terms, ["82", "13", "#4"]);
        assert!((share - 0.03 * 0.045 * 0.1).abs() < 1e-12);
        // One word's overlapping bigrams: only one of them counts in the estimate; the other
        // narrows the lookup when worth its posting list, a term most posts hold never.
        let q = SearchQuery::parse("query", "돈까스").unwrap();
        let (terms, share) = q.narrowest_terms(3, |t| if t == "까스" { 0.08 } else { 0.09 });
        assert_eq!((terms, share), (vec!["까스".to_string(), "돈까".to_string()], 0.08));
        let (terms, share) = q.narrowest_terms(3, |t| if t == "까스" { 0.001 } else { 0.3 });
        assert_eq!((terms, share), (vec!["까스".to_string()], 0.001));
        // A term most posts hold is not worth its posting list once the candidates are few.
        let q = SearchQuery::parse("query", "요 #48213").unwrap();
        let freq = |t: &str| match t {
            "13" => 0.048,
            "48" => 0.0488,
            "82" => 0.05,
            "21" => 0.05,
            "#4" => 0.11,
            " #" => 1.0,
            _ => 0.69,
        };
        // ("82" overlaps both chosen terms, and narrows what they leave.)
        assert_eq!(q.narrowest_terms(3, freq), (vec!["13".into(), "48".into(), "82".into()], 0.048 * 0.0488));
        assert_eq!(q.narrowest_terms(2, freq).0, ["13", "48"]);
        // A repeated term is chosen once; a word's edges are no terms.
        let q = SearchQuery::parse("query", "ab ab").unwrap();
        assert_eq!(q.narrowest_terms(2, |_| 0.5), (vec!["ab".to_string()], 0.5));
        let q = SearchQuery::parse("query", "abcab").unwrap();
        assert_eq!(q.narrowest_terms(2, |_| 0.5), (vec!["ab".to_string(), "ca".to_string()], 0.25));
        assert_eq!(q.narrowest_terms(3, |_| 0.5).0, ["ab", "ca", "bc"]);
        // Digit trigrams that share one digit each add two: "482" and "213" of "#48213"; the
        // bigram "13" is then not worth its posting list.
        let q = SearchQuery::parse("query", "요 #48213").unwrap();
        let freq = |t: &str| if t.len() == 3 && t.bytes().all(|b| b.is_ascii_digit()) { 0.004 } else { 0.05 };
        let (terms, share) = q.narrowest_terms(3, freq);
        assert_eq!(terms, ["482", "213"]);
        assert!((share - 0.004 * 0.004).abs() < 1e-12);
    }

    #[test]
    fn a_bucket_refills_over_time() {
        let mut rate = SearchRate::new(2.0, 2.0);
        let t = Instant::now();
        assert!(rate.take(1, t).is_ok());
        assert!(rate.take(1, t).is_ok());
        assert!(rate.take(1, t).is_err());
        assert!(rate.take(2, t).is_ok(), "buckets are per user");
        assert!(rate.take(1, t + Duration::from_millis(500)).is_ok());
        assert!(rate.take(1, t + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn a_term_code_is_its_code_points_packed() {
        assert_eq!(term_code("가"), 0xAC00 << 42);
        assert_eq!(term_code("학식"), (0xD559 << 42) | (0xC2DD << 21));
        assert_eq!(term_code("123"), (0x31 << 42) | (0x32 << 21) | 0x33);
        assert_eq!(term_code("1234"), (0x31 << 21) | (0x32 << 14) | (0x33 << 7) | 0x34);
        assert!(term_code("\u{10FFFF}\u{10FFFF}\u{10FFFF}") > 0, "the highest code point still fits");
    }

    proptest! {
        /// Two terms share a code only when they are the same term.
        #[test]
        fn term_codes_are_exact(a in "\\PC{1,3}|[0-9]{4}", b in "\\PC{1,3}|[0-9]{4}") {
            prop_assert_eq!(a == b, term_code(&a) == term_code(&b));
        }

        /// The premise of the index: whatever contains the query holds all its terms.
        #[test]
        fn a_match_holds_every_term(
            title in "[a-zA-Z가나다%_ 0-9]{1,12}",
            content in "[a-zA-Zé가나다%_ 0-9\n]{1,30}",
            start in 0usize..30,
            len in 1usize..6,
        ) {
            let chars: Vec<char> = content.chars().collect();
            let start = start.min(chars.len() - 1);
            let q: String = chars[start..(start + len).min(chars.len())].iter().collect();
            prop_assume!(!q.trim().is_empty() && !q.contains('\n'));
            let Ok(query) = SearchQuery::parse("query", &q) else { return Ok(()) };
            let indexed = post_terms(&title, &content);
            for term in &query.terms {
                prop_assert!(indexed.contains(term), "{term:?} of {q:?} not in {content:?}");
            }
        }

        #[test]
        fn search_patterns_only_have_escaped_wildcards(q in "[a-z%_\\\\가-힣]{2,30}") {
            let pattern = SearchQuery::parse("query", &q).unwrap().pattern;
            let inner: Vec<char> = pattern[1..pattern.len() - 1].chars().collect();
            let mut i = 0;
            while i < inner.len() {
                if inner[i] == '\\' {
                    prop_assert!(matches!(inner.get(i + 1), Some('%' | '_' | '\\')));
                    i += 2;
                } else {
                    prop_assert!(inner[i] != '%' && inner[i] != '_');
                    i += 1;
                }
            }
        }
    }
}
