//! Throttling of failed logins: per (account, client address), per account, and per client
//! address, so that guessing is slow and bounded while nobody can lock anyone else out.
//!
//! - **A pair** (one account from one address) may fail `free` times (`--max-failed-logins`,
//!   10 by default); after that, each failure locks the pair for a minute, doubling with every
//!   further failure up to an hour. The count is kept for a day after the pair's last failure,
//!   across lockouts, and a success of the pair clears it. So one address gets about
//!   `free` + 29 guesses at an account a day (10 + 6 while the lockout grows to an hour, then
//!   one an hour), and the right password from any other address is never refused for it.
//! - **An account** whose failures from all addresses reach [`ACCOUNT_ALERT`] within a day
//!   (NIST SP 800-63B allows at most 100 consecutive failures) is under attack: every address
//!   that has failed at it gets one guess an hour. An address that has not failed at it, like
//!   its owner's, is not slowed; a success from anywhere clears the count. With K attacking
//!   addresses the account sees at most about 100 + 25·K guesses a day.
//! - **A client address** that fails `free` × [`CLIENT_FACTOR`] times across any accounts
//!   within a day (password spraying) is locked for all of them, a minute doubling to an hour.
//!   Only this machine's own addresses (127.0.0.1 and ::1, where a developer runs the suite
//!   against a local server again and again) are exempt from this one; other loopback
//!   addresses count as the distinct clients they are, and pairs and accounts are limited for
//!   everyone.
//!
//! Usernames are keyed as sent (trimmed, lower-cased), whether or not such a user exists, so
//! the throttle does not reveal which users exist. Logins still in flight count against a
//! pair's and an address's remaining failures ([`LoginThrottle::begin`] admits a login only
//! while they stay under the limit), so concurrent guesses cannot outrun the count; a login
//! that would pass it only because of others in flight waits for them (many good logins at
//! once all succeed, some a little later), for 10 s at most: then it is told the server is
//! busy (503 with Retry-After), never that the account is locked (429), which it is not.
//!
//! State is in memory and bounded ([`MAX_ENTRIES`]): stale entries go first, then the oldest
//! idle ones that lock nothing; an entry that locks something is never evicted. It runs on the
//! real monotonic clock, not the test clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// Entries kept at most (pairs, accounts and addresses together): some MiB at most.
pub const MAX_ENTRIES: usize = 50_000;

/// How many more failures one client address may have, across accounts, than one pair.
pub const CLIENT_FACTOR: u32 = 10;

/// Failures of one account from all addresses within [`MEMORY`] from which every address that
/// has failed at it gets one guess per [`LOCK_MAX`].
pub const ACCOUNT_ALERT: u32 = 100;

/// How long failures are remembered after the last one.
pub const MEMORY: Duration = Duration::from_secs(24 * 3600);

/// The first lockout; each further failure doubles it, up to [`LOCK_MAX`].
pub const LOCK_BASE: Duration = Duration::from_secs(60);

/// The longest lockout.
pub const LOCK_MAX: Duration = Duration::from_secs(3600);

/// How long a login waits for others in flight at most, before it is told to come back.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// What a count is kept for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// One account from one address (`None`: a caller with no address, in-process).
    Pair(String, Option<IpAddr>),
    Account(String),
    Client(IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    /// Logins admitted and not finished.
    in_flight: u32,
    last_failure: Instant,
}

impl Entry {
    fn fresh(now: Instant) -> Self {
        Self {
            failures: 0,
            in_flight: 0,
            last_failure: now,
        }
    }

    /// The failures that still count: none a day after the last.
    fn failures_now(&self, now: Instant) -> u32 {
        if now.duration_since(self.last_failure) >= MEMORY {
            0
        } else {
            self.failures
        }
    }
}

