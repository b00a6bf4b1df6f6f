//! Fuzz target `lecture_csv`: the catalog parser (`domain::import::parse_catalog`).
//! - Arbitrary text (corpus files mutated, or random bytes) is either a catalog or a list of
//!   problems that each name the line (and column) they are about; never a panic.
//! - Generated valid catalogs (quoted fields with commas, quotes and line breaks, CRLF, a BOM,
//!   optional and unknown columns in any order, blank lines) parse back to exactly the rows
//!   that were written, with the physical line each starts on.
//!
//! Runner and corpus layout: shared/tests/fuzz/support.rs.

#[path = "../../../../shared/tests/fuzz/support.rs"]
mod support;

use campus_timetable::domain::import::{
    CatalogRow, MAX_CATEGORY_CHARS, MAX_CODE_CHARS, MAX_CREDITS, MAX_NAME_CHARS, MAX_PROFESSOR_CHARS,
    MAX_REPORTED, MAX_SECTION_CHARS, MAX_SLOTS, parse_catalog,
};
use campus_timetable::domain::schedule::{self, Slot};
use proptest::prelude::*;

use support::{Target, inputs};

const ARBITRARY: Target =
    Target { name: "lecture_csv", crate_dir: env!("CARGO_MANIFEST_DIR"), cases: 20_000 };
const ROUND_TRIP: Target =
    Target { name: "lecture_csv_round_trip", crate_dir: env!("CARGO_MANIFEST_DIR"), cases: 1500 };

const DICTIONARY: &[&[u8]] = &[
    b",",
    b"\"",
    b"\"\"",
    b"\n",
    b"\r\n",
    b"\r",
    b";",
    b"-",
    b":",
    b" ",
    b"Mon ",
    b"sun ",
    b"09:00-10:15",
    b"24:00",
    b"23:55",
    b"99:99",
    b"\xef\xbb\xbf",
    b"code,name,professor,credits,times",
    b",section",
    b",category",
    b"\xea\xb0\x80",
    b"-1",
    b"7",
    b"00",
    b"\0",
];

/// The problems of a refused catalog must each say where: `line N: …` or `line N, column C: …`
/// (the last may count the rest), with N a line of the file (or the one after its end).
fn check_arbitrary(text: String) -> Result<(), TestCaseError> {
    let lines = text.matches('\n').count() + 1;
    match parse_catalog(&text) {
        Ok(rows) => {
            prop_assert!(!rows.is_empty());
            for row in &rows {
                check_row(row, lines)?;
            }
        }
        Err(problems) => {
            prop_assert!(!problems.is_empty());
            prop_assert!(problems.len() <= MAX_REPORTED + 1, "{} problems", problems.len());
            for (i, problem) in problems.iter().enumerate() {
                if i == MAX_REPORTED {
                    prop_assert!(
                        problem.starts_with("… and ") && problem.ends_with(" more problems"),
                        "{problem}"
                    );
                    continue;
                }
                let line = problem_line(problem);
                prop_assert!(line.is_some(), "no line in {problem:?}");
                let line = line.unwrap_or_default();
                prop_assert!((1..=lines + 1).contains(&line), "line {line} of {lines}: {problem}");
            }
        }
    }
    Ok(())
}

