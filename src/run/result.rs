//! What a run produced: a verdict per case, findings per step, the requests and responses
//! behind them. Reports (console, and the machine-readable ones) are views of this.

use std::collections::BTreeSet;

use crate::case::Severity;
use crate::check::Finding;
use crate::error::Exit;
use crate::run::cleanup::Leftovers;
use crate::run::http::{Received, SentRequest};

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

/// The response of a step as reports show it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ResponseView {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body text (lossy UTF-8, cut at 4 KiB).
    pub body: String,
    /// Milliseconds to the full body.
    pub millis: u64,
}

impl From<&Received> for ResponseView {
    fn from(r: &Received) -> Self {
        Self {
            status: r.status,
            headers: r.headers.clone(),
            body: crate::transport::text_of(&r.body),
            millis: u64::try_from(r.elapsed.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// One step's result.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepResult {
    /// `step N: ...`.
    pub label: String,
    /// Line in the case file.
    pub line: u64,
    /// The operation called, for call steps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The request sent, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<SentRequest>,
    /// The response, if one arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<ResponseView>,
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
            request: None,
            response: None,
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
        self.steps.iter().filter(|s| s.request.is_some()).count()
    }
}

/// A whole run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunReport {
    /// The target's base URL.
    pub target: String,
    /// The contract's title.
    pub spec_title: String,
    /// The contract's version.
    pub spec_version: String,
    /// This harness's version.
    pub harness_version: String,
    /// When the run started (RFC 3339).
    pub started_at: String,
    /// Wall time in milliseconds.
    pub millis: u64,
    /// Every selected case, in case-id order.
    pub cases: Vec<CaseResult>,
    /// (operationId, status) pairs seen in responses.
    pub exercised: BTreeSet<(String, u16)>,
    /// Distinct token values issued.
    pub tokens_issued: usize,
    /// Every HTTP request the run sent: the cases' steps, and its own (the pool, the checks
    /// after refusals, probes, the clean-up).
    pub requests_sent: usize,
    /// The target stopped answering during the run.
    pub stopped_answering: bool,
    /// The run's id, which every token it created carries in its name.
    pub run_id: String,
    /// What the run left active on the target.
    pub leftovers: Leftovers,
    /// How many cases the suite has, selected or not.
    pub suite_cases: usize,
    /// The MUST cases of the suite that did not run, and why: a verdict says what it covers.
    pub not_run: Vec<NotRun>,
    /// What shaped the verdict besides the target's answers.
    pub shaping: Shaping,
    /// For a proxy's report: what the traffic held. The "cases" are then exchanges.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<Traffic>,
    /// Every exchange, when the run recorded them (`--har`); not redacted yet.
    #[serde(skip)]
    pub exchanges: Vec<crate::run::HarRecord>,
}

/// What a proxy saw of the traffic through it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Traffic {
    /// Exchanges in all.
    pub exchanges: u64,
    /// Exchanges to the contract's paths, judged.
    pub judged: u64,
    /// Exchanges to other paths, passed through unjudged.
    pub passed_through: u64,
    /// Exchanges the target did not answer.
    pub unanswered: u64,
    /// Exchanges with a server finding.
    pub server_findings: u64,
    /// Exchanges with a MUST server finding.
    pub failing: u64,
    /// Exchanges with a client finding.
    pub client_findings: u64,
    /// Exchanges kept whole in the reports.
    pub kept: usize,
    /// Tokens the model tracks now.
    pub tokens_tracked: usize,
    /// Tokens issued in the traffic.
    pub tokens_issued: usize,
    /// Tokens forgotten before they were dead for a lifespan, to bound the model's memory.
    pub forgotten_early: u64,
}

/// A MUST case of the suite that did not run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NotRun {
    /// Its id.
    pub id: String,
    /// Why: the selection left it out, or the target lacks what it needs.
    pub why: String,
}

/// What shaped a run's verdict besides the target's answers.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Shaping {
    /// The selection (`--filter`, `--tag`, `--partition`), or empty for the whole suite.
    pub selection: Vec<String>,
    /// The refresh token lifespan assumed, and where it comes from.
    pub refresh_lifespan: String,
    /// The access token lifespan assumed, and where it comes from.
    pub access_lifespan: String,
    /// The tolerance of time arithmetic.
    pub tolerance: String,
    /// The control protocol's capabilities the run used (empty: a plain deployment).
    pub capabilities: Vec<String>,
}

/// What a run's findings add up to, said as it is: "conforms" only when every MUST case of
/// the suite ran and passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conformance {
    /// Every MUST case of the suite ran, and none failed.
    Conforms {
        /// SHOULD findings.
        warnings: usize,
    },
    /// At least one case failed.
    DoesNotConform {
        /// Failed cases.
        failed: usize,
    },
    /// Nothing failed, but not every MUST case of the suite ran.
    Incomplete {
        /// Cases that ran.
        ran: usize,
        /// Cases in the suite.
        total: usize,
    },
}

