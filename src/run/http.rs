//! The HTTP side of a run: one client for the whole run, and responses read under a size cap
//! and a timeout, so a target that hangs, drops connections, or answers garbage gives a clear
//! failure and never a hang. Each request makes one [`wire::Exchange`], the record its views
//! are made from. (The bodies' encodings are `encoding.rs`'s.)

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use time::OffsetDateTime;

use crate::error::{Error, ErrorKind};
use crate::target::Target;
use crate::transport;
use crate::wire::{self, TransportError};

/// The run's HTTP client.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
    /// The same client without a pool: a request that died on a pooled connection the server
    /// had just closed is sent once more on a connection of its own.
    fresh: reqwest::Client,
    timeout: Duration,
    max_bytes: usize,
    /// Paces requests under `--rate`: the earliest instant the next one may leave.
    pace: Option<Arc<Pace>>,
    /// Every request sent through this client and its clones: the cases' and the run's own.
    sent: Arc<std::sync::atomic::AtomicUsize>,
    /// Every exchange, for `--har`, when asked to record them: the records the steps hold.
    recorder: Option<Arc<Mutex<Vec<Arc<wire::Exchange>>>>>,
}

/// A shared pace: one request every `every`.
#[derive(Debug)]
struct Pace {
    every: Duration,
    next: tokio::sync::Mutex<Instant>,
}

