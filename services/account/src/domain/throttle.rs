//! The per-account login throttle: a few free failures, then a doubling, capped back-off.

use std::time::Duration;

/// How failed logins slow an account down. A capped back-off means an attacker guessing at
/// someone's account can slow that person down but never lock them out for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Consecutive failures allowed before the back-off starts.
    pub free_failures: i64,
    /// The first back-off window; each further failure doubles it.
    pub base: Duration,
    /// The longest back-off window.
    pub cap: Duration,
}

impl Default for Throttle {
    fn default() -> Self {
        Self { free_failures: 5, base: Duration::from_secs(1), cap: Duration::from_secs(300) }
    }
}

impl Throttle {
    /// How long attempts are refused after `failures` consecutive failures.
    pub fn window_after(&self, failures: i64) -> Duration {
        if failures < self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures).min(32) as u32;
        self.base.saturating_mul(2u32.saturating_pow(doublings)).min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn five_failures_are_free_then_the_window_doubles_up_to_the_cap() {
        let t = Throttle::default();
        assert_eq!(t.window_after(4), Duration::ZERO);
        assert_eq!(t.window_after(5), Duration::from_secs(1));
        assert_eq!(t.window_after(6), Duration::from_secs(2));
        assert_eq!(t.window_after(10), Duration::from_secs(32));
        assert_eq!(t.window_after(14), Duration::from_secs(300));
        assert_eq!(t.window_after(i64::MAX), Duration::from_secs(300));
    }

    proptest! {
        #[test]
        fn the_window_is_bounded_and_never_shrinks(failures in 0i64..10_000) {
            let t = Throttle::default();
            prop_assert!(t.window_after(failures) <= t.cap);
            prop_assert!(t.window_after(failures) <= t.window_after(failures + 1));
        }
    }
}
