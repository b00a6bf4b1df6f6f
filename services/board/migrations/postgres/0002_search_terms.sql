-- The index terms of a post for search (the same set as `domain::search::post_terms`): every
-- character bigram of the ASCII-lower-cased title and of the content, and every non-ASCII
-- character alone, so one- and two-syllable Korean queries have terms (pg_trgm's trigrams
-- would not). Computed here, not stored: the GIN index on it is all the space it takes, and
-- PostgreSQL keeps it current in the very statement that writes the post.
CREATE FUNCTION board_search_terms(title TEXT, content TEXT) RETURNS TEXT[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT COALESCE(array_agg(DISTINCT g), '{}') FROM (
        SELECT substr(t.s, i, 2 - CAST(u AS INTEGER)) AS g
        FROM (VALUES (translate(title, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')),
                     (translate(content, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'))) AS t(s),
             generate_series(1, length(t.s)) AS i,
             (VALUES (false), (true)) AS k(u)
        WHERE (NOT u AND i < length(t.s)) OR (u AND octet_length(substr(t.s, i, 1)) > 1)
    ) AS grams
$$;
