//! What the proxy knows of the traffic: the model of every token it has seen (a ledger that
//! keeps digests, never values), the judgement of each exchange by the run's checks, and the
//! record the reports are made from, bounded however long the proxy runs.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::case::Severity;
use crate::check::{
    Exchange, Finding, IssuedTokens, Ledger, Lifespans, RequestExchange, judge, judge_request,
};
use crate::report::Redactor;
use crate::report::har::{HarWriter, redact_body, redact_headers};
use crate::run::{HarRecord, KeptExchange, ResponseView, SentRequest, Traffic};
use crate::spec::{Operation, Spec};
use crate::target::Target;

/// One exchange as it passed through.
pub struct Passed<'a> {
    /// When the request arrived.
    pub started: OffsetDateTime,
    /// Time to the whole response.
    pub elapsed: Duration,
    /// The method.
    pub method: &'a str,
    /// Path and query.
    pub path: &'a str,
    /// The request's headers, as sent.
    pub request_headers: &'a [(String, String)],
    /// The request body.
    pub request_body: &'a [u8],
    /// The status.
    pub status: u16,
    /// The response's headers, as received.
    pub response_headers: &'a [(String, String)],
    /// The response body.
    pub response_body: &'a [u8],
}

/// What the checks found in one exchange.
#[derive(Debug, Default)]
pub struct Judgement {
    /// The exchange's number, from 1.
    pub number: u64,
    /// Findings of the request.
    pub client: Vec<Finding>,
    /// Findings of the response.
    pub server: Vec<Finding>,
}

impl Judgement {
    /// The first server finding that fails the target (a MUST; a SHOULD too under `strict`).
    pub(crate) fn blocking(&self, strict: bool) -> Option<&Finding> {
        self.server
            .iter()
            .find(|f| f.severity == Severity::Must || strict)
    }
}

/// Counts and the kept exchanges.
#[derive(Debug, Default)]
struct Log {
    traffic: Traffic,
    kept: Vec<KeptExchange>,
    kept_clean: usize,
    exercised: BTreeSet<(String, u16)>,
    stopped_answering: bool,
}

/// Everything the proxy knows, shared by its connections.
pub struct Model {
    spec: Arc<Spec>,
    base_url: String,
    tolerance: crate::duration::Span,
    ledger: Mutex<Ledger>,
    issued: IssuedTokens,
    log: Mutex<Log>,
    har: Mutex<Option<HarWriter>>,
    redactor: Redactor,
    keep: usize,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").finish_non_exhaustive()
    }
}

impl Model {
    /// A model for traffic to `target`: at most `capacity` tokens, at most `keep` exchanges
    /// kept whole for the reports (besides those with findings, up to ten times as many).
    pub fn new(
        spec: Arc<Spec>,
        target: &Target,
        capacity: usize,
        keep: usize,
        har: Option<HarWriter>,
    ) -> Self {
        let lifespans = Lifespans {
            refresh: target.refresh_lifespan,
            access: target.access_lifespan,
        };
        let from = (
            target.refresh_lifespan_from.clone(),
            target.access_lifespan_from.clone(),
        );
        // The gateway headers' values are secrets too.
        let secrets = target.headers.iter().map(|(_, v)| v.expose().to_owned());
        let redactor =
            Redactor::with_fields(spec.secret_fields.iter().map(String::as_str), secrets);
        Self {
            base_url: target.base_url.clone(),
            tolerance: target.tolerance,
            ledger: Mutex::new(Ledger::for_traffic(lifespans, from, capacity)),
            issued: IssuedTokens::digests_only(capacity),
            log: Mutex::default(),
            har: Mutex::new(har),
            redactor,
            keep,
            spec,
        }
    }

    /// The operation whose path this is (the query aside), if the contract has one.
    pub fn operation(&self, path: &str) -> Option<&Operation> {
        let path = path.split('?').next().unwrap_or(path);
        self.spec.operations.values().find(|o| o.path == path)
    }

    /// Counts one exchange and judges it, if its path is the contract's. The model learns
    /// what the response says of its tokens. `failure` says why the target did not answer,
    /// when it did not: that is the one server finding, and the client's request is judged.
    pub fn judge(&self, p: &Passed<'_>, failure: Option<&str>) -> Judgement {
        let number = {
            let mut log = self.lock_log();
            log.traffic.exchanges += 1;
            log.traffic.exchanges
        };
        let mut j = Judgement {
            number,
            ..Judgement::default()
        };
        let Some(op) = self.operation(p.path) else {
            let mut log = self.lock_log();
            log.traffic.passed_through += 1;
            if failure.is_some() {
                log.stopped_answering = true;
                log.traffic.unanswered += 1;
            }
            return j;
        };
        let content_type = header(p.request_headers, "content-type");
        j.client = self.client_findings(p, op);
        if let Some(why) = failure {
            j.server = vec![Finding::new(crate::check::TRANSPORT, why.to_owned())];
            let mut log = self.lock_log();
            log.stopped_answering = true;
            log.traffic.unanswered += 1;
            drop(log);
            self.record(p, op, &j);
            return j;
        }
        let response_body = match decoded(p) {
            Ok(Some(body)) => body,
            Ok(None) => {
                self.lock_log().traffic.passed_through += 1;
                return j;
            }
            Err(f) => {
                j.server = vec![f];
                self.record(p, op, &j);
                return j;
            }
        };
        let request: Map<String, Value> =
            crate::encoding::decode(content_type.unwrap_or_default(), p.request_body);
        let lower: Vec<(String, String)> = p
            .response_headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        let place = format!("exchange {number}");
        let x = Exchange {
            spec: &self.spec,
            operation: op,
            method: p.method,
            other_method: !p.method.eq_ignore_ascii_case(&op.method),
            request: &request,
            status: p.status,
            headers: &lower,
            body: &response_body,
            tolerance: self.tolerance,
            place: &place,
            expected: &[],
            sent_at: p.started,
            target_clock: None,
        };
        let findings = {
            let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
            judge(&x, &mut ledger, &self.issued).0
        };
        j.server = findings.into_vec();
        self.record(p, op, &j);
        j
    }

