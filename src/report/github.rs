//! Findings where people review code, in GitHub Actions: one workflow command per finding
//! (`::error file=…,line=…,title=<check>::<message>`), shown on the case file and line the step
//! came from, and a short Markdown summary for the run's summary page (`GITHUB_STEP_SUMMARY`).
//! GitLab and others read the JUnit report instead (README, "In CI").

use std::fmt::Write as _;
use std::path::Path;

use super::Redactor;
use super::coverage::Coverage;
use crate::check::Finding;
use crate::run::{Body, CaseResult, Report, Suite, TrafficLog, Verdict};
use crate::spec::Severity;

/// Annotations of each kind at most; GitHub shows only the first few per step anyway.
pub(crate) const MAX_ANNOTATIONS: usize = 50;

/// The longest message an annotation carries, in characters.
const MAX_MESSAGE: usize = 600;

/// Escapes a workflow command's message.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (`file=`, `title=`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// A finding and where it was made.
struct Found<'a> {
    /// The case's id, or the exchange's.
    id: String,
    /// The case's file and the step's line (none for an exchange).
    file: &'a str,
    line: u64,
    /// The step's label, or the exchange's.
    label: String,
    finding: &'a Finding,
}

/// Every finding of the report, in case-id (or exchange) order.
fn findings(report: &Report) -> Vec<Found<'_>> {
    match &report.body {
        Body::Suite(s) => s
            .cases
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Failed | Verdict::Warned))
            .flat_map(|c| {
                c.steps.iter().flat_map(move |s| {
                    s.findings.iter().map(move |f| Found {
                        id: c.id.clone(),
                        file: &c.file,
                        line: s.line,
                        label: s.label.clone(),
                        finding: f,
                    })
                })
            })
            .collect(),
        Body::Traffic(t) => t
            .kept_exchanges
            .iter()
            .flat_map(|x| {
                x.findings().map(move |(party, f)| Found {
                    id: x.id(),
                    file: "",
                    line: 0,
                    label: format!("{} ({} finding)", x.label(), party.name()),
                    finding: f,
                })
            })
            .collect(),
    }
}

/// The workflow commands for a run's findings: an `error` per MUST finding and a `warning` per
/// SHOULD one, at most `MAX_ANNOTATIONS` of each, then a `notice` with what was left out.
/// `exists` says whether a case's file is in the checkout (built-in and generated cases are not:
/// their annotations go on the run, without a file).
pub fn annotations(report: &Report, redactor: &Redactor, exists: &dyn Fn(&str) -> bool) -> String {
    let mut out = String::new();
    let (mut errors, mut warnings) = (0usize, 0usize);
    for found in findings(report) {
        let finding = found.finding;
        let (kind, count) = match finding.severity {
            Severity::Must => ("error", &mut errors),
            Severity::Should => ("warning", &mut warnings),
        };
        *count += 1;
        if *count > MAX_ANNOTATIONS {
            continue;
        }
        let mut props = Vec::new();
        if !found.file.is_empty() && exists(found.file) {
            props.push(format!("file={}", escape_property(found.file)));
            if found.line > 0 {
                props.push(format!("line={}", found.line));
            }
        }
        props.push(format!("title={}", escape_property(finding.check)));
        let message = redactor.text(&format!(
            "{}: {}: {}{}",
            found.id,
            found.label,
            finding.message,
            finding.source_note()
        ));
        let message: String = message.chars().take(MAX_MESSAGE).collect();
        let _ = writeln!(
            out,
            "::{kind} {}::{}",
            props.join(","),
            escape_data(&message)
        );
    }
    let left = |n: usize| n.saturating_sub(MAX_ANNOTATIONS);
    if left(errors) + left(warnings) > 0 {
        let _ = writeln!(
            out,
            "::notice title=token-conformance::{} more failures and {} more warnings are not annotated; the reports list every one",
            left(errors),
            left(warnings)
        );
    }
    out
}

/// Whether a case file named in a report is a file of the checkout the run was started in.
pub(crate) fn in_checkout(file: &str) -> bool {
    let p = Path::new(file);
    p.is_relative() && p.is_file()
}

/// A short Markdown summary for `GITHUB_STEP_SUMMARY`: the verdict, the counts, the failed cases
/// with their first finding, the warnings by check, and what the run left on the target.
pub fn step_summary(report: &Report, coverage: &Coverage, redactor: &Redactor) -> String {
    let mut out = String::new();
    let meta = &report.meta;
    let _ = writeln!(out, "## token-conformance: {}\n", report.verdict_text());
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Target | {} |", cell(&redactor.text(&meta.target)));
    let _ = writeln!(
        out,
        "| Contract | {} {} |",
        cell(&meta.spec_title),
        cell(&meta.spec_version)
    );
    match &report.body {
        Body::Suite(suite) => suite_summary(&mut out, report, suite, coverage),
        Body::Traffic(traffic) => traffic_summary(&mut out, report, traffic, coverage),
    }
    let selection = &meta.shaping.selection;
    if !selection.is_empty() {
        let _ = writeln!(out, "| Selection | {} |", cell(&selection.join(", ")));
    }
    match &report.body {
        Body::Suite(suite) => failed_cases(&mut out, suite, redactor),
        Body::Traffic(traffic) => failing_exchanges(&mut out, traffic, redactor),
    }
    warnings_by_check(&mut out, report);
    out
}

