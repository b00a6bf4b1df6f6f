//! Who is notified of what (DESIGN §9), without I/O.
//!
//! - A comment on a post notifies the post's author (COMMENT); a reply notifies the parent
//!   comment's author (REPLY) and the post's author too (COMMENT) when that is a third person.
//! - Nobody is notified of their own action, and one action gives one person one
//!   notification: the author of both the post and the parent comment gets one REPLY.
//! - A post that becomes HOT or BEST notifies its author.
//!
//! **No grouping.** Each comment gives its own notification (the client may group them for
//! display). A notification then points at exactly one comment, so deleting or hiding that
//! comment removes exactly its notification, and a count of unread notifications is a count
//! of rows. Server-side grouping ("3 new comments on your post") would have to be rewritten
//! whenever one of the grouped comments disappeared.
//!
//! Nothing here ever carries the actor: the writer's id is used only to leave them out.

use campus_proto::board::v1::{CommentCreated, PostPromoted, Promotion};
use campus_shared::Error;
use campus_shared::error::Violations;

/// The longest preview, in characters (the comment's start, or the post's title).
pub const PREVIEW_CHARS: usize = 60;
/// The longest board name kept (board's own limit is lower; this only bounds what a
/// malformed event could store).
pub const BOARD_NAME_CHARS: usize = 100;
/// How many ids one MarkNotificationsRead may name (the largest page).
pub const MAX_MARK_IDS: usize = 100;

/// What a notification is about. Stored as its protobuf number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Comment = 1,
    Reply = 2,
    Hot = 3,
    Best = 4,
}

impl Kind {
    /// The stored number back; `None` for a number no kind has.
    pub fn from_i64(value: i64) -> Option<Self> {
        match value {
            1 => Some(Self::Comment),
            2 => Some(Self::Reply),
            3 => Some(Self::Hot),
            4 => Some(Self::Best),
            _ => None,
        }
    }
}

/// A notification to store: whom, what, about which post and comment. No actor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub user_id: i64,
    pub kind: Kind,
    pub post_id: i64,
    /// The new comment (the reply, for REPLY); 0 for HOT and BEST.
    pub comment_id: i64,
    pub board_id: i64,
    pub board_name: String,
    pub preview: String,
}

/// The first `max` characters of `text`.
fn clip(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// Real users have positive ids; 0 (or less) stands for nobody (an unset field).
fn someone(id: i64) -> Option<i64> {
    (id > 0).then_some(id)
}

/// The notifications a new comment or reply gives, at most one per person, never to its
/// writer.
pub fn for_comment(event: &CommentCreated) -> Vec<NewNotification> {
    let writer = event.author_id;
    let parent_author =
        event.parent_author_id.and_then(someone).filter(|_| event.parent_comment_id.is_some());
    let mut recipients = Vec::with_capacity(2);
    if let Some(parent_author) = parent_author.filter(|a| *a != writer) {
        recipients.push((parent_author, Kind::Reply));
    }
    if let Some(post_author) = someone(event.post_author_id)
        && post_author != writer
        && Some(post_author) != parent_author
    {
        recipients.push((post_author, Kind::Comment));
    }
    recipients
        .into_iter()
        .map(|(user_id, kind)| NewNotification {
            user_id,
            kind,
            post_id: event.post_id,
            comment_id: event.comment_id,
            board_id: event.board_id,
            board_name: clip(&event.board_name, BOARD_NAME_CHARS),
            preview: clip(&event.preview, PREVIEW_CHARS),
        })
        .collect()
}

/// The notification a promotion gives its post's author (none for an unknown promotion).
pub fn for_promotion(event: &PostPromoted) -> Option<NewNotification> {
    let kind = match Promotion::try_from(event.promotion) {
        Ok(Promotion::Hot) => Kind::Hot,
        Ok(Promotion::Best) => Kind::Best,
        Ok(Promotion::Unspecified) | Err(_) => return None,
    };
    Some(NewNotification {
        user_id: someone(event.author_id)?,
        kind,
        post_id: event.post_id,
        comment_id: 0,
        board_id: event.board_id,
        board_name: clip(&event.board_name, BOARD_NAME_CHARS),
        preview: clip(&event.preview, PREVIEW_CHARS),
    })
}

/// Which notifications MarkNotificationsRead marks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkRead {
    All,
    /// Distinct, positive ids (at most [`MAX_MARK_IDS`]).
    Ids(Vec<i64>),
}

