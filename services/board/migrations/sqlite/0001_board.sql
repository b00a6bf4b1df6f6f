-- Boards, posts, comments and everything hanging off them. Integers are BIGINT (ids, flags
-- 0/1, counters); times are microseconds since the Unix epoch.

CREATE TABLE board (
    id BIGINT PRIMARY KEY,
    school_id BIGINT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    category BIGINT NOT NULL,
    hot_disabled BIGINT NOT NULL,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX board_school_name ON board (school_id, name);
CREATE INDEX board_school_id ON board (school_id, id);

CREATE TABLE pinned_board (
    user_id BIGINT NOT NULL,
    board_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, board_id)
);

CREATE TABLE post (
    id BIGINT PRIMARY KEY,
    school_id BIGINT NOT NULL,
    board_id BIGINT NOT NULL,
    author_id BIGINT NOT NULL,
    -- The nickname when the post was written, so reads need no call to the account service.
    author_nickname TEXT NOT NULL,
    anonymous BIGINT NOT NULL,
    title TEXT NOT NULL,
    content TEXT NOT NULL,
    like_count BIGINT NOT NULL DEFAULT 0,
    comment_count BIGINT NOT NULL DEFAULT 0,
    scrap_count BIGINT NOT NULL DEFAULT 0,
    report_count BIGINT NOT NULL DEFAULT 0,
    photo_count BIGINT NOT NULL DEFAULT 0,
    -- The last anonymous number handed out to a commenter of this post.
    anon_counter BIGINT NOT NULL DEFAULT 0,
    hot_at BIGINT,
    best_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX post_board_id ON post (board_id, id) WHERE deleted_at IS NULL;
CREATE INDEX post_school_id ON post (school_id, id) WHERE deleted_at IS NULL;
CREATE INDEX post_author_id ON post (author_id, id) WHERE deleted_at IS NULL;
CREATE INDEX post_hot ON post (school_id, hot_at, id) WHERE hot_at IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX post_best ON post (school_id, best_at, id) WHERE best_at IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE post_like (
    post_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (post_id, user_id)
);

CREATE TABLE post_scrap (
    id BIGINT PRIMARY KEY,
    post_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX post_scrap_once ON post_scrap (post_id, user_id);
CREATE INDEX post_scrap_user ON post_scrap (user_id, id);

CREATE TABLE post_report (
    post_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (post_id, user_id)
);

CREATE TABLE comment (
    id BIGINT PRIMARY KEY,
    post_id BIGINT NOT NULL,
    -- 0 for a top-level comment.
    parent_id BIGINT NOT NULL,
    -- The top-level comment of the thread (the comment itself when top-level): lists sort by
    -- (thread_id, id) so replies follow their parent.
    thread_id BIGINT NOT NULL,
    author_id BIGINT NOT NULL,
    author_nickname TEXT NOT NULL,
    anonymous BIGINT NOT NULL,
    -- The commenter's number within the post (익명N); 0 when named or the post's author.
    anon_number BIGINT NOT NULL,
    content TEXT NOT NULL,
    like_count BIGINT NOT NULL DEFAULT 0,
    report_count BIGINT NOT NULL DEFAULT 0,
    -- Live replies; a deleted comment stays as a placeholder while this is above 0.
    reply_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX comment_post_thread ON comment (post_id, thread_id, id);
CREATE INDEX comment_author ON comment (author_id, post_id) WHERE deleted_at IS NULL;

-- One row per anonymous commenter of a post: the unique indexes keep numbers stable and
-- distinct however many people comment at once.
CREATE TABLE comment_anon (
    post_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    number BIGINT NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
CREATE UNIQUE INDEX comment_anon_number ON comment_anon (post_id, number);

CREATE TABLE comment_like (
    comment_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (comment_id, user_id)
);

CREATE TABLE comment_report (
    comment_id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (comment_id, user_id)
);

CREATE TABLE photo (
    id BIGINT PRIMARY KEY,
    post_id BIGINT NOT NULL,
    owner_id BIGINT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX photo_post ON photo (post_id, id);
