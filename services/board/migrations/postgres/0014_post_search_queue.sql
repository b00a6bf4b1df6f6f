-- The search index leaves the post row: its terms live in `post_terms`, written by the
-- service's indexer in batches, and a post waits in `post_search_pending` from the
-- transaction that creates, edits or deletes it until the indexer has (re)indexed it.
-- Searches read both, so a post is found from its own commit on.
--
-- Why: as an index of `post`, every CreatePost wrote ~130 GIN entries one by one in its own
-- statement (PostgreSQL CPU per CreatePost 10x base's), and every like or comment count that
-- could not stay a HOT update wrote them all again. A batch of posts goes through GIN's own
-- pending list and is merged sorted, key by key, before its transaction commits.
-- The terms (`domain::search::post_terms`, which the indexer computes; this function is what
-- this migration indexes the posts it finds with) gain the trigrams of ASCII digits and lose
-- the bigrams with a space or line break.
CREATE OR REPLACE FUNCTION board_search_terms(title TEXT, content TEXT) RETURNS TEXT[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array(
        SELECT CASE k.n WHEN 1 THEN t.c[i] WHEN 2 THEN t.c[i] || t.c[i + 1] ELSE t.c[i] || t.c[i + 1] || t.c[i + 2] END
        FROM (VALUES (string_to_array(translate(title, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), NULL)),
                     (string_to_array(translate(content, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), NULL))) AS t(c),
             generate_series(1, cardinality(t.c)) AS i,
             (VALUES (1), (2), (3)) AS k(n)
        WHERE (k.n = 1 AND octet_length(t.c[i]) > 1)
           OR (k.n = 2 AND i < cardinality(t.c) AND t.c[i] NOT IN (' ', E'\t', E'\n', E'\r')
               AND t.c[i + 1] NOT IN (' ', E'\t', E'\n', E'\r'))
           OR (k.n = 3 AND i + 2 <= cardinality(t.c) AND ascii(t.c[i]) BETWEEN 48 AND 57
               AND ascii(t.c[i + 1]) BETWEEN 48 AND 57 AND ascii(t.c[i + 2]) BETWEEN 48 AND 57)
    )
$$;

CREATE TABLE post_terms (
    post_id BIGINT PRIMARY KEY,
    terms TEXT[] NOT NULL
);

CREATE TABLE post_search_pending (
    post_id BIGINT PRIMARY KEY
);

-- Posts written before the indexer existed are indexed below `below`, newest first, in
-- batches (0 when done); this migration indexes them all itself, so it starts at 0.
CREATE TABLE post_search_backfill (below BIGINT NOT NULL);
INSERT INTO post_search_backfill (below) VALUES (0);

INSERT INTO post_terms (post_id, terms)
SELECT id, board_search_terms(title, content) FROM post WHERE deleted_at IS NULL;
-- Posts committed while the statement above ran (by a replica of the version before).
INSERT INTO post_search_pending (post_id)
SELECT id FROM post p WHERE deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM post_terms t WHERE t.post_id = p.id);

CREATE INDEX post_terms_search ON post_terms USING gin (terms) WITH (fastupdate = on);
-- As for the index before: statistics fine enough that an absent word is guessed rare.
ALTER TABLE post_terms ALTER COLUMN terms SET STATISTICS 1000;
ANALYZE post_terms;

DROP INDEX post_search;
