//! Mixed traffic at capacity, shared by the load test (`tests/it/load.rs`, a few seconds) and the
//! load generator of the benchmarks (`examples/load.rs`, a minute): many connections, each
//! logging in, then minting, validating, regenerating and revoking on its own tokens as fast
//! as the server answers, with a share of logins throughout (the expensive request: argon2id).
//!
//! It counts every answer by operation and status, and its latency. What it does not do is
//! wait: a 503 or 429 is counted, and the next request follows at once, as a load at capacity
//! does.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The operations, with their share of the requests (per 100).
pub const MIX: &[(&str, u32)] = &[
    ("createRefreshToken", 3),
    ("createAPIAccessToken", 25),
    ("validateAPIAccessToken", 50),
    ("validateRefreshToken", 14),
    ("regenRefreshToken", 4),
    ("revokeAPIAccessTokens", 4),
];

/// What one connection saw.
#[derive(Default, Debug)]
pub struct Tally {
    /// (operation, status) -> count; status 0 is a transport error.
    pub answers: BTreeMap<(&'static str, u16), u64>,
    /// Per operation, latencies in microseconds.
    pub latencies: BTreeMap<&'static str, Vec<u32>>,
}

impl Tally {
    fn add(&mut self, op: &'static str, status: u16, took: Duration) {
        *self.answers.entry((op, status)).or_default() += 1;
        self.latencies
            .entry(op)
            .or_default()
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
    }

    /// Adds another tally into this one.
    pub fn merge(&mut self, other: Tally) {
        for (k, n) in other.answers {
            *self.answers.entry(k).or_default() += n;
        }
        for (op, l) in other.latencies {
            self.latencies.entry(op).or_default().extend(l);
        }
    }

    /// All answers.
    pub fn total(&self) -> u64 {
        self.answers.values().sum()
    }

