-- Schools, users, refresh-token families, friends and the login throttle.
-- Integers are BIGINT; times are microseconds since the Unix epoch (UTC).

CREATE TABLE school (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    email_domain TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX school_email_domain_key ON school (email_domain);

-- "user" is reserved in PostgreSQL, hence user_account.
CREATE TABLE user_account (
    id BIGINT PRIMARY KEY,
    school_id BIGINT NOT NULL,
    login_id TEXT NOT NULL,
    email TEXT NOT NULL,
    nickname TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
-- Uniqueness holds among live users only, so a deleted account frees its names.
CREATE UNIQUE INDEX user_account_login_id_key ON user_account (login_id) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX user_account_email_key ON user_account (email) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX user_account_nickname_key ON user_account (nickname) WHERE deleted_at IS NULL;

-- One family per login; rotation never extends expires_at.
CREATE TABLE session_family (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES user_account (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX session_family_user_idx ON session_family (user_id);

-- Only the SHA-256 (hex) of a refresh token is stored.
CREATE TABLE refresh_token (
    token_hash TEXT PRIMARY KEY,
    family_id BIGINT NOT NULL REFERENCES session_family (id),
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX refresh_token_family_idx ON refresh_token (family_id);

-- state: 1 pending, 2 accepted, 3 declined (FriendRequestState numbers).
-- user_low/user_high are the pair in id order, so "a pending request either way" is one index.
CREATE TABLE friend_request (
    id BIGINT PRIMARY KEY,
    requester_id BIGINT NOT NULL REFERENCES user_account (id),
    recipient_id BIGINT NOT NULL REFERENCES user_account (id),
    user_low BIGINT NOT NULL,
    user_high BIGINT NOT NULL,
    state BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE UNIQUE INDEX friend_request_pending_key ON friend_request (user_low, user_high) WHERE state = 1;
CREATE INDEX friend_request_requester_idx ON friend_request (requester_id, id);
CREATE INDEX friend_request_recipient_idx ON friend_request (recipient_id, id);

-- A friendship is stored in both directions, so either side lists it with one index.
CREATE TABLE friendship (
    user_id BIGINT NOT NULL REFERENCES user_account (id),
    friend_id BIGINT NOT NULL REFERENCES user_account (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, friend_id)
);
CREATE INDEX friendship_list_idx ON friendship (user_id, created_at, friend_id);

-- Failed logins per normalised login id (known or not, so the throttle reveals nothing).
CREATE TABLE login_throttle (
    login_id TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    blocked_until BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
