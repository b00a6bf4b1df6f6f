//! Load limits: a global in-flight limit that sheds load at once instead of queueing, a
//! global budget of buffered request-body bytes, and a per-IP token bucket for the auth
//! routes (password guessing, sign-up spam).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The client address a request is attributed to (see [`crate::client_address`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ClientIp(pub(crate) IpAddr);

/// Requests in flight at once; a full gateway answers 429 / RESOURCE_EXHAUSTED right away,
/// which keeps latency bounded and tells load balancers to go elsewhere.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    semaphore: Arc<Semaphore>,
}

impl InFlight {
    pub(crate) fn new(limit: usize) -> Self {
        Self { semaphore: Arc::new(Semaphore::new(limit.max(1))) }
    }

    /// A permit, or `None` when the gateway is full.
    pub(crate) fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        self.semaphore.clone().try_acquire_owned().ok()
    }
}

/// Request-body bytes held in memory across all requests at once: a body is read only into
/// a reservation, so slow or huge uploads cannot add up past the budget. Each client address
/// may hold only its share of it, so one client's stalled uploads cannot lock out everyone
/// else's bodies until they time out.
#[derive(Debug, Clone)]
pub(crate) struct BodyBudget {
    bytes: Arc<Semaphore>,
    per_client: usize,
    clients: Arc<Mutex<HashMap<IpAddr, Arc<Semaphore>>>>,
}

/// Bytes reserved for one body, in the global budget and in its client's share; given back
/// when dropped.
#[derive(Debug)]
pub(crate) struct BodyReservation {
    global: OwnedSemaphorePermit,
    client: OwnedSemaphorePermit,
    share: Arc<Semaphore>,
}

impl BodyBudget {
    pub(crate) fn new(bytes: usize, per_client: usize) -> Self {
        Self {
            bytes: Arc::new(Semaphore::new(bytes.clamp(1, Semaphore::MAX_PERMITS))),
            per_client: per_client.clamp(1, Semaphore::MAX_PERMITS),
            clients: Arc::default(),
        }
    }

    /// A reservation of `bytes` for `client`, or `None` when the budget or the client's share
    /// has not that much left.
    pub(crate) fn reserve(&self, client: IpAddr, bytes: usize) -> Option<BodyReservation> {
        let n = u32::try_from(bytes).ok()?;
        let share = {
            let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
            if clients.len() >= MAX_TRACKED && !clients.contains_key(&client) {
                // A share with nothing reserved carries no information.
                clients.retain(|_, share| share.available_permits() < self.per_client);
            }
            clients.entry(client).or_insert_with(|| Arc::new(Semaphore::new(self.per_client))).clone()
        };
        let client = share.clone().try_acquire_many_owned(n).ok()?;
        let global = self.bytes.clone().try_acquire_many_owned(n).ok()?;
        Some(BodyReservation { global, client, share })
    }
}

impl BodyReservation {
    /// The bytes reserved.
    pub(crate) fn bytes(&self) -> usize {
        self.global.num_permits()
    }

