//! The lecture catalog CSV: a small RFC 4180 reader and the row rules.
//!
//! The header must start with `code,name,professor,credits,times`; the optional columns
//! `section` and `category` may follow in any order, and other columns are ignored (so a
//! registrar's export with extra columns imports as is). `times` is
//! `Mon 09:00-10:15 R101; Wed 09:00-10:15 R101` (the room is optional). Every problem is
//! reported as `line N, column C: …`, where N is the physical line the record starts on.

use std::collections::HashMap;

use super::schedule::{self, Slot};

/// The columns every catalog starts with, in this order.
pub const REQUIRED_COLUMNS: [&str; 5] = ["code", "name", "professor", "credits", "times"];
/// Optional columns recognised after the required ones.
pub const OPTIONAL_COLUMNS: [&str; 2] = ["section", "category"];
/// At most this many problems are listed; the rest are counted.
pub const MAX_REPORTED: usize = 20;

pub const MAX_CODE_CHARS: usize = 20;
pub const MAX_SECTION_CHARS: usize = 10;
pub const MAX_NAME_CHARS: usize = 100;
pub const MAX_PROFESSOR_CHARS: usize = 50;
pub const MAX_CATEGORY_CHARS: usize = 30;
pub const MAX_CREDITS: i64 = 6;
pub const MAX_SLOTS: usize = 14;

/// One valid catalog row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogRow {
    /// The physical line the record starts on (1 is the header).
    pub line: usize,
    pub code: String,
    pub section: String,
    pub name: String,
    pub professor: String,
    pub credits: i64,
    pub category: String,
    pub times: Vec<Slot>,
}

/// Parses a whole catalog; on any problem, every problem found (up to [`MAX_REPORTED`]).
pub fn parse_catalog(text: &str) -> Result<Vec<CatalogRow>, Vec<String>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let records = read_records(text).map_err(|e| vec![e])?;
    let mut records = records.into_iter().filter(|r| !r.is_blank());
    let Some(header) = records.next() else {
        return Err(vec!["line 1: the file is empty; expected a header row".into()]);
    };
    let columns = Columns::from_header(&header)?;

    let mut problems = Vec::new();
    let mut rows = Vec::new();
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    for record in records {
        match columns.row(&record) {
            Ok(row) => {
                let key = (row.code.clone(), row.section.clone());
                if let Some(first) = seen.get(&key) {
                    problems.push(format!(
                        "line {}, column section: code {} section \"{}\" already appears on line {first}",
                        row.line, row.code, row.section
                    ));
                } else {
                    seen.insert(key, row.line);
                    rows.push(row);
                }
            }
            Err(mut row_problems) => problems.append(&mut row_problems),
        }
    }
    if rows.is_empty() && problems.is_empty() {
        problems.push(format!("line {}: no lectures after the header", header.line + 1));
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        if problems.len() > MAX_REPORTED {
            let more = problems.len() - MAX_REPORTED;
            problems.truncate(MAX_REPORTED);
            problems.push(format!("… and {more} more problems"));
        }
        Err(problems)
    }
}

/// Where each known column sits in the file.
#[derive(Debug)]
struct Columns {
    count: usize,
    section: Option<usize>,
    category: Option<usize>,
}

impl Columns {
    fn from_header(header: &Record) -> Result<Self, Vec<String>> {
        let names: Vec<String> = header.fields.iter().map(|f| f.trim().to_lowercase()).collect();
        let starts_right =
            names.len() >= REQUIRED_COLUMNS.len() && names.iter().zip(REQUIRED_COLUMNS).all(|(n, r)| n == r);
        if !starts_right {
            return Err(vec![format!(
                "line {}: the header must start with {}, found \"{}\"",
                header.line,
                REQUIRED_COLUMNS.join(","),
                header.fields.join(",")
            )]);
        }
        let mut columns = Columns { count: names.len(), section: None, category: None };
        for (i, name) in names.iter().enumerate().skip(REQUIRED_COLUMNS.len()) {
            let slot = match name.as_str() {
                "section" => &mut columns.section,
                "category" => &mut columns.category,
                n if REQUIRED_COLUMNS.contains(&n) => {
                    return Err(vec![format!("line {}: column {n} appears twice", header.line)]);
                }
                _ => continue,
            };
            if slot.is_some() {
                return Err(vec![format!("line {}: column {name} appears twice", header.line)]);
            }
            *slot = Some(i);
        }
        Ok(columns)
    }

