-- The index holds each term as an integer, not as text (`domain::search::term_code`): a
-- character, bigram or trigram as its code points, 21 bits apiece from bit 42 down; a digit
-- four-gram as its ASCII codes, 7 bits apiece from bit 21 down. GIN compared text terms under
-- the database's collation (a C.UTF-8 one goes through strcoll); integers compare in one
-- instruction. Measured on 250,000 posts' terms: 10,000 more indexed in 2.4 s as text, 1.2 s
-- as integers (1.7 s as text under COLLATE "C"), and the index built in 34.5 s, not 10.9 s.
--
-- The terms gain the four-grams of digits: a trigram of digits is held by one post in a
-- thousand, a four-gram by one in ten thousand, so a number is found from shorter lists.

-- The terms of a post as the indexer computes them (`domain::search::post_terms`), coded
-- from the characters' code points directly (`ascii()` gives a character's code point; a
-- function call per term, as a STRICT SQL function with a CASE is not inlined, made
-- computing a million posts' terms take over 15 minutes).
DROP FUNCTION board_search_terms(TEXT, TEXT);
CREATE FUNCTION board_search_terms(title TEXT, content TEXT) RETURNS BIGINT[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array(
        SELECT CASE k.n
            WHEN 1 THEN CAST(ascii(t.c[i]) AS BIGINT) << 42
            WHEN 2 THEN (CAST(ascii(t.c[i]) AS BIGINT) << 42) | (CAST(ascii(t.c[i + 1]) AS BIGINT) << 21)
            WHEN 3 THEN (CAST(ascii(t.c[i]) AS BIGINT) << 42) | (CAST(ascii(t.c[i + 1]) AS BIGINT) << 21)
                | ascii(t.c[i + 2])
            ELSE (CAST(ascii(t.c[i]) AS BIGINT) << 21) | (ascii(t.c[i + 1]) << 14) | (ascii(t.c[i + 2]) << 7)
                | ascii(t.c[i + 3])
        END
        FROM (VALUES (string_to_array(translate(title, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), NULL)),
                     (string_to_array(translate(content, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), NULL))) AS t(c),
             generate_series(1, cardinality(t.c)) AS i,
             (VALUES (1), (2), (3), (4)) AS k(n)
        WHERE (k.n = 1 AND octet_length(t.c[i]) > 1)
           OR (k.n = 2 AND i < cardinality(t.c) AND t.c[i] NOT IN (' ', E'\t', E'\n', E'\r')
               AND t.c[i + 1] NOT IN (' ', E'\t', E'\n', E'\r'))
           OR (k.n >= 3 AND i + k.n - 1 <= cardinality(t.c) AND ascii(t.c[i]) BETWEEN 48 AND 57
               AND ascii(t.c[i + 1]) BETWEEN 48 AND 57 AND ascii(t.c[i + 2]) BETWEEN 48 AND 57
               AND (k.n = 3 OR ascii(t.c[i + 3]) BETWEEN 48 AND 57))
    )
$$;

-- Every entry written anew, under this migration's lock on the index alone: post writes go
-- on (they only queue), the indexer and searches wait for it. A post written meanwhile is in
-- the queue, which searches read as well and the indexer rewrites.
DROP INDEX post_terms_search;
ALTER TABLE post_terms ALTER COLUMN terms TYPE BIGINT[] USING '{}';
UPDATE post_terms t SET terms = board_search_terms(p.title, p.content) FROM post p WHERE p.id = t.post_id;
CREATE INDEX post_terms_search ON post_terms USING gin (terms) WITH (fastupdate = on);
ALTER TABLE post_terms ALTER COLUMN terms SET STATISTICS 1000;
ANALYZE post_terms;
