-- Notifications (DESIGN §9), learnt from board's event feed. One row per notification and
-- person; no column names or identifies the actor (the writer of a comment is only used, in
-- the consumer, to leave them out). comment_id is 0 for HOT and BEST. Times are microseconds.

CREATE TABLE notification (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    -- NotificationKind's number: 1 COMMENT, 2 REPLY, 3 HOT, 4 BEST.
    kind BIGINT NOT NULL,
    post_id BIGINT NOT NULL,
    comment_id BIGINT NOT NULL,
    board_id BIGINT NOT NULL,
    board_name TEXT NOT NULL,
    preview TEXT NOT NULL,
    is_read BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- One notification per person, kind, post and comment: a second delivery of one fact (even
-- under another event id) adds nothing.
CREATE UNIQUE INDEX notification_once ON notification (user_id, kind, post_id, comment_id);
-- The list, newest first (keyset on id).
CREATE INDEX notification_inbox ON notification (user_id, id);
-- The unread count reads only unread rows.
CREATE INDEX notification_unread ON notification (user_id) WHERE is_read = 0;
-- Removals: a post's notifications, a comment's.
CREATE INDEX notification_by_post ON notification (post_id);
CREATE INDEX notification_by_comment ON notification (comment_id) WHERE comment_id <> 0;
