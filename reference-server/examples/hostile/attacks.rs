//! The attacks, each from loopback addresses of its own (127.0.0.200, the honest client's
//! /24, is never one of them): connections held open or trickled, floods of connections and
//! of logins, and guesses at the honest user's password.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt as _;
use tokio::task::JoinSet;

use crate::honest::{HONEST, Target, connect, form, login, post};

/// Guesses sent, answered 401 (judged) and refused 429, and a status worth naming.
pub type Counts = Arc<[AtomicUsize; 3]>;

/// `127.0.(10 + n).2`: attacker `n`, alone in its /24.
pub fn attacker(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 10 + n, 2])
}

/// Address `i` of a block of many (`127.<block>.x.y`), each a client of its own.
fn many(block: u8, i: usize) -> IpAddr {
    let hi = u8::try_from(i / 200).unwrap_or(u8::MAX);
    let lo = u8::try_from(i % 200 + 1).unwrap_or(1);
    IpAddr::from([127, block, hi, lo])
}

/// The attacks of the table, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attack {
    Silent,
    Http2,
    Slowloris,
    SlowBodies,
    NoBody,
    ConnectFlood,
    UnfinishedHeads,
    SeventeenNetworks,
    LoginFlood,
    OwnerAfterOthers,
    NewAddresses,
    Lockout,
    TenThousand,
}

/// Each attack and its name in the table.
pub const ATTACKS: [(Attack, &str); 13] = [
    (Attack::Silent, "2,000 silent sockets from 8 addresses"),
    (
        Attack::Http2,
        "2,000 HTTP/2 prior-knowledge prefaces from 8 addresses",
    ),
    (
        Attack::Slowloris,
        "2,000 slowloris heads (a byte a second) from 8 addresses",
    ),
    (
        Attack::SlowBodies,
        "1,000 slow bodies (a byte a second) from 8 addresses",
    ),
    (
        Attack::NoBody,
        "1,152 requests that never send their body, from 9 addresses",
    ),
    (
        Attack::ConnectFlood,
        "a connection flood: 20 loops connecting and closing, one address",
    ),
    (
        Attack::UnfinishedHeads,
        "2,000 unfinished heads of up to 400 KiB from 8 addresses",
    ),
    (
        Attack::SeventeenNetworks,
        "4,250 idle connections from 17 addresses in 17 /24s",
    ),
    (
        Attack::LoginFlood,
        "a login flood: 80 clients over 30 addresses, wrong passwords for unknown names",
    ),
    (
        Attack::OwnerAfterOthers,
        "the owner mistypes once, then 10 addresses send 10 wrong passwords each",
    ),
    (
        Attack::NewAddresses,
        "past 100 failures, one guess from each of 100 new addresses",
    ),
    (
        Attack::Lockout,
        "a lockout attempt: wrong passwords for the honest user, one address",
    ),
    (
        Attack::TenThousand,
        "10,000 guesses at the honest user from 10 addresses",
    ),
];

impl Attack {
    /// How long the attack lasts, given the run's usual duration: the login flood lasts 25 s,
    /// as in the issue that found it.
    pub fn lasts(self, usual: Duration) -> Duration {
        if self == Self::LoginFlood {
            usual.max(Duration::from_secs(25))
        } else {
            usual
        }
    }

    /// Whether its guesses are counted in the table.
    pub fn guesses(self) -> bool {
        matches!(
            self,
            Self::OwnerAfterOthers | Self::NewAddresses | Self::Lockout | Self::TenThousand
        )
    }
}

/// Holds `per_address` connections from each of `addresses` attackers, each sending `first`
/// and then `trickle` one byte a second, until `stop`.
fn hold_connections(
    t: &Target,
    addresses: u8,
    per_address: usize,
    first: &'static [u8],
    trickle: bool,
    stop: &Arc<AtomicBool>,
    set: &mut JoinSet<()>,
) {
    for a in 0..addresses {
        for _ in 0..per_address {
            let (to, stop) = (t.addr, Arc::clone(stop));
            set.spawn(async move {
                let Ok(mut s) = connect(to, attacker(a)).await else {
                    return;
                };
                let _ = s.write_all(first).await;
                while !stop.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    if trickle && s.write_all(b"x").await.is_err() {
                        return;
                    }
                }
            });
        }
    }
}

