//! `token-conformance proxy`: a validating proxy in front of a target. Real clients' traffic
//! passes through unchanged, and the same checks as `run`, from the same table, judge every
//! exchange to the contract's paths: the request (a **client** finding when it breaks the
//! contract) and the response (a **server** finding). A model of every token seen, keyed by a
//! digest of its value, carries what earlier answers said into the judgement of later ones.
//!
//! - `upstream`: the connection to the target (plain or TLS), one per client connection.
//! - `traffic`: the model, the judgement, and the bounded record the reports come from.
//! - `command`: the flags, and a session from start to reports.
//! - this file: the listener, forwarding, `--enforce`, and when the session ends.

mod command;
mod traffic;
mod upstream;

pub use command::{ProxyArgs, proxy};
pub use traffic::{Judgement, Model, Passed};
pub use upstream::{Unreachable, Upstream};

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HOST, HeaderValue};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;

use crate::report::Style;
use crate::run::Party;
use crate::target::Target;

/// The largest request or response body the proxy holds to judge: far above anything the
/// contract's operations carry.
pub(crate) const MAX_BODY: usize = 16 * 1024 * 1024;

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

/// The shared state of a session.
struct Shared {
    model: Arc<Model>,
    upstream: Upstream,
    headers: Vec<(String, String)>,
    timeout: Duration,
    options: Options,
    style: Style,
    done: Notify,
    in_flight: AtomicUsize,
}

/// Serves until Ctrl-C, `--requests` or `--duration`; `ready` gets the address it listens on.
/// Returns how long it ran.
pub async fn serve(
    model: Arc<Model>,
    target: &Target,
    options: Options,
    style: Style,
    ready: impl FnOnce(SocketAddr),
) -> Result<Duration, crate::error::Error> {
    let upstream = Upstream::new(target)?;
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .map_err(|e| {
            crate::error::Error::new(
                crate::error::ErrorKind::Usage,
                format!("cannot listen on {}: {e}", options.listen),
            )
        })?;
    let addr = listener.local_addr().unwrap_or(options.listen);
    let shared = Arc::new(Shared {
        model,
        upstream,
        headers: target
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.expose().to_owned()))
            .collect(),
        timeout: target.timeout.to_std().max(Duration::from_millis(1)),
        options,
        style,
        done: Notify::new(),
        in_flight: AtomicUsize::new(0),
    });
    ready(addr);
    let started = Instant::now();
    let deadline = shared.options.duration.map(|d| started + d);
    loop {
        let until_deadline = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(Arc::clone(&shared), stream));
                }
                // Out of file descriptors and the like: wait rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            () = shared.done.notified() => break,
            () = until_deadline => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    drop(listener);
    // Let the exchanges under way finish, so that every counted one is in the reports.
    let grace = Instant::now() + shared.timeout + Duration::from_secs(1);
    while shared.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < grace {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(started.elapsed())
}

