//! The board's rules, free of I/O: input validation, how authors are shown (anonymous
//! numbering), HOT/BEST thresholds, and what a photo must be (`photo`).

use campus_proto::board::v1::{Author, BoardCategory};
use campus_shared::error::{Error, Result, Violations};
use campus_shared::text::{self, Text};

pub mod photo;
pub mod search;

/// How anonymous authors are shown.
pub const ANONYMOUS: &str = "익명";
/// The post's own author commenting anonymously.
pub const ANONYMOUS_POST_AUTHOR: &str = "익명(글쓴이)";
/// What a deleted comment that still has replies reads.
pub const DELETED_COMMENT: &str = "삭제된 댓글입니다";
/// Items with this many reports drop out of every list.
pub const REPORTS_TO_HIDE: i64 = 5;
/// Photos one post may carry.
pub const MAX_PHOTOS_PER_POST: i64 = 20;

/// Stable reasons of the board's errors.
pub mod reason {
    pub const BOARD_NAME_TAKEN: &str = "BOARD_NAME_TAKEN";
    pub const NOT_OWNER: &str = "NOT_OWNER";
    pub const CANNOT_LIKE_OWN_POST: &str = "CANNOT_LIKE_OWN_POST";
    pub const CANNOT_LIKE_OWN_COMMENT: &str = "CANNOT_LIKE_OWN_COMMENT";
    pub const ALREADY_LIKED: &str = "ALREADY_LIKED";
    pub const CANNOT_SCRAP_OWN_POST: &str = "CANNOT_SCRAP_OWN_POST";
    pub const ALREADY_SCRAPPED: &str = "ALREADY_SCRAPPED";
    pub const CANNOT_REPORT_OWN_POST: &str = "CANNOT_REPORT_OWN_POST";
    pub const CANNOT_REPORT_OWN_COMMENT: &str = "CANNOT_REPORT_OWN_COMMENT";
    pub const ALREADY_REPORTED: &str = "ALREADY_REPORTED";
    pub const PARENT_NOT_IN_POST: &str = "PARENT_NOT_IN_POST";
    pub const UNSUPPORTED_IMAGE: &str = "UNSUPPORTED_IMAGE";
    pub const PHOTO_TOO_LARGE: &str = "PHOTO_TOO_LARGE";
    pub const TOO_MANY_PHOTOS: &str = "TOO_MANY_PHOTOS";
}

/// A second board of the same name in a school.
pub(crate) fn board_name_taken() -> Error {
    Error::already_exists(reason::BOARD_NAME_TAKEN, "a board with this name already exists in your school")
}

/// A second like of the same post or comment by one user.
pub(crate) fn already_liked() -> Error {
    Error::already_exists(reason::ALREADY_LIKED, "you already liked this")
}

/// A second scrap of the same post by one user.
pub(crate) fn already_scrapped() -> Error {
    Error::already_exists(reason::ALREADY_SCRAPPED, "you already scrapped this post")
}

/// A second report of the same item by one user.
pub(crate) fn already_reported() -> Error {
    Error::already_exists(reason::ALREADY_REPORTED, "you already reported this")
}

/// Checks that `value` is 1..=`max` characters (not bytes), not only whitespace, and holds
/// only what `kind` of text may.
fn check_text(v: &mut Violations, field: &str, value: &str, max: usize, kind: Text) {
    let chars = value.chars().count();
    if value.trim().is_empty() {
        v.add(field, "must not be empty");
    } else if chars > max {
        v.add(field, format!("must be at most {max} characters (got {chars})"));
    } else {
        text::check(v, field, value, kind);
    }
}

/// A new board, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBoard {
    pub name: String,
    pub description: String,
    pub category: BoardCategory,
    pub hot_disabled: bool,
}