/// Counts of verdicts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Passed cases.
    pub passed: usize,
    /// Failed cases.
    pub failed: usize,
    /// Cases with warnings only.
    pub warned: usize,
    /// Skipped cases.
    pub skipped: usize,
}

impl RunReport {
    /// What the run's findings add up to.
    pub fn conformance(&self) -> Conformance {
        let s = self.summary();
        if s.failed > 0 {
            Conformance::DoesNotConform { failed: s.failed }
        } else if !self.not_run.is_empty() {
            Conformance::Incomplete {
                ran: self.cases.len() - s.skipped,
                total: self.suite_cases,
            }
        } else {
            Conformance::Conforms { warnings: s.warned }
        }
    }

    /// The verdict in one line: `conforms`, `conforms, with 2 warnings`, `does not conform: 3
    /// cases failed`, or `no failures in 41 of 52 cases; 11 MUST cases not run: …`. For
    /// traffic, what it showed: traffic never shows that a target conforms.
    pub fn verdict_text(&self) -> String {
        if let Some(t) = &self.traffic {
            let client = if t.client_findings > 0 {
                format!(
                    "; client findings in {}",
                    plural_u64(t.client_findings, "exchange")
                )
            } else {
                String::new()
            };
            return if t.failing > 0 {
                format!(
                    "the target broke the contract in {} of {} judged{client}",
                    plural_u64(t.failing, "exchange"),
                    t.judged
                )
            } else {
                format!(
                    "no server failure in {} judged{client}",
                    plural_u64(t.judged, "exchange")
                )
            };
        }
        match self.conformance() {
            Conformance::Conforms { warnings: 0 } => "conforms".to_owned(),
            Conformance::Conforms { warnings } => {
                format!("conforms, with {}", plural(warnings, "warning"))
            }
            Conformance::DoesNotConform { failed } => {
                format!("does not conform: {} failed", plural(failed, "case"))
            }
            Conformance::Incomplete { ran, total } => {
                let ids: Vec<&str> = self.not_run.iter().map(|n| n.id.as_str()).collect();
                let shown = if ids.len() > 5 {
                    format!("{} and {} more", ids[..5].join(", "), ids.len() - 5)
                } else {
                    ids.join(", ")
                };
                format!(
                    "no failures in {ran} of {total} cases; {} not run: {shown}",
                    plural(self.not_run.len(), "MUST case")
                )
            }
        }
    }

    /// MUST cases that passed (with or without warnings), and MUST cases of the suite: those
    /// that ran, and those that did not (skipped, or left out by the selection).
    pub(crate) fn must_counts(&self) -> (usize, usize) {
        let must = self
            .cases
            .iter()
            .filter(|c| c.severity == Severity::Must && c.verdict != Verdict::Skipped);
        let (mut passed, mut ran) = (0, 0);
        for c in must {
            ran += 1;
            passed += usize::from(matches!(c.verdict, Verdict::Passed | Verdict::Warned));
        }
        (passed, ran + self.not_run.len())
    }

    /// The verdict counts.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.cases {
            match c.verdict {
                Verdict::Passed => s.passed += 1,
                Verdict::Failed => s.failed += 1,
                Verdict::Warned => s.warned += 1,
                Verdict::Skipped => s.skipped += 1,
            }
        }
        s
    }

    /// Of the cases that ran, how many did without the control protocol, and how many ran.
    pub(crate) fn without_control(&self) -> (usize, usize) {
        let ran = self.cases.iter().filter(|c| c.verdict != Verdict::Skipped);
        let (mut without, mut all) = (0, 0);
        for c in ran {
            all += 1;
            without += usize::from(!c.used_control);
        }
        (without, all)
    }

    /// HTTP requests made by the cases.
    pub fn requests(&self) -> usize {
        self.cases.iter().map(CaseResult::requests).sum()
    }

    /// The exit code: success (warnings allowed unless `strict`), a conformance failure, or
    /// the target stopped answering.
    pub fn exit(&self, strict: bool) -> Exit {
        let s = self.summary();
        let traffic_failed = self.traffic.as_ref().is_some_and(|t| t.failing > 0);
        // A client's finding (the proxy's request checks) never fails the target, strict or
        // not: only the target's own warnings count under --strict.
        let target_warned = match &self.traffic {
            // The kept exchanges are a bounded sample: the counters saw every one.
            Some(t) => t.server_findings > 0,
            None => {
                s.warned > 0
                    && self
                        .cases
                        .iter()
                        .flat_map(|c| &c.steps)
                        .flat_map(|st| &st.findings)
                        .any(|f| {
                            f.severity == Severity::Should
                                && !crate::check::is_client_check(f.check)
                        })
            }
        };
        if self.stopped_answering {
            Exit::Unreachable
        } else if s.failed > 0 || traffic_failed || (strict && target_warned) {
            Exit::Failures
        } else {
            Exit::Success
        }
    }
}

fn plural_u64(n: u64, one: &str) -> String {
    plural(usize::try_from(n).unwrap_or(usize::MAX), one)
}

/// `1 case`, `2 cases`.
pub(crate) fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}
