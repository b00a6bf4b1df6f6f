//! Messaging rules without I/O: message content, conversation targets, the reuse key of a
//! conversation and who sees whom as 익명; who is notified of what in [`notifications`].

pub mod notifications;

use campus_proto::messaging::v1::create_conversation_request::Target as ProtoTarget;
use campus_shared::Error;
use campus_shared::error::Violations;

/// What anonymous people are called.
pub const ANONYMOUS_NAME: &str = "익명";
/// The longest message, in characters.
pub const MAX_CONTENT_CHARS: usize = 1000;
/// Reason of FAILED_PRECONDITION when someone tries to message themselves.
pub const CANNOT_MESSAGE_SELF: &str = "CANNOT_MESSAGE_SELF";
/// Reason of FAILED_PRECONDITION when a conversation was blocked by either participant.
pub const CONVERSATION_BLOCKED: &str = "CONVERSATION_BLOCKED";
/// Reason of RESOURCE_EXHAUSTED when a user already holds as many streams open as allowed.
pub const TOO_MANY_STREAMS: &str = "TOO_MANY_STREAMS";
/// How a deleted account is shown to the people it wrote to (DESIGN §7).
pub const UNKNOWN_USER: &str = "(알 수 없음)";

/// The text of a message: 1 to 1,000 characters, not only whitespace, no NUL (which
/// PostgreSQL cannot store in TEXT) nor other control characters but line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content(String);

impl Content {
    /// Checks a message text, recording what is wrong under `field`.
    pub fn parse(raw: String, field: &str, violations: &mut Violations) -> Option<Self> {
        let chars = raw.chars().count();
        if raw.trim().is_empty() {
            violations.add(field, "must not be empty");
        } else if chars > MAX_CONTENT_CHARS {
            violations.add(field, format!("must be at most {MAX_CONTENT_CHARS} characters, got {chars}"));
        } else if campus_shared::text::check(violations, field, &raw, campus_shared::text::Text::Multiline) {
            return Some(Self(raw));
        }
        None
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a conversation comes from. Stored as `origin_kind` (0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginKind {
    User = 0,
    Post = 1,
    Comment = 2,
}

impl OriginKind {
    pub fn from_i64(value: i64) -> Self {
        match value {
            1 => Self::Post,
            2 => Self::Comment,
            _ => Self::User,
        }
    }

    /// The resource named in NOT_FOUND answers.
    pub fn resource(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Post => "post",
            Self::Comment => "comment",
        }
    }
}

/// The target of CreateConversation: whom to message, and what about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Post(i64),
    Comment(i64),
    User(i64),
}

impl Target {
    /// The oneof must be set to a positive id.
    pub fn parse(target: Option<ProtoTarget>, violations: &mut Violations) -> Option<Self> {
        let (field, target) = match target {
            None => {
                violations.add("target", "one of postId, commentId or userId is required");
                return None;
            }
            Some(ProtoTarget::PostId(id)) => ("postId", Self::Post(id)),
            Some(ProtoTarget::CommentId(id)) => ("commentId", Self::Comment(id)),
            Some(ProtoTarget::UserId(id)) => ("userId", Self::User(id)),
        };
        if target.id() <= 0 {
            violations.add(field, "must be a positive id");
            return None;
        }
        Some(target)
    }

    pub fn id(self) -> i64 {
        match self {
            Self::Post(id) | Self::Comment(id) | Self::User(id) => id,
        }
    }

    pub fn kind(self) -> OriginKind {
        match self {
            Self::Post(_) => OriginKind::Post,
            Self::Comment(_) => OriginKind::Comment,
            Self::User(_) => OriginKind::User,
        }
    }
}

/// The other side of a new conversation, as resolved through board and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub user_id: i64,
    pub school_id: i64,
    pub nickname: String,
    /// The origin post or comment was anonymous, so the starter must see 익명.
    pub anonymous: bool,
    /// The post of the origin (the post itself, or the comment's post); 0 for a user origin.
    pub post_id: i64,
}

/// Refuses recipients the caller may not message: another school is NOT_FOUND (it must look
/// like nothing is there), oneself is FAILED_PRECONDITION.
pub fn check_recipient(
    caller_id: i64,
    caller_school: i64,
    kind: OriginKind,
    recipient: &Recipient,
) -> Result<(), Error> {
    if recipient.school_id != caller_school {
        return Err(Error::NotFound(kind.resource()));
    }
    if recipient.user_id == caller_id {
        return Err(Error::failed_precondition(CANNOT_MESSAGE_SELF, "you cannot message yourself"));
    }
    Ok(())
}

