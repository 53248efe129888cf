//! HAR 1.2 (the HTTP Archive format browsers' developer tools and many HTTP tools load): every
//! exchange of a run or of a proxy's traffic, with secrets redacted as in every other report.
//!
//! A proxy writes entries as they happen ([`HarWriter`]), so a long session holds none of them
//! in memory; a run records its exchanges and writes them at the end ([`write()`]), once it knows
//! every token value to redact.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use super::Redactor;
use crate::wire;

/// Headers whose values are credentials, whatever the contract says.
const SECRET_HEADERS: &[&str] = &[
    "token",
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
];

/// Whether a header's value is a credential.
pub(crate) fn is_secret_header(name: &str) -> bool {
    SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Headers with their values redacted: a credential header's whole, every known secret in
/// the others.
pub(crate) fn redact_headers(
    headers: &[(String, String)],
    redactor: &Redactor,
) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            let v = if is_secret_header(k) {
                redactor.placeholder(v)
            } else {
                redactor.text(v)
            };
            (k.clone(), v)
        })
        .collect()
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn headers_json(headers: &[(String, String)], redactor: &Redactor) -> Value {
    Value::Array(
        redact_headers(headers, redactor)
            .into_iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect(),
    )
}

fn query(url: &str) -> Value {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    Value::Array(
        form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect(),
    )
}

/// Whose exchanges a HAR holds, which decides the URL its entries show and what an entry says
/// of a request no response came to.
#[derive(Clone, Debug)]
pub enum Side {
    /// The run's own requests: their URLs are absolute; one no response came to has status 0
    /// and no time, as HAR writes a request that was never answered.
    Run,
    /// A proxy's clients' requests: their path and query, under the target's base URL; one the
    /// target did not answer has the 502 the proxy answered in its place, after the time it
    /// waited.
    Proxy {
        /// The target's base URL.
        base_url: String,
    },
}

/// The HAR entry of one exchange, redacted.
pub fn entry(x: &wire::Exchange, side: &Side, redactor: &Redactor) -> Value {
    let mime = |h: &[(String, String)]| header(h, "content-type").unwrap_or_default();
    let url = match side {
        Side::Run => redactor.text(&x.request.url),
        Side::Proxy { base_url } => redactor.text(&format!("{base_url}{}", x.request.url)),
    };
    let millis = x.elapsed.as_secs_f64() * 1000.0;
    let (status, millis, headers, body): (u16, f64, &[(String, String)], &[u8]) =
        match (&x.response, side) {
            (Ok(r), _) => (r.status, millis, &r.headers[..], &r.body[..]),
            (Err(_), Side::Run) => (0, 0.0, &[][..], &[][..]),
            (Err(_), Side::Proxy { .. }) => (502, millis, &[][..], &[][..]),
        };
    let request_body =
        (!x.request.body.is_empty()).then(|| String::from_utf8_lossy(&x.request.body));
    let mut request = json!({
        "method": x.request.method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": headers_json(&x.request.headers, redactor),
        "queryString": query(&url),
        "headersSize": -1,
        "bodySize": request_body.as_ref().map_or(0, |b| i64::try_from(b.len()).unwrap_or(-1)),
    });
    if let (Some(body), Some(obj)) = (&request_body, request.as_object_mut()) {
        obj.insert(
            "postData".into(),
            json!({"mimeType": mime(&x.request.headers), "text": redact_body(body, redactor)}),
        );
    }
    json!({
        "startedDateTime": x.started
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "time": millis,
        "request": request,
        "response": {
            "status": status,
            "statusText": status_text(status),
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": headers_json(headers, redactor),
            "content": {
                "size": body.len(),
                "mimeType": mime(headers),
                "text": redact_body(&String::from_utf8_lossy(body), redactor),
            },
            "redirectURL": header(headers, "location").unwrap_or_default(),
            "headersSize": -1,
            "bodySize": body.len(),
        },
        "cache": {},
        "timings": {"send": 0, "wait": millis, "receive": 0},
    })
}

/// A body's text with its secrets redacted: the values of the contract's secret fields,
/// whatever their length, replaced where the body's structure puts them (JSON, form and
/// multipart bodies alike), then every secret the redactor knows, wherever it appears.
pub(crate) fn redact_body(body: &str, redactor: &Redactor) -> String {
    let structural = if let Ok(mut v) = serde_json::from_str::<Value>(body) {
        let before = v.clone();
        blank_fields(&mut v, redactor);
        // Written again only when something was blanked: otherwise the text stays as sent.
        if v == before {
            body.to_owned()
        } else {
            serde_json::to_string(&v).unwrap_or_default()
        }
    } else if body.contains("Content-Disposition:") || body.contains("content-disposition:") {
        blank_parts(body, redactor)
    } else if body.contains('=') {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(body.as_bytes()) {
            // A secret field's value, replaced by its placeholder (a token's carries its digest).
            let v = if redactor.is_secret_field(&k) {
                redactor.placeholder(&v).into()
            } else {
                v
            };
            out.append_pair(&k, &v);
        }
        out.finish()
    } else {
        body.to_owned()
    };
    redactor.text(&structural)
}

