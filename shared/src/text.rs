//! The characters user text may hold, for every service's free-text fields.
//!
//! PostgreSQL cannot store NUL in TEXT (the insert fails, which would be a 500), and control
//! characters have no place in what people read: a title with an escape sequence or a
//! nickname with a right-to-left override shows something else than it says. So every text
//! field is checked here before it reaches the database, and refused with INVALID_ARGUMENT
//! naming the field.

use crate::error::Violations;

/// What kind of text a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Text {
    /// One line: titles, names, nicknames, search terms. No control characters at all, no
    /// line or paragraph separators, no bidirectional overrides or isolates.
    Line,
    /// Running text: post and message bodies, comments, reviews. Tabs and line breaks
    /// (`\n`, `\r`) are fine; other control characters are not.
    Multiline,
}

/// Bidirectional embeddings, overrides and isolates: they reorder what follows them, so a
/// one-line name carrying one can read as something it is not.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The first character `kind` does not allow in `value`, if any.
pub fn forbidden_char(value: &str, kind: Text) -> Option<char> {
    value.chars().find(|&c| match kind {
        Text::Line => c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') || is_bidi_control(c),
        Text::Multiline => c.is_control() && !matches!(c, '\n' | '\r' | '\t'),
    })
}

/// Why `value` may not be stored as `kind`, as a field violation's description.
pub fn problem(value: &str, kind: Text) -> Option<String> {
    forbidden_char(value, kind).map(|c| {
        let what = if c == '\0' { "NUL characters" } else { "control characters" };
        format!("must not contain {what} (found U+{:04X})", c as u32)
    })
}

/// Records a violation under `field` when `value` holds a character `kind` does not allow;
/// true when it is clean.
pub fn check(v: &mut Violations, field: &str, value: &str, kind: Text) -> bool {
    match problem(value, kind) {
        Some(description) => {
            v.add(field, description);
            false
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nul_and_escapes_are_refused_everywhere() {
        for bad in ["a\0b", "\u{1b}[31mred", "bell\u{7}", "del\u{7f}", "c1\u{85}"] {
            assert!(forbidden_char(bad, Text::Line).is_some(), "{bad:?}");
            assert!(forbidden_char(bad, Text::Multiline).is_some(), "{bad:?}");
        }
        assert_eq!(
            problem("a\0b", Text::Multiline).unwrap(),
            "must not contain NUL characters (found U+0000)"
        );
        assert_eq!(
            problem("\u{1b}", Text::Line).unwrap(),
            "must not contain control characters (found U+001B)"
        );
    }

    #[test]
    fn line_breaks_belong_in_running_text_only() {
        for text in ["첫 줄\n둘째 줄", "tab\there", "windows\r\n"] {
            assert_eq!(forbidden_char(text, Text::Multiline), None, "{text:?}");
            assert!(forbidden_char(text, Text::Line).is_some(), "{text:?}");
        }
        assert_eq!(forbidden_char("para\u{2029}graph", Text::Line), Some('\u{2029}'));
    }

    #[test]
    fn bidi_overrides_are_refused_in_names() {
        assert_eq!(forbidden_char("admin\u{202E}nimda", Text::Line), Some('\u{202E}'));
        assert_eq!(forbidden_char("isolate\u{2067}", Text::Line), Some('\u{2067}'));
    }

    #[test]
    fn ordinary_text_passes() {
        for text in
            ["자유게시판", "익명(글쓴이)", "Hello, world!", "👩‍💻 coder", "emoji\u{FE0F}", "zero\u{200D}width"]
        {
            assert_eq!(forbidden_char(text, Text::Line), None, "{text:?}");
            assert_eq!(forbidden_char(text, Text::Multiline), None, "{text:?}");
        }
    }

    #[test]
    fn violations_name_the_field() {
        let mut v = Violations::new();
        assert!(!check(&mut v, "title", "a\0", Text::Line));
        assert!(check(&mut v, "content", "fine", Text::Multiline));
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["title"]);
    }

    proptest! {
        #[test]
        fn whatever_passes_as_a_line_passes_as_running_text(text in "\\PC*") {
            if forbidden_char(&text, Text::Line).is_none() {
                prop_assert_eq!(forbidden_char(&text, Text::Multiline), None);
            }
        }
    }
}