impl NewBoard {
    pub fn parse(name: &str, description: &str, category: i32, hot_disabled: bool) -> Result<Self> {
        let mut v = Violations::new();
        let name = name.trim();
        check_text(&mut v, "name", name, 30, Text::Line);
        let description = description.trim();
        if description.chars().count() > 200 {
            v.add("description", "must be at most 200 characters");
        } else {
            text::check(&mut v, "description", description, Text::Line);
        }
        let category = match BoardCategory::try_from(category) {
            Ok(BoardCategory::Unspecified) | Err(_) => {
                v.add("category", "must be one of the BOARD_CATEGORY_* values");
                BoardCategory::Unspecified
            }
            Ok(c) => c,
        };
        v.finish()?;
        Ok(Self { name: name.into(), description: description.into(), category, hot_disabled })
    }
}

/// A post's title and content, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostText {
    pub title: String,
    pub content: String,
}

impl PostText {
    pub fn parse(title: &str, content: &str) -> Result<Self> {
        let mut v = Violations::new();
        check_text(&mut v, "title", title.trim(), 100, Text::Line);
        check_text(&mut v, "content", content, 10_000, Text::Multiline);
        v.finish()?;
        Ok(Self { title: title.trim().into(), content: content.into() })
    }
}

/// The fields an update changes; at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostEdit {
    pub title: Option<String>,
    pub content: Option<String>,
}

impl PostEdit {
    pub fn parse(title: Option<&str>, content: Option<&str>) -> Result<Self> {
        let mut v = Violations::new();
        if title.is_none() && content.is_none() {
            v.add("title", "set title, content or both");
        }
        if let Some(t) = title {
            check_text(&mut v, "title", t.trim(), 100, Text::Line);
        }
        if let Some(c) = content {
            check_text(&mut v, "content", c, 10_000, Text::Multiline);
        }
        v.finish()?;
        Ok(Self { title: title.map(|t| t.trim().to_string()), content: content.map(str::to_string) })
    }
}

/// A comment's text: 1–300 characters.
pub fn comment_content(content: &str) -> Result<String> {
    let mut v = Violations::new();
    check_text(&mut v, "content", content, 300, Text::Multiline);
    v.finish()?;
    Ok(content.into())
}

/// A report's reason: 1–200 characters.
pub fn report_reason(reason: &str) -> Result<String> {
    let mut v = Violations::new();
    check_text(&mut v, "reason", reason.trim(), 200, Text::Multiline);
    v.finish()?;
    Ok(reason.trim().into())
}

/// A positive resource id from a request.
pub fn id(field: &str, value: i64) -> Result<i64> {
    if value > 0 { Ok(value) } else { Err(Error::invalid(field, "must be a positive id")) }
}

/// How the author of a post is shown to `viewer`.
pub fn post_author(author_id: i64, nickname: &str, anonymous: bool, viewer: i64) -> Author {
    Author {
        display_name: if anonymous { ANONYMOUS.into() } else { nickname.into() },
        is_anonymous: anonymous,
        is_me: author_id == viewer,
        is_post_author: false,
    }
}

/// What is known about a comment's author, to show it.
#[derive(Debug, Clone, Copy)]
pub struct CommentAuthor<'a> {
    pub author_id: i64,
    pub nickname: &'a str,
    pub anonymous: bool,
    pub anon_number: i64,
    pub post_author_id: i64,
    pub post_anonymous: bool,
}

/// How a comment's author is shown to `viewer`. The post's author commenting anonymously is
/// "익명(글쓴이)"; other anonymous commenters "익명N". A named comment by the author of an
/// anonymous post is not flagged as the post's author, which would unmask the post.
pub fn comment_author(a: CommentAuthor<'_>, viewer: i64) -> Author {
    let is_post_author = a.author_id == a.post_author_id;
    let (display_name, flagged) = match (a.anonymous, is_post_author) {
        (true, true) => (ANONYMOUS_POST_AUTHOR.to_string(), true),
        (true, false) => (format!("{ANONYMOUS}{}", a.anon_number), false),
        (false, _) => (a.nickname.to_string(), is_post_author && !a.post_anonymous),
    };
    Author { display_name, is_anonymous: a.anonymous, is_me: a.author_id == viewer, is_post_author: flagged }
}

/// The author of a deleted comment that stays as a placeholder: nobody in particular.
pub fn deleted_author() -> Author {
    Author { display_name: String::new(), is_anonymous: true, is_me: false, is_post_author: false }
}

