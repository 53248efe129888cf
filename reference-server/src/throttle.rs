//! Throttling of failed logins: per account and where it is tried from, per account across
//! sources, and per client address, so that guessing is slow and bounded while the owner is
//! never locked out by anyone else's failures.
//!
//! Where a login comes from (its **source**) is its client's address, IPv6 grouped by /64
//! ([`crate::peer::client_group`]), or on the token page a device cookie that signed in to the
//! account before. A source from which the account signed in successfully is **recognised**
//! (for [`KNOWN_FOR`] after that success).
//!
//! - **A pair** (one account from one source) may fail `free` times (`--max-failed-logins`,
//!   10 by default); after that, each failure locks the pair for a minute, doubling with every
//!   further failure up to an hour. The count is kept for a day after the pair's last failure,
//!   across lockouts, and a success of the pair clears it. So one source gets about
//!   `free` + 29 guesses at an account a day.
//! - **An account** counts the failures of every source it does not recognise. Once they reach
//!   [`ACCOUNT_LIMIT`] (or `free`, if that is higher) within a day (NIST SP 800-63B §5.2.2: at most 100 consecutive failures),
//!   no unrecognised source gets a guess judged: 429 with Retry-After, a minute after the last
//!   failure, doubling with each further one up to an hour. However many addresses an attacker
//!   has, the account sees about 100 + 30 guesses a day. A recognised source keeps its own
//!   pair's allowance: others' failures never lock the owner out, and the owner's own typos
//!   never count against the account. A success from an unrecognised source ends the run of
//!   failures; a recognised one does not (the owner signing in every day would otherwise give
//!   the attackers 100 guesses a day).
//! - **A client address** that fails `free` × [`CLIENT_FACTOR`] times across any accounts
//!   within a day (password spraying), or whose logins the hashing queue had to shed, is
//!   locked for all of them, a minute doubling to an hour. Only this machine's own addresses
//!   (127.0.0.1 and ::1, where a developer runs the suite against a local server again and
//!   again) are exempt from this one; other loopback addresses count as the distinct clients
//!   they are, and pairs and accounts are limited for everyone.
//!
//! Usernames are keyed as sent (trimmed, lower-cased), whether or not such a user exists, so
//! the throttle does not reveal which users exist. Logins still in flight count against a
//! pair's, an account's and an address's remaining failures ([`LoginThrottle::begin`] admits a
//! login only while they stay under the limit), so concurrent guesses cannot outrun the count;
//! a login that would pass it only because of others in flight waits for them, for 10 s at
//! most: then it is told the server is busy (503 with Retry-After), never that the account is
//! locked (429), which it is not.
//!
//! State is in memory and bounded ([`MAX_ENTRIES`], [`MAX_KNOWN`]); a restart forgets it.
//! Stale entries go first, then the older half of those that neither lock anything nor are
//! one failure from doing so; an entry that locks something is never evicted. When the table
//! is full of those, a login that would need a new entry is refused as busy (it fails closed):
//! only recognised sources still get in. It runs on the real monotonic clock, not the test
//! clock.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::peer::client_group;

/// Entries kept at most (pairs, accounts and addresses together): some MiB at most.
pub const MAX_ENTRIES: usize = 50_000;

/// Recognised (account, source) pairs kept at most; the oldest success goes first.
pub const MAX_KNOWN: usize = 50_000;

/// How long a success makes its source recognised for the account.
pub const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// How many more failures one client address may have, across accounts, than one pair.
pub const CLIENT_FACTOR: u32 = 10;

/// Failures of one account from the sources it does not recognise, within [`MEMORY`], from
/// which those sources get no guess judged.
pub const ACCOUNT_LIMIT: u32 = 100;

/// How long failures are remembered after the last one.
pub const MEMORY: Duration = Duration::from_secs(24 * 3600);

/// The first lockout; each further failure doubles it, up to [`LOCK_MAX`].
pub const LOCK_BASE: Duration = Duration::from_secs(60);

/// The longest lockout.
pub const LOCK_MAX: Duration = Duration::from_secs(3600);

/// How long a login waits for others in flight at most, before it is told to come back.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// Where a login comes from, as the throttle counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Source {
    /// A client address, grouped ([`client_group`]).
    Address(IpAddr),
    /// A device cookie's value, by its SHA-256 digest.
    Device([u8; 32]),
    /// A caller with no address (in-process: the tests, the embedded server's own calls).
    InProcess,
}

