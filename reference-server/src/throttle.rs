//! Throttling of failed logins, per account and per client address.
//!
//! After `max_failures` failures for one username within `window`, further logins for it are
//! refused with 429 for `lockout`, whether or not the password is right; after ten times as
//! many from one client address, across any usernames (password spraying), that client is
//! refused likewise (except this machine's loopback address: see [`LoginThrottle::try_begin`]).
//! The username is keyed as sent (lower-cased), whether or not such a user
//! exists, so the throttle does not reveal which users exist.
//!
//! Logins still in flight count against the limit until they finish ([`LoginThrottle::begin`]
//! admits a login only while failures plus logins in flight stay under it), so a burst of
//! concurrent guesses cannot all slip past the check before any is counted. A login that
//! would pass the limit only because of others in flight waits for them rather than being
//! refused or locking anything: many good logins at once (a CI runner with parallel jobs, a
//! gateway) all succeed, only some of them a little later.
//!
//! State is in memory and bounded: past [`MAX_ENTRIES`], stale entries go, then the oldest
//! idle unlocked ones; a locked entry is never evicted, so flooding other names cannot unlock
//! an account. It runs on the real monotonic clock, not the test clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Entries kept at most.
pub const MAX_ENTRIES: usize = 10_000;

/// How many more failures one client address may have than one account.
const CLIENT_FACTOR: u32 = 10;

/// How long a login waits for others in flight at most, before it is told to come back.
const MAX_WAIT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Account(String),
    Client(IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    /// Logins admitted and not finished.
    in_flight: u32,
    first_failure: Instant,
    locked_until: Option<Instant>,
}

impl Entry {
    fn fresh(now: Instant) -> Self {
        Self {
            failures: 0,
            in_flight: 0,
            first_failure: now,
            locked_until: None,
        }
    }

    fn locked(&self, now: Instant) -> Option<Duration> {
        self.locked_until.filter(|u| *u > now).map(|u| u - now)
    }

    /// The failures that still count: none once the window or a lockout is over.
    fn failures_now(&self, now: Instant, window: Duration) -> u32 {
        let lock_over = self.locked_until.is_some_and(|u| u <= now);
        if lock_over || now.duration_since(self.first_failure) > window {
            0
        } else {
            self.failures
        }
    }

    /// Whether the entry still matters: locked, counting within its window, or in use.
    fn live(&self, now: Instant, window: Duration) -> bool {
        self.locked(now).is_some() || self.in_flight > 0 || self.failures_now(now, window) > 0
    }
}

/// Why a login was not admitted now.
#[derive(Debug, PartialEq, Eq)]
pub enum NotNow {
    /// Locked out for this many more seconds.
    Locked(u64),
    /// Others in flight for the same account or client could reach the limit: wait for them.
    Busy,
}

/// The policy and its state.
#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: u32,
    window: Duration,
    lockout: Duration,
    entries: Mutex<HashMap<Key, Entry>>,
    /// Woken whenever a login finishes.
    finished: Notify,
}

/// A login under way. [`Attempt::succeeded`], [`Attempt::failed`] or [`Attempt::undecided`]
/// ends it; dropped without one, it counts as failed.
#[must_use = "a login must say how it ended, or it counts as a failure"]
pub struct Attempt<'t> {
    throttle: &'t LoginThrottle,
    keys: Vec<Key>,
    ended: bool,
}

/// How a login ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Succeeded,
    Failed,
    Undecided,
}

impl Attempt<'_> {
    /// The password matched: the account's count starts again; the client's stays.
    pub fn succeeded(mut self) {
        self.end(End::Succeeded);
    }

    /// The password did not match (or the user does not exist).
    pub fn failed(mut self) {
        self.end(End::Failed);
    }

    /// No verdict was reached (the storage or the password workers were unavailable): nothing
    /// is counted, so that an overloaded server cannot lock its users out.
    pub fn undecided(mut self) {
        self.end(End::Undecided);
    }

    fn end(&mut self, how: End) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let now = Instant::now();
        {
            let mut entries = self.throttle.lock();
            for key in &self.keys {
                let limit = self.throttle.limit(key);
                let Some(e) = entries.get_mut(key) else {
                    continue;
                };
                e.in_flight = e.in_flight.saturating_sub(1);
                match (how, key) {
                    (End::Failed, _) => {
                        if e.failures_now(now, self.throttle.window) == 0 {
                            *e = Entry {
                                in_flight: e.in_flight,
                                ..Entry::fresh(now)
                            };
                        }
                        e.failures += 1;
                        if e.failures >= limit {
                            e.locked_until = Some(now + self.throttle.lockout);
                        }
                    }
                    (End::Succeeded, Key::Account(_)) => e.failures = 0,
                    _ => {}
                }
                if !e.live(now, self.throttle.window) {
                    entries.remove(key);
                }
            }
        }
        self.throttle.finished.notify_waiters();
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.end(End::Failed);
    }
}

