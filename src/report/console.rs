//! The console report: a line per case as it finishes, then every failure in detail (case,
//! step, check id, expected versus actual, request and response with secrets redacted), then
//! a summary. Colour only on a terminal, and never with `NO_COLOR`.

use std::fmt::Write as _;

use crate::case::Severity;
use crate::check::Finding;
use crate::run::{
    Body, CaseResult, Meta, Party, Report, StepResult, Suite, TrafficLog, Verdict, plural,
};

use super::coverage::Coverage;
use super::redact::Redactor;

/// Console styling.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    /// Use ANSI colours.
    pub color: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset.
    pub fn detect() -> Self {
        use std::io::IsTerminal as _;
        Self {
            color: std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn verdict(self, v: Verdict) -> String {
        let code = match v {
            Verdict::Passed => "32",
            Verdict::Warned => "33",
            Verdict::Failed => "31;1",
            Verdict::Skipped => "36",
        };
        self.paint(code, v.label())
    }
}

/// The progress line for one finished case.
pub fn progress_line(r: &CaseResult, style: Style) -> String {
    let detail = match (&r.verdict, &r.skip_reason) {
        (Verdict::Skipped, Some(why)) => format!("({why})"),
        _ => format!("({}, {} ms)", plural(r.requests(), "request"), r.millis),
    };
    format!(
        "{} {}  {}",
        style.verdict(r.verdict),
        r.id,
        style.paint("2", &detail)
    )
}

fn step_detail(out: &mut String, s: &StepResult, redactor: &Redactor, style: Style) {
    for f in &s.findings {
        let sev = match f.severity {
            Severity::Must => style.paint("31", "MUST"),
            Severity::Should => style.paint("33", "SHOULD"),
        };
        let _ = writeln!(
            out,
            "    [{}] {sev} {}{}",
            f.check,
            redactor.text(&f.message),
            style.paint("2", &f.source_note())
        );
        if let (Some(e), Some(a)) = (&f.expected, &f.actual) {
            let _ = writeln!(out, "      expected: {}", redactor.text(e));
            let _ = writeln!(out, "      actual:   {}", redactor.text(a));
        }
    }
    if let Some(req) = s.request() {
        let _ = writeln!(
            out,
            "    request:  {} {}",
            req.method,
            redactor.text(&req.url)
        );
        for (k, v) in req.headers.iter() {
            let _ = writeln!(out, "              {k}: {}", redactor.text(v));
        }
        if !req.body.is_empty() {
            // By structure first: a near miss of a password is no known secret, but it sits
            // in the password's field.
            let body = crate::report::har::redact_body(&req.body, redactor);
            let _ = writeln!(out, "              {body}");
        }
    }
    if let Some(resp) = s.response() {
        let _ = writeln!(out, "    response: {} ({} ms)", resp.status, resp.millis);
        for (k, v) in resp.headers.iter() {
            if ["content-type", "cache-control", "retry-after"].contains(&k.as_str()) {
                let _ = writeln!(out, "              {k}: {}", redactor.text(v));
            }
        }
        if !resp.body.is_empty() {
            let _ = writeln!(out, "              {}", redactor.text(&resp.body));
        }
    }
}

/// The closing text: for a suite, every failure and warning in detail, then the summary; for
/// traffic, what it held (its findings were printed as they happened, [`exchange_lines`]).
pub fn details(report: &Report, redactor: &Redactor, style: Style) -> String {
    match &report.body {
        Body::Suite(suite) => suite_details(&report.meta, suite, redactor, style),
        Body::Traffic(traffic) => traffic_details(traffic),
    }
}

/// The coverage line that follows the details.
pub fn coverage_line(report: &Report, coverage: &Coverage) -> String {
    match report.body {
        Body::Suite(_) => format!(
            "coverage: {} of {} documented responses exercised ({:.1}%), {} not provokable\n",
            coverage.exercised, coverage.documented, coverage.percent, coverage.excluded
        ),
        Body::Traffic(_) => format!(
            "coverage: {} of {} documented responses exercised ({:.1}%)\n",
            coverage.exercised, coverage.documented, coverage.percent
        ),
    }
}

/// What a proxy's traffic held: the verdict and the counts.
fn traffic_details(traffic: &TrafficLog) -> String {
    let t = &traffic.counts;
    format!(
        "{}: {} exchanges ({} judged, {} passed through); tokens tracked {}, issued {}\n",
        traffic.verdict_text(),
        t.exchanges,
        t.judged,
        t.passed_through,
        t.tokens_tracked,
        t.tokens_issued
    )
}

/// The lines a proxy prints for one exchange's findings as it happens, `head` naming the
/// exchange (`exchange 3 POST /path → 200`): the target's failures in red, the rest in
/// yellow.
pub fn exchange_lines<'f>(
    head: &str,
    findings: impl IntoIterator<Item = (Party, &'f Finding)>,
    redactor: &Redactor,
    style: Style,
) -> String {
    let mut out = String::new();
    for (party, f) in findings {
        let mut line = format!(
            "{head}: {} {} {}: {}",
            party.name(),
            f.severity.name(),
            f.check,
            f.message
        );
        if let (Some(e), Some(a)) = (&f.expected, &f.actual) {
            let _ = write!(line, " (expected {e}, got {a})");
        }
        let line = redactor.text(&line);
        let code = match (party, f.severity) {
            (Party::Server, Severity::Must) => "31",
            _ => "33",
        };
        let _ = writeln!(out, "{}", style.paint(code, &line));
    }
    out
}

/// Every failure and warning of a suite in detail, then the summary.
fn suite_details(meta: &Meta, report: &Suite, redactor: &Redactor, style: Style) -> String {
    let mut out = String::new();
    for c in report
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Failed | Verdict::Warned))
    {
        let _ = writeln!(
            out,
            "\n{} {} — {}",
            style.verdict(c.verdict),
            style.paint("1", &c.id),
            c.title
        );
        let _ = writeln!(
            out,
            "  {} ({} case, requirement: {})",
            c.file,
            c.severity.name(),
            c.requirement
        );
        for s in c.steps.iter().filter(|s| !s.findings.is_empty()) {
            let place = if s.line > 0 {
                format!("{}:{}", c.file, s.line)
            } else {
                c.file.clone()
            };
            let _ = writeln!(out, "  {} ({place})", s.label);
            step_detail(&mut out, s, redactor, style);
        }
    }
    let skipped: Vec<&CaseResult> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Skipped)
        .collect();
    if !skipped.is_empty() {
        // Grouped by what would run them, each said once.
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for c in skipped {
            let why = c.skip_reason.as_deref().unwrap_or("");
            match groups.iter_mut().find(|(w, _)| *w == why) {
                Some((_, ids)) => ids.push(&c.id),
                None => groups.push((why, vec![&c.id])),
            }
        }
        let _ = writeln!(out, "\nskipped, by what would run them:");
        for (why, ids) in groups {
            let _ = writeln!(
                out,
                "  {why}:\n    {}: {}",
                plural(ids.len(), "case"),
                ids.join(", ")
            );
        }
    }
    grouped(&mut out, report, redactor);
    summary(&mut out, meta, report, style);
    out
}

