//! The one report every command's results take: what is known of any session (`Meta`: the
//! target, the contract, when and how long, what was exercised, what shaped the verdict) and
//! what it was a session of (`Body`): a suite of cases run against the target, or the traffic
//! a proxy saw. Every renderer (console, JUnit, JSON, Markdown, GitHub, badge, bundle) matches
//! on the body, so neither kind pretends to be the other.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::case::Severity;
use crate::check::Finding;
use crate::error::Exit;
use crate::run::cleanup::Leftovers;
use crate::spec::Spec;
use crate::target::Target;

use super::result::{CaseResult, ResponseView, SentRequest, Verdict};

/// A finished session: its metadata, and what it was a session of. The JSON report
/// (`report::json`, `docs/report.schema.json`) writes it as `meta` and `suite` or `traffic`.
#[derive(Clone, Debug)]
pub struct Report {
    /// What every report says, whatever its body.
    pub meta: Meta,
    /// A suite's cases, or a proxy's traffic.
    pub body: Body,
}

/// When a session started: the time the reports show, and the clock its length is taken from.
#[derive(Clone, Copy, Debug)]
pub struct Started {
    at: time::OffsetDateTime,
    clock: Instant,
}

impl Started {
    /// Now.
    pub fn now() -> Self {
        Self {
            at: time::OffsetDateTime::now_utc(),
            clock: Instant::now(),
        }
    }
}

/// What a session saw of the target, whatever drove it.
#[derive(Clone, Debug, Default)]
pub struct Seen {
    /// (operationId, status) pairs seen in responses.
    pub exercised: BTreeSet<(String, u16)>,
    /// Distinct token values issued.
    pub tokens_issued: usize,
    /// HTTP requests sent to the target.
    pub requests_sent: usize,
    /// The target stopped answering during the session.
    pub stopped_answering: bool,
}

/// What every report says, built once by [`Meta::new`] for a suite and for traffic alike.
#[derive(Clone, Debug)]
pub struct Meta {
    /// The target's base URL.
    pub target: String,
    /// The contract's title.
    pub spec_title: String,
    /// The contract's version.
    pub spec_version: String,
    /// This harness's version.
    pub harness_version: String,
    /// When the session started (RFC 3339, UTC, to the second).
    pub started_at: String,
    /// Wall time in milliseconds.
    pub millis: u64,
    /// (operationId, status) pairs seen in responses.
    pub exercised: BTreeSet<(String, u16)>,
    /// Distinct token values issued.
    pub tokens_issued: usize,
    /// Every HTTP request sent to the target: a run's cases' and its own (the pool, the checks
    /// after refusals, probes, the clean-up); a proxy's exchanges.
    pub requests_sent: usize,
    /// The target stopped answering during the session.
    pub stopped_answering: bool,
    /// What shaped the verdict besides the target's answers.
    pub shaping: Shaping,
    /// Set when Ctrl-C stopped a suite's run: the report is of what ran until then.
    pub interrupted: Option<Interruption>,
}

/// How far a suite's run got before Ctrl-C stopped it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Interruption {
    /// Cases that finished (skipped ones included).
    pub done: usize,
    /// Cases the run had selected.
    pub total: usize,
    /// What putting the target's clock and lifespans back left undone, if anything.
    pub not_put_back: Option<String>,
}

impl Interruption {
    /// `interrupted after 40 of 275 cases`.
    pub fn text(&self) -> String {
        format!("interrupted after {} of {} cases", self.done, self.total)
    }
}

impl Meta {
    /// The metadata of a session against `target` with `spec` that began at `started` and ends
    /// now, having seen `seen`, its verdict shaped by `shaping`.
    pub fn new(
        spec: &Spec,
        target: &Target,
        started: Started,
        shaping: Shaping,
        seen: Seen,
    ) -> Self {
        Self {
            target: target.base_url.clone(),
            spec_title: spec.title.clone(),
            spec_version: spec.version.clone(),
            harness_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: rfc3339(started.at),
            millis: u64::try_from(started.clock.elapsed().as_millis()).unwrap_or(u64::MAX),
            exercised: seen.exercised,
            tokens_issued: seen.tokens_issued,
            requests_sent: seen.requests_sent,
            stopped_answering: seen.stopped_answering,
            shaping,
            interrupted: None,
        }
    }
}