/// Whether a commenter needs a number: anonymous and not the post's author.
pub fn needs_anon_number(anonymous: bool, author_id: i64, post_author_id: i64) -> bool {
    anonymous && author_id != post_author_id
}

/// HOT and BEST like thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub hot: i64,
    pub best: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self { hot: 10, best: 100 }
    }
}

/// What one like made of a post: HOT, BEST, both or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Promotions {
    pub hot: bool,
    pub best: bool,
}

impl Promotions {
    pub fn any(self) -> bool {
        self.hot || self.best
    }
}

/// The state of a post right after a like was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Liked {
    pub likes: i64,
    pub hot_allowed: bool,
    pub already_hot: bool,
    pub already_best: bool,
}

impl Thresholds {
    /// Which stamps the like that brought a post to `liked.likes` sets: each happens once per
    /// post (a stamp is never set twice), HOT only where the board allows it.
    pub fn promotions(self, liked: Liked) -> Promotions {
        Promotions {
            hot: liked.hot_allowed && !liked.already_hot && liked.likes >= self.hot,
            best: !liked.already_best && liked.likes >= self.best,
        }
    }
}

/// Whether the report that brought an item to `reports` is the one that hides it (exactly
/// one report does, so the item is announced as hidden once).
pub fn hidden_by(reports: i64) -> bool {
    reports == REPORTS_TO_HIDE
}

/// Characters of a comment (or a post's title) an event carries as its preview (DESIGN §9).
pub const PREVIEW_CHARS: usize = 60;

/// The first [`PREVIEW_CHARS`] characters (not bytes) of `text`.
pub fn preview(text: &str) -> String {
    text.chars().take(PREVIEW_CHARS).collect()
}

/// Characters of a post's content its lists show. The SQL that computes the preview of a
/// post stored without one (`substr(content, 1, 100)`) spells the same number.
pub const CONTENT_PREVIEW_CHARS: usize = 100;