    /// Reserves `more` bytes on top; false when the budget or the client's share is spent.
    pub(crate) fn grow(&mut self, budget: &BodyBudget, more: usize) -> bool {
        let Ok(n) = u32::try_from(more) else { return false };
        let Ok(client) = self.share.clone().try_acquire_many_owned(n) else { return false };
        let Ok(global) = budget.bytes.clone().try_acquire_many_owned(n) else { return false };
        self.client.merge(client);
        self.global.merge(global);
        true
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// A token bucket per client IP: `per_minute` requests of burst, refilled continuously.
/// Clones share the buckets.
#[derive(Debug, Clone)]
pub(crate) struct RateLimiter {
    per_minute: u32,
    buckets: Arc<Mutex<HashMap<IpAddr, Bucket>>>,
}

/// Above this many tracked clients, full buckets are forgotten (they carry no information).
const MAX_TRACKED: usize = 10_000;

impl RateLimiter {
    /// `per_minute == 0` turns the limit off.
    pub(crate) fn new(per_minute: u32) -> Self {
        Self { per_minute, buckets: Arc::default() }
    }

    /// Whether `ip` has a token left, without taking it: the transcoder asks before it
    /// reads a body, the dispatcher takes the token when the call is made.
    pub(crate) fn has_token(&self, ip: IpAddr) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let now = Instant::now();
        let rate_per_sec = f64::from(self.per_minute) / 60.0;
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets.get(&ip).is_none_or(|b| {
            b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * rate_per_sec >= 1.0
        })
    }

    /// Takes a token for `ip`; false when its bucket is empty.
    pub(crate) fn allow(&self, ip: IpAddr) -> bool {
        self.allow_at(ip, Instant::now())
    }

    fn allow_at(&self, ip: IpAddr, now: Instant) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let capacity = f64::from(self.per_minute);
        let rate_per_sec = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_TRACKED {
            buckets.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * rate_per_sec < capacity
            });
        }
        let bucket = buckets.entry(ip).or_insert(Bucket { tokens: capacity, updated: now });
        let refill = now.saturating_duration_since(bucket.updated).as_secs_f64() * rate_per_sec;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_bucket_empties_and_refills() {
        let limiter = RateLimiter::new(3);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        let t0 = Instant::now();
        assert!((0..3).all(|_| limiter.allow_at(ip, t0)));
        assert!(!limiter.allow_at(ip, t0));
        assert!(limiter.allow_at(other, t0), "buckets are per IP");
        // 3 per minute: one token every 20 seconds.
        assert!(!limiter.allow_at(ip, t0 + Duration::from_secs(10)));
        assert!(limiter.allow_at(ip, t0 + Duration::from_secs(31)));
    }

    #[test]
    fn has_token_looks_without_taking() {
        let limiter = RateLimiter::new(2);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let shared = limiter.clone();
        assert!(limiter.has_token(ip) && limiter.has_token(ip));
        assert!(shared.allow(ip) && shared.allow(ip), "looking took nothing");
        assert!(!limiter.has_token(ip), "clones share the buckets");
    }

    #[test]
    fn the_body_budget_is_shared_and_given_back() {
        let budget = BodyBudget::new(100, 100);
        let ip: IpAddr = [10, 0, 0, 1].into();
        let a = budget.reserve(ip, 60).expect("60 of 100");
        assert!(budget.clone().reserve(ip, 50).is_none());
        let b = budget.reserve(ip, 40).expect("the rest");
        drop(a);
        assert!(budget.reserve(ip, 60).is_some());
        drop(b);
        assert!(budget.reserve(ip, usize::MAX).is_none());
    }

    #[test]
    fn each_client_holds_only_its_share() {
        let budget = BodyBudget::new(100, 40);
        let (greedy, other): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let mut held = budget.reserve(greedy, 30).expect("within the share");
        assert!(!held.grow(&budget, 20), "past the share");
        assert!(held.grow(&budget, 10));
        assert_eq!(held.bytes(), 40);
        assert!(budget.reserve(greedy, 1).is_none(), "the share is spent");
        let theirs = budget.reserve(other, 40).expect("another client has its own share");
        assert!(budget.reserve([10, 0, 0, 3].into(), 40).is_none(), "the global budget is spent");
        drop((held, theirs));
        assert!(budget.reserve(greedy, 40).is_some(), "given back");
    }

    #[test]
    fn zero_disables_the_limit() {
        let limiter = RateLimiter::new(0);
        assert!((0..1000).all(|_| limiter.allow([127, 0, 0, 1].into())));
    }

    #[test]
    fn in_flight_sheds_when_full() {
        let in_flight = InFlight::new(1);
        let permit = in_flight.try_acquire();
        assert!(permit.is_some());
        assert!(in_flight.try_acquire().is_none());
        drop(permit);
        assert!(in_flight.try_acquire().is_some());
    }
}
