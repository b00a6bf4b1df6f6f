-- The index terms of a post for search (the same set as `domain::search::post_terms`): every
-- character bigram of the ASCII-lower-cased title and of the content, and every non-ASCII
-- character alone, so one- and two-syllable Korean queries have terms (pg_trgm's trigrams
-- would not). Computed here, not stored: the GIN index on it is all the space it takes, and
-- PostgreSQL keeps it current in the very statement that writes the post. The text is split
-- into an array of characters first: substr() on UTF-8 walks from the start each time, which
-- would make a 10,000-character post quadratic. Duplicates are left to GIN, which drops them.
CREATE FUNCTION board_search_terms(title TEXT, content TEXT) RETURNS TEXT[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT array(
        SELECT CASE WHEN k.single THEN t.c[i] ELSE t.c[i] || t.c[i + 1] END
        FROM (VALUES (string_to_array(translate(title, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), NULL)),
                     (string_to_array(translate(content, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), NULL))) AS t(c),
             generate_series(1, cardinality(t.c)) AS i,
             (VALUES (false), (true)) AS k(single)
        WHERE (NOT k.single AND i < cardinality(t.c)) OR (k.single AND octet_length(t.c[i]) > 1)
    )
$$;