impl LoginThrottle {
    /// A throttle that locks a username for `lockout` after `max_failures` failures in `window`.
    pub fn new(max_failures: u32, window: Duration, lockout: Duration) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            lockout,
            entries: Mutex::new(HashMap::new()),
            finished: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn limit(&self, key: &Key) -> u32 {
        match key {
            Key::Account(_) => self.max_failures,
            Key::Client(_) => self.max_failures.saturating_mul(CLIENT_FACTOR),
        }
    }

    /// Admits a login, waiting while others in flight could still reach the limit:
    /// `Err(seconds)` while the username or the client is locked out.
    pub async fn begin(&self, username: &str, client: Option<IpAddr>) -> Result<Attempt<'_>, u64> {
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            // Created before the check, so a login finishing in between still wakes it.
            let finished = self.finished.notified();
            match self.try_begin(username, client) {
                Ok(a) => return Ok(a),
                Err(NotNow::Locked(secs)) => return Err(secs),
                Err(NotNow::Busy) => {
                    if tokio::time::timeout_at(deadline, finished).await.is_err() {
                        return Err(1);
                    }
                }
            }
        }
    }

    /// Admits a login if it can be now.
    pub fn try_begin(&self, username: &str, client: Option<IpAddr>) -> Result<Attempt<'_>, NotNow> {
        let now = Instant::now();
        let mut keys = vec![Key::Account(username.trim().to_lowercase())];
        // This machine is not limited as a client: the developer running the suite again and
        // again against a local server is the usual client here, and one on this machine is
        // past what a remote password sprayer can reach anyway. Its accounts stay limited.
        keys.extend(client.filter(|ip| !ip.is_loopback()).map(Key::Client));
        let mut entries = self.lock();
        let locked = keys
            .iter()
            .filter_map(|k| entries.get(k).and_then(|e| e.locked(now)))
            .max();
        if let Some(left) = locked {
            // Round up so a client that waits exactly Retry-After is not refused again.
            return Err(NotNow::Locked(
                left.as_secs() + u64::from(left.subsec_nanos() > 0),
            ));
        }
        let full = keys.iter().any(|k| {
            entries
                .get(k)
                .is_some_and(|e| e.failures_now(now, self.window) + e.in_flight >= self.limit(k))
        });
        if full {
            return Err(NotNow::Busy);
        }
        let mut admitted = Vec::with_capacity(keys.len());
        for key in keys {
            if !entries.contains_key(&key) && entries.len() >= MAX_ENTRIES {
                self.prune(&mut entries, now);
                if entries.len() >= MAX_ENTRIES {
                    // Full of live entries: this key goes uncounted rather than unlocking
                    // another.
                    continue;
                }
            }
            entries
                .entry(key.clone())
                .or_insert_with(|| Entry::fresh(now))
                .in_flight += 1;
            admitted.push(key);
        }
        Ok(Attempt {
            throttle: self,
            keys: admitted,
            ended: false,
        })
    }

    fn prune(&self, entries: &mut HashMap<Key, Entry>, now: Instant) {
        entries.retain(|_, e| e.live(now, self.window));
        if entries.len() < MAX_ENTRIES {
            return;
        }
        // Still full: drop the older half of the idle unlocked entries, never a locked one
        // nor one with logins in flight.
        let idle = |e: &Entry| e.locked(now).is_none() && e.in_flight == 0;
        let mut starts: Vec<Instant> = entries
            .values()
            .filter(|e| idle(e))
            .map(|e| e.first_failure)
            .collect();
        if starts.is_empty() {
            return;
        }
        starts.sort_unstable();
        let cutoff = starts[starts.len() / 2];
        entries.retain(|_, e| !idle(e) || e.first_failure > cutoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(max: u32) -> LoginThrottle {
        LoginThrottle::new(max, Duration::from_secs(600), Duration::from_secs(30))
    }

    #[test]
    fn locks_after_max_failures_and_success_resets() {
        let t = throttle(3);
        drop(t.try_begin("A@example.com", None).expect("open"));
        drop(t.try_begin("a@example.com", None).expect("open"));
        t.try_begin("a@example.com", None)
            .expect("open")
            .succeeded();
        drop(t.try_begin("a@example.com", None).expect("open"));
        drop(t.try_begin("a@example.com", None).expect("open"));
        drop(
            t.try_begin("a@example.com", None)
                .expect("the third failure still goes through"),
        );
        let Err(NotNow::Locked(secs)) = t.try_begin("A@EXAMPLE.COM", None) else {
            panic!("not locked");
        };
        assert!((1..=30).contains(&secs), "{secs}");
        assert!(t.try_begin("b@example.com", None).is_ok());
    }

    #[test]
    fn concurrent_guesses_cannot_outrun_the_count() {
        let t = std::sync::Arc::new(throttle(10));
        let admitted = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..25 {
                        if let Ok(a) = t.try_begin("victim@example.com", None) {
                            admitted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            drop(a);
                        }
                    }
                });
            }
        });
        assert_eq!(
            admitted.into_inner(),
            10,
            "exactly the allowed failures got through"
        );
    }

    #[test]
    fn one_client_is_throttled_across_names() {
        let t = throttle(2);
        let ip: IpAddr = "10.0.0.7".parse().expect("ip");
        for i in 0..(2 * CLIENT_FACTOR) {
            drop(
                t.try_begin(&format!("user{i}@example.com"), Some(ip))
                    .expect("open"),
            );
        }
        assert!(
            t.try_begin("fresh@example.com", Some(ip)).is_err(),
            "the client is locked"
        );
        assert!(
            t.try_begin("fresh@example.com", None).is_ok(),
            "others are not"
        );
    }

    #[test]
    fn flooding_other_names_never_unlocks_an_account_and_memory_stays_bounded() {
        let t = throttle(2);
        drop(t.try_begin("locked@example.com", None).expect("open"));
        drop(t.try_begin("locked@example.com", None).expect("open"));
        assert!(t.try_begin("locked@example.com", None).is_err());
        for i in 0..(MAX_ENTRIES + 500) {
            drop(t.try_begin(&format!("flood{i}"), None));
        }
        assert!(t.lock().len() <= MAX_ENTRIES);
        assert!(
            t.try_begin("locked@example.com", None).is_err(),
            "still locked"
        );
    }

    #[test]
    fn logins_in_flight_make_others_wait_but_lock_nothing() {
        let t = throttle(2);
        let first = t.try_begin("a@example.com", None).expect("open");
        let second = t.try_begin("a@example.com", None).expect("open");
        assert_eq!(t.try_begin("a@example.com", None).err(), Some(NotNow::Busy));
        first.succeeded();
        second.undecided();
        let third = t.try_begin("a@example.com", None).expect("open again");
        third.failed();
        t.try_begin("a@example.com", None)
            .expect("one failure is under the limit")
            .failed();
        assert!(matches!(
            t.try_begin("a@example.com", None),
            Err(NotNow::Locked(_))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_good_logins_in_flight_from_one_client_all_get_through() {
        let t = std::sync::Arc::new(throttle(2));
        let ip: IpAddr = "10.0.0.8".parse().expect("ip");
        let mut logins = tokio::task::JoinSet::new();
        for i in 0..(4 * CLIENT_FACTOR) {
            let t = std::sync::Arc::clone(&t);
            logins.spawn(async move {
                // Half of them for one account, which allows two failures at once.
                let name = if i % 2 == 0 {
                    "same".to_owned()
                } else {
                    format!("user{i}")
                };
                let attempt = t
                    .begin(&name, Some(ip))
                    .await
                    .map_err(|s| format!("{name}: {s}"))?;
                tokio::task::yield_now().await;
                attempt.succeeded();
                Ok::<_, String>(())
            });
        }
        while let Some(done) = logins.join_next().await {
            done.expect("task").expect("admitted");
        }
        assert!(t.try_begin("next@example.com", Some(ip)).is_ok());
    }

    #[test]
    fn this_machine_is_not_limited_as_a_client_but_its_accounts_are() {
        let t = throttle(2);
        let local: IpAddr = "127.0.0.1".parse().expect("ip");
        for i in 0..(4 * CLIENT_FACTOR) {
            t.try_begin(&format!("user{i}@example.com"), Some(local))
                .expect("open")
                .failed();
        }
        assert!(t.try_begin("fresh@example.com", Some(local)).is_ok());
        t.try_begin("a@example.com", Some(local))
            .expect("open")
            .failed();
        t.try_begin("a@example.com", Some(local))
            .expect("open")
            .failed();
        assert!(matches!(
            t.try_begin("a@example.com", Some(local)),
            Err(NotNow::Locked(_))
        ));
    }
}
