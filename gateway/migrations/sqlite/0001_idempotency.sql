-- Idempotency records of the HTTP/JSON API (gateway/src/idempotency.rs): one row per caller
-- scope and Idempotency-Key. A request claims its row by inserting it (status NULL), then
-- stores the response it got. Times are microseconds since the Unix epoch (UTC).

CREATE TABLE idempotency_record (
    -- "user:<id>" from the access token, or "ip:<address>" on public routes.
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 (hex) of the method, path, query, content type and body of the first request.
    fingerprint TEXT NOT NULL,
    -- A random id of the claim, so only its holder stores or releases it.
    owner TEXT NOT NULL,
    -- An unfinished claim older than this was abandoned (its gateway died) and may be taken over.
    lease_until BIGINT NOT NULL,
    -- The stored response: NULL status while the first request is still running.
    status BIGINT,
    headers TEXT,
    body BLOB,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (scope, idempotency_key)
);
CREATE INDEX idempotency_record_expires_at_idx ON idempotency_record (expires_at);