    fn row(&self, record: &Record) -> Result<CatalogRow, Vec<String>> {
        let line = record.line;
        if record.fields.len() != self.count {
            return Err(vec![format!(
                "line {line}: expected {} columns, found {}",
                self.count,
                record.fields.len()
            )]);
        }
        let mut problems = Vec::new();
        let mut text = |column: &str, index: Option<usize>, min: usize, max: usize| -> String {
            let value = index.map(|i| record.fields[i].trim().to_string()).unwrap_or_default();
            let chars = value.chars().count();
            if chars < min || chars > max {
                let rule = if min == 0 {
                    format!("at most {max} characters")
                } else {
                    format!("{min} to {max} characters")
                };
                problems.push(format!("line {line}, column {column}: must be {rule}, found {chars}"));
            } else if let Some(problem) =
                campus_shared::text::problem(&value, campus_shared::text::Text::Line)
            {
                problems.push(format!("line {line}, column {column}: {problem}"));
            }
            value
        };
        let code = text("code", Some(0), 1, MAX_CODE_CHARS);
        let name = text("name", Some(1), 1, MAX_NAME_CHARS);
        let professor = text("professor", Some(2), 0, MAX_PROFESSOR_CHARS);
        let section = text("section", self.section, 0, MAX_SECTION_CHARS);
        let category = text("category", self.category, 0, MAX_CATEGORY_CHARS);

        let raw_credits = record.fields[3].trim();
        let credits = match raw_credits.parse::<i64>() {
            Ok(c) if (0..=MAX_CREDITS).contains(&c) => c,
            _ => {
                problems.push(format!(
                    "line {line}, column credits: \"{raw_credits}\" is not a whole number from 0 to {MAX_CREDITS}"
                ));
                0
            }
        };
        let times = match parse_times(&record.fields[4]) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("line {line}, column times: {e}"));
                Vec::new()
            }
        };
        if problems.is_empty() {
            Ok(CatalogRow { line, code, section, name, professor, credits, category, times })
        } else {
            Err(problems)
        }
    }
}

/// Parses `Mon 09:00-10:15 R101; Wed 09:00-10:15` into slots (at least one, not overlapping
/// each other).
pub fn parse_times(raw: &str) -> Result<Vec<Slot>, String> {
    let parts: Vec<&str> = raw.split(';').map(str::trim).filter(|p| !p.is_empty()).collect();
    if parts.is_empty() {
        return Err("at least one slot like \"Mon 09:00-10:15 R101\" is required".into());
    }
    if parts.len() > MAX_SLOTS {
        return Err(format!("at most {MAX_SLOTS} slots"));
    }
    let slots = parts.iter().map(|p| parse_slot(p)).collect::<Result<Vec<_>, _>>()?;
    if let Some((a, b)) = schedule::self_overlap(&slots) {
        return Err(format!("slots \"{}\" and \"{}\" overlap", parts[a], parts[b]));
    }
    Ok(slots)
}

fn parse_slot(part: &str) -> Result<Slot, String> {
    let mut words = part.splitn(3, char::is_whitespace);
    let day_word = words.next().unwrap_or_default();
    let day = parse_day(day_word).ok_or_else(|| format!("bad day \"{day_word}\" (use Mon..Sun)"))?;
    let range = words.next().map(str::trim).unwrap_or_default();
    let room = words.next().map(str::trim).unwrap_or_default().to_string();
    let (from, to) =
        range.split_once('-').ok_or_else(|| format!("bad time range \"{range}\" (use HH:MM-HH:MM)"))?;
    let start = parse_clock(from)?;
    let end = parse_clock(to)?;
    let slot = Slot { day, start, end, room };
    match slot.problem() {
        Some(problem) => Err(format!("\"{part}\": {problem}")),
        None => Ok(slot),
    }
}

fn parse_day(word: &str) -> Option<i32> {
    let day = match word.to_ascii_lowercase().as_str() {
        "mon" => 1,
        "tue" => 2,
        "wed" => 3,
        "thu" => 4,
        "fri" => 5,
        "sat" => 6,
        "sun" => 7,
        _ => return None,
    };
    Some(day)
}

