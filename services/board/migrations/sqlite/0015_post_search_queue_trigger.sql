-- A new post joins the search indexer's queue in its own INSERT statement, so CreatePost is
-- one statement, atomic on its own, with no BEGIN and COMMIT around it (PostgreSQL does the
-- same with a data-modifying WITH). Edits and deletions enqueue in their transactions.
CREATE TRIGGER post_search_queue_new AFTER INSERT ON post
BEGIN
    INSERT INTO post_search_pending (post_id) VALUES (NEW.id) ON CONFLICT (post_id) DO NOTHING;
END;
