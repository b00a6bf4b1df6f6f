-- The board event feed (DESIGN §8): a transactional outbox, written in the same
-- transaction as the change each event describes, and served by WatchEvents.

-- The last position handed out. Appending takes this row's lock until commit, so positions
-- commit in order and without gaps.
CREATE TABLE event_feed_head (
    id BIGINT PRIMARY KEY,
    position BIGINT NOT NULL
);
INSERT INTO event_feed_head (id, position) VALUES (1, 0);

CREATE TABLE event_outbox (
    position BIGINT PRIMARY KEY,
    id BIGINT NOT NULL,
    -- The payload's full protobuf message name, e.g. campus.board.v1.CommentCreated.
    event_type TEXT NOT NULL,
    payload BYTEA NOT NULL,
    occurred_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX event_outbox_id_key ON event_outbox (id);

-- Every consumer that has watched the feed, and the position it last acknowledged (the
-- `after` of its latest WatchEvents): events are purged only behind the slowest.
CREATE TABLE event_consumer (
    name TEXT PRIMARY KEY,
    acked_position BIGINT NOT NULL,
    seen_at BIGINT NOT NULL
);
