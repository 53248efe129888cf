//! The proxy's listener: a task per client connection, each exchange forwarded, judged, shown
//! on the console, and answered (or, under `--enforce`, refused); and when the session ends:
//! on the signal the command gives, `--requests` or `--duration`, after the exchanges under
//! way have finished (hyper's graceful shutdown, as the reference server's).

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::Notify;

use super::forward::{Forwarded, Forwarder, pairs};
use super::traffic::{Judgement, Model, client_status};
use super::{MAX_BODY, upstream};
use crate::report::{Style, console};
use crate::run::{Party, Report, Started};
use crate::target::Target;
use crate::wire;

/// How a proxy session runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where it listens.
    pub listen: SocketAddr,
    /// Answer a server finding that fails the target with 502 instead of the response.
    pub enforce: bool,
    /// SHOULD server findings count as failures too (for `--enforce` and the exit code).
    pub strict: bool,
    /// Stop after this many exchanges.
    pub requests: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
}

/// Why a session ended without its report.
#[derive(Debug)]
pub enum ServeError {
    /// It could not start (the target's URL, the address to listen on).
    Setup(crate::error::Error),
    /// The console could not be written to (a closed pipe).
    Console(std::io::Error),
}

impl From<crate::error::Error> for ServeError {
    fn from(e: crate::error::Error) -> Self {
        Self::Setup(e)
    }
}

/// The shared state of a session.
struct Shared {
    model: Arc<Model>,
    forwarder: Forwarder,
    options: Options,
    style: Style,
    console: Arc<Mutex<dyn Write + Send>>,
    /// The first failed console write; it ends the session.
    console_failed: Mutex<Option<std::io::Error>>,
    done: Notify,
}

/// How long the exchanges under way may take to finish once the session ends, beyond the
/// target's timeout.
const GRACE: Duration = Duration::from_secs(1);

/// Serves until `shutdown` resolves, `--requests` or `--duration`; `ready` gets the address it
/// listens on, before any connection is accepted. The findings of each exchange go to
/// `console` as they happen. Returns the session's report.
pub async fn serve(
    model: Arc<Model>,
    target: &Target,
    options: Options,
    style: Style,
    console: Arc<Mutex<dyn Write + Send>>,
    shutdown: impl Future<Output = ()>,
    ready: impl FnOnce(SocketAddr) -> std::io::Result<()>,
) -> Result<Report, ServeError> {
    let forwarder = Forwarder::new(target)?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| {
            crate::error::Error::new(
                crate::error::ErrorKind::Usage,
                format!("cannot listen on {}: {e}", options.listen),
            )
        })?;
    let addr = listener.local_addr().unwrap_or(options.listen);
    let started = Started::now();
    let shared = Arc::new(Shared {
        model,
        forwarder,
        options,
        style,
        console,
        console_failed: Mutex::default(),
        done: Notify::new(),
    });
    ready(addr).map_err(ServeError::Console)?;
    let graceful = GracefulShutdown::new();
    let deadline = shared.options.duration.map(|d| Instant::now() + d);
    let until_deadline = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d.into()).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(shutdown, until_deadline);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    connection(Arc::clone(&shared), stream, &graceful);
                }
                // Out of file descriptors and the like: wait rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            () = shared.done.notified() => break,
            () = &mut until_deadline => break,
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    // The exchanges under way finish, so that every counted one is in the reports; idle
    // connections close.
    let grace = shared.forwarder.timeout() + GRACE;
    let _ = tokio::time::timeout(grace, graceful.shutdown()).await;
    if let Some(e) = shared
        .console_failed
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        return Err(ServeError::Console(e));
    }
    Ok(shared.model.report(target, started))
}

/// Serves one client connection, with its own connection to the target, watched by
/// `graceful`.
fn connection(shared: Arc<Shared>, stream: tokio::net::TcpStream, graceful: &GracefulShutdown) {
    let upstream: Arc<tokio::sync::Mutex<Option<upstream::Connection>>> = Arc::default();
    let timeout = shared.forwarder.timeout();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (shared, upstream) = (Arc::clone(&shared), Arc::clone(&upstream));
        async move { Ok::<_, std::convert::Infallible>(exchange(&shared, &upstream, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .auto_date_header(false)
        .header_read_timeout(timeout.max(Duration::from_secs(30)))
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    let conn = graceful.watch(conn);
    tokio::spawn(async move {
        let _ = conn.await;
    });
}

/// An answer the proxy writes itself, in the contract's Error shape.
fn proxy_error(status: u16, detail: &str, code: &str) -> Response<Full<Bytes>> {
    let body = serde_json::json!({"detail": detail, "code": code}).to_string();
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Forwards one request, judges the exchange, and answers the client.
async fn exchange(
    shared: &Shared,
    upstream: &tokio::sync::Mutex<Option<upstream::Connection>>,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let started = time::OffsetDateTime::now_utc();
    let clock = Instant::now();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return proxy_error(
                413,
                &format!(
                    "token-conformance proxy: the request body could not be read whole ({e}); the proxy holds at most {MAX_BODY} bytes"
                ),
                "proxy.request_body",
            );
        }
    };
    let (mut out, request) = shared.forwarder.outgoing(parts, body);
    let forwarded = shared.forwarder.forward(upstream, &mut out).await;
    let elapsed = clock.elapsed();
    // What goes back to the client, and the target's answer as the record keeps it.
    let (reply, response) = match forwarded {
        Forwarded::Answered(answer) => {
            let (rparts, rbody) = answer.into_parts();
            let response = wire::Response {
                status: rparts.status.as_u16(),
                headers: pairs(&rparts.headers),
                body: rbody.clone(),
            };
            (Response::from_parts(rparts, Full::new(rbody)), Ok(response))
        }
        Forwarded::Failed(why) => {
            let detail = format!("token-conformance proxy: {why}");
            (proxy_error(502, &detail, "transport"), Err(why))
        }
    };
    let x = wire::Exchange {
        started,
        elapsed,
        request,
        response,
    };
    let judgement = shared.model.judge(&x);
    show(shared, &x, &judgement);
    if let Some(n) = shared.options.requests
        && judgement.number >= n
    {
        shared.done.notify_one();
    }
    match judgement.blocking(shared.options.strict) {
        Some(f) if shared.options.enforce && f.check != crate::check::TRANSPORT.id => proxy_error(
            502,
            &format!(
                "token-conformance proxy: the target's answer broke the contract ({}): {}",
                f.check,
                shared.model.redactor().text(&f.message)
            ),
            f.check,
        ),
        _ => reply,
    }
}

/// A console line per finding, as it happens. A console that cannot be written to ends the
/// session (the traffic goes on being forwarded until it has).
fn show(shared: &Shared, x: &wire::Exchange, j: &Judgement) {
    if j.server.is_empty() && j.client.is_empty() {
        return;
    }
    let head = format!(
        "exchange {} {} {} → {}",
        j.number,
        x.request.method,
        x.request.url.split('?').next().unwrap_or_default(),
        client_status(x)
    );
    let findings = j
        .server
        .iter()
        .map(|f| (Party::Server, f))
        .chain(j.client.iter().map(|f| (Party::Client, f)));
    let text = console::exchange_lines(&head, findings, shared.model.redactor(), shared.style);
    let written = {
        let mut out = shared
            .console
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        out.write_all(text.as_bytes()).and_then(|()| out.flush())
    };
    if let Err(e) = written {
        shared
            .console_failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(e);
        shared.done.notify_one();
    }
}