/// `t` in UTC, to the second: the one timestamp format of the reports.
fn rfc3339(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .expect("the harness's own clock reads a four-digit year")
}

/// Now, in UTC, to the second (RFC 3339).
pub(crate) fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

/// What a session was a session of.
#[derive(Clone, Debug)]
pub enum Body {
    /// `run`: the cases of a suite against the target.
    Suite(Suite),
    /// `proxy`: real clients' traffic through the proxy.
    Traffic(TrafficLog),
}

/// A suite's run.
#[derive(Clone, Debug)]
pub struct Suite {
    /// Every selected case, in case-id order.
    pub cases: Vec<CaseResult>,
    /// How many cases the suite has, selected or not.
    pub suite_cases: usize,
    /// The MUST cases of the suite that did not run, and why: a verdict says what it covers.
    pub not_run: Vec<NotRun>,
    /// The run's id, which every token it created carries in its name.
    pub run_id: String,
    /// What the run left active on the target.
    pub leftovers: Leftovers,
    /// Every exchange, when the run recorded them (`--har`); not redacted yet.
    pub recorded: Vec<std::sync::Arc<crate::wire::Exchange>>,
    /// Every token value the target issued in the run, the pool's and the probes' included,
    /// for the redactor: a value may show only in a request the report keeps, in a form no
    /// body parser reads (a multipart dialect), so it is redacted as a value wherever it is.
    pub issued: Vec<crate::target::Secret>,
}

/// A proxy's session: what the traffic held, and the exchanges kept whole.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct TrafficLog {
    /// The counts, of every exchange.
    #[serde(flatten)]
    pub counts: Traffic,
    /// The exchanges kept whole (a bounded sample: those with findings first), redacted.
    pub kept_exchanges: Vec<KeptExchange>,
}

/// Whose contract a finding says was broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Party {
    /// The request broke it.
    Client,
    /// The response did.
    Server,
}

impl Party {
    /// For messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }
}

/// One exchange through the proxy, kept whole for the reports, redacted and cut at 4 KiB.
#[derive(Clone, Debug, serde::Serialize)]
pub struct KeptExchange {
    /// Its number in the session, from 1.
    pub number: u64,
    /// The contract's operation at its path.
    pub operation: String,
    /// Path and query, as the client sent them.
    pub path: String,
    /// The request as the client sent it.
    pub request: SentRequest<'static>,
    /// The target's answer (status 502 when it gave none).
    pub response: ResponseView<'static>,
    /// Findings of the response: the target's.
    pub server: Vec<Finding>,
    /// Findings of the request: the client's, warnings that never fail the target.
    pub client: Vec<Finding>,
}

impl KeptExchange {
    /// `exchange 7: POST /path → 200`.
    pub fn label(&self) -> String {
        format!(
            "exchange {}: {} {} → {}",
            self.number, self.request.method, self.path, self.response.status
        )
    }

    /// `exchange-000007`: an id that sorts.
    pub fn id(&self) -> String {
        format!("exchange-{:06}", self.number)
    }

    /// Every finding, the server's first, with whose it is.
    pub fn findings(&self) -> impl Iterator<Item = (Party, &Finding)> {
        self.server
            .iter()
            .map(|f| (Party::Server, f))
            .chain(self.client.iter().map(|f| (Party::Client, f)))
    }

    /// Whether a server finding fails the target (a MUST).
    pub fn failing(&self) -> bool {
        self.server.iter().any(|f| f.severity == Severity::Must)
    }
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

impl TrafficLog {
    /// What the traffic showed, in one line: traffic never shows that a target conforms.
    pub fn verdict_text(&self) -> String {
        let t = &self.counts;
        let client = if t.client_findings > 0 {
            format!(
                "; client findings in {}",
                plural_u64(t.client_findings, "exchange")
            )
        } else {
            String::new()
        };
        if t.failing > 0 {
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
        }
    }

