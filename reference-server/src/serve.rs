//! The accept loop: HTTP/1.1 connections, bounded in number and in how long they may sit idle.
//!
//! - A connection that has not begun a request within the header timeout of opening, or that
//!   sits between requests longer than the keep-alive limit ([`crate::config::DEFAULT_KEEP_ALIVE_IDLE`] by default),
//!   is closed: silent sockets cannot
//!   pile up. A request that has begun must finish its headers within the header timeout
//!   (hyper's timer), its body within the body timeout, and its answer within the request
//!   timeout (the policy layer).
//! - At most `max_connections` are open (never more than the process may open files for,
//!   less a reserve for the database), and at most `max_connections_per_address` from one
//!   network (an IPv4 /24, an IPv6 /64), unless it is a trusted proxy (whose connections carry
//!   many clients). When all are taken, the oldest connection that has not sent a request is
//!   closed to make room; a connection past a network's cap, or when every open one is in
//!   use, is closed at once (`connections.rs`).
//! - A request's head (request line and headers) may take [`MAX_HEAD_BYTES`] and
//!   [`MAX_HEADERS`] headers: what the API and its page need, many times over. hyper's own
//!   default buffers some 400 KiB per connection, which a few thousand unfinished heads turned
//!   into gigabytes held.
//! - When `accept` fails (out of file descriptors), the loop backs off instead of spinning,
//!   and serves others again as soon as descriptors are free.
//! - HTTP/1.1 only: nothing else is spoken, so nothing else needs limits.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::sync::oneshot;

use crate::connections::{Activity, Open};
use crate::peer::Cidr;
use crate::state::AppState;

/// The largest request head (request line and headers) read, in bytes; past it the request
/// is refused with 431 and the connection closed. hyper's smallest allowed is 8 KiB.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The most headers a request may have (a browser sends about 20, a proxy adds a few).
pub const MAX_HEADERS: usize = 48;

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
    /// Open connections from one network (IPv4 /24, IPv6 /64) at most.
    pub max_connections_per_address: usize,
    /// How long a connection may sit between requests.
    pub keep_alive_idle: Duration,
    /// Proxies whose connections are not counted per address.
    pub trusted_proxies: Arc<Vec<Cidr>>,
}

/// The soft limit on open files of this process, where the system says (Linux).
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
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

/// Accepts connections until `stopped`, then lets requests in flight finish (for at most
/// `SHUTDOWN_GRACE`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    app: Arc<AppState>,
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
    let open = Arc::new(Open::new(
        max_total,
        limits.max_connections_per_address,
        Arc::clone(&limits.trusted_proxies),
    ));
    let graceful = GracefulShutdown::new();
    // HTTP/1.1 only: the API and its page need nothing more, and hyper's HTTP/2 is not built.
    let mut builder = Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
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
                let activity = Arc::clone(&admitted.activity);
                let conn = builder.serve_connection(
                    TokioIo::new(stream),
                    TowerToHyperService::new(crate::dispatch::service(
                        router.clone(),
                        Arc::clone(&app),
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
                        () = quiet(Arc::clone(&activity), first, between) => {
                            tracing::debug!("closed a connection that stayed quiet");
                        }
                        () = activity.evicted.notified() => {
                            tracing::debug!("closed an unused connection to make room");
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
    fn the_open_files_limit_is_read_where_the_system_says() {
        if cfg!(target_os = "linux") {
            assert!(open_files_limit().is_some_and(|n| n > 0));
        }
    }
}