/// Who is logging in: the client's address and, on the token page, its device cookie.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Client {
    /// The client's address (`None` in-process).
    pub ip: Option<IpAddr>,
    /// The SHA-256 digest of the browser's device cookie, if it sent one.
    pub device: Option<[u8; 32]>,
}

impl Client {
    /// A client known by its address only (the API).
    pub fn at(ip: Option<IpAddr>) -> Self {
        Self { ip, device: None }
    }

    fn address(&self) -> Source {
        self.ip
            .map_or(Source::InProcess, |ip| Source::Address(client_group(ip)))
    }
}

/// What a count is kept for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// One account from one source.
    Pair(String, Source),
    /// One account, from the sources it does not recognise.
    Account(String),
    /// One client address (grouped), across accounts.
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
    /// Others in flight for the same pair, account or address could reach the limit (wait
    /// for them), or the throttle's table is full: the server is busy.
    Busy,
}

/// A lockout that a failure just began: what is locked, and for how long.
#[derive(Debug, PartialEq, Eq)]
pub struct Lockout {
    /// What is locked, in words for the log.
    pub what: &'static str,
    /// For how many seconds.
    pub seconds: u64,
}

/// The policy and its state.
#[derive(Debug)]
pub struct LoginThrottle {
    free: u32,
    entries: Mutex<Tables>,
    /// Woken whenever a login finishes.
    finished: Notify,
}

/// The counts, and the recognised sources with their last success.
#[derive(Debug, Default)]
struct Tables {
    counts: HashMap<Key, Entry>,
    known: HashMap<(String, Source), Instant>,
}

/// A login under way. [`Attempt::succeeded`], [`Attempt::failed`], [`Attempt::shed`] or
/// [`Attempt::undecided`] ends it; dropped without one, it counts as failed.
#[must_use = "a login must say how it ended, or it counts as a failure"]
pub struct Attempt<'t> {
    throttle: &'t LoginThrottle,
    keys: Vec<Key>,
    account: String,
    client: Client,
    recognised: bool,
    ended: bool,
}

/// How a login ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Succeeded,
    Failed,
    Shed,
    Undecided,
}

