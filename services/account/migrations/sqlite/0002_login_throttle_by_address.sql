-- Sign-in throttling per login id and client address, plus a budget per login id for
-- addresses the account has not signed in from. Attempts are reserved here before the
-- password is checked, so the rows count checks, not outcomes.
DROP TABLE login_throttle;

-- One row per normalised login id (known or not, so the throttle reveals nothing) and
-- client address (an IPv4 address or an IPv6 /64, 'unknown' when none was given).
CREATE TABLE login_throttle (
    login_id TEXT NOT NULL,
    client TEXT NOT NULL,
    -- attempts since the last success (each reserved before its check)
    failures BIGINT NOT NULL,
    -- attempts are refused before this time
    blocked_until BIGINT NOT NULL,
    -- the last successful sign-in from this address (0: never)
    succeeded_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (login_id, client)
);
CREATE INDEX login_throttle_updated_idx ON login_throttle (updated_at);

-- Attempts from unfamiliar addresses in the current window, per login id.
CREATE TABLE login_budget (
    login_id TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    attempts BIGINT NOT NULL
);
