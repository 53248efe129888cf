//! A login under way, and how it ended: what it counts, and the lockout it may begin.

use std::time::Instant;

use super::LoginThrottle;
use super::counts::{Client, Key, whole_seconds};

/// A lockout that a failure just began: what is locked, and for how long.
#[derive(Debug, PartialEq, Eq)]
pub struct Lockout {
    /// What is locked, in words for the log.
    pub what: &'static str,
    /// For how many seconds.
    pub seconds: u64,
}

/// A login under way. [`Attempt::succeeded`], [`Attempt::failed`], [`Attempt::shed`] or
/// [`Attempt::undecided`] ends it; dropped without one, it counts as failed.
#[must_use = "a login must say how it ended, or it counts as a failure"]
pub struct Attempt<'t> {
    pub(super) throttle: &'t LoginThrottle,
    pub(super) keys: Vec<Key>,
    pub(super) account: String,
    pub(super) client: Client,
    pub(super) recognised: bool,
    pub(super) ended: bool,
}

/// How a login ended.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Succeeded,
    Failed,
    Shed,
    Undecided,
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

    pub(super) fn end(&mut self, how: End, now: Instant) -> Option<Lockout> {
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