/// A lockout of `2^beyond` × [`LOCK_BASE`], at most [`LOCK_MAX`].
fn growing(beyond: u32) -> Duration {
    LOCK_BASE
        .checked_mul(1u32.checked_shl(beyond).unwrap_or(u32::MAX))
        .map_or(LOCK_MAX, |d| d.min(LOCK_MAX))
}

/// Why a login was not admitted now.
#[derive(Debug, PartialEq, Eq)]
pub enum NotNow {
    /// Locked out for this many more seconds.
    Locked(u64),
    /// Others in flight for the same pair or address could reach the limit: wait for them.
    Busy,
}

/// The policy and its state.
#[derive(Debug)]
pub struct LoginThrottle {
    free: u32,
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
    /// The password matched: the pair's and the account's counts start again; the address's
    /// stays (an attacker's own account must not wash its spraying away).
    pub fn succeeded(mut self) {
        self.end(End::Succeeded, Instant::now());
    }

    /// The password did not match (or the user does not exist).
    pub fn failed(mut self) {
        self.end(End::Failed, Instant::now());
    }

    /// No verdict was reached (the storage or the password workers were unavailable): nothing
    /// is counted, so that an overloaded server cannot lock its users out.
    pub fn undecided(mut self) {
        self.end(End::Undecided, Instant::now());
    }

    fn end(&mut self, how: End, now: Instant) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        {
            let mut entries = self.throttle.lock();
            for key in &self.keys {
                let Some(e) = entries.get_mut(key) else {
                    continue;
                };
                e.in_flight = e.in_flight.saturating_sub(1);
                match (how, key) {
                    (End::Failed, _) => {
                        e.failures = e.failures_now(now).saturating_add(1);
                        e.last_failure = now;
                    }
                    (End::Succeeded, Key::Pair(..) | Key::Account(_)) => e.failures = 0,
                    _ => {}
                }
                if e.failures_now(now) == 0 && e.in_flight == 0 {
                    entries.remove(key);
                }
            }
        }
        self.throttle.finished.notify_waiters();
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        self.end(End::Failed, Instant::now());
    }
}

/// Whether an address is this machine's own, exempt from the per-address limit.
fn own_machine(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => v6 == std::net::Ipv6Addr::LOCALHOST,
    }
}

impl LoginThrottle {
    /// A throttle that lets a pair fail `free` times before it starts locking it.
    pub fn new(free: u32) -> Self {
        Self {
            free: free.max(1),
            entries: Mutex::new(HashMap::new()),
            finished: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn client_free(&self) -> u32 {
        self.free.saturating_mul(CLIENT_FACTOR)
    }

    /// How much longer `key` is locked, given the entries.
    fn locked_for(&self, key: &Key, entries: &HashMap<Key, Entry>, now: Instant) -> Duration {
        let Some(e) = entries.get(key) else {
            return Duration::ZERO;
        };
        let failures = e.failures_now(now);
        let since = now.duration_since(e.last_failure);
        let lock = match key {
            Key::Pair(account, _) => {
                let own = failures
                    .checked_sub(self.free)
                    .map_or(Duration::ZERO, growing);
                let alert = entries
                    .get(&Key::Account(account.clone()))
                    .is_some_and(|a| a.failures_now(now) >= ACCOUNT_ALERT);
                if alert && failures > 0 {
                    own.max(LOCK_MAX)
                } else {
                    own
                }
            }
            Key::Account(_) => Duration::ZERO,
            Key::Client(_) => failures
                .checked_sub(self.client_free())
                .map_or(Duration::ZERO, growing),
        };
        lock.saturating_sub(since)
    }

    /// How many logins of `key` may be in flight at once: its failures still allowed before a
    /// lockout, and at least one (the one guess a lockout's end allows).
    fn room(&self, key: &Key, e: &Entry, now: Instant) -> Option<u32> {
        let free = match key {
            Key::Pair(..) => self.free,
            Key::Client(_) => self.client_free(),
            Key::Account(_) => return None,
        };
        Some(free.saturating_sub(e.failures_now(now)).max(1))
    }

    /// Admits a login, waiting while others in flight could still reach the limit:
    /// `Err(Locked(seconds))` while the pair or the client is locked out, `Err(Busy)` when
    /// others in flight kept it waiting `MAX_WAIT`: the server is busy, nobody is locked
    /// (a 503, not a 429: the account has done nothing wrong).
    pub async fn begin(
        &self,
        username: &str,
        client: Option<IpAddr>,
    ) -> Result<Attempt<'_>, NotNow> {
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            // Created before the check, so a login finishing in between still wakes it.
            let finished = self.finished.notified();
            match self.try_begin(username, client) {
                Ok(a) => return Ok(a),
                Err(NotNow::Locked(secs)) => return Err(NotNow::Locked(secs)),
                Err(NotNow::Busy) => {
                    if tokio::time::timeout_at(deadline, finished).await.is_err() {
                        return Err(NotNow::Busy);
                    }
                }
            }
        }
    }