fn blank_fields(v: &mut Value, redactor: &Redactor) {
    match v {
        Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                // Asked first, so only a secret field's value is read again.
                if !redactor.is_secret_field(k) || val.is_null() {
                    blank_fields(val, redactor);
                    continue;
                }
                let placeholder = match &*val {
                    Value::String(s) => redactor.placeholder(s),
                    other => redactor.placeholder(&other.to_string()),
                };
                *val = Value::String(placeholder);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| blank_fields(i, redactor)),
        _ => {}
    }
}

/// A multipart body with the value of every secret part replaced.
fn blank_parts(body: &str, redactor: &Redactor) -> String {
    let mut out = Vec::new();
    let (mut part, mut in_value) = (None::<String>, false);
    for line in body.split("\r\n") {
        if line.starts_with("--") {
            (part, in_value) = (None, false);
            out.push(line.to_owned());
        } else if in_value {
            out.push(match part.as_deref() {
                Some(name) if redactor.is_secret_field(name) => redactor.placeholder(line),
                _ => line.to_owned(),
            });
        } else if line.is_empty() {
            in_value = true;
            out.push(String::new());
        } else {
            let lower = line.to_ascii_lowercase();
            if lower.starts_with("content-disposition:")
                && let Some(name) = line
                    .split("name=\"")
                    .nth(1)
                    .and_then(|n| n.split('"').next())
            {
                part = Some(name.to_owned());
            }
            out.push(line.to_owned());
        }
    }
    out.join("\r\n")
}

fn status_text(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

fn log_head() -> String {
    format!(
        "{{\"log\":{{\"version\":\"1.2\",\"creator\":{{\"name\":\"token-conformance\",\"version\":\"{}\"}},\"entries\":[",
        env!("CARGO_PKG_VERSION")
    )
}

const LOG_TAIL: &str = "]}}\n";

/// Writes a whole HAR of the run's `records`.
pub fn write(
    path: &Path,
    records: &[Arc<wire::Exchange>],
    redactor: &Redactor,
) -> std::io::Result<()> {
    let mut w = HarWriter::create(path, Side::Run)?;
    for r in records {
        w.push(r, redactor)?;
    }
    w.finish()
}

/// A HAR written entry by entry.
#[derive(Debug)]
pub struct HarWriter {
    out: std::io::BufWriter<std::fs::File>,
    entries: usize,
    side: Side,
}

impl HarWriter {
    /// Starts a HAR of `side`'s exchanges at `path`.
    pub fn create(path: &Path, side: Side) -> std::io::Result<Self> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        out.write_all(log_head().as_bytes())?;
        Ok(Self {
            out,
            entries: 0,
            side,
        })
    }

    /// Adds an exchange's entry.
    pub fn push(&mut self, x: &wire::Exchange, redactor: &Redactor) -> std::io::Result<()> {
        if self.entries > 0 {
            self.out.write_all(b",")?;
        }
        serde_json::to_writer(&mut self.out, &entry(x, &self.side, redactor))?;
        self.entries += 1;
        Ok(())
    }

    /// How many entries it holds.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Closes the log and flushes it.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.write_all(LOG_TAIL.as_bytes())?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_every_encoding_are_redacted() {
        let r = Redactor::with_fields(["password", "refresh_token"], Vec::new());
        let json = redact_body(r#"{"username":"u","password":"hunter2-hunter2"}"#, &r);
        assert!(!json.contains("hunter2"), "{json}");
        let form = redact_body("username=u&password=p%40ss+word!!", &r);
        assert!(!form.contains("p%40ss"), "{form}");
        let multipart = redact_body(
            "--b\r\nContent-Disposition: form-data; name=\"refresh_token\"\r\n\r\nabcdefghijkl\r\n--b--\r\n",
            &r,
        );
        assert!(!multipart.contains("abcdefghijkl"), "{multipart}");
        assert!(multipart.contains("<redacted>"), "{multipart}");
    }

    #[test]
    fn an_unanswered_request_is_the_runs_aborted_one_and_the_proxys_502() {
        let x = wire::Exchange {
            started: time::OffsetDateTime::UNIX_EPOCH,
            elapsed: std::time::Duration::from_millis(250),
            request: wire::Request {
                method: "POST".into(),
                url: "/api/x?a=1".into(),
                headers: Vec::new(),
                body: bytes::Bytes::new(),
            },
            response: Err(wire::TransportError::Read("reset".into())),
        };
        let r = Redactor::with_fields(["password"], Vec::new());
        let run = entry(&x, &Side::Run, &r);
        assert_eq!(run["request"]["url"], "/api/x?a=1");
        assert_eq!(run["response"]["status"], 0);
        assert_eq!(run["time"], 0.0);
        let side = Side::Proxy {
            base_url: "http://t:8".into(),
        };
        let proxy = entry(&x, &side, &r);
        assert_eq!(proxy["request"]["url"], "http://t:8/api/x?a=1");
        assert_eq!(
            proxy["request"]["queryString"],
            json!([{"name": "a", "value": "1"}])
        );
        assert_eq!(proxy["response"]["status"], 502);
        assert_eq!(proxy["response"]["statusText"], "Bad Gateway");
        assert_eq!(proxy["time"], 250.0);
    }
}
