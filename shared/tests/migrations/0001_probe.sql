CREATE TABLE probe (
    id BIGINT PRIMARY KEY,
    label TEXT NOT NULL,
    flag BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
