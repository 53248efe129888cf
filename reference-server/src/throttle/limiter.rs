//! The throttle itself: whether a login is admitted, what is locked and for how long, and
//! which sources an account recognises.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::attempt::Attempt;
use super::counts::{Client, Entry, Key, Source, Tables, growing, own_machine, whole_seconds};
use super::{ACCOUNT_LIMIT, CLIENT_FACTOR, KNOWN_FOR, MAX_ENTRIES, MAX_KNOWN, MAX_WAIT};
use crate::peer::client_group;

/// Why a login was not admitted now.
#[derive(Debug, PartialEq, Eq)]
pub enum NotNow {
    /// Locked out for this many more seconds.
    Locked(u64),
    /// Others in flight for the same pair, account or address could reach the limit (wait
    /// for them), or the throttle's table is full: the server is busy.
    Busy,
}

/// The policy and its state.
#[derive(Debug)]
pub struct LoginThrottle {
    free: u32,
    entries: Mutex<Tables>,
    /// Woken whenever a login finishes.
    pub(super) finished: Notify,
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

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
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
    pub(super) fn locked_for(
        &self,
        key: &Key,
        counts: &HashMap<Key, Entry>,
        now: Instant,
    ) -> Duration {
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
    pub(super) fn recognise(&self, t: &mut Tables, account: &str, client: &Client, now: Instant) {
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
    pub(super) fn try_begin_at(
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
