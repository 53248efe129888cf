//! JUnit XML, written by `quick-junit` (the crate cargo-nextest writes its reports with): one
//! `<testcase>` per case; failures carry the check id and message, skipped cases their reason,
//! and warnings show in `<system-out>` (JUnit has no warning state).

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::case::Severity;
use crate::run::{CaseResult, RunReport, Verdict};

use super::redact::Redactor;

/// The report as JUnit XML.
pub fn render(report: &RunReport, redactor: &Redactor) -> String {
    let mut suite = TestSuite::new(redactor.text(&report.target));
    suite.set_time(Duration::from_millis(report.millis));
    let started = chrono::DateTime::parse_from_rfc3339(&report.started_at).ok();
    if let Some(t) = started {
        suite.set_timestamp(t);
    }
    suite.add_properties([
        (
            "contract".to_owned(),
            format!("{} {}", report.spec_title, report.spec_version),
        ),
        ("harness".to_owned(), report.harness_version.clone()),
        ("target".to_owned(), redactor.text(&report.target)),
        ("verdict".to_owned(), report.verdict_text()),
        ("selection".to_owned(), selection(report)),
        (
            "refresh_lifespan".to_owned(),
            report.shaping.refresh_lifespan.clone(),
        ),
        (
            "access_lifespan".to_owned(),
            report.shaping.access_lifespan.clone(),
        ),
        ("tolerance".to_owned(), report.shaping.tolerance.clone()),
        ("capabilities".to_owned(), capabilities(report)),
    ]);
    suite.add_test_cases(report.cases.iter().map(|c| test_case(c, redactor)));
    let mut out = Report::new("token-conformance");
    out.set_time(Duration::from_millis(report.millis));
    if let Some(t) = started {
        out.set_timestamp(t);
    }
    out.add_test_suite(suite);
    // Serialising a report built from strings cannot fail short of running out of memory.
    out.to_string().unwrap_or_default()
}

/// The selection, or that the whole suite ran.
pub fn selection(report: &RunReport) -> String {
    if report.shaping.selection.is_empty() {
        format!("the whole suite ({} cases)", report.suite_cases)
    } else {
        format!(
            "{} ({} of {} cases)",
            report.shaping.selection.join(" "),
            report.cases.len(),
            report.suite_cases
        )
    }
}

/// The capabilities the run had, or that it had none.
pub fn capabilities(report: &RunReport) -> String {
    if report.shaping.capabilities.is_empty() {
        "none (no control protocol)".to_owned()
    } else {
        report.shaping.capabilities.join(", ")
    }
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
