//! Lockout of sources that keep failing authentication, sans-IO: after
//! `max_failures` failed authentications within `window`, a source is
//! refused for `lock_for` (the caller answers 403 without a challenge, so
//! guessing passwords stops paying). A success resets the source's count;
//! other sources are not affected.
//!
//! A source is an IPv4 address, or the /64 of an IPv6 address (one host
//! has a whole /64 to pick from). Phones behind one NAT share a source.
//! Memory is bounded: at `max_sources`, sources with nothing left to
//! remember are dropped, then the oldest unlocked one; when every tracked
//! source is locked a new one goes uncounted. Time is monotonic
//! ([`Instant`]) since nothing here leaves the process.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use serde::Deserialize;

/// Bits of an IPv6 address that name one site's subnet (RFC 4291 §2.5.4).
const IPV6_SOURCE_PREFIX_BITS: u32 = 64;

/// Configuration of the lockout.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LockoutConfig {
    /// Failures within `window` that lock the source.
    pub max_failures: u32,
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    #[serde(with = "humantime_serde")]
    pub lock_for: Duration,
    /// Sources tracked at once.
    pub max_sources: usize,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig {
            max_failures: 5,
            window: Duration::from_secs(60),
            lock_for: Duration::from_secs(300),
            max_sources: 10_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: Instant,
    locked_at: Option<Instant>,
}

/// Failed authentications per source, and which sources are locked.
#[derive(Debug)]
pub struct Lockout {
    config: LockoutConfig,
    entries: HashMap<IpAddr, Entry>,
}

/// IPv4 (also when mapped into IPv6) as is; IPv6 cut to its /64.
fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mask = u128::MAX << (128 - IPV6_SOURCE_PREFIX_BITS);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        },
    }
}

impl Lockout {
    pub fn new(config: LockoutConfig) -> Lockout {
        Lockout {
            config,
            entries: HashMap::new(),
        }
    }

    /// Sources currently tracked (bounded by `max_sources`).
    pub fn tracked(&self) -> usize {
        self.entries.len()
    }

    fn locked(&self, entry: &Entry, now: Instant) -> bool {
        entry
            .locked_at
            .is_some_and(|at| now.saturating_duration_since(at) < self.config.lock_for)
    }

    /// Whether requests from `source` are refused at `now`.
    pub fn is_locked(&self, source: IpAddr, now: Instant) -> bool {
        self.entries
            .get(&source_key(source))
            .is_some_and(|entry| self.locked(entry, now))
    }

    /// Count a failed authentication; whether the source is now locked.
    pub fn record_failure(&mut self, source: IpAddr, now: Instant) -> bool {
        let key = source_key(source);
        let fresh = Entry {
            failures: 0,
            window_start: now,
            locked_at: None,
        };
        let entry = match self.entries.get(&key).copied() {
            Some(entry) if self.locked(&entry, now) => return true,
            Some(entry) if entry.locked_at.is_none() && !self.window_over(&entry, now) => entry,
            Some(_) => fresh,
            None => {
                if self.entries.len() >= self.config.max_sources {
                    self.make_room(now);
                }
                if self.entries.len() >= self.config.max_sources {
                    return false;
                }
                fresh
            }
        };
        let failures = entry.failures.saturating_add(1);
        let locked = failures >= self.config.max_failures;
        self.entries.insert(
            key,
            Entry {
                failures,
                locked_at: locked.then_some(now),
                ..entry
            },
        );
        locked
    }

    /// A successful authentication clears the source.
    pub fn record_success(&mut self, source: IpAddr) {
        self.entries.remove(&source_key(source));
    }

    fn window_over(&self, entry: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(entry.window_start) >= self.config.window
    }

