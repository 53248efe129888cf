//! The slots a request takes: one of its address's, from its first byte, and one of the
//! global ones, once its body has arrived (`policy.rs` says why in that order). Past either,
//! the request is answered 503 at once instead of waiting in a queue.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

/// Requests past their body, in all, at most.
pub const MAX_IN_FLIGHT: usize = 1024;

/// Requests under way from one address (IPv6: one /64) at most, bodies still arriving
/// included.
pub const MAX_IN_FLIGHT_PER_ADDRESS: usize = 128;

/// The global slots and the per-address counts.
pub struct Slots {
    global: tokio::sync::Semaphore,
    per_address: Mutex<HashMap<IpAddr, usize>>,
    per_address_max: usize,
}

impl Default for Slots {
    fn default() -> Self {
        Self::new(MAX_IN_FLIGHT, MAX_IN_FLIGHT_PER_ADDRESS)
    }
}

/// A request counted against its address until dropped.
pub(crate) struct AddressSlot<'s> {
    slots: &'s Slots,
    ip: IpAddr,
}

impl Drop for AddressSlot<'_> {
    fn drop(&mut self) {
        let mut map = self
            .slots
            .per_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

impl Slots {
    /// `global` slots, and `per_address` requests under way per address.
    pub fn new(global: usize, per_address: usize) -> Self {
        Self {
            global: tokio::sync::Semaphore::new(global),
            per_address: Mutex::new(HashMap::new()),
            per_address_max: per_address,
        }
    }

    /// A place for one more request from `ip`, held until dropped; none when the address (an
    /// IPv6 address's /64) has its share under way.
    pub(crate) fn address(&self, ip: IpAddr) -> Option<AddressSlot<'_>> {
        let ip = crate::peer::client_group(ip);
        let mut map = self
            .per_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let n = map.entry(ip).or_insert(0);
        if *n >= self.per_address_max {
            return None;
        }
        *n += 1;
        Some(AddressSlot { slots: self, ip })
    }

    /// One of the global slots, held until dropped; none when all are taken.
    pub(crate) fn global(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.global.try_acquire().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_cannot_take_more_than_its_share() {
        let slots = Slots::new(10, 2);
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        let first = slots.address(a).expect("first");
        let _second = slots.address(a).expect("second");
        assert!(slots.address(a).is_none());
        assert!(
            slots.address(b).is_some(),
            "another address is not affected"
        );
        drop(first);
        assert!(
            slots.address(a).is_some(),
            "a finished request frees its slot"
        );
    }

    #[test]
    fn an_ipv6_slash_64_is_one_address() {
        let slots = Slots::new(10, 2);
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        let _one = slots.address(ip("2001:db8:0:1::1")).expect("first");
        let _two = slots.address(ip("2001:db8:0:1::2")).expect("second");
        assert!(slots.address(ip("2001:db8:0:1:ffff::3")).is_none());
        assert!(
            slots.address(ip("2001:db8:0:2::1")).is_some(),
            "another /64"
        );
    }
}