    /// What the traffic covers, as a selection says what a suite's run covers.
    pub fn coverage_text(&self) -> Vec<String> {
        let t = &self.counts;
        let mut out = vec![format!(
            "traffic through the proxy: {} exchanges judged, {} kept whole in this report",
            t.judged, t.kept
        )];
        if t.forgotten_early > 0 {
            out.push(format!(
                "{} tokens were forgotten early to keep the model within --model-capacity",
                t.forgotten_early
            ));
        }
        out
    }

    /// Whether the traffic fails the target: a MUST server finding, or under `strict` any
    /// server finding. The counters saw every exchange; the kept ones are a sample. A client's
    /// finding never fails the target.
    fn fails(&self, strict: bool) -> bool {
        self.counts.failing > 0 || (strict && self.counts.server_findings > 0)
    }
}

/// A MUST case of the suite that did not run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct NotRun {
    /// Its id.
    pub id: String,
    /// Why: the selection left it out, or the target lacks what it needs.
    pub why: String,
}

/// What shaped a session's verdict besides the target's answers.
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

/// What a suite's findings add up to, said as it is: "conforms" only when every MUST case of
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

impl Report {
    /// The verdict in one line (see [`Suite::verdict_text`], [`TrafficLog::verdict_text`]).
    /// When Ctrl-C stopped the run: `interrupted after N of M cases`, then what failed, or
    /// `no failures so far` (the cases not run go without saying).
    pub fn verdict_text(&self) -> String {
        match (&self.body, &self.meta.interrupted) {
            (Body::Suite(s), Some(i)) => match s.conformance() {
                Conformance::DoesNotConform { .. } => format!("{}; {}", i.text(), s.verdict_text()),
                _ => format!("{}; no failures so far", i.text()),
            },
            (Body::Suite(s), None) => s.verdict_text(),
            (Body::Traffic(t), _) => t.verdict_text(),
        }
    }

    /// Whether the report shows that the target conforms: only a suite can, and only one that
    /// ran to its end.
    pub fn conforms(&self) -> bool {
        match &self.body {
            Body::Suite(s) => {
                self.meta.interrupted.is_none()
                    && matches!(s.conformance(), Conformance::Conforms { .. })
            }
            Body::Traffic(_) => false,
        }
    }

    /// The exit code: interrupted, success (warnings allowed unless `strict`), a conformance
    /// failure, or the target stopped answering.
    pub fn exit(&self, strict: bool) -> Exit {
        let failed = match &self.body {
            Body::Suite(s) => s.fails(strict),
            Body::Traffic(t) => t.fails(strict),
        };
        if self.meta.interrupted.is_some() {
            Exit::Interrupted
        } else if self.meta.stopped_answering {
            Exit::Unreachable
        } else if failed {
            Exit::Failures
        } else {
            Exit::Success
        }
    }

    /// The suite, when this is a suite's report.
    pub fn suite(&self) -> Option<&Suite> {
        match &self.body {
            Body::Suite(s) => Some(s),
            Body::Traffic(_) => None,
        }
    }

    /// The suite, when this is a suite's report, to add to (snapshot drift, tests).
    pub fn suite_mut(&mut self) -> Option<&mut Suite> {
        match &mut self.body {
            Body::Suite(s) => Some(s),
            Body::Traffic(_) => None,
        }
    }

    /// A suite's case results; a proxy's report has none (its exchanges are
    /// [`TrafficLog::kept_exchanges`]).
    pub fn cases(&self) -> &[CaseResult] {
        match &self.body {
            Body::Suite(s) => &s.cases,
            Body::Traffic(_) => &[],
        }
    }
}

impl Suite {
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
    /// cases failed`, or `no failures in 41 of 52 cases; 11 MUST cases not run: …`.
    pub fn verdict_text(&self) -> String {
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

    /// Whether the cases fail the target: a failed case, or under `strict` a warning of the
    /// target's own (a client's finding never fails the target, strict or not).
    fn fails(&self, strict: bool) -> bool {
        let s = self.summary();
        let target_warned = s.warned > 0
            && self
                .cases
                .iter()
                .flat_map(|c| &c.steps)
                .flat_map(|st| &st.findings)
                .any(|f| f.severity == Severity::Should && !crate::check::is_client_check(f.check));
        s.failed > 0 || (strict && target_warned)
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
