//! Open connections: what each is doing (for its idle watchdog), and the caps on them, in all
//! and per network, with room made for newcomers when all are taken.
//!
//! - **Per network.** At most `max_per_network` connections from one IPv4 /24 or IPv6 /64
//!   ([`crate::peer::network_group`]): a client with a handful of addresses usually has them
//!   in one block, so a cap per address would be a cap per address it bothered to use. A
//!   trusted proxy's connections are not counted (they carry many clients).
//! - **In all.** At most `max_total`. When all are taken, the oldest connection that has not
//!   sent a request yet (it is silent, or still trickling its headers) is closed to make room
//!   for the newcomer; only when every open connection has been served is the newcomer
//!   refused. So idle sockets from many networks cannot keep everyone else out: to hold a
//!   place, a client has to use it.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::peer::{Cidr, network_group};

/// What one connection is doing, for its idle watchdog and for choosing whom to close.
pub(crate) struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    served: AtomicBool,
    /// Milliseconds from `opened` to the end of the last request.
    last_end: AtomicU64,
    /// Told when the connection is closed to make room for a newcomer.
    pub(crate) evicted: Notify,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            last_end: AtomicU64::new(0),
            evicted: Notify::new(),
        }
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether the connection has not begun a request yet.
    fn unserved(&self) -> bool {
        !self.served.load(Ordering::SeqCst) && self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// How much longer the connection may stay quiet, or `None` while a request runs.
    pub(crate) fn quiet_left(&self, first: Duration, between: Duration) -> Option<Duration> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let (limit, since) = if self.served.load(Ordering::SeqCst) {
            (between, self.last_end.load(Ordering::SeqCst))
        } else {
            (first, 0)
        };
        let idle = Duration::from_millis(self.millis().saturating_sub(since));
        Some(limit.saturating_sub(idle))
    }
}

/// A request under way on a connection.
pub(crate) struct Busy(Arc<Activity>);

impl Busy {
    pub(crate) fn begin(activity: &Arc<Activity>) -> Self {
        activity.served.store(true, Ordering::SeqCst);
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(activity))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.last_end.store(self.0.millis(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The open connections, oldest first, and the counts per network.
#[derive(Default)]
struct Registry {
    /// By admission order; each with its network (`None`: not counted, a trusted proxy).
    open: BTreeMap<u64, (Arc<Activity>, Option<IpAddr>)>,
    per_network: HashMap<IpAddr, usize>,
    next: u64,
}

impl Registry {
    /// Forgets connection `id`, if it is still counted.
    fn remove(&mut self, id: u64) {
        let Some((_, net)) = self.open.remove(&id) else {
            return;
        };
        if let Some(net) = net
            && let Some(n) = self.per_network.get_mut(&net)
        {
            *n -= 1;
            if *n == 0 {
                self.per_network.remove(&net);
            }
        }
    }
}

/// Open connections, in all and per network.
pub(crate) struct Open {
    max_total: usize,
    max_per_network: usize,
    trusted: Arc<Vec<Cidr>>,
    registry: Mutex<Registry>,
}

/// One admitted connection, counted until dropped (or until it is evicted).
pub(crate) struct Admitted {
    open: Arc<Open>,
    id: u64,
    /// What the connection is doing; its `evicted` says when to close it.
    pub(crate) activity: Arc<Activity>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.open.lock().remove(self.id);
    }
}

impl Open {
    /// Caps of `max_total` connections in all and `max_per_network` per network, the
    /// connections of `trusted` proxies counted only in all.
    pub(crate) fn new(max_total: usize, max_per_network: usize, trusted: Arc<Vec<Cidr>>) -> Self {
        Self {
            max_total: max_total.max(1),
            max_per_network: max_per_network.max(1),
            trusted,
            registry: Mutex::new(Registry::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a connection from `ip`, closing the oldest one that has not sent a request when
    /// all are taken; `None` when its network has its share, or every open connection is in
    /// use.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admitted> {
        let net = (!self.trusted.iter().any(|c| c.contains(ip))).then(|| network_group(ip));
        let mut r = self.lock();
        if let Some(net) = net
            && r.per_network.get(&net).copied().unwrap_or(0) >= self.max_per_network
        {
            return None;
        }
        if r.open.len() >= self.max_total {
            let victim = r
                .open
                .iter()
                .find(|(_, (a, _))| a.unserved())
                .map(|(id, (a, _))| (*id, Arc::clone(a)))?;
            r.remove(victim.0);
            // Stored if its task is not waiting yet: it closes as soon as it looks.
            victim.1.evicted.notify_one();
        }
        let id = r.next;
        r.next += 1;
        let activity = Arc::new(Activity::new());
        r.open.insert(id, (Arc::clone(&activity), net));
        if let Some(net) = net {
            *r.per_network.entry(net).or_insert(0) += 1;
        }
        Some(Admitted {
            open: Arc::clone(self),
            id,
            activity,
        })
    }

    /// Connections counted now.
    #[cfg(test)]
    fn count(&self) -> usize {
        self.lock().open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn connections_are_capped_per_network_but_not_for_trusted_proxies() {
        let open = Arc::new(Open::new(
            5,
            2,
            Arc::new(vec!["10.0.0.0/8".parse().expect("cidr")]),
        ));
        let first = open.admit(ip("192.0.2.1")).expect("first");
        let _second = open.admit(ip("192.0.2.200")).expect("second, same /24");
        assert!(
            open.admit(ip("192.0.2.9")).is_none(),
            "a third from the /24"
        );
        let _other = open.admit(ip("192.0.3.1")).expect("another /24");
        drop(first);
        let _again = open.admit(ip("192.0.2.1")).expect("room once one closed");
        let _p1 = open.admit(ip("10.0.0.1")).expect("proxy");
        let _p2 = open
            .admit(ip("10.0.0.1"))
            .expect("a proxy is not capped per network");
        assert_eq!(open.count(), 5);
    }

    #[test]
    fn when_all_are_taken_the_oldest_unserved_connection_makes_room() {
        let open = Arc::new(Open::new(3, 10, Arc::new(Vec::new())));
        let served = open.admit(ip("192.0.2.1")).expect("a");
        drop(Busy::begin(&served.activity));
        let idle_old = open.admit(ip("192.0.3.1")).expect("b");
        let idle_new = open.admit(ip("192.0.4.1")).expect("c");
        let newcomer = open.admit(ip("192.0.5.1")).expect("room made");
        assert_eq!(open.count(), 3);
        // The oldest unserved one was told to close; the served one and the newer were not.
        let told = |a: &Admitted| futures_now(a.activity.evicted.notified());
        assert!(told(&idle_old));
        assert!(!told(&idle_new));
        assert!(!told(&served));
        drop(idle_old);
        assert_eq!(
            open.count(),
            3,
            "an evicted connection is not counted twice"
        );
        // Every open connection in use: the next newcomer is refused.
        let _busy = [&served, &idle_new, &newcomer].map(|a| Busy::begin(&a.activity));
        assert!(open.admit(ip("192.0.6.1")).is_none());
    }

    /// Whether `f` is ready at once.
    fn futures_now(f: impl std::future::Future<Output = ()>) -> bool {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut f = std::pin::pin!(f);
        f.as_mut().poll(&mut cx).is_ready()
    }
}