/// 2,000 connections from 8 addresses (each in its own block), each sending a request head
/// that never ends, 4 KiB at a time up to 400 KiB, then holding it; a connection the server
/// closes is opened again a second later, until `stop`.
fn unfinished_heads(t: &Target, stop: &Arc<AtomicBool>, set: &mut JoinSet<()>) {
    for a in 0..8u8 {
        for _ in 0..250 {
            let (to, stop) = (t.addr, Arc::clone(stop));
            set.spawn(async move {
                let chunk = [b'a'; 4096];
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(mut s) = connect(to, IpAddr::from([127, 4, a, 2])).await {
                        let mut ok = s
                            .write_all(
                                b"POST /integration/v1/validateRefreshToken/ HTTP/1.1\r\nX: ",
                            )
                            .await
                            .is_ok();
                        for _ in 0..100 {
                            ok = ok && s.write_all(&chunk).await.is_ok();
                        }
                        while ok && !stop.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            ok = s.write_all(b"a").await.is_ok();
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        }
    }
}

/// 250 idle connections from each of 17 addresses, each in a /24 of its own.
fn seventeen_networks(t: &Target, stop: &Arc<AtomicBool>, set: &mut JoinSet<()>) {
    for a in 0..17u8 {
        for _ in 0..250 {
            let (to, stop) = (t.addr, Arc::clone(stop));
            set.spawn(async move {
                let Ok(_s) = connect(to, IpAddr::from([127, 3, a, 2])).await else {
                    return;
                };
                while !stop.load(Ordering::SeqCst) {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        }
    }
}

/// 80 clients over 30 addresses, each logging in as fast as it is answered, with wrong
/// passwords for names nobody has (each one costs the server a hash).
fn login_flood(t: &Arc<Target>, stop: &Arc<AtomicBool>, set: &mut JoinSet<()>) {
    for c in 0..80usize {
        let (t, stop) = (Arc::clone(t), Arc::clone(stop));
        set.spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let name = format!("flood{c}-{n}@example.com");
                let body = form(&[("username", &name), ("password", "x"), ("name", "x")]);
                let _ = post(&t, many(2, c % 30), "createRefreshToken", body).await;
            }
        });
    }
}

/// Counts one guess's answer.
fn count(counts: &Counts, status: &str) {
    counts[0].fetch_add(1, Ordering::SeqCst);
    match status {
        "401" => counts[1].fetch_add(1, Ordering::SeqCst),
        "429" => counts[2].fetch_add(1, Ordering::SeqCst),
        _ => 0,
    };
}

/// Guesses at the honest user's password from `addresses` attackers, as fast as answered,
/// until `stop` or `limit` guesses in all.
fn guess(
    t: &Arc<Target>,
    addresses: u8,
    limit: usize,
    stop: &Arc<AtomicBool>,
    counts: &Counts,
    set: &mut JoinSet<()>,
) {
    let sent = Arc::new(AtomicUsize::new(0));
    for a in 0..addresses {
        let (t, stop, counts, sent) = (
            Arc::clone(t),
            Arc::clone(stop),
            Arc::clone(counts),
            Arc::clone(&sent),
        );
        set.spawn(async move {
            while !stop.load(Ordering::SeqCst) && sent.fetch_add(1, Ordering::SeqCst) < limit {
                count(&counts, &login(&t, attacker(a), "a guess").await);
            }
        });
    }
}

/// `addresses` addresses of `block` send `each` wrong passwords one after the other.
async fn wrong_passwords(
    t: &Arc<Target>,
    block: u8,
    addresses: usize,
    each: usize,
    counts: &Counts,
) {
    let tries = (0..addresses).map(|i| {
        let (t, counts) = (Arc::clone(t), Arc::clone(counts));
        async move {
            for _ in 0..each {
                count(&counts, &login(&t, many(block, i), "a guess").await);
            }
        }
    });
    futures_util::future::join_all(tries).await;
}

/// The owner mistypes once (from the honest client's address), then 10 addresses send 10
/// wrong passwords each.
fn owner_after_others(t: &Arc<Target>, counts: &Counts, set: &mut JoinSet<()>) {
    let (t, counts) = (Arc::clone(t), Arc::clone(counts));
    set.spawn(async move {
        let _ = login(&t, HONEST, "the owner's typo").await;
        wrong_passwords(&t, 5, 10, 10, &counts).await;
    });
}

/// 100 failures from 10 addresses (which may be refused already, if the account is past
/// its limit), then one guess from each of 100 new addresses: only those are counted.
fn new_addresses(t: &Arc<Target>, counts: &Counts, set: &mut JoinSet<()>) {
    let (t, counts) = (Arc::clone(t), Arc::clone(counts));
    set.spawn(async move {
        let ignored: Counts = Arc::default();
        wrong_passwords(&t, 6, 10, 10, &ignored).await;
        wrong_passwords(&t, 7, 100, 1, &counts).await;
    });
}

/// Starts `attack` until `stop` is set.
pub fn launch(
    attack: Attack,
    t: &Arc<Target>,
    stop: &Arc<AtomicBool>,
    counts: &Counts,
    set: &mut JoinSet<()>,
) {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    const SLOW_BODY: &[u8] = b"POST /integration/v1/validateRefreshToken/ HTTP/1.1\r\nHost: x\r\n\
        Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{";
    const NO_BODY: &[u8] = b"POST /integration/v1/validateRefreshToken/ HTTP/1.1\r\nHost: x\r\n\
        Content-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    match attack {
        Attack::Silent => hold_connections(t, 8, 250, b"", false, stop, set),
        Attack::Http2 => hold_connections(t, 8, 250, PREFACE, false, stop, set),
        Attack::Slowloris => hold_connections(t, 8, 250, b"POST /integr", true, stop, set),
        Attack::SlowBodies => hold_connections(t, 8, 125, SLOW_BODY, true, stop, set),
        Attack::NoBody => hold_connections(t, 9, 128, NO_BODY, false, stop, set),
        Attack::ConnectFlood => {
            for _ in 0..20 {
                let (to, stop) = (t.addr, Arc::clone(stop));
                set.spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        drop(connect(to, attacker(0)).await);
                    }
                });
            }
        }
        Attack::UnfinishedHeads => unfinished_heads(t, stop, set),
        Attack::SeventeenNetworks => seventeen_networks(t, stop, set),
        Attack::LoginFlood => login_flood(t, stop, set),
        Attack::OwnerAfterOthers => owner_after_others(t, counts, set),
        Attack::NewAddresses => new_addresses(t, counts, set),
        Attack::Lockout => guess(t, 1, usize::MAX, stop, counts, set),
        Attack::TenThousand => guess(t, 10, 10_000, stop, counts, set),
    }
}
