-- Email codes (one live code per address and purpose), what they may cost, and when a
-- nickname last changed. Times are microseconds since the Unix epoch (UTC).

-- purpose: 1 sign-up, 2 password reset (EmailCodePurpose numbers). code_mac is the hex
-- HMAC-SHA256 of (purpose, email, code) under a server key; the code itself is never stored.
-- A row exists for every code request, also for addresses without an account (for resets)
-- or with one (for sign-ups), so the 60-second rule and the quotas reveal nothing.
CREATE TABLE email_code (
    email TEXT NOT NULL,
    purpose BIGINT NOT NULL,
    code_mac TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    -- checks made (each reserved before the code is compared), wrong or right
    tries BIGINT NOT NULL,
    used_at BIGINT,
    PRIMARY KEY (email, purpose)
);
CREATE INDEX email_code_expires_idx ON email_code (expires_at);

-- Codes sent per address and client address (client '' counts the address overall), in a
-- window that starts with the first code after the previous window ended.
CREATE TABLE email_code_quota (
    email TEXT NOT NULL,
    client TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    sent BIGINT NOT NULL,
    PRIMARY KEY (email, client)
);
CREATE INDEX email_code_quota_window_idx ON email_code_quota (window_start);

-- NULL until the first change after sign-up (the nickname chosen at sign-up does not count).
ALTER TABLE user_account ADD COLUMN nickname_changed_at BIGINT;
