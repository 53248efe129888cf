//! The hostile run of `bench/run.sh` ("Hostile clients" in BENCHMARKS.md): attacks from
//! loopback addresses 127.0.0.2 to 127.0.0.11 against a running server, each for a while,
//! with an honest client on 127.0.0.200 validating a token and logging in throughout, on a
//! new connection each time. For each attack: what the honest client saw during it and in
//! the seconds after, and the server's memory and open files.
//!
//! `cargo run --release -p reference-server --example hostile -- URL USER PASSWORD SERVER_PID
//! [SECONDS]`. Prints a Markdown table, then one JSON line of the raw figures. Needs an open
//! files limit of a few thousand (`ulimit -n 8192`) for itself and the server.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

const HONEST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 200));

fn attacker(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, 2 + n])
}

/// What the honest client saw.
#[derive(Default, Debug)]
struct Seen {
    statuses: BTreeMap<String, usize>,
    latencies: Vec<Duration>,
}

impl Seen {
    fn add(&mut self, what: String, took: Duration) {
        *self.statuses.entry(what).or_default() += 1;
        self.latencies.push(took);
    }

    fn p99_ms(&self) -> f64 {
        let mut l = self.latencies.clone();
        l.sort_unstable();
        l.get((l.len() * 99 / 100).min(l.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }

    fn cell(&self) -> String {
        let answers: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        format!("{}; p99 {:.1} ms", answers.join(", "), self.p99_ms())
    }
}

struct Target {
    addr: SocketAddr,
    user: String,
    password: String,
    pid: u32,
}

async fn connect(to: SocketAddr, from: IpAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

fn form(fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// One POST on a new connection from `from`: its status (or what went wrong) and its time.
async fn post(t: &Target, from: IpAddr, op: &str, body: String) -> (String, Duration, String) {
    let started = Instant::now();
    let result = async {
        let mut s = connect(t.addr, from).await?;
        let request = format!(
            "POST /integration/v1/{op}/ HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            t.addr,
            body.len()
        );
        s.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut s, &mut answer).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&answer).into_owned())
    };
    match tokio::time::timeout(Duration::from_secs(10), result).await {
        Ok(Ok(answer)) => {
            let status = answer.get(9..12).unwrap_or("???").to_owned();
            let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
            (status, started.elapsed(), body)
        }
        Ok(Err(e)) => (format!("{:?}", e.kind()), started.elapsed(), String::new()),
        Err(_) => ("timeout".into(), started.elapsed(), String::new()),
    }
}

/// A fresh access token of the honest user, for the validations.
async fn access_token(t: &Target) -> (String, String) {
    let (_, _, body) = post(
        t,
        HONEST,
        "createRefreshToken",
        form(&[
            ("username", &t.user),
            ("password", &t.password),
            ("name", "hostile run"),
        ]),
    )
    .await;
    let refresh: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let (rt, uid) = (
        refresh["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        refresh["user_id"].to_string(),
    );
    let (_, _, body) = post(
        t,
        HONEST,
        "createAPIAccessToken",
        form(&[("refresh_token", &rt), ("user_id", &uid)]),
    )
    .await;
    let access: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    (
        access["api_access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        uid,
    )
}

/// The honest client for `dur`: a validation every 20 ms and a login every second, each on
/// its own connection.
async fn honest_for(t: &Target, dur: Duration, token: &(String, String)) -> Seen {
    let mut seen = Seen::default();
    let end = Instant::now() + dur;
    let mut next_login = Instant::now();
    while Instant::now() < end {
        let (status, took, _) = post(
            t,
            HONEST,
            "validateAPIAccessToken",
            form(&[("api_access_token", &token.0), ("user_id", &token.1)]),
        )
        .await;
        seen.add(format!("validate {status}"), took);
        if Instant::now() >= next_login {
            next_login += Duration::from_secs(1);
            let (status, took, _) = post(
                t,
                HONEST,
                "createRefreshToken",
                form(&[
                    ("username", &t.user),
                    ("password", &t.password),
                    ("name", "honest"),
                ]),
            )
            .await;
            seen.add(format!("login {status}"), took);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    seen
}

/// The server's resident memory (MiB) and open files.
fn server_state(pid: u32) -> (f64, usize) {
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
    (rss, fds)
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

/// Guesses at the honest user's password from `addresses` attackers, as fast as answered,
/// until `stop` or `limit` guesses in all: (guesses, answered 401, refused 429).
fn guess(
    t: &Arc<Target>,
    addresses: u8,
    limit: usize,
    stop: &Arc<AtomicBool>,
    counts: &Arc<[AtomicUsize; 3]>,
    set: &mut JoinSet<()>,
) {
    for a in 0..addresses {
        let (t, stop, counts) = (Arc::clone(t), Arc::clone(stop), Arc::clone(counts));
        set.spawn(async move {
            while !stop.load(Ordering::SeqCst) && counts[0].fetch_add(1, Ordering::SeqCst) < limit {
                let body = form(&[
                    ("username", &t.user),
                    ("password", "a guess"),
                    ("name", "x"),
                ]);
                let (status, _, _) = post(&t, attacker(a), "createRefreshToken", body).await;
                match status.as_str() {
                    "401" => counts[1].fetch_add(1, Ordering::SeqCst),
                    "429" => counts[2].fetch_add(1, Ordering::SeqCst),
                    _ => 0,
                };
            }
        });
    }
}

/// The target and the seconds each attack lasts, from the command line; exits 2 on misuse.
fn target_from_args() -> (Arc<Target>, u64) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, user, password, pid, rest @ ..] = args.as_slice() else {
        eprintln!("usage: hostile URL USER PASSWORD SERVER_PID [SECONDS]");
        std::process::exit(2);
    };
    let seconds: u64 = rest.first().and_then(|s| s.parse().ok()).unwrap_or(10);
    let base = url.trim_end_matches('/').to_owned();
    let addr: SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .unwrap_or_else(|_| {
            eprintln!("URL must be http://IP:PORT");
            std::process::exit(2);
        });
    let t = Arc::new(Target {
        addr,
        user: user.clone(),
        password: password.clone(),
        pid: pid.parse().unwrap_or(0),
    });
    (t, seconds)
}

/// Starts attack number `kind` (see the table in `main`) until `stop` is set.
fn launch(
    kind: u8,
    t: &Arc<Target>,
    stop: &Arc<AtomicBool>,
    counts: &Arc<[AtomicUsize; 3]>,
    set: &mut JoinSet<()>,
) {
    match kind {
        0 => hold_connections(t, 8, 250, b"", false, stop, set),
        1 => hold_connections(
            t,
            8,
            250,
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            false,
            stop,
            set,
        ),
        2 => hold_connections(t, 8, 250, b"POST /integr", true, stop, set),
        3 => hold_connections(
            t,
            8,
            125,
            b"POST /integration/v1/validateRefreshToken/ HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
            true,
            stop,
            set,
        ),
        4 => hold_connections(
            t,
            9,
            128,
            b"POST /integration/v1/validateRefreshToken/ HTTP/1.1\r\nHost: x\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
            false,
            stop,
            set,
        ),
        5 => {
            for _ in 0..20 {
                let (to, stop) = (t.addr, Arc::clone(stop));
                set.spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        drop(connect(to, attacker(0)).await);
                    }
                });
            }
        }
        6 => guess(t, 1, usize::MAX, stop, counts, set),
        _ => guess(t, 10, 10_000, stop, counts, set),
    }
}

#[tokio::main]
async fn main() {
    let (t, seconds) = target_from_args();
    let during = Duration::from_secs(seconds);
    let after = Duration::from_secs(3);
    let token = access_token(&t).await;
    println!(
        "| attack | honest client during it | honest client after it | server RSS, open files during / after |"
    );
    println!("|---|---|---|---|");
    let mut raw = Vec::new();
    let attacks: [(&str, u8); 8] = [
        ("2,000 silent sockets from 8 addresses", 0),
        ("2,000 HTTP/2 prior-knowledge prefaces from 8 addresses", 1),
        (
            "2,000 slowloris headers (a byte a second) from 8 addresses",
            2,
        ),
        ("1,000 slow bodies (a byte a second) from 8 addresses", 3),
        (
            "1,152 requests that never send their body, from 9 addresses",
            4,
        ),
        (
            "a connection flood: 20 loops connecting and closing, one address",
            5,
        ),
        (
            "a lockout attempt: wrong passwords for the honest user, one address",
            6,
        ),
        ("10,000 guesses at the honest user from 10 addresses", 7),
    ];
    for (name, kind) in attacks {
        let stop = Arc::new(AtomicBool::new(false));
        let counts: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
        let mut set = JoinSet::new();
        launch(kind, &t, &stop, &counts, &mut set);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let seen = honest_for(&t, during, &token).await;
        let (rss_during, fds_during) = server_state(t.pid);
        stop.store(true, Ordering::SeqCst);
        set.abort_all();
        while set.join_next().await.is_some() {}
        let seen_after = honest_for(&t, after, &token).await;
        let (rss_after, fds_after) = server_state(t.pid);
        let guesses = if kind >= 6 {
            format!(
                " ({} guesses: {} answered 401, {} refused 429)",
                counts[0]
                    .load(Ordering::SeqCst)
                    .min(if kind == 7 { 10_000 } else { usize::MAX }),
                counts[1].load(Ordering::SeqCst),
                counts[2].load(Ordering::SeqCst)
            )
        } else {
            String::new()
        };
        println!(
            "| {name}{guesses} | {} | {} | {rss_during:.1} MiB, {fds_during} / {rss_after:.1} MiB, {fds_after} |",
            seen.cell(),
            seen_after.cell()
        );
        raw.push(serde_json::json!({
            "attack": name,
            "during": {"statuses": seen.statuses, "p99_ms": seen.p99_ms()},
            "after": {"statuses": seen_after.statuses, "p99_ms": seen_after.p99_ms()},
            "server": {"rss_during": rss_during, "fds_during": fds_during,
                       "rss_after": rss_after, "fds_after": fds_after},
            "guesses": [counts[0].load(Ordering::SeqCst), counts[1].load(Ordering::SeqCst),
                        counts[2].load(Ordering::SeqCst)],
        }));
    }
    println!("{}", serde_json::Value::Array(raw));
}