/// The key that makes CreateConversation reuse a conversation: the unordered pair, the origin
/// and, for an anonymous start, the starter.
///
/// Anonymity is part of the key, tied to whoever asked for it. A named conversation is one per
/// pair and origin whichever side starts it. An anonymous one is its starter's own: if the
/// other person could land in it by messaging back (say, by user id), they would learn who
/// the anonymous starter is; and a named request never lands in an anonymous room nor an
/// anonymous request in a named one, so the anonymity a user asks for is the one they get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationKey {
    pub user_low: i64,
    pub user_high: i64,
    pub origin_kind: OriginKind,
    pub origin_id: i64,
    /// The starter's id when anonymous, 0 otherwise.
    pub anon_key: i64,
}

impl ConversationKey {
    pub fn new(starter: i64, recipient: i64, target: Target, anonymous: bool) -> Self {
        let origin_id = match target {
            Target::User(_) => 0,
            Target::Post(id) | Target::Comment(id) => id,
        };
        Self {
            user_low: starter.min(recipient),
            user_high: starter.max(recipient),
            origin_kind: target.kind(),
            origin_id,
            anon_key: if anonymous { starter } else { 0 },
        }
    }
}

/// What a conversation stores about how its two sides are shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sides {
    pub starter_id: i64,
    pub recipient_id: i64,
    pub starter_anonymous: bool,
    pub recipient_anonymous: bool,
    pub starter_nickname: String,
    pub recipient_nickname: String,
}

/// How the viewer sees the other participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterpartView {
    pub display_name: String,
    pub is_anonymous: bool,
}

impl Sides {
    /// The other participant as `viewer` sees them: the recipient sees an anonymous starter
    /// as 익명, the starter sees the author of an anonymous post or comment as 익명, and
    /// everyone else by nickname.
    pub fn counterpart_for(&self, viewer: i64) -> CounterpartView {
        let (anonymous, nickname) = if viewer == self.starter_id {
            (self.recipient_anonymous, &self.recipient_nickname)
        } else {
            (self.starter_anonymous, &self.starter_nickname)
        };
        if anonymous {
            CounterpartView { display_name: ANONYMOUS_NAME.to_string(), is_anonymous: true }
        } else {
            CounterpartView { display_name: nickname.clone(), is_anonymous: false }
        }
    }

    /// The other participant's id.
    pub fn other(&self, viewer: i64) -> i64 {
        if viewer == self.starter_id { self.recipient_id } else { self.starter_id }
    }
}

/// Why a message could not be added to a conversation: someone who does not take part in it
/// gets NOT_FOUND (it must look like nothing is there), a participant CONVERSATION_BLOCKED.
pub fn message_refused(sender_takes_part: bool) -> Error {
    if sender_takes_part {
        Error::failed_precondition(CONVERSATION_BLOCKED, "this conversation is blocked")
    } else {
        Error::NotFound("conversation")
    }
}

/// Admits one more StreamMessages or StreamNotifications call of a user who holds `open` of
/// at most `max` (RESOURCE_EXHAUSTED TOO_MANY_STREAMS past it); the client closes one first.
pub fn admit_stream(open: usize, max: usize) -> Result<(), Error> {
    if open >= max {
        return Err(Error::resource_exhausted(
            TOO_MANY_STREAMS,
            format!("at most {max} streams may be open at once; close one first"),
        ));
    }
    Ok(())
}

/// The participant a message from `sender` goes to.
pub fn recipient_of(participants: &[i64], sender: i64) -> Result<i64, Error> {
    participants
        .iter()
        .copied()
        .find(|user| *user != sender)
        .ok_or_else(|| Error::internal("a conversation without a second participant"))
}