impl MarkRead {
    /// `all`, or a non-empty list of at most [`MAX_MARK_IDS`] positive ids (ignored when
    /// `all` is set, as the proto says).
    pub fn parse(ids: Vec<i64>, all: bool) -> Result<Self, Error> {
        if all {
            return Ok(Self::All);
        }
        let mut violations = Violations::new();
        if ids.is_empty() {
            violations.add("ids", "name at least one notification, or set all");
        } else if ids.len() > MAX_MARK_IDS {
            violations.add("ids", format!("at most {MAX_MARK_IDS} ids, got {}", ids.len()));
        } else {
            for (i, id) in ids.iter().enumerate() {
                if *id <= 0 {
                    violations.add(format!("ids[{i}]"), "must be a positive id");
                }
            }
        }
        violations.finish()?;
        let mut ids = ids;
        ids.sort_unstable();
        ids.dedup();
        Ok(Self::Ids(ids))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    const WRITER: i64 = 1;
    const POST_AUTHOR: i64 = 2;
    const PARENT_AUTHOR: i64 = 3;

    fn comment(writer: i64, post_author: i64, parent_author: Option<i64>) -> CommentCreated {
        CommentCreated {
            comment_id: 50,
            post_id: 10,
            board_id: 7,
            board_name: "자유게시판".into(),
            school_id: 1,
            author_id: writer,
            post_author_id: post_author,
            parent_comment_id: parent_author.map(|_| 40),
            parent_author_id: parent_author,
            preview: "좋은 글이네요".into(),
            created_at: None,
        }
    }

    fn who(list: &[NewNotification]) -> Vec<(i64, Kind)> {
        list.iter().map(|n| (n.user_id, n.kind)).collect()
    }

    #[test]
    fn a_comment_notifies_the_post_author_unless_they_wrote_it() {
        let list = for_comment(&comment(WRITER, POST_AUTHOR, None));
        assert_eq!(who(&list), [(POST_AUTHOR, Kind::Comment)]);
        assert_eq!((list[0].comment_id, list[0].post_id, list[0].board_id), (50, 10, 7));
        assert_eq!(list[0].preview, "좋은 글이네요");
        assert!(for_comment(&comment(POST_AUTHOR, POST_AUTHOR, None)).is_empty());
    }

    #[test]
    fn a_reply_notifies_the_parent_author_and_a_third_post_author() {
        let list = for_comment(&comment(WRITER, POST_AUTHOR, Some(PARENT_AUTHOR)));
        assert_eq!(who(&list), [(PARENT_AUTHOR, Kind::Reply), (POST_AUTHOR, Kind::Comment)]);
        assert!(list.iter().all(|n| n.comment_id == 50), "both point at the reply");
    }

    #[test]
    fn the_author_of_post_and_parent_gets_one_reply() {
        let list = for_comment(&comment(WRITER, POST_AUTHOR, Some(POST_AUTHOR)));
        assert_eq!(who(&list), [(POST_AUTHOR, Kind::Reply)]);
    }

    #[test]
    fn replying_to_oneself_notifies_only_the_post_author() {
        let list = for_comment(&comment(WRITER, POST_AUTHOR, Some(WRITER)));
        assert_eq!(who(&list), [(POST_AUTHOR, Kind::Comment)]);
        // The post's author replying on their own post notifies the parent's author only.
        let list = for_comment(&comment(POST_AUTHOR, POST_AUTHOR, Some(PARENT_AUTHOR)));
        assert_eq!(who(&list), [(PARENT_AUTHOR, Kind::Reply)]);
    }

    #[test]
    fn unknown_people_are_nobody() {
        // A deleted account's id comes as 0.
        assert!(for_comment(&comment(WRITER, 0, Some(0))).is_empty());
    }

    #[test]
    fn previews_are_clipped_to_sixty_characters() {
        let mut event = comment(WRITER, POST_AUTHOR, None);
        event.preview = "가".repeat(80);
        assert_eq!(for_comment(&event)[0].preview.chars().count(), PREVIEW_CHARS);
    }

    #[test]
    fn promotions_notify_the_author() {
        let promoted = |promotion: Promotion, author_id: i64| PostPromoted {
            post_id: 10,
            board_id: 7,
            board_name: "자유게시판".into(),
            school_id: 1,
            author_id,
            promotion: promotion as i32,
            preview: "제목".into(),
            promoted_at: None,
        };
        let hot = for_promotion(&promoted(Promotion::Hot, POST_AUTHOR)).unwrap();
        assert_eq!(
            (hot.user_id, hot.kind, hot.comment_id, hot.preview.as_str()),
            (POST_AUTHOR, Kind::Hot, 0, "제목")
        );
        assert_eq!(for_promotion(&promoted(Promotion::Best, POST_AUTHOR)).unwrap().kind, Kind::Best);
        assert!(for_promotion(&promoted(Promotion::Unspecified, POST_AUTHOR)).is_none());
        assert!(for_promotion(&promoted(Promotion::Hot, 0)).is_none());
    }

    #[test]
    fn mark_read_takes_all_or_a_bounded_list_of_positive_ids() {
        assert_eq!(MarkRead::parse(vec![], true).unwrap(), MarkRead::All);
        assert_eq!(MarkRead::parse(vec![-1], true).unwrap(), MarkRead::All, "ids are ignored with all");
        assert_eq!(MarkRead::parse(vec![3, 1, 3], false).unwrap(), MarkRead::Ids(vec![1, 3]));
        assert!(MarkRead::parse(vec![], false).is_err());
        assert!(MarkRead::parse(vec![1, 0], false).is_err());
        assert!(MarkRead::parse((1..=101).collect(), false).is_err());
        assert!(MarkRead::parse((1..=100).collect(), false).is_ok());
    }

    proptest! {
        #[test]
        fn nobody_hears_of_their_own_action_nor_twice_of_one(
            writer in 0i64..4, post_author in 0i64..4, parent in proptest::option::of(0i64..4)
        ) {
            let list = for_comment(&comment(writer, post_author, parent));
            let people: HashSet<i64> = list.iter().map(|n| n.user_id).collect();
            prop_assert_eq!(people.len(), list.len(), "one notification per person");
            prop_assert!(list.iter().all(|n| n.user_id != writer && n.user_id > 0));
            // Everyone concerned (other than the writer) hears of it.
            for concerned in [Some(post_author), parent].into_iter().flatten() {
                prop_assert_eq!(people.contains(&concerned), concerned != writer && concerned > 0);
            }
        }
    }
}
