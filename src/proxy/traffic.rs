//! What the proxy knows of the traffic: the model of every token it has seen (a ledger that
//! keeps digests, never values), and the judgement of each exchange by the run's checks; the
//! record the reports are made from is `record.rs`'s.

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Map, Value};

use super::record::Recorder;
use crate::case::Severity;
use crate::check::{
    Finding, IssuedTokens, Judged, Ledger, Lifespans, RequestExchange, judge, judge_request,
};
use crate::report::Redactor;
use crate::report::har::HarWriter;
use crate::run::{Body, Meta, Report, Seen, Shaping, Started, Traffic, TrafficLog};
use crate::spec::{Operation, Spec};
use crate::target::Target;
use crate::wire;

/// The status a proxy's client got: the target's, or the 502 the proxy answers in its place
/// when the target gave none.
pub(super) fn client_status(x: &wire::Exchange) -> u16 {
    x.response.as_ref().map_or(502, |r| r.status)
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

/// Everything the proxy knows, shared by its connections.
pub struct Model {
    spec: Arc<Spec>,
    tolerance: crate::duration::Span,
    ledger: Mutex<Ledger>,
    issued: IssuedTokens,
    recorder: Recorder,
    redactor: Redactor,
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
        let from = (target.refresh_lifespan_from, target.access_lifespan_from);
        // The gateway headers' values are secrets too (and so is any password the proxy's
        // profile holds, should a client send it).
        let secrets = target.secrets();
        let redactor =
            Redactor::with_fields(spec.secret_fields.iter().map(String::as_str), secrets);
        Self {
            tolerance: target.tolerance,
            ledger: Mutex::new(Ledger::for_traffic(lifespans, from, capacity)),
            issued: IssuedTokens::digests_only(capacity),
            recorder: Recorder::new(target.base_url.clone(), keep, har),
            redactor,
            spec,
        }
    }

    /// The operation whose path this is (the query aside), if the contract has one.
    pub fn operation(&self, path: &str) -> Option<&Operation> {
        let path = path.split('?').next().unwrap_or(path);
        self.spec.operations.values().find(|o| o.path == path)
    }

    /// Counts one exchange and judges it, if its path is the contract's. The model learns
    /// what the response says of its tokens. When the target did not answer, why it did not
    /// is the one server finding, and the client's request is judged.
    pub fn judge(&self, x: &wire::Exchange) -> Judgement {
        let number = self.recorder.count();
        let mut j = Judgement {
            number,
            ..Judgement::default()
        };
        let Some(op) = self.operation(&x.request.url) else {
            self.recorder.passed_through(x.response.is_err());
            return j;
        };
        j.client = self.client_findings(&x.request, op);
        let response = match &x.response {
            Ok(r) => r,
            Err(why) => {
                j.server = vec![Finding::new(crate::check::TRANSPORT, why.to_string())];
                self.recorder.unanswered();
                self.recorder.judged(x, op, &j, &self.redactor);
                return j;
            }
        };
        let body = match decoded(&x.request, response) {
            Ok(Some(body)) => body,
            Ok(None) => {
                self.recorder.passed_through(false);
                return j;
            }
            Err(f) => {
                j.server = vec![f];
                self.recorder.judged(x, op, &j, &self.redactor);
                return j;
            }
        };
        let fields: Map<String, Value> = crate::encoding::decode(
            x.request.header("content-type").unwrap_or_default(),
            &x.request.body,
        );
        let place = format!("exchange {number}");
        // The response's header names are in lower case already, as hyper gives every name.
        let judging = Judged {
            spec: &self.spec,
            operation: op,
            request: &x.request,
            response,
            body: &body,
            other_method: !x.request.method.eq_ignore_ascii_case(&op.method),
            fields: &fields,
            tolerance: self.tolerance,
            place: &place,
            expected: &[],
            sent_at: x.started,
            target_clock: None,
        };
        let findings = {
            let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
            judge(&judging, &mut ledger, &self.issued).0
        };
        j.server = findings.into_vec();
        self.recorder.judged(x, op, &j, &self.redactor);
        j
    }

    /// What the request checks find of the client's request: warnings, since a client's
    /// mistake never fails the target.
    fn client_findings(&self, request: &wire::Request, op: &Operation) -> Vec<Finding> {
        let mut found = judge_request(&RequestExchange {
            spec: &self.spec,
            operation: op,
            request,
        })
        .into_vec();
        for f in &mut found {
            f.severity = Severity::Should;
        }
        found
    }

    /// The counts so far.
    pub fn traffic(&self) -> Traffic {
        let mut t = self.recorder.counts();
        let ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        t.tokens_tracked = ledger.len();
        t.forgotten_early = ledger.evicted();
        t.tokens_issued = self.issued.len();
        t
    }

    /// Ends the HAR; the first error writing it, if any.
    pub fn finish_har(&self) -> std::io::Result<()> {
        self.recorder.finish_har()
    }

    /// The session's report: its metadata, what the traffic held, and the exchanges kept
    /// whole. Takes the kept exchanges.
    pub fn report(&self, target: &Target, started: Started) -> Report {
        let counts = self.traffic();
        let (kept_exchanges, exercised, stopped_answering) = self.recorder.take();
        let seen = Seen {
            exercised,
            tokens_issued: counts.tokens_issued,
            requests_sent: usize::try_from(counts.exchanges).unwrap_or(usize::MAX),
            stopped_answering,
        };
        Report {
            meta: Meta::new(
                &self.spec,
                target,
                started,
                Shaping::new(target, Vec::new()),
                seen,
            ),
            body: Body::Traffic(TrafficLog {
                counts,
                kept_exchanges,
            }),
        }
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
fn decoded(request: &wire::Request, response: &wire::Response) -> Result<Option<Vec<u8>>, Finding> {
    let coding = response.header("content-encoding");
    if let Some(c) = crate::coding::unknown(coding)
        && request
            .header("accept-encoding")
            .is_some_and(|a| a.to_ascii_lowercase().contains(&c))
    {
        return Ok(None);
    }
    crate::coding::decode(coding, response.body.to_vec(), super::MAX_BODY)
        .map(Some)
        .map_err(|e| Finding::new(crate::check::TRANSPORT, e.to_string()))
}