impl Pace {
    /// Waits for this request's turn.
    async fn turn(&self) {
        let at = {
            let mut next = self.next.lock().await;
            let at = (*next).max(Instant::now());
            *next = at + self.every;
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }
}

/// The longest `Retry-After` the run waits out, and how often, before it takes the 429.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// How many times one request is sent again after a 429.
pub(crate) const MAX_RETRIES: usize = 3;

/// The seconds a 429 or 503 asks to wait, when it asks for a bounded wait in whole seconds.
fn retry_after(r: &wire::Response) -> Option<Duration> {
    if r.status != 429 && r.status != 503 {
        return None;
    }
    let secs: u64 = r.header("retry-after")?.trim().parse().ok()?;
    Some(Duration::from_secs(secs)).filter(|d| *d <= MAX_RETRY_AFTER)
}

/// Whether a TLS error lies somewhere in the chain of causes.
fn is_tls(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if err.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        // An io::Error's `source()` skips the error it wraps (and TLS errors come wrapped
        // twice): step into it instead.
        next = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|i| i as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    false
}

/// Whether the request died because the connection closed under it before any answer came
/// (the server closed a kept-alive connection, as uvicorn does after a 500 without saying
/// `Connection: close`): hyper's incomplete message, or a reset or broken pipe. Such a request
/// was never answered, so it is no verdict on the target, and it is sent again once.
fn closed_under_it(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(err) = next {
        if let Some(h) = err.downcast_ref::<hyper::Error>()
            && (h.is_incomplete_message() || h.is_canceled() || h.is_closed())
        {
            return true;
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        next = err.source();
    }
    false
}

fn cause_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

impl Http {
    /// A client for `target`: its timeout, size cap and TLS options.
    pub fn new(target: &Target) -> Result<Self, Error> {
        let timeout = transport::timeout(target);
        // Servers close idle connections, some after 2 s (gunicorn's default): a pooled
        // connection the server has just closed fails the request sent on it. Dropping them
        // after a second leaves that race to servers closing faster than that, and those the
        // fresh client's one retry covers.
        let client = Self::client(target, timeout, 32)?;
        let fresh = Self::client(target, timeout, 0)?;
        let pace = target.rate.map(|r| {
            Arc::new(Pace {
                every: Duration::from_secs_f64(1.0 / r),
                next: tokio::sync::Mutex::new(Instant::now()),
            })
        });
        Ok(Self {
            client,
            fresh,
            timeout,
            max_bytes: target.max_response_bytes,
            pace,
            sent: Arc::default(),
            recorder: None,
        })
    }

    /// One reqwest client for `target`, keeping at most `idle` connections per host.
    fn client(target: &Target, timeout: Duration, idle: usize) -> Result<reqwest::Client, Error> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(idle)
            .pool_idle_timeout(Duration::from_secs(1))
            .user_agent(concat!("token-conformance/", env!("CARGO_PKG_VERSION")));
        // The proxy's TLS settings too: one place decides what a target's certificate must be.
        builder = builder.tls_backend_preconfigured(transport::tls_config(&target.tls)?);
        builder = builder.default_headers(default_headers(target));
        builder.build().map_err(|e| {
            Error::new(
                ErrorKind::Profile,
                format!("cannot set up HTTP: {}", cause_chain(&e)),
            )
        })
    }

    /// The same client, recording every exchange (for `--har`).
    #[must_use]
    pub(crate) fn recording(mut self) -> Self {
        self.recorder = Some(Arc::default());
        self
    }

    /// The exchanges recorded so far (none unless [`Http::recording`]).
    pub(crate) fn records(&self) -> Vec<Arc<wire::Exchange>> {
        self.recorder.as_ref().map_or_else(Vec::new, |r| {
            r.lock().unwrap_or_else(PoisonError::into_inner).clone()
        })
    }

    /// How many requests this client has sent: the cases', the pool's, the checks' of what a
    /// refusal left, the clean-up's.
    pub fn sent(&self) -> usize {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends a request like [`Http::send`]; a 503 (and, unless `keep_429`, a 429) with a
    /// bounded `Retry-After` is waited out and the request sent again (at most
    /// [`MAX_RETRIES`] times). Returns the last exchange, and the statuses and seconds waited.
    pub(crate) async fn send_patiently(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        keep_429: bool,
    ) -> (Arc<wire::Exchange>, Vec<(u16, u64)>) {
        let body = Bytes::from(body);
        let mut waited = Vec::new();
        loop {
            let x = self.send(method, url, headers, body.clone()).await;
            let wait = x
                .response
                .as_ref()
                .ok()
                .filter(|r| !(keep_429 && r.status == 429))
                .and_then(|r| retry_after(r).map(|d| (r.status, d)));
            match wait {
                Some((status, d)) if waited.len() < MAX_RETRIES => {
                    waited.push((status, d.as_secs()));
                    tokio::time::sleep(d).await;
                }
                _ => return (x, waited),
            }
        }
    }

    /// Reads a whole response under the size cap, its body decoded: a coded body is judged as
    /// clients read it (RFC 9110 §12.5.3).
    async fn read(&self, mut resp: reqwest::Response) -> Result<wire::Response, TransportError> {
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(TransportError::TooLarge(self.max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| TransportError::Read(cause_chain(&e)))?
        {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(TransportError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        let coding = resp
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let body = crate::coding::decode(coding.as_deref(), body, self.max_bytes)
            .map_err(|e| TransportError::Read(e.to_string()))?;
        Ok(wire::Response {
            status,
            headers,
            body: Bytes::from(body),
        })
    }

    /// Sends a request and reads the whole response under the timeout and the size cap; the
    /// exchange, kept for `--har` when recording.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Arc<wire::Exchange> {
        let started = OffsetDateTime::now_utc();
        if let Some(pace) = &self.pace {
            pace.turn().await;
        }
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let verb = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let request = |client: &reqwest::Client| {
            let mut req = client.request(verb.clone(), url).body(body.clone());
            for (k, v) in headers {
                req = req.header(k.as_str(), v.as_str());
            }
            req
        };
        let clock = Instant::now();
        let response = tokio::time::timeout(self.timeout, async {
            let answer = match request(&self.client).send().await {
                Err(e) if closed_under_it(&e) => {
                    // Sent again, within the pace, and counted: it is a request like any other.
                    if let Some(pace) = &self.pace {
                        pace.turn().await;
                    }
                    self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    request(&self.fresh).send().await
                }
                other => other,
            };
            let resp = answer.map_err(|e| {
                // Only a failure to establish the connection (refused, DNS, TLS) says the target is
                // not there; a garbled or dropped answer comes from something that is.
                if is_tls(&e) {
                    TransportError::Tls(transport::cannot_connect(&e))
                } else if e.is_connect() {
                    TransportError::Connect(transport::cannot_connect(&e))
                } else {
                    TransportError::Read(cause_chain(&e))
                }
            })?;
            self.read(resp).await
        })
        .await
        .unwrap_or(Err(TransportError::Timeout(self.timeout)));
        let x = Arc::new(wire::Exchange {
            started,
            elapsed: clock.elapsed(),
            request: wire::Request {
                method: method.to_owned(),
                url: url.to_owned(),
                headers: headers.to_vec(),
                body,
            },
            response,
        });
        if let Some(recorder) = &self.recorder {
            recorder
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Arc::clone(&x));
        }
        x
    }
}

/// The profile's headers (`--header`), sent on every request; `target` checked them.
fn default_headers(target: &Target) -> reqwest::header::HeaderMap {
    let mut map = reqwest::header::HeaderMap::new();
    for h in &target.headers {
        map.append(h.name.clone(), h.value.clone());
    }
    map
}