/// The rows of a suite's summary table.
fn suite_summary(out: &mut String, report: &Report, suite: &Suite, coverage: &Coverage) {
    let s = suite.summary();
    let (must_passed, must_total) = suite.must_counts();
    let generated = suite.cases.iter().filter(|c| c.generated).count();
    let _ = writeln!(
        out,
        "| Cases | {} of {} ({generated} generated): {} passed, {} failed, {} warned, {} skipped |",
        suite.cases.len(),
        suite.suite_cases,
        s.passed,
        s.failed,
        s.warned,
        s.skipped
    );
    let _ = writeln!(out, "| MUST cases passed | {must_passed} of {must_total} |");
    let _ = writeln!(
        out,
        "| Coverage | {} of {} documented responses ({:.1}%) |",
        coverage.exercised, coverage.documented, coverage.percent
    );
    let _ = writeln!(
        out,
        "| Requests | {} by the cases, {} in all, {:.1} s |",
        suite.requests(),
        report.meta.requests_sent,
        report.meta.millis as f64 / 1000.0
    );
    let left = suite.leftovers.lines(&suite.run_id);
    let left = if left.is_empty() {
        "nothing active".to_owned()
    } else {
        left.iter()
            .map(|l| cell(l))
            .collect::<Vec<_>>()
            .join("<br>")
    };
    let _ = writeln!(out, "| Left on the target | {left} |");
}

/// The rows of a proxy's summary table.
fn traffic_summary(out: &mut String, report: &Report, traffic: &TrafficLog, coverage: &Coverage) {
    let t = &traffic.counts;
    let _ = writeln!(
        out,
        "| Exchanges | {} in all: {} judged, {} passed through, {} unanswered |",
        t.exchanges, t.judged, t.passed_through, t.unanswered
    );
    let _ = writeln!(
        out,
        "| Findings | {} exchanges with a server finding ({} failing), {} with a client finding |",
        t.server_findings, t.failing, t.client_findings
    );
    let _ = writeln!(
        out,
        "| Coverage | {} of {} documented responses ({:.1}%) |",
        coverage.exercised, coverage.documented, coverage.percent
    );
    let _ = writeln!(
        out,
        "| Time | {:.1} s |",
        report.meta.millis as f64 / 1000.0
    );
}

/// The kept exchanges the target failed, with their first failing finding.
fn failing_exchanges(out: &mut String, traffic: &TrafficLog, redactor: &Redactor) {
    let failing: Vec<_> = traffic
        .kept_exchanges
        .iter()
        .filter(|x| x.failing())
        .collect();
    if failing.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n### Failing exchanges\n\n| Exchange | First finding |\n|---|---|"
    );
    for x in failing.iter().take(MAX_ANNOTATIONS) {
        let text = x
            .server
            .iter()
            .find(|f| f.severity == Severity::Must)
            .map_or_else(String::new, |f| {
                let line = f.message.lines().next().unwrap_or_default();
                format!("`{}`: {}", f.check, redactor.text(line))
            });
        let _ = writeln!(out, "| {} | {} |", cell(&x.label()), cell(&text));
    }
}

fn failed_cases(out: &mut String, report: &Suite, redactor: &Redactor) {
    let failed: Vec<&CaseResult> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Failed)
        .collect();
    if failed.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n### Failed cases\n\n| Case | First finding |\n|---|---|"
    );
    for c in failed.iter().take(MAX_ANNOTATIONS) {
        let first = c
            .steps
            .iter()
            .flat_map(|s| s.findings.iter().map(move |f| (s, f)))
            .find(|(_, f)| f.severity == Severity::Must);
        let text = first.map_or_else(String::new, |(s, f)| {
            let line = f.message.lines().next().unwrap_or_default();
            format!("`{}` {}: {}", f.check, s.label, redactor.text(line))
        });
        let _ = writeln!(out, "| `{}` | {} |", c.id, cell(&text));
    }
    if failed.len() > MAX_ANNOTATIONS {
        let _ = writeln!(
            out,
            "\nand {} more failed cases: see the reports.",
            failed.len() - MAX_ANNOTATIONS
        );
    }
}

fn warnings_by_check(out: &mut String, report: &Report) {
    let mut by_check: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    let warnings = findings(report)
        .into_iter()
        .filter(|f| f.finding.severity == Severity::Should);
    for found in warnings {
        let cases = by_check.entry(found.finding.check).or_default();
        if cases.last() != Some(&found.id) {
            cases.push(found.id);
        }
    }
    if by_check.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\n### Warnings by check\n\n| Check | Cases |\n|---|---|"
    );
    for (check, cases) in by_check {
        let shown: Vec<String> = cases.iter().take(5).map(|c| format!("`{c}`")).collect();
        let more = if cases.len() > 5 {
            format!(" and {} more", cases.len() - 5)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "| `{check}` | {} {}{more} |",
            cases.len(),
            shown.join(", ")
        );
    }
}

/// Text safe in a Markdown table cell: one line, no column breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_text_is_escaped_as_github_reads_it() {
        assert_eq!(escape_data("50% a\r\nb"), "50%25 a%0D%0Ab");
        assert_eq!(escape_property("a:b,c%"), "a%3Ab%2Cc%25");
        assert_eq!(cell("a|b\nc"), "a\\|b c");
    }
}
