-- FTS5 rewrites a segment without its tombstones (the marks an edited or deleted post's old
-- entry leaves) once 2% of its entries are tombstones, instead of its default 10%: every
-- search reads the tombstones of the segments holding its terms. The service's indexer
-- drives these merges in small steps while it has nothing to index (`merge_step`).
INSERT INTO post_search (post_search, rank) VALUES ('deletemerge', 2);