/// N of `line N: …` or `line N, column <name>: …`.
fn problem_line(problem: &str) -> Option<usize> {
    let rest = problem.strip_prefix("line ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let after = &rest[digits.len()..];
    let column_ok = match after.strip_prefix(", column ") {
        Some(column) => {
            let name: String = column.chars().take_while(char::is_ascii_lowercase).collect();
            !name.is_empty() && column[name.len()..].starts_with(": ")
        }
        None => after.starts_with(": "),
    };
    if column_ok { digits.parse().ok() } else { None }
}

/// What an accepted row always satisfies.
fn check_row(row: &CatalogRow, lines: usize) -> Result<(), TestCaseError> {
    prop_assert!((2..=lines).contains(&row.line), "row on line {} of {lines}", row.line);
    for (value, min, max) in [
        (&row.code, 1, MAX_CODE_CHARS),
        (&row.name, 1, MAX_NAME_CHARS),
        (&row.professor, 0, MAX_PROFESSOR_CHARS),
        (&row.section, 0, MAX_SECTION_CHARS),
        (&row.category, 0, MAX_CATEGORY_CHARS),
    ] {
        let chars = value.chars().count();
        prop_assert!((min..=max).contains(&chars), "{value:?}");
        prop_assert_eq!(value.trim(), value.as_str());
    }
    prop_assert!((0..=MAX_CREDITS).contains(&row.credits));
    prop_assert!((1..=MAX_SLOTS).contains(&row.times.len()));
    for slot in &row.times {
        prop_assert_eq!(slot.problem(), None);
    }
    prop_assert_eq!(schedule::self_overlap(&row.times), None);
    Ok(())
}

#[test]
fn arbitrary_text_is_a_catalog_or_says_which_line_is_wrong() {
    let seeds = ARBITRARY.seeds();
    let replay = seeds.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    let strategy = inputs(seeds, DICTIONARY).prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
    ARBITRARY.run(replay, strategy, check_arbitrary);
}

// ---- round trip ------------------------------------------------------------------------

/// Text without surrounding whitespace, drawn from characters that stress the CSV syntax
/// (a line break is CSV too, but no part of a valid name: it is refused like any control
/// character).
fn text(max: usize, min: usize) -> impl Strategy<Value = String> {
    let pattern = format!("[a-zA-Z0-9 ,\"가-힣()&/.'-]{{0,{max}}}");
    proptest::string::string_regex(&pattern).expect("a valid pattern").prop_map(move |s| {
        let trimmed = s.trim();
        if trimmed.chars().count() < min { "X".repeat(min) } else { trimmed.to_string() }
    })
}

fn slots() -> impl Strategy<Value = Vec<Slot>> {
    let room = "[A-Za-z0-9가-힣]{0,6}( [0-9]{1,3})?";
    let slot = (0i32..287, 1i32..36, room).prop_map(|(start, length, room)| {
        let start = start * 5;
        let end = (start + length * 5).min(24 * 60);
        (start, end, room.trim().to_string())
    });
    // Distinct days, so the slots never overlap each other.
    (proptest::sample::subsequence((1..=7).collect::<Vec<i32>>(), 1..=4), prop::collection::vec(slot, 4))
        .prop_map(|(days, times)| {
            days.into_iter()
                .zip(times)
                .map(|(day, (start, end, room))| Slot { day, start, end, room })
                .collect()
        })
}

#[derive(Debug, Clone)]
struct Row {
    name: String,
    professor: String,
    credits: i64,
    section: String,
    category: String,
    times: Vec<Slot>,
    /// Quote fields that do not need it; a blank line before the row.
    quote_all: bool,
    blank_before: bool,
}

fn row() -> impl Strategy<Value = Row> {
    (
        text(MAX_NAME_CHARS, 1),
        text(MAX_PROFESSOR_CHARS, 0),
        0..=MAX_CREDITS,
        "[0-9A-Z]{0,3}",
        text(MAX_CATEGORY_CHARS, 0),
        slots(),
        any::<bool>(),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(name, professor, credits, section, category, times, quote_all, blank_before)| Row {
            name,
            professor,
            credits,
            section,
            category,
            times,
            quote_all,
            blank_before,
        })
}

/// A catalog as a registrar might export it.
#[derive(Debug, Clone)]
struct Catalog {
    rows: Vec<Row>,
    /// Extra columns after the required five: `section`, `category` or unknown ones.
    extra: Vec<&'static str>,
    crlf: bool,
    bom: bool,
    trailing_newline: bool,
    upper_header: bool,
}

fn catalog() -> impl Strategy<Value = Catalog> {
    let extra =
        proptest::sample::subsequence(vec!["section", "category", "note", "room_note"], 0..=4).prop_shuffle();
    (prop::collection::vec(row(), 1..12), extra, any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>())
        .prop_map(|(rows, extra, crlf, bom, trailing_newline, upper_header)| Catalog {
            rows,
            extra,
            crlf,
            bom,
            trailing_newline,
            upper_header,
        })
}

fn field(value: &str, quote: bool) -> String {
    let needs = value.contains([',', '"', '\n', '\r']) || value.trim() != value;
    if quote || needs { format!("\"{}\"", value.replace('"', "\"\"")) } else { value.to_string() }
}

fn times_text(times: &[Slot]) -> String {
    let parts: Vec<String> = times
        .iter()
        .map(|s| {
            let range = format!("{}-{}", schedule::clock(s.start), schedule::clock(s.end));
            let day = schedule::day_name(s.day);
            if s.room.is_empty() { format!("{day} {range}") } else { format!("{day} {range} {}", s.room) }
        })
        .collect();
    parts.join("; ")
}

/// The file's text and the rows the parser must return.
fn render(catalog: &Catalog) -> (String, Vec<CatalogRow>) {
    let newline = if catalog.crlf { "\r\n" } else { "\n" };
    let mut header: Vec<String> =
        ["code", "name", "professor", "credits", "times"].map(String::from).to_vec();
    header.extend(catalog.extra.iter().map(|c| c.to_string()));
    if catalog.upper_header {
        header = header.iter().map(|h| h.to_uppercase()).collect();
    }
    let mut text = String::from(if catalog.bom { "\u{feff}" } else { "" });
    text.push_str(&header.join(","));
    let mut expected = Vec::new();
    for (i, row) in catalog.rows.iter().enumerate() {
        text.push_str(newline);
        if row.blank_before {
            text.push_str(newline);
        }
        let line = text.matches('\n').count() + 1;
        let code = format!("LEC{i:03}");
        let mut fields = vec![
            field(&code, row.quote_all),
            field(&row.name, row.quote_all),
            field(&row.professor, row.quote_all),
            field(&row.credits.to_string(), row.quote_all),
            field(&times_text(&row.times), row.quote_all),
        ];
        for column in &catalog.extra {
            let value = match *column {
                "section" => row.section.clone(),
                "category" => row.category.clone(),
                _ => format!("ignored, \"{i}\""),
            };
            fields.push(field(&value, row.quote_all));
        }
        text.push_str(&fields.join(","));
        let has = |c: &str| catalog.extra.contains(&c);
        expected.push(CatalogRow {
            line,
            code,
            section: if has("section") { row.section.clone() } else { String::new() },
            name: row.name.clone(),
            professor: row.professor.clone(),
            credits: row.credits,
            category: if has("category") { row.category.clone() } else { String::new() },
            times: row.times.clone(),
        });
    }
    if catalog.trailing_newline {
        text.push_str(newline);
    }
    (text, expected)
}

fn check_round_trip(catalog: Catalog) -> Result<(), TestCaseError> {
    let (text, expected) = render(&catalog);
    match parse_catalog(&text) {
        Ok(rows) => prop_assert_eq!(rows, expected, "{}", text),
        Err(problems) => prop_assert!(false, "a valid catalog was refused: {problems:?}\n{text}"),
    }
    Ok(())
}

#[test]
fn generated_catalogs_round_trip() {
    ROUND_TRIP.run(Vec::new(), catalog(), check_round_trip);
}
