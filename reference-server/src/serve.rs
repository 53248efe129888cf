//! The accept loop: HTTP/1.1 connections, bounded in number and in how long they may sit idle.
//!
//! - A connection that has not begun a request within the header timeout of opening, or that
//!   sits between requests longer than the keep-alive limit ([`KEEP_ALIVE_IDLE`] by default),
//!   is closed: silent sockets cannot
//!   pile up. A request that has begun must finish its headers within the header timeout
//!   (hyper's timer), its body within the body timeout, and its answer within the request
//!   timeout (the policy layer).
//! - At most `max_connections` are open (never more than the process may open files for,
//!   less a reserve for the database), and at most `max_connections_per_address` from one
//!   address, unless that address is a trusted proxy (whose connections carry many clients).
//!   A connection past a cap is closed at once.
//! - When `accept` fails (out of file descriptors), the loop backs off instead of spinning,
//!   and serves others again as soon as descriptors are free.
//! - HTTP/1.1 only: nothing else is spoken, so nothing else needs limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Router;
use tokio::sync::oneshot;

use crate::peer::{Cidr, Peer};

/// How long a connection may sit between requests before it is closed, by default.
pub const KEEP_ALIVE_IDLE: Duration = Duration::from_secs(30);

/// How long shutdown waits for requests in flight before closing their connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// File descriptors kept for everything but connections (the database, its WAL, logs).
const FD_RESERVE: usize = 64;

/// How the accept loop limits connections.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Time from opening to the first request's headers, and for any request's headers.
    pub header_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Open connections from one address at most.
    pub max_connections_per_address: usize,
    /// How long a connection may sit between requests.
    pub keep_alive_idle: Duration,
    /// Proxies whose connections are not counted per address.
    pub trusted_proxies: Arc<Vec<Cidr>>,
}

/// Open connections, in all and per address.
struct Open {
    max_total: usize,
    max_per_address: usize,
    trusted: Arc<Vec<Cidr>>,
    total: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
}

/// One admitted connection; counted until dropped.
struct Admitted {
    open: Arc<Open>,
    ip: Option<IpAddr>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.open.total.fetch_sub(1, Ordering::SeqCst);
        if let Some(ip) = self.ip {
            let mut map = self
                .open
                .per_address
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(n) = map.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
    }
}

impl Open {
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admitted> {
        if self.total.fetch_add(1, Ordering::SeqCst) >= self.max_total {
            self.total.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let counted = !self.trusted.iter().any(|c| c.contains(ip));
        if counted {
            let mut map = self
                .per_address
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let n = map.entry(ip).or_insert(0);
            if *n >= self.max_per_address {
                drop(map);
                self.total.fetch_sub(1, Ordering::SeqCst);
                return None;
            }
            *n += 1;
        }
        Some(Admitted {
            open: Arc::clone(self),
            ip: counted.then_some(ip),
        })
    }
}

/// The soft limit on open files of this process, where the system says (Linux).
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// What one connection is doing, for its idle watchdog.
struct Activity {
    opened: Instant,
    in_flight: AtomicUsize,
    served: AtomicBool,
    /// Milliseconds from `opened` to the end of the last request.
    last_end: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            last_end: AtomicU64::new(0),
        }
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How much longer the connection may stay quiet, or `None` while a request runs.
    fn quiet_left(&self, first: Duration, between: Duration) -> Option<Duration> {
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
struct Busy(Arc<Activity>);

impl Busy {
    fn begin(activity: &Arc<Activity>) -> Self {
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

/// Resolves once the connection has been quiet for longer than it may be.
async fn quiet(activity: Arc<Activity>, first: Duration, between: Duration) {
    loop {
        match activity.quiet_left(first, between) {
            Some(left) if left.is_zero() => return,
            Some(left) => tokio::time::sleep(left).await,
            // A request runs: look again in a while (it is itself bounded in time).
            None => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

/// The service of one connection: each request marks the connection busy while it runs and
/// carries who sent it.
fn service(
    router: Router,
    activity: Arc<Activity>,
    socket: IpAddr,
    trusted: Arc<Vec<Cidr>>,
) -> impl tower::Service<
    axum::http::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send,
> + Clone {
    tower::service_fn(move |mut req: axum::http::Request<hyper::body::Incoming>| {
        let busy = Busy::begin(&activity);
        let who = Peer::resolve(socket, req.headers(), &trusted);
        req.extensions_mut().insert(who);
        let answer = tower::ServiceExt::oneshot(router.clone(), req);
        async move {
            let r = answer.await;
            drop(busy);
            r
        }
    })
}

/// Accepts connections until `stopped`, then lets requests in flight finish (for at most
/// `SHUTDOWN_GRACE`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    stopped: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    use hyper::server::conn::http1::Builder;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let max_total = open_files_limit().map_or(limits.max_connections, |fds| {
        limits
            .max_connections
            .min(fds.saturating_sub(FD_RESERVE).max(1))
    });
    let open = Arc::new(Open {
        max_total,
        max_per_address: limits.max_connections_per_address,
        trusted: Arc::clone(&limits.trusted_proxies),
        total: AtomicUsize::new(0),
        per_address: Mutex::new(HashMap::new()),
    });
    let graceful = GracefulShutdown::new();
    // HTTP/1.1 only: the API and its page need nothing more, and hyper's HTTP/2 is not built.
    let mut builder = Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let Some(admitted) = open.admit(peer.ip()) else {
                    tracing::debug!(peer = %peer.ip(), "connection refused: over the connection limits");
                    continue;
                };
                let activity = Arc::new(Activity::new());
                let conn = builder.serve_connection(
                    TokioIo::new(stream),
                    TowerToHyperService::new(service(
                        router.clone(),
                        Arc::clone(&activity),
                        peer.ip(),
                        Arc::clone(&limits.trusted_proxies),
                    )),
                );
                let conn = graceful.watch(conn);
                let (first, between) = (limits.header_timeout, limits.keep_alive_idle);
                tokio::spawn(async move {
                    let _admitted = admitted;
                    tokio::select! {
                        ended = conn => {
                            if let Err(e) = ended {
                                tracing::debug!(error = %e, "connection ended with an error");
                            }
                        }
                        () = quiet(activity, first, between) => {
                            tracing::debug!("closed a connection that stayed quiet");
                        }
                    }
                });
            }
            _ = &mut stopped => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after the grace period; closing them");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_capped_in_all_and_per_address_but_not_for_trusted_proxies() {
        let open = Arc::new(Open {
            max_total: 4,
            max_per_address: 2,
            trusted: Arc::new(vec!["10.0.0.0/8".parse().expect("cidr")]),
            total: AtomicUsize::new(0),
            per_address: Mutex::new(HashMap::new()),
        });
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let proxy: IpAddr = "10.0.0.1".parse().expect("ip");
        let first = open.admit(a).expect("first");
        let _second = open.admit(a).expect("second");
        assert!(open.admit(a).is_none(), "a third from one address");
        drop(first);
        let _third = open.admit(a).expect("room again once one closed");
        let _p1 = open.admit(proxy).expect("proxy");
        let _p2 = open
            .admit(proxy)
            .expect("a proxy is not capped per address");
        assert!(open.admit(proxy).is_none(), "but it is in all");
        assert_eq!(open.total.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn the_open_files_limit_is_read_where_the_system_says() {
        if cfg!(target_os = "linux") {
            assert!(open_files_limit().is_some_and(|n| n > 0));
        }
    }
}
