-- A list shows two lines of a post, not the post: each post keeps the first 100 characters of
-- its content (line breaks kept) and its oldest photo's id, written in the post's own
-- statements, so a page of a list reads neither the whole content nor the photo table.
-- Posts written before this migration keep NULL previews, which reads compute from the
-- content: filling them here would rewrite every row of the table (and on PostgreSQL
-- recompute its search terms) while holding writers back.
ALTER TABLE post ADD COLUMN content_preview TEXT;
ALTER TABLE post ADD COLUMN first_photo_id BIGINT;
-- Few posts have photos: those are filled now.
UPDATE post SET first_photo_id = (SELECT min(ph.id) FROM photo ph WHERE ph.post_id = post.id)
WHERE photo_count > 0;