    /// Answers that no correct server gives to this traffic, loaded or not: anything but the
    /// operation's success, the documented 503 of a server at capacity, and, for a validation
    /// of an access token the connection has revoked or not yet minted, 401. No answer at all
    /// (status 0) is unexpected too.
    pub fn unexpected(&self) -> Vec<((&'static str, u16), u64)> {
        self.answers
            .iter()
            .filter(|((op, s), _)| !expected(op).contains(s))
            .map(|(k, n)| (*k, *n))
            .collect()
    }

    /// The latency of `op` at `permille` (500: the median, 990: p99), in milliseconds.
    pub fn quantile_ms(&mut self, op: &str, permille: usize) -> Option<f64> {
        let l = self.latencies.get_mut(op)?;
        if l.is_empty() {
            return None;
        }
        l.sort_unstable();
        let i = (l.len() - 1) * permille.min(1000) / 1000;
        Some(f64::from(l[i]) / 1000.0)
    }

    /// One line per operation: answers by status, p50 and p99.
    pub fn summary(&mut self, seconds: f64) -> String {
        let mut out = String::new();
        for (op, _) in MIX {
            let statuses: Vec<String> = self
                .answers
                .iter()
                .filter(|((o, _), _)| o == op)
                .map(|((_, s), n)| format!("{s}: {n}"))
                .collect();
            let n: u64 = self
                .answers
                .iter()
                .filter(|((o, _), _)| o == op)
                .map(|(_, n)| n)
                .sum();
            let p50 = self.quantile_ms(op, 500).unwrap_or(f64::NAN);
            let p99 = self.quantile_ms(op, 990).unwrap_or(f64::NAN);
            out += &format!(
                "{op:<24} {:>8.0}/s  p50 {p50:>7.2} ms  p99 {p99:>7.2} ms  [{}]\n",
                n as f64 / seconds,
                statuses.join(", ")
            );
        }
        out
    }
}

/// What each operation of the mix may answer: each connection works on its own tokens, with
/// the right password, so nothing but capacity (503) stands between it and success.
fn expected(op: &str) -> &'static [u16] {
    match op {
        "createRefreshToken" | "createAPIAccessToken" => &[201, 503],
        "validateAPIAccessToken" => &[200, 401, 503],
        _ => &[200, 503],
    }
}

/// A form body.
fn form(fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

struct Conn {
    http: reqwest::Client,
    base: String,
    username: String,
    password: String,
    refresh: Option<(String, String)>,
    access: Vec<String>,
    tally: Tally,
    seed: u64,
}

impl Conn {
    fn next(&mut self, n: u64) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed % n
    }

    async fn post(&mut self, op: &'static str, body: String) -> Option<Value> {
        let started = Instant::now();
        let sent = self
            .http
            .post(format!("{}/integration/v1/{op}/", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await;
        let (status, json) = match sent {
            Ok(r) => {
                let status = r.status().as_u16();
                let bytes = r.bytes().await.unwrap_or_default();
                (status, serde_json::from_slice::<Value>(&bytes).ok())
            }
            Err(_) => (0, None),
        };
        self.tally.add(op, status, started.elapsed());
        json.filter(|_| (200..300).contains(&status))
    }

    async fn login(&mut self) {
        let name = format!("load-{}", self.next(1 << 30));
        let body = form(&[
            ("username", &self.username.clone()),
            ("password", &self.password.clone()),
            ("name", &name),
        ]);
        if let Some(t) = self.post("createRefreshToken", body).await {
            self.take_refresh(&t);
        }
    }

    fn take_refresh(&mut self, t: &Value) {
        if let (Some(token), Some(user)) = (t["refresh_token"].as_str(), t["user_id"].as_i64()) {
            self.refresh = Some((token.to_owned(), user.to_string()));
            self.access.clear();
        }
    }

    async fn step(&mut self) {
        let Some((refresh, user)) = self.refresh.clone() else {
            return self.login().await;
        };
        let refresh_body = form(&[("refresh_token", &refresh), ("user_id", &user)]);
        let mut pick = u32::try_from(self.next(100)).unwrap_or(0);
        let op = MIX
            .iter()
            .find(|(_, share)| {
                let hit = pick < *share;
                pick = pick.saturating_sub(*share);
                hit
            })
            .map_or("validateAPIAccessToken", |(op, _)| op);
        match op {
            "createRefreshToken" => self.login().await,
            "createAPIAccessToken" => {
                let minted = self.post(op, refresh_body).await;
                if let Some(a) = minted.as_ref().and_then(|t| t["api_access_token"].as_str()) {
                    if self.access.len() >= 16 {
                        self.access.remove(0);
                    }
                    self.access.push(a.to_owned());
                }
            }
            "validateAPIAccessToken" => {
                let n = self.access.len().max(1) as u64;
                let i = usize::try_from(self.next(n)).unwrap_or(0);
                let token = self.access.get(i).cloned().unwrap_or_else(|| "none".into());
                let body = form(&[("api_access_token", &token), ("user_id", &user)]);
                self.post(op, body).await;
            }
            "regenRefreshToken" => {
                if let Some(t) = self.post(op, refresh_body).await {
                    self.take_refresh(&t);
                }
            }
            _ => {
                if op == "revokeAPIAccessTokens" {
                    self.access.clear();
                }
                self.post(op, refresh_body).await;
            }
        }
    }
}

/// Runs the mix with `connections` connections for `duration` against `base` (no trailing
/// slash), as `username`/`password`; returns what it saw.
pub async fn run(
    base: &str,
    username: &str,
    password: &str,
    connections: usize,
    duration: Duration,
) -> Tally {
    // reqwest is built without a default TLS provider; plain HTTP needs none, but a client
    // cannot be built until one is chosen.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for i in 0..connections {
        let mut conn = Conn {
            // One connection each, kept alive, as a load generator's connection is.
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            base: base.to_owned(),
            username: username.to_owned(),
            password: password.to_owned(),
            refresh: None,
            access: Vec::new(),
            tally: Tally::default(),
            seed: 0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D),
        };
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                conn.step().await;
            }
            conn.tally
        }));
    }
    let mut all = Tally::default();
    for t in tasks {
        all.merge(t.await.expect("load task"));
    }
    all
}

/// A memory figure of a process from `/proc/PID/status`, in MiB (Linux): `VmRSS` (resident
/// now) or `VmHWM` (the peak resident set since it started).
pub fn memory_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}