/// `HH:MM` (00:00 to 24:00) as minutes from midnight.
fn parse_clock(raw: &str) -> Result<i32, String> {
    let bad = || format!("bad time \"{raw}\" (use HH:MM, 00:00 to 24:00)");
    let (h, m) = raw.trim().split_once(':').ok_or_else(bad)?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || m.len() != 2 || !digits(m) {
        return Err(bad());
    }
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// One CSV record and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    line: usize,
    fields: Vec<String>,
}

impl Record {
    fn is_blank(&self) -> bool {
        self.fields.iter().all(|f| f.trim().is_empty())
    }
}

/// RFC 4180: fields separated by commas, records by LF or CRLF; a field in double quotes may
/// hold commas, line breaks and `""` (one quote).
fn read_records(text: &str) -> Result<Vec<Record>, String> {
    let mut records = Vec::new();
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut chars = text.chars().peekable();
    // Whether the current field started with a quote, and whether we are inside it.
    let mut quoted = false;
    let mut in_quotes = false;
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !quoted => {
                quoted = true;
                in_quotes = true;
            }
            '"' => {
                return Err(format!(
                    "line {line}: a quote inside an unquoted field (wrap the field in quotes and double it)"
                ));
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                quoted = false;
                records.push(Record { line: record_line, fields: std::mem::take(&mut fields) });
                line += 1;
                record_line = line;
            }
            _ if quoted => {
                return Err(format!("line {line}: text after a closing quote"));
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err(format!("line {record_line}: a quoted field is never closed"));
    }
    if !field.is_empty() || !fields.is_empty() || quoted {
        fields.push(field);
        records.push(Record { line: record_line, fields });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "code,name,professor,credits,times,section,category\n";

    fn one_problem(text: &str) -> String {
        let problems = parse_catalog(text).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        problems.into_iter().next().unwrap()
    }

    #[test]
    fn reads_quoted_fields() {
        let records = read_records("a,\"b, c\",\"say \"\"hi\"\"\"\r\n\"multi\nline\",x\n").unwrap();
        assert_eq!(records[0].fields, vec!["a", "b, c", "say \"hi\""]);
        assert_eq!(records[0].line, 1);
        assert_eq!(records[1].fields, vec!["multi\nline", "x"]);
        assert_eq!(records[1].line, 2);
        assert!(read_records("a,\"open\n").is_err());
        assert!(read_records("a,b\"c\n").is_err());
        assert!(read_records("\"a\"b\n").is_err());
    }

    #[test]
    fn parses_a_catalog() {
        let text = format!(
            "{HEADER}CSE101,\"Data Structures, Intro\",Kim,3,Mon 09:00-10:15 R101; Wed 09:00-10:15,01,전공\n\
             CSE101,Data Structures,Lee,3,tue 13:30-14:45,02,\n"
        );
        let rows = parse_catalog(&text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].name, "Data Structures, Intro");
        assert_eq!(rows[0].section, "01");
        assert_eq!(rows[0].category, "전공");
        assert_eq!(rows[0].times[0], Slot { day: 1, start: 540, end: 615, room: "R101".into() });
        assert_eq!(rows[0].times[1].room, "");
        assert_eq!(rows[1].times[0].day, 2);
        assert_eq!(rows[1].line, 3);
    }

    #[test]
    fn extra_columns_may_be_reordered_or_missing_and_unknown_ones_are_ignored() {
        let rows = parse_catalog("code,name,professor,credits,times,category,room_note,section\nA1,X,P,2,Fri 10:00-11:00,교양,note,03\n").unwrap();
        assert_eq!((rows[0].section.as_str(), rows[0].category.as_str()), ("03", "교양"));
        let rows = parse_catalog("code,name,professor,credits,times\nA1,X,,2,Fri 10:00-11:00\n").unwrap();
        assert_eq!(rows[0].section, "");
    }

    #[test]
    fn control_characters_in_a_column_are_refused_by_line() {
        let problem = one_problem(&format!("{HEADER}CSE101,Data\0Structures,Kim,3,Mon 09:00-10:15,01,\n"));
        assert_eq!(problem, "line 2, column name: must not contain NUL characters (found U+0000)");
    }

    #[test]
    fn bad_headers_are_refused() {
        assert!(one_problem("code,name,credits,professor,times\n").contains("header must start with"));
        assert!(one_problem("").contains("empty"));
        assert!(one_problem("code,name,professor,credits,times,section,section\n").contains("twice"));
        assert_eq!(one_problem(HEADER), "line 2: no lectures after the header");
        // Blank lines before the header move it, and the line named.
        assert_eq!(one_problem(&format!("\n\n{HEADER}\n")), "line 4: no lectures after the header");
    }

    #[test]
    fn bad_rows_name_line_and_column() {
        let p = one_problem(&format!("{HEADER}A,X,P,3,Mon 09:00-10:00,01,\nB,Y,P,3,Mnd 09:00-10:00,01,\n"));
        assert_eq!(p, "line 3, column times: bad day \"Mnd\" (use Mon..Sun)");
        let p = one_problem(&format!("{HEADER}A,X,P,3,Mon 23:00-25:00,01,\n"));
        assert!(p.starts_with("line 2, column times: bad time \"25:00\""), "{p}");
        let p = one_problem(&format!("{HEADER}A,X,P,3,Mon 10:00-09:00,01,\n"));
        assert!(p.contains("line 2, column times") && p.contains("not after"), "{p}");
        let p = one_problem(&format!("{HEADER}A,X,P,3,Mon 10:00-10:07,01,\n"));
        assert!(p.contains("5-minute"), "{p}");
        let p = one_problem(&format!("{HEADER}A,X,P,three,Mon 10:00-11:00,01,\n"));
        assert!(p.starts_with("line 2, column credits"), "{p}");
        let p = one_problem(&format!("{HEADER}A,X,P,-1,Mon 10:00-11:00,01,\n"));
        assert!(p.starts_with("line 2, column credits"), "{p}");
        let p = one_problem(&format!("{HEADER},X,P,3,Mon 10:00-11:00,01,\n"));
        assert!(p.starts_with("line 2, column code"), "{p}");
        let p = one_problem(&format!("{HEADER}A,X,P,3,Mon 10:00-11:00,01\n"));
        assert_eq!(p, "line 2: expected 7 columns, found 6");
        let p = one_problem(&format!("{HEADER}A,X,P,3,Mon 10:00-11:00; Mon 10:30-11:30,01,\n"));
        assert!(p.contains("overlap"), "{p}");
        let p = one_problem(&format!("{HEADER}A,X,P,3,,01,\n"));
        assert!(p.starts_with("line 2, column times"), "{p}");
    }

    #[test]
    fn line_numbers_count_physical_lines() {
        // A quoted field may span lines (a line break is no part of a name, though).
        let problems = parse_catalog(&format!(
            "{HEADER}A,\"two\nlines\",P,3,Mon 09:00-10:00,01,\n\nB,Y,P,3,Xyz 09:00-10:00,01,\n"
        ))
        .unwrap_err();
        assert!(problems[0].starts_with("line 2, column name: must not contain control"), "{problems:?}");
        assert!(problems[1].starts_with("line 5, column times"), "{problems:?}");
    }

    #[test]
    fn duplicate_code_and_section_is_an_error() {
        let p = one_problem(&format!("{HEADER}A,X,P,3,Mon 09:00-10:00,01,\nA,Y,Q,3,Tue 09:00-10:00,01,\n"));
        assert!(p.starts_with("line 3, column section") && p.contains("line 2"), "{p}");
    }

    #[test]
    fn the_standalone_seed_catalog_parses() {
        // The one-process runner seeds this file; skip quietly where the tree does not have it.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../standalone/seed/lectures-2026-fall.csv");
        if let Ok(text) = std::fs::read_to_string(path) {
            let rows = parse_catalog(&text).unwrap_or_else(|p| panic!("{p:?}"));
            assert!(rows.len() > 10);
        }
    }

    #[test]
    fn clocks() {
        assert_eq!(parse_clock("09:05"), Ok(545));
        assert_eq!(parse_clock("9:05"), Ok(545));
        assert_eq!(parse_clock("24:00"), Ok(1440));
        for bad in ["24:05", "25:00", "10:60", "10:5", "ab:cd", "1000", "-1:00"] {
            assert!(parse_clock(bad).is_err(), "{bad}");
        }
    }
}