/// Serves one client connection, with its own connection to the target.
async fn connection(shared: Arc<Shared>, stream: tokio::net::TcpStream) {
    let upstream: Arc<tokio::sync::Mutex<Option<upstream::Connection>>> = Arc::default();
    let timeout = shared.timeout;
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (shared, upstream) = (Arc::clone(&shared), Arc::clone(&upstream));
        async move {
            shared.in_flight.fetch_add(1, Ordering::SeqCst);
            let response = exchange(&shared, &upstream, req).await;
            shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .preserve_header_case(true)
        .auto_date_header(false)
        .header_read_timeout(timeout.max(Duration::from_secs(30)))
        .timer(hyper_util::rt::TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service)
        .await;
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

fn pairs(headers: &hyper::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// What is sent to the target: the client's request, but for the `Host` header (the target's
/// name, as any reverse proxy sends it) and the profile's `--header`s.
struct Outgoing {
    method: hyper::Method,
    path: String,
    headers: hyper::HeaderMap,
    extensions: Option<hyper::http::Extensions>,
    body: Bytes,
}

impl Outgoing {
    /// The request; the first one carries the client's header spelling (hyper keeps it in the
    /// extensions), a repeat after a closed connection the names in lower case.
    fn request(&mut self) -> Request<Full<Bytes>> {
        let mut r = Request::new(Full::new(self.body.clone()));
        *r.method_mut() = self.method.clone();
        *r.uri_mut() = self.path.parse().unwrap_or_default();
        *r.headers_mut() = self.headers.clone();
        if let Some(ext) = self.extensions.take() {
            *r.extensions_mut() = ext;
        }
        r
    }
}

/// What goes to the target for a client's request: its path, its headers as the client sent
/// them (kept for the judgement and the reports), and the request to send.
fn outgoing(
    shared: &Shared,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> (Outgoing, String, Vec<(String, String)>) {
    let path = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned());
    let request_headers = pairs(&parts.headers);
    let mut headers = parts.headers;
    if let Ok(host) = HeaderValue::from_str(&shared.upstream.authority) {
        headers.insert(HOST, host);
    }
    for (k, v) in &shared.headers {
        if let (Ok(k), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.insert(k, v);
        }
    }
    let out = Outgoing {
        method: parts.method,
        path: path.clone(),
        headers,
        extensions: Some(parts.extensions),
        body,
    };
    (out, path, request_headers)
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
    let (mut out, path, request_headers) = outgoing(shared, parts, body.clone());
    let method = out.method.as_str().to_owned();
    let answer = send(shared, upstream, &mut out).await;
    let elapsed = clock.elapsed();
    let (rparts, rbody, why) = match answer {
        Ok(response) => {
            let (rparts, rbody) = response.into_parts();
            (Some(rparts), rbody, None)
        }
        Err(why) => (None, Bytes::new(), Some(why)),
    };
    let response_headers = rparts
        .as_ref()
        .map(|r| pairs(&r.headers))
        .unwrap_or_default();
    let passed = Passed {
        started,
        elapsed,
        method: &method,
        path: &path,
        request_headers: &request_headers,
        request_body: &body,
        status: rparts.as_ref().map_or(502, |r| r.status.as_u16()),
        response_headers: &response_headers,
        response_body: &rbody,
    };
    let (response, judgement) = match (rparts, why) {
        (Some(rparts), _) => {
            let j = shared.model.judge(&passed, None);
            (Response::from_parts(rparts, Full::new(rbody.clone())), j)
        }
        (None, why) => {
            let why = why.unwrap_or_default();
            let j = shared.model.judge(&passed, Some(&why));
            let detail = format!("token-conformance proxy: {why}");
            (proxy_error(502, &detail, "transport"), j)
        }
    };
    report(shared, &passed, &judgement);
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
        _ => response,
    }
}

/// A console line per finding, as it happens.
fn report(shared: &Shared, p: &Passed<'_>, j: &Judgement) {
    let head = format!(
        "exchange {} {} {} → {}",
        j.number,
        p.method,
        p.path.split('?').next().unwrap_or_default(),
        p.status
    );
    let findings = j
        .server
        .iter()
        .map(|f| (Party::Server, f))
        .chain(j.client.iter().map(|f| (Party::Client, f)));
    print!(
        "{}",
        crate::report::console::exchange_lines(
            &head,
            findings,
            shared.model.redactor(),
            shared.style
        )
    );
}

/// Sends the request on the client connection's own target connection, opening one when there
/// is none or the target closed it (once more when a kept connection turns out closed); reads
/// the whole answer under the timeout.
async fn send(
    shared: &Shared,
    upstream: &tokio::sync::Mutex<Option<upstream::Connection>>,
    out: &mut Outgoing,
) -> Result<Response<Bytes>, String> {
    let mut slot = upstream.lock().await;
    for attempt in 0..2 {
        let kept = match slot.take() {
            Some(mut c) if !c.is_closed() => c.ready().await.is_ok().then_some(c),
            _ => None,
        };
        let fresh = kept.is_none();
        *slot = Some(match kept {
            Some(c) => c,
            None => shared.upstream.connect().await.map_err(|e| e.0)?,
        });
        let Some(conn) = slot.as_mut() else {
            continue;
        };
        let read = async {
            let response = conn.send_request(out.request()).await?;
            let (parts, body) = response.into_parts();
            let bytes = Limited::new(body, MAX_BODY).collect().await;
            Ok::<_, hyper::Error>((parts, bytes))
        };
        match tokio::time::timeout(shared.timeout, read).await {
            Err(_) => {
                *slot = None;
                return Err("no answer from the target within the timeout".to_owned());
            }
            // A kept connection the target closed as the request went out: once more, fresh.
            Ok(Err(e)) if !fresh && attempt == 0 && e.is_canceled() => {
                *slot = None;
            }
            Ok(Err(e)) => {
                *slot = None;
                return Err(format!("the target broke the exchange: {e}"));
            }
            Ok(Ok((parts, Ok(body)))) => return Ok(Response::from_parts(parts, body.to_bytes())),
            Ok(Ok((_, Err(e)))) => {
                *slot = None;
                return Err(format!("the target's answer could not be read whole: {e}"));
            }
        }
    }
    Err("the target closed every connection before answering".to_owned())
}
