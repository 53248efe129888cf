//! JUnit XML, written by `quick-junit` (the crate cargo-nextest writes its reports with): one
//! `<testcase>` per case; failures carry the check id and message, skipped cases their reason,
//! and warnings show in `<system-out>` (JUnit has no warning state).

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use crate::case::Severity;
use crate::run::{Body, CaseResult, KeptExchange, Report, Verdict};

use super::redact::Redactor;

/// The report as JUnit XML: a test case per case of a suite, or per exchange kept whole of
/// traffic.
pub fn render(report: &Report, redactor: &Redactor) -> String {
    let meta = &report.meta;
    let mut suite = TestSuite::new(redactor.text(&meta.target));
    suite.set_time(Duration::from_millis(meta.millis));
    let started = chrono::DateTime::parse_from_rfc3339(&meta.started_at).ok();
    if let Some(t) = started {
        suite.set_timestamp(t);
    }
    suite.add_properties([
        (
            "contract".to_owned(),
            format!("{} {}", meta.spec_title, meta.spec_version),
        ),
        ("harness".to_owned(), meta.harness_version.clone()),
        ("target".to_owned(), redactor.text(&meta.target)),
        ("verdict".to_owned(), report.verdict_text()),
        ("selection".to_owned(), selection(report)),
        (
            "refresh_lifespan".to_owned(),
            meta.shaping.refresh_lifespan.clone(),
        ),
        (
            "access_lifespan".to_owned(),
            meta.shaping.access_lifespan.clone(),
        ),
        ("tolerance".to_owned(), meta.shaping.tolerance.clone()),
        ("capabilities".to_owned(), capabilities(report)),
    ]);
    match &report.body {
        Body::Suite(s) => suite.add_test_cases(s.cases.iter().map(|c| test_case(c, redactor))),
        Body::Traffic(t) => {
            suite.add_test_cases(t.kept_exchanges.iter().map(|x| exchange_case(x, redactor)))
        }
    };
    let mut out = quick_junit::Report::new("token-conformance");
    out.set_time(Duration::from_millis(meta.millis));
    if let Some(t) = started {
        out.set_timestamp(t);
    }
    out.add_test_suite(suite);
    out.to_string()
        .expect("a report built from strings serialises (short of running out of memory)")
}

/// What the verdict covers: the selection, or that the whole suite ran; for traffic, how much
/// of it was judged and kept.
pub fn selection(report: &Report) -> String {
    let selection = &report.meta.shaping.selection;
    match &report.body {
        Body::Suite(s) if selection.is_empty() => {
            format!("the whole suite ({} cases)", s.suite_cases)
        }
        Body::Suite(s) => format!(
            "{} ({} of {} cases)",
            selection.join(" "),
            s.cases.len(),
            s.suite_cases
        ),
        Body::Traffic(t) => t.coverage_text().join("; "),
    }
}

/// The capabilities the run had, or that it had none.
pub fn capabilities(report: &Report) -> String {
    let capabilities = &report.meta.shaping.capabilities;
    if capabilities.is_empty() {
        "none (no control protocol)".to_owned()
    } else {
        capabilities.join(", ")
    }
}

/// An exchange kept whole: failed by a MUST server finding, its other findings (the target's
/// warnings, the client's) in `<system-out>`.
fn exchange_case(x: &KeptExchange, redactor: &Redactor) -> TestCase {
    let label = x.label();
    let line =
        |f: &crate::check::Finding| format!("{label} [{}] {}", f.check, redactor.text(&f.message));
    let failing: Vec<_> = x
        .server
        .iter()
        .filter(|f| f.severity == Severity::Must)
        .collect();
    let status = match failing.first() {
        None => TestCaseStatus::success(),
        Some(first) => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let text: Vec<String> = failing.iter().map(|f| line(f)).collect();
            status
                .set_type(first.check)
                .set_message(line(first))
                .set_description(text.join("\n"));
            status
        }
    };
    let mut t = TestCase::new(x.id(), status);
    t.set_classname(x.operation.as_str());
    t.set_time(Duration::from_millis(x.response.millis));
    let warnings: Vec<String> = x
        .findings()
        .filter(|(_, f)| f.severity == Severity::Should)
        .map(|(party, f)| format!("WARNING {} {}", party.name(), line(f)))
        .collect();
    if !warnings.is_empty() {
        t.set_system_out(warnings.join("\n"));
    }
    t
}

fn test_case(c: &CaseResult, redactor: &Redactor) -> TestCase {
    let status = match c.verdict {
        Verdict::Skipped => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(c.skip_reason.as_deref().unwrap_or("skipped"));
            s
        }
        Verdict::Failed => failure(c, redactor),
        Verdict::Passed | Verdict::Warned => TestCaseStatus::success(),
    };
    let mut t = TestCase::new(c.id.as_str(), status);
    // The area (the id's first part) groups cases the way the cases/ folders do.
    t.set_classname(c.id.split_once('.').map_or(c.id.as_str(), |(area, _)| area));
    t.set_time(Duration::from_millis(c.millis));
    t.extra.insert("file".into(), c.file.as_str().into());
    let warnings: Vec<String> = c
        .steps
        .iter()
        .flat_map(|s| {
            s.findings
                .iter()
                .filter(|f| f.severity == Severity::Should)
                .map(move |f| format!("WARNING {} [{}] {}", s.label, f.check, f.message))
        })
        .collect();
    if !warnings.is_empty() {
        t.set_system_out(redactor.text(&warnings.join("\n")));
    }
    t
}

/// A failed case: the first MUST finding as the message, every MUST finding in the text.
fn failure(c: &CaseResult, redactor: &Redactor) -> TestCaseStatus {
    let must: Vec<_> = c
        .steps
        .iter()
        .flat_map(|s| s.findings.iter().map(move |f| (s, f)))
        .filter(|(_, f)| f.severity == Severity::Must)
        .collect();
    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
    let Some((step, first)) = must.first() else {
        return status;
    };
    let mut text = String::new();
    for (s, f) in &must {
        let _ = writeln!(
            text,
            "{} [{}] {}{}",
            s.label,
            f.check,
            redactor.text(&f.message),
            f.source_note()
        );
        if let (Some(e), Some(a)) = (&f.expected, &f.actual) {
            let _ = writeln!(
                text,
                "  expected: {}\n  actual:   {}",
                redactor.text(e),
                redactor.text(a)
            );
        }
    }
    status
        .set_type(first.check)
        .set_message(format!(
            "{}: [{}] {}",
            step.label,
            first.check,
            redactor.text(&first.message)
        ))
        .set_description(text);
    status
}
