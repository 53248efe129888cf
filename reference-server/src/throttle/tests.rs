//! The throttle's tests, on a clock of their own: a day of guessing takes no time.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::attempt::{Attempt, End, Lockout};
use super::counts::{Entry, Key, Source};
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
