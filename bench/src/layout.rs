//! The shape of the seeded data set: how many of each thing a scale gives, and the id, owner
//! and counters of every seeded row as a formula of its number. The same formulas exist twice,
//! in Rust (to mint tokens, pick hot posts, check answers) and as SQL (to seed with one
//! set-based INSERT per table, and in pgbench scripts); a test keeps the two in step.

/// `campus_shared::id`'s epoch: ids are milliseconds since it, shifted left by 22 bits.
const ID_EPOCH_MS: i64 = 1_704_067_200_000;
const ID_SHIFT: u32 = 22;
const DAY_MS: i64 = 86_400_000;
/// Seeded posts are spread over the year before the anchor.
const POSTS_SPAN_MS: i64 = 365 * DAY_MS;
/// Comment `k` of a post is written `k` minutes after it.
const COMMENT_GAP_MS: i64 = 60_000;
/// At most this many comments per post (post `n` has `n % 11`).
pub(crate) const MAX_COMMENTS: i64 = 10;
/// Likes of each hot post: above HOT's 10 and BEST's 100.
pub(crate) const HOT_LIKES: i64 = 120;
/// How many hot posts the comment workload writes to.
pub(crate) const HOT_POSTS: i64 = 10;
pub(crate) const YEAR: i32 = 2026;
/// `Semester::Fall`.
pub(crate) const FALL: i32 = 3;

/// Sizes and time anchor of one seeded data set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Layout {
    pub(crate) scale: f64,
    pub(crate) users: i64,
    pub(crate) boards: i64,
    pub(crate) posts: i64,
    pub(crate) lectures: i64,
    /// Milliseconds since the Unix epoch a day before seeding: every seeded row is older, so
    /// every id a service makes later is larger than every seeded id.
    pub(crate) anchor_ms: i64,
}

fn scaled(full: f64, scale: f64, floor: i64) -> i64 {
    ((full * scale).round() as i64).max(floor)
}

impl Layout {
    /// The data set of `scale` (1.0: 10k users, 100 boards, 1M posts, ~5M comments, 5k
    /// lectures), anchored a day before `now_ms`. The floors keep the workloads meaningful at
    /// tiny scales: 200 users so every post's commenters and likers are distinct people.
    pub(crate) fn new(scale: f64, now_ms: i64) -> Self {
        Self {
            scale,
            users: scaled(10_000.0, scale, 200),
            boards: scaled(100.0, scale, 4),
            posts: scaled(1_000_000.0, scale, 1_000),
            lectures: scaled(5_000.0, scale, 200),
            anchor_ms: now_ms - DAY_MS,
        }
    }

    /// What the seed marker records; a data set is reused only when this matches (the
    /// version names what the seed writes: 2 adds the posts' stored previews).
    pub(crate) fn fingerprint(&self) -> String {
        format!(
            "v2 scale={} users={} boards={} posts={} comments={} lectures={}",
            self.scale,
            self.users,
            self.boards,
            self.posts,
            self.comments(),
            self.lectures
        )
    }

    /// Milliseconds between two seeded posts.
    pub(crate) fn spacing_ms(&self) -> i64 {
        (POSTS_SPAN_MS / self.posts).max(1)
    }

    /// When post 0 would have been written; post `n` (1..=posts) is `n` spacings later.
    pub(crate) fn posts_start_ms(&self) -> i64 {
        self.anchor_ms - (self.posts + 1) * self.spacing_ms() - MAX_COMMENTS * COMMENT_GAP_MS
    }

    fn users_start_ms(&self) -> i64 {
        self.posts_start_ms() - 30 * DAY_MS
    }

    fn boards_start_ms(&self) -> i64 {
        self.posts_start_ms() - 31 * DAY_MS
    }

    fn school_ms(&self) -> i64 {
        self.posts_start_ms() - 32 * DAY_MS
    }

    /// Every seeded id is below this; rows the benchmark writes are at or above it.
    pub(crate) fn first_unseeded_id(&self) -> i64 {
        (self.anchor_ms - ID_EPOCH_MS) << ID_SHIFT
    }

    /// The total of `n % 11` comments over posts 1..=posts.
    pub(crate) fn comments(&self) -> i64 {
        let full = self.posts / 11;
        let rest = self.posts % 11;
        full * 55 + rest * (rest + 1) / 2
    }

    pub(crate) fn school_id(&self) -> i64 {
        (self.school_ms() - ID_EPOCH_MS) << ID_SHIFT
    }

    /// User `u` (0..users).
    pub(crate) fn user_id(&self, u: i64) -> i64 {
        ((self.users_start_ms() + u * 1000 - ID_EPOCH_MS) << ID_SHIFT) | (u % 4096)
    }

    pub(crate) fn nickname(u: i64) -> String {
        format!("벤치{u}")
    }

    /// Board `b` (0..boards).
    pub(crate) fn board_id(&self, b: i64) -> i64 {
        ((self.boards_start_ms() + b * 1000 - ID_EPOCH_MS) << ID_SHIFT) | (b % 4096)
    }

    fn post_ms(&self, n: i64) -> i64 {
        self.posts_start_ms() + n * self.spacing_ms()
    }

    /// Post `n` (1..=posts).
    pub(crate) fn post_id(&self, n: i64) -> i64 {
        ((self.post_ms(n) - ID_EPOCH_MS) << ID_SHIFT) | (n % 4096)
    }

    /// The board of post `n`, as a board number.
    #[cfg(test)]
    pub(crate) fn post_board(&self, n: i64) -> i64 {
        (n - 1) % self.boards
    }

