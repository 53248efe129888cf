//! One exchange as it went over the wire: when it started, how long it took, the request as
//! sent and the response as received, or why none came. It is built once, where the exchange
//! happens (the run's client in `run/http.rs`, the proxy's listener in `proxy/listen.rs`);
//! everything else is a view of it: the checks borrow it (`check::Judged`,
//! `check::RequestExchange`), the reports render it when they are written (the HAR entry, a
//! step's request and response cut by `transport::text_of`). It holds secrets as they were
//! sent: only the reports' views are redacted.

use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;

/// Headers as name and value, in the order they were written (a name may come twice).
pub type Headers = Vec<(String, String)>;

/// One request and what came of it.
#[derive(Clone, Debug)]
pub struct Exchange {
    /// When it began, by the harness's clock: for the run, before the request waited its turn
    /// under `--rate`; for the proxy, when the client's request arrived.
    pub started: OffsetDateTime,
    /// How long it took: to the whole response, or to the failure.
    pub elapsed: Duration,
    /// The request.
    pub request: Request,
    /// The response, or why there is none.
    pub response: Result<Response, TransportError>,
}

/// A request as it was sent.
#[derive(Clone, Debug)]
pub struct Request {
    /// The method.
    pub method: String,
    /// The URL: absolute for the run's requests; the path and query (the origin form) for a
    /// proxy's client's, which the proxy sends to the target's authority.
    pub url: String,
    /// The headers its sender wrote: the run's own for this request (its client adds the user
    /// agent and the profile's `--header`s, whose values are secrets, to every request, and
    /// those are not recorded), or a proxy's client's as they came (names in lower case, as
    /// hyper gives them; the proxy adds the profile's on the way, unrecorded too).
    pub headers: Headers,
    /// The body.
    pub body: Bytes,
}

/// A response as it was received.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, names lower-cased (as both HTTP stacks give them).
    pub headers: Headers,
    /// The body, at most the read cap: the run's decoded from its content coding as it was
    /// read (the cap holds for the decoded body), the proxy's as it passed, since it is
    /// forwarded as it came.
    pub body: Bytes,
}

/// The first header of this name, in any letter case.
fn first<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Request {
    /// The first header of this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        first(&self.headers, name)
    }
}

impl Response {
    /// The first header of this name.
    pub fn header(&self, name: &str) -> Option<&str> {
        first(&self.headers, name)
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
