//! Forwarding: the client's request as it goes to the target (its `Host` the target's, the
//! profile's headers added), sent on the client connection's own target connection, and the
//! whole answer, or why there is none.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HOST, HeaderValue};
use hyper::{Request, Response};

use hyper::http::uri::PathAndQuery;

use super::MAX_BODY;
use super::upstream::{self, Upstream};
use crate::target::{Header, Target};
use crate::transport;
use crate::wire::{self, TransportError};

/// What forwarding one request gave.
pub(super) enum Forwarded {
    /// The target's whole answer.
    Answered(Response<Bytes>),
    /// No answer, and why (a `transport` finding).
    Failed(TransportError),
}

/// Where requests go, and what is added to them on the way.
pub(super) struct Forwarder {
    upstream: Upstream,
    headers: Vec<Header>,
    timeout: Duration,
}

impl Forwarder {
    /// Forwarding to `target`, with its gateway headers and timeout.
    pub(super) fn new(target: &Target) -> Result<Self, crate::error::Error> {
        Ok(Self {
            upstream: Upstream::new(target)?,
            headers: target.headers.clone(),
            timeout: transport::timeout(target),
        })
    }

    /// The target's timeout.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Forwards `out` on the client connection's own target connection `conn`.
    pub(super) async fn forward(
        &self,
        conn: &tokio::sync::Mutex<Option<upstream::Connection>>,
        out: &mut Outgoing,
    ) -> Forwarded {
        match self.send(conn, out).await {
            Ok(r) => Forwarded::Answered(r),
            Err(why) => Forwarded::Failed(why),
        }
    }

    /// What goes to the target for a client's request, and the request as the client sent it
    /// (its path and query, its headers as they came), the record's.
    pub(super) fn outgoing(
        &self,
        parts: hyper::http::request::Parts,
        body: Bytes,
    ) -> (Outgoing, wire::Request) {
        // An origin-form request always has a path ("/" at least), which hyper parsed already.
        let target_path = parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let request = wire::Request {
            method: parts.method.as_str().to_owned(),
            url: target_path.as_str().to_owned(),
            headers: pairs(&parts.headers),
            body: body.clone(),
        };
        let mut headers = parts.headers;
        drop_hop_by_hop(&mut headers);
        if let Ok(host) = HeaderValue::from_str(&self.upstream.authority) {
            headers.insert(HOST, host);
        }
        for h in &self.headers {
            headers.insert(h.name.clone(), h.value.clone());
        }
        let out = Outgoing {
            method: parts.method,
            path: target_path,
            headers,
            extensions: Some(parts.extensions),
            body,
        };
        (out, request)
    }

    /// Sends the request on the client connection's own target connection, opening one when there
    /// is none or the target closed it (once more when a kept connection turns out closed); reads
    /// the whole answer under the timeout.
    async fn send(
        &self,
        upstream: &tokio::sync::Mutex<Option<upstream::Connection>>,
        out: &mut Outgoing,
    ) -> Result<Response<Bytes>, TransportError> {
        let mut slot = upstream.lock().await;
        for attempt in 0..2 {
            let kept = match slot.take() {
                Some(mut c) if !c.is_closed() => c.ready().await.is_ok().then_some(c),
                _ => None,
            };
            let fresh = kept.is_none();
            *slot = Some(match kept {
                Some(c) => c,
                None => self.upstream.connect().await?,
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
            match tokio::time::timeout(self.timeout, read).await {
                Err(_) => {
                    *slot = None;
                    return Err(TransportError::Timeout(self.timeout));
                }
                // A kept connection the target closed as the request went out: once more, fresh.
                Ok(Err(e)) if !fresh && attempt == 0 && e.is_canceled() => {
                    *slot = None;
                }
                Ok(Err(e)) => {
                    *slot = None;
                    return Err(TransportError::Read(format!(
                        "the target broke the exchange: {e}"
                    )));
                }
                Ok(Ok((parts, Ok(body)))) => {
                    return Ok(Response::from_parts(parts, body.to_bytes()));
                }
                Ok(Ok((_, Err(e)))) => {
                    *slot = None;
                    return Err(TransportError::Read(format!(
                        "the target's answer could not be read whole: {e}"
                    )));
                }
            }
        }
        Err(TransportError::Connect(
            "the target closed every connection before answering".to_owned(),
        ))
    }
}

/// What is sent to the target: the client's request, but for the `Host` header (the target's
/// name, as any reverse proxy sends it) and the profile's `--header`s.
pub(super) struct Outgoing {
    method: hyper::Method,
    path: PathAndQuery,
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
        *r.uri_mut() = hyper::Uri::from(self.path.clone());
        *r.headers_mut() = self.headers.clone();
        if let Some(ext) = self.extensions.take() {
            *r.extensions_mut() = ext;
        }
        r
    }
}

/// Removes what belongs to the client's connection, not to the request: the headers
/// `Connection` names, and the hop-by-hop ones (RFC 9110 §7.6.1: a proxy MUST NOT forward them).
/// The target's connection is the proxy's own; its framing is hyper's.
fn drop_hop_by_hop(headers: &mut hyper::HeaderMap) {
    let named: Vec<String> = headers
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    for name in named.iter().map(String::as_str).chain([
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ]) {
        headers.remove(name);
    }
}

pub(super) fn pairs(headers: &hyper::HeaderMap) -> Vec<(String, String)> {
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
