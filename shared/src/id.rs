//! Time-ordered 64-bit ids: milliseconds since 2024-01-01 in the high 41 bits, a random
//! per-process node number in the next 10 and a sequence in the low 12. Ids from one process
//! strictly increase; ids from different replicas collide only if they share a node number and
//! a millisecond and a sequence value.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const EPOCH_MS: i64 = 1_704_067_200_000;
const NODE_BITS: u32 = 10;
const SEQUENCE_BITS: u32 = 12;

static LAST: AtomicI64 = AtomicI64::new(0);
static NODE: OnceLock<i64> = OnceLock::new();

fn node() -> i64 {
    *NODE.get_or_init(|| rand::random::<u16>() as i64 & ((1 << NODE_BITS) - 1))
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A new id, greater than every id this process made before.
pub fn next_id() -> i64 {
    let floor = ((now_ms() - EPOCH_MS) << (NODE_BITS + SEQUENCE_BITS)) | (node() << SEQUENCE_BITS);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let candidate = floor.max(last + 1);
        match LAST.compare_exchange_weak(last, candidate, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return candidate,
            Err(actual) => last = actual,
        }
    }
}

/// The smallest id that could have been made at `unix_ms`; handy for time-bounded queries.
pub fn id_floor_at(unix_ms: i64) -> i64 {
    (unix_ms - EPOCH_MS) << (NODE_BITS + SEQUENCE_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_strictly_increase_across_threads() {
        let per_thread: Vec<Vec<i64>> = std::thread::scope(|s| {
            let handles: Vec<_> =
                (0..8).map(|_| s.spawn(|| (0..20_000).map(|_| next_id()).collect())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut all: Vec<i64> = Vec::new();
        for ids in &per_thread {
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids within a thread must increase");
            all.extend(ids);
        }
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "ids must be unique");
        assert!(all[0] > 0);
    }

    #[test]
    fn ids_follow_the_clock() {
        let before = id_floor_at(now_ms() - 1);
        let id = next_id();
        assert!(id > before);
    }
}
