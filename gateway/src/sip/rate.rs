//! Per-source rate limiting of SIP requests from addresses that are not configured trunks,
//! sans-IO: a token bucket per IP address (`rate` tokens a second, up to `burst`), fed with
//! the time of each request. Requests beyond it are dropped silently by the caller:
//! answering a flood would amplify it.
//!
//! Invariants: the table holds at most [`MAX_SOURCES`] addresses; a bucket that has refilled
//! completely carries no information and is pruned when the table grows; with a rate of 0
//! nothing is limited.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Addresses tracked at once. A flood from more (spoofed) sources than this is refused for
/// the newcomers until buckets refill and are pruned; trunks are never limited.
pub const MAX_SOURCES: usize = 65_536;

/// The table is scanned for full buckets when it reaches this size, and again each time it
/// doubles past the size left after the scan, so pruning costs O(1) per message amortised.
const PRUNE_AT: usize = 1024;

/// How fast one source may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Messages a second, sustained (0: no limit).
    pub per_second: u32,
    /// Messages at once.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self { per_second: 20, burst: 40 }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The buckets of every source heard from recently.
#[derive(Debug)]
pub struct SourceLimiter {
    limit: RateLimit,
    buckets: HashMap<IpAddr, Bucket>,
    prune_at: usize,
    dropped: u64,
}

impl SourceLimiter {
    /// A limiter with no history.
    pub fn new(limit: RateLimit) -> Self {
        Self { limit, buckets: HashMap::new(), prune_at: PRUNE_AT, dropped: 0 }
    }

    /// Takes a token for a message from `source` at `now`; false (and counted) when its
    /// bucket is empty.
    pub fn allow(&mut self, now: Instant, source: IpAddr) -> bool {
        if self.limit.per_second == 0 {
            return true;
        }
        let rate = f64::from(self.limit.per_second);
        let burst = f64::from(self.limit.burst.max(1));
        if !self.buckets.contains_key(&source) {
            if self.buckets.len() >= self.prune_at {
                self.prune(now);
            }
            if self.buckets.len() >= MAX_SOURCES {
                self.dropped += 1;
                return false;
            }
        }
        let bucket = self.buckets.entry(source).or_insert(Bucket { tokens: burst, updated: now });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            self.dropped += 1;
            false
        }
    }

    /// Messages refused since start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Sources tracked (for leak tests).
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    /// True when no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// Forgets every bucket that has refilled by `now`.
    fn prune(&mut self, now: Instant) {
        let refill = Duration::from_secs_f64(
            f64::from(self.limit.burst.max(1)) / f64::from(self.limit.per_second.max(1)),
        );
        self.buckets.retain(|_, b| now.saturating_duration_since(b.updated) < refill);
        self.prune_at = (self.buckets.len() * 2).max(PRUNE_AT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let start = Instant::now();
        let mut l = SourceLimiter::new(RateLimit { per_second: 20, burst: 40 });
        let allowed = (0..100).filter(|_| l.allow(start, ip(1))).count();
        assert_eq!(allowed, 40, "the burst");
        assert_eq!(l.dropped(), 60);
        // Half a second refills ten tokens.
        let later = start + Duration::from_millis(500);
        assert_eq!((0..100).filter(|_| l.allow(later, ip(1))).count(), 10);
        // Another source has its own bucket.
        assert!(l.allow(later, ip(2)));
    }

    #[test]
    fn zero_rate_limits_nothing_and_full_buckets_are_pruned() {
        let start = Instant::now();
        let mut off = SourceLimiter::new(RateLimit { per_second: 0, burst: 0 });
        assert!((0..1000).all(|_| off.allow(start, ip(1))));
        assert!(off.is_empty());

        let mut l = SourceLimiter::new(RateLimit { per_second: 20, burst: 40 });
        for i in 0..PRUNE_AT {
            let source = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            assert!(l.allow(start, source));
        }
        assert_eq!(l.len(), PRUNE_AT);
        // Two seconds refill every bucket: the next newcomer prunes them all.
        assert!(l.allow(start + Duration::from_secs(2), ip(9)));
        assert_eq!(l.len(), 1);
    }
}
