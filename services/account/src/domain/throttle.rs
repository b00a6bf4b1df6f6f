//! Sign-in throttling that slows an attacker without locking the owner out.
//!
//! Two counters, both reserved before the password is checked (so a burst of parallel
//! guesses gets no more checks than the same guesses one after another):
//! - per login id and client address: a few free failures, then a doubling, capped
//!   back-off. A guesser at one address slows only that address.
//! - per login id, for addresses the account has not signed in from lately: a budget of
//!   attempts per window. Guessers spread over many addresses share it, so the account as a
//!   whole gets a bounded number of guesses; the owner at an address they signed in from
//!   before does not spend it and is never refused because of it.
//!
//! So a slow guesser (one attempt now and then, from anywhere) never keeps the owner out:
//! the owner's own address has its own counter, and a familiar address skips the budget.

use std::net::IpAddr;
use std::time::Duration;

/// The limits of both counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    /// Failures per login id and address before the back-off starts.
    pub free_failures: i64,
    /// The first back-off window; each further failure doubles it.
    pub base: Duration,
    /// The longest back-off window.
    pub cap: Duration,
    /// Attempts per login id from unfamiliar addresses in one [`Self::budget_window`].
    pub budget: i64,
    pub budget_window: Duration,
    /// How long after a successful sign-in an address stays familiar.
    pub familiar_for: Duration,
}

impl Default for Throttle {
    fn default() -> Self {
        Self {
            free_failures: 5,
            base: Duration::from_secs(30),
            cap: Duration::from_secs(15 * 60),
            budget: 20,
            budget_window: Duration::from_secs(15 * 60),
            familiar_for: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl Throttle {
    /// How long attempts from an address are refused after its `failures`-th failure.
    pub fn window_after(&self, failures: i64) -> Duration {
        if failures < self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures).min(32) as u32;
        self.base.saturating_mul(2u32.saturating_pow(doublings)).min(self.cap)
    }
}

/// The address a throttle row is kept under: IPv4 as it is (an IPv4-mapped IPv6 address
/// too), IPv6 by its /64, which one subscriber usually holds whole, so rotating through it
/// buys no fresh counters. Anything else (no address given) is "unknown".
pub(crate) fn client_key(address: &str) -> String {
    match address.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => "unknown".into(),
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
        assert_eq!(t.window_after(5), Duration::from_secs(30));
        assert_eq!(t.window_after(6), Duration::from_secs(60));
        assert_eq!(t.window_after(9), Duration::from_secs(480));
        assert_eq!(t.window_after(10), Duration::from_secs(900));
        assert_eq!(t.window_after(i64::MAX), Duration::from_secs(900));
    }

    #[test]
    fn addresses_are_keyed_by_host_or_ipv6_prefix() {
        assert_eq!(client_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(client_key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(client_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(client_key("2001:db8:1:2:bbbb::9"), client_key("2001:db8:1:2::1"));
        assert_ne!(client_key("2001:db8:1:3::1"), client_key("2001:db8:1:2::1"));
        assert_eq!(client_key(""), "unknown");
        assert_eq!(client_key("not an address"), "unknown");
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