/// The first [`CONTENT_PREVIEW_CHARS`] characters (Unicode scalar values, not bytes) of a
/// post's content, line breaks kept: what a list shows of the post.
pub fn content_preview(content: &str) -> String {
    content.chars().take(CONTENT_PREVIEW_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn author(author_id: i64, anonymous: bool, n: i64, post_anonymous: bool) -> CommentAuthor<'static> {
        CommentAuthor {
            author_id,
            nickname: "nick",
            anonymous,
            anon_number: n,
            post_author_id: 1,
            post_anonymous,
        }
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let korean_100 = "가".repeat(100);
        assert!(PostText::parse(&korean_100, "x").is_ok());
        assert!(PostText::parse(&"가".repeat(101), "x").is_err());
        assert!(PostText::parse("t", &"가".repeat(10_000)).is_ok());
        assert!(PostText::parse("t", &"가".repeat(10_001)).is_err());
        assert!(comment_content(&"가".repeat(300)).is_ok());
        assert!(comment_content(&"가".repeat(301)).is_err());
    }

    #[test]
    fn blank_text_is_refused_with_every_field_named() {
        let Err(Error::InvalidArgument(v)) = PostText::parse("  ", "") else { panic!("expected invalid") };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["title", "content"]);
    }

    #[test]
    fn control_characters_are_refused_by_field() {
        let Err(Error::InvalidArgument(v)) = PostText::parse("제목\0", "본문\u{1b}[2J") else {
            panic!("expected invalid")
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["title", "content"]);
        assert!(PostText::parse("제목", "첫 줄\n둘째 줄").is_ok());
        assert!(PostText::parse("두 줄\n제목", "본문").is_err());
        assert!(comment_content("a\0").is_err());
        assert!(report_reason("spam\0").is_err());
        assert!(NewBoard::parse("자유\u{202E}", "", 1, false).is_err());
        assert!(NewBoard::parse("자유", "설명\0", 1, false).is_err());
        assert!(PostEdit::parse(Some("a\0"), None).is_err());
    }

    #[test]
    fn an_edit_changes_something() {
        assert!(PostEdit::parse(None, None).is_err());
        assert_eq!(PostEdit::parse(Some(" a "), None).unwrap().title.as_deref(), Some("a"));
    }

    #[test]
    fn boards_need_a_category() {
        assert!(NewBoard::parse("자유게시판", "", 0, false).is_err());
        assert!(NewBoard::parse("자유게시판", "", 99, false).is_err());
        assert!(NewBoard::parse(&"가".repeat(31), "", 1, false).is_err());
        assert_eq!(NewBoard::parse(" 자유 ", "", 1, false).unwrap().name, "자유");
    }

    #[test]
    fn comment_authors_are_shown_as_everytime_does() {
        assert_eq!(comment_author(author(1, true, 0, true), 9).display_name, "익명(글쓴이)");
        assert!(comment_author(author(1, true, 0, true), 9).is_post_author);
        assert_eq!(comment_author(author(2, true, 3, true), 9).display_name, "익명3");
        assert!(!comment_author(author(2, true, 3, true), 9).is_post_author);
        assert_eq!(comment_author(author(2, false, 0, true), 2).display_name, "nick");
        assert!(comment_author(author(2, false, 0, true), 2).is_me);
        // The author of an anonymous post commenting by name is not unmasked.
        assert!(!comment_author(author(1, false, 0, true), 9).is_post_author);
        assert!(comment_author(author(1, false, 0, false), 9).is_post_author);
    }

    #[test]
    fn a_like_promotes_once_per_stamp() {
        let t = Thresholds { hot: 3, best: 5 };
        let liked = |likes, hot_allowed, already_hot, already_best| Liked {
            likes,
            hot_allowed,
            already_hot,
            already_best,
        };
        assert_eq!(t.promotions(liked(2, true, false, false)), Promotions::default());
        assert_eq!(t.promotions(liked(3, true, false, false)), Promotions { hot: true, best: false });
        assert_eq!(t.promotions(liked(4, true, true, false)), Promotions::default());
        assert_eq!(t.promotions(liked(5, true, true, false)), Promotions { hot: false, best: true });
        assert_eq!(t.promotions(liked(6, true, true, true)), Promotions::default());
        // A board without HOT still has BEST; thresholds lowered after the fact stamp both.
        assert_eq!(t.promotions(liked(5, false, false, false)), Promotions { hot: false, best: true });
        assert_eq!(t.promotions(liked(9, true, false, false)), Promotions { hot: true, best: true });
    }

    #[test]
    fn only_the_report_that_reaches_the_limit_hides() {
        assert!(!hidden_by(REPORTS_TO_HIDE - 1));
        assert!(hidden_by(REPORTS_TO_HIDE));
        assert!(!hidden_by(REPORTS_TO_HIDE + 1));
    }

    #[test]
    fn previews_count_characters_not_bytes() {
        assert_eq!(preview("short"), "short");
        let korean = "가".repeat(61);
        assert_eq!(preview(&korean), "가".repeat(60));
        assert_eq!(preview(&"a".repeat(60)), "a".repeat(60));
    }

    #[test]
    fn content_previews_keep_the_first_100_characters_and_line_breaks() {
        assert_eq!(content_preview("짧은 글"), "짧은 글");
        let exactly = "가".repeat(100);
        assert_eq!(content_preview(&exactly), exactly);
        let longer = format!("{exactly}나");
        assert_eq!(content_preview(&longer), exactly);
        assert_eq!(content_preview(&longer).len(), 300, "100 three-byte characters");
        let lines = format!("첫 줄\n둘째 줄\r\n{}", "다".repeat(200));
        let kept = content_preview(&lines);
        assert!(kept.starts_with("첫 줄\n둘째 줄\r\n"));
        assert_eq!(kept.chars().count(), 100);
    }

    proptest! {
        #[test]
        fn anonymous_names_never_carry_the_nickname(n in 1i64..1000, author_id in 2i64..100, viewer in 1i64..100) {
            let shown = comment_author(author(author_id, true, n, true), viewer);
            prop_assert_eq!(shown.display_name, format!("익명{n}"));
            prop_assert!(shown.is_anonymous);
        }

    }
}
