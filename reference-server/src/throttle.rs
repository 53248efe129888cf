//! Throttling of failed logins, per account name.
//!
//! After `max_failures` failed logins for one username within `window`, further logins for that
//! username are refused with 429 for `lockout`, whether or not the password is right, so a
//! password cannot be guessed at request speed. The key is the username as sent (lower-cased),
//! whether or not such a user exists, so the throttle does not reveal which users exist.
//!
//! State is in memory: a restart clears it, which is acceptable for a reference server and
//! keeps a flood of failed logins from writing to the database. It runs on the real monotonic
//! clock, not the test clock, so moving the test clock neither trips nor clears it.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Entries kept at most; past this, stale entries are dropped, then the oldest.
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    first_failure: Instant,
    locked_until: Option<Instant>,
}

/// The policy and its state.
#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: u32,
    window: Duration,
    lockout: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl LoginThrottle {
    /// A throttle that locks a username for `lockout` after `max_failures` failures in `window`.
    pub fn new(max_failures: u32, window: Duration, lockout: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            lockout,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` while the username is locked out.
    pub fn check(&self, username: &str) -> Result<(), u64> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        match entries.get(&key(username)).and_then(|e| e.locked_until) {
            Some(until) if until > now => {
                // Round up so a client that waits exactly Retry-After is not refused again.
                let left = until - now;
                Err(left.as_secs() + u64::from(left.subsec_nanos() > 0))
            }
            _ => Ok(()),
        }
    }

    /// Records a failed login.
    pub fn failure(&self, username: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if entries.len() >= MAX_ENTRIES {
            self.prune(&mut entries, now);
        }
        let entry = entries.entry(key(username)).or_insert(Entry {
            failures: 0,
            first_failure: now,
            locked_until: None,
        });
        let lock_over = entry.locked_until.is_some_and(|until| until <= now);
        if lock_over || now.duration_since(entry.first_failure) > self.window {
            *entry = Entry {
                failures: 0,
                first_failure: now,
                locked_until: None,
            };
        }
        entry.failures += 1;
        if entry.failures >= self.max_failures {
            entry.locked_until = Some(now + self.lockout);
        }
    }

    /// Records a successful login: the count starts again.
    pub fn success(&self, username: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.remove(&key(username));
    }

    fn prune(&self, entries: &mut HashMap<String, Entry>, now: Instant) {
        entries.retain(|_, e| {
            e.locked_until.is_some_and(|u| u > now)
                || now.duration_since(e.first_failure) <= self.window
        });
        // Still full of live entries: drop the oldest half rather than grow without bound.
        if entries.len() >= MAX_ENTRIES {
            let mut starts: Vec<Instant> = entries.values().map(|e| e.first_failure).collect();
            starts.sort_unstable();
            let cutoff = starts[starts.len() / 2];
            entries.retain(|_, e| e.first_failure > cutoff);
        }
    }
}

fn key(username: &str) -> String {
    username.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_and_success_resets() {
        let t = LoginThrottle::new(3, Duration::from_secs(60), Duration::from_secs(30));
        t.failure("A@example.com");
        t.failure("a@example.com");
        assert!(t.check("a@example.com").is_ok());
        t.success("a@example.com");
        t.failure("a@example.com");
        t.failure("a@example.com");
        assert!(t.check("a@example.com").is_ok());
        t.failure("a@example.com");
        let secs = t.check("A@EXAMPLE.COM").expect_err("locked");
        assert!((1..=30).contains(&secs), "{secs}");
        assert!(t.check("b@example.com").is_ok());
    }

    #[test]
    fn memory_is_bounded() {
        let t = LoginThrottle::new(100, Duration::from_secs(600), Duration::from_secs(30));
        for i in 0..(MAX_ENTRIES + 10) {
            t.failure(&format!("user{i}"));
        }
        let n = t.entries.lock().expect("lock").len();
        assert!(n <= MAX_ENTRIES, "{n}");
    }
}
