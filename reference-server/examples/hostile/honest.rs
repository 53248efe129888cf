//! The honest client, what it saw, and the server's memory and open files.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use tokio::net::{TcpSocket, TcpStream};

/// The honest client's address: a /24 no attacker uses.
pub const HONEST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 200));

/// The server under attack.
pub struct Target {
    pub addr: SocketAddr,
    pub user: String,
    pub password: String,
    pub pid: u32,
}

/// A TCP connection to `to` from `from`.
pub async fn connect(to: SocketAddr, from: IpAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

/// A form body.
pub fn form(fields: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// One POST on a new connection from `from`: its status (or what went wrong), its time and
/// its body.
pub async fn post(t: &Target, from: IpAddr, op: &str, body: String) -> (String, Duration, String) {
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

/// A login of the honest user from `from`: its status.
pub async fn login(t: &Target, from: IpAddr, password: &str) -> String {
    let body = form(&[
        ("username", &t.user),
        ("password", password),
        ("name", "hostile run"),
    ]);
    post(t, from, "createRefreshToken", body).await.0
}

/// What the honest client saw: per kind of call, successes and tries, and all latencies.
#[derive(Default, Debug)]
pub struct Seen {
    /// (successes, tries) per kind.
    pub calls: BTreeMap<&'static str, (usize, usize)>,
    /// Every status that was not a success, per kind.
    pub other: BTreeMap<String, usize>,
    latencies: Vec<Duration>,
}

impl Seen {
    fn add(&mut self, kind: &'static str, status: &str, ok: &str, took: Duration) {
        let c = self.calls.entry(kind).or_default();
        c.1 += 1;
        if status == ok {
            c.0 += 1;
        } else {
            *self.other.entry(format!("{kind} {status}")).or_default() += 1;
        }
        self.latencies.push(took);
    }

    pub fn p99_ms(&self) -> f64 {
        let mut l = self.latencies.clone();
        l.sort_unstable();
        l.get((l.len() * 99 / 100).min(l.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }

    /// `logins 20 / 20, validations 430 / 430; p99 41.2 ms`, with what else came.
    pub fn cell(&self) -> String {
        let calls: Vec<String> = self
            .calls
            .iter()
            .map(|(k, (ok, n))| format!("{k} {ok} / {n}"))
            .collect();
        let other: Vec<String> = self
            .other
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        let other = if other.is_empty() {
            String::new()
        } else {
            format!(" (else {})", other.join(", "))
        };
        format!("{}; p99 {:.1} ms{other}", calls.join(", "), self.p99_ms())
    }
}

/// A fresh access token of the honest user, for the validations.
pub async fn access_token(t: &Target) -> (String, String) {
    let body = form(&[
        ("username", &t.user),
        ("password", &t.password),
        ("name", "hostile run"),
    ]);
    let (_, _, body) = post(t, HONEST, "createRefreshToken", body).await;
    let refresh: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let (rt, uid) = (
        refresh["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        refresh["user_id"].to_string(),
    );
    let body = form(&[("refresh_token", &rt), ("user_id", &uid)]);
    let (_, _, body) = post(t, HONEST, "createAPIAccessToken", body).await;
    let access: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    (
        access["api_access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        uid,
    )
}

/// The honest client for `dur`: a validation every 20 ms and a login every half second, each
/// on its own connection.
pub async fn honest_for(t: &Target, dur: Duration, token: &(String, String)) -> Seen {
    let mut seen = Seen::default();
    let end = Instant::now() + dur;
    let mut next_login = Instant::now();
    while Instant::now() < end {
        let body = form(&[("api_access_token", &token.0), ("user_id", &token.1)]);
        let (status, took, _) = post(t, HONEST, "validateAPIAccessToken", body).await;
        seen.add("validations", &status, "200", took);
        if Instant::now() >= next_login {
            next_login += Duration::from_millis(500);
            let started = Instant::now();
            let status = login(t, HONEST, &t.password).await;
            seen.add("logins", &status, "201", started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    seen
}

/// The server's resident memory (MiB) and open files.
pub fn server_state(pid: u32) -> (f64, usize) {
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

/// Samples the server's memory and open files every 100 ms until `stop`: the peaks.
pub fn sample_peaks(pid: u32, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<(f64, usize)> {
    tokio::spawn(async move {
        let mut peak = (0.0f64, 0usize);
        while !stop.load(Ordering::SeqCst) {
            let (rss, fds) = server_state(pid);
            peak = (peak.0.max(rss), peak.1.max(fds));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peak
    })
}
