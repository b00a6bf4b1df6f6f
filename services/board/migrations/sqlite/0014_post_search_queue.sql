-- A post waits here from the transaction that creates, edits or deletes it until the
-- service's indexer has (re)written its FTS5 document, in a batch with others; searches read
-- these posts with the exact `LIKE`, so a post is found from its own commit on.
CREATE TABLE post_search_pending (
    post_id INTEGER PRIMARY KEY
);

-- How many posts hold each term, read by searches to look up only their narrowest terms (as
-- PostgreSQL's statistics are).
CREATE VIRTUAL TABLE post_search_vocab USING fts5vocab(post_search, 'row');