/// Rounds up, so that a client that waits exactly Retry-After is not refused again.
fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl Attempt<'_> {
    /// Whether the login comes from a source the account recognises (its turn in the hashing
    /// queue comes first).
    pub fn recognised(&self) -> bool {
        self.recognised
    }

    /// The password matched: the pair's count starts again (and the account's, if the source
    /// was not recognised: the run of failures is over), and the source is recognised from now
    /// on. The address's count stays (an attacker's own account must not wash its spraying
    /// away).
    pub fn succeeded(mut self) {
        self.end(End::Succeeded, Instant::now());
    }

    /// The password did not match (or the user does not exist); the lockout this failure
    /// began, if it began one.
    pub fn failed(mut self) -> Option<Lockout> {
        self.end(End::Failed, Instant::now())
    }

    /// The hashing queue had no room for it: nothing is judged, but the shed login counts
    /// against its address, so that flooding the queue costs the flooder.
    pub fn shed(mut self) {
        self.end(End::Shed, Instant::now());
    }

    /// No verdict was reached (the storage or the password workers were unavailable): nothing
    /// is counted, so that an overloaded server cannot lock its users out.
    pub fn undecided(mut self) {
        self.end(End::Undecided, Instant::now());
    }

    fn end(&mut self, how: End, now: Instant) -> Option<Lockout> {
        if std::mem::replace(&mut self.ended, true) {
            return None;
        }
        let mut lockout = None;
        {
            let mut t = self.throttle.lock();
            for key in &self.keys {
                let Some(e) = t.counts.get_mut(key) else {
                    continue;
                };
                e.in_flight = e.in_flight.saturating_sub(1);
                match (how, key) {
                    (End::Failed, _) | (End::Shed, Key::Client(_)) => {
                        e.failures = e.failures_now(now).saturating_add(1);
                        e.last_failure = now;
                    }
                    (End::Succeeded, Key::Pair(..) | Key::Account(_)) => e.failures = 0,
                    _ => {}
                }
                if e.failures_now(now) == 0 && e.in_flight == 0 {
                    t.counts.remove(key);
                }
            }
            if how == End::Succeeded {
                self.throttle
                    .recognise(&mut t, &self.account, &self.client, now);
            }
            if matches!(how, End::Failed | End::Shed) {
                lockout = self
                    .keys
                    .iter()
                    .map(|k| (k, self.throttle.locked_for(k, &t.counts, now)))
                    .filter(|(_, d)| !d.is_zero())
                    .max_by_key(|(_, d)| *d)
                    .map(|(k, d)| Lockout {
                        what: match k {
                            Key::Pair(..) => "this account from this source",
                            Key::Account(_) => "this account from sources it does not know",
                            Key::Client(_) => "this address, for every account",
                        },
                        seconds: whole_seconds(d),
                    });
            }
        }
        self.throttle.finished.notify_waiters();
        lockout
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
            entries: Mutex::new(Tables::default()),
            finished: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The failures a key may have before each further one locks it.
    fn threshold(&self, key: &Key) -> u32 {
        match key {
            Key::Pair(..) => self.free,
            // Never below one pair's allowance: `--max-failed-logins 1000000` (a fuzzer's
            // server, which sends thousands of wrong passwords on purpose) turns both off.
            Key::Account(_) => ACCOUNT_LIMIT.max(self.free),
            Key::Client(_) => self.free.saturating_mul(CLIENT_FACTOR),
        }
    }

    /// How much longer `key` is locked, given the counts.
    fn locked_for(&self, key: &Key, counts: &HashMap<Key, Entry>, now: Instant) -> Duration {
        let Some(e) = counts.get(key) else {
            return Duration::ZERO;
        };
        e.failures_now(now)
            .checked_sub(self.threshold(key))
            .map_or(Duration::ZERO, growing)
            .saturating_sub(now.duration_since(e.last_failure))
    }

    /// How many logins of `key` may be in flight at once: its failures still allowed before a
    /// lockout, and at least one (the one guess a lockout's end allows).
    fn room(&self, key: &Key, e: &Entry, now: Instant) -> u32 {
        self.threshold(key)
            .saturating_sub(e.failures_now(now))
            .max(1)
    }

    /// Whether `source` signed in to `account` successfully within [`KNOWN_FOR`].
    fn knows(t: &Tables, account: &str, source: Source, now: Instant) -> bool {
        t.known
            .get(&(account.to_owned(), source))
            .is_some_and(|at| now.duration_since(*at) < KNOWN_FOR)
    }

    /// Notes that `client` signed in to `account`: its address, and its device if it has one.
    fn recognise(&self, t: &mut Tables, account: &str, client: &Client, now: Instant) {
        let sources = [Some(client.address()), client.device.map(Source::Device)];
        for source in sources.into_iter().flatten() {
            let key = (account.to_owned(), source);
            if !t.known.contains_key(&key) && t.known.len() >= MAX_KNOWN {
                t.known.retain(|_, at| now.duration_since(*at) < KNOWN_FOR);
                if t.known.len() >= MAX_KNOWN {
                    // The oldest success is forgotten; its source is a stranger again.
                    if let Some(oldest) = t.known.iter().min_by_key(|(_, at)| **at) {
                        let oldest = oldest.0.clone();
                        t.known.remove(&oldest);
                    }
                }
            }
            t.known.insert(key, now);
        }
    }

    /// Admits a login, waiting while others in flight could still reach the limit:
    /// `Err(Locked(seconds))` while the pair, the account (for a source it does not recognise)
    /// or the client is locked out, `Err(Busy)` when others in flight kept it waiting
    /// `MAX_WAIT` or the throttle is full: the server is busy, nobody is locked (a 503, not a
    /// 429: the account has done nothing wrong).
    pub async fn begin(&self, username: &str, client: Client) -> Result<Attempt<'_>, NotNow> {
        let deadline = tokio::time::Instant::now() + MAX_WAIT;
        loop {
            // Created before the check, so a login finishing in between still wakes it.
            let finished = self.finished.notified();
            match self.try_begin(username, client) {
                Ok(a) => return Ok(a),
                Err(NotNow::Busy) => {
                    if tokio::time::timeout_at(deadline, finished).await.is_err() {
                        return Err(NotNow::Busy);
                    }
                }
                Err(locked) => return Err(locked),
            }
        }
    }

    /// Admits a login if it can be now.
    pub fn try_begin(&self, username: &str, client: Client) -> Result<Attempt<'_>, NotNow> {
        self.try_begin_at(username, client, Instant::now())
    }

    /// [`LoginThrottle::try_begin`] at `now`: the tests pass a time of their own, so that a
    /// day of guessing takes no time.
    fn try_begin_at(
        &self,
        username: &str,
        client: Client,
        now: Instant,
    ) -> Result<Attempt<'_>, NotNow> {
        let account = username.trim().to_lowercase();
        let mut t = self.lock();
        let device = client
            .device
            .map(Source::Device)
            .filter(|d| Self::knows(&t, &account, *d, now));
        let address = client.address();
        let recognised = device.is_some() || Self::knows(&t, &account, address, now);
        let mut keys = vec![Key::Pair(account.clone(), device.unwrap_or(address))];
        if !recognised {
            keys.push(Key::Account(account.clone()));
        }
        keys.extend(
            client
                .ip
                .filter(|ip| !own_machine(*ip))
                .map(|ip| Key::Client(client_group(ip))),
        );
        let locked = keys
            .iter()
            .map(|k| self.locked_for(k, &t.counts, now))
            .max()
            .unwrap_or_default();
        if !locked.is_zero() {
            return Err(NotNow::Locked(whole_seconds(locked)));
        }
        let full = keys.iter().any(|k| {
            t.counts
                .get(k)
                .is_some_and(|e| e.in_flight >= self.room(k, e, now))
        });
        if full {
            return Err(NotNow::Busy);
        }
        let missing = keys.iter().filter(|k| !t.counts.contains_key(k)).count();
        if t.counts.len() + missing > MAX_ENTRIES {
            self.prune(&mut t.counts, now);
        }
        let counted = t.counts.len() + missing <= MAX_ENTRIES;
        if !counted && !recognised {
            // Full of counts that must not be forgotten: refusing is safe, counting nothing
            // would not be. A recognised source gets in uncounted.
            tracing::warn!("the login throttle is full; logins from unknown sources are refused");
            return Err(NotNow::Busy);
        }
        let mut admitted = Vec::with_capacity(keys.len());
        for key in keys {
            if !counted && !t.counts.contains_key(&key) {
                continue;
            }
            t.counts
                .entry(key.clone())
                .or_insert_with(|| Entry::fresh(now))
                .in_flight += 1;
            admitted.push(key);
        }
        Ok(Attempt {
            throttle: self,
            keys: admitted,
            account,
            client,
            recognised,
            ended: false,
        })
    }

    /// Makes room: stale counts go, then the older half of the idle ones that neither lock
    /// anything nor stand at their threshold (forgetting those would give guesses back).
    fn prune(&self, counts: &mut HashMap<Key, Entry>, now: Instant) {
        counts.retain(|_, e| e.in_flight > 0 || e.failures_now(now) > 0);
        if counts.len() < MAX_ENTRIES {
            return;
        }
        let idle: Vec<(Key, Instant)> = counts
            .iter()
            .filter(|(k, e)| e.in_flight == 0 && e.failures_now(now) < self.threshold(k))
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
                counts.remove(&key);
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

        fn begin_as(&self, name: &str, client: Client) -> Result<Attempt<'_>, NotNow> {
            self.t.try_begin_at(name, client, self.now)
        }

        fn begin(&self, name: &str, from: Option<IpAddr>) -> Result<Attempt<'_>, NotNow> {
            self.begin_as(name, Client::at(from))
        }

        fn fail(&self, name: &str, from: Option<IpAddr>) {
            let mut a = self.begin(name, from).expect("admitted");
            a.end(End::Failed, self.now);
        }

        fn succeed_as(&self, name: &str, client: Client) {
            let mut a = self.begin_as(name, client).expect("admitted");
            a.end(End::Succeeded, self.now);
        }

        fn succeed(&self, name: &str, from: Option<IpAddr>) {
            self.succeed_as(name, Client::at(from));
        }

        fn locked_as(&self, name: &str, client: Client) -> u64 {
            match self.begin_as(name, client) {
                Err(NotNow::Locked(secs)) => secs,
                Ok(mut a) => {
                    a.end(End::Undecided, self.now);
                    0
                }
                Err(NotNow::Busy) => panic!("busy"),
            }
        }

        fn locked(&self, name: &str, from: Option<IpAddr>) -> u64 {
            self.locked_as(name, Client::at(from))
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
    fn guesses_at_one_account_from_any_number_of_addresses_are_bounded_per_day() {
        let mut c = Clocked::new(10);
        let start = c.now;
        let mut guesses = 0u32;
        let mut next = 0u32;
        while c.now.duration_since(start) < MEMORY {
            // Every guess from a new address, as a botnet or an IPv6 attacker would.
            next += 1;
            let from = ip(&format!(
                "10.{}.{}.{}",
                next >> 16,
                (next >> 8) & 255,
                next & 255
            ));
            let locked = c.locked("v@example.com", from);
            if locked > 0 {
                c.now += Duration::from_secs(locked);
            } else {
                c.fail("v@example.com", from);
                guesses += 1;
            }
        }
        assert!(
            (ACCOUNT_LIMIT..=ACCOUNT_LIMIT + 35).contains(&guesses),
            "{guesses} guesses in a day"
        );
    }

    #[test]
    fn past_the_account_limit_new_sources_are_refused_and_known_ones_are_not() {
        let c = Clocked::new(10);
        let owner = ip("10.9.9.8");
        c.succeed("victim@example.com", owner);
        // 100 addresses fail once each: none reaches its own limit.
        for i in 0..ACCOUNT_LIMIT {
            c.fail(
                "victim@example.com",
                ip(&format!("10.1.{}.{}", i / 250, i % 250)),
            );
        }
        for fresh in ["10.2.0.1", "10.2.0.2", "2001:db8::1"] {
            assert_eq!(c.locked("victim@example.com", ip(fresh)), 60, "{fresh}");
        }
        assert_eq!(
            c.locked("victim@example.com", owner),
            0,
            "the owner's address"
        );
        // The owner's successes do not reopen the account to the others.
        c.succeed("victim@example.com", owner);
        assert_eq!(c.locked("victim@example.com", ip("10.1.0.1")), 60);
        assert_eq!(
            c.locked("other@example.com", ip("10.2.0.1")),
            0,
            "other accounts"
        );
    }

    #[test]
    fn a_pair_allowance_above_the_account_limit_raises_it() {
        let c = Clocked::new(1_000);
        for i in 0..(2 * ACCOUNT_LIMIT) {
            c.fail(
                "v@example.com",
                ip(&format!("10.2.{}.{}", i / 200, i % 200)),
            );
        }
        assert_eq!(c.locked("v@example.com", ip("10.3.0.1")), 0);
    }

    #[test]
    fn the_owners_typo_and_others_failures_never_lock_the_owner_out() {
        let c = Clocked::new(10);
        let owner = ip("10.9.9.8");
        c.succeed("victim@example.com", owner);
        c.fail("victim@example.com", owner);
        // Ten others, ten wrong passwords each: each within its own free ten.
        for a in 0..10 {
            for _ in 0..10 {
                if c.locked("victim@example.com", ip(&format!("10.3.0.{a}"))) == 0 {
                    c.fail("victim@example.com", ip(&format!("10.3.0.{a}")));
                }
            }
        }
        assert!(
            c.locked("victim@example.com", ip("10.4.0.1")) > 0,
            "the account is shut to strangers"
        );
        assert_eq!(c.locked("victim@example.com", owner), 0, "not to its owner");
        // The owner's own pair still has its allowance: nine more typos are free.
        for _ in 0..8 {
            c.fail("victim@example.com", owner);
        }
        assert_eq!(c.locked("victim@example.com", owner), 0);
    }

    #[test]
    fn a_device_that_signed_in_keeps_its_allowance_from_any_address() {
        let c = Clocked::new(10);
        let laptop = Client {
            ip: ip("10.5.0.1"),
            device: Some([7; 32]),
        };
        c.succeed_as("victim@example.com", laptop);
        for i in 0..ACCOUNT_LIMIT {
            c.fail("victim@example.com", ip(&format!("10.6.0.{}", i % 200)));
        }
        let travelling = Client {
            ip: ip("10.7.0.1"),
            ..laptop
        };
        assert_eq!(c.locked_as("victim@example.com", travelling), 0);
        let forged = Client {
            device: Some([8; 32]),
            ..travelling
        };
        assert!(
            c.locked_as("victim@example.com", forged) > 0,
            "a device cookie the account never saw is a stranger"
        );
    }

    #[test]
    fn ipv6_addresses_count_by_their_slash_64() {
        let c = Clocked::new(3);
        for i in 1..=3 {
            c.fail("v@example.com", ip(&format!("2001:db8:0:1::{i:x}")));
        }
        assert_eq!(c.locked("v@example.com", ip("2001:db8:0:1::ffff")), 60);
        assert_eq!(c.locked("v@example.com", ip("2001:db8:0:2::1")), 0);
    }

    #[test]
    fn shed_logins_count_against_their_address() {
        let c = Clocked::new(2);
        let flooder = ip("10.0.0.9");
        for i in 0..(2 * CLIENT_FACTOR) {
            let mut a = c
                .begin(&format!("u{i}@example.com"), flooder)
                .expect("admitted");
            a.end(End::Shed, c.now);
        }
        assert_eq!(c.locked("fresh@example.com", flooder), 60);
        // Nothing was judged: no pair and no account counts a failure.
        assert_eq!(c.locked("u0@example.com", ip("10.0.0.10")), 0);
        assert!(
            c.t.lock()
                .counts
                .keys()
                .all(|k| matches!(k, Key::Client(_)))
        );
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
    fn concurrent_guesses_cannot_outrun_the_count() {
        let t = std::sync::Arc::new(LoginThrottle::new(10));
        let admitted = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..25 {
                        let from = Client::at(ip("10.0.0.1"));
                        if let Ok(a) = t.try_begin("victim@example.com", from) {
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
    fn concurrent_guesses_from_many_addresses_cannot_outrun_the_account() {
        let t = LoginThrottle::new(10);
        let mut held = Vec::new();
        for i in 0..(2 * ACCOUNT_LIMIT) {
            let from = Client::at(ip(&format!("10.8.{}.{}", i / 200, i % 200)));
            if let Ok(a) = t.try_begin("victim@example.com", from) {
                held.push(a);
            }
        }
        assert_eq!(held.len(), ACCOUNT_LIMIT as usize);
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
    fn flooding_other_names_never_unlocks_anything_and_memory_stays_bounded() {
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
        assert!(c.t.lock().counts.len() <= MAX_ENTRIES);
        assert!(c.locked("locked@example.com", a) > 0, "still locked");
    }

    #[test]
    fn a_table_full_of_lockouts_refuses_strangers_rather_than_count_nothing() {
        let c = Clocked::new(1);
        let owner = ip("10.0.0.2");
        c.succeed("owner@example.com", owner);
        // Every entry locks something (one failure each past a free one).
        {
            let mut t = c.t.lock();
            for i in 0..MAX_ENTRIES {
                let key = Key::Pair(format!("l{i}"), Source::InProcess);
                let mut e = Entry::fresh(c.now);
                e.failures = 5;
                t.counts.insert(key, e);
            }
        }
        assert_eq!(
            c.begin("someone@example.com", ip("10.0.0.3")).err(),
            Some(NotNow::Busy)
        );
        assert_eq!(
            c.locked("owner@example.com", owner),
            0,
            "known sources get in"
        );
        assert!(c.t.lock().counts.len() <= MAX_ENTRIES + 3);
    }

    #[test]
    fn a_failure_that_locks_says_so() {
        let c = Clocked::new(2);
        let a = ip("10.0.0.1");
        let mut first = c.begin("v@example.com", a).expect("open");
        assert_eq!(first.end(End::Failed, c.now), None);
        let mut second = c.begin("v@example.com", a).expect("open");
        assert_eq!(
            second.end(End::Failed, c.now),
            Some(Lockout {
                what: "this account from this source",
                seconds: 60
            })
        );
    }

    #[test]
    fn logins_in_flight_make_others_wait_but_lock_nothing() {
        let t = LoginThrottle::new(2);
        let none = Client::default();
        let first = t.try_begin("a@example.com", none).expect("open");
        let second = t.try_begin("a@example.com", none).expect("open");
        assert_eq!(t.try_begin("a@example.com", none).err(), Some(NotNow::Busy));
        first.undecided();
        second.undecided();
        let _ = t
            .try_begin("a@example.com", none)
            .expect("open again")
            .failed();
        let _ = t
            .try_begin("a@example.com", none)
            .expect("one failure is under the limit")
            .failed();
        assert!(matches!(
            t.try_begin("a@example.com", none),
            Err(NotNow::Locked(_))
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_good_logins_in_flight_from_one_client_all_get_through() {
        let t = std::sync::Arc::new(LoginThrottle::new(2));
        let client = Client::at(ip("10.0.0.8"));
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
