-- no-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS post_search ON post USING gin (board_search_terms(title, content)) WHERE deleted_at IS NULL