/// The closing lines: what ran, what it cost, what it left, the verdict counts.
fn summary(out: &mut String, meta: &Meta, report: &Suite, style: Style) {
    let s = report.summary();
    let generated = match report.cases.iter().filter(|c| c.generated).count() {
        0 => String::new(),
        n => format!(" ({n} generated from the contract)"),
    };
    let _ = writeln!(
        out,
        "\n{}{generated}, {} by the cases ({} in all), {} issued, {:.1} s against {}",
        plural(report.cases.len(), "case"),
        plural(report.requests(), "request"),
        meta.requests_sent,
        plural(meta.tokens_issued, "token"),
        meta.millis as f64 / 1000.0,
        meta.target
    );
    let (without, ran) = report.without_control();
    let _ = writeln!(
        out,
        "{without} of {ran} cases ran without the control protocol"
    );
    for line in report.leftovers.lines(&report.run_id) {
        let _ = writeln!(out, "{}", style.paint("33", &line));
    }
    if meta.stopped_answering {
        let _ = writeln!(
            out,
            "{}",
            style.paint("31;1", "the target stopped answering during the run")
        );
    }
    let _ = writeln!(
        out,
        "{} passed, {} failed, {} warned, {} skipped",
        s.passed, s.failed, s.warned, s.skipped
    );
    let colour = match report.conformance() {
        crate::run::Conformance::Conforms { .. } => "32;1",
        crate::run::Conformance::DoesNotConform { .. } => "31;1",
        crate::run::Conformance::Incomplete { .. } => "33;1",
    };
    let _ = writeln!(
        out,
        "{}",
        style.paint(colour, &format!("verdict: {}", report.verdict_text()))
    );
}

/// For a run with failures: the failed cases, and their MUST findings grouped by check, each
/// with its count and the first place and message, so one wrong setting that failed thirty
/// steps reads as one line.
fn grouped(out: &mut String, report: &Suite, redactor: &Redactor) {
    let failed: Vec<&str> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Failed)
        .map(|c| c.id.as_str())
        .collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nfailed: {}", failed.join(", "));
    let mut by_check: Vec<(&str, usize, String, String)> = Vec::new();
    for c in &report.cases {
        for st in &c.steps {
            for f in st.findings.iter().filter(|f| f.severity == Severity::Must) {
                match by_check.iter_mut().find(|(k, ..)| *k == f.check) {
                    Some(entry) => entry.1 += 1,
                    None => by_check.push((
                        f.check,
                        1,
                        format!("{} {}", c.id, st.label),
                        redactor.text(&f.message),
                    )),
                }
            }
        }
    }
    by_check.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let _ = writeln!(out, "findings by check:");
    for (check, n, first, message) in by_check {
        let _ = writeln!(out, "  [{check}] {n}×, first in {first}: {message}");
    }
}
