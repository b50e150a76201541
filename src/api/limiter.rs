//! The login rate limit, sans-IO: failures are counted per (username,
//! client address) in a fixed window; once a key has used up its failures
//! it is refused until its window ends. The map is bounded: when it is full
//! the entries whose window has ended go first, then the oldest one.
//!
//! Knows nothing of HTTP or the database; the caller gives it the time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, SystemTime};

/// Most keys the limiter remembers at once.
pub(crate) const MAX_TRACKED_KEYS: usize = 10_000;

/// Who is trying to log in, from where.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct LoginKey {
    pub(crate) username: String,
    pub(crate) addr: IpAddr,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: SystemTime,
    failures: u32,
}

/// Counts failed logins.
#[derive(Debug)]
pub(crate) struct LoginLimiter {
    max_failures: u32,
    window: Duration,
    capacity: usize,
    windows: HashMap<LoginKey, Window>,
}

impl LoginLimiter {
    pub(crate) fn new(max_failures: u32, window: Duration) -> LoginLimiter {
        LoginLimiter::with_capacity(max_failures, window, MAX_TRACKED_KEYS)
    }

    fn with_capacity(max_failures: u32, window: Duration, capacity: usize) -> LoginLimiter {
        LoginLimiter {
            max_failures,
            window,
            capacity: capacity.max(1),
            windows: HashMap::new(),
        }
    }

    /// `Err(wait)` when `key` may not try now, with how long until it may.
    pub(crate) fn check(&self, key: &LoginKey, now: SystemTime) -> Result<(), Duration> {
        match self.windows.get(key) {
            Some(window) if window.failures >= self.max_failures => {
                let ends = window.started + self.window;
                match ends.duration_since(now) {
                    Ok(wait) if !wait.is_zero() => Err(wait),
                    _ => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed login of `key`.
    pub(crate) fn failed(&mut self, key: &LoginKey, now: SystemTime) {
        let window_length = self.window;
        if let Some(window) = self.windows.get_mut(key) {
            if is_over(window, window_length, now) {
                *window = Window {
                    started: now,
                    failures: 1,
                };
            } else {
                window.failures = window.failures.saturating_add(1);
            }
            return;
        }
        if self.windows.len() >= self.capacity {
            self.make_room(now);
        }
        self.windows.insert(
            key.clone(),
            Window {
                started: now,
                failures: 1,
            },
        );
    }

    /// A successful login of `key` clears its count.
    pub(crate) fn succeeded(&mut self, key: &LoginKey) {
        self.windows.remove(key);
    }

    fn make_room(&mut self, now: SystemTime) {
        let window_length = self.window;
        self.windows
            .retain(|_, window| !is_over(window, window_length, now));
        if self.windows.len() >= self.capacity {
            let oldest = self
                .windows
                .iter()
                .min_by_key(|(_, window)| window.started)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                self.windows.remove(&oldest);
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.windows.len()
    }
}

fn is_over(window: &Window, length: Duration, now: SystemTime) -> bool {
    now >= window.started + length
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(300);

    fn key(username: &str, last_octet: u8) -> LoginKey {
        LoginKey {
            username: username.to_string(),
            addr: IpAddr::from([127, 0, 0, last_octet]),
        }
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn a_key_is_refused_after_its_failures_until_the_window_ends() {
        let mut limiter = LoginLimiter::new(3, WINDOW);
        let zhang = key("zhang", 1);
        for second in 0..3 {
            assert_eq!(limiter.check(&zhang, at(second)), Ok(()));
            limiter.failed(&zhang, at(second));
        }
        assert_eq!(limiter.check(&zhang, at(10)), Err(Duration::from_secs(290)));
        assert_eq!(limiter.check(&zhang, at(300)), Ok(()));
    }

    #[test]
    fn other_users_and_other_addresses_are_not_affected() {
        let mut limiter = LoginLimiter::new(2, WINDOW);
        limiter.failed(&key("zhang", 1), at(0));
        limiter.failed(&key("zhang", 1), at(0));
        assert!(limiter.check(&key("zhang", 1), at(1)).is_err());
        assert!(limiter.check(&key("li", 1), at(1)).is_ok());
        assert!(limiter.check(&key("zhang", 2), at(1)).is_ok());
    }

    #[test]
    fn a_success_clears_the_count_and_a_new_window_starts_afresh() {
        let mut limiter = LoginLimiter::new(2, WINDOW);
        let zhang = key("zhang", 1);
        limiter.failed(&zhang, at(0));
        limiter.succeeded(&zhang);
        limiter.failed(&zhang, at(1));
        assert!(limiter.check(&zhang, at(1)).is_ok());
        limiter.failed(&zhang, at(400));
        assert!(
            limiter.check(&zhang, at(400)).is_ok(),
            "the window of at(1) ended"
        );
    }

    #[test]
    fn the_map_stays_bounded_dropping_ended_windows_then_the_oldest() {
        let mut limiter = LoginLimiter::with_capacity(1, WINDOW, 3);
        limiter.failed(&key("a", 1), at(0));
        limiter.failed(&key("b", 1), at(100));
        limiter.failed(&key("c", 1), at(200));
        limiter.failed(&key("d", 1), at(310));
        assert_eq!(limiter.tracked(), 3);
        assert!(
            limiter.check(&key("a", 1), at(310)).is_ok(),
            "ended window dropped"
        );
        assert!(limiter.check(&key("b", 1), at(310)).is_err());
        limiter.failed(&key("e", 1), at(320));
        assert_eq!(limiter.tracked(), 3);
        assert!(
            limiter.check(&key("b", 1), at(320)).is_ok(),
            "oldest dropped"
        );
        assert!(limiter.check(&key("c", 1), at(320)).is_err());
    }
}
