-- Consuming the account event feed (DESIGN §8): the cursor, the events applied (keyed by
-- id, written in the same transaction as their effect), the lease that lets one replica at a
-- time do the work, and the accounts deleted (every replica reads it to refuse their tokens).

CREATE TABLE event_cursor (
    feed TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);

CREATE TABLE event_applied (
    feed TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    position BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    applied_at BIGINT NOT NULL,
    PRIMARY KEY (feed, event_id)
);

CREATE TABLE event_lease (
    feed TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE deleted_account (
    user_id BIGINT PRIMARY KEY,
    deleted_at BIGINT NOT NULL
);
CREATE INDEX deleted_account_recent ON deleted_account (deleted_at);