    /// Admits a login if it can be now.
    pub fn try_begin(&self, username: &str, client: Option<IpAddr>) -> Result<Attempt<'_>, NotNow> {
        self.try_begin_at(username, client, Instant::now())
    }

    /// [`LoginThrottle::try_begin`] at `now`: the tests pass a time of their own, so that a
    /// day of guessing takes no time.
    fn try_begin_at(
        &self,
        username: &str,
        client: Option<IpAddr>,
        now: Instant,
    ) -> Result<Attempt<'_>, NotNow> {
        let account = username.trim().to_lowercase();
        let mut keys = vec![Key::Pair(account.clone(), client), Key::Account(account)];
        keys.extend(client.filter(|ip| !own_machine(*ip)).map(Key::Client));
        let mut entries = self.lock();
        let locked = keys
            .iter()
            .map(|k| self.locked_for(k, &entries, now))
            .max()
            .unwrap_or_default();
        if !locked.is_zero() {
            // Round up so a client that waits exactly Retry-After is not refused again.
            return Err(NotNow::Locked(
                locked.as_secs() + u64::from(locked.subsec_nanos() > 0),
            ));
        }
        let full = keys.iter().any(|k| {
            entries
                .get(k)
                .is_some_and(|e| self.room(k, e, now).is_some_and(|room| e.in_flight >= room))
        });
        if full {
            return Err(NotNow::Busy);
        }
        let mut admitted = Vec::with_capacity(keys.len());
        for key in keys {
            if !entries.contains_key(&key) && entries.len() >= MAX_ENTRIES {
                self.prune(&mut entries, now);
                if entries.len() >= MAX_ENTRIES {
                    // Full of entries that lock something: this key goes uncounted rather
                    // than unlocking another.
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
        entries.retain(|_, e| e.in_flight > 0 || e.failures_now(now) > 0);
        if entries.len() < MAX_ENTRIES {
            return;
        }
        // Still full: drop the older half of the entries that lock nothing now and have no
        // login in flight. An account's count is kept while it is under alert.
        let idle: Vec<(Key, Instant)> = entries
            .iter()
            .filter(|(k, e)| {
                e.in_flight == 0
                    && self.locked_for(k, entries, now).is_zero()
                    && !matches!(k, Key::Account(_) if e.failures_now(now) >= ACCOUNT_ALERT)
            })
            .map(|(k, e)| (k.clone(), e.last_failure))
            .collect();
        if idle.is_empty() {
            return;
        }
        let mut times: Vec<Instant> = idle.iter().map(|(_, t)| *t).collect();
        times.sort_unstable();
        let cutoff = times[times.len() / 2];
        for (key, at) in idle {
            if at <= cutoff {
                entries.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    /// A throttle and a clock of its own, moved forward by the tests.
    struct Clocked {
        t: LoginThrottle,
        now: Instant,
    }

    impl Clocked {
        fn new(free: u32) -> Self {
            Self {
                t: LoginThrottle::new(free),
                now: Instant::now(),
            }
        }

        fn begin(&self, name: &str, from: Option<IpAddr>) -> Result<Attempt<'_>, NotNow> {
            self.t.try_begin_at(name, from, self.now)
        }

        fn fail(&self, name: &str, from: Option<IpAddr>) {
            let mut a = self.begin(name, from).expect("admitted");
            a.end(End::Failed, self.now);
        }

        fn succeed(&self, name: &str, from: Option<IpAddr>) {
            let mut a = self.begin(name, from).expect("admitted");
            a.end(End::Succeeded, self.now);
        }

        fn locked(&self, name: &str, from: Option<IpAddr>) -> u64 {
            match self.begin(name, from) {
                Err(NotNow::Locked(secs)) => secs,
                Ok(mut a) => {
                    a.end(End::Undecided, self.now);
                    0
                }
                Err(NotNow::Busy) => panic!("busy"),
            }
        }
    }

    #[test]
    fn a_pair_is_locked_after_its_free_failures_and_a_success_resets_it() {
        let c = Clocked::new(3);
        let a = ip("10.0.0.1");
        c.fail("A@example.com", a);
        c.fail("a@example.com", a);
        c.succeed("a@example.com", a);
        for _ in 0..3 {
            c.fail("a@example.com", a);
        }
        assert_eq!(c.locked("A@EXAMPLE.COM", a), 60);
        assert_eq!(c.locked("b@example.com", a), 0, "other accounts are open");
        assert_eq!(
            c.locked("a@example.com", ip("10.0.0.2")),
            0,
            "and other addresses"
        );
    }

    #[test]
    fn lockouts_double_up_to_an_hour_and_the_count_outlives_them() {
        let mut c = Clocked::new(2);
        let a = ip("10.0.0.1");
        let mut locks = Vec::new();
        for _ in 0..10 {
            c.now += LOCK_MAX;
            c.fail("v@example.com", a);
            locks.push(c.locked("v@example.com", a));
        }
        assert_eq!(locks, [0, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]);
        // A day of silence forgets it.
        c.now += MEMORY;
        assert_eq!(c.locked("v@example.com", a), 0);
    }

    #[test]
    fn guesses_at_one_account_from_one_address_are_bounded_per_day() {
        let mut c = Clocked::new(10);
        let a = ip("10.0.0.1");
        let start = c.now;
        let mut guesses = 0;
        while c.now.duration_since(start) < MEMORY {
            let locked = c.locked("v@example.com", a);
            if locked > 0 {
                c.now += Duration::from_secs(locked);
            } else {
                c.fail("v@example.com", a);
                guesses += 1;
            }
        }
        assert!((35..=45).contains(&guesses), "{guesses} guesses in a day");
    }

    #[test]
    fn wrong_passwords_from_one_address_never_stop_the_owner_at_another() {
        let mut c = Clocked::new(10);
        let attacker = ip("10.0.0.66");
        for _ in 0..50 {
            if c.locked("victim@example.com", attacker) > 0 {
                c.now += LOCK_MAX;
            } else {
                c.fail("victim@example.com", attacker);
            }
        }
        assert!(c.locked("victim@example.com", attacker) > 0);
        c.succeed("victim@example.com", ip("10.0.0.7"));
    }

    #[test]
    fn an_account_under_attack_slows_every_address_that_failed_at_it_but_no_other() {
        let c = Clocked::new(10);
        // 100 addresses fail once each: none reaches its own limit.
        for i in 0..ACCOUNT_ALERT {
            c.fail(
                "victim@example.com",
                ip(&format!("10.1.{}.{}", i / 250, i % 250)),
            );
        }
        let attacker = ip("10.1.0.1");
        assert_eq!(c.locked("victim@example.com", attacker), 3600);
        // The owner, who never failed, is not slowed, and a success clears the alert.
        c.succeed("victim@example.com", ip("10.9.9.9"));
        assert_eq!(c.locked("victim@example.com", attacker), 0);
    }

    #[test]
    fn concurrent_guesses_cannot_outrun_the_count() {
        let t = std::sync::Arc::new(LoginThrottle::new(10));
        let admitted = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..25 {
                        if let Ok(a) = t.try_begin("victim@example.com", ip("10.0.0.1")) {
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
            "exactly the free failures got through"
        );
    }

    #[test]
    fn one_address_is_throttled_across_names() {
        let c = Clocked::new(2);
        let sprayer = ip("10.0.0.7");
        for i in 0..(2 * CLIENT_FACTOR) {
            c.fail(&format!("user{i}@example.com"), sprayer);
        }
        assert_eq!(
            c.locked("fresh@example.com", sprayer),
            60,
            "the address is locked"
        );
        assert_eq!(
            c.locked("fresh@example.com", ip("10.0.0.8")),
            0,
            "others are not"
        );
    }

    #[test]
    fn only_this_machines_own_addresses_are_exempt_from_the_address_limit() {
        let c = Clocked::new(2);
        for local in ["127.0.0.1", "::1"] {
            for i in 0..(4 * CLIENT_FACTOR) {
                c.fail(&format!("user{i}@example.com"), ip(local));
            }
            assert_eq!(c.locked("fresh@example.com", ip(local)), 0);
            // Its pairs are limited like anyone's.
            c.fail("a@example.com", ip(local));
            c.fail("a@example.com", ip(local));
            assert!(c.locked("a@example.com", ip(local)) > 0);
        }
        // Another loopback address is another client.
        for i in 0..(2 * CLIENT_FACTOR) {
            c.fail(&format!("other{i}@example.com"), ip("127.0.0.2"));
        }
        assert!(c.locked("fresh@example.com", ip("127.0.0.2")) > 0);
    }

    #[test]
    fn flooding_other_names_never_unlocks_a_pair_and_memory_stays_bounded() {
        let c = Clocked::new(2);
        let a = ip("10.0.0.1");
        c.fail("locked@example.com", a);
        c.fail("locked@example.com", a);
        assert!(c.locked("locked@example.com", a) > 0);
        for i in 0..(MAX_ENTRIES + 500) {
            if let Ok(mut x) = c.begin(&format!("flood{i}"), None) {
                x.end(End::Failed, c.now);
            }
        }
        assert!(c.t.lock().len() <= MAX_ENTRIES);
        assert!(c.locked("locked@example.com", a) > 0, "still locked");
    }

    #[test]
    fn logins_in_flight_make_others_wait_but_lock_nothing() {
        let t = LoginThrottle::new(2);
        let first = t.try_begin("a@example.com", None).expect("open");
        let second = t.try_begin("a@example.com", None).expect("open");
        assert_eq!(t.try_begin("a@example.com", None).err(), Some(NotNow::Busy));
        first.succeeded();
        second.undecided();
        t.try_begin("a@example.com", None)
            .expect("open again")
            .failed();
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
        let t = std::sync::Arc::new(LoginThrottle::new(2));
        let client = ip("10.0.0.8");
        let mut logins = tokio::task::JoinSet::new();
        for i in 0..(4 * CLIENT_FACTOR) {
            let t = std::sync::Arc::clone(&t);
            logins.spawn(async move {
                // Half of them for one account, which allows two in flight at once.
                let name = if i % 2 == 0 {
                    "same".to_owned()
                } else {
                    format!("user{i}")
                };
                let attempt = t
                    .begin(&name, client)
                    .await
                    .map_err(|s| format!("{name}: {s:?}"))?;
                tokio::task::yield_now().await;
                attempt.succeeded();
                Ok::<_, String>(())
            });
        }
        while let Some(done) = logins.join_next().await {
            done.expect("task").expect("admitted");
        }
        assert!(t.try_begin("next@example.com", client).is_ok());
    }
}
