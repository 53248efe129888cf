//! What the throttle counts, and for whom: where a login comes from, the keys its failures
//! are counted under, and the counts themselves.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::{LOCK_BASE, LOCK_MAX, MEMORY};
use crate::peer::client_group;

/// Where a login comes from, as the throttle counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Source {
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

    pub(super) fn address(&self) -> Source {
        self.ip
            .map_or(Source::InProcess, |ip| Source::Address(client_group(ip)))
    }
}

/// What a count is kept for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Key {
    /// One account from one source.
    Pair(String, Source),
    /// One account, from the sources it does not recognise.
    Account(String),
    /// One client address (grouped), across accounts.
    Client(IpAddr),
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Entry {
    pub(super) failures: u32,
    /// Logins admitted and not finished.
    pub(super) in_flight: u32,
    pub(super) last_failure: Instant,
}

impl Entry {
    pub(super) fn fresh(now: Instant) -> Self {
        Self {
            failures: 0,
            in_flight: 0,
            last_failure: now,
        }
    }

    /// The failures that still count: none a day after the last.
    pub(super) fn failures_now(&self, now: Instant) -> u32 {
        if now.duration_since(self.last_failure) >= MEMORY {
            0
        } else {
            self.failures
        }
    }
}

/// A lockout of `2^beyond` × [`LOCK_BASE`], at most [`LOCK_MAX`].
pub(super) fn growing(beyond: u32) -> Duration {
    LOCK_BASE
        .checked_mul(1u32.checked_shl(beyond).unwrap_or(u32::MAX))
        .map_or(LOCK_MAX, |d| d.min(LOCK_MAX))
}

/// The counts, and the recognised sources with their last success.
#[derive(Debug, Default)]
pub(super) struct Tables {
    pub(super) counts: HashMap<Key, Entry>,
    pub(super) known: HashMap<(String, Source), Instant>,
}

/// Rounds up, so that a client that waits exactly Retry-After is not refused again.
pub(super) fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// Whether an address is this machine's own, exempt from the per-address limit.
pub(super) fn own_machine(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => v6 == std::net::Ipv6Addr::LOCALHOST,
    }
}
