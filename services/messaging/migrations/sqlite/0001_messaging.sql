-- Conversations (message rooms) between two users of one school, and their messages.
-- Every integer is BIGINT (sqlx's Any driver decodes i64); times are microseconds since the epoch.

CREATE TABLE conversation (
    id BIGINT PRIMARY KEY,
    school_id BIGINT NOT NULL,
    -- The pair, ordered, so a named conversation between a and b has one key either way.
    user_low BIGINT NOT NULL,
    user_high BIGINT NOT NULL,
    starter_id BIGINT NOT NULL,
    recipient_id BIGINT NOT NULL,
    -- 0 user, 1 post, 2 comment; origin_id is 0 for a user origin.
    origin_kind BIGINT NOT NULL,
    origin_id BIGINT NOT NULL,
    -- The post a comment belongs to (the post itself for a post origin, 0 for a user origin).
    origin_post_id BIGINT NOT NULL,
    -- The starter's id when the starter chose anonymity, else 0: part of the reuse key.
    anon_key BIGINT NOT NULL,
    starter_anonymous BIGINT NOT NULL,
    -- Whether the origin post or comment was anonymous: the starter sees its author as 익명.
    recipient_anonymous BIGINT NOT NULL,
    starter_nickname TEXT NOT NULL,
    recipient_nickname TEXT NOT NULL,
    -- Who blocked the conversation (0 when nobody did).
    blocked_by BIGINT NOT NULL DEFAULT 0,
    last_message_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX conversation_key
    ON conversation (user_low, user_high, origin_kind, origin_id, anon_key);

-- One row per participant: the caller's view of a conversation (inbox order, unread count,
-- what they cleared by leaving).
CREATE TABLE participant (
    conversation_id BIGINT NOT NULL REFERENCES conversation (id),
    user_id BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    unread_count BIGINT NOT NULL DEFAULT 0,
    -- Messages with an id at or below this were cleared by leaving the conversation.
    cleared_through BIGINT NOT NULL DEFAULT 0,
    hidden BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
);

CREATE INDEX participant_inbox ON participant (user_id, updated_at, conversation_id);

CREATE TABLE message (
    id BIGINT PRIMARY KEY,
    conversation_id BIGINT NOT NULL REFERENCES conversation (id),
    sender_id BIGINT NOT NULL,
    content TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX message_by_conversation ON message (conversation_id, id);
