//! What a case produced: a verdict, findings per step, the exchanges behind them, and the
//! views the reports show of an exchange. A suite's report (`report.rs`) holds one per
//! selected case.

use std::borrow::Cow;
use std::sync::Arc;

use serde::ser::{SerializeStruct, Serializer};

use crate::case::Severity;
use crate::check::Finding;
use crate::wire;

/// A case's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Every check held.
    Passed,
    /// Only SHOULD findings.
    Warned,
    /// At least one MUST finding.
    Failed,
    /// Not run (a capability is missing); never counted as passed.
    Skipped,
}

impl Verdict {
    /// The word shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Self::Passed => "PASS",
            Self::Warned => "WARN",
            Self::Failed => "FAIL",
            Self::Skipped => "SKIP",
        }
    }
}

/// A request as reports show it: its body's text cut by `transport::text_of`. A step's borrows
/// its record and is redacted by the reporter; a proxy's kept exchange owns one redacted when
/// it was kept.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SentRequest<'a> {
    /// Method.
    pub method: Cow<'a, str>,
    /// The full URL.
    pub url: Cow<'a, str>,
    /// Headers its sender wrote.
    pub headers: Cow<'a, [(String, String)]>,
    /// The body, lossily as text, cut at 4 KiB.
    pub body: String,
}

impl<'a> SentRequest<'a> {
    /// The request of a record.
    pub fn of(r: &'a wire::Request) -> Self {
        Self {
            method: Cow::Borrowed(&r.method),
            url: Cow::Borrowed(&r.url),
            headers: Cow::Borrowed(&r.headers),
            body: crate::transport::text_of(&r.body),
        }
    }
}

/// The response of an exchange as reports show it, its body's text cut like a request's.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ResponseView<'a> {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Cow<'a, [(String, String)]>,
    /// Body text (lossy UTF-8, cut at 4 KiB).
    pub body: String,
    /// Milliseconds to the full body.
    pub millis: u64,
}

impl<'a> ResponseView<'a> {
    /// The response of a record, if one came.
    pub fn of(x: &'a wire::Exchange) -> Option<Self> {
        let r = x.response.as_ref().ok()?;
        Some(Self {
            status: r.status,
            headers: Cow::Borrowed(&r.headers),
            body: crate::transport::text_of(&r.body),
            millis: u64::try_from(x.elapsed.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

/// One step's result. Its report shows its exchange's `request` and, when one came, its
/// `response` (the views above, made as the report is written).
#[derive(Clone, Debug)]
pub struct StepResult {
    /// `step N: ...`.
    pub label: String,
    /// Line in the case file.
    pub line: u64,
    /// The operation called, for call steps.
    pub operation: Option<String>,
    /// The exchange, if a request was sent: the same record the HAR is written from.
    pub exchange: Option<Arc<wire::Exchange>>,
    /// What was found wrong.
    pub findings: Vec<Finding>,
}

impl StepResult {
    /// A step with nothing recorded yet.
    pub fn new(label: impl Into<String>, line: u64) -> Self {
        Self {
            label: label.into(),
            line,
            operation: None,
            exchange: None,
            findings: Vec::new(),
        }
    }

    /// A step of the run itself rather than of the case file (restoring the clock, comparing
    /// the snapshot), with one finding.
    pub fn finding(label: impl Into<String>, finding: Finding) -> Self {
        Self {
            findings: vec![finding],
            ..Self::new(label, 0)
        }
    }

    /// The request sent, as reports show it.
    pub fn request(&self) -> Option<SentRequest<'_>> {
        self.exchange
            .as_deref()
            .map(|x| SentRequest::of(&x.request))
    }

    /// The response, if one arrived, as reports show it.
    pub fn response(&self) -> Option<ResponseView<'_>> {
        self.exchange.as_deref().and_then(ResponseView::of)
    }
}

/// A field that is left out when absent, as `skip_serializing_if = "Option::is_none"` has it.
fn field_if<S: SerializeStruct, T: serde::Serialize>(
    s: &mut S,
    key: &'static str,
    value: Option<&T>,
) -> Result<(), S::Error> {
    match value {
        Some(v) => s.serialize_field(key, v),
        None => s.skip_field(key),
    }
}

/// The report's shape of a step (`docs/report.schema.json`): its exchange is written as the
/// views `request` and `response`.
impl serde::Serialize for StepResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("StepResult", 6)?;
        s.serialize_field("label", &self.label)?;
        s.serialize_field("line", &self.line)?;
        field_if(&mut s, "operation", self.operation.as_ref())?;
        field_if(&mut s, "request", self.request().as_ref())?;
        field_if(&mut s, "response", self.response().as_ref())?;
        s.serialize_field("findings", &self.findings)?;
        s.end()
    }
}

/// One case's result.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CaseResult {
    /// The case id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its file.
    pub file: String,
    /// MUST or SHOULD.
    pub severity: Severity,
    /// The requirement it tests.
    pub requirement: String,
    /// What the requirement rests on (a MUST case's sources).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<crate::source::Source>,
    /// Its tags.
    pub tags: Vec<String>,
    /// Capabilities it needs.
    pub needs: Vec<String>,
    /// The verdict.
    pub verdict: Verdict,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// Why the steps after the last one that ran did not run (a later step depended on what a
    /// failed one should have given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Its steps (those that ran).
    pub steps: Vec<StepResult>,
    /// Wall time in milliseconds.
    pub millis: u64,
    /// The `{{ run.unique }}` of this case, so snapshots can replace it with a placeholder.
    #[serde(skip)]
    pub unique: String,
    /// Whether it used the control protocol.
    pub used_control: bool,
    /// Generated from the contract rather than written.
    pub generated: bool,
}

