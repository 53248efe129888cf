//! Findings where people review code, in GitHub Actions: one workflow command per finding
//! (`::error file=…,line=…,title=<check>::<message>`), shown on the case file and line the step
//! came from, and a short Markdown summary for the run's summary page (`GITHUB_STEP_SUMMARY`).
//! GitLab and others read the JUnit report instead (README, "In CI").

use std::fmt::Write as _;
use std::path::Path;

use super::Redactor;
use super::coverage::Coverage;
use crate::check::Finding;
use crate::run::{CaseResult, RunReport, StepResult, Verdict};
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

/// Every finding of the run, in case-id order: case, step, finding.
fn findings(report: &RunReport) -> impl Iterator<Item = (&CaseResult, &StepResult, &Finding)> {
    report
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Failed | Verdict::Warned))
        .flat_map(|c| {
            c.steps
                .iter()
                .flat_map(move |s| s.findings.iter().map(move |f| (c, s, f)))
        })
}

/// The workflow commands for a run's findings: an `error` per MUST finding and a `warning` per
/// SHOULD one, at most `MAX_ANNOTATIONS` of each, then a `notice` with what was left out.
/// `exists` says whether a case's file is in the checkout (built-in and generated cases are not:
/// their annotations go on the run, without a file).
pub fn annotations(
    report: &RunReport,
    redactor: &Redactor,
    exists: &dyn Fn(&str) -> bool,
) -> String {
    let mut out = String::new();
    let (mut errors, mut warnings) = (0usize, 0usize);
    for (case, step, finding) in findings(report) {
        let (kind, count) = match finding.severity {
            Severity::Must => ("error", &mut errors),
            Severity::Should => ("warning", &mut warnings),
        };
        *count += 1;
        if *count > MAX_ANNOTATIONS {
            continue;
        }
        let mut props = Vec::new();
        if exists(&case.file) {
            props.push(format!("file={}", escape_property(&case.file)));
            if step.line > 0 {
                props.push(format!("line={}", step.line));
            }
        }
        props.push(format!("title={}", escape_property(finding.check)));
        let message = redactor.text(&format!(
            "{}: {}: {}{}",
            case.id,
            step.label,
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
pub fn step_summary(report: &RunReport, coverage: &Coverage, redactor: &Redactor) -> String {
    let mut out = String::new();
    let s = report.summary();
    let (must_passed, must_total) = report.must_counts();
    let generated = report.cases.iter().filter(|c| c.generated).count();
    let _ = writeln!(out, "## token-conformance: {}\n", report.verdict_text());
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Target | {} |", cell(&redactor.text(&report.target)));
    let _ = writeln!(
        out,
        "| Contract | {} {} |",
        cell(&report.spec_title),
        cell(&report.spec_version)
    );
    let _ = writeln!(
        out,
        "| Cases | {} of {} ({generated} generated): {} passed, {} failed, {} warned, {} skipped |",
        report.cases.len(),
        report.suite_cases,
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
        report.requests(),
        report.requests_sent,
        report.millis as f64 / 1000.0
    );
    let left = report.leftovers.lines(&report.run_id);
    let left = if left.is_empty() {
        "nothing active".to_owned()
    } else {
        left.iter()
            .map(|l| cell(l))
            .collect::<Vec<_>>()
            .join("<br>")
    };
    let _ = writeln!(out, "| Left on the target | {left} |");
    if !report.shaping.selection.is_empty() {
        let _ = writeln!(
            out,
            "| Selection | {} |",
            cell(&report.shaping.selection.join(", "))
        );
    }
    failed_cases(&mut out, report, redactor);
    warnings_by_check(&mut out, report);
    out
}

fn failed_cases(out: &mut String, report: &RunReport, redactor: &Redactor) {
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

fn warnings_by_check(out: &mut String, report: &RunReport) {
    let mut by_check: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (c, _, f) in findings(report).filter(|(_, _, f)| f.severity == Severity::Should) {
        let cases = by_check.entry(f.check).or_default();
        if cases.last() != Some(&c.id.as_str()) {
            cases.push(&c.id);
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
