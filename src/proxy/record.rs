//! What the reports are made from, bounded however long the proxy runs: the counters of every
//! exchange, the exchanges kept whole (those with findings first), and the HAR, written as
//! exchanges pass.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};

use super::traffic::{Judgement, client_status};
use crate::case::Severity;
use crate::report::Redactor;
use crate::report::har::{HarWriter, redact_body, redact_headers};
use crate::run::{KeptExchange, ResponseView, SentRequest, Traffic};
use crate::spec::Operation;
use crate::wire;

/// Counts and the kept exchanges.
#[derive(Debug, Default)]
struct Log {
    traffic: Traffic,
    kept: Vec<KeptExchange>,
    kept_clean: usize,
    exercised: BTreeSet<(String, u16)>,
    stopped_answering: bool,
}

/// The record of a session.
pub(super) struct Recorder {
    base_url: String,
    log: Mutex<Log>,
    har: Mutex<Option<HarWriter>>,
    har_failed: Mutex<Option<std::io::Error>>,
    keep: usize,
}

impl Recorder {
    /// A record of traffic to `base_url` that keeps at most `keep` clean exchanges whole (and
    /// ten times as many with findings), writing each judged one to `har` if given.
    pub(super) fn new(base_url: String, keep: usize, har: Option<HarWriter>) -> Self {
        Self {
            base_url,
            log: Mutex::default(),
            har: Mutex::new(har),
            har_failed: Mutex::default(),
            keep,
        }
    }

    /// Counts one more exchange; its number, from 1.
    pub(super) fn count(&self) -> u64 {
        let mut log = self.lock_log();
        log.traffic.exchanges += 1;
        log.traffic.exchanges
    }

    /// Counts an exchange passed through unjudged, and whether the target did not answer it.
    pub(super) fn passed_through(&self, unanswered: bool) {
        let mut log = self.lock_log();
        log.traffic.passed_through += 1;
        if unanswered {
            log.stopped_answering = true;
            log.traffic.unanswered += 1;
        }
    }

    /// Counts a judged exchange the target did not answer.
    pub(super) fn unanswered(&self) {
        let mut log = self.lock_log();
        log.stopped_answering = true;
        log.traffic.unanswered += 1;
    }

    /// The counters so far.
    pub(super) fn counts(&self) -> Traffic {
        self.lock_log().traffic.clone()
    }

    fn lock_log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps what the reports need of one judged exchange, redacted, and writes its HAR entry.
    pub(super) fn judged(
        &self,
        x: &wire::Exchange,
        op: &Operation,
        j: &Judgement,
        redactor: &Redactor,
    ) {
        if let Some(w) = self
            .har
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_mut()
        {
            // The first failure is kept for the end of the session; the HAR is then left
            // unfinished, and the exchanges are judged and reported all the same.
            let mut failed = self
                .har_failed
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if failed.is_none()
                && let Err(e) = w.push(x, redactor)
            {
                *failed = Some(e);
            }
        }
        let mut log = self.lock_log();
        log.traffic.judged += 1;
        log.exercised.insert((op.id.clone(), client_status(x)));
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
        let url = format!("{}{}", self.base_url, x.request.url);
        let kept = kept(x, op, j, &url, redactor);
        log.kept.push(kept);
        log.traffic.kept = log.kept.len();
    }

    /// Ends the HAR; the first error writing it, if any.
    pub(super) fn finish_har(&self) -> std::io::Result<()> {
        if let Some(e) = self
            .har_failed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            return Err(e);
        }
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
    pub(super) fn take(&self) -> (Vec<KeptExchange>, BTreeSet<(String, u16)>, bool) {
        let mut log = self.lock_log();
        (
            std::mem::take(&mut log.kept),
            std::mem::take(&mut log.exercised),
            log.stopped_answering,
        )
    }
}

/// The exchange as the reports keep it: redacted, bodies cut at 4 KiB. The record itself is
/// not kept: a session may run for days, and what it keeps stays small and holds no secret.
fn kept(
    x: &wire::Exchange,
    op: &Operation,
    j: &Judgement,
    url: &str,
    redactor: &Redactor,
) -> KeptExchange {
    let headers = |h: &[(String, String)]| Cow::Owned(redact_headers(h, redactor));
    // Redacted whole, then cut: a cut body would not parse, and its secret fields not be found.
    let body = |b: &[u8]| {
        let text = redact_body(&String::from_utf8_lossy(b), redactor);
        crate::transport::text_of(text.as_bytes())
    };
    let response = x.response.as_ref().ok();
    KeptExchange {
        number: j.number,
        operation: op.id.clone(),
        path: x.request.url.clone(),
        request: SentRequest {
            method: Cow::Owned(x.request.method.clone()),
            url: Cow::Owned(redactor.text(url)),
            headers: headers(&x.request.headers),
            body: body(&x.request.body),
        },
        response: ResponseView {
            status: client_status(x),
            headers: headers(response.map_or(&[][..], |r| &r.headers[..])),
            body: body(response.map_or(&[][..], |r| &r.body[..])),
            millis: u64::try_from(x.elapsed.as_millis()).unwrap_or(u64::MAX),
        },
        server: j.server.clone(),
        client: j.client.clone(),
    }
}