impl CaseResult {
    /// Adds a step's result, and decides the case's verdict again. This is the one place a
    /// verdict is decided: in a SHOULD case every finding is a warning, and a case with any
    /// MUST finding fails.
    pub(crate) fn record(&mut self, mut step: StepResult) {
        if self.severity == Severity::Should {
            for f in step.findings.iter_mut().filter(|f| f.demotable) {
                f.severity = Severity::Should;
            }
        }
        for f in &mut step.findings {
            if f.severity == Severity::Should {
                // A warning rests on nothing that would fail a target.
                f.sources.clear();
            } else if f.sources.contains(&crate::source::Source::Case) {
                // The engine's expectation checks stand on what the case stands on.
                f.sources.clone_from(&self.sources);
            }
        }
        self.steps.push(step);
        self.verdict = Self::judge(&self.steps);
    }

    /// The verdict findings give.
    fn judge(steps: &[StepResult]) -> Verdict {
        let findings = steps.iter().flat_map(|s| &s.findings);
        let mut verdict = Verdict::Passed;
        for f in findings {
            match f.severity {
                Severity::Must => return Verdict::Failed,
                Severity::Should => verdict = Verdict::Warned,
            }
        }
        verdict
    }

    /// HTTP requests it made.
    pub fn requests(&self) -> usize {
        self.steps.iter().filter(|s| s.exchange.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step holding a record of `body` sent to `/x`, answered with `answer` if given.
    fn step(body: &[u8], answer: Option<u16>) -> StepResult {
        let response = answer.map_or(Err(wire::TransportError::Read("gone".into())), |status| {
            Ok(wire::Response {
                status,
                headers: vec![("content-type".into(), "application/json".into())],
                body: bytes::Bytes::from_static(b"{}"),
            })
        });
        StepResult {
            exchange: Some(Arc::new(wire::Exchange {
                started: time::OffsetDateTime::UNIX_EPOCH,
                elapsed: std::time::Duration::from_millis(7),
                request: wire::Request {
                    method: "POST".into(),
                    url: "http://t/x".into(),
                    headers: vec![("Content-Type".into(), "text/plain".into())],
                    body: bytes::Bytes::copy_from_slice(body),
                },
                response,
            })),
            ..StepResult::new("step 1: x", 3)
        }
    }

    #[test]
    fn a_step_is_written_as_its_request_and_response_views_in_the_reports_order() {
        let json = |s: &StepResult| serde_json::to_string(s).expect("serialises");
        assert_eq!(
            json(&StepResult::new("step 1: x", 3)),
            r#"{"label":"step 1: x","line":3,"findings":[]}"#
        );
        let request = r#""request":{"method":"POST","url":"http://t/x","headers":[["Content-Type","text/plain"]],"body":"hi"}"#;
        assert_eq!(
            json(&step(b"hi", None)),
            format!(r#"{{"label":"step 1: x","line":3,{request},"findings":[]}}"#)
        );
        let response = r#""response":{"status":200,"headers":[["content-type","application/json"]],"body":"{}","millis":7}"#;
        assert_eq!(
            json(&step(b"hi", Some(200))),
            format!(r#"{{"label":"step 1: x","line":3,{request},{response},"findings":[]}}"#)
        );
    }

    #[test]
    fn the_record_keeps_the_whole_body_and_the_view_cuts_it() {
        let body = vec![b'a'; crate::transport::TEXT_LIMIT + 10];
        let s = step(&body, Some(200));
        let x = s.exchange.as_deref().expect("a record");
        assert_eq!(x.request.body.len(), body.len());
        let shown = s.request().expect("a request").body;
        assert_eq!(shown, crate::transport::text_of(&body));
        assert!(
            shown.ends_with(&format!("… ({} bytes)", body.len())),
            "{shown}"
        );
    }
}
