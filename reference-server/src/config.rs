//! How the server is set up ([`Config`], with its defaults) and why it could not start
//! ([`StartError`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::clock::Clock;
use crate::{peer, slots, store};

/// The default limit on a request body. Every legitimate body is well under 2 KiB.
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;

/// How long a client may take to send a request's headers before its connection is closed,
/// so connections that trickle bytes (slowloris) cannot pile up.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a connection may sit between requests before it is closed, by default.
pub const DEFAULT_KEEP_ALIVE_IDLE: Duration = Duration::from_secs(30);

/// Open connections at most (fewer if the process may not open that many files).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// Open connections from one network at most: an IPv4 /24 or an IPv6 /64 (a trusted proxy's
/// are not counted). Twice what a load test at 64 connections needs; with 4096 in all, 32
/// networks at their cap fill the server, and past that newcomers take the places of
/// connections that never sent a request.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: usize = 128;

/// Failed logins one account may have from one address before each further failure locks
/// that pair (see `throttle/`). High enough that a conformance run, with a few deliberate bad
/// passwords, is never locked out.
pub const DEFAULT_MAX_FAILED_LOGINS: u32 = 10;

/// How the server is set up. Its `Debug` output hides the passwords.
#[derive(Clone)]
pub struct Config {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The SQLite file; created if missing, and all state survives restarts.
    pub db: PathBuf,
    /// Password users to create or update at start-up, as `(username, password)`.
    pub users: Vec<(String, String)>,
    /// SSO users to create at start-up.
    pub sso_users: Vec<String>,
    /// Mount the test-control protocol under `/conformance/v1/`.
    pub test_control: bool,
    /// The body limit in bytes.
    pub body_limit: usize,
    /// Failed logins before a lockout.
    pub max_failed_logins: u32,
    /// Time allowed for a request's headers.
    pub header_timeout: Duration,
    /// Log one line per request (method, path, status, time). Off by default: at tens of
    /// thousands of requests a second the log costs a tenth of the throughput and floods the
    /// terminal; errors are logged either way.
    pub log_requests: bool,
    /// The clock; tests share it to inspect or move time without HTTP.
    pub clock: Clock,
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<peer::Cidr>,
    /// Open connections at most.
    pub max_connections: usize,
    /// Open connections from one network (IPv4 /24, IPv6 /64) at most.
    pub max_connections_per_address: usize,
    /// How long a connection may sit between requests.
    pub keep_alive_idle: Duration,
    /// Requests past their body, in all, at most (503 past it).
    pub max_in_flight: usize,
    /// Requests under way from one address (IPv6: one /64) at most, bodies still arriving
    /// included.
    pub max_in_flight_per_address: usize,
    /// The token page's cookies without `Secure` and the `__Host-` prefix, for a page served
    /// over plain HTTP on another host than this machine (browsers take `Secure` cookies from
    /// `http://localhost` and `http://127.0.0.1` anyway).
    pub plain_http_cookies: bool,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("db", &self.db)
            .field("users (passwords hidden)", &users)
            .field("sso_users", &self.sso_users)
            .field("test_control", &self.test_control)
            .field("body_limit", &self.body_limit)
            .field("max_failed_logins", &self.max_failed_logins)
            .field("log_requests", &self.log_requests)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("max_connections", &self.max_connections)
            .field(
                "max_connections_per_address",
                &self.max_connections_per_address,
            )
            .field("plain_http_cookies", &self.plain_http_cookies)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults: 127.0.0.1:8080, no users, no test control, the given database.
    pub fn new(db: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db: db.into(),
            users: Vec::new(),
            sso_users: Vec::new(),
            test_control: false,
            body_limit: DEFAULT_BODY_LIMIT,
            max_failed_logins: DEFAULT_MAX_FAILED_LOGINS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            log_requests: false,
            clock: Clock::system(),
            trusted_proxies: Vec::new(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_address: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
            keep_alive_idle: DEFAULT_KEEP_ALIVE_IDLE,
            max_in_flight: slots::MAX_IN_FLIGHT,
            max_in_flight_per_address: slots::MAX_IN_FLIGHT_PER_ADDRESS,
            plain_http_cookies: false,
        }
    }
}

/// Errors that stop the server from starting.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

impl From<store::StoreError> for StartError {
    fn from(e: store::StoreError) -> Self {
        Self(e.to_string())
    }
}
