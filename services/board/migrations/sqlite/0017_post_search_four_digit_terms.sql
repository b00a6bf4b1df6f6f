-- The terms gain the four-grams of digits (`domain::search::post_terms`): a trigram of digits
-- is held by one post in a thousand, a four-gram by one in ten thousand, so a number is found
-- from shorter lists. The service's backfill rewrites every post's document, newest first,
-- in batches; until it has finished, searches leave the four-grams out of their terms.
UPDATE post_search_backfill SET below = (SELECT COALESCE(max(id), 0) + 1 FROM post);
