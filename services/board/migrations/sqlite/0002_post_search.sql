-- The search index: one document per live post (rowid = post id) holding its terms
-- (`domain::search::post_terms`, each as the hex of its UTF-8 so the tokenizer keeps it
-- whole) and `school<id>` / `board<id>` so a search reads only its own school's or board's
-- candidates. The service writes it in the post's own transaction. Contentless with
-- `detail=none`: no copy of the text and no positions, only the doclists.
CREATE VIRTUAL TABLE post_search USING fts5(
    terms, content = '', contentless_delete = 1, detail = none, tokenize = 'ascii'
);

-- Posts that existed before the index are indexed by the service in small batches, newest
-- first, below `below` (0 when done), so writers only ever wait for one batch.
CREATE TABLE post_search_backfill (below BIGINT NOT NULL);
INSERT INTO post_search_backfill (below) SELECT COALESCE(max(id), 0) + 1 FROM post;
