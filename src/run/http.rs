//! The HTTP side of a run: one client for the whole run, and responses read under a size cap
//! and a timeout, so a target that hangs, drops connections, or answers garbage gives a clear
//! failure and never a hang. (The bodies' encodings are `encoding.rs`'s.)

use std::time::{Duration, Instant};

use time::OffsetDateTime;

use crate::error::{Error, ErrorKind};
use crate::target::Target;
use crate::transport;

/// One exchange as it went over the wire, kept for the HAR (`--har`): the run records its
/// own, the proxy its clients'.
#[derive(Clone, Debug)]
pub struct HarRecord {
    /// When the request was sent.
    pub started: OffsetDateTime,
    /// Milliseconds to the whole response.
    pub millis: f64,
    /// The method.
    pub method: String,
    /// The full URL.
    pub url: String,
    /// The request's headers.
    pub request_headers: Vec<(String, String)>,
    /// The request body's text, if it had one.
    pub request_body: Option<String>,
    /// The status, or 0 when no response came.
    pub status: u16,
    /// The response's headers.
    pub response_headers: Vec<(String, String)>,
    /// The response body's text.
    pub response_body: String,
    /// The response body's size in bytes.
    pub response_size: usize,
}

/// A request as sent (the body as text, for reports; secrets are redacted by the reporter).
#[derive(Clone, Debug, serde::Serialize)]
pub struct SentRequest {
    /// Method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// Headers the harness set.
    pub headers: Vec<(String, String)>,
    /// The body, lossily as text, cut at 4 KiB.
    pub body: String,
}

/// A response as received.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Received {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body bytes (at most the cap).
    #[serde(skip)]
    pub body: Vec<u8>,
    /// Time to the full body.
    #[serde(skip)]
    pub elapsed: Duration,
}

impl Received {
    /// The first header of this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text, lossily.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why no usable response arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransportError {
    /// Nothing within the timeout.
    Timeout(Duration),
    /// The connection could not be made or broke.
    Connect(String),
    /// The TLS handshake failed: the target's certificate is not trusted (or TLS is broken).
    Tls(String),
    /// The body was over the cap.
    TooLarge(usize),
    /// Anything else while reading.
    Read(String),
}

impl TransportError {
    /// Whether this says the target is not there at all (or not reachable as configured).
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, Self::Connect(_) | Self::Tls(_))
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout(d) => write!(
                f,
                "no response within {}",
                crate::duration::Span::from_micros(
                    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
                )
            ),
            Self::Connect(c) | Self::Tls(c) => write!(f, "connection failed: {c}"),
            Self::TooLarge(n) => write!(f, "the response body is larger than {n} bytes"),
            Self::Read(c) => write!(f, "the response could not be read: {c}"),
        }
    }
}

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
    pace: Option<std::sync::Arc<Pace>>,
    /// Every request sent through this client and its clones: the cases' and the run's own.
    sent: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Every exchange, for `--har`, when asked to record them.
    recorder: Option<std::sync::Arc<std::sync::Mutex<Vec<HarRecord>>>>,
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
fn retry_after(r: &Received) -> Option<Duration> {
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
            std::sync::Arc::new(Pace {
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
            sent: std::sync::Arc::default(),
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
        self.recorder = Some(std::sync::Arc::default());
        self
    }

    /// The exchanges recorded so far (none unless [`Http::recording`]).
    pub(crate) fn records(&self) -> Vec<HarRecord> {
        self.recorder.as_ref().map_or_else(Vec::new, |r| {
            r.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        })
    }

    /// How many requests this client has sent: the cases', the pool's, the checks' of what a
    /// refusal left, the clean-up's.
    pub fn sent(&self) -> usize {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends a request like [`Http::send`]; a 503 (and, unless `keep_429`, a 429) with a
    /// bounded `Retry-After` is waited out and the request sent again (at most
    /// [`MAX_RETRIES`] times). Returns the statuses and seconds waited.
    pub(crate) async fn send_patiently(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
        keep_429: bool,
    ) -> (
        SentRequest,
        Result<Received, TransportError>,
        Vec<(u16, u64)>,
    ) {
        let mut waited = Vec::new();
        loop {
            let (sent, result) = self.send(method, url, headers, body.clone()).await;
            let wait = result
                .as_ref()
                .ok()
                .filter(|r| !(keep_429 && r.status == 429))
                .and_then(|r| retry_after(r).map(|d| (r.status, d)));
            match wait {
                Some((status, d)) if waited.len() < MAX_RETRIES => {
                    waited.push((status, d.as_secs()));
                    tokio::time::sleep(d).await;
                }
                _ => return (sent, result, waited),
            }
        }
    }

    /// Keeps one exchange for `--har`.
    fn record(
        &self,
        started: time::OffsetDateTime,
        request_body: Option<String>,
        sent: &SentRequest,
        result: &Result<Received, TransportError>,
    ) {
        let Some(rec) = &self.recorder else { return };
        let r = result.as_ref().ok();
        let entry = HarRecord {
            started,
            millis: r.map_or(0.0, |r| r.elapsed.as_secs_f64() * 1000.0),
            method: sent.method.clone(),
            url: sent.url.clone(),
            request_headers: sent.headers.clone(),
            request_body,
            status: r.map_or(0, |r| r.status),
            response_headers: r.map(|r| r.headers.clone()).unwrap_or_default(),
            response_body: r.map(Received::text).unwrap_or_default(),
            response_size: r.map_or(0, |r| r.body.len()),
        };
        rec.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(entry);
    }

    /// Reads a whole response under the size cap, its body decoded: a coded body is judged as
    /// clients read it (RFC 9110 §12.5.3).
    async fn read(
        &self,
        mut resp: reqwest::Response,
        started: Instant,
    ) -> Result<Received, TransportError> {
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
        Ok(Received {
            status,
            headers,
            body,
            elapsed: started.elapsed(),
        })
    }

    /// Sends a request and reads the whole response under the timeout and the size cap.
    pub async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> (SentRequest, Result<Received, TransportError>) {
        let sent = SentRequest {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: headers.to_vec(),
            body: transport::text_of(&body),
        };
        let record = self.recorder.as_ref().map(|_| {
            (
                time::OffsetDateTime::now_utc(),
                (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned()),
            )
        });
        if let Some(pace) = &self.pace {
            pace.turn().await;
        }
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let request = |client: &reqwest::Client| {
            let mut req = client.request(method.clone(), url).body(body.clone());
            for (k, v) in headers {
                req = req.header(k.as_str(), v.as_str());
            }
            req
        };
        let started = Instant::now();
        let result = tokio::time::timeout(self.timeout, async {
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
            self.read(resp, started).await
        })
        .await
        .unwrap_or(Err(TransportError::Timeout(self.timeout)));
        if let Some((started, request_body)) = record {
            self.record(started, request_body, &sent, &result);
        }
        (sent, result)
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