/// The nickname snapshot a message refreshes for `user_id`, if any: an empty nickname (a
/// token without the claim) keeps the stored one.
pub fn fresh_nickname(user_id: i64, nickname: &str) -> Option<(i64, &str)> {
    (!nickname.is_empty()).then_some((user_id, nickname))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn content(raw: &str) -> Result<Content, Error> {
        let mut v = Violations::new();
        let parsed = Content::parse(raw.to_string(), "content", &mut v);
        v.finish().map(|()| parsed.expect("parsed when no violations"))
    }

    #[test]
    fn content_length_is_counted_in_characters() {
        assert!(content("안").is_ok());
        assert!(content(&"가".repeat(1000)).is_ok());
        assert!(content(&"가".repeat(1001)).is_err());
        assert!(content("").is_err());
        assert!(content(" \n\t").is_err());
        assert!(content("a\0b").is_err());
    }

    #[test]
    fn targets_need_a_positive_id() {
        let mut v = Violations::new();
        assert_eq!(Target::parse(Some(ProtoTarget::PostId(5)), &mut v), Some(Target::Post(5)));
        assert!(v.is_empty());
        assert_eq!(Target::parse(Some(ProtoTarget::UserId(0)), &mut v), None);
        assert_eq!(Target::parse(None, &mut v), None);
        let fields: Vec<_> = v.iter().map(|f| f.field.clone()).collect();
        assert_eq!(fields, ["userId", "target"]);
    }

    #[test]
    fn other_schools_are_not_found_and_self_is_refused() {
        let r = Recipient { user_id: 2, school_id: 1, nickname: "b".into(), anonymous: false, post_id: 9 };
        assert!(check_recipient(1, 1, OriginKind::Post, &r).is_ok());
        assert!(matches!(check_recipient(1, 2, OriginKind::Post, &r), Err(Error::NotFound("post"))));
        let err = check_recipient(2, 1, OriginKind::User, &r).unwrap_err();
        assert!(matches!(err, Error::FailedPrecondition { reason: CANNOT_MESSAGE_SELF, .. }));
    }

    #[test]
    fn a_refused_message_hides_the_conversation_from_outsiders() {
        assert!(matches!(message_refused(false), Error::NotFound("conversation")));
        let err = message_refused(true);
        assert!(matches!(err, Error::FailedPrecondition { reason: CONVERSATION_BLOCKED, .. }));
        assert_eq!(recipient_of(&[1, 2], 1).unwrap(), 2);
        assert!(recipient_of(&[1], 1).is_err());
        assert_eq!(fresh_nickname(1, ""), None);
        assert_eq!(fresh_nickname(1, "alice"), Some((1, "alice")));
    }

    fn sides(starter_anonymous: bool, recipient_anonymous: bool) -> Sides {
        Sides {
            starter_id: 1,
            recipient_id: 2,
            starter_anonymous,
            recipient_anonymous,
            starter_nickname: "alice".into(),
            recipient_nickname: "bob".into(),
        }
    }

    #[test]
    fn anonymity_hides_each_side_independently() {
        let named = sides(false, false);
        assert_eq!(named.counterpart_for(1).display_name, "bob");
        assert_eq!(named.counterpart_for(2).display_name, "alice");

        let anonymous_starter = sides(true, false);
        assert_eq!(anonymous_starter.counterpart_for(2).display_name, ANONYMOUS_NAME);
        assert!(anonymous_starter.counterpart_for(2).is_anonymous);
        assert_eq!(anonymous_starter.counterpart_for(1).display_name, "bob");

        let anonymous_post = sides(false, true);
        assert_eq!(anonymous_post.counterpart_for(1).display_name, ANONYMOUS_NAME);
        assert_eq!(anonymous_post.counterpart_for(2).display_name, "alice");
    }

    proptest! {
        #[test]
        fn named_keys_ignore_direction(a in 1i64..1_000_000, b in 1i64..1_000_000, origin in 1i64..1000) {
            for target in [Target::Post(origin), Target::Comment(origin), Target::User(b)] {
                prop_assert_eq!(ConversationKey::new(a, b, target, false), ConversationKey::new(b, a, target, false));
            }
        }

        #[test]
        fn anonymous_keys_belong_to_their_starter(a in 1i64..1_000_000, b in 1i64..1_000_000, origin in 1i64..1000) {
            prop_assume!(a != b);
            let target = Target::Post(origin);
            let by_a = ConversationKey::new(a, b, target, true);
            prop_assert_ne!(by_a, ConversationKey::new(b, a, target, true));
            prop_assert_ne!(by_a, ConversationKey::new(a, b, target, false));
            prop_assert_eq!(by_a, ConversationKey::new(a, b, target, true));
        }

        #[test]
        fn nobody_sees_an_anonymous_name(starter_anonymous: bool, recipient_anonymous: bool) {
            let s = sides(starter_anonymous, recipient_anonymous);
            prop_assert_eq!(s.counterpart_for(2).display_name == "alice", !starter_anonymous);
            prop_assert_eq!(s.counterpart_for(1).display_name == "bob", !recipient_anonymous);
        }
    }
}