    /// What the request checks find of the client's request: warnings, since a client's
    /// mistake never fails the target.
    fn client_findings(&self, p: &Passed<'_>, op: &Operation) -> Vec<Finding> {
        let mut found = judge_request(&RequestExchange {
            spec: &self.spec,
            operation: op,
            method: p.method,
            content_type: header(p.request_headers, "content-type"),
            content_encoding: header(p.request_headers, "content-encoding"),
            body: p.request_body,
        })
        .into_vec();
        for f in &mut found {
            f.severity = Severity::Should;
        }
        found
    }

    fn lock_log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps what the reports need of one judged exchange, redacted, and writes its HAR entry.
    fn record(&self, p: &Passed<'_>, op: &Operation, j: &Judgement) {
        // Texts are made only for what keeps them: the HAR, when asked for, and a kept case.
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let url = || format!("{}{}", self.base_url, p.path);
        if let Some(w) = self
            .har
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            let har = HarRecord {
                started: p.started,
                millis: p.elapsed.as_secs_f64() * 1000.0,
                method: p.method.to_owned(),
                url: url(),
                request_headers: p.request_headers.to_vec(),
                request_body: (!p.request_body.is_empty()).then(|| text(p.request_body)),
                status: p.status,
                response_headers: p.response_headers.to_vec(),
                response_body: text(p.response_body),
                response_size: p.response_body.len(),
            };
            if let Err(e) = w.push(&har, &self.redactor) {
                eprintln!("warning: the HAR cannot be written: {e}");
            }
        }
        let mut log = self.lock_log();
        log.traffic.judged += 1;
        log.exercised.insert((op.id.clone(), p.status));
        let must = j.server.iter().any(|f| f.severity == Severity::Must);
        log.traffic.server_findings += u64::from(!j.server.is_empty());
        log.traffic.failing += u64::from(must);
        log.traffic.client_findings += u64::from(!j.client.is_empty());
        let clean = j.server.is_empty() && j.client.is_empty();
        let room = if clean {
            log.kept_clean < self.keep
        } else {
            log.kept.len() - log.kept_clean < self.keep * 10
        };
        if !room {
            return;
        }
        log.kept_clean += usize::from(clean);
        let kept = self.kept(
            p,
            op,
            j,
            &url(),
            &text(p.request_body),
            &text(p.response_body),
        );
        log.kept.push(kept);
        log.traffic.kept = log.kept.len();
    }

    /// The exchange as the reports keep it: redacted, bodies cut at 4 KiB.
    fn kept(
        &self,
        p: &Passed<'_>,
        op: &Operation,
        j: &Judgement,
        url: &str,
        request_text: &str,
        response_text: &str,
    ) -> KeptExchange {
        let redact_headers = |h: &[(String, String)]| redact_headers(h, &self.redactor);
        let cut = |s: String| {
            let mut end = s.len().min(4096);
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s[..end].to_owned()
        };
        KeptExchange {
            number: j.number,
            operation: op.id.clone(),
            path: p.path.to_owned(),
            request: SentRequest {
                method: p.method.to_owned(),
                url: self.redactor.text(url),
                headers: redact_headers(p.request_headers),
                body: cut(redact_body(request_text, &self.redactor)),
            },
            response: ResponseView {
                status: p.status,
                headers: redact_headers(p.response_headers),
                body: cut(redact_body(response_text, &self.redactor)),
                millis: u64::try_from(p.elapsed.as_millis()).unwrap_or(u64::MAX),
            },
            server: j.server.clone(),
            client: j.client.clone(),
        }
    }

    /// The counts so far.
    pub fn traffic(&self) -> Traffic {
        let mut t = self.lock_log().traffic.clone();
        let ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        t.tokens_tracked = ledger.len();
        t.forgotten_early = ledger.evicted();
        t.tokens_issued = self.issued.len();
        t
    }

    /// Ends the HAR.
    pub(crate) fn finish_har(&self) -> std::io::Result<()> {
        match self
            .har
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            Some(w) => w.finish(),
            None => Ok(()),
        }
    }

    /// The kept exchanges, what they exercised, and whether the target stopped answering.
    pub fn take(&self) -> (Vec<KeptExchange>, BTreeSet<(String, u16)>, bool) {
        let mut log = self.lock_log();
        (
            std::mem::take(&mut log.kept),
            std::mem::take(&mut log.exercised),
            log.stopped_answering,
        )
    }

    /// The redactor of what the model kept (already redacted; it catches the gateway headers).
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }
}

/// The answer's body as the client reads it: decoded from its content coding (RFC 9110
/// §12.5.3), or the transport finding that it cannot be. `None` for a coding this harness
/// cannot undo that the client asked for (a browser's zstd): the client reads the body, the
/// proxy cannot, so it passes unjudged.
fn decoded(p: &Passed<'_>) -> Result<Option<Vec<u8>>, Finding> {
    let coding = header(p.response_headers, "content-encoding");
    if let Some(c) = crate::coding::unknown(coding)
        && header(p.request_headers, "accept-encoding")
            .is_some_and(|a| a.to_ascii_lowercase().contains(&c))
    {
        return Ok(None);
    }
    crate::coding::decode(coding, p.response_body.to_vec(), super::MAX_BODY)
        .map(Some)
        .map_err(|e| Finding::new(crate::check::TRANSPORT, e.to_string()))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
