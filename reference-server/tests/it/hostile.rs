//! Hostile clients on this machine, each playing from its own loopback address (127.0.0.2,
//! 127.0.0.3, …: distinct clients to the server), against an honest client on another: silent
//! sockets, an HTTP/2 preface, trickled headers, connection floods, requests that never send
//! their body, and an attempt to lock an account out. Each attack is bounded in count and
//! time; the limits are set low so that the tests take seconds.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::{Harness, PASSWORD, USER};
use reference_server::Config;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

fn addr(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

/// Loopback address `127.0.net.host`: each /24 a network of its own to the connection caps,
/// each address a client of its own to everything else.
fn at(net: u8, host: u8) -> IpAddr {
    IpAddr::from([127, 0, net, host])
}

/// A TCP connection to the server from `from`.
async fn connect(server: SocketAddr, from: IpAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(server).await.unwrap()
}

/// Whether the server closed the connection within `within` (reading sees the end, or an
/// error; an answer before the end is read and skipped).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// Resolves when the server has closed `stream` (reading sees the end, or an error; an answer
/// before the end is read and skipped). Through `&TcpStream`, so the stream stays open on this
/// side for whoever holds it.
async fn closed_by_server(stream: &TcpStream) {
    let mut buf = [0u8; 4096];
    loop {
        if stream.readable().await.is_err() {
            return;
        }
        match stream.try_read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}

/// Watches every stream at once until the server has closed `want` of them, or `within` has
/// passed; how many it closed. Waiting for the event rather than for a fixed time keeps the
/// tests below independent of this machine's speed: `within` is a bound a slow machine does
/// not reach, and each test keeps it well under the timeout that would close the others.
async fn closed_count(streams: &[TcpStream], want: usize, within: Duration) -> usize {
    use futures_util::StreamExt as _;
    let deadline = tokio::time::Instant::now() + within;
    let mut watching: futures_util::stream::FuturesUnordered<_> =
        streams.iter().map(closed_by_server).collect();
    let mut closed = 0;
    while closed < want {
        match tokio::time::timeout_at(deadline, watching.next()).await {
            Ok(Some(())) => closed += 1,
            Ok(None) | Err(_) => break,
        }
    }
    closed
}

/// A form body.
fn form(fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

const FORM: &str = "application/x-www-form-urlencoded";

/// An honest client on its own address. Its timeout only turns a hung request into a failure
/// rather than a stalled test, so it is far above any wait here: at 10 s, 100 logins hashing
/// on two busy cores beside the other tests timed out (`past_100_failures_…`), which said
/// nothing about the server.
fn honest(from: IpAddr) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .local_address(from)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// The honest client logs in and mints: the statuses it got, and how long it took.
async fn honest_round(client: &reqwest::Client, base: &str) -> (u16, u16, Duration) {
    let started = Instant::now();
    let login = client
        .post(format!("{base}/integration/v1/createRefreshToken/"))
        .header("Content-Type", FORM)
        .body(form(&[
            ("username", USER),
            ("password", PASSWORD),
            ("name", "honest"),
        ]))
        .send()
        .await
        .unwrap();
    let status = login.status().as_u16();
    let body: serde_json::Value =
        serde_json::from_str(&login.text().await.unwrap_or_default()).unwrap_or_default();
    let mint = client
        .post(format!("{base}/integration/v1/createAPIAccessToken/"))
        .header("Content-Type", FORM)
        .body(form(&[
            (
                "refresh_token",
                body["refresh_token"].as_str().unwrap_or(""),
            ),
            ("user_id", &body["user_id"].to_string()),
        ]))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    (status, mint, started.elapsed())
}

async fn server(tweak: impl FnOnce(&mut Config)) -> (Harness, SocketAddr) {
    let h = Harness::start_with(tweak).await;
    let at = h.server.as_ref().unwrap().addr();
    (h, at)
}

#[tokio::test]
async fn silent_sockets_an_http2_preface_and_trickled_headers_are_closed() {
    let (h, at) = server(|c| {
        c.header_timeout = Duration::from_millis(500);
        c.keep_alive_idle = Duration::from_millis(500);
    })
    .await;
    let mut silent = connect(at, addr(2)).await;
    let mut preface = connect(at, addr(2)).await;
    preface
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    let mut trickle = connect(at, addr(2)).await;
    trickle.write_all(b"POST /integration/v1/").await.unwrap();
    // And a client that was served once and then says nothing more.
    let mut idle = connect(at, addr(2)).await;
    idle.write_all(
        b"GET /openapi/api_authentication/ HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
    )
    .await
    .unwrap();
    for (what, stream) in [
        ("silent", &mut silent),
        ("HTTP/2 preface", &mut preface),
        ("trickled headers", &mut trickle),
        ("idle after a request", &mut idle),
    ] {
        assert!(
            closed_within(stream, Duration::from_secs(3)).await,
            "a {what} connection stayed open"
        );
    }
    let (login, mint, _) = honest_round(&honest(addr(3)), &h.base).await;
    assert_eq!((login, mint), (201, 201));
}

#[tokio::test]
async fn a_connection_flood_from_one_address_leaves_others_served() {
    let (h, at) = server(|c| {
        c.max_connections_per_address = 8;
        c.header_timeout = Duration::from_secs(30);
    })
    .await;
    let mut flood = Vec::new();
    for _ in 0..40 {
        flood.push(connect(at, self::at(60, 2)).await);
    }
    // Past the first eight, the server closes them at once: the eight it keeps stay open
    // until the header timeout, 30 s, so 32 closed within 10 s are the refused ones, however
    // slowly this machine gets round to refusing them.
    let closed = closed_count(&flood, 32, Duration::from_secs(10)).await;
    assert_eq!(
        closed, 32,
        "only {closed} of the 32 over the limit were closed"
    );
    let (login, mint, took) = honest_round(&honest(self::at(61, 3)), &h.base).await;
    assert_eq!((login, mint), (201, 201));
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn requests_that_never_send_their_body_take_no_ones_slot_but_their_own() {
    let (h, at) = server(|c| {
        c.max_in_flight = 8;
        c.max_in_flight_per_address = 4;
    })
    .await;
    // Three attackers, four bodiless requests each: more than all the global slots.
    let mut held = Vec::new();
    for attacker in 2..=4 {
        for _ in 0..4 {
            let mut s = connect(at, addr(attacker)).await;
            s.write_all(
                b"POST /integration/v1/createRefreshToken/ HTTP/1.1\r\nHost: x\r\n\
                  Content-Type: application/json\r\nContent-Length: 100\r\n\r\n",
            )
            .await
            .unwrap();
            held.push(s);
        }
    }
    // One more from an attacker is refused at once: its address has no slot left. The server
    // takes the slots as it reads the heads, which a loaded machine may not have done yet: until
    // it has, the request is served as any other (401, a made-up token), then refused; a fixed
    // pause would guess how long that takes here.
    let attacker = honest(addr(2));
    let deadline = Instant::now() + Duration::from_secs(10);
    let over = loop {
        let r = attacker
            .post(format!("{}/integration/v1/validateRefreshToken/", h.base))
            .header("Content-Type", FORM)
            .body(form(&[("refresh_token", "x"), ("user_id", "1")]))
            .send()
            .await
            .unwrap();
        if r.status() != 401 || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(over.status(), 503);
    assert!(over.headers().contains_key("retry-after"));
    // Everyone else is served as usual.
    let client = honest(addr(9));
    for _ in 0..5 {
        let (login, mint, _) = honest_round(&client, &h.base).await;
        assert_eq!((login, mint), (201, 201));
    }
    drop(held);
}

#[tokio::test]
async fn fifty_wrong_passwords_from_one_address_never_lock_the_owner_out() {
    let (h, _) = server(|_| {}).await;
    let attacker = honest(addr(2));
    let mut refused = 0;
    for _ in 0..50 {
        let r = attacker
            .post(format!("{}/integration/v1/createRefreshToken/", h.base))
            .header("Content-Type", FORM)
            .body(form(&[
                ("username", USER),
                ("password", "guess"),
                ("name", "x"),
            ]))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            401 => {}
            429 => {
                let wait: u64 = r.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=3600).contains(&wait), "{wait}");
                refused += 1;
            }
            other => panic!("{other}"),
        }
    }
    assert!(
        refused >= 40,
        "the attacker was slowed: {refused} of 50 refused"
    );
    let (login, mint, _) = honest_round(&honest(addr(3)), &h.base).await;
    assert_eq!((login, mint), (201, 201), "the owner, elsewhere, gets in");
}

/// One login from `from` with `password`: the status and, for a 429, its Retry-After.
async fn login_from(base: &str, from: IpAddr, password: &str) -> (u16, Option<u64>) {
    let r = honest(from)
        .post(format!("{base}/integration/v1/createRefreshToken/"))
        .header("Content-Type", FORM)
        .body(form(&[
            ("username", USER),
            ("password", password),
            ("name", "x"),
        ]))
        .send()
        .await
        .unwrap();
    let wait = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (r.status().as_u16(), wait)
}

/// Ten addresses fail ten times each at the honest user: 100 failures on the account, none
/// past any one address's free ten.
async fn hundred_failures(base: &str, net: u8) {
    let tries = (1..=10).map(|host| async move {
        for _ in 0..10 {
            assert_eq!(login_from(base, at(net, host), "wrong").await.0, 401);
        }
    });
    futures_util::future::join_all(tries).await;
}

#[tokio::test]
async fn past_100_failures_new_addresses_get_no_guess_judged() {
    let (h, _) = server(|_| {}).await;
    hundred_failures(&h.base, 10).await;
    let guesses = (1..=100).map(|host| login_from(&h.base, at(11, host), "another guess"));
    let answers = futures_util::future::join_all(guesses).await;
    let judged = answers.iter().filter(|(s, _)| *s == 401).count();
    assert!(
        judged <= 10,
        "{judged} of 100 guesses from new addresses judged"
    );
    for (status, wait) in &answers {
        if *status == 429 {
            assert!(wait.is_some_and(|w| (1..=3600).contains(&w)), "{wait:?}");
        }
    }
    // Not even the right password is judged from an address the account does not know.
    assert_eq!(login_from(&h.base, at(12, 1), PASSWORD).await.0, 429);
}

#[tokio::test]
async fn the_owner_is_not_locked_out_by_others_failures_after_a_typo() {
    let (h, _) = server(|_| {}).await;
    let owner = at(20, 1);
    assert_eq!(login_from(&h.base, owner, PASSWORD).await.0, 201);
    assert_eq!(login_from(&h.base, owner, "a typo").await.0, 401);
    hundred_failures(&h.base, 21).await;
    assert_eq!(
        login_from(&h.base, owner, PASSWORD).await,
        (201, None),
        "the owner signs in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_from_30_addresses_leaves_the_owner_served() {
    let (h, _) = server(|_| {}).await;
    let owner = at(30, 1);
    assert_eq!(login_from(&h.base, owner, PASSWORD).await.0, 201);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flood = tokio::task::JoinSet::new();
    for c in 0..80u16 {
        let (base, stop) = (h.base.clone(), std::sync::Arc::clone(&stop));
        let client = honest(at(31, u8::try_from(c % 30).unwrap() + 1));
        flood.spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                // Wrong passwords for names nobody has: every one costs a hash.
                let body = form(&[
                    ("username", &format!("flood{c}-{n}@example.com")),
                    ("password", "x"),
                    ("name", "x"),
                ]);
                let _ = client
                    .post(format!("{base}/integration/v1/createRefreshToken/"))
                    .header("Content-Type", FORM)
                    .body(body)
                    .send()
                    .await;
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut tries, mut ok, mut seen) = (0, 0, Vec::new());
    let end = Instant::now() + Duration::from_secs(8);
    while Instant::now() < end {
        tries += 1;
        let started = Instant::now();
        let (status, _) = login_from(&h.base, owner, PASSWORD).await;
        seen.push((status, started.elapsed().as_millis()));
        if status == 201 {
            ok += 1;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    flood.abort_all();
    assert!(
        ok * 100 >= tries * 95,
        "the owner got {ok} of {tries} logins through the flood (status, ms): {seen:?}"
    );
}

/// What the server answers to `head` (a request without a body) from `from`: the status line's
/// code, or 0 when it closed without one.
async fn answer_to(server: SocketAddr, from: IpAddr, head: &[u8]) -> u16 {
    let mut s = connect(server, from).await;
    let _ = s.write_all(head).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer)
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_request_head_is_bounded_in_bytes_and_headers() {
    let (_h, server) = server(|c| c.header_timeout = Duration::from_secs(20)).await;
    // An unfinished head past 16 KiB is refused at once, not held until the header timeout.
    let mut s = connect(server, at(50, 1)).await;
    let mut head =
        b"POST /integration/v1/validateRefreshToken/ HTTP/1.1\r\nHost: x\r\nX-Pad: ".to_vec();
    head.resize(head.len() + 64 * 1024, b'a');
    let _ = s.write_all(&head).await;
    assert!(
        closed_within(&mut s, Duration::from_secs(3)).await,
        "an unfinished 64 KiB head was kept"
    );
    // So is a head of 60 headers.
    let mut many = String::from("GET /openapi/api_authentication/ HTTP/1.1\r\nHost: x\r\n");
    for i in 0..60 {
        many.push_str(&format!("X-Header-{i}: {i}\r\n"));
    }
    many.push_str("Connection: close\r\n\r\n");
    assert_eq!(answer_to(server, at(50, 2), many.as_bytes()).await, 431);
    // A browser's ordinary head is well within both.
    let mut usual = String::from("GET /openapi/api_authentication/ HTTP/1.1\r\nHost: x\r\n");
    for i in 0..25 {
        usual.push_str(&format!("X-Header-{i}: {}\r\n", "v".repeat(100)));
    }
    usual.push_str("Connection: close\r\n\r\n");
    assert_eq!(answer_to(server, at(50, 3), usual.as_bytes()).await, 200);
}

#[tokio::test]
async fn idle_connections_from_17_networks_cannot_keep_an_18th_client_out() {
    let (h, server) = server(|c| {
        c.max_connections = 64;
        c.max_connections_per_address = 8;
        c.header_timeout = Duration::from_secs(30);
    })
    .await;
    // 17 networks, 8 idle connections each: more than all the places.
    let mut idle = Vec::new();
    for net in 0..17 {
        for host in 1..=8 {
            idle.push(connect(server, at(70 + net, host)).await);
        }
    }
    // The server has taken them all in once it has made room for the 72 past the 64 places
    // (nothing else closes an idle one before the 30 s header timeout): wait for that, rather
    // than for a pause that a slow machine may outlast, leaving places free for the 18th.
    let evicted = closed_count(&idle, 72, Duration::from_secs(15)).await;
    assert_eq!(evicted, 72, "the places were not all taken");
    // The 18th client: 8 requests, each on a new connection.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .local_address(at(90, 1))
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut answered = 0;
    for _ in 0..8 {
        let r = client
            .get(format!("{}/openapi/api_authentication/", h.base))
            .send()
            .await;
        if r.is_ok_and(|r| r.status() == 200) {
            answered += 1;
        }
    }
    assert_eq!(answered, 8, "the 18th client's requests were dropped");
    drop(idle);
}
