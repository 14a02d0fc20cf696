//! Login throttling, as a sans-IO state machine: callers pass `now`, nothing here reads a
//! clock, so tests run in virtual time.
//!
//! Rule: after [`Limits::max_failures`] failed logins for one username from one address within
//! [`Limits::window`], that pair is refused for [`Limits::block`]; a success clears the count.
//! Memory is bounded: at [`Limits::capacity`] keys, expired entries are dropped and then the
//! oldest. (Per-instance: each server instance keeps its own counts.)

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The throttle's tunables.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_failures: u32,
    pub window: Duration,
    pub block: Duration,
    pub capacity: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_failures: 5,
            window: Duration::from_secs(15 * 60),
            block: Duration::from_secs(60),
            capacity: 100_000,
        }
    }
}

/// Who is trying: the username as typed (normalised, truncated) and the client address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    user: String,
    address: IpAddr,
}

impl Key {
    /// Builds a key. Usernames are lowercased and cut to 64 characters so hostile input
    /// cannot make keys large.
    pub fn new(username: &str, address: IpAddr) -> Key {
        let user = username.trim().chars().take(64).collect::<String>().to_lowercase();
        Key { user, address }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    first_failure: Instant,
    blocked_until: Option<Instant>,
}

impl Entry {
    fn expired(&self, now: Instant, limits: &Limits) -> bool {
        match self.blocked_until {
            Some(until) => now >= until,
            None => now.saturating_duration_since(self.first_failure) >= limits.window,
        }
    }
}

/// The failure counts per key.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    limits: Limits,
    entries: HashMap<Key, Entry>,
}

impl LoginThrottle {
    pub fn new(limits: Limits) -> Self {
        LoginThrottle { limits, entries: HashMap::new() }
    }

    /// `Err(remaining)` while `key` is blocked; `Ok` when it may try.
    pub fn check(&mut self, key: &Key, now: Instant) -> Result<(), Duration> {
        match self.entries.get(key) {
            Some(e) if e.expired(now, &self.limits) => {
                self.entries.remove(key);
                Ok(())
            }
            Some(Entry { blocked_until: Some(until), .. }) => {
                Err(until.saturating_duration_since(now))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failure; returns `Some(block)` when this failure starts a block.
    pub fn record_failure(&mut self, key: &Key, now: Instant) -> Option<Duration> {
        if !self.entries.contains_key(key) && self.entries.len() >= self.limits.capacity {
            self.make_room(now);
        }
        let limits = self.limits;
        let entry = self
            .entries
            .entry(key.clone())
            .and_modify(|e| {
                if e.expired(now, &limits) {
                    *e = Entry { failures: 0, first_failure: now, blocked_until: None };
                }
            })
            .or_insert(Entry { failures: 0, first_failure: now, blocked_until: None });
        entry.failures += 1;
        if entry.failures >= limits.max_failures {
            entry.blocked_until = Some(now + limits.block);
            Some(limits.block)
        } else {
            None
        }
    }

    /// Forgets the failures of `key` after a successful login.
    pub fn record_success(&mut self, key: &Key) {
        self.entries.remove(key);
    }

    /// How many keys are tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn make_room(&mut self, now: Instant) {
        let limits = self.limits;
        self.entries.retain(|_, e| !e.expired(now, &limits));
        if self.entries.len() >= limits.capacity
            && let Some(oldest) =
                self.entries.iter().min_by_key(|(_, e)| e.first_failure).map(|(k, _)| k.clone())
        {
            self.entries.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDR: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn five_failures_block_for_a_minute() {
        let mut t = LoginThrottle::new(Limits::default());
        let k = Key::new("Alice", ADDR);
        let t0 = Instant::now();
        for i in 0..4 {
            assert!(t.check(&k, t0).is_ok());
            assert_eq!(t.record_failure(&k, t0 + Duration::from_secs(i)), None);
        }
        assert_eq!(
            t.record_failure(&k, t0 + Duration::from_secs(4)),
            Some(Duration::from_secs(60))
        );
        assert_eq!(t.check(&k, t0 + Duration::from_secs(34)), Err(Duration::from_secs(30)));
        assert!(t.check(&k, t0 + Duration::from_secs(64)).is_ok(), "block ends after a minute");
        assert_eq!(t.record_failure(&k, t0 + Duration::from_secs(65)), None, "count restarts");
    }

    #[test]
    fn the_block_is_per_user_and_address() {
        let mut t = LoginThrottle::new(Limits::default());
        let now = Instant::now();
        let k = Key::new("alice", ADDR);
        for _ in 0..5 {
            t.record_failure(&k, now);
        }
        assert!(t.check(&Key::new("ALICE ", ADDR), now).is_err(), "same user, normalised");
        assert!(t.check(&Key::new("bob", ADDR), now).is_ok());
        assert!(t.check(&Key::new("alice", "10.0.0.2".parse().unwrap()), now).is_ok());
    }

    #[test]
    fn success_clears_failures_and_old_failures_expire() {
        let mut t = LoginThrottle::new(Limits::default());
        let now = Instant::now();
        let k = Key::new("alice", ADDR);
        for _ in 0..4 {
            t.record_failure(&k, now);
        }
        t.record_success(&k);
        assert_eq!(t.record_failure(&k, now), None);
        for _ in 0..3 {
            t.record_failure(&k, now);
        }
        let later = now + Duration::from_secs(16 * 60);
        assert_eq!(t.record_failure(&k, later), None, "failures outside the window are forgotten");
    }

    #[test]
    fn memory_is_bounded_for_hostile_usernames() {
        let limits = Limits { capacity: 100, ..Limits::default() };
        let mut t = LoginThrottle::new(limits);
        let now = Instant::now();
        for i in 0..1000 {
            t.record_failure(&Key::new(&format!("{i}{}", "x".repeat(10_000)), ADDR), now);
        }
        assert!(t.len() <= 100);
        assert!(t.entries.keys().all(|k| k.user.chars().count() <= 64));
    }
}