    /// Drop sources with nothing to remember; if none, the unlocked one
    /// whose window began first.
    fn make_room(&mut self, now: Instant) {
        let before = self.entries.len();
        let (lock_for, window) = (self.config.lock_for, self.config.window);
        self.entries.retain(|_, entry| match entry.locked_at {
            Some(at) => now.saturating_duration_since(at) < lock_for,
            None => now.saturating_duration_since(entry.window_start) < window,
        });
        if self.entries.len() < before {
            return;
        }
        let oldest = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.locked_at.is_none())
            .min_by_key(|(_, entry)| entry.window_start)
            .map(|(key, _)| *key);
        if let Some(key) = oldest {
            self.entries.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    fn small_lockout() -> Lockout {
        Lockout::new(LockoutConfig {
            max_failures: 3,
            window: Duration::from_secs(60),
            lock_for: Duration::from_secs(300),
            max_sources: 4,
        })
    }

    fn fail_times(lockout: &mut Lockout, source: IpAddr, now: Instant, times: u32) -> bool {
        (0..times)
            .map(|_| lockout.record_failure(source, now))
            .last()
            .unwrap_or(false)
    }

    #[test]
    fn failures_within_the_window_lock_the_source_for_the_duration() {
        let (mut lockout, t0) = (small_lockout(), Instant::now());
        let source = ip("192.0.2.1");
        assert!(!fail_times(&mut lockout, source, t0, 2));
        assert!(!lockout.is_locked(source, t0));
        assert!(lockout.record_failure(source, t0 + Duration::from_secs(59)));
        assert!(lockout.is_locked(source, t0 + Duration::from_secs(100)));
        assert!(lockout.is_locked(source, t0 + Duration::from_secs(358)));
        assert!(!lockout.is_locked(source, t0 + Duration::from_secs(360)));
        // After the lock a new count starts.
        let later = t0 + Duration::from_secs(400);
        assert!(!lockout.record_failure(source, later));
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_lock() {
        let (mut lockout, t0) = (small_lockout(), Instant::now());
        let source = ip("192.0.2.1");
        for minute in 0..10 {
            let now = t0 + Duration::from_secs(61 * minute);
            assert!(!fail_times(&mut lockout, source, now, 2));
        }
        assert!(!lockout.is_locked(source, t0 + Duration::from_secs(700)));
    }

    #[test]
    fn a_success_resets_the_count() {
        let (mut lockout, t0) = (small_lockout(), Instant::now());
        let source = ip("192.0.2.1");
        fail_times(&mut lockout, source, t0, 2);
        lockout.record_success(source);
        assert!(!fail_times(&mut lockout, source, t0, 2));
        assert!(lockout.record_failure(source, t0));
    }

    #[test]
    fn other_sources_are_not_affected_but_one_ipv6_subnet_is_one_source() {
        let (mut lockout, t0) = (small_lockout(), Instant::now());
        assert!(fail_times(&mut lockout, ip("192.0.2.1"), t0, 3));
        assert!(!lockout.is_locked(ip("192.0.2.2"), t0));
        assert!(lockout.is_locked(ip("::ffff:192.0.2.1"), t0));
        lockout.record_failure(ip("2001:db8:1:2::1"), t0);
        lockout.record_failure(ip("2001:db8:1:2::2"), t0);
        assert!(lockout.record_failure(ip("2001:db8:1:2:ffff::3"), t0));
        assert!(!lockout.is_locked(ip("2001:db8:1:3::1"), t0));
    }

    #[test]
    fn memory_stays_bounded_and_locked_sources_are_kept() {
        let (mut lockout, t0) = (small_lockout(), Instant::now());
        let locked = ip("198.51.100.1");
        fail_times(&mut lockout, locked, t0, 3);
        for host in 0..100u8 {
            let now = t0 + Duration::from_secs(host.into());
            lockout.record_failure(IpAddr::from([192, 0, 2, host]), now);
            assert!(lockout.tracked() <= 4);
        }
        assert!(lockout.is_locked(locked, t0 + Duration::from_secs(100)));
        // Once every tracked source is locked, a new one goes uncounted.
        let mut full = small_lockout();
        for host in 1..=4u8 {
            fail_times(&mut full, IpAddr::from([203, 0, 113, host]), t0, 3);
        }
        assert!(!fail_times(&mut full, ip("192.0.2.200"), t0, 5));
        assert_eq!(full.tracked(), 4);
    }
}