    /// The author of post `n`, as a user number.
    pub(crate) fn post_author(&self, n: i64) -> i64 {
        (n * 7919) % self.users
    }

    /// Likes of post `n`: the hot posts have [`HOT_LIKES`], every tenth post a few.
    #[cfg(test)]
    pub(crate) fn post_likes(&self, n: i64) -> i64 {
        if n > self.posts - HOT_POSTS {
            HOT_LIKES
        } else if n % 10 == 0 {
            1 + (n / 10) % 7
        } else {
            0
        }
    }

    /// The hot posts' numbers: the newest ones.
    pub(crate) fn hot_posts(&self) -> std::ops::RangeInclusive<i64> {
        self.posts - HOT_POSTS + 1..=self.posts
    }

    /// Comment `k` (1..=n % 11) of post `n`.
    #[cfg(test)]
    pub(crate) fn comment_id(&self, n: i64, k: i64) -> i64 {
        ((self.post_ms(n) + k * COMMENT_GAP_MS - ID_EPOCH_MS) << ID_SHIFT) | ((n % 1024) << 12) | k
    }

    // ----- the same formulas in SQL (integer arithmetic, the same on PostgreSQL and SQLite) --

    /// SQL for the id of user number `u` (an SQL expression).
    pub(crate) fn sql_user_id(&self, u: &str) -> String {
        format!(
            "(((({start} + ({u}) * 1000) - {ID_EPOCH_MS}) << {ID_SHIFT}) | (({u}) % 4096))",
            start = self.users_start_ms()
        )
    }

    pub(crate) fn sql_board_id(&self, b: &str) -> String {
        format!(
            "(((({start} + ({b}) * 1000) - {ID_EPOCH_MS}) << {ID_SHIFT}) | (({b}) % 4096))",
            start = self.boards_start_ms()
        )
    }

    /// Milliseconds of post number `n`.
    pub(crate) fn sql_post_ms(&self, n: &str) -> String {
        format!("({} + ({n}) * {})", self.posts_start_ms(), self.spacing_ms())
    }

    pub(crate) fn sql_post_id(&self, n: &str) -> String {
        format!("((({} - {ID_EPOCH_MS}) << {ID_SHIFT}) | (({n}) % 4096))", self.sql_post_ms(n))
    }

    pub(crate) fn sql_post_board(&self, n: &str) -> String {
        format!("((({n}) - 1) % {})", self.boards)
    }

    pub(crate) fn sql_post_author(&self, n: &str) -> String {
        format!("((({n}) * 7919) % {})", self.users)
    }

    pub(crate) fn sql_post_likes(&self, n: &str) -> String {
        format!(
            "(CASE WHEN ({n}) > {hot_floor} THEN {HOT_LIKES} WHEN ({n}) % 10 = 0 THEN 1 + (({n}) / 10) % 7 \
             ELSE 0 END)",
            hot_floor = self.posts - HOT_POSTS
        )
    }

    pub(crate) fn sql_comment_id(&self, n: &str, k: &str) -> String {
        format!(
            "(((({} + ({k}) * {COMMENT_GAP_MS}) - {ID_EPOCH_MS}) << {ID_SHIFT}) | ((({n}) % 1024) << 12) | ({k}))",
            self.sql_post_ms(n)
        )
    }

    /// The commenter of comment `k` of post `n`, as a user number: never the post's author,
    /// and a different person for every comment of a post (so anonymous numbers are `k`-th).
    pub(crate) fn sql_commenter(&self, n: &str, k: &str) -> String {
        format!("(({} + ({k}) * 13) % {})", self.sql_post_author(n), self.users)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_795_000_000_000;

    #[test]
    fn full_scale_is_the_issue_s_data_set() {
        let l = Layout::new(1.0, NOW_MS);
        assert_eq!((l.users, l.boards, l.posts, l.lectures), (10_000, 100, 1_000_000, 5_000));
        assert!((4_999_000..=5_001_000).contains(&l.comments()), "{}", l.comments());
        let small = Layout::new(0.01, NOW_MS);
        assert_eq!((small.users, small.boards, small.posts, small.lectures), (200, 4, 10_000, 200));
    }

    #[test]
    fn seeded_ids_are_unique_ordered_and_below_what_services_make() {
        let l = Layout::new(0.01, NOW_MS);
        let mut ids = Vec::new();
        for n in 1..=l.posts {
            ids.push(l.post_id(n));
            for k in 1..=n % 11 {
                ids.push(l.comment_id(n, k));
            }
        }
        let posts: Vec<i64> = (1..=l.posts).map(|n| l.post_id(n)).collect();
        assert!(posts.windows(2).all(|w| w[0] < w[1]), "newer posts have larger ids");
        let all = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all, "no two seeded rows share an id");
        assert!(*ids.last().unwrap() < l.first_unseeded_id());
        assert!(l.first_unseeded_id() < campus_shared::id::next_id());
        let users: std::collections::HashSet<i64> = (0..l.users).map(|u| l.user_id(u)).collect();
        assert_eq!(users.len() as i64, l.users);
    }

    #[test]
    fn commenters_and_likers_are_distinct_and_never_the_author() {
        let l = Layout::new(0.01, NOW_MS);
        for n in [1, 2, 10, 7919, l.posts] {
            let author = l.post_author(n);
            let commenters: std::collections::HashSet<i64> =
                (1..=MAX_COMMENTS).map(|k| (author + k * 13) % l.users).collect();
            assert_eq!(commenters.len() as i64, MAX_COMMENTS);
            assert!(!commenters.contains(&author));
            assert!(HOT_LIKES < l.users, "likers author+1..=author+likes wrap without reaching the author");
        }
    }
}
