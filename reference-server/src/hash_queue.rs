//! The queue in front of the password workers, fair between clients.
//!
//! A password hash costs tens of milliseconds of a core, and a queue shared first come, first
//! served goes to whoever sends fastest: one flooder with many clients starves everyone else,
//! and a login refused because the queue is full costs it nothing. So:
//!
//! - each client (an address, IPv6 by /64: [`crate::peer::client_group`]) may have at most
//!   `per_client` computations waiting; this machine's own addresses and in-process callers
//!   only the queue's total;
//! - waiting clients are served in turn (round robin), not in arrival order;
//! - logins from a source the account recognises (it signed in from there before, see
//!   `throttle/`) wait in a queue of their own, served before the others: the owner's login
//!   waits for the computations under way, not for a flood.
//!
//! A computation that finds no room is refused at once ([`Full`]): the caller answers 503
//! with Retry-After, and the login throttle counts it against the client's address.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Condvar, Mutex, PoisonError};

/// Whose computation a job is, for its place in the queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Turn {
    /// The client's address, grouped (`None`: in-process, start-up, the control protocol).
    pub client: Option<IpAddr>,
    /// Served before the others: a login from a source the account recognises, or the
    /// server's own work.
    pub first: bool,
}

impl Turn {
    /// The server's own work (start-up, the control protocol): first, with no client.
    pub const FIRST: Self = Self {
        client: None,
        first: true,
    };
}

/// There is no room for the job: its client has its share waiting, or the queue is full.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// Jobs waiting in one tier, per client, with the clients in the order they are served.
struct Tier<T> {
    waiting: HashMap<Option<IpAddr>, VecDeque<T>>,
    order: VecDeque<Option<IpAddr>>,
    len: usize,
}

impl<T> Default for Tier<T> {
    fn default() -> Self {
        Self {
            waiting: HashMap::new(),
            order: VecDeque::new(),
            len: 0,
        }
    }
}

impl<T> Tier<T> {
    fn queued(&self, client: Option<IpAddr>) -> usize {
        self.waiting.get(&client).map_or(0, VecDeque::len)
    }

    fn push(&mut self, client: Option<IpAddr>, job: T) {
        let queue = self.waiting.entry(client).or_default();
        if queue.is_empty() {
            self.order.push_back(client);
        }
        queue.push_back(job);
        self.len += 1;
    }

    /// The next client's oldest job; that client goes to the back of the line.
    fn pop(&mut self) -> Option<T> {
        let client = self.order.pop_front()?;
        let queue = self.waiting.get_mut(&client)?;
        let job = queue.pop_front();
        self.len -= usize::from(job.is_some());
        if queue.is_empty() {
            self.waiting.remove(&client);
        } else {
            self.order.push_back(client);
        }
        job
    }
}

struct State<T> {
    /// The recognised sources' tier, then everyone else's; each holds `total` at most, so a
    /// flood that fills the second leaves the first its room.
    tiers: [Tier<T>; 2],
    closed: bool,
}

/// The queue; workers take jobs with [`FairQueue::pop`].
pub struct FairQueue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    per_client: usize,
    total: usize,
}

/// Whether a client is exempt from the per-client share: in-process callers, and this
/// machine's own addresses (a developer's suite, a local benchmark).
/// Clients come grouped ([`crate::peer::client_group`]): ::1 arrives as its /64, `::`.
fn unlimited(client: Option<IpAddr>) -> bool {
    let v6_here = IpAddr::V6(std::net::Ipv6Addr::LOCALHOST);
    client.is_none_or(|ip| {
        ip == IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
            || ip == v6_here
            || ip == crate::peer::client_group(v6_here)
    })
}

impl<T> FairQueue<T> {
    /// A queue holding `total` jobs at most in each tier, `per_client` of them from one client.
    pub fn new(per_client: usize, total: usize) -> Self {
        Self {
            state: Mutex::new(State {
                tiers: [Tier::default(), Tier::default()],
                closed: false,
            }),
            ready: Condvar::new(),
            per_client: per_client.max(1),
            total: total.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job`, or refuses it at once when there is no room for it.
    pub fn push(&self, turn: Turn, job: T) -> Result<(), Full> {
        let mut s = self.lock();
        let tier = usize::from(!turn.first);
        let share = unlimited(turn.client) || s.tiers[tier].queued(turn.client) < self.per_client;
        if s.closed || !share || s.tiers[tier].len >= self.total {
            return Err(Full);
        }
        s.tiers[tier].push(turn.client, job);
        drop(s);
        self.ready.notify_one();
        Ok(())
    }

    /// The next job, waiting for one; `None` once the queue is closed.
    pub fn pop(&self) -> Option<T> {
        let mut s = self.lock();
        loop {
            if s.closed {
                return None;
            }
            let [first, rest] = &mut s.tiers;
            if let Some(job) = first.pop().or_else(|| rest.pop()) {
                return Some(job);
            }
            s = self.ready.wait(s).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Closes the queue: the workers waiting in [`FairQueue::pop`] return, jobs still waiting
    /// are dropped (their callers see their reply channel closed).
    pub fn close(&self) {
        let mut s = self.lock();
        s.closed = true;
        s.tiers = [Tier::default(), Tier::default()];
        drop(s);
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(s: &str, first: bool) -> Turn {
        Turn {
            client: Some(s.parse().expect("ip")),
            first,
        }
    }

    #[test]
    fn one_client_gets_its_share_and_no_more() {
        let q = FairQueue::new(2, 10);
        assert_eq!(q.push(from("10.0.0.1", false), 1), Ok(()));
        assert_eq!(q.push(from("10.0.0.1", false), 2), Ok(()));
        assert_eq!(q.push(from("10.0.0.1", false), 3), Err(Full));
        assert_eq!(q.push(from("10.0.0.2", false), 4), Ok(()), "another client");
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.push(from("10.0.0.1", false), 5), Ok(()), "room again");
    }

    #[test]
    fn clients_take_turns_and_recognised_logins_go_first() {
        let q = FairQueue::new(3, 20);
        for job in 1..=3 {
            q.push(from("10.0.0.1", false), job).expect("room");
        }
        q.push(from("10.0.0.2", false), 10).expect("room");
        q.push(from("10.0.0.3", true), 100).expect("room");
        let served: Vec<i32> = (0..5).filter_map(|_| q.pop()).collect();
        assert_eq!(served, [100, 1, 10, 2, 3]);
    }

    #[test]
    fn the_total_bounds_everyone_and_this_machine_only_by_it() {
        let q = FairQueue::new(1, 3);
        let here = Turn {
            client: Some("127.0.0.1".parse().expect("ip")),
            first: false,
        };
        assert_eq!(q.push(here, 0), Ok(()));
        let here6 = Turn {
            client: Some(crate::peer::client_group("::1".parse().expect("ip"))),
            first: false,
        };
        for job in 1..3 {
            assert_eq!(
                q.push(here6, job),
                Ok(()),
                "::1, grouped as its /64, neither"
            );
        }
        assert_eq!(q.push(from("127.0.0.2", false), 9), Err(Full));
        assert_eq!(
            q.push(from("10.0.0.1", true), 9),
            Ok(()),
            "the first tier has room of its own"
        );
    }

    #[test]
    fn closing_wakes_the_workers() {
        let q = std::sync::Arc::new(FairQueue::<u8>::new(1, 1));
        let worker = {
            let q = std::sync::Arc::clone(&q);
            std::thread::spawn(move || q.pop())
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        q.close();
        assert_eq!(worker.join().expect("worker"), None);
        assert_eq!(q.push(Turn::default(), 1), Err(Full));
    }
}
